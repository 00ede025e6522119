"""No silent wrong answer (issue 13): what a trace hands out cannot be made writable again, a
copied or edited trace is refused by backward, both fused layouts agree on which weights they
take, and the training and character-model helpers refuse what they cannot compute."""

import copy
import dataclasses
import math
import pickle
import re
from functools import partial

import numpy as np
import pytest

from lstmlib import LSTMCell, RNNCell
from lstmlib.cell import FEATURE_MAJOR_MIN
from lstmlib.charmodel import (
    CharConfig,
    CharLSTM,
    Vocab,
    chunks,
    cross_entropy_bits,
    ngram_bits,
    train_char,
)
from lstmlib.tasks import adding_problem
from lstmlib.train import SGD, Adam, Regressor, TrainConfig, clip_grad_norm, mse_loss, train
from lstmlib.train import fraction_within as tr_fraction_within

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
# (a silent wrong answer) or a NaN. Such weights now run the "batch" layout at every size, which
# never doubles a weight and computes them right: both layouts take the same weights.

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_both_layouts_take_weights_the_feature_layout_cannot_double(dtype):
    big = float(np.finfo(dtype).max) * 0.6
    tiny = float(np.finfo(dtype).tiny) * 8     # big · tiny ≈ 1: a finite, unsaturated z
    cell = LSTMCell(D, H, dtype=dtype)
    x = np.array([tiny, 0.5])
    for where in ("W_c", "b_c"):               # a c̃ weight, then a c̃ bias
        if where == "W_c":
            cell.params["W_c"][0, H] = big     # the weight of x_0 in c̃'s first unit
            z = big * tiny + float(cell.params["W_c"][0, H + 1]) * 0.5
        else:
            cell.params["W_c"][0, H] = 0.0
            cell.params["b_c"][0] = big            # ... then a c̃ bias that large
            z = None
        small = cell.forward(np.tile(x, (1, 2, 1)))              # B·H small: the batch layout
        large = cell.forward(np.tile(x, (1, B_FEATURE, 1)))      # B·H large
        assert small.layout == large.layout == "batch"
        if z is not None:
            np.testing.assert_allclose(small.c_tilde[0, :, 0], np.tanh(z), rtol=1e-6)
        np.testing.assert_array_equal(large.h[:, :2], small.h)
        assert np.isfinite(large.h).all()
    cell.params["b_c"][0] = 0.0
    assert cell.forward(np.tile(x, (1, B_FEATURE, 1))).layout == "feature"  # back to normal
    cell.params["W_f"][0, 0] = big             # the f, i, o rows are only negated: kept
    large = cell.forward(np.tile(x, (1, B_FEATURE, 1)))
    assert large.layout == "feature" and np.isfinite(large.h).all()


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


# --- 6. the character model --------------------------------------------------------------------

@pytest.fixture(scope="module")
def char_model():
    return CharLSTM(5, (3,), seed=0, dtype=np.float64)


@pytest.mark.parametrize("ids, chunk, message", [
    ([1, -1, 2], 1000, "ids must lie in [0, 5); got -1 .. 2"),
    ([1, 2, 5], 1000, "ids must lie in [0, 5); got 1 .. 5"),
    ([1.0, 2.0], 1000, "ids must be integers; got float64"),
    ([], 1000, "bits needs at least two ids (one to read, one to predict); got 0"),
    ([1], 1000, "bits needs at least two ids (one to read, one to predict); got 1"),
    ([1, 2, 3], 0, "chunk must be a positive integer; got 0"),
    ([1, 2, 3], -2, "chunk must be a positive integer; got -2"),
])
def test_bits_refuses_what_it_cannot_score(char_model, ids, chunk, message):
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        char_model.bits(ids, chunk=chunk)


def test_run_refuses_bad_ids_and_chunks(char_model):
    with pytest.raises(ValueError, match=re.escape("ids must lie in [0, 5); got -1 .. 2")):
        char_model.run([1, -1, 2])
    with pytest.raises(ValueError, match=re.escape("chunk must be a positive integer; got 0")):
        char_model.run([1, 2], chunk=0)


@pytest.mark.parametrize("prime, message", [
    ([1.7, 2.0], "prime_ids must be a non-empty 1-D array of integer ids; got float64 of shape (2,)"),
    ([True, False], "prime_ids must be a non-empty 1-D array of integer ids; got bool of shape (2,)"),
    ([[1, 2]], "prime_ids must be a non-empty 1-D array of integer ids; got int64 of shape (1, 2)"),
    ([], "prime_ids must be a non-empty 1-D array of integer ids; got float64 of shape (0,)"),
])
def test_sample_refuses_prime_ids_that_are_not_ids(char_model, prime, message):
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        char_model.sample(3, prime_ids=prime)


def test_a_tiny_temperature_samples_greedily_instead_of_failing(char_model):
    greedy = char_model.sample(6, temperature=1e-6, seed=0, prime_ids=[2])
    np.testing.assert_array_equal(char_model.sample(6, temperature=1e-320, seed=0, prime_ids=[2]),
                                  greedy)


def test_vocab_decode_refuses_ids_outside_the_vocabulary():
    v = Vocab("abc")
    assert v.decode([0, 2]) == "ac"
    for bad in ([-1], [3]):
        with pytest.raises(ValueError, match=re.escape(f"ids must lie in [0, 3); got {bad[0]}")):
            v.decode(bad)
    with pytest.raises(TypeError, match=re.escape("ids must be integers; got float64")):
        v.decode([1.0])


def test_cross_entropy_is_finite_at_large_logits():
    logits = np.array([[[0.0, 1e4]]])
    bits, d = cross_entropy_bits(logits, np.array([[0]]))
    assert bits == pytest.approx(1e4 / math.log(2), rel=1e-12)
    assert np.isfinite(d).all()
    bits32, _ = cross_entropy_bits(logits.astype(np.float32), np.array([[0]]))
    assert bits32 == pytest.approx(1e4 / math.log(2), rel=1e-6)


def test_save_and_load_without_the_npz_suffix(tmp_path):
    model = CharLSTM(5, (3,), seed=0)
    model.save(tmp_path / "m")
    back, _ = CharLSTM.load(tmp_path / "m")
    np.testing.assert_array_equal(back.W_y, model.W_y)
    model.save(str(tmp_path / "s"))
    back, _ = CharLSTM.load(str(tmp_path / "s"))
    np.testing.assert_array_equal(back.params["W0"], model.params["W0"])


def _saved(tmp_path, **change):
    model = CharLSTM(5, (3,), seed=0)
    arrays = {"hidden_sizes": np.array(model.hidden_sizes), **model.params}
    arrays.update(change)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(tmp_path / "bad.npz", **arrays)
    return tmp_path / "bad.npz"


@pytest.mark.parametrize("change, error, message", [
    (dict(W_y=np.full((5, 3), np.nan, dtype=np.float32)), ValueError,
     "W_y must be finite; found nan at index (0, 0)"),
    (dict(b0=np.array([np.inf] + [0.0] * 11, dtype=np.float32)), ValueError,
     "b0 must be finite; found inf at index (0,)"),
    (dict(hidden_sizes=np.array([3.7])), ValueError,
     "hidden_sizes must be a 1-D array of positive integers; got [3.7]"),
    (dict(W0=np.zeros((12, 8), dtype=np.int64)), TypeError,
     "W0 must be a float array (float32 or float64); got dtype int64"),
    (dict(W0=np.full((12, 8), 1e39)), ValueError,
     "W0 holds 1e+39 at index (0, 0), too large for float32"),
    (dict(b_y=None), ValueError, "lacks the arrays ['b_y']"),
    (dict(hidden_sizes=None), ValueError, "lacks the arrays ['hidden_sizes']"),
])
def test_load_refuses_a_file_it_cannot_trust(tmp_path, change, error, message):
    with pytest.raises(error, match=re.escape(message)):
        CharLSTM.load(_saved(tmp_path, **change))


@pytest.mark.parametrize("field, value, message", [
    ("lr_final", 0.0, "lr_final must be a positive finite number; got 0.0"),
    ("lr_final", -1e-3, "lr_final must be a positive finite number; got -0.001"),
    ("batch_size", 0, "batch_size must be a positive integer; got 0"),
    ("seq_len", -4, "seq_len must be a positive integer; got -4"),
    ("seq_len", 0, "seq_len must be a positive integer; got 0"),
])
def test_char_config_refuses_settings_that_cannot_run(field, value, message):
    fine = dict(hidden_sizes=(3,), steps=2, batch_size=2, seq_len=8, decay_steps=2, lr_final=1e-3)
    config = dataclasses.replace(CharConfig(), **{**fine, field: value})
    with pytest.raises(ValueError, match=re.escape(message)):
        train_char(CharLSTM(5, (3,)), np.arange(200) % 5, np.arange(20) % 5, config)


def test_chunks_refuse_a_batch_or_length_that_is_not_positive():
    with pytest.raises(ValueError, match=re.escape("batch_size must be a positive integer; got 0")):
        next(chunks(np.arange(100), 0, 10))
    with pytest.raises(ValueError, match=re.escape("seq_len must be a positive integer; got -1")):
        next(chunks(np.arange(100), 2, -1))


@pytest.mark.parametrize("train_ids, eval_ids, message", [
    ([0, 1, 2], [0, 3], "eval_ids must lie in [0, 3); got 0 .. 3"),
    ([0, -1, 2], [0, 1], "train_ids must lie in [0, 3); got -1 .. 2"),
    ([0.0, 1.0], [0, 1], "train_ids must be integers; got float64"),
])
def test_ngram_bits_refuses_ids_outside_the_vocabulary(train_ids, eval_ids, message):
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        ngram_bits(train_ids, eval_ids, 3, 2, 1.0)


# --- more of the same kind, found by going through the public API --------------------------------

def test_adam_refuses_parameters_whose_shape_changed_between_steps():
    opt = Adam(0.1)
    opt.step({"w": np.zeros(3)}, {"w": np.ones(3)})
    w = np.zeros(1)     # m and v of shape (3,) would broadcast an update of shape (3,) into w
    with pytest.raises(ValueError, match=re.escape(
            "Adam's running means for parameter 'w' have shape (3,); the parameter now has shape "
            "(1,)")):
        opt.step({"w": w}, {"w": np.ones(1)})
    big = np.zeros(3)   # the other way round m (1,) broadcasts silently: refused the same way
    opt = Adam(0.1)
    opt.step({"w": np.zeros(1)}, {"w": np.ones(1)})
    with pytest.raises(ValueError, match="have shape \\(1,\\); the parameter now has shape"):
        opt.step({"w": big}, {"w": np.ones(3)})
    assert not w.any() and not big.any() and opt.t == 1


def test_fraction_within_refuses_non_finite_predictions():
    with pytest.raises(ValueError, match=re.escape("y_hat must be finite; found nan at index (1, 0)")):
        tr_fraction_within(np.array([[0.0], [np.nan]]), np.zeros((2, 1)), 0.1)


def test_save_refuses_an_extra_array_named_hidden_sizes(tmp_path):
    with pytest.raises(ValueError, match=re.escape(
            "extra arrays may not reuse the names of parameters: ['hidden_sizes']")):
        CharLSTM(5, (3,)).save(tmp_path / "m.npz", hidden_sizes=np.array([7]))


@pytest.mark.parametrize("fn", [mse_loss, lambda a, b: tr_fraction_within(a, b, 0.1)],
                         ids=["mse_loss", "fraction_within"])
def test_an_empty_batch_is_refused_instead_of_giving_nan(fn):
    with pytest.raises(ValueError, match=re.escape(
            "y_hat and y must hold at least one value; got shape (0, 1)")):
        fn(np.zeros((0, 1)), np.zeros((0, 1)))


@pytest.mark.parametrize("make", [lambda: SGD(0.1), lambda: Adam(0.1)], ids=["sgd", "adam"])
def test_optimizers_refuse_parameters_that_share_memory(make):
    cell = LSTMCell(D, H)
    before = np.array(cell.W)
    params = {"W": cell.W, "W_f": cell.params["W_f"]}   # W_f is a view of W: updated twice
    grads = {"W": np.ones(cell.W.shape), "W_f": np.ones((H, H + D))}
    with pytest.raises(ValueError, match=re.escape(
            "parameters 'W' and 'W_f' share memory: one update would be written over the "
            "other")):
        make().step(params, grads)
    np.testing.assert_array_equal(cell.W, before)


def test_softmax_refuses_a_temperature_that_is_not_positive():
    from lstmlib.charmodel import softmax

    for tau in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="temperature must be a positive finite number"):
            softmax(np.zeros(3), tau)


def test_interleaved_parameters_that_do_not_overlap_are_taken():
    w = np.zeros(6)
    SGD(0.5).step({"even": w[::2], "odd": w[1::2]}, {"even": np.ones(3), "odd": -np.ones(3)})
    np.testing.assert_array_equal(w, [-0.5, 0.5] * 3)


@pytest.mark.parametrize("method", ["bits", "run"])
def test_bits_and_run_take_one_stream_not_a_batch(char_model, method):
    ids = np.array([[0, 1], [2, 3], [4, 0]])  # (T, B): flattened, it would mix the two streams
    with pytest.raises(ValueError, match=re.escape(
            f"{method} reads one stream: ids must be a 1-D array; got shape (3, 2)")):
        getattr(char_model, method)(ids)


def test_train_scores_its_own_copy_of_the_test_set():
    model, (xs_test, y_test), config = _small_run()
    seen = []

    def mutating_metric(y_hat, y):  # a metric that (wrongly) works in place on y
        seen.append(float(y[0, 0]))
        y -= y_hat
        return 0.0

    with pytest.raises(ValueError, match="read-only"):
        train(model, partial(adding_problem, 6), (xs_test, y_test), config, metric=mutating_metric)
    assert seen == [y_test[0, 0]]  # refused at the first evaluation; the caller's y untouched
