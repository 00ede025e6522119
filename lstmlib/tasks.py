"""Synthetic sequence tasks with long time lags, for training a cell in the book.

The adding problem (Hochreiter & Schmidhuber 1997, Experiment 4), in the form most later papers
use (values in [0, 1], target the plain sum, e.g. Le, Jaitly & Hinton 2015): every timestep
carries two inputs, a value and a marker; exactly two steps are marked, and the target at the
end of the sequence is the sum of the two marked values.
"""

import numpy as np

from lstmlib.checks import as_real_array, positive_int, rng_from

ADDING_INPUTS = 2  # D of the adding problem: (value, marker)


def adding_problem(T, batch_size, *, seed):
    """A batch of the adding problem with T timesteps.

    Inputs xs: (T, B, 2). xs[t, b, 0] ~ U[0, 1] is the value; xs[t, b, 1] is the marker, 1.0 at
    exactly two steps and 0.0 elsewhere: one step drawn uniformly from the first half
    (t < T // 2) and one from the second half, so the first mark lies up to T - 1 steps before
    the end.  Target y: (B, 1), the sum of the two marked values, in [0, 2].

    Predicting the mean (y = 1) scores MSE Var(U1 + U2) = 2/12 = 1/6 ≈ 0.167. The 1997 paper's
    own target is 0.5 + (X1 + X2)/4 with X ~ U[-1, 1], which equals this target divided by 2,
    so an absolute error of 0.04 there is 0.08 here.

    seed: an int or a numpy Generator; the same seed gives the same batch.
    Returns (xs, y) as float64 arrays.
    """
    if not isinstance(T, int | np.integer) or T < 2:  # True and False are ints below 2
        raise ValueError(f"the adding problem needs T >= 2 timesteps (two marked steps); got T={T!r}")
    B = positive_int(batch_size, "batch_size")
    rng = rng_from(seed)
    T = int(T)
    half = T // 2
    xs = np.zeros((T, B, ADDING_INPUTS))
    xs[:, :, 0] = rng.uniform(0.0, 1.0, size=(T, B))
    first = rng.integers(0, half, size=B)   # (B,) a step in the first half
    second = rng.integers(half, T, size=B)  # (B,) a step in the second half
    cols = np.arange(B)
    xs[first, cols, 1] = 1.0
    xs[second, cols, 1] = 1.0
    y = (xs[first, cols, 0] + xs[second, cols, 0])[:, None]  # (B, 1)
    return xs, y


def marked_steps(xs):
    """The two marked timesteps of every sequence of an adding-problem batch.

    xs: (T, B, 2)   ->   (B, 2) int array, the earlier step first.
    """
    xs = as_real_array(xs, "xs")
    if xs.ndim != 3 or xs.shape[2] != ADDING_INPUTS:
        raise ValueError(f"xs must have shape (T, B, 2); got {xs.shape}")
    marks = xs[:, :, 1]
    odd = (marks != 0.0) & (marks != 1.0)  # NaN counts as odd too
    if odd.any():
        t, b = (int(k) for k in np.argwhere(odd)[0])
        raise ValueError(f"every marker must be 0.0 or 1.0; xs[{t}, {b}, 1] is {marks[t, b]}")
    t, b = np.nonzero(marks == 1.0)
    counts = np.bincount(b, minlength=xs.shape[1])
    if not (counts == 2).all():
        raise ValueError(f"every sequence must have exactly two marks; counts are {counts.tolist()}")
    order = np.lexsort((t, b))  # by sequence, then by time
    return t[order].reshape(-1, 2)
