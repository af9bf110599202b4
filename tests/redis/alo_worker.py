"""A consumer process of an at-least-once queue, for test_alo.py.

    python alo_worker.py ADDRESS NAME MODE LEASE_MS
      ADDRESS  tcp:PORT or unix:PATH
      MODE     victim: takes one message, prints `got <msg>`, then waits on
               stdin for ever (the test SIGKILLs it with the message in flight)
               worker: gets, records each message in the SET mpipc-test:seen:NAME
               and acks it, until the queue is shut down and drained; prints
               `worked N`
"""

import sys

import redis

from qlib import AloConsumer


def main():
    address, name, mode, lease_ms = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    kind, _, where = address.partition(":")
    r = redis.Redis(unix_socket_path=where) if kind == "unix" else redis.Redis(port=int(where))
    # Slices of 100 ms at most, as the bindings wait: an idle worker's
    # q_lease reaps a dead consumer's messages soon after its lease ends (the
    # core's lease keeper does the same every lease/3), and a shutdown, which
    # cannot wake a BLMOVE (one source key), is seen at the next slice.
    c = AloConsumer(r, name, lease_ms=lease_ms, slice_s=min(lease_ms / 3000, 0.1))
    if mode == "victim":
        print("got", c.get().decode(), flush=True)
        sys.stdin.read()
        return
    n = 0
    while True:
        try:
            m = c.get()
        except EOFError:
            break
        r.sadd("mpipc-test:seen:" + name, m)
        c.task_done()
        n += 1
    print("worked", n, flush=True)


if __name__ == "__main__":
    main()
