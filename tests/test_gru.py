"""The GRU cell: its equations by hand, step against forward, forward and every gradient against
torch.nn.GRU and against central finite differences, the mapping of torch's weights, and the
cell protocol's refusals (stale traces, bad inputs)."""

import copy
import dataclasses
import math
import pickle
import warnings
from dataclasses import FrozenInstanceError

import numpy as np
import pytest
import torch
from hypothesis import given, settings

# the cell tests' shared helpers: every weight and bias random; xs and a nonzero h0; shapes to draw
from test_rnn import randomized, sequence, shapes

from lstmlib import GRUCell, LSTMCell
from lstmlib.checks import NonFiniteError
from lstmlib.gru import (
    GRUStep,
    GRUTrace,
    from_torch_state,
    gru_candidate,
    gru_gate,
    gru_hidden,
    to_torch_state,
)

PARAM_NAMES = ["W_r", "W_z", "W_n", "b_r", "b_z", "b_n", "b_hn"]
# step (one function per equation, σ as 1/(1 + e^{-a})) and forward (fused, σ through tanh)
# compute the same sums in another order: rounding-level differences only
PATHS_RTOL, PATHS_ATOL = 1e-12, 1e-14
# float64 on both sides, the same operations in another order: the differences found are ~1e-15
TORCH_ATOL = 1e-10


# --- the equations by hand -----------------------------------------------------------------------

def sig(a):
    return 1.0 / (1.0 + math.exp(-a))


def hand_step(p, x, h_prev, *, cho=False):
    """torch.nn.GRU's equations on Python floats, one unit at a time; cho=True: r applied to h
    before the product (Cho et al. 2014)."""
    H = len(h_prev)
    hx = list(h_prev) + list(x)  # [h_{t-1}, x_t]: h first

    def affine(W, b, r, v, cols):
        return sum(W[r][k] * v[k - cols.start] for k in cols) + (b[r] if b is not None else 0.0)

    h_cols, x_cols = range(H), range(H, len(hx))
    r = [sig(affine(p["W_r"], p["b_r"], u, hx, range(len(hx)))) for u in range(H)]
    z = [sig(affine(p["W_z"], p["b_z"], u, hx, range(len(hx)))) for u in range(H)]
    if cho:
        rh = [r[k] * h_prev[k] for k in range(H)]
        n = [math.tanh(affine(p["W_n"], None, u, rh, h_cols) + affine(p["W_n"], p["b_n"], u, x, x_cols))
             for u in range(H)]
    else:
        n = [math.tanh(affine(p["W_n"], p["b_n"], u, x, x_cols)
                       + r[u] * affine(p["W_n"], p["b_hn"], u, h_prev, h_cols)) for u in range(H)]
    h = [(1 - z[u]) * n[u] + z[u] * h_prev[u] for u in range(H)]
    return r, z, n, h


def test_equations_by_hand(rng):
    cell = randomized(GRUCell(2, 3), rng)
    p = {k: v.tolist() for k, v in cell.params.items()}
    x, h_prev = rng.normal(size=2), rng.normal(size=3)
    r, z, n, h = hand_step(p, x.tolist(), h_prev.tolist())
    s = cell.step(x, h_prev)
    tol = dict(rtol=1e-13, atol=1e-15)  # the same formulas summed in another order
    for name, want in zip("rznh", (r, z, n, h), strict=True):
        np.testing.assert_allclose(getattr(s, name), want, **tol, err_msg=name)
    np.testing.assert_allclose(cell.forward(x[None], h_prev).h[0], h, **tol)
    # the functions on their own, with a batch of one
    P = cell.params
    hx = np.concatenate([h_prev, x])[None]
    np.testing.assert_allclose(gru_gate(hx, P["W_r"], P["b_r"])[0], r, **tol)
    np.testing.assert_allclose(gru_candidate(h_prev[None], x[None], np.array([r]), P["W_n"], P["b_n"],
                                             P["b_hn"])[0], n, **tol)
    np.testing.assert_allclose(gru_hidden(h_prev[None], np.array([z]), np.array([n]))[0], h, **tol)
    # Cho et al.'s formulation is another function: the test above tells the two apart
    h_cho = hand_step(p, x.tolist(), h_prev.tolist(), cho=True)[3]
    assert np.abs(np.subtract(h_cho, h)).max() > 1e-3


def test_update_gate_interpolates():
    """z = 1 keeps h_{t-1} exactly; z = 0 takes the candidate n_t (set through b_z)."""
    cell = GRUCell(2, 3, seed=4)
    x, h_prev = np.array([0.3, -0.7]), np.array([0.5, -0.2, 0.9])
    cell.params["b_z"][:] = 1e4   # σ = 1 exactly in float64
    s = cell.step(x, h_prev)
    np.testing.assert_array_equal(s.h, h_prev)
    cell.params["b_z"][:] = -1e4  # σ = 0 (underflows to exactly 0)
    s = cell.step(x, h_prev)
    np.testing.assert_array_equal(s.h, s.n)
    assert np.abs(s.n - h_prev).min() > 1e-3


# --- step against forward ------------------------------------------------------------------------

@pytest.mark.parametrize("B", [None, 1, 3])
def test_step_equals_forward(rng, B):
    cell = randomized(GRUCell(3, 4), rng)
    xs, h0 = sequence(rng, 6, 3, B, 4)
    tr = cell.forward(xs, h0)
    assert tr.T == 6 and tr.batched == (B is not None)
    assert tr.h.shape == tr.r.shape == tr.z.shape == tr.n.shape == xs.shape[:-1] + (4,)
    assert tr.h_all.shape == (6, B or 1, 4)
    h = h0
    for t in range(6):
        s = cell.step(xs[t], h)
        at = tr.at(t)
        assert isinstance(at, GRUStep)
        for name in "rznh":
            np.testing.assert_allclose(getattr(tr, name)[t], getattr(s, name), rtol=PATHS_RTOL,
                                       atol=PATHS_ATOL, err_msg=f"{name}, t={t}")
            np.testing.assert_array_equal(getattr(at, name), getattr(tr, name)[t])
        np.testing.assert_array_equal(tr.h_prev[t], h0 if t == 0 else tr.h[t - 1])
        h = s.h
    np.testing.assert_array_equal(tr.at(-1).h, tr.h[-1])


def test_omitted_state_is_zeros(rng):
    cell = randomized(GRUCell(2, 3), rng)
    xs, _ = sequence(rng, 4, 2, 2, 3)
    assert np.array_equal(cell.forward(xs).h, cell.forward(xs, np.zeros((2, 3))).h)
    assert np.array_equal(cell.step(xs[0]).h, cell.step(xs[0], np.zeros((2, 3))).h)


# --- against torch.nn.GRU ------------------------------------------------------------------------

def torch_gru(cell):
    """A torch.nn.GRU loaded with to_torch_state(cell)."""
    gru = torch.nn.GRU(cell.D, cell.H, dtype=torch.float64)
    gru.load_state_dict({k: torch.from_numpy(v) for k, v in to_torch_state(cell).items()})
    return gru


def torch_errors(cell, xs, h0, dh):
    """Max absolute difference from torch.nn.GRU (float64) of h, h_T and every gradient.

    torch's gradients are mapped onto ours: W_g = [weight_hh rows g, weight_ih rows g]; b_r and
    b_z enter torch twice (bias_ih, bias_hh), and each of torch's two gets our gradient; b_n is
    bias_ih's n rows, b_hn bias_hh's.
    """
    H = cell.H
    tr = cell.forward(xs, h0)
    grads = cell.backward(tr, dh)
    gru = torch_gru(cell)
    x_t = torch.tensor(xs, requires_grad=True)
    h0_t = torch.tensor(h0[None], requires_grad=True)  # (1, [B,] H): one layer
    out, h_n = gru(x_t, h0_t)
    (out * torch.from_numpy(dh)).sum().backward()
    g = {k: v.grad.numpy() for k, v in gru.named_parameters()}
    rows = {"r": slice(0, H), "z": slice(H, 2 * H), "n": slice(2 * H, 3 * H)}
    want = {"h": out.detach().numpy(), "h_T": h_n[0].detach().numpy(), "x": x_t.grad.numpy(),
            "h0": h0_t.grad[0].numpy()}
    got = {"h": tr.h, "h_T": tr.h[-1], "x": grads["x"], "h0": grads["h0"]}
    for gate, s in rows.items():
        want[f"W_{gate}"] = np.concatenate([g["weight_hh_l0"][s], g["weight_ih_l0"][s]], axis=1)
        got[f"W_{gate}"] = grads[f"W_{gate}"]
    for gate in "rz":
        for which in ("ih", "hh"):
            want[f"b_{gate} ({which})"] = g[f"bias_{which}_l0"][rows[gate]]
            got[f"b_{gate} ({which})"] = grads[f"b_{gate}"]
    want["b_n"], got["b_n"] = g["bias_ih_l0"][rows["n"]], grads["b_n"]
    want["b_hn"], got["b_hn"] = g["bias_hh_l0"][rows["n"]], grads["b_hn"]
    assert set(grads) == set(PARAM_NAMES) | {"x", "h0"}
    for name in got:
        assert got[name].shape == want[name].shape, name
    return {name: float(np.abs(got[name] - want[name]).max()) for name in got}


def assert_matches_torch(cell, xs, h0, dh):
    errors = torch_errors(cell, xs, h0, dh)
    bad = {k: e for k, e in errors.items() if not e <= TORCH_ATOL}
    assert not bad, f"max |ours - torch| above {TORCH_ATOL}: {bad}"
    return errors


@pytest.mark.parametrize("B", [None, 1, 4])
def test_forward_and_every_gradient_match_torch(rng, B):
    cell = randomized(GRUCell(3, 5), rng)
    xs, h0 = sequence(rng, 7, 3, B, 5)
    errors = assert_matches_torch(cell, xs, h0, rng.normal(size=xs.shape[:-1] + (5,)))
    assert {k.split(" ")[0] for k in errors} == set(PARAM_NAMES) | {"h", "h_T", "x", "h0"}


def test_matches_torch_at_training_size(rng):
    """Sizes as in training (T = 50, B = 16, H = 32), weights as initialised: errors ~1e-13."""
    cell = GRUCell(8, 32, seed=1)
    xs, h0 = sequence(rng, 50, 8, 16, 32)
    assert_matches_torch(cell, xs, h0, rng.normal(size=(50, 16, 32)))


def test_torch_default_initialisation_matches(rng):
    """torch's own initial weights (two different biases for r and z) loaded through
    from_torch_state: the same h and gradients."""
    torch.manual_seed(0)
    gru = torch.nn.GRU(3, 4, dtype=torch.float64)
    cell = from_torch_state(gru.state_dict())
    assert gru.bias_hh_l0[:8].abs().min() > 0  # the biases that must be summed are there
    xs, h0 = sequence(rng, 5, 3, 2, 4)
    assert_matches_torch(cell, xs, h0, rng.normal(size=(5, 2, 4)))
    out, _ = gru(torch.from_numpy(xs), torch.from_numpy(h0[None]))
    np.testing.assert_allclose(cell.forward(xs, h0).h, out.detach().numpy(), rtol=0, atol=TORCH_ATOL)


@settings(max_examples=15, deadline=None)
@given(s=shapes)
def test_property_matches_torch(s):
    rng = np.random.default_rng(s["seed"])
    cell = randomized(GRUCell(s["D"], s["H"], seed=s["seed"]), rng)
    xs, h0 = sequence(rng, s["T"], s["D"], s["B"], s["H"])
    assert_matches_torch(cell, xs, h0, rng.normal(size=xs.shape[:-1] + (s["H"],)))


# --- against central finite differences ----------------------------------------------------------

@pytest.mark.parametrize("B", [None, 1, 3])
def test_backward_matches_finite_differences(rng, numgrad, rel_err, B):
    cell = randomized(GRUCell(3, 4), rng)
    xs, h0 = sequence(rng, 5, 3, B, 4)
    tr = cell.forward(xs, h0)
    dh = rng.normal(size=tr.h.shape)
    grads = cell.backward(tr, dh)
    targets = dict(cell.params) | {"x": xs, "h0": h0}
    assert set(grads) == set(targets)

    def loss():
        return float(np.sum(cell.forward(xs, h0).h * dh))

    for name, arr in targets.items():
        assert grads[name].shape == arr.shape, name
        assert grads[name].any(), name  # no gradient is trivially zero here
        # float64 central differences with eps = 1e-6 reach ~1e-10; 1e-6 is the project's bound
        assert rel_err(grads[name], numgrad(loss, arr)) <= 1e-6, name


# --- torch's state dict, both ways ---------------------------------------------------------------

def test_mapping_round_trips(rng):
    cell = randomized(GRUCell(3, 4), rng)
    state = to_torch_state(cell)
    H = 4
    assert {k: v.shape for k, v in state.items()} == {
        "weight_ih_l0": (12, 3), "weight_hh_l0": (12, 4), "bias_ih_l0": (12,), "bias_hh_l0": (12,)}
    assert not state["bias_hh_l0"][:2 * H].any()
    np.testing.assert_array_equal(state["bias_hh_l0"][2 * H:], cell.params["b_hn"])
    np.testing.assert_array_equal(state["weight_ih_l0"][H:2 * H], cell.params["W_z"][:, H:])
    np.testing.assert_array_equal(state["weight_hh_l0"][2 * H:], cell.params["W_n"][:, :H])
    back = from_torch_state(state)
    np.testing.assert_array_equal(back.W, cell.W)
    np.testing.assert_array_equal(back.b, cell.b)
    # the arrays handed out are copies: writing them leaves the cell alone
    state["weight_ih_l0"][:] = 0.0
    state["bias_ih_l0"][:] = 0.0
    assert cell.W[:, H:].all() and cell.b.all()


def test_torch_biases_are_summed(rng):
    """A state dict with all of torch's biases nonzero: from_torch_state sums the two of r and z,
    computes what torch computes, and maps back to an equivalent state (bias_hh's r, z rows 0)."""
    D, H = 2, 3
    state = {"weight_ih_l0": rng.normal(size=(3 * H, D)), "weight_hh_l0": rng.normal(size=(3 * H, H)),
             "bias_ih_l0": rng.normal(size=3 * H), "bias_hh_l0": rng.normal(size=3 * H)}
    cell = from_torch_state(state)
    np.testing.assert_allclose(cell.params["b_r"], state["bias_ih_l0"][:H] + state["bias_hh_l0"][:H],
                               rtol=0, atol=0)
    np.testing.assert_array_equal(cell.params["b_n"], state["bias_ih_l0"][2 * H:])
    np.testing.assert_array_equal(cell.params["b_hn"], state["bias_hh_l0"][2 * H:])
    gru = torch.nn.GRU(D, H, dtype=torch.float64)
    gru.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    xs, h0 = sequence(rng, 4, D, 2, H)
    out, _ = gru(torch.from_numpy(xs), torch.from_numpy(h0[None]))
    np.testing.assert_allclose(cell.forward(xs, h0).h, out.detach().numpy(), rtol=0, atol=TORCH_ATOL)
    again = to_torch_state(cell)
    np.testing.assert_array_equal(again["weight_ih_l0"], state["weight_ih_l0"])
    np.testing.assert_array_equal(again["weight_hh_l0"], state["weight_hh_l0"])
    np.testing.assert_array_equal(again["bias_ih_l0"][:2 * H], cell.b[:2 * H])
    assert not again["bias_hh_l0"][:2 * H].any()
    np.testing.assert_array_equal(again["bias_hh_l0"][2 * H:], state["bias_hh_l0"][2 * H:])
    assert from_torch_state(state, dtype=np.float32).W.dtype == np.float32


def test_mapping_refuses_what_it_cannot_map():
    good = to_torch_state(GRUCell(2, 3))
    with pytest.raises(KeyError, match=r"missing \['bias_hh_l0'\], unexpected \[\]"):
        from_torch_state({k: v for k, v in good.items() if k != "bias_hh_l0"})
    with pytest.raises(KeyError, match=r"unexpected \['weight_ih_l1'\]"):
        from_torch_state(good | {"weight_ih_l1": good["weight_ih_l0"]})
    with pytest.raises(ValueError, match=r"weight_hh_l0 must have shape \(3H, H\); got \(8, 3\)"):
        from_torch_state(good | {"weight_hh_l0": np.zeros((8, 3))})
    with pytest.raises(ValueError, match=r"weight_ih_l0 must have shape \(9, D\) for H=3; got \(6, 2\)"):
        from_torch_state(good | {"weight_ih_l0": np.zeros((6, 2))})
    with pytest.raises(ValueError, match=r"bias_hh_l0 must have shape \(9,\); got \(6,\)"):
        from_torch_state(good | {"bias_hh_l0": np.zeros(6)})
    with pytest.raises(NonFiniteError, match="bias_ih_l0 must be finite"):
        from_torch_state(good | {"bias_ih_l0": np.full(9, np.nan)})
    with pytest.raises(TypeError, match="cell must be a GRUCell; got LSTMCell"):
        to_torch_state(LSTMCell(2, 3))


# --- the cell protocol ---------------------------------------------------------------------------

def test_initialisation():
    cell = GRUCell(10, 50, seed=3)
    k = 1 / np.sqrt(50)
    assert cell.W.shape == (150, 60) and cell.b.shape == (200,)
    for name, p in cell.params.items():  # every weight and every bias: U(-k, k), as torch does
        assert p.shape == ((50, 60) if name.startswith("W") else (50,)), name
        assert (p >= -k).all() and (p < k).all(), name
    assert cell.W.min() < -0.99 * k and cell.W.max() > 0.99 * k  # 9,000 uniform draws
    assert cell.b.min() < -0.95 * k and cell.b.max() > 0.95 * k  # 200 draws
    assert np.array_equal(GRUCell(3, 4, seed=1).W, GRUCell(3, 4, seed=np.random.default_rng(1)).W)
    assert not np.array_equal(GRUCell(3, 4, seed=1).b, GRUCell(3, 4, seed=2).b)
    c32 = GRUCell(3, 4, dtype=np.float32)
    assert c32.W.dtype == np.float32 and c32.b.dtype == np.float32
    assert repr(c32) == "GRUCell(input_size=3, hidden_size=4, dtype=float32)"
    assert (c32.D, c32.H, c32.dtype) == (3, 4, np.float32)
    assert c32.n_params == 3 * 4 * 7 + 4 * 4 == sum(p.size for p in c32.params.values())
    assert list(c32.params) == PARAM_NAMES


def test_params_are_the_cells_arrays(rng):
    cell = randomized(GRUCell(2, 3), rng)
    xs, _ = sequence(rng, 3, 2, None, 3)
    before = cell.forward(xs).h
    for name in ("W_r", "W_z", "W_n", "b_r", "b_n", "b_hn"):
        cell.params[name][:] = 0.0
    cell.params["b_z"][:] = -1e4      # z = 0: h_t = n_t = tanh(0) = 0
    assert before.any()
    np.testing.assert_array_equal(cell.forward(xs).h, np.zeros((3, 3)))
    cell.params["b_n"][:] = 0.25      # n_t = tanh(0.25) everywhere
    np.testing.assert_array_equal(cell.forward(xs).h, np.full((3, 3), np.tanh(0.25)))


def test_results_are_frozen_and_read_only(rng):
    cell = randomized(GRUCell(2, 3), rng)
    xs, h0 = sequence(rng, 4, 2, 2, 3)
    tr = cell.forward(xs, h0)
    s = cell.step(xs[0], h0)
    for arr in (tr.h, tr.h_all, tr.r, tr.z, tr.n, tr.xs, tr.h0, tr.hn_all, tr.at(1).h, s.r, s.h):
        with pytest.raises(ValueError, match="read-only"):
            arr[...] = 0.0
    with pytest.raises(FrozenInstanceError):
        tr.h_all = None
    with pytest.raises(FrozenInstanceError):
        s.h = None
    # the trace keeps its own copies: the caller's arrays may change after forward
    h_before = tr.h.copy()
    grads = cell.backward(tr, np.ones_like(tr.h))
    xs[:] = 0.0
    h0[:] = 0.0
    np.testing.assert_array_equal(tr.h, h_before)
    again = cell.backward(tr, np.ones_like(tr.h))
    for k in grads:
        np.testing.assert_array_equal(again[k], grads[k], err_msg=k)


@pytest.mark.parametrize("batched", [False, True])
def test_arrays_cannot_be_made_writable_again(rng, batched):
    cell = randomized(GRUCell(2, 3), rng)
    xs, h0 = sequence(rng, 4, 2, 2 if batched else None, 3)
    tr, s = cell.forward(xs, h0), cell.step(xs[0], h0)
    arrays = {name: getattr(tr, name) for name in ("xs", "h0", "gates", "hn_all", "h_all", "store",
                                                     "h", "r", "z", "n", "h_prev")}
    arrays |= {f"at(1).{k}": getattr(tr.at(1), k) for k in "rznh"}
    arrays |= {f"step.{k}": getattr(s, k) for k in "rznh"}
    for name, a in arrays.items():
        assert not a.flags.writeable, name
        with pytest.raises(ValueError, match="cannot set WRITEABLE flag"):
            a.flags.writeable = True
        with pytest.raises(ValueError, match="read-only"):
            a[(0,) * a.ndim] = 1.0


COPIES = {"deepcopy": copy.deepcopy, "pickle": lambda obj: pickle.loads(pickle.dumps(obj))}


@pytest.mark.parametrize("how", COPIES)
def test_a_copied_trace_is_refused(rng, how):
    cell = randomized(GRUCell(2, 3), rng)
    xs, h0 = sequence(rng, 4, 2, 2, 3)
    tr = cell.forward(xs, h0)
    dh = np.ones(tr.h.shape)
    with pytest.raises(ValueError, match="made by another cell's forward"):
        cell.backward(COPIES[how](tr), dh)           # the copy's token is not this cell's
    cell2, tr2 = COPIES[how]((cell, tr))
    with pytest.raises(ValueError, match="not made by this GRUCell's forward"):
        cell2.backward(tr2, dh)                      # nor is a copied pair taken
    with pytest.raises(ValueError, match="cannot set WRITEABLE flag"):
        tr2.h_all.flags.writeable = True
    cell.backward(tr, dh)                            # the originals still work
    cell2.backward(cell2.forward(xs, h0), dh)


def test_an_edited_trace_is_refused(rng):
    cell = randomized(GRUCell(2, 3), rng)
    tr = cell.forward(*sequence(rng, 4, 2, 2, 3))
    forged = dataclasses.replace(tr, hn_all=np.zeros_like(tr.hn_all))
    with pytest.raises(ValueError, match="not made by this GRUCell's forward"):
        cell.backward(forged, np.ones(tr.h.shape))
    cell.backward(tr, np.ones(tr.h.shape))


@pytest.mark.parametrize("write", [
    lambda c: c.params["W_n"].__setitem__((0, 0), 1.5),
    lambda c: c.params["b_hn"].__iadd__(0.1),
    lambda c: setattr(c, "W", np.zeros_like(c.W)),
    lambda c: np.copyto(np.asarray(c.b), 0.0),   # a write the Tracked views cannot see
], ids=["W_n item", "b_hn +=", "cell.W =", "untracked b"])
def test_stale_trace_refused(rng, write):
    cell = randomized(GRUCell(2, 3), rng)
    xs, h0 = sequence(rng, 4, 2, None, 3)
    tr = cell.forward(xs, h0)
    write(cell)
    with pytest.raises(ValueError, match=r"weights changed after forward\(\) made this trace"):
        cell.backward(tr, np.ones_like(tr.h))
    cell.backward(cell.forward(xs, h0), np.ones_like(tr.h))  # a new trace is accepted


def test_other_traces_refused(rng):
    cell = randomized(GRUCell(2, 3), rng)
    xs, _ = sequence(rng, 4, 2, None, 3)
    twin = copy.deepcopy(cell)
    with pytest.raises(ValueError, match="made by another cell's forward"):
        cell.backward(twin.forward(xs), np.ones((4, 3)))
    with pytest.raises(TypeError, match="trace must be a GRUTrace .* got Trace"):
        cell.backward(LSTMCell(2, 3).forward(xs), np.ones((4, 3)))
    with pytest.raises(ValueError, match="trace has D=2, H=3; this cell has D=2, H=4"):
        GRUCell(2, 4).backward(cell.forward(xs), np.ones((4, 3)))


def test_bad_inputs_are_refused_by_name(rng):
    cell = GRUCell(2, 3)
    xs = rng.normal(size=(4, 2))
    cases = [
        (lambda: cell.forward(rng.normal(size=(4, 5))), ValueError,
         r"xs must have shape \(T, 2\) or \(T, B, 2\) with D=2; got \(4, 5\)"),
        (lambda: cell.forward(np.ones((4, 2), dtype=int)), TypeError,
         "xs must be a float array .* got dtype int64"),
        (lambda: cell.forward(np.full((4, 2), np.nan)), NonFiniteError, "xs must be finite"),
        (lambda: cell.forward(np.zeros((0, 2))), ValueError, "empty sequence"),
        (lambda: cell.forward(xs, np.zeros(4)), ValueError, r"h0 must have shape \(3,\); got \(4,\)"),
        (lambda: cell.forward(xs[:, None], np.zeros(3)), ValueError,
         r"h0 must have shape \(1, 3\); got \(3,\)"),
        (lambda: cell.step(xs, np.zeros(3)), ValueError, r"h_prev must have shape \(4, 3\); got \(3,\)"),
        (lambda: cell.step(np.zeros(3)), ValueError, r"x must have shape \(2,\) or \(B, 2\) with D=2"),
        (lambda: cell.backward(cell.forward(xs), np.ones((4, 4))), ValueError,
         r"dh must have shape \(4, 3\); got \(4, 4\)"),
        (lambda: cell.backward(cell.forward(xs), np.full((4, 3), np.inf)), NonFiniteError,
         "dh must be finite"),
        (lambda: cell.forward(xs).at(4), IndexError, "timestep 4 is outside a trace of T=4 steps"),
        (lambda: GRUCell(0, 3), ValueError, "input_size must be a positive integer; got 0"),
        (lambda: GRUCell(2, 2.5), ValueError, "hidden_size must be a positive integer; got 2.5"),
        (lambda: GRUCell(2, 3, dtype=np.int32), TypeError, "dtype must be float32 or float64; got int32"),
    ]
    for run, error, message in cases:
        with pytest.raises(error, match=message):
            run()


def test_non_finite_weights_are_named():
    cell = GRUCell(2, 3)
    np.asarray(cell.W)[7, 4] = np.nan  # row 7 = unit 1 of W_n; column 4 = x_1
    cell.weights_changed()
    with pytest.raises(NonFiniteError, match=r"GRUCell.W must be finite; found nan at index "
                                             r"\(7, 4\) \(params\['W_n'\]\[1, 4\]\)"):
        cell.forward(np.zeros((2, 2)))
    cell = GRUCell(2, 3)
    cell.params["b_hn"][2] = np.inf
    with pytest.raises(NonFiniteError, match=r"\(params\['b_hn'\]\[2\]\)"):
        cell.step(np.zeros(2))


def test_overflow_is_refused_by_name():
    """Finite float32 values whose products overflow: a NaN or inf is refused by name, never
    handed back (numpy's own overflow warnings are not the point here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cell = GRUCell(1, 1, dtype=np.float32)
        cell.params["W_n"][:] = [[3e38, -3e38]]   # W_n^h h = inf, W_n^x x = -inf: n = NaN
        with pytest.raises(NonFiniteError, match=r"^step: h_t overflowed float32 \(found nan"):
            cell.step(np.full(1, 2.0), np.full(1, 2.0))
        with pytest.raises(NonFiniteError, match=r"^forward: h_T overflowed float32 \(found nan"):
            cell.forward(np.full((2, 1), 2.0), np.full(1, 2.0))
        for p in cell.params.values():
            p[:] = 0.0
        cell.params["b_z"][:] = -1e4              # z = 0: dā_n = dh ⊗ (1 − n²) ≈ dh
        cell.params["W_n"][:] = [[0.0, 10.0]]     # dx = 10 dā_n = 3e39 overflows; dW stays finite
        tr = cell.forward(np.full((1, 1), 1e-30))
        with pytest.raises(NonFiniteError, match=r"^backward: the gradient of x overflowed float32"):
            cell.backward(tr, np.full((1, 1), 3e38))


# --- float32 -------------------------------------------------------------------------------------

@settings(max_examples=20, deadline=None)
@given(s=shapes)
def test_property_float32_close_to_float64(s):
    rng = np.random.default_rng(s["seed"])
    c64 = GRUCell(s["D"], s["H"], seed=s["seed"])
    c32 = GRUCell(s["D"], s["H"], seed=s["seed"], dtype=np.float32)
    xs, h0 = sequence(rng, s["T"], s["D"], s["B"], s["H"])
    t64, t32 = c64.forward(xs, h0), c32.forward(xs, h0)
    s32 = c32.step(xs[0], h0)
    assert t32.h.dtype == t32.r.dtype == s32.h.dtype == s32.n.dtype == np.float32
    assert t64.h.dtype == np.float64
    # float32 keeps ~7 digits; T ≤ 5 steps of O(1) values stay well inside 1e-5
    np.testing.assert_allclose(t32.h, t64.h, rtol=1e-5, atol=1e-5)
    dh = rng.normal(size=t64.h.shape)
    g64, g32 = c64.backward(t64, dh), c32.backward(t32, dh)
    for name in g64:
        assert g32[name].dtype == np.float32 and g32[name].shape == g64[name].shape, name
        scale = max(1.0, float(np.abs(g64[name]).max()))
        np.testing.assert_allclose(g32[name], g64[name], rtol=0, atol=1e-4 * scale, err_msg=name)


def test_exported():
    import lstmlib

    assert lstmlib.GRUCell is GRUCell
    assert isinstance(GRUCell(1, 1).forward(np.zeros((1, 1))), GRUTrace)


# --- details a caller can observe ------------------------------------------------------------------

def test_the_equations_take_one_example_unbatched(rng):
    """gru_gate, gru_candidate and gru_hidden on one example, (H,) and (D,) vectors, give the row
    they give for it in a batch."""
    D, H = 2, 3
    p = randomized(GRUCell(D, H), rng).params
    x, h = rng.normal(size=(2, D)), rng.normal(size=(2, H))
    hx = np.concatenate([h, x], axis=1)
    r, z = gru_gate(hx, p["W_r"], p["b_r"]), gru_gate(hx, p["W_z"], p["b_z"])
    n = gru_candidate(h, x, r, p["W_n"], p["b_n"], p["b_hn"])
    hnew = gru_hidden(h, z, n)
    r1 = gru_gate(hx[1], p["W_r"], p["b_r"])
    n1 = gru_candidate(h[1], x[1], r1, p["W_n"], p["b_n"], p["b_hn"])
    assert r1.shape == n1.shape == (H,)
    np.testing.assert_allclose(r1, r[1], rtol=1e-15, atol=0)
    np.testing.assert_allclose(n1, n[1], rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(gru_hidden(h[1], z[1], n1), hnew[1], rtol=1e-14, atol=1e-16)


def test_a_float32_pass_stays_float32(rng):
    """Every gradient of a float32 cell is float32, and a float64 dh is rounded to float32 first:
    the gradients are bit for bit those of the rounded dh. The state for torch is float32 too."""
    cell = GRUCell(2, 3, dtype=np.float32)
    xs, h0 = sequence(rng, 5, 2, 2, 3)
    tr = cell.forward(xs, h0)
    dh = rng.normal(size=tr.h.shape)                 # float64, most values not float32's
    arrays = {name: getattr(tr, name) for name in ("xs", "h0", "gates", "hn_all", "h_all", "store",
                                                     "h", "r", "z", "n", "h_prev")}
    arrays |= {f"at(1).{k}": getattr(tr.at(1), k) for k in "rznh"}
    for name, a in arrays.items():
        assert a.dtype == np.float32, name
    grads = cell.backward(tr, dh)
    assert set(grads) == set(PARAM_NAMES) | {"x", "h0"}
    for name, g in grads.items():
        assert g.dtype == np.float32, name
    again = cell.backward(tr, dh.astype(np.float32))
    for name in grads:
        np.testing.assert_array_equal(grads[name], again[name], err_msg=name)
    state = to_torch_state(cell)
    assert {k: v.dtype for k, v in state.items()} == dict.fromkeys(state, np.dtype(np.float32))


def test_backward_names_the_gradient_that_overflows():
    """float32 gradients that overflow, one at a time (the others finite): each is named."""
    def cell_with(W_n):
        cell = GRUCell(1, 1, dtype=np.float32)
        for p in cell.params.values():
            p[:] = 0.0
        cell.params["b_z"][:] = -1e4   # z = 0: dā_n = dh ⊗ (1 − n²)
        cell.params["W_n"][:] = [W_n]
        return cell

    cases = [  # W_n = [W_n^h, W_n^x], xs, dh -> the one gradient that overflows
        ([0.0, 1e-30], [[1e30]], [[1e10]], "W"),         # dW_n^x = dā_n x ≈ 4e39
        ([0.0, 0.0], [[0.0], [0.0]], [[3e38], [3e38]], "b"),  # db_n = Σ_t dā_n = 6e38
        ([10.0, 0.0], [[0.0]], [[3e38]], "h0"),            # dh_0 = W_n^h r dā_n = 1.5e39
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for W_n, xs, dh, name in cases:
            cell = cell_with(W_n)
            tr = cell.forward(np.array(xs, dtype=np.float32))
            with pytest.raises(NonFiniteError, match=rf"^backward: the gradient of {name} "
                                                     r"overflowed float32 \(found inf"):
                cell.backward(tr, np.array(dh))


def test_a_timestep_must_be_an_integer(rng):
    tr = GRUCell(2, 3).forward(rng.normal(size=(4, 2)))
    with pytest.raises(TypeError, match=r"^timestep must be an integer; got 1\.5 \(float\)$"):
        tr.at(1.5)
    np.testing.assert_array_equal(tr.at(np.int64(-1)).h, tr.h[3])


def test_a_timestep_counts_back_to_the_first_step(rng):
    tr = GRUCell(2, 3).forward(rng.normal(size=(4, 2)))
    for name in "rznh":
        np.testing.assert_array_equal(getattr(tr.at(-4), name), getattr(tr, name)[0])
    with pytest.raises(IndexError, match=r"^timestep -5 is outside a trace of T=4 steps$"):
        tr.at(-5)


def test_from_torch_state_names_what_it_refuses():
    good = to_torch_state(GRUCell(2, 3))
    f32max = float(np.finfo(np.float32).max)

    def refused(error, message, dtype=np.float64, **changes):
        with pytest.raises(error, match=message):
            from_torch_state(good | changes, dtype=dtype)

    refused(ValueError, r"^bias_ih_l0 must have shape \(9,\); got \(8,\)$", bias_ih_l0=np.zeros(8))
    refused(TypeError, r"^weight_ih_l0 is a tensor on meta; move the state to the CPU first",
            weight_ih_l0=torch.zeros(9, 2, device="meta"))
    refused(TypeError, r"^bias_ih_l0 must be an array \(a numpy array or a CPU tensor\); got list "
            r"\(.*inhomogeneous", bias_ih_l0=[[1.0, 2.0], [3.0]])
    refused(NonFiniteError, r"^weight_hh_l0 holds 1e\+39 at index \(0, 0\), too large for float32",
            dtype=np.float32, weight_hh_l0=np.full((9, 3), 1e39))
    # keys of mixed types are listed (sorted by their repr), not a TypeError from sorting them
    with pytest.raises(KeyError, match=r"missing \[\], unexpected \['x', 0\]"):
        from_torch_state(good | {0: good["bias_ih_l0"], "x": good["bias_ih_l0"]})
    # the two torch biases of r and z, summed: an overflow names the gate and the unit
    for k, gate, unit in [(0, "reset gate r", r"b_r\[0\]"), (2, "reset gate r", r"b_r\[2\]"),
                          (3, "update gate z", r"b_z\[0\]"), (5, "update gate z", r"b_z\[2\]")]:
        b_ih, b_hh = good["bias_ih_l0"].astype(np.float64), good["bias_hh_l0"].astype(np.float64)
        b_ih[k], b_hh[k] = f32max, f32max / 2
        refused(NonFiniteError, rf"^bias_ih_l0\[{k}\] \+ bias_hh_l0\[{k}\] \(torch's two biases of "
                rf"the {gate}, summed into {unit}\) = 5\.10424e\+38 overflows float32 \(largest "
                r"finite value 3\.40282e\+38\); use dtype=np\.float64$",
                dtype=np.float32, bias_ih_l0=b_ih, bias_hh_l0=b_hh)
    # a sum exactly at the largest finite value still fits
    b_ih = good["bias_ih_l0"].copy()
    b_ih[:6] = f32max
    cell = from_torch_state(good | {"bias_ih_l0": b_ih}, dtype=np.float32)
    np.testing.assert_array_equal(cell.b[:6], np.float32(f32max))


def test_from_torch_state_reads_any_array_like():
    """D = 1 is a valid input size; an object that is not a tensor is read with np.asarray even
    when it has a `detach` method."""
    small = GRUCell(1, 2)
    np.testing.assert_array_equal(from_torch_state(to_torch_state(small)).W, small.W)

    class ArrayWithDetach:
        def __init__(self, a):
            self.a = a

        def __array__(self, dtype=None, copy=None):
            return self.a

        def detach(self):
            raise AssertionError("detach() is for torch tensors only")

    state = to_torch_state(GRUCell(2, 3, seed=1))
    cell = from_torch_state({k: ArrayWithDetach(v) for k, v in state.items()})
    np.testing.assert_array_equal(to_torch_state(cell)["weight_hh_l0"], state["weight_hh_l0"])


def test_the_trace_keeps_h0_and_one_copy_of_the_states(rng):
    """The trace's h0 is the h0 given (batched), and h0, h_all, h_prev are views of one store of
    h_0..h_T: the states are kept once."""
    cell = randomized(GRUCell(2, 3), rng)
    xs, h0 = sequence(rng, 4, 2, 2, 3)
    tr = cell.forward(xs, h0)
    np.testing.assert_array_equal(tr.h0, h0)
    np.testing.assert_array_equal(GRUCell(2, 3).forward(xs[:, 0]).h0, np.zeros((1, 3)))
    np.testing.assert_array_equal(tr.store, np.concatenate([h0[None], tr.h_all]))
    for name in ("h0", "h_all", "h_prev"):
        assert np.shares_memory(getattr(tr, name), tr.store), name


def test_defaults_seed_0_and_a_float32_h0_checked_in_float32(rng):
    assert np.array_equal(GRUCell(2, 3).W, GRUCell(2, 3, seed=0).W)
    assert np.array_equal(GRUCell(2, 3).b, GRUCell(2, 3, seed=0).b)
    cell = GRUCell(2, 3, dtype=np.float32)
    with pytest.raises(NonFiniteError, match=r"^h0 holds 1e\+39 at index \(0,\), too large for "
                                             r"float32"):
        cell.forward(np.zeros((4, 2)), np.full(3, 1e39))
