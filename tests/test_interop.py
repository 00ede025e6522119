"""lstmlib's LSTM weights in torch.nn.LSTM's layout: torch itself is the oracle (float64)."""

import re

import numpy as np
import pytest

from lstmlib import LSTMCell
from lstmlib.cell import VARIANTS
from lstmlib.interop import BOOK_KEYS, TORCH_KEYS, from_torch_lstm, to_torch_lstm, torch_lstm_forward

torch = pytest.importorskip("torch")

# float64 throughout: the same products summed in another order differ by a few ulps per step,
# far below 1e-12 for these sizes
TOL = 1e-12


def torch_lstm(state, D, H):
    lstm = torch.nn.LSTM(D, H, dtype=torch.float64)
    lstm.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    return lstm


@pytest.mark.parametrize("D, H, B", [(2, 3, None), (3, 5, 4), (1, 1, 2)])
def test_torch_lstm_with_the_mapped_weights_gives_lstmlibs_h_T(D, H, B, rng):
    cell = LSTMCell(D, H, seed=3, forget_bias=1.0)
    for v in cell.params.values():  # every weight and bias non-zero and distinct
        v[...] = rng.normal(scale=0.7, size=v.shape)
    state = to_torch_lstm(cell)
    assert list(state) == list(TORCH_KEYS)
    xs = rng.normal(size=(9, D) if B is None else (9, B, D))
    h0 = rng.normal(size=(H,) if B is None else (B, H))
    c0 = rng.normal(size=h0.shape)
    ours = cell.forward(xs, h0, c0)
    lstm = torch_lstm(state, D, H)
    with torch.no_grad():
        out, (h_T, c_T) = lstm(torch.from_numpy(xs), (torch.from_numpy(h0)[None],
                                                      torch.from_numpy(c0)[None]))
    assert np.abs(out.numpy() - ours.h).max() <= TOL
    assert np.abs(h_T[0].numpy() - ours.h[-1]).max() <= TOL
    assert np.abs(c_T[0].numpy() - ours.c[-1]).max() <= TOL
    # torch's equations in numpy, in torch's layout, agree with both
    np_out, (np_h, np_c) = torch_lstm_forward(state, xs, h0, c0)
    assert np.abs(np_out - out.numpy()).max() <= TOL
    assert np.abs(np_h - ours.h[-1]).max() <= TOL and np.abs(np_c - ours.c[-1]).max() <= TOL


def test_gate_order_and_biases_are_torchs(rng):
    cell = LSTMCell(2, 3, seed=0)
    cell.params["b_f"][:] = 5.0  # only the forget gate's bias is set
    state = to_torch_lstm(cell)
    H = 3
    assert np.all(state["bias_ih_l0"][H:2 * H] == 5.0)  # torch's second block is f
    assert not state["bias_ih_l0"][:H].any() and not state["bias_ih_l0"][2 * H:].any()
    assert not state["bias_hh_l0"].any()
    assert np.array_equal(state["weight_ih_l0"][:H], cell.params["W_i"][:, H:])  # x columns
    assert np.array_equal(state["weight_hh_l0"][2 * H:3 * H], cell.params["W_c"][:, :H])


def test_the_mapping_round_trips_and_copies(rng):
    cell = LSTMCell(3, 4, seed=1)
    for v in cell.params.values():
        v[...] = rng.normal(size=v.shape)
    state = to_torch_lstm(cell)
    back = from_torch_lstm(state)
    assert set(back) == set(cell.params)
    for k, v in cell.params.items():
        assert np.array_equal(back[k], v), k
    # torch's own two random biases: from_torch_lstm adds them, and the cell computes torch's h_T
    lstm = torch.nn.LSTM(3, 4, dtype=torch.float64)
    theirs = {k: v.detach().numpy() for k, v in lstm.state_dict().items()}
    fresh = LSTMCell(3, 4, seed=9)
    for k, v in from_torch_lstm(theirs).items():
        fresh.params[k][...] = v
    xs = rng.normal(size=(6, 2, 3))
    with torch.no_grad():
        _, (h_T, _) = lstm(torch.from_numpy(xs))
    assert np.abs(fresh.forward(xs).h[-1] - h_T[0].numpy()).max() <= TOL
    # the state_dict is a copy: writing into it leaves the cell alone
    state["weight_ih_l0"][:] = 0.0
    assert np.array_equal(from_torch_lstm(to_torch_lstm(cell))["W_f"], cell.params["W_f"])


@pytest.mark.parametrize("name", [n for n in VARIANTS if n != "vanilla"])
def test_every_variant_is_refused_by_name(name):
    # "no input activation" and "no output activation" keep the plain cell's params: only
    # their options tell them apart
    with pytest.raises(ValueError, match=f"and options {re.escape(str(VARIANTS[name]))}"):
        to_torch_lstm(LSTMCell(2, 3, **VARIANTS[name]))


def test_bad_input_is_named():
    class Peephole:  # a cell with a variant's option set, as LSTMCell(..., peepholes=True) has
        options = {"peepholes": True}
        params = LSTMCell(2, 3).params

    with pytest.raises(ValueError, match="and options \\{'peepholes': True\\}"):
        to_torch_lstm(Peephole())
    with pytest.raises(ValueError, match="plain LSTM cell only"):
        to_torch_lstm(type("GRU", (), {"params": {"W_r": np.zeros((3, 5))}})())
    state = to_torch_lstm(LSTMCell(2, 3))
    with pytest.raises(KeyError, match="missing \\['bias_hh_l0'\\]"):
        from_torch_lstm({k: v for k, v in state.items() if k != "bias_hh_l0"})
    with pytest.raises(ValueError, match="weight_hh_l0 \\(4H, H\\)"):
        from_torch_lstm({**state, "weight_hh_l0": state["weight_hh_l0"][:, :2]})
    with pytest.raises(ValueError, match="xs must have shape \\(T, 2\\)"):
        torch_lstm_forward(state, np.zeros((4, 3)))


@pytest.mark.parametrize("batched", [False, True])
def test_torch_lstm_forward_with_torchs_own_biases_and_zero_state(batched, rng):
    # torch's initial state_dict has two different non-zero biases per gate, and torch starts
    # from h_0 = c_0 = 0 when none is given: torch_lstm_forward does both as torch does
    torch.manual_seed(4)
    lstm = torch.nn.LSTM(3, 4, dtype=torch.float64)
    state = {k: v.detach().numpy() for k, v in lstm.state_dict().items()}
    assert np.abs(state["bias_hh_l0"]).min() > 0
    xs = rng.normal(size=(5, 2, 3) if batched else (5, 3))
    with torch.no_grad():
        out, (h_T, c_T) = lstm(torch.from_numpy(xs))
    np_out, (np_h, np_c) = torch_lstm_forward(state, xs)
    assert np_out.shape == tuple(out.shape) and np_h.shape == np_c.shape == tuple(h_T.shape[1:])
    assert np.abs(np_out - out.numpy()).max() <= TOL
    assert np.abs(np_h - h_T[0].numpy()).max() <= TOL
    assert np.abs(np_c - c_T[0].numpy()).max() <= TOL


def test_torch_lstm_forward_computes_in_float64(rng):
    # weights, h0 and c0 given in a wider float type (long double here) are rounded to float64
    # first: every result is float64 and equal to the run on the float64-rounded inputs
    wide = np.longdouble
    state = {k: v.astype(wide) / 3 for k, v in to_torch_lstm(LSTMCell(2, 3, seed=5)).items()}
    state["bias_hh_l0"] += wide(1) / 7
    h0, c0 = rng.normal(size=(2, 4, 3)).astype(wide) / 3
    xs = rng.normal(size=(4, 4, 2))
    out, (h_T, c_T) = torch_lstm_forward(state, xs, h0, c0)
    assert out.dtype == h_T.dtype == c_T.dtype == np.float64
    r_out, (r_h, r_c) = torch_lstm_forward({k: v.astype(np.float64) for k, v in state.items()},
                                           xs, h0.astype(np.float64), c0.astype(np.float64))
    assert np.array_equal(out, r_out) and np.array_equal(h_T, r_h) and np.array_equal(c_T, r_c)


def test_from_torch_lstm_keeps_the_state_dicts_float_type():
    cell = LSTMCell(2, 3, seed=2, dtype=np.float32)
    state = to_torch_lstm(cell)
    assert {v.dtype for v in state.values()} == {np.dtype(np.float32)}
    back = from_torch_lstm(state)
    for k, v in cell.params.items():
        assert back[k].dtype == np.float32 and np.array_equal(back[k], v), k


def test_every_refusal_names_what_came():
    def message(call, *args, error=ValueError):
        with pytest.raises(error) as info:
            call(*args)
        return str(info.value)

    plain = f"torch.nn.LSTM computes the plain LSTM cell only (params {list(BOOK_KEYS)}, no variant "
    # no params at all: the cell's type is named; params of another cell: their sorted names
    assert message(to_torch_lstm, object()) == plain + "options); got a cell with params object"
    gru = type("GRU", (), {"params": {"b_r": np.zeros(3), "W_r": np.zeros((3, 5))}})()
    assert message(to_torch_lstm, gru) == plain + "options); got a cell with params ['W_r', 'b_r']"
    state = to_torch_lstm(LSTMCell(2, 3))
    assert message(from_torch_lstm, {**state, "weight_ih_l0": np.ones((12, 2), int)},
                   error=TypeError).startswith("weight_ih_l0 must be a float array")
    assert message(torch_lstm_forward, state, np.ones((4, 2), int),
                   error=TypeError).startswith("xs must be a float array")
    shapes = "(4H, H), bias_ih_l0 and bias_hh_l0 (4H,); got shapes"
    for name in ("weight_ih_l0", "weight_hh_l0"):  # a flattened weight matrix
        bad = {**state, name: state[name].ravel()}
        assert f"{shapes} {{'weight_ih_l0': {bad['weight_ih_l0'].shape}" in message(
            from_torch_lstm, bad), name
    empty = {"weight_ih_l0": np.zeros((0, 2)), "weight_hh_l0": np.zeros((0, 0)),
             "bias_ih_l0": np.zeros(0), "bias_hh_l0": np.zeros(0)}  # H = 0
    assert message(from_torch_lstm, empty).endswith(
        f"{shapes} {({k: v.shape for k, v in empty.items()})}")


def test_a_cell_whose_options_are_none_or_absent_is_plain():
    cell = LSTMCell(2, 3, seed=6)
    reference = to_torch_lstm(cell)
    for options in ({"options": None}, {}):  # options None, or no options attribute at all
        other = type("Plain", (), {"params": cell.params, **options})()
        state = to_torch_lstm(other)
        assert all(np.array_equal(state[k], reference[k]) for k in TORCH_KEYS), options


def test_torch_lstm_forward_checks_the_initial_states():
    state = to_torch_lstm(LSTMCell(2, 3, seed=1))
    xs = np.zeros((4, 5, 2))  # T = 4, B = 5
    with pytest.raises(ValueError, match=r"h0 .*\(5, 3\).*\(3,\)"):  # (H,) for a batched input
        torch_lstm_forward(state, xs, np.zeros(3))
    with pytest.raises(ValueError, match=r"c0 .*\(3,\).*\(1, 3\)"):
        torch_lstm_forward(state, xs[:, 0], None, np.zeros((1, 3)))
    with pytest.raises(ValueError, match="h0 must be finite; found nan"):
        torch_lstm_forward(state, xs, np.full((5, 3), np.nan))
    with pytest.raises(TypeError, match="c0 must be a float array"):
        torch_lstm_forward(state, xs[:, 0], None, np.array(["1.0", "0", "0"]))
    # the caller's h0 is not written to, and the result does not follow later writes into it
    h0 = np.full((5, 3), 0.5)
    out, (h_T, _) = torch_lstm_forward(state, xs, h0)
    kept = h_T.copy()
    h0[...] = 9.0
    assert np.array_equal(h_T, kept) and not np.array_equal(out[0], np.zeros((5, 3)))


def test_a_scalar_weight_is_refused_with_the_shapes():
    state = {**to_torch_lstm(LSTMCell(2, 3)), "weight_ih_l0": np.float64(1.0)}
    with pytest.raises(ValueError, match=r"got shapes \{'weight_ih_l0': \(\)"):
        from_torch_lstm(state)


def test_torch_lstm_forward_of_no_steps_returns_copies_of_the_initial_states():
    """T = 0: no step runs, so (h_T, c_T) are h0 and c0, as copies that later writes into the
    caller's arrays do not reach."""
    state = to_torch_lstm(LSTMCell(2, 3, seed=1))
    for h0, c0 in ((np.ones(3), np.full(3, 2.0)), (np.ones((5, 3)), np.full((5, 3), 2.0))):
        out, (h_T, c_T) = torch_lstm_forward(state, np.zeros((0,) + h0.shape[:-1] + (2,)), h0, c0)
        assert out.shape == (0,) + h0.shape
        h0[...], c0[...] = 7.0, 8.0
        assert np.array_equal(h_T, np.ones(h0.shape)) and np.array_equal(c_T, np.full(c0.shape, 2.0))
