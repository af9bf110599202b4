"""SharedMemory and ShareableList (``multiprocessing.shared_memory``), by
name, over ``mp_shm_*`` and ``mp_slist_*``.

As in Python, ``close()`` never unlinks and the creator calls
``unlink()``. A block or list whose name was generated and that its
creator never unlinked is unlinked when the creator drops it or exits
(Python's resource tracker does the same, with a warning); explicitly
named ones stay until unlinked, for the other processes and languages
that use the name. Unlike Python's, attaching never registers the name
for removal (the resource-tracker bug that unlinks blocks a process merely
attached to).
"""

import ctypes

from . import _bindings as B
from ._codec import decode, encode
from ._common import Named, cname, gen_name, open_handle, read_out, take_buf
from ._errors import error
from ._ffi import lib

__all__ = ["SharedMemory", "ShareableList"]


class SharedMemory(Named):
    """``SharedMemory(name=None, create=False, size=0)``: a named block of
    bytes; ``buf`` is a memoryview of it (zero-copy), ``size`` its length.
    The mapping stays valid while ``buf`` (or a view of it) is alive, even
    after ``close()``."""

    _kind = "SharedMemory"
    _close_fn = lib.mp_shm_close
    _unlink_fn = lib.mp_shm_unlink
    _unlink_at_close = False

    def __init__(self, name=None, create=False, size=0, *, unlink_on_close=None, track=True):
        if not size >= 0:
            raise ValueError("'size' must be a positive integer")
        if create:
            if size == 0:
                raise ValueError("'size' must be a positive number different from zero")
            generated = name is None
            if generated:
                name = gen_name("shm")
            flags = B.MP_OPEN_CREATE_ONLY
        else:
            if name is None:
                raise ValueError("'name' can only be None if create=True")
            generated = False
            size = 0
            flags = B.MP_OPEN_ATTACH_ONLY
        h = open_handle(lib.mp_shm_open, cname(name), size, flags)
        self._adopt(h, name, generated if unlink_on_close is None else unlink_on_close)
        self._size = lib.mp_shm_size(h)
        owner = self

        class _Buf(ctypes.c_ubyte * self._size):
            # Keeps the SharedMemory (and so the mapping) alive while any
            # view of the buffer exists.
            _owner = owner

        self._buf = memoryview(_Buf.from_address(lib.mp_shm_ptr(h))).cast("B")

    @classmethod
    def _attach(cls, name):
        return cls(name)

    def __reduce__(self):
        return (type(self)._attach, (self.name,))

    @property
    def size(self):
        return self._size

    @property
    def buf(self):
        if self._closed:
            return None
        return self._buf

    def close(self):
        """Ends this process's use (``buf`` becomes None); the mapping is
        released once no view of it remains."""
        if not self._closed:
            self._buf = None
        super().close()

    def unlink(self):
        """Removes the name (FileNotFoundError if already removed)."""
        super().unlink()

    def __repr__(self):
        return "SharedMemory(%r, size=%d)" % (self.name, self._size)


class _ShmShim:
    """``sl.shm``: what Python code calls on a ShareableList's block
    (``sl.shm.close()``, ``sl.shm.unlink()``, ``sl.shm.name``)."""

    def __init__(self, sl):
        self._sl = sl

    @property
    def name(self):
        return self._sl.name

    def close(self):
        self._sl.close()

    def unlink(self):
        self._sl.unlink()


class ShareableList(Named):
    """``ShareableList(sequence=None, *, name=None)``: a named fixed-length
    list of scalars (None, bool, int, float, str, bytes), stored exactly
    (as CBOR: no NUL stripping, no UTF-8 truncation). With `sequence`,
    creates; without, attaches to `name`. A slot holds values up to the
    size of its initial one (rounded up to 8 bytes); a larger value raises
    ValueError, as Python's."""

    _kind = "ShareableList"
    _close_fn = lib.mp_slist_close
    _unlink_fn = lib.mp_slist_unlink
    _unlink_at_close = False

    def __init__(self, sequence=None, *, name=None, unlink_on_close=None):
        if sequence is None:
            if name is None:
                raise ValueError("ShareableList needs a sequence or a name")
            h = open_handle(lib.mp_slist_open, cname(name), None, 0, B.MP_OPEN_ATTACH_ONLY)
            generated = False
        else:
            items = list(sequence)
            for x in items:
                if x is not None and type(x) not in (bool, int, float, str, bytes):
                    raise TypeError("ShareableList items are None, bool, int, float, str or bytes, not %s"
                                    % type(x).__name__)
            generated = name is None
            if generated:
                name = gen_name("sl")
            data = encode(items)
            h = open_handle(lib.mp_slist_open, cname(name), data, len(data), B.MP_OPEN_CREATE_ONLY)
        self._adopt(h, name, generated if unlink_on_close is None else unlink_on_close)
        n = ctypes.c_size_t()
        rc = lib.mp_slist_len(h, ctypes.byref(n))
        if rc:
            raise error(rc)
        self._len = n.value
        self.shm = _ShmShim(self)

    @classmethod
    def _attach(cls, name):
        return cls(name=name)

    def __reduce__(self):
        return (type(self)._attach, (self.name,))

    def __len__(self):
        return self._len

    def _index(self, i):
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError("index out of range")
        return i

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._len))]
        b = B.mp_buf()
        rc = lib.mp_slist_get(self._ptr(), self._index(i), ctypes.byref(b))
        if rc:
            raise error(rc)
        return decode(take_buf(b))

    def __setitem__(self, i, value):
        if value is not None and type(value) not in (bool, int, float, str, bytes):
            raise TypeError("ShareableList items are None, bool, int, float, str or bytes")
        data = encode(value)
        rc = lib.mp_slist_set(self._ptr(), self._index(i), data, len(data))
        if rc:
            if rc == B.MP_E_TOOBIG:
                raise ValueError("%s item exceeds available storage: %s" % (type(value).__name__,
                                                                              error(rc).args[0]))
            raise error(rc)

    def __iter__(self):
        return iter(self[:])

    def count(self, value):
        return sum(1 for x in self if x == value)

    def index(self, value):
        for i, x in enumerate(self):
            if x == value:
                return i
        raise ValueError("%r not in this container" % (value,))

    def capacity(self, i):
        """Slot `i`'s capacity in bytes of CBOR."""
        return read_out(ctypes.c_size_t, lib.mp_slist_capacity, self._ptr(), self._index(i))

    def __repr__(self):
        return "ShareableList(%r, name=%r)" % (self[:] if not self._closed else "?", self.name)
