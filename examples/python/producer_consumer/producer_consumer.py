#!/usr/bin/env python3
"""Producer / consumers over a named mpipc Queue -- the multiprocessing
example with one import changed. Any process that knows the queue's name
(a Go, C or Node worker too) could be one of the consumers.

    python3 examples/python/producer_consumer/producer_consumer.py [--items N] [--workers W]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "bindings", "python"))

from multiprocessing import Process  # noqa: E402

from mpipc import JoinableQueue, Queue  # noqa: E402  (was: from multiprocessing import ...)


def worker(jobs, results):
    while True:
        job = jobs.get()
        if job is None:
            jobs.task_done()
            break
        results.put({"id": job["id"], "square": job["n"] * job["n"], "worker": os.getpid()})
        jobs.task_done()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()

    jobs = JoinableQueue(100)  # a generated name: jobs.name; unlinked when this process closes it
    results = Queue()
    print("queue %r, %d workers" % (jobs.name, a.workers))
    procs = [Process(target=worker, args=(jobs, results)) for _ in range(a.workers)]
    for p in procs:
        p.start()
    for i in range(a.items):
        jobs.put({"id": i, "n": i})
    for _ in procs:
        jobs.put(None)
    jobs.join()  # every task_done() arrived
    got = [results.get(timeout=10) for _ in range(a.items)]
    for p in procs:
        p.join()
    assert sorted(r["square"] for r in got) == sorted(i * i for i in range(a.items))
    per_worker = {}
    for r in got:
        per_worker[r["worker"]] = per_worker.get(r["worker"], 0) + 1
    print("%d results, per worker: %s" % (len(got), sorted(per_worker.values())))
    jobs.close()
    results.close()
    print("OK")


if __name__ == "__main__":
    main()
