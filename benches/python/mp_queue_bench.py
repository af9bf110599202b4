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

import argparse
import json
import os
import platform
import queue as queue_mod
import statistics
import sys
import time

import multiprocessing as mp

MSG_SIZE = 64
START_METHOD = "fork"
CHILD_TIMEOUT = 300.0  # seconds: generous upper bound on one run


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# clock check


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
# helpers


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


# --------------------------------------------------------------------------
# q_tput: 1 producer -> 1 consumer


def _tput_producer(q, barrier, res, n):
    msg = b"\x07" * MSG_SIZE
    put = q.put
    barrier.wait(CHILD_TIMEOUT)
    t0 = time.perf_counter()
    for _ in range(n):
        put(msg)
    put(None)  # end marker: lets the consumer prove nothing extra arrives
    res.put(("producer", t0))
    # on exit the Queue's finalizer joins the feeder thread, flushing the pipe


def _tput_consumer(q, barrier, res, n):
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
    res = ctx.Queue()
    barrier = ctx.Barrier(2)
    procs = [
        _start(ctx, _tput_producer, (q, barrier, res, n)),
        _start(ctx, _tput_consumer, (q, barrier, res, n)),
    ]
    out = dict((r[0], r[1:]) for r in _collect(res, 2, procs))
    _join(procs)
    _close(q, res)
    (t0,) = out["producer"]
    t_end, got, nbytes = out["consumer"]
    assert got == n, "consumer received %d of %d messages" % (got, n)
    assert nbytes == n * MSG_SIZE, (nbytes, n * MSG_SIZE)
    assert t_end is not None and t_end > t0, (t0, t_end)
    return n / (t_end - t0)


# --------------------------------------------------------------------------
# q_latency: ping-pong through two queues


def _pinger(q1, q2, res, rounds, warmup):
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
    rtts.sort()

    def pct(p):
        return rtts[int((len(rtts) - 1) * p)] / 1000.0

    res.put(("pinger", len(rtts), bad, pct(0.5), pct(0.99), pct(0.0)))


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
    q1, q2, res = ctx.Queue(), ctx.Queue(), ctx.Queue()
    procs = [
        _start(ctx, _pinger, (q1, q2, res, rounds, warmup)),
        _start(ctx, _ponger, (q1, q2, res)),
    ]
    out = dict((r[0], r[1:]) for r in _collect(res, 2, procs))
    _join(procs)
    _close(q1, q2, res)
    timed, bad, med, p99, mn = out["pinger"]
    (echoed,) = out["ponger"]
    assert timed == rounds, (timed, rounds)
    assert bad == 0, "%d echoes differed from the message sent" % bad
    assert echoed == rounds + warmup, (echoed, rounds + warmup)
    return med, p99, mn


# --------------------------------------------------------------------------
# q_mpmc: 2 producers, 2 consumers, maxsize 1000


def _mpmc_producer(q, barrier, res, n):
    msg = b"\x07" * MSG_SIZE
    put = q.put
    barrier.wait(CHILD_TIMEOUT)
    t0 = time.perf_counter()
    for _ in range(n):
        put(msg)
    res.put(("producer", t0, n))


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
    prods = [_start(ctx, _mpmc_producer, (q, barrier, res, n // producers)) for _ in range(producers)]
    cons = [_start(ctx, _mpmc_consumer, (q, barrier, res)) for _ in range(consumers)]
    procs = prods + cons
    p_out = _collect(res, producers, procs)
    assert all(r[0] == "producer" for r in p_out), p_out
    # A producer process exits only after its feeder thread has written every
    # buffered message to the pipe, so the sentinels below come after all data.
    _join(prods)
    for _ in range(consumers):
        q.put(None)
    c_out = _collect(res, consumers, procs)
    _join(cons)
    _close(q, res)
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


def throughput_runs(name, repeat, run, **params):
    """Call run() (one run of a throughput workload, returning msg/s) `repeat`
    times, logging each result; return the workload's JSON entry: the median
    rate, every run's rate, then `params` (the workload's settings)."""
    runs = []
    for i in range(repeat):
        runs.append(run())
        log("%s run %d: %.0f msg/s" % (name, i + 1, runs[-1]))
    return {"msgs_per_s": round(statistics.median(runs)), "runs": [round(x) for x in runs], **params}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, repeat 1 (smoke test)")
    ap.add_argument("--only", choices=["q_tput", "q_latency", "q_mpmc"], help="run one workload")
    ap.add_argument("--repeat", type=int, help="runs per workload (default 3; --quick: 1)")
    ap.add_argument("--tput-n", type=int, help="q_tput messages (default 200000; --quick: 20000)")
    ap.add_argument("--lat-rounds", type=int, help="q_latency timed round trips (default 20000; --quick: 2000)")
    ap.add_argument("--lat-warmup", type=int, help="q_latency warm-up round trips (default 1000; --quick: 200)")
    ap.add_argument("--mpmc-n", type=int, help="q_mpmc messages in total (default 200000; --quick: 20000)")
    a = ap.parse_args(argv)

    def pick(v, full, quick):
        return v if v is not None else (quick if a.quick else full)

    repeat = pick(a.repeat, 3, 1)
    tput_n = pick(a.tput_n, 200_000, 20_000)
    lat_rounds = pick(a.lat_rounds, 20_000, 2_000)
    lat_warmup = pick(a.lat_warmup, 1_000, 200)
    mpmc_n = pick(a.mpmc_n, 200_000, 20_000)
    if repeat < 1 or min(tput_n, lat_rounds, mpmc_n) < 1 or lat_warmup < 0:
        ap.error("sizes must be positive")

    ctx = mp.get_context(START_METHOD)
    clock = clock_check(ctx)
    out = {
        "python": platform.python_version(),
        "start_method": START_METHOD,
        "clock": clock,
        "msg_bytes": MSG_SIZE,
        "repeat": repeat,
        "cpus": os.cpu_count(),
    }
    want = (lambda name: a.only in (None, name))
    t_all = time.perf_counter()

    if want("q_tput"):
        out["q_tput"] = throughput_runs(
            "q_tput", repeat, lambda: run_tput(ctx, tput_n), n=tput_n, maxsize=0
        )

    if want("q_latency"):
        runs = []
        for i in range(repeat):
            runs.append(run_latency(ctx, lat_rounds, lat_warmup))
            log("q_latency run %d: median %.2f us, p99 %.2f us, min %.2f us" % ((i + 1,) + runs[-1]))
        out["q_latency"] = {
            "median_us": round(statistics.median(r[0] for r in runs), 2),
            "p99_us": round(statistics.median(r[1] for r in runs), 2),
            "min_us": round(statistics.median(r[2] for r in runs), 2),
            "runs_median_us": [round(r[0], 2) for r in runs],
            "runs_p99_us": [round(r[1], 2) for r in runs],
            "runs_min_us": [round(r[2], 2) for r in runs],
            "rounds": lat_rounds,
            "warmup": lat_warmup,
        }

    if want("q_mpmc"):
        out["q_mpmc"] = throughput_runs(
            "q_mpmc", repeat, lambda: run_mpmc(ctx, mpmc_n), n=mpmc_n, producers=2, consumers=2, maxsize=1000
        )

    log("total %.1f s" % (time.perf_counter() - t_all))
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
