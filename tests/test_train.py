import re
import warnings
from functools import partial

import numpy as np
import pytest

from lstmlib import LSTMCell, RNNCell
from lstmlib.tasks import adding_problem
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


def _model(kind="lstm", H=3, seed=0):
    cell = LSTMCell(2, H, seed=seed, forget_bias=1.0) if kind == "lstm" else RNNCell(2, H, seed=seed)
    return Regressor(cell, seed=seed + 100)


# --- loss and gradients ----------------------------------------------------------------------

def test_mse_and_its_gradient_by_hand():
    y_hat, y = np.array([[1.0], [2.0], [0.5]]), np.array([[0.0], [2.5], [0.5]])
    assert mse_loss(y_hat, y) == pytest.approx((1.0 + 0.25 + 0.0) / 3)
    np.testing.assert_allclose(mse_grad(y_hat, y), [[2 / 3], [-1 / 3], [0.0]])


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
def test_loss_and_grads_match_finite_differences(kind):
    # central differences in float64: truncation ~eps_fd², rounding ~1e-16/eps_fd, so 1e-7 is ample
    model = _model(kind)
    xs, y = adding_problem(6, 4, seed=1)
    _, grads = model.loss_and_grads(xs, y)
    rng = np.random.default_rng(0)
    eps = 1e-6
    for name, p in model.params.items():
        assert grads[name].shape == p.shape
        for idx in [tuple(rng.integers(0, n) for n in p.shape) for _ in range(5)]:
            old = p[idx]
            p[idx] = old + eps
            up = model.loss_and_grads(xs, y)[0]
            p[idx] = old - eps
            down = model.loss_and_grads(xs, y)[0]
            p[idx] = old
            assert grads[name][idx] == pytest.approx((up - down) / (2 * eps), abs=1e-7), (name, idx)


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
def test_params_and_grads_use_the_cells_book_names(kind):
    model = _model(kind)
    xs, y = adding_problem(5, 3, seed=2)
    trace = model.cell.forward(xs)
    dh = np.zeros_like(trace.h_all)
    dh[-1] = 2 * (trace.h_all[-1] @ model.W_y.T + model.b_y - y) / y.size @ model.W_y
    by_name = model.cell.backward(trace, dh)
    _, grads = model.loss_and_grads(xs, y)
    names = ["W_f", "b_f", "W_i", "b_i", "W_c", "b_c", "W_o", "b_o"] if kind == "lstm" else ["W_h", "b_h"]
    assert list(model.params) == list(grads) == [*names, "W_y", "b_y"]
    for k in names:
        np.testing.assert_array_equal(grads[k], by_name[k])
        assert np.shares_memory(model.params[k], model.cell.W if k[0] == "W" else model.cell.b)
    assert model.n_params == model.cell.n_params + model.cell.H + 1


def test_splitting_the_fused_weights_changes_no_update():
    # The optimizers are elementwise: an Adam step on W_f..b_o is the step on the fused W and b.
    model = _model("lstm", H=4)
    xs, y = adding_problem(6, 5, seed=3)
    _, grads = model.loss_and_grads(xs, y)
    fused = {"W": model.cell.W.copy(), "b": model.cell.b.copy()}
    fused_grads = {"W": np.concatenate([grads[f"W_{g}"] for g in "fico"]),
                   "b": np.concatenate([grads[f"b_{g}"] for g in "fico"])}
    cell_params = {k: p for k, p in model.params.items() if k not in ("W_y", "b_y")}
    Adam(0.01).step(cell_params, {k: grads[k] for k in cell_params})
    Adam(0.01).step(fused, fused_grads)
    np.testing.assert_array_equal(model.cell.W, fused["W"])
    np.testing.assert_array_equal(model.cell.b, fused["b"])


def test_fraction_within():
    assert fraction_within(np.array([[0.0], [0.1], [0.5]]), np.zeros((3, 1)), 0.2) == pytest.approx(2 / 3)


# --- optimizers --------------------------------------------------------------------------------

def test_sgd_step_by_hand():
    params = {"a": np.array([1.0, -2.0]), "b": np.array([[0.5]])}
    SGD(0.1).step(params, {"a": np.array([10.0, -1.0]), "b": np.array([[2.0]])})
    np.testing.assert_allclose(params["a"], [0.0, -1.9])
    np.testing.assert_allclose(params["b"], [[0.3]])


def test_adam_two_steps_by_hand():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    theta = np.array([1.0, -1.0])
    opt = Adam(lr, betas=(b1, b2), eps=eps)
    g1, g2 = np.array([0.5, -2.0]), np.array([1.5, 1.0])
    params = {"w": theta.copy()}
    opt.step(params, {"w": g1})
    # step 1: bias correction makes m̂ = g and v̂ = g², so the step is lr·g/(|g|+eps) ≈ lr·sign(g)
    np.testing.assert_allclose(params["w"], theta - lr * g1 / (np.abs(g1) + eps))
    opt.step(params, {"w": g2})
    m = b1 * (1 - b1) * g1 + (1 - b1) * g2
    v = b2 * (1 - b2) * g1**2 + (1 - b2) * g2**2
    m_hat, v_hat = m / (1 - b1**2), v / (1 - b2**2)
    expected = theta - lr * g1 / (np.abs(g1) + eps) - lr * m_hat / (np.sqrt(v_hat) + eps)
    np.testing.assert_allclose(params["w"], expected, rtol=1e-12)
    assert opt.t == 2


@pytest.mark.parametrize("lr", [0, -0.1, float("nan"), float("inf"), "0.1", True])
def test_bad_learning_rate(lr):
    for make in (SGD, Adam):
        with pytest.raises(ValueError, match="learning rate must be a positive finite number"):
            make(lr)
    with pytest.raises(ValueError, match="learning rate"):
        train(_model(), partial(adding_problem, 5), adding_problem(5, 4, seed=0), TrainConfig(lr=lr))


def test_bad_optimizer_name():
    with pytest.raises(ValueError, match="'adam' or 'sgd'"):
        TrainConfig(optimizer="rmsprop").make_optimizer()


# --- clipping ----------------------------------------------------------------------------------

def test_clipping_bounds_the_norm_and_keeps_direction(rng):
    grads = {"a": rng.normal(size=(4, 5)) * 10, "b": rng.normal(size=3) * 10}
    norm = global_norm(grads)
    assert norm > 1.0
    clipped, before = clip_grad_norm(grads, 1.0)
    assert before == pytest.approx(norm)
    assert global_norm(clipped) == pytest.approx(1.0)
    for k in grads:
        np.testing.assert_allclose(clipped[k], grads[k] / norm)


def test_clipping_leaves_small_gradients_alone(rng):
    grads = {"a": rng.normal(size=4) * 1e-3}
    clipped, _ = clip_grad_norm(grads, 1.0)
    np.testing.assert_array_equal(clipped["a"], grads["a"])
    np.testing.assert_array_equal(clip_grad_norm({"z": np.zeros(3)}, 1.0)[0]["z"], np.zeros(3))


@pytest.mark.parametrize("max_norm", [0.0, -1.0, float("nan")])
def test_clipping_rejects_bad_max_norm(max_norm):
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm({"a": np.ones(2)}, max_norm)


def test_clipping_refuses_a_max_norm_that_would_underflow_the_narrowest_gradient():
    # float32 beside float64: 1e-39 is a normal float64 but a float32 subnormal (tiny 1.18e-38)
    grads = {"a": np.ones(2, dtype=np.float32), "b": np.ones(2)}
    with pytest.raises(ValueError, match=re.escape(
            "max_norm = 1e-39 is below the smallest normal float32 (1.17549e-38)")):
        clip_grad_norm(grads, 1e-39)
    with pytest.raises(ValueError, match=re.escape(
            "max_norm = 1e-39 is below the smallest normal float32")):
        clip_grad_norm(dict(reversed(grads.items())), 1e-39)


def test_clipping_accepts_the_smallest_normal_as_max_norm():
    tiny = float(np.finfo(np.float64).tiny)
    clipped, norm = clip_grad_norm({"a": np.array([3.0, 4.0])}, tiny)
    assert norm == 5.0
    assert np.isfinite(clipped["a"]).all() and (clipped["a"] > 0).all()


def test_clipping_no_gradients_at_all():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no float type to look up is numpy's DeprecationWarning
        assert clip_grad_norm({}, 1.0) == ({}, 0.0)


def test_clipping_multiplies_by_the_scale_once_when_it_is_exactly_the_smallest_normal():
    # (max_norm / m) / √s is exactly float64's tiny here: still a normal number, so every entry
    # is g · scale (the two-step path for an underflowing scale rounds differently)
    g = np.array([1.0956934985716344, -1.8417062898890375, -3.6722118085104425])
    max_norm = 9.460506919922053e-308
    m = float(np.max(np.abs(g)))
    s = float(np.dot(g / m, g / m))
    scale = (max_norm / m) / np.sqrt(s)
    assert scale == np.finfo(np.float64).tiny
    clipped, _ = clip_grad_norm({"g": g}, max_norm)
    np.testing.assert_array_equal(clipped["g"], g * scale)


@pytest.mark.parametrize("grads", [[np.ones(2)], (np.ones(2),), np.ones(2)])
def test_clipping_wants_gradients_by_name(grads):
    with pytest.raises(TypeError, match=re.escape(
            f"grads must be a dict of gradient arrays by name; got {type(grads).__name__}")):
        clip_grad_norm(grads, 1.0)


# --- bad data ----------------------------------------------------------------------------------

def test_mismatched_batch_shapes():
    model = _model()
    xs, y = adding_problem(5, 4, seed=0)
    with pytest.raises(ValueError, match=r"y must have shape \(B, 1\) = \(4, 1\).*got \(5, 1\)"):
        model.loss_and_grads(xs, np.zeros((5, 1)))
    with pytest.raises(ValueError, match=r"got \(4,\)"):
        model.loss_and_grads(xs, y[:, 0])
    with pytest.raises(ValueError, match=r"xs must have shape \(T, B, 2\)"):
        model.loss_and_grads(xs[:, 0], y)
    with pytest.raises(ValueError, match=r"y must have shape"):
        train(model, partial(adding_problem, 5), (xs, np.zeros((3, 1))), TrainConfig(steps=1))


def test_nan_in_the_data():
    model = _model()
    xs, y = adding_problem(5, 4, seed=0)
    bad_xs = xs.copy()
    bad_xs[2, 1, 0] = np.nan
    with pytest.raises(ValueError, match="xs must be finite"):
        model.loss_and_grads(bad_xs, y)
    bad_y = y.copy()
    bad_y[3, 0] = np.inf
    with pytest.raises(ValueError, match="y must be finite"):
        model.loss_and_grads(xs, bad_y)

    def nan_sample(batch_size, *, seed):
        xs, y = adding_problem(5, batch_size, seed=seed)
        y[0, 0] = np.nan
        return xs, y

    with pytest.raises(ValueError, match="y must be finite"):
        train(model, nan_sample, adding_problem(5, 4, seed=0), TrainConfig(steps=3))


def test_non_finite_loss_stops_the_loop_without_touching_the_parameters():
    calls = []

    def exploding(batch_size, *, seed):
        # finite data whose squared error overflows to inf on the third batch
        xs, y = adding_problem(5, batch_size, seed=seed)
        calls.append(1)
        return (xs, y * 1e200) if len(calls) == 3 else (xs, y)

    test = adding_problem(5, 8, seed=9)
    config = TrainConfig(steps=10, batch_size=4, lr=0.05, seed=1)
    model = _model()
    with pytest.raises(TrainingDiverged, match=r"loss became non-finite at step 3.*values from step 2"):
        train(model, exploding, test, config)
    reference = _model()
    train(reference, partial(adding_problem, 5), test, TrainConfig(steps=2, batch_size=4, lr=0.05, seed=1))
    for name, p in model.params.items():
        assert np.isfinite(p).all()
        np.testing.assert_array_equal(p, reference.params[name])


# --- the loop ----------------------------------------------------------------------------------

def test_runs_are_reproducible_and_quiet(capsys):
    test = adding_problem(8, 16, seed=5)
    config = TrainConfig(steps=12, batch_size=8, eval_every=5)
    runs = [train(_model(), partial(adding_problem, 8), test, config) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].train_loss, runs[1].train_loss)
    np.testing.assert_array_equal(runs[0].test_mse, runs[1].test_mse)
    np.testing.assert_array_equal(runs[0].eval_step, [0, 5, 10, 12])
    assert runs[0].steps == 12 and runs[0].sequences_seen == 96 and runs[0].reached_step is None
    assert runs[0].test_metric is None
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_metric_is_recorded_at_every_evaluation():
    test = adding_problem(6, 20, seed=5)
    model = _model()
    h = train(model, partial(adding_problem, 6), test, TrainConfig(steps=10, batch_size=4, eval_every=5),
              metric=partial(fraction_within, tol=0.08))
    assert h.test_metric.shape == h.test_mse.shape == (3,)
    assert h.test_metric[-1] == fraction_within(model.predict(test[0]), test[1], 0.08)


def test_progress_bar_goes_to_stderr(capsys):
    test = adding_problem(4, 4, seed=5)
    train(_model(), partial(adding_problem, 4), test, TrainConfig(steps=3, batch_size=2, progress=True))
    out = capsys.readouterr()
    assert out.out == "" and "training" in out.err


def test_lstm_learns_the_adding_problem_and_the_rnn_does_not():
    # At T = 20 a vanilla RNN learns too; T = 50 separates them. Measured with these seeds: LSTM
    # test MSE ~0.001, RNN ~0.14; the thresholds leave wide margins for other BLAS builds.
    T = 50
    test = adding_problem(T, 500, seed=123)
    baseline = mse_loss(np.ones_like(test[1]), test[1])
    assert 0.14 < baseline < 0.19
    config = TrainConfig(steps=800, batch_size=32, lr=0.02, eval_every=100, seed=0)
    lstm = Regressor(LSTMCell(2, 8, seed=2, forget_bias=1.0), seed=2)
    rnn = Regressor(RNNCell(2, 17, seed=0), seed=0)
    assert abs(lstm.n_params - rnn.n_params) < 0.05 * lstm.n_params  # a fair fight
    h_lstm = train(lstm, partial(adding_problem, T), test, config)
    h_rnn = train(rnn, partial(adding_problem, T), test, config)
    assert h_lstm.test_mse[-1] < 0.25 * baseline
    assert h_rnn.test_mse[-1] > 0.7 * baseline
    assert h_lstm.test_mse[-1] == pytest.approx(mse_loss(lstm.predict(test[0]), test[1]))


def test_target_mse_stops_early():
    T = 10
    test = adding_problem(T, 200, seed=4)
    model = Regressor(LSTMCell(2, 8, seed=1, forget_bias=1.0), seed=1)
    h = train(model, partial(adding_problem, T), test,
              TrainConfig(steps=2000, batch_size=32, lr=0.02, eval_every=10, target_mse=0.05))
    assert h.reached_step is not None and h.reached_step < 2000
    assert h.steps == h.reached_step == h.eval_step[-1]
    assert h.test_mse[-1] < 0.05 <= h.test_mse[:-1].min()


def test_regressor_rejects_what_is_not_a_cell():
    message = ("cell must follow lstmlib.protocol.Cell (D, H, dtype, params, n_params, step, "
               "forward, backward); object lacks D, H, dtype, params, n_params, step, forward, "
               "backward")
    with pytest.raises(TypeError, match=re.escape(message)):
        Regressor(object())


@pytest.mark.parametrize("bad", ["loss", "gradient"])
def test_nan_loss_or_gradient_stops_the_loop(bad, monkeypatch):
    model = _model()
    before = {k: p.copy() for k, p in model.params.items()}
    real = model.loss_and_grads

    def poisoned(xs, y):
        loss, grads = real(xs, y)
        if bad == "loss":
            return float("nan"), grads
        grads["W_f"][0, 0] = np.nan
        return loss, grads

    monkeypatch.setattr(model, "loss_and_grads", poisoned)
    with pytest.raises(TrainingDiverged, match=f"the {bad} became non-finite at step 1"):
        train(model, partial(adding_problem, 5), adding_problem(5, 4, seed=0), TrainConfig(steps=5))
    for k, p in model.params.items():
        np.testing.assert_array_equal(p, before[k])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_fraction_within_names_the_target_when_y_is_not_finite(bad):
    # the predictions are finite here: the message must blame y, not y_hat
    with pytest.raises(ValueError, match=re.escape(f"y must be finite; found {bad} at index (2, 0)")) as e:
        fraction_within(np.zeros((3, 1)), np.array([[0.0], [1.0], [bad]]), 0.1)
    assert str(e.value).startswith("y must be finite")


def test_the_callers_test_set_stays_writable_and_untouched():
    # the loop scores read-only copies of its own; the caller's arrays keep their flags and values
    xs_test, y_test = adding_problem(4, 3, seed=5)
    before = xs_test.copy(), y_test.copy()
    h = train(_model(), partial(adding_problem, 4), (xs_test, y_test),
              TrainConfig(steps=2, batch_size=2))
    assert xs_test.flags.writeable and y_test.flags.writeable
    np.testing.assert_array_equal(xs_test, before[0])
    np.testing.assert_array_equal(y_test, before[1])
    assert 0.0 <= h.seconds < 60.0  # the run's own duration, not a clock reading
    assert h.train_loss.dtype == np.float64 and h.train_loss.shape == (2,)
    assert np.isfinite(h.train_loss).all()


def test_a_nan_gradient_reports_the_finite_loss_of_its_batch(monkeypatch):
    model = _model()
    real = model.loss_and_grads
    seen = []

    def poisoned(xs, y):
        loss, grads = real(xs, y)
        seen.append(loss)
        grads["b_y"] = np.array([np.nan])
        return loss, grads

    monkeypatch.setattr(model, "loss_and_grads", poisoned)
    with pytest.raises(TrainingDiverged, match=r"the gradient became non-finite at step 1") as e:
        train(model, partial(adding_problem, 4), adding_problem(4, 3, seed=0),
              TrainConfig(steps=3, batch_size=2))
    assert f"(loss = {seen[0]})" in str(e.value)


def test_target_mse_is_reached_only_strictly_below_it():
    # a test MSE exactly equal to target_mse does not stop the run
    test = adding_problem(4, 6, seed=5)
    config = TrainConfig(steps=1, batch_size=2, eval_every=1)
    after_one = train(_model(), partial(adding_problem, 4), test, config).test_mse[-1]
    config = TrainConfig(steps=3, batch_size=2, eval_every=1, target_mse=float(after_one))
    h = train(_model(), partial(adding_problem, 4), test, config)
    assert h.test_mse[1] == after_one
    assert h.reached_step != 1 and h.steps > 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_readout_starts_uniform_in_one_over_root_H_and_zero(dtype):
    cell = RNNCell(2, 4, seed=0, dtype=dtype)
    model = Regressor(cell, seed=7)
    expected = np.random.default_rng(7).uniform(-0.5, 0.5, size=(1, 4)).astype(dtype)  # 1/√4
    np.testing.assert_array_equal(model.W_y, expected)
    assert model.W_y.dtype == dtype and model.b_y.dtype == dtype
    np.testing.assert_array_equal(model.b_y, np.zeros(1))
    np.testing.assert_array_equal(Regressor(cell).W_y, Regressor(cell, seed=0).W_y)  # seed 0


def test_make_optimizer_builds_the_named_one_with_the_learning_rate():
    sgd, adam = (TrainConfig(lr=0.25, optimizer=name).make_optimizer() for name in ("sgd", "adam"))
    assert type(sgd) is SGD and type(adam) is Adam and sgd.lr == adam.lr == 0.25
    with pytest.raises(ValueError, match=re.escape("optimizer must be 'adam' or 'sgd'; got 'Adam'")):
        TrainConfig(optimizer="Adam").make_optimizer()


class _Renamed(RNNCell):
    """An RNN cell whose params use the readout's names."""

    @property
    def params(self):
        p = super().params
        return {"W_y": p["W_h"], "b_y": p["b_h"]}


def test_regressor_refuses_a_cell_using_the_readouts_names():
    with pytest.raises(ValueError, match=re.escape(
            "the cell's params may not use the readout's names ['W_y', 'b_y']")):
        Regressor(_Renamed(2, 3))


def test_loss_and_grads_names_the_gradients_the_cell_left_out(monkeypatch):
    model = _model("rnn")
    real = model.cell.backward
    monkeypatch.setattr(model.cell, "backward",
                        lambda trace, dh: {k: v for k, v in real(trace, dh).items() if k == "x"})
    xs, y = adding_problem(4, 3, seed=0)
    with pytest.raises(TypeError, match=re.escape(
            "RNNCell.backward returned no gradient for W_h, b_h (it must return every name of "
            "its params)")):
        model.loss_and_grads(xs, y)


def test_adam_suggests_the_smallest_normal_of_the_parameters_dtype_as_eps():
    with pytest.raises(ValueError, match=re.escape(
            "Adam's eps = 1e-50 rounds to 0 in float32 (the dtype of parameter 'w'); use an eps "
            "of at least 1.18e-38")):
        Adam(eps=1e-50).step({"w": np.zeros(3, dtype=np.float32)}, {"w": np.zeros(3)})


@pytest.mark.parametrize("make", [lambda: SGD(1.0), lambda: Adam(1e39)], ids=["sgd", "adam"])
def test_an_update_that_overflows_a_float32_parameter_is_refused_without_a_warning(make):
    # the update is finite in float64 (1e39) and inf in the parameter's float32
    w = np.zeros(2, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TrainingDiverged, match=re.escape("update of w is not finite (")):
            make().step({"w": w}, {"w": np.array([-1e39, 0.0])})
    assert not w.any()


def test_optimizers_want_numpy_arrays_as_parameters():
    for opt in (SGD(0.1), Adam(0.1)):
        with pytest.raises(TypeError, match=re.escape(
                "parameter 'w' must be a numpy array, updated in place; got list")):
            opt.step({"w": [1.0, 2.0]}, {"w": np.ones(2)})


def _nan_readout():
    # h_T > 0 on every unit, W_y huge: h_T · W_y overflows to +inf, and b_y = -inf makes it NaN
    model = _model(H=3)
    for g in ("i", "c", "o"):
        model.cell.params[f"b_{g}"][:] = 20.0
    model.W_y[...] = 1e308
    model.b_y[...] = -np.inf
    return model


def test_predict_reports_a_nan_readout_without_a_numpy_warning():
    xs, _ = adding_problem(4, 2, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=re.escape(
                "the prediction overflowed float64 (nan at index (0, 0)); the readout W_y, b_y is "
                "too large")):
            _nan_readout().predict(xs)


def test_loss_and_grads_report_a_nan_readout_without_a_numpy_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=re.escape(
                "dh must be finite; found nan at index (3, 0, 0)")):
            _nan_readout().loss_and_grads(*adding_problem(4, 2, seed=0))


def test_an_optimizer_that_diverges_is_reported_with_its_step():
    # lr = 1e39 is a finite float64 but inf in a float32 cell's update
    model = Regressor(LSTMCell(2, 3, seed=0, dtype=np.float32), seed=1)
    with pytest.raises(TrainingDiverged, match="^" + re.escape(
            "at step 1: the Adam update of W_f is not finite (inf at index (0, 0))")):
        train(model, partial(adding_problem, 4), adding_problem(4, 3, seed=0),
              TrainConfig(steps=2, batch_size=2, lr=1e39))


@pytest.mark.parametrize("value", ["abc", None, [0.5]])
def test_a_metric_that_returns_no_number_is_named(value):
    with pytest.raises(TypeError, match="^" + re.escape(
            f"metric(y_hat, y) must return a real number; got {value!r} at step 0")):
        train(_model(), partial(adding_problem, 4), adding_problem(4, 3, seed=0),
              TrainConfig(steps=1, batch_size=2), metric=lambda y_hat, y: value)


def test_mse_of_a_perfect_prediction_is_exactly_zero():
    y = np.array([[0.5], [-2.0], [1e300]])
    assert mse_loss(y, y.copy()) == 0.0


def test_mse_of_an_infinite_prediction_is_inf_not_nan():
    # non-finite inputs give the plain mean: inf, as the caller sent; `train` refuses it by name
    with np.errstate(over="ignore", invalid="ignore"):
        assert mse_loss(np.array([[np.inf], [0.0]]), np.zeros((2, 1))) == np.inf
        assert mse_loss(np.zeros((2, 1)), np.array([[0.0], [-np.inf]])) == np.inf


def test_float32_mse_past_float32_range_uses_the_difference():
    # errors 3e19 and 1e19: the square 9e38 overflows float32; the mean (9e38 + 1e38) / 2 is
    # computed again in float64 from the differences
    y_hat = np.array([[4e19], [2e19]], dtype=np.float32)
    y = np.array([[1e19], [1e19]], dtype=np.float32)
    d = y_hat.astype(np.float64) - y.astype(np.float64)
    assert mse_loss(y_hat, y) == pytest.approx(float(np.mean(d * d)), rel=1e-12)


@pytest.mark.parametrize("fn", [mse_loss, mse_grad, lambda a, b: fraction_within(a, b, 0.1)],
                         ids=["mse_loss", "mse_grad", "fraction_within"])
def test_losses_name_the_argument_that_is_not_real(fn):
    text, zeros = np.array([["a"]]), np.zeros((1, 1))
    for args, name in (((text, zeros), "y_hat"), ((zeros, text), "y")):
        with pytest.raises(TypeError, match="^" + re.escape(
                f"{name} must hold real numbers (a float dtype); got dtype <U1")):
            fn(*args)


def test_a_float32_regressor_refuses_a_target_too_large_for_float32():
    model = Regressor(LSTMCell(2, 3, seed=0, dtype=np.float32), seed=1)
    xs, y = adding_problem(4, 2, seed=0)
    y[1, 0] = 1e39
    with pytest.raises(ValueError, match=re.escape(
            "y holds 1e+39 at index (1, 0), too large for float32")):
        model.loss_and_grads(xs, y)
