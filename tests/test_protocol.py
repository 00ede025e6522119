"""Every cell of lstmlib through the protocol lstmlib.protocol.Cell alone: shapes, gradient keys,
tracked writes, and training with lstmlib.train.Regressor. A new cell is one line in CELLS."""

import importlib
import re
from functools import partial

import numpy as np
import pytest

from lstmlib.cell import VARIANTS
from lstmlib.protocol import MEMBERS, Cell, check_cell, missing
from lstmlib.tasks import adding_problem
from lstmlib.train import Regressor, TrainConfig, train

# name -> (the class, as "module.Class", and its keyword options)
CELLS = {
    "LSTMCell": ("lstmlib.cell.LSTMCell", {}),
    **{f"LSTMCell {name}": ("lstmlib.cell.LSTMCell", options)
       for name, options in VARIANTS.items() if options},
    "RNNCell": ("lstmlib.rnn.RNNCell", {}),
    "GRUCell": ("lstmlib.gru.GRUCell", {}),
}

D, H, B, T = 2, 3, 4, 5


def make(name, D=D, H=H, seed=0, **extra):
    path, options = CELLS[name]
    module, cls = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), cls)(D, H, seed=seed, **options, **extra)


@pytest.fixture(params=list(CELLS))
def name(request):
    return request.param


def test_members_are_those_of_the_protocol_class():
    assert MEMBERS == ("D", "H", "dtype", "params", "n_params", "step", "forward", "backward")


def test_every_cell_follows_the_protocol(name):
    cell = make(name, dtype=np.float32)
    assert isinstance(cell, Cell) and missing(cell) == [] and check_cell(cell) is cell
    assert (cell.D, cell.H, cell.dtype) == (D, H, np.float32)
    params = cell.params
    assert isinstance(params, dict) and params
    assert cell.n_params == sum(p.size for p in params.values())
    for k, p in params.items():
        assert isinstance(k, str) and p.dtype == np.float32 and p.flags.writeable, k


@pytest.mark.parametrize("batched", [True, False])
def test_shapes_of_step_forward_and_backward(name, batched, rng):
    cell = make(name)
    lead = (B,) if batched else ()
    xs = rng.normal(size=(T, *lead, D))
    assert cell.step(xs[0]).h.shape == (*lead, H)
    trace = cell.forward(xs)
    assert trace.T == T and trace.batched is batched
    assert trace.h.shape == (T, *lead, H) and trace.h_all.shape == (T, B if batched else 1, H)
    grads = cell.backward(trace, rng.normal(size=trace.h.shape))
    assert set(cell.params) | {"x", "h0"} <= set(grads) <= set(cell.params) | {"x", "h0", "c0"}
    for k, p in cell.params.items():
        assert grads[k].shape == p.shape, k
    assert grads["x"].shape == xs.shape
    assert ("c0" in grads) == hasattr(trace, "c0")  # a cell with a memory: its gradient too
    for k in ("h0", "c0"):
        if k in grads:
            assert grads[k].shape == (*lead, H), k


def test_one_step_is_the_first_step_of_forward(name, rng):
    cell = make(name)
    xs = rng.normal(size=(T, B, D))
    np.testing.assert_allclose(cell.step(xs[0]).h, cell.forward(xs).h[0], rtol=1e-12, atol=1e-15)


def test_backward_matches_finite_differences_on_sampled_entries(name, rng, numgrad):
    # a few entries of every array, through the protocol only (each cell's own tests check all)
    cell = make(name)
    xs, h0 = rng.normal(size=(T, B, D)), rng.normal(size=(B, H)) * 0.5
    R = rng.normal(size=(T, B, H))
    grads = cell.backward(cell.forward(xs, h0), R)
    loss = lambda: float(np.sum(R * cell.forward(xs, h0).h))  # noqa: E731
    for k, arr in {**cell.params, "x": xs, "h0": h0}.items():
        flat = arr.reshape(-1)  # a view: every array here is contiguous
        assert np.shares_memory(flat, arr), k
        for j in rng.integers(arr.size, size=2):
            fd = numgrad(loss, flat[j:j + 1])[0]
            assert grads[k].reshape(-1)[j] == pytest.approx(fd, rel=1e-6, abs=1e-9), (k, j)


def test_writes_through_params_refuse_an_old_trace(name, rng):
    cell = make(name)
    xs = rng.normal(size=(T, D))
    for k in cell.params:
        trace = cell.forward(xs)
        cell.params[k][0] += 0.1
        with pytest.raises(ValueError, match="changed after forward"):
            cell.backward(trace, np.ones_like(trace.h))


def test_regressor_takes_the_cells_params_and_training_lowers_the_loss(name):
    model = Regressor(make(name, H=6, seed=1), seed=1)
    assert list(model.params) == [*model.cell.params, "W_y", "b_y"]
    xs, y = adding_problem(6, 8, seed=3)
    _, grads = model.loss_and_grads(xs, y)
    assert list(grads) == list(model.params)
    test = adding_problem(10, 200, seed=4)
    h = train(model, partial(adding_problem, 10), test,
              TrainConfig(steps=60, batch_size=16, lr=0.02, eval_every=60, seed=2))
    assert h.test_mse[-1] < 0.8 * h.test_mse[0], (h.test_mse[0], h.test_mse[-1])


# --- what is not a cell ---------------------------------------------------------------------

class _Without:
    """An LSTMCell that hides some members of the protocol."""

    def __init__(self, hide, **kw):
        self._cell, self._hide = make("LSTMCell"), hide
        self.__dict__.update(kw)

    def __getattr__(self, k):
        if k in self._hide:
            raise AttributeError(k)
        return getattr(self._cell, k)


def test_a_cell_without_members_is_named_by_what_it_lacks():
    with pytest.raises(TypeError, match=re.escape("_Without lacks backward")):
        Regressor(_Without({"backward"}))
    with pytest.raises(TypeError, match=re.escape("_Without lacks H, n_params")):
        Regressor(_Without({"H", "n_params"}))
    with pytest.raises(TypeError, match=re.escape("_Without lacks step (not callable)")):
        Regressor(_Without(set(), step=3))
    assert not isinstance(_Without({"forward"}), Cell)


def test_a_backward_that_leaves_out_a_gradient_is_named():
    cell = _Without(set())
    real = cell._cell.backward
    cell.backward = lambda trace, dh: {k: v for k, v in real(trace, dh).items() if k != "b_o"}
    model = Regressor(cell)
    with pytest.raises(TypeError, match=re.escape("_Without.backward returned no gradient for b_o")):
        model.loss_and_grads(*adding_problem(4, 2, seed=0))


def test_params_may_not_take_the_readouts_names():
    cell = _Without(set())
    cell.params = {"W_y": np.zeros((3, 5))}
    with pytest.raises(ValueError, match="readout's names"):
        Regressor(cell)


class _Reads:
    """An LSTMCell whose params are made by `params(n)`, n counting the reads from 0 (check_cell
    reads them three times: `missing` looks the member up, then two reads are compared)."""

    def __init__(self, params):
        self._cell, self._params, self._reads = make("LSTMCell"), params, 0

    @property
    def params(self):
        self._reads += 1
        return self._params(self._reads - 1)

    def __getattr__(self, k):
        return getattr(self._cell, k)


_STORE = np.zeros(8)


@pytest.mark.parametrize("params, message", [
    (lambda n: {}, "cell.params must be a non-empty dict of arrays by name; got dict"),
    (lambda n: [_STORE], "cell.params must be a non-empty dict of arrays by name; got list"),
    (lambda n: {"a": _STORE} if n < 2 else {"b": _STORE},
     "cell.params must name the same arrays every time it is read; got ['a'], then ['b']"),
    (lambda n: {"a": _STORE} if n < 2 else (_STORE,),
     "cell.params must name the same arrays every time it is read; got ['a'], then "
     "(array([0., 0., 0., 0., 0., 0., 0., 0.]),)"),
    # interleaved views of one buffer: their bounds overlap, their elements do not
    (lambda n: {"a": _STORE[n % 2::2]},
     "cell.params['a'] must be a view into the cell's weights: two reads of cell.params gave "
     "arrays that share no memory"),
], ids=["empty", "list", "renamed", "then-a-tuple", "interleaved"])
def test_check_cell_refuses_params_that_are_not_the_same_arrays_each_time(params, message):
    with pytest.raises(TypeError, match="^" + re.escape(message)):
        check_cell(_Reads(params))


def test_the_smallest_cell_is_a_cell():
    cell = make("LSTMCell", D=1, H=1)
    assert check_cell(cell) is cell and Regressor(cell).W_y.shape == (1, 1)
