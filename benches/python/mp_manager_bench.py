#!/usr/bin/env python3
"""Python baseline for benches/manager.rs: multiprocessing.Manager on the same workloads.

Prints ONE JSON object on stdout; progress goes to stderr. Standard library only.

    python3 benches/python/mp_manager_bench.py [--quick] [--only NAME] [--repeat N]
        [--n-per-client N] [--rtt-rounds R] [--rtt-warmup W]

The manager is multiprocessing.get_context('fork').Manager() (a SyncManager
whose server is a separate process; the start method 'fork' is chosen
explicitly), started afresh for every run and shut down after it, like the
server in benches/manager.rs.  Clients are child processes forked from the
parent; each receives the dict proxy through fork.  A proxy keeps its
connection in a per-process, per-thread slot that is cleared after fork, so
every client opens its own connection to the manager on its first call.  The
benchmark checks this: the parent uses the proxy before forking (so it holds
a connection of its own), each client asserts that it inherited no
connection, makes one untimed call (len(d)) to connect, and reports the
socket's inode; the parent asserts that its own and the clients' sockets are
all distinct.

- mgr_dict: 2 client processes on one shared manager dict proxy; client c
  does N `d[key] = value` then N `v = d[key]` (default N = 10,000), keys
  c*1_000_000 + i (ints, distinct per client), values 16-byte ``bytes``
  (the key twice as 8 little-endian bytes, so each key has its own value).
  Both clients connect, then wait on a Barrier and read time.perf_counter()
  right after it; the start is the earlier of the two readings (the barrier
  release), the end is the later of the two clients' readings after their
  last read.  ops/s = 2 * clients * N / (end - start).  Every read is
  compared with the value written; afterwards the parent checks that
  d.copy() equals exactly the clients * N expected items.  perf_counter is
  clock_gettime(CLOCK_MONOTONIC), a system-wide clock, so readings from
  different processes are comparable (checked at start-up by clock_check()).
- mgr_get_rtt: the parent sets d["k"] to a 16-byte value; one client process
  connects, does W untimed warm-up reads (default 1,000) and then R timed
  `d["k"]` reads (default 20,000), each timed with perf_counter_ns and
  compared with the value set; median, p99 and min in microseconds.

All children (clients and the manager's server process) are joined and
their exit codes checked, and the parent asserts that no child process is
left once a run is over.  Each workload runs --repeat times; the reported
figure is the median over runs (statistics.median), with every run's value
listed beside it.
"""

import argparse
import json
import os
import platform
import queue as queue_mod
import statistics
import struct
import sys
import time

import multiprocessing as mp

VALUE_SIZE = 16
CLIENTS = 2
START_METHOD = "fork"
CHILD_TIMEOUT = 300.0  # seconds: generous upper bound on one run
KEY_STRIDE = 1_000_000  # client c's keys are c * KEY_STRIDE + i
VAL = struct.Struct("<qq")  # a key's value: the key twice (16 bytes)
RTT_VALUE = b"\x07" * VALUE_SIZE
WORKLOADS = ["mgr_dict", "mgr_get_rtt"]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# clock check (same as mp_queue_bench.py)


def _clock_child(res):
    res.put((time.perf_counter_ns(), time.clock_gettime_ns(time.CLOCK_MONOTONIC)))


def clock_check(ctx):
    """Check that perf_counter is CLOCK_MONOTONIC and agrees across processes."""
    info = time.get_clock_info("perf_counter")
    if sys.platform.startswith("linux"):
        assert info.implementation == "clock_gettime(CLOCK_MONOTONIC)", info
    assert info.monotonic, info
    # perf_counter_ns must be the raw CLOCK_MONOTONIC value (no per-process offset).
    a = time.perf_counter_ns()
    m = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    b = time.perf_counter_ns()
    assert a <= m <= b, (a, m, b)
    # ... and a reading taken in another process falls between two parent readings.
    res = ctx.SimpleQueue()
    t0 = time.perf_counter_ns()
    p = ctx.Process(target=_clock_child, args=(res,))
    p.start()
    child_pc, child_mono = res.get()
    p.join()
    t1 = time.perf_counter_ns()
    assert p.exitcode == 0
    assert t0 <= child_pc <= t1, (t0, child_pc, t1)
    assert abs(child_mono - child_pc) < 1_000_000, (child_pc, child_mono)
    return info.implementation


# --------------------------------------------------------------------------
# helpers (same as mp_queue_bench.py, plus the manager's life cycle)


def _start(ctx, target, args):
    p = ctx.Process(target=target, args=args, daemon=True)
    p.start()
    return p


def _collect(res, n, procs):
    """Get n results from the result queue, failing fast if a child died."""
    out = []
    deadline = time.monotonic() + CHILD_TIMEOUT
    while len(out) < n:
        try:
            out.append(res.get(timeout=0.5))
        except queue_mod.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                _kill(procs)
                raise RuntimeError(
                    "child failed or timed out: exit codes %s" % [p.exitcode for p in procs]
                )
    return out


def _kill(procs):
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(5)


def _join(procs):
    for p in procs:
        p.join(CHILD_TIMEOUT)
    bad = [(p.name, p.exitcode) for p in procs if p.exitcode != 0]
    if bad:
        _kill(procs)
        raise RuntimeError("child exited badly: %s" % bad)


def _close(*qs):
    for q in qs:
        q.close()
        q.join_thread()


def _conn_inode(proxy):
    """Inode of the socket this process's connection to the manager uses
    (proxies keep it in the private, fork-cleared slot proxy._tls)."""
    conn = getattr(proxy._tls, "connection", None)
    assert conn is not None, "proxy has no connection in this process"
    return os.fstat(conn.fileno()).st_ino


def _connect_client(d):
    """In a client: check the connection inherited from the parent was
    dropped at fork, then connect with one untimed call; return the inode."""
    assert getattr(d._tls, "connection", None) is None, "client inherited the parent's connection"
    len(d)
    return _conn_inode(d)


class _ManagerRun:
    """A fresh Manager for one run, with a dict proxy the parent has used
    (so it holds a connection of its own); shut down and checked on exit."""

    def __init__(self, ctx):
        self.ctx = ctx

    def __enter__(self):
        self.mgr = self.ctx.Manager()
        self.d = self.mgr.dict()
        len(self.d)
        self.parent_inode = _conn_inode(self.d)
        return self

    def __exit__(self, *exc):
        server = self.mgr._process
        del self.d  # decref while the server is still up
        self.mgr.shutdown()
        server.join(CHILD_TIMEOUT)
        if exc[0] is None:
            assert server.exitcode == 0, "manager server exited with %r" % server.exitcode
            left = mp.active_children()
            assert not left, "processes left behind: %s" % left
        return False


# --------------------------------------------------------------------------
# mgr_dict: 2 clients, N sets then N gets each, one shared dict


def _dict_client(d, barrier, cid, n, res):
    inode = _connect_client(d)
    keys = [cid * KEY_STRIDE + i for i in range(n)]
    vals = [VAL.pack(k, k) for k in keys]
    pairs = list(zip(keys, vals))
    clock = time.perf_counter
    bad = 0
    reads = 0
    barrier.wait(CHILD_TIMEOUT)
    t0 = clock()
    for k, v in pairs:
        d[k] = v
    for k, v in pairs:
        if d[k] != v:
            bad += 1
        reads += 1
    t_end = clock()
    res.put(("client", cid, t0, t_end, n, reads, bad, inode))


def run_dict(ctx, n, clients=CLIENTS):
    assert n < KEY_STRIDE, "n_per_client must stay below %d" % KEY_STRIDE
    with _ManagerRun(ctx) as run:
        d = run.d
        res = ctx.Queue()
        barrier = ctx.Barrier(clients)
        procs = []
        try:
            for cid in range(clients):
                procs.append(_start(ctx, _dict_client, (d, barrier, cid, n, res)))
            out = _collect(res, clients, procs)
            _join(procs)
        finally:
            _kill(procs)
            _close(res)
        assert sorted(r[1] for r in out) == list(range(clients)), out
        for _, cid, t0, t_end, sets, reads, bad, _ in out:
            assert sets == n and reads == n, "client %d: %d sets, %d reads of %d" % (cid, sets, reads, n)
            assert bad == 0, "client %d: %d reads differed from the value written" % (cid, bad)
        inodes = [run.parent_inode] + [r[7] for r in out]
        assert len(set(inodes)) == len(inodes), "clients did not open their own connections: %s" % inodes
        expect = {cid * KEY_STRIDE + i: VAL.pack(cid * KEY_STRIDE + i, cid * KEY_STRIDE + i)
                  for cid in range(clients) for i in range(n)}
        got = d.copy()
        assert got == expect, "dict holds %d items, %d expected (or values differ)" % (len(got), len(expect))
        del d
    t0 = min(r[2] for r in out)
    t_end = max(r[3] for r in out)
    assert t_end > t0, (t0, t_end)
    return 2 * clients * n / (t_end - t0)


# --------------------------------------------------------------------------
# mgr_get_rtt: one client, timed d["k"] reads


def _rtt_client(d, rounds, warmup, res):
    inode = _connect_client(d)
    clock = time.perf_counter_ns
    want = RTT_VALUE
    rtts = []
    bad = 0
    for i in range(warmup + rounds):
        t = clock()
        r = d["k"]
        t = clock() - t
        if i >= warmup:
            rtts.append(t)
        if r != want:
            bad += 1
    rtts.sort()

    def pct(p):
        return rtts[int((len(rtts) - 1) * p)] / 1000.0

    res.put(("client", len(rtts), bad, inode, pct(0.5), pct(0.99), pct(0.0)))


def run_rtt(ctx, rounds, warmup):
    with _ManagerRun(ctx) as run:
        run.d["k"] = RTT_VALUE
        res = ctx.Queue()
        procs = []
        try:
            procs.append(_start(ctx, _rtt_client, (run.d, rounds, warmup, res)))
            (out,) = _collect(res, 1, procs)
            _join(procs)
        finally:
            _kill(procs)
            _close(res)
        _, timed, bad, inode, med, p99, mn = out
        assert timed == rounds, (timed, rounds)
        assert bad == 0, "%d reads differed from the value set" % bad
        assert inode != run.parent_inode, "client did not open its own connection"
        assert run.d.copy() == {"k": RTT_VALUE}
    return med, p99, mn


# --------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, repeat 1 (smoke test)")
    ap.add_argument("--only", choices=WORKLOADS, help="run one workload")
    ap.add_argument("--repeat", type=int, help="runs per workload (default 3; --quick: 1)")
    ap.add_argument("--n-per-client", type=int, help="mgr_dict sets (and gets) per client (default 10000; --quick: 1000)")
    ap.add_argument("--rtt-rounds", type=int, help="mgr_get_rtt timed reads (default 20000; --quick: 2000)")
    ap.add_argument("--rtt-warmup", type=int, help="mgr_get_rtt warm-up reads (default 1000; --quick: 200)")
    a = ap.parse_args(argv)

    def pick(v, full, quick):
        return v if v is not None else (quick if a.quick else full)

    repeat = pick(a.repeat, 3, 1)
    n = pick(a.n_per_client, 10_000, 1_000)
    rtt_rounds = pick(a.rtt_rounds, 20_000, 2_000)
    rtt_warmup = pick(a.rtt_warmup, 1_000, 200)
    if repeat < 1 or min(n, rtt_rounds) < 1 or rtt_warmup < 0:
        ap.error("sizes must be positive")
    if n >= KEY_STRIDE:
        ap.error("--n-per-client must be below %d" % KEY_STRIDE)

    ctx = mp.get_context(START_METHOD)
    clock = clock_check(ctx)
    out = {
        "python": platform.python_version(),
        "start_method": START_METHOD,
        "clock": clock,
        "repeat": repeat,
        "cpus": os.cpu_count(),
    }
    want = (lambda name: a.only in (None, name))
    t_all = time.perf_counter()

    if want("mgr_dict"):
        runs = []
        for i in range(repeat):
            runs.append(run_dict(ctx, n))
            log("mgr_dict run %d: %.0f ops/s" % (i + 1, runs[-1]))
        out["mgr_dict"] = {
            "ops_per_s": round(statistics.median(runs)),
            "runs": [round(x) for x in runs],
            "clients": CLIENTS,
            "n_per_client": n,
            "value_bytes": VALUE_SIZE,
        }

    if want("mgr_get_rtt"):
        runs = []
        for i in range(repeat):
            runs.append(run_rtt(ctx, rtt_rounds, rtt_warmup))
            log("mgr_get_rtt run %d: median %.2f us, p99 %.2f us, min %.2f us" % ((i + 1,) + runs[-1]))
        out["mgr_get_rtt"] = {
            "median_us": round(statistics.median(r[0] for r in runs), 2),
            "p99_us": round(statistics.median(r[1] for r in runs), 2),
            "min_us": round(statistics.median(r[2] for r in runs), 2),
            "runs_median_us": [round(r[0], 2) for r in runs],
            "runs_p99_us": [round(r[1], 2) for r in runs],
            "runs_min_us": [round(r[2], 2) for r in runs],
            "rounds": rtt_rounds,
            "warmup": rtt_warmup,
            "value_bytes": VALUE_SIZE,
        }

    left = mp.active_children()
    assert not left, "processes left behind: %s" % left
    log("total %.1f s" % (time.perf_counter() - t_all))
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
