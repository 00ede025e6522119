"""The GRU cell (gated recurrent unit), in the formulation of torch.nn.GRU.

Notation (the book's): [h_{t-1}, x_t] of shape (B, H+D); W_r, W_z act on it; W_n = [W_n^h, W_n^x]
is split into the columns that act on h_{t-1} (the first H) and on x_t (the last D).

    r_t = σ(W_r · [h_{t-1}, x_t] + b_r)                            reset gate
    z_t = σ(W_z · [h_{t-1}, x_t] + b_z)                            update gate
    n_t = tanh(W_n^x · x_t + b_n + r_t ⊗ (W_n^h · h_{t-1} + b_hn))   candidate
    h_t = (1 − z_t) ⊗ n_t + z_t ⊗ h_{t-1}                           new hidden state

The reset gate multiplies the recurrent product W_n^h · h_{t-1} + b_hn, after the matrix, as
torch.nn.GRU computes it (the form cuDNN implements). Cho et al. (2014) apply it to h before the
matrix: n_t = tanh(W_n^h · (r_t ⊗ h_{t-1}) + W_n^x · x_t + b_n), so a reset unit of h reaches no
unit of n_t, where here r_t scales what all of h_{t-1} gives each unit of n_t. The two agree when
r_t = 0, or when r_t = 1 and b_hn = 0; in general they are different functions of the same
weights, and b_hn (inside the gated term) exists only in this one.

A GRU has one state, h: z_t is a coupled forget/input gate on h itself (1 − z_t writes, z_t keeps),
and there is no output gate. `GRUCell.step` runs these functions as written; `forward` and
`backward` run them with the three weight blocks stacked, and the tests hold the two paths equal
and both equal to torch.nn.GRU (see `to_torch_state` for the mapping of the weights).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

import numpy as np

from lstmlib.activations import concat, sigmoid, tanh
from lstmlib.checks import (
    NonFiniteError,
    as_float_input,
    check_input,
    check_state,
    float_dtype,
    index,
    positive_int,
    require_shape,
    rng_from,
)
from lstmlib.weights import WeightOwner, claim_ticket, freeze_owners, read_only_view

GRU_GATES = ("r", "z", "n")         # row blocks of the fused W (3H, H+D), in this order
GRU_BIASES = ("r", "z", "n", "hn")  # blocks of the fused b (4H,), in this order


def _blocks(names, H):
    return {g: slice(k * H, (k + 1) * H) for k, g in enumerate(names)}


def by_name(W, b, H):
    """The fused W (3H, H+D) and b (4H,) as the book's W_r, W_z, W_n, b_r, b_z, b_n, b_hn (views)."""
    out = {f"W_{g}": W[s] for g, s in _blocks(GRU_GATES, H).items()}
    return out | {f"b_{g}": b[s] for g, s in _blocks(GRU_BIASES, H).items()}


# --- the equations -------------------------------------------------------------------------

def gru_gate(hx, W, b):
    """Reset and update gates: r_t = σ(W_r · [h_{t-1}, x_t] + b_r), z_t = σ(W_z · [h_{t-1}, x_t] + b_z).

    hx: (B, H+D)   W: W_r or W_z, (H, H+D)   b: b_r or b_z, (H,)   ->   r_t or z_t, (B, H)
    """
    return sigmoid(hx @ W.T + b)


def gru_candidate(h_prev, x, r, W_n, b_n, b_hn):
    """Candidate: n_t = tanh(W_n^x · x_t + b_n + r_t ⊗ (W_n^h · h_{t-1} + b_hn)).

    h_prev, r: (B, H)   x: (B, D)   W_n: (H, H+D) = [W_n^h, W_n^x]   b_n, b_hn: (H,)   ->   (B, H)
    """
    H = h_prev.shape[-1]
    return tanh(x @ W_n[:, H:].T + b_n + r * (h_prev @ W_n[:, :H].T + b_hn))


def gru_hidden(h_prev, z, n):
    """New hidden state: h_t = (1 − z_t) ⊗ n_t + z_t ⊗ h_{t-1}.   all (B, H)   ->   (B, H)"""
    return (1.0 - z) * n + z * h_prev


# --- values ----------------------------------------------------------------------------------

def _take_arrays(obj, names):
    """Replace each named array field of a frozen dataclass by a read-only view of a read-only
    owner, which numpy refuses to make writable again (lstmlib.weights.read_only_view)."""
    for name in names:
        object.__setattr__(obj, name, read_only_view(getattr(obj, name)))


@dataclass(frozen=True)
class GRUStep:
    """Every quantity of one GRU timestep, each (H,) or (B, H), read-only."""

    r: np.ndarray  # reset gate σ(W_r [h_{t-1}, x_t] + b_r)
    z: np.ndarray  # update gate σ(W_z [h_{t-1}, x_t] + b_z)
    n: np.ndarray  # candidate tanh(W_n^x x_t + b_n + r_t ⊗ (W_n^h h_{t-1} + b_hn))
    h: np.ndarray  # new hidden state (1 − z_t) ⊗ n_t + z_t ⊗ h_{t-1}

    def __post_init__(self):
        _take_arrays(self, [f.name for f in fields(self)])


@dataclass(frozen=True)
class GRUTrace:
    """A forward pass over T steps. Public arrays are (T, H) or (T, B, H), as `xs` was given.

    Every array is the trace's own (never the caller's xs or h0) and a read-only view of a
    read-only owner; `source` records the cell and the versions of its weights, and `backward`
    refuses the trace once they changed. As for `Trace`, `backward` takes only the very object
    its cell's `forward` returned, never a copy (deepcopy, pickle) or an edited version.
    """

    xs: np.ndarray = field(repr=False)     # (T, B, D) inputs
    h0: np.ndarray = field(repr=False)     # (B, H) initial hidden state (a view of store)
    gates: np.ndarray = field(repr=False)  # (T, B, 3H) r, z, n after their activations
    hn_all: np.ndarray = field(repr=False)  # (T, B, H) W_n^h h_{t-1} + b_hn, what r_t scales
    h_all: np.ndarray = field(repr=False)  # (T, B, H) hidden states h_1..h_T (a view of store)
    batched: bool = True                   # False when xs was (T, D)
    source: tuple = field(default=(None, (None, None)), repr=False, compare=False)
    store: np.ndarray = field(default=None, repr=False, compare=False)  # (T+1, B, H): h_0..h_T

    def __post_init__(self):
        _take_arrays(self, ["xs", "h0", "gates", "hn_all", "h_all"])
        if self.store is not None:
            object.__setattr__(self, "store", read_only_view(self.store))
        claim_ticket(self)  # registers the trace with the cell whose forward() made it

    def __reduce__(self):  # a copy is made through __init__: its arrays are read-only too
        return (type(self), tuple(getattr(self, f.name) for f in fields(self)))

    def _show(self, a):
        return a if self.batched else a[:, 0]

    def _gate(self, name):
        return self._show(self.gates[..., _blocks(GRU_GATES, self.h_all.shape[-1])[name]])

    T = property(lambda self: self.xs.shape[0])
    r = property(lambda self: self._gate("r"), doc="reset gates, (T, [B,] H)")
    z = property(lambda self: self._gate("z"), doc="update gates, (T, [B,] H)")
    n = property(lambda self: self._gate("n"), doc="candidates, (T, [B,] H)")
    h = property(lambda self: self._show(self.h_all), doc="hidden states h_1..h_T, (T, [B,] H)")
    h_prev = property(lambda self: self._show(self.store[:-1]),
                      doc="h_0..h_{T-1}: the state each step starts from, (T, [B,] H)")

    def at(self, t):
        """The `GRUStep` of timestep t (0-based; negative counts from the end)."""
        t = index(t, "timestep")
        if not -self.T <= t < self.T:
            raise IndexError(f"timestep {t} is outside a trace of T={self.T} steps")
        t %= self.T
        rows = _blocks(GRU_GATES, self.h_all.shape[-1])
        vals = {g: self.gates[t][:, rows[g]] for g in GRU_GATES} | {"h": self.h_all[t]}
        if not self.batched:
            vals = {k: v[0] for k, v in vals.items()}
        return GRUStep(**vals)


# --- the cell --------------------------------------------------------------------------------

class GRUCell(WeightOwner):
    """A GRU cell with input size D and hidden size H, as torch.nn.GRU computes it.

    Initialisation as torch.nn.GRU: every weight and every bias is drawn from U(−1/√H, 1/√H).
    (For r and z torch draws two biases each and only their sum acts, spread over (−2/√H, 2/√H);
    our b_r, b_z are one draw each: the same cell, a narrower start.) `seed`: an int or a Generator.

    `params` maps the book's names to views into one fused matrix `W` of shape (3H, H+D), row
    blocks r, z, n (W_r, W_z, W_n, each (H, H+D): the first H columns act on h_{t-1}, the last D
    on x_t), and one fused bias `b` of shape (4H,), blocks b_r, b_z, b_n, b_hn (each (H,)). Writes
    into them are counted as for `LSTMCell`: a trace made before one is refused by `backward`.
    """

    def __init__(self, input_size, hidden_size, *, seed=0, dtype=np.float64):
        self.D = positive_int(input_size, "input_size")
        self.H = positive_int(hidden_size, "hidden_size")
        self.dtype = float_dtype(dtype)
        rng = rng_from(seed)
        k = 1.0 / np.sqrt(self.H)
        W = rng.uniform(-k, k, size=(3 * self.H, self.H + self.D)).astype(self.dtype)
        b = rng.uniform(-k, k, size=4 * self.H).astype(self.dtype)
        self._init_weights(W, b)
        self._fused = None  # (versions, W_h^T, W_x^T): the weights as forward multiplies by them

    def __repr__(self):
        return f"GRUCell(input_size={self.D}, hidden_size={self.H}, dtype={self.dtype.name})"

    @property
    def params(self):
        return by_name(self.W, self.b, self.H)

    @property
    def n_params(self):
        return self._W.size + self._b.size

    def _where(self, name, at):
        k, g = divmod(at[0], self.H)
        block = GRU_BIASES[k]  # W's row blocks r, z, n are the first three of b's blocks
        return f" (params['{name}_{block}'][{', '.join(str(v) for v in (g, *at[1:]))}])"

    def _prepared(self):
        """W_h^T (H, 3H) and W_x^T (D, 3H), contiguous and read-only, made once per change of
        the weights (which are checked finite then)."""
        versions = self._versions()
        if self._fused is None or self._fused[0] != versions:
            self._check_weights()
            WhT = np.ascontiguousarray(self._W[:, :self.H].T)
            WxT = np.ascontiguousarray(self._W[:, self.H:].T)
            freeze_owners(WhT, WxT)
            self._fused = (versions, WhT, WxT)
        return self._fused[1:]

    # -- one step, as written in the book --
    def step(self, x, h_prev=None):
        """One timestep. x: (D,) or (B, D); h_prev: (H,) or (B, H), zeros if omitted.

        Returns a `GRUStep` with read-only arrays of shape (H,) or (B, H).
        """
        x = check_input(x, "x", self.D, self.dtype, sequence=False)
        batched = x.ndim == 2
        B = x.shape[0] if batched else 1
        h_prev = check_state(h_prev, "h_prev", B, self.H, batched, self.dtype)
        self._check_weights()
        p = by_name(self._W, self._b, self.H)
        x = x.reshape(B, self.D)
        hx = concat(h_prev, x)                                     # (B, H+D)
        r = gru_gate(hx, p["W_r"], p["b_r"])                      # reset gate
        z = gru_gate(hx, p["W_z"], p["b_z"])                      # update gate
        n = gru_candidate(h_prev, x, r, p["W_n"], p["b_n"], p["b_hn"])
        h = gru_hidden(h_prev, z, n)
        self._finite_result("step", [("h_t", h)])
        vals = dict(r=r, z=z, n=n, h=h)
        freeze_owners(*vals.values())
        if not batched:
            vals = {k: v[0] for k, v in vals.items()}
        return GRUStep(**vals)

    # -- a whole sequence, fused --
    def forward(self, xs, h0=None):
        """Run T steps. xs: (T, D) or (T, B, D); h0: (H,) or (B, H), zeros if omitted.

        Returns a `GRUTrace` holding its own copies of xs and h0, read-only. The input products
        of all T steps are one matrix product; the loop over time does the recurrent ones.
        """
        xs = check_input(xs, "xs", self.D, self.dtype, sequence=True, copy=True)
        batched = xs.ndim == 3
        T, H, D = xs.shape[0], self.H, self.D
        B = xs.shape[1] if batched else 1
        xs = xs.reshape(T, B, D)
        h0 = check_state(h0, "h0", B, H, batched, self.dtype)
        source = self._source()  # first: it notices writes the weight views could not see
        WhT, WxT = self._prepared()                 # (H, 3H), (D, 3H)
        b_hn = self._b[3 * H:]
        G = xs.reshape(T * B, D) @ WxT              # W^x x_t of every step at once
        G += self._b[:3 * H]                        # + b_r, b_z, b_n
        G = G.reshape(T, B, 3 * H)                  # becomes r, z, n in place
        Hs = np.empty((T + 1, B, H), dtype=self.dtype)
        Hs[0] = h0
        HN = np.empty((T, B, H), dtype=self.dtype)
        hW = np.empty((B, 3 * H), dtype=self.dtype)  # W^h h_{t-1} for r, z, n, reused
        for t in range(T):
            g = G[t]
            rz, n, hn = g[:, :2 * H], g[:, 2 * H:], HN[t]
            np.matmul(Hs[t], WhT, out=hW)
            rz += hW[:, :2 * H]
            # σ(a) = (1 + tanh(a/2)) / 2: stable for any a, no overflow warning
            rz *= 0.5
            np.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5                               # r_t, z_t
            np.add(hW[:, 2 * H:], b_hn, out=hn)     # W_n^h h_{t-1} + b_hn
            n += g[:, :H] * hn                      # + r_t ⊗ (W_n^h h_{t-1} + b_hn)
            np.tanh(n, out=n)                       # n_t
            h = Hs[t + 1]
            np.subtract(Hs[t], n, out=h)            # h_t = n_t + z_t ⊗ (h_{t-1} − n_t)
            h *= g[:, H:2 * H]
            h += n
        self._finite_result("forward", [("h_T", Hs[T])])  # a NaN anywhere reaches h_T
        freeze_owners(xs, G, HN, Hs)
        return GRUTrace(xs=xs, h0=Hs[0], gates=G, hn_all=HN, h_all=Hs[1:], batched=batched,
                        source=source, store=Hs)

    def backward(self, trace, dh):
        """Backpropagation through time. dh: dL/dh_t for every step, shaped like `trace.h`.

        Returns a dict with every key of `params` plus "x" (shaped like the xs given) and "h0".
        With ā the pre-activations and dh_t the whole gradient reaching h_t (from the loss and
        from step t+1), one step back is

            dn_t = dh_t ⊗ (1 − z_t)                dā_n = dn_t ⊗ (1 − n_t²)
            dz_t = dh_t ⊗ (h_{t-1} − n_t)          dā_z = dz_t ⊗ z_t ⊗ (1 − z_t)
            dr_t = dā_n ⊗ (W_n^h h_{t-1} + b_hn)   dā_r = dr_t ⊗ r_t ⊗ (1 − r_t)
            dā_hn = dā_n ⊗ r_t                     (the gradient of W_n^h h_{t-1} + b_hn)
            dh_{t-1} = dh_t ⊗ z_t + W_r^hᵀ dā_r + W_z^hᵀ dā_z + W_n^hᵀ dā_hn

        and the weights collect Σ_t dā ⊗ [h_{t-1}, x_t] (dā_hn for W_n^h, dā_n for W_n^x).
        """
        if not isinstance(trace, GRUTrace):
            raise TypeError(f"trace must be a GRUTrace from this cell's forward(); got "
                            f"{type(trace).__name__}")
        T, B, H = trace.h_all.shape
        D, dt = self.D, self.dtype
        if trace.xs.shape[2] != D or H != self.H:
            raise ValueError(f"trace has D={trace.xs.shape[2]}, H={H}; this cell has "
                             f"D={D}, H={self.H}")
        self._check_source(trace)
        dh = as_float_input(dh, "dh", dt)
        require_shape(dh, trace.h.shape, "dh")
        dh = dh.reshape(T, B, H)
        Wh = self._W[:, :H]                         # (3H, H): rows r, z, n
        Wx = self._W[:, H:]                         # (3H, D)
        G, Hs = trace.gates, trace.store
        r, z, n = (G[..., s] for s in _blocks(GRU_GATES, H).values())  # (T, B, H) each
        # A[t] = ∂(dā_r, dā_z, dā_hn, dā_n)/∂dh_t, for all steps at once (none depends on the
        # recursion); the loop multiplies it by dh_t in place, leaving the dā in A
        A = np.empty((T, B, 4 * H), dtype=dt)
        Ar, Az, Ahn, An = (A[..., k * H:(k + 1) * H] for k in range(4))
        np.multiply(n, n, out=An)
        np.subtract(1.0, An, out=An)
        An *= 1.0 - z                               # (1 − z) ⊗ (1 − n²)
        np.multiply(An, r, out=Ahn)                 # ... ⊗ r
        np.subtract(1.0, r, out=Ar)
        Ar *= r
        Ar *= trace.hn_all
        Ar *= An                                    # ... ⊗ (W_n^h h + b_hn) ⊗ r (1 − r)
        np.subtract(Hs[:T], n, out=Az)
        Az *= z
        Az *= 1.0 - z                               # (h_{t-1} − n) ⊗ z (1 − z)
        dh_next = np.zeros((B, H), dtype=dt)
        dh_t, kept = np.empty_like(dh_next), np.empty_like(dh_next)
        for t in range(T - 1, -1, -1):
            np.add(dh[t], dh_next, out=dh_t)
            a = A[t]                                       # (B, 4H)
            a4 = a.reshape(B, 4, H)
            a4 *= dh_t[:, None, :]                         # dā_r, dā_z, dā_hn, dā_n
            np.matmul(a[:, :3 * H], Wh, out=dh_next)       # W^hᵀ (dā_r, dā_z, dā_hn)
            np.multiply(dh_t, z[t], out=kept)
            dh_next += kept                                # + dh_t ⊗ z_t
        dA = A.reshape(T * B, 4 * H)
        X = trace.xs.reshape(T * B, D)
        dW = np.empty((3 * H, H + D), dtype=dt)
        np.matmul(dA[:, :3 * H].T, Hs[:T].reshape(T * B, H), out=dW[:, :H])
        np.matmul(dA[:, :2 * H].T, X, out=dW[:2 * H, H:])
        np.matmul(dA[:, 3 * H:].T, X, out=dW[2 * H:, H:])
        db = dA.sum(axis=0).reshape(4, H)[[0, 1, 3, 2]].ravel()  # r, z, hn, n -> r, z, n, hn
        dx = dA[:, :2 * H] @ Wx[:2 * H] + dA[:, 3 * H:] @ Wx[2 * H:]
        dx = dx.reshape(T, B, D)
        self._finite_result("backward", [("the gradient of W", dW), ("the gradient of b", db),
                                         ("the gradient of x", dx), ("the gradient of h0", dh_next)])
        grads = by_name(dW, db, H)
        grads["x"] = dx if trace.batched else dx[:, 0]
        grads["h0"] = dh_next if trace.batched else dh_next[0]
        return grads


# --- torch.nn.GRU's weights ------------------------------------------------------------------

TORCH_KEYS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def to_torch_state(cell):
    """The state dict of a one-layer torch.nn.GRU(D, H) that computes what `cell` computes, as
    numpy arrays (load it with {k: torch.from_numpy(v) for k, v in ...}).

        weight_ih_l0 (3H, D) = [W_r^x; W_z^x; W_n^x]   the last D columns of W_r, W_z, W_n
        weight_hh_l0 (3H, H) = [W_r^h; W_z^h; W_n^h]   their first H columns
        bias_ih_l0   (3H,)   = [b_r; b_z; b_n]
        bias_hh_l0   (3H,)   = [0; 0; b_hn]

    torch adds two biases into r and into z (b_ir + b_hr, b_iz + b_hz): only their sum matters,
    and it is our b_r, b_z; its b_in is our b_n, and b_hn (inside r_t ⊗ (·)) is ours too.
    """
    if not isinstance(cell, GRUCell):
        raise TypeError(f"cell must be a GRUCell; got {type(cell).__name__}")
    H = cell.H
    W, b = cell.W.copy(), cell.b.copy()
    zeros = np.zeros(2 * H, dtype=cell.dtype)
    return {"weight_ih_l0": W[:, H:].copy(), "weight_hh_l0": W[:, :H].copy(),
            "bias_ih_l0": b[:3 * H], "bias_hh_l0": np.concatenate([zeros, b[3 * H:]])}


def _torch_value(v, key):
    """state[key] as a numpy array: a torch tensor is detached (parameters that require grad, as
    `dict(gru.named_parameters())` gives them, are read as they are) and must be on the CPU and
    of a dtype numpy has; anything else goes through np.asarray. The key is named if it fails."""
    if type(v).__module__.split(".")[0] == "torch" and hasattr(v, "detach"):
        v = v.detach()
        if v.device.type != "cpu":
            raise TypeError(f"{key} is a tensor on {v.device}; move the state to the CPU first "
                            f"({{k: v.cpu() for k, v in gru.state_dict().items()}})")
        try:
            return v.numpy()
        except TypeError:  # bfloat16 and other dtypes numpy has not
            raise TypeError(f"{key} is a {v.dtype} tensor, which numpy cannot hold; convert the "
                            f"state first, e.g. {{k: v.float() for k, v in "
                            f"gru.state_dict().items()}}") from None
    try:
        return np.asarray(v)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"{key} must be an array (a numpy array or a CPU tensor); got "
                        f"{type(v).__name__} ({exc})") from None


def from_torch_state(state, *, dtype=np.float64):
    """A GRUCell computing what a one-layer torch.nn.GRU with this state dict computes.

    `state`: a mapping with exactly the keys weight_ih_l0 (3H, D), weight_hh_l0 (3H, H),
    bias_ih_l0 (3H,), bias_hh_l0 (3H,), as numpy arrays or CPU tensors (`gru.state_dict()`, or
    `dict(gru.named_parameters())`, whose tensors are detached). torch's two biases of r and of z
    are summed into b_r and b_z (refused by name if the sum overflows `dtype`); b_in becomes b_n,
    b_hn stays.
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a mapping from the keys {list(TORCH_KEYS)} to arrays "
                        f"(gru.state_dict()); got {type(state).__name__}")
    keys = set(state)
    if keys != set(TORCH_KEYS):
        raise KeyError(f"state must have exactly the keys {list(TORCH_KEYS)} of a one-layer "
                       f"torch.nn.GRU with biases; missing {sorted(set(TORCH_KEYS) - keys)}, "
                       f"unexpected {sorted(keys - set(TORCH_KEYS), key=repr)}")
    dtype = float_dtype(dtype)
    # each in float64 (exact), then checked to fit in dtype by name
    arrays = {k: as_float_input(_torch_value(state[k], k), k, np.float64) for k in TORCH_KEYS}
    w_ih, w_hh, b_ih, b_hh = arrays.values()
    if w_hh.ndim != 2 or w_hh.shape[0] != 3 * w_hh.shape[1]:
        raise ValueError(f"weight_hh_l0 must have shape (3H, H); got {w_hh.shape}")
    H = w_hh.shape[1]
    if w_ih.ndim != 2 or w_ih.shape[0] != 3 * H or w_ih.shape[1] == 0:
        raise ValueError(f"weight_ih_l0 must have shape ({3 * H}, D) for H={H}; got {w_ih.shape}")
    require_shape(b_ih, (3 * H,), "bias_ih_l0")
    require_shape(b_hh, (3 * H,), "bias_hh_l0")
    for k, a in arrays.items():
        as_float_input(a, k, dtype)  # too large for dtype: refused by name
    summed = b_ih[:2 * H] + b_hh[:2 * H]
    big = np.flatnonzero(np.abs(summed) > np.finfo(dtype).max)
    if big.size:
        k = int(big[0])
        gate, unit = ("reset gate r", "b_r") if k < H else ("update gate z", "b_z")
        raise NonFiniteError(
            f"bias_ih_l0[{k}] + bias_hh_l0[{k}] (torch's two biases of the {gate}, summed into "
            f"{unit}[{k % H}]) = {summed[k]:.6g} overflows {dtype.name} (largest finite value "
            f"{np.finfo(dtype).max:.6g}); use dtype=np.float64")
    cell = GRUCell(w_ih.shape[1], H, dtype=dtype)
    cell.W = np.concatenate([w_hh, w_ih], axis=1)
    cell.b = np.concatenate([summed, b_ih[2 * H:], b_hh[2 * H:]])
    return cell
