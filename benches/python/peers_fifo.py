#!/usr/bin/env python3
"""Peer of mpipc's Python queue: faster-fifo's Queue on the Python binding's queue workloads.

Prints ONE JSON object on stdout (progress on stderr), in the shape of the
other programs of benches/python (_bench_common.setup / rate_runs /
latency_runs). Runs in the peers' venv, made by
benches/python/setup-peers-venv.sh (faster-fifo pinned in
requirements-peers.txt):

    build/venv-peers/bin/python benches/python/peers_fifo.py [--quick] [--only NAME]
        [--repeat N] [--tput-n N] [--mpmc-n N] [--batch B] [--lat-rounds R] [--lat-warmup W]

faster-fifo (a circular buffer in shared memory guarded by a process-shared
mutex and condition variables, pickle for objects) is the fastest
multiprocessing.Queue replacement on PyPI. Message: the small object
{"id": i, "name": f"item-{i}", "vals": [1.5, 2.5, 3.5]}, built in the
producer's loop exactly as benches/python/mpipc_py_bench.py builds it for
mpipc, pickled by faster-fifo. Start method 'fork' (the queue reaches the
children by inheritance). Every blocking call is given a timeout of
CHILD_TIMEOUT (faster-fifo's default is 10 s).

- q_tput: 1 producer process -> 1 consumer process, N messages (default
  200,000), faster_fifo.Queue() with its defaults (a 1,000,000-byte buffer,
  no count limit: about mpipc's default 1 MiB ring), one put / get per
  message. Both wait on a Barrier; the producer reads the clock before its
  first put, the consumer when it has received message N (perf_counter is
  CLOCK_MONOTONIC, comparable across processes: clock_check()). The
  producer then puts None; the consumer checks that nothing else came and
  that the last message is the one expected. Rate = N / elapsed.
- q_tput_batch: the same with put_many / get_many of --batch (default 256)
  messages (mpipc's q_tput_batch with put_many / get_many).
- q_mpmc: 2 producer processes, 2 consumer processes, Queue(maxsize=1000)
  (faster-fifo's count limit, as multiprocessing's maxsize), N messages in
  all (default 200,000, half per producer), one put / get per message.
  Start = the earlier producer's clock after the Barrier; each consumer
  stamps every message it gets (it cannot know which is its last); end =
  the later consumer's last stamp. When both producers have exited, the
  parent puts one None per consumer. The parent checks that the consumers
  received N messages in all, each id exactly once.
- q_latency: ping-pong of the small object between two processes over two
  queues (defaults); the pinger times put + get with perf_counter_ns;
  median and p99 of R (default 20,000) round trips after W (default 1,000)
  warm-up ones.

Each workload runs --repeat times (default 3; --quick 1 with small sizes);
figures are medians over runs, with every run listed.
"""

import importlib.metadata
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import faster_fifo  # noqa: E402
from _bench_common import (  # noqa: E402
    CHILD_TIMEOUT, bench_parser, by_role, collect, emit, join_all, kill_all, latency_runs, option_picker,
    percentiles, rate_runs, run_children, setup, start_child,
)

VERSION = importlib.metadata.version("faster-fifo")  # the module has no __version__
MPMC_PRODUCERS = 2
MPMC_CONSUMERS = 2
MPMC_MAXSIZE = 1000


def small(i):
    return {"id": i, "name": f"item-{i}", "vals": [1.5, 2.5, 3.5]}


# --------------------------------------------------------------------------
# q_tput, q_tput_batch


def _producer(q, barrier, n, res):
    put = q.put
    barrier.wait(CHILD_TIMEOUT)
    t0 = time.perf_counter()
    for i in range(n):
        put({"id": i, "name": f"item-{i}", "vals": [1.5, 2.5, 3.5]}, True, CHILD_TIMEOUT)
    put(None, True, CHILD_TIMEOUT)
    res.put(("producer", t0))


def _consumer(q, barrier, n, res):
    get = q.get
    got = 0
    last = None
    t_end = None
    barrier.wait(CHILD_TIMEOUT)
    while True:
        m = get(True, CHILD_TIMEOUT)
        if m is None:
            break
        got += 1
        last = m
        if got == n:
            t_end = time.perf_counter()
    res.put(("consumer", t_end, got, last))


def _batch_producer(q, barrier, n, batch, res):
    put_many = q.put_many
    barrier.wait(CHILD_TIMEOUT)
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        put_many([{"id": i, "name": f"item-{i}", "vals": [1.5, 2.5, 3.5]}
                  for i in range(start, min(n, start + batch))], True, CHILD_TIMEOUT)
    q.put(None, True, CHILD_TIMEOUT)
    res.put(("producer", t0))


def _batch_consumer(q, barrier, n, batch, res):
    get_many = q.get_many
    got = 0
    last = None
    t_end = None
    barrier.wait(CHILD_TIMEOUT)
    done = False
    while not done:
        for m in get_many(True, CHILD_TIMEOUT, batch):
            if m is None:
                done = True
                break
            got += 1
            last = m
            if got == n:
                t_end = time.perf_counter()
    res.put(("consumer", t_end, got, last))


def run_tput(ctx, n, batch=0):
    q = faster_fifo.Queue()
    barrier = ctx.Barrier(2)
    if batch:
        jobs = [(_batch_producer, (q, barrier, n, batch)), (_batch_consumer, (q, barrier, n, batch))]
    else:
        jobs = [(_producer, (q, barrier, n)), (_consumer, (q, barrier, n))]
    out = by_role(run_children(ctx, jobs))
    q.close()
    (t0,) = out["producer"]
    t_end, got, last = out["consumer"]
    assert got == n, "consumer received %d of %d messages" % (got, n)
    assert last == small(n - 1), last
    assert t_end is not None and t_end > t0, (t0, t_end)
    return n / (t_end - t0)


# --------------------------------------------------------------------------
# q_mpmc


def _mpmc_producer(q, barrier, first, n, res):
    put = q.put
    barrier.wait(CHILD_TIMEOUT)
    t0 = time.perf_counter()
    for i in range(first, first + n):
        put({"id": i, "name": f"item-{i}", "vals": [1.5, 2.5, 3.5]}, True, CHILD_TIMEOUT)
    res.put(("producer", t0, n))


def _mpmc_consumer(q, barrier, res):
    get = q.get
    clock = time.perf_counter
    ids = []
    t_last = None
    barrier.wait(CHILD_TIMEOUT)
    while True:
        m = get(True, CHILD_TIMEOUT)
        if m is None:
            break
        t_last = clock()
        ids.append(m["id"])
    res.put(("consumer", t_last, ids))


def run_mpmc(ctx, n):
    assert n % MPMC_PRODUCERS == 0, "n must divide evenly among producers"
    q = faster_fifo.Queue(maxsize=MPMC_MAXSIZE)
    res = ctx.Queue()
    barrier = ctx.Barrier(MPMC_PRODUCERS + MPMC_CONSUMERS)
    per = n // MPMC_PRODUCERS
    prods = [start_child(ctx, _mpmc_producer, (q, barrier, p * per, per, res)) for p in range(MPMC_PRODUCERS)]
    cons = [start_child(ctx, _mpmc_consumer, (q, barrier, res)) for _ in range(MPMC_CONSUMERS)]
    procs = prods + cons
    try:
        p_out = collect(res, MPMC_PRODUCERS, procs)
        join_all(prods)
        for _ in range(MPMC_CONSUMERS):
            q.put(None, True, CHILD_TIMEOUT)
        c_out = collect(res, MPMC_CONSUMERS, procs)
        join_all(cons)
    finally:
        kill_all(procs)
        res.close()
        res.join_thread()
    q.close()
    assert sorted(r[0] for r in p_out + c_out) == ["consumer"] * 2 + ["producer"] * 2, (p_out, c_out)
    ids = sorted(i for r in c_out for i in r[2])
    assert ids == list(range(n)), "consumers received %d messages, not each of the %d once" % (len(ids), n)
    t0 = min(r[1] for r in p_out)
    t_end = max(r[1] for r in c_out if r[1] is not None)
    assert t_end > t0, (t0, t_end)
    return n / (t_end - t0)


# --------------------------------------------------------------------------
# q_latency


def _pinger(q1, q2, rounds, warmup, res):
    put, get = q1.put, q2.get
    clock = time.perf_counter_ns
    rtts = []
    bad = 0
    for i in range(warmup + rounds):
        m = {"id": i, "name": f"item-{i}", "vals": [1.5, 2.5, 3.5]}
        t = clock()
        put(m, True, CHILD_TIMEOUT)
        r = get(True, CHILD_TIMEOUT)
        t = clock() - t
        if i >= warmup:
            rtts.append(t)
        if r != m:
            bad += 1
    put(None, True, CHILD_TIMEOUT)
    res.put(("pinger", len(rtts), bad) + percentiles(rtts))


def _ponger(q1, q2, res):
    get, put = q1.get, q2.put
    echoed = 0
    while True:
        m = get(True, CHILD_TIMEOUT)
        if m is None:
            break
        put(m, True, CHILD_TIMEOUT)
        echoed += 1
    res.put(("ponger", echoed))


def run_latency(ctx, rounds, warmup):
    q1, q2 = faster_fifo.Queue(), faster_fifo.Queue()
    out = by_role(run_children(ctx, [(_pinger, (q1, q2, rounds, warmup)), (_ponger, (q1, q2))]))
    q1.close()
    q2.close()
    timed, bad, med, p99, mn = out["pinger"]
    (echoed,) = out["ponger"]
    assert timed == rounds and bad == 0 and echoed == rounds + warmup, (timed, bad, echoed)
    return med, p99, mn


# --------------------------------------------------------------------------


def main(argv=None):
    ap = bench_parser(__doc__, ["q_tput", "q_tput_batch", "q_mpmc", "q_latency"])
    ap.add_argument("--tput-n", type=int, help="q_tput(_batch) messages (default 200000; --quick: 20000)")
    ap.add_argument("--mpmc-n", type=int, help="q_mpmc messages in all (default 200000; --quick: 20000)")
    ap.add_argument("--batch", type=int, default=256, help="q_tput_batch batch size (default 256)")
    ap.add_argument("--lat-rounds", type=int, help="q_latency timed round trips (default 20000; --quick: 2000)")
    ap.add_argument("--lat-warmup", type=int, help="q_latency warm-up round trips (default 1000; --quick: 200)")
    a = ap.parse_args(argv)
    pick = option_picker(a.quick)
    repeat = pick(a.repeat, 3, 1)
    tput_n = pick(a.tput_n, 200_000, 20_000)
    mpmc_n = pick(a.mpmc_n, 200_000, 20_000)
    lat_rounds = pick(a.lat_rounds, 20_000, 2_000)
    lat_warmup = pick(a.lat_warmup, 1_000, 200)
    if repeat < 1 or min(tput_n, mpmc_n, lat_rounds, a.batch) < 1 or lat_warmup < 0:
        ap.error("sizes must be positive")
    if mpmc_n % MPMC_PRODUCERS:
        ap.error("--mpmc-n must be even (two producers)")

    ctx, out = setup(repeat, peer="faster-fifo", peer_version=VERSION, message="small object",
                     serializer="pickle")
    want = (lambda name: a.only in (None, name))
    t_all = time.perf_counter()
    if want("q_tput"):
        out["q_tput"] = rate_runs("q_tput faster-fifo", repeat, lambda: run_tput(ctx, tput_n), "msgs_per_s",
                                  "msg/s", n=tput_n, producers=1, consumers=1)
    if want("q_tput_batch"):
        out["q_tput_batch"] = rate_runs("q_tput_batch faster-fifo", repeat, lambda: run_tput(ctx, tput_n, a.batch),
                                        "msgs_per_s", "msg/s", n=tput_n, batch=a.batch, producers=1, consumers=1)
    if want("q_mpmc"):
        out["q_mpmc"] = rate_runs("q_mpmc faster-fifo", repeat, lambda: run_mpmc(ctx, mpmc_n), "msgs_per_s",
                                  "msg/s", n=mpmc_n, producers=MPMC_PRODUCERS, consumers=MPMC_CONSUMERS,
                                  maxsize=MPMC_MAXSIZE)
    if want("q_latency"):
        out["q_latency"] = latency_runs("q_latency faster-fifo", repeat,
                                        lambda: run_latency(ctx, lat_rounds, lat_warmup), rounds=lat_rounds,
                                        warmup=lat_warmup)
    emit(out, t_all)


if __name__ == "__main__":
    main()
