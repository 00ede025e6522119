"""Bad input at the public boundary: every refusal has the right type and a message that names what
was expected and what came. The table below is also the list of bad inputs the package was tried on."""

import re
import warnings

import numpy as np
import pytest

from lstmlib import LSTMCell, RNNCell, concat, gate, pointwise_add, pointwise_mul, sigmoid, tanh
from lstmlib.checks import (
    as_float_input,
    as_real_array,
    check_input,
    check_state,
    finite_real,
    float_dtype,
    positive_int,
    require_shape,
    rng_from,
)

D, H, T, B = 3, 2, 4, 5


@pytest.fixture(scope="module")
def cells():
    lstm, rnn = LSTMCell(D, H), RNNCell(D, H)
    return {
        "lstm": lstm,
        "rnn": rnn,
        "trace": lstm.forward(np.zeros((T, D))),
        "batched_trace": lstm.forward(np.zeros((T, B, D))),
        "wide_trace": LSTMCell(D, 4).forward(np.zeros((T, D))),
        "rnn_trace": rnn.forward(np.zeros((T, D))),
        "wide_rnn_trace": RNNCell(D, 4).forward(np.zeros((T, D))),
    }


x, h = np.zeros(D), np.zeros(H)
xs, xb = np.zeros((T, D)), np.zeros((T, B, D))


def _nan_weight(cell):
    cell.W[1, 2] = np.nan
    return cell


def _inf_bias(cell):
    cell.b[7] = np.inf
    return cell


def with_nan(shape, at):
    a = np.zeros(shape)
    a[at] = np.nan
    return a


# (id, call taking the `cells` dict, exception type, the exact message)
BAD_INPUTS = [
    # wrong D
    ("step: x with D=4", lambda c: c["lstm"].step(np.zeros(4)), ValueError,
     "x must have shape (3,) or (B, 3) with D=3; got (4,)"),
    ("step: x with 3 axes", lambda c: c["lstm"].step(np.zeros((1, 2, 3))), ValueError,
     "x must have shape (3,) or (B, 3) with D=3; got (1, 2, 3)"),
    ("forward: xs with D=2", lambda c: c["lstm"].forward(np.zeros((T, 2))), ValueError,
     "xs must have shape (T, 3) or (T, B, 3) with D=3; got (4, 2)"),
    ("forward: one vector instead of a sequence", lambda c: c["lstm"].forward(x), ValueError,
     "xs must have shape (T, 3) or (T, B, 3) with D=3; got (3,)"),
    # wrong H
    ("step: h_prev with H=3", lambda c: c["lstm"].step(x, np.zeros(3)), ValueError,
     "h_prev must have shape (2,); got (3,)"),
    ("step: c_prev with H=3", lambda c: c["lstm"].step(x, h, np.zeros(3)), ValueError,
     "c_prev must have shape (2,); got (3,)"),
    ("forward: c0 with H=3", lambda c: c["lstm"].forward(xs, h, np.zeros(3)), ValueError,
     "c0 must have shape (2,); got (3,)"),
    # batch mismatches: never broadcast
    ("step: x B=5, h_prev B=4", lambda c: c["lstm"].step(np.zeros((B, D)), np.zeros((4, H))), ValueError,
     "h_prev must have shape (5, 2); got (4, 2)"),
    ("step: x B=5, c_prev B=4",
     lambda c: c["lstm"].step(np.zeros((B, D)), np.zeros((B, H)), np.zeros((4, H))), ValueError,
     "c_prev must have shape (5, 2); got (4, 2)"),
    ("step: x unbatched, h_prev (1, H)", lambda c: c["lstm"].step(x, np.zeros((1, H))), ValueError,
     "h_prev must have shape (2,); got (1, 2)"),
    ("step: x batched, h_prev unbatched", lambda c: c["lstm"].step(np.zeros((B, D)), h), ValueError,
     "h_prev must have shape (5, 2); got (2,)"),
    ("forward: xs B=5, h0 B=4", lambda c: c["lstm"].forward(xb, np.zeros((4, H))), ValueError,
     "h0 must have shape (5, 2); got (4, 2)"),
    # dh and dc_last
    ("backward: dh with H=3", lambda c: c["lstm"].backward(c["trace"], np.zeros((T, 3))), ValueError,
     "dh must have shape (4, 2); got (4, 3)"),
    ("backward: dh batched for an unbatched trace",
     lambda c: c["lstm"].backward(c["trace"], np.zeros((T, 1, H))), ValueError,
     "dh must have shape (4, 2); got (4, 1, 2)"),
    ("backward: dh for one step only", lambda c: c["lstm"].backward(c["batched_trace"], np.zeros((B, H))),
     ValueError, "dh must have shape (4, 5, 2); got (5, 2)"),
    ("backward: dc_last with H=3",
     lambda c: c["lstm"].backward(c["trace"], np.zeros((T, H)), np.zeros(3)), ValueError,
     "dc_last must have shape (2,); got (3,)"),
    # dtypes
    ("step: integer x", lambda c: c["lstm"].step(np.zeros(D, dtype=int)), TypeError,
     "x must be a float array (float32 or float64); got dtype int64"),
    ("step: complex x", lambda c: c["lstm"].step(np.zeros(D, dtype=complex)), TypeError,
     "x must be a float array (float32 or float64); got dtype complex128"),
    ("step: object x", lambda c: c["lstm"].step(np.array([0.0, None, 1.0], dtype=object)), TypeError,
     "x must be a float array (float32 or float64); got dtype object"),
    ("step: bool x", lambda c: c["lstm"].step(np.zeros(D, dtype=bool)), TypeError,
     "x must be a float array (float32 or float64); got dtype bool"),
    ("step: a string for x", lambda c: c["lstm"].step("abc"), TypeError,
     "x must be a float array (float32 or float64); got dtype <U3"),
    ("forward: integer h0", lambda c: c["lstm"].forward(xs, np.zeros(H, dtype=int)), TypeError,
     "h0 must be a float array (float32 or float64); got dtype int64"),
    ("forward: complex c0", lambda c: c["lstm"].forward(xs, h, np.zeros(H, dtype=complex)), TypeError,
     "c0 must be a float array (float32 or float64); got dtype complex128"),
    ("backward: integer dh", lambda c: c["lstm"].backward(c["trace"], np.zeros((T, H), dtype=int)),
     TypeError, "dh must be a float array (float32 or float64); got dtype int64"),
    # NaN and Inf
    ("step: NaN in x", lambda c: c["lstm"].step(with_nan(D, 1)), ValueError,
     "x must be finite; found nan at index (1,)"),
    ("forward: Inf in xs", lambda c: c["lstm"].forward(np.full((T, D), np.inf)), ValueError,
     "xs must be finite; found inf at index (0, 0)"),
    ("forward: -Inf in a batched xs", lambda c: c["lstm"].forward(np.where(
        np.arange(T * B * D).reshape(T, B, D) == 17, -np.inf, 0.0)), ValueError,
     "xs must be finite; found -inf at index (1, 0, 2)"),
    ("forward: NaN in h0", lambda c: c["lstm"].forward(xs, with_nan(H, 0)), ValueError,
     "h0 must be finite; found nan at index (0,)"),
    ("forward: Inf in c0", lambda c: c["lstm"].forward(xs, h, np.array([0.0, np.inf])), ValueError,
     "c0 must be finite; found inf at index (1,)"),
    ("backward: NaN in dh", lambda c: c["lstm"].backward(c["trace"], with_nan((T, H), (2, 1))), ValueError,
     "dh must be finite; found nan at index (2, 1)"),
    ("backward: Inf in dc_last",
     lambda c: c["lstm"].backward(c["trace"], np.zeros((T, H)), np.array([np.inf, 0.0])), ValueError,
     "dc_last must be finite; found inf at index (0,)"),
    # gate overrides
    ("step: f = 1.5", lambda c: c["lstm"].step(x, f=1.5), ValueError,
     "gate override f must lie in [0, 1]; got values from 1.5 to 1.5"),
    ("step: i = -0.1", lambda c: c["lstm"].step(x, i=-0.1), ValueError,
     "gate override i must lie in [0, 1]; got values from -0.1 to -0.1"),
    ("step: o = NaN", lambda c: c["lstm"].step(x, o=np.nan), ValueError,
     "gate override o must lie in [0, 1]; got values from nan to nan"),
    ("forward: f with one entry of 2", lambda c: c["lstm"].forward(xs, f=np.array([0.5, 2.0])), ValueError,
     "gate override f must lie in [0, 1]; got values from 0.5 to 2.0"),
    ("step: f of shape (3,) for H=2", lambda c: c["lstm"].step(x, f=np.ones(3)), ValueError,
     "gate override f must be a scalar or of shape (2,); got (3,)"),
    ("step: f of shape (H,) for a batch of 5", lambda c: c["lstm"].step(np.zeros((B, D)), f=np.ones(H)),
     ValueError, "gate override f must be a scalar or of shape (5, 2); got (2,)"),
    ("forward: i of shape (3, 2) for T=4", lambda c: c["lstm"].forward(xs, i=np.ones((3, H))), ValueError,
     "gate override i must be a scalar or of shape (2,) or (4, 2); got (3, 2)"),
    ("step: empty f", lambda c: c["lstm"].step(x, f=np.ones(0)), ValueError,
     "gate override f must be a scalar or of shape (2,); got (0,)"),
    ("step: complex f", lambda c: c["lstm"].step(x, f=1j), TypeError,
     "gate override f must be real; got dtype complex128"),
    ("step: bool f", lambda c: c["lstm"].step(x, f=True), TypeError,
     "gate override f must be real; got dtype bool"),
    ("step: a string for o", lambda c: c["lstm"].step(x, o="1"), TypeError,
     "gate override o must be real; got dtype <U1"),
    # sizes, dtype, seed, forget_bias
    ("LSTMCell(0, 2)", lambda c: LSTMCell(0, 2), ValueError, "input_size must be a positive integer; got 0"),
    ("LSTMCell(3, -1)", lambda c: LSTMCell(3, -1), ValueError,
     "hidden_size must be a positive integer; got -1"),
    ("LSTMCell(2.5, 2)", lambda c: LSTMCell(2.5, 2), ValueError,
     "input_size must be a positive integer; got 2.5"),
    ("LSTMCell(3, 2.0)", lambda c: LSTMCell(3, 2.0), ValueError,
     "hidden_size must be a positive integer; got 2.0"),
    ("LSTMCell('3', 2)", lambda c: LSTMCell("3", 2), ValueError,
     "input_size must be a positive integer; got '3'"),
    ("LSTMCell(True, 2)", lambda c: LSTMCell(True, 2), ValueError,
     "input_size must be a positive integer; got True"),
    ("RNNCell(3, 0)", lambda c: RNNCell(3, 0), ValueError, "hidden_size must be a positive integer; got 0"),
    ("LSTMCell dtype int32", lambda c: LSTMCell(D, H, dtype=np.int32), TypeError,
     "dtype must be float32 or float64; got int32"),
    ("LSTMCell dtype float16", lambda c: LSTMCell(D, H, dtype=np.float16), TypeError,
     "dtype must be float32 or float64; got float16"),
    ("LSTMCell dtype complex", lambda c: LSTMCell(D, H, dtype=complex), TypeError,
     "dtype must be float32 or float64; got complex128"),
    ("LSTMCell dtype 'banana'", lambda c: LSTMCell(D, H, dtype="banana"), TypeError,
     "dtype must be float32 or float64; got 'banana'"),
    ("LSTMCell dtype None", lambda c: LSTMCell(D, H, dtype=None), TypeError,
     "dtype must be float32 or float64; got None"),
    ("RNNCell dtype int64", lambda c: RNNCell(D, H, dtype=np.int64), TypeError,
     "dtype must be float32 or float64; got int64"),
    ("LSTMCell seed 1.5", lambda c: LSTMCell(D, H, seed=1.5), TypeError,
     "seed must be an int or a numpy Generator; got float"),
    ("LSTMCell seed None", lambda c: LSTMCell(D, H, seed=None), TypeError,
     "seed must be an int or a numpy Generator; got NoneType"),
    ("LSTMCell forget_bias NaN", lambda c: LSTMCell(D, H, forget_bias=np.nan), ValueError,
     "forget_bias must be finite; got nan"),
    ("LSTMCell forget_bias '1'", lambda c: LSTMCell(D, H, forget_bias="1"), TypeError,
     "forget_bias must be a real number; got '1' (str)"),
    # empty sequence and empty batch
    ("forward: T=0", lambda c: c["lstm"].forward(np.zeros((0, D))), ValueError,
     "xs is an empty sequence (T=0); give at least one timestep"),
    ("forward: B=0", lambda c: c["lstm"].forward(np.zeros((T, 0, D))), ValueError,
     "xs has an empty batch (B=0); give at least one sequence"),
    ("step: B=0", lambda c: c["lstm"].step(np.zeros((0, D))), ValueError,
     "x has an empty batch (B=0); give at least one sequence"),
    # traces
    ("backward: a trace from an H=4 cell", lambda c: c["lstm"].backward(c["wide_trace"], np.zeros((T, 4))),
     ValueError, "trace has D=3, H=4; this cell has D=3, H=2"),
    ("backward: not a trace", lambda c: c["lstm"].backward("trace", np.zeros((T, H))), TypeError,
     "trace must be a Trace from this cell's forward(); got str"),
    ("backward: an RNN trace", lambda c: c["lstm"].backward(c["rnn_trace"], np.zeros((T, H))), TypeError,
     "trace must be a Trace from this cell's forward(); got RNNTrace"),
    ("Trace.at(4) for T=4", lambda c: c["trace"].at(4), IndexError,
     "timestep 4 is outside a trace of T=4 steps"),
    # the RNN cell shares the checks
    ("RNN step: x with D=4", lambda c: c["rnn"].step(np.zeros(4)), ValueError,
     "x must have shape (3,) or (B, 3) with D=3; got (4,)"),
    ("RNN step: h_prev with H=3", lambda c: c["rnn"].step(x, np.zeros(3)), ValueError,
     "h_prev must have shape (2,); got (3,)"),
    ("RNN forward: xs B=5, h0 B=4", lambda c: c["rnn"].forward(xb, np.zeros((4, H))), ValueError,
     "h0 must have shape (5, 2); got (4, 2)"),
    ("RNN forward: integer xs", lambda c: c["rnn"].forward(np.zeros((T, D), dtype=np.int32)), TypeError,
     "xs must be a float array (float32 or float64); got dtype int32"),
    ("RNN forward: NaN in h0", lambda c: c["rnn"].forward(xs, with_nan(H, 1)), ValueError,
     "h0 must be finite; found nan at index (1,)"),
    ("RNN forward: T=0", lambda c: c["rnn"].forward(np.zeros((0, D))), ValueError,
     "xs is an empty sequence (T=0); give at least one timestep"),
    ("RNN backward: dh with H=3", lambda c: c["rnn"].backward(c["rnn_trace"], np.zeros((T, 3))), ValueError,
     "dh must have shape (4, 2); got (4, 3)"),
    ("RNN backward: NaN in dh", lambda c: c["rnn"].backward(c["rnn_trace"], with_nan((T, H), (0, 0))),
     ValueError, "dh must be finite; found nan at index (0, 0)"),
    ("RNN backward: an LSTM trace", lambda c: c["rnn"].backward(c["trace"], np.zeros((T, H))), TypeError,
     "trace must be an RNNTrace from forward(); got Trace"),
    ("RNN backward: a trace from an H=4 cell",
     lambda c: c["rnn"].backward(c["wide_rnn_trace"], np.zeros((T, 4))), ValueError,
     "trace has D=3, H=4; this cell has D=3, H=2"),
    # the blocks
    ("sigmoid: complex", lambda c: sigmoid(np.array([1j])), TypeError,
     "z must hold real numbers (a float dtype); got dtype complex128"),
    ("sigmoid: object", lambda c: sigmoid(np.array([1, None], dtype=object)), TypeError,
     "z must hold real numbers (a float dtype); got dtype object"),
    ("gate: v (3,), t (2,)", lambda c: gate(np.zeros(3), np.zeros(2)), ValueError,
     "v and t must have the same shape; got (3,) and (2,)"),
    ("gate: v (2, 3), t (3,) (no broadcasting)", lambda c: gate(np.zeros((2, 3)), np.zeros(3)), ValueError,
     "v and t must have the same shape; got (2, 3) and (3,)"),
    ("concat: h_prev (2, 2), x (3, 3)", lambda c: concat(np.zeros((2, 2)), np.zeros((3, 3))), ValueError,
     "batch sizes differ: h_prev has B=2, x has B=3"),
    ("pointwise_mul: complex a", lambda c: pointwise_mul(np.array([1j]), np.ones(1)), TypeError,
     "a must hold real numbers (a float dtype); got dtype complex128"),
    ("pointwise_mul: complex b", lambda c: pointwise_mul(np.ones(1), np.array([1j])), TypeError,
     "b must hold real numbers (a float dtype); got dtype complex128"),
    ("pointwise_add: complex a", lambda c: pointwise_add(np.array([1j]), np.ones(1)), TypeError,
     "a must hold real numbers (a float dtype); got dtype complex128"),
    ("pointwise_add: complex b", lambda c: pointwise_add(np.ones(1), np.array([1j])), TypeError,
     "b must hold real numbers (a float dtype); got dtype complex128"),
    ("gate: complex v", lambda c: gate(np.array([1j]), np.ones(1)), TypeError,
     "v must hold real numbers (a float dtype); got dtype complex128"),
    ("gate: complex t", lambda c: gate(np.ones(1), np.array([1j])), TypeError,
     "t must hold real numbers (a float dtype); got dtype complex128"),
    ("tanh: object", lambda c: tanh(np.array([1, None], dtype=object)), TypeError,
     "z must hold real numbers (a float dtype); got dtype object"),
    ("concat: complex h_prev", lambda c: concat(np.array([1j]), np.ones(1)), TypeError,
     "h_prev must hold real numbers (a float dtype); got dtype complex128"),
    ("concat: complex x", lambda c: concat(np.ones(1), np.array([1j])), TypeError,
     "x must hold real numbers (a float dtype); got dtype complex128"),
    ("pointwise_add: (2,) and (3,)", lambda c: pointwise_add(np.ones(2), np.ones(3)), ValueError,
     "a and b must have the same shape; got (2,) and (3,)"),
    ("pointwise_mul: (2,) and (3,)", lambda c: pointwise_mul(np.ones(2), np.ones(3)), ValueError,
     "a and b must have the same shape; got (2,) and (3,)"),
    ("RNN forward: NaN in W", lambda c: _nan_weight(RNNCell(D, H)).forward(xs), ValueError,
     "RNNCell.W must be finite; found nan at index (1, 2)"),
    ("LSTM forward: NaN in W", lambda c: _nan_weight(LSTMCell(D, H)).forward(xs), ValueError,
     "LSTMCell.W must be finite; found nan at index (1, 2) (params['W_f'][1, 2])"),
    ("LSTM step: inf in b_o", lambda c: _inf_bias(LSTMCell(D, H)).step(x), ValueError,
     "LSTMCell.b must be finite; found inf at index (7,) (params['b_o'][1])"),
    ("concat: h_prev (2, 4), x (3, 5)", lambda c: concat(np.zeros((2, 4)), np.zeros((3, 5))), ValueError,
     "batch sizes differ: h_prev has B=2, x has B=3"),
    ("concat: h_prev (2,), x (1, 3)", lambda c: concat(np.zeros(2), np.zeros((1, 3))), ValueError,
     "concat expects h_prev and x both of shape (n,) or both (B, n); got h_prev (2,) and x (1, 3)"),
]


@pytest.mark.parametrize("call, error, message", [case[1:] for case in BAD_INPUTS],
                         ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_is_refused_with_a_clear_message(cells, call, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$") as info:
        call(cells)
    # raised by lstmlib's own checks, not deep inside numpy
    assert info.traceback[-1].path.parent.name == "lstmlib"


def test_bad_input_ids_are_unique():
    assert len({case[0] for case in BAD_INPUTS}) == len(BAD_INPUTS)


# --- the helpers themselves ----------------------------------------------------------------------

def test_as_real_array_promotes_integers_and_keeps_floats():
    assert as_real_array([1, 2], "a").dtype == np.float64
    f32 = np.ones(2, dtype=np.float32)
    assert as_real_array(f32, "a") is f32


def test_as_float_input_casts_to_the_cells_dtype_without_copying_when_it_can():
    a = np.ones(3)
    assert as_float_input(a, "a", np.float64) is a
    assert as_float_input(a, "a", np.float32).dtype == np.float32
    assert as_float_input([1.0, 2.0], "a", np.float64).tolist() == [1.0, 2.0]


def test_require_shape_and_positive_int():
    require_shape(np.zeros((2, 3)), (2, 3), "a")
    with pytest.raises(ValueError, match=re.escape("a must have shape (3, 2); got (2, 3)")):
        require_shape(np.zeros((2, 3)), (3, 2), "a")
    assert positive_int(np.int64(3), "n") == 3 and type(positive_int(np.int64(3), "n")) is int


def test_finite_real_and_float_dtype():
    assert finite_real(np.float32(1.5), "v") == 1.5 and finite_real(2, "v") == 2.0
    with pytest.raises(TypeError, match=re.escape("v must be a real number; got True (bool)")):
        finite_real(True, "v")
    assert float_dtype("float32") == np.float32 and float_dtype(np.float64) == np.float64


def test_rng_from_passes_generators_through():
    g = np.random.default_rng(1)
    assert rng_from(g) is g
    assert rng_from(4).random() == np.random.default_rng(4).random()


def test_check_input_and_check_state_shapes():
    assert check_input(np.zeros((2, 3)), "x", 3, np.float64, sequence=False).shape == (2, 3)
    assert check_input(np.zeros((4, 2, 3)), "xs", 3, np.float64, sequence=True).shape == (4, 2, 3)
    s = check_state(None, "h0", 2, 5, True, np.float32)
    assert s.shape == (2, 5) and s.dtype == np.float32 and not s.any()
    assert check_state(np.ones(5), "h0", 1, 5, False, np.float64).shape == (1, 5)


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint8, np.uint64])
def test_as_real_array_promotes_signed_and_unsigned_integers(dtype):
    out = as_real_array(np.array([0, 7], dtype=dtype), "a")
    assert out.dtype == np.float64 and out.tolist() == [0.0, 7.0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_real_accepts_the_largest_finite_value_of_its_dtype(dtype):
    big = float(np.finfo(dtype).max)
    assert finite_real(big, "v", dtype) == big and finite_real(-big, "v", dtype) == -big
    with pytest.raises(ValueError, match=re.escape("v = 1e+39 is too large for float32")):
        finite_real(1e39, "v", np.float32)


def test_as_float_input_reports_a_cast_overflow_by_name_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=re.escape(
                "x holds 1e+39 at index (1,), too large for float32 (largest finite value "
                "3.40282e+38)")):
            as_float_input(np.array([0.0, 1e39]), "x", np.float32)


@pytest.mark.parametrize("dtype, shown", [(None, "None"), ("notadtype", "'notadtype'"),
                                          (np.int32, "int32"), ("float16", "float16")])
def test_float_dtype_names_what_came(dtype, shown):
    message = f"dtype must be float32 or float64; got {shown}"
    with pytest.raises(TypeError, match="^" + re.escape(message) + "$"):
        float_dtype(dtype)


def test_check_input_and_check_state_keep_the_callers_array_unless_told_to_copy():
    x = np.zeros((2, 3))
    assert check_input(x, "x", 3, np.float64, sequence=False) is x
    assert check_input(x, "x", 3, np.float64, sequence=False, copy=True) is not x
    s = np.ones((2, 5))
    assert np.shares_memory(check_state(s, "h0", 2, 5, True, np.float64), s)
    assert not np.shares_memory(check_state(s, "h0", 2, 5, True, np.float64, copy=True), s)


def test_finite_real_names_the_largest_value_of_its_dtype():
    with pytest.raises(ValueError, match="^" + re.escape(
            "v = 1e+39 is too large for float32 (largest finite value 3.40282e+38)") + "$"):
        finite_real(1e39, "v", np.float32)
