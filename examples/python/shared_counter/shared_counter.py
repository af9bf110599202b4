#!/usr/bin/env python3
"""Counting across processes with a Manager dict: ``d[k] += 1`` through a
Python Manager is a race (get, then set); ``d.incr(k)`` is one atomic
server call. Run it and compare.

    python3 examples/python/shared_counter/shared_counter.py [--procs P] [--n N]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "bindings", "python"))

from multiprocessing import Process  # noqa: E402

from mpipc import Manager  # noqa: E402  (was: from multiprocessing import Manager)


def racy(d, n):
    for _ in range(n):
        d["racy"] += 1  # read, then write: increments get lost


def atomic(d, n):
    for _ in range(n):
        d.incr("atomic")  # one atomic call on the server


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--n", type=int, default=2000)
    a = ap.parse_args()
    with Manager() as m:
        d = m.dict(racy=0, atomic=0)
        print("manager at %s, dict %r" % (m.address, d.name))
        for target in (racy, atomic):
            ps = [Process(target=target, args=(d, a.n)) for _ in range(a.procs)]
            for p in ps:
                p.start()
            for p in ps:
                p.join()
        want = a.procs * a.n
        print("racy:   %d of %d" % (d["racy"], want))
        print("atomic: %d of %d" % (d["atomic"], want))
        assert d["atomic"] == want
    print("OK")


if __name__ == "__main__":
    main()
