"""The LSTM cell, one equation per function, plus a fused path for whole sequences.

Notation (the book's): z = [h_{t-1}, x_t] of shape (B, H+D); every W acts on z.

    f_t  = σ(W_f · z + b_f)         F_t = c_{t-1} ⊗ f_t
    i_t  = σ(W_i · z + b_i)         c̃_t = tanh(W_c · z + b_c)      I_t = i_t ⊗ c̃_t
    c_t  = F_t ⊕ I_t
    o_t  = σ(W_o · z + b_o)         c'_t = tanh(c_t)                h_t = o_t ⊗ c'_t

`LSTMCell.step` runs these functions as written; `LSTMCell.forward` and `backward` run the same
equations with the four gates stacked into one matrix, and the tests hold the two paths equal.
"""

import functools
from dataclasses import dataclass, field, fields
from types import MappingProxyType

import numpy as np

from lstmlib.activations import concat, sigmoid, tanh
from lstmlib.checks import (
    NonFiniteError,
    as_float_input,
    check_input,
    check_state,
    finite_real,
    first_non_finite,
    float_dtype,
    index,
    positive_int,
    require_shape,
    rng_from,
)
from lstmlib.weights import WeightOwner, claim_ticket, freeze_owners, read_only_view

GATES = ("f", "i", "c", "o")  # row blocks of the fused weight matrix, in this order

# The single changes of Greff et al. (2017, "LSTM: A Search Space Odyssey"), name -> the
# LSTMCell options that make them (see lstmlib.variants). Our "vanilla" is the plain cell,
# without peepholes; Greff et al.'s vanilla LSTM has them, so their "no peepholes" variant is
# our "vanilla" and their "vanilla" is our "peepholes". Read-only (a mapping of read-only
# mappings, usable as LSTMCell(D, H, **VARIANTS[name])): a write would change every later cell.
VARIANTS = MappingProxyType({name: MappingProxyType(options) for name, options in {
    "vanilla": {},
    "peepholes": {"peepholes": True},
    "coupled": {"coupled": True},
    "no forget gate": {"forget_gate": False},
    "no input gate": {"input_gate": False},
    "no output gate": {"output_gate": False},
    "no input activation": {"input_activation": False},
    "no output activation": {"output_activation": False},
}.items()})


def gate_rows(H):
    """Where each gate's rows sit in the fused (4H, ·) arrays: {"f": slice(0, H), ...}."""
    return {g: slice(k * H, (k + 1) * H) for k, g in enumerate(GATES)}


def by_gate(W, b, H):
    """The fused W (4H, H+D) and b (4H,) as the book's W_f, b_f, ... (views, not copies)."""
    rows = gate_rows(H)
    return {f"{kind}_{g}": arr[rows[g]] for g in GATES for kind, arr in (("W", W), ("b", b))}


# --- the equations -------------------------------------------------------------------------

def forget_gate(z, W_f, b_f):
    """Forget gate: f_t = σ(W_f · [h_{t-1}, x_t] + b_f).

    z: (B, H+D)   W_f: (H, H+D)   b_f: (H,)   ->   (B, H)
    """
    return sigmoid(z @ W_f.T + b_f)


def input_gate(z, W_i, b_i):
    """Input gate: i_t = σ(W_i · [h_{t-1}, x_t] + b_i).

    z: (B, H+D)   W_i: (H, H+D)   b_i: (H,)   ->   (B, H)
    """
    return sigmoid(z @ W_i.T + b_i)


def candidate(z, W_c, b_c):
    """Candidate memory: c̃_t = tanh(W_c · [h_{t-1}, x_t] + b_c).

    z: (B, H+D)   W_c: (H, H+D)   b_c: (H,)   ->   (B, H)
    """
    return tanh(z @ W_c.T + b_c)


def output_gate(z, W_o, b_o):
    """Output gate: o_t = σ(W_o · [h_{t-1}, x_t] + b_o).

    z: (B, H+D)   W_o: (H, H+D)   b_o: (H,)   ->   (B, H)
    """
    return sigmoid(z @ W_o.T + b_o)


def cell_state(c_prev, f, i, c_tilde):
    """Cell state: F_t = c_{t-1} ⊗ f_t,  I_t = i_t ⊗ c̃_t,  c_t = F_t ⊕ I_t.

    all (B, H)   ->   (F, I, c), each (B, H)
    """
    F = c_prev * f
    I = i * c_tilde  # noqa: E741 (the book's name for the input gate's output)
    return F, I, F + I


def hidden_state(o, c):
    """Hidden state: c'_t = tanh(c_t),  h_t = o_t ⊗ c'_t.

    o, c: (B, H)   ->   (c_prime, h), each (B, H)
    """
    c_prime = tanh(c)
    return c_prime, o * c_prime


# --- one step backwards, as written in the book ---------------------------------------------
# d<name> is ∂L/∂<name>, the gradient of the loss L; a^f_t = W_f · z + b_f is a gate's
# pre-activation (likewise a^i_t, a^c_t, a^o_t). The chapter "Backprop, gate by gate" shows each
# group of lines below next to its equation (B1)-(B9); the markers <Bk> ... </Bk> delimit them.

@dataclass(frozen=True)
class StepGrads:
    """One timestep of backpropagation: the gradient of the loss with respect to every quantity
    of the step, named as in the book; each (H,) or (B, H) unless said, read-only."""

    dh: np.ndarray        # dh_t: all that reaches h_t (the loss at t and step t+1)
    dc_next: np.ndarray   # what step t+1 sent along the cell-state line, dc_{t+1} ⊗ f_{t+1}
    do: np.ndarray        # do_t                                                   (B1)
    dc: np.ndarray        # dc_t: all that reaches c_t (step t+1 and h_t)          (B2)
    dc_tilde: np.ndarray  # dc̃_t                                                   (B3)
    di: np.ndarray        # di_t                                                   (B3)
    df: np.ndarray        # df_t                                                   (B4)
    da_f: np.ndarray      # on the pre-activations a^f_t, a^i_t, a^c_t, a^o_t      (B5)
    da_i: np.ndarray
    da_c: np.ndarray
    da_o: np.ndarray
    dparams: dict         # this step's share of dW_f ... db_o, keys as `params`   (B6)
    dz: np.ndarray        # on z = [h_{t-1}, x_t], (H+D,) or (B, H+D)              (B7)
    dh_prev: np.ndarray   # dh_{t-1}: what step t-1 receives on h                  (B8)
    dx: np.ndarray        # dx_t, (D,) or (B, D)                                   (B8)
    dc_prev: np.ndarray   # dc_{t-1}: what step t-1 receives on c                  (B9)


@np.errstate(over="ignore", invalid="ignore")  # an overflow is reported below, by name
def backward_step(step, c_prev, h_prev, x, dh, dc_next, params, *, pinned=()):
    """One timestep of backpropagation through time, one line per derivative: (B1)-(B9).

    step: the `Step` of time t (from `LSTMCell.step` or `Trace.at`); c_prev, h_prev, x: what that
    step started from and read, (H,), (H,), (D,), or batched (B, ·); params: the cell's `params`.
    dh: dh_t, all that reaches h_t (the loss's gradient at h_t plus the dh_{t-1} of step t+1);
    dc_next: what step t+1 sends back along the cell-state line, dc_{t+1} ⊗ f_{t+1} (its
    dc_{t-1}; zeros, or a gradient on c_T, at the last step). Both shaped like `step.h`.
    pinned: the gates ("f", "i", "o") that the step set by hand: they pass no gradient to their
    weights, as in `LSTMCell.backward`. The step is checked against the inputs and weights
    given (its gates and c_t recomputed): a step made from others is refused by name.
    Returns `StepGrads`; its dh_prev and dc_prev are what step t-1 receives.
    """
    s, c_prev, h_prev, x, dh, dc_next, p, one = _backward_inputs(step, c_prev, h_prev, x, dh,
                                                                 dc_next, params, pinned)
    H = s.h.shape[-1]
    z = concat(h_prev, x)  # [h_{t-1}, x_t], (B, H+D)
    # the lines between the markers are short: the chapter shows them in the page's column
    # <B1>
    do = dh * s.c_prime  # h_t = o_t ⊗ c'_t
    # </B1>
    # <B2>
    # c'_t = tanh(c_t), and tanh' = 1 - tanh²
    dc = dc_next + dh * s.o * (1 - s.c_prime ** 2)
    # </B2>
    # <B3>
    dc_tilde = dc * s.i  # c_t = F_t + i_t ⊗ c̃_t
    di = dc * s.c_tilde
    # </B3>
    # <B4>
    df = dc * c_prev  # c_t = c_{t-1} ⊗ f_t + I_t
    # </B4>
    # <B5>
    da_f = df * s.f * (1 - s.f)  # f_t = σ(a^f_t): σ' = σ (1 - σ)
    da_i = di * s.i * (1 - s.i)  # i_t = σ(a^i_t)
    da_c = dc_tilde * (1 - s.c_tilde ** 2)  # c̃_t = tanh(a^c_t)
    da_o = do * s.o * (1 - s.o)  # o_t = σ(a^o_t)
    # </B5>
    # a gate set by hand does not depend on its weights: nothing reaches them through it
    da_f, da_i, da_o = (np.zeros_like(da) if g in pinned else da
                        for g, da in (("f", da_f), ("i", da_i), ("o", da_o)))
    # <B6>
    # a^f_t = W_f · z + b_f, and so on; z = [h_{t-1}, x_t]
    dW_f, db_f = da_f.T @ z, da_f.sum(axis=0)
    dW_i, db_i = da_i.T @ z, da_i.sum(axis=0)
    dW_c, db_c = da_c.T @ z, da_c.sum(axis=0)
    dW_o, db_o = da_o.T @ z, da_o.sum(axis=0)
    # </B6>
    # <B7>
    dz = (da_f @ p["W_f"] + da_i @ p["W_i"]
          + da_c @ p["W_c"] + da_o @ p["W_o"])
    # </B7>
    # <B8>
    dh_prev, dx = dz[:, :H], dz[:, H:]  # z = [h_{t-1}, x_t]
    # </B8>
    # <B9>
    dc_prev = dc * s.f  # c_t = c_{t-1} ⊗ f_t + I_t
    # </B9>
    dparams = dict(W_f=dW_f, W_i=dW_i, W_c=dW_c, W_o=dW_o, b_f=db_f, b_i=db_i, b_c=db_c, b_o=db_o)
    vals = dict(dh=dh, dc_next=dc_next, do=do, dc=dc, dc_tilde=dc_tilde, di=di, df=df, da_f=da_f,
                da_i=da_i, da_c=da_c, da_o=da_o, dz=dz, dh_prev=dh_prev, dx=dx, dc_prev=dc_prev)
    for name, v in (vals | dparams).items():  # finite inputs, but a product may overflow
        if not np.isfinite(v).all():
            raise NonFiniteError(f"backward_step: {name} overflowed to {v[first_non_finite(v)]}; "
                                 f"the gradients given are too large for {v.dtype.name}")
    if one:
        vals = {k: v[0] for k, v in vals.items()}
    _read_only(*vals.values(), *dparams.values())
    return StepGrads(dparams=dparams, **vals)


def _backward_inputs(step, c_prev, h_prev, x, dh, dc_next, params, pinned):
    """backward_step's arguments checked and batched: (Step of (B, H) arrays, c_prev, h_prev, x,
    dh, dc_next as (B, ·), params, whether they came unbatched). The step must be what these
    inputs and weights give (gates not in `pinned` and c_t recomputed, to rounding)."""
    if isinstance(pinned, str) or not isinstance(pinned, tuple | list | set | frozenset):
        raise TypeError(f"pinned must be a tuple of gate names, some of 'f', 'i', 'o' (e.g. "
                        f"('f',)); got {pinned!r}")
    if not set(pinned) <= {"f", "i", "o"}:
        raise ValueError(f"pinned names gates set by hand, some of 'f', 'i', 'o'; got {pinned!r}")
    if not isinstance(step, Step):
        raise TypeError(f"step must be a Step (from LSTMCell.step or Trace.at); got "
                        f"{type(step).__name__}")
    shape = np.shape(step.h)
    if len(shape) not in (1, 2):
        raise ValueError(f"step.h must be (H,) or (B, H); got {shape}")
    one, H = len(shape) == 1, shape[-1]
    B = 1 if one else shape[0]
    names = [f"{kind}_{g}" for g in GATES for kind in ("W", "b")]
    missing = [k for k in names if k not in params]
    if missing:
        raise ValueError(f"params must hold {names} (the cell's params); missing {missing}"
                         f"{_PLAIN_ONLY}")
    W_f = np.asarray(params["W_f"])
    if W_f.ndim != 2 or W_f.shape[0] != H or W_f.shape[1] <= H:
        raise ValueError(f"params['W_f'] must be (H, H+D) with H={H} (from step.h); got {W_f.shape}")
    D = W_f.shape[1] - H
    dtype = W_f.dtype
    params = {k: as_float_input(params[k], f"params[{k!r}]", dtype) for k in names}
    for k in names:
        require_shape(params[k], (H, H + D) if k[0] == "W" else (H,), f"params[{k!r}]")
    s = Step(**{f.name: np.asarray(getattr(step, f.name)).astype(dtype, copy=False).reshape(B, H)
                for f in fields(Step)})
    arrays = []
    for a, name, n in ((c_prev, "c_prev", H), (h_prev, "h_prev", H), (x, "x", D), (dh, "dh", H),
                       (dc_next, "dc_next", H)):
        # copies: the StepGrads returned keeps read-only views, never the caller's buffers
        a = as_float_input(a, name, dtype, copy=True)
        require_shape(a, (n,) if one else (B, n), name)
        arrays.append(a.reshape(B, n))
    c_prev, h_prev, x = arrays[:3]
    # the forward step again, to rounding (the fused forward computes σ another way)
    z, tol = concat(h_prev, x), np.sqrt(np.finfo(dtype).eps)
    again = {"f": forget_gate, "i": input_gate, "c_tilde": candidate, "o": output_gate}
    for name, gate in again.items():
        g = "c" if name == "c_tilde" else name
        if name not in pinned and not _close(getattr(s, name),
                                             gate(z, params[f"W_{g}"], params[f"b_{g}"]), tol):
            raise ValueError(f"step.{name} is not what the h_prev, x and params given make of it: "
                             f"the step comes from other inputs or weights"
                             + (f", or its gate was set by hand (say so with pinned=('{name}',))"
                                if name != "c_tilde" else "") + _PLAIN_ONLY)
    if not _close(s.c, c_prev * s.f + s.i * s.c_tilde, tol):
        raise ValueError("step.c is not c_prev ⊗ f + i ⊗ c̃: c_prev is not the cell state the step "
                         "started from")
    if not _close(s.c_prime, np.tanh(s.c), tol):
        raise ValueError("step.c_prime is not tanh(step.c)" + _PLAIN_ONLY)
    if not _close(s.h, s.o * s.c_prime, tol):
        raise ValueError("step.h is not o ⊗ c'" + _PLAIN_ONLY)
    return (s, *arrays, params, one)


def _close(a, b, tol):
    """Whether a step's array `a` is `b` recomputed, to rounding: within tol, absolute or relative
    (tol = sqrt(eps) of the params' dtype)."""
    return np.allclose(a, b, rtol=tol, atol=tol)


_PLAIN_ONLY = ("; backward_step follows the plain LSTM cell's equations: a step of a variant "
               "(LSTMCell(peepholes=True), output_activation=False, ...) is refused, and "
               "LSTMCell.backward computes its gradients")


# --- values ----------------------------------------------------------------------------------

def _read_only(*arrays):
    """Make the memory of each array read-only (see lstmlib.weights.freeze_owners); a Step or a
    Trace then keeps read-only views of them, which nobody can make writable again."""
    freeze_owners(*arrays)


def _take_arrays(obj, names):
    """Replace each named array field of a frozen dataclass by a read-only view of a read-only
    owner (lstmlib.weights.read_only_view)."""
    for name in names:
        object.__setattr__(obj, name, read_only_view(getattr(obj, name)))


@dataclass(frozen=True)
class Step:
    """Every quantity of one timestep, named as in the book; each (H,) or (B, H), read-only."""

    f: np.ndarray        # forget gate σ(W_f z + b_f)
    F: np.ndarray        # what survives of the old memory, c_{t-1} ⊗ f_t
    i: np.ndarray        # input gate σ(W_i z + b_i)
    c_tilde: np.ndarray  # candidate memory tanh(W_c z + b_c)
    I: np.ndarray        # what is written, i_t ⊗ c̃_t  # noqa: E741
    c: np.ndarray        # new cell state F_t ⊕ I_t
    o: np.ndarray        # output gate σ(W_o z + b_o)
    c_prime: np.ndarray  # squashed memory tanh(c_t)
    h: np.ndarray        # new hidden state o_t ⊗ c'_t

    def __post_init__(self):
        _take_arrays(self, [f.name for f in fields(self)])


@dataclass(frozen=True)
class Trace:
    """A forward pass over T steps. Public arrays are (T, H) or (T, B, H), as `xs` was given.

    Stored batched (T, B, ·) so `backward` never has to guess; `batched` says how to show them.
    Every array is the trace's own (never the caller's xs, h0 or c0) and a read-only view of a
    read-only owner (numpy refuses to make such a view writable), so nothing done after `forward`
    can change what `backward` computes; `source` records the cell and the versions of its
    weights, and `backward` refuses the trace once they have changed. `backward` takes only the
    very object its cell's `forward` returned: a copy (copy.deepcopy, pickle, whose arrays stay
    read-only) or an edited version (dataclasses.replace) is refused.
    """

    xs: np.ndarray = field(repr=False)       # (T, B, D) inputs
    h0: np.ndarray = field(repr=False)       # (B, H) initial hidden state
    c0: np.ndarray = field(repr=False)       # (B, H) initial cell state
    gates: np.ndarray = field(repr=False)    # (T, B, 4H) f, i, c̃, o after their activations
    c_all: np.ndarray = field(repr=False)    # (T, B, H) cell states
    cp_all: np.ndarray = field(repr=False)   # (T, B, H) tanh(c_t)
    h_all: np.ndarray = field(repr=False)    # (T, B, H) hidden states
    pinned: frozenset = frozenset()          # gates set by hand ("f", "i", "o"): no gradient
    batched: bool = True                     # False when xs was (T, D)
    source: tuple = field(default=(None, (None, None)), repr=False, compare=False)
    # (Hs, Cs): h_0..h_T and c_0..c_T, (T+1, B, H) each (views of (T+1, H, B) arrays in the
    # "feature" layout): h_all, c_all, h0 and c0 are views of them
    store: tuple = field(default=None, repr=False, compare=False)
    layout: str = field(default="batch", repr=False, compare=False)  # how forward stored them

    def __post_init__(self):
        _take_arrays(self, ["xs", "h0", "c0", "gates", "c_all", "cp_all", "h_all"])
        if self.store is not None:
            object.__setattr__(self, "store", tuple(read_only_view(a) for a in self.store))
        claim_ticket(self)  # registers the trace with the cell whose forward() made it

    def __reduce__(self):  # a copy is made through __init__: its arrays are read-only too
        return (type(self), tuple(getattr(self, f.name) for f in fields(self)))

    def _show(self, a):
        return a if self.batched else a[:, 0]

    def _gate_all(self, name):
        """(T, B, H) view of one gate's block of `gates`."""
        return self.gates[..., gate_rows(self.c_all.shape[-1])[name]]

    def _gate(self, name):
        return self._show(self._gate_all(name))

    T = property(lambda self: self.xs.shape[0])
    f = property(lambda self: self._gate("f"), doc="forget gates, (T, [B,] H)")
    i = property(lambda self: self._gate("i"), doc="input gates, (T, [B,] H)")
    c_tilde = property(lambda self: self._gate("c"), doc="candidates, (T, [B,] H)")
    o = property(lambda self: self._gate("o"), doc="output gates, (T, [B,] H)")
    c = property(lambda self: self._show(self.c_all), doc="cell states c_1..c_T, (T, [B,] H)")
    c_prime = property(lambda self: self._show(self.cp_all), doc="tanh(c_t), (T, [B,] H)")
    h = property(lambda self: self._show(self.h_all), doc="hidden states h_1..h_T, (T, [B,] H)")

    # derived arrays: computed on first use, then kept (the trace never changes)
    @property
    def _c_prev_all(self):
        return self.store[1][:-1]  # c_0..c_{T-1}, a view

    @functools.cached_property
    def _F_all(self):
        out = self._c_prev_all * self._gate_all("f")
        _read_only(out)
        return read_only_view(out)

    @functools.cached_property
    def _I_all(self):
        out = self._gate_all("i") * self._gate_all("c")
        _read_only(out)
        return read_only_view(out)

    @property
    def c_prev(self):
        """c_0..c_{T-1}: the memory each step starts from, (T, [B,] H)."""
        return self._show(self._c_prev_all)

    @property
    def F(self):
        """c_{t-1} ⊗ f_t for every step, (T, [B,] H)."""
        return self._show(self._F_all)

    @property
    def I(self):  # noqa: E743
        """i_t ⊗ c̃_t for every step, (T, [B,] H)."""
        return self._show(self._I_all)

    def at(self, t):
        """The `Step` of timestep t (0-based; negative counts from the end). Costs O(B·H)."""
        t = index(t, "timestep")
        if not -self.T <= t < self.T:
            raise IndexError(f"timestep {t} is outside a trace of T={self.T} steps")
        t %= self.T
        rows = gate_rows(self.c_all.shape[-1])
        g = self.gates[t]
        f, i, c_tilde, o = (g[:, rows[name]] for name in GATES)
        c_prev = self.c0 if t == 0 else self.c_all[t - 1]
        F, I = c_prev * f, i * c_tilde  # noqa: E741
        _read_only(F, I)
        vals = dict(f=f, F=F, i=i, c_tilde=c_tilde, I=I, c=self.c_all[t], o=o,
                    c_prime=self.cp_all[t], h=self.h_all[t])
        if not self.batched:
            vals = {k: v[0] for k, v in vals.items()}
        return Step(**vals)


# --- the cell --------------------------------------------------------------------------------

class LSTMCell(WeightOwner):
    """An LSTM cell with input size D and hidden size H.

    Initialisation: every weight is drawn from U(-1/√H, 1/√H) (as torch.nn.LSTM does), every
    bias starts at 0, and `forget_bias` is then added to b_f (1.0 is the usual choice for
    training, Gers et al. 2000; Jozefowicz et al. 2015). `seed` is an int or a numpy Generator.

    `params` maps the book's names to views into one fused matrix `W` of shape (4H, H+D) whose row
    blocks are f, i, c, o, and one fused bias `b` of shape (4H,): W_f, W_i, W_c, W_o are (H, H+D),
    b_f, b_i, b_c, b_o are (H,). Writing into a view (`params["W_f"][:] = ...`) changes the cell;
    `cell.W = new` copies `new` into the cell's W. The cell counts these writes: a trace made
    before one is refused by `backward` (see lstmlib.weights for the writes it cannot see).

    Variants (keyword options; equations in lstmlib.variants, names in `VARIANTS`):
    `peepholes=True` adds the diagonal weights p_f, p_i, p_o (H,) from the memory into the gates
    (Gers & Schmidhuber 2000), drawn from U(-1/√H, 1/√H) like the weights, after W (so W is the
    plain cell's for the same seed); `coupled=True` computes i_t = 1 − f_t (no W_i, b_i);
    `forget_gate=False`, `input_gate=False`, `output_gate=False` fix that gate at 1 (no W_g,
    b_g); `input_activation=False` drops the tanh of c̃_t, `output_activation=False` that of
    c'_t. A variant cell keeps W (the weighted gates' blocks, in the order f, i, c, o) and b
    (their biases, then the peepholes) the same way, with `params` as views under the book's
    names; it runs the readable code of lstmlib.variants and does not take pinned gates.
    `options` lists the options that differ from the plain cell.
    """

    def __init__(self, input_size, hidden_size, *, seed=0, forget_bias=0.0, dtype=np.float64,
                 peepholes=False, coupled=False, forget_gate=True, input_gate=True,
                 output_gate=True, input_activation=True, output_activation=True):
        self.D = positive_int(input_size, "input_size")
        self.H = positive_int(hidden_size, "hidden_size")
        self.dtype = float_dtype(dtype)
        forget_bias = finite_real(forget_bias, "forget_bias", self.dtype)
        self._variant = variants.Variant.checked(
            forget_bias, peepholes=peepholes, coupled=coupled, forget_gate=forget_gate,
            input_gate=input_gate, output_gate=output_gate, input_activation=input_activation,
            output_activation=output_activation)  # None for the plain cell
        rng = rng_from(seed)
        k = 1.0 / np.sqrt(self.H)
        rows, n_b = (4 * self.H, 4 * self.H) if self._variant is None else self._variant.shapes(self.H)
        W = rng.uniform(-k, k, size=(rows, self.H + self.D)).astype(self.dtype)
        b = np.zeros(n_b, dtype=self.dtype)
        b[: self.H] += forget_bias  # b_f is the first block (zero when there is no forget gate)
        if n_b > rows:  # the peephole weights, drawn after W (so W is the plain cell's)
            b[rows:] = rng.uniform(-k, k, size=n_b - rows).astype(self.dtype)
        self._init_weights(W, b)
        self._fused = None  # the weights as the fused forward uses them, with their versions

    @property
    def options(self):
        """The variant options that differ from the plain cell, {name: value} ({} if none)."""
        return {} if self._variant is None else self._variant.options

    def __repr__(self):
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return (f"LSTMCell(input_size={self.D}, hidden_size={self.H}, dtype={self.dtype.name}"
                f"{opts})")

    @property
    def params(self):
        if self._variant is not None:
            return self._variant.views(self.W, self.b, self.H)
        return by_gate(self.W, self.b, self.H)

    @property
    def n_params(self):
        return self._W.size + self._b.size

    def _where(self, name, at):
        if self._variant is not None:
            return self._variant.where(name, at, self.H)
        k, g = divmod(at[0], self.H)
        return f" (params['{name}_{GATES[k]}'][{', '.join(str(v) for v in (g, *at[1:]))}])"

    def _prepared(self, path):
        """The weights as the fused passes multiply by them, made once per change of the
        weights (and checked finite then), read-only; traces do not keep them.

        "tanh" (batch layout): (W_h·s)^T (H, 4H), (W_x·s)^T (D, 4H), b·s (4H,); "exp" (feature
        layout): W_h·s (4H, H), W_x·s (4H, D), b·s, s the row scale of that way to compute the
        gates (`_row_scale`); for backward, "plain-batch": W_h (4H, H), W_x (4H, D), and
        "plain-feature": W_h^T (H, 4H), W_x^T (D, 4H)."""
        made = self._prepared_cache()
        if path not in made:
            H = self.H
            if path == "plain-feature":
                arrays = (np.ascontiguousarray(self._W[:, :H].T),
                          np.ascontiguousarray(self._W[:, H:].T))
            elif path == "plain-batch":
                arrays = (np.ascontiguousarray(self._W[:, :H]), self._W[:, H:].copy())
            elif path == "tanh":
                scale = _row_scale(H, self.dtype, path)
                arrays = ((self._W[:, :H] * scale[:, None]).T.copy(),
                          (self._W[:, H:] * scale[:, None]).T.copy(), self._b * scale)
            else:
                scale = _row_scale(H, self.dtype, path)[:, None]
                arrays = (self._W[:, :H] * scale, self._W[:, H:] * scale,
                          self._b * scale[:, 0])
            _read_only(*arrays)
            made[path] = arrays
        return made[path]

    def _prepared_cache(self):
        """The cache of what the fused passes prepare from the weights, emptied when they change."""
        versions = self._versions()
        if self._fused is None or self._fused[0] != versions:
            self._check_weights()
            self._fused = (versions, {})
        return self._fused[1]

    def _feature_fits(self):
        """Whether the "feature" layout can compute with these weights. Its "exp" path doubles the
        c̃ rows (tanh(z) = 2σ(2z) − 1): a c̃ weight or bias above half the dtype's largest float
        would become ±inf there and give c̃ = ±1 (or NaN) where tanh(z) is not. Such weights run
        the "batch" layout, which computes tanh(z) itself: both layouts take the same weights."""
        made = self._prepared_cache()
        if "feature fits" not in made:
            limit = float(np.finfo(self.dtype).max) / 2
            c = gate_rows(self.H)["c"]
            made["feature fits"] = not (np.abs(self._W[c]).max() > limit  # never empty: H, D >= 1
                                        or np.abs(self._b[c]).max() > limit)
        return made["feature fits"]

    # -- checking inputs --
    def _sequence_inputs(self, xs, h0, c0):
        """forward's inputs checked, copied and batched: (xs (T, B, D), h0 (B, H), c0 (B, H),
        whether xs came batched). The plain and the variant forward both start here."""
        xs = check_input(xs, "xs", self.D, self.dtype, sequence=True, copy=True)
        batched = xs.ndim == 3
        T, B = xs.shape[0], xs.shape[1] if batched else 1
        xs = xs.reshape(T, B, self.D)
        h0 = check_state(h0, "h0", B, self.H, batched, self.dtype)
        c0 = check_state(c0, "c0", B, self.H, batched, self.dtype)
        return xs, h0, c0, batched

    def _pin(self, value, name, batched, B, T=None):
        """A gate set by hand, checked to lie in [0, 1] and broadcast to (B, H), or (T, B, H)
        when T is given. Accepted: a scalar, the gate's shape, or (with T) one value per step."""
        v = np.asarray(value)
        if v.dtype.kind not in "fiu":
            raise TypeError(f"gate override {name} must be real; got dtype {v.dtype}")
        gshape = (B, self.H) if batched else (self.H,)
        allowed = [gshape] + ([(T,) + gshape] if T is not None else [])
        if v.shape != () and v.shape not in allowed:
            raise ValueError(f"gate override {name} must be a scalar or of shape "
                             f"{' or '.join(str(s) for s in allowed)}; got {v.shape}")
        if not (np.isfinite(v).all() and (v >= 0).all() and (v <= 1).all()):
            raise ValueError(f"gate override {name} must lie in [0, 1]; got values from "
                             f"{v.min()} to {v.max()}")
        v = v.astype(self.dtype)  # a copy: the caller's array is never kept
        if T is None:  # (), (H,) with B = 1, or (B, H): each broadcasts to (B, H) as it is
            return np.broadcast_to(v, (B, self.H))
        per_step = v.ndim == len(gshape) + 1
        lead = (T, B, self.H) if per_step else (B, self.H)
        return np.broadcast_to(v.reshape(lead) if v.ndim else v, (T, B, self.H))

    # -- one step, as written in the book --
    def step(self, x, h_prev=None, c_prev=None, *, f=None, i=None, o=None):
        """One timestep. x: (D,) or (B, D); h_prev, c_prev: (H,) or (B, H), zeros if omitted.

        f, i, o pin a gate to a value in [0, 1] (a scalar or an array of the gate's shape)
        instead of computing it: the "missing link" cases and the sliders use this.
        Returns a `Step` with read-only arrays of shape (H,) or (B, H).
        """
        if self._variant is not None:
            return variants.step(self, x, h_prev, c_prev, f=f, i=i, o=o)
        x = check_input(x, "x", self.D, self.dtype, sequence=False)
        batched = x.ndim == 2
        B = x.shape[0] if batched else 1
        h_prev = check_state(h_prev, "h_prev", B, self.H, batched, self.dtype)
        c_prev = check_state(c_prev, "c_prev", B, self.H, batched, self.dtype)
        self._check_weights()
        p = by_gate(self._W, self._b, self.H)
        z = concat(h_prev, x.reshape(B, self.D))  # (B, H+D)

        def gate_or_pin(pin, name, compute):
            if pin is None:
                return compute()
            return self._pin(pin, name, batched, B).reshape(B, self.H).copy()

        f_t = gate_or_pin(f, "f", lambda: forget_gate(z, p["W_f"], p["b_f"]))
        i_t = gate_or_pin(i, "i", lambda: input_gate(z, p["W_i"], p["b_i"]))
        c_tilde = candidate(z, p["W_c"], p["b_c"])
        F, I, c = cell_state(c_prev, f_t, i_t, c_tilde)  # noqa: E741
        o_t = gate_or_pin(o, "o", lambda: output_gate(z, p["W_o"], p["b_o"]))
        c_prime, h = hidden_state(o_t, c)
        self._finite_result("step", [("c_t", c), ("h_t", h)])
        vals = dict(f=f_t, F=F, i=i_t, c_tilde=c_tilde, I=I, c=c, o=o_t, c_prime=c_prime, h=h)
        if not batched:
            vals = {k: v[0] for k, v in vals.items()}
        _read_only(*vals.values())
        return Step(**vals)

    # -- a whole sequence, fused --
    def forward(self, xs, h0=None, c0=None, *, f=None, i=None, o=None):
        """Run T steps. xs: (T, D) or (T, B, D); h0, c0: (H,) or (B, H), zeros if omitted.

        The overrides f, i, o work as in `step`, and may also give one value per step,
        (T, H) or (T, B, H). Returns a `Trace`: its own copies of xs, h0 and c0, read-only.
        """
        if self._variant is not None:
            return variants.forward(self, xs, h0, c0, f=f, i=i, o=o)
        xs, h0, c0, batched = self._sequence_inputs(xs, h0, c0)
        T, B, _ = xs.shape
        H = self.H
        pins = {name: self._pin(v, name, batched, B, T)
                for name, v in (("f", f), ("i", i), ("o", o)) if v is not None}
        # first: _source() notices writes the weight views could not see (np.asarray(cell.W)),
        # so that the layout is chosen for the weights as they are now
        source = self._source()
        layout = "feature" if B * H >= FEATURE_MAJOR_MIN and self._feature_fits() else "batch"
        run = self._forward_feature if layout == "feature" else self._forward_batch
        G, Hs, Cs, CP = run(xs, h0, c0, pins)
        # a NaN (from inf - inf in an overflowing product) reaches h_T and c_T: checking them
        # finds it anywhere in the sequence
        self._finite_result("forward", [("h_T", Hs[T]), ("c_T", Cs[T])])
        _read_only(xs, G, Hs, Cs, CP)
        if layout == "feature":  # the public (T, B, ·) arrays are views of (T, ·, B) ones
            G, Hs, Cs, CP = (a.transpose(0, 2, 1) for a in (G, Hs, Cs, CP))
        return Trace(xs=xs, h0=Hs[0], c0=Cs[0], gates=G, c_all=Cs[1:], cp_all=CP, h_all=Hs[1:],
                     pinned=frozenset(pins), batched=batched, source=source, store=(Hs, Cs),
                     layout=layout)

    # Two layouts of the same computation, picked by the size B·H (FEATURE_MAJOR_MIN):
    #   "batch": every array (T, B, ·), the gates σ through one tanh; fewest numpy calls per step.
    #   "feature": every array (T, ·, B), so one gate of all steps is T contiguous (H, B) blocks
    #     (the passes of backward over whole gates run several times faster than over (T, B, H)
    #     slices), and the gates σ through one exp (cheaper per entry than tanh); more calls.
    # h and c get T+1 slots, slot t holding h_t and c_t (slot 0: h_0, c_0): h_{t-1} and c_{t-1}
    # of every step are views.

    def _forward_batch(self, xs, h0, c0, pins):
        T, B, D = xs.shape
        H = self.H
        rows = gate_rows(H)
        WhT, WxT, bS = self._prepared("tanh")     # (H, 4H), (D, 4H), (4H,)
        Hs = np.empty((T + 1, B, H), dtype=self.dtype)
        Cs = np.empty((T + 1, B, H), dtype=self.dtype)
        CP = np.empty((T, B, H), dtype=self.dtype)
        Hs[0], Cs[0] = h0, c0
        # σ(z) = (1 + tanh(z/2)) / 2: with the f, i, o rows halved (exactly: a power of two, in
        # the prepared weights), one tanh over all 4H pre-activations and one multiply-add give
        # all four gates. (B, 4H) each: same-shape products run faster than broadcast ones
        half, shift = _tanh_to_gates_rows(H, self.dtype, B)
        G = xs.reshape(T * B, D) @ WxT              # the input projection of every step at once
        G += bS
        G = G.reshape(T, B, 4 * H)
        hWh = np.empty((B, 4 * H), dtype=self.dtype)  # h_{t-1} · W_h, reused every step
        I = np.empty((B, H), dtype=self.dtype)       # noqa: E741 (i_t ⊗ c̃_t, reused)
        f_all, i_all, ct_all, o_all = (G[..., rows[name]] for name in GATES)  # (T, B, H) views
        for t in range(T):
            g = G[t]                                  # (B, 4H), filled in place
            np.matmul(Hs[t], WhT, out=hWh)
            g += hWh
            np.tanh(g, out=g)
            g *= half
            g += shift
            for name, v in pins.items():
                g[:, rows[name]] = v[t]
            c_t, cp = Cs[t + 1], CP[t]
            np.multiply(f_all[t], Cs[t], out=c_t)         # F_t = c_{t-1} ⊗ f_t
            np.multiply(i_all[t], ct_all[t], out=I)
            c_t += I
            np.tanh(c_t, out=cp)
            np.multiply(o_all[t], cp, out=Hs[t + 1])
        return G, Hs, Cs, CP

    def _forward_feature(self, xs, h0, c0, pins):
        T, B, D = xs.shape
        H = self.H
        rows = gate_rows(H)
        WhS, WxS, bS = self._prepared("exp")      # (4H, H), (4H, D), (4H,)
        Hs = np.empty((T + 1, H, B), dtype=self.dtype)
        Cs = np.empty((T + 1, H, B), dtype=self.dtype)
        CP = np.empty((T, H, B), dtype=self.dtype)
        Hs[0], Cs[0] = h0.T, c0.T
        G = np.matmul(WxS, xs.transpose(0, 2, 1))  # the input projections, (4H, D)·(D, B) each
        G += bS[:, None]                            # (T, 4H, B)
        hWh = np.empty((4 * H, B), dtype=self.dtype)  # W_h · h_{t-1}, reused every step
        I = np.empty((H, B), dtype=self.dtype)       # noqa: E741 (i_t ⊗ c̃_t, reused)
        f_all, i_all, ct_all, o_all = (G[:, rows[name]] for name in GATES)  # (T, H, B) views
        # σ(z) = 1 / (1 + e^{-z}) and tanh(z) = 2 σ(2z) - 1: with the f, i, o rows negated and the
        # c̃ rows times -2 (exact), one exp over all 4H pre-activations, then 1/(1 + ·), and
        # 2·(·) - 1 on the c̃ block. exp may overflow to inf (then σ = 0): no warning for that.
        with np.errstate(over="ignore", under="ignore"):
            for t in range(T):
                g = G[t]                              # (4H, B), filled in place
                np.matmul(WhS, Hs[t], out=hWh)
                g += hWh
                np.exp(g, out=g)
                g += 1.0
                np.reciprocal(g, out=g)
                ct = ct_all[t]
                ct *= 2.0
                ct -= 1.0
                for name, v in pins.items():
                    g[rows[name]] = v[t].T
                c_t, cp = Cs[t + 1], CP[t]
                np.multiply(f_all[t], Cs[t], out=c_t)     # F_t = c_{t-1} ⊗ f_t
                np.multiply(i_all[t], ct, out=I)
                c_t += I
                np.tanh(c_t, out=cp)
                np.multiply(o_all[t], cp, out=Hs[t + 1])
        return G, Hs, Cs, CP

    def backward(self, trace, dh, dc_last=None):
        """Backpropagation through time.

        dh: the gradient of the loss with respect to every h_t, shaped like `trace.h`.
        dc_last: optionally, a gradient on the final cell state c_T, shaped like `trace.c[-1]`.
        Returns a dict with the keys of `params` plus "x" (like the xs given), "h0" and "c0".
        Gates pinned by hand in the forward pass pass no gradient to their weights.
        The trace must come from this cell's forward(), made with the weights as they are now.
        """
        if self._variant is not None:
            return variants.backward(self, trace, dh, dc_last)
        if not isinstance(trace, Trace):
            raise TypeError(f"trace must be a Trace from this cell's forward(); got {type(trace).__name__}")
        T, B, H = trace.c_all.shape
        if trace.xs.shape[2] != self.D or H != self.H:
            raise ValueError(f"trace has D={trace.xs.shape[2]}, H={H}; this cell has "
                             f"D={self.D}, H={self.H}")
        self._check_source(trace)
        dh = as_float_input(dh, "dh", self.dtype)
        require_shape(dh, trace.h.shape, "dh")
        dh = dh.reshape(T, B, H)
        if dc_last is not None:
            dc_last = as_float_input(dc_last, "dc_last", self.dtype)
            require_shape(dc_last, trace.c[-1].shape, "dc_last")
            dc_last = dc_last.reshape(B, H)
        run = self._backward_feature if trace.layout == "feature" else self._backward_batch
        dW, db, dx, dh0, dc0 = run(trace, dh, dc_last)
        self._finite_result("backward", [("the gradient of W", dW), ("the gradient of b", db),
                                         ("the gradient of x", dx), ("the gradient of h0", dh0),
                                         ("the gradient of c0", dc0)])
        grads = by_gate(dW, db, H)
        grads["x"] = dx if trace.batched else dx[:, 0]
        grads["h0"] = dh0 if trace.batched else dh0[0]
        grads["c0"] = dc0 if trace.batched else dc0[0]
        return grads

    def _backward_batch(self, trace, dh, dc_last):
        """Backpropagation through time in the batch layout: `backward_step`'s equations (B1)-(B9)
        for every step, fused. Its buffers, each (T, B, ·) unless said:

        A   (T, B, 4H)  the factors of (B1), (B3)-(B5) that need no recursion: da_f = dc_t ⊗ Af
                        with Af = c_{t-1} ⊗ f ⊗ (1 - f) (B4, B5); da_i = dc_t ⊗ Ai, Ai = c̃ ⊗ i ⊗
                        (1 - i) (B3, B5); da_c = dc_t ⊗ Ag, Ag = i ⊗ (1 - c̃²) (B3, B5); da_o =
                        dh_t ⊗ Ao, Ao = c' ⊗ o ⊗ (1 - o) (B1, B5). The loop multiplies it in place
                        into dZ = [da_f, da_i, da_c, da_o] (B5), the gradient on the pre-activations
        FK  (T, B, 2H)  [f_{t+1}, o_t ⊗ (1 - c'_t²)]: the factors of the two terms of (B2), f_{t+1}
                        being (B9) of step t+1 (1 at the last step: dc_last reaches c_T as it is)
        M   (B, 4H)     [dc_t, dc_t, dc_t, dh_t] of the current step (B2), lined up with A[t]
        P   (B, 2H)     [dc_{t+1} ⊗ f_{t+1}, dh_t ⊗ o_t ⊗ (1 - c'_t²)], the two terms of (B2)
        dh_next (B, H)  dh_{t-1}, the h half of dz_t (B7, B8), added to dh[t-1] in the next turn
        dc0, dW, db, dx (B9) at t = 1, then (B6) and the x half of (B7, B8) for all steps at once
        """
        T, B, H = trace.c_all.shape
        D, dt = self.D, self.dtype
        Wh, Wx = self._prepared("plain-batch")      # W_h (4H, H), W_x (4H, D)
        Hs, Cs = trace.store                        # (T+1, B, H) each
        G, CP = trace.gates, trace.cp_all
        rows = gate_rows(H)
        f, i, g, o = (G[..., rows[name]] for name in GATES)  # each (T, B, H)
        # Everything that does not depend on the recursion, for all T steps at once:
        # A holds ∂a/∂c_t for f, i, c̃ (da = dc_t ⊗ A) and ∂a/∂h_t for o (da = dh_t ⊗ A), a the
        # pre-activations; the loop turns it into dZ in place (B5).
        A = np.empty((T, B, 4 * H), dtype=dt)
        Af, Ai, Ag, Ao = (A[..., rows[name]] for name in GATES)
        np.subtract(1.0, f, out=Af)
        Af *= f
        Af *= Cs[:T]                    # c_{t-1} ⊗ f ⊗ (1 - f): (B4) and σ' of (B5)
        np.subtract(1.0, i, out=Ai)
        Ai *= i
        Ai *= g                         # c̃ ⊗ i ⊗ (1 - i): di_t of (B3), σ' of (B5)
        np.multiply(g, g, out=Ag)
        np.subtract(1.0, Ag, out=Ag)
        Ag *= i                         # i ⊗ (1 - c̃²): dc̃_t of (B3), tanh' of (B5)
        np.subtract(1.0, o, out=Ao)
        Ao *= o
        Ao *= CP                        # c' ⊗ o ⊗ (1 - o): (B1) and σ' of (B5)
        for name in trace.pinned:
            A[..., rows[name]] = 0.0
        # (B2) dc_t = dc_{t+1} ⊗ f_{t+1} + dh_t ⊗ o_t ⊗ (1 - c'_t²): one product of [dc_{t+1}, dh_t]
        # with FK[t] = [f_{t+1}, o_t ⊗ (1 - c'_t²)] and one sum of its halves
        FK = np.empty((T, B, 2 * H), dtype=dt)
        K = FK[..., H:]
        np.multiply(CP, CP, out=K)
        np.subtract(1.0, K, out=K)
        K *= o
        FK[:-1, :, :H] = f[1:]          # (B9) of step t+1: dc_t ⊗ f_t
        FK[-1, :, :H] = 1.0             # dc_last reaches c_T as it is
        # M = [dc_t, dc_t, dc_t, dh_t] lines up with A[t]: dz_t = A[t] ⊗ M in one product
        M = np.zeros((B, 4 * H), dtype=dt)
        M4 = M.reshape(B, 4, H)
        if dc_last is not None:
            M[:, 2 * H:3 * H] = dc_last
        P = np.empty((B, 2 * H), dtype=dt)
        P_F, P_K = P[:, None, :H], P[:, None, H:]        # (B, 1, H): broadcast to the three dc
        dh_next = np.zeros((B, H), dtype=dt)
        dh_t, dc3, pair = M[:, 3 * H:], M4[:, :3], M[:, 2 * H:]  # views, fixed for the loop
        for t in range(T - 1, -1, -1):
            np.add(dh[t], dh_next, out=dh_t)            # dh_t: the loss at t and (B8) of t+1
            np.multiply(pair, FK[t], out=P)             # [dc_{t+1} ⊗ f_{t+1}, dh_t ⊗ K_t]
            np.add(P_F, P_K, out=dc3)                   # (B2) dc_t, three times
            dz = A[t]
            dz *= M                                     # (B5) gradients on the pre-activations
            np.matmul(dz, Wh, out=dh_next)              # (B7, B8) dh_{t-1}
        dc0 = M[:, :H] * f[0]                       # (B9) at t = 1: dc_0
        del FK
        dZ = A.reshape(T * B, 4 * H)  # now ∂L/∂z for every step
        # (B6) ∂L/∂W = Σ_t dz_t^T [h_{t-1}, x_t]: GEMMs over all steps at once; ∂L/∂b = Σ_t dz_t;
        # (B7, B8) dx_t = dz_t · W_x
        dW = np.empty((4 * H, H + D), dtype=dt)
        np.matmul(dZ.T, Hs[:T].reshape(T * B, H), out=dW[:, :H])
        np.matmul(dZ.T, trace.xs.reshape(T * B, D), out=dW[:, H:])
        return dW, dZ.sum(axis=0), (dZ @ Wx).reshape(T, B, D), dh_next, dc0

    def _backward_feature(self, trace, dh, dc_last):
        """Backpropagation through time in the feature layout: the buffers of `_backward_batch`,
        each (B, ·) block transposed to (·, B), and the same equations (B1)-(B9):

        A   (T, 4H, B)  Af (B4, B5), Ai (B3, B5), Ag (B3, B5), Ao (B1, B5); then dZ (B5)
        FK  (T, 2H, B)  [f_{t+1} (B9 of step t+1), o_t ⊗ (1 - c'_t²)], the factors of (B2)
        M   (4H, B)     [dc_t, dc_t, dc_t, dh_t] (B2);  P (2H, B): the two terms of (B2)
        dh_next (H, B)  dh_{t-1} (B7, B8);  dc0: (B9) at t = 1
        dZc, Zc         a chunk of steps of dZ and of [h_{t-1}, x_t], for dW, db (B6) and dx (B7, B8)
        """
        T, B, H = trace.c_all.shape
        D, dt = self.D, self.dtype
        WhT, WxT = self._prepared("plain-feature")  # W_h^T (H, 4H), W_x^T (D, 4H)
        Hs, Cs = (a.transpose(0, 2, 1) for a in trace.store)  # (T+1, H, B), the forward's own
        G = trace.gates.transpose(0, 2, 1)          # (T, 4H, B)
        CP = trace.cp_all.transpose(0, 2, 1)        # (T, H, B)
        dhs = np.ascontiguousarray(dh.transpose(0, 2, 1))  # (T, H, B)
        rows = gate_rows(H)
        f, i, g, o = (G[:, rows[name]] for name in GATES)  # each (T, H, B)
        # as in _backward_batch, with every (B, ·) block transposed to (·, B)
        A = np.empty((T, 4 * H, B), dtype=dt)
        Af, Ai, Ag, Ao = (A[:, rows[name]] for name in GATES)
        np.subtract(1.0, f, out=Af)
        Af *= f
        Af *= Cs[:T]                    # (B4), σ' of (B5)
        np.subtract(1.0, i, out=Ai)
        Ai *= i
        Ai *= g                         # di_t of (B3), σ' of (B5)
        np.multiply(g, g, out=Ag)
        np.subtract(1.0, Ag, out=Ag)
        Ag *= i                         # dc̃_t of (B3), tanh' of (B5)
        np.subtract(1.0, o, out=Ao)
        Ao *= o
        Ao *= CP                        # (B1), σ' of (B5)
        for name in trace.pinned:
            A[:, rows[name]] = 0.0
        FK = np.empty((T, 2 * H, B), dtype=dt)
        K = FK[:, H:]
        np.multiply(CP, CP, out=K)
        np.subtract(1.0, K, out=K)
        K *= o                          # o_t ⊗ (1 - c'_t²) of (B2)
        FK[:-1, :H] = f[1:]             # (B9) of step t+1
        FK[-1, :H] = 1.0
        M = np.zeros((4 * H, B), dtype=dt)
        M4 = M.reshape(4, H, B)
        if dc_last is not None:
            M[2 * H:3 * H] = dc_last.T
        P = np.empty((2 * H, B), dtype=dt)
        P_F, P_K = P[None, :H], P[None, H:]         # (1, H, B): broadcast to the three dc
        dh_next = np.zeros((H, B), dtype=dt)
        dh_t, dc3, pair = M[3 * H:], M4[:3], M[2 * H:]
        for t in range(T - 1, -1, -1):
            np.add(dhs[t], dh_next, out=dh_t)
            np.multiply(pair, FK[t], out=P)
            np.add(P_F, P_K, out=dc3)                   # (B2) dc_t, three times
            dz = A[t]
            dz *= M                                     # (B5)
            np.matmul(WhT, dz, out=dh_next)             # (B7, B8) dh_{t-1}
        dc0 = (M[:H] * f[0]).T                      # (B9) at t = 1: dc_0
        del FK, dhs  # no longer needed: less memory at the peak below
        # (B6) ∂L/∂W = Σ_t dz_t [h_{t-1}, x_t]^T, ∂L/∂b = Σ_t dz_t, (B7, B8) ∂L/∂x_t = W_x^T dz_t:
        # GEMMs need the steps and the batch side by side, (4H, n·B): done in chunks of n steps, each
        # copied into one reused buffer (a copy of all of dZ at once would be the largest array here)
        n = max(1, min(T, BACKWARD_CHUNK // B))
        dZc = np.empty((4 * H, n * B), dtype=dt)
        Zc = np.empty((n * B, H + D), dtype=dt)     # [h_{t-1}, x_t] of the chunk's steps
        dW = np.zeros((4 * H, H + D), dtype=dt)
        db = np.zeros(4 * H, dtype=dt)
        dx = np.empty((T, B, D), dtype=dt)
        part = np.empty((4 * H, H + D), dtype=dt)
        for t0 in range(0, T, n):
            m = min(n, T - t0) * B
            cols, rows_ = dZc[:, :m], Zc[:m]
            np.copyto(cols.reshape(4 * H, m // B, B), A[t0:t0 + m // B].transpose(1, 0, 2))
            np.copyto(rows_[:, :H].reshape(m // B, B, H), Hs[t0:t0 + m // B].transpose(0, 2, 1))
            rows_[:, H:] = trace.xs[t0:t0 + m // B].reshape(m, D)
            np.matmul(cols, rows_, out=part)
            dW += part
            db += cols.sum(axis=1)
            np.matmul(cols.T, WxT.T, out=dx[t0:t0 + m // B].reshape(m, D))
        return dW, db, dx, dh_next.T.copy(), dc0.copy()


# B·H from which forward and backward use the "feature" layout (see LSTMCell._forward_batch):
# measured on the benchmark machine, it saves most of the time of the passes over whole gates
# and exp costs half of tanh per entry (a fifth in float64), but it makes more numpy calls per
# step and backward must transpose dZ once, which only pays off for larger arrays.
FEATURE_MAJOR_MIN = 2048
# columns (steps × batch) of the chunks in which the feature layout's backward multiplies dZ
BACKWARD_CHUNK = 4096


@functools.lru_cache(maxsize=64)
def _row_scale(H, dtype, path):
    """(4H,) factor of each row of the fused weights for an activation path of forward:
    "tanh": 1/2 on the f, i, o rows and 1 on the c̃ rows; "exp": -1 and -2. Read-only, cached."""
    scale = _tanh_to_gates(H, dtype)[0].copy() if path == "tanh" else np.full(4 * H, -1.0, dtype)
    if path == "exp":
        scale[2 * H:3 * H] = -2.0
    scale.flags.writeable = False
    return scale


@functools.lru_cache(maxsize=32)
def _tanh_to_gates(H, dtype):
    """(scale, shift), each (4H,): gate = scale ⊗ tanh(scale ⊗ z) + shift gives σ(z) on the f, i, o
    blocks (scale 1/2, shift 1/2) and tanh(z) on the c̃ block (scale 1, shift 0). Read-only, cached."""
    scale = np.full(4 * H, 0.5, dtype=dtype)
    shift = np.full(4 * H, 0.5, dtype=dtype)
    scale[2 * H:3 * H] = 1.0
    shift[2 * H:3 * H] = 0.0
    scale.flags.writeable = shift.flags.writeable = False
    return scale, shift


@functools.lru_cache(maxsize=32)
def _tanh_to_gates_rows(H, dtype, B):
    """`_tanh_to_gates` repeated for B rows, (B, 4H) each: same-shape products run faster than
    broadcast ones. Read-only, cached."""
    scale, shift = (np.tile(v, (B, 1)) for v in _tanh_to_gates(H, dtype))
    scale.flags.writeable = shift.flags.writeable = False
    return scale, shift


# The variants' forward and backward (LSTMCell dispatches to them when an option is set); they
# build on this module's Step and Trace, so they are imported once those exist.
from lstmlib import variants  # noqa: E402
