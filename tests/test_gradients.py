"""The cell-state path: ∂c_T/∂c_0 = ∏ f_t when nothing else connects c_0 to c_T."""

import numpy as np
import pytest

from lstmlib import LSTMCell


@pytest.mark.parametrize("T, B, H, forget_bias", [(1, 1, 1, 0.0), (10, 3, 4, 1.0), (200, 2, 5, 3.0)])
def test_cell_state_gradient_is_the_product_of_forget_gates(rng, T, B, H, forget_bias):
    # i = 0 writes nothing and o = 0 keeps h at 0, so f_t depends on x_t only and c_t = f_t c_{t-1}
    cell = LSTMCell(3, H, seed=rng, forget_bias=forget_bias)
    xs = rng.normal(size=(T, B, 3))
    c0 = rng.normal(size=(B, H))
    trace = cell.forward(xs, c0=c0, i=0.0, o=0.0)
    assert not trace.h.any()
    dc_last = rng.normal(size=(B, H))
    grads = cell.backward(trace, np.zeros_like(trace.h), dc_last=dc_last)
    prod_f = np.prod(trace.f, axis=0)  # (B, H)
    # the same products in another order: equal to a few ulps per factor
    np.testing.assert_allclose(grads["c0"], dc_last * prod_f, rtol=1e-13 * T, atol=0)
    np.testing.assert_allclose(trace.c[-1], c0 * prod_f, rtol=1e-13 * T, atol=0)


def test_a_real_cell_adds_other_paths(rng):
    # with every gate free, c_0 also reaches c_T through h and the gates: the Jacobian is not diagonal
    H, T = 4, 6
    cell = LSTMCell(2, H, seed=rng, forget_bias=1.0)
    xs = np.broadcast_to(rng.normal(size=(T, 1, 2)), (T, H, 2))  # one sequence, copied H times
    c0 = np.broadcast_to(rng.normal(size=H), (H, H))
    trace = cell.forward(xs, c0=c0)
    J = cell.backward(trace, np.zeros_like(trace.h), dc_last=np.eye(H))["c0"]  # J[k, j] = ∂c_T,k/∂c_0,j
    prod_f = np.prod(trace.f[:, 0], axis=0)
    assert np.abs(J - np.diag(np.diag(J))).max() > 1e-6
    assert not np.allclose(np.diag(J), prod_f, rtol=1e-6)
