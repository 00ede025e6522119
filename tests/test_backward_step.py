"""The readable backward (`backward_step`, one line per derivative) against the fused
`LSTMCell.backward`, as test_cell.py holds `step` against `forward`; against finite differences on
one step; its markers, which the chapter "Backprop, gate by gate" includes line by line."""

import html
import inspect
import json
import re
from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import numpy as np
import pytest
from test_cell import path, randomized, sequence  # noqa: F401 (path is a fixture)

import lstmlib
import lstmlib.cell as cell_module
from lstmlib import LSTMCell, backward_step
from lstmlib.cell import Step, StepGrads
from lstmlib.checks import NonFiniteError

ROOT = Path(__file__).resolve().parents[1]
EQUATIONS = [f"B{k}" for k in range(1, 10)]

# backward_step and the fused backward add the same products in another order (one sum over the
# four gates against one fused matmul; per step against all steps at once): rounding only, a few
# ulps per step, far below 1e-12 relative in float64 for these sizes.
PATHS_RTOL = 1e-12


def backward_in_a_loop(cell, xs, h0, c0, dh, dc_last=None, step_fn=backward_step):
    """Backpropagation through time as a loop of `step_fn` from the last step to the first, in
    the shape of `LSTMCell.backward`'s result: {W_f ... b_o, "x", "h0", "c0"}."""
    trace = cell.forward(xs, h0, c0)
    T = len(xs)
    total = {k: np.zeros_like(v) for k, v in cell.params.items()}
    dx = np.zeros_like(xs)
    dh_from_next = np.zeros_like(h0)
    dc_next = np.zeros_like(c0) if dc_last is None else dc_last
    for t in range(T - 1, -1, -1):
        h_prev = h0 if t == 0 else trace.h[t - 1]
        g = step_fn(trace.at(t), trace.c_prev[t], h_prev, xs[t], dh[t] + dh_from_next, dc_next,
                    cell.params)
        for k in total:
            total[k] += g.dparams[k]
        dx[t] = g.dx
        dh_from_next, dc_next = g.dh_prev, g.dc_prev
    return total | {"x": dx, "h0": dh_from_next, "c0": dc_next}


def setup(rng, B, T=6, D=3, H=4):
    cell = randomized(LSTMCell(D, H, seed=0), rng)
    xs, h0, c0 = sequence(rng, T, D, B, H)
    dh = rng.normal(size=(T,) + h0.shape)
    dc_last = rng.normal(size=c0.shape)
    return cell, xs, h0, c0, dh, dc_last


@pytest.mark.parametrize("with_dc", [True, False])
@pytest.mark.parametrize("B", [None, 1, 3])
def test_fused_backward_equals_backward_step_in_a_loop(path, rng, rel_err, B, with_dc):  # noqa: F811
    cell, xs, h0, c0, dh, dc_last = setup(rng, B)
    dc_last = dc_last if with_dc else None
    fused = cell.backward(cell.forward(xs, h0, c0), dh, dc_last)
    looped = backward_in_a_loop(cell, xs, h0, c0, dh, dc_last)
    assert set(looped) == set(fused)
    for name in fused:
        assert looped[name].shape == fused[name].shape, name
        assert rel_err(looped[name], fused[name]) <= PATHS_RTOL, name


def broken(old, new):
    """backward_step with one line changed: its source with `old` replaced by `new`, compiled in
    the module's namespace (a mutant, to show the comparison above can fail)."""
    source = inspect.getsource(backward_step)
    assert source.count(old) == 1, f"{old!r} is not one line of backward_step"
    namespace = dict(vars(cell_module))
    exec(compile(source.replace(old, new), "<mutant>", "exec"), namespace)
    return namespace["backward_step"]


@pytest.mark.parametrize("old, new", [
    ("dc_prev = dc * s.f", "dc_prev = dc"),                                     # (B9) f_t dropped
    ("dc_next + dh * s.o * (1 - s.c_prime ** 2)", "dc_next + dh * s.o"),        # (B2) tanh' dropped
    ("da_o = do * s.o * (1 - s.o)", "da_o = do * s.o"),                         # (B5) σ' of o_t
    ("df = dc * c_prev", "df = dc * s.c"),                                      # (B4) c_t for c_{t-1}
    ("dh_prev, dx = dz[:, :H], dz[:, H:]", "dx, dh_prev = dz[:, :H], dz[:, H:]"),  # (B8) halves
])
def test_the_comparison_catches_a_broken_step(rng, rel_err, old, new):
    # D == H, so swapped halves of dz still have the right shapes: only the values can tell
    cell, xs, h0, c0, dh, dc_last = setup(rng, 3, D=4)
    fused = cell.backward(cell.forward(xs, h0, c0), dh, dc_last)
    mutant = backward_in_a_loop(cell, xs, h0, c0, dh, dc_last, step_fn=broken(old, new))
    worst = max(rel_err(mutant[name], fused[name]) for name in fused)
    assert worst > 1e-3, f"changing {old!r} to {new!r} went unnoticed ({worst:.1e})"


@pytest.mark.parametrize("B", [None, 2])
def test_backward_step_matches_finite_differences(rng, numgrad, rel_err, B):
    """One step alone: L = Σ u ⊗ h_t + Σ v ⊗ c_t puts dh_t = u on h_t and dc_next = v on the
    cell-state line, so backward_step's dparams, dx, dh_prev and dc_prev are L's gradients."""
    D, H = 2, 3
    cell = randomized(LSTMCell(D, H, seed=0), rng)
    x, h_prev, c_prev = sequence(rng, 1, D, B, H)
    x = x[0]
    u, v = rng.normal(size=h_prev.shape), rng.normal(size=c_prev.shape)

    def loss():
        s = cell.step(x, h_prev, c_prev)
        return float(np.sum(u * s.h) + np.sum(v * s.c))

    g = backward_step(cell.step(x, h_prev, c_prev), c_prev, h_prev, x, u, v, cell.params)
    got = g.dparams | {"x": g.dx, "h_prev": g.dh_prev, "c_prev": g.dc_prev}
    targets = dict(cell.params) | {"x": x, "h_prev": h_prev, "c_prev": c_prev}
    for name, arr in targets.items():
        assert got[name].shape == arr.shape, name
        # central differences in float64 reach ~1e-10 (see numgrad)
        assert rel_err(got[name], numgrad(loss, arr)) <= 1e-7, name


def test_step_grads_shapes_and_read_only(rng):
    D, H = 2, 3
    cell = LSTMCell(D, H, seed=0)
    x, h, c = rng.normal(size=D), rng.normal(size=H), rng.normal(size=H)
    g = backward_step(cell.step(x, h, c), c, h, x, np.ones(H), np.zeros(H), cell.params)
    assert isinstance(g, StepGrads)
    for name in ("dh", "dc_next", "do", "dc", "dc_tilde", "di", "df", "da_f", "da_i", "da_c", "da_o",
                 "dh_prev", "dc_prev"):
        assert getattr(g, name).shape == (H,), name
    assert g.dx.shape == (D,) and g.dz.shape == (H + D,)
    assert {k: v.shape for k, v in g.dparams.items()} == {k: v.shape for k, v in cell.params.items()}
    with pytest.raises(ValueError, match="read-only"):
        g.dc[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        g.dparams["W_f"][0, 0] = 1.0
    with pytest.raises(FrozenInstanceError):
        g.dc = None
    # dc_next alone, no gradient on h_t: the cell-state line carries it through f_t and nothing else
    g = backward_step(cell.step(x, h, c), c, h, x, np.zeros(H), np.ones(H), cell.params)
    np.testing.assert_array_equal(g.dc, np.ones(H))
    np.testing.assert_array_equal(g.dc_prev, cell.step(x, h, c).f)
    np.testing.assert_array_equal(g.do, np.zeros(H))


def test_bad_arguments_are_named(rng):
    D, H = 2, 3
    cell = LSTMCell(D, H, seed=0)
    x, h, c = rng.normal(size=D), rng.normal(size=H), rng.normal(size=H)
    s = cell.step(x, h, c)
    ones = np.ones(H)
    with pytest.raises(TypeError, match="step must be a Step .* got dict"):
        backward_step({}, c, h, x, ones, ones, cell.params)
    with pytest.raises(ValueError, match=r"dh must have shape \(3,\); got \(2, 3\)"):
        backward_step(s, c, h, x, np.ones((2, H)), ones, cell.params)
    with pytest.raises(ValueError, match=r"x must have shape \(2,\); got \(3,\)"):
        backward_step(s, c, h, np.ones(3), ones, ones, cell.params)
    with pytest.raises(ValueError, match=r"missing \['b_o'\]"):
        backward_step(s, c, h, x, ones, ones, {k: v for k, v in cell.params.items() if k != "b_o"})
    with pytest.raises(TypeError, match="dc_next must be a float array"):
        backward_step(s, c, h, x, ones, np.ones(H, dtype=int), cell.params)
    with pytest.raises(ValueError, match="dh must be finite"):
        backward_step(s, c, h, x, np.full(H, np.nan), ones, cell.params)
    other = LSTMCell(D, H + 1, seed=0).params
    with pytest.raises(ValueError, match=r"params\['W_f'\] must be \(H, H\+D\) with H=3"):
        backward_step(s, c, h, x, ones, ones, other)


def test_it_is_exported():
    assert lstmlib.backward_step is cell_module.backward_step


# --- the markers the chapter includes ---------------------------------------------------------

def marked_blocks():
    """{"B1": the lines between `# <B1>` and `# </B1>` (with their newlines), ...} in cell.py;
    each marker stands once, on a line of its own."""
    lines = (ROOT / "lstmlib" / "cell.py").read_text().splitlines(keepends=True)
    marks = [line.strip() for line in lines]
    blocks = {}
    for name in EQUATIONS:
        start, end = f"# <{name}>", f"# </{name}>"
        assert marks.count(start) == 1 and marks.count(end) == 1, f"marker {name} is not there once"
        blocks[name] = "".join(lines[marks.index(start) + 1:marks.index(end)])
    return blocks


def test_each_marked_block_computes_its_equation():
    """Each block holds what the chapter says it does, in the order of the equations, inside
    backward_step (the chapter includes them with :start-after: / :end-before:)."""
    defines = {"B1": ["do"], "B2": ["dc"], "B3": ["dc_tilde", "di"], "B4": ["df"],
               "B5": ["da_f", "da_i", "da_c", "da_o"],
               "B6": ["dW_f, db_f", "dW_i, db_i", "dW_c, db_c", "dW_o, db_o"], "B7": ["dz"],
               "B8": ["dh_prev, dx"], "B9": ["dc_prev"]}
    blocks = marked_blocks()
    for name, block in blocks.items():
        code = [line for line in block.splitlines() if not line.strip().startswith("#")]
        assigned = [line.split(" = ")[0].strip() for line in code if " = " in line]
        assert all(len(line) - 4 <= 64 for line in block.splitlines()), \
            f"block {name} has a line too wide for the page's column (64 characters)"
        assert assigned == defines[name], f"block {name} assigns {assigned}"
    source = inspect.getsource(backward_step)
    positions = [source.find(f"# <{name}>") for name in EQUATIONS]
    assert all(p > 0 for p in positions) and positions == sorted(positions)


def test_the_fused_passes_name_every_equation():
    for fn in (LSTMCell._backward_batch, LSTMCell._backward_feature):
        source = inspect.getsource(fn)
        tagged = set(re.findall(r"\bB[1-9]\b", source))  # (B5), (B7, B8), (B1)-(B9)
        missing = [name for name in EQUATIONS if name not in tagged]
        assert not missing, f"{fn.__name__} does not tag {missing}"



# --- the chapter that includes them ----------------------------------------------------------

CHAPTER = ROOT / "book" / "backprop.ipynb"
PAGE = ROOT / "_build" / "html" / "book" / "backprop.html"
INCLUDE = re.compile(r"```\{literalinclude\} \.\./lstmlib/cell\.py\n((?::[\w-]+:.*\n)+)```")


def chapter_includes():
    """[(start-after, end-before)] of the chapter's literalincludes of cell.py, in page order."""
    nb = json.loads(CHAPTER.read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    found = []
    for options in INCLUDE.findall(text):
        opts = dict(re.findall(r":([\w-]+): (.*)", options))
        assert opts.get("language") == "python" and opts.get("dedent") == "4", options
        found.append((opts["start-after"], opts["end-before"]))
    return found


def test_the_chapter_includes_every_equation_once_in_order():
    assert chapter_includes() == [(f"<{name}>", f"</{name}>") for name in EQUATIONS]


@pytest.mark.built
def test_the_built_page_shows_each_block_of_backward_step():
    """In the built page, the k-th code block of cell.py is block Bk, dedented: the right lines."""
    assert PAGE.exists(), "backprop.html is not built: run `make book` first"
    html_text = PAGE.read_text(encoding="utf-8")
    blocks = re.findall(r'<div class="highlight-python notranslate"><div class="highlight"><pre>'
                        r'(.*?)</pre>', html_text, re.S)
    shown = [html.unescape(re.sub(r"<[^>]+>", "", b)) for b in blocks]
    want = ["\n".join(line[4:] for line in block.splitlines()) + "\n"
            for block in marked_blocks().values()]
    assert shown == want


# --- pinned gates, and a step that does not match what it is given -----------------------------

@pytest.mark.parametrize("B", [None, 3])
def test_pinned_gates_in_a_loop_equal_the_fused_backward(path, rng, rel_err, B):  # noqa: F811
    cell, xs, h0, c0, dh, dc_last = setup(rng, B)
    T = len(xs)
    f = rng.uniform(0.2, 0.9, size=(T,) + h0.shape)  # one forget value per step
    trace = cell.forward(xs, h0, c0, f=f, o=0.7)
    fused = cell.backward(trace, dh, dc_last)
    total = {k: np.zeros_like(v) for k, v in cell.params.items()}
    dh_from_next, dc_next = np.zeros_like(h0), dc_last
    for t in range(T - 1, -1, -1):
        h_prev = h0 if t == 0 else trace.h[t - 1]
        g = backward_step(trace.at(t), trace.c_prev[t], h_prev, xs[t], dh[t] + dh_from_next,
                          dc_next, cell.params, pinned=("f", "o"))
        assert not g.da_f.any() and not g.da_o.any()
        for k in total:
            total[k] += g.dparams[k]
        dh_from_next, dc_next = g.dh_prev, g.dc_prev
    for name in total:
        assert rel_err(total[name], fused[name]) <= PATHS_RTOL, name
    assert rel_err(dh_from_next, fused["h0"]) <= PATHS_RTOL
    assert rel_err(dc_next, fused["c0"]) <= PATHS_RTOL


def test_a_step_from_other_inputs_is_refused(rng):
    D, H = 2, 3
    cell = LSTMCell(D, H, seed=0)
    x, h, c = rng.normal(size=D), rng.normal(size=H), rng.normal(size=H)
    s, ones = cell.step(x, h, c), np.ones(H)
    with pytest.raises(ValueError, match=r"step\.f is not what the h_prev, x and params"):
        backward_step(s, c, h + 0.1, x, ones, ones, cell.params)
    with pytest.raises(ValueError, match=r"step\.f is not .* other inputs or weights"):
        backward_step(s, c, h, x, ones, ones, LSTMCell(D, H, seed=1).params)
    with pytest.raises(ValueError, match=r"step\.c is not c_prev"):
        backward_step(s, c + 0.1, h, x, ones, ones, cell.params)
    pinned = cell.step(x, h, c, i=0.25)
    with pytest.raises(ValueError, match=r"step\.i .* set by hand \(say so with pinned=\('i',\)\)"):
        backward_step(pinned, c, h, x, ones, ones, cell.params)
    g = backward_step(pinned, c, h, x, ones, ones, cell.params, pinned=("i",))
    assert not g.da_i.any() and not g.dparams["W_i"].any() and g.da_f.any()
    with pytest.raises(ValueError, match="some of 'f', 'i', 'o'; got"):
        backward_step(s, c, h, x, ones, ones, cell.params, pinned=("c",))


def test_non_finite_weights_and_overflows_are_named(rng):
    D, H = 2, 3
    cell = LSTMCell(D, H, seed=0)
    x, h, c = rng.normal(size=D), rng.normal(size=H), rng.normal(size=H)
    s, ones = cell.step(x, h, c), np.ones(H)
    params = dict(cell.params) | {"b_o": np.array([0.0, np.nan, 0.0])}
    with pytest.raises(ValueError, match=r"params\['b_o'\] must be finite"):
        backward_step(s, c, h, x, ones, ones, params)
    with pytest.raises(NonFiniteError, match="backward_step: .* overflowed"):
        backward_step(s, c, h, x, np.full(H, 1e308), np.full(H, 1e308), cell.params)


def test_the_callers_buffers_stay_theirs(rng):
    """dh and dc_next are copied: the caller's (T, B, H) buffer stays writable, and writing into it
    later leaves the returned StepGrads as it was."""
    cell = LSTMCell(2, 3, seed=1)
    xs = rng.normal(size=(4, 2, 2))
    tr = cell.forward(xs)
    dh_all, dc = np.ones((4, 2, 3)), np.zeros((2, 3))
    g = backward_step(tr.at(3), tr.c_prev[3], tr.h[2], xs[3], dh_all[3], dc, cell.params)
    assert dh_all.flags.writeable and dc.flags.writeable
    before = (g.dh.copy(), g.dc_next.copy(), g.dh_prev.copy())
    dh_all[3] = 7.0
    dc[...] = 5.0
    for kept, now in zip(before, (g.dh, g.dc_next, g.dh_prev), strict=True):
        np.testing.assert_array_equal(now, kept)


@pytest.mark.parametrize("options", [dict(output_activation=False), dict(peepholes=True),
                                     dict(coupled=True), dict(input_activation=False)])
def test_a_variants_step_is_refused(rng, options):
    """backward_step is the plain cell's: a variant's step is refused by name, also where the
    variant has the plain cell's params (no output activation: c' = c, not tanh(c))."""
    x, h, c, dh = (rng.normal(size=(2, k)) for k in (2, 3, 3, 3))
    cell = LSTMCell(2, 3, seed=1, **options)
    cell.params["b_c"][:] = 2.0  # a candidate far from tanh's linear part
    with pytest.raises(ValueError, match="a step of a variant"):
        backward_step(cell.step(x, h, c), c, h, x, dh, np.zeros((2, 3)), cell.params)


@pytest.mark.parametrize("pinned", [None, "f", 3])
def test_pinned_must_be_a_tuple_of_gate_names(rng, pinned):
    cell = LSTMCell(2, 3, seed=1)
    x, h, c = (rng.normal(size=k) for k in (2, 3, 3))
    with pytest.raises(TypeError, match="pinned must be a tuple of gate names"):
        backward_step(cell.step(x, h, c), c, h, x, np.ones(3), np.zeros(3), cell.params,
                      pinned=pinned)


# --- what backward_step refuses, word for word, and what it accepts -----------------------------

def edited(step, **changes):
    """A Step with some of its arrays replaced (the others as they are)."""
    return Step(**{f.name: getattr(step, f.name) for f in fields(Step)} | changes)


def refusal(*args, **kwargs):
    """The message of the ValueError backward_step raises on these arguments."""
    with pytest.raises(ValueError) as err:
        backward_step(*args, **kwargs)
    return str(err.value)


def test_each_check_of_the_step_says_which_equation_fails(rng):
    D, H = 2, 3
    cell = LSTMCell(D, H, seed=0)
    x, h, c = rng.normal(size=D), rng.normal(size=H), rng.normal(size=H)
    s, ones, p = cell.step(x, h, c), np.ones(H), cell.params
    plain_only = cell_module._PLAIN_ONLY
    # the candidate has no override: no advice to pin it
    assert refusal(s, c, h, x, ones, ones, p | {"b_c": p["b_c"] + 0.1}) == (
        "step.c_tilde is not what the h_prev, x and params given make of it: the step comes from "
        "other inputs or weights" + plain_only)
    assert refusal(s, c + 0.1, h, x, ones, ones, p) == (
        "step.c is not c_prev ⊗ f + i ⊗ c̃: c_prev is not the cell state the step started from")
    cp = s.c_prime + 0.01
    assert refusal(edited(s, c_prime=cp, h=s.o * cp), c, h, x, ones, ones, p) == (
        "step.c_prime is not tanh(step.c)" + plain_only)
    assert refusal(edited(s, h=s.h + 0.01), c, h, x, ones, ones, p) == (
        "step.h is not o ⊗ c'" + plain_only)


def test_a_step_is_checked_to_rounding_absolute_and_relative(rng):
    """tol = sqrt(eps) ≈ 1.5e-8 in float64, as an absolute bound near zero and a relative one
    elsewhere: a c'_t off by 1e-6 of itself is refused, one off by 1.2e-8 from 0 is accepted."""
    D, H = 2, 3
    cell = LSTMCell(D, H, seed=0)
    x, h, c = rng.normal(size=D), rng.normal(size=H), np.array([1.0, -2.0, 0.5])
    s, ones = cell.step(x, h, c), np.ones(H)
    cp = s.c_prime * (1 + 1e-6)  # every |c'| > 0.1 here: 1e-7 and more off, beyond 1.5e-8 (1 + |c'|)
    assert np.abs(s.c_prime).min() > 0.1
    assert refusal(edited(s, c_prime=cp, h=s.o * cp), c, h, x, ones, ones, cell.params) == (
        "step.c_prime is not tanh(step.c)" + cell_module._PLAIN_ONLY)
    # c̃ = 0 and c_prev = 0 make c_t = 0 and c'_t = 0 exactly: 1.2e-8 off is rounding
    cell.params["W_c"][:] = 0.0
    zero = np.zeros(H)
    s = cell.step(x, h, zero)
    assert not s.c.any()
    cp = np.full(H, 1.2e-8)
    g = backward_step(edited(s, c_prime=cp, h=s.o * cp), zero, h, x, ones, zero, cell.params)
    np.testing.assert_array_equal(g.do, cp)


def test_the_arguments_are_named_word_for_word(rng):
    D, H = 2, 3
    cell = LSTMCell(D, H, seed=0)
    x, h, c = rng.normal(size=D), rng.normal(size=H), rng.normal(size=H)
    s, ones, p = cell.step(x, h, c), np.ones(H), cell.params
    cube = Step(**{f.name: np.zeros((1, 2, H)) for f in fields(Step)})
    assert refusal(cube, c, h, x, ones, ones, p) == "step.h must be (H,) or (B, H); got (1, 2, 3)"
    # D = 0 (W_f square) is no cell: [h_{t-1}, x_t] needs an x
    assert refusal(s, c, h, x, ones, ones, p | {"W_f": p["W_f"][:, :H]}) == (
        "params['W_f'] must be (H, H+D) with H=3 (from step.h); got (3, 3)")
    assert refusal(s, c, h, x, ones, ones, p | {"b_o": np.zeros(H + 1)}) == (
        "params['b_o'] must have shape (3,); got (4,)")
    assert refusal(s, np.ones(H + 1), h, x, ones, ones, p) == (
        "c_prev must have shape (3,); got (4,)")
    assert refusal(s, c, np.ones(H + 1), x, ones, ones, p) == (
        "h_prev must have shape (3,); got (4,)")


def test_all_three_gates_can_be_pinned(rng):
    D, H = 2, 3
    cell = LSTMCell(D, H, seed=0)
    x, h, c = rng.normal(size=D), rng.normal(size=H), rng.normal(size=H)
    s = cell.step(x, h, c, f=0.3, i=0.6, o=0.8)
    g = backward_step(s, c, h, x, np.ones(H), np.ones(H), cell.params, pinned=("f", "i", "o"))
    assert not any(g.dparams[k].any() for k in ("W_f", "W_i", "W_o", "b_f", "b_i", "b_o"))
    assert g.dparams["W_c"].any() and g.da_c.any()


def test_a_float32_step_gives_float32_gradients(rng, rel_err):
    """The dtype is the params': float32 steps are checked to float32 rounding, and every
    gradient is float32, also where dh and dc_next come as float64."""
    D, H, T = 2, 3, 5
    cell64 = randomized(LSTMCell(D, H, seed=0), rng)
    cell32 = LSTMCell(D, H, seed=0, dtype=np.float32)
    cell32.W, cell32.b = cell64.W, cell64.b
    xs = rng.normal(size=(T, D))
    tr32, tr64 = cell32.forward(xs.astype(np.float32)), cell64.forward(xs)
    dh, dc = rng.normal(size=H), rng.normal(size=H)  # float64
    for t in range(1, T):
        g32 = backward_step(tr32.at(t), tr32.c[t - 1], tr32.h[t - 1], tr32.xs[t, 0], dh, dc,
                            cell32.params)
        g64 = backward_step(tr64.at(t), tr64.c[t - 1], tr64.h[t - 1], xs[t], dh, dc,
                            cell64.params)
        for f in fields(StepGrads):
            a32, a64 = getattr(g32, f.name), getattr(g64, f.name)
            for k, v in (a32.items() if f.name == "dparams" else [(f.name, a32)]):
                assert v.dtype == np.float32, k
                want = a64[k] if f.name == "dparams" else a64
                assert rel_err(v, want) <= 1e-4, k
