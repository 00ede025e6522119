"""A vanilla (Elman) RNN cell, h_t = tanh(W_h · [h_{t-1}, x_t] + b_h), for comparison.

It has the same shape of API as `LSTMCell`: `params`, `step`, `forward`, `backward`.
"""

from dataclasses import dataclass, field, fields

import numpy as np

from lstmlib.activations import concat, tanh
from lstmlib.checks import (
    as_float_input,
    check_input,
    check_state,
    float_dtype,
    positive_int,
    require_shape,
    rng_from,
)
from lstmlib.weights import WeightOwner, claim_ticket, freeze_owners, read_only_view


def rnn_hidden(z, W_h, b_h):
    """Vanilla RNN step: h_t = tanh(W_h · [h_{t-1}, x_t] + b_h).

    z: (B, H+D)   W_h: (H, H+D)   b_h: (H,)   ->   (B, H)
    """
    return tanh(z @ W_h.T + b_h)


@dataclass(frozen=True)
class RNNStep:
    """One timestep of the vanilla RNN (read-only)."""

    h: np.ndarray  # new hidden state, (H,) or (B, H)

    def __post_init__(self):
        object.__setattr__(self, "h", read_only_view(self.h))


@dataclass(frozen=True)
class RNNTrace:
    """A forward pass over T steps; `h` is (T, H) or (T, B, H) as `xs` was given.

    Its arrays are its own (never the caller's) and read-only views of read-only owners;
    `source` records the cell and the versions of its weights, and `backward` takes only the very
    object forward() returned (see `Trace`)."""

    xs: np.ndarray = field(repr=False)     # (T, B, D)
    h0: np.ndarray = field(repr=False)     # (B, H)
    h_all: np.ndarray = field(repr=False)  # (T, B, H)
    batched: bool = True
    source: tuple = field(default=(None, (None, None)), repr=False, compare=False)

    def __post_init__(self):
        for name in ("xs", "h0", "h_all"):
            object.__setattr__(self, name, read_only_view(getattr(self, name)))
        claim_ticket(self)  # registers the trace with the cell whose forward() made it

    def __reduce__(self):  # a copy is made through __init__: its arrays are read-only too
        return (type(self), tuple(getattr(self, f.name) for f in fields(self)))

    T = property(lambda self: self.xs.shape[0])
    h = property(lambda self: self.h_all if self.batched else self.h_all[:, 0])


class RNNCell(WeightOwner):
    """A tanh RNN cell with input size D and hidden size H.

    Weights U(-1/√H, 1/√H), as torch.nn.RNN; bias 0. `params`: W_h (H, H+D) acting on
    [h_{t-1}, x_t], and b_h (H,): the cell's W and b, whose writes the cell counts as
    `LSTMCell` does.
    """

    def __init__(self, input_size, hidden_size, *, seed=0, dtype=np.float64):
        self.D = positive_int(input_size, "input_size")
        self.H = positive_int(hidden_size, "hidden_size")
        self.dtype = float_dtype(dtype)
        k = 1.0 / np.sqrt(self.H)
        W = rng_from(seed).uniform(-k, k, size=(self.H, self.H + self.D)).astype(self.dtype)
        self._init_weights(W, np.zeros(self.H, dtype=self.dtype))
        self._fused = None

    def __repr__(self):
        return f"RNNCell(input_size={self.D}, hidden_size={self.H}, dtype={self.dtype.name})"

    @property
    def params(self):
        return {"W_h": self.W, "b_h": self.b}

    @property
    def n_params(self):
        return self._W.size + self._b.size

    def _prepared(self):
        """W_h^T (H, H), contiguous, made once per change of the weights (checked finite)."""
        versions = self._versions()
        if self._fused is None or self._fused[0] != versions:
            self._check_weights()
            WhT = np.ascontiguousarray(self._W[:, :self.H].T)
            WhT.flags.writeable = False
            self._fused = (versions, WhT)
        return self._fused[1]

    def step(self, x, h_prev=None):
        """One timestep. x: (D,) or (B, D); h_prev: (H,) or (B, H), zeros if omitted."""
        x = check_input(x, "x", self.D, self.dtype, sequence=False)
        batched = x.ndim == 2
        B = x.shape[0] if batched else 1
        h_prev = check_state(h_prev, "h_prev", B, self.H, batched, self.dtype)
        self._check_weights()
        h = rnn_hidden(concat(h_prev, x.reshape(B, self.D)), self._W, self._b)
        self._finite_result("step", [("h_t", h)])
        freeze_owners(h)
        return RNNStep(h=h if batched else h[0])

    def forward(self, xs, h0=None):
        """Run T steps. xs: (T, D) or (T, B, D); h0: (H,) or (B, H). Returns an `RNNTrace`."""
        xs = check_input(xs, "xs", self.D, self.dtype, sequence=True, copy=True)
        batched = xs.ndim == 3
        T, H = xs.shape[0], self.H
        B = xs.shape[1] if batched else 1
        xs = xs.reshape(T, B, self.D)
        h0 = check_state(h0, "h0", B, self.H, batched, self.dtype, copy=True)
        source = self._source()  # first: it notices writes the weight views could not see
        WhT = self._prepared()  # (H, H)
        Wx = self._W[:, H:]
        h_all = (xs.reshape(T * B, self.D) @ Wx.T).reshape(T, B, H)  # input projection, one GEMM
        h_all += self._b
        hWh = np.empty((B, H), dtype=self.dtype)  # h_{t-1} · W_h, reused every step
        h = h0
        for t in range(T):
            a = h_all[t]                             # (B, H), a view: filled in place
            np.matmul(h, WhT, out=hWh)
            a += hWh
            h = np.tanh(a, out=a)
        self._finite_result("forward", [("h_T", h_all[-1])])  # a NaN anywhere reaches h_T
        freeze_owners(xs, h0, h_all)
        return RNNTrace(xs=xs, h0=h0, h_all=h_all, batched=batched, source=source)

    def backward(self, trace, dh):
        """Backpropagation through time; dh shaped like `trace.h`.

        Returns {"W_h", "b_h", "x", "h0"}.
        """
        if not isinstance(trace, RNNTrace):
            raise TypeError(f"trace must be an RNNTrace from forward(); got {type(trace).__name__}")
        T, B, H = trace.h_all.shape
        if trace.xs.shape[2] != self.D or H != self.H:
            raise ValueError(f"trace has D={trace.xs.shape[2]}, H={H}; this cell has "
                             f"D={self.D}, H={self.H}")
        self._check_source(trace)
        dh = as_float_input(dh, "dh", self.dtype)
        require_shape(dh, trace.h.shape, "dh")
        dh = dh.reshape(T, B, H)
        Wh = np.ascontiguousarray(self._W[:, :H])  # (H, H)
        Wx = self._W[:, H:]
        dA = np.multiply(trace.h_all, trace.h_all)  # (T, B, H), becomes ∂L/∂a_t below
        np.subtract(1.0, dA, out=dA)                # tanh' = 1 - h², for all steps at once
        dh_next = np.zeros((B, H), dtype=self.dtype)
        dh_t = np.empty_like(dh_next)
        for t in range(T - 1, -1, -1):
            np.add(dh[t], dh_next, out=dh_t)
            dA[t] *= dh_t
            np.matmul(dA[t], Wh, out=dh_next)
        h_prev = np.concatenate([trace.h0[None], trace.h_all[:-1]])
        dA2 = dA.reshape(T * B, H)
        dW = np.concatenate([dA2.T @ h_prev.reshape(T * B, H),
                             dA2.T @ trace.xs.reshape(T * B, self.D)], axis=1)
        dx = (dA2 @ Wx).reshape(T, B, self.D)
        self._finite_result("backward", [("the gradient of W", dW), ("the gradient of x", dx),
                                         ("the gradient of h0", dh_next)])
        return {
            "W_h": dW,
            "b_h": dA2.sum(axis=0),
            "x": dx if trace.batched else dx[:, 0],
            "h0": dh_next if trace.batched else dh_next[0],
        }
