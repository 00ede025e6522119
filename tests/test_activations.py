"""σ, tanh, ⊗, ⊕, the gate and the concatenation: values, stability, shapes and refusals."""

import math
import warnings

import numpy as np
import pytest

from lstmlib import concat, gate, pointwise_add, pointwise_mul, sigmoid, tanh


def strict():
    """Any floating-point warning (overflow, invalid, underflow) becomes an error."""
    return np.errstate(all="raise")


# --- sigmoid ---------------------------------------------------------------------------------

def test_sigmoid_is_stable_at_the_extremes():
    z = np.array([-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4])
    with warnings.catch_warnings(), strict():
        warnings.simplefilter("error")
        out = sigmoid(z)
    assert np.all(np.isfinite(out))
    # e^{-1e4} underflows to exactly 0, so the limits are exact, not merely close
    assert out[0] == 0.0 and out[-1] == 1.0
    assert out[3] == 0.5
    assert np.all(np.diff(out) >= 0)


@pytest.mark.parametrize("z", [-1e4, 1e4, -1e308, 1e308])
def test_sigmoid_scalar_extremes_raise_no_warning(z):
    with warnings.catch_warnings(), strict():
        warnings.simplefilter("error")
        s = sigmoid(z)
    assert s == (1.0 if z > 0 else 0.0)


def test_sigmoid_matches_the_textbook_formula(rng):
    z = rng.normal(scale=5.0, size=200)
    expected = np.array([1.0 / (1.0 + math.exp(-v)) for v in z])
    # two correct evaluations of the same formula differ only by rounding: a few ulps
    np.testing.assert_allclose(sigmoid(z), expected, rtol=1e-14, atol=1e-300)


def test_sigmoid_symmetry(rng):
    z = rng.normal(scale=10.0, size=100)
    # σ(-z) = 1 - σ(z); the subtraction 1 - σ loses at most an ulp of 1
    np.testing.assert_allclose(sigmoid(-z), 1.0 - sigmoid(z), rtol=0, atol=2e-16)


@pytest.mark.parametrize("z", [0.3, -2, np.float32(1.5), np.float64(-0.25), 7])
def test_sigmoid_scalar_in_scalar_out(z):
    s = sigmoid(z)
    assert not isinstance(s, np.ndarray)
    assert np.ndim(s) == 0
    assert 0.0 < s < 1.0


@pytest.mark.parametrize("shape", [(1,), (5,), (3, 4), (2, 3, 4), (0,)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_keeps_shape_and_dtype(rng, shape, dtype):
    z = rng.normal(size=shape).astype(dtype)
    out = sigmoid(z)
    assert isinstance(out, np.ndarray)
    assert out.shape == shape and out.dtype == dtype


def test_sigmoid_float32_scalar_keeps_dtype():
    assert sigmoid(np.float32(0.5)).dtype == np.float32


def test_sigmoid_promotes_integers_to_float():
    out = sigmoid(np.array([0, 1, -1]))
    assert out.dtype == np.float64
    assert out[0] == 0.5


@pytest.mark.parametrize("bad, dtype", [
    (np.array([1 + 2j]), "complex128"),
    (np.array([1, None], dtype=object), "object"),
    (np.array([True, False]), "bool"),
    ("1.0", "<U3"),
])
def test_sigmoid_refuses_non_real(bad, dtype):
    with pytest.raises(TypeError, match=rf"z must hold real numbers.*got dtype {dtype}"):
        sigmoid(bad)


# --- tanh ------------------------------------------------------------------------------------

def test_tanh_values_and_bounds(rng):
    z = rng.normal(scale=3.0, size=100)
    np.testing.assert_allclose(tanh(z), [math.tanh(v) for v in z], rtol=1e-14, atol=1e-300)
    with warnings.catch_warnings(), strict():
        warnings.simplefilter("error")
        ends = tanh(np.array([-1e4, 1e4]))
    assert ends.tolist() == [-1.0, 1.0]
    assert tanh(0.0) == 0.0


def test_tanh_is_odd(rng):
    z = rng.normal(size=50)
    assert np.array_equal(tanh(-z), -tanh(z))


def test_tanh_scalar_in_scalar_out_and_shapes(rng):
    assert not isinstance(tanh(0.5), np.ndarray) and np.ndim(tanh(0.5)) == 0
    z = rng.normal(size=(3, 2)).astype(np.float32)
    assert tanh(z).shape == (3, 2) and tanh(z).dtype == np.float32


def test_tanh_refuses_complex():
    with pytest.raises(TypeError, match="z must hold real numbers.*complex128"):
        tanh(np.array([1j]))


# --- ⊗ and ⊕ ---------------------------------------------------------------------------------

def test_pointwise_blocks(rng):
    a, b = rng.normal(size=(2, 5))
    assert np.array_equal(pointwise_mul(a, b), a * b)
    assert np.array_equal(pointwise_add(a, b), a + b)


@pytest.mark.parametrize("block", [pointwise_mul, pointwise_add])
def test_pointwise_blocks_never_broadcast(block):
    with pytest.raises(ValueError, match=r"a and b must have the same shape; got \(2, 3\) and \(3,\)"):
        block(np.ones((2, 3)), np.ones(3))


# --- the gate v' = v ⊗ σ(t) ------------------------------------------------------------------

def test_gate_is_v_times_sigmoid_t(rng):
    v, t = rng.normal(size=(2, 4, 3))
    expected = np.array([[vv / (1.0 + math.exp(-tt)) for vv, tt in zip(vr, tr, strict=True)]
                         for vr, tr in zip(v, t, strict=True)])
    np.testing.assert_allclose(gate(v, t), expected, rtol=1e-14, atol=1e-300)
    assert gate(v, t).shape == (4, 3)


def test_gate_limits_open_and_shut(rng):
    v = rng.normal(size=6)
    with warnings.catch_warnings(), strict():
        warnings.simplefilter("error")
        opened = gate(v, np.full(6, 1e4))
        shut = gate(v, np.full(6, -1e4))
    # σ(±1e4) is exactly 1 or 0, so the limits hold bit for bit
    assert np.array_equal(opened, v)
    assert np.array_equal(shut, np.zeros(6))
    assert np.array_equal(gate(v, np.zeros(6)), v / 2)


@pytest.mark.parametrize("v_shape, t_shape", [((3,), (2,)), ((2, 3), (3,)), ((3,), (1, 3))])
def test_gate_refuses_mismatched_shapes(v_shape, t_shape):
    with pytest.raises(ValueError, match=rf"v and t must have the same shape; got \({v_shape[0]}"):
        gate(np.ones(v_shape), np.ones(t_shape))


# --- [h_{t-1}, x_t] --------------------------------------------------------------------------

def test_concat_puts_h_first():
    assert concat(np.array([1.0, 2.0]), np.array([3.0])).tolist() == [1.0, 2.0, 3.0]


def test_concat_batched(rng):
    h, x = rng.normal(size=(4, 2)), rng.normal(size=(4, 3))
    z = concat(h, x)
    assert z.shape == (4, 5)
    assert np.array_equal(z[:, :2], h) and np.array_equal(z[:, 2:], x)


@pytest.mark.parametrize("h_shape, x_shape, message", [
    ((2,), (1, 3), r"both of shape \(n,\) or both \(B, n\); got h_prev \(2,\) and x \(1, 3\)"),
    ((1, 2), (3,), r"got h_prev \(1, 2\) and x \(3,\)"),
    ((), (), r"got h_prev \(\) and x \(\)"),
    ((1, 1, 2), (1, 1, 3), r"got h_prev \(1, 1, 2\) and x \(1, 1, 3\)"),
    ((2, 2), (3, 3), r"batch sizes differ: h_prev has B=2, x has B=3"),
])
def test_concat_refuses_mismatch(h_shape, x_shape, message):
    with pytest.raises(ValueError, match=message):
        concat(np.ones(h_shape), np.ones(x_shape))
