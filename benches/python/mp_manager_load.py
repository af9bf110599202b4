#!/usr/bin/env python3
"""Python baseline for benches/manager_load.rs: multiprocessing.Manager under
many concurrent clients for a sustained run.

Prints ONE JSON object on stdout; progress goes to stderr. Standard library only.

    python3 benches/python/mp_manager_load.py [--quick] [--clients N] [--procs P] [--seconds S]

The same workload as benches/manager_load.rs: `--clients` connections (default
256) spread over `--procs` forked client processes (default 16), one thread per
connection (a proxy keeps one connection per thread, so every thread has its
own), each looping until the deadline over: increment its own counter in dict
"counters" (``d[k] = d.get(k, 0) + 1``: two calls, the key is private to the
thread so no update is lost; counted as one operation, as the manager offers
no atomic increment), set one of 1,000 keys in dict "shared", get another.
Reported: operations per second, errors, latency percentiles of every 8th
operation, the manager server process's VmRSS sampled every second, and
whether every counter equals its acknowledged increments.
"""

import argparse
import json
import multiprocessing as mp
import os
import sys
import threading
import time

SHARED_KEYS = 1000
SAMPLE_EVERY = 8


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def client_thread(counters, shared, cid, start, deadline, out):
    calls = errors = incr_ok = 0
    lat = []
    first_error = None
    me = f"c{cid}"
    i = 0
    # Connect before the clock starts (a proxy connects on its first call
    # in each thread), as the mpipc clients do.
    counters.get(me)
    shared.get(0)
    while time.monotonic() < start:
        time.sleep(0.001)
    while time.monotonic() < deadline:
        key = (cid * 7919 + i) % SHARED_KEYS
        t = time.perf_counter_ns() if i % SAMPLE_EVERY == 0 else None
        try:
            op = i % 3
            if op == 0:
                counters[me] = counters.get(me, 0) + 1
                incr_ok += 1
            elif op == 1:
                shared[key] = bytes([cid % 256]) * 32
            else:
                shared.get(key)
        except Exception as e:  # noqa: BLE001 - every failure counts as an error
            errors += 1
            first_error = first_error or repr(e)
        if t is not None:
            lat.append(time.perf_counter_ns() - t)
        calls += 1
        i += 1
    out.append((cid, calls, errors, incr_ok, first_error, lat))


def client_process(counters, shared, first, conns, start, deadline, conn):
    out = []
    threads = [threading.Thread(target=client_thread, args=(counters, shared, cid, start, deadline, out))
               for cid in range(first, first + conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conn.send(out)
    conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--clients", type=int, default=256)
    ap.add_argument("--procs", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=None)
    a = ap.parse_args()
    seconds = a.seconds if a.seconds is not None else (3 if a.quick else 60)
    procs = max(1, min(a.procs, a.clients))
    ctx = mp.get_context("fork")
    manager = ctx.Manager()
    server_pid = manager._process.pid
    counters, shared = manager.dict(), manager.dict()
    idle = rss_kb(server_pid)
    start = time.monotonic() + 1.0 + a.clients / 200  # room to start every thread
    deadline = start + seconds
    kids = []
    per, extra = divmod(a.clients, procs)
    first = 0
    for p in range(procs):
        conns = per + (1 if p < extra else 0)
        r, w = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=client_process, args=(counters, shared, first, conns, start, deadline, w))
        proc.start()
        w.close()
        kids.append((proc, r))
        first += conns
    while time.monotonic() < start:
        time.sleep(0.01)
    samples = []
    while time.monotonic() < deadline:
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        samples.append((time.monotonic() - start, rss_kb(server_pid)))
    results = []
    for proc, r in kids:
        results.extend(r.recv())
        proc.join()
    elapsed = time.monotonic() - start
    calls = sum(x[1] for x in results)
    errors = sum(x[2] for x in results)
    lat = sorted(l for x in results for l in x[5])
    final = dict(counters.items())
    wrong = sum(1 for x in results if final.get(f"c{x[0]}", 0) != x[3])
    for x in results:
        if x[4]:
            print(f"client {x[0]}: {x[4]}", file=sys.stderr)
            break
    manager.shutdown()

    def pct(p):
        return lat[int((len(lat) - 1) * p)] / 1000 if lat else 0.0

    warm = next((s for s in samples if s[0] >= max(1.0, seconds * 0.1)), samples[0] if samples else (0, 0))
    res = {"clients": a.clients, "procs": procs, "seconds": seconds, "elapsed_s": round(elapsed, 2),
           "calls": calls, "calls_per_s": round(calls / elapsed), "errors": errors,
           "p50_us": round(pct(0.5), 1), "p99_us": round(pct(0.99), 1), "server_rss_kb_idle": idle,
           "server_rss_kb_warm": warm[1], "server_rss_kb_end": samples[-1][1] if samples else 0,
           "server_rss_kb_max": max((s[1] for s in samples), default=0), "counters": len(results),
           "counters_wrong": wrong, "python": sys.version.split()[0]}
    print(f"mp_manager_load: {a.clients} clients x {seconds:g} s: {res['calls_per_s']} ops/s, {errors} errors, "
          f"p50 {res['p50_us']} us, p99 {res['p99_us']} us", file=sys.stderr)
    print(json.dumps({"manager_load": res}))


if __name__ == "__main__":
    main()
