"""Value and Array (and RawValue / RawArray) in named shared memory
(``mp_array_*``): Python's typecodes ``c b B h H i I l L q Q f d`` (or the
matching ctypes types), a robust recursive lock beside the data (Python's
default ``lock=True`` is an RLock too), ``lock=False`` for none.

Element access takes the lock, so ``v.value = x`` and ``a[i]`` are each
atomic; ``v.value += 1`` is not (as in Python): hold ``get_lock()`` around
it, or use ``incr`` (one locked add). ``get_obj()`` gives a ctypes view of
the data for zero-copy access (unsynchronised: hold the lock).

The fast path (issue #17): ``with a.get_lock(): a[0] += 1`` costs two
foreign calls -- the lock's try-acquire and its release, both made
without releasing the GIL -- and two reads/writes of the mapped data
through a memoryview. An element is read or written in place only when
this thread holds the lock through this very object (or the array has no
lock); otherwise it goes through the library, which takes the lock
around the access. Which thread holds the lock through which object is
tracked here (see _ArrayLock), conservatively: whenever the tracking
might be stale, an access takes the library's path, which is always
right.
"""

import ctypes
import os
import threading
import weakref

from . import _bindings as B
from ._common import SLICE_MS, Named, cname, gen_name, open_flags, threading_timeout_ms
from ._errors import NotOwner, error, owner_died
from ._ffi import gil, lib, raw

__all__ = ["Value", "Array", "RawValue", "RawArray"]

CTYPES = {
    "c": ctypes.c_ubyte, "b": ctypes.c_byte, "B": ctypes.c_ubyte, "h": ctypes.c_short, "H": ctypes.c_ushort,
    "i": ctypes.c_int, "I": ctypes.c_uint, "l": ctypes.c_long, "L": ctypes.c_ulong, "q": ctypes.c_longlong,
    "Q": ctypes.c_ulonglong, "f": ctypes.c_float, "d": ctypes.c_double,
}
_FROM_CTYPE = {
    ctypes.c_char: "c", ctypes.c_byte: "b", ctypes.c_ubyte: "B", ctypes.c_short: "h", ctypes.c_ushort: "H",
    ctypes.c_int: "i", ctypes.c_uint: "I", ctypes.c_long: "l", ctypes.c_ulong: "L", ctypes.c_longlong: "q",
    ctypes.c_ulonglong: "Q", ctypes.c_float: "f", ctypes.c_double: "d", ctypes.c_bool: "B",
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


def _typecode(t):
    if isinstance(t, str):
        if t not in CTYPES:
            raise ValueError("unsupported typecode %r (mpipc has c b B h H i I l L q Q f d)" % t)
        return t
    if t in _FROM_CTYPE:
        return _FROM_CTYPE[t]
    raise TypeError("unsupported type %r" % (t,))


# --------------------------------------------------------------------------
# Who holds an array's lock, as this process knows it.
#
# Each thread has a token: an object of its own, kept in a threading.local.
# Unlike threading.get_ident(), a token is never reused: a thread that
# exits holding a lock leaves its token in the lock's record, and a new
# thread (which may get the same ident) gets a new token. A forked child
# gets a new token too (its only thread is not the parent's thread, and
# does not hold what the parent held), so every record inherited from the
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
    another (two Array objects of one array in this process): every record
    that says this thread holds a lock may now be wrong, so drop them all.
    Their arrays take the library's path (always right) until this thread
    acquires through them again. Rare: one object per array and process
    is the normal case."""
    for arr in list(_arrays):
        if arr._owner is token:
            arr._owner = None
            arr._depth = 0


# The owner record of an array without a lock: never any thread's token,
# and tested first, so that every access of such an array is in place.
_NO_LOCK = object()


class _ArrayLock:
    """The lock beside an array's data (recursive, robust): what
    ``get_lock()`` returns.

    The C lock is the truth; every acquire and release calls it. The array
    also records which thread holds it through this object (``_owner``,
    that thread's token) and how many times (``_depth``), so that its
    element accessors know when they may touch the data in place. The
    record may say "not held" when the thread does hold the lock (then
    the accessors take the library's path, which locks again, recursively),
    never the reverse: it is set right after the C lock was taken, and
    dropped when the lock is released through here or (by _forget_owner)
    through anything else.

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
        busy, then records the holder."""
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
        if arr._owner is token:
            arr._depth += 1
        else:
            arr._owner = token
            arr._depth = 1
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
        if arr._owner is token:
            arr._depth += 1
        else:
            arr._owner = token
            arr._depth = 1
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
            # The depth is read only while _owner is someone's token: left
            # as it is when the record is dropped.
            d = arr._depth - 1
            if d:
                arr._depth = d
            else:
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
        if arr._owner is token:
            arr._depth += 1
        else:
            arr._owner = token
            arr._depth = 1
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
            d = arr._depth - 1
            if d:
                arr._depth = d
            else:
                arr._owner = None
        else:
            _forget_owner(token)


class _Shared(Named):
    _close_fn = lib.mp_array_close
    _unlink_fn = lib.mp_array_unlink

    def _open(self, typecode, length, init, lock, name, create, unlink_on_close):
        if lock not in (True, False):
            raise ValueError("lock must be True or False (an external lock cannot guard a named array)")
        tc = _typecode(typecode)
        generated = name is None
        if generated:
            name = gen_name("a")
            create = True
        flags = 0 if lock else B.MP_ARRAY_NO_LOCK
        out = ctypes.c_void_p()
        created = False
        if create is None and init is not None:
            # Initial values apply when this call creates the array.
            rc = lib.mp_array_open(cname(name), tc.encode(), length, flags | B.MP_OPEN_CREATE_ONLY,
                                   ctypes.byref(out))
            created = rc == 0
            if rc == B.MP_E_EXISTS:
                rc = lib.mp_array_open(cname(name), tc.encode(), length, flags, ctypes.byref(out))
        else:
            rc = lib.mp_array_open(cname(name), tc.encode(), length, flags | open_flags(create),
                                   ctypes.byref(out))
            created = rc == 0 and create is True
        if rc:
            raise error(rc)
        self._adopt(out.value, name, generated if unlink_on_close is None else unlink_on_close)
        self._typecode = lib.mp_array_typecode(out.value).decode()
        self._len = lib.mp_array_len(out.value)
        self._float = self._typecode in "fd"
        self._lock = _ArrayLock(self, out.value) if lock else None
        self.owner_died = False
        # Which thread holds the lock through this object: its token (see
        # _ArrayLock), None, or _NO_LOCK for an array without a lock.
        self._owner = None if lock else _NO_LOCK
        self._depth = 0
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
        return created

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
        """A ctypes array over the shared data (zero-copy, unsynchronised;
        valid while this object lives)."""
        h = self._ptr()
        return (CTYPES[self._typecode] * self._len).from_address(lib.mp_array_ptr(h))

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


class Value(_Shared):
    """``multiprocessing.Value(typecode_or_type, *args, lock=True)``, named.

    ``Value(typecode, value=0, *, lock=True, name=None, create=None,
    unlink_on_close=None)``: `value` is written when this call creates the
    object (not when it attaches to an existing name)."""

    _kind = "Value"

    def __init__(self, typecode_or_type, *args, lock=True, name=None, create=None, unlink_on_close=None,
                 ctx=None):
        init = args[0] if args else None
        created = self._open(typecode_or_type, 1, init, lock, name, create, unlink_on_close)
        if init is not None and (created or name is None):
            self._set(0, init)

    @classmethod
    def _attach(cls, name, typecode, lock):
        obj = cls.__new__(cls)
        obj._open(typecode, 0, None, lock, name, False, False)
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


class Array(_Shared):
    """``multiprocessing.Array(typecode_or_type, size_or_initializer,
    lock=True)``, named. A sequence initializer is written when this call
    creates the array."""

    _kind = "Array"

    def __init__(self, typecode_or_type, size_or_initializer, *, lock=True, name=None, create=None,
                 unlink_on_close=None, ctx=None):
        if isinstance(size_or_initializer, int):
            n, init = size_or_initializer, None
        else:
            init = list(size_or_initializer) if not isinstance(size_or_initializer, (bytes, bytearray)) \
                else list(size_or_initializer)
            n = len(init)
        created = self._open(typecode_or_type, n, init, lock, name, create, unlink_on_close)
        if init is not None and (created or name is None) and n:
            self[0:n] = init

    @classmethod
    def _attach(cls, name, typecode, lock):
        obj = cls.__new__(cls)
        obj._open(typecode, 0, None, lock, name, False, False)
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
    # this object (the record is this thread's token) or there is no lock:
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


def RawValue(typecode_or_type, *args, **kw):
    """A Value without a lock (``multiprocessing.RawValue``)."""
    return Value(typecode_or_type, *args, lock=False, **kw)


def RawArray(typecode_or_type, size_or_initializer, **kw):
    """An Array without a lock (``multiprocessing.RawArray``)."""
    return Array(typecode_or_type, size_or_initializer, lock=False, **kw)

