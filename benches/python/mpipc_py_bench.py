#!/usr/bin/env python3
"""The Python binding's queue, pipe, Array and manager dict against multiprocessing's, in one run.

Prints ONE JSON object on stdout (progress on stderr): for each workload
the mpipc figure, the multiprocessing figure and their ratio.

    build/venv-python/bin/python benches/python/mpipc_py_bench.py [--quick] [--only NAME]
        [--repeat N] [--tput-n N] [--lat-rounds R] [--lat-warmup W] [--batch B] [--mgr-n N]
        [--array-n N] [--pipe-n N] [--mpmc-n N] [--rtt-rounds R] [--rtt-warmup W]

Message: the small object {"id": i, "name": f"item-{i}", "vals": [1.5,
2.5, 3.5]}, built in the producer's loop (the same cost on both sides),
CBOR for mpipc, pickle for multiprocessing. Start method 'fork'.

- q_tput: 1 producer process -> 1 consumer process, N messages (default
  200,000), unbounded queues. Both wait on a Barrier; the producer reads
  the clock before its first put, the consumer when it has received
  message N (perf_counter is CLOCK_MONOTONIC, comparable across
  processes: _bench_common.clock_check). Rate = N / elapsed.
- q_tput_batch (mpipc only): the same with put_many / get_many of --batch
  (default 256) messages; multiprocessing.Queue has no batch call, so its
  q_tput figure is the reference for the ratio.
- q_latency: ping-pong of the small object between two processes over
  two queues; the pinger times put + get with perf_counter_ns; median and
  p99 of R (default 20,000) round trips after W (default 1,000) warm-up.
- mgr_dict: ``mpipc.Manager()`` (its server runs as threads of this
  benchmark's process) against ``multiprocessing.get_context('fork').Manager()``
  (a server process), each started afresh for every run and shut down
  after it. 2 client processes, forked with the dict proxy; each connects
  with one untimed ``len(d)``, waits on a Barrier, then does N (default
  10,000; --quick 1,000) ``d[key] = value`` then N ``d[key]`` reads, keys
  c*1,000,000 + i (ints), values 16-byte ``bytes`` (the key twice, so every
  read is checked against its own value). Start = the earlier client's
  clock after the Barrier, end = the later one's after its last read;
  ops/s = 2 * 2 * N / (end - start). Afterwards the parent checks that
  the dict holds exactly the 2 * N items written. (The issue #17 row
  "manager dict, 2 clients (Python binding)"; the C figure is
  benches/manager.rs's mgr_dict.)

Each workload runs --repeat times (default 3), multiprocessing's runs
first; figures are medians over runs. Targets (issue 8): q_tput ratio
>= 2, q_latency median ratio <= 0.5.
"""

import os
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))

import mpipc  # noqa: E402
from _bench_common import (  # noqa: E402
    CHILD_TIMEOUT, bench_parser, by_role, close_queues, collect, describe_latency, describe_rate, emit,
    interleaved_runs, join_all, kill_all, latency_entry, latency_runs, option_picker, percentiles, rate_entry,
    rate_runs, run_children, setup, start_child,
)


def small(i):
    return {"id": i, "name": f"item-{i}", "vals": [1.5, 2.5, 3.5]}


def make_queue(ctx, impl):
    return mpipc.Queue() if impl == "mpipc" else ctx.Queue()


def close_queue(q):
    if isinstance(q, mpipc.Queue):
        q.close()
    else:
        close_queues(q)


# --------------------------------------------------------------------------
# q_tput


def _producer(q, barrier, n, res):
    put = q.put
    barrier.wait(CHILD_TIMEOUT)
    t0 = time.perf_counter()
    for i in range(n):
        put({"id": i, "name": f"item-{i}", "vals": [1.5, 2.5, 3.5]})
    put(None)
    res.put(("producer", t0))


def _consumer(q, barrier, n, res):
    get = q.get
    got = 0
    last = None
    t_end = None
    barrier.wait(CHILD_TIMEOUT)
    while True:
        m = get()
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
                  for i in range(start, min(n, start + batch))])
    q.put(None)
    res.put(("producer", t0))


def _batch_consumer(q, barrier, n, batch, res):
    get_many = q.get_many
    got = 0
    last = None
    t_end = None
    barrier.wait(CHILD_TIMEOUT)
    done = False
    while not done:
        for m in get_many(batch):
            if m is None:
                done = True
                break
            got += 1
            last = m
            if got == n:
                t_end = time.perf_counter()
    res.put(("consumer", t_end, got, last))


def run_tput(ctx, impl, n, batch=0):
    q = make_queue(ctx, impl)
    barrier = ctx.Barrier(2)
    if batch:
        jobs = [(_batch_producer, (q, barrier, n, batch)), (_batch_consumer, (q, barrier, n, batch))]
    else:
        jobs = [(_producer, (q, barrier, n)), (_consumer, (q, barrier, n))]
    out = by_role(run_children(ctx, jobs))
    close_queue(q)
    (t0,) = out["producer"]
    t_end, got, last = out["consumer"]
    assert got == n, "consumer received %d of %d messages" % (got, n)
    assert last == small(n - 1), last
    assert t_end is not None and t_end > t0, (t0, t_end)
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
        put(m)
        r = get()
        t = clock() - t
        if i >= warmup:
            rtts.append(t)
        if r != m:
            bad += 1
    put(None)
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


def run_latency(ctx, impl, rounds, warmup):
    q1, q2 = make_queue(ctx, impl), make_queue(ctx, impl)
    out = by_role(run_children(ctx, [(_pinger, (q1, q2, rounds, warmup)), (_ponger, (q1, q2))]))
    close_queue(q1)
    close_queue(q2)
    timed, bad, med, p99, mn = out["pinger"]
    (echoed,) = out["ponger"]
    assert timed == rounds and bad == 0 and echoed == rounds + warmup, (timed, bad, echoed)
    return med, p99, mn

# --------------------------------------------------------------------------
# array_incr


ARRAY_PROCS = 2


def make_array(ctx, impl):
    return mpipc.Array("i", 1) if impl == "mpipc" else ctx.Array("i", 1)


def _incr_child(a, barrier, n, res):
    lock = a.get_lock()
    clock = time.perf_counter
    barrier.wait(CHILD_TIMEOUT)
    t0 = clock()
    for _ in range(n):
        with lock:
            a[0] += 1
    res.put(("incr", t0, clock()))


def run_array_incr(ctx, impl, n):
    a = make_array(ctx, impl)
    try:
        barrier = ctx.Barrier(ARRAY_PROCS)
        out = run_children(ctx, [(_incr_child, (a, barrier, n))] * ARRAY_PROCS)
        total = a[0]
    finally:
        if impl == "mpipc":
            a.close()
    assert total == ARRAY_PROCS * n, "a[0] is %d after %d locked increments" % (total, ARRAY_PROCS * n)
    t0 = min(r[1] for r in out)
    t_end = max(r[2] for r in out)
    assert t_end > t0, (t0, t_end)
    return ARRAY_PROCS * n / (t_end - t0)


# --------------------------------------------------------------------------
# pipe_tput


def _pipe_sender(w, barrier, n, res):
    send = w.send
    barrier.wait(CHILD_TIMEOUT)
    t0 = time.perf_counter()
    for i in range(n):
        send({"id": i, "name": f"item-{i}", "vals": [1.5, 2.5, 3.5]})
    res.put(("sender", t0))


def _pipe_receiver(r, barrier, n, res):
    recv = r.recv
    m = None
    barrier.wait(CHILD_TIMEOUT)
    for _ in range(n):
        m = recv()
    t_end = time.perf_counter()
    res.put(("receiver", t_end, m))


def run_pipe_tput(ctx, impl, duplex, n):
    r, w = mpipc.Pipe(duplex) if impl == "mpipc" else ctx.Pipe(duplex)
    try:
        barrier = ctx.Barrier(2)
        out = by_role(run_children(ctx, [(_pipe_sender, (w, barrier, n)), (_pipe_receiver, (r, barrier, n))]))
    finally:
        r.close()
        w.close()
    (t0,) = out["sender"]
    t_end, last = out["receiver"]
    assert last == small(n - 1), last
    assert t_end > t0, (t0, t_end)
    return n / (t_end - t0)


# --------------------------------------------------------------------------
# q_mpmc


MPMC_PRODUCERS = 2
MPMC_CONSUMERS = 2
MPMC_MAXSIZE = 1000


def _mpmc_producer(q, barrier, first, n, res):
    put = q.put
    barrier.wait(CHILD_TIMEOUT)
    t0 = time.perf_counter()
    for i in range(first, first + n):
        put({"id": i, "name": f"item-{i}", "vals": [1.5, 2.5, 3.5]})
    res.put(("producer", t0, n))


def _mpmc_consumer(q, barrier, res):
    get = q.get
    clock = time.perf_counter
    ids = []
    t_last = None
    barrier.wait(CHILD_TIMEOUT)
    while True:
        m = get()
        if m is None:
            break
        t_last = clock()
        ids.append(m["id"])
    res.put(("consumer", t_last, ids))


def run_mpmc(ctx, impl, n):
    q = mpipc.Queue(MPMC_MAXSIZE) if impl == "mpipc" else ctx.Queue(MPMC_MAXSIZE)
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
            q.put(None)
        c_out = collect(res, MPMC_CONSUMERS, procs)
        join_all(cons)
    finally:
        kill_all(procs)
        close_queues(res)
    close_queue(q)
    assert sorted(r[0] for r in p_out + c_out) == ["consumer"] * 2 + ["producer"] * 2, (p_out, c_out)
    ids = sorted(i for r in c_out for i in r[2])
    assert ids == list(range(n)), "consumers received %d messages, not each of the %d once" % (len(ids), n)
    t0 = min(r[1] for r in p_out)
    t_end = max(r[1] for r in c_out if r[1] is not None)
    assert t_end > t0, (t0, t_end)
    return n / (t_end - t0)


# --------------------------------------------------------------------------
# mgr_dict


MGR_CLIENTS = 2
MGR_KEY_STRIDE = 1_000_000  # client c's keys are c * MGR_KEY_STRIDE + i
MGR_VAL = struct.Struct("<qq")  # a key's value: the key twice (16 bytes)


def make_manager(ctx, impl):
    return mpipc.Manager() if impl == "mpipc" else ctx.Manager()


def _mgr_client(d, barrier, cid, n, res):
    len(d)  # a forked client opens its own connection on its first call: untimed
    pairs = [(k, MGR_VAL.pack(k, k)) for k in range(cid * MGR_KEY_STRIDE, cid * MGR_KEY_STRIDE + n)]
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


def run_mgr_dict(ctx, impl, n):
    mgr = make_manager(ctx, impl)
    try:
        d = mgr.dict()
        barrier = ctx.Barrier(MGR_CLIENTS)
        out = run_children(ctx, [(_mgr_client, (d, barrier, cid, n)) for cid in range(MGR_CLIENTS)])
        assert sorted(r[1] for r in out) == list(range(MGR_CLIENTS)), out
        assert all(r[4] == 0 for r in out), "reads differed from the values written: %s" % out
        got = d.copy()
        expect = {k: MGR_VAL.pack(k, k) for c in range(MGR_CLIENTS)
                  for k in range(c * MGR_KEY_STRIDE, c * MGR_KEY_STRIDE + n)}
        assert got == expect, "dict holds %d items, %d expected (or values differ)" % (len(got), len(expect))
        del d
    finally:
        mgr.shutdown()
    t0 = min(r[2] for r in out)
    t_end = max(r[3] for r in out)
    assert t_end > t0, (t0, t_end)
    return 2 * MGR_CLIENTS * n / (t_end - t0)


# --------------------------------------------------------------------------
# mgr_get_rtt


RTT_KEYS = 1000


def _rtt_client(d, rounds, warmup, res):
    len(d)  # a forked client opens its own connection on its first call: untimed
    vals = [MGR_VAL.pack(k, k) for k in range(RTT_KEYS)]
    clock = time.perf_counter_ns
    rtts = []
    bad = 0
    for i in range(warmup + rounds):
        k = i % RTT_KEYS
        t = clock()
        v = d[k]
        t = clock() - t
        if i >= warmup:
            rtts.append(t)
        if v != vals[k]:
            bad += 1
    res.put(("client", len(rtts), bad) + percentiles(rtts))


def run_mgr_rtt(ctx, impl, rounds, warmup):
    mgr = make_manager(ctx, impl)
    try:
        d = mgr.dict()
        d.update({k: MGR_VAL.pack(k, k) for k in range(RTT_KEYS)})
        (out,) = run_children(ctx, [(_rtt_client, (d, rounds, warmup))])
        assert len(d) == RTT_KEYS, len(d)
        del d
    finally:
        mgr.shutdown()
    _, timed, bad, med, p99, mn = out
    assert timed == rounds, (timed, rounds)
    assert bad == 0, "%d reads differed from the values set" % bad
    return med, p99, mn


# --------------------------------------------------------------------------


def main(argv=None):
    ap = bench_parser(__doc__, ["q_tput", "q_tput_batch", "q_latency", "mgr_dict", "array_incr", "pipe_tput",
                                "q_mpmc", "mgr_get_rtt"])
    ap.add_argument("--tput-n", type=int, help="q_tput messages (default 200000; --quick: 20000)")
    ap.add_argument("--lat-rounds", type=int, help="q_latency timed round trips (default 20000; --quick: 2000)")
    ap.add_argument("--lat-warmup", type=int, help="q_latency warm-up round trips (default 1000; --quick: 200)")
    ap.add_argument("--batch", type=int, default=256, help="q_tput_batch batch size (default 256)")
    ap.add_argument("--mgr-n", type=int, help="mgr_dict sets (and gets) per client (default 10000; --quick: 1000)")
    ap.add_argument("--array-n", type=int, help="array_incr increments per process (default 100000; --quick: 5000)")
    ap.add_argument("--pipe-n", type=int, help="pipe_tput messages (default 200000; --quick: 20000)")
    ap.add_argument("--mpmc-n", type=int, help="q_mpmc messages in all (default 200000; --quick: 20000)")
    ap.add_argument("--rtt-rounds", type=int, help="mgr_get_rtt timed reads (default 20000; --quick: 2000)")
    ap.add_argument("--rtt-warmup", type=int, help="mgr_get_rtt warm-up reads (default 1000; --quick: 200)")
    a = ap.parse_args(argv)
    pick = option_picker(a.quick)
    repeat = pick(a.repeat, 3, 1)
    tput_n = pick(a.tput_n, 200_000, 20_000)
    lat_rounds = pick(a.lat_rounds, 20_000, 2_000)
    lat_warmup = pick(a.lat_warmup, 1_000, 200)
    mgr_n = pick(a.mgr_n, 10_000, 1_000)
    array_n = pick(a.array_n, 100_000, 5_000)
    pipe_n = pick(a.pipe_n, 200_000, 20_000)
    mpmc_n = pick(a.mpmc_n, 200_000, 20_000)
    rtt_rounds = pick(a.rtt_rounds, 20_000, 2_000)
    rtt_warmup = pick(a.rtt_warmup, 1_000, 200)
    if repeat < 1 or min(tput_n, lat_rounds, a.batch, mgr_n, array_n, pipe_n, mpmc_n, rtt_rounds) < 1 \
            or min(lat_warmup, rtt_warmup) < 0:
        ap.error("sizes must be positive")
    if mpmc_n % MPMC_PRODUCERS:
        ap.error("--mpmc-n must be even (two producers)")
    if mgr_n >= MGR_KEY_STRIDE:
        ap.error("--mgr-n must be below %d" % MGR_KEY_STRIDE)

    ctx, out = setup(repeat, message="small object", mpipc_lib=mpipc.LIB_PATH, mpipc_lib_version=mpipc.LIB_VERSION)
    want = (lambda name: a.only in (None, name))
    t_all = time.perf_counter()

    mp_tput = None
    if want("q_tput") or want("q_tput_batch"):
        mp_tput = rate_runs("q_tput multiprocessing", repeat, lambda: run_tput(ctx, "mp", tput_n), "msgs_per_s",
                            "msg/s", n=tput_n)
    if want("q_tput"):
        mine = rate_runs("q_tput mpipc", repeat, lambda: run_tput(ctx, "mpipc", tput_n), "msgs_per_s", "msg/s",
                         n=tput_n)
        out["q_tput"] = {"mpipc": mine, "multiprocessing": mp_tput,
                         "ratio": round(mine["msgs_per_s"] / mp_tput["msgs_per_s"], 2), "target_ratio": 2.0}
        out["q_tput"]["meets_target"] = out["q_tput"]["ratio"] >= 2.0
    if want("q_tput_batch"):
        mine = rate_runs("q_tput_batch mpipc", repeat, lambda: run_tput(ctx, "mpipc", tput_n, a.batch),
                         "msgs_per_s", "msg/s", n=tput_n, batch=a.batch)
        out["q_tput_batch"] = {"mpipc": mine, "multiprocessing_q_tput": mp_tput,
                               "ratio": round(mine["msgs_per_s"] / mp_tput["msgs_per_s"], 2)}
    if want("q_latency"):
        mp_lat = latency_runs("q_latency multiprocessing", repeat,
                              lambda: run_latency(ctx, "mp", lat_rounds, lat_warmup), rounds=lat_rounds,
                              warmup=lat_warmup)
        mine = latency_runs("q_latency mpipc", repeat, lambda: run_latency(ctx, "mpipc", lat_rounds, lat_warmup),
                            rounds=lat_rounds, warmup=lat_warmup)
        ratio = round(mine["median_us"] / mp_lat["median_us"], 3)
        out["q_latency"] = {"mpipc": mine, "multiprocessing": mp_lat, "median_ratio": ratio,
                            "p99_ratio": round(mine["p99_us"] / mp_lat["p99_us"], 3), "target_median_ratio": 0.5,
                            "meets_target": ratio <= 0.5}
    if want("mgr_dict"):
        mp_mgr = rate_runs("mgr_dict multiprocessing", repeat, lambda: run_mgr_dict(ctx, "mp", mgr_n), "ops_per_s",
                           "ops/s", clients=MGR_CLIENTS, n_per_client=mgr_n)
        mine = rate_runs("mgr_dict mpipc", repeat, lambda: run_mgr_dict(ctx, "mpipc", mgr_n), "ops_per_s", "ops/s",
                         clients=MGR_CLIENTS, n_per_client=mgr_n)
        out["mgr_dict"] = {"mpipc": mine, "multiprocessing": mp_mgr,
                           "ratio": round(mine["ops_per_s"] / mp_mgr["ops_per_s"], 2)}
    if want("array_incr"):
        r = interleaved_runs(repeat, [
            ("array_incr " + impl, (lambda impl=impl: run_array_incr(ctx, impl, array_n)), describe_rate("ops/s"))
            for impl in ("mp", "mpipc")])
        sides = {name: rate_entry(r["array_incr " + impl], "ops_per_s", procs=ARRAY_PROCS, n_per_proc=array_n,
                                  typecode="i")
                 for name, impl in (("mpipc", "mpipc"), ("multiprocessing", "mp"))}
        ratio = round(sides["mpipc"]["ops_per_s"] / sides["multiprocessing"]["ops_per_s"], 2)
        out["array_incr"] = {**sides, "ratio": ratio, "target_ratio": 2.0, "meets_target": ratio >= 2.0}
    if want("pipe_tput"):
        variants = [(impl, duplex) for impl in ("mp", "mpipc") for duplex in (True, False)]
        label = (lambda impl, duplex: "pipe_tput %s %s" % (impl, "duplex" if duplex else "simplex"))
        r = interleaved_runs(repeat, [
            (label(impl, duplex), (lambda impl=impl, duplex=duplex: run_pipe_tput(ctx, impl, duplex, pipe_n)),
             describe_rate("msg/s")) for impl, duplex in variants])
        sides = {name: {kind: rate_entry(r[label(impl, duplex)], "msgs_per_s", n=pipe_n, duplex=duplex)
                        for kind, duplex in (("duplex", True), ("simplex", False))}
                 for name, impl in (("mpipc", "mpipc"), ("multiprocessing", "mp"))}
        best = max(("duplex", "simplex"), key=lambda k: sides["multiprocessing"][k]["msgs_per_s"])
        base = sides["multiprocessing"][best]["msgs_per_s"]
        ratio = {k: round(sides["mpipc"][k]["msgs_per_s"] / base, 2) for k in ("duplex", "simplex")}
        out["pipe_tput"] = {**sides, "multiprocessing_best": best, "ratio_to_best": ratio, "target_ratio": 2.0,
                            "meets_target": {k: v >= 2.0 for k, v in ratio.items()}}
    if want("q_mpmc"):
        r = interleaved_runs(repeat, [
            ("q_mpmc " + impl, (lambda impl=impl: run_mpmc(ctx, impl, mpmc_n)), describe_rate("msg/s"))
            for impl in ("mp", "mpipc")])
        sides = {name: rate_entry(r["q_mpmc " + impl], "msgs_per_s", n=mpmc_n, producers=MPMC_PRODUCERS,
                                  consumers=MPMC_CONSUMERS, maxsize=MPMC_MAXSIZE)
                 for name, impl in (("mpipc", "mpipc"), ("multiprocessing", "mp"))}
        out["q_mpmc"] = {**sides, "ratio": round(sides["mpipc"]["msgs_per_s"] /
                                                 sides["multiprocessing"]["msgs_per_s"], 2)}
    if want("mgr_get_rtt"):
        r = interleaved_runs(repeat, [
            ("mgr_get_rtt " + impl, (lambda impl=impl: run_mgr_rtt(ctx, impl, rtt_rounds, rtt_warmup)),
             describe_latency) for impl in ("mp", "mpipc")])
        sides = {name: latency_entry(r["mgr_get_rtt " + impl], rounds=rtt_rounds, warmup=rtt_warmup, keys=RTT_KEYS,
                                     value_bytes=MGR_VAL.size)
                 for name, impl in (("mpipc", "mpipc"), ("multiprocessing", "mp"))}
        med = sides["mpipc"]["median_us"]
        out["mgr_get_rtt"] = {**sides, "median_ratio": round(med / sides["multiprocessing"]["median_us"], 3),
                              "target_median_us": 1.0, "meets_target": med < 1.0}
    emit(out, t_all)


if __name__ == "__main__":
    main()
