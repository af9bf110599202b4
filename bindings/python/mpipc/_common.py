"""Plumbing shared by every object: names, timeouts, the thread's receive
buffer, and the life cycle of a named object in this process.

Life cycle (README "Names and unlinking"):

- every object is named; ``name=None`` generates a unique name, exposed as
  ``obj.name``, so code that calls ``Queue()`` keeps working;
- ``close()`` ends this object's use in this process (further calls raise
  ValueError, as a closed multiprocessing.Queue does); the C handle (the
  mapping) is released when the Python object is garbage collected, so a
  thread still blocked in a call on it can never touch freed memory;
- the name is unlinked on ``close()``, on garbage collection or at
  interpreter exit, by the process that created the object, when
  ``unlink_on_close`` is true -- by default exactly when the name was
  generated (nobody else can know it unless handed the object). An
  explicitly named object is shared by name with other processes and
  languages, so it stays until ``unlink()`` (or ``mpipc.unlink(kind,
  name)``) removes it;
- a forked child inherits the object and uses it (the C handle is a shared
  mapping, valid after fork); it never unlinks what its parent created;
- a generated name is also registered with the resource tracker
  (``_tracker``), which unlinks it if the creator (and every forked child
  of it) dies without unlinking it: SIGTERM, SIGKILL, a crash;
- pickling (spawn, or sending the object through a queue of Python's
  multiprocessing) carries the NAME only; unpickling attaches by name.
"""

import collections
import ctypes
import math
import multiprocessing.util
import os
import re
import secrets
import threading
import time
import weakref

from . import _bindings as B
from . import _tracker
from ._codec import HEAD, PAD_AFTER, PAD_BEFORE
from ._errors import check, error
from ._ffi import lib

# Blocking calls wait in slices of this many milliseconds so that signals
# (Ctrl-C) are handled between them, as they are in multiprocessing's
# blocking calls; waits whose semantics a slice would change (Barrier,
# Condition) do not slice.
SLICE_MS = 100

FOREVER = -1


def timeout_ms(timeout):
    """multiprocessing's timeout (seconds, None = forever) as C
    milliseconds. A negative timeout does not wait, as in multiprocessing's
    queues and semaphores; a tiny positive one waits at least 1 ms."""
    if timeout is None:
        return FOREVER
    if timeout <= 0:
        return 0
    return max(1, math.ceil(timeout * 1000.0))


def threading_timeout_ms(blocking, timeout):
    """threading's acquire(blocking=True, timeout=-1) as C milliseconds
    (ValueError where threading raises it)."""
    if not blocking:
        if timeout is not None and timeout != -1:
            raise ValueError("can't specify a timeout for a non-blocking call")
        return 0
    if timeout is None or timeout == -1:
        return FOREVER
    if timeout < 0:
        raise ValueError("timeout value must be a non-negative number")
    return max(1, math.ceil(timeout * 1000.0)) if timeout > 0 else 0


def wait_for(wait, predicate, timeout=None):
    """threading.Condition.wait_for over any condition's `wait(timeout)`:
    calls wait until predicate() is true or `timeout` seconds (None:
    forever) have passed; returns the last value of predicate(). The one
    copy for mpipc's Condition and the manager's ConditionProxy."""
    endtime = None
    waittime = timeout
    result = predicate()
    while not result:
        if waittime is not None:
            if endtime is None:
                endtime = time.monotonic() + waittime
            else:
                waittime = endtime - time.monotonic()
                if waittime <= 0:
                    break
        wait(waittime)
        result = predicate()
    return result


def gen_name(prefix):
    """A fresh object name: py<prefix>-<pid>-<48 random bits>. Remembered
    by this thread for a while, so that Named._adopt knows the name was
    generated (and registers it with the resource tracker)."""
    name = "py%s-%d-%s" % (prefix, os.getpid(), secrets.token_hex(6))
    recent = getattr(_tls, "generated", None)
    if recent is None:
        recent = _tls.generated = collections.deque(maxlen=16)
    recent.append(name)
    return name


def _was_generated(name):
    """Whether this thread generated `name` lately (gen_name is called just
    before the object is opened and adopted, in the same thread; the
    bound only drops names never adopted, such as manager objects'), or
    `name` is such a name plus a suffix: a companion object created with
    it (a Condition's "<name>.lock")."""
    recent = getattr(_tls, "generated", None)
    if recent is None:
        return False
    if name in recent:
        recent.remove(name)
        adopted = getattr(_tls, "adopted", None)
        if adopted is None:
            adopted = _tls.adopted = collections.deque(maxlen=16)
        adopted.append(name)
        return True
    base = name.rpartition(".")[0]
    return bool(base) and base in getattr(_tls, "adopted", ())


def cname(name):
    if not isinstance(name, str):
        raise TypeError("name must be str, not %s" % type(name).__name__)
    return name.encode("utf-8")


# --------------------------------------------------------------------------
# The thread's receive buffer (queue get, pipe recv): no allocation by the
# library and no second call to free it, for messages up to BIG_MESSAGE.

BIG_MESSAGE = 16 << 20
_tls = threading.local()


def rx_buffer(need=0):
    """This thread's receive buffer (a ctypes char array), at least `need` bytes."""
    buf = getattr(_tls, "buf", None)
    if buf is None or len(buf) < need:
        size = max(need, 2 * len(buf) if buf is not None else 64 << 10)
        buf = _tls.buf = (ctypes.c_char * size)()
    return buf


def framed_rx():
    """This thread's receive state for a message decoded in place (queue
    get, pipe recv): (address of the message's first byte, view of the
    whole buffer, n, byref(n), capacity for a message)."""
    try:
        return _tls.rx
    except AttributeError:
        return grow_framed_rx(0)


def grow_framed_rx(need):
    """framed_rx() with room for a message of `need` bytes. The buffer
    keeps PAD_BEFORE bytes before and PAD_AFTER after each message so that
    it is decoded in place (_codec.decode_framed)."""
    buf = rx_buffer(need + PAD_BEFORE + PAD_AFTER)
    view = memoryview(buf).cast("B")
    view[:PAD_BEFORE] = HEAD
    n = ctypes.c_size_t()
    _tls.rx = rx = (
        ctypes.c_void_p(ctypes.addressof(buf) + PAD_BEFORE), view, n, ctypes.byref(n),
        ctypes.c_size_t(len(buf) - PAD_BEFORE - PAD_AFTER),
    )
    return rx


def take_buf(b):
    """Copy an mp_buf's bytes and free it."""
    try:
        return ctypes.string_at(b.ptr, b.len) if b.len else b""
    finally:
        lib.mp_buf_free(ctypes.byref(b))


# --------------------------------------------------------------------------
# Named objects


def _untrack(state):
    """The name of a Named whose state is `state` was unlinked (or is to be
    kept): tell the resource tracker. state = [unlink due, (kind, name) if
    the name was generated, registered with the tracker]."""
    if state[2]:
        state[2] = False
        try:
            _tracker.unregister(*state[1])
        except OSError:  # pragma: no cover - the tracker is best effort
            pass


def _release(close_fn, unlink_fn, h, cname_, owner_pid, state):
    """Finalizer: unlink (if still due, and only in the creating process),
    then free the C handle."""
    if state[0] and os.getpid() == owner_pid and unlink_fn is not None:
        state[0] = False
        unlink_fn(cname_)
        _untrack(state)
    if h:
        close_fn(h)


class Named:
    """Base of every named shared object: ``name``, ``close()``,
    ``unlink()``, context manager, pickling by name."""

    _kind = "?"  # for messages
    _unlink_at_close = True  # False: only garbage collection / exit unlink
    _close_fn = None  # lib.mp_<kind>_close
    _unlink_fn = None  # lib.mp_<kind>_unlink

    def _adopt(self, h, name, unlink_on_close):
        self._h = h
        self.name = name
        self._closed = False
        self._owner_pid = os.getpid()
        # [unlink due, (kind, name) if generated, registered with the tracker]
        self._unlink_state = [bool(unlink_on_close), None, False]
        unlink_fn = type(self)._unlink_fn
        if _was_generated(name) and unlink_fn is not None and getattr(self, "_track", True):
            kind = _tracker.KIND_OF_UNLINK_FN.get(getattr(unlink_fn, "__name__", None))
            if kind is not None:
                self._unlink_state[1] = (kind, name)
                if unlink_on_close:
                    # Registered after the object exists: a creator killed
                    # in between leaks the name, as with CPython's tracker.
                    _tracker.register(kind, name)
                    self._unlink_state[2] = True
        # multiprocessing's Finalize, not weakref.finalize: it runs when the
        # object is collected, at interpreter exit, and also when a
        # multiprocessing child exits (os._exit skips atexit), so an object
        # a child created with a generated name is unlinked too.
        self._finalizer = multiprocessing.util.Finalize(
            self, _release, args=(type(self)._close_fn, type(self)._unlink_fn, h, cname(name), self._owner_pid,
                                  self._unlink_state), exitpriority=0,
        )

    @property
    def unlink_on_close(self):
        """Whether close() / garbage collection / exit unlinks the name
        (only ever in the process that created the object)."""
        return self._unlink_state[0]

    @unlink_on_close.setter
    def unlink_on_close(self, value):
        st = self._unlink_state
        st[0] = bool(value)
        # A generated name kept on purpose is not removed after a crash
        # either; one to be removed again is tracked again (creator only).
        if not value:
            _untrack(st)
        elif st[1] is not None and not st[2] and os.getpid() == self._owner_pid:
            _tracker.register(*st[1])
            st[2] = True

    def _ptr(self):
        if self._closed:
            raise ValueError("%s %r is closed" % (self._kind, self.name))
        return self._h

    def close(self):
        """Ends this object's use in this process (idempotent). Unlinks the
        name if this process created it and ``unlink_on_close`` is set."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        st = self._unlink_state
        if st[0] and self._unlink_at_close and os.getpid() == self._owner_pid:
            st[0] = False
            type(self)._unlink_fn(cname(self.name))
            _untrack(st)

    @property
    def closed(self):
        return self._closed

    def unlink(self):
        """Removes the name now (processes that have the object keep using
        it; the next open of the name creates a new object)."""
        self._unlink_state[0] = False
        rc = type(self)._unlink_fn(cname(self.name))
        _untrack(self._unlink_state)
        check(rc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<%s.%s name=%r%s>" % (
            type(self).__module__, type(self).__name__, redact_address(getattr(self, "name", None)),
            " closed" if getattr(self, "_closed", False) else "",
        )


_PASSWORD_IN_ADDRESS = re.compile(r"(://[^/@:]*:)[^/@]*@|((?:password|pass)=)[^&]*")


def redact_address(name):
    """`name` with the password of a Redis address replaced by `***` (as the
    library's own messages show it), so a repr in a log never holds it."""
    if not isinstance(name, str) or "://" not in name:
        return name
    return _PASSWORD_IN_ADDRESS.sub(lambda m: (m.group(1) + "***@") if m.group(1) else (m.group(2) + "***"), name)


def read_out(ctype, fn, *args):
    """Call a C function whose last argument is an out-parameter of `ctype`;
    raise its status as an exception, else return the value written."""
    out = ctype()
    rc = fn(*args, ctypes.byref(out))
    if rc:
        raise error(rc)
    return out.value


def open_handle(fn, *args):
    """Call an mp_<kind>_open-style function whose last argument is the out handle."""
    return read_out(ctypes.c_void_p, fn, *args)


OPEN_FLAGS = {"create_or_attach": 0, "create": B.MP_OPEN_CREATE_ONLY, "attach": B.MP_OPEN_ATTACH_ONLY}


def open_flags(create):
    """create=None: create or attach; True: create only (FileExistsError if
    the name exists); False: attach only (FileNotFoundError if missing)."""
    if create is None:
        return 0
    return B.MP_OPEN_CREATE_ONLY if create else B.MP_OPEN_ATTACH_ONLY


# --------------------------------------------------------------------------
# fork

_after_fork_hooks = weakref.WeakSet()


def register_after_fork(obj):
    """obj._after_fork_child() runs in a forked child (manager clients drop
    the parent's connections, servers forget the parent's threads)."""
    _after_fork_hooks.add(obj)


def _run_after_fork():
    for obj in list(_after_fork_hooks):
        try:
            obj._after_fork_child()
        except Exception:  # pragma: no cover - never break a fork
            pass


os.register_at_fork(after_in_child=_run_after_fork)


def unlink(kind, name):
    """Removes the named object of `kind` ('queue', 'lock', 'semaphore',
    'event', 'condition', 'barrier', 'array', 'shared_memory',
    'raw_shared_memory' (a raw POSIX block, as Python's stock
    shared_memory makes them), 'shareable_list'). FileNotFoundError if
    absent."""
    fn = {
        "queue": lib.mpq_unlink, "lock": lib.mp_lock_unlink, "rlock": lib.mp_lock_unlink,
        "semaphore": lib.mp_sem_unlink, "event": lib.mp_event_unlink, "condition": lib.mp_cond_unlink,
        "barrier": lib.mp_barrier_unlink, "array": lib.mp_array_unlink, "value": lib.mp_array_unlink,
        "shared_memory": lib.mp_shm_unlink, "raw_shared_memory": lib.mp_shm_unlink_raw,
        "shareable_list": lib.mp_slist_unlink,
    }.get(kind)
    if fn is None:
        raise ValueError("unknown kind %r" % (kind,))
    rc = fn(cname(name))
    tracked = _tracker.KIND_OF_UNLINK_FN.get(fn.__name__)
    if tracked is not None and _tracker.registered(tracked, name):
        _tracker.unregister(tracked, name)
    check(rc)
