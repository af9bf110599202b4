#!/usr/bin/env python3
"""Python baseline for mpipc's shared arrays and locks: multiprocessing.Array, Lock and RLock.

Prints ONE JSON object on stdout; progress goes to stderr. Standard library only.

    python3 benches/python/mp_sync_bench.py [--quick] [--only NAME] [--repeat N]
        [--n-per-proc N] [--lock-iters R]

Everything is made from multiprocessing.get_context('fork') (the start method
'fork' is chosen explicitly):

- array_incr: ctx.Array('q', 1) with its default lock=True, i.e. a
  synchronized wrapper around one shared int64 guarded by a fresh ctx.RLock().
  2 child processes (which get the array through fork) each do N increments
  (default N = 100,000)
      with arr.get_lock(): arr[0] += 1
  (arr.get_lock() is looked up once before the loop; it always returns the
  same RLock).  In CPython 3.11 SynchronizedArray.__getitem__ and
  __setitem__ each take the array's lock again, so one increment is one
  contended RLock acquire/release plus two recursive (uncontended, no system
  call) acquire/release pairs: the cost a Python user pays for this idiom.
  Both children wait on a Barrier and read time.perf_counter() right after
  it; the start is the earlier of the two readings (the barrier release),
  the end is the later of the two children's readings after their last
  increment.  ops/s = 2 * N / (end - start).  After every run the parent
  asserts that arr[0] == 2 * N exactly (a lost update would show up here).
  perf_counter is clock_gettime(CLOCK_MONOTONIC), a system-wide clock, so
  readings from different processes are comparable (checked at start-up by
  clock_check()).
- lock_uncontended: in the parent process alone, a fresh ctx.Lock(); R
  iterations (default 1,000,000) of
      lock.acquire(); lock.release()
  (the bound methods looked up once before the loop), timed as a whole with
  time.perf_counter_ns() read just before and just after the loop;
  ns/op = elapsed / R (the figure includes the loop's own overhead, a few ns
  per iteration).  Afterwards the lock must be free (not held, and a
  non-blocking acquire succeeds).
- rlock_uncontended: the same with a fresh ctx.RLock().

All children are joined and their exit codes checked, and the parent
asserts that no child process is left at the end.  Each workload runs
--repeat times; the reported figure is the median over runs
(statistics.median), with every run's value listed beside it.
"""

import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench_common import (  # noqa: E402  (benches/python/_bench_common.py)
    CHILD_TIMEOUT, bench_parser, emit, option_picker, rate_runs, run_children, setup,
)

PROCS = 2  # array_incr: incrementing child processes
WORKLOADS = ["array_incr", "lock_uncontended", "rlock_uncontended"]


# --------------------------------------------------------------------------
# array_incr: 2 children, N locked increments each of one shared int64


def _incr_child(arr, barrier, cid, n, res):
    lock = arr.get_lock()
    clock = time.perf_counter
    barrier.wait(CHILD_TIMEOUT)
    t0 = clock()
    for _ in range(n):
        with lock:
            arr[0] += 1
    t_end = clock()
    res.put(("child", cid, t0, t_end, n))


def run_array_incr(ctx, n, procs=PROCS):
    arr = ctx.Array("q", 1)  # lock=True: guarded by a new ctx.RLock()
    assert arr[0] == 0
    barrier = ctx.Barrier(procs)
    out = run_children(ctx, [(_incr_child, (arr, barrier, cid, n)) for cid in range(procs)])
    assert sorted(r[1] for r in out) == list(range(procs)), out
    assert all(r[4] == n for r in out), out
    final = arr[0]
    assert final == procs * n, "array holds %d after %d increments" % (final, procs * n)
    t0 = min(r[2] for r in out)
    t_end = max(r[3] for r in out)
    assert t_end > t0, (t0, t_end)
    return procs * n / (t_end - t0)


# --------------------------------------------------------------------------
# lock_uncontended / rlock_uncontended: acquire + release in one process


def run_uncontended(lock, iters):
    acquire, release = lock.acquire, lock.release
    clock = time.perf_counter_ns
    t = clock()
    for _ in range(iters):
        acquire()
        release()
    t = clock() - t
    assert lock._semlock._count() == 0, "lock still held by this thread"
    assert lock.acquire(False), "lock not free after the loop"
    lock.release()
    assert t > 0, t
    return t / iters


# --------------------------------------------------------------------------


def main(argv=None):
    ap = bench_parser(__doc__, WORKLOADS)
    ap.add_argument("--n-per-proc", type=int, help="array_incr increments per process (default 100000; --quick: 5000)")
    ap.add_argument("--lock-iters", type=int,
                    help="lock_uncontended / rlock_uncontended acquire+release pairs (default 1000000; --quick: 50000)")
    a = ap.parse_args(argv)
    pick = option_picker(a.quick)
    repeat = pick(a.repeat, 3, 1)
    n = pick(a.n_per_proc, 100_000, 5_000)
    iters = pick(a.lock_iters, 1_000_000, 50_000)
    if repeat < 1 or min(n, iters) < 1:
        ap.error("sizes must be positive")

    ctx, out = setup(repeat)
    want = (lambda name: a.only in (None, name))
    t_all = time.perf_counter()

    if want("array_incr"):
        out["array_incr"] = rate_runs(
            "array_incr", repeat, lambda: run_array_incr(ctx, n), "ops_per_s", "ops/s", wall=True,
            procs=PROCS, n_per_proc=n,
        )

    if want("lock_uncontended"):
        out["lock_uncontended"] = rate_runs(
            "lock_uncontended", repeat, lambda: run_uncontended(ctx.Lock(), iters), "ns_per_op", "ns/op", 1,
            iters=iters,
        )

    if want("rlock_uncontended"):
        out["rlock_uncontended"] = rate_runs(
            "rlock_uncontended", repeat, lambda: run_uncontended(ctx.RLock(), iters), "ns_per_op", "ns/op", 1,
            iters=iters,
        )

    left = mp.active_children()
    assert not left, "processes left behind: %s" % left
    emit(out, t_all)


if __name__ == "__main__":
    main()
