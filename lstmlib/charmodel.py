"""A character-level language model: stacked LSTM cells reading Python source, one character a step.

    x_t = onehot(char_t)                       (V,)   the input of layer 1
    h^1_t, c^1_t = LSTM_1(x_t, h^1_{t-1}, c^1_{t-1}),   h^2_t, c^2_t = LSTM_2(h^1_t, ...)
    logits_t = W_y · h^L_t + b_y               (V,)   p(char_{t+1}) = softmax(logits_t)
    loss = −(1/N) Σ log₂ p(char_{t+1})                 bits per character

Each layer is an `LSTMCell` and runs its fused `forward`/`backward`; training is truncated
backpropagation through time over chunks of T characters, with the state carried from one chunk to
the next (Karpathy, Johnson & Fei-Fei 2015). Also here: the corpus, the n-gram baselines, and the
features of code (inside a string, bracket depth, ...) that units are compared with.
"""

import math
import numbers
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib.resources import files

import numpy as np
from tqdm import tqdm

from lstmlib.cell import GATES, LSTMCell
from lstmlib.checks import (
    NonFiniteError,
    as_float_input,
    as_real_array,
    positive_finite,
    positive_int,
    require_finite,
    rng_from,
)
from lstmlib.train import Adam, clip_grad_norm

CORPUS_FILE = "python-stdlib.txt"  # in lstmlib/data, with PSF-LICENSE.txt and README.md
SPLIT = (0.9, 0.05, 0.05)          # train, validation, test: consecutive parts of the text


def _ids_in_range(ids, V, name="ids"):
    """ids as an integer array (not bool, not float) whose every entry lies in [0, V)."""
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu" or ids.dtype == bool:
        if not (ids.size == 0 and ids.dtype.kind == "f"):  # [] is float64 to numpy
            raise TypeError(f"{name} must be integers; got {ids.dtype}")
        ids = ids.astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        raise ValueError(f"{name} must lie in [0, {V}); got {ids.min()} .. {ids.max()}")
    return ids


def _npz(path):
    """The file numpy writes for `path`: np.savez adds ".npz" to a name without it."""
    if isinstance(path, str | os.PathLike):
        path = os.fspath(path)
        if not path.endswith(".npz"):
            path += ".npz"
    return path


# --- the corpus ------------------------------------------------------------------------------

def load_corpus():
    """The corpus: 22 modules of CPython 3.11.7's standard library, concatenated (see data/README)."""
    return (files("lstmlib") / "data" / CORPUS_FILE).read_text(encoding="ascii")


def split_text(text, fractions=SPLIT):
    """(train, validation, test): consecutive slices of `text` in these proportions."""
    if len(fractions) != 3 or not math.isclose(sum(fractions), 1.0) or min(fractions) <= 0:
        raise ValueError(f"fractions must be three positive numbers summing to 1; got {fractions}")
    a = int(len(text) * fractions[0])
    b = a + int(len(text) * fractions[1])
    return text[:a], text[a:b], text[b:]


class Vocab:
    """The characters of a text, sorted; a character's id is its position."""

    def __init__(self, text):
        self.chars = "".join(sorted(set(text)))
        if not self.chars:
            raise ValueError("a vocabulary needs a non-empty text")
        self._index = {ch: k for k, ch in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def __repr__(self):
        return f"Vocab({len(self)} characters)"

    def encode(self, text):
        """str -> (len(text),) int array of ids."""
        try:
            return np.fromiter((self._index[ch] for ch in text), dtype=np.int64, count=len(text))
        except KeyError as e:
            raise ValueError(f"character {e.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids):
        """int array of ids, each in [0, len(self)) -> str."""
        return "".join(self.chars[k] for k in _ids_in_range(ids, len(self)).ravel())


# --- baselines ---------------------------------------------------------------------------------

def unigram_bits(train_ids, eval_ids, V, k=1.0):
    """Bits per character of eval_ids under character frequencies of train_ids (add-k)."""
    return ngram_bits(train_ids, eval_ids, V, 1, k)


def ngram_bits(train_ids, eval_ids, V, n, k):
    """Bits per character of an n-gram model with add-k smoothing:

        p(c | ctx) = (count(ctx, c) + k) / (count(ctx) + k V),   ctx the n − 1 characters before c.

    The first n − 1 characters of eval_ids have no full context and are not scored.
    """
    n = positive_int(n, "n")
    k = positive_finite(k, "k")
    V = positive_int(V, "V")
    train_ids = _ids_in_range(train_ids, V, "train_ids").ravel()
    eval_ids = _ids_in_range(eval_ids, V, "eval_ids").ravel()
    for name, ids in (("train_ids", train_ids), ("eval_ids", eval_ids)):
        if len(ids) < n:
            raise ValueError(f"{name} must hold at least n = {n} ids; got {len(ids)}")
    if V ** n >= 2 ** 62:
        raise ValueError(f"V**n = {V}**{n} overflows the int64 keys; use a smaller n")

    def keys(ids, m):  # the m-gram ending at every position ≥ m − 1, as one integer each
        out = np.zeros(len(ids) - m + 1, dtype=np.int64)
        for j in range(m):
            out = out * V + ids[j:len(ids) - m + 1 + j]
        return out

    def counts(table, queries):
        u, c = table
        pos = np.clip(np.searchsorted(u, queries), 0, len(u) - 1)
        return np.where(u[pos] == queries, c[pos], 0)

    full = np.unique(keys(train_ids, n), return_counts=True)
    ctx = np.unique(keys(train_ids[:-1], n - 1), return_counts=True) if n > 1 else None
    q = keys(eval_ids, n)
    num = counts(full, q) + k
    den = (counts(ctx, q // V) if n > 1 else len(train_ids)) + k * V
    return float(-np.mean(np.log2(num / den)))


# --- features of code that a unit may track ----------------------------------------------------

FEATURES = {  # name: what the value at position t is, after reading character t
    "in_string": "1 inside a string literal (opening quote included, closing quote not)",
    "in_comment": "1 inside a # comment, up to the end of the line",
    "depth": "how many brackets ( [ { are open (outside strings and comments)",
    "indent": "number of leading spaces of the current line",
    "column": "position in the line: characters read since the last newline",
}


def code_features(text):
    """Each feature of FEATURES at every character of `text` (Python source), as (len(text),) arrays.

    A small scanner, not a tokenizer: it knows ' " ''' \"\"\" quotes with backslash escapes,
    # comments, and brackets, which is what the features need; it never fails on a cut text.
    """
    n = len(text)
    out = {name: np.zeros(n, dtype=np.int64) for name in FEATURES}
    quote = None           # the open string's quote: ', ", ''' or """
    comment = escape = False
    depth = col = indent = 0
    leading = True         # still in the line's leading spaces
    t = 0
    while t < n:
        ch = text[t]
        width = 1
        if quote is not None:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif text.startswith(quote, t):
                width = len(quote)
                quote = None
            elif ch == "\n" and len(quote) == 1:
                quote = None  # an unterminated one-line string (only in a cut text)
        elif comment:
            comment = ch != "\n"
        elif ch == "#":
            comment = True
        elif ch in "'\"":
            width = 3 if text.startswith(ch * 3, t) else 1
            quote = ch * width
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        for s in range(t, min(t + width, n)):  # a triple quote is three characters
            c = text[s]
            if c == "\n":
                col, indent, leading = 0, 0, True
            else:
                col += 1
                if leading and c == " ":
                    indent += 1
                else:
                    leading = False
            out["in_string"][s] = quote is not None
            out["in_comment"][s] = comment
            out["depth"][s] = depth
            out["indent"][s] = indent
            out["column"][s] = col
        t += width
    return out


# --- the model ---------------------------------------------------------------------------------

def softmax(logits, temperature=1.0):
    """p = exp(l / τ) / Σ exp(l / τ) over the last axis, computed stably (also for a τ so small
    that l / τ overflows: then (l − max l) / τ, which is 0 at the largest logit).
    A logit of −inf gets p = 0 (a mask); NaN, +inf and a row that is −inf everywhere are refused."""
    temperature = positive_finite(temperature, "temperature")
    logits = as_real_array(logits, "logits")
    if logits.ndim == 0 or logits.shape[-1] == 0:
        raise ValueError(f"logits must have at least one entry on the last axis; got shape "
                         f"{logits.shape}")
    bad = np.isnan(logits) | (logits == np.inf)
    if bad.any():
        at = tuple(int(k) for k in np.unravel_index(np.flatnonzero(bad)[0], logits.shape))
        raise NonFiniteError(f"logits must not hold NaN or +inf; found {logits[at]} at index {at}")
    empty = (logits == -np.inf).all(axis=-1)
    if empty.any():
        at = tuple(int(k) for k in np.unravel_index(np.flatnonzero(empty)[0], empty.shape))
        raise NonFiniteError(f"the logits of row {at} are all -inf: no character has any "
                             f"probability there")
    with np.errstate(over="ignore"):  # -inf below the largest logit is what is meant then
        z = logits / temperature
        if not np.isfinite(z).all():
            z = (logits - logits.max(axis=-1, keepdims=True)) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy_bits(logits, targets):
    """Mean of −log₂ softmax(logits)[target] over every position, and its gradient on the logits.

    logits: (..., V) floats, finite   targets: (...) ids, shaped like logits.shape[:-1]
    ->   (bits, dlogits shaped like logits, in the logits' dtype)
    """
    logits = np.asarray(logits)
    if logits.dtype.kind != "f":
        raise TypeError(f"logits must be a float array (float32 or float64); got dtype "
                        f"{logits.dtype}")
    if logits.ndim == 0 or logits.shape[-1] == 0:
        raise ValueError(f"logits must be (..., V) with V >= 1; got shape {logits.shape}")
    require_finite(logits, "logits")
    targets = _ids_in_range(targets, logits.shape[-1], "targets")
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"targets must have shape {logits.shape[:-1]} (logits.shape[:-1], one id "
                         f"per row of logits); got {targets.shape}")
    if targets.size == 0:
        raise ValueError(f"cross_entropy_bits needs at least one position; got logits of shape "
                         f"{logits.shape}")
    p = softmax(logits.astype(np.float64)) if logits.dtype != np.float32 else softmax(logits)
    flat = p.reshape(-1, p.shape[-1])
    idx = _ids_in_range(targets, p.shape[-1], "targets").ravel()
    if len(idx) != len(flat):
        raise ValueError(f"targets must hold one id per row of logits ({len(flat)}); got {len(idx)}")
    # the bits from the log-softmax in float64: finite even where p underflows to 0
    z = logits.reshape(-1, p.shape[-1]).astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    log_p = z[np.arange(len(idx)), idx] - np.log(np.exp(z).sum(axis=-1))
    bits = float(-np.mean(log_p) / math.log(2.0))
    d = flat.copy()
    d[np.arange(len(idx)), idx] -= 1.0
    d *= 1.0 / (len(idx) * math.log(2.0))  # d(bits)/d(logits) = (p − onehot) / (N ln 2)
    return bits, d.reshape(logits.shape).astype(logits.dtype, copy=False)


class CharLSTM:
    """Stacked LSTM cells with a one-hot input and a softmax readout over V characters.

    layers[0] reads the one-hot character (D = V); layer l > 0 reads h of layer l − 1. The readout
    W_y (V, H) is drawn from U(−1/√H, 1/√H) like the cells' weights; b_y (V,) starts at 0.
    """

    def __init__(self, vocab_size, hidden_sizes=(128, 128), *, seed=0, forget_bias=1.0,
                 dtype=np.float32):
        self.V = positive_int(vocab_size, "vocab_size")
        if (isinstance(hidden_sizes, str | bytes)
                or not isinstance(hidden_sizes, Sequence | np.ndarray)
                or np.ndim(hidden_sizes) != 1):
            raise TypeError(f"hidden_sizes must be a sequence of positive integers (one per layer, "
                            f"e.g. (128, 128)); got {hidden_sizes!r} ({type(hidden_sizes).__name__})")
        if len(hidden_sizes) == 0:
            raise ValueError("hidden_sizes must name at least one layer; got ()")
        hidden_sizes = [positive_int(H, "every entry of hidden_sizes") for H in hidden_sizes]
        rng = rng_from(seed)
        self.layers = []
        D = self.V
        for H in hidden_sizes:
            self.layers.append(LSTMCell(D, H, seed=rng, forget_bias=forget_bias, dtype=dtype))
            D = H
        self.dtype = self.layers[0].dtype
        k = 1.0 / math.sqrt(D)
        self.W_y = rng.uniform(-k, k, size=(self.V, D)).astype(self.dtype)
        self.b_y = np.zeros(self.V, dtype=self.dtype)

    def __repr__(self):
        sizes = tuple(c.H for c in self.layers)
        return f"CharLSTM(V={self.V}, hidden_sizes={sizes}, n_params={self.n_params})"

    @property
    def hidden_sizes(self):
        return tuple(c.H for c in self.layers)

    @property
    def params(self):
        """Every trained array by name (the arrays themselves: updating them updates the model)."""
        p = {}
        for l, cell in enumerate(self.layers):
            p[f"W{l}"], p[f"b{l}"] = cell.W, cell.b
        p["W_y"], p["b_y"] = self.W_y, self.b_y
        return p

    @property
    def n_params(self):
        return sum(a.size for a in self.params.values())

    def zero_state(self, B):
        """[(h, c)] per layer, zeros of shape (B, H)."""
        return [(np.zeros((B, c.H), self.dtype), np.zeros((B, c.H), self.dtype)) for c in self.layers]

    def _ids(self, ids):
        ids = np.asarray(ids)
        if ids.dtype.kind not in "iu" or ids.ndim != 2:
            raise ValueError(f"ids must be an integer array of shape (T, B); got {ids.dtype} "
                             f"of shape {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.V):
            raise ValueError(f"ids must lie in [0, {self.V}); got {ids.min()} .. {ids.max()}")
        return ids

    def forward(self, ids, state=None):
        """ids: (T, B) character ids; state: [(h, c)] per layer or None (zeros).

        Returns (logits (T, B, V), traces (one `Trace` per layer), the state after the last step).
        """
        ids = self._ids(ids)
        T, B = ids.shape
        state = self.zero_state(B) if state is None else state
        want = (f"state must be a list with one (h, c) pair per layer (this model has "
                f"{len(self.layers)}), as forward returns it")
        if not isinstance(state, list | tuple):
            raise TypeError(f"{want}; got {type(state).__name__}")
        if len(state) != len(self.layers):
            raise ValueError(f"state must hold one (h, c) per layer ({len(self.layers)}); "
                             f"got {len(state)}")
        for l, pair in enumerate(state):
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                got = (f"{type(pair).__name__} of shape {pair.shape}" if isinstance(pair, np.ndarray)
                       else f"{type(pair).__name__} of length {len(pair)}"
                       if isinstance(pair, list | tuple) else type(pair).__name__)
                raise TypeError(f"{want}; entry {l} is a {got}")
        x = np.zeros((T, B, self.V), dtype=self.dtype)
        np.put_along_axis(x, ids[..., None], 1.0, axis=2)  # one-hot, (T, B, V)
        traces, new_state = [], []
        for cell, (h0, c0) in zip(self.layers, state, strict=True):
            tr = cell.forward(x, h0, c0)
            traces.append(tr)
            new_state.append((tr.h_all[-1].copy(), tr.c_all[-1].copy()))
            x = tr.h_all                                   # (T, B, H): the next layer's input
        logits = x @ self.W_y.T + self.b_y                 # (T, B, V)
        return logits, traces, new_state

    def loss_and_grads(self, ids, targets, state=None):
        """Bits per character on one chunk and the gradient of that loss for every array of params.

        ids, targets: (T, B), targets[t] the character after ids[t].
        Returns (bits, grads, the state after the chunk): gradients stop at the chunk's start
        (truncated BPTT); the state carries the forward pass on.
        """
        targets = self._ids(targets)
        logits, traces, new_state = self.forward(ids, state)
        if targets.shape != logits.shape[:2]:
            raise ValueError(f"targets must have the shape of ids {logits.shape[:2]}; got {targets.shape}")
        bits, dlogits = cross_entropy_bits(logits, targets)
        T, B, V = logits.shape
        h_top = traces[-1].h_all                           # (T, B, H)
        d2 = dlogits.reshape(T * B, V)
        grads = {"W_y": d2.T @ h_top.reshape(T * B, -1), "b_y": d2.sum(axis=0)}
        dh = (d2 @ self.W_y).reshape(T, B, -1)             # (T, B, H) on the top layer's h
        for l in range(len(self.layers) - 1, -1, -1):      # backward before any weight changes
            g = self.layers[l].backward(traces[l], dh)
            grads[f"W{l}"] = np.concatenate([g[f"W_{k}"] for k in GATES])  # (4H, H+D), fused rows
            grads[f"b{l}"] = np.concatenate([g[f"b_{k}"] for k in GATES])
            dh = g["x"]                                    # the layer below's dL/dh
        return bits, grads, new_state

    def _stream(self, ids, what):
        """ids of one stream: a 1-D integer array in [0, V) (a (T, B) batch, flattened, would
        run its streams into one another)."""
        ids = _ids_in_range(ids, self.V)
        if ids.ndim != 1:
            raise ValueError(f"{what} reads one stream: ids must be a 1-D array; got shape "
                             f"{ids.shape}")
        return ids

    def bits(self, ids, *, chunk=1000):
        """Bits per character of predicting ids[1:] from ids[:-1], one stream, state carried."""
        chunk = positive_int(chunk, "chunk")
        ids = self._stream(ids, "bits")
        if len(ids) < 2:
            raise ValueError(f"bits needs at least two ids (one to read, one to predict); got "
                             f"{len(ids)}")
        state, total = None, 0.0
        for s in range(0, len(ids) - 1, chunk):
            x, y = ids[s:s + chunk][:len(ids) - 1 - s], ids[s + 1:s + 1 + chunk]
            logits, _, state = self.forward(x[:, None], state)
            b, _ = cross_entropy_bits(logits, y[:, None])
            total += b * len(y)
        return total / (len(ids) - 1)

    def run(self, ids, *, chunk=2000):
        """Read one stream and keep what every layer did at every step.

        Returns a list, one dict per layer, of (T, H) arrays: "f", "i", "c_tilde", "o", "c", "h".
        """
        chunk = positive_int(chunk, "chunk")
        ids = self._stream(ids, "run")
        out = [{k: [] for k in ("f", "i", "c_tilde", "o", "c", "h")} for _ in self.layers]
        state = None
        for s in range(0, len(ids), chunk):
            _, traces, state = self.forward(ids[s:s + chunk, None], state)
            for rec, tr in zip(out, traces, strict=True):
                for k in rec:
                    rec[k].append(np.array(getattr(tr, k)[:, 0]))
        return [{k: np.concatenate(v) for k, v in rec.items()} for rec in out]

    def sample(self, n, *, temperature=1.0, seed=0, prime_ids=(0,)):
        """n character ids drawn one at a time from softmax(logits / temperature).

        prime_ids are read first (the default: the first character of the vocabulary); the sample
        continues after them. Low temperatures pick the likeliest characters, high ones flatten p.
        """
        n = positive_int(n, "n")
        temperature = positive_finite(temperature, "temperature")
        rng = rng_from(seed)
        prime = np.asarray(prime_ids)
        if prime.dtype.kind not in "iu" or prime.ndim != 1 or prime.size == 0:
            raise TypeError(f"prime_ids must be a non-empty 1-D array of integer ids; got "
                            f"{prime.dtype} of shape {prime.shape}")
        prime = prime.reshape(-1, 1)
        logits, _, state = self.forward(prime)
        last = logits[-1, 0]
        out = np.empty(n, dtype=np.int64)
        for t in range(n):
            p = softmax(last.astype(np.float64), temperature)
            out[t] = rng.choice(self.V, p=p)
            logits, _, state = self.forward(out[t:t + 1, None], state)
            last = logits[-1, 0]
        return out

    # -- saving --
    def save(self, path, **extra):
        """Write every array of params to an .npz, with `extra` arrays (a history, notes) beside."""
        clash = set(extra) & {"hidden_sizes", *self.params}
        if clash:
            raise ValueError(f"extra arrays may not reuse the names of parameters: {sorted(clash)}")
        np.savez_compressed(_npz(path), hidden_sizes=np.array(self.hidden_sizes), **self.params,
                            **extra)

    @classmethod
    def load(cls, path):
        """(model, the other arrays of the file as a dict). `path` as given to `save` (numpy adds
        ".npz" to a name without it; so does `load`, when no file has the name as given).
        Refused: missing arrays, hidden sizes that are not positive integers, weights that are
        not float, not finite, of the wrong shape, or too large for the model's dtype."""
        if isinstance(path, str | os.PathLike) and not os.path.exists(path):
            path = _npz(path)
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
        where = f"{os.fspath(path)}: " if isinstance(path, str | os.PathLike) else ""
        raw = data.get("hidden_sizes")
        if raw is not None:
            if (raw.dtype.kind not in "iu" or raw.ndim != 1 or raw.size == 0
                    or (raw <= 0).any()):
                raise ValueError(f"{where}hidden_sizes must be a 1-D array of positive integers; "
                                 f"got {raw.tolist()!r}")
            sizes = tuple(int(s) for s in raw)
            needed = ["hidden_sizes", *(f"{kind}{k}" for k in range(len(sizes))
                                        for kind in "Wb"), "W_y", "b_y"]
        else:
            needed = ["hidden_sizes", "W_y", "b_y"]
        missing = [k for k in needed if k not in data]
        if missing:
            raise ValueError(f"{where}the file lacks the arrays {missing}; a CharLSTM file holds "
                             f"hidden_sizes, W0, b0, W1, b1, ..., W_y and b_y (see save)")
        data.pop("hidden_sizes")
        W_y = data["W_y"]
        if W_y.dtype not in (np.float32, np.float64) or W_y.ndim != 2:
            raise TypeError(f"{where}W_y must be a 2-D float array (float32 or float64); got "
                            f"dtype {W_y.dtype} of shape {W_y.shape}")
        V = W_y.shape[0]
        shapes, D = {}, V  # what a model of these sizes holds: checked before it is built
        for l, H in enumerate(sizes):
            shapes[f"W{l}"], shapes[f"b{l}"] = (4 * H, H + D), (4 * H,)
            D = H
        shapes["W_y"], shapes["b_y"] = (V, D), (V,)
        values = {}
        for k, shape in shapes.items():  # every array checked before the model is made
            if data[k].shape != shape:
                raise ValueError(f"{where}{k} has shape {data[k].shape}; a model with V={V} and "
                                 f"hidden_sizes={sizes} needs {shape}")
            values[k] = as_float_input(data.pop(k), f"{where}{k}", W_y.dtype)
        model = cls(V, sizes, dtype=W_y.dtype)
        for k, p in model.params.items():
            p[...] = values[k]
        return model, data


# --- training ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CharConfig:
    """Settings of one character-model run."""

    hidden_sizes: tuple = (128, 128)  # H of each stacked layer
    seq_len: int = 64          # T: characters per chunk (the truncation of BPTT)
    batch_size: int = 32       # B: parallel streams, each a contiguous part of the training text
    steps: int = 2000          # optimizer steps, one chunk of every stream each
    lr: float = 2e-3           # Adam's learning rate η at step 1 ...
    lr_final: float | None = None  # ... falling linearly to this at step decay_steps (None: fixed)
    decay_steps: int = 1       # the step at which η reaches lr_final (the same for a shorter run)
    clip: float = 1.0          # max global gradient norm
    eval_every: int = 100      # steps between two scores on the validation text
    seed: int = 0              # seed of the initial weights
    sample_steps: tuple = ()   # after these steps, draw samples
    temperatures: tuple = (0.5, 1.0)  # ... at these temperatures
    sample_len: int = 300      # characters per sample

    def check(self):
        """Refuse settings that cannot run or would train wrongly (a learning rate falling to 0
        or below would stop the run or climb the loss)."""
        if not isinstance(self.hidden_sizes, tuple | list) or not self.hidden_sizes:
            raise ValueError(f"hidden_sizes must be a non-empty tuple of positive integers; got "
                             f"{self.hidden_sizes!r}")
        for H in self.hidden_sizes:
            positive_int(H, "every entry of hidden_sizes")
        for name in ("seq_len", "batch_size", "steps", "decay_steps", "eval_every", "sample_len"):
            positive_int(getattr(self, name), name)
        positive_finite(self.lr, "lr")
        if self.lr_final is not None:
            positive_finite(self.lr_final, "lr_final")
        positive_finite(self.clip, "clip")
        rng_from(self.seed)
        for tau in self.temperatures:
            positive_finite(tau, "every temperature")
        for step in self.sample_steps:
            if (isinstance(step, numbers.Integral) and not isinstance(step, bool)
                    and not 1 <= step <= self.steps):
                raise ValueError(f"every entry of sample_steps must be a step of the run, in "
                                 f"1..{self.steps} (steps = {self.steps}); got {step}")
            positive_int(step, "every entry of sample_steps")


@dataclass(frozen=True)
class CharHistory:
    """What a run did. Bits are bits per character; steps count optimizer updates."""

    train_bits: np.ndarray     # (steps,) loss of every chunk, before its update
    grad_norm: np.ndarray      # (steps,) global gradient norm before clipping
    eval_step: np.ndarray      # (n_evals,) steps after which the validation text was scored
    val_bits: np.ndarray       # (n_evals,) bits per character on the validation text
    eval_cpu: np.ndarray       # (n_evals,) CPU seconds (user + system) of training up to then
    eval_wall: np.ndarray      # (n_evals,) wall-clock seconds of training up to then
    samples: dict              # {(step, temperature): (sample_len,) ids of the sample}
    lr: np.ndarray = None      # (steps,) the learning rate of every step

    def arrays(self):
        """The history as named arrays, for `CharLSTM.save`."""
        out = {f"history_{k}": v for k, v in asdict(self).items() if k != "samples"}
        keys = sorted(self.samples)
        out["sample_step"] = np.array([s for s, _ in keys])
        out["sample_temperature"] = np.array([t for _, t in keys])
        out["sample_ids"] = np.array([self.samples[k] for k in keys]).reshape(len(keys), -1)
        return out

    @classmethod
    def from_arrays(cls, data):
        kw = {k[len("history_"):]: v for k, v in data.items() if k.startswith("history_")}
        samples = {(int(s), float(t)): x for s, t, x in
                   zip(data["sample_step"], data["sample_temperature"], data["sample_ids"],
                       strict=True)}
        return cls(samples=samples, **kw)


def chunks(ids, batch_size, seq_len):
    """The training stream cut for truncated BPTT: B contiguous streams, read T characters a step.

    Yields (inputs, targets, new_epoch) forever; inputs and targets are (T, B), targets one
    character ahead. new_epoch is True when the streams restart from their beginnings.
    """
    batch_size = positive_int(batch_size, "batch_size")
    seq_len = positive_int(seq_len, "seq_len")
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu":  # bool is its own kind
        raise TypeError(f"ids must be integers; got {ids.dtype}")
    if ids.ndim != 1:
        raise ValueError(f"ids must be a 1-D array of character ids; got shape {ids.shape}")
    if ids.size and ids.min() < 0:
        raise ValueError(f"ids must be character ids, >= 0; got {ids.min()}")
    L = (len(ids) - 1) // batch_size           # characters per stream
    n = L // seq_len                           # chunks per epoch
    if n < 1:
        raise ValueError(f"a text of {len(ids)} characters is too short for {batch_size} streams "
                         f"of at least seq_len={seq_len} characters")
    starts = np.arange(batch_size) * L         # (B,)
    while True:
        for k in range(n):
            pos = starts[None, :] + k * seq_len + np.arange(seq_len)[:, None]  # (T, B)
            yield ids[pos], ids[pos + 1], k == 0


def learning_rate(config, step):
    """η at `step` (1, 2, ...): lr, falling linearly to lr_final at decay_steps, then lr_final."""
    if config.lr_final is None:
        return config.lr
    frac = min(max(step - 1, 0) / max(config.decay_steps - 1, 1), 1.0)
    return config.lr + frac * (config.lr_final - config.lr)


def train_char(model, train_ids, val_ids, config=CharConfig(), *, progress=False):
    """Train `model` in place with Adam on chunks of train_ids; score val_ids every eval_every steps.

    Nothing is random but the initial weights and the samples (seeded): the same config gives the
    same run. The state is carried across chunks and reset at the start of every epoch.
    progress: a tqdm bar on stderr, for a person watching.
    """
    config.check()
    optimizer = Adam(config.lr)
    params = model.params
    stream = chunks(train_ids, config.batch_size, config.seq_len)
    train_bits, norms, rates = [], [], []
    eval_step, val_bits, eval_cpu, eval_wall = [], [], [], []
    samples = {}
    cpu = wall = 0.0
    state = None
    for step in tqdm(range(1, config.steps + 1), disable=not progress, desc="training", unit="step"):
        c0, w0 = time.process_time(), time.perf_counter()
        x, y, new_epoch = next(stream)
        if new_epoch:
            state = None
        bits, grads, state = model.loss_and_grads(x, y, state)
        if not (math.isfinite(bits) and all(np.isfinite(g).all() for g in grads.values())):
            raise FloatingPointError(f"the loss or a gradient became non-finite at step {step} "
                                     f"(loss = {bits}); lower the learning rate ({config.lr})")
        grads, norm = clip_grad_norm(grads, config.clip)
        optimizer.lr = learning_rate(config, step)
        optimizer.step(params, grads)
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        train_bits.append(bits)
        norms.append(norm)
        rates.append(optimizer.lr)
        if step % config.eval_every == 0 or step == config.steps:
            eval_step.append(step)
            val_bits.append(model.bits(val_ids))
            eval_cpu.append(cpu)
            eval_wall.append(wall)
        if step in config.sample_steps:
            for tau in config.temperatures:
                ids = model.sample(config.sample_len, temperature=tau, seed=step)
                samples[(step, float(tau))] = ids
    return CharHistory(train_bits=np.array(train_bits), grad_norm=np.array(norms),
                       eval_step=np.array(eval_step), val_bits=np.array(val_bits),
                       eval_cpu=np.array(eval_cpu), eval_wall=np.array(eval_wall),
                       samples=samples, lr=np.array(rates))


# --- the book's run ------------------------------------------------------------------------------

BOOK_CONFIG = CharConfig(hidden_sizes=(128, 128), seq_len=64, batch_size=32, steps=3000, lr=1e-2,
                         lr_final=1e-3, decay_steps=3000, clip=1.0, eval_every=100, seed=0,
                         sample_steps=(100, 500, 3000), temperatures=(0.5, 1.0), sample_len=300)
WEIGHTS_FILE = "charmodel.npz"  # in lstmlib/data: written by `make charmodel`


def book_data():
    """(vocab, train_ids, val_ids, test_ids) of the corpus, split as the book splits it."""
    text = load_corpus()
    vocab = Vocab(text)
    return (vocab, *(vocab.encode(part) for part in split_text(text)))


def load_book_model(path=None):
    """(model, history) of the book's run, from lstmlib/data/charmodel.npz or `path`."""
    model, data = CharLSTM.load(path or files("lstmlib") / "data" / WEIGHTS_FILE)
    return model, CharHistory.from_arrays(data)


def train_book_model(config=BOOK_CONFIG, *, progress=False):
    """The book's run: a fresh model trained with `config` on the corpus. -> (model, history)"""
    vocab, train_ids, val_ids, _ = book_data()
    model = CharLSTM(len(vocab), config.hidden_sizes, seed=config.seed)
    return model, train_char(model, train_ids, val_ids, config, progress=progress)


if __name__ == "__main__":  # `make charmodel`: python -m lstmlib.charmodel OUT.npz
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python -m lstmlib.charmodel OUT.npz")
    model, history = train_book_model(progress=True)
    model.save(sys.argv[1], **history.arrays())
    print(f"{sys.argv[1]}: validation {history.val_bits[-1]:.3f} bits per character after "
          f"{BOOK_CONFIG.steps} steps, {history.eval_cpu[-1]:.0f} s CPU, "
          f"{history.eval_wall[-1]:.0f} s wall")
