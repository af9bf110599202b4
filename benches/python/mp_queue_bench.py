#!/usr/bin/env python3
"""Python baseline for benches/queue.rs: multiprocessing.Queue on the same workloads.

Prints ONE JSON object on stdout; progress goes to stderr. Standard library only.

    python3 benches/python/mp_queue_bench.py [--quick] [--only NAME] [--repeat N]
        [--tput-n N] [--lat-rounds R] [--lat-warmup W] [--mpmc-n N]

Workloads (64-byte ``bytes`` messages, start method 'fork' chosen explicitly):

- q_tput: 1 producer process -> 1 consumer process, unbounded Queue.
  Both children wait on a Barrier; the producer reads the clock just before its
  first put(), the consumer reads it when it has received message N. The
  elapsed time is consumer_end - producer_start.  Both readings are
  time.perf_counter(), which on Linux is clock_gettime(CLOCK_MONOTONIC), a
  system-wide clock, so readings from different processes are comparable
  (checked at start-up by clock_check()).
- q_latency: ping-pong through two Queues between two child processes; the
  pinger times put(q1) + get(q2) with perf_counter_ns, after W warm-up rounds.
- q_mpmc: 2 producers, 2 consumers, Queue(maxsize=1000). Start = barrier
  release (earliest producer clock reading right after Barrier.wait()); end =
  the latest time any consumer received a data message. After both producers
  have exited (so their feeder threads have flushed everything into the pipe),
  the parent puts one None per consumer; the sentinels are outside the timed
  region.

Every consumer counts what it received (messages and bytes) and the parent
asserts the totals; all children are joined and their exit codes checked.
Each workload runs --repeat times; the reported figure is the median over runs
(statistics.median), with every run's value listed beside it.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench_common import (  # noqa: E402  (benches/python/_bench_common.py)
    CHILD_TIMEOUT, bench_parser, by_role, close_queues, collect, emit, join_all, latency_runs,
    option_picker, percentiles, rate_runs, run_children, setup, start_child,
)

MSG_SIZE = 64


# --------------------------------------------------------------------------
# producers (q_tput and q_mpmc)


def _producer(q, barrier, n, end_marker, res):
    msg = b"\x07" * MSG_SIZE
    put = q.put
    barrier.wait(CHILD_TIMEOUT)
    t0 = time.perf_counter()
    for _ in range(n):
        put(msg)
    if end_marker:
        put(None)  # q_tput: lets the consumer prove nothing extra arrives
    res.put(("producer", t0, n))
    # on exit the Queue's finalizer joins the feeder thread, flushing the pipe


# --------------------------------------------------------------------------
# q_tput: 1 producer -> 1 consumer


def _tput_consumer(q, barrier, n, res):
    get = q.get
    got = 0
    nbytes = 0
    t_end = None
    barrier.wait(CHILD_TIMEOUT)
    while True:
        m = get()
        if m is None:
            break
        got += 1
        nbytes += len(m)
        if got == n:
            t_end = time.perf_counter()
    res.put(("consumer", t_end, got, nbytes))


def run_tput(ctx, n):
    q = ctx.Queue()
    barrier = ctx.Barrier(2)
    out = by_role(run_children(ctx, [
        (_producer, (q, barrier, n, True)),
        (_tput_consumer, (q, barrier, n)),
    ]))
    close_queues(q)
    t0, _ = out["producer"]
    t_end, got, nbytes = out["consumer"]
    assert got == n, "consumer received %d of %d messages" % (got, n)
    assert nbytes == n * MSG_SIZE, (nbytes, n * MSG_SIZE)
    assert t_end is not None and t_end > t0, (t0, t_end)
    return n / (t_end - t0)


# --------------------------------------------------------------------------
# q_latency: ping-pong through two queues


def _pinger(q1, q2, rounds, warmup, res):
    msg = b"\x01" * MSG_SIZE
    put, get = q1.put, q2.get
    clock = time.perf_counter_ns
    rtts = []
    bad = 0
    for i in range(warmup + rounds):
        t = clock()
        put(msg)
        r = get()
        t = clock() - t
        if i >= warmup:
            rtts.append(t)
        if r != msg:
            bad += 1
    put(None)  # tells the ponger to stop
    res.put(("pinger", len(rtts), bad) + percentiles(rtts))


def _ponger(q1, q2, res):
    get, put = q1.get, q2.put
    echoed = 0
    while True:
        m = get()
        if m is None:
            break
        put(m)
        echoed += 1
    res.put(("ponger", echoed))


def run_latency(ctx, rounds, warmup):
    q1, q2 = ctx.Queue(), ctx.Queue()
    out = by_role(run_children(ctx, [
        (_pinger, (q1, q2, rounds, warmup)),
        (_ponger, (q1, q2)),
    ]))
    close_queues(q1, q2)
    timed, bad, med, p99, mn = out["pinger"]
    (echoed,) = out["ponger"]
    assert timed == rounds, (timed, rounds)
    assert bad == 0, "%d echoes differed from the message sent" % bad
    assert echoed == rounds + warmup, (echoed, rounds + warmup)
    return med, p99, mn


# --------------------------------------------------------------------------
# q_mpmc: 2 producers, 2 consumers, maxsize 1000


def _mpmc_consumer(q, barrier, res):
    get = q.get
    clock = time.perf_counter
    got = 0
    nbytes = 0
    t_last = None
    barrier.wait(CHILD_TIMEOUT)
    while True:
        m = get()
        if m is None:
            break
        # A consumer cannot know which message is the last one, so it stamps
        # each one (one perf_counter call, tens of ns, against a get() of
        # several µs).
        t_last = clock()
        got += 1
        nbytes += len(m)
    res.put(("consumer", t_last, got, nbytes))


def run_mpmc(ctx, n, producers=2, consumers=2, maxsize=1000):
    assert n % producers == 0, "n must divide evenly among producers"
    q = ctx.Queue(maxsize=maxsize)
    res = ctx.Queue()
    barrier = ctx.Barrier(producers + consumers)
    prods = [
        start_child(ctx, _producer, (q, barrier, n // producers, False, res)) for _ in range(producers)
    ]
    cons = [start_child(ctx, _mpmc_consumer, (q, barrier, res)) for _ in range(consumers)]
    procs = prods + cons
    p_out = collect(res, producers, procs)
    assert all(r[0] == "producer" for r in p_out), p_out
    # A producer process exits only after its feeder thread has written every
    # buffered message to the pipe, so the sentinels below come after all data.
    join_all(prods)
    for _ in range(consumers):
        q.put(None)
    c_out = collect(res, consumers, procs)
    join_all(cons)
    close_queues(q, res)
    assert all(r[0] == "consumer" for r in c_out), c_out
    t0 = min(r[1] for r in p_out)
    sent = sum(r[2] for r in p_out)
    got = sum(r[2] for r in c_out)
    nbytes = sum(r[3] for r in c_out)
    assert sent == n, (sent, n)
    assert got == n, "consumers received %d of %d messages" % (got, n)
    assert nbytes == n * MSG_SIZE, (nbytes, n * MSG_SIZE)
    t_end = max(r[1] for r in c_out if r[1] is not None)
    assert t_end > t0, (t0, t_end)
    return n / (t_end - t0)


# --------------------------------------------------------------------------


def main(argv=None):
    ap = bench_parser(__doc__, ["q_tput", "q_latency", "q_mpmc"])
    ap.add_argument("--tput-n", type=int, help="q_tput messages (default 200000; --quick: 20000)")
    ap.add_argument("--lat-rounds", type=int, help="q_latency timed round trips (default 20000; --quick: 2000)")
    ap.add_argument("--lat-warmup", type=int, help="q_latency warm-up round trips (default 1000; --quick: 200)")
    ap.add_argument("--mpmc-n", type=int, help="q_mpmc messages in total (default 200000; --quick: 20000)")
    a = ap.parse_args(argv)
    pick = option_picker(a.quick)
    repeat = pick(a.repeat, 3, 1)
    tput_n = pick(a.tput_n, 200_000, 20_000)
    lat_rounds = pick(a.lat_rounds, 20_000, 2_000)
    lat_warmup = pick(a.lat_warmup, 1_000, 200)
    mpmc_n = pick(a.mpmc_n, 200_000, 20_000)
    if repeat < 1 or min(tput_n, lat_rounds, mpmc_n) < 1 or lat_warmup < 0:
        ap.error("sizes must be positive")

    ctx, out = setup(repeat, msg_bytes=MSG_SIZE)
    want = (lambda name: a.only in (None, name))
    t_all = time.perf_counter()

    if want("q_tput"):
        out["q_tput"] = rate_runs(
            "q_tput", repeat, lambda: run_tput(ctx, tput_n), "msgs_per_s", "msg/s", n=tput_n, maxsize=0
        )

    if want("q_latency"):
        out["q_latency"] = latency_runs(
            "q_latency", repeat, lambda: run_latency(ctx, lat_rounds, lat_warmup),
            rounds=lat_rounds, warmup=lat_warmup,
        )

    if want("q_mpmc"):
        out["q_mpmc"] = rate_runs(
            "q_mpmc", repeat, lambda: run_mpmc(ctx, mpmc_n), "msgs_per_s", "msg/s",
            n=mpmc_n, producers=2, consumers=2, maxsize=1000,
        )

    emit(out, t_all)


if __name__ == "__main__":
    main()
