"""Pipe, Connection, Listener, Client and wait over ``mp_pipe`` (the wire
format and HMAC handshake of ``multiprocessing.connection``, so a stock
Python ``Client``/``Listener`` can be the peer of ``send_bytes`` /
``recv_bytes``; objects travel as CBOR, never pickle).

Addresses are Python's: a filesystem path (str) for a Unix socket, a
string starting with NUL for an abstract one, a ``(host, port)`` tuple for
TCP (``families``, ``address_type`` and the checks of ``Listener`` /
``Client`` are multiprocessing's). TCP requires an authkey on both sides (a
security default of the library); ``allow_insecure_tcp=True`` on both the
``Listener`` and the ``Client`` opts out, for a trusted network only.
"""

import ctypes
import hmac
import itertools
import multiprocessing.context
import operator
import os
import selectors
import tempfile
import threading
import time

from . import _bindings as B
from ._codec import (
    _PASS, _PLAIN, MARK, MARK_VALUE, MAX_DEPTH, PAD_AFTER, PAD_BEFORE, _loads, SEMANTIC, decode,
    _MARSHAL_NAN, _marshal, decode_failed, encode, trailing_error, walk,
)

_SEM_AUTO = SEMANTIC[None]  # tag decoders following the module's serializer default
from ._common import (
    BIG_MESSAGE, SLICE_MS, _tls, framed_rx, grow_framed_rx, open_handle, register_after_fork, take_buf, timeout_ms,
)
from ._errors import AuthenticationError, BufferTooShort, error
from ._ffi import lib, raw

__all__ = [
    "Pipe", "Connection", "Listener", "Client", "wait", "answer_challenge", "deliver_challenge", "address_type",
    "families", "AuthenticationError", "BufferTooShort",
]

# multiprocessing.connection's families on Linux (same order): no AF_PIPE,
# which is Windows' named pipes.
families = ["AF_INET", "AF_UNIX"]
default_family = "AF_UNIX"

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
        # (_codec.encode itself: inlining it as Queue.put does measured
        # within noise for a pipe, whose send costs a syscall.)
        self._send_data(encode(obj))

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
            pair = _loads(framed, max_depth=_DEPTH, semantic_decoders=_SEM_AUTO, allow_duplicate_keys=False)
        except _PASS:
            raise
        except BaseException as e:  # (pyo3's PanicException is no Exception)
            return decode_failed(e, framed, _SEM_AUTO)  # raises its DecodeError (but see decode_failed)
        if pair[1] != MARK_VALUE:
            raise trailing_error(framed)
        value = pair[0]
        if type(value) not in _PLAIN:
            # _codec.check(value, framed), inlined.
            try:
                out = _marshal(value)
            except Exception:
                return walk(value, framed)
            if (0xFF in out or 0x7F in out) and len(_MARSHAL_NAN.findall(out)) > 1:
                return walk(value, framed)
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
        # As multiprocessing's reduction of a Connection: only while a child
        # is being started (a Process argument under spawn or forkserver),
        # the descriptor itself goes to the child (the Popen object's
        # duplicate_for_child: pass_fds for spawn, SCM_RIGHTS for
        # forkserver) and the child wraps it again. A forked child inherits
        # the object and needs none of this.
        popen = multiprocessing.context.get_spawning_popen()
        if popen is None:
            raise TypeError("mpipc Connection objects can only be passed to a child process as a Process "
                            "argument (fork, spawn or forkserver), not pickled for anything else")
        h = self._enter()
        try:
            buffered = ctypes.c_bool()
            rc = lib.mp_pipe_has_buffered(h, ctypes.byref(buffered))
            if rc:
                raise error(rc)
            if buffered.value:
                # The bytes this process read ahead would stay behind, and
                # the child would start reading mid-stream.
                raise ValueError("this Connection holds received data not yet returned by recv: receive it "
                                 "before passing the Connection to a spawned child")
            fd = lib.mp_pipe_fileno(h)
        finally:
            self._leave()
        return (_rebuild_connection, (popen.DupFd(popen.duplicate_for_child(fd)), self._readable, self._writable))

    def __repr__(self):
        return "<mpipc.connection.Connection%s>" % (" closed" if self.closed else "")


def _rebuild_connection(df, readable, writable):
    """The child's side of Connection.__reduce__: wraps the descriptor the
    parent passed (the child owns it from here on)."""
    fd = df.detach()
    out = ctypes.c_void_p()
    rc = lib.mp_pipe_from_fd(fd, ctypes.byref(out))  # takes fd on every path
    if rc:
        raise error(rc)
    return Connection(out.value, readable, writable)


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


def _is_abstract(address):
    """multiprocessing.util.is_abstract_socket_namespace, with its errors."""
    if not address:
        return False
    if isinstance(address, bytes):
        return address[0] == 0
    if isinstance(address, str):
        return address[0] == "\0"
    raise TypeError("address type of %r unrecognized" % (address,))


def address_type(address):
    """multiprocessing.connection.address_type: 'AF_INET' for a (host, port)
    tuple (or our ``tcp:host:port``), 'AF_UNIX' for a path or an abstract
    name ('\\0name', b'\\0name'), 'AF_PIPE' for a Windows pipe name
    (refused on use, as on Linux by multiprocessing). ValueError for bytes
    that are not an abstract name, TypeError for other types, as
    multiprocessing."""
    if type(address) == tuple:
        return "AF_INET"
    if type(address) is str and address.startswith("\\\\"):
        return "AF_PIPE"
    if type(address) is str and address.startswith("tcp:"):
        return "AF_INET"
    if type(address) is str or _is_abstract(address):
        return "AF_UNIX"
    raise ValueError("address type of %r unrecognized" % (address,))


def _validate_family(family):
    """multiprocessing's check: AF_PIPE (Windows only) and any family this
    platform does not have raise ValueError."""
    if family not in families:
        raise ValueError("Family %s is not recognized." % (family,))


def _check_address(address, family):
    """The errors multiprocessing's socket bind gives for an address of the
    wrong type for `family` (TypeError, OverflowError for a port out of
    range), raised before anything is created."""
    if family == "AF_INET":
        if type(address) is str and address.startswith("tcp:"):
            return
        if not isinstance(address, tuple):
            raise TypeError("AF_INET address must be tuple, not %s" % type(address).__name__)
        if len(address) != 2:
            raise TypeError("AF_INET address must be a pair (host, port)")
        host, port = address
        if not isinstance(host, str):
            raise TypeError("str expected for the host, not %s" % type(host).__name__)
        port = operator.index(port)
        if not 0 <= port <= 65535:
            raise OverflowError("port must be 0-65535.")
    else:
        if isinstance(address, bytes) and _is_abstract(address):
            return
        if not isinstance(address, str) or address.startswith("tcp:"):
            raise TypeError("AF_UNIX address must be str (a path or '\\0name'), not %s"
                            % ("a tcp: address" if isinstance(address, str) else type(address).__name__))


def _to_c_address(address):
    if isinstance(address, tuple):
        host, port = address
        return "tcp:%s:%d" % (host, port)
    if isinstance(address, bytes) and _is_abstract(address):
        try:
            return "unix:@" + address[1:].decode()
        except UnicodeDecodeError:
            raise ValueError("abstract socket name %r is not UTF-8 (the library takes names as text)"
                             % (address,)) from None
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
    """A fresh address of `family` (multiprocessing's arbitrary_address,
    with the same ValueError for an unknown family): a port chosen at bind,
    or a socket path in a new private directory."""
    if family == "AF_INET":
        return ("localhost", 0)
    if family != "AF_UNIX":
        if family == "AF_PIPE":
            _validate_family(family)
        raise ValueError("unrecognized family")
    d = tempfile.mkdtemp(prefix="mpipc-")
    return os.path.join(d, "listener-%d-%d" % (os.getpid(), next(_counter)))


class Listener:
    """``multiprocessing.connection.Listener(address=None, family=None,
    backlog=1, authkey=None)``: accepts authenticated connections; a stock
    Python ``Client`` can connect. ``accept(timeout=None)`` takes an optional
    timeout (seconds; TimeoutError).

    `family` and `address` are checked as multiprocessing checks them: the
    family is inferred from the address (``address_type``), an unknown
    family or 'AF_PIPE' raises ValueError, an address of the wrong type
    for the family TypeError. `backlog` must be an int; the library's
    listen backlog is its own. Over TCP an authkey is required unless
    ``allow_insecure_tcp=True`` (and the Client's as well): without one,
    anybody who can reach the port can connect."""

    def __init__(self, address=None, family=None, backlog=1, authkey=None, *, allow_insecure_tcp=False):
        self._tmpdir = None
        self._h = None
        family = family or (address and address_type(address)) or default_family
        if not address:
            if family not in families:
                _arbitrary_address(family)  # multiprocessing's ValueError
        else:
            _validate_family(family)
            _check_address(address, family)
        operator.index(backlog)
        key, klen = _key(authkey)
        if not address:
            address = _arbitrary_address(family)
            if isinstance(address, str):
                self._tmpdir = os.path.dirname(address)
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


def Client(address, family=None, authkey=None, *, timeout=None, allow_insecure_tcp=False):
    """Connects to a Listener (ours or Python's) at `address`; runs the
    HMAC handshake when `authkey` is given. ``timeout`` (seconds) bounds
    the connection and handshake (default: 30 s). `family` is checked as
    multiprocessing checks it (ValueError for an unknown one or 'AF_PIPE');
    the address's type decides the socket, as there. Over TCP an authkey is
    required unless ``allow_insecure_tcp=True``, for a Listener that opted
    out too (a trusted network only)."""
    family = family or address_type(address)
    _validate_family(family)
    if address_type(address) == "AF_INET":
        _check_address(address, "AF_INET")
    key, klen = _key(authkey)
    ms = timeout_ms(30.0 if timeout is None else timeout)
    flags = B.MP_PIPE_CONNECT_ALLOW_TCP_WITHOUT_AUTHKEY if allow_insecure_tcp else 0
    h = open_handle(lib.mp_pipe_connect_ex, _to_c_address(address).encode(), key, klen, ms, flags)
    return Connection(h)


# --------------------------------------------------------------------------
# The challenge handshake, over any open Connection
#
# multiprocessing.connection's deliver_challenge / answer_challenge, run
# over a Connection's send_bytes / recv_bytes exactly as Python runs them
# over its own (the protocol of Python >= 3.12, which the library's
# Listener and Client speak: a "{sha256}" prefix and 40 random bytes; a
# legacy peer, Python <= 3.11, answers with a raw HMAC-MD5, accepted as
# Python 3.12 accepts it). Listener and Client already run the handshake
# in the library when given an authkey; these are for a program that
# authenticates a connection it made otherwise (a Pipe, a keyless
# Listener), as multiprocessing's managers and tests do.

MESSAGE_LENGTH = 40
_CHALLENGE = b"#CHALLENGE#"
_WELCOME = b"#WELCOME#"
_FAILURE = b"#FAILURE#"
_ALLOWED_DIGESTS = frozenset({b"md5", b"sha256", b"sha384", b"sha3_256", b"sha3_384"})
_MAX_DIGEST_LEN = max(len(d) for d in _ALLOWED_DIGESTS)
_MD5ONLY_MESSAGE_LENGTH = 20
_LEGACY_LENGTHS = (_MD5ONLY_MESSAGE_LENGTH, 16)


def _digest_and_payload(message):
    if len(message) in _LEGACY_LENGTHS:
        return "", message
    if message.startswith(b"{"):
        curly = message.find(b"}", 1, _MAX_DIGEST_LEN + 2)
        if curly > 0 and message[1:curly] in _ALLOWED_DIGESTS:
            return message[1:curly].decode("ascii"), message[curly + 1:]
    raise AuthenticationError("unsupported message length, missing digest prefix, or unsupported digest: "
                              "message=%r" % (message,))


def _check_authkey(authkey):
    if not isinstance(authkey, bytes):
        raise ValueError("Authkey must be bytes, not {0!s}".format(type(authkey)))


def deliver_challenge(connection, authkey, digest_name="sha256"):
    """Proves that the peer knows `authkey` (multiprocessing's
    ``deliver_challenge``): sends a challenge, checks the HMAC that comes
    back, answers ``#WELCOME#`` or ``#FAILURE#``. AuthenticationError if the
    digest is wrong. The peer runs ``answer_challenge``."""
    _check_authkey(authkey)
    message = b"{%s}%s" % (digest_name.encode("ascii"), os.urandom(MESSAGE_LENGTH))
    connection.send_bytes(_CHALLENGE + message)
    response = connection.recv_bytes(256)  # reject a large message
    try:
        name, mac = _digest_and_payload(response)
        name = name or "md5"
        try:
            expected = hmac.new(authkey, message, name).digest()
        except ValueError:
            raise AuthenticationError("response_digest=%r unsupported" % (name,)) from None
        if len(expected) != len(mac):
            raise AuthenticationError("expected %r of length %d got %d" % (name, len(expected), len(mac)))
        if not hmac.compare_digest(expected, mac):
            raise AuthenticationError("digest received was wrong")
    except AuthenticationError:
        connection.send_bytes(_FAILURE)
        raise
    connection.send_bytes(_WELCOME)


def answer_challenge(connection, authkey):
    """Proves to the peer that this side knows `authkey` (multiprocessing's
    ``answer_challenge``): answers the peer's ``deliver_challenge`` with an
    HMAC of its challenge. AuthenticationError if the peer rejects it."""
    _check_authkey(authkey)
    message = connection.recv_bytes(256)  # reject a large message
    if not message.startswith(_CHALLENGE):
        raise AuthenticationError("Protocol error, expected challenge: message=%r" % (message,))
    message = message[len(_CHALLENGE):]
    if len(message) < _MD5ONLY_MESSAGE_LENGTH:
        raise AuthenticationError("challenge too short: %d bytes" % len(message))
    name = _digest_and_payload(message)[0]
    if name:
        response = b"{%s}%s" % (name.encode("ascii"), hmac.new(authkey, message, name).digest())
    else:
        response = hmac.new(authkey, message, "md5").digest()  # a legacy peer
    connection.send_bytes(response)
    if connection.recv_bytes(256) != _WELCOME:
        raise AuthenticationError("digest sent was rejected")


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
