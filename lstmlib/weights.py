"""Weights that know when they were written to.

A cell keeps its weights in plain arrays and hands them out (`cell.W`, `cell.b`, `cell.params`)
as `Tracked` views: ordinary numpy arrays in every way a reader notices, except that every write
through them (item assignment, in-place operators, ufuncs with `out=`, `np.copyto`, `fill`, ...)
adds one to a version counter of the array they view. A `Trace` records the versions it was made
with, so `backward` can refuse a trace whose weights have changed since, and the fused forward
path can keep a prepared copy of the weights until they change. A cell also keeps a register of
the traces its `forward` made (weak references): `backward` takes only those very objects, never
a copy (copy.deepcopy, pickle) or an edited version (dataclasses.replace) of one.

Not seen as they happen: writes through a plain view made without lstmlib (`np.asarray(cell.W)`,
`cell.W.view(np.ndarray)`, `torch.from_numpy(cell.W)`, a buffer or ctypes pointer). The cell
compares its weights with a copy of them at every `forward`, `backward` and `step` and counts a
difference as a write (see `WeightOwner._sync`); `cell.weights_changed()` says so at once.
"""

import weakref

import numpy as np

from lstmlib.checks import NonFiniteError, as_float_input, first_non_finite, require_shape


class Version:
    """A counter shared by every view of one weight array."""

    __slots__ = ("n",)

    def __init__(self):
        self.n = 0

    def bump(self):
        self.n += 1


def _plain(x):
    """x without the Tracked wrapper: arrays become plain views, lists and tuples are unwrapped."""
    if isinstance(x, Tracked):
        return x.view(np.ndarray)
    if isinstance(x, list | tuple):
        return type(x)(_plain(v) for v in x)
    return x


def _counters(x):
    """The version counters of every Tracked array in x (an array, or a list or tuple of them)."""
    if isinstance(x, Tracked):
        return [x._version] if x._version is not None else []
    if isinstance(x, list | tuple):
        return [c for v in x for c in _counters(v)]
    return []


# numpy functions that write into their first argument
_WRITES_FIRST = {np.copyto, np.put, np.place, np.putmask, np.fill_diagonal, np.put_along_axis}


class Tracked(np.ndarray):
    """A view of a cell's weight array that counts writes into it (see the module's docstring).

    Everything computed from it (sums, products, copies, slices taken by fancy indexing) is a
    plain numpy array; views taken by slicing, `.T` or `.reshape` stay Tracked.
    """

    def __array_finalize__(self, obj):
        self._version = getattr(obj, "_version", None)

    def _bump(self):
        if self._version is not None:
            self._version.bump()

    # -- writes --
    def __setitem__(self, key, value):
        super().__setitem__(key, _plain(value))
        self._bump()

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        written = _counters(out) if out is not None else []
        if method == "at":  # np.add.at(a, idx, v) writes into a
            written += _counters(inputs[0])
        if out is not None:
            kwargs["out"] = _plain(out)
        result = getattr(ufunc, method)(*_plain(inputs), **kwargs)
        for counter in written:
            counter.bump()
        if out is not None:  # numpy hands back the arrays it wrote into: the caller's own
            return out[0] if len(out) == 1 else out
        return result

    def __array_function__(self, func, types, args, kwargs):
        written = _counters(kwargs.get("out"))
        if func in _WRITES_FIRST and args:
            written += _counters(args[0])
        result = func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})
        for counter in written:
            counter.bump()
        if kwargs.get("out") is not None:
            return kwargs["out"]
        return result

    def fill(self, value):
        self.view(np.ndarray).fill(value)
        self._bump()

    def put(self, *args, **kwargs):
        self.view(np.ndarray).put(*_plain(args), **kwargs)
        self._bump()

    def sort(self, *args, **kwargs):
        self.view(np.ndarray).sort(*args, **kwargs)
        self._bump()

    def partition(self, *args, **kwargs):
        self.view(np.ndarray).partition(*args, **kwargs)
        self._bump()

    def byteswap(self, inplace=False):
        out = self.view(np.ndarray).byteswap(inplace)
        if inplace:
            self._bump()
            return self
        return out

    def setfield(self, *args, **kwargs):
        self.view(np.ndarray).setfield(*args, **kwargs)
        self._bump()

    def resize(self, *args, **kwargs):
        raise ValueError("a cell's weights cannot be resized; make a new cell instead")

    # -- reads that make new arrays: plain ones, not tied to the cell --
    def __getitem__(self, key):
        out = super().__getitem__(key)
        if isinstance(out, Tracked) and not np.may_share_memory(out, self):
            return out.view(np.ndarray)  # fancy indexing made a copy
        return out

    def copy(self, order="C"):
        return self.view(np.ndarray).copy(order)

    def astype(self, *args, **kwargs):
        return self.view(np.ndarray).astype(*args, **kwargs)

    def flatten(self, order="C"):
        return self.view(np.ndarray).flatten(order)

    def dot(self, b, out=None):
        return np.dot(self, b, out=out)

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __reduce__(self):
        return self.view(np.ndarray).__reduce__()

    def __repr__(self):
        return repr(self.view(np.ndarray))


def tracked(arr, version):
    """A Tracked view of the plain array `arr`, counting writes on `version`."""
    view = arr.view(Tracked)
    view._version = version
    return view


def same_buffer(a, b):
    """True when a and b are the same array in memory (same start, shape and strides)."""
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.shape == b.shape and a.strides == b.strides)


def _equal(a, b, rows=64):
    """a == b everywhere (a NaN is never equal), compared a block of rows at a time so that no
    temporary as large as the weights is made."""
    a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    return all(np.array_equal(a[k:k + rows], b[k:k + rows]) for k in range(0, a.shape[0], rows))


def read_only_view(a):
    """`a` as a read-only view of a read-only owner. numpy lets anyone set WRITEABLE back to True
    on an array that owns its memory, but refuses it on a view whose owner is read-only: so a
    trace hands out views only. An array whose owner is still writable (someone else may write
    into it) or whose memory belongs to another object (a buffer) is copied first."""
    if type(a) is not np.ndarray:
        a = np.asarray(a)
    base = a.base
    if base is None:
        if a.flags.writeable:  # the caller's own array: the trace keeps a copy
            a = a.copy()
            a.flags.writeable = False
        return a.view()
    if type(base) is np.ndarray and base.base is None and not base.flags.writeable:
        if a.flags.writeable:
            a.flags.writeable = False
        return a
    a = a.copy()  # a view of a writable array, or of another object's memory
    a.flags.writeable = False
    return a.view()


def freeze_owners(*arrays):
    """Make the memory of each array (its owner, and the array) read-only: for arrays that a
    trace or a step is about to take as its own (see `read_only_view`)."""
    for a in arrays:
        if isinstance(a.base, np.ndarray):
            a.base.flags.writeable = False
        a.flags.writeable = False


class _Ticket:
    """Handed to the trace that `forward` is about to make: the trace's `__post_init__` claims it
    once, which enters that very object in the cell's register of its traces. A copy of a ticket
    (deepcopy, pickle) is void and says it is a copy (`copied`), and `dataclasses.replace` reuses
    one already claimed."""

    __slots__ = ("_made", "copied")

    def __init__(self, made=None, copied=False):
        self._made = made
        self.copied = copied

    def claim(self, trace):
        made, self._made = self._made, None
        if made is not None:
            made[id(trace)] = trace

    def __reduce__(self):
        return (_Ticket, (None, True))


def claim_ticket(trace):
    """Called by a trace as it is made: registers it with the cell whose forward made it."""
    source = trace.source
    if isinstance(source, tuple) and len(source) == 3 and isinstance(source[2], _Ticket):
        source[2].claim(trace)


class WeightOwner:
    """What LSTMCell and RNNCell share: their weights W and b, handed out as Tracked views, the
    versions of both, and the checks that a trace came from this cell and these weights."""

    def _init_weights(self, W, b):
        self._W, self._b = W, b                  # plain arrays, never reallocated
        self._W_version, self._b_version = Version(), Version()
        self._token = object()                   # who made a trace (deepcopy makes a new one)
        self._made = weakref.WeakValueDictionary()  # id -> every live trace forward() made
        self._checked = None                     # the versions last found finite
        self._seen = None                        # (versions, copy of W, copy of b) last seen
        self._sync()  # the first copy: a write through a plain view is noticed from now on

    def __getstate__(self):
        """A copy (deepcopy, pickle) of the cell starts with no traces: a copied trace is not a
        trace this object's forward() made, so its backward refuses it."""
        state = self.__dict__.copy()
        state.pop("_made", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._made = weakref.WeakValueDictionary()

    @property
    def W(self):
        return tracked(self._W, self._W_version)

    @W.setter
    def W(self, value):
        self._assign(self._W, self._W_version, value, "W")

    @property
    def b(self):
        return tracked(self._b, self._b_version)

    @b.setter
    def b(self, value):
        self._assign(self._b, self._b_version, value, "b")

    def _assign(self, dest, version, value, name):
        """`cell.W = value` copies value into the cell's own array (views taken before stay the
        cell's) after checking its shape and finiteness in the cell's dtype."""
        if isinstance(value, Tracked) and same_buffer(value, dest):
            return  # `cell.W -= g` has already written in place; Python then assigns it back
        value = as_float_input(value, f"{type(self).__name__}.{name}", self.dtype)
        require_shape(value, dest.shape, f"{type(self).__name__}.{name}")
        dest[...] = value
        version.bump()

    def weights_changed(self):
        """Tell the cell that its weights were written through a view it cannot see (one made
        with np.asarray, .view(np.ndarray) or torch.from_numpy): traces made before are refused
        and the prepared copy of the weights is rebuilt."""
        self._W_version.bump()
        self._b_version.bump()

    def _versions(self):
        return (self._W_version.n, self._b_version.n)

    def _sync(self):
        """Count as a new version any write the Tracked views could not see (np.copyto(dst=...),
        rng.shuffle, .flat, a view made by a numpy function, ...): the weights are compared with
        a copy taken when they were last seen, one read of W and b per forward and backward."""
        seen = getattr(self, "_seen", None)
        if seen is not None and seen[0] == self._versions():
            if not _equal(self._W, seen[1]):
                self._W_version.bump()
            if not _equal(self._b, seen[2]):
                self._b_version.bump()
            if seen[0] == self._versions():
                return
        self._seen = (self._versions(), np.array(self._W, copy=True), np.array(self._b, copy=True))

    def _finite_result(self, what, arrays):
        """Refuse a result that overflowed the cell's dtype (finite inputs, huge values)."""
        for name, arr in arrays:
            if not np.isfinite(arr).all():
                raise NonFiniteError(
                    f"{what}: {name} overflowed {self.dtype.name} (found {arr[first_non_finite(arr)]} "
                    f"at index {first_non_finite(arr)}); the inputs or weights are too large for "
                    f"this dtype")

    def _source(self):
        """What a trace records about the weights it was made with (after catching writes the
        views could not see), and the ticket that registers the trace (see `_Ticket`)."""
        self._sync()
        return (self._token, self._versions(), _Ticket(self._made))

    def _check_weights(self, *, sync=True):
        """Refuse NaN or infinite weights (once per change of the weights). First, unless the
        caller has just done it (`_source`), catch the writes the views could not see."""
        if sync:
            self._sync()
        versions = self._versions()
        if self._checked == versions:
            return
        for name, arr in (("W", self._W), ("b", self._b)):
            at = first_non_finite(arr)
            if at is not None:
                raise NonFiniteError(
                    f"{type(self).__name__}.{name} must be finite; found {arr[at]} at index {at}"
                    f"{self._where(name, at)}")
        self._checked = versions

    def _where(self, name, at):
        return ""

    def _check_source(self, trace):
        """Refuse a trace from another cell, a copy or an edited version of a trace (only the very
        object forward() returned, in this process, is taken), or a trace made before the weights
        last changed."""
        self._sync()
        source = trace.source
        ok = (isinstance(source, tuple) and len(source) == 3 and isinstance(source[1], tuple)
              and len(source[1]) == 2)
        if ok and source[0] is not self._token and getattr(source[2], "copied", False):
            raise ValueError(
                f"this trace is a copy (copy.deepcopy, pickle): what it records of the cell that "
                f"made it was copied with it, so it cannot be told from a trace made by another "
                f"cell's forward(). backward takes only the very trace this "
                f"{type(self).__name__}'s forward() returned; run forward() again")
        if not ok or source[0] is not self._token:
            raise ValueError(
                f"this trace was made by another cell's forward(); backward needs the trace of "
                f"this {type(self).__name__}'s own forward pass")
        if self._made.get(id(trace)) is not trace:
            raise ValueError(
                f"this trace was not made by this {type(self).__name__}'s forward(): it is a copy "
                f"(copy.deepcopy, pickle) or an edited version (dataclasses.replace) of one. "
                f"backward takes only the very trace forward() returned, whose arrays nobody "
                f"could change; run forward() again")
        W_then, b_then = source[1]
        changed = [f"{name} (version {then} at forward(), {now} now)"
                   for name, then, now in (("W", W_then, self._W_version.n),
                                           ("b", b_then, self._b_version.n)) if then != now]
        if changed:
            raise ValueError(
                f"the cell's weights changed after forward() made this trace: "
                f"{' and '.join(changed)}. backward would mix the weights of two passes; run "
                f"forward() again with the weights as they are now")
