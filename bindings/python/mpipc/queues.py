"""Queue, JoinableQueue and SimpleQueue over the shared-memory ``mpq``.

Drop-in for ``multiprocessing.Queue`` & co., with two differences that
only make things stricter or faster:

- ``put`` encodes the object to CBOR synchronously (there is no feeder
  thread), so an object CBOR cannot carry raises TypeError at ``put`` --
  multiprocessing fails later, in a background thread -- and a ``put``
  that returned is in the queue, visible to every process at once, and
  survives the death of the producer;
- ``qsize``/``empty``/``full`` are exact.

Values cross as CBOR (docs/TYPES.md), readable by every language; with
``serializer="pickle"`` (or ``mpipc.set_serializer("pickle")``) an object
CBOR cannot carry is pickled inside the message, for Python receivers
that opted in too (_codec).

``close``/``join_thread``/``cancel_join_thread`` exist for compatibility
(there is no thread to join). Every queue is joinable underneath (the C
queue counts unfinished tasks), so a JoinableQueue and a Queue opened on
one name from two processes see the same counter.
"""

import ctypes

from . import _bindings as B
from ._codec import (
    _PASS, _PLAIN, _tls as _ctls, new_encoder, MARK, MARK_VALUE, MAX_DEPTH, PAD_AFTER, PAD_BEFORE, SEMANTIC, _loads,
    _MARSHAL_NAN, _marshal, decode, decode_failed, encode, serializer_flag, trailing_error, walk,
)
from ._common import (
    BIG_MESSAGE, FOREVER, SLICE_MS, Named, _tls, cname, framed_rx, gen_name, grow_framed_rx, read_out, take_buf,
    timeout_ms,
)
from ._errors import Timeout, error
from ._ffi import lib, raw

__all__ = ["Queue", "JoinableQueue", "SimpleQueue"]

# Hot calls without ctypes argument conversion (see _ffi.raw): every
# argument is passed as a ctypes object or bytes.
_put = raw.mpq_put_timeout
_get_into = raw.mpq_get_into
_SLICE = ctypes.c_int64(SLICE_MS)

_DEPTH = MAX_DEPTH + 1
_c_size = ctypes.c_size_t
_c_i64 = ctypes.c_int64
_EMPTY = B.MP_E_EMPTY
_FULL = B.MP_E_FULL
_BUFSIZE = B.MP_E_BUFSIZE
_TIMEOUT = B.MP_E_TIMEOUT
# How long a blocked put/get spins before sleeping. The C default (50 us,
# adapting down to 1/16 of it) suits C peers that answer within a few
# microseconds; a Python peer needs 5-10 us to decode, handle and encode a
# message, so its spins would all fail and shrink to nothing, and every
# round trip would pay two futex wake-ups (~50 us each on this VM). With
# 250 us (adapting down to ~15 us) a Python ping-pong stays in the spin.
DEFAULT_SPIN_US = 250
_SZ = ctypes.sizeof(ctypes.c_size_t)


# This thread's receive state (_common.framed_rx), shared with the pipes.
_rx = framed_rx
_grow_rx = grow_framed_rx


class Queue(Named):
    """A process-shared FIFO queue, openable by name from any process and
    language (``multiprocessing.Queue``).

    ``Queue(maxsize=0, *, name=None, create=None, unlink_on_close=None,
    capacity_bytes=0, max_message=0)``

    - ``maxsize <= 0``: unbounded by count (the ring's byte capacity,
      ``capacity_bytes``, default 1 MiB, still bounds it: a put then waits
      for room as on a full queue);
    - ``name``: the queue's name (``A-Z a-z 0-9 . _ -``); None generates
      one (``q.name``), created new;
    - ``create``: None = create or attach, True = create only
      (FileExistsError), False = attach only (FileNotFoundError);
    - ``unlink_on_close``: unlink the name when this (creating) process
      closes or drops the queue; default: True iff the name was generated;
    - ``max_message``: largest message in bytes (default: what fits);
    - ``serializer``: None = the module default (``mpipc.get_serializer()``
      when each message is put or got), ``"cbor"``, or ``"pickle"``:
      objects CBOR cannot carry are pickled (Python to Python only; both
      ends must opt in; unpickling runs the sender's code: trusted
      processes only).
    """

    _kind = "Queue"
    _close_fn = lib.mpq_close
    _unlink_fn = lib.mpq_unlink

    def __init__(self, maxsize=0, *, name=None, create=None, unlink_on_close=None, capacity_bytes=0,
                 max_message=0, ctx=None, serializer=None):
        self._pickle = serializer_flag(serializer)
        self._sem = SEMANTIC[self._pickle]
        generated = name is None
        if generated:
            name = gen_name("q")
            create = True
        o = B.mpq_options()
        o.maxsize = max(0, int(maxsize))
        o.capacity_bytes = capacity_bytes
        o.max_message = max_message
        if create is not None:
            o.flags = B.MPQ_CREATE_ONLY if create else B.MPQ_ATTACH_ONLY
        out = ctypes.c_void_p()
        rc = lib.mpq_open(cname(name), ctypes.byref(o), ctypes.byref(out))
        if rc:
            raise error(rc)
        self._adopt(out.value, name, generated if unlink_on_close is None else unlink_on_close)
        self._hc = ctypes.c_void_p(out.value)
        lib.mpq_set_spin(out.value, DEFAULT_SPIN_US)
        self._maxsize = self._options().maxsize

    @classmethod
    def _attach(cls, name, serializer=None):
        q = cls.__new__(cls)
        Queue.__init__(q, name=name, create=False, unlink_on_close=False, serializer=serializer)
        return q

    @property
    def serializer(self):
        """The serializer given to the constructor (None: the module default)."""
        return None if self._pickle is None else "pickle" if self._pickle else "cbor"

    def __reduce__(self):
        return (type(self)._attach, (self.name, self.serializer))

    def _options(self):
        o = B.mpq_options()
        rc = lib.mpq_options_of(self._ptr(), ctypes.byref(o))
        if rc:
            raise error(rc)
        return o

    @property
    def maxsize(self):
        """The queue's maxsize (0 = unbounded by count)."""
        return self._maxsize

    def _closed_error(self):
        return ValueError("Queue %r is closed" % (self,))

    # -- put ---------------------------------------------------------------

    def put(self, obj, block=True, timeout=None):
        """Puts `obj`, waiting (if `block`) at most `timeout` seconds for
        room; queue.Full when there is none. TypeError (mpipc.EncodeError)
        at once if CBOR cannot carry `obj`; ValueError if closed or if the
        message exceeds ``max_message``."""
        if self._closed:
            raise self._closed_error()
        pk = self._pickle
        if pk is None:
            # _codec.encode, inlined on the hot path: this thread's cbor2
            # encoder once (a persistent encoder saves cbor2.dumps'
            # set-up); the careful encoder only on failure or for a
            # possible half-precision float.
            try:
                enc = _ctls.enc
            except AttributeError:
                enc = _ctls.enc = new_encoder()
            try:
                data = enc(obj)
            except _PASS:
                _ctls.__dict__.pop("enc", None)  # (its state after a failed message is unknown)
                raise
            except BaseException:  # (pyo3's PanicException is no Exception)
                _ctls.__dict__.pop("enc", None)
                data = encode(obj)  # raises EncodeError (with a fresh encoder)
            if 0xF9 in data:  # (an int needle: 10x faster than b"\xf9")
                data = encode(obj)
        else:
            data = encode(obj, pk)
        if block and timeout is None:
            hc = self._hc
            ln = _c_size(len(data))
            while True:
                rc = _put(hc, data, ln, _SLICE)
                if rc != _FULL:
                    break
        else:
            rc = self._put_wait(data, timeout_ms(timeout) if block else 0)
        if rc:
            raise error(rc)

    def _put_wait(self, data, ms):
        hc = self._hc
        ln = _c_size(len(data))
        if 0 <= ms <= SLICE_MS:
            return _put(hc, data, ln, _c_i64(ms))
        left = ms
        while True:
            step = SLICE_MS if left < 0 or left > SLICE_MS else left
            rc = _put(hc, data, ln, _c_i64(step))
            if rc != _FULL or left == step:
                return rc
            if left > 0:
                left -= step

    def put_nowait(self, obj):
        """put(obj, False)."""
        return self.put(obj, False)

    def put_bytes(self, data, block=True, timeout=None):
        """Puts raw bytes, outside the CBOR contract (a C or Go peer's
        ``mpq_put``/``PutBytes`` format)."""
        if self._closed:
            raise self._closed_error()
        data = bytes(data)
        rc = self._put_wait(data, timeout_ms(timeout) if block else 0)
        if rc:
            raise error(rc)

    def put_many(self, objs, block=True, timeout=None):
        """Puts every object of `objs`, in order, in as few atomic steps as
        fit (``mpq_put_many``): the throughput path. All are encoded first,
        so a TypeError leaves the queue untouched. The timeout bounds each
        wait for room; queue.Full reports how many were put in
        ``e.args[1]``."""
        if self._closed:
            raise self._closed_error()
        pk = self._pickle
        datas = [encode(o, pk) for o in objs]
        n = len(datas)
        if n == 0:
            return
        ms = timeout_ms(timeout) if block else 0
        lens = (ctypes.c_size_t * n)(*map(len, datas))
        blob = b"".join(datas)
        done = 0
        off = 0
        out = ctypes.c_size_t()
        base = ctypes.cast(ctypes.c_char_p(blob), ctypes.c_void_p).value
        h = self._h
        while done < n:
            left = ms
            while True:
                step = SLICE_MS if left < 0 or left > SLICE_MS else left
                rc = lib.mpq_put_many(
                    h, base + off, (ctypes.c_size_t * (n - done)).from_buffer(lens, done * _SZ), n - done, step,
                    ctypes.byref(out),
                )
                if rc != _FULL or left == step:
                    break
                if left > 0:
                    left -= step
            if rc:
                e = error(rc)
                if rc == _FULL:
                    e.args = (e.args[0] if e.args else "full", done)
                raise e
            k = out.value
            off += sum(lens[done:done + k])
            done += k

    # -- get ---------------------------------------------------------------

    def get(self, block=True, timeout=None):
        """Removes and returns the oldest object, waiting (if `block`) at
        most `timeout` seconds; queue.Empty when none came. A message that
        is not valid CBOR is consumed and raises mpipc.DecodeError."""
        if self._closed:
            raise self._closed_error()
        try:
            buf, view, n, nref, cap = _tls.rx
        except AttributeError:
            buf, view, n, nref, cap = _rx()
        if block and timeout is None:
            hc = self._hc
            while True:
                rc = _get_into(hc, buf, cap, nref, _SLICE)
                if rc != _EMPTY:
                    break
        else:
            rc = self._get_wait(timeout_ms(timeout) if block else 0)
            buf, view, n, nref, cap = _tls.rx
        if rc:
            if rc == _BUFSIZE:
                return decode(self._get_big(n.value, timeout_ms(timeout) if block else 0), self._pickle)
            raise error(rc)
        # _codec.decode_framed, inlined on the hot path (see _codec.MARK).
        end = PAD_BEFORE + n.value
        view[end:end + PAD_AFTER] = MARK
        framed = view[:end + PAD_AFTER]
        try:
            pair = _loads(framed, max_depth=_DEPTH, semantic_decoders=self._sem, allow_duplicate_keys=False)
        except _PASS:
            raise
        except BaseException as e:  # (pyo3's PanicException is no Exception)
            return decode_failed(e, framed, self._sem)  # raises its DecodeError (but see decode_failed)
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

    def _get_wait(self, ms):
        buf, view, n, nref, cap = _rx()
        hc = self._hc
        if 0 <= ms <= SLICE_MS:
            return _get_into(hc, buf, cap, nref, _c_i64(ms))
        left = ms
        while True:
            step = SLICE_MS if left < 0 or left > SLICE_MS else left
            rc = _get_into(hc, buf, cap, nref, _c_i64(step))
            if rc != _EMPTY or left == step:
                return rc
            if left > 0:
                left -= step

    def _get_big(self, need, ms):
        """The message at the head did not fit this thread's buffer: grow it
        (or, for a huge message, let the library allocate) and take it."""
        if need <= BIG_MESSAGE:
            buf, view, n, nref, cap = _grow_rx(need)
            rc = self._get_wait(ms if ms >= 0 else FOREVER)
            if rc == _BUFSIZE:  # another consumer took it; a bigger one is next
                return self._get_big(n.value, ms)
            if rc:
                raise error(rc)
            return bytes(view[PAD_BEFORE:PAD_BEFORE + n.value])
        b = B.mp_buf()
        rc = lib.mpq_get_timeout(self._h, ctypes.byref(b), ms)
        if rc:
            raise error(rc)
        return take_buf(b)

    def get_nowait(self):
        """get(False)."""
        return self.get(False)

    def get_bytes(self, block=True, timeout=None):
        """Removes the oldest message and returns its raw bytes (no CBOR)."""
        if self._closed:
            raise self._closed_error()
        ms = timeout_ms(timeout) if block else 0
        rc = self._get_wait(ms)
        buf, view, n, nref, cap = _tls.rx
        if rc == _BUFSIZE:
            return self._get_big(n.value, ms)
        if rc:
            raise error(rc)
        return bytes(view[PAD_BEFORE:PAD_BEFORE + n.value])

    def get_many(self, max_n=1024, block=True, timeout=None):
        """Removes up to `max_n` objects in one atomic step
        (``mpq_get_many``): waits (if `block`, at most `timeout`) for the
        first, then takes what is queued. Returns a non-empty list, or
        raises queue.Empty."""
        if self._closed:
            raise self._closed_error()
        if max_n < 1:
            raise ValueError("max_n must be at least 1")
        pk = self._pickle
        buf, view, n, nref, cap = _rx()
        lens = (ctypes.c_size_t * max_n)()
        got = ctypes.c_size_t()
        ms = timeout_ms(timeout) if block else 0
        h = self._h
        left = ms
        while True:
            step = SLICE_MS if left < 0 or left > SLICE_MS else left
            rc = lib.mpq_get_many(h, buf.value, cap.value, lens, max_n, step, ctypes.byref(got), nref)
            if rc == _BUFSIZE:
                buf, view, n, nref, cap = _grow_rx(n.value)
                continue
            if rc != _EMPTY or left == step:
                break
            if left > 0:
                left -= step
        if rc:
            raise error(rc)
        out = []
        off = PAD_BEFORE
        for i in range(got.value):
            k = lens[i]
            out.append(decode(view[off:off + k], pk))
            off += k
        return out

    # -- state ---------------------------------------------------------------

    def qsize(self):
        """The exact number of messages in the queue."""
        return read_out(ctypes.c_size_t, lib.mpq_qsize, self._ptr())

    def empty(self):
        """True if the queue holds no message (exact)."""
        return read_out(ctypes.c_bool, lib.mpq_empty, self._ptr())

    def full(self):
        """True if the queue holds maxsize messages (always False when
        unbounded by count)."""
        return read_out(ctypes.c_bool, lib.mpq_full, self._ptr())

    def shutdown(self, immediate=False):
        """Shuts the queue down for every process (Python 3.13's
        ``Queue.shutdown``): puts raise ShutDown at once; gets drain what is
        left, then raise ShutDown. With `immediate`, what is left is
        discarded and counted done for ``join``. Permanent for this name."""
        rc = lib.mpq_shutdown(self._ptr(), bool(immediate))
        if rc:
            raise error(rc)

    def set_spin(self, microseconds):
        """How long a blocked call on this handle spins before sleeping
        (default 50 us; 0 = sleep at once)."""
        rc = lib.mpq_set_spin(self._ptr(), int(microseconds))
        if rc:
            raise error(rc)

    # -- compatibility -----------------------------------------------------

    def join_thread(self):
        """Compatibility: there is no feeder thread to join (every put is
        already in the queue). Like multiprocessing, only valid after close()."""
        assert self._closed, "Queue {0!r} not closed".format(self)

    def cancel_join_thread(self):
        """Compatibility: nothing to cancel (no feeder thread; nothing is
        lost at exit: every put already is in the queue)."""


class JoinableQueue(Queue):
    """``multiprocessing.JoinableQueue``: a Queue with ``task_done`` and
    ``join``. The unfinished-task counter lives in the shared queue, so every
    process (and language) that opens the name shares it."""

    _kind = "JoinableQueue"

    def task_done(self):
        """Marks one task taken from the queue as done; ValueError if called
        more times than items were put."""
        rc = lib.mpq_task_done(self._ptr())
        if rc:
            if rc == B.MP_E_INVAL:
                raise error(rc, message="task_done() called too many times")
            raise error(rc)

    def join(self, timeout=None):
        """Blocks until every item put has been marked done. `timeout`
        (seconds; an mpipc extension) raises TimeoutError when it runs out."""
        h = self._ptr()
        left = timeout_ms(timeout)
        while True:
            step = SLICE_MS if left < 0 or left > SLICE_MS else left
            rc = lib.mpq_join(h, step)
            if rc != _TIMEOUT or left == step:
                break
            if left > 0:
                left -= step
        if rc:
            raise error(rc, {_TIMEOUT: Timeout})


class SimpleQueue(Queue):
    """``multiprocessing.SimpleQueue``: ``put``, ``get``, ``empty``,
    ``close`` (the full Queue API is there too)."""

    _kind = "SimpleQueue"

    def __init__(self, *, name=None, create=None, unlink_on_close=None, ctx=None, **kw):
        super().__init__(0, name=name, create=create, unlink_on_close=unlink_on_close, **kw)
