"""Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier
across processes, with threading's documented behaviours and the robust
recovery from a holder that dies."""

import os
import signal
import threading
import time
import warnings

import pytest

import mpipc
from mpipc import Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore, Value

from conftest import join_ok, python, start_child


def _add_many(lock, v, n):
    for _ in range(n):
        with lock:
            v.value += 1  # a raw ctypes value (lock=False): only the Lock protects it


def test_lock_excludes_across_processes(ctx):
    lock = Lock()
    v = Value("q", 0, lock=False)
    ps = [start_child(ctx, _add_many, lock, v, 2000) for _ in range(3)]
    join_ok(*ps)
    assert v.value == 6000
    lock.close()
    v.close()


def test_lock_acquire_release_semantics():
    lock = Lock()
    assert lock.acquire() is True
    assert lock.locked()
    assert lock.acquire(False) is False  # held by this thread: non-blocking fails, as threading
    assert lock.acquire(timeout=0.05) is False
    with pytest.raises(RuntimeError):
        lock.acquire()  # would deadlock forever in threading: refused instead
    lock.release()
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()  # threading: "release unlocked lock"
    with pytest.raises(ValueError):
        lock.acquire(True, -5)
    lock.close()


def test_release_from_another_thread_is_refused():
    lock = Lock()
    lock.acquire()
    errs = []

    def other():
        try:
            lock.release()
        except RuntimeError as e:
            errs.append(e)
        assert lock.acquire(timeout=0.05) is False

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert errs and isinstance(errs[0], mpipc.NotOwner) and errs[0].status_name == "MP_E_PERM"
    lock.release()
    lock.close()


def _hold(name, started):
    lock = Lock(name=name, create=False)
    lock.acquire()
    started.set()
    time.sleep(60)


def test_lock_timeout_across_processes(ctx, name):
    lock = Lock(name=name)
    started = Event()
    p = start_child(ctx, _hold, name, started)
    assert started.wait(10)
    t = time.monotonic()
    assert lock.acquire(timeout=0.2) is False
    assert 0.18 <= time.monotonic() - t < 2
    # The holder is killed: the lock passes on, with a warning.
    os.kill(p.pid, signal.SIGKILL)
    p.join()
    with pytest.warns(mpipc.OwnerDiedWarning):
        assert lock.acquire(timeout=10) is True
    assert lock.owner_died and lock.owner_deaths == 1
    lock.release()
    assert lock.acquire(timeout=1)
    lock.release()
    lock.unlink()
    started.close()


def test_owner_died_works_with_the_with_statement(ctx, name):
    lock = Lock(name=name)
    started = Event()
    p = start_child(ctx, _hold, name, started)
    assert started.wait(10)
    os.kill(p.pid, signal.SIGKILL)
    p.join()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with lock:
            assert lock.owner_died
    assert any(issubclass(x.category, mpipc.OwnerDiedWarning) for x in w)
    assert not lock.locked()
    lock.unlink()
    started.close()


def test_rlock_recursion():
    r = RLock()
    with r:
        with r:
            assert r.acquire(False)
            r.release()
    with pytest.raises(RuntimeError):
        r.release()
    r.close()


def test_kind_mismatch_is_type_error(name):
    Lock(name=name)
    with pytest.raises(TypeError):
        RLock(name=name)
    mpipc.unlink("lock", name)


def test_semaphore_counts_and_timeouts():
    s = Semaphore(2)
    assert s.acquire() and s.acquire(timeout=0.01)
    assert s.get_value() == 0
    t = time.monotonic()
    assert s.acquire(timeout=0.2) is False
    assert 0.18 <= time.monotonic() - t < 2
    s.release(2)
    assert s.get_value() == 2
    s.release()  # unbounded: fine
    assert s.get_value() == 3
    with pytest.raises(ValueError):
        Semaphore(-1)
    s.close()
    b = BoundedSemaphore(1)
    with b:
        pass
    with pytest.raises(ValueError, match="too many"):
        b.release()
    b.close()


def _sem_worker(sem, active, peak):
    for _ in range(20):
        with sem:
            n = active.incr(1)
            with peak.get_lock():
                if n > peak.value:
                    peak.value = n
            time.sleep(0.001)
            active.incr(-1)


def test_semaphore_bounds_concurrency_across_processes(ctx):
    sem, active, peak = Semaphore(2), Value("i", 0), Value("i", 0)
    ps = [start_child(ctx, _sem_worker, sem, active, peak) for _ in range(4)]
    join_ok(*ps)
    assert 1 <= peak.value <= 2 and active.value == 0
    for o in (sem, active, peak):
        o.close()


def _set_later(ev):
    time.sleep(0.1)
    ev.set()


def test_event_across_processes(ctx):
    ev = Event()
    assert not ev.is_set()
    assert ev.wait(0.05) is False
    p = start_child(ctx, _set_later, ev)
    assert ev.wait(10) is True and ev.is_set()
    ev.clear()
    assert not ev.is_set()
    join_ok(p)
    ev.close()


def _cond_waiter(cond, flag, out):
    with cond:
        ok = cond.wait_for(lambda: flag.value == 1, timeout=10)
        out.put(ok)


def test_condition_across_processes(ctx):
    cond = Condition()
    flag = Value("i", 0)
    out = mpipc.Queue()
    ps = [start_child(ctx, _cond_waiter, cond, flag, out) for _ in range(2)]
    time.sleep(0.2)
    with cond:
        flag.value = 1
        cond.notify_all()
    assert out.get(timeout=10) is True and out.get(timeout=10) is True
    join_ok(*ps)
    with pytest.raises(RuntimeError):
        cond.notify()
    with pytest.raises(RuntimeError):
        cond.wait(0)
    with cond:
        assert cond.wait(0.05) is False  # timed out, lock held again
    for o in (cond, flag, out):
        o.close()


def test_condition_with_a_given_lock(name):
    lock = Lock()
    cond = Condition(lock, name=name)
    with cond:
        cond.notify()
    with pytest.raises(TypeError):
        Condition(threading.Lock())
    cond.unlink()
    lock.close()


def _barrier_party(b, out):
    out.put(b.wait(10))


def test_barrier_across_processes(ctx):
    b = Barrier(3)
    out = mpipc.Queue()
    ps = [start_child(ctx, _barrier_party, b, out) for _ in range(2)]
    mine = b.wait(10)
    got = sorted([mine, out.get(timeout=10), out.get(timeout=10)])
    assert got == [0, 1, 2]
    join_ok(*ps)
    assert b.parties == 3 and b.n_waiting == 0 and not b.broken
    b.close()
    out.close()


def test_barrier_broken_by_timeout_abort_and_reset():
    b = Barrier(2, timeout=0.1)
    with pytest.raises(threading.BrokenBarrierError):
        b.wait()
    assert b.broken
    with pytest.raises(threading.BrokenBarrierError):
        b.wait(1)
    b.reset()
    assert not b.broken
    b.abort()
    with pytest.raises(mpipc.BrokenBarrierError):
        b.wait()
    b.close()
    with pytest.raises(ValueError):
        Barrier(0)


def test_barrier_action_runs_once():
    calls = []
    b = Barrier(2, action=lambda: calls.append(1))
    t = threading.Thread(target=b.wait, args=(10,))
    t.start()
    b.wait(10)
    t.join()
    assert calls == [1]
    b.close()


def test_objects_open_by_name_from_another_program(name):
    ev = Event(name=name)
    python("import mpipc, sys; mpipc.Event(name=sys.argv[1], create=False).set()", name)
    assert ev.is_set()
    ev.unlink()


def test_locked_and_ownership_are_the_locks_own_answers(ctx, name):
    # locked() reads the lock without taking it: held by another process it
    # is True; once that holder is killed it is False, and it has taken
    # nothing away: the next acquire still reports the death.
    lock = Lock(name=name)
    started = Event()
    p = start_child(ctx, _hold, name, started)
    assert started.wait(10)
    assert lock.locked() and not lock._is_owned()
    os.kill(p.pid, signal.SIGKILL)
    p.join()
    assert not lock.locked()
    assert lock.owner_deaths == 0
    with pytest.warns(mpipc.OwnerDiedWarning):
        assert lock.acquire(timeout=10) is True
    assert lock.owner_died and lock.owner_deaths == 1
    # Held by this thread: through another handle of the same lock too (the
    # lock records its holder, not the handle), but not by another thread.
    other = Lock(name=name, create=False)
    assert lock.locked() and lock._is_owned() and other._is_owned()
    seen = []
    t = threading.Thread(target=lambda: seen.append((other.locked(), other._is_owned())))
    t.start()
    t.join()
    assert seen == [(True, False)]
    other.release()  # the same lock: released through either handle
    assert not lock.locked() and not lock._is_owned()
    with pytest.raises(RuntimeError):
        lock.release()
    other.close()
    lock.unlink()
    lock.close()
    started.close()
