"""No silent wrong answer (issue 13): what a trace hands out cannot be made writable again, a
copied or edited trace is refused by backward, both fused layouts agree on which weights they
take, and the training and character-model helpers refuse what they cannot compute."""

import copy
import dataclasses
import pickle
import re
from functools import partial

import numpy as np
import pytest

from lstmlib import LSTMCell, RNNCell
from lstmlib.cell import FEATURE_MAJOR_MIN
from lstmlib.tasks import adding_problem
from lstmlib.train import SGD, Adam, Regressor, TrainConfig, clip_grad_norm, mse_loss, train

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


# --- 5. the training helpers -------------------------------------------------------------------


def test_adam_refuses_an_eps_that_rounds_to_zero_in_the_parameters_dtype():
    params = {"w": np.zeros(3, dtype=np.float32)}
    grads = {"w": np.zeros(3, dtype=np.float32)}   # v = 0: the update is m / (0 + eps)
    with pytest.raises(ValueError, match=re.escape(
            "Adam's eps = 1e-50 rounds to 0 in float32 (the dtype of parameter 'w')")):
        Adam(eps=1e-50).step(params, grads)
    assert not params["w"].any()
    Adam(eps=1e-50).step({"w": np.zeros(3)}, {"w": np.zeros(3)})  # fine in float64


@pytest.mark.parametrize("make", [lambda: SGD(0.1), lambda: Adam(0.1)], ids=["sgd", "adam"])
def test_an_optimizer_writes_every_parameter_or_none(make):
    a = np.zeros(2)
    b = np.zeros(2)
    b.flags.writeable = False
    opt = make()
    with pytest.raises(ValueError, match=re.escape("parameter 'b' is read-only")):
        opt.step({"a": a, "b": b}, {"a": np.ones(2), "b": np.ones(2)})
    assert not a.any(), "a was written although b could not be"
    if isinstance(opt, Adam):
        assert opt.t == 0 and not opt.m


@pytest.mark.parametrize("make", [lambda: SGD(0.1), lambda: Adam(0.1)], ids=["sgd", "adam"])
def test_optimizers_refuse_integer_parameters(make):
    w = np.array([1, 2])
    with pytest.raises(TypeError, match=re.escape(
            "parameter 'w' must be a float array (float32 or float64); got dtype int64")):
        make().step({"w": w}, {"w": np.array([0.4, 0.4])})
    assert w.tolist() == [1, 2]


def test_clipping_to_a_tiny_norm_is_exact_or_refused():
    grads = {"a": np.full(3, 1e10), "b": np.full(1, -1e10)}
    out, norm = clip_grad_norm(grads, 1e-300)   # max_norm / max|g| = 1e-310 is subnormal
    got = np.sqrt(sum(float(np.sum((g * 1e300) ** 2)) for g in out.values())) / 1e300
    assert got == pytest.approx(1e-300, rel=1e-12)
    np.testing.assert_allclose(out["a"] / out["b"][0], -1.0, rtol=1e-12)  # direction kept
    with pytest.raises(ValueError, match=re.escape(
            "max_norm = 1e-320 is below the smallest normal float64 (2.22507e-308)")):
        clip_grad_norm({"a": np.full(3, 2.0)}, 1e-320)
    with pytest.raises(ValueError, match=re.escape(
            "max_norm = 1e-40 is below the smallest normal float32 (1.17549e-38)")):
        clip_grad_norm({"a": np.full(3, 2.0, dtype=np.float32)}, 1e-40)


def test_float32_mse_does_not_overflow_in_the_sum():
    y_hat = np.full((1000, 1), 1e18, dtype=np.float32)   # each square 1e36; their sum 1e39
    y = np.zeros((1000, 1), dtype=np.float32)
    assert mse_loss(y_hat, y) == pytest.approx(float(np.float32(1e18)) ** 2, rel=1e-6)
    big = np.full((10, 1), 1e154)                        # float64: squares sum past 1e308
    assert mse_loss(big, np.zeros((10, 1))) == pytest.approx(1e308, rel=1e-12)
    assert mse_loss(np.full((2, 1), 1e155), np.zeros((2, 1))) == np.inf  # the mean itself is


def _small_run(**kw):
    model = Regressor(LSTMCell(2, 4, seed=0), seed=0)
    test = adding_problem(6, 8, seed=1)
    config = TrainConfig(steps=3, batch_size=4, eval_every=1, lr=1e-2)
    return model, test, config


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_train_refuses_a_metric_that_is_not_finite(value):
    model, test, config = _small_run()
    with pytest.raises(ValueError, match=re.escape(
            f"metric(y_hat, y) returned {value} at step 0; a metric must return a finite "
            f"number")):
        train(model, partial(adding_problem, 6), test, config, metric=lambda y_hat, y: value)


def test_train_refuses_a_batch_of_another_size():
    model, test, config = _small_run()

    def sample(batch_size, *, seed):
        return adding_problem(6, batch_size + 1, seed=seed)

    with pytest.raises(ValueError, match=re.escape(
            "sample(4, seed=...) returned a batch of 5 sequences at step 1; expected 4 "
            "(config.batch_size)")):
        train(model, sample, test, config)
