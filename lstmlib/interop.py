"""lstmlib's LSTM weights in torch.nn.LSTM's layout, and torch's LSTM equations in numpy.

The book writes one matrix per gate acting on [h_{t-1}, x_t], rows of W_f, W_i, W_c, W_o, and one
bias per gate. torch.nn.LSTM (one layer) keeps the same numbers differently (its documentation,
https://pytorch.org/docs/stable/generated/torch.nn.LSTM.html):

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      the book's i_t
    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      f_t
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)   the candidate c̃_t
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      o_t
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                     h_t = o_t ⊙ tanh(c_t)

weight_ih_l0 (4H, D) stacks W_ii, W_if, W_ig, W_io (gate order i, f, g, o) and acts on x_t alone;
weight_hh_l0 (4H, H) stacks the W_h· and acts on h_{t-1} alone; each gate has two biases,
bias_ih_l0 and bias_hh_l0 (4H,), that are only ever added together. Nothing here imports torch.
"""

import numpy as np

from lstmlib.activations import sigmoid, tanh
from lstmlib.checks import as_float_input, check_state

TORCH_GATES = ("i", "f", "c", "o")  # torch's row blocks: i, f, g (our c̃, weights W_c), o
TORCH_KEYS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
BOOK_KEYS = tuple(f"{kind}_{g}" for g in ("f", "i", "c", "o") for kind in ("W", "b"))


def _plain_params(cell):
    """The cell's params, refused unless it computes exactly torch.nn.LSTM's equations (an
    LSTMCell without variant options: `cell.options` empty)."""
    options = dict(getattr(cell, "options", None) or {})  # no attribute, None or {}: none
    params = getattr(cell, "params", None)
    if options or not isinstance(params, dict) or set(params) != set(BOOK_KEYS):
        keys = sorted(params) if isinstance(params, dict) else type(cell).__name__
        raise ValueError(f"torch.nn.LSTM computes the plain LSTM cell only (params {list(BOOK_KEYS)}"
                         f", no variant options); got a cell with params {keys}"
                         + (f" and options {options}" if options else ""))
    return params


def to_torch_lstm(cell):
    """An LSTMCell's weights as torch.nn.LSTM's state_dict (one layer), as numpy arrays.

    Returns {"weight_ih_l0": (4H, D), "weight_hh_l0": (4H, H), "bias_ih_l0": (4H,),
    "bias_hh_l0": (4H,)}, row blocks in torch's gate order i, f, g, o. torch adds its two biases;
    the book has one per gate, so bias_ih_l0 gets the book's b and bias_hh_l0 zeros (any split
    with the same sum computes the same cell). Copies: changing them leaves the cell alone.
    """
    p = _plain_params(cell)
    H = p["b_f"].shape[0]
    W = np.concatenate([p[f"W_{g}"] for g in TORCH_GATES])  # (4H, H+D), columns [h | x]
    b = np.concatenate([p[f"b_{g}"] for g in TORCH_GATES])
    return {"weight_ih_l0": W[:, H:].copy(), "weight_hh_l0": W[:, :H].copy(),
            "bias_ih_l0": b, "bias_hh_l0": np.zeros_like(b)}


def _torch_arrays(state, dtype=None):
    """The four arrays of a one-layer torch.nn.LSTM state_dict, checked: (arrays, H, D)."""
    missing = [k for k in TORCH_KEYS if k not in state]
    if missing:
        raise KeyError(f"a torch.nn.LSTM state_dict (one layer) needs {list(TORCH_KEYS)}; "
                       f"missing {missing}")
    a = {k: as_float_input(state[k], k, dtype or np.asarray(state[k]).dtype) for k in TORCH_KEYS}
    H = a["bias_hh_l0"].size // 4  # a candidate: every shape is checked against it below
    D = a["weight_ih_l0"].shape[-1] if a["weight_ih_l0"].ndim else 0  # 0-d: refused below
    expected = {"weight_ih_l0": (4 * H, D), "weight_hh_l0": (4 * H, H), "bias_ih_l0": (4 * H,),
                "bias_hh_l0": (4 * H,)}
    got = {k: v.shape for k, v in a.items()}
    if H == 0 or got != expected:
        raise ValueError(f"a torch.nn.LSTM state_dict has weight_ih_l0 (4H, D), weight_hh_l0 "
                         f"(4H, H), bias_ih_l0 and bias_hh_l0 (4H,); got shapes {got}")
    return a, H, D


def from_torch_lstm(state):
    """The book's params {"W_f": (H, H+D), "b_f": (H,), ...} from torch.nn.LSTM's state_dict
    (numpy arrays, or anything np.asarray reads). Each b is bias_ih + bias_hh of its gate.
    Write them into a cell with `cell.params[name][...] = value`."""
    a, H, _ = _torch_arrays(state)
    W = np.concatenate([a["weight_hh_l0"], a["weight_ih_l0"]], axis=1)  # (4H, H+D) on [h, x]
    b = a["bias_ih_l0"] + a["bias_hh_l0"]
    out = {}
    for k, g in enumerate(TORCH_GATES):
        rows = slice(k * H, (k + 1) * H)
        out[f"W_{g}"], out[f"b_{g}"] = W[rows].copy(), b[rows].copy()
    return {name: out[name] for name in BOOK_KEYS}


def torch_lstm_forward(state, xs, h0=None, c0=None):
    """torch.nn.LSTM's forward (one layer, batch_first=False), written in numpy in torch's layout.

    state: the four arrays of `to_torch_lstm`. xs: (T, D) or (T, B, D); h0, c0: (H,) or (B, H),
    zeros if omitted. Returns (out, (h_T, c_T)) as torch does: out (T, [B,] H) holds h_1..h_T.
    """
    a, H, D = _torch_arrays(state, np.float64)
    xs = as_float_input(xs, "xs", np.float64)
    if xs.ndim not in (2, 3) or xs.shape[-1] != D:
        raise ValueError(f"xs must have shape (T, {D}) or (T, B, {D}); got {xs.shape}")
    batched = xs.ndim == 3
    T, B = xs.shape[0], xs.shape[1] if batched else 1
    xs = xs.reshape(T, B, D)
    h = check_state(h0, "h0", B, H, batched, np.float64, copy=True)  # zeros when None
    c = check_state(c0, "c0", B, H, batched, np.float64, copy=True)
    out = np.empty((T, B, H))
    for t in range(T):
        gates = (xs[t] @ a["weight_ih_l0"].T + a["bias_ih_l0"]
                 + h @ a["weight_hh_l0"].T + a["bias_hh_l0"])  # (B, 4H): i, f, g, o
        i, f, g, o = (gates[:, k * H:(k + 1) * H] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * tanh(g)
        h = sigmoid(o) * tanh(c)
        out[t] = h
    if not batched:
        return out[:, 0], (h[0], c[0])
    return out, (h, c)
