"""Manager() / connect_manager(): a manager server (``mp_mgr_serve``, run
as threads of the process that calls ``Manager()``, or ``mpipc manager
serve``) holding named dicts, lists, namespaces, values, arrays, queues
and locks for processes in any language; proxies that behave as
``MutableMapping`` / ``MutableSequence``, with atomic extras (``incr``,
``compare_and_set``, and ``setdefault``/``pop``/``update`` atomic too).

Each thread of each process talks to the server over its own connection
(as Python's proxies do), so one thread blocked in ``q.get()`` never holds
up another; a forked child opens its own connections. Locks, RLocks,
Conditions and Semaphores belong to the connection -- that is, the thread
-- that acquired them, and are released when it disconnects (when the
thread or process ends).

When the server goes away (stopped, crashed, restarted), the call that
notices raises ``mpipc.ConnectionLost`` (an ``EOFError`` and a
``BrokenPipeError``) with the library's message, and so does every later
call until ``manager.reconnect()``; nothing is retried behind the caller's
back (a call whose reply never came may or may not have been applied, and
a restarted server starts empty).
"""

import collections
import collections.abc
import ctypes
import math
import multiprocessing
import multiprocessing.context
import os
import queue as _queue
import re
import tempfile
import threading
import time

import cbor2

from . import _bindings as B
from . import _codec
from ._codec import decode, encode
from ._common import SLICE_MS, FOREVER, gen_name, register_after_fork, take_buf, threading_timeout_ms, timeout_ms, wait_for
from ._errors import (
    AttributeMissing, ConnectionLost, Empty, Full, IndexOutOfRange, KeyMissing, NotInList, NotOwner, Timeout,
    error,
)
from ._ffi import lib, raw
from .connection import _from_c_address, _to_c_address as _to_c_socket_address

__all__ = [
    "Manager", "BaseManager", "SyncManager", "connect_manager", "BaseProxy", "Token", "DictProxy", "ListProxy",
    "NamespaceProxy", "ValueProxy", "ArrayProxy", "QueueProxy", "AcquirerProxy", "EventProxy", "ConditionProxy",
    "BarrierProxy",
]

_EMPTY, _FULL, _TIMEOUT, _EOF = B.MP_E_EMPTY, B.MP_E_FULL, B.MP_E_TIMEOUT, B.MP_E_EOF

# scheme://: RFC 3986's scheme characters. No socket path a manager is
# given starts so (a relative path "x://y" would need a directory "x:").
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _to_c_address(address):
    """The C form of a manager address: a URL (``redis://...``,
    ``redis+unix://...``, ``valkey://...``; docs/REDIS.md) goes to the
    library as it is, which selects the backend by its scheme and names a
    wrong part of it; anything else is a socket address (a path, ``(host,
    port)``, ``unix:...``, ``tcp:...``) as for ``mpipc.connection``."""
    if isinstance(address, str) and _URL.match(address):
        return address
    return _to_c_socket_address(address)


_LOST = {_EOF: ConnectionLost}
# What a dial meets while no server listens (yet): the library's reconnect
# retries on the same statuses.
_NO_SERVER = (B.MP_E_NOTFOUND, B.MP_E_EOF, B.MP_E_IO)


class _Conn:
    """One mp_mgr connection (closed when dropped), made in generation
    `gen` of its client (see _Client.reconnect). `hc` is the handle as a
    ctypes object and `rx` the receive buffer of the dict fast path (see
    DictProxy.__getitem__), both for calls without argument conversion."""

    __slots__ = ("h", "gen", "hc", "rx", "memo")

    def __init__(self, h, gen):
        self.h = h
        self.gen = gen
        self.hc = ctypes.c_void_p(h)
        self.rx = None
        # Per dict name: [version, {key: value}] (see DictProxy.__getitem__).
        self.memo = {}

    def make_rx(self):
        """(buffer, its memoryview, length out, byref to it, capacity,
        version out, byref to it)."""
        buf = ctypes.create_string_buffer(_RX_CAP)
        n = ctypes.c_size_t()
        ver = ctypes.c_uint64()
        self.rx = (buf, memoryview(buf).cast("B"), n, ctypes.byref(n), ctypes.c_size_t(_RX_CAP), ver,
                   ctypes.byref(ver))
        return self.rx

    def __del__(self):
        h, self.h = self.h, None
        if h:
            lib.mp_mgr_close(h)


class _Client:
    """Connections to one server: one per thread, made on first use.

    ``reconnect()`` starts a new generation: the calling thread's
    connection is re-dialled at once, every other thread's is replaced by
    a new one at its next call (a thread-local connection cannot be
    reached from another thread, and replacing it under a call in progress
    would break that call)."""

    def __init__(self, address, authkey, connect_timeout=10.0, pickle=None):
        self.address = address  # C form: unix:/path, tcp:host:port
        self.authkey = authkey if authkey is not None else b""
        # The serializer opt-in of every value this client sends and
        # receives (docs/TYPES.md, PICKLE): None = the module default
        # (mpipc.set_serializer), True/False = the manager's
        # serializer="pickle" / "cbor".
        self.pickle = pickle
        self.connect_timeout = connect_timeout
        self._local = threading.local()
        self._gen = 0
        # Set when a call of the current generation found the connection
        # lost; cleared by a successful reconnect, and at a Redis address
        # by the next call that succeeds (the library reconnects there by
        # itself at the next call: docs/REDIS.md).
        self._lost = False
        self._heals = bool(_URL.match(address))
        self._reconnect_lock = threading.Lock()
        register_after_fork(self)

    def _after_fork_child(self):
        self._local = threading.local()  # the parent's connections are its own
        self._reconnect_lock = threading.Lock()

    def _dial(self, ms):
        """A new mp_mgr handle (raises the library's error)."""
        out = ctypes.c_void_p()
        key = self.authkey or None
        rc = lib.mp_mgr_connect(self.address.encode(), key, len(self.authkey), ms, ctypes.byref(out))
        if rc:
            raise error(rc)
        return out.value

    def conn(self):
        """This thread's connection of the current generation (made now if needed)."""
        c = getattr(self._local, "conn", None)
        if c is None or c.gen != self._gen:
            gen = self._gen
            self._local.conn = None  # an older generation's: closed when dropped
            c = self._local.conn = _Conn(self._dial(timeout_ms(self.connect_timeout)), gen)
        return c

    def handle(self):
        return self.conn().h

    def call(self, kind, name, method, args=(), override=None):
        data = encode(list(args), pickle=self.pickle)
        b = B.mp_buf()
        c = self.conn()
        rc = lib.mp_mgr_call(c.h, kind.encode(), name.encode(), method.encode(), data, len(data), ctypes.byref(b))
        if rc:
            self.fail(rc, c, override)
        if self._lost and self._heals and c.gen == self._gen:
            self._lost = False
        return decode(take_buf(b), pickle=self.pickle)

    def fail(self, rc, c, override=None):
        """Raises the error of status `rc`, returned by a call on `c`."""
        if rc == _EOF:
            e = error(rc, _LOST)  # reads the library's message first
            if c.gen == self._gen:
                self._lost = True
            raise e
        raise error(rc, override)

    def connected(self):
        """Whether this thread's connection is up, as far as the library knows."""
        if self._lost:
            return False
        c = getattr(self._local, "conn", None)
        if c is None or c.gen != self._gen:
            return True  # none yet: the next call connects
        out = ctypes.c_bool()
        rc = lib.mp_mgr_is_connected(c.h, ctypes.byref(out))
        if rc:
            raise error(rc)
        return out.value

    def reconnect(self, timeout):
        """mp_mgr_reconnect on this thread's connection, in SLICE_MS slices
        (so Ctrl-C is handled), for at most `timeout` seconds (None =
        forever); then a new generation."""
        ms = timeout_ms(timeout)
        deadline = None if ms < 0 else time.monotonic() + ms / 1000.0
        with self._reconnect_lock:
            c = getattr(self._local, "conn", None)
            h = c.h if c is not None else None
            while True:
                left = FOREVER if deadline is None else max(0, math.ceil((deadline - time.monotonic()) * 1000.0))
                step = SLICE_MS if left < 0 or left > SLICE_MS else left
                if h is not None:
                    rc = lib.mp_mgr_reconnect(h, step)
                    if rc == 0:
                        break
                    if rc != _TIMEOUT or left == step:
                        raise error(rc)
                else:
                    # This thread never had a connection: dial a new one,
                    # retrying while no server listens, as the library's
                    # reconnect does.
                    try:
                        h = self._dial(max(step, 1))
                        c = None
                        break
                    except Exception as e:
                        if getattr(e, "code", None) not in _NO_SERVER + (_TIMEOUT,):
                            raise
                        if left == step:
                            raise Timeout("reconnect to the manager at %s: no server came up in time (%s)"
                                          % (self.address, e)) from None
                        time.sleep(min(step, 20) / 1000.0)
            self._gen += 1
            self._lost = False
            if c is not None:
                c.gen = self._gen
            else:
                self._local.conn = _Conn(h, self._gen)

    def call_sliced(self, kind, name, method, args, ms, expired, override=None):
        """A blocking method whose last argument is a timeout: called in
        slices so that Ctrl-C is handled; returns the result, or raises the
        status `expired` maps to when the whole timeout ran out."""
        left = ms
        while True:
            step = SLICE_MS if left < 0 or left > SLICE_MS else left
            try:
                return self.call(kind, name, method, list(args) + [step], override)
            except Exception as e:
                if getattr(e, "code", None) != expired or left == step:
                    raise
            if left > 0:
                left -= step

    def close(self):
        self._local = threading.local()


_clients = {}
_clients_lock = threading.Lock()


def _client_for(address, authkey, pickle=None):
    with _clients_lock:
        c = _clients.get((address, authkey, pickle))
        if c is None:
            c = _clients[(address, authkey, pickle)] = _Client(address, authkey, pickle=pickle)
        return c


_ANY = object()


def _client_at(address, pickle=_ANY):
    """A client of this process for the server at `address` (C form):
    one it already has (with the serializer `pickle` if one has it), else
    a new one with the process's authkey, as multiprocessing's proxies
    authenticate when unpickled (no key for a Redis address)."""
    with _clients_lock:
        found = [c for (a, _, _), c in _clients.items() if a == address]
    for c in found:
        if pickle is _ANY or c.pickle == pickle:
            return c
    if found:
        key = found[0].authkey
    elif _URL.match(address):
        # A Redis server takes the authkey as its password: the process's
        # random authkey is none (a password, if any, is in the address).
        key = b""
    else:
        key = bytes(multiprocessing.current_process().authkey)
    return _client_for(address, key, None if pickle is _ANY else pickle)


def _rebuild(cls, address, authkey, kind, name, extra, pickle=None):
    if authkey is None:
        client = _client_at(address, pickle)
    else:
        client = _client_for(address, authkey, pickle)
    p = cls.__new__(cls)
    BaseProxy.__init__(p, client, kind, name)
    p._restore(extra)
    return p


# A manager object's kind (docs/PROTOCOL.md) -> multiprocessing's typeid
# of the same object (what a proxy's repr and _token show).
_TYPEIDS = {
    "dict": "dict", "list": "list", "namespace": "Namespace", "value": "Value", "array": "Array",
    "queue": "Queue", "lock": "Lock", "rlock": "RLock", "semaphore": "Semaphore",
    "bounded_semaphore": "BoundedSemaphore", "event": "Event", "condition": "Condition", "barrier": "Barrier",
}

Token = collections.namedtuple("Token", "typeid address id")
Token.__doc__ = """What identifies a proxy's object, as multiprocessing's
``Token``: `typeid` (``'dict'``, ``'Namespace'``, ...), the server's
`address` and `id`, the object's name on the server."""


class BaseProxy:
    """The base of every manager proxy (``multiprocessing.managers.BaseProxy``):
    ``isinstance(p, BaseProxy)`` holds for all of them.

    A proxy is the object's kind, its name on the server and the
    server's address: it pickles as those (to a child process), and it
    crosses as a value (put in a queue, stored in a manager dict, list,
    Namespace or Value, inside containers too) as the mpipc reference
    REF ``[kind, name, address]`` (docs/PROTOCOL.md, "References to
    manager objects"), which a Python receiver turns into a proxy of the
    same object. ``_token`` (``typeid``, ``address``, ``id`` = the name)
    and ``_callmethod`` are multiprocessing's names."""

    _kind = None
    _typeid = None  # set by register()ed factories; else _TYPEIDS[kind]
    _OVERRIDE = None  # status -> exception class, for this kind of proxy

    def __init__(self, client, kind, name):
        self._client = client
        self._kind = kind
        self._name = name

    def _restore(self, extra):
        pass

    def _extra(self):
        return None

    @property
    def name(self):
        """The object's name on the server (how other processes and
        languages reach it). A Namespace has no such attribute (its
        attributes are the user's): ``ns._token.id`` or ``ns._id`` there."""
        return self._name

    @property
    def _id(self):
        """The object's name on the server (multiprocessing's ``_id``)."""
        return self._name

    @property
    def _token(self):
        """``Token(typeid, address, id)``, as multiprocessing's proxies have."""
        return Token(self._typeid or _TYPEIDS.get(self._kind, self._kind), _from_c_address(self._client.address),
                     self._name)

    def __mpipc_ref__(self):
        """(kind, name, server address in the C form): how the codec
        writes this proxy as a value (the REF tag)."""
        return (self._kind, self._name, self._client.address)

    def _callmethod(self, method, args=(), override=None):
        return self._client.call(self._kind, self._name, method, args, override or self._OVERRIDE)

    def _getvalue(self):
        """A local copy of the object's value where it has one
        (multiprocessing's ``_getvalue``)."""
        raise TypeError("a manager %s has no value to copy" % self._kind)

    def __reduce__(self):
        # By name: address, kind and name. The authkey travels only to a
        # child being spawned, as Python's proxies do.
        key = self._client.authkey if multiprocessing.context.get_spawning_popen() is not None else None
        return (_rebuild, (type(self), self._client.address, key, self._kind, self._name, self._extra(),
                           self._client.pickle))

    def __repr__(self):
        # As multiprocessing's (no call to the server, so a repr never
        # fails or blocks), plus the object's name.
        return "<%s object, typeid %r, name %r at %#x>" % (
            type(self).__name__, self._token.typeid, self._name, id(self))

    def __str__(self):
        # As multiprocessing's: the state of the object on the server (its
        # referent's str), or the repr with a note when the call fails.
        try:
            return self._state()
        except Exception:
            return repr(self)[:-1] + "; '__str__()' failed>"

    def _state(self):
        return repr(self)


_BaseProxy = BaseProxy  # the name before it was public


# --------------------------------------------------------------------------
# dict, list, Namespace, Value, Array


def _key(k):
    """A decoded key outside key position (keys(), items()): arrays as tuples."""
    return tuple(_key(x) for x in k) if isinstance(k, list) else k


# The dict fast path: d[k] and d[k] = v as one library call each, without
# ctypes argument conversion (see _ffi.raw), the key's encoding cached for
# str and int keys, the value read into a per-connection buffer. The
# library serves d[k] from the dict's local replica when it has one
# (docs/PROTOCOL.md, the dict `replica` method): then nothing but this
# Python code stands between the caller and shared memory.
_dict_get_into = raw.mp_mgr_dict_get_into
_dict_version = raw.mp_mgr_dict_version
_dict_set = raw.mp_mgr_dict_set
_NOTFOUND = B.MP_E_NOTFOUND
_BUFSIZE = B.MP_E_BUFSIZE
_c_size = ctypes.c_size_t
_loads = cbor2.loads
_RX_CAP = 4096
# Types that a top-level CBOR item decodes to with nothing for _codec's
# checks to do (no undefined, simple value or container inside).
_PLAIN = frozenset({int, float, str, bytes, bool, type(None)})
# Encoded str and int keys: key -> (bytes, c_size_t length). str and int
# keys never compare equal to each other, and bool (an int subclass) is
# not cached (type(key) is int is False for it), so a hit is always the
# right encoding. Bounded: cleared when full; long keys are not kept.
_KEYS = {}
_KEYS_MAX = 4096
_KEY_CACHE_LEN = 64
# Values of str and int keys read from a dict's local replica, kept per
# connection (thread) and dict with the version they were read at
# (mp_mgr_dict_version): while the library reports the same version, the
# dict has not changed since (every change moves it, a new replica or a
# lost connection gives another or 0), so d[k] answers from here with one
# library call that reads a counter in shared memory. Only immutable
# values are kept (a caller could change a list it was handed). Bounded.
_MEMO_MAX = 4096
_MISS = object()


def _enc_key(key, pickle=None):
    """(CBOR bytes, c_size_t length) of a dict key (`pickle`: the
    client's serializer opt-in, which never changes how an int or a str
    is written)."""
    t = type(key)
    if t is int or t is str:
        e = _KEYS.get(key)
        if e is not None:
            return e
        b = encode(key, pickle=False)
        e = (b, _c_size(len(b)))
        if len(b) <= _KEY_CACHE_LEN:
            if len(_KEYS) >= _KEYS_MAX:
                _KEYS.clear()
            _KEYS[key] = e
        return e
    b = encode(key, pickle=pickle)
    return b, _c_size(len(b))


class DictProxy(BaseProxy, collections.abc.MutableMapping):
    """A shared dict (``MutableMapping``); every method is one atomic
    server call. Extras: ``incr(key, delta=1)``, ``compare_and_set(key,
    expected, new)``.

    On the same host (a Unix-socket manager) ``d[k]``, ``d.get(k)``,
    ``k in d`` and ``len(d)`` are read from a replica of the dict that the
    server keeps in shared memory, without a round trip, with the same
    results (a write is in the replica before its call returns).
    ``MPIPC_MGR_LOCAL_READS=0`` in the environment turns that off."""

    _OVERRIDE = {B.MP_E_NOTFOUND: KeyMissing}
    _cname = None  # the name as bytes, for the fast path

    def __getitem__(self, key):
        client = self._client
        if client._lost:
            # Another thread found the connection lost: say so here too,
            # rather than read the replica this connection still maps.
            try:
                return self._callmethod("get", [key])
            except KeyMissing:
                raise KeyError(key) from None
        c = client.conn()
        rx = c.rx or c.make_rx()
        cname = self._cname
        if cname is None:
            cname = self._cname = self._name.encode()
        t = type(key)
        memo = c.memo.get(cname) if t is int or t is str else None
        if memo is not None:
            # The version is asked only for a key the memo holds: a miss
            # costs a dict lookup, not a library call.
            v = memo[1].get(key, _MISS)
            if v is not _MISS and not _dict_version(c.hc, cname, rx[6]) and rx[5].value == memo[0]:
                return v
        kb, kl = _enc_key(key, client.pickle)
        rc = _dict_get_into(c.hc, cname, kb, kl, rx[0], rx[4], rx[3], rx[6])
        if rc == 0:
            data = bytes(rx[1][:rx[2].value])
            # One well-formed item from the library: a plain value needs
            # none of _codec.decode's checks; anything else gets them
            # (tags included: a tuple, a proxy reference, a pickle). A tag
            # at the top (major type 6, 0xc0-0xdf) goes there first:
            # cbor2.loads applies its own tag meanings (tag 28 reads as
            # its content), which can look like a plain value.
            if 0xC0 <= data[0] < 0xE0:
                return decode(data, pickle=client.pickle)
            try:
                v = _loads(data)
            except Exception:
                return decode(data, pickle=client.pickle)  # raises the binding's DecodeError
            if type(v) not in _PLAIN:
                return decode(data, pickle=client.pickle)
            ver = rx[5].value
            if ver and (t is int or t is str):
                if memo is None or memo[0] != ver:
                    memo = c.memo[cname] = [ver, {}]
                if len(memo[1]) < _MEMO_MAX:
                    memo[1][key] = v
            return v
        if rc == _NOTFOUND:
            raise KeyError(key)
        if rc == _BUFSIZE:  # a value over the buffer: the general path
            try:
                return self._callmethod("get", [key])
            except KeyMissing:
                raise KeyError(key) from None
        client.fail(rc, c)

    def __setitem__(self, key, value):
        client = self._client
        kb, kl = _enc_key(key, client.pickle)
        vb = encode(value, pickle=client.pickle)
        c = client.conn()
        cname = self._cname
        if cname is None:
            cname = self._cname = self._name.encode()
        rc = _dict_set(c.hc, cname, kb, kl, vb, _c_size(len(vb)))
        if rc:
            client.fail(rc, c)

    def __delitem__(self, key):
        try:
            self._callmethod("del", [key])
        except KeyMissing:
            raise KeyError(key) from None

    def __len__(self):
        return self._callmethod("len")

    def __iter__(self):
        # As multiprocessing's (an iterator on the server's dict): a
        # RuntimeError when the dict changed size during the iteration.
        # The keys come in one call; the size is checked before each next
        # one: while the local replica's version stays the same nothing
        # changed (one read of a counter in shared memory), else len()
        # (read from the replica, or a round trip without one).
        # The keys are read now, as iter() of a dict starts at once.
        return self._iterate(self.keys())

    def _iterate(self, keys):
        n = len(keys)
        c = self._client.conn()  # (kept: its replica's counter is read below)
        rx = c.rx or c.make_rx()
        cname = self._cname
        if cname is None:
            cname = self._cname = self._name.encode()
        hc, out, ver = c.hc, rx[6], rx[5]
        seen = [0]

        def changed():
            v = 0 if _dict_version(hc, cname, out) else ver.value
            if v and v == seen[0]:
                return False
            seen[0] = v  # read before len(): a later change moves it again
            return self.__len__() != n

        for k in keys:
            if changed():
                raise RuntimeError("dictionary changed size during iteration")
            yield k
        if n and changed():
            raise RuntimeError("dictionary changed size during iteration")

    def __contains__(self, key):
        return self._callmethod("contains", [key])

    def keys(self):
        return [_key(k) for k in self._callmethod("keys")]

    def values(self):
        return self._callmethod("values")

    def items(self):
        return [(_key(k), v) for k, v in self._callmethod("items")]

    def get(self, key, default=None):
        return self._callmethod("get", [key, default])

    _MISSING = object()

    def pop(self, key, default=_MISSING):
        try:
            if default is DictProxy._MISSING:
                return self._callmethod("pop", [key])
            return self._callmethod("pop", [key, default])
        except KeyMissing:
            raise KeyError(key) from None

    def popitem(self):
        try:
            k, v = self._callmethod("popitem")
        except KeyMissing:
            raise KeyError("popitem(): dictionary is empty") from None
        return _key(k), v

    def setdefault(self, key, default=None):
        return self._callmethod("setdefault", [key, default])

    def update(self, other=(), /, **kw):
        if isinstance(other, collections.abc.Mapping):
            pairs = [[k, v] for k, v in other.items()]
        elif hasattr(other, "keys"):
            pairs = [[k, other[k]] for k in other.keys()]
        else:
            pairs = [list(kv) for kv in other]
            for kv in pairs:
                if len(kv) != 2:
                    raise ValueError("dictionary update sequence element has length %d; 2 is required" % len(kv))
        pairs += [[k, v] for k, v in kw.items()]
        if pairs:
            self._callmethod("update", [pairs])

    def clear(self):
        self._callmethod("clear")

    def copy(self):
        """A plain dict snapshot."""
        return self._callmethod("copy")

    def incr(self, key, delta=1):
        """Atomically adds `delta` to the integer at `key` (absent = 0);
        returns the new value. ``d[k] += 1`` is a race; this is not."""
        return self._callmethod("incr", [key, delta])

    def compare_and_set(self, key, expected, new):
        """Sets `new` iff `key` is present and equal to `expected`; returns whether it did."""
        return self._callmethod("compare_and_set", [key, expected, new])

    def __eq__(self, other):
        return self.copy() == (other.copy() if isinstance(other, DictProxy) else other)

    __hash__ = None

    def _getvalue(self):
        return self.copy()

    def _state(self):
        return str(self.copy())


class ListProxy(BaseProxy, collections.abc.MutableSequence):
    """A shared list (``MutableSequence``); each method is one atomic
    server call."""

    _OVERRIDE = {B.MP_E_NOTFOUND: NotInList}

    def __len__(self):
        return self._callmethod("len")

    def __getitem__(self, i):
        if isinstance(i, slice):
            if i.step not in (None, 1):
                return self.copy()[i]
            return self._callmethod("getslice", [i.start, i.stop])
        try:
            return self._callmethod("getitem", [i])
        except IndexOutOfRange:
            raise IndexError("list index out of range") from None

    def __setitem__(self, i, value):
        if isinstance(i, slice):
            if i.step not in (None, 1):
                raise ValueError("extended slice assignment is not supported by a shared list")
            self._callmethod("setslice", [i.start, i.stop, list(value)])
            return
        try:
            self._callmethod("setitem", [i, value])
        except IndexOutOfRange:
            raise IndexError("list assignment index out of range") from None

    def __delitem__(self, i):
        if isinstance(i, slice):
            if i.step not in (None, 1):
                raise ValueError("extended slice deletion is not supported by a shared list")
            self._callmethod("delslice", [i.start, i.stop])
            return
        try:
            self._callmethod("delitem", [i])
        except IndexOutOfRange:
            raise IndexError("list assignment index out of range") from None

    def insert(self, i, x):
        self._callmethod("insert", [i, x])

    def append(self, x):
        self._callmethod("append", [x])

    def extend(self, xs):
        self._callmethod("extend", [list(xs)])

    def __iadd__(self, xs):
        self.extend(xs)
        return self

    # As multiprocessing's ListProxy: ``+`` and ``*`` give a plain list,
    # ``+=`` and ``*=`` change the shared list and keep the proxy (there
    # is no __radd__: ``[1] + proxy`` is a TypeError there too).
    def __add__(self, other):
        return self.copy() + other

    def __mul__(self, n):
        return self.copy() * n

    __rmul__ = __mul__

    def __imul__(self, n):
        """``l *= n``: two calls (a copy, then an extend or a clear), so
        not atomic, unlike multiprocessing's server-side ``__imul__``."""
        n = n.__index__()
        if n <= 0:
            self.clear()
        elif n > 1:
            self.extend(self.copy() * (n - 1))
        return self

    def index(self, x, start=None, stop=None):
        args = [x] + ([start] if start is not None or stop is not None else []) + ([stop] if stop is not None else [])
        try:
            return self._callmethod("index", args)
        except NotInList:
            raise ValueError("%r is not in list" % (x,)) from None

    def count(self, x):
        return self._callmethod("count", [x])

    def remove(self, x):
        try:
            self._callmethod("remove", [x])
        except NotInList:
            raise ValueError("list.remove(x): x not in list") from None

    def pop(self, i=-1):
        try:
            return self._callmethod("pop", [i])
        except IndexOutOfRange as e:
            raise IndexError("pop from empty list" if "empty" in str(e) else "pop index out of range") from None

    def reverse(self):
        self._callmethod("reverse")

    def sort(self, *, key=None, reverse=False):
        """Sorts in place (atomic on the server; with `key`, sorted here and
        written back, which is not atomic)."""
        if key is None:
            self._callmethod("sort", [bool(reverse)])
        else:
            self[:] = sorted(self.copy(), key=key, reverse=reverse)

    def __contains__(self, x):
        return self._callmethod("contains", [x])

    def __iter__(self):
        # As multiprocessing's ListProxy (iterated by index until
        # IndexError): a live view that sees items appended meanwhile and
        # ends at the list's current end; fetched in slices (16 items,
        # doubling up to 1024) rather than a round trip per item.
        i, step = 0, 16
        while True:
            chunk = self._callmethod("getslice", [i, i + step])
            if not chunk:
                return
            yield from chunk
            i += len(chunk)
            step = min(step * 2, 1024)

    def __reversed__(self):
        return reversed(self.copy())

    def clear(self):
        self._callmethod("clear")

    def copy(self):
        """A plain list snapshot."""
        return self._callmethod("copy")

    def __eq__(self, other):
        return self.copy() == (other.copy() if isinstance(other, ListProxy) else other)

    __hash__ = None

    def _getvalue(self):
        return self.copy()

    def _state(self):
        return str(self.copy())


class NamespaceProxy(BaseProxy):
    """A shared namespace: attributes live on the server.

    Every attribute whose name does not start with ``_`` is the user's (on
    the server), as in multiprocessing's NamespaceProxy: ``ns.name = "Bob";
    ns.name == "Bob"``. The proxy's own attributes all start with ``_``:
    the object's name on the server is ``ns._token.id`` (or ``ns._id``); a
    Namespace with a chosen server name is made with
    ``manager.named("cfg").Namespace(x=1)``. Names starting with ``_`` are
    attributes of this proxy object only, as in multiprocessing."""

    _OVERRIDE = {B.MP_E_NOTFOUND: AttributeMissing}

    def __getattribute__(self, key):
        # __getattribute__, not __getattr__: a user's attribute must win
        # over anything the proxy's classes define (``name`` included).
        if key[:1] == "_":
            return object.__getattribute__(self, key)
        try:
            return object.__getattribute__(self, "_callmethod")("getattr", [key])
        except AttributeMissing:
            raise AttributeError("'Namespace' object has no attribute %r" % key) from None

    def __setattr__(self, key, value):
        if key[:1] == "_":
            object.__setattr__(self, key, value)
        else:
            self._callmethod("setattr", [key, value])

    def __delattr__(self, key):
        if key[:1] == "_":
            object.__delattr__(self, key)
            return
        try:
            self._callmethod("delattr", [key])
        except AttributeMissing:
            raise AttributeError(key) from None

    def _state(self):
        d = self._callmethod("dict")
        return "Namespace(%s)" % ", ".join(sorted("%s=%r" % kv for kv in d.items() if not kv[0].startswith("_")))


class ValueProxy(BaseProxy):
    """A shared value: ``get()``, ``set(v)``, ``.value``; extras
    ``incr(delta=1)`` and ``compare_and_set(expected, new)``."""

    def get(self):
        return self._callmethod("get")

    def set(self, value):
        self._callmethod("set", [value])

    value = property(get, set)

    def incr(self, delta=1):
        return self._callmethod("incr", [delta])

    def compare_and_set(self, expected, new):
        return self._callmethod("compare_and_set", [expected, new])

    # The typecode given to manager.Value() (the server keeps none): for
    # str(), as multiprocessing's ``Value('i', 3)``; None when this proxy
    # came by name or as a reference.
    _typecode = None

    def _restore(self, extra):
        self._typecode = extra

    def _extra(self):
        return self._typecode

    def _state(self):
        if self._typecode is None:
            return "Value(%r)" % (self.get(),)
        return "Value(%r, %r)" % (self._typecode, self.get())


class ArrayProxy(BaseProxy):
    """A shared fixed-length array of one typecode."""

    def __len__(self):
        return self._callmethod("len")

    def __getitem__(self, i):
        if isinstance(i, slice):
            if i.step not in (None, 1):
                return self.tolist()[i]
            return self._callmethod("getslice", [i.start, i.stop])
        try:
            return self._callmethod("getitem", [i])
        except IndexOutOfRange:
            raise IndexError("array index out of range") from None

    def __setitem__(self, i, value):
        if isinstance(i, slice):
            if i.step not in (None, 1):
                raise ValueError("extended slice assignment is not supported by a shared array")
            self._callmethod("setslice", [i.start, i.stop, list(value)])
            return
        try:
            self._callmethod("setitem", [i, value])
        except IndexOutOfRange:
            raise IndexError("array assignment index out of range") from None

    def __iter__(self):
        return iter(self.tolist())

    def tolist(self):
        return self._callmethod("tolist")

    @property
    def typecode(self):
        return self._callmethod("typecode")

    def incr(self, index, delta=1):
        """Atomically adds `delta` to integer element `index`; returns the new value."""
        return self._callmethod("incr", [index, delta])

    def _state(self):
        # As the array.array multiprocessing's ArrayProxy shows.
        items = self.tolist()
        return "array(%r, %r)" % (self.typecode, items) if items else "array(%r)" % (self.typecode,)


# --------------------------------------------------------------------------
# Queue and the synchronisation kinds


class QueueProxy(BaseProxy):
    """A queue held by the server (``queue.Queue`` semantics plus
    ``task_done``/``join``)."""

    def put(self, obj, block=True, timeout=None):
        # (An object the codec cannot carry raises EncodeError, a
        # TypeError, before anything is sent: each call encodes first.)
        ms = timeout_ms(timeout) if block else 0
        self._client.call_sliced(self._kind, self._name, "put", [obj], ms, _FULL, {_FULL: Full})

    def get(self, block=True, timeout=None):
        ms = timeout_ms(timeout) if block else 0
        return self._client.call_sliced(self._kind, self._name, "get", [], ms, _EMPTY, {_EMPTY: Empty})

    def put_nowait(self, obj):
        return self.put(obj, False)

    def get_nowait(self):
        return self.get(False)

    def qsize(self):
        return self._callmethod("qsize")

    def empty(self):
        return self._callmethod("empty")

    def full(self):
        return self._callmethod("full")

    def task_done(self):
        try:
            self._callmethod("task_done")
        except ValueError:
            raise ValueError("task_done() called too many times") from None

    def join(self, timeout=None):
        self._client.call_sliced(self._kind, self._name, "join", [], timeout_ms(timeout), _TIMEOUT,
                                 {_TIMEOUT: Timeout})

    def _state(self):
        return "<Queue %r: qsize=%d>" % (self._name, self.qsize())


_PERM = {B.MP_E_PERM: NotOwner}


class AcquirerProxy(BaseProxy):
    """Lock / RLock / Semaphore / BoundedSemaphore held by the server,
    owned by the connection (thread) that acquired it."""

    def acquire(self, blocking=True, timeout=None):
        ms = threading_timeout_ms(blocking, -1 if timeout is None else timeout) if blocking else 0
        left = ms
        while True:
            step = SLICE_MS if left < 0 or left > SLICE_MS else left
            try:
                got = self._callmethod("acquire", [step])
            except ValueError as e:
                if self._kind == "lock" and getattr(e, "code", None) == B.MP_E_INVAL:
                    if ms == FOREVER:
                        raise RuntimeError("this thread already holds manager Lock %r: acquiring it again "
                                           "would deadlock" % self._name) from None
                    return False
                raise
            if got or left == step:
                return got
            if left > 0:
                left -= step

    def release(self, n=1):
        if self._kind in ("semaphore", "bounded_semaphore"):
            try:
                self._callmethod("release", [n])
            except ValueError:
                if self._kind == "bounded_semaphore":
                    raise ValueError("Semaphore released too many times") from None
                raise
        else:
            self._callmethod("release", [], _PERM)

    def locked(self):
        return self._callmethod("locked")

    def get_value(self):
        return self._callmethod("get_value")

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()

    def _state(self):
        # As threading's: "<unlocked ... Lock>", "<... Semaphore ...: value=2>".
        if self._kind in ("semaphore", "bounded_semaphore"):
            return "<%s %r: value=%d>" % (_TYPEIDS[self._kind], self._name, self.get_value())
        return "<%s %s %r>" % ("locked" if self.locked() else "unlocked", _TYPEIDS.get(self._kind, self._kind),
                               self._name)


class EventProxy(BaseProxy):
    def is_set(self):
        return self._callmethod("is_set")

    def set(self):
        self._callmethod("set")

    def clear(self):
        self._callmethod("clear")

    def wait(self, timeout=None):
        left = timeout_ms(timeout)
        while True:
            step = SLICE_MS if left < 0 or left > SLICE_MS else left
            if self._callmethod("wait", [step]):
                return True
            if left == step:
                return False
            if left > 0:
                left -= step

    def _state(self):
        return "<Event %r: %s>" % (self._name, "set" if self.is_set() else "unset")


class ConditionProxy(AcquirerProxy):
    """A condition with its own (recursive) lock on the server."""

    def wait(self, timeout=None):
        return self._callmethod("wait", [timeout_ms(timeout)], _PERM)

    def wait_for(self, predicate, timeout=None):
        return wait_for(self.wait, predicate, timeout)

    def notify(self, n=1):
        self._callmethod("notify", [n], _PERM)

    def notify_all(self):
        self._callmethod("notify_all", [], _PERM)

    def _state(self):
        return "<Condition %r>" % (self._name,)


class BarrierProxy(BaseProxy):
    def _restore(self, extra):
        self._timeout = extra

    def _extra(self):
        return getattr(self, "_timeout", None)

    def wait(self, timeout=None):
        if timeout is None:
            timeout = getattr(self, "_timeout", None)
        return self._callmethod("wait", [timeout_ms(timeout)])

    def abort(self):
        self._callmethod("abort")

    def reset(self):
        self._callmethod("reset")

    @property
    def parties(self):
        return self._callmethod("parties")

    @property
    def n_waiting(self):
        return self._callmethod("n_waiting")

    @property
    def broken(self):
        return self._callmethod("broken")

    def _state(self):
        # As threading.Barrier's: "waiters=1/2", or "broken".
        if self.broken:
            return "<Barrier %r: broken>" % (self._name,)
        return "<Barrier %r: waiters=%d/%d>" % (self._name, self.n_waiting, self.parties)


# --------------------------------------------------------------------------
# the manager


def _stop_server(h, pid, tmpdir):
    """Finalizer of a started manager: stop the server (only in the process
    that started it) and remove its private socket directory."""
    if h and os.getpid() == pid:
        lib.mp_mgr_server_shutdown(h)
        if tmpdir:
            try:
                os.rmdir(tmpdir)
            except OSError:
                pass


def _serializer_flag(serializer):
    """The codec's `pickle` argument for a manager's `serializer`."""
    if serializer == "xmlrpclib":
        raise ValueError("mpipc: serializer='xmlrpclib' is not supported: manager values cross as CBOR "
                         "(readable by every language), or as pickle between Python processes with "
                         "serializer='pickle'")
    return _codec.serializer_flag(serializer)  # None: the module default (mpipc.set_serializer)


class BaseManager:
    """``multiprocessing.managers.BaseManager``: ``start()`` runs the
    server (threads of this process); ``connect()`` attaches to a running
    one (ours, another process's, or ``mpipc manager serve``). Its
    factories are the typeids ``register()``ed on its class (SyncManager
    has them all).

    ``address``: a socket path, ``(host, port)``, or ``unix:...``/``tcp:...``;
    None = a new Unix socket in a private temporary directory; for
    ``connect()`` also a Redis / Valkey server's URL
    (``redis://host:port[/db][?ns=app]``, ``redis+unix:///path/redis.sock``;
    docs/REDIS.md), whose password is the ``authkey`` if the URL has none. ``authkey``:
    None = ``multiprocessing.current_process().authkey`` (as Python; none
    for a Redis URL); pass
    ``b""`` for no authentication (a Unix socket is mode 0600 anyway).

    ``serializer``: None = the module default (``mpipc.set_serializer``,
    CBOR unless changed); ``"pickle"`` lets values CBOR cannot carry cross
    as pickles between Python processes (docs/TYPES.md; read pickle's
    security warning: unpickling runs code chosen by whoever wrote the
    value); ``"cbor"`` never pickles; ``"xmlrpclib"`` raises ValueError.
    Unlike multiprocessing, the default is not pickle: values stay
    readable by every language."""

    _registry = {}

    def __init__(self, address=None, authkey=None, serializer=None, ctx=None, *, shutdown_timeout=None):
        self._pickle = _serializer_flag(serializer)
        self._address = address
        if authkey is None:
            # A Redis server's password is no process's authkey: none (or the URL's).
            url = isinstance(address, str) and _URL.match(address)
            authkey = b"" if url else bytes(multiprocessing.current_process().authkey)
        self._authkey = bytes(authkey)
        self._server = None
        self._finalizer = None
        self._client = None
        self._tmpdir = None
        self._stopped = False
        register_after_fork(self)

    def _after_fork_child(self):
        # The server's threads stay in the parent; never shut them down here.
        if self._finalizer is not None:
            self._finalizer.cancel()
            self._finalizer = None
        self._server = None

    def start(self, initializer=None, initargs=()):
        """Starts the server in this process (a thread per client)."""
        import multiprocessing.util

        if self._server is not None:
            raise RuntimeError("manager already started")
        addr = self._address
        if addr is None:
            self._tmpdir = tempfile.mkdtemp(prefix="mpipc-mgr-")
            addr = os.path.join(self._tmpdir, "manager.sock")
        out = ctypes.c_void_p()
        key = self._authkey or None
        rc = lib.mp_mgr_serve(_to_c_address(addr).encode(), key, len(self._authkey), ctypes.byref(out))
        if rc:
            raise error(rc)
        self._server = out.value
        self._finalizer = multiprocessing.util.Finalize(
            self, _stop_server, args=(out.value, os.getpid(), self._tmpdir), exitpriority=1)
        buf = ctypes.create_string_buffer(512)
        n = ctypes.c_size_t()
        rc = lib.mp_mgr_server_address(out.value, buf, 512, ctypes.byref(n))
        if rc:
            raise error(rc)
        self._caddress = buf.value.decode()
        self._client = _client_for(self._caddress, self._authkey, self._pickle)
        if initializer is not None:
            initializer(*initargs)
        return self

    def connect(self):
        """Attaches to the server at `address` (checks it answers)."""
        if self._address is None:
            raise ValueError("connect() needs an address")
        self._caddress = _to_c_address(self._address)
        self._client = _client_for(self._caddress, self._authkey, self._pickle)
        self._client.call("manager", "", "ping")
        return self

    @property
    def address(self):
        return _from_c_address(self._caddress) if self._client else self._address

    def reconnect(self, timeout=None):
        """Re-dials the server at the same address with the same authkey,
        after it stopped, crashed or restarted (calls then raise
        ``mpipc.ConnectionLost``), waiting up to `timeout` seconds (None =
        forever) for a server to accept: while none listens (it is
        restarting) the dial is retried. Raises ``mpipc.Timeout`` (a
        ``TimeoutError``) when none came up in time -- the manager stays
        disconnected -- and ``mpipc.AuthenticationError`` when the server
        refuses the key.

        A restarted server starts empty: recreate the objects you need
        (proxies keep their names and work again once the objects exist;
        most kinds are created on first use). Nothing is retried
        automatically: a call that raised may or may not have been applied
        by the old server.

        Every connection of this manager is replaced: the calling thread's
        now, every other thread's at its next call. Locks held through the
        old connections are gone with them."""
        if self._client is None:
            raise ValueError("manager not started or connected")
        self._client.reconnect(timeout)
        self._stopped = False

    @property
    def connected(self):
        """Whether this manager has a working connection as far as it
        knows: False once a call (in any thread) found the server gone,
        until ``reconnect()`` succeeds; False before ``start()`` /
        ``connect()`` and after ``shutdown()`` of a server this manager
        started. A server that died since the last call is noticed by the
        next call, not here."""
        if self._client is None or self._stopped:
            return False
        return self._client.connected()

    def shutdown(self):
        """Stops the server this manager started (blocked calls get
        mpipc.ShutDown, clients then EOFError); a no-op for a connected one."""
        if self._client is not None:
            self._client.close()
        if self._finalizer is not None:
            self._finalizer()  # stops the server, removes the socket's directory
            self._finalizer = None
            self._server = None
            self._tmpdir = None
            self._stopped = True

    def join(self, timeout=None):
        pass

    def __enter__(self):
        if self._client is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()

    # -- objects -------------------------------------------------------------

    def _proxy(self, cls, kind, name, create_args=None):
        if self._client is None:
            raise ValueError("manager not started or connected")
        if name is None:
            name = getattr(_naming, "name", None)
            _naming.name = None  # one object per named() call
        if name is None:
            name = gen_name("m" + kind[:3])
        # Created now (as Python's manager does), or attached if the name
        # exists with this kind (TypeError for another kind).
        self._client.call(kind, name, "create", create_args or [])
        return cls(self._client, kind, name)

    def named(self, name):
        """The factories of this manager making (or attaching to) the object
        called `name` on the server: ``m.named("cfg").Namespace(x=1)``,
        ``m.named("jobs").Queue(100)``. For ``Namespace``, whose keyword
        arguments are all attributes (``m.Namespace(name="Bob").name ==
        "Bob"``, as multiprocessing's), this is the way to choose its name;
        the other factories also take ``name=``."""
        return _Named(self, name)

    def delete(self, name):
        """Removes the object `name` from the server; True if it existed."""
        return self._client.call("manager", name, "delete")

    def objects(self):
        """[(name, kind), ...] of every object on the server."""
        return [tuple(x) for x in self._client.call("manager", "", "list")]

    @classmethod
    def register(cls, typeid, callable=None, proxytype=None, exposed=None, method_to_typeid=None,
                 create_method=True):
        """Adds the factory method `typeid` to this manager class, as
        multiprocessing's ``register``, for the kinds the server holds.

        The server is written in Rust: it cannot run Python callables. So
        `callable` is either None or one of the constructors of the
        built-in kinds -- ``dict``, ``list``, ``queue.Queue``,
        ``threading.Lock`` / ``RLock`` / ``Semaphore`` /
        ``BoundedSemaphore`` / ``Event`` / ``Condition`` / ``Barrier``,
        ``multiprocessing.managers.Namespace`` / ``Value`` / ``Array`` --
        and ``m.<typeid>(*args)`` then makes a new object of that kind, as
        the built-in factory does. Any other callable raises TypeError at
        ``register`` time.

        With ``callable=None`` (how a client of a multiprocessing
        BaseManager registers a typeid the server defines):
        ``m.<typeid>(*args)`` is the object *named* `typeid` on the
        server, created on first use (so every process that calls it
        meets the same object: the ``register('get_queue')`` pattern), of
        the kind `proxytype` says, or, if `typeid` is a built-in name
        (``'dict'``, ``'Queue'``, ...), a new object as above. With
        neither, the kind is that of the existing object of that name on
        the server (LookupError if there is none).

        `proxytype`: an mpipc proxy type (``DictProxy``, ..., or a
        subclass, whose extra methods then come with the proxies), or
        multiprocessing's proxy type of the same name; None or
        ``AutoProxy`` = the kind's own. `exposed` and `method_to_typeid`
        are accepted and ignored (the proxies expose the kinds' methods).
        `create_method=False` registers without adding a method."""
        if not isinstance(typeid, str):
            raise TypeError("register(): typeid must be a str, not %s" % type(typeid).__name__)
        if "_registry" not in cls.__dict__:
            cls._registry = dict(cls._registry)
        pt = _mp_proxytype(proxytype)
        if pt is not None and not (isinstance(pt, type) and issubclass(pt, BaseProxy)):
            raise TypeError("mpipc: register(%r): proxytype must be one of mpipc.managers' proxy types (or a "
                            "subclass), not %r" % (typeid, proxytype))
        if callable is not None:
            base = _builtin_for_callable(callable)
            if base is None:
                raise TypeError(
                    "mpipc: register(%r, callable=%r): the manager server is written in Rust and cannot run "
                    "Python callables; register a built-in kind instead (callable=dict, list, queue.Queue, "
                    "threading.Lock/RLock/Semaphore/BoundedSemaphore/Event/Condition/Barrier, "
                    "multiprocessing.managers.Namespace/Value/Array, or callable=None with an mpipc proxytype "
                    "for the object named %r on the server)" % (typeid, callable, typeid))
            named = False
        elif typeid in _FACTORIES:
            base, named = typeid, False
        else:
            root = _proxy_root(pt) if pt is not None else None
            # (AcquirerProxy alone does not say which kind: a Lock, the common case.)
            base, named = "Lock" if root is AcquirerProxy else _PROXY_BUILTIN.get(root), True
        if pt is not None and base is not None and not issubclass(pt, _FACTORY_CLASS[base]):
            raise TypeError("mpipc: register(%r): proxytype %s does not fit a %s"
                            % (typeid, pt.__name__, base))
        cls._registry[typeid] = (callable, exposed, method_to_typeid, proxytype)
        if create_method:
            method = _registered_factory(typeid, base, pt, named)
            method.__name__ = typeid
            setattr(cls, typeid, method)


class _Named:
    """manager.named(name): the manager's factories, each making or
    attaching to the object `name`."""

    __slots__ = ("_manager", "_objname")

    def __init__(self, manager, name):
        self._manager = manager
        self._objname = name

    def __getattr__(self, typeid):
        factory = getattr(self._manager, typeid)
        name = self._objname

        def make(*args, **kwds):
            _naming.name = name
            try:
                return factory(*args, **kwds)
            finally:
                _naming.name = None
        return make


# The name a manager.named(...) factory gives the object it makes (read
# and cleared by the next _proxy call of this thread).
_naming = threading.local()


class SyncManager(BaseManager):
    """``multiprocessing.managers.SyncManager``: a BaseManager with every
    built-in kind (dict, list, Namespace, Value, Array, Queue,
    JoinableQueue, Lock, RLock, Semaphore, BoundedSemaphore, Event,
    Condition, Barrier). Each factory makes a new object with a generated
    name, or, with ``name=...`` (or ``named(...)``), makes or attaches to
    the object of that name."""

    def dict(self, *args, name=None, **kwargs):
        """A shared dict (``dict(mapping_or_pairs, **kw)`` initial content)."""
        d = self._proxy(DictProxy, "dict", name)
        if args or kwargs:
            d.update(*args, **kwargs)
        return d

    def list(self, sequence=(), *, name=None):
        li = self._proxy(ListProxy, "list", name)
        if sequence:
            li.extend(sequence)
        return li

    def Namespace(self, /, **kwds):
        """A shared namespace with the attributes `kwds` (every keyword is
        an attribute, as multiprocessing's: ``Namespace(name="Bob").name ==
        "Bob"``). A chosen server name: ``manager.named("cfg").Namespace(...)``."""
        ns = self._proxy(NamespaceProxy, "namespace", None)
        for k, v in kwds.items():
            setattr(ns, k, v)
        return ns

    def Value(self, typecode, value, lock=True, *, name=None):
        v = self._proxy(ValueProxy, "value", name, [value])
        v._typecode = typecode
        return v

    def Array(self, typecode, sequence, lock=True, *, name=None):
        init = sequence if isinstance(sequence, int) else list(sequence)
        return self._proxy(ArrayProxy, "array", name, [typecode, init])

    def Queue(self, maxsize=0, *, name=None):
        return self._proxy(QueueProxy, "queue", name, [maxsize])

    JoinableQueue = Queue

    def Lock(self, *, name=None):
        return self._proxy(AcquirerProxy, "lock", name)

    def RLock(self, *, name=None):
        return self._proxy(AcquirerProxy, "rlock", name)

    def Semaphore(self, value=1, *, name=None):
        return self._proxy(AcquirerProxy, "semaphore", name, [value])

    def BoundedSemaphore(self, value=1, *, name=None):
        return self._proxy(AcquirerProxy, "bounded_semaphore", name, [value])

    def Event(self, *, name=None):
        return self._proxy(EventProxy, "event", name)

    def Condition(self, lock=None, *, name=None):
        if lock is not None:
            raise ValueError("a manager Condition has its own lock on the server")
        return self._proxy(ConditionProxy, "condition", name)

    def Barrier(self, parties, action=None, timeout=None, *, name=None):
        if action is not None:
            raise ValueError("a manager Barrier cannot run an action")
        b = self._proxy(BarrierProxy, "barrier", name, [parties])
        b._timeout = timeout
        return b


# register(): the built-in factories (SyncManager's methods), by typeid.
_FACTORY_CLASS = {
    "dict": DictProxy, "list": ListProxy, "Namespace": NamespaceProxy, "Value": ValueProxy, "Array": ArrayProxy,
    "Queue": QueueProxy, "JoinableQueue": QueueProxy, "Lock": AcquirerProxy, "RLock": AcquirerProxy,
    "Semaphore": AcquirerProxy, "BoundedSemaphore": AcquirerProxy, "Event": EventProxy,
    "Condition": ConditionProxy, "Barrier": BarrierProxy,
}
_FACTORIES = frozenset(_FACTORY_CLASS)
# SyncManager's own factories, as defined (a register() of the same typeid
# on SyncManager replaces its attribute, not these).
_BUILTIN_FACTORY = {t: SyncManager.__dict__[t] for t in _FACTORIES}
SyncManager._registry = {t: (None, None, None, c) for t, c in _FACTORY_CLASS.items()}
# The typeid a proxy type stands for when register() gets no callable.
_PROXY_BUILTIN = {
    DictProxy: "dict", ListProxy: "list", NamespaceProxy: "Namespace", ValueProxy: "Value", ArrayProxy: "Array",
    QueueProxy: "Queue", EventProxy: "Event", ConditionProxy: "Condition", BarrierProxy: "Barrier",
}
# A manager object's kind -> its proxy type (decoding a reference).
_KIND_CLASS = {
    "dict": DictProxy, "list": ListProxy, "namespace": NamespaceProxy, "value": ValueProxy, "array": ArrayProxy,
    "queue": QueueProxy, "lock": AcquirerProxy, "rlock": AcquirerProxy, "semaphore": AcquirerProxy,
    "bounded_semaphore": AcquirerProxy, "event": EventProxy, "condition": ConditionProxy, "barrier": BarrierProxy,
}


def _proxy_root(pt):
    """The built-in proxy type `pt` is (or derives from)."""
    for c in pt.__mro__:
        if c in _PROXY_BUILTIN or c is AcquirerProxy:
            return c
    return None


def _builtin_for_callable(fn):
    """The built-in typeid whose constructor `fn` is, or None."""
    import multiprocessing.managers as mm

    table = {
        dict: "dict", list: "list", _queue.Queue: "Queue", threading.Lock: "Lock", threading.RLock: "RLock",
        threading.Semaphore: "Semaphore", threading.BoundedSemaphore: "BoundedSemaphore",
        threading.Event: "Event", threading.Condition: "Condition", threading.Barrier: "Barrier",
        mm.Namespace: "Namespace", mm.Value: "Value", mm.Array: "Array",
    }
    try:
        return table.get(fn)
    except TypeError:  # unhashable
        return None


def _mp_proxytype(pt):
    """multiprocessing's proxy types -> ours (AutoProxy -> None)."""
    if pt is None or (isinstance(pt, type) and issubclass(pt, BaseProxy)):
        return pt
    import multiprocessing.managers as mm

    if pt is mm.AutoProxy:
        return None
    if getattr(pt, "__module__", None) == mm.__name__:
        ours = {"DictProxy": DictProxy, "ListProxy": ListProxy, "NamespaceProxy": NamespaceProxy,
                "ValueProxy": ValueProxy, "ArrayProxy": ArrayProxy, "AcquirerProxy": AcquirerProxy,
                "EventProxy": EventProxy, "ConditionProxy": ConditionProxy, "BarrierProxy": BarrierProxy,
                "BaseProxy": None}.get(getattr(pt, "__name__", None), pt)
        return ours
    return pt


def _registered_factory(typeid, base, pt, named):
    """The method register() adds: see BaseManager.register."""

    def finish(p):
        if pt is not None and type(p) is not pt:
            p.__class__ = pt  # a subclass of the built-in proxy type (checked in register)
        p._typeid = typeid
        return p

    if not named:
        def method(self, /, *args, **kwds):
            return finish(_BUILTIN_FACTORY[base](self, *args, **kwds))
        return method

    def method(self, /, *args, **kwds):
        b = base
        if b is None:  # AutoProxy: the kind of the existing object of that name
            kinds = [k for n, k in self.objects() if n == typeid]
            if not kinds:
                raise LookupError("mpipc: no object named %r on the manager server, and register(%r) gave no "
                                  "proxytype to create one" % (typeid, typeid))
            cls = _KIND_CLASS.get(kinds[0])
            if cls is None:
                raise TypeError("mpipc: the object %r on the server is a %r, which Python has no proxy for"
                                % (typeid, kinds[0]))
            return finish(cls(self._client, kinds[0], typeid))
        _naming.name = typeid
        try:
            return finish(_BUILTIN_FACTORY[b](self, *args, **kwds))
        finally:
            _naming.name = None
    return method


def _resolve_ref(kind, name, address):
    """The codec's REF decoder (docs/PROTOCOL.md, "References to manager
    objects"): a proxy of `kind` for the object `name` of the server at
    `address`, through a client this process already has for that
    server, else one authenticated with the process's authkey."""
    cls = _KIND_CLASS.get(kind, BaseProxy)
    p = cls.__new__(cls)
    BaseProxy.__init__(p, _client_at(address), kind, name)
    return p


_codec.set_ref_resolver(_resolve_ref)


def Manager(address=None, authkey=None, serializer=None):
    """A started SyncManager (``multiprocessing.Manager()``); see
    BaseManager for `serializer`."""
    return SyncManager(address, authkey, serializer).start()


def connect_manager(address, authkey=None, serializer=None):
    """A SyncManager connected to the server at `address`. `authkey` None
    means no authentication (as ``mpipc manager serve`` without
    ``--authkey-file``). At a Redis / Valkey URL (``redis://host:port[/db]
    [?ns=app]``; docs/REDIS.md) the objects live on that server and
    `authkey` is its password."""
    m = SyncManager(address, b"" if authkey is None else authkey, serializer)
    return m.connect()
