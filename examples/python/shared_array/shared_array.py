#!/usr/bin/env python3
"""A named shared Array, a Value and a Lock: workers fill slices of the
array in parallel, count what they did in a Value, and a Barrier starts
them together. Any process that knows the names (C with mp_array_open,
Go, Node) sees the same memory, zero-copy.

    python3 examples/python/shared_array/shared_array.py [--size N] [--workers W]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "bindings", "python"))

from multiprocessing import Process  # noqa: E402

from mpipc import Array, Barrier, Value  # noqa: E402  (was: from multiprocessing import ...)


def fill(arr, done, start, stop, barrier):
    barrier.wait(10)
    arr[start:stop] = [i * i for i in range(start, stop)]  # one locked bulk write
    done.incr(stop - start)  # atomic add


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=100000)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    arr = Array("q", a.size)  # zeroed; generated name arr.name
    done = Value("q", 0)
    barrier = Barrier(a.workers)
    print("array %r of %d int64, value %r" % (arr.name, len(arr), done.name))
    step = (a.size + a.workers - 1) // a.workers
    ps = [Process(target=fill, args=(arr, done, k * step, min(a.size, (k + 1) * step), barrier))
          for k in range(a.workers)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    assert done.value == a.size
    assert arr[:] == [i * i for i in range(a.size)]
    with arr.get_lock():  # zero-copy access under the array's own lock
        view = arr.get_obj()
        print("last element:", view[a.size - 1])
    for o in (arr, done, barrier):
        o.close()
    print("OK")


if __name__ == "__main__":
    main()
