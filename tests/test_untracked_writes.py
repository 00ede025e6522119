"""Writes into a cell's weights that its tracked views cannot see (numpy functions that write
through a plain view or take the target as a keyword) still count: forward uses the new weights
and backward refuses a trace made before them."""

import numpy as np
import pytest

from lstmlib import LSTMCell, RNNCell
from lstmlib.checks import NonFiniteError


def _flat_write(cell):
    cell.W.flat[0] = 5.0


def _copyto_keyword(cell):
    np.copyto(dst=cell.W, src=np.zeros(cell.W.shape))


def _ravel_view(cell):
    np.ravel(cell.b)[0] = 3.0


def _shuffle(cell):
    np.random.default_rng(0).shuffle(cell.W)


def _positional_out(cell):
    np.clip(cell.W, -0.01, 0.01, cell.W)


WRITES = [_flat_write, _copyto_keyword, _ravel_view, _shuffle, _positional_out]


def _last_h_by_steps(cell, xs):
    h = c = None
    for x in xs:
        if isinstance(cell, LSTMCell):
            s = cell.step(x, h, c)
            h, c = s.h, s.c
        else:
            h = cell.step(x, h).h
    return h


@pytest.mark.parametrize("write", WRITES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("make", [lambda: LSTMCell(2, 3, seed=0), lambda: RNNCell(2, 3, seed=0)],
                         ids=["lstm", "rnn"])
@pytest.mark.parametrize("B", [1, 700])  # both layouts of the fused LSTM passes
def test_forward_sees_the_write_and_backward_refuses_the_old_trace(make, write, B):
    cell = make()
    xs = np.random.default_rng(1).normal(size=(4, B, 2))
    old = cell.forward(xs)
    write(cell)
    new = cell.forward(xs)
    np.testing.assert_allclose(new.h[-1][0], _last_h_by_steps(cell, xs[:, 0]), rtol=1e-12)
    with pytest.raises(ValueError, match="weights changed after forward"):
        cell.backward(old, np.ones_like(old.h))
    cell.backward(new, np.ones_like(new.h))  # the trace of the weights as they are is accepted


def test_a_nan_written_through_a_plain_view_is_refused():
    cell = LSTMCell(1, 1, seed=0)
    xs = np.ones((2, 1))
    cell.forward(xs)
    np.ravel(cell.b)[0] = np.nan
    with pytest.raises(NonFiniteError, match="must be finite"):
        cell.forward(xs)


@pytest.mark.parametrize("name", ["W", "b"])
def test_a_write_to_the_last_row_of_large_weights_is_seen(name):
    # 4H = 160 rows: the weights are compared 64 rows at a time, and the last block counts too
    cell = LSTMCell(1, 40, seed=0)
    xs = np.ones((2, 1))
    old = cell.forward(xs)
    np.asarray(getattr(cell, name))[-1, ...] += 1.0
    with pytest.raises(ValueError, match="weights changed after forward"):
        cell.backward(old, np.ones_like(old.h))
    new = cell.forward(xs)
    cell.backward(new, np.ones_like(new.h))
