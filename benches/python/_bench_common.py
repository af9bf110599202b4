"""Shared code for the Python baseline benchmarks in this folder
(mp_queue_bench.py, mp_pipe_bench.py, mp_manager_bench.py). Standard library only.

The scripts are run as ``python3 benches/python/X.py`` and import this module
from their own directory. Nothing here runs inside a timed region except
percentiles(), which a child calls after its timed loop; the helpers cover:

- the clock check: clock_check() asserts that time.perf_counter() is
  clock_gettime(CLOCK_MONOTONIC), a system-wide clock, so readings taken in
  different processes can be subtracted;
- child supervision: start_child(), collect(), kill_all(), join_all(),
  close_queues() and run_children(), which starts a set of children with a
  shared result queue, collects one result from each and joins them, failing
  fast (and killing the rest) if a child dies or CHILD_TIMEOUT passes;
- repetitions and statistics: percentiles() (median, p99, min of round-trip
  times), rate_runs() and latency_runs() (run a workload --repeat times, log
  each run, return its JSON entry with the median over runs and every run's
  value: rate_entry(), latency_entry()), interleaved_runs() (the sides of
  one comparison run in alternating rounds);
- the command line and output: bench_parser() (the --quick, --only and
  --repeat options every script has), option_picker() (an option's value
  or its full / --quick default), setup() (the fork context and the JSON
  header) and emit() (the JSON object on stdout).
"""

import argparse
import json
import multiprocessing as mp
import os
import platform
import queue as queue_mod
import statistics
import sys
import time

START_METHOD = "fork"  # chosen explicitly, not left to the platform default
CHILD_TIMEOUT = 300.0  # seconds: generous upper bound on one run


def log(*a):
    """Progress goes to stderr (stdout carries only the JSON object)."""
    print(*a, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# clock check


def _clock_child(res):
    res.put((time.perf_counter_ns(), time.clock_gettime_ns(time.CLOCK_MONOTONIC)))


def clock_check(ctx):
    """Check that perf_counter is CLOCK_MONOTONIC and agrees across processes;
    return the clock's implementation name (the JSON's "clock")."""
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
# child supervision


def start_child(ctx, target, args):
    """Start target(*args) in a daemon child process; return the Process."""
    p = ctx.Process(target=target, args=args, daemon=True)
    p.start()
    return p


def collect(res, n, procs):
    """Get n results from the result queue, failing fast if a child died."""
    out = []
    deadline = time.monotonic() + CHILD_TIMEOUT
    while len(out) < n:
        try:
            out.append(res.get(timeout=0.5))
        except queue_mod.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                kill_all(procs)
                raise RuntimeError(
                    "child failed or timed out: exit codes %s" % [p.exitcode for p in procs]
                )
    return out


def kill_all(procs):
    """Terminate the children still running and reap them (a no-op for
    children already joined)."""
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(5)


def join_all(procs):
    """Join every child and check that each exited with code 0."""
    for p in procs:
        p.join(CHILD_TIMEOUT)
    bad = [(p.name, p.exitcode) for p in procs if p.exitcode != 0]
    if bad:
        kill_all(procs)
        raise RuntimeError("child exited badly: %s" % bad)


def close_queues(*qs):
    """Close multiprocessing Queues and wait for their feeder threads."""
    for q in qs:
        q.close()
        q.join_thread()


def run_children(ctx, jobs, started=None):
    """Run one daemon child per (target, args) in `jobs`, in that order, each
    called as target(*args, res) with a shared result queue `res` on which it
    puts exactly one result.  Once every child has been started (or a start
    failed), call started() if given: the place for the parent to close its
    copies of pipe ends the children use.  Collect the results (in arrival
    order), join the children and check their exit codes; on any failure the
    children are killed.  The result queue is closed before returning."""
    res = ctx.Queue()
    procs = []
    try:
        try:
            for target, args in jobs:
                procs.append(start_child(ctx, target, args + (res,)))
        finally:
            if started is not None:
                started()
        out = collect(res, len(jobs), procs)
        join_all(procs)
    finally:
        kill_all(procs)
        close_queues(res)
    return out


def by_role(results):
    """{first element: the rest} for results that start with a role name
    ("producer", "receiver", ...), one result per role."""
    return dict((r[0], r[1:]) for r in results)


# --------------------------------------------------------------------------
# repetitions and statistics


def percentiles(rtts):
    """(median, p99, min) in microseconds of a list of nanosecond durations
    (sorted in place); the p-th value is rtts[int((len - 1) * p)]."""
    rtts.sort()

    def pct(p):
        return rtts[int((len(rtts) - 1) * p)] / 1000.0

    return pct(0.5), pct(0.99), pct(0.0)


def _repeat(name, repeat, run, describe, wall):
    """Call run() `repeat` times, logging "NAME run I: " + describe(result)
    after each (and, with wall=True, the run's wall time); return the results."""
    runs = []
    for i in range(repeat):
        t = time.perf_counter()
        runs.append(run())
        line = "%s run %d: %s" % (name, i + 1, describe(runs[-1]))
        log(line + (" (%.2f s wall)" % (time.perf_counter() - t) if wall else ""))
    return runs


def rate_entry(runs, key, ndigits=0, **params):
    """The JSON entry of a throughput workload from its runs' rates: {key:
    median rate, "runs": every run's rate, **params (the workload's
    settings)}.  Rates are rounded to `ndigits` decimals; with ndigits=0
    they are ints."""
    rnd = round if ndigits == 0 else (lambda x: round(x, ndigits))
    return {key: rnd(statistics.median(runs)), "runs": [rnd(x) for x in runs], **params}


def latency_entry(runs, **params):
    """The JSON entry of a latency workload from its runs' (median, p99,
    min) in microseconds: the median over runs of each figure, every run's
    figures, then **params (the workload's settings)."""
    return {
        "median_us": round(statistics.median(r[0] for r in runs), 2),
        "p99_us": round(statistics.median(r[1] for r in runs), 2),
        "min_us": round(statistics.median(r[2] for r in runs), 2),
        "runs_median_us": [round(r[0], 2) for r in runs],
        "runs_p99_us": [round(r[1], 2) for r in runs],
        "runs_min_us": [round(r[2], 2) for r in runs],
        **params,
    }


def describe_rate(unit, ndigits=0):
    """How a rate is logged: "123 msg/s"."""
    return lambda r: "%.*f %s" % (ndigits, r, unit)


def describe_latency(r):
    """How a (median, p99, min) result is logged."""
    return "median %.2f us, p99 %.2f us, min %.2f us" % r


def rate_runs(name, repeat, run, key, unit, ndigits=0, wall=False, **params):
    """Call run() (one run of a throughput workload, returning a rate in
    `unit`) `repeat` times, logging each result (and, with wall=True, the
    run's wall time); return the workload's JSON entry (rate_entry)."""
    return rate_entry(_repeat(name, repeat, run, describe_rate(unit, ndigits), wall), key, ndigits, **params)


def latency_runs(name, repeat, run, wall=False, **params):
    """Call run() (one run of a latency workload, returning (median, p99,
    min) in microseconds) `repeat` times, logging each result; return the
    workload's JSON entry (latency_entry)."""
    return latency_entry(_repeat(name, repeat, run, describe_latency, wall), **params)


def interleaved_runs(repeat, jobs):
    """Run several workloads that are to be compared (mpipc's and
    multiprocessing's sides of one workload) `repeat` rounds each,
    interleaved: round i runs every job once, in the order given in odd
    rounds and reversed in even ones, so that a slow drift of the machine's
    load (a shared machine) hits every side alike, instead of the sides
    that happen to run last.  `jobs`: a list of (name, run, describe) --
    run() does one run, describe(result) is its log text.  Returns {name:
    [every round's result]}."""
    results = {name: [] for name, _, _ in jobs}
    for i in range(repeat):
        for name, run, describe in (jobs if i % 2 == 0 else jobs[::-1]):
            results[name].append(run())
            log("%s run %d: %s" % (name, i + 1, describe(results[name][-1])))
    return results


# --------------------------------------------------------------------------
# command line and output


def bench_parser(doc, workloads):
    """An ArgumentParser described by the first paragraph of `doc`, with the
    options every script has: --quick, --only (one of `workloads`), --repeat."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, repeat 1 (smoke test)")
    ap.add_argument("--only", choices=workloads, help="run one workload")
    ap.add_argument("--repeat", type=int, help="runs per workload (default 3; --quick: 1)")
    return ap


def option_picker(quick):
    """pick(value, full, quick_value): an option's value if it was given on
    the command line, else its default: quick_value under --quick (`quick`
    true), full otherwise."""

    def pick(v, full, quick_value):
        return v if v is not None else (quick_value if quick else full)

    return pick


def setup(repeat, **header):
    """Run clock_check() and return (ctx, out): the 'fork' multiprocessing
    context and the JSON object's header (python, start_method, clock,
    **header, repeat, cpus), to which the workloads' entries are added."""
    ctx = mp.get_context(START_METHOD)
    clock = clock_check(ctx)
    out = {
        "python": platform.python_version(),
        "start_method": START_METHOD,
        "clock": clock,
        **header,
        "repeat": repeat,
        "cpus": os.cpu_count(),
    }
    return ctx, out


def emit(out, t_all):
    """Log the total time since perf_counter() reading t_all and print the
    JSON object, on one line, on stdout."""
    log("total %.1f s" % (time.perf_counter() - t_all))
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
