"""The LSTM variants (lstmlib.variants, run by LSTMCell's options): gradients, reductions to the
plain cell, step against forward, storage and checks."""

import re

import numpy as np
import pytest

from lstmlib import LSTMCell, Trace
from lstmlib.cell import VARIANTS

D, H, B, T = 2, 3, 2, 4

# every single change of Greff et al., plus combinations that exercise the terms together
CASES = {
    **VARIANTS,
    "peepholes + coupled": {"peepholes": True, "coupled": True},
    "peepholes, no forget gate": {"peepholes": True, "forget_gate": False},
    "peepholes, linear memory": {"peepholes": True, "input_activation": False,
                                 "output_activation": False},
    "no gate, no activation": {"forget_gate": False, "input_gate": False, "output_gate": False,
                               "input_activation": False, "output_activation": False},
}


def _cell(options, seed=0, dtype=np.float64):
    """A variant cell with every weight, bias and peephole away from zero (so every term of the
    equations moves the output)."""
    cell = LSTMCell(D, H, seed=seed, dtype=dtype, **options)
    rng = np.random.default_rng(seed + 1)
    for name, p in cell.params.items():
        if name.startswith("b_"):
            p[...] = rng.uniform(-0.5, 0.5, size=p.shape)
        elif name.startswith("p_"):
            p[...] = rng.uniform(-0.8, 0.8, size=p.shape)
    return cell


def _data(seed=0):
    rng = np.random.default_rng(seed + 10)
    xs, h0, c0 = rng.normal(size=(T, B, D)), rng.normal(size=(B, H)) * 0.5, rng.normal(size=(B, H))
    R, S = rng.normal(size=(T, B, H)), rng.normal(size=(B, H))  # L = Σ R ⊗ h + Σ S ⊗ c_T
    return xs, h0, c0, R, S


def _richardson(numgrad, loss, arr, h=1e-4):
    """∂loss/∂arr by central differences extrapolated to zero step (Richardson): error O(h⁴) ≈
    1e-16 from truncation plus O(ulp / h) ≈ 1e-12 from rounding, far below 1e-6."""
    return (4 * numgrad(loss, arr, h / 2) - numgrad(loss, arr, h)) / 3


def fd_relative_errors(cell, numgrad, seed=0):
    """{name: worst relative error over its entries} of backward against finite differences,
    for every array of `params` and x, h0, c0. Per entry: |g − fd| / max(|g|, |fd|, 1e-8) (the
    floor only matters for an entry whose gradient vanishes both ways)."""
    xs, h0, c0, R, S = _data(seed)
    trace = cell.forward(xs, h0, c0)
    grads = cell.backward(trace, R, dc_last=S)

    def loss():
        tr = cell.forward(xs, h0, c0)
        return float(np.sum(R * tr.h) + np.sum(S * tr.c[-1]))

    arrays = {**cell.params, "x": xs, "h0": h0, "c0": c0}
    assert set(grads) == set(arrays)
    worst = {}
    for name, arr in arrays.items():
        assert grads[name].shape == arr.shape, name
        fd, g = _richardson(numgrad, loss, arr), grads[name]
        worst[name] = float(np.max(np.abs(g - fd) / np.maximum(np.maximum(abs(g), abs(fd)), 1e-8)))
    return worst


@pytest.mark.parametrize("name", list(CASES))
def test_backward_matches_finite_differences_entry_by_entry(name, numgrad):
    worst = fd_relative_errors(_cell(CASES[name]), numgrad)
    bad = {k: v for k, v in worst.items() if not v <= 1e-6}
    assert not bad, f"{name}: relative errors above 1e-6: {bad}"


def test_variants_are_the_single_changes_in_order():
    assert list(VARIANTS) == ["vanilla", "peepholes", "coupled", "no forget gate", "no input gate",
                              "no output gate", "no input activation", "no output activation"]
    assert VARIANTS["vanilla"] == {}
    for name, options in VARIANTS.items():
        assert LSTMCell(D, H, **options).options == options, name
        assert len(options) <= 1, name


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("batched", [True, False])
def test_step_equals_forward(name, batched):
    cell = _cell(CASES[name])
    xs, h0, c0, _, _ = _data()
    if not batched:
        xs, h0, c0 = xs[:, 0], h0[0], c0[0]
    trace = cell.forward(xs, h0, c0)
    h, c = h0, c0
    for t in range(T):
        s = cell.step(xs[t], h, c)
        expected = trace.at(t)
        for field in ("f", "F", "i", "c_tilde", "I", "c", "o", "c_prime", "h"):
            np.testing.assert_allclose(getattr(s, field), getattr(expected, field), rtol=1e-14,
                                       atol=1e-15, err_msg=f"{name}, step {t}, {field}")
        h, c = s.h, s.c


# --- where a variant is the plain cell ------------------------------------------------------

def _shared_grads_equal(variant_grads, plain_grads, names):
    for k in names:  # two implementations of the same sums: rounding apart only
        np.testing.assert_allclose(variant_grads[k], plain_grads[k], rtol=1e-12, atol=1e-14,
                                   err_msg=k)


def test_peepholes_at_zero_are_the_plain_cell():
    peep = LSTMCell(D, H, seed=3, forget_bias=1.0, peepholes=True)
    plain = LSTMCell(D, H, seed=3, forget_bias=1.0)
    # the same seed draws the same W (the peepholes are drawn after it)
    np.testing.assert_array_equal(peep.W, plain.W)
    for g in "fio":
        assert np.all(peep.params[f"p_{g}"] != 0)  # drawn, not zero
        peep.params[f"p_{g}"][:] = 0.0
    xs, h0, c0, R, S = _data(3)
    tp, tv = plain.forward(xs, h0, c0), peep.forward(xs, h0, c0)
    for field in ("f", "i", "c_tilde", "o", "c", "c_prime", "h"):
        np.testing.assert_allclose(getattr(tv, field), getattr(tp, field), rtol=1e-13, atol=1e-15)
    _shared_grads_equal(peep.backward(tv, R, dc_last=S), plain.backward(tp, R, dc_last=S),
                        [*plain.params, "x", "h0", "c0"])


@pytest.mark.parametrize("gate, option", [("f", "forget_gate"), ("i", "input_gate"),
                                          ("o", "output_gate")])
def test_a_removed_gate_is_the_plain_cell_with_that_gate_pinned_to_one(gate, option):
    variant = _cell({option: False}, seed=4)
    plain = _cell({}, seed=5)
    for name, p in variant.params.items():  # the plain cell takes the variant's weights
        plain.params[name][...] = p
    assert f"W_{gate}" not in variant.params and f"b_{gate}" not in variant.params
    xs, h0, c0, R, S = _data(4)
    tv, tp = variant.forward(xs, h0, c0), plain.forward(xs, h0, c0, **{gate: 1.0})
    for field in ("f", "i", "c_tilde", "o", "c", "c_prime", "h"):
        np.testing.assert_allclose(getattr(tv, field), getattr(tp, field), rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(getattr(tv, gate), 1.0)
    gv, gp = variant.backward(tv, R, dc_last=S), plain.backward(tp, R, dc_last=S)
    _shared_grads_equal(gv, gp, [*variant.params, "x", "h0", "c0"])
    np.testing.assert_array_equal(gp[f"W_{gate}"], 0.0)  # the pinned gate learns nothing


def test_coupled_gates_are_the_plain_cell_with_i_pinned_to_one_minus_f():
    # forward only: a pinned i passes no gradient back to f, while the coupled i = 1 − f does
    coupled = _cell({"coupled": True}, seed=6)
    plain = _cell({}, seed=7)
    for name, p in coupled.params.items():
        plain.params[name][...] = p
    xs, h0, c0, _, _ = _data(6)
    tc = coupled.forward(xs, h0, c0)
    np.testing.assert_array_equal(tc.i, 1.0 - tc.f)
    tp = plain.forward(xs, h0, c0, i=1.0 - tc.f)
    for field in ("f", "i", "c_tilde", "o", "c", "c_prime", "h"):
        np.testing.assert_allclose(getattr(tc, field), getattr(tp, field), rtol=1e-13, atol=1e-15)


def test_no_activation_variants_use_the_identity():
    xs, h0, c0, _, _ = _data(8)
    cell = _cell({"input_activation": False}, seed=8)
    s = cell.step(xs[0], h0, c0)
    p = cell.params
    z = np.concatenate([h0, xs[0]], axis=1)
    np.testing.assert_allclose(s.c_tilde, z @ p["W_c"].T + p["b_c"], rtol=1e-14)
    assert np.abs(s.c_tilde).max() > 1.0  # unbounded: no tanh (this input takes it past 1)
    cell = _cell({"output_activation": False}, seed=8)
    trace = cell.forward(xs, h0, c0)
    np.testing.assert_array_equal(trace.c_prime, trace.c)
    np.testing.assert_array_equal(trace.h, trace.o * trace.c)


def test_peepholes_see_the_old_memory_in_f_and_i_and_the_new_in_o():
    from lstmlib.activations import sigmoid

    cell = _cell({"peepholes": True}, seed=9)
    p = cell.params
    xs, h0, c0, _, _ = _data(9)
    s = cell.step(xs[0], h0, c0)
    z = np.concatenate([h0, xs[0]], axis=1)
    for g, mem in (("f", c0), ("i", c0), ("o", s.c)):
        expected = sigmoid(z @ p[f"W_{g}"].T + p[f"p_{g}"] * mem + p[f"b_{g}"])
        np.testing.assert_allclose(getattr(s, g), expected, rtol=1e-14, err_msg=g)


# --- storage, options and checks ------------------------------------------------------------

@pytest.mark.parametrize("name", list(CASES))
def test_params_are_views_with_tracked_writes(name):
    cell = _cell(CASES[name])
    params = cell.params
    assert cell.n_params == sum(p.size for p in params.values()) == cell.W.size + cell.b.size
    for k, p in params.items():
        assert p.shape == ((H, H + D) if k.startswith("W_") else (H,)), k
        assert np.shares_memory(p, cell.W if k.startswith("W_") else cell.b), k
    xs, h0, c0, R, _ = _data()
    for k in params:
        trace = cell.forward(xs, h0, c0)
        before = trace.h.copy()
        cell.params[k][0] += 0.25                 # a write through the view...
        assert not np.array_equal(cell.forward(xs, h0, c0).h, before), k  # ...changes the cell
        with pytest.raises(ValueError, match="weights changed after forward"):
            cell.backward(trace, R)               # ...and the old trace is refused


def test_which_params_each_variant_has():
    expect = {
        "vanilla": "W_f b_f W_i b_i W_c b_c W_o b_o",
        "peepholes": "W_f b_f W_i b_i W_c b_c W_o b_o p_f p_i p_o",
        "coupled": "W_f b_f W_c b_c W_o b_o",
        "no forget gate": "W_i b_i W_c b_c W_o b_o",
        "no input gate": "W_f b_f W_c b_c W_o b_o",
        "no output gate": "W_f b_f W_i b_i W_c b_c",
        "no input activation": "W_f b_f W_i b_i W_c b_c W_o b_o",
        "no output activation": "W_f b_f W_i b_i W_c b_c W_o b_o",
        "peepholes + coupled": "W_f b_f W_c b_c W_o b_o p_f p_o",
        "peepholes, no forget gate": "W_i b_i W_c b_c W_o b_o p_i p_o",
    }
    for name, keys in expect.items():
        assert list(LSTMCell(D, H, **CASES[name]).params) == keys.split(), name


def test_initialisation_of_peepholes_and_forget_bias():
    cell = LSTMCell(4, 16, seed=1, forget_bias=1.0, peepholes=True)
    k = 1 / np.sqrt(16)
    p = np.concatenate([cell.params[f"p_{g}"] for g in "fio"])
    assert np.all(np.abs(p) <= k) and p.max() > 0.8 * k and p.min() < -0.8 * k
    np.testing.assert_array_equal(cell.params["b_f"], 1.0)
    for g in "ico":
        np.testing.assert_array_equal(cell.params[f"b_{g}"], 0.0)
    coupled = LSTMCell(4, 16, forget_bias=1.0, coupled=True)
    np.testing.assert_array_equal(coupled.params["b_f"], 1.0)
    np.testing.assert_array_equal(coupled.params["b_c"], 0.0)


def test_repr_and_options():
    assert repr(LSTMCell(2, 3)) == "LSTMCell(input_size=2, hidden_size=3, dtype=float64)"
    assert LSTMCell(2, 3).options == {}
    cell = LSTMCell(2, 3, peepholes=True, output_gate=False)
    assert cell.options == {"peepholes": True, "output_gate": False}
    assert repr(cell) == ("LSTMCell(input_size=2, hidden_size=3, dtype=float64, peepholes=True, "
                          "output_gate=False)")
    assert LSTMCell(2, 3, forget_gate=True, peepholes=False).options == {}


@pytest.mark.parametrize("options, error, message", [
    ({"coupled": True, "forget_gate": False}, ValueError,
     "coupled=True sets i_t = 1 − f_t, so it needs the forget gate; got forget_gate=False "
     "(without it, use input_gate=False for i_t = 1)"),
    ({"coupled": True, "input_gate": False}, ValueError,
     "coupled=True computes the input gate as i_t = 1 − f_t; input_gate=False (i_t = 1) "
     "contradicts it: choose one"),
    ({"forget_gate": False, "forget_bias": 1.0}, ValueError,
     "forget_bias=1.0 is added to b_f, which a cell with forget_gate=False does not have; leave "
     "forget_bias at 0"),
    ({"peepholes": 1}, TypeError, "LSTMCell option peepholes must be True or False; got 1 (int)"),
    ({"output_gate": "no"}, TypeError,
     "LSTMCell option output_gate must be True or False; got 'no' (str)"),
    ({"coupled": None}, TypeError, "LSTMCell option coupled must be True or False; got None (NoneType)"),
])
def test_invalid_options_are_refused(options, error, message):
    with pytest.raises(error) as err:
        LSTMCell(D, H, **options)
    assert str(err.value) == message


def test_forget_bias_zero_is_fine_without_a_forget_gate():
    assert LSTMCell(D, H, forget_gate=False, forget_bias=0.0).options == {"forget_gate": False}


@pytest.mark.parametrize("pin", ["f", "i", "o"])
def test_variants_refuse_pinned_gates(pin):
    cell = LSTMCell(D, H, peepholes=True)
    xs = np.zeros((T, D))
    with pytest.raises(ValueError, match=re.escape(f"gate overrides ({pin}=) work on the plain")):
        cell.forward(xs, **{pin: 0.5})
    with pytest.raises(ValueError, match="peepholes=True"):
        cell.step(xs[0], **{pin: 0.5})


def test_several_pinned_gates_are_listed():
    cell = LSTMCell(D, H, coupled=True)
    with pytest.raises(ValueError) as err:
        cell.step(np.zeros(D), f=0.5, o=1.0)
    assert str(err.value) == ("gate overrides (f=, o=) work on the plain LSTMCell only; this cell "
                              f"is LSTMCell(input_size={D}, hidden_size={H}, dtype=float64, "
                              "coupled=True)")


def test_trace_of_a_variant_reads_like_the_plain_one():
    cell = _cell({"coupled": True, "peepholes": True})
    xs, h0, c0, _, _ = _data()
    trace = cell.forward(xs[:, 0], h0[0], c0[0])
    assert isinstance(trace, Trace) and not trace.batched and trace.T == T
    assert trace.h.shape == trace.f.shape == trace.I.shape == (T, H)
    np.testing.assert_array_equal(trace.F, trace.c_prev * trace.f)
    np.testing.assert_array_equal(trace.h_all[:, 0], trace.h)
    assert not trace.h.flags.writeable and not trace.gates.flags.writeable
    with pytest.raises(TypeError, match=re.escape("trace must be a Trace from this cell's "
                                                  "forward(); got object")):
        cell.backward(object(), np.zeros((T, H)))
    with pytest.raises(ValueError, match=re.escape("dh must have shape (4, 3)")):
        cell.backward(trace, np.zeros((T, B, H)))
    with pytest.raises(ValueError, match="made by another cell"):
        LSTMCell(D, H, coupled=True, peepholes=True).backward(trace, np.zeros((T, H)))


def test_non_finite_weights_are_named_by_their_book_name():
    cell = LSTMCell(D, H, peepholes=True, forget_gate=False)
    cell.params["p_o"][1] = np.nan
    with pytest.raises(ValueError, match=re.escape("params['p_o'][1]")):
        cell.forward(np.zeros((T, D)))
    cell = LSTMCell(D, H, forget_gate=False)
    cell.params["W_o"][2, 1] = np.inf
    with pytest.raises(ValueError, match=re.escape("params['W_o'][2, 1]")):
        cell.step(np.zeros(D))


def test_float32_variant_stays_float32_and_close_to_float64():
    c64 = _cell({"peepholes": True, "coupled": True})
    c32 = LSTMCell(D, H, dtype=np.float32, peepholes=True, coupled=True)
    for k, p in c64.params.items():
        c32.params[k][...] = p
    xs, h0, c0, R, S = _data()
    t32 = c32.forward(xs, h0, c0)  # float64 inputs, cast to the cell's float32
    g32 = c32.backward(t32, R, dc_last=S)
    for name in ("xs", "h0", "c0", "gates", "h", "c", "c_prime", "F", "I"):
        assert getattr(t32, name).dtype == np.float32, name
    assert all(g.dtype == np.float32 for g in g32.values())
    t64 = c64.forward(xs, h0, c0)
    np.testing.assert_allclose(t32.h, t64.h, atol=1e-5)  # float32 rounding over four steps
    for k, g in c64.backward(t64, R, dc_last=S).items():
        np.testing.assert_allclose(g32[k], g, atol=1e-4, err_msg=k)


@pytest.mark.parametrize("name", ["no forget gate", "coupled", "no output activation"])
def test_the_unrolled_diagram_shows_a_variants_values(name):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lstmlib.viz import draw_memory_path, draw_unrolled, fmt

    cell = _cell(CASES[name])
    xs, h0, c0, _, _ = _data()
    trace = cell.forward(xs[:, 0], h0[0], c0[0])  # one sequence, (T, ·)
    ax = draw_unrolled(trace, steps=3, unit=1)
    texts = [t.get_text() for t in ax.texts]
    for t in range(3):
        for gate in ("f", "i", "c_tilde", "o"):
            assert fmt(getattr(trace, gate)[t, 1]) in texts, (gate, t)
        assert fmt(trace.c[t, 1]) in texts and fmt(trace.h[t, 1]) in texts
    if name == "no forget gate":
        assert texts.count(fmt(1.0)) >= 3  # f_t = 1 in every box
    draw_memory_path(trace, steps=3, unit=1)
    plt.close("all")


def test_a_variants_step_names_its_arguments_and_keeps_the_cells_dtype():
    cell = LSTMCell(D, H, dtype=np.float32, coupled=True)
    x = np.ones(D)  # float64, cast to the cell's float32
    with pytest.raises(ValueError, match=re.escape(f"x must have shape ({D},) or (B, {D}) with "
                                                   f"D={D}; got ({D + 1},)")):
        cell.step(np.ones(D + 1))
    with pytest.raises(ValueError, match=re.escape(f"h_prev must have shape ({H},); got ({H + 1},)")):
        cell.step(x, np.ones(H + 1))
    with pytest.raises(ValueError, match=re.escape(f"c_prev must have shape ({H},); got ({H + 1},)")):
        cell.step(x, np.ones(H), np.ones(H + 1))
    for s in (cell.step(x), cell.step(x, np.ones(H)), cell.step(x, None, np.ones(H))):
        assert {getattr(s, name).dtype for name in ("f", "i", "c", "h")} == {np.dtype(np.float32)}


def _memory_overflow_cell():
    """A cell whose c_t overflows on a memory of 1.7e308: a linear candidate of 1.7e308 kept and
    added in full (f_t = i_t = 1); h_t stays finite through tanh."""
    cell = LSTMCell(D, H, input_activation=False)
    cell.params["b_f"][:] = cell.params["b_i"][:] = 50.0  # f_t = i_t = 1
    cell.params["W_c"][:] = 0.0
    cell.params["b_c"][:] = 1.7e308
    return cell


def _output_nan_cell():
    """A cell whose h_t is NaN on h_prev = [1e200, 1e200, 0]: W_o · z is ∞ − ∞ (no output
    activation), while c_t stays finite."""
    cell = LSTMCell(D, H, output_activation=False)
    cell.params["W_o"][0, :2] = [1e200, -1e200]
    return cell


def test_a_variants_step_names_what_overflowed():
    cell = _memory_overflow_cell()
    with np.errstate(over="ignore"), pytest.raises(
            ValueError, match=re.escape("step: c_t overflowed float64 (found inf at index (0, 0))")):
        cell.step(np.zeros(D), None, np.full(H, 1.7e308))
    cell = _output_nan_cell()
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(
            ValueError, match=re.escape("step: h_t overflowed float64 (found nan at index (0, 0))")):
        cell.step(np.zeros(D), np.array([1e200, 1e200, 0.0]))


def test_a_variants_backward_names_what_does_not_fit():
    cell = LSTMCell(D, H, peepholes=True)
    trace = cell.forward(np.zeros((T, D)))
    for other in (LSTMCell(D + 1, H, peepholes=True), LSTMCell(D, H + 1, peepholes=True)):
        with pytest.raises(ValueError, match=re.escape(
                f"trace has D={D}, H={H}; this cell has D={other.D}, H={other.H}")):
            other.backward(trace, np.zeros((T, H)))
    with pytest.raises(ValueError, match=re.escape(f"dc_last must have shape ({H},); got ({B}, {H})")):
        cell.backward(trace, np.zeros((T, H)), dc_last=np.zeros((B, H)))
    with pytest.raises(TypeError, match="dc_last must be a float array"):
        cell.backward(trace, np.zeros((T, H)), dc_last=np.zeros(H, dtype=int))
    with pytest.raises(TypeError, match="dh must be a float array"):
        cell.backward(trace, np.zeros((T, H), dtype=int))
    # the caller's dc_last stays theirs: backward neither writes into it nor keeps it
    dc_last = np.ones(H)
    g = cell.backward(trace, np.zeros((T, H)), dc_last=dc_last)
    np.testing.assert_array_equal(dc_last, np.ones(H))
    assert not np.shares_memory(g["c0"], dc_last)


def test_a_variants_forward_names_what_overflowed():
    """As for step, on the same two cells: c_T overflows, or h_T is NaN while c_T is finite."""
    cell = _memory_overflow_cell()
    with np.errstate(over="ignore"), pytest.raises(
            ValueError, match=re.escape("forward: c_T overflowed float64 (found inf at index (0, 0))")):
        cell.forward(np.zeros((1, D)), None, np.full(H, 1.7e308))
    cell = _output_nan_cell()
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(
            ValueError, match=re.escape("forward: h_T overflowed float64 (found nan at index (0, 0))")):
        cell.forward(np.zeros((1, D)), np.array([1e200, 1e200, 0.0]))


def test_numpy_bools_are_options_too():
    cell = LSTMCell(D, H, peepholes=np.True_, output_gate=np.False_, coupled=np.False_)
    assert cell.options == {"peepholes": True, "output_gate": False}
    assert all(type(v) is bool for v in cell.options.values())
    assert repr(cell).endswith("peepholes=True, output_gate=False)")


@pytest.mark.parametrize("block, name", [(slice(H, None), "x"), (slice(0, H), "h0")])
def test_a_variants_backward_names_the_gradient_that_overflowed(block, name):
    """z = 0 keeps every weight's gradient at 0; a huge dh through c̃ (no output tanh) times a
    huge weight on x (or on h) overflows that gradient alone."""
    cell = LSTMCell(D, H, output_activation=False)
    cell.W = np.zeros_like(cell.W)
    cell.params["W_c"][:, block] = 1e10
    trace = cell.forward(np.zeros((1, D)))
    with np.errstate(over="ignore"), pytest.raises(
            ValueError, match=re.escape(f"backward: the gradient of {name} overflowed float64")):
        cell.backward(trace, np.full((1, H), 1e300))


def test_a_variants_backward_takes_dc_last_after_one_step():
    cell = _cell(CASES["peepholes"])
    trace = cell.forward(np.zeros((1, D)))
    g = cell.backward(trace, np.zeros((1, H)), dc_last=np.ones(H))
    assert g["c0"].shape == (H,) and g["c0"].any()


def test_a_variants_backward_names_the_gradient_of_c0_when_it_alone_overflows():
    """f_t = 1 and c̃_t = 1 exactly, z = 0 and c_0 = 0: every weight's gradient, dx and dh0 stay
    finite, while dc_0 = dc_T · f_t + da_i · p_i = 1e308 + 2.5e307 · 4 overflows."""
    cell = LSTMCell(1, 1, peepholes=True)
    cell.W = np.zeros_like(cell.W)
    cell.params["b_f"][:], cell.params["b_i"][:], cell.params["b_c"][:] = 50.0, 0.0, 50.0
    cell.params["p_f"][:], cell.params["p_i"][:], cell.params["p_o"][:] = 0.0, 4.0, 0.0
    trace = cell.forward(np.zeros((1, 1)))
    with np.errstate(over="ignore"), pytest.raises(ValueError) as err:
        cell.backward(trace, np.zeros((1, 1)), dc_last=np.full(1, 1e308))
    assert str(err.value) == ("backward: the gradient of c0 overflowed float64 (found inf at index "
                              "(0, 0)); the inputs or weights are too large for this dtype")


def test_a_variants_forward_refuses_pinned_gates_naming_the_cell():
    cell = LSTMCell(D, H, peepholes=True)
    with pytest.raises(ValueError) as err:
        cell.forward(np.zeros((T, D)), o=0.5)
    assert str(err.value) == ("gate overrides (o=) work on the plain LSTMCell only; this cell is "
                              f"LSTMCell(input_size={D}, hidden_size={H}, dtype=float64, "
                              "peepholes=True)")


def test_a_variants_trace_is_stored_in_the_batch_layout_that_backward_reads():
    """The trace shows h_0..h_T and c_0..c_T as views of the read-only (T+1, B, H) store that
    backward computes from: what the trace shows is what backward uses."""
    cell = _cell(CASES["peepholes"])
    xs, h0, c0, _, _ = _data()
    trace = cell.forward(xs, h0, c0)
    assert trace.layout == "batch"
    Hs, Cs = trace.store
    assert Hs.shape == Cs.shape == (T + 1, B, H)
    assert not Hs.flags.writeable and not Cs.flags.writeable
    assert np.shares_memory(trace.h_all, Hs) and np.shares_memory(trace.h0, Hs)
    assert np.shares_memory(trace.c_all, Cs) and np.shares_memory(trace.c0, Cs)
    np.testing.assert_array_equal(trace.h0, h0)
    np.testing.assert_array_equal(trace.c0, c0)
    np.testing.assert_array_equal(Hs[1:], trace.h_all)


def test_a_failed_variant_forward_on_nan_weights_looks_at_them_once():
    """A write the views cannot see (np.copyto) is found by comparing the weights with a copy;
    NaN never compares equal, so every look counts a new version: forward looks once (then
    refuses), backward once more."""
    cell = LSTMCell(D, H, peepholes=True)
    trace = cell.forward(np.zeros((T, D)))
    np.copyto(cell.W, np.nan)
    with pytest.raises(ValueError, match=re.escape("LSTMCell.W must be finite; found nan")):
        cell.forward(np.zeros((T, D)))
    with pytest.raises(ValueError, match=re.escape("W (version 0 at forward(), 2 now)")):
        cell.backward(trace, np.zeros((T, H)))
