"""Pipe, Connection, Listener, Client and wait over ``mp_pipe`` (the wire
format and HMAC handshake of ``multiprocessing.connection``, so a stock
Python ``Client``/``Listener`` can be the peer of ``send_bytes`` /
``recv_bytes``; objects travel as CBOR, never pickle).

Addresses are Python's: a filesystem path (str) for a Unix socket, a
string starting with NUL for an abstract one, a ``(host, port)`` tuple for
TCP. TCP requires an authkey on both sides (a security default of the
library); ``Listener(..., allow_insecure_tcp=True)`` opts a listener out.
"""

import ctypes
import itertools
import os
import selectors
import tempfile
import threading
import time

from . import _bindings as B
from ._codec import (
    _DECODE_ERRORS, _PLAIN, _tls as _ctls, MARK, MARK_VALUE, MAX_DEPTH, PAD_AFTER, PAD_BEFORE, _loads, _marshal,
    decode, decode_framed, encode, new_encoder,
)
from ._common import (
    BIG_MESSAGE, SLICE_MS, _tls, framed_rx, grow_framed_rx, open_handle, register_after_fork, take_buf, timeout_ms,
)
from ._errors import AuthenticationError, BufferTooShort, error
from ._ffi import lib, raw

__all__ = ["Pipe", "Connection", "Listener", "Client", "wait", "AuthenticationError", "BufferTooShort"]

_EMPTY = B.MP_E_EMPTY
_BUFSIZE = B.MP_E_BUFSIZE
_DEPTH = MAX_DEPTH + 1

# The hot calls without ctypes argument conversion (see _ffi.raw): every
# argument is a ready ctypes object or bytes. Both may wait (a full
# socket buffer, no message yet), so they release the GIL.
_send = raw.mp_pipe_send
_recv_into = raw.mp_pipe_recv_into
_c_size = ctypes.c_size_t
_SLICE = ctypes.c_int64(SLICE_MS)

# How long a receive busy-polls before it sleeps in the kernel, for every
# Connection this module makes (the library's default is 0: never). A
# sleeping receiver makes every send pay a wake-up (the kernel's
# scheduling of the receiver: several microseconds, more than the whole
# send) and pays one itself; a Python peer sends its next message within
# a few microseconds, so a short spin finds it. As DEFAULT_SPIN_US of the
# queues: 250 us, adapting down when spins fail, and spinning only while a
# CPU is idle (the library's gate), so a busy machine is not slowed by it.
DEFAULT_SPIN_US = 250


class Connection:
    """One end of a pipe or socket connection (multiprocessing's
    ``Connection``). Thread-safe: sends are serialised with each other and
    receives with each other. close() waits for calls in progress on other
    threads to return (within one 100 ms slice) before freeing the handle."""

    def __init__(self, handle, readable=True, writable=True):
        self._h = handle
        # The handle as a ready ctypes argument for the hot calls.
        self._hc = ctypes.c_void_p(handle)
        self._readable = readable
        self._writable = writable
        # The calls in progress on this handle, one entry each: close()
        # frees the handle only when none is. A list, because append and
        # pop are atomic under the GIL, so the hot paths need no lock:
        # a call appends BEFORE it reads _closing, close() sets _closing
        # BEFORE it looks at the list, so either close() sees the call (and
        # leaves the freeing to the last call out) or the call sees
        # _closing (and never touches the handle).
        self._calls = []
        self._lock = threading.Lock()  # serialises _free (and close)
        self._closing = False
        register_after_fork(self)
        if handle is not None:
            lib.mp_pipe_set_spin(handle, DEFAULT_SPIN_US)

    def _after_fork_child(self):
        # The parent's other threads, and their calls, are not in the child.
        self._lock = threading.Lock()
        self._calls = []

    # -- handle guard ---------------------------------------------------------

    def _enter(self):
        self._calls.append(None)
        if self._closing or self._h is None:
            self._leave()
            raise OSError("handle is closed")
        return self._h

    def _leave(self):
        calls = self._calls
        calls.pop()
        if self._closing and not calls:
            self._free()

    def _free(self):
        with self._lock:
            h, self._h = self._h, None
        if h is not None:
            lib.mp_pipe_close(h)

    def _check_readable(self):
        if not self._readable:
            raise OSError("connection is write-only")

    def _check_writable(self):
        if not self._writable:
            raise OSError("connection is read-only")

    @property
    def closed(self):
        """True if the connection is closed."""
        return self._h is None or self._closing

    @property
    def readable(self):
        return self._readable

    @property
    def writable(self):
        return self._writable

    def fileno(self):
        """The descriptor, for event loops (drain with poll(0)/recv until
        nothing is left once it is readable: received bytes are buffered)."""
        h = self._enter()
        try:
            return lib.mp_pipe_fileno(h)
        finally:
            self._leave()

    def close(self):
        """Closes the connection (the peer then gets EOFError)."""
        with self._lock:
            if self._h is None or self._closing:
                return
            self._closing = True
        if not self._calls:
            self._free()

    def __del__(self):
        try:
            if getattr(self, "_h", None) is not None and not self._calls:
                self._free()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- send -------------------------------------------------------------------

    def _send_data(self, data):
        """Sends one message of bytes `data` (the hot path of send and
        send_bytes: the guard of _enter/_leave written out)."""
        calls = self._calls
        calls.append(None)
        try:
            if self._closing or self._h is None:
                raise OSError("handle is closed")
            rc = _send(self._hc, data, _c_size(len(data)))
        finally:
            calls.pop()
            if self._closing and not calls:
                self._free()
        if rc:
            raise error(rc)

    def send_bytes(self, buf, offset=0, size=None):
        """Sends bytes-like data (whole or a slice) as one message."""
        if not self._writable:
            raise OSError("connection is read-only")
        if type(buf) is bytes and offset == 0 and size is None:
            return self._send_data(buf)
        m = memoryview(buf)
        if m.itemsize > 1:
            m = m.cast("B")
        n = len(m)
        if offset < 0:
            raise ValueError("offset is negative")
        if n < offset:
            raise ValueError("buffer length < offset")
        if size is None:
            size = n - offset
        elif size < 0:
            raise ValueError("size is negative")
        elif offset + size > n:
            raise ValueError("buffer length < offset + size")
        self._send_data(buf if type(buf) is bytes and offset == 0 and size == n else bytes(m[offset:offset + size]))

    def send(self, obj):
        """Sends an object as one CBOR message (TypeError at once if CBOR
        cannot carry it)."""
        if not self._writable:
            raise OSError("connection is read-only")
        # _codec.encode, inlined on the hot path (as Queue.put): this
        # thread's persistent cbor2 encoder; encode() (which makes the
        # thread's encoder when it has none, and raises EncodeError) only on
        # failure, or again for a possible half-precision float.
        try:
            data = _ctls.enc(obj)
        except Exception:
            data = encode(obj)
        if 0xF9 in data:  # (an int needle: 10x faster than b"\xf9")
            data = encode(obj)
        self._send_data(data)

    # -- receive ------------------------------------------------------------

    def _recv_framed(self):
        """Receives one message into this thread's framed buffer
        (_common.framed_rx); returns (view, n): the message is
        view[PAD_BEFORE:PAD_BEFORE + n]. A message over BIG_MESSAGE that
        does not fit returns (None, its bytes). EOFError at the end."""
        try:
            buf, view, n, nref, cap = _tls.rx
        except AttributeError:
            buf, view, n, nref, cap = framed_rx()
        calls = self._calls
        calls.append(None)
        try:
            if self._closing or self._h is None:
                raise OSError("handle is closed")
            hc = self._hc
            while True:
                rc = _recv_into(hc, buf, cap, nref, _SLICE)
                if rc == _EMPTY:
                    if self._closing:
                        raise OSError("handle is closed")
                    continue
                if rc != _BUFSIZE:
                    break
                # The message is kept; n says how big it is.
                if n.value > BIG_MESSAGE:
                    return None, self._recv_allocated()
                buf, view, n, nref, cap = grow_framed_rx(n.value)
        finally:
            calls.pop()
            if self._closing and not calls:
                self._free()
        if rc:
            raise error(rc)
        return view, n.value

    def _recv_allocated(self):
        """One message's bytes, in memory the library allocates (a huge
        message: the thread's buffer does not grow that far). Called with
        the handle guarded."""
        b = B.mp_buf()
        while True:
            rc = lib.mp_pipe_recv_timeout(self._h, ctypes.byref(b), SLICE_MS)
            if rc != _EMPTY:
                break
            if self._closing:
                raise OSError("handle is closed")
        if rc:
            raise error(rc)
        return take_buf(b)

    def _recv(self, ms=-1):
        """One message's bytes (EOFError at the end; None if nothing came
        within `ms` >= 0)."""
        if ms < 0:
            view, n = self._recv_framed()
            if view is None:
                return n
            return bytes(view[PAD_BEFORE:PAD_BEFORE + n])
        h = self._enter()
        try:
            b = B.mp_buf()
            left = ms
            while True:
                step = SLICE_MS if left < 0 or left > SLICE_MS else left
                rc = lib.mp_pipe_recv_timeout(h, ctypes.byref(b), step)
                if rc != _EMPTY:
                    break
                if left == step:
                    return None
                if left > 0:
                    left -= step
                if self._closing:
                    raise OSError("handle is closed")
        finally:
            self._leave()
        if rc:
            raise error(rc)
        return take_buf(b)

    def recv_bytes(self, maxlength=None):
        """Receives one message as bytes; EOFError when the peer closed and
        nothing is left. A message longer than `maxlength` raises OSError
        and closes the connection, as multiprocessing does."""
        self._check_readable()
        if maxlength is not None and maxlength < 0:
            raise ValueError("negative maxlength")
        data = self._recv()
        if maxlength is not None and len(data) > maxlength:
            self.close()
            raise OSError("bad message length")
        return data

    def recv(self):
        """Receives one object (a CBOR message)."""
        if not self._readable:
            raise OSError("connection is write-only")
        # _recv_framed's common case written out (a method call and a tuple
        # cost about a tenth of a small message's receive): one try with
        # this thread's buffer; anything else goes the long way.
        try:
            buf, view, n, nref, cap = _tls.rx
        except AttributeError:
            buf, view, n, nref, cap = framed_rx()
        calls = self._calls
        calls.append(None)
        try:
            if self._closing or self._h is None:
                raise OSError("handle is closed")
            rc = _recv_into(self._hc, buf, cap, nref, _SLICE)
        finally:
            calls.pop()
            if self._closing and not calls:
                self._free()
        if rc:
            if rc != _EMPTY and rc != _BUFSIZE:
                raise error(rc)
            # Nothing within the slice, or a message too big for the
            # buffer (still queued): the general path.
            view, n = self._recv_framed()
            if view is None:
                return decode(n)
        else:
            n = n.value
        # _codec.decode_framed, inlined on the hot path (as Queue.get).
        end = PAD_BEFORE + n
        view[end:end + PAD_AFTER] = MARK
        framed = view[:end + PAD_AFTER]
        try:
            pair = _loads(framed, max_depth=_DEPTH)
        except _DECODE_ERRORS:
            return decode_framed(framed)  # raises DecodeError
        if pair[1] != MARK_VALUE:
            return decode_framed(framed)  # raises DecodeError
        value = pair[0]
        if type(value) not in _PLAIN:
            try:
                _marshal(value)
            except Exception:
                return decode_framed(framed)
        return value

    def recv_bytes_into(self, buf, offset=0):
        """Receives one message into a writable buffer at `offset`; returns
        its length. If it does not fit, the message is consumed and
        BufferTooShort is raised with it as ``e.args[0]`` (as
        multiprocessing)."""
        self._check_readable()
        m = memoryview(buf)
        if m.itemsize > 1 or m.format != "B":
            m = m.cast("B")
        if offset < 0:
            raise ValueError("negative offset")
        if offset > len(m):
            raise ValueError("offset too large")
        data = self._recv()
        if len(data) > len(m) - offset:
            raise BufferTooShort(data)
        m[offset:offset + len(data)] = data
        return len(data)

    def poll(self, timeout=0.0):
        """Whether there is a message (or EOF) to receive, waiting at most
        `timeout` seconds (None = forever)."""
        self._check_readable()
        ready = ctypes.c_bool()
        h = self._enter()
        try:
            left = timeout_ms(timeout)
            while True:
                step = SLICE_MS if left < 0 or left > SLICE_MS else left
                rc = lib.mp_pipe_poll(h, step, ctypes.byref(ready))
                if rc or ready.value or left == step:
                    break
                if left > 0:
                    left -= step
        finally:
            self._leave()
        if rc:
            raise error(rc)
        return ready.value

    def set_spin(self, microseconds):
        """How long a receive busy-polls before sleeping, in microseconds
        (default DEFAULT_SPIN_US, 250; 0 = sleep at once). The library
        spins only while a CPU is idle."""
        h = self._enter()
        try:
            rc = lib.mp_pipe_set_spin(h, int(microseconds))
        finally:
            self._leave()
        if rc:
            raise error(rc)

    def __reduce__(self):
        # A connection is a descriptor; it passes to a forked child by
        # inheritance. Pickling it for spawn (multiprocessing's reduction
        # of Connection objects) is not supported.
        raise TypeError("mpipc Connection objects pass to children by fork only")

    def __repr__(self):
        return "<mpipc.connection.Connection%s>" % (" closed" if self.closed else "")


def Pipe(duplex=True):
    """A pair of connected Connections (multiprocessing's ``Pipe``): duplex
    over a socketpair; with ``duplex=False`` the first end only receives and
    the second only sends."""
    a = ctypes.c_void_p()
    b = ctypes.c_void_p()
    rc = lib.mp_pipe_new(bool(duplex), ctypes.byref(a), ctypes.byref(b))
    if rc:
        raise error(rc)
    if duplex:
        return Connection(a.value), Connection(b.value)
    return Connection(a.value, writable=False), Connection(b.value, readable=False)


# --------------------------------------------------------------------------
# Listener / Client

_counter = itertools.count()


def _to_c_address(address):
    if isinstance(address, tuple):
        host, port = address
        return "tcp:%s:%d" % (host, port)
    if isinstance(address, str):
        if address.startswith("\0"):
            return "unix:@" + address[1:]
        if address.startswith(("unix:", "tcp:")):
            return address
        return "unix:" + address
    raise TypeError("address must be a path (str) or a (host, port) tuple")


def _from_c_address(s):
    if s.startswith("tcp:"):
        host, _, port = s[4:].rpartition(":")
        return (host.strip("[]"), int(port))
    if s.startswith("unix:@"):
        return "\0" + s[6:]
    if s.startswith("unix:"):
        return s[5:]
    return s


def _key(authkey):
    if authkey is None:
        return None, 0
    if not isinstance(authkey, bytes):
        raise TypeError("authkey should be a byte string")
    return authkey, len(authkey)


def _arbitrary_address(family):
    if family == "AF_INET":
        return ("localhost", 0)
    d = tempfile.mkdtemp(prefix="mpipc-")
    return os.path.join(d, "listener-%d-%d" % (os.getpid(), next(_counter)))


class Listener:
    """``multiprocessing.connection.Listener(address=None, family=None,
    backlog=1, authkey=None)``: accepts authenticated connections; a stock
    Python ``Client`` can connect. ``accept(timeout=None)`` takes an optional
    timeout (seconds; TimeoutError)."""

    def __init__(self, address=None, family=None, backlog=1, authkey=None, *, allow_insecure_tcp=False):
        self._tmpdir = None
        if address is None:
            address = _arbitrary_address(family)
            if isinstance(address, str):
                self._tmpdir = os.path.dirname(address)
        key, klen = _key(authkey)
        flags = B.MP_LISTENER_ALLOW_TCP_WITHOUT_AUTHKEY if allow_insecure_tcp else 0
        # The handle guard of Connection (see there): accept() runs in
        # slices and holds the handle for each; close() from another thread
        # marks the listener closing, the blocked accept sees it at its next
        # slice and raises, and the last call out frees the handle.
        self._calls = []
        self._lock = threading.Lock()
        self._closing = False
        self._h = None
        self._h = open_handle(lib.mp_listener_bind_ex, _to_c_address(address).encode(), key, klen, flags)
        register_after_fork(self)
        self._pid = os.getpid()
        self._last_accepted = None
        buf = ctypes.create_string_buffer(512)
        n = ctypes.c_size_t()
        rc = lib.mp_listener_address(self._h, buf, 512, ctypes.byref(n))
        if rc:
            raise error(rc)
        self._address = _from_c_address(buf.value.decode())

    @property
    def address(self):
        """The bound address (the real port after binding port 0)."""
        return self._address

    @property
    def last_accepted(self):
        return self._last_accepted

    def _after_fork_child(self):
        # The parent's other threads, and their calls, are not in the child.
        self._lock = threading.Lock()
        self._calls = []

    def _enter(self):
        self._calls.append(None)
        if self._closing or self._h is None:
            self._leave()
            raise OSError("listener is closed")
        return self._h

    def _leave(self):
        calls = self._calls
        calls.pop()
        if self._closing and not calls:
            self._free()

    def _free(self):
        with self._lock:
            h, self._h = self._h, None
        if h is not None:
            lib.mp_listener_close(h)
            if self._tmpdir and os.getpid() == self._pid:
                try:
                    os.rmdir(self._tmpdir)
                except OSError:
                    pass

    def accept(self, timeout=None):
        """Accepts one connection (authenticated if the listener has a key;
        AuthenticationError if the peer fails). OSError if the listener is
        closed, also by another thread while this one waits (within one
        100 ms slice)."""
        h = self._enter()
        try:
            out = ctypes.c_void_p()
            left = timeout_ms(timeout)
            while True:
                step = SLICE_MS if left < 0 or left > SLICE_MS else left
                rc = lib.mp_listener_accept(h, step, ctypes.byref(out))
                if rc != B.MP_E_TIMEOUT or left == step:
                    break
                if self._closing:
                    raise OSError("listener is closed")
                if left > 0:
                    left -= step
        finally:
            self._leave()
        if rc:
            raise error(rc)
        self._last_accepted = None
        return Connection(out.value)

    def close(self):
        """Stops listening (removes the socket file it created). An accept
        blocked in another thread raises OSError within one slice; the
        handle is freed when it has returned."""
        with self._lock:
            if self._h is None or self._closing:
                return
            self._closing = True
        if not self._calls:
            self._free()

    def __del__(self):
        try:
            if getattr(self, "_h", None) is not None and not getattr(self, "_calls", None):
                self._free()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def Client(address, family=None, authkey=None, *, timeout=None):
    """Connects to a Listener (ours or Python's) at `address`; runs the
    HMAC handshake when `authkey` is given. ``timeout`` (seconds) bounds
    the connection and handshake (default: 30 s)."""
    key, klen = _key(authkey)
    ms = timeout_ms(30.0 if timeout is None else timeout)
    h = open_handle(lib.mp_pipe_connect, _to_c_address(address).encode(), key, klen, ms)
    return Connection(h)


def wait(object_list, timeout=None):
    """``multiprocessing.connection.wait``: the objects of `object_list`
    that are ready (a Connection with a message or EOF; anything else with
    a readable ``fileno()`` or an int descriptor), waiting at most
    `timeout` seconds (None = forever); [] when the time ran out."""
    objs = list(object_list)
    ours = [o for o in objs if isinstance(o, Connection)]
    others = [o for o in objs if not isinstance(o, Connection)]
    deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
    if not others:
        handles = [o._enter() for o in ours]
        try:
            arr = (ctypes.c_void_p * len(handles))(*handles)
            idx = (ctypes.c_size_t * max(1, len(handles)))()
            nready = ctypes.c_size_t()
            while True:
                left = -1 if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
                step = SLICE_MS if left < 0 or left > SLICE_MS else left
                rc = lib.mp_wait(arr, len(handles), step, idx, ctypes.byref(nready))
                if rc:
                    raise error(rc)
                if nready.value or left == step:
                    return [ours[idx[i]] for i in range(nready.value)]
        finally:
            for o in ours:
                o._leave()
    # Mixed: buffered messages first (a Connection may hold received
    # messages its descriptor no longer shows), then select on every
    # descriptor. Like multiprocessing, every object ready now is returned:
    # with a Connection ready, the others are checked without waiting.
    ready = [o for o in ours if o.poll(0)]
    if ready:
        ids = {id(o) for o in ready}
        if others:
            sel = selectors.DefaultSelector()
            try:
                for o in others:
                    sel.register(o, selectors.EVENT_READ)
                ids.update(id(k.fileobj) for k, _ in sel.select(0))
            finally:
                sel.close()
        return [o for o in objs if id(o) in ids]
    sel = selectors.DefaultSelector()
    try:
        for o in objs:
            sel.register(o, selectors.EVENT_READ)
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            step = 0.1 if left is None else min(0.1, left)
            found = [k.fileobj for k, _ in sel.select(step)]
            if found or (left is not None and left <= step):
                return found
    finally:
        sel.close()
