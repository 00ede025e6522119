"""Holes found by a review of lstmlib's public API, each pinned by a test: no silent wrong answer,
and bad input refused with an error that names what was expected and what came."""

import copy
import pickle
import re

import numpy as np
import pytest

from lstmlib.cell import VARIANTS, LSTMCell, gate_rows
from lstmlib.checks import NonFiniteError
from lstmlib.gru import GRUCell
from lstmlib.rnn import RNNCell

# --- 1. forward syncs with writes through plain views before it picks a layout -------------------


def test_forward_picks_its_layout_after_noticing_a_plain_view_write():
    cell = LSTMCell(1, 64, dtype=np.float32)
    xs = np.full((1, 32, 1), 3.6e-39, np.float32)
    assert cell.forward(xs).layout == "feature"   # B·H = 2048: the "exp" path, cached as fitting
    row = gate_rows(64)["c"].start
    np.asarray(cell.W)[row, 64] = 3e38            # a write the Tracked views cannot see
    tr = cell.forward(xs)
    want = np.tanh(np.float32(3e38) * np.float32(3.6e-39))   # h_0 = 0, b = 0: tanh(W_c x)
    assert tr.layout == "batch"                   # 2 · 3e38 overflows float32 on the exp path
    np.testing.assert_allclose(tr.c_tilde[0, 0, 0], want, rtol=1e-5)
    seen = LSTMCell(1, 64, dtype=np.float32)      # the same write through a tracked view
    seen.forward(xs)
    seen.W[row, 64] = 3e38
    np.testing.assert_array_equal(tr.c_tilde, seen.forward(xs).c_tilde)


# --- 2. a write through a plain view after step() is noticed and checked ------------------------

KINDS = {
    "lstm": lambda: LSTMCell(2, 3),
    "peepholes": lambda: LSTMCell(2, 3, peepholes=True),
    "gru": lambda: GRUCell(2, 3),
    "rnn": lambda: RNNCell(2, 3),
}


@pytest.mark.parametrize("value", [np.inf, np.nan], ids=["inf", "nan"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_plain_view_write_after_step_is_checked(kind, value):
    cell = KINDS[kind]()
    cell.step(np.ones(2))
    np.asarray(cell.W)[0, 3] = value              # column 3 acts on x_0 (H = 3)
    message = f"{type(cell).__name__}.W must be finite; found {value}"
    with pytest.raises(NonFiniteError, match=re.escape(message)):
        cell.forward(np.ones((1, 2)))
    with pytest.raises(NonFiniteError, match=re.escape(message)):
        cell.step(np.ones(2))


@pytest.mark.parametrize("kind", KINDS)
def test_a_plain_view_write_before_anything_else_is_checked(kind):
    cell = KINDS[kind]()
    np.asarray(cell.b)[0] = np.inf
    with pytest.raises(NonFiniteError, match=re.escape(f"{type(cell).__name__}.b must be finite")):
        cell.step(np.ones(2))


# --- 3. Regressor / check_cell check the cell's params --------------------------------------------

class Wrapped:
    """An LSTMCell behind a protocol-shaped front whose params and H can be made wrong."""

    def __init__(self, params=None, H=None):
        self.inner = LSTMCell(2, 3)
        self.D, self.dtype = 2, self.inner.dtype
        self.H = 3 if H is None else H
        self._params = params

    @property
    def params(self):
        p = self.inner.params
        return p if self._params is None else self._params(p)

    n_params = property(lambda self: self.inner.n_params)

    def step(self, x, h_prev=None, *args, **kwargs):
        return self.inner.step(x, h_prev, *args, **kwargs)

    def forward(self, xs, h0=None, *args, **kwargs):
        return self.inner.forward(xs, h0, *args, **kwargs)

    def backward(self, trace, dh, *args, **kwargs):
        return self.inner.backward(trace, dh, *args, **kwargs)


def _read_only(p):
    out = {k: np.array(v) for k, v in p.items()}
    for v in out.values():
        v.flags.writeable = False
    return out


@pytest.mark.parametrize("params, message", [
    (lambda p: {k: np.array(v) for k, v in p.items()},
     "cell.params['W_f'] must be a view into the cell's weights"),
    (lambda p: {k: v.tolist() for k, v in p.items()},
     "cell.params['W_f'] must be a numpy array (a writable view into the cell's weights); got list"),
    (lambda p: {k: np.asarray(v).astype(np.int64) for k, v in p.items()},
     "cell.params['W_f'] must be a float array (float32 or float64); got dtype int64"),
    (_read_only, "cell.params['W_f'] is read-only"),
], ids=["copies", "lists", "ints", "read-only"])
def test_regressor_refuses_params_that_training_cannot_update(params, message):
    from lstmlib.protocol import check_cell
    from lstmlib.train import Regressor

    with pytest.raises(TypeError, match=re.escape(message)):
        Regressor(Wrapped(params))
    with pytest.raises(TypeError, match=re.escape(message)):
        check_cell(Wrapped(params))


@pytest.mark.parametrize("H, error, message", [
    (0, ValueError, "cell.H must be a positive integer; got 0"),
    (3.0, TypeError, "cell.H must be a positive integer; got 3.0 (float)"),
    ("3", TypeError, "cell.H must be a positive integer; got '3' (str)"),
])
def test_regressor_refuses_a_bad_hidden_size(H, error, message):
    from lstmlib.train import Regressor

    with pytest.raises(error, match=re.escape(message)):
        Regressor(Wrapped(H=H))


def test_regressor_still_takes_every_cell_of_the_library():
    from lstmlib.train import Regressor

    for cell in (LSTMCell(2, 3), LSTMCell(2, 3, coupled=True), GRUCell(2, 3), RNNCell(2, 3)):
        assert Regressor(cell).cell is cell


# --- 4. the character model's inputs ------------------------------------------------------------

def test_cross_entropy_refuses_integer_logits():
    from lstmlib.charmodel import cross_entropy_bits

    with pytest.raises(TypeError, match=re.escape("logits must be a float array (float32 or "
                                                  "float64); got dtype int64")):
        cross_entropy_bits(np.array([[1, 2, 3]]), np.array([0]))


def test_cross_entropy_pairs_targets_by_shape_not_by_count():
    from lstmlib.charmodel import cross_entropy_bits

    with pytest.raises(ValueError, match=re.escape("targets must have shape (2, 3) (logits.shape"
                                                   "[:-1], one id per row of logits); got (3, 2)")):
        cross_entropy_bits(np.zeros((2, 3, 4)), np.zeros((3, 2), np.int64))
    bits, d = cross_entropy_bits(np.zeros((2, 3, 4)), np.zeros((2, 3), np.int64))
    assert bits == pytest.approx(2.0) and d.shape == (2, 3, 4)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_cross_entropy_refuses_non_finite_logits_by_position(bad):
    from lstmlib.charmodel import cross_entropy_bits

    logits = np.zeros((2, 3))
    logits[1, 2] = bad
    with pytest.raises(NonFiniteError, match=re.escape(f"logits must be finite; found {bad} at "
                                                       f"index (1, 2)")):
        cross_entropy_bits(logits, np.array([0, 1]))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_softmax_refuses_nan_and_plus_inf(bad):
    from lstmlib.charmodel import softmax

    with pytest.raises(NonFiniteError, match=re.escape(f"logits must not hold NaN or +inf; found "
                                                       f"{bad} at index (1,)")):
        softmax(np.array([0.0, bad]))
    np.testing.assert_array_equal(softmax(np.array([0.0, -np.inf])), [1.0, 0.0])  # a mask


def test_load_checks_shapes_before_building_the_model(tmp_path):
    from lstmlib.charmodel import CharLSTM

    path = tmp_path / "huge.npz"
    arrays = CharLSTM(5, (4,)).params
    np.savez(path, hidden_sizes=np.array([10**6]), **arrays)
    with pytest.raises(ValueError, match=re.escape("W0 has shape (16, 9); a model with V=5 and "
                                                   "hidden_sizes=(1000000,) needs (4000000, "
                                                   "1000005)")):
        CharLSTM.load(path)
    np.savez(path, hidden_sizes=np.array([4]), **arrays)
    model, _ = CharLSTM.load(path)
    np.testing.assert_array_equal(model.params["W0"], arrays["W0"])


@pytest.mark.parametrize("sizes, error, message", [
    (4, TypeError, "hidden_sizes must be a sequence of positive integers (one per layer, e.g. "
                   "(128, 128)); got 4 (int)"),
    ("44", TypeError, "hidden_sizes must be a sequence of positive integers"),
    ((4, 0), ValueError, "every entry of hidden_sizes must be a positive integer; got 0"),
])
def test_charlstm_refuses_bad_hidden_sizes(sizes, error, message):
    from lstmlib.charmodel import CharLSTM

    with pytest.raises(error, match=re.escape(message)):
        CharLSTM(5, sizes)


@pytest.mark.parametrize("state", [
    [np.zeros((2, 4))],
    [(np.zeros((1, 4)),)],
    np.zeros((1, 2, 1, 4)),
], ids=["array", "one of a pair", "stacked array"])
def test_charlstm_forward_refuses_a_state_that_is_not_pairs(state):
    from lstmlib.charmodel import CharLSTM

    model = CharLSTM(5, (4,))
    with pytest.raises(TypeError, match=re.escape("state must be a list with one (h, c) pair per "
                                                  "layer (this model has 1), as forward returns "
                                                  "it; ")):
        model.forward(np.zeros((3, 1), np.int64), state=state)


@pytest.mark.parametrize("ids, error, message", [
    (np.zeros((50, 2), np.int64), ValueError, "ids must be a 1-D array of character ids; got shape "
                                              "(50, 2)"),
    (np.zeros(50), TypeError, "ids must be integers; got float64"),
    (np.zeros(50, bool), TypeError, "ids must be integers; got bool"),
])
def test_chunks_refuses_ids_that_are_not_one_stream_of_integers(ids, error, message):
    from lstmlib.charmodel import chunks

    with pytest.raises(error, match=re.escape(message)):
        next(chunks(ids, 2, 3))


@pytest.mark.parametrize("sample_steps", [(20,), (0,), (5, 11)])
def test_char_config_refuses_sample_steps_outside_the_run(sample_steps):
    from lstmlib.charmodel import CharConfig

    with pytest.raises(ValueError, match=re.escape("every entry of sample_steps must be a step of "
                                                   "the run, in 1..10 (steps = 10)")):
        CharConfig(steps=10, sample_steps=sample_steps).check()
    CharConfig(steps=10, sample_steps=(1, 10)).check()


# --- 5. clip_grad_norm takes any real array-like and returns float arrays -----------------------

def test_clip_grad_norm_converts_lists_and_ints():
    from lstmlib.train import clip_grad_norm

    clipped, norm = clip_grad_norm({"a": [3.0, 4.0], "b": np.array([0, 0])}, 1)
    assert norm == 5.0
    np.testing.assert_allclose(clipped["a"], [0.6, 0.8])
    assert isinstance(clipped["a"], np.ndarray) and clipped["b"].dtype == np.float64
    small, _ = clip_grad_norm({"a": (0.3, 0.4)}, 1)
    assert isinstance(small["a"], np.ndarray)
    with pytest.raises(TypeError, match=re.escape("gradient a must hold real numbers")):
        clip_grad_norm({"a": ["x"]}, 1)


# --- 6. from_torch_state --------------------------------------------------------------------------

torch = pytest.importorskip("torch")


def _gru():
    torch.manual_seed(0)
    return torch.nn.GRU(2, 3)


def test_from_torch_state_refuses_what_is_not_a_state_dict():
    from lstmlib.gru import from_torch_state

    gru = _gru()
    with pytest.raises(TypeError, match=re.escape("state must be a mapping from the keys "
                                                  "['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', "
                                                  "'bias_hh_l0'] to arrays (gru.state_dict()); got "
                                                  "NoneType")):
        from_torch_state(None)
    with pytest.raises(TypeError, match=re.escape("state must be a mapping from the keys")) as info:
        from_torch_state(list(gru.state_dict().items()))
    assert "got list" in str(info.value) and "tensor" not in str(info.value)


def test_from_torch_state_names_the_key_of_a_bfloat16_tensor():
    from lstmlib.gru import from_torch_state

    state = {k: v.to(torch.bfloat16) for k, v in _gru().state_dict().items()}
    with pytest.raises(TypeError, match=re.escape("weight_ih_l0 is a torch.bfloat16 tensor")):
        from_torch_state(state)


def test_from_torch_state_takes_parameters_that_require_grad():
    from lstmlib.gru import from_torch_state

    gru = _gru()
    cell = from_torch_state(dict(gru.named_parameters()))
    np.testing.assert_array_equal(cell.W, from_torch_state(gru.state_dict()).W)
    np.testing.assert_array_equal(cell.b, from_torch_state(gru.state_dict()).b)
    assert all(p.requires_grad for p in gru.parameters())   # the caller's tensors are untouched


def test_from_torch_state_says_when_the_two_biases_sum_overflows():
    from lstmlib.gru import from_torch_state

    state = {k: v.clone() for k, v in _gru().state_dict().items()}
    state["bias_ih_l0"][4] = 3e38
    state["bias_hh_l0"][4] = 3e38
    message = ("bias_ih_l0[4] + bias_hh_l0[4] (torch's two biases of the update gate z, summed "
               "into b_z[1]) = 6e+38 overflows float32")
    with pytest.raises(NonFiniteError, match=re.escape(message)):
        from_torch_state(state, dtype=np.float32)
    assert from_torch_state(state).b[4] == pytest.approx(6e38, rel=1e-6)  # fits in float64


# --- 7. VARIANTS is read-only; options of a wrong type are a TypeError ----------------------------

def test_variants_cannot_be_changed():
    with pytest.raises(TypeError):
        VARIANTS["vanilla"]["peepholes"] = True
    with pytest.raises(TypeError):
        VARIANTS["mine"] = {}
    assert LSTMCell(2, 3, **VARIANTS["vanilla"]).options == {}
    assert LSTMCell(2, 3, **VARIANTS["peepholes"]).options == {"peepholes": True}


@pytest.mark.parametrize("value", [1, "no", None])
def test_a_variant_option_of_a_wrong_type_is_a_type_error(value):
    with pytest.raises(TypeError, match="option peepholes must be True or False"):
        LSTMCell(2, 3, peepholes=value)


# --- 8. a copied trace is called a copy -----------------------------------------------------------

COPIES = {"deepcopy": copy.deepcopy, "pickle": lambda obj: pickle.loads(pickle.dumps(obj))}


@pytest.mark.parametrize("how", COPIES)
@pytest.mark.parametrize("kind", KINDS)
def test_backward_says_a_copied_trace_is_a_copy(kind, how):
    cell = KINDS[kind]()
    tr = cell.forward(np.ones((4, 2)))
    with pytest.raises(ValueError, match=re.escape("this trace is a copy (copy.deepcopy, pickle)")):
        cell.backward(COPIES[how](tr), np.ones(tr.h.shape))
    twin = copy.deepcopy(cell)                     # a trace of another cell is not called a copy
    with pytest.raises(ValueError, match="made by another cell's forward") as info:
        cell.backward(twin.forward(np.ones((4, 2))), np.ones(tr.h.shape))
    assert "copy" not in str(info.value)
    cell.backward(tr, np.ones(tr.h.shape))         # the original is taken
