"""No silent wrong answer: each situation below once gave a wrong result without a word.

A trace owns what it was made with (its inputs are copies, its arrays read-only) and `backward`
refuses a trace whose cell or weights are not those of its forward pass; values too large for
the cell's dtype are refused by name; clipping, the optimizers and the training loop stay finite
or say why not; indices are integers. Each test failed on the code before these guards.
"""

import copy
import re
import tracemalloc
import warnings
from functools import partial

import numpy as np
import pytest

from lstmlib import LSTMCell, RNNCell
from lstmlib.checks import NonFiniteError
from lstmlib.tasks import adding_problem, marked_steps
from lstmlib.train import (
    SGD,
    Adam,
    Regressor,
    TrainConfig,
    TrainingDiverged,
    clip_grad_norm,
    fraction_within,
    global_norm,
    mse_grad,
    mse_loss,
    train,
)

T, B, D, H = 6, 3, 2, 4
CHANGED = "the cell's weights changed after forward() made this trace"


def make(kind, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    cell = LSTMCell(D, H, seed=seed, dtype=dtype) if kind == "lstm" else RNNCell(D, H, seed=seed,
                                                                                dtype=dtype)
    for p in cell.params.values():
        p[:] = rng.normal(scale=0.5, size=p.shape)
    return cell


def data(seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(T, B, D)), rng.normal(size=(B, H)), rng.normal(size=(B, H)), \
        rng.normal(size=(T, B, H))


def run(cell, xs, h0, c0):
    return cell.forward(xs, h0, c0) if isinstance(cell, LSTMCell) else cell.forward(xs, h0)


def grads_of(cell, xs, h0, c0, dh):
    return cell.backward(run(cell, xs, h0, c0), dh)


KINDS = ["lstm", "rnn"]


# --- 1. backward uses exactly the forward pass's weights, or refuses ---------------------------

def _in_place_param(cell):
    name = "W_o" if isinstance(cell, LSTMCell) else "W_h"
    cell.params[name][0, 0] += 0.5


def _sgd_on_W(cell):
    cell.W -= 0.1 * np.ones_like(cell.W)


def _rebind_W(cell):
    cell.W = cell.W * 1.5


def _rebind_b(cell):
    cell.b = cell.b + 1.0


def _slice_assign(cell):
    cell.W[:] = cell.W * 0.5


def _ufunc_out(cell):
    np.multiply(cell.W, 2.0, out=cell.W)


def _copyto(cell):
    np.copyto(cell.b, 0.25)


def _fill(cell):
    cell.params["b_h" if isinstance(cell, RNNCell) else "b_f"].fill(3.0)


def _optimizer(cell):
    SGD(0.1).step({"W": cell.W, "b": cell.b}, {"W": np.ones(cell.W.shape), "b": np.ones(cell.b.shape)})


EDITS = [_in_place_param, _sgd_on_W, _rebind_W, _rebind_b, _slice_assign, _ufunc_out, _copyto,
         _fill, _optimizer]


@pytest.mark.parametrize("edit", EDITS, ids=lambda e: e.__name__.strip("_"))
@pytest.mark.parametrize("kind", KINDS)
def test_backward_refuses_a_trace_whose_weights_changed(kind, edit):
    cell = make(kind)
    xs, h0, c0, dh = data()
    tr = run(cell, xs, h0, c0)
    edit(cell)
    with pytest.raises(ValueError, match=re.escape(CHANGED)):
        cell.backward(tr, dh)
    # a new forward pass with the new weights is accepted and matches a fresh cell with them
    fresh = make(kind)
    fresh.W, fresh.b = cell.W, cell.b
    got, want = grads_of(cell, xs, h0, c0, dh), grads_of(fresh, xs, h0, c0, dh)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


@pytest.mark.parametrize("kind", KINDS)
def test_the_refusal_names_what_changed(kind):
    cell = make(kind)
    xs, h0, c0, dh = data()
    tr = run(cell, xs, h0, c0)
    cell.b[0] = 1.0
    with pytest.raises(ValueError, match=r"b \(version \d+ at forward\(\), \d+ now\)") as info:
        cell.backward(tr, dh)
    assert "W (" not in str(info.value)


@pytest.mark.parametrize("kind", KINDS)
def test_backward_refuses_a_trace_from_another_cell(kind):
    a, b = make(kind, seed=0), make(kind, seed=1)
    xs, h0, c0, dh = data()
    with pytest.raises(ValueError, match="made by another cell's forward"):
        b.backward(run(a, xs, h0, c0), dh)
    twin = copy.deepcopy(a)  # equal weights, but not the cell that made the trace
    with pytest.raises(ValueError, match="made by another cell's forward"):
        twin.backward(run(a, xs, h0, c0), dh)


@pytest.mark.parametrize("kind", KINDS)
def test_reading_the_weights_keeps_traces_valid(kind):
    cell = make(kind)
    xs, h0, c0, dh = data()
    tr = run(cell, xs, h0, c0)
    want = cell.backward(tr, dh)
    W = cell.W
    _ = (W.sum(), np.mean(cell.b), np.linalg.norm(W), W @ np.ones(W.shape[1]), W.T.copy(),
         repr(W), str(cell.params), W.max(), np.concatenate([W, W]), copy.deepcopy(cell.W))
    loose = W.copy()
    loose[0, 0] = 99.0        # a copy is the caller's own
    picked = W[[0, 1]]        # fancy indexing copies too
    picked[:] = 0.0
    deep = copy.deepcopy(cell)
    deep.W[0, 0] = 5.0        # writes into another cell's weights
    got = cell.backward(tr, dh)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    assert type(W.sum()) is not type(W) and type(W.copy()) is np.ndarray
    assert repr(cell.b).startswith("array(")


@pytest.mark.parametrize("kind", KINDS)
def test_weights_changed_covers_writes_the_cell_cannot_see(kind):
    cell = make(kind)
    xs, h0, c0, dh = data()
    tr = run(cell, xs, h0, c0)
    np.asarray(cell.W)[0, 0] += 1.0  # a plain view: documented as invisible to the cell
    cell.weights_changed()
    with pytest.raises(ValueError, match=re.escape(CHANGED)):
        cell.backward(tr, dh)


def test_the_fused_forward_sees_every_change_of_the_weights(rng):
    cell = make("lstm")
    xs = rng.normal(size=(T, B, D))
    before = cell.forward(xs).h.copy()
    for edit in EDITS:
        edit(cell)
        fresh = LSTMCell(D, H)
        fresh.W, fresh.b = cell.W, cell.b
        np.testing.assert_array_equal(cell.forward(xs).h, fresh.forward(xs).h, err_msg=edit.__name__)
    assert not np.array_equal(cell.forward(xs).h, before)


def test_rebinding_checks_shape_and_finiteness():
    cell = LSTMCell(D, H)
    with pytest.raises(ValueError, match=re.escape("LSTMCell.W must have shape (16, 6); got (16, 5)")):
        cell.W = np.zeros((16, 5))
    with pytest.raises(ValueError, match="LSTMCell.b must be finite; found nan"):
        cell.b = np.full(16, np.nan)
    view = cell.params["W_f"]
    cell.W = np.ones((16, 6))
    assert (view == 1).all()  # views taken before stay the cell's


@pytest.mark.parametrize("kind", KINDS)
def test_non_finite_weights_are_refused_by_name(kind):
    cell = make(kind)
    name = "W_c" if kind == "lstm" else "W_h"
    cell.params[name][1, 2] = np.nan
    where = "params['W_c'][1, 2]" if kind == "lstm" else "index (1, 2)"
    with pytest.raises(NonFiniteError, match=re.escape(where)):
        cell.forward(np.zeros((T, D)))
    with pytest.raises(NonFiniteError, match="must be finite"):
        cell.step(np.zeros(D))


# --- 2. a trace owns its inputs ----------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_refilling_the_input_buffer_does_not_change_backward(kind):
    cell = make(kind)
    xs, h0, c0, dh = data()
    want = grads_of(cell, xs.copy(), h0.copy(), c0.copy(), dh)
    tr = run(cell, xs, h0, c0)
    xs[...] = np.random.default_rng(5).normal(size=xs.shape)   # the next batch, same buffer
    got = cell.backward(tr, dh)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    assert not np.shares_memory(tr.xs, xs) and not np.shares_memory(tr.h0, h0)


def test_carrying_the_state_into_h0_c0_buffers_does_not_change_the_trace():
    cell = make("lstm")
    xs, h0, c0, dh = data()
    want = grads_of(cell, xs, h0.copy(), c0.copy(), dh)
    tr = cell.forward(xs, h0, c0)
    c_prev, F, first = tr.c_prev.copy(), tr.F.copy(), tr.at(0)
    first = {k: v.copy() for k, v in vars(first).items()}
    h0[...], c0[...] = tr.h[-1], tr.c[-1]    # truncated BPTT: the next chunk starts here
    got = cell.backward(tr, dh)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    np.testing.assert_array_equal(tr.c_prev, c_prev)
    np.testing.assert_array_equal(tr.F, F)
    for k, v in vars(tr.at(0)).items():
        np.testing.assert_array_equal(v, first[k], err_msg=k)
    assert not np.shares_memory(tr.c0, c0)


def test_unbatched_and_float32_inputs_are_copied_too():
    cell = LSTMCell(D, H, dtype=np.float32)
    xs = np.ones((T, D), dtype=np.float32)
    h0 = np.zeros(H, dtype=np.float32)
    tr = cell.forward(xs, h0, h0)
    assert not np.shares_memory(tr.xs, xs) and not np.shares_memory(tr.h0, h0)
    assert not np.shares_memory(tr.c0, h0)


# --- 3. nothing handed out can be written into -------------------------------------------------

TRACE_ARRAYS = ["f", "i", "c_tilde", "o", "c", "c_prime", "h", "F", "I", "c_prev", "xs", "h0",
                "c0", "gates", "c_all", "cp_all", "h_all"]


@pytest.mark.parametrize("batched", [False, True])
def test_trace_and_step_arrays_are_read_only(batched):
    cell = make("lstm")
    xs, h0, c0, dh = data()
    if not batched:
        xs, h0, c0, dh = xs[:, 0], h0[0], c0[0], dh[:, 0]
    tr = cell.forward(xs, h0, c0)
    want = cell.backward(tr, dh)
    for name in TRACE_ARRAYS:
        arr = getattr(tr, name)
        with pytest.raises(ValueError, match="read-only"):
            arr[...] = 0.5
        with pytest.raises(ValueError, match="read-only"):
            arr *= 2
    h = tr.h
    with pytest.raises(ValueError, match="read-only"):
        h *= 2
    for s in (tr.at(0), tr.at(-1), cell.step(xs[0], h0, c0), cell.step(xs[0], h0, c0, f=0.5)):
        for name, arr in vars(s).items():
            with pytest.raises(ValueError, match="read-only"):
                arr[...] = 0.5
            assert not arr.flags.writeable, name
    got = cell.backward(tr, dh)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    # reading code keeps working: arithmetic, copies, plotting-style indexing
    doubled = tr.h * 2
    doubled[0] = 1.0
    assert (tr.f.copy() >= 0).all() and tr.c[:, ..., 0].shape[0] == T


def test_rnn_trace_and_step_are_read_only():
    cell = make("rnn")
    xs, h0, _, _ = data()
    tr = cell.forward(xs, h0)
    for arr in (tr.h, tr.xs, tr.h0, tr.h_all, cell.step(xs[0], h0).h):
        with pytest.raises(ValueError, match="read-only"):
            arr[...] = 0.0


# --- 4. values that do not fit the cell's dtype ------------------------------------------------

def test_float64_data_too_large_for_a_float32_cell_is_refused():
    cell = LSTMCell(D, H, dtype=np.float32)
    xs = np.zeros((T, D))
    xs[2, 1] = 1e39
    message = "xs holds 1e+39 at index (2, 1), too large for float32 (largest finite value 3.40282e+38)"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy overflow warning on the way to the error
        with pytest.raises(NonFiniteError, match=re.escape(message)):
            cell.forward(xs)
        with pytest.raises(NonFiniteError, match=re.escape("h_prev holds -1e+39")):
            cell.step(np.zeros(D), np.full(H, -1e39))
        tr = cell.forward(np.zeros((T, D)))
        with pytest.raises(NonFiniteError, match=re.escape("dh holds 1e+39")):
            cell.backward(tr, np.full((T, H), 1e39))
        with pytest.raises(NonFiniteError, match="xs holds"):
            RNNCell(D, H, dtype=np.float32).forward(xs)


def test_forget_bias_too_large_for_the_dtype_is_refused():
    with pytest.raises(ValueError, match=re.escape("forget_bias = 1e+39 is too large for float32")):
        LSTMCell(D, H, forget_bias=1e39, dtype=np.float32)
    assert np.isfinite(LSTMCell(D, H, forget_bias=1e39).b).all()  # fits in float64


def test_an_overflow_inside_forward_or_backward_is_refused():
    cell = LSTMCell(1, 1, dtype=np.float32)
    cell.params["W_c"][0] = [3e38, -3e38]   # 2·3e38 - 2·3e38 = inf - inf = NaN in c̃'s score
    xs = np.full((3, 1), 2.0, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(NonFiniteError, match="forward: h_T overflowed float32"):
            cell.forward(xs, np.full(1, 2.0), np.ones(1))
        with pytest.raises(NonFiniteError, match="step: c_t overflowed float32"):
            cell.step(xs[0], np.full(1, 2.0), np.ones(1))
    small = LSTMCell(D, H, dtype=np.float32)
    tr = small.forward(np.ones((T, D)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(NonFiniteError, match="backward: the gradient of W overflowed float32"):
            small.backward(tr, np.full((T, H), 3e38, dtype=np.float32))


# --- 5. clipping, optimizers, the training loop ------------------------------------------------

@pytest.mark.parametrize("scale, dtype", [(1e154, np.float64), (1e300, np.float64),
                                          (1e20, np.float32)])
def test_clipping_huge_finite_gradients_keeps_their_direction(rng, scale, dtype):
    grads = {"a": (rng.normal(size=(4, 5)) * scale).astype(dtype),
             "b": (rng.normal(size=3) * scale).astype(dtype)}
    clipped, norm = clip_grad_norm(grads, 1.0)
    assert norm > 1e19
    unit = {k: g.astype(np.float64) / scale for k, g in grads.items()}
    n = global_norm(unit)
    for k in grads:
        assert np.isfinite(clipped[k]).all() and clipped[k].any(), k
        np.testing.assert_allclose(clipped[k], unit[k] / n, rtol=1e-5, err_msg=k)
    assert global_norm(clipped) == pytest.approx(1.0, rel=1e-5)
    assert global_norm(grads) == pytest.approx(norm)


def test_a_norm_beyond_the_float_range_is_inf_and_clipping_still_works():
    grads = {"a": np.full(4, 1e308), "b": np.full(2, -1e308)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning: the norm is inf by design
        assert global_norm(grads) == float("inf")
        clipped, norm = clip_grad_norm(grads, 2.0)
    assert norm == float("inf")
    np.testing.assert_allclose(clipped["a"], np.full(4, 2.0 / np.sqrt(6)))
    np.testing.assert_allclose(clipped["b"], np.full(2, -2.0 / np.sqrt(6)))


def test_clipping_refuses_non_finite_gradients():
    with pytest.raises(NonFiniteError, match=re.escape("gradient b must be finite; found nan at index (1,)")):
        clip_grad_norm({"a": np.ones(2), "b": np.array([0.0, np.nan])}, 1.0)


def test_sgd_with_a_huge_learning_rate_diverges_by_name():
    model = Regressor(LSTMCell(2, 4, seed=0, forget_bias=1.0), seed=0)
    config = TrainConfig(steps=50, batch_size=8, lr=1e4, optimizer="sgd", clip=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy overflow warnings either
        with pytest.raises(TrainingDiverged, match="non-finite"):
            train(model, partial(adding_problem, 10), adding_problem(10, 16, seed=1), config)
    assert all(np.isfinite(p).all() for p in model.params.values())


@pytest.mark.parametrize("opt", [SGD(1e300), Adam(1.5e308)], ids=["sgd", "adam"])
def test_an_update_that_overflows_changes_nothing(opt):
    p = {"v": np.array([3.0]), "w": np.array([-1.5e308, 1.0])}
    g = np.array([1e300, 1.0]) if isinstance(opt, SGD) else np.array([1.0, 1.0])
    with pytest.raises(TrainingDiverged, match="update of w is not finite"):
        opt.step(p, {"v": np.array([1.0]), "w": g})
    np.testing.assert_array_equal(p["w"], [-1.5e308, 1.0])
    np.testing.assert_array_equal(p["v"], [3.0])  # no parameter is updated, not even the first
    if isinstance(opt, Adam):
        assert opt.t == 0 and not opt.m and not opt.v


@pytest.mark.parametrize("eps", [0.0, -1e-8, float("nan"), float("inf")])
def test_adam_needs_a_positive_eps(eps):
    with pytest.raises(ValueError, match="eps must be a positive finite number"):
        Adam(0.1, eps=eps)


@pytest.mark.parametrize("betas", [(1.0, 0.9), (0.9, -0.1), (0.9,), "ab", (0.9, float("nan")),
                                   (True, 0.9)])
def test_adam_betas_are_checked(betas):
    with pytest.raises(ValueError, match="beta"):
        Adam(0.1, betas=betas)


def test_adam_with_a_zero_gradient_stays_finite():
    p = {"w": np.array([1.0, 2.0])}
    Adam(0.1).step(p, {"w": np.zeros(2)})
    np.testing.assert_array_equal(p["w"], [1.0, 2.0])


def test_optimizers_check_the_gradients():
    for opt in (SGD(0.1), Adam(0.1)):
        message = "gradient w must have the shape of its parameter (2,)"
        with pytest.raises(ValueError, match=re.escape(message)):
            opt.step({"w": np.ones(2)}, {"w": np.ones((2, 2))})
        with pytest.raises(KeyError, match="no gradient for parameter 'w'"):
            opt.step({"w": np.ones(2)}, {})


@pytest.mark.parametrize("field, value", [("target_mse", float("nan")), ("target_mse", -1.0),
                                          ("clip", 0.0), ("clip", float("inf")), ("seed", 1.5)])
def test_train_config_refuses_settings_that_would_be_ignored(field, value):
    model = Regressor(LSTMCell(2, 3), seed=0)
    config = TrainConfig(steps=2, batch_size=2, **{field: value})
    with pytest.raises((ValueError, TypeError), match=field if field != "seed" else "seed"):
        train(model, partial(adding_problem, 5), adding_problem(5, 4, seed=0), config)


def test_losses_refuse_shapes_that_would_broadcast():
    y_hat, y = np.zeros((4, 1)), np.ones(4)
    for f in (mse_loss, mse_grad):
        message = "y_hat and y must have the same shape; got (4, 1) and (4,)"
        with pytest.raises(ValueError, match=re.escape(message)):
            f(y_hat, y)
    with pytest.raises(ValueError, match="same shape"):
        fraction_within(y_hat, y, 0.1)
    for tol in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="tol must be a positive finite number"):
            fraction_within(y_hat, np.zeros((4, 1)), tol)


# --- 6. indices and markers --------------------------------------------------------------------

@pytest.mark.parametrize("t", [True, False, 1.0, np.float64(2), "1", None, np.bool_(True)])
def test_trace_at_takes_integers_only(t):
    tr = LSTMCell(D, H).forward(np.zeros((T, D)))
    with pytest.raises(TypeError, match="timestep must be an integer"):
        tr.at(t)
    assert tr.at(np.int64(2)).h.shape == (H,)


@pytest.mark.parametrize("marker", [0.5, 2.0, -1.0, np.nan])
def test_marked_steps_refuses_markers_other_than_zero_and_one(marker):
    xs, _ = adding_problem(6, 3, seed=0)
    xs[0, 1, 1] = 0.0 if marker == 0.0 else marker
    where = np.flatnonzero(xs[:, 1, 1] == 0.0)[0] if marker == 0.0 else 0
    with pytest.raises(ValueError, match=re.escape(f"every marker must be 0.0 or 1.0; xs[{where}, 1, 1] is")):
        marked_steps(xs)


# --- 7. costs that scale -----------------------------------------------------------------------

def _peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_trace_at_costs_one_step_not_the_whole_sequence():
    n = 20000
    tr = LSTMCell(1, 4).forward(np.zeros((n, 1)))
    whole = n * 4 * 8                        # one (T, H) float64 array: 640 kB
    for t in (0, 1, n // 2, -1):
        assert _peak_bytes(lambda t=t: tr.at(t)) < whole / 50
    tr.F, tr.I, tr.c_prev  # noqa: B018 (derived arrays, computed once ...)
    assert _peak_bytes(lambda: (tr.F, tr.I, tr.c_prev)) < whole / 50  # ... then kept


def test_forward_does_not_copy_the_weights_at_every_call():
    Hb = 256
    cell = LSTMCell(8, Hb, dtype=np.float32)
    x = np.zeros((1, 1, 8), dtype=np.float32)
    cell.forward(x)
    weights = cell.W.nbytes                  # 4 MB
    assert _peak_bytes(lambda: cell.forward(x)) < weights / 20
    cell.params["W_f"][0, 0] = 1.0           # a change of the weights: prepared again, once
    assert _peak_bytes(lambda: cell.forward(x)) > weights / 2
    assert _peak_bytes(lambda: cell.forward(x)) < weights / 20
