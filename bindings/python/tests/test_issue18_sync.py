"""Issue #18, gaps 7 and 8: Barrier's action runs before any party is
released; blocking waits see Ctrl-C (KeyboardInterrupt) and leave nothing
behind. Real processes, started by fork and by spawn, as CPython's
test_multiprocessing runs them."""

import functools
import multiprocessing
import os
import signal

import pytest

import mpipc
from mpipc import Barrier, BoundedSemaphore, BrokenBarrierError, Condition, Event, Lock, RLock, Semaphore, SimpleQueue, Value

from conftest import join_ok, wait_blocked_in_futex

METHODS = ["fork", "spawn"]
ROUNDS = 3


def _bump(counter):
    with counter.get_lock():
        counter.value += 1


def _party(barrier, counter, out):
    seen = []
    for r in range(ROUNDS):
        barrier.wait()
        # The action of round r ran before any party was released.
        seen.append(counter.value)
    out.put(seen)


@pytest.mark.parametrize("method", METHODS)
def test_barrier_action_runs_once_before_any_party_returns(method):
    ctx = multiprocessing.get_context(method)
    counter = Value("i", 0)
    out = SimpleQueue()
    b = Barrier(3, action=functools.partial(_bump, counter))
    procs = [ctx.Process(target=_party, args=(b, counter, out), daemon=True) for _ in range(2)]
    for p in procs:
        p.start()
    _party(b, counter, out)
    join_ok(*procs, timeout=60)
    seen = [out.get() for _ in range(3)]
    # Exactly one party ran each round's action, before anyone returned
    # from that round's wait (a party may already see the next round's).
    assert counter.value == ROUNDS
    for s in seen:
        assert all(v >= r + 1 for r, v in enumerate(s)), seen
    assert not b.broken and b.n_waiting == 0
    b.close()
    out.close()
    counter.close()


class ActionFailed(Exception):
    pass


def _fail():
    raise ActionFailed("the action failed")


def _party_reporting(barrier, out):
    try:
        barrier.wait()
        out.put("returned")
    except BrokenBarrierError:
        out.put("broken")
    except ActionFailed:
        out.put("action failed")


@pytest.mark.parametrize("method", METHODS)
def test_barrier_action_that_raises_breaks_it_for_everyone(method):
    ctx = multiprocessing.get_context(method)
    out = SimpleQueue()
    b = Barrier(3, action=_fail)
    procs = [ctx.Process(target=_party_reporting, args=(b, out), daemon=True) for _ in range(2)]
    for p in procs:
        p.start()
    _party_reporting(b, out)
    join_ok(*procs, timeout=60)
    got = sorted(out.get() for _ in range(3))
    # The party that ran the action gets its exception; the others
    # BrokenBarrierError; nobody returns normally.
    assert got == ["action failed", "broken", "broken"]
    assert b.broken
    b.reset()
    assert not b.broken
    b.close()
    out.close()


def test_barrier_action_sees_every_party_arrived():
    seen = []
    b = Barrier(1, action=lambda: seen.append(b.n_waiting))
    assert b.wait() == 0
    assert seen == [1]  # held: all parties in, none released
    b.close()


# --------------------------------------------------------------------------
# Interruptible waits: a child blocked in a wait gets SIGINT and reports
# KeyboardInterrupt; what it waited on is left as it was.


def _wait_in(kind, obj, entering, out):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        entering.set()
        if kind in ("lock", "rlock", "sem", "bsem"):
            obj.acquire()
            out.put("acquired")
        elif kind == "lock_timeout":
            obj.acquire(timeout=3600)
            out.put("acquired")
        elif kind == "event":
            obj.wait()
            out.put("set")
        elif kind == "barrier":
            obj.wait()
            out.put("tripped")
        elif kind == "condition":
            with obj:
                obj.wait()
                # Interrupted or not, the wait re-acquired the lock (as
                # threading's does); `with` releases it.
                out.put("notified")
    except KeyboardInterrupt:
        out.put("KeyboardInterrupt")


def _new(kind):
    if kind in ("lock", "lock_timeout"):
        lock = Lock()
        lock.acquire()  # held here: the child blocks
        return lock
    if kind == "rlock":
        lock = RLock()
        lock.acquire()
        return lock
    if kind == "sem":
        return Semaphore(0)
    if kind == "bsem":
        s = BoundedSemaphore(1)
        s.acquire()
        return s
    if kind == "event":
        return Event()
    if kind == "condition":
        return Condition()
    return Barrier(2)


def _check_left_alone(kind, obj):
    if kind in ("lock", "rlock", "lock_timeout"):
        obj.release()
        assert obj.acquire(False), "the interrupted child holds the lock"
        obj.release()
    elif kind == "sem":
        assert obj.get_value() == 0
        obj.release()
        assert obj.get_value() == 1  # the child took no unit
    elif kind == "bsem":
        obj.release()  # not "released too many times": the child took nothing
        assert obj.get_value() == 1
    elif kind == "event":
        assert not obj.is_set()
    elif kind == "condition":
        # The child ended its wait (its place is gone) and let the lock go.
        assert obj.acquire(False), "the interrupted child holds the condition's lock"
        assert not obj.wait(0), "a notification appeared from nowhere"
        obj.release()
    else:
        # The interrupted party withdrew, as threading's does: the barrier
        # is not broken and counts nobody.
        assert obj.n_waiting == 0 and not obj.broken


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", ["lock", "lock_timeout", "rlock", "sem", "bsem", "event", "barrier", "condition"])
def test_blocking_wait_sees_ctrl_c(method, kind):
    ctx = multiprocessing.get_context(method)
    obj = _new(kind)
    entering = Event()
    out = SimpleQueue()
    p = ctx.Process(target=_wait_in, args=(kind, obj, entering, out), daemon=True)
    p.start()
    assert entering.wait(60)
    wait_blocked_in_futex(p.pid)
    if kind == "barrier":
        assert obj.n_waiting == 1
    os.kill(p.pid, signal.SIGINT)
    assert out.get(timeout=60) == "KeyboardInterrupt"
    join_ok(p, timeout=60)
    _check_left_alone(kind, obj)
    obj.close()
    entering.close()
    out.close()


def test_waits_still_complete_normally_across_processes():
    # The slicing changes nothing for a wait that ends normally.
    ctx = multiprocessing.get_context("fork")
    sem = Semaphore(0)
    entering = Event()
    out = SimpleQueue()
    p = ctx.Process(target=_wait_in, args=("sem", sem, entering, out), daemon=True)
    p.start()
    assert entering.wait(60)
    sem.release()
    assert out.get(timeout=60) == "acquired"
    join_ok(p)
    assert sem.get_value() == 0
    sem.close()
    entering.close()
    out.close()


def _interrupt_after_the_slice(frame, event, arg):
    # A profile hook that raises KeyboardInterrupt just after the C call
    # that collected a slice's status returned: where a signal handler
    # runs when SIGINT lands during a slice that succeeded.
    if event == "c_return" and frame.f_code.co_name == "_sliced" and getattr(arg, "__name__", "") == "extend":
        import sys

        sys.setprofile(None)
        raise KeyboardInterrupt


def test_interrupt_just_after_a_successful_slice_takes_nothing():
    import sys

    sem = Semaphore(0)
    lock = Lock()
    ev = Event()
    ev.set()  # makes the slice succeed at once

    def sem_slice(h, step):
        sem.release()  # the unit arrives during the slice
        return mpipc.synchronize.lib.mp_sem_acquire(h, step)

    from mpipc import synchronize as S

    h = sem._ptr()
    sys.setprofile(_interrupt_after_the_slice)
    try:
        with pytest.raises(KeyboardInterrupt):
            S._sliced(sem_slice, h, -1, undo=S._undo_sem(h))
    finally:
        sys.setprofile(None)
    assert sem.get_value() == 1  # given back

    lh = lock._ptr()
    sys.setprofile(_interrupt_after_the_slice)
    try:
        with pytest.raises(KeyboardInterrupt):
            S._sliced(S.lib.mp_lock_acquire, lh, -1, undo=S._undo_lock(lh))
    finally:
        sys.setprofile(None)
    assert lock.acquire(False)  # released again: free
    lock.release()
    for o in (sem, lock, ev):
        o.close()
