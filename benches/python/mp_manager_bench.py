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

import multiprocessing as mp
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench_common import (  # noqa: E402  (benches/python/_bench_common.py)
    CHILD_TIMEOUT, bench_parser, emit, latency_runs, option_picker, percentiles, rate_runs,
    run_children, setup,
)

VALUE_SIZE = 16
CLIENTS = 2
KEY_STRIDE = 1_000_000  # client c's keys are c * KEY_STRIDE + i
VAL = struct.Struct("<qq")  # a key's value: the key twice (16 bytes)
RTT_VALUE = b"\x07" * VALUE_SIZE
WORKLOADS = ["mgr_dict", "mgr_get_rtt"]


# --------------------------------------------------------------------------
# the manager's life cycle


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
        barrier = ctx.Barrier(clients)
        out = run_children(ctx, [(_dict_client, (d, barrier, cid, n)) for cid in range(clients)])
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
    res.put(("client", len(rtts), bad, inode) + percentiles(rtts))


def run_rtt(ctx, rounds, warmup):
    with _ManagerRun(ctx) as run:
        run.d["k"] = RTT_VALUE
        (out,) = run_children(ctx, [(_rtt_client, (run.d, rounds, warmup))])
        _, timed, bad, inode, med, p99, mn = out
        assert timed == rounds, (timed, rounds)
        assert bad == 0, "%d reads differed from the value set" % bad
        assert inode != run.parent_inode, "client did not open its own connection"
        assert run.d.copy() == {"k": RTT_VALUE}
    return med, p99, mn


# --------------------------------------------------------------------------


def main(argv=None):
    ap = bench_parser(__doc__, WORKLOADS)
    ap.add_argument("--n-per-client", type=int, help="mgr_dict sets (and gets) per client (default 10000; --quick: 1000)")
    ap.add_argument("--rtt-rounds", type=int, help="mgr_get_rtt timed reads (default 20000; --quick: 2000)")
    ap.add_argument("--rtt-warmup", type=int, help="mgr_get_rtt warm-up reads (default 1000; --quick: 200)")
    a = ap.parse_args(argv)
    pick = option_picker(a.quick)
    repeat = pick(a.repeat, 3, 1)
    n = pick(a.n_per_client, 10_000, 1_000)
    rtt_rounds = pick(a.rtt_rounds, 20_000, 2_000)
    rtt_warmup = pick(a.rtt_warmup, 1_000, 200)
    if repeat < 1 or min(n, rtt_rounds) < 1 or rtt_warmup < 0:
        ap.error("sizes must be positive")
    if n >= KEY_STRIDE:
        ap.error("--n-per-client must be below %d" % KEY_STRIDE)

    ctx, out = setup(repeat)
    want = (lambda name: a.only in (None, name))
    t_all = time.perf_counter()

    if want("mgr_dict"):
        out["mgr_dict"] = rate_runs(
            "mgr_dict", repeat, lambda: run_dict(ctx, n), "ops_per_s", "ops/s",
            clients=CLIENTS, n_per_client=n, value_bytes=VALUE_SIZE,
        )

    if want("mgr_get_rtt"):
        out["mgr_get_rtt"] = latency_runs(
            "mgr_get_rtt", repeat, lambda: run_rtt(ctx, rtt_rounds, rtt_warmup),
            rounds=rtt_rounds, warmup=rtt_warmup, value_bytes=VALUE_SIZE,
        )

    left = mp.active_children()
    assert not left, "processes left behind: %s" % left
    emit(out, t_all)


if __name__ == "__main__":
    main()
