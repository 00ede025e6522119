"""No silent wrong answer (issue 13): what a trace hands out cannot be made writable again, a
copied or edited trace is refused by backward, both fused layouts agree on which weights they
take, and the training and character-model helpers refuse what they cannot compute."""

import copy
import dataclasses
import pickle
import re

import numpy as np
import pytest

from lstmlib import LSTMCell, RNNCell
from lstmlib.cell import FEATURE_MAJOR_MIN

D, H = 2, 3
B_FEATURE = FEATURE_MAJOR_MIN // H + 1  # B·H at or above the bound: the "feature" layout


def _lstm_trace(B=None, T=4, seed=0):
    cell = LSTMCell(D, H, seed=seed)
    shape = (T, D) if B is None else (T, B, D)
    xs = np.random.default_rng(1).normal(size=shape)
    return cell, cell.forward(xs)


def _rnn_trace(B=None, T=4):
    cell = RNNCell(D, H, seed=0)
    shape = (T, D) if B is None else (T, B, D)
    return cell, cell.forward(np.random.default_rng(1).normal(size=shape))


LSTM_NAMES = ["xs", "h0", "c0", "gates", "c_all", "cp_all", "h_all", "f", "i", "c_tilde", "o",
              "c", "c_prime", "h", "c_prev", "F", "I"]
STEP_NAMES = ["f", "F", "i", "c_tilde", "I", "c", "o", "c_prime", "h"]


def _lstm_arrays(trace):
    out = {name: getattr(trace, name) for name in LSTM_NAMES}
    out.update({f"store[{k}]": a for k, a in enumerate(trace.store)})
    for t in (0, -1):
        out.update({f"at({t}).{name}": getattr(trace.at(t), name) for name in STEP_NAMES})
    return out


def _cannot_be_made_writable(name, a):
    assert not a.flags.writeable, f"{name} is writable"
    with pytest.raises(ValueError, match="cannot set WRITEABLE flag"):
        a.flags.writeable = True
    with pytest.raises(ValueError, match="read-only"):
        a[(0,) * a.ndim] = 1.0


# --- 1. every array a trace or a step hands out stays read-only ----------------------------------

@pytest.mark.parametrize("B", [None, 2, B_FEATURE], ids=["unbatched", "batch", "feature"])
def test_trace_arrays_cannot_be_made_writable(B):
    _, tr = _lstm_trace(B)
    for name, a in _lstm_arrays(tr).items():
        _cannot_be_made_writable(name, a)


@pytest.mark.parametrize("batched", [False, True])
def test_step_arrays_cannot_be_made_writable(batched):
    cell = LSTMCell(D, H)
    x = np.ones((2, D)) if batched else np.ones(D)
    s = cell.step(x, f=0.5)
    for name in STEP_NAMES:
        _cannot_be_made_writable(name, getattr(s, name))


@pytest.mark.parametrize("batched", [False, True])
def test_rnn_arrays_cannot_be_made_writable(batched):
    cell, tr = _rnn_trace(2 if batched else None)
    for name in ("xs", "h0", "h_all", "h"):
        _cannot_be_made_writable(name, getattr(tr, name))
    s = cell.step(np.ones((2, D)) if batched else np.ones(D))
    _cannot_be_made_writable("step h", s.h)


def test_a_trace_built_by_hand_makes_its_arrays_read_only():
    a = np.zeros((1, 1, 1))
    from lstmlib import RNNTrace

    tr = RNNTrace(xs=a, h0=np.zeros((1, 1)), h_all=np.zeros((1, 1, 1)))
    _cannot_be_made_writable("xs", tr.xs)


# --- 2. and 3. backward takes only the very trace its own forward made ---------------------------

COPIES = {
    "deepcopy": lambda pair: copy.deepcopy(pair),
    "pickle": lambda pair: pickle.loads(pickle.dumps(pair)),
}


@pytest.mark.parametrize("how", COPIES)
@pytest.mark.parametrize("kind", ["lstm", "rnn"])
def test_a_copied_cell_refuses_the_copied_trace(kind, how):
    cell, tr = _lstm_trace(2) if kind == "lstm" else _rnn_trace(2)
    dh = np.ones(tr.h.shape)
    cell2, tr2 = COPIES[how]((cell, tr))
    with pytest.raises(ValueError, match="not made by this .*Cell's forward"):
        cell2.backward(tr2, dh)
    for name in ("xs", "h_all"):  # and the copy's arrays are read-only too
        _cannot_be_made_writable(f"copied {name}", getattr(tr2, name))
    # the original pair still works, and the copied cell works with its own traces
    cell.backward(tr, dh)
    cell2.backward(cell2.forward(np.asarray(tr.xs)), dh)


def test_backward_refuses_a_trace_edited_with_dataclasses_replace():
    cell, tr = _lstm_trace(2)
    dh = np.ones(tr.h.shape)
    forged = dataclasses.replace(tr, pinned=frozenset({"f"}))
    with pytest.raises(ValueError, match="not made by this LSTMCell's forward"):
        cell.backward(forged, dh)
    forged = dataclasses.replace(tr, xs=np.zeros_like(tr.xs))
    with pytest.raises(ValueError, match="not made by this LSTMCell's forward"):
        cell.backward(forged, dh)
    rcell, rtr = _rnn_trace(2)
    forged = dataclasses.replace(rtr, h_all=np.zeros_like(rtr.h_all))
    with pytest.raises(ValueError, match="not made by this RNNCell's forward"):
        rcell.backward(forged, np.ones(rtr.h.shape))
    cell.backward(tr, dh)  # the original is still taken


def test_a_pickled_cell_keeps_working():
    cell, tr = _lstm_trace(2)
    again = pickle.loads(pickle.dumps(cell))
    np.testing.assert_array_equal(again.W, cell.W)
    tr2 = again.forward(np.asarray(tr.xs))
    np.testing.assert_array_equal(tr2.h, tr.h)
    again.backward(tr2, np.ones(tr.h.shape))


# --- 4. the fused layouts and weights above half the largest float ------------------------------
# The "feature" layout computes c̃ = 2σ(2z) − 1 with the c̃ rows doubled in advance; a weight above
# half the dtype's largest float overflows there. It used to give c̃ = 1.0 where tanh(z) = 0.798
# (a silent wrong answer) or a NaN; now it is refused by name. The "batch" layout never doubles a
# weight and computes these weights right (an existing test relies on it taking them).

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_feature_layout_refuses_weights_it_cannot_double(dtype):
    big = float(np.finfo(dtype).max) * 0.6
    tiny = float(np.finfo(dtype).tiny) * 8     # big · tiny ≈ 1: a finite, unsaturated z
    cell = LSTMCell(D, H, dtype=dtype)
    cell.params["W_c"][0, H] = big             # the weight of x_0 in c̃'s first unit
    x = np.array([tiny, 0.5])
    want = np.tanh(big * tiny + float(cell.params["W_c"][0, H + 1]) * 0.5)
    np.testing.assert_allclose(cell.step(x).c_tilde[0], want, rtol=1e-6)
    np.testing.assert_allclose(cell.forward(np.tile(x, (1, 2, 1))).c_tilde[0, :, 0], want,
                               rtol=1e-6)                                   # the batch layout
    limit = f"{float(np.finfo(dtype).max) / 2:.6g}"
    with pytest.raises(ValueError, match=re.escape(
            f"LSTMCell.W holds {float(cell.W[2 * H, H])!r} at index ({2 * H}, {H}) "
            f"(params['W_c'][0, {H}]), more than half the largest {np.dtype(dtype).name} "
            f"({limit}): forward() on a batch with B·H >= {FEATURE_MAJOR_MIN}")):
        cell.forward(np.tile(x, (1, B_FEATURE, 1)))
    cell.params["W_c"][0, H] = 0.0
    cell.b[2 * H] = big                        # the bias of the c̃ rows too
    with pytest.raises(ValueError, match=re.escape(f"LSTMCell.b holds {float(cell.b[2 * H])!r}")):
        cell.forward(np.tile(x, (1, B_FEATURE, 1)))
    cell.b[2 * H] = 0.0
    cell.params["W_f"][0, 0] = big             # the f, i, o rows are only negated: taken
    assert np.isfinite(cell.forward(np.tile(x, (1, B_FEATURE, 1))).h).all()
