"""The write-counting views of a cell's weights (lstmlib.weights.Tracked): every way of writing
into them counts, every way of reading them leaves the count alone and hands out plain arrays."""

import copy
import dataclasses
import pickle

import numpy as np
import pytest

from lstmlib import LSTMCell, RNNCell
from lstmlib.weights import Tracked, Version, freeze_owners, read_only_view, tracked


def counted():
    """A Tracked view of a fresh array and its counter."""
    v = Version()
    base = np.arange(12.0).reshape(3, 4)
    return base, tracked(base, v), v


WRITES = {
    "setitem": lambda w: w.__setitem__((0, 0), 99.0),
    "slice of a view": lambda w: w[1:].T.__setitem__((0, 0), 99.0),
    "in-place operator": lambda w: w.__iadd__(1.0),
    "ufunc out=": lambda w: np.add(w, 1.0, out=w),
    "ufunc out= tuple": lambda w: np.negative(w, out=(w,)),
    "ufunc.at": lambda w: np.add.at(w, (0, 1), 2.0),
    "copyto": lambda w: np.copyto(w, 0.0),
    "put (function)": lambda w: np.put(w, [0], [9.0]),
    "place": lambda w: np.place(w, w > 5, 0.0),
    "putmask": lambda w: np.putmask(w, w > 5, 0.0),
    "fill_diagonal": lambda w: np.fill_diagonal(w, 0.0),
    "clip out=": lambda w: np.clip(w, 0, 3, out=w),
    "fill": lambda w: w.fill(1.0),
    "put": lambda w: w.put([1], [7.0]),
    "sort": lambda w: w[::-1].sort(axis=0),
    "partition": lambda w: w.partition(1),
    "byteswap in place": lambda w: w.byteswap(True),
    "setfield": lambda w: w.setfield(3.0, np.float64),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=list(WRITES))
def test_every_write_counts_and_lands(write):
    base, w, v = counted()
    write(w)
    assert v.n == 1


@pytest.mark.parametrize("write", WRITES.values(), ids=list(WRITES))
def test_every_write_changes_the_base_array(write):
    base, w, _ = counted()
    base[...] = np.array([5.0, 3, 11, 0, 7, 1, 9, 2, 10, 4, 8, 6]).reshape(3, 4)  # unsorted
    before = base.copy()
    write(w)
    assert not np.array_equal(base, before)


READS = {
    "sum": lambda w: w.sum(),
    "mean": lambda w: np.mean(w),
    "matmul": lambda w: w @ np.ones(4),
    "dot method": lambda w: w.dot(np.ones(4)),
    "dot function": lambda w: np.dot(w, np.ones(4)),
    "transpose copy": lambda w: w.T.copy(),
    "copy": lambda w: w.copy(),
    "astype": lambda w: w.astype(np.float32),
    "flatten": lambda w: w.flatten(),
    "fancy index": lambda w: w[[0, 2]],
    "concatenate": lambda w: np.concatenate([w, w]),
    "copy.copy": lambda w: copy.copy(w),
    "copy.deepcopy": lambda w: copy.deepcopy(w),
    "pickle": lambda w: pickle.loads(pickle.dumps(w)),
    "byteswap copy": lambda w: w.byteswap(),
    "arithmetic": lambda w: w * 2 + 1,
}


@pytest.mark.parametrize("read", READS.values(), ids=list(READS))
def test_reads_do_not_count_and_give_plain_arrays(read):
    base, w, v = counted()
    out = read(w)
    assert v.n == 0
    assert type(out) is not Tracked
    if isinstance(out, np.ndarray):
        assert not np.shares_memory(out, base)
        out[...] = -1.0  # the caller's own array
        assert v.n == 0 and base[0, 1] == 1.0


def test_read_results_are_right():
    base, w, _ = counted()
    np.testing.assert_array_equal(w.dot(np.ones(4)), base @ np.ones(4))
    np.testing.assert_array_equal(w.flatten(), base.ravel())
    np.testing.assert_array_equal(w.flatten("F"), base.ravel("F"))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(w)), base)
    np.testing.assert_array_equal(w.byteswap(), base.byteswap())
    np.testing.assert_array_equal(w.astype(np.float32), base.astype(np.float32))
    out = np.empty(3)
    assert w.dot(np.ones(4), out=out) is out and np.array_equal(out, base @ np.ones(4))
    assert repr(w) == repr(base) and str(w) == str(base)


def test_byteswap_in_place_returns_the_view():
    _, w, _ = counted()
    assert w.byteswap(True) is w


def test_views_share_the_counter_and_copies_do_not():
    base, w, v = counted()
    view = w[1:, ::2]
    assert isinstance(view, Tracked) and view._version is v
    view[0, 0] = 1.0
    assert v.n == 1
    assert isinstance(w.T, Tracked) and isinstance(w.reshape(4, 3), Tracked)


def test_resize_is_refused():
    _, w, _ = counted()
    with pytest.raises(ValueError, match="^a cell's weights cannot be resized; make a new cell instead$"):
        w.resize((2, 6))


def test_a_view_without_a_counter_is_harmless():
    w = np.zeros(3).view(Tracked)
    w[0] = 1.0
    w.fill(2.0)
    assert (w == 2.0).all()


@pytest.mark.parametrize("make", [lambda: LSTMCell(2, 3), lambda: RNNCell(2, 3)], ids=["lstm", "rnn"])
def test_the_cells_count_writes_to_W_and_b_apart(make):
    cell = make()
    W, b = cell.W, cell.b
    assert W._version is cell._W_version and b._version is cell._b_version
    W[0, 0] = 1.0
    assert (cell._W_version.n, cell._b_version.n) == (1, 0)
    b[0] = 1.0
    assert (cell._W_version.n, cell._b_version.n) == (1, 1)
    cell.weights_changed()
    assert (cell._W_version.n, cell._b_version.n) == (2, 2)
    cell.W -= 0.0  # in place, then assigned back to itself: counted once, not copied again
    assert cell._W_version.n == 3
    cell.W = np.zeros(cell.W.shape)
    assert cell._W_version.n == 4 and not cell.W.any()


KWARG_WRITES = {
    "put mode=": lambda a: a.put([0, 20], [7.0, 8.0], mode="clip"),
    "sort positional": lambda a: a.sort(0),
    "sort axis=": lambda a: a.sort(axis=0),
    "partition axis=": lambda a: a.partition(1, axis=0),
    "setfield offset=": lambda a: a.setfield(3.0, np.float32, offset=4),
}


@pytest.mark.parametrize("write", KWARG_WRITES.values(), ids=list(KWARG_WRITES))
def test_writes_pass_every_argument_on(write):
    base, w, v = counted()
    base[...] = np.array([5.0, 3, 11, 0, 7, 1, 9, 2, 10, 4, 8, 6]).reshape(3, 4)
    plain = base.copy()
    write(w)
    write(plain)
    np.testing.assert_array_equal(base, plain)
    assert v.n == 1


def test_astype_passes_its_keywords_on():
    _, w, _ = counted()
    assert w.astype(np.float32, order="F").flags.f_contiguous


def test_a_ufunc_with_two_outputs_hands_both_back_and_counts_both():
    # np.modf writes the fractional and the integral parts into two arrays
    base, w, v = counted()
    other_v = Version()
    other = tracked(np.zeros((3, 4)), other_v)
    frac = np.zeros((3, 4))
    res = np.modf(w / 8.0, out=(frac, other))
    assert isinstance(res, tuple) and len(res) == 2
    assert res[0] is frac and res[1] is other
    np.testing.assert_array_equal(np.asarray(other), np.floor(base / 8.0))
    assert other_v.n == 1 and v.n == 0


def test_numpy_functions_on_a_view_without_a_counter_work():
    w = np.zeros(3).view(Tracked)
    np.copyto(w, 2.0)
    assert np.add(w, 1.0, out=w) is w
    np.testing.assert_array_equal(w, [3.0, 3.0, 3.0])


def test_a_numpy_function_with_out_hands_back_the_tracked_out():
    base, w, v = counted()
    res = np.clip(w, 0.0, 3.0, out=w)
    assert res is w and v.n == 1
    np.testing.assert_array_equal(base, np.clip(np.arange(12.0), 0, 3).reshape(3, 4))


def test_read_only_view_of_a_list_is_a_read_only_array():
    r = read_only_view([1.0, 2.0])
    assert type(r) is np.ndarray and not r.flags.writeable
    np.testing.assert_array_equal(r, [1.0, 2.0])


def test_read_only_view_copies_a_view_of_a_writable_owner():
    owner = np.arange(4.0)
    frozen = owner[1:]
    frozen.flags.writeable = False
    for a in (owner[1:], frozen):  # a writable view, and a read-only view of a writable owner
        r = read_only_view(a)
        assert not np.shares_memory(r, owner) and not r.flags.writeable
        np.testing.assert_array_equal(r, [1.0, 2.0, 3.0])
        with pytest.raises(ValueError):
            r.flags.writeable = True
        owner[1] = 9.0  # the owner's later writes do not reach it
        assert r[0] == 1.0
        owner[1] = 1.0


def test_read_only_view_keeps_a_view_of_a_read_only_owner_and_makes_it_read_only():
    owner = np.arange(4.0)
    a = owner[1:]
    owner.flags.writeable = False
    assert a.flags.writeable  # made before its owner was frozen
    r = read_only_view(a)
    assert r is a and not r.flags.writeable
    with pytest.raises(ValueError):
        r.flags.writeable = True


def test_read_only_view_copies_an_array_on_another_objects_memory():
    buf = bytearray(np.arange(3.0).tobytes())
    a = np.frombuffer(buf)
    a.flags.writeable = False
    r = read_only_view(a)
    assert not np.shares_memory(r, a) and not r.flags.writeable
    np.testing.assert_array_equal(r, [0.0, 1.0, 2.0])


def test_freeze_owners_makes_the_owner_read_only_too():
    owner = np.arange(4.0)
    a = owner[1:]
    freeze_owners(a)
    assert not a.flags.writeable and not owner.flags.writeable
    with pytest.raises(ValueError):
        a.flags.writeable = True


def test_step_refuses_a_nan_written_through_a_plain_view():
    cell = LSTMCell(2, 3)
    x = np.ones(2)
    cell.step(x)
    np.asarray(cell.W)[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"^LSTMCell\.W must be finite; found nan at index \(0, 0\)"):
        cell.step(x)


def _traced(cell_type=LSTMCell):
    cell = cell_type(2, 3)
    return cell, cell.forward(np.ones((2, 2))), np.ones((2, 3))


@pytest.mark.parametrize("source", [None, (object(), (0, 0)), (object(), (0, 0), None)],
                         ids=["none", "two items", "no ticket"])
def test_backward_refuses_a_trace_with_a_foreign_source(source):
    cell, trace, dh = _traced()
    other = dataclasses.replace(trace, source=source)
    with pytest.raises(ValueError, match="^this trace was made by another cell's forward\\(\\); "
                       "backward needs the trace of this LSTMCell's own forward pass$"):
        cell.backward(other, dh)


def test_backward_refuses_a_copied_trace_naming_the_cell():
    cell, trace, dh = _traced()
    with pytest.raises(ValueError, match="^this trace is a copy .* backward takes only the very "
                       "trace this LSTMCell's forward\\(\\) returned; run forward\\(\\) again$"):
        cell.backward(copy.deepcopy(trace), dh)


def test_backward_names_every_weight_that_changed():
    cell, trace, dh = _traced()
    W, b = cell._versions()
    cell.W[0, 0] = 1.0
    with pytest.raises(ValueError, match=f"^the cell's weights changed after forward\\(\\) made this "
                       f"trace: W \\(version {W} at forward\\(\\), {W + 1} now\\)\\. backward"):
        cell.backward(trace, dh)
    trace = cell.forward(np.ones((2, 2)))
    cell.weights_changed()
    with pytest.raises(ValueError, match=f"trace: W \\(version {W + 1} at forward\\(\\), {W + 2} now\\) "
                       f"and b \\(version {b} at forward\\(\\), {b + 1} now\\)\\. backward"):
        cell.backward(trace, dh)
