"""SharedMemory and ShareableList (``multiprocessing.shared_memory``), by
name, over ``mp_shm_*`` and ``mp_slist_*``.

As in Python, ``close()`` never unlinks and the creator calls
``unlink()``. A block or list whose name was generated and that its
creator never unlinked is unlinked when the creator drops it or exits
(Python's resource tracker does the same, with a warning), or, if the
creator is killed, by mpipc's resource tracker (``_tracker``); explicitly
named ones stay until unlinked, for the other processes and languages
that use the name. Unlike Python's, attaching never registers the name
for removal (the resource-tracker bug that unlinks blocks a process merely
attached to).

Stock blocks: ``SharedMemory(name)`` attaches to an mpipc block of that
name or, if there is none, to a raw POSIX block ``/dev/shm/<name>`` such
as Python's stock ``multiprocessing.shared_memory.SharedMemory`` makes;
``SharedMemory(create=True, size=n, raw=True)`` makes a raw block that a
stock program attaches to by its name (README, "Shared memory with stock
Python").
"""

import ctypes
import struct
import types

from . import _bindings as B
from ._codec import decode, encode
from ._common import Named, cname, gen_name, open_handle, read_out, take_buf
from ._errors import NotFound, error
from ._ffi import lib

__all__ = ["SharedMemory", "ShareableList"]


class SharedMemory(Named):
    """``SharedMemory(name=None, create=False, size=0, *, raw=None)``: a
    named block of bytes; ``buf`` is a memoryview of it (zero-copy),
    ``size`` its length. The mapping stays valid while ``buf`` (or a view
    of it) is alive, even after ``close()``.

    ``raw``: None (the default) creates an mpipc block and attaches to an
    mpipc block or, failing that, to a raw POSIX block (one made by
    Python's stock ``multiprocessing.shared_memory``); True creates or
    attaches to a raw POSIX block only (``/dev/shm/<name>``, no header:
    what a stock program opens by the same name); False, an mpipc block
    only. ``is_raw`` says which one this is."""

    _kind = "SharedMemory"
    _close_fn = lib.mp_shm_close
    _unlink_fn = lib.mp_shm_unlink
    _unlink_at_close = False

    def __init__(self, name=None, create=False, size=0, *, raw=None, unlink_on_close=None, track=True):
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
        if raw:
            h = open_handle(lib.mp_shm_open, cname(name), size, flags | B.MP_SHM_RAW)
        elif create or raw is not None:
            h = open_handle(lib.mp_shm_open, cname(name), size, flags)
        else:
            # Attach: an mpipc block first, else a stock (raw) one.
            try:
                h = open_handle(lib.mp_shm_open, cname(name), size, flags)
            except NotFound as first:
                try:
                    h = open_handle(lib.mp_shm_open, cname(name), size, flags | B.MP_SHM_RAW)
                except NotFound:
                    raise first from None
                raw = True
        # track=False (Python 3.13's): no resource tracker for this block.
        self._track = track
        if raw:
            # Unlinked with mp_shm_unlink_raw (Named looks the function up
            # on the class).
            self.__class__ = _RawSharedMemory
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
    def is_raw(self):
        """Whether this is a raw POSIX block (no mpipc header), the kind
        Python's stock ``multiprocessing.shared_memory`` makes."""
        return False

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


class _RawSharedMemory(SharedMemory):
    """A SharedMemory over a raw POSIX block (``raw=True``, or attached to
    a stock block): the same object with the raw unlink function."""

    _unlink_fn = lib.mp_shm_unlink_raw

    @classmethod
    def _attach(cls, name):
        return SharedMemory(name, raw=True)

    @property
    def is_raw(self):
        return True


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


class _UnsupportedItem(KeyError, TypeError):
    """An item ShareableList cannot hold: a KeyError as Python's stock
    ShareableList raises (its type table has no entry for the type), and a
    TypeError, as the error is one of type."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


# The item types and their struct formats in Python's stock ShareableList
# (``format``); text and bytes are "<capacity>s".
_FORMATS = {int: "q", float: "d", bool: "xxxxxxx?", type(None): "xxxxxx?x", str: "%ds", bytes: "%ds"}
_Q_MIN, _Q_MAX = -(1 << 63), (1 << 63) - 1


def _check_item(x):
    """Python's stock rules for an item: one of its types exactly (else
    KeyError, here also a TypeError), an int that struct format 'q' takes
    (else struct.error)."""
    t = type(x)
    if t not in _FORMATS:
        raise _UnsupportedItem("ShareableList items are None, bool, int, float, str or bytes, not %s" % t.__name__)
    if t is int and not _Q_MIN <= x <= _Q_MAX:
        raise struct.error("argument out of range")


class ShareableList(Named):
    """``ShareableList(sequence=None, *, name=None)``: a named fixed-length
    list of scalars (None, bool, int, float, str, bytes), stored exactly
    (as CBOR: no NUL stripping, no UTF-8 truncation). With `name` and no
    `sequence`, attaches; otherwise creates (``ShareableList()`` is an
    empty list with a generated name).

    Slots are sized as Python's stock ShareableList sizes them, in the
    value's own bytes: a slot created with a str (UTF-8) or bytes of n
    bytes holds up to ``8 * (n // 8 + 1)``, any other slot 8; an int,
    float, bool or None fits any slot (ints within struct format 'q', else
    struct.error), a longer str or bytes raises ValueError ("bytes/str item
    exceeds available storage"), another type KeyError (also a
    TypeError)."""

    _kind = "ShareableList"
    _close_fn = lib.mp_slist_close
    _unlink_fn = lib.mp_slist_unlink
    _unlink_at_close = False

    def __init__(self, sequence=None, *, name=None, unlink_on_close=None):
        if sequence is None and name is not None:
            h = open_handle(lib.mp_slist_open, cname(name), None, 0, B.MP_OPEN_ATTACH_ONLY)
            generated = False
        else:
            items = list(sequence or ())
            for x in items:
                _check_item(x)
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

    __class_getitem__ = classmethod(types.GenericAlias)

    @classmethod
    def _attach(cls, name):
        return cls(name=name)

    def __reduce__(self):
        return (type(self)._attach, (self.name,))

    def __len__(self):
        return self._len

    def _index(self, i, what="index out of range"):
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError(what)
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
        i = self._index(i, "assignment index out of range")
        _check_item(value)
        data = encode(value)
        rc = lib.mp_slist_set(self._ptr(), i, data, len(data))
        if rc:
            if rc == B.MP_E_TOOBIG:
                # Python's message, then the sizes.
                raise ValueError("bytes/str item exceeds available storage (%s)" % error(rc).args[0])
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
        """Slot `i`'s capacity in the value's own bytes (the longest str,
        in UTF-8, or bytes it takes)."""
        return read_out(ctypes.c_size_t, lib.mp_slist_capacity, self._ptr(), self._index(i))

    @property
    def format(self):
        """The struct format Python's stock ShareableList reports for the
        current items: 'q' int, 'd' float, 'xxxxxxx?' bool, 'xxxxxx?x'
        None, '<capacity>s' str and bytes (e.g. "q16sd")."""
        out = []
        for i, x in enumerate(self[:]):
            f = _FORMATS[type(x)]
            out.append(f % self.capacity(i) if f == "%ds" else f)
        return "".join(out)

    def __repr__(self):
        return "ShareableList(%r, name=%r)" % (self[:] if not self._closed else "?", self.name)
