"""Checks at the public boundary: every error names what was expected and what came."""

import numbers

import numpy as np


def as_real_array(a, name):
    """`a` as a floating numpy array; integers are promoted, anything not real is refused."""
    arr = np.asarray(a)
    if arr.dtype.kind in ("i", "u"):  # signed or unsigned integers
        return arr.astype(np.float64)
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must hold real numbers (a float dtype); got dtype {arr.dtype}")
    return arr


class NonFiniteError(ValueError):
    """A value is NaN or infinite, or does not fit in the cell's float type (it would be)."""


def first_non_finite(arr):
    """The index (a tuple of ints) of the first NaN or infinity in `arr`, or None."""
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size == 0:
        return None
    return tuple(int(k) for k in np.unravel_index(bad[0], arr.shape))


def require_finite(a, name):
    """Refuse NaN or infinity in the array `a`, naming the first one and where it is."""
    at = first_non_finite(a)
    if at is not None:
        raise NonFiniteError(f"{name} must be finite; found {a[at]} at index {at}")


def as_float_input(a, name, dtype, *, copy=False):
    """`a` as an array of the cell's float `dtype`, refusing non-float dtypes and NaN/Inf.

    The check runs after the cast, so a float64 value too large for a float32 cell (1e39) is
    refused by name instead of turning into inf. `copy=True` always returns a fresh array (the
    cast, when there is one, is that copy).

    The cell takes floats only: an integer array is more often a bug (token ids where vectors
    were meant) than an intention, so it is refused rather than promoted.
    """
    arr = np.asarray(a)
    if arr.dtype.kind != "f":
        raise TypeError(
            f"{name} must be a float array (float32 or float64); got dtype {arr.dtype}"
        )
    dtype = np.dtype(dtype)
    with np.errstate(over="ignore"):  # an overflow in the cast is reported below, by name
        out = arr.astype(dtype, copy=copy)
    if not np.isfinite(out).all():
        at = first_non_finite(out)
        given = arr[at]
        if np.isfinite(given):
            raise NonFiniteError(
                f"{name} holds {float(given)!r} at index {at}, too large for {dtype.name} (largest "
                f"finite value {np.finfo(dtype).max:.6g}); scale the data down or use a float64 cell"
            )
        raise NonFiniteError(f"{name} must be finite; found {given} at index {at}")
    return out


def require_same_shape(a, b, name_a, name_b):
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape; got {a.shape} and {b.shape}")


def require_shape(arr, expected, name):
    """`expected` is a tuple of ints; raises with both shapes named."""
    if arr.shape != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)}; got {arr.shape}")


def positive_int(n, name):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n <= 0:
        raise ValueError(f"{name} must be a positive integer; got {n!r}")
    return int(n)


def finite_real(v, name, dtype=np.float64):
    """A finite real number (Python or numpy scalar) that fits in `dtype`, as a float."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {v!r} ({type(v).__name__})")
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite; got {v!r}")
    dtype = np.dtype(dtype)
    if abs(float(v)) > float(np.finfo(dtype).max):
        raise ValueError(f"{name} = {v!r} is too large for {dtype.name} (largest finite value "
                         f"{np.finfo(dtype).max:.6g})")
    return float(v)


def index(t, name):
    """An integer index (Python or numpy int, not bool), as an int."""
    if isinstance(t, bool | np.bool_) or not isinstance(t, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {t!r} ({type(t).__name__})")
    return int(t)


def positive_finite(v, name):
    """A positive, finite real number (a step size, a norm bound), as a float."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (v > 0 and np.isfinite(v)):
        raise ValueError(f"{name} must be a positive finite number; got {v!r}")
    return float(v)


def unit_interval(v, name):
    """A real number in [0, 1), as a float (Adam's betas)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0 <= v < 1:
        raise ValueError(f"{name} must be a real number in [0, 1); got {v!r}")
    return float(v)


def float_dtype(dtype):
    try:  # np.dtype(None) would quietly mean float64, and unknown names raise numpy's own message
        dt = None if dtype is None else np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64; got {dt if dt is not None else repr(dtype)}")
    return dt


def rng_from(seed):
    """A numpy Generator from an int seed or an existing Generator (never the global state)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int or a numpy Generator; got {type(seed).__name__}")
    return np.random.default_rng(int(seed))


def check_input(x, name, D, dtype, sequence, *, copy=False):
    """An input of the cell's dtype: (D,) or (B, D) for one step, (T, D) or (T, B, D) for a
    sequence. Empty sequences and batches are refused. `copy=True`: a fresh array, never the
    caller's (what a trace keeps must not change when the caller refills its buffer)."""
    x = as_float_input(x, name, dtype, copy=copy)
    ndims, want = ((2, 3), f"(T, {D}) or (T, B, {D})") if sequence else ((1, 2), f"({D},) or (B, {D})")
    if x.ndim not in ndims or x.shape[-1] != D:
        raise ValueError(f"{name} must have shape {want} with D={D}; got {x.shape}")
    if sequence and x.shape[0] == 0:
        raise ValueError(f"{name} is an empty sequence (T=0); give at least one timestep")
    if x.ndim == ndims[1] and x.shape[-2] == 0:
        raise ValueError(f"{name} has an empty batch (B=0); give at least one sequence")
    return x


def check_state(s, name, B, H, batched, dtype, *, copy=False):
    """A hidden or cell state as (B, H): zeros when None, else (H,) or (B, H) as the input was."""
    if s is None:
        return np.zeros((B, H), dtype=dtype)
    s = as_float_input(s, name, dtype, copy=copy)
    require_shape(s, (B, H) if batched else (H,), name)
    return s.reshape(B, H)
