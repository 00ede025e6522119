"""The vanilla RNN cell: its one equation by hand, step against forward, backward against finite
differences and against torch.nn.RNN."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lstmlib import RNNCell, rnn_hidden


def randomized(cell, rng, scale=0.5):
    for p in cell.params.values():
        p[:] = rng.normal(scale=scale, size=p.shape)
    return cell


def sequence(rng, T, D, B, H):
    lead = (T,) if B is None else (T, B)
    return rng.normal(size=lead + (D,)), rng.normal(size=lead[1:] + (H,))


def test_equation_by_hand():
    cell = RNNCell(1, 2)
    W = [[0.5, -0.3, 0.8], [0.1, 0.2, -0.4]]  # columns: h_1, h_2, x
    b = [0.1, -0.2]
    cell.params["W_h"][:] = W
    cell.params["b_h"][:] = b
    x, h_prev = [0.7], [0.2, -0.5]
    z = h_prev + x  # h first
    expected = [math.tanh(sum(W[r][k] * z[k] for k in range(3)) + b[r]) for r in range(2)]
    h = cell.step(np.array(x), np.array(h_prev)).h
    # the same formula summed in another order: a few ulps
    np.testing.assert_allclose(h, expected, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(rnn_hidden(np.array([z]), np.array(W), np.array(b))[0], expected,
                               rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("B", [None, 1, 3])
def test_step_equals_forward(rng, B):
    cell = randomized(RNNCell(3, 4), rng)
    xs, h0 = sequence(rng, 6, 3, B, 4)
    tr = cell.forward(xs, h0)
    h = h0
    for t in range(6):
        h = cell.step(xs[t], h).h
        # the fused path splits W·[h, x] into two products: rounding-level differences only
        np.testing.assert_allclose(tr.h[t], h, rtol=1e-12, atol=1e-14, err_msg=f"t={t}")
    assert tr.T == 6 and tr.h.shape == xs.shape[:-1] + (4,)


def test_omitted_state_is_zeros(rng):
    cell = randomized(RNNCell(2, 3), rng)
    xs, _ = sequence(rng, 4, 2, 2, 3)
    assert np.array_equal(cell.forward(xs).h, cell.forward(xs, np.zeros((2, 3))).h)
    assert np.array_equal(cell.step(xs[0]).h, cell.step(xs[0], np.zeros((2, 3))).h)


def rnn_loss(cell, xs, h0, dh):
    return float(np.sum(cell.forward(xs, h0).h * dh))


@pytest.mark.parametrize("B", [None, 1, 3])
def test_backward_matches_finite_differences(rng, numgrad, rel_err, B):
    cell = randomized(RNNCell(3, 4), rng)
    xs, h0 = sequence(rng, 5, 3, B, 4)
    tr = cell.forward(xs, h0)
    dh = rng.normal(size=tr.h.shape)
    grads = cell.backward(tr, dh)
    targets = dict(cell.params) | {"x": xs, "h0": h0}
    assert set(grads) == set(targets)
    for name, arr in targets.items():
        assert grads[name].shape == arr.shape, name
        num = numgrad(lambda: rnn_loss(cell, xs, h0, dh), arr)
        assert rel_err(grads[name], num) <= 1e-6, name  # float64 central differences reach ~1e-10


def torch_rnn(cell):
    """A torch.nn.RNN (tanh) holding the cell's weights: weight_ih = W_h[:, H:] acts on x,
    weight_hh = W_h[:, :H] on h; b_h goes to bias_ih and bias_hh is zero."""
    H = cell.H
    rnn = torch.nn.RNN(cell.D, H, nonlinearity="tanh", dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(cell.W[:, H:]))
        rnn.weight_hh_l0.copy_(torch.from_numpy(cell.W[:, :H]))
        rnn.bias_ih_l0.copy_(torch.from_numpy(cell.b))
        rnn.bias_hh_l0.zero_()
    return rnn


def compare_with_torch(cell, xs, h0, dh):
    H = cell.H
    tr = cell.forward(xs, h0)
    grads = cell.backward(tr, dh)
    rnn = torch_rnn(cell)
    x_t, h0_t = torch.tensor(xs, requires_grad=True), torch.tensor(h0, requires_grad=True)
    out, h_n = rnn(x_t, h0_t[None])
    (out * torch.from_numpy(dh)).sum().backward()
    tol = dict(rtol=0, atol=1e-10)  # float64 both sides, same operations reordered: ~1e-15 in fact
    np.testing.assert_allclose(tr.h, out.detach().numpy(), **tol)
    np.testing.assert_allclose(tr.h[-1], h_n[0].detach().numpy(), **tol)
    np.testing.assert_allclose(grads["W_h"][:, :H], rnn.weight_hh_l0.grad.numpy(), **tol)
    np.testing.assert_allclose(grads["W_h"][:, H:], rnn.weight_ih_l0.grad.numpy(), **tol)
    # both torch biases enter as our one b_h does: each gets our gradient
    np.testing.assert_allclose(grads["b_h"], rnn.bias_ih_l0.grad.numpy(), **tol)
    np.testing.assert_allclose(grads["b_h"], rnn.bias_hh_l0.grad.numpy(), **tol)
    np.testing.assert_allclose(grads["x"], x_t.grad.numpy(), **tol)
    np.testing.assert_allclose(grads["h0"], h0_t.grad.numpy(), **tol)


@pytest.mark.parametrize("B", [None, 1, 4])
def test_forward_and_gradients_match_torch(rng, B):
    cell = randomized(RNNCell(3, 5), rng)
    xs, h0 = sequence(rng, 7, 3, B, 5)
    compare_with_torch(cell, xs, h0, rng.normal(size=xs.shape[:-1] + (5,)))


shapes = st.fixed_dictionaries({
    "D": st.integers(1, 4), "H": st.integers(1, 4), "T": st.integers(1, 5),
    "B": st.one_of(st.none(), st.integers(1, 3)), "seed": st.integers(0, 2**32 - 1),
})


@settings(max_examples=20, deadline=None)
@given(s=shapes)
def test_property_dtypes_and_float32_close_to_float64(s):
    rng = np.random.default_rng(s["seed"])
    c64 = RNNCell(s["D"], s["H"], seed=s["seed"])
    c32 = RNNCell(s["D"], s["H"], seed=s["seed"], dtype=np.float32)
    xs, h0 = sequence(rng, s["T"], s["D"], s["B"], s["H"])
    t64, t32 = c64.forward(xs, h0), c32.forward(xs, h0)
    assert t32.h.dtype == np.float32 and t64.h.dtype == np.float64
    assert t64.h.shape == xs.shape[:-1] + (s["H"],)
    assert (np.abs(t64.h) <= 1).all()
    # float32 keeps ~7 digits; T ≤ 5 steps of O(1) values stay well inside 1e-5
    np.testing.assert_allclose(t32.h, t64.h, rtol=1e-5, atol=1e-5)
    dh = rng.normal(size=t64.h.shape)
    g64, g32 = c64.backward(t64, dh), c32.backward(t32, dh)
    for name in g64:
        assert g32[name].dtype == np.float32 and g32[name].shape == g64[name].shape, name
        scale = max(1.0, float(np.abs(g64[name]).max()))
        np.testing.assert_allclose(g32[name], g64[name], rtol=0, atol=1e-4 * scale, err_msg=name)


@settings(max_examples=10, deadline=None)
@given(s=shapes)
def test_property_matches_torch(s):
    rng = np.random.default_rng(s["seed"])
    cell = randomized(RNNCell(s["D"], s["H"], seed=s["seed"]), rng)
    xs, h0 = sequence(rng, s["T"], s["D"], s["B"], s["H"])
    compare_with_torch(cell, xs, h0, rng.normal(size=xs.shape[:-1] + (s["H"],)))


def test_initialisation():
    cell = RNNCell(10, 50, seed=3)
    k = 1 / np.sqrt(50)
    assert cell.W.shape == (50, 60) and cell.b.shape == (50,)
    assert (cell.W >= -k).all() and (cell.W < k).all()
    assert cell.W.min() < -0.99 * k and cell.W.max() > 0.99 * k  # 3,000 uniform draws
    assert not cell.b.any()
    assert np.array_equal(RNNCell(3, 4, seed=1).W, RNNCell(3, 4, seed=np.random.default_rng(1)).W)
    assert not np.array_equal(RNNCell(3, 4, seed=1).W, RNNCell(3, 4, seed=2).W)
    c32 = RNNCell(3, 4, dtype=np.float32)
    assert c32.W.dtype == np.float32 and c32.b.dtype == np.float32
    assert repr(c32) == "RNNCell(input_size=3, hidden_size=4, dtype=float32)"
    assert c32.n_params == 4 * 7 + 4


def test_params_are_the_cells_arrays(rng):
    cell = randomized(RNNCell(2, 3), rng)
    xs, _ = sequence(rng, 3, 2, None, 3)
    before = cell.forward(xs).h
    cell.params["W_h"][:] = 0.0
    cell.params["b_h"][:] = 0.25
    assert before.any()
    np.testing.assert_array_equal(cell.forward(xs).h, np.full((3, 3), np.tanh(0.25)))
