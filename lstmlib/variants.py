"""The LSTM's variants: one equation per line, forward and backward, for `LSTMCell(..., **options)`.

The plain cell (every option at its default) runs the fused code of lstmlib.cell; a cell with any
option set runs the code below. The options change the equations as follows (z = [h_{t-1}, x_t]):

    peepholes=True            f_t = σ(W_f z + p_f ⊗ c_{t-1} + b_f)     (Gers & Schmidhuber 2000)
                              i_t = σ(W_i z + p_i ⊗ c_{t-1} + b_i)
                              o_t = σ(W_o z + p_o ⊗ c_t + b_o)
    coupled=True              i_t = 1 − f_t                            (no W_i, b_i)
    forget_gate=False         f_t = 1                                  (no W_f, b_f: the 1997 cell)
    input_gate=False          i_t = 1                                  (no W_i, b_i)
    output_gate=False         o_t = 1                                  (no W_o, b_o)
    input_activation=False    c̃_t = W_c z + b_c                        (no tanh)
    output_activation=False   c'_t = c_t, so h_t = o_t ⊗ c_t           (no tanh)

and the rest stays as in the plain cell: c_t = f_t ⊗ c_{t-1} + i_t ⊗ c̃_t, h_t = o_t ⊗ c'_t.
The peephole weights p_g are diagonal (one number per unit, shape (H,)), and only gates that are
computed have one. The forward and the backward pass below loop over time, batch-vectorised;
they are written for reading, not for speed.

`lstmlib.cell.VARIANTS` names the single changes that Greff et al. (2017) compared. Their
"vanilla" LSTM has peepholes; ours (the plain cell) does not, so their vanilla is our
"peepholes" and their "no peepholes" is our "vanilla".
"""

from dataclasses import dataclass, fields

import numpy as np

from lstmlib.activations import concat, sigmoid, tanh
from lstmlib.cell import GATES, Step, Trace, _read_only
from lstmlib.checks import as_float_input, check_input, check_state, require_shape


@dataclass(frozen=True)
class Variant:
    """Which parts of the cell are there (see the module's docstring); the defaults are the plain
    cell. Made by `LSTMCell`, which checks the options with `Variant.checked`."""

    peepholes: bool = False          # p_f, p_i, p_o ⊗ the memory inside the gates
    coupled: bool = False            # i_t = 1 − f_t
    forget_gate: bool = True         # False: f_t = 1
    input_gate: bool = True          # False: i_t = 1
    output_gate: bool = True         # False: o_t = 1
    input_activation: bool = True    # False: c̃_t without tanh
    output_activation: bool = True   # False: c'_t = c_t

    @classmethod
    def checked(cls, forget_bias, **options):
        """The variant of these options, or None for the plain cell; refuses a combination that
        does not make sense with a ValueError that says why (an option that is not a bool is a
        TypeError)."""
        for name, value in options.items():
            if not isinstance(value, bool | np.bool_):
                raise TypeError(f"LSTMCell option {name} must be True or False; got {value!r} "
                                 f"({type(value).__name__})")
        v = cls(**{name: bool(value) for name, value in options.items()})
        if v.coupled and not v.forget_gate:
            raise ValueError("coupled=True sets i_t = 1 − f_t, so it needs the forget gate; got "
                             "forget_gate=False (without it, use input_gate=False for i_t = 1)")
        if v.coupled and not v.input_gate:
            raise ValueError("coupled=True computes the input gate as i_t = 1 − f_t; "
                             "input_gate=False (i_t = 1) contradicts it: choose one")
        if forget_bias != 0.0 and not v.forget_gate:
            raise ValueError(f"forget_bias={forget_bias!r} is added to b_f, which a cell with "
                             f"forget_gate=False does not have; leave forget_bias at 0")
        return None if v == cls() else v

    @property
    def options(self):
        """The options that differ from the plain cell, {name: value}."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) != f.default}

    @property
    def weighted(self):
        """The gates that have weights W_g and b_g, in the order of their row blocks."""
        has = {"f": self.forget_gate, "i": self.input_gate and not self.coupled, "c": True,
               "o": self.output_gate}
        return tuple(g for g in GATES if has[g])

    @property
    def peeped(self):
        """The gates with a peephole weight p_g, in the order of their blocks in `b`."""
        return tuple(g for g in ("f", "i", "o") if self.peepholes and g in self.weighted)

    def shapes(self, H):
        """(rows of W, length of b): a block of H rows per weighted gate; b holds the biases of
        those gates, then the peephole weights."""
        return len(self.weighted) * H, (len(self.weighted) + len(self.peeped)) * H

    def views(self, W, b, H):
        """The book's names for the blocks of W and b (views, not copies): W_g, b_g for every
        weighted gate, then p_g for every peephole."""
        out = {}
        for k, g in enumerate(self.weighted):
            out[f"W_{g}"] = W[k * H:(k + 1) * H]
            out[f"b_{g}"] = b[k * H:(k + 1) * H]
        n = len(self.weighted)
        for k, g in enumerate(self.peeped, start=n):
            out[f"p_{g}"] = b[k * H:(k + 1) * H]
        return out

    def where(self, name, at, H):
        """Where entry `at` of the fused array W or b sits, as params['W_o'][1, 2]."""
        k, unit = divmod(at[0], H)
        # W has a block per weighted gate only: its k never reaches the peepholes' names
        names = [f"{name}_{g}" for g in self.weighted] + [f"p_{g}" for g in self.peeped]
        return f" (params['{names[k]}'][{', '.join(str(v) for v in (unit, *at[1:]))}])"


# --- one timestep, one line per equation ---------------------------------------------------

def gate_with_peephole(p, g, z, c):
    """A gate σ(W_g · z + b_g), plus p_g ⊗ c when the cell has a peephole on g.

    z: (B, H+D)   c: (B, H), c_{t-1} for f and i, c_t for o   ->   (B, H)
    """
    a = z @ p[f"W_{g}"].T + p[f"b_{g}"]
    if f"p_{g}" in p:
        a = a + p[f"p_{g}"] * c
    return sigmoid(a)


def step_equations(v, p, x, h_prev, c_prev):
    """One timestep of the variant v with the weights p (its `params`); x (B, D), h_prev and
    c_prev (B, H). Returns {f, i, c_tilde, c, o, c_prime, h}, each (B, H)."""
    z = concat(h_prev, x)                                          # [h_{t-1}, x_t], (B, H+D)
    one = np.ones_like(c_prev)
    f = gate_with_peephole(p, "f", z, c_prev) if v.forget_gate else one
    if v.coupled:
        i = 1.0 - f                                                # i_t = 1 − f_t
    else:
        i = gate_with_peephole(p, "i", z, c_prev) if v.input_gate else one
    a_c = z @ p["W_c"].T + p["b_c"]
    c_tilde = tanh(a_c) if v.input_activation else a_c             # c̃_t
    c = f * c_prev + i * c_tilde                                   # c_t = F_t ⊕ I_t
    o = gate_with_peephole(p, "o", z, c) if v.output_gate else one  # the peephole sees c_t
    c_prime = tanh(c) if v.output_activation else c                # c'_t
    h = o * c_prime                                                # h_t = o_t ⊗ c'_t
    return dict(f=f, i=i, c_tilde=c_tilde, c=c, o=o, c_prime=c_prime, h=h)


# --- what LSTMCell runs when an option is set ----------------------------------------------

def _no_pins(cell, f, i, o):
    pinned = [name for name, v in (("f", f), ("i", i), ("o", o)) if v is not None]
    if pinned:
        raise ValueError(f"gate overrides ({', '.join(f'{n}=' for n in pinned)}) work on the plain "
                         f"LSTMCell only; this cell is {cell!r}")


def step(cell, x, h_prev=None, c_prev=None, *, f=None, i=None, o=None):
    """`LSTMCell.step` of a variant cell: a `Step`, every array (H,) or (B, H) as x was given.
    For a removed gate the Step holds ones; with coupled gates, i = 1 − f."""
    _no_pins(cell, f, i, o)
    x = check_input(x, "x", cell.D, cell.dtype, sequence=False)
    batched = x.ndim == 2
    B = x.shape[0] if batched else 1
    h_prev = check_state(h_prev, "h_prev", B, cell.H, batched, cell.dtype)
    c_prev = check_state(c_prev, "c_prev", B, cell.H, batched, cell.dtype)
    cell._check_weights()
    p = cell._variant.views(cell._W, cell._b, cell.H)
    s = step_equations(cell._variant, p, x.reshape(B, cell.D), h_prev, c_prev)
    cell._finite_result("step", [("c_t", s["c"]), ("h_t", s["h"])])
    vals = dict(s, F=c_prev * s["f"], I=s["i"] * s["c_tilde"])
    vals = {k: np.array(v if batched else v[0]) for k, v in vals.items()}  # own arrays
    _read_only(*vals.values())
    return Step(**vals)


def forward(cell, xs, h0=None, c0=None, *, f=None, i=None, o=None):
    """`LSTMCell.forward` of a variant cell: `step_equations` run T times, kept in a `Trace`
    (the same class as the plain cell's: its f, i, o hold ones for a removed gate)."""
    _no_pins(cell, f, i, o)
    xs, h0, c0, batched = cell._sequence_inputs(xs, h0, c0)
    (T, B, _), H = xs.shape, cell.H
    source = cell._source()          # first: it notices writes the weight views could not see
    cell._check_weights(sync=False)  # _source has just compared the weights with their copy
    p = cell._variant.views(cell._W, cell._b, H)
    G = np.empty((T, B, 4 * H), dtype=cell.dtype)     # f, i, c̃, o of every step, as used
    Hs = np.empty((T + 1, B, H), dtype=cell.dtype)     # h_0..h_T
    Cs = np.empty((T + 1, B, H), dtype=cell.dtype)     # c_0..c_T
    CP = np.empty((T, B, H), dtype=cell.dtype)         # c'_1..c'_T
    Hs[0], Cs[0] = h0, c0
    for t in range(T):
        s = step_equations(cell._variant, p, xs[t], Hs[t], Cs[t])
        G[t] = np.concatenate([s["f"], s["i"], s["c_tilde"], s["o"]], axis=1)
        Hs[t + 1], Cs[t + 1], CP[t] = s["h"], s["c"], s["c_prime"]
    cell._finite_result("forward", [("h_T", Hs[T]), ("c_T", Cs[T])])
    _read_only(xs, G, Hs, Cs, CP)
    return Trace(xs=xs, h0=Hs[0], c0=Cs[0], gates=G, c_all=Cs[1:], cp_all=CP, h_all=Hs[1:],
                 batched=batched, source=source, store=(Hs, Cs), layout="batch")


def backward(cell, trace, dh, dc_last=None):
    """`LSTMCell.backward` of a variant cell: backpropagation through time, one line per
    derivative. Returns the keys of `params` plus "x", "h0" and "c0"."""
    v, H, D = cell._variant, cell.H, cell.D
    if not isinstance(trace, Trace):
        raise TypeError(f"trace must be a Trace from this cell's forward(); got {type(trace).__name__}")
    if trace.xs.shape[2] != D or trace.c_all.shape[2] != H:
        raise ValueError(f"trace has D={trace.xs.shape[2]}, H={trace.c_all.shape[2]}; this cell "
                         f"has D={D}, H={H}")
    cell._check_source(trace)
    T, B = trace.c_all.shape[:2]
    dh = as_float_input(dh, "dh", cell.dtype)
    require_shape(dh, trace.h.shape, "dh")
    dh = dh.reshape(T, B, H)
    dc_next = np.zeros((B, H), dtype=cell.dtype)     # ∂L/∂c_t from step t+1 (none after T)
    if dc_last is not None:
        dc_last = as_float_input(dc_last, "dc_last", cell.dtype)
        require_shape(dc_last, trace.c[-1].shape, "dc_last")
        dc_next = dc_last.reshape(B, H).copy()
    p = v.views(cell._W, cell._b, H)
    grads = {name: np.zeros_like(a) for name, a in p.items()}
    Hs, Cs = trace.store                              # (T+1, B, H): h_0..h_T, c_0..c_T
    f_all, i_all, ct_all, o_all = (trace.gates[..., k * H:(k + 1) * H] for k in range(4))
    dx = np.empty((T, B, D), dtype=cell.dtype)
    dh_next = np.zeros((B, H), dtype=cell.dtype)     # ∂L/∂h_t from step t+1
    for t in range(T - 1, -1, -1):
        f, i, c_tilde, o, c_prime = f_all[t], i_all[t], ct_all[t], o_all[t], trace.cp_all[t]
        c_prev, c, z = Cs[t], Cs[t + 1], concat(Hs[t], trace.xs[t])
        dh_t = dh[t] + dh_next                                       # ∂L/∂h_t
        da = {}                                                      # ∂L/∂(pre-activation)
        do = dh_t * c_prime                                          # ∂L/∂o_t
        if v.output_gate:
            da["o"] = do * o * (1.0 - o)
        dc_prime = dh_t * o                                          # ∂L/∂c'_t
        dc = dc_next + (dc_prime * (1.0 - c_prime**2) if v.output_activation else dc_prime)
        if "o" in v.peeped:
            dc = dc + da["o"] * p["p_o"]                             # o_t sees c_t
        dc_tilde = dc * i                                            # ∂L/∂c̃_t
        di = dc * c_tilde                                            # ∂L/∂i_t
        df = dc * c_prev - di if v.coupled else dc * c_prev          # ∂L/∂f_t (i_t = 1 − f_t)
        if "i" in v.weighted:
            da["i"] = di * i * (1.0 - i)
        if v.forget_gate:
            da["f"] = df * f * (1.0 - f)
        da["c"] = dc_tilde * (1.0 - c_tilde**2) if v.input_activation else dc_tilde
        dc_next = dc * f                                             # ∂L/∂c_{t-1}
        for g in ("f", "i"):
            if g in v.peeped:
                dc_next = dc_next + da[g] * p[f"p_{g}"]              # f_t, i_t see c_{t-1}
        dz = sum(da[g] @ p[f"W_{g}"] for g in v.weighted)            # ∂L/∂z_t, (B, H+D)
        dh_next, dx[t] = dz[:, :H], dz[:, H:]
        for g in v.weighted:
            grads[f"W_{g}"] += da[g].T @ z
            grads[f"b_{g}"] += da[g].sum(axis=0)
        for g in v.peeped:
            grads[f"p_{g}"] += (da[g] * (c if g == "o" else c_prev)).sum(axis=0)
    cell._finite_result("backward", [(f"the gradient of {name}", g) for name, g in grads.items()]
                        + [("the gradient of x", dx), ("the gradient of h0", dh_next),
                           ("the gradient of c0", dc_next)])
    grads["x"] = dx if trace.batched else dx[:, 0]
    grads["h0"] = dh_next if trace.batched else dh_next[0]
    grads["c0"] = dc_next if trace.batched else dc_next[0]
    return grads
