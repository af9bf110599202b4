"""Value and Array (and RawValue / RawArray) in named shared memory
(``mp_array_*``), with multiprocessing.sharedctypes' behaviour:

- ``RawValue`` / ``RawArray`` (and ``Value`` / ``Array`` with
  ``lock=False``) return plain ctypes objects -- ``RawArray('i', 10)`` is
  a ``c_int_Array_10`` -- whose memory is the named segment's data (a
  subclass of the ctypes type, named like it, that pickles by name);
- ``Value`` / ``Array`` with ``lock=True`` or ``None`` return a
  synchronized wrapper whose lock is a robust recursive lock beside the
  data (Python's default is an RLock too); with ``lock=<an object with
  acquire>`` (an mpipc Lock or RLock, to cross processes) the wrapper uses
  that lock: ``get_lock()`` returns it, and pickling carries it;
- the type is one of Python's typecodes ``c u b B h H i I l L q Q f d`` or
  any ctypes type: ``c_bool``, a ``Structure``, an array type, ... The
  numeric typecodes (and ``c``) are stored as such, so that other
  languages see typed elements; every other type is stored as a byte
  segment of ``sizeof(type) * n`` bytes (typecode ``B``; ``c_wchar``: ``I``)
  viewed through the ctypes type (docs/TYPES.md).

Element access of a synchronized wrapper takes the lock, so ``v.value =
x`` and ``a[i]`` are each atomic; ``v.value += 1`` is not (as in Python):
hold ``get_lock()`` around it, or use ``incr`` (one locked add; numeric
typecodes with the built-in lock). ``get_obj()`` gives the raw ctypes
object (zero-copy, unsynchronised: hold the lock).

The fast path (issue #17), for the numeric typecodes with the built-in
lock: ``with a.get_lock(): a[0] += 1`` costs two foreign calls -- the
lock's try-acquire and its release, both made without releasing the GIL
-- and two reads/writes of the mapped data through a memoryview. An
element is read or written in place only when this thread holds the lock
through this very object (or the array has no lock); otherwise it goes
through the library, which takes the lock around the access. Who holds
the lock is the lock's own business (``mp_array_lock_held_by_me`` answers
it); asking on every access would cost a foreign call, so each object keeps
a hint instead (see _ArrayLock): "this thread took the lock through me and
has not released it since". The hint may say no when the answer is yes
(then the access takes the library's path, which is always right), never
the reverse.
"""

import ctypes
import os
import threading
import weakref

from . import _bindings as B
from ._common import SLICE_MS, Named, cname, gen_name, open_flags, threading_timeout_ms
from ._errors import NotOwner, error, owner_died
from ._ffi import gil, lib, raw

__all__ = ["Value", "Array", "RawValue", "RawArray", "copy", "synchronized"]

# multiprocessing.sharedctypes' table: the ctypes type of each typecode.
typecode_to_type = {
    "c": ctypes.c_char, "u": ctypes.c_wchar, "b": ctypes.c_byte, "B": ctypes.c_ubyte, "h": ctypes.c_short,
    "H": ctypes.c_ushort, "i": ctypes.c_int, "I": ctypes.c_uint, "l": ctypes.c_long, "L": ctypes.c_ulong,
    "q": ctypes.c_longlong, "Q": ctypes.c_ulonglong, "f": ctypes.c_float, "d": ctypes.c_double,
}

CTYPES = {
    "c": ctypes.c_ubyte, "b": ctypes.c_byte, "B": ctypes.c_ubyte, "h": ctypes.c_short, "H": ctypes.c_ushort,
    "i": ctypes.c_int, "I": ctypes.c_uint, "l": ctypes.c_long, "L": ctypes.c_ulong, "q": ctypes.c_longlong,
    "Q": ctypes.c_ulonglong, "f": ctypes.c_float, "d": ctypes.c_double,
}
_FROM_CTYPE = {
    ctypes.c_char: "c", ctypes.c_byte: "b", ctypes.c_ubyte: "B", ctypes.c_short: "h", ctypes.c_ushort: "H",
    ctypes.c_int: "i", ctypes.c_uint: "I", ctypes.c_long: "l", ctypes.c_ulong: "L", ctypes.c_longlong: "q",
    ctypes.c_ulonglong: "Q", ctypes.c_float: "f", ctypes.c_double: "d",
}
_OWNER_DEAD = B.MP_E_OWNER_DEAD
_INVAL = B.MP_E_INVAL
_TIMEOUT = B.MP_E_TIMEOUT
_INT64_MAX = (1 << 63) - 1

# The lock's two hot calls, made without releasing the GIL (_ffi.gil):
# a try-acquire (timeout 0) and a release never wait. Arguments are ready
# ctypes objects (no argtypes conversion). A wait for a busy lock goes
# through _lock_wait, which releases the GIL.
_trylock = gil.mp_array_lock
_unlock = gil.mp_array_unlock
_lock_wait = raw.mp_array_lock
_NO_WAIT = ctypes.c_int64(0)
_SLICE = ctypes.c_int64(SLICE_MS)


class _MpArray(ctypes.Structure):
    """The opaque ``mp_array`` (never dereferenced here)."""


# The handle argument of the hot calls is a pointer to _MpArray rather than
# a c_void_p: ctypes passes a pointer object's address as is, while for a
# c_void_p (a "simple" type) it first looks its format code up in a table,
# on every call (~20 ns of the ~130 ns a call costs).
_HandleArg = ctypes.POINTER(_MpArray)


# ctypes types whose values cannot mean anything in another process
# (pointers, Python objects): refused, where multiprocessing would share
# the meaningless bits.
_POINTER_CODES = ("z", "Z", "P", "O")
_CDATA = (ctypes._SimpleCData, ctypes.Structure, ctypes.Union, ctypes.Array)


def _resolve(t):
    """(ctypes type, native typecode or None) of a typecode or ctypes type.
    A native typecode is stored as such (other languages see typed
    elements); None: stored as bytes, viewed through the ctypes type.
    TypeError where multiprocessing raises it (an unknown typecode, a
    non-ctypes type)."""
    if isinstance(t, str):
        ct = typecode_to_type.get(t)
        if ct is None:
            raise TypeError("unknown typecode %r (Python's typecodes are %s), and not a ctypes type"
                            % (t, " ".join(typecode_to_type)))
        return ct, (t if t in CTYPES else None)
    if isinstance(t, type) and issubclass(t, _CDATA):
        if issubclass(t, ctypes._SimpleCData) and t._type_ in _POINTER_CODES:
            raise TypeError("%s cannot be shared: a pointer or object means nothing in another process"
                            % t.__name__)
        return t, _FROM_CTYPE.get(t)
    if isinstance(t, type) and issubclass(t, ctypes._Pointer):
        raise TypeError("%s cannot be shared: a pointer means nothing in another process" % t.__name__)
    raise TypeError("%r is neither a typecode nor a ctypes type" % (t,))


def _open_array(tc, length, lock, name, create):
    """mp_array_open: (handle, name, generated, created). With create None
    (create or attach) it tries to create first, to know which happened
    (initial values apply only when this call created the segment)."""
    generated = name is None
    if generated:
        name = gen_name("a")
        create = True
    flags = 0 if lock else B.MP_ARRAY_NO_LOCK
    out = ctypes.c_void_p()
    if create is None:
        rc = lib.mp_array_open(cname(name), tc.encode(), length, flags | B.MP_OPEN_CREATE_ONLY, ctypes.byref(out))
        created = rc == 0
        if rc == B.MP_E_EXISTS:
            rc = lib.mp_array_open(cname(name), tc.encode(), length, flags, ctypes.byref(out))
    else:
        rc = lib.mp_array_open(cname(name), tc.encode(), length, flags | open_flags(create), ctypes.byref(out))
        created = rc == 0 and create is True
    if rc:
        raise error(rc)
    return out.value, name, generated, created


# --------------------------------------------------------------------------
# The in-place hint: which thread took an array's lock through which object.
#
# Each thread has a token: an object of its own, kept in a threading.local.
# Unlike threading.get_ident(), a token is never reused: a thread that
# exits holding a lock leaves its token in the arrays' hints, and a new
# thread (which may get the same ident) gets a new token. A forked child
# gets a new token too (its only thread is not the parent's thread, and
# does not hold what the parent held), so every hint inherited from the
# parent reads "someone else".

_tls = threading.local()


def _new_token():
    """The calling thread's token, made on its first use."""
    token = _tls.token = object()
    return token


def _renew_token_after_fork():
    _tls.token = object()


os.register_at_fork(after_in_child=_renew_token_after_fork)

# Every live array with a lock in this process, for _forget_owner.
_arrays = weakref.WeakSet()


def _forget_owner(token):
    """A thread released, through one object, a lock level it took through
    another (two Array objects of one array in this process): every hint
    that says this thread holds a lock may now be wrong, so drop them all.
    Their arrays take the library's path (always right) until this thread
    acquires through them again. Rare: one object per array and process
    is the normal case."""
    for arr in list(_arrays):
        if arr._owner is token:
            arr._owner = None


# The hint of an array without a lock: never any thread's token,
# and tested first, so that every access of such an array is in place.
_NO_LOCK = object()


class _ArrayLock:
    """The lock beside an array's data (recursive, robust): what
    ``get_lock()`` returns.

    The C lock is the truth: every acquire and release calls it, and it
    alone knows who holds it and how deep (``mp_array_lock_held_by_me``,
    ``mp_array_lock_depth``). The array keeps only a hint for its element
    accessors' in-place path (``_owner``: the token of the thread that last
    took the lock through this object, None after any release): not a
    count, so once a nested level is released the outer level's accesses
    take the library's path, which locks again, recursively, and is right.
    The hint may say "not held" when the thread does hold the lock, never
    the reverse: it is set right after the C lock was taken, and dropped
    when the lock is released through here or (by _forget_owner) through
    anything else. Every decision with a visible outcome (an error, a
    wait) is the library's.

    Under contention (two processes taking turns, the common case of a
    shared counter) nearly every acquire finds the lock busy and waits, and
    the waiter's path from taking the lock to releasing it is what bounds
    the throughput of all of them: so that path is kept as short as the
    uncontended one (the wait returns straight into the same bookkeeping),
    and the bookkeeping after a release happens after the C call."""

    def __init__(self, arr, handle):
        self._arr = arr
        # The handle as a ready ctypes argument (see _HandleArg); None once
        # the array is closed, which the library answers with MP_E_NULL
        # (then _failed raises the closed array's ValueError).
        self._hc = ctypes.cast(handle, _HandleArg)

    def _failed(self, rc):
        self._arr._ptr()  # ValueError if the array is closed
        raise error(rc, {B.MP_E_PERM: NotOwner})

    def _acquire(self, rc, ms, token):
        """The rest of an acquire whose try-acquire returned `rc` (not 0):
        waits (releasing the GIL) up to `ms` (-1: forever) while it is
        busy, then sets the hint."""
        if rc == _TIMEOUT and ms != 0:
            hc = self._hc
            if ms < 0:
                # The common wait, written for speed: the slices' loop
                # without arithmetic, with a ready argument.
                rc = _lock_wait(hc, _SLICE)
                while rc == _TIMEOUT:
                    rc = _lock_wait(hc, _SLICE)
            else:
                left = ms
                while True:
                    step = SLICE_MS if left > SLICE_MS else left
                    rc = _lock_wait(hc, ctypes.c_int64(step))
                    if rc != _TIMEOUT or left == step:
                        break
                    left -= step
        if rc:
            if rc == _TIMEOUT:
                return False
            if rc != _OWNER_DEAD:
                self._failed(rc)
        arr = self._arr
        arr._owner = token
        if rc:
            # stacklevel 4: the warning names the caller of acquire/__enter__.
            owner_died(arr, "array lock", stacklevel=4)
        else:
            arr.owner_died = False
        return True

    def acquire(self, block=True, timeout=None):
        ms = threading_timeout_ms(block, -1 if timeout is None else timeout) if block else 0
        try:
            token = _tls.token
        except AttributeError:
            token = _new_token()
        rc = _trylock(self._hc, _NO_WAIT)
        if rc:
            return self._acquire(rc, ms, token)
        arr = self._arr
        arr._owner = token
        arr.owner_died = False
        return True

    def release(self):
        rc = _unlock(self._hc)
        if rc:
            self._failed(rc)
        try:
            token = _tls.token
        except AttributeError:
            token = _new_token()
        arr = self._arr
        if arr._owner is token:
            arr._owner = None
        else:
            _forget_owner(token)

    # The two methods of ``with a.get_lock():``, written out (no call to
    # acquire/release) because they are the hot path.

    def __enter__(self):
        try:
            token = _tls.token
        except AttributeError:
            token = _new_token()
        rc = _trylock(self._hc, _NO_WAIT)
        if rc:
            return self._acquire(rc, -1, token)
        arr = self._arr
        arr._owner = token
        arr.owner_died = False
        return True

    def __exit__(self, exc_type, exc, tb):
        rc = _unlock(self._hc)
        if rc:
            self._failed(rc)
        try:
            token = _tls.token
        except AttributeError:
            token = _new_token()
        arr = self._arr
        if arr._owner is token:
            arr._owner = None
        else:
            _forget_owner(token)


class _Shared(Named):
    _close_fn = lib.mp_array_close
    _unlink_fn = lib.mp_array_unlink

    def _open(self, tc, length, lock, name, create, unlink_on_close):
        """Opens the segment of native typecode `tc`; returns whether this
        call created it."""
        h, name, generated, created = _open_array(tc, length, lock, name, create)
        out = ctypes.c_void_p(h)
        self._adopt(out.value, name, generated if unlink_on_close is None else unlink_on_close)
        self._typecode = lib.mp_array_typecode(out.value).decode()
        self._len = lib.mp_array_len(out.value)
        self._float = self._typecode in "fd"
        self._lock = _ArrayLock(self, out.value) if lock else None
        self.owner_died = False
        # The in-place hint (see _ArrayLock): a thread's token, None, or
        # _NO_LOCK for an array without a lock.
        self._owner = None if lock else _NO_LOCK
        if lock:
            _arrays.add(self)
        # The data, mapped, as a memoryview of the typecode's native format
        # (the array's layout: native sizes, 64-byte aligned): element
        # access uses it in place when the array has no lock or this thread
        # holds it through this object. None for 'c' (whose elements are
        # 1-byte bytes or ints, which the library's path converts). Valid
        # while this object lives (the mapping goes with the C handle, at
        # garbage collection); released by close(), so that a closed
        # array's fast path fails (ValueError) into the checked path, which
        # says closed.
        self._view = None
        if self._typecode != "c" and self._len:
            data = (CTYPES[self._typecode] * self._len).from_address(lib.mp_array_ptr(out.value))
            self._view = memoryview(data).cast("B").cast(self._typecode)
        # The element type written in place; others (bool, an int into a
        # float array, ...) go through the library, which converts them.
        self._vtype = float if self._float else int
        return created or generated

    def close(self):
        """Ends this object's use in this process (idempotent); see
        ``Named.close``."""
        super().close()
        if getattr(self, "_view", None) is not None:
            self._view.release()
        if getattr(self, "_lock", None) is not None:
            self._lock._hc = None

    @property
    def typecode(self):
        return self._typecode

    def get_lock(self):
        """The lock beside the data (AttributeError for lock=False, whose
        Python counterparts have no get_lock)."""
        if self._lock is None:
            raise AttributeError("created with lock=False: no lock")
        return self._lock

    def acquire(self, *a, **k):
        return self.get_lock().acquire(*a, **k)

    def release(self):
        return self.get_lock().release()

    def __enter__(self):
        return self.get_lock().__enter__()

    def __exit__(self, *exc):
        return self.get_lock().__exit__(*exc)

    def get_obj(self):
        """The raw ctypes object over the shared data, as multiprocessing's
        ``get_obj()`` (a ``c_int`` for a Value, a ``c_int_Array_n`` for an
        Array; zero-copy, unsynchronised: hold the lock). It keeps the
        mapping alive."""
        h = self._ptr()
        ct = typecode_to_type[self._typecode]
        t = ct if isinstance(self, Synchronized) else ct * self._len
        obj = t.from_address(lib.mp_array_ptr(h))
        obj.__dict__["_mpipc_segment"] = self
        return obj

    def _get(self, i):
        h = self._ptr()
        if self._float:
            out = ctypes.c_double()
            fn = lib.mp_array_get_f64
        else:
            out = ctypes.c_int64()
            fn = lib.mp_array_get_i64
        rc = fn(h, i, ctypes.byref(out))
        if rc == _OWNER_DEAD:
            owner_died(self, "array lock")
            rc = fn(h, i, ctypes.byref(out))
        if rc == _INVAL and not self._float:
            out = ctypes.c_uint64()
            rc = lib.mp_array_get_u64(h, i, ctypes.byref(out))
        if rc:
            raise error(rc)
        v = out.value
        if self._typecode == "c":
            return bytes((v,))
        return v

    def _set(self, i, v):
        h = self._ptr()
        if self._typecode == "c" and isinstance(v, (bytes, bytearray)):
            if len(v) != 1:
                raise TypeError("one character bytes, bytearray or integer expected")
            v = v[0]
        if self._float:
            if not isinstance(v, (int, float)) or isinstance(v, bool) and False:
                raise TypeError("must be real number, not %s" % type(v).__name__)
            rc = lib.mp_array_set_f64(h, i, float(v))
        else:
            if isinstance(v, float):
                raise TypeError("'float' object cannot be interpreted as an integer")
            v = int(v)
            if v > _INT64_MAX:
                rc = lib.mp_array_set_u64(h, i, v) if v < (1 << 64) else _INVAL
                if rc == _INVAL and v >= (1 << 64):
                    raise OverflowError("int too large to convert")
            elif v < -(1 << 63):
                raise OverflowError("int too large to convert")
            else:
                rc = lib.mp_array_set_i64(h, i, v)
        if rc == _OWNER_DEAD:
            owner_died(self, "array lock")
            return
        if rc:
            if rc == _INVAL:
                raise OverflowError(error(rc).args[0])
            raise error(rc)

    def _incr(self, i, delta):
        out = ctypes.c_int64()
        rc = lib.mp_array_incr(self._ptr(), i, int(delta), ctypes.byref(out))
        if rc == _OWNER_DEAD:
            owner_died(self, "array lock")
            return self._get(i)
        if rc:
            if rc == _INVAL:
                raise OverflowError(error(rc).args[0])
            raise error(rc)
        return out.value


class Synchronized(_Shared):
    """What ``Value(typecode)`` returns for a numeric typecode (or ``c``)
    with the built-in lock: multiprocessing's ``Synchronized``, named.
    `value` is written when this call creates the object (not when it
    attaches to an existing name)."""

    _kind = "Value"

    def __init__(self, tc, *args, name=None, create=None, unlink_on_close=None):
        init = args[0] if args else None
        created = self._open(tc, 1, True, name, create, unlink_on_close)
        if init is not None and created:
            self._set(0, init)

    @classmethod
    def _attach(cls, name, typecode, lock):
        obj = cls.__new__(cls)
        obj._open(typecode, 0, lock, name, False, False)
        return obj

    def __reduce__(self):
        return (type(self)._attach, (self.name, self._typecode, self._lock is not None))

    # The fast path of Array's accessors (see Array.__getitem__).

    @property
    def value(self):
        owner = self._owner
        try:
            if owner is _NO_LOCK or owner is _tls.token:
                return self._view[0]
        except (AttributeError, IndexError, ValueError, TypeError):
            pass
        return self._get(0)

    @value.setter
    def value(self, v):
        if type(v) is self._vtype:
            owner = self._owner
            try:
                if owner is _NO_LOCK or owner is _tls.token:
                    self._view[0] = v
                    return
            except (AttributeError, IndexError, ValueError, TypeError):
                pass
        self._set(0, v)

    def incr(self, delta=1):
        """Atomically adds `delta` (an integer Value) and returns the new value."""
        return self._incr(0, delta)

    def __repr__(self):
        return "<mpipc.Value(%r, %r) name=%r>" % (self._typecode, self.value if not self._closed else "?", self.name)


class SynchronizedArray(_Shared):
    """What ``Array(typecode, ...)`` returns for a numeric typecode (or
    ``c``, with ``value`` and ``raw`` as multiprocessing's
    ``SynchronizedString``) with the built-in lock: multiprocessing's
    ``SynchronizedArray``, named. A sequence initializer is written when
    this call creates the array."""

    _kind = "Array"

    def __init__(self, tc, size_or_initializer, *, name=None, create=None, unlink_on_close=None):
        if isinstance(size_or_initializer, int):
            n, init = size_or_initializer, None
        else:
            init = list(size_or_initializer)
            n = len(init)
        created = self._open(tc, n, True, name, create, unlink_on_close)
        if init is not None and created and n:
            self[0:n] = init

    @classmethod
    def _attach(cls, name, typecode, lock):
        obj = cls.__new__(cls)
        obj._open(typecode, 0, lock, name, False, False)
        return obj

    def __reduce__(self):
        return (type(self)._attach, (self.name, self._typecode, self._lock is not None))

    def __len__(self):
        return self._len

    def _index(self, i):
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError("invalid index")
        return i

    # The element accessors' fast path: an int index (and, to write, a value
    # of the array's Python type), and this thread holds the lock through
    # this object (the hint is this thread's token) or there is no lock:
    # the mapped data in place, through the memoryview. Everything else --
    # and anything the memoryview refuses: an index out of range
    # (IndexError), a value out of the typecode's range (ValueError), a
    # released view of a closed array (ValueError), no view (TypeError:
    # typecode 'c', or no elements), a thread without a token yet
    # (AttributeError: it holds nothing) -- takes the checked path, which
    # raises what Python's Array raises or locks around the access.

    def __getitem__(self, i):
        if type(i) is int:
            owner = self._owner
            try:
                if owner is _NO_LOCK or owner is _tls.token:
                    return self._view[i]
            except (AttributeError, IndexError, ValueError, TypeError):
                pass
        return self._getitem(i)

    def _getitem(self, i):
        """__getitem__'s checked path."""
        if isinstance(i, slice):
            start, stop, step = i.indices(self._len)
            if step != 1:
                return self[start:stop][::1][::step] if False else [self._get(j) for j in range(start, stop, step)]
            vals = self._read(start, max(0, stop - start))
            return bytes(vals) if self._typecode == "c" else vals
        return self._get(self._index(i))

    def _read(self, start, count):
        t = CTYPES[self._typecode] * count
        out = t()
        if count:
            rc = lib.mp_array_read(self._ptr(), start, out, count)
            if rc == _OWNER_DEAD:
                owner_died(self, "array lock")
                rc = lib.mp_array_read(self._ptr(), start, out, count)
            if rc:
                raise error(rc)
        return list(out)

    def __setitem__(self, i, v):
        if type(i) is int and type(v) is self._vtype:
            owner = self._owner
            try:
                if owner is _NO_LOCK or owner is _tls.token:
                    self._view[i] = v
                    return
            except (AttributeError, IndexError, ValueError, TypeError):
                pass
        self._setitem(i, v)

    def _setitem(self, i, v):
        """__setitem__'s checked path."""
        if isinstance(i, slice):
            start, stop, step = i.indices(self._len)
            vals = list(v)
            idx = range(start, stop, step)
            if len(vals) != len(idx):
                raise ValueError("Can only assign sequence of same size")
            if step != 1:
                for j, x in zip(idx, vals):
                    self._set(j, x)
                return
            if not vals:
                return
            if self._float:
                for x in vals:
                    if not isinstance(x, (int, float)):
                        raise TypeError("must be real number, not %s" % type(x).__name__)
            else:
                for x in vals:
                    if isinstance(x, float):
                        raise TypeError("'float' object cannot be interpreted as an integer")
            try:
                data = (CTYPES[self._typecode] * len(vals))(*vals)
            except TypeError:
                raise TypeError("wrong element type for typecode %r" % self._typecode) from None
            if not self._float:  # ctypes truncates silently; Python's Array raises on overflow
                if list(data) != [int(x) for x in vals]:
                    raise OverflowError("value out of range for typecode %r" % self._typecode)
            rc = lib.mp_array_write(self._ptr(), start, data, len(vals))
            if rc == _OWNER_DEAD:
                owner_died(self, "array lock")
                return
            if rc:
                raise error(rc)
            return
        self._set(self._index(i), v)

    def __iter__(self):
        return iter(self[:])

    def incr(self, index, delta=1):
        """Atomically adds `delta` to integer element `index`; returns the new value."""
        return self._incr(self._index(index), delta)

    def tolist(self):
        return self[:]

    @property
    def value(self):
        """For typecode 'c': the bytes up to the first NUL (as c_char arrays)."""
        if self._typecode != "c":
            raise AttributeError("value: typecode 'c' arrays only")
        return self[:].split(b"\0", 1)[0]

    @value.setter
    def value(self, v):
        if self._typecode != "c":
            raise AttributeError("value: typecode 'c' arrays only")
        v = bytes(v)
        if len(v) > self._len:
            raise ValueError("byte string too long")
        self[0:len(v) + (1 if len(v) < self._len else 0)] = list(v) + ([0] if len(v) < self._len else [])

    @property
    def raw(self):
        if self._typecode != "c":
            raise AttributeError("raw: typecode 'c' arrays only")
        return self[:]

    def __repr__(self):
        return "<mpipc.Array(%r, %d) name=%r>" % (self._typecode, self._len, self.name)


# --------------------------------------------------------------------------
# Raw objects: plain ctypes objects over a named segment.


class _Segment(Named):
    """The named segment under a raw ctypes object (kept in the object's
    ``__dict__`` as ``_mpipc_segment``, which keeps the mapping alive as
    long as the object or anything viewing its memory lives), and its lock
    when it has one (a synchronized wrapper's built-in lock)."""

    _kind = "RawArray"
    _close_fn = lib.mp_array_close
    _unlink_fn = lib.mp_array_unlink

    def __init__(self, tc, length, lock, name, create, unlink_on_close):
        h, name, generated, created = _open_array(tc, length, lock, name, create)
        self._adopt(h, name, generated if unlink_on_close is None else unlink_on_close)
        self.created = created or generated
        self.typecode = lib.mp_array_typecode(h).decode()
        self.length = lib.mp_array_len(h)
        self.address = lib.mp_array_ptr(h)
        # What _ArrayLock records (see _Shared): this object has no fast
        # path of its own, the hint is only kept consistent.
        self.owner_died = False
        self._owner = None
        self._lock = None
        if lock:
            self._lock = _ArrayLock(self, h)
            _arrays.add(self)


def _segment_of(ctype, native, count):
    """(typecode, length) of the segment that stores `count` values of
    `ctype` (count None: one value)."""
    n = 1 if count is None else count
    if native:
        return native, n
    if ctype is ctypes.c_wchar and ctypes.sizeof(ctype) == 4:
        return "I", n  # code points: other languages see u32 elements
    return "B", ctypes.sizeof(ctype) * n


def _type_spec(t):
    """A picklable description of ctypes type `t` (array types are made on
    the fly by ``T * n`` and cannot be pickled by reference)."""
    if isinstance(t, type) and issubclass(t, ctypes.Array):
        return ("array", _type_spec(t._type_), t._length_)
    return t


def _from_spec(spec):
    if isinstance(spec, tuple):
        return _from_spec(spec[1]) * spec[2]
    return spec


def _seg(obj):
    """The _Segment of an mpipc raw object (TypeError otherwise)."""
    try:
        return obj.__dict__["_mpipc_segment"]
    except (AttributeError, KeyError):
        raise TypeError("%r is not an mpipc shared ctypes object" % (obj,)) from None


def _raw_reduce(self):
    seg = _seg(self)
    base = type(self).__mro__[1]
    if issubclass(base, ctypes.Array):
        spec, count = _type_spec(base._type_), base._length_
    else:
        spec, count = _type_spec(base), None
    return (_rebuild_raw, (seg.name, spec, count, seg._lock is not None))


def _raw_simple_repr(self):
    return "%s(%r)" % (type(self).__name__, self.value)


def _raw_close(self):
    """Ends this process's use of the name: unlinks it if this process
    created it with a generated name (or ``unlink_on_close``). The data
    stay readable through this object (plain ctypes memory, kept mapped
    while the object lives)."""
    _seg(self).close()


def _raw_unlink(self):
    """Removes the name (see ``Named.unlink``)."""
    _seg(self).unlink()


# What a raw object adds to its ctypes type, each only where the type
# does not already define the name (a Structure field called `name` stays
# the field).
_RAW_API = {
    "name": property(lambda self: _seg(self).name, doc="The segment's name (how other processes open it)."),
    "close": _raw_close,
    "unlink": _raw_unlink,
}
_shared_types = {}


def _shared_type(base):
    """The subclass of ctypes type `base` that raw objects are instances
    of: named like `base` (``c_int_Array_10``), pickling by name."""
    t = _shared_types.get(base)
    if t is None:
        d = {"__module__": __name__, "__reduce__": _raw_reduce}
        if issubclass(base, ctypes._SimpleCData):
            d["__repr__"] = _raw_simple_repr  # c_int(5), not <c_int object at ...>
        for k, v in _RAW_API.items():
            if not hasattr(base, k):
                d[k] = v
        t = _shared_types[base] = type(base.__name__, (base,), d)
    return t


def _make_raw(ctype, native, count, lock, name, create, unlink_on_close):
    """A raw object: `count` values of `ctype` (None: one; 0 when
    attaching: as many as the segment holds)."""
    tc, n = _segment_of(ctype, native, count)
    if count == 0 and name is not None and create is False:
        n = 0  # attach to any length
    seg = _Segment(tc, n, lock, name, create, unlink_on_close)
    if count is not None and n == 0:
        size = ctypes.sizeof(ctype) if not native else 1
        per = 1 if (native or tc == "I") else size
        count, rest = divmod(seg.length, per)
        if rest:
            raise TypeError("array %r holds %d bytes, not a whole number of %s" % (seg.name, seg.length,
                                                                                 ctype.__name__))
    base = ctype if count is None else ctype * count
    obj = _shared_type(base).from_address(seg.address)
    # Straight into the instance dict: a Structure's field descriptors
    # must not see it.
    obj.__dict__["_mpipc_segment"] = seg
    return obj, seg


def _rebuild_raw(name, spec, count, lock):
    ctype = _from_spec(spec)
    obj, _ = _make_raw(ctype, _FROM_CTYPE.get(ctype), 0 if count is not None else None, lock, name, False, False)
    if count is not None and len(obj) != count:
        raise ValueError("array %r has %d elements, not %d" % (name, len(obj), count))
    return obj


def _raw_value(typecode_or_type, args, lock, name, create, unlink_on_close):
    ctype, native = _resolve(typecode_or_type)
    obj, seg = _make_raw(ctype, native, None, lock, name, create, unlink_on_close)
    if seg.created and args:
        obj.__init__(*args)  # as multiprocessing: the ctype's own constructor
    return obj


def _raw_array(typecode_or_type, size_or_initializer, lock, name, create, unlink_on_close):
    ctype, native = _resolve(typecode_or_type)
    if isinstance(size_or_initializer, int):
        obj, seg = _make_raw(ctype, native, size_or_initializer, lock, name, create, unlink_on_close)
    else:
        init = list(size_or_initializer)
        obj, seg = _make_raw(ctype, native, len(init), lock, name, create, unlink_on_close)
        if seg.created:
            obj.__init__(*init)
    return obj


def RawValue(typecode_or_type, *args, name=None, create=None, unlink_on_close=None):
    """``multiprocessing.RawValue``: a ctypes object (``c_int``, a
    Structure, ...) in named shared memory, initialised with `args` when
    this call creates it. Plain ctypes access (no lock). Crosses to a
    forked child as it is and to a spawned one by name (``obj.name``)."""
    return _raw_value(typecode_or_type, args, False, name, create, unlink_on_close)


def RawArray(typecode_or_type, size_or_initializer, *, name=None, create=None, unlink_on_close=None):
    """``multiprocessing.RawArray``: a ctypes array (``RawArray('i', 10)``
    is a ``c_int_Array_10``) in named shared memory, zeroed or initialised
    from a sequence when this call creates it. `size_or_initializer` 0
    with a name and ``create=False`` attaches to any length."""
    return _raw_array(typecode_or_type, size_or_initializer, False, name, create, unlink_on_close)


# --------------------------------------------------------------------------
# Synchronized wrappers for what the fast classes do not cover: an
# external lock, or a type stored as bytes (c_bool, c_wchar, Structure,
# ...). As multiprocessing's: every access takes the lock.


class SynchronizedBase:
    """multiprocessing's SynchronizedBase over an mpipc raw object."""

    def __init__(self, obj, lock):
        self._obj = obj
        self._lock = lock
        self.acquire = lock.acquire
        self.release = lock.release

    def __enter__(self):
        return self._lock.__enter__()

    def __exit__(self, *args):
        return self._lock.__exit__(*args)

    def __reduce__(self):
        seg = _seg(self._obj)
        # The built-in lock travels with the segment (True), any other lock
        # as itself (an mpipc Lock pickles by name).
        return (_rebuild_synchronized, (self._obj, True if self._lock is seg._lock else self._lock))

    def get_obj(self):
        return self._obj

    def get_lock(self):
        return self._lock

    @property
    def name(self):
        """The segment's name."""
        return _seg(self._obj).name

    def close(self):
        """Ends this object's use of the name (see the raw ``close``)."""
        _seg(self._obj).close()

    def unlink(self):
        _seg(self._obj).unlink()

    def __repr__(self):
        return "<%s wrapper for %s>" % (type(self).__name__, self._obj)


def _make_property(name):
    def get(self):
        with self._lock:
            return getattr(self._obj, name)

    def set(self, value):
        with self._lock:
            setattr(self._obj, name, value)

    return property(get, set)


class SynchronizedObject(SynchronizedBase):
    """A synchronized single value stored through ctypes (c_bool, c_wchar,
    or a numeric type with an external lock)."""

    value = _make_property("value")


class SynchronizedObjectArray(SynchronizedBase):
    """A synchronized ctypes array (an external lock, or an element type
    stored as bytes)."""

    def __len__(self):
        return len(self._obj)

    def __getitem__(self, i):
        with self._lock:
            return self._obj[i]

    def __setitem__(self, i, value):
        with self._lock:
            self._obj[i] = value


class SynchronizedString(SynchronizedObjectArray):
    """A synchronized ``c_char`` array with an external lock."""

    value = _make_property("value")
    raw = _make_property("raw")


_struct_wrappers = weakref.WeakKeyDictionary()


def _wrap(obj, lock):
    if isinstance(obj, ctypes._SimpleCData):
        return SynchronizedObject(obj, lock)
    if isinstance(obj, ctypes.Array):
        if obj._type_ is ctypes.c_char:
            return SynchronizedString(obj, lock)
        return SynchronizedObjectArray(obj, lock)
    cls = type(obj).__mro__[1]  # the user's Structure / Union
    scls = _struct_wrappers.get(cls)
    if scls is None:
        names = []
        for klass in reversed(cls.__mro__):
            names += [f[0] for f in klass.__dict__.get("_fields_", ())]
        d = {n: _make_property(n) for n in names}
        scls = _struct_wrappers[cls] = type("Synchronized" + cls.__name__, (SynchronizedBase,), d)
    return scls(obj, lock)


def _rebuild_synchronized(obj, lock):
    return _wrap(obj, _seg(obj)._lock if lock is True else lock)


def synchronized(obj, lock=None, ctx=None):
    """``multiprocessing.sharedctypes.synchronized``: a synchronized
    wrapper of an mpipc raw object (RawValue / RawArray), guarded by `lock`
    (default: a new mpipc RLock)."""
    _seg(obj)
    if isinstance(obj, SynchronizedBase):
        raise TypeError("object already synchronized")
    if not lock:
        from .synchronize import RLock

        lock = RLock()
    return _wrap(obj, lock)


def copy(obj):
    """``multiprocessing.sharedctypes.copy``: a new raw object (generated
    name) of the same type holding a copy of `obj`'s data."""
    t = type(obj)
    base = t.__mro__[1] if t in _shared_types.values() else t
    if issubclass(base, ctypes.Array):
        new = RawArray(base._type_, base._length_)
    else:
        new = RawValue(base)
    ctypes.memmove(ctypes.addressof(new), ctypes.addressof(obj), ctypes.sizeof(base))
    return new


def _check_lock(lock):
    if not hasattr(lock, "acquire"):
        raise AttributeError("%r has no method 'acquire'" % (lock,))  # multiprocessing's error


def Value(typecode_or_type, *args, lock=True, ctx=None, name=None, create=None, unlink_on_close=None):
    """``multiprocessing.Value(typecode_or_type, *args, lock=True)``, named.

    - ``lock=True`` or ``None``: a synchronized wrapper with a robust
      recursive lock beside the data (``get_lock()``, ``get_obj()``);
    - ``lock=False``: the raw ctypes object (``RawValue``);
    - ``lock=<an object with acquire>``: a wrapper using that lock (an
      mpipc Lock or RLock, to cross processes); anything without
      ``acquire``: AttributeError, as multiprocessing.

    ``name`` / ``create`` / ``unlink_on_close`` as for every mpipc object;
    `args` initialise the value when this call creates it."""
    if lock is False:
        return RawValue(typecode_or_type, *args, name=name, create=create, unlink_on_close=unlink_on_close)
    if lock in (True, None):  # as multiprocessing: 1 counts as True, 0 is not False
        ctype, native = _resolve(typecode_or_type)
        if native:
            return Synchronized(native, *args, name=name, create=create, unlink_on_close=unlink_on_close)
        obj = _raw_value(typecode_or_type, args, True, name, create, unlink_on_close)
        return _wrap(obj, _seg(obj)._lock)
    _check_lock(lock)
    return _wrap(RawValue(typecode_or_type, *args, name=name, create=create, unlink_on_close=unlink_on_close),
                 lock)


def Array(typecode_or_type, size_or_initializer, *, lock=True, ctx=None, name=None, create=None,
          unlink_on_close=None):
    """``multiprocessing.Array(typecode_or_type, size_or_initializer,
    lock=True)``, named; `lock` as for ``Value``. A sequence initializer
    is written when this call creates the array; size 0 with a name and
    ``create=False`` attaches to any length."""
    if lock is False:
        return RawArray(typecode_or_type, size_or_initializer, name=name, create=create,
                        unlink_on_close=unlink_on_close)
    if lock in (True, None):  # as multiprocessing: 1 counts as True, 0 is not False
        ctype, native = _resolve(typecode_or_type)
        if native:
            return SynchronizedArray(native, size_or_initializer, name=name, create=create,
                                     unlink_on_close=unlink_on_close)
        obj = _raw_array(typecode_or_type, size_or_initializer, True, name, create, unlink_on_close)
        return _wrap(obj, _seg(obj)._lock)
    _check_lock(lock)
    return _wrap(RawArray(typecode_or_type, size_or_initializer, name=name, create=create,
                          unlink_on_close=unlink_on_close), lock)
