#!/usr/bin/env python3
"""Peer of mpipc's manager dict: UltraDict (a dict in shared memory) on the manager dict's workloads.

Prints ONE JSON object on stdout (progress on stderr), in the shape of the
other programs of benches/python (_bench_common.setup / rate_runs /
latency_runs). Runs in the peers' venv, made by
benches/python/setup-peers-venv.sh (UltraDict pinned in
requirements-peers.txt):

    build/venv-peers/bin/python benches/python/peers_ultradict.py [--quick] [--only NAME]
        [--repeat N] [--n N] [--lat-rounds R] [--lat-warmup W] [--buffer-size BYTES]

UltraDict keeps a dict in every process and a stream of updates in shared
memory: a write appends the pickled (key, value) to the stream under a
lock, a read first applies whatever the stream has gained since this
process last looked, then reads the local dict -- so a read that finds
nothing new is a local dict lookup. When the stream buffer is full, the
writer dumps the whole dict into shared memory and the others reload it.
Configuration: UltraDict's defaults (buffer_size 10,000 bytes unless
--buffer-size; the lock is a multiprocessing.RLock, shared with the
children by fork, UltraDict's default when shared_lock is not asked for),
a fresh dict per run, unlinked after it. Start method 'fork'.

- dict_sets_gets: the workload of mpipc_py_bench.py's mgr_dict (the issue
  #17 row "manager dict, 2 clients"): the parent makes the dict; 2 client
  processes, forked with it, each do one untimed len(d), wait on a
  Barrier, then N (default 10,000; --quick 1,000) d[key] = value then N
  d[key] reads, keys c*1,000,000 + i (ints), values 16-byte bytes (the key
  twice, so every read is checked against its own value). Start = the
  earlier client's clock after the Barrier, end = the later one's after its
  last read; ops/s = 2 * 2 * N / (end - start). Afterwards the parent
  checks that the dict holds exactly the 2 * N items written.
- dict_get_latency: the parent fills the dict with 1,000 items (keys 0 ..
  999, values as above); one client process reads d[k] for k = i % 1000,
  timing each read with perf_counter_ns, and checks each value; median and
  p99 of R (default 20,000) reads after W (default 1,000) warm-up ones.
  (mpipc's counterpart: a manager dict get, a round trip to the server.)

Each workload runs --repeat times (default 3; --quick 1 with small sizes);
figures are medians over runs, with every run listed.
"""

import importlib.metadata
import os
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from UltraDict import UltraDict  # noqa: E402
from _bench_common import (  # noqa: E402
    CHILD_TIMEOUT, bench_parser, by_role, emit, latency_runs, option_picker, percentiles, rate_runs, run_children,
    setup,
)

VERSION = importlib.metadata.version("UltraDict")
CLIENTS = 2
KEY_STRIDE = 1_000_000  # client c's keys are c * KEY_STRIDE + i
VAL = struct.Struct("<qq")  # a key's value: the key twice (16 bytes)
LAT_KEYS = 1000
DEFAULT_BUFFER = 10_000  # UltraDict's own default buffer_size


# --------------------------------------------------------------------------
# dict_sets_gets


def _client(d, barrier, cid, n, res):
    len(d)  # untimed, as the manager client's first call (which connects)
    pairs = [(k, VAL.pack(k, k)) for k in range(cid * KEY_STRIDE, cid * KEY_STRIDE + n)]
    clock = time.perf_counter
    bad = 0
    barrier.wait(CHILD_TIMEOUT)
    t0 = clock()
    for k, v in pairs:
        d[k] = v
    for k, v in pairs:
        if d[k] != v:
            bad += 1
    t_end = clock()
    res.put(("client", cid, t0, t_end, bad))


def run_sets_gets(ctx, n, buffer_size):
    d = UltraDict(buffer_size=buffer_size)
    try:
        barrier = ctx.Barrier(CLIENTS)
        out = run_children(ctx, [(_client, (d, barrier, cid, n)) for cid in range(CLIENTS)])
        assert sorted(r[1] for r in out) == list(range(CLIENTS)), out
        assert all(r[4] == 0 for r in out), "reads differed from the values written: %s" % out
        got = dict(d.items())
        expect = {k: VAL.pack(k, k) for c in range(CLIENTS) for k in range(c * KEY_STRIDE, c * KEY_STRIDE + n)}
        assert got == expect, "dict holds %d items, %d expected (or values differ)" % (len(got), len(expect))
    finally:
        d.unlink()
    t0 = min(r[2] for r in out)
    t_end = max(r[3] for r in out)
    assert t_end > t0, (t0, t_end)
    return 2 * CLIENTS * n / (t_end - t0)


# --------------------------------------------------------------------------
# dict_get_latency


def _reader(d, rounds, warmup, res):
    len(d)
    clock = time.perf_counter_ns
    want = [VAL.pack(k, k) for k in range(LAT_KEYS)]
    lat = []
    bad = 0
    for i in range(warmup + rounds):
        k = i % LAT_KEYS
        t = clock()
        v = d[k]
        t = clock() - t
        if i >= warmup:
            lat.append(t)
        if v != want[k]:
            bad += 1
    res.put(("reader", len(lat), bad) + percentiles(lat))


def run_get_latency(ctx, rounds, warmup, buffer_size):
    d = UltraDict(buffer_size=buffer_size)
    try:
        for k in range(LAT_KEYS):
            d[k] = VAL.pack(k, k)
        out = by_role(run_children(ctx, [(_reader, (d, rounds, warmup))]))
    finally:
        d.unlink()
    timed, bad, med, p99, mn = out["reader"]
    assert timed == rounds and bad == 0, (timed, bad)
    return med, p99, mn


# --------------------------------------------------------------------------


def main(argv=None):
    ap = bench_parser(__doc__, ["dict_sets_gets", "dict_get_latency"])
    ap.add_argument("--n", type=int, help="dict_sets_gets sets (and gets) per client (default 10000; --quick: 1000)")
    ap.add_argument("--lat-rounds", type=int, help="dict_get_latency timed reads (default 20000; --quick: 2000)")
    ap.add_argument("--lat-warmup", type=int, help="dict_get_latency warm-up reads (default 1000; --quick: 200)")
    ap.add_argument("--buffer-size", type=int, default=DEFAULT_BUFFER,
                    help="UltraDict's buffer_size, bytes (default %d, UltraDict's own)" % DEFAULT_BUFFER)
    a = ap.parse_args(argv)
    pick = option_picker(a.quick)
    repeat = pick(a.repeat, 3, 1)
    n = pick(a.n, 10_000, 1_000)
    lat_rounds = pick(a.lat_rounds, 20_000, 2_000)
    lat_warmup = pick(a.lat_warmup, 1_000, 200)
    if repeat < 1 or min(n, lat_rounds, a.buffer_size) < 1 or lat_warmup < 0:
        ap.error("sizes must be positive")
    if n >= KEY_STRIDE:
        ap.error("--n must be below %d" % KEY_STRIDE)

    ctx, out = setup(repeat, peer="UltraDict", peer_version=VERSION, buffer_size=a.buffer_size, serializer="pickle")
    want = (lambda name: a.only in (None, name))
    t_all = time.perf_counter()
    if want("dict_sets_gets"):
        out["dict_sets_gets"] = rate_runs("dict_sets_gets UltraDict", repeat,
                                          lambda: run_sets_gets(ctx, n, a.buffer_size), "ops_per_s", "ops/s",
                                          clients=CLIENTS, n_per_client=n)
    if want("dict_get_latency"):
        out["dict_get_latency"] = latency_runs("dict_get_latency UltraDict", repeat,
                                               lambda: run_get_latency(ctx, lat_rounds, lat_warmup, a.buffer_size),
                                               rounds=lat_rounds, warmup=lat_warmup, keys=LAT_KEYS)
    emit(out, t_all)


if __name__ == "__main__":
    main()
