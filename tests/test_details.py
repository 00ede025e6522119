"""Details the other tests left open, found by mutation testing (`make mutants`): the dtype of
every result of a float32 cell, the exact wording of the overflow errors, the edges of
fraction_within and marked_steps."""

import re
import warnings
from functools import partial

import numpy as np
import pytest

from lstmlib import LSTMCell, RNNCell, sigmoid, tanh
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
    train,
)

F32, F64 = np.float32, np.float64


# --- a float32 cell keeps float32, whatever the inputs ------------------------------------------

def test_rnn_float32_step_and_backward_stay_float32():
    cell = RNNCell(2, 3, dtype=F32)
    s = cell.step(np.ones(2), np.ones(3))         # float64 inputs
    assert s.h.dtype == F32
    tr = cell.forward(np.ones((4, 2)))
    g = cell.backward(tr, np.ones((4, 3)))         # float64 dh
    assert all(v.dtype == F32 for v in g.values()), {k: v.dtype for k, v in g.items()}


def _rnn_backward_float32_reference(cell, tr, dh):
    """The RNN's backward written out with float32 arrays only, in the library's order of
    operations: every temporary float32, so the results match bit for bit."""
    H = cell.H
    Wh = np.ascontiguousarray(cell.W[:, :H])
    h = tr.h_all
    dA = np.subtract(np.float32(1), h * h)
    dh_next = np.zeros(h.shape[1:], dtype=F32)
    dh_t = np.empty_like(dh_next)
    for t in range(h.shape[0] - 1, -1, -1):
        np.add(dh[t], dh_next, out=dh_t)
        dA[t] *= dh_t
        np.matmul(dA[t], Wh, out=dh_next)
    return dh_next


def test_rnn_float32_backward_computes_in_float32():
    rng = np.random.default_rng(3)
    cell = RNNCell(3, 5, dtype=F32, seed=1)
    tr = cell.forward(rng.normal(size=(7, 4, 3)).astype(F32))
    dh = rng.normal(size=(7, 4, 5))                  # float64: cast to float32 first
    np.testing.assert_array_equal(cell.backward(tr, dh)["h0"],
                                  _rnn_backward_float32_reference(cell, tr, dh.astype(F32)))


def test_assigning_values_too_large_for_a_float32_cell_is_refused():
    for cell in (LSTMCell(2, 3, dtype=F32), RNNCell(2, 3, dtype=F32)):
        name = type(cell).__name__
        with pytest.raises(NonFiniteError, match=re.escape(f"{name}.W holds 1e+39 at index (0, 0), "
                                                           "too large for float32")):
            cell.W = np.full(cell.W.shape, 1e39)
        assert np.isfinite(cell.W).all()


# --- the overflow errors name where it happened -------------------------------------------------

def _rnn(Wh, Wx):
    cell = RNNCell(1, 1, dtype=F32)
    cell.W[:] = [[Wh, Wx]]
    return cell


def test_rnn_overflow_messages():
    quiet = warnings.catch_warnings()
    with quiet:
        warnings.simplefilter("ignore")
        nan_cell = RNNCell(1, 1, dtype=F32)
        nan_cell.W[:] = [[3e38, -3e38]]            # 2·3e38 - 2·3e38 = inf - inf
        with pytest.raises(NonFiniteError, match=r"^step: h_t overflowed float32 \(found nan"):
            nan_cell.step(np.full(1, 2.0), np.full(1, 2.0))
        with pytest.raises(NonFiniteError, match=r"^forward: h_T overflowed float32 \(found nan"):
            nan_cell.forward(np.full((2, 1), 2.0), np.full(1, 2.0))
        # dx = dA · W_x overflows while dW stays finite (x and h tiny)
        cell = _rnn(0.0, 10.0)
        tr = cell.forward(np.full((2, 1), 1e-30))
        with pytest.raises(NonFiniteError, match=r"^backward: the gradient of x overflowed float32"):
            cell.backward(tr, np.full((2, 1), 3e38))
        # dh_0 = dA · W_h overflows at the first step (h_0 = 0, x tiny)
        cell = _rnn(10.0, 0.0)
        tr = cell.forward(np.full((1, 1), 1e-30))
        with pytest.raises(NonFiniteError, match=r"^backward: the gradient of h0 overflowed float32"):
            cell.backward(tr, np.full((1, 1), 3e38))
        cell = _rnn(0.0, 1e-3)                      # dW_x = Σ_t dA_t x_t: four times 3e38
        tr = cell.forward(np.full((4, 1), 1.0))
        with pytest.raises(NonFiniteError, match=r"^backward: the gradient of W overflowed float32"):
            cell.backward(tr, np.full((4, 1), 3e38))


# --- the training helpers ---------------------------------------------------------------------

def test_fraction_within_measures_the_error_strictly_below_tol():
    y_hat = np.array([[1.0], [2.0], [0.5], [0.0]])
    y = np.array([[1.0], [0.0], [0.25], [3.0]])     # errors 0, 2, 0.25 (= tol), 3
    assert fraction_within(y_hat, y, 0.25) == 0.25  # only the exact hit; 0.25 is not below 0.25
    assert fraction_within(y_hat, y, 0.3) == 0.5


def test_sgd_names_itself_and_stays_quiet_when_it_overflows():
    with warnings.catch_warnings():
        warnings.simplefilter("error")              # no numpy overflow warning on the way
        with pytest.raises(TrainingDiverged, match=r"^the SGD update of w is not finite \(-inf"):
            SGD(1e300).step({"w": np.array([1.0])}, {"w": np.array([1e300])})


def test_marked_steps_messages():
    with pytest.raises(TypeError, match=re.escape("xs must hold real numbers (a float dtype); "
                                                  "got dtype complex128")):
        marked_steps(np.zeros((4, 2, 2), dtype=complex))
    xs, _ = adding_problem(6, 3, seed=0)
    xs[:, 2, 1] = 0.0                                # the last sequence lost both marks
    with pytest.raises(ValueError, match=re.escape("every sequence must have exactly two marks; "
                                                   "counts are [2, 2, 0]")):
        marked_steps(xs)


def test_marked_steps_order_and_shape():
    xs, _ = adding_problem(8, 5, seed=4)
    m = marked_steps(xs)
    assert m.shape == (5, 2) and (m[:, 0] < m[:, 1]).all()
    for b in range(5):
        assert set(np.flatnonzero(xs[:, b, 1])) == set(m[b])


def test_lstm_float32_step_stays_float32_with_float64_states():
    cell = LSTMCell(2, 3, dtype=F32)
    s = cell.step(np.ones(2), np.ones(3), np.ones(3))
    assert all(v.dtype == F32 for v in vars(s).values()), {k: v.dtype for k, v in vars(s).items()}
    tr = RNNCell(2, 3, dtype=F32).forward(np.ones((4, 2)), np.ones(3))
    assert tr.h0.dtype == F32 and tr.h.dtype == F32 and tr.xs.dtype == F32


def test_rnn_float32_forward_computes_in_float32():
    rng = np.random.default_rng(5)
    cell = RNNCell(3, 5, dtype=F32, seed=2)
    xs = rng.normal(size=(6, 4, 3)).astype(F32)
    h = rng.normal(size=(4, 5)).astype(F32)
    tr = cell.forward(xs, h)
    W, b, H = cell.W.copy(), cell.b.copy(), cell.H
    a = (xs.reshape(-1, 3) @ W[:, H:].T).reshape(6, 4, 5)
    a += b
    WhT = np.ascontiguousarray(W[:, :H].T)
    hWh = np.empty((4, 5), dtype=F32)
    for t in range(6):
        np.matmul(h, WhT, out=hWh)
        a[t] += hWh
        h = np.tanh(a[t], out=a[t])
    np.testing.assert_array_equal(tr.h, a)


def test_rnn_forward_finds_a_nan_at_the_last_step():
    cell = RNNCell(2, 1, dtype=F32)
    cell.W[:] = [[0.0, 3e38, -3e38]]
    xs = np.zeros((3, 2))
    xs[-1] = 2.0                                     # inf - inf only at the last step
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(NonFiniteError, match=r"^forward: h_T overflowed float32 \(found nan "
                                                 r"at index \(0, 0\)\)"):
            cell.forward(xs)


def test_rnn_defaults_and_messages():
    np.testing.assert_array_equal(RNNCell(2, 3).W, RNNCell(2, 3, seed=0).W)
    assert not RNNCell(2, 3).b.any()
    with pytest.raises(ValueError, match=re.escape("input_size must be a positive integer; got 0")):
        RNNCell(0, 3)
    with pytest.raises(ValueError, match=re.escape("hidden_size must be a positive integer; got -1")):
        RNNCell(2, -1)


def test_step_names_h_when_only_the_output_gate_overflows():
    cell = LSTMCell(1, 1, dtype=F32)
    cell.params["W_o"][0] = [3e38, -3e38]            # o = σ(inf - inf) = NaN; c_t stays finite
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(NonFiniteError, match=r"^step: h_t overflowed float32 \(found nan"):
            cell.step(np.full(1, 2.0), np.full(1, 2.0), np.ones(1))


def test_scalars_in_scalars_out():
    for f in (sigmoid, tanh):
        out = f(0.5)
        assert not isinstance(out, np.ndarray) and isinstance(out, np.floating), f.__name__
        assert isinstance(f(np.array([0.5])), np.ndarray) and f(np.array([0.5])).shape == (1,)
        assert f(np.ones((2, 3))).shape == (2, 3)


def test_global_norm_by_hand_and_without_underflow():
    assert global_norm({"a": np.array([3.0]), "b": np.array([[4.0]])}) == 5.0
    assert global_norm({"a": np.zeros(3)}) == 0.0
    assert global_norm({"a": np.full(4, 1e-200)}) == pytest.approx(2e-200, rel=1e-12, abs=0)
    g = np.random.default_rng(0).normal(size=1000).astype(F32)  # summed in float64
    assert global_norm({"g": g}) == pytest.approx(float(np.linalg.norm(g.astype(F64))), rel=1e-13)
    with pytest.raises(TypeError, match=re.escape("gradient a must hold real numbers")):
        global_norm({"a": np.array([1j])})


def test_clipping_at_exactly_max_norm_returns_the_gradients_unchanged():
    g = {"a": np.array([-4.337885084986644, 5.215953574133879, 4.6369730392973185])}
    norm = global_norm(g)
    clipped, got = clip_grad_norm(g, norm)           # rescaling by norm/norm would move a bit
    assert got == norm
    np.testing.assert_array_equal(clipped["a"], g["a"])
    with pytest.raises(ValueError, match=re.escape("max_norm must be a positive finite number; got 0.0")):
        clip_grad_norm(g, 0.0)


def test_adam_names_itself_stays_quiet_and_refuses_an_overflowing_second_moment():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TrainingDiverged, match=r"^the Adam update of w is not finite"):
            Adam(1.5e308).step({"w": np.array([-1.5e308])}, {"w": np.array([1.0])})
        adam, p = Adam(0.1), {"w": np.array([1.0])}
        with pytest.raises(TrainingDiverged, match="squared gradient of w overflowed"):
            adam.step(p, {"w": np.array([1e200])})       # g² = inf: v would stop all updates
    assert p["w"][0] == 1.0 and adam.t == 0 and not adam.v


def test_trace_at_counts_from_the_end():
    tr = LSTMCell(2, 3).forward(np.random.default_rng(0).normal(size=(4, 2)))
    for name in ("h", "c", "f", "F"):
        np.testing.assert_array_equal(getattr(tr.at(-4), name), getattr(tr.at(0), name))
    with pytest.raises(IndexError, match=re.escape("timestep -5 is outside a trace of T=4 steps")):
        tr.at(-5)
    with pytest.raises(TypeError, match=re.escape("timestep must be an integer; got True (bool)")):
        tr.at(True)


# --- the training loop's settings and messages --------------------------------------------------

@pytest.mark.parametrize("field, value, message", [
    ("steps", 0, "steps must be a positive integer; got 0"),
    ("batch_size", 0, "batch_size must be a positive integer; got 0"),
    ("eval_every", -1, "eval_every must be a positive integer; got -1"),
    ("clip", 0.0, "clip must be a positive finite number; got 0.0"),
    ("target_mse", -1.0, "target_mse must be a positive finite number; got -1.0"),
])
def test_train_config_messages(field, value, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        TrainConfig(**{field: value}).check()


def test_adam_defaults_and_beta_messages():
    a = Adam()
    assert (a.lr, a.beta1, a.beta2, a.eps) == (1e-3, 0.9, 0.999, 1e-8)
    assert Adam(betas=(0.0, 0.0)).beta1 == 0.0      # 0 is allowed: no momentum
    for betas, name in (((1.0, 0.5), "beta1"), ((0.5, 1.0), "beta2"), ((False, 0.5), "beta1")):
        with pytest.raises(ValueError, match=f"^{name} must be a real number in \\[0, 1\\); got"):
            Adam(betas=betas)


def test_optimizers_refuse_non_finite_gradients_by_name():
    for opt in (SGD(0.1), Adam(0.1)):
        message = "gradient w must be finite; found nan at index (1,)"
        with pytest.raises(NonFiniteError, match=re.escape(message)):
            opt.step({"w": np.ones(2)}, {"w": np.array([0.0, np.nan])})
        with pytest.raises(TypeError, match=re.escape("gradient w must hold real numbers")):
            opt.step({"w": np.ones(1)}, {"w": np.array([1j])})


def _regressor(H=3):
    return Regressor(LSTMCell(2, H, seed=0, forget_bias=1.0), seed=1)


def test_predict_reads_the_last_hidden_state():
    model = _regressor()
    xs, _ = adding_problem(6, 4, seed=2)
    h_T = model.cell.forward(xs).h[-1]
    np.testing.assert_allclose(model.predict(xs), h_T @ model.W_y.T + model.b_y, rtol=1e-14)


def test_training_messages_say_what_and_when():
    sample, test = partial(adding_problem, 5), adding_problem(5, 4, seed=0)
    config = TrainConfig(steps=3, batch_size=4, lr=1e4, optimizer="sgd", clip=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = _regressor()
        for g in ("i", "c", "o"):                    # every h_t close to tanh(1) or more
            model.cell.params[f"b_{g}"][:] = 20.0
        model.W_y[...] = 1e308                       # three units: the readout overflows at once
        with pytest.raises(TrainingDiverged, match=(
                r"^the test predictions became non-finite after step 0: the prediction overflowed "
                r"float64 \(inf at index \(\d+, 0\)\); the readout W_y, b_y is too large\. Lower the "
                r"learning rate \(now 10000\.0\) or clip the gradients \(clip = None\)\.$")):
            train(model, sample, test, config)
        xs, y = test
        with pytest.raises(TrainingDiverged, match=r"^the test MSE became non-finite after step 0 "
                                                   r"\(MSE = inf\)\. Lower the learning rate"):
            train(_regressor(), sample, (xs, y * 1e300), config)
        with pytest.raises(TrainingDiverged, match=(
                r"^the computation \(.+\) became non-finite at step \d+ \(loss = not computed\); the "
                r"parameters keep their values from step \d+\. Lower the learning rate")):
            train(_regressor(), sample, test, TrainConfig(steps=50, batch_size=4, lr=1e4,
                                                          optimizer="sgd", clip=None))

    def huge(batch_size, *, seed):
        xs, y = adding_problem(5, batch_size, seed=seed)
        return xs, y * 1e200                          # the squared error overflows: loss = inf

    with pytest.raises(TrainingDiverged, match=r"^the loss became non-finite at step 1 \(loss = inf\)"):
        train(_regressor(), huge, test, TrainConfig(steps=2, batch_size=4))


def test_progress_bar_names_the_run_and_its_unit(capsys):
    train(_regressor(), partial(adding_problem, 5), adding_problem(5, 4, seed=0),
          TrainConfig(steps=2, batch_size=4, progress=True))
    err = capsys.readouterr().err
    assert "training:" in err and ("step/s" in err or "s/step" in err), err
