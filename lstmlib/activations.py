"""The four Lego blocks of the cell: σ, tanh, ⊗ and ⊕, and the gate they make."""

import numpy as np

from lstmlib.checks import as_real_array, require_same_shape


def sigmoid(z):
    """Logistic sigmoid σ(z) = 1 / (1 + e^{-z}), squashing any real number into (0, 1).

    Numerically stable: e^{-|z|} never overflows, so z = ±1e4 gives 1 and 0 without a warning.
    Scalars in, scalar out; arrays keep their shape and floating dtype.
    """
    z = as_real_array(z, "z")
    # e^{-|z|} lies in [0, 1]: it never overflows, and where it underflows to 0 that 0 is the
    # right answer (σ(-1e4) = 0), so the underflow flag is not worth a warning.
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(z))
        out = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return out[()] if out.ndim == 0 else out


def tanh(z):
    """Hyperbolic tangent, squashing any real number into (-1, 1).

    Scalars in, scalar out (a ufunc gives a numpy scalar for a 0-d input); arrays keep their
    shape and floating dtype.
    """
    return np.tanh(as_real_array(z, "z"))


def pointwise_mul(a, b):
    """The ⊗ block: elementwise product of two vectors of the same shape."""
    a, b = as_real_array(a, "a"), as_real_array(b, "b")
    require_same_shape(a, b, "a", "b")
    return a * b


def pointwise_add(a, b):
    """The ⊕ block: elementwise sum of two vectors of the same shape."""
    a, b = as_real_array(a, "a"), as_real_array(b, "b")
    require_same_shape(a, b, "a", "b")
    return a + b


def gate(v, t):
    """The gate: v' = v ⊗ σ(t). Each entry of v pays a toll set by its pre-activation t.

    v, t: the same shape (d,) or (B, d)   ->   v': that shape
    """
    v, t = as_real_array(v, "v"), as_real_array(t, "t")
    require_same_shape(v, t, "v", "t")
    return v * sigmoid(t)


def concat(h_prev, x):
    """[h_{t-1}, x_t]: the previous hidden state and the input side by side, h first.

    h_prev: (H,) or (B, H)   x: (D,) or (B, D)   ->   (H+D,) or (B, H+D)
    """
    h_prev, x = as_real_array(h_prev, "h_prev"), as_real_array(x, "x")
    if h_prev.ndim != x.ndim or h_prev.ndim not in (1, 2):
        raise ValueError(
            f"concat expects h_prev and x both of shape (n,) or both (B, n); "
            f"got h_prev {h_prev.shape} and x {x.shape}"
        )
    if h_prev.ndim == 2 and h_prev.shape[0] != x.shape[0]:
        raise ValueError(
            f"batch sizes differ: h_prev has B={h_prev.shape[0]}, x has B={x.shape[0]}"
        )
    return np.concatenate([h_prev, x], axis=-1)
