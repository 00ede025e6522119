"""The LSTM cell: each equation by hand, the four "missing link" corners bit for bit, the teaching
path against the fused path, backward against finite differences and against torch.nn.LSTM."""

import math
import re
import tracemalloc
import warnings
from dataclasses import FrozenInstanceError, fields

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lstmlib.cell as cell_module
from lstmlib import (
    GATES,
    LSTMCell,
    Step,
    candidate,
    cell_state,
    forget_gate,
    hidden_state,
    input_gate,
    output_gate,
)
from lstmlib.checks import NonFiniteError

STEP_FIELDS = [f.name for f in fields(Step)]  # f, F, i, c_tilde, I, c, o, c_prime, h
PARAM_NAMES = [f"W_{g}" for g in GATES] + [f"b_{g}" for g in GATES]

# The teaching path (step) and the fused path (forward) compute the same sums in another order and
# σ by another identity ((1 + tanh(z/2)) / 2): they differ by rounding only, a few ulps per step.
PATHS_RTOL, PATHS_ATOL = 1e-12, 1e-14


def randomized(cell, rng, scale=0.5):
    """Give every weight and bias a random value, so no parameter is trivially zero."""
    for p in cell.params.values():
        p[:] = rng.normal(scale=scale, size=p.shape)
    return cell


def sequence(rng, T, D, B=None, H=None):
    """xs of shape (T, [B,] D), and h0, c0 of shape ([B,] H) when H is given."""
    lead = (T,) if B is None else (T, B)
    xs = rng.normal(size=lead + (D,))
    if H is None:
        return xs
    state = (H,) if B is None else (B, H)
    return xs, rng.normal(size=state), rng.normal(size=state)


def run_steps(cell, xs, h0, c0, **pins):
    """The teaching path over a sequence: step after step, feeding h and c forward."""
    h, c, out = h0, c0, []
    for t in range(len(xs)):
        per_step = {k: (v[t] if np.ndim(v) == np.ndim(xs) else v) for k, v in pins.items()}
        s = cell.step(xs[t], h, c, **per_step)
        out.append(s)
        h, c = s.h, s.c
    return out


@pytest.fixture(params=["batch", "feature"])
def path(request, monkeypatch):
    """Run a test with each of the fused passes' two layouts ("batch": gates through one tanh;
    "feature": through one exp), which forward otherwise picks by the size B·H."""
    monkeypatch.setattr(cell_module, "FEATURE_MAJOR_MIN", 0 if request.param == "feature" else 10**9)
    # backward's GEMMs in chunks of 3 // B steps (at least 1): several chunks, one of them short
    monkeypatch.setattr(cell_module, "BACKWARD_CHUNK", 3)
    return request.param


# --- each equation of the post, by hand --------------------------------------------------------

def hand_step(W, b, x, h_prev, c_prev):
    """The post's equations on plain Python floats, one scalar at a time (H=2, D=1)."""
    z = list(h_prev) + list(x)  # [h_{t-1}, x_t]: h first

    def affine(g, r):
        return sum(W[g][r][k] * z[k] for k in range(len(z))) + b[g][r]

    def sig(a):
        return 1.0 / (1.0 + math.exp(-a))

    H = len(h_prev)
    out = {k: [] for k in STEP_FIELDS}
    for r in range(H):
        f = sig(affine("f", r))
        i = sig(affine("i", r))
        c_tilde = math.tanh(affine("c", r))
        o = sig(affine("o", r))
        F = c_prev[r] * f
        I = i * c_tilde  # noqa: E741
        c = F + I
        c_prime = math.tanh(c)
        h = o * c_prime
        for k, v in zip(STEP_FIELDS, (f, F, i, c_tilde, I, c, o, c_prime, h), strict=True):
            out[k].append(v)
    return out


HAND_W = {  # columns: h_1, h_2, x
    "f": [[0.5, -0.3, 0.8], [0.1, 0.2, -0.4]],
    "i": [[-0.6, 0.4, 0.3], [0.7, -0.1, 0.9]],
    "c": [[0.2, 0.5, -1.2], [-0.3, 0.6, 0.4]],
    "o": [[0.9, -0.8, 0.1], [0.3, 0.3, -0.5]],
}
HAND_b = {"f": [0.1, -0.2], "i": [0.0, 0.3], "c": [-0.1, 0.05], "o": [0.2, -0.3]}


@pytest.fixture
def hand_cell():
    cell = LSTMCell(1, 2)
    for g in GATES:
        cell.params[f"W_{g}"][:] = HAND_W[g]
        cell.params[f"b_{g}"][:] = HAND_b[g]
    return cell


def test_every_equation_by_hand(hand_cell):
    x, h_prev, c_prev = [0.7], [0.2, -0.5], [0.4, -1.1]
    s = hand_cell.step(np.array(x), np.array(h_prev), np.array(c_prev))
    expected = hand_step(HAND_W, HAND_b, x, h_prev, c_prev)
    for name in STEP_FIELDS:
        got = getattr(s, name)
        assert got.shape == (2,), name
        # the same formula summed in another order, libm's exp for numpy's, maybe another BLAS: ulps
        np.testing.assert_allclose(got, expected[name], rtol=1e-13, atol=1e-16, err_msg=name)


def test_equations_by_hand_batched(hand_cell):
    xs = [[0.7], [-1.3], [0.0]]
    hs = [[0.2, -0.5], [0.0, 0.0], [-0.9, 0.4]]
    cs = [[0.4, -1.1], [2.0, 0.3], [0.0, -0.2]]
    s = hand_cell.step(np.array(xs), np.array(hs), np.array(cs))
    for r in range(3):
        expected = hand_step(HAND_W, HAND_b, xs[r], hs[r], cs[r])
        for name in STEP_FIELDS:
            np.testing.assert_allclose(getattr(s, name)[r], expected[name], rtol=1e-13, atol=1e-16,
                                       err_msg=f"{name}, row {r}")


def test_equation_functions_one_by_one(rng):
    B, H, D = 3, 2, 4
    z = rng.normal(size=(B, H + D))
    W, b = rng.normal(size=(H, H + D)), rng.normal(size=H)
    pre = np.array([[sum(W[r, k] * z[n, k] for k in range(H + D)) + b[r] for r in range(H)]
                    for n in range(B)])
    sig = 1.0 / (1.0 + np.exp(-pre))
    for fn in (forget_gate, input_gate, output_gate):
        np.testing.assert_allclose(fn(z, W, b), sig, rtol=1e-14, err_msg=fn.__name__)
    np.testing.assert_allclose(candidate(z, W, b), np.tanh(pre), rtol=1e-13, atol=1e-16)
    c_prev, f, i, c_tilde = rng.uniform(-1, 1, size=(4, B, H))
    F, I, c = cell_state(c_prev, f, i, c_tilde)  # noqa: E741
    assert np.array_equal(F, c_prev * f) and np.array_equal(I, i * c_tilde)
    assert np.array_equal(c, c_prev * f + i * c_tilde)
    o = rng.uniform(size=(B, H))
    c_prime, h = hidden_state(o, c)
    assert np.array_equal(c_prime, np.tanh(c)) and np.array_equal(h, o * np.tanh(c))


def test_step_omitted_states_are_zeros(rng):
    cell = randomized(LSTMCell(3, 2), rng)
    x = rng.normal(size=3)
    a, b = cell.step(x), cell.step(x, np.zeros(2), np.zeros(2))
    for name in STEP_FIELDS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.F, np.zeros(2))


def test_step_is_frozen(rng):
    s = LSTMCell(3, 2).step(rng.normal(size=3))
    with pytest.raises(FrozenInstanceError):
        s.c = np.zeros(2)


def test_batched_step_rows_are_independent(rng):
    cell = randomized(LSTMCell(3, 4), rng)
    x, h, c = rng.normal(size=(5, 3)), rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    batch = cell.step(x, h, c)
    for r in range(5):
        one = cell.step(x[r], h[r], c[r])
        for name in STEP_FIELDS:
            # a matrix product and a vector product may take different BLAS kernels: rounding only
            np.testing.assert_allclose(getattr(batch, name)[r], getattr(one, name), rtol=1e-14,
                                       atol=1e-15, err_msg=name)


# --- the four "missing link" corners, bit for bit ----------------------------------------------

CORNERS = [(1.0, 0.0), (0.0, 1.0), (0.0, 0.0), (1.0, 1.0)]


def corner_expectation(f, i, c_prev, c_tilde):
    return {
        (1.0, 0.0): c_prev,               # remember everything, write nothing
        (0.0, 1.0): c_tilde,              # forget everything, write the candidate
        (0.0, 0.0): np.zeros_like(c_prev),  # forget everything, write nothing
        (1.0, 1.0): c_prev + c_tilde,     # keep the past and add the present
    }[(f, i)]


@pytest.mark.parametrize("f, i", CORNERS)
@pytest.mark.parametrize("B", [None, 3])
def test_missing_link_corners_step(rng, f, i, B):
    cell = randomized(LSTMCell(3, 5), rng, scale=1.0)
    x = rng.normal(size=(3,) if B is None else (B, 3))
    h_prev = rng.normal(size=(5,) if B is None else (B, 5))
    c_prev = rng.normal(scale=3.0, size=h_prev.shape)
    s = cell.step(x, h_prev, c_prev, f=f, i=i)
    assert np.array_equal(s.f, np.full(h_prev.shape, f)) and np.array_equal(s.i, np.full(h_prev.shape, i))
    assert np.array_equal(s.c, corner_expectation(f, i, c_prev, s.c_tilde))
    assert np.array_equal(s.h, s.o * np.tanh(s.c))


@pytest.mark.parametrize("f, i", CORNERS)
def test_missing_link_corners_gate_shaped_overrides(rng, f, i):
    cell = randomized(LSTMCell(2, 3), rng, scale=1.0)
    x, h_prev, c_prev = rng.normal(size=(4, 2)), rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    s = cell.step(x, h_prev, c_prev, f=np.full((4, 3), f), i=np.full((4, 3), i))
    assert np.array_equal(s.c, corner_expectation(f, i, c_prev, s.c_tilde))


@pytest.mark.parametrize("f, i", CORNERS)
@pytest.mark.parametrize("B", [None, 2])
def test_missing_link_corners_forward(path, rng, f, i, B):
    cell = randomized(LSTMCell(3, 4), rng, scale=1.0)
    xs, h0, c0 = sequence(rng, 7, 3, B, 4)
    tr = cell.forward(xs, h0, c0, f=f, i=i)
    c_prev_all = np.concatenate([c0[None], tr.c[:-1]])
    assert np.array_equal(tr.c_prev, c_prev_all)
    assert np.array_equal(tr.c, corner_expectation(f, i, c_prev_all, tr.c_tilde))
    if (f, i) == (1.0, 0.0):  # the memory carried unchanged across all seven steps
        assert all(np.array_equal(tr.c[t], c0) for t in range(7))
    if (f, i) == (1.0, 1.0):  # c_T = c_0 + c̃_1 + ... + c̃_T, added in the same order
        assert np.array_equal(tr.c, np.cumsum(np.concatenate([c0[None], tr.c_tilde]), axis=0)[1:])
    if (f, i) == (0.0, 0.0):
        assert np.array_equal(tr.h, np.zeros_like(tr.h))


def test_pinned_forget_gate_gives_constant_memory_gradient(rng):
    """With f = 1 and i = 0, c_T = c_0, so ∂L/∂c_0 is exactly the gradient arriving at c_T."""
    cell = randomized(LSTMCell(2, 3), rng)
    xs, h0, c0 = sequence(rng, 6, 2, None, 3)
    tr = cell.forward(xs, h0, c0, f=1.0, i=0.0, o=0.0)  # o = 0: no gradient through h either
    dc_last = rng.normal(size=3)
    g = cell.backward(tr, np.zeros_like(tr.h), dc_last)
    assert np.array_equal(g["c0"], dc_last)
    for name in ("W_f", "b_f", "W_i", "b_i", "W_o", "b_o"):
        assert not g[name].any(), name


# --- teaching path == fused path -------------------------------------------------------------

@pytest.mark.parametrize("B", [None, 1, 4])
def test_step_equals_forward(path, rng, B):
    cell = randomized(LSTMCell(3, 5), rng)
    xs, h0, c0 = sequence(rng, 8, 3, B, 5)
    tr = cell.forward(xs, h0, c0)
    steps = run_steps(cell, xs, h0, c0)
    for t, s in enumerate(steps):
        at = tr.at(t)
        for name in STEP_FIELDS:
            np.testing.assert_allclose(getattr(at, name), getattr(s, name), rtol=PATHS_RTOL,
                                       atol=PATHS_ATOL, err_msg=f"{name} at t={t}")
    for name in ("f", "i", "c_tilde", "o", "c", "c_prime", "h", "F", "I"):
        np.testing.assert_allclose(getattr(tr, name), np.stack([getattr(s, name) for s in steps]),
                                   rtol=PATHS_RTOL, atol=PATHS_ATOL, err_msg=name)


@pytest.mark.parametrize("B", [None, 3])
def test_step_equals_forward_with_overrides(path, rng, B):
    """A scalar f, a gate-shaped i and a per-step o, all at once."""
    T, D, H = 6, 2, 4
    cell = randomized(LSTMCell(D, H), rng)
    xs, h0, c0 = sequence(rng, T, D, B, H)
    gshape = (H,) if B is None else (B, H)
    f, i, o = 0.35, rng.uniform(size=gshape), rng.uniform(size=(T,) + gshape)
    tr = cell.forward(xs, h0, c0, f=f, i=i, o=o)
    steps = run_steps(cell, xs, h0, c0, f=f, i=i, o=o)
    assert np.array_equal(tr.f, np.full((T,) + gshape, f))
    assert np.array_equal(tr.i, np.broadcast_to(i, (T,) + gshape))
    assert np.array_equal(tr.o, o)
    for t, s in enumerate(steps):
        for name in STEP_FIELDS:
            np.testing.assert_allclose(getattr(tr.at(t), name), getattr(s, name), rtol=PATHS_RTOL,
                                       atol=PATHS_ATOL, err_msg=f"{name} at t={t}")


def test_batch_rows_follow_their_own_sequences(rng):
    cell = randomized(LSTMCell(3, 4), rng)
    xs, h0, c0 = sequence(rng, 5, 3, 3, 4)
    tr = cell.forward(xs, h0, c0)
    dh = rng.normal(size=tr.h.shape)
    grads = cell.backward(tr, dh)
    total = {name: np.zeros_like(g) for name, g in cell.params.items()}
    for r in range(3):
        one = cell.forward(xs[:, r], h0[r], c0[r])
        # a batch of one is the same computation: bit for bit
        assert np.array_equal(cell.forward(xs[:, r:r + 1], h0[r:r + 1], c0[r:r + 1]).h[:, 0], one.h)
        # a wider batch may take other BLAS kernels: rounding only
        np.testing.assert_allclose(tr.h[:, r], one.h, rtol=1e-13, atol=1e-15)
        g = cell.backward(one, dh[:, r])
        for name in ("x", "h0", "c0"):
            np.testing.assert_allclose(grads[name][..., r, :] if name == "x" else grads[name][r], g[name],
                                       rtol=1e-12, atol=1e-14, err_msg=name)
        for name in total:
            total[name] += g[name]
    for name in total:  # the batch's parameter gradient is the sum over its rows
        np.testing.assert_allclose(grads[name], total[name], rtol=1e-12, atol=1e-14, err_msg=name)


def test_inputs_are_never_written_to(rng):
    """forward/step/backward may reuse the caller's arrays as views, but never write into them."""
    cell = randomized(LSTMCell(3, 4), rng)
    xs, h0, c0 = sequence(rng, 5, 3, 2, 4)
    o = rng.uniform(size=(5, 2, 4))
    dh, dc_last = rng.normal(size=(5, 2, 4)), rng.normal(size=(2, 4))
    given = [a.copy() for a in (xs, h0, c0, o, dh, dc_last)]
    tr = cell.forward(xs, h0, c0, o=o)
    cell.backward(tr, dh, dc_last)
    cell.step(xs[0], h0, c0, o=o[0])
    for before, after in zip(given, (xs, h0, c0, o, dh, dc_last), strict=True):
        assert np.array_equal(before, after)


def test_forward_overrides_do_not_leak(rng):
    """Pinning a gate in one call leaves the next call's gates computed."""
    cell = randomized(LSTMCell(2, 3), rng)
    xs = sequence(rng, 4, 2)
    free = cell.forward(xs)
    cell.forward(xs, f=0.0, i=1.0, o=0.5)
    again = cell.forward(xs)
    assert np.array_equal(free.h, again.h) and not again.pinned


def test_forward_stays_quiet_when_saturated(path, rng):
    """Huge weights drive every gate to 0 or 1; nothing may overflow, underflow or warn."""
    cell = randomized(LSTMCell(3, 4), rng, scale=1e4)
    xs, h0, c0 = sequence(rng, 5, 3, 2, 4)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        tr = cell.forward(xs * 1e3, h0, c0)
        s = cell.step(xs[0] * 1e3, h0, c0)
        cell.backward(tr, np.ones_like(tr.h))
    assert np.isfinite(tr.h).all() and np.isfinite(s.h).all()
    assert ((tr.f == 0) | (tr.f == 1)).mean() > 0.9


# --- the trace -------------------------------------------------------------------------------

@pytest.mark.parametrize("B", [None, 2])
def test_trace_shapes_and_at(rng, B):
    T, D, H = 5, 3, 4
    cell = LSTMCell(D, H)
    tr = cell.forward(sequence(rng, T, D, B))
    want = (T, H) if B is None else (T, B, H)
    assert tr.T == T
    for name in ("f", "i", "c_tilde", "o", "c", "c_prime", "h", "F", "I", "c_prev"):
        assert getattr(tr, name).shape == want, name
    s = tr.at(-1)
    assert isinstance(s, Step)
    for name in STEP_FIELDS:
        assert np.array_equal(getattr(s, name), getattr(tr, name)[T - 1]), name
    with pytest.raises(IndexError, match="timestep 5 is outside a trace of T=5 steps"):
        tr.at(5)


def test_omitted_initial_states_are_zeros(rng):
    cell = randomized(LSTMCell(3, 2), rng)
    xs = sequence(rng, 4, 3, 2)
    a, b = cell.forward(xs), cell.forward(xs, np.zeros((2, 2)), np.zeros((2, 2)))
    assert np.array_equal(a.h, b.h) and np.array_equal(a.c, b.c)


def test_list_inputs_are_accepted(rng):
    cell = randomized(LSTMCell(2, 3), rng)
    xs = sequence(rng, 3, 2)
    assert np.array_equal(cell.forward(xs.tolist()).h, cell.forward(xs).h)


# --- backward against central finite differences -----------------------------------------------

def lstm_loss(cell, xs, h0, c0, dh, dc_last, pins):
    """L = Σ_t ⟨dh_t, h_t⟩ + ⟨dc_last, c_T⟩, whose gradient backward(trace, dh, dc_last) returns."""
    tr = cell.forward(xs, h0, c0, **pins)
    return float(np.sum(tr.h * dh) + np.sum(tr.c[-1] * dc_last))


def check_against_finite_differences(cell, rng, numgrad, rel_err, T, B, pins=(), with_dc=True):
    D, H = cell.D, cell.H
    xs, h0, c0 = sequence(rng, T, D, B, H)
    pins = dict(pins)
    tr = cell.forward(xs, h0, c0, **pins)
    dh = rng.normal(size=tr.h.shape)
    dc_last = rng.normal(size=tr.c[-1].shape) if with_dc else np.zeros(tr.c[-1].shape)
    grads = cell.backward(tr, dh, dc_last if with_dc else None)

    def loss():
        return lstm_loss(cell, xs, h0, c0, dh, dc_last, pins)

    targets = dict(cell.params) | {"x": xs, "h0": h0, "c0": c0}
    assert set(grads) == set(targets)
    for name, arr in targets.items():
        assert grads[name].shape == arr.shape, name
        # central differences in float64 reach ~1e-10 (see numgrad); 1e-6 is the bound
        assert rel_err(grads[name], numgrad(loss, arr)) <= 1e-6, name
    return grads


@pytest.mark.parametrize("B", [None, 1, 3])
def test_backward_matches_finite_differences(path, rng, numgrad, rel_err, B):
    cell = randomized(LSTMCell(3, 4), rng)
    check_against_finite_differences(cell, rng, numgrad, rel_err, T=5, B=B)


def test_backward_without_dc_last(rng, numgrad, rel_err):
    cell = randomized(LSTMCell(2, 3), rng)
    check_against_finite_differences(cell, rng, numgrad, rel_err, T=4, B=2, with_dc=False)


def test_backward_dc_last_alone(rng, numgrad, rel_err):
    """Only the final memory is scored: dh = 0, dc_last ≠ 0."""
    cell = randomized(LSTMCell(2, 3), rng)
    xs, h0, c0 = sequence(rng, 5, 2, 2, 3)
    tr = cell.forward(xs, h0, c0)
    dh, dc_last = np.zeros_like(tr.h), rng.normal(size=(2, 3))
    grads = cell.backward(tr, dh, dc_last)

    def loss():
        return lstm_loss(cell, xs, h0, c0, dh, dc_last, {})

    for name, arr in (dict(cell.params) | {"x": xs, "h0": h0, "c0": c0}).items():
        assert rel_err(grads[name], numgrad(loss, arr)) <= 1e-6, name


@pytest.mark.parametrize("pins", [
    {"f": 0.7},
    {"i": 0.0, "o": 1.0},
    {"f": 1.0, "i": 0.0},
    {"o": "per-step"},
])
@pytest.mark.parametrize("B", [None, 2])
def test_backward_with_pinned_gates(path, rng, numgrad, rel_err, pins, B):
    T, H = 4, 3
    if pins.get("o") == "per-step":
        pins = {"o": rng.uniform(size=(T, H) if B is None else (T, B, H))}
    cell = randomized(LSTMCell(2, H), rng)
    grads = check_against_finite_differences(cell, rng, numgrad, rel_err, T=T, B=B, pins=pins)
    for g in pins:  # a pinned gate does not depend on its weights: exactly zero, not merely small
        assert not grads[f"W_{g}"].any() and not grads[f"b_{g}"].any(), g


def test_backward_leaves_trace_and_params_alone(rng):
    cell = randomized(LSTMCell(3, 2), rng)
    xs = sequence(rng, 4, 3, 2)
    tr = cell.forward(xs)
    W, h = cell.W.copy(), tr.h.copy()
    dh = rng.normal(size=tr.h.shape)
    first = cell.backward(tr, dh)
    second = cell.backward(tr, dh)
    assert np.array_equal(cell.W, W) and np.array_equal(tr.h, h)
    for name in first:
        assert np.array_equal(first[name], second[name]), name


# --- against torch.nn.LSTM ----------------------------------------------------------------------

TORCH_ORDER = ("i", "f", "c", "o")  # torch stacks the gates i, f, g, o; our rows are f, i, c, o


def torch_lstm(cell):
    """A torch.nn.LSTM holding the cell's weights: weight_ih acts on x (our W[:, H:]), weight_hh on
    h (our W[:, :H]); our one bias goes to bias_ih and bias_hh is zero."""
    H, p = cell.H, cell.params
    lstm = torch.nn.LSTM(cell.D, H, dtype=torch.float64)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(np.concatenate([p[f"W_{g}"][:, H:] for g in TORCH_ORDER])))
        lstm.weight_hh_l0.copy_(torch.from_numpy(np.concatenate([p[f"W_{g}"][:, :H] for g in TORCH_ORDER])))
        lstm.bias_ih_l0.copy_(torch.from_numpy(np.concatenate([p[f"b_{g}"] for g in TORCH_ORDER])))
        lstm.bias_hh_l0.zero_()
    return lstm


def compare_with_torch(cell, xs, h0, c0, dh, dc_last):
    H = cell.H
    tr = cell.forward(xs, h0, c0)
    grads = cell.backward(tr, dh, dc_last)

    lstm = torch_lstm(cell)
    x_t, h0_t, c0_t = (torch.tensor(a, requires_grad=True) for a in (xs, h0, c0))
    out, (h_n, c_n) = lstm(x_t, (h0_t[None], c0_t[None]))  # torch wants (layers, [B,] H) states
    loss = (out * torch.from_numpy(dh)).sum() + (c_n[0] * torch.from_numpy(dc_last)).sum()
    loss.backward()

    # float64 on both sides, the same operations in a different order: agreement to ~1e-15;
    # 1e-10 is the bound
    tol = dict(rtol=0, atol=1e-10)
    np.testing.assert_allclose(tr.h, out.detach().numpy(), **tol)
    np.testing.assert_allclose(tr.h[-1], h_n[0].detach().numpy(), **tol)
    np.testing.assert_allclose(tr.c[-1], c_n[0].detach().numpy(), **tol)

    w_ih, w_hh = lstm.weight_ih_l0.grad.numpy(), lstm.weight_hh_l0.grad.numpy()
    b_ih, b_hh = lstm.bias_ih_l0.grad.numpy(), lstm.bias_hh_l0.grad.numpy()
    # both torch biases enter every gate as our one b does, so each gets exactly our db
    np.testing.assert_allclose(b_ih, b_hh, **tol)
    for k, g in enumerate(TORCH_ORDER):
        rows = slice(k * H, (k + 1) * H)
        np.testing.assert_allclose(grads[f"W_{g}"][:, :H], w_hh[rows], err_msg=f"W_{g} on h", **tol)
        np.testing.assert_allclose(grads[f"W_{g}"][:, H:], w_ih[rows], err_msg=f"W_{g} on x", **tol)
        np.testing.assert_allclose(grads[f"b_{g}"], b_ih[rows], err_msg=f"b_{g}", **tol)
        np.testing.assert_allclose(grads[f"b_{g}"], b_hh[rows], err_msg=f"b_{g}", **tol)
    np.testing.assert_allclose(grads["x"], x_t.grad.numpy(), **tol)
    np.testing.assert_allclose(grads["h0"], h0_t.grad.numpy(), **tol)
    np.testing.assert_allclose(grads["c0"], c0_t.grad.numpy(), **tol)


@pytest.mark.parametrize("B", [None, 1, 4])
def test_forward_and_gradients_match_torch(path, rng, B):
    cell = randomized(LSTMCell(3, 5, forget_bias=1.0), rng)
    xs, h0, c0 = sequence(rng, 7, 3, B, 5)
    dh = rng.normal(size=(7, 5) if B is None else (7, B, 5))
    compare_with_torch(cell, xs, h0, c0, dh, rng.normal(size=h0.shape))


def test_default_initialisation_matches_torch(rng):
    """Untouched weights (biases 0) and zero states, torch's defaults."""
    cell = LSTMCell(4, 3, seed=7)
    xs = sequence(rng, 5, 4, 2)
    compare_with_torch(cell, xs, np.zeros((2, 3)), np.zeros((2, 3)), rng.normal(size=(5, 2, 3)),
                       np.zeros((2, 3)))


# --- property tests over shapes, batches and dtypes -----------------------------------------------

shapes = st.fixed_dictionaries({
    "D": st.integers(1, 4), "H": st.integers(1, 4), "T": st.integers(1, 5),
    "B": st.one_of(st.none(), st.integers(1, 3)), "seed": st.integers(0, 2**32 - 1),
})
FAST = settings(max_examples=25, deadline=None)


@FAST
@given(s=shapes, dtype=st.sampled_from([np.float32, np.float64]))
def test_property_shapes_dtypes_and_ranges(s, dtype):
    rng = np.random.default_rng(s["seed"])
    cell = LSTMCell(s["D"], s["H"], seed=s["seed"], dtype=dtype)
    xs, h0, c0 = sequence(rng, s["T"], s["D"], s["B"], s["H"])
    tr = cell.forward(xs, h0, c0)
    want = (s["T"], s["H"]) if s["B"] is None else (s["T"], s["B"], s["H"])
    for name in ("f", "i", "c_tilde", "o", "c", "c_prime", "h", "F", "I"):
        arr = getattr(tr, name)
        assert arr.shape == want and arr.dtype == dtype, name
    for name in ("f", "i", "o"):
        assert ((getattr(tr, name) >= 0) & (getattr(tr, name) <= 1)).all(), name
    assert (np.abs(tr.h) <= 1).all() and (np.abs(tr.c_tilde) <= 1).all()
    step = cell.step(xs[0], h0, c0)
    assert all(getattr(step, n).dtype == dtype and getattr(step, n).shape == want[1:] for n in STEP_FIELDS)
    grads = cell.backward(tr, rng.normal(size=want))
    for name, p in cell.params.items():
        assert grads[name].shape == p.shape and grads[name].dtype == dtype, name
    assert grads["x"].shape == xs.shape and grads["x"].dtype == dtype
    assert grads["h0"].shape == h0.shape and grads["c0"].shape == c0.shape


@FAST
@given(s=shapes)
def test_property_float32_close_to_float64(s):
    rng = np.random.default_rng(s["seed"])
    c64 = LSTMCell(s["D"], s["H"], seed=s["seed"])
    c32 = LSTMCell(s["D"], s["H"], seed=s["seed"], dtype=np.float32)
    assert np.array_equal(c32.W, c64.W.astype(np.float32))
    xs, h0, c0 = sequence(rng, s["T"], s["D"], s["B"], s["H"])
    t64, t32 = c64.forward(xs, h0, c0), c32.forward(xs, h0, c0)
    # float32 keeps ~7 digits; a few roundings per step over T ≤ 5 steps of O(1) values stay < 1e-5
    np.testing.assert_allclose(t32.h, t64.h, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(t32.c, t64.c, rtol=1e-5, atol=1e-5)
    dh = rng.normal(size=t64.h.shape)
    g64, g32 = c64.backward(t64, dh), c32.backward(t32, dh)
    for name in g64:
        # gradients sum T·B terms of O(1): relative to their size, float32 rounding stays < 1e-4
        scale = max(1.0, float(np.abs(g64[name]).max()))
        np.testing.assert_allclose(g32[name], g64[name], rtol=0, atol=1e-4 * scale, err_msg=name)


@FAST
@given(s=shapes)
def test_property_step_equals_forward(s):
    rng = np.random.default_rng(s["seed"])
    cell = randomized(LSTMCell(s["D"], s["H"], seed=s["seed"]), rng)
    xs, h0, c0 = sequence(rng, s["T"], s["D"], s["B"], s["H"])
    tr = cell.forward(xs, h0, c0)
    for t, st_ in enumerate(run_steps(cell, xs, h0, c0)):
        for name in STEP_FIELDS:
            np.testing.assert_allclose(getattr(tr.at(t), name), getattr(st_, name), rtol=PATHS_RTOL,
                                       atol=PATHS_ATOL, err_msg=name)


@settings(max_examples=10, deadline=None)
@given(s=shapes)
def test_property_backward_matches_finite_differences(s, numgrad, rel_err):
    rng = np.random.default_rng(s["seed"])
    cell = randomized(LSTMCell(s["D"], s["H"], seed=s["seed"]), rng)
    check_against_finite_differences(cell, rng, numgrad, rel_err, T=s["T"], B=s["B"])


@settings(max_examples=10, deadline=None)
@given(s=shapes)
def test_property_matches_torch(s):
    rng = np.random.default_rng(s["seed"])
    cell = randomized(LSTMCell(s["D"], s["H"], seed=s["seed"]), rng)
    xs, h0, c0 = sequence(rng, s["T"], s["D"], s["B"], s["H"])
    compare_with_torch(cell, xs, h0, c0, rng.normal(size=xs.shape[:-1] + (s["H"],)),
                       rng.normal(size=h0.shape))


# --- initialisation and parameters ---------------------------------------------------------------

def test_initial_weights_fill_the_documented_interval():
    cell = LSTMCell(10, 50, seed=3)
    k = 1 / np.sqrt(50)
    W = cell.W
    assert W.shape == (200, 60)
    assert (W >= -k).all() and (W < k).all()
    # 12,000 uniform draws: the extremes come within 0.1% of the ends, the mean near 0
    assert W.min() < -0.999 * k and W.max() > 0.999 * k
    assert abs(W.mean()) < 0.02 * k
    for g in GATES:  # every gate's block is drawn, none left at zero
        assert np.abs(cell.params[f"W_{g}"]).mean() > 0.4 * k, g


@pytest.mark.parametrize("forget_bias", [0.0, 1.0, -2.5])
def test_forget_bias_goes_to_b_f_only(forget_bias):
    cell = LSTMCell(3, 4, forget_bias=forget_bias)
    p = cell.params
    assert np.array_equal(p["b_f"], np.full(4, forget_bias))
    for g in ("i", "c", "o"):
        assert np.array_equal(p[f"b_{g}"], np.zeros(4)), g
    assert np.array_equal(cell.W, LSTMCell(3, 4).W)  # the weights do not depend on it


def test_same_seed_same_params_and_generators_accepted():
    a, b, c = LSTMCell(3, 4, seed=11), LSTMCell(3, 4, seed=11), LSTMCell(3, 4, seed=12)
    assert np.array_equal(a.W, b.W) and not np.array_equal(a.W, c.W)
    g = LSTMCell(3, 4, seed=np.random.default_rng(11))
    assert np.array_equal(g.W, a.W)  # an int seed means default_rng(seed)
    shared = np.random.default_rng(5)
    first, second = LSTMCell(3, 4, seed=shared), LSTMCell(3, 4, seed=shared)
    assert not np.array_equal(first.W, second.W)  # a shared Generator moves on


def test_no_global_random_state_is_touched():
    np.random.seed(0)
    before = np.random.random()
    np.random.seed(0)
    LSTMCell(3, 4, seed=9)
    assert np.random.random() == before


@pytest.mark.parametrize("dtype", [np.float32, np.float64, "float32", np.dtype("float64")])
def test_dtype_is_respected(rng, dtype):
    cell = LSTMCell(3, 2, dtype=dtype)
    want = np.dtype(dtype)
    assert cell.dtype == want and cell.W.dtype == want and cell.b.dtype == want
    assert all(p.dtype == want for p in cell.params.values())
    tr = cell.forward(sequence(rng, 3, 3, 2))  # float64 inputs are cast to the cell's dtype
    assert tr.h.dtype == want and tr.c.dtype == want
    assert all(g.dtype == want for g in cell.backward(tr, np.ones((3, 2, 2))).values())


def test_params_are_views_into_the_fused_weights(rng):
    cell = LSTMCell(3, 2)
    p = cell.params
    assert set(p) == set(PARAM_NAMES)
    for g in GATES:
        assert p[f"W_{g}"].shape == (2, 5) and p[f"b_{g}"].shape == (2,)
        assert np.shares_memory(p[f"W_{g}"], cell.W) and np.shares_memory(p[f"b_{g}"], cell.b)
    assert cell.n_params == 4 * 2 * 5 + 4 * 2
    xs = sequence(rng, 4, 3)
    before = cell.forward(xs).h
    cell.params["W_o"][:] = 0.0
    cell.params["b_o"][:] = -1e4  # o = σ(-1e4) = 0 shuts the output
    assert np.array_equal(cell.W[6:8], np.zeros((2, 5)))
    after = cell.forward(xs).h
    assert before.any() and np.array_equal(after, np.zeros_like(after))


def test_repr_names_the_sizes():
    assert repr(LSTMCell(3, 2, dtype=np.float32)) == "LSTMCell(input_size=3, hidden_size=2, dtype=float32)"


def test_float32_stays_float32_in_both_layouts(path, rng, rel_err):
    """Every array a float32 cell hands out is float32, in either layout of forward and backward
    and in a step with gates set by hand (from float64 values); and close to the float64 cell."""
    D, H, B, T = 3, 4, 2, 5
    c64 = randomized(LSTMCell(D, H), rng)
    c32 = LSTMCell(D, H, dtype=np.float32)
    c32.W, c32.b = c64.W, c64.b
    xs, h0, c0 = sequence(rng, T, D, B, H)
    dh, dc = rng.normal(size=(T, B, H)), rng.normal(size=(B, H))
    t32, t64 = c32.forward(xs, h0, c0), c64.forward(xs, h0, c0)
    assert t32.layout == path
    for name in ("gates", "h", "c", "c_prime", "h0", "c0"):
        assert getattr(t32, name).dtype == np.float32, name
        assert rel_err(getattr(t32, name), getattr(t64, name)) <= 1e-5, name
    g32, g64 = c32.backward(t32, dh, dc), c64.backward(t64, dh, dc)
    for name, g in g32.items():
        assert g.dtype == np.float32, name
        assert rel_err(g, g64[name]) <= 1e-4, name
    s = c32.step(xs[0], h0, c0, f=0.5, i=np.full((B, H), 0.25), o=np.float64(1.0))
    assert {getattr(s, name).dtype for name in STEP_FIELDS} == {np.dtype(np.float32)}
    np.testing.assert_array_equal(s.i, np.full((B, H), 0.25, dtype=np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_feature_layout_takes_candidate_weights_up_to_half_the_largest_float(
        monkeypatch, rng, dtype):
    """The feature layout doubles the c̃ rows: a c̃ weight or bias of exactly half the largest
    float still fits (it doubles to the largest), one a step above it sends forward to the
    batch layout. Both layouts give the same values: c̃ = tanh(bias) = 1, and a weight on an
    input that stays 0 changes nothing."""
    monkeypatch.setattr(cell_module, "FEATURE_MAJOR_MIN", 0)
    D, H = 2, 3
    half = np.finfo(dtype).max / dtype(2)
    above = np.nextafter(half, dtype(np.inf))
    xs = sequence(rng, 4, D, 2)
    xs[:, :, 0] = 0.0  # what W_c[0, H] multiplies
    without = LSTMCell(D, H, dtype=dtype).forward(xs)
    for name, at in (("b_c", (0,)), ("W_c", (0, H))):
        cell = LSTMCell(D, H, dtype=dtype)
        for value, layout in ((half, "feature"), (above, "batch")):
            cell.params[name][at] = value
            tr = cell.forward(xs)
            assert tr.layout == layout, (name, value)
            if name == "b_c":
                np.testing.assert_array_equal(tr.c_tilde[:, :, 0], 1.0)
            else:
                np.testing.assert_allclose(tr.h, without.h, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_traces_memory_is_exactly_F_plus_I_and_h_exactly_o_times_c_prime(path, rng, dtype):
    """The book adds the trace's F_t and I_t to get c_t, and multiplies o_t by c'_t to get h_t:
    forward computes them in the cell's dtype, so the sums and products agree bit for bit."""
    D, H, B, T = 3, 4, 2, 5
    cell = LSTMCell(D, H, dtype=dtype)
    cell.W = randomized(LSTMCell(D, H), rng).W
    tr = cell.forward(*sequence(rng, T, D, B, H))
    assert tr.layout == path and tr.F.dtype == tr.I.dtype == dtype
    assert np.array_equal(tr.c, tr.F + tr.I)
    assert np.array_equal(tr.h, tr.o * tr.c_prime)


# --- what a trace keeps, and the checks around forward and backward ------------------------------

def test_the_default_seed_is_zero():
    assert np.array_equal(LSTMCell(3, 4).W, LSTMCell(3, 4, seed=0).W)
    assert not np.array_equal(LSTMCell(3, 4).W, LSTMCell(3, 4, seed=1).W)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_negative_zero_forget_bias_gives_b_f_of_plus_zero(dtype):
    """forget_bias is added to the zero biases: -0.0 leaves them +0.0, as every other bias."""
    b = LSTMCell(3, 4, forget_bias=-0.0, dtype=dtype).b
    assert not np.signbit(b).any()


def test_a_trace_keeps_the_given_initial_states(path, rng):
    D, H, B, T = 3, 4, 2, 5
    cell = randomized(LSTMCell(D, H), rng)
    xs, h0, c0 = sequence(rng, T, D, B, H)
    tr = cell.forward(xs, h0, c0)
    assert tr.layout == path
    assert np.array_equal(tr.h0, h0) and np.array_equal(tr.c0, c0)
    assert np.array_equal(tr.at(0).c, tr.c[0]) and np.array_equal(tr.c_prev[0], c0)


def test_a_traces_arrays_are_views_of_its_stores(path, rng):
    """h0, h_all and c0, c_all are views of the stored h_0..h_T and c_0..c_T (documented on
    Trace.store): one copy of each, read-only."""
    D, H, B, T = 3, 4, 2, 5
    tr = LSTMCell(D, H).forward(*sequence(rng, T, D, B, H))
    assert tr.layout == path
    Hs, Cs = tr.store
    for a, owner in ((tr.h0, Hs), (tr.h_all, Hs), (tr.c0, Cs), (tr.c_all, Cs)):
        assert np.shares_memory(a, owner)
    for name in ("xs", "h0", "c0", "gates", "c_all", "cp_all", "h_all"):
        a = getattr(tr, name)
        assert not a.flags.writeable, name
        with pytest.raises(ValueError):
            a.flags.writeable = True


def test_a_trace_holds_each_array_once(path):
    """A trace's memory is that of xs, the gates, h_0..h_T, c_0..c_T and c'_1..c'_T, nothing
    copied twice (a few kB of Python objects aside); and forward never copies one of them on
    the way, not even for a while (xs and c'_1..c'_T are 400 kB each, the gates 1.6 MB)."""
    T, B, D, H = 200, 4, 64, 64
    xs = np.random.default_rng(0).normal(size=(T, B, D))
    cell = LSTMCell(D, H)
    cell.forward(xs)  # the weights as the fused pass uses them are made once, before measuring
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tr = cell.forward(xs)
        used, peak = (m - before for m in tracemalloc.get_traced_memory())
    finally:
        tracemalloc.stop()
    assert tr.layout == path
    arrays = 8 * (T * B * D + T * B * 4 * H + 2 * (T + 1) * B * H + T * B * H)
    assert arrays <= used <= arrays + 8192
    assert peak <= arrays + 200_000


def test_backward_runs_the_pass_of_the_traces_layout(path, rng, monkeypatch):
    """forward picks the layout, and backward runs the pass written for it."""
    ran = []
    for layout in ("batch", "feature"):
        name = f"_backward_{layout}"
        original = getattr(LSTMCell, name)

        def spy(self, *args, _original=original, _layout=layout):
            ran.append(_layout)
            return _original(self, *args)
        monkeypatch.setattr(LSTMCell, name, spy)
    D, H, B, T = 3, 4, 2, 5
    cell = LSTMCell(D, H)
    tr = cell.forward(*sequence(rng, T, D, B, H))
    cell.backward(tr, np.ones((T, B, H)))
    assert ran == [path] == [tr.layout]


@pytest.mark.parametrize("state", ["h0", "c0"])
def test_a_float32_cell_refuses_an_initial_state_too_large_for_float32(rng, state):
    cell = LSTMCell(3, 2, dtype=np.float32)
    states = {"h0": np.zeros(2), "c0": np.zeros(2)}
    states[state][1] = 1e39
    with pytest.raises(NonFiniteError, match="^" + re.escape(
            f"{state} holds 1e+39 at index (1,), too large for float32 (largest finite value "
            "3.40282e+38)")):
        cell.forward(sequence(rng, 4, 3), **states)


def test_a_float32_cell_refuses_a_dc_last_too_large_for_float32(path, rng):
    cell = LSTMCell(3, 2, dtype=np.float32)
    tr = cell.forward(sequence(rng, 4, 3, 2))
    dc = np.zeros((2, 2))
    dc[0, 1] = 1e39
    with pytest.raises(NonFiniteError, match="^" + re.escape(
            "dc_last holds 1e+39 at index (0, 1), too large for float32 (largest finite value "
            "3.40282e+38)")):
        cell.backward(tr, np.zeros((4, 2, 2)), dc)


def _overflow_message(name, found, at):
    return "^" + re.escape(f"backward: the gradient of {name} overflowed float64 (found {found} "
                           f"at index {at}); the inputs or weights are too large for this dtype")


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_backward_names_a_bias_gradient_that_overflows(path):
    """Sixteen rows of huge dh each give a finite ∂L/∂z of about 1e307 (and finite weight
    gradients: x and h0 are small or zero); their sum over the batch, ∂L/∂b, overflows (first
    in the b_i block: b_f gets none, c_0 being zero)."""
    B, H, D = 16, 1, 1
    cell = LSTMCell(D, H)
    cell.W = np.full((4, 2), 0.01)
    cell.b = np.array([0.0, 0.0, 1.0, 0.0])  # c̃ ≈ 0.76, so c' and o⊗(1-o)⊗c' are not small
    tr = cell.forward(np.full((1, B, D), 0.1))
    with pytest.raises(NonFiniteError, match=_overflow_message("b", "inf", "(1,)")):
        cell.backward(tr, np.full((1, B, H), 1.7e308))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_backward_names_an_input_gradient_that_overflows(path):
    """A huge input weight on an input that is zero changes nothing forward, and every other
    gradient stays finite (x = 0, h0 = 0); ∂L/∂x = W_x^T ∂L/∂z overflows."""
    cell = LSTMCell(1, 1)
    cell.W = np.array([[0.1, 1e308], [0.1, 1e308], [0.1, 0.5], [0.1, 1e308]])
    cell.b = np.array([0.0, 0.0, 1.0, 0.0])
    tr = cell.forward(np.zeros((1, 2, 1)))
    with pytest.raises(NonFiniteError, match=_overflow_message("x", "inf", "(0, 0, 0)")):
        cell.backward(tr, np.full((1, 2, 1), 100.0))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_backward_names_an_initial_state_gradient_that_overflows(path):
    """As for x, with a huge recurrent weight and h0 = 0: ∂L/∂h0 = W_h^T ∂L/∂z overflows."""
    cell = LSTMCell(1, 1)
    cell.W = np.array([[1e308, 0.1], [1e308, 0.1], [0.5, 0.1], [1e308, 0.1]])
    cell.b = np.array([0.0, 0.0, 1.0, 0.0])
    tr = cell.forward(np.full((1, 2, 1), 0.3))
    with pytest.raises(NonFiniteError, match=_overflow_message("h0", "inf", "(0, 0)")):
        cell.backward(tr, np.full((1, 2, 1), 100.0))
