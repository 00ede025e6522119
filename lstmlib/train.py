"""What training needs: a linear readout, the MSE loss, SGD and Adam, gradient clipping, a loop.

A `Regressor` reads one number out of a cell's last hidden state, ŷ = W_y · h_T + b_y, and gets
its gradients from the cell's own `forward` and `backward`: the loss reaches the cell only as
dL/dh_T on the last step. `train` runs the loop with fixed seeds and returns a `History`.
"""

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from lstmlib.checks import (
    NonFiniteError,
    as_float_input,
    as_real_array,
    first_non_finite,
    positive_finite,
    positive_int,
    require_finite,
    require_same_shape,
    rng_from,
    unit_interval,
)
from lstmlib.protocol import check_cell

# --- the equations -------------------------------------------------------------------------

def readout(h_T, W_y, b_y):
    """Linear readout of the last hidden state: ŷ = W_y · h_T + b_y.

    h_T: (B, H)   W_y: (1, H)   b_y: (1,)   ->   (B, 1)
    """
    return h_T @ W_y.T + b_y


def _pair(y_hat, y):
    """ŷ and y as real arrays of one shape: (B, 1) against (B,) would broadcast to (B, B)."""
    y_hat, y = as_real_array(y_hat, "y_hat"), as_real_array(y, "y")
    require_same_shape(y_hat, y, "y_hat", "y")
    if y.size == 0:  # the mean of nothing is NaN
        raise ValueError(f"y_hat and y must hold at least one value; got shape {y.shape}")
    return y_hat, y


def mse_loss(y_hat, y):
    """Mean squared error: L = (1/N) Σ (ŷ − y)², N the number of entries.  (B, 1), (B, 1) -> float

    inf only when the mean itself exceeds the float64 range (which `train` reports): squares or
    their sum that overflow the inputs' dtype are summed again in float64, scaled.
    """
    y_hat, y = _pair(y_hat, y)
    with np.errstate(over="ignore"):
        loss = float(np.mean((y_hat - y) ** 2))
    if math.isfinite(loss) or not (np.isfinite(y_hat).all() and np.isfinite(y).all()):
        return loss
    d = np.asarray(y_hat, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    m = float(np.max(np.abs(d)))  # L = m² · mean((d/m)²), every |d/m| <= 1
    u = d / m
    return (m * float(np.mean(u * u))) * m  # a Python float: inf when L exceeds the range


def mse_grad(y_hat, y):
    """Gradient of the MSE: ∂L/∂ŷ = 2 (ŷ − y) / N.  (B, 1), (B, 1) -> (B, 1)"""
    y_hat, y = _pair(y_hat, y)
    return 2.0 * (y_hat - y) / y.size


def _norm_parts(grads):
    """(m, s) with ‖g‖ = m · √s, m the largest |entry|: no square of a large entry overflows.
    NaN or infinite gradients are refused by name."""
    m = 0.0
    for k, g in grads.items():
        g = as_real_array(g, f"gradient {k}")
        require_finite(g, f"gradient {k}")
        if g.size:
            m = max(m, float(np.max(np.abs(g))))
    if m == 0.0:
        return 0.0, 0.0
    s = 0.0
    for g in grads.values():
        u = np.asarray(g, dtype=np.float64) / m  # every |u| <= 1
        s += float(np.dot(u.ravel(), u.ravel()))
    return m, s


def global_norm(grads):
    """‖g‖ over every array of `grads` at once: √(Σ_k ‖g_k‖²), computed without overflow
    (scaled by the largest entry; inf only when the norm itself exceeds the float range)."""
    m, s = _norm_parts(grads)
    with np.errstate(over="ignore"):
        return float(np.float64(m) * np.sqrt(s))


def clip_grad_norm(grads, max_norm):
    """Global-norm clipping: g ← g · min(1, max_norm / ‖g‖), the same factor for every array.

    Returns (clipped grads, the norm before clipping). The direction of the step is kept, also
    for gradients whose squares would overflow (the norm is computed scaled).
    `grads`: a dict of real array-likes; each is taken as a numpy array (a list converted, an
    integer array promoted to float64; anything not real refused), and the clipped gradients are
    new float arrays, never the caller's.
    """
    max_norm = positive_finite(max_norm, "max_norm")
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads must be a dict of gradient arrays by name; got "
                        f"{type(grads).__name__}")
    grads = {k: as_real_array(g, f"gradient {k}") for k, g in grads.items()}
    m, s = _norm_parts(grads)
    # the smallest normal number of the narrowest float among the gradients (all float arrays
    # now): a clipped gradient of a smaller norm would underflow to zero or to subnormals that
    # keep few digits
    narrow = max((g.dtype for g in grads.values()), key=lambda d: np.finfo(d).tiny,
                 default=np.dtype(np.float64))
    tiny = float(np.finfo(narrow).tiny)
    if max_norm < tiny:
        raise ValueError(f"max_norm = {max_norm!r} is below the smallest normal {narrow.name} "
                         f"({tiny:.6g}): the clipped gradients would underflow; use a larger "
                         f"max_norm")
    with np.errstate(over="ignore"):
        norm = float(np.float64(m) * np.sqrt(s))
    if norm <= max_norm:  # also the zero gradient
        return {k: g * 1.0 for k, g in grads.items()}, norm
    # max_norm / (m √s), in two divisions: finite and non-zero even when m √s overflows
    scale = (max_norm / m) / math.sqrt(s)
    if scale >= tiny:
        return {k: g * scale for k, g in grads.items()}, norm
    # the scale itself underflows (huge gradients, a small max_norm): g/m <= 1 first
    scale = max_norm / math.sqrt(s)
    return {k: (g / m) * scale for k, g in grads.items()}, norm


def fraction_within(y_hat, y, tol):
    """Share of sequences whose absolute error |ŷ − y| is below `tol`.  (B, 1), (B, 1) -> float

    NaN or inf in ŷ or y is refused (a NaN would count silently as a miss)."""
    y_hat, y = _pair(y_hat, y)
    tol = positive_finite(tol, "tol")
    for name, a in (("y_hat", y_hat), ("y", y)):
        require_finite(a, name)
    return float(np.mean(np.abs(y_hat - y) < tol))


# --- the model -------------------------------------------------------------------------------

class Regressor:
    """A recurrent cell with a linear readout on its last hidden state.

    The cell is any cell that follows lstmlib.protocol.Cell (LSTMCell and its variants, RNNCell,
    ...). `params` holds the cell's own `params` under the book's names (views: updating them
    updates the cell) and the readout's W_y (1, H), drawn from U(-1/√H, 1/√H), and b_y (1,), zero.
    """

    def __init__(self, cell, *, seed=0):
        self.cell = check_cell(cell)
        clash = {"W_y", "b_y"} & set(cell.params)
        if clash:
            raise ValueError(f"the cell's params may not use the readout's names {sorted(clash)}")
        k = 1.0 / math.sqrt(cell.H)
        self.W_y = rng_from(seed).uniform(-k, k, size=(1, cell.H)).astype(cell.dtype)
        self.b_y = np.zeros(1, dtype=cell.dtype)

    def __repr__(self):
        return f"Regressor({self.cell!r}, n_params={self.n_params})"

    @property
    def params(self):
        return {**self.cell.params, "W_y": self.W_y, "b_y": self.b_y}

    @property
    def n_params(self):
        return sum(p.size for p in self.params.values())

    def _check(self, xs, y):
        xs = as_float_input(xs, "xs", self.cell.dtype)
        if xs.ndim != 3 or xs.shape[2] != self.cell.D:
            raise ValueError(f"xs must have shape (T, B, {self.cell.D}); got {xs.shape}")
        if y is not None:
            y = as_float_input(y, "y", self.cell.dtype)
            if y.shape != (xs.shape[1], 1):
                raise ValueError(f"y must have shape (B, 1) = ({xs.shape[1]}, 1) to match xs of "
                                 f"shape {xs.shape}; got {y.shape}")
        return xs, y

    def predict(self, xs):
        """ŷ for a batch. xs: (T, B, D)   ->   (B, 1)"""
        xs, _ = self._check(xs, None)
        trace = self.cell.forward(xs)
        with np.errstate(over="ignore", invalid="ignore"):
            y_hat = readout(trace.h_all[-1], self.W_y, self.b_y)
        at = first_non_finite(y_hat)
        if at is not None:
            raise NonFiniteError(f"the prediction overflowed {self.cell.dtype.name} "
                                 f"({y_hat[at]} at index {at}); the readout W_y, b_y is too large")
        return y_hat

    def loss_and_grads(self, xs, y):
        """The MSE on a batch and its gradient for every array in `params`.

        xs: (T, B, D)   y: (B, 1)   ->   (loss, {name: array shaped like params[name]})
        """
        xs, y = self._check(xs, y)
        trace = self.cell.forward(xs)
        h_T = trace.h_all[-1]                  # (B, H)
        # an overflow here turns into inf: the loss, or backward's check of dh, reports it
        with np.errstate(over="ignore", invalid="ignore"):
            y_hat = readout(h_T, self.W_y, self.b_y)
            loss = mse_loss(y_hat, y)
            dy = mse_grad(y_hat, y)            # (B, 1)
            dh = np.zeros_like(trace.h_all)    # (T, B, H): the loss sees h_T only
            dh[-1] = dy @ self.W_y
        grads = self._cell_grads(self.cell.backward(trace, dh))  # the cell's own names
        grads["W_y"], grads["b_y"] = dy.T @ h_T, dy.sum(axis=0)
        return loss, grads

    def _cell_grads(self, g):
        """The gradient of every array of the cell's `params`, in that order, from what its
        `backward` returned; a name it left out is a TypeError."""
        names = list(self.cell.params)
        gone = [k for k in names if k not in g]
        if gone:
            raise TypeError(f"{type(self.cell).__name__}.backward returned no gradient for "
                            f"{', '.join(gone)} (it must return every name of its params)")
        return {k: g[k] for k in names}


# --- optimizers ------------------------------------------------------------------------------

class TrainingDiverged(FloatingPointError):
    """A loss, a gradient or an update stopped being a finite number; the parameters were not
    updated with it."""


def _commit(params, new, name):
    """Write every new value into its parameter, or none of them if one is not finite (in the
    parameter's own dtype: a float64 update may overflow a float32 parameter). Every update has
    its parameter's shape: `_grads_for` checked the gradients, and Adam its running means."""
    with np.errstate(over="ignore"):
        new = {k: np.asarray(v, dtype=params[k].dtype) for k, v in new.items()}
    for k, v in new.items():
        at = first_non_finite(v)
        if at is not None:
            raise TrainingDiverged(
                f"the {name} update of {k} is not finite ({v[at]} at index {at}): the step "
                f"overflows. The parameters were not changed; lower the learning rate or clip "
                f"the gradients")
    for k, v in new.items():
        params[k][...] = v


def _grads_for(params, grads):
    """The gradient of every parameter, finite and of its parameter's shape; every parameter a
    writable float array (checked before anything is written: a step updates all or none)."""
    out = {}
    for k, p in params.items():
        if not isinstance(p, np.ndarray):
            raise TypeError(f"parameter {k!r} must be a numpy array, updated in place; got "
                            f"{type(p).__name__}")
        if p.dtype.kind != "f":
            raise TypeError(f"parameter {k!r} must be a float array (float32 or float64); got "
                            f"dtype {p.dtype} (an update written into it would be truncated)")
        if not p.flags.writeable:
            raise ValueError(f"parameter {k!r} is read-only: the optimizer updates every "
                             f"parameter in place; nothing was changed")
        if k not in grads:
            raise KeyError(f"no gradient for parameter {k!r}; got gradients for {sorted(grads)}")
        g = as_real_array(grads[k], f"gradient {k}")
        if g.shape != p.shape:
            raise ValueError(f"gradient {k} must have the shape of its parameter {p.shape}; "
                             f"got {g.shape}")
        require_finite(g, f"gradient {k}")
        out[k] = g
    names = list(params)
    for a, k in enumerate(names):  # a view of another parameter would be updated twice
        for j in names[a + 1:]:
            p, q = params[k], params[j]
            if np.may_share_memory(p, q) and np.shares_memory(p, q):
                raise ValueError(f"parameters {k!r} and {j!r} share memory: one update would be "
                                 f"written over the other. Give each array once; nothing was "
                                 f"changed")
    return out


class SGD:
    """Plain gradient descent: θ ← θ − η g."""

    def __init__(self, lr):
        self.lr = positive_finite(lr, "the learning rate")

    def step(self, params, grads):
        """Update every array of `params` in place with its gradient in `grads`; raises
        TrainingDiverged, changing nothing, if an update is not finite."""
        grads = _grads_for(params, grads)
        with np.errstate(over="ignore", invalid="ignore"):
            new = {k: p - self.lr * grads[k] for k, p in params.items()}
        _commit(params, new, "SGD")


class Adam:
    """Adam (Kingma & Ba 2015). With g the gradient at step t = 1, 2, ...:

        m ← β₁ m + (1 − β₁) g        v ← β₂ v + (1 − β₂) g²
        m̂ = m / (1 − β₁ᵗ)            v̂ = v / (1 − β₂ᵗ)         (bias correction: m, v start at 0)
        θ ← θ − η m̂ / (√v̂ + ε)
    """

    def __init__(self, lr=1e-3, *, betas=(0.9, 0.999), eps=1e-8):
        self.lr = positive_finite(lr, "the learning rate")
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2); got {betas!r}")
        self.beta1 = unit_interval(betas[0], "beta1")
        self.beta2 = unit_interval(betas[1], "beta2")
        # eps > 0 keeps the division defined where a gradient has been zero (v = 0)
        self.eps = positive_finite(eps, "eps")
        self.t = 0
        self.m, self.v = {}, {}

    def step(self, params, grads):
        """Update every array of `params` in place with its gradient in `grads`; raises
        TrainingDiverged, changing nothing (not even m, v or t), if an update is not finite."""
        grads = _grads_for(params, grads)
        for k, p in params.items():  # eps = 0 would divide 0 by 0 where v = 0
            if k in self.m and self.m[k].shape != p.shape:  # m, v would broadcast
                raise ValueError(
                    f"Adam's running means for parameter {k!r} have shape {self.m[k].shape}; the "
                    f"parameter now has shape {p.shape}. Use one Adam per set of parameters; "
                    f"nothing was changed")
            if p.dtype.type(self.eps) == 0:
                raise ValueError(
                    f"Adam's eps = {self.eps!r} rounds to 0 in {p.dtype.name} (the dtype of "
                    f"parameter {k!r}); use an eps of at least {np.finfo(p.dtype).tiny:.3g}")
        t = self.t + 1
        c1 = 1.0 - self.beta1 ** t
        c2 = 1.0 - self.beta2 ** t
        new_p, new_m, new_v = {}, {}, {}
        with np.errstate(over="ignore", invalid="ignore"):
            for k, p in params.items():
                g = grads[k]
                m = self.m.get(k, 0.0) * self.beta1 + (1.0 - self.beta1) * g
                v = self.v.get(k, 0.0) * self.beta2 + (1.0 - self.beta2) * g * g
                new_m[k], new_v[k] = m, v
                new_p[k] = p - self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)
        for k, v in new_v.items():  # v = inf would silently stop every later update of k
            if not np.isfinite(v).all():
                raise TrainingDiverged(
                    f"Adam's running mean of the squared gradient of {k} overflowed (a gradient "
                    f"of about 1e154 or more); nothing was changed. Clip the gradients")
        _commit(params, new_p, "Adam")
        self.m.update(new_m)
        self.v.update(new_v)
        self.t = t


# --- the loop --------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run."""

    steps: int = 1000            # optimizer steps (one batch each)
    batch_size: int = 64         # sequences per step
    lr: float = 1e-2             # learning rate η
    optimizer: str = "adam"      # "adam" or "sgd"
    clip: float | None = 1.0     # max global gradient norm; None for no clipping
    eval_every: int = 25         # steps between two evaluations on the test set
    target_mse: float | None = None  # stop at the first evaluation whose test MSE is below this
    seed: int = 0                # seed of the training batches
    progress: bool = False       # a tqdm bar on stderr, for a human watching; off for tests

    def check(self):
        """Refuse settings that cannot run or would be silently ignored."""
        positive_int(self.steps, "steps")
        positive_int(self.batch_size, "batch_size")
        positive_int(self.eval_every, "eval_every")
        if self.clip is not None:
            positive_finite(self.clip, "clip")
        if self.target_mse is not None:
            positive_finite(self.target_mse, "target_mse")
        rng_from(self.seed)

    def make_optimizer(self):
        if self.optimizer == "adam":
            return Adam(self.lr)
        if self.optimizer == "sgd":
            return SGD(self.lr)
        raise ValueError(f"optimizer must be 'adam' or 'sgd'; got {self.optimizer!r}")


@dataclass(frozen=True)
class History:
    """What a run did. Losses are MSEs; steps count optimizer updates."""

    train_loss: np.ndarray   # (steps_run,) loss of every training batch, before its update
    eval_step: np.ndarray    # (n_evals,) the step after which each evaluation ran (0: before any)
    test_mse: np.ndarray     # (n_evals,) MSE on the test set at those steps
    test_metric: np.ndarray | None  # (n_evals,) metric(ŷ, y) on the test set, if one was given
    batch_size: int          # sequences per step
    reached_step: int | None  # first evaluated step with test MSE < target_mse, if any
    seconds: float           # wall-clock time of the run (varies between runs)

    @property
    def steps(self):
        return len(self.train_loss)

    @property
    def sequences_seen(self):
        return self.steps * self.batch_size


def train(model, sample, test, config=TrainConfig(), *, metric=None):
    """Train `model` (a Regressor) in place with batches drawn by `sample`.

    sample(batch_size, *, seed) -> (xs (T, B, D), y (B, 1)), e.g. partial(adding_problem, 50);
    it receives one Generator seeded with `config.seed`, so a run is reproducible.
    test: (xs_test, y_test), evaluated every `config.eval_every` steps by the MSE and, if given,
    by metric(y_hat, y) -> float (e.g. partial(fraction_within, tol=0.08)); the loop scores its own
    read-only copy of it.
    Raises TrainingDiverged if any value met inside the loop (a loss, a gradient, an update, a
    hidden state, a test prediction) is NaN or infinite, leaving the parameters as they were
    before the step that produced it. Bad data from `sample` or `test` is a ValueError, and so
    is a batch from `sample` of another size than config.batch_size, or a metric that returns
    NaN or inf (the predictions it scores are finite: the metric is at fault).
    """
    config.check()
    optimizer = config.make_optimizer()
    xs_test, y_test = test
    xs_test, y_test = model._check(xs_test, y_test)
    # the loop's own read-only copies: every evaluation scores the same test set, whatever the
    # caller (or a metric working in place) does to its arrays meanwhile
    xs_test, y_test = np.array(xs_test, copy=True), np.array(y_test, copy=True)
    xs_test.flags.writeable = y_test.flags.writeable = False
    rng = rng_from(config.seed)
    params = model.params
    losses, eval_step, test_mse, test_metric = [], [], [], []
    advice = f"Lower the learning rate (now {config.lr}) or clip the gradients (clip = {config.clip})."

    def evaluate(step):
        try:
            y_hat = model.predict(xs_test)
        except NonFiniteError as exc:
            raise TrainingDiverged(f"the test predictions became non-finite after step {step}: "
                                   f"{exc}. {advice}") from exc
        mse = mse_loss(y_hat, y_test)
        if not math.isfinite(mse):
            raise TrainingDiverged(f"the test MSE became non-finite after step {step} "
                                   f"(MSE = {mse}). {advice}")
        eval_step.append(step)
        test_mse.append(mse)
        if metric is not None:
            value = metric(y_hat, y_test)
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise TypeError(f"metric(y_hat, y) must return a real number; got {value!r} at "
                                f"step {step}") from None
            if not math.isfinite(value):  # the predictions are finite: the metric is at fault
                raise ValueError(f"metric(y_hat, y) returned {value} at step {step}; a metric "
                                 f"must return a finite number")
            test_metric.append(value)

    def diverged(what, step, loss="not computed"):
        return TrainingDiverged(
            f"the {what} became non-finite at step {step} (loss = {loss}); the parameters keep "
            f"their values from step {step - 1}. {advice}")

    evaluate(0)
    reached = None
    start = time.perf_counter()
    for step in tqdm(range(1, config.steps + 1), disable=not config.progress, desc="training",
                     unit="step"):
        xs, y = model._check(*sample(config.batch_size, seed=rng))  # bad data: a ValueError
        if xs.shape[1] != config.batch_size:  # History counts batch_size sequences per step
            raise ValueError(f"sample({config.batch_size}, seed=...) returned a batch of "
                             f"{xs.shape[1]} sequences at step {step}; expected "
                             f"{config.batch_size} (config.batch_size)")
        try:
            loss, grads = model.loss_and_grads(xs, y)
        except NonFiniteError as exc:  # a hidden state, dh or a gradient overflowed
            raise diverged(f"computation ({exc})", step) from exc
        if not math.isfinite(loss):
            raise diverged("loss", step, loss)
        if not all(np.isfinite(g).all() for g in grads.values()):
            raise diverged("gradient", step, loss)
        if config.clip is not None:
            grads, _ = clip_grad_norm(grads, config.clip)
        try:
            optimizer.step(params, grads)
        except TrainingDiverged as exc:
            raise TrainingDiverged(f"at step {step}: {exc}") from exc
        losses.append(loss)
        if step % config.eval_every == 0 or step == config.steps:
            evaluate(step)
            if config.target_mse is not None and test_mse[-1] < config.target_mse:
                reached = step
                break
    return History(train_loss=np.array(losses), eval_step=np.array(eval_step),
                   test_mse=np.array(test_mse),
                   test_metric=np.array(test_metric) if metric is not None else None,
                   batch_size=config.batch_size, reached_step=reached,
                   seconds=time.perf_counter() - start)
