"""The shape every cell of lstmlib has (LSTMCell and its variants, RNNCell, GRUCell), so that
training, plotting and the tests work with any of them.

A new cell is one module: a class with the members of `Cell` below, whose weights live in
lstmlib.weights.WeightOwner storage (writes tracked, stale traces refused). `lstmlib.train`
uses nothing else.
"""

import numbers
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Cell(Protocol):
    """A recurrent cell with input size D and hidden size H.

    - `params`: {book name: writable view into the cell's storage}, e.g. W_f, b_f, ... for the
      LSTM, W_h, b_h for the RNN; writes through the views change the cell and are counted, so
      `backward` refuses a trace made before them. `n_params`: the number of numbers in it.
    - `step(x, h_prev=None, ...)`: one timestep, written as in the book; x (D,) or (B, D).
    - `forward(xs, h0=None, ...)`: T timesteps; xs (T, D) or (T, B, D). Returns a trace with
      `h` (T, [B,] H) shaped as xs was given, `h_all` (T, B, H) always batched, `T`, `batched`.
    - `backward(trace, dh)`: dh shaped like `trace.h`, the gradient of the loss with respect to
      every h_t. Returns {name: gradient} for every name of `params`, plus "x" (shaped like xs),
      "h0" (and "c0" for a cell with a memory), each shaped like what it is the gradient of.
    """

    D: int            # input size
    H: int            # hidden size
    dtype: np.dtype   # float32 or float64

    @property
    def params(self) -> dict: ...

    @property
    def n_params(self) -> int: ...

    def step(self, x, h_prev=None, *args, **kwargs): ...

    def forward(self, xs, h0=None, *args, **kwargs): ...

    def backward(self, trace, dh, *args, **kwargs) -> dict: ...


# what a cell must have, read off the class above: its attributes, then its properties and methods
MEMBERS = (*Cell.__annotations__,
           *(k for k, v in vars(Cell).items() if not k.startswith("_") and
             (isinstance(v, property) or callable(v))))
CALLABLE = tuple(k for k in MEMBERS if callable(vars(Cell).get(k)))


def missing(cell):
    """The members of `Cell` that `cell` lacks (or has but cannot call), in order; [] if none."""
    gone = [name for name in MEMBERS if not hasattr(cell, name)]
    gone += [f"{name} (not callable)" for name in CALLABLE
             if name not in gone and not callable(getattr(cell, name))]
    return gone


def _size(cell, name, who):
    """cell.D or cell.H: a positive int (a TypeError for another type, a ValueError for <= 0)."""
    n = getattr(cell, name)
    if isinstance(n, bool | np.bool_) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{who}.{name} must be a positive integer; got {n!r} ({type(n).__name__})")
    if n <= 0:
        raise ValueError(f"{who}.{name} must be a positive integer; got {n!r}")


def check_cell(cell, who="cell"):
    """`cell`, if it follows the protocol `Cell`; else a TypeError naming what it lacks.

    Also checked, since training writes its updates into `params`: D and H are positive ints,
    and every value of `params` is a writable float array that is the cell's own storage (two
    reads of `params` give arrays sharing memory): a cell whose params are copies would train
    nothing but the readout, silently."""
    gone = missing(cell)
    if gone:
        raise TypeError(f"{who} must follow lstmlib.protocol.Cell ({', '.join(MEMBERS)}); "
                        f"{type(cell).__name__} lacks {', '.join(gone)}")
    for name in ("D", "H"):
        _size(cell, name, who)
    params, again = cell.params, cell.params
    if not isinstance(params, dict) or not params:
        raise TypeError(f"{who}.params must be a non-empty dict of arrays by name; got "
                        f"{type(params).__name__}")
    if not isinstance(again, dict) or list(again) != list(params):
        raise TypeError(f"{who}.params must name the same arrays every time it is read; got "
                        f"{list(params)}, then {list(again) if isinstance(again, dict) else again!r}")
    for k, p in params.items():
        where = f"{who}.params[{k!r}]"
        if not isinstance(p, np.ndarray):
            raise TypeError(f"{where} must be a numpy array (a writable view into the cell's "
                            f"weights); got {type(p).__name__}")
        if p.dtype.kind != "f":
            raise TypeError(f"{where} must be a float array (float32 or float64); got dtype "
                            f"{p.dtype}")
        if not p.flags.writeable:
            raise TypeError(f"{where} is read-only: training writes its updates into the arrays "
                            f"of params, which must be writable views into the cell's weights")
        q = again[k]
        if p.size and not (isinstance(q, np.ndarray) and np.may_share_memory(p, q)
                           and np.shares_memory(p, q)):
            raise TypeError(f"{where} must be a view into the cell's weights: two reads of "
                            f"{who}.params gave arrays that share no memory (a new copy each "
                            f"time), so training would update copies and leave the cell as it was")
    return cell
