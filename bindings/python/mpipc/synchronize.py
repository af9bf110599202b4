"""Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier:
named, process-shared, robust when a holder dies (``mp_lock_*``,
``mp_sem_*``, ``mp_event_*``, ``mp_cond_*``, ``mp_barrier_*``), with the
``threading`` signatures.

Ownership is per thread, as ``threading.RLock``: releasing a lock the
calling thread does not hold raises RuntimeError (threading's error for
releasing an unlocked lock). A Lock acquired again by the thread that
holds it would deadlock in threading; here a blocking acquire raises
RuntimeError instead, and a non-blocking or timed one returns False.

A holder that dies (even by SIGKILL) passes the lock on: the next
``acquire`` gets it and returns True, sets ``lock.owner_died`` and emits
an ``mpipc.OwnerDiedWarning`` (the data the lock guards may be half
updated; ``owner_died`` tells whether the last acquire recovered it). It does not raise: ``with lock:`` would then leave the lock
held with ``__exit__`` never called. Turn the warning into an error with
the warnings module if a death must stop the program.
"""

import ctypes

from . import _bindings as B
from ._common import FOREVER, SLICE_MS, Named, cname, gen_name, open_flags, open_handle, read_out, threading_timeout_ms, wait_for
from ._errors import NotOwner, error, owner_died
from ._ffi import gil, lib

__all__ = ["Lock", "RLock", "Semaphore", "BoundedSemaphore", "Event", "Condition", "Barrier"]

_TIMEOUT = B.MP_E_TIMEOUT
_OWNER_DEAD = B.MP_E_OWNER_DEAD
_PERM_AS_RUNTIME = {B.MP_E_PERM: NotOwner}

# A Lock's try-acquire (timeout 0) and release never wait: called without
# releasing the GIL (see _ffi.gil), with the handle as a ready ctypes
# argument. Only a busy lock goes on to the blocking, GIL-releasing call.
_lock_try = gil.mp_lock_acquire
_lock_release = gil.mp_lock_release
# The ownership queries never wait either: the lock's own record of who
# holds it (the binding keeps no copy).
_held_by_me = gil.mp_lock_held_by_me
_locked = gil.mp_lock_locked
_flag = ctypes.c_bool
_byref = ctypes.byref
_NO_WAIT = ctypes.c_int64(0)
# mp_cond_waiting.slot before mp_cond_wait_begin wrote it.
_NOT_WAITING = 0xFFFFFFFF


class _CondWaiting(ctypes.Structure):
    """``mp_cond_waiting`` (include/mpipc.h): a condition wait in
    progress, filled by ``mp_cond_wait_begin``."""

    _fields_ = [("slot", ctypes.c_uint32), ("depth", ctypes.c_uint32)]


def _sliced(fn, h, ms, *args, undo=None):
    """fn(h, *args, step) in slices of SLICE_MS while it times out, for `ms`
    in all (FOREVER: no end), so that Python's signal handlers run between
    slices: Ctrl-C raises KeyboardInterrupt within a slice.

    A handler runs right after a foreign call returns (CPython checks for
    signals after every call), so a signal that lands during a slice that
    succeeded raises before the status reaches a variable: the status is
    therefore collected by C code (``box.extend(map(...))`` stores it
    without running bytecode in between), and if a handler raises after a
    slice that did not time out, ``undo(status)`` gives back what the slice
    took (a unit, the lock) before the exception propagates: an
    interrupted wait takes nothing."""
    box = []
    hs = (h,)
    extra = tuple((a,) for a in args)
    left = ms
    try:
        while True:
            step = SLICE_MS if left < 0 or left > SLICE_MS else left
            del box[:]
            box.extend(map(fn, hs, *extra, (step,)))
            rc = box[0]
            if rc != _TIMEOUT or left == step:
                return rc
            if left > 0:
                left -= step
    except BaseException:
        if undo is not None and box and box[0] != _TIMEOUT:
            undo(box[0])
        raise


def _undo_lock(h):
    def undo(rc):
        if rc in (0, _OWNER_DEAD):
            lib.mp_lock_release(h)
    return undo


def _undo_sem(h):
    def undo(rc):
        if rc == 0:
            lib.mp_sem_release(h)
    return undo


def _setup(obj, name, create, unlink_on_close, prefix, opener):
    generated = name is None
    if generated:
        name = gen_name(prefix)
        create = True
    h = opener(cname(name), open_flags(create))
    obj._adopt(h, name, generated if unlink_on_close is None else unlink_on_close)


class Lock(Named):
    """A named process-shared Lock (``multiprocessing.Lock``).

    ``Lock(*, name=None, create=None, unlink_on_close=None)``: see
    ``Queue`` for the naming arguments."""

    _kind = "Lock"
    _close_fn = lib.mp_lock_close
    _unlink_fn = lib.mp_lock_unlink
    _flags = 0

    def __init__(self, *, name=None, create=None, unlink_on_close=None, ctx=None):
        _setup(self, name, create, unlink_on_close, "lock",
               lambda n, f: open_handle(lib.mp_lock_open, n, f | self._flags))
        self.owner_died = False
        self._hc = ctypes.c_void_p(self._h)
        # locked()'s out-parameter, made once. Shared by the threads that
        # call locked() on this object, which is harmless: the C call runs
        # under the GIL, and whatever answer the flag holds when read is
        # the lock's state at a moment inside the reading call (the only
        # promise of a snapshot). Not for _is_owned, whose answer is the
        # calling thread's own.
        self._locked_out = _flag()
        self._locked_ref = _byref(self._locked_out)

    @classmethod
    def _attach(cls, name):
        obj = cls.__new__(cls)
        cls.__init__(obj, name=name, create=False, unlink_on_close=False)
        return obj

    def __reduce__(self):
        return (type(self)._attach, (self.name,))

    def acquire(self, block=True, timeout=None):
        """Acquires, waiting (if `block`) at most `timeout` seconds (None or
        -1 = forever). Returns True, or False when the time ran out."""
        h = self._ptr()
        ms = threading_timeout_ms(block, -1 if timeout is None else timeout) if block else 0
        rc = _lock_try(self._hc, _NO_WAIT)
        if rc == _TIMEOUT and ms != 0:
            # Busy (held by another thread or process): this thread holds
            # no level of it, so undoing an interrupted acquire is one
            # release.
            rc = _sliced(lib.mp_lock_acquire, h, ms, undo=_undo_lock(h))
        if rc == 0:
            self.owner_died = False
            return True
        if rc == _TIMEOUT:
            return False
        if rc == _OWNER_DEAD:
            owner_died(self, type(self).__name__)
            return True
        if rc == B.MP_E_INVAL and not self._flags:
            # A Lock acquired again by its holder (threading would deadlock).
            if ms == FOREVER:
                raise RuntimeError("Lock %r is already held by this thread: acquiring it again would "
                                   "deadlock" % self.name)
            return False
        raise error(rc)

    def release(self):
        """Releases; RuntimeError if this thread does not hold it."""
        self._ptr()  # ValueError if closed
        rc = _lock_release(self._hc)
        if rc:
            raise error(rc, _PERM_AS_RUNTIME)

    def _is_owned(self):
        """Whether this thread holds the lock (through any handle): asked of
        the lock, which records its holder (for Condition's checks)."""
        if self._closed:
            self._ptr()  # ValueError
        out = _flag()
        rc = _held_by_me(self._hc, _byref(out))
        if rc:
            raise error(rc)
        return out.value

    def locked(self):
        """Whether anyone holds the lock (a snapshot, read without taking
        it: a holder that died reads as not holding it, and the next
        acquire still reports that death)."""
        if self._closed:
            self._ptr()  # ValueError
        rc = _locked(self._hc, self._locked_ref)
        if rc:
            raise error(rc)
        return self._locked_out.value

    @property
    def owner_deaths(self):
        """How many holders have died holding this lock since it was created."""
        return read_out(ctypes.c_uint64, lib.mp_lock_owner_deaths, self._ptr())

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


class RLock(Lock):
    """A named process-shared recursive lock (``multiprocessing.RLock``):
    the holder may acquire again and must release as many times."""

    _kind = "RLock"
    _flags = B.MP_LOCK_RECURSIVE


class Semaphore(Named):
    """A named process-shared semaphore (``multiprocessing.Semaphore``).

    ``Semaphore(value=1, *, name=None, create=None, unlink_on_close=None)``;
    `value` is ignored when attaching to an existing semaphore."""

    _kind = "Semaphore"
    _close_fn = lib.mp_sem_close
    _unlink_fn = lib.mp_sem_unlink
    _flags = 0

    def __init__(self, value=1, *, name=None, create=None, unlink_on_close=None, ctx=None):
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        _setup(self, name, create, unlink_on_close, "sem",
               lambda n, f: open_handle(lib.mp_sem_open, n, int(value), f | self._flags))

    @classmethod
    def _attach(cls, name):
        obj = cls.__new__(cls)
        cls.__init__(obj, 0, name=name, create=False, unlink_on_close=False)
        return obj

    def __reduce__(self):
        return (type(self)._attach, (self.name,))

    def acquire(self, block=True, timeout=None):
        """Takes one unit, waiting (if `block`) at most `timeout` seconds.
        Returns True, or False when the time ran out."""
        h = self._ptr()
        ms = threading_timeout_ms(block, -1 if timeout is None else timeout) if block else 0
        rc = lib.mp_sem_acquire(h, 0)
        if rc == _TIMEOUT and ms != 0:
            rc = _sliced(lib.mp_sem_acquire, h, ms, undo=_undo_sem(h))
        if rc == 0:
            return True
        if rc == _TIMEOUT:
            return False
        raise error(rc)

    def release(self, n=1):
        """Returns `n` units (ValueError for a BoundedSemaphore released
        above its initial value)."""
        if n < 1:
            raise ValueError("n must be one or more")
        h = self._ptr()
        for _ in range(n):
            rc = lib.mp_sem_release(h)
            if rc:
                if rc == B.MP_E_INVAL and self._flags:
                    raise ValueError("Semaphore released too many times")
                raise error(rc)

    def get_value(self):
        """The current count (a snapshot)."""
        return read_out(ctypes.c_uint32, lib.mp_sem_value, self._ptr())

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


class BoundedSemaphore(Semaphore):
    """A Semaphore that refuses (ValueError) to be released above its
    initial value (``multiprocessing.BoundedSemaphore``)."""

    _kind = "BoundedSemaphore"
    _flags = B.MP_SEM_BOUNDED


class Event(Named):
    """A named process-shared event (``multiprocessing.Event``)."""

    _kind = "Event"
    _close_fn = lib.mp_event_close
    _unlink_fn = lib.mp_event_unlink

    def __init__(self, *, name=None, create=None, unlink_on_close=None, ctx=None):
        _setup(self, name, create, unlink_on_close, "ev", lambda n, f: open_handle(lib.mp_event_open, n, f))

    @classmethod
    def _attach(cls, name):
        obj = cls.__new__(cls)
        cls.__init__(obj, name=name, create=False, unlink_on_close=False)
        return obj

    def __reduce__(self):
        return (type(self)._attach, (self.name,))

    def is_set(self):
        return read_out(ctypes.c_bool, lib.mp_event_is_set, self._ptr())

    def set(self):
        rc = lib.mp_event_set(self._ptr())
        if rc:
            raise error(rc)

    def clear(self):
        rc = lib.mp_event_clear(self._ptr())
        if rc:
            raise error(rc)

    def wait(self, timeout=None):
        """Waits until the flag is set, at most `timeout` seconds; returns
        the flag (False when the time ran out)."""
        from ._common import timeout_ms

        rc = _sliced(lib.mp_event_wait, self._ptr(), timeout_ms(timeout))
        if rc == 0:
            return True
        if rc == _TIMEOUT:
            return False
        raise error(rc)

    def __repr__(self):
        # multiprocessing's "<Event at 0x... unset>", plus the name.
        if getattr(self, "_closed", False):
            state = "closed"
        else:
            state = "set" if self.is_set() else "unset"
        return "<%s at %#x %s name=%r>" % (type(self).__qualname__, id(self), state, getattr(self, "name", None))


class Condition(Named):
    """A named process-shared condition variable
    (``multiprocessing.Condition(lock=None)``): `lock` is an mpipc Lock or
    RLock (default: a new RLock, named ``<name>.lock``). notify() wakes the
    oldest waiters, exactly as many as asked.

    ``wait`` waits in slices (``mp_cond_wait_begin`` / ``_slice`` /
    ``_end``: the waiter keeps its place between slices, so no
    notification is missed), so Ctrl-C raises KeyboardInterrupt within a
    slice, with the lock re-acquired, as threading's Condition does."""

    _kind = "Condition"
    _close_fn = lib.mp_cond_close
    _unlink_fn = lib.mp_cond_unlink

    def __init__(self, lock=None, *, name=None, create=None, unlink_on_close=None, ctx=None):
        generated = name is None
        _setup(self, name, create, unlink_on_close, "cond", lambda n, f: open_handle(lib.mp_cond_open, n, f))
        self._own_lock = lock is None
        if lock is None:
            lock = RLock(name=self.name + ".lock", create=create if not generated else True,
                         unlink_on_close=self.unlink_on_close)
        if not isinstance(lock, Lock):
            raise TypeError("lock must be an mpipc Lock or RLock")
        self._lock = lock
        self.acquire = lock.acquire
        self.release = lock.release

    @classmethod
    def _attach(cls, name, lock):
        obj = cls.__new__(cls)
        cls.__init__(obj, lock, name=name, create=False, unlink_on_close=False)
        obj._own_lock = False
        return obj

    def __reduce__(self):
        return (type(self)._attach, (self.name, self._lock))

    def __enter__(self):
        return self._lock.__enter__()

    def __exit__(self, *exc):
        return self._lock.__exit__(*exc)

    def wait(self, timeout=None):
        """Releases the lock, waits for a notification at most `timeout`
        seconds, re-acquires the lock; returns False if the time ran out."""
        from ._common import timeout_ms

        if not self._lock._is_owned():
            raise RuntimeError("cannot wait on un-acquired lock")
        c, lk = self._ptr(), self._lock._ptr()
        w = _CondWaiting(_NOT_WAITING, 0)
        wref = ctypes.byref(w)
        end = []
        try:
            rc = lib.mp_cond_wait_begin(c, lk, wref)
            if rc:
                raise error(rc, _PERM_AS_RUNTIME)
            _sliced(lib.mp_cond_wait_slice, c, timeout_ms(timeout), wref)
        finally:
            # Whatever happened since the begin (a notification, the time
            # running out, KeyboardInterrupt): end the wait, which gives up
            # the place and re-acquires the lock. `w.slot` was written by
            # the begin's C code, so it says whether a wait began even if an
            # interrupt struck as the begin returned; the status is kept by
            # C code too (see _sliced).
            if w.slot != _NOT_WAITING:
                end.extend(map(lib.mp_cond_wait_end, (c,), (lk,), (wref,)))
        rc = end[0]
        if rc == 0:
            return True
        if rc == _TIMEOUT:
            return False
        if rc == _OWNER_DEAD:
            owner_died(self._lock, "Condition lock")
            return True
        raise error(rc, _PERM_AS_RUNTIME)

    def wait_for(self, predicate, timeout=None):
        """Waits until predicate() is true (threading's wait_for)."""
        return wait_for(self.wait, predicate, timeout)

    def notify(self, n=1):
        """Wakes up to `n` waiters (the lock must be held)."""
        if not self._lock._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        rc = lib.mp_cond_notify(self._ptr(), max(0, int(n)))
        if rc:
            raise error(rc)

    def notify_all(self):
        """Wakes every waiter (the lock must be held)."""
        if not self._lock._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        rc = lib.mp_cond_notify_all(self._ptr())
        if rc:
            raise error(rc)

    notifyAll = notify_all

    def close(self):
        super().close()
        if getattr(self, "_own_lock", False):
            self._lock.close()

    def unlink(self):
        super().unlink()
        if getattr(self, "_own_lock", False):
            self._lock.unlink()


class Barrier(Named):
    """A named process-shared barrier (``multiprocessing.Barrier(parties,
    action=None, timeout=None)``). A wait that times out breaks the barrier
    for everyone (BrokenBarrierError), as in threading.

    `action` runs as threading.Barrier promises: in exactly one party (the
    last to arrive), after every party has arrived and before any returns
    from ``wait`` (the library holds the generation meanwhile:
    ``mp_barrier_arrive`` with ``MP_BARRIER_HOLD``, then
    ``mp_barrier_trip``). If it raises, the barrier is broken: that party
    gets the exception, every other BrokenBarrierError. Each process runs
    its own copy of `action` (pickled by reference for a spawned child).

    ``wait`` waits in slices (``mp_barrier_await``, which breaks nothing
    when a slice runs out), so Ctrl-C interrupts it within 100 ms; the
    interrupted party withdraws its arrival, as threading's does."""

    _kind = "Barrier"
    _close_fn = lib.mp_barrier_close
    _unlink_fn = lib.mp_barrier_unlink

    def __init__(self, parties, action=None, timeout=None, *, name=None, create=None, unlink_on_close=None,
                 ctx=None):
        if parties < 0 or (parties == 0 and name is None):
            raise ValueError("parties must be > 0")
        _setup(self, name, create, unlink_on_close, "bar",
               lambda n, f: open_handle(lib.mp_barrier_open, n, int(parties), f))
        self._action = action
        self._timeout = timeout
        self._parties = self._u32(lib.mp_barrier_parties)

    @classmethod
    def _attach(cls, name, action, timeout):
        obj = cls.__new__(cls)
        cls.__init__(obj, 0, action, timeout, name=name, create=False, unlink_on_close=False)
        return obj

    def __reduce__(self):
        return (type(self)._attach, (self.name, self._action, self._timeout))

    def wait(self, timeout=None):
        """Waits until all parties have called wait; returns this party's
        arrival index (0 .. parties-1)."""
        from ._common import timeout_ms

        if timeout is None:
            timeout = self._timeout
        ms = timeout_ms(timeout)
        h = self._ptr()
        index = ctypes.c_uint32()
        ticket = ctypes.c_uint32()
        hold = B.MP_BARRIER_HOLD if self._action is not None else 0
        # Arrive (waiting, in slices, while another party's action holds the
        # previous generation). The status is collected by C code, as in
        # _sliced: a signal handler that raises just after an arrival that
        # succeeded must not leave this party counted in.
        box = []
        args = ((h,), (SLICE_MS,), (hold,), (ctypes.byref(index),), (ctypes.byref(ticket),))
        try:
            while True:
                del box[:]
                box.extend(map(lib.mp_barrier_arrive, *args))
                if box[0] != _TIMEOUT:
                    break
        except BaseException:
            if box and box[0] == 0:
                if hold and index.value == self._parties - 1:
                    lib.mp_barrier_abort(h)  # held, and the action will not run
                else:
                    lib.mp_barrier_leave(h, ticket.value, 0, None)
            raise
        rc = box[0]
        if rc:
            raise error(rc)
        index, ticket = index.value, ticket.value
        if index == self._parties - 1:
            if hold:
                try:
                    self._action()
                except BaseException:
                    lib.mp_barrier_abort(h)
                    raise
                rc = lib.mp_barrier_trip(h, ticket)
                if rc:
                    raise error(rc)
            return index
        try:
            rc = self._await(h, ticket, ms)
            if rc == _TIMEOUT:
                left = ctypes.c_bool()
                rc = lib.mp_barrier_leave(h, ticket, B.MP_BARRIER_BREAK, ctypes.byref(left))
                if rc == 0:
                    # Broken by this timeout; or the generation ended (or is
                    # held by the party running the action): its outcome.
                    rc = B.MP_E_BROKEN if left.value else self._await(h, ticket, FOREVER)
        except BaseException:
            # Interrupted (KeyboardInterrupt from Ctrl-C, or any exception a
            # signal handler raised between slices): withdraw the arrival,
            # as threading.Barrier does, unless the generation has ended.
            lib.mp_barrier_leave(h, ticket, 0, None)
            raise
        if rc:
            raise error(rc)
        return index

    @staticmethod
    def _await(h, ticket, ms):
        """mp_barrier_await in slices (signal handlers run between them)
        for `ms` in all (FOREVER: until the generation ends). Nothing to
        undo: the caller withdraws the arrival on an exception."""
        return _sliced(lib.mp_barrier_await, h, ms, ticket)

    def abort(self):
        """Breaks the barrier: current and later waits raise
        BrokenBarrierError until reset()."""
        rc = lib.mp_barrier_abort(self._ptr())
        if rc:
            raise error(rc)

    def reset(self):
        """Returns the barrier to its initial state (waiters get
        BrokenBarrierError)."""
        rc = lib.mp_barrier_reset(self._ptr())
        if rc:
            raise error(rc)

    def _u32(self, fn):
        return read_out(ctypes.c_uint32, fn, self._ptr())

    @property
    def parties(self):
        return self._u32(lib.mp_barrier_parties)

    @property
    def n_waiting(self):
        return self._u32(lib.mp_barrier_n_waiting)

    @property
    def broken(self):
        return read_out(ctypes.c_bool, lib.mp_barrier_broken, self._ptr())

