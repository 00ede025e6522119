"""The shape every cell of lstmlib has (LSTMCell and its variants, RNNCell, GRUCell), so that
training, plotting and the tests work with any of them.

A new cell is one module: a class with the members of `Cell` below, whose weights live in
lstmlib.weights.WeightOwner storage (writes tracked, stale traces refused). `lstmlib.train`
uses nothing else.
"""

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


def check_cell(cell, who="cell"):
    """`cell`, if it follows the protocol `Cell`; else a TypeError naming what it lacks."""
    gone = missing(cell)
    if gone:
        raise TypeError(f"{who} must follow lstmlib.protocol.Cell ({', '.join(MEMBERS)}); "
                        f"{type(cell).__name__} lacks {', '.join(gone)}")
    if not isinstance(cell.params, dict) or not cell.params:
        raise TypeError(f"{who}.params must be a non-empty dict of arrays by name; got "
                        f"{type(cell.params).__name__}")
    return cell
