"""The Python roles of the clean-room's mixed-language exchange
(tests/cleanroom/run.sh; SCRATCH/python/mix runs this with the clean-room
venv's Python):

    mix produce QUEUE N CONSUMERS   creates (or attaches) QUEUE with room for
                                    everything, puts N maps
                                    {"id": i, "text": "job-<i>"}, then
                                    CONSUMERS Nones
    mix consume QUEUE MGR_ADDR      gets from the existing QUEUE until None;
                                    per map checks text == "job-<id>" and
                                    atomically increments the manager dict
                                    "counts" at "python" by 1 and at "idsum"
                                    by id; prints "python consumed K"

MGR_ADDR: unix:PATH (or a socket path) of a manager server without an
authkey (`mpipc manager serve --address ...`).
"""

import sys

import mpipc

LANG = "python"


def produce(name, n, consumers):
    # Room for every message at once, so that no put ever waits: the count
    # bound, and the byte bound (each message takes 8 bytes plus its length
    # rounded up to 8, under 48 here; the default capacity is 1 MiB).
    need = (n + consumers) * 48
    q = mpipc.Queue(n + consumers, name=name, capacity_bytes=need if need > (1 << 20) else 0)
    for i in range(n):
        q.put({"id": i, "text": "job-%d" % i})
    for _ in range(consumers):
        q.put(None)
    q.close()
    print("%s produced %d" % (LANG, n))


def consume(name, address):
    manager = mpipc.connect_manager(address)
    counts = manager.dict(name="counts")
    q = mpipc.Queue(name=name, create=False)
    got = 0
    while True:
        # A bound, not a synchronisation: the None ends the loop.
        m = q.get(timeout=60)
        if m is None:
            break
        if not (isinstance(m, dict) and isinstance(m.get("id"), int) and m.get("text") == "job-%d" % m["id"]):
            sys.exit("%s mix: message %d is %r, not {'id': i, 'text': 'job-<i>'}" % (LANG, got, m))
        counts.incr(LANG, 1)
        counts.incr("idsum", m["id"])
        got += 1
    q.close()
    print("%s consumed %d" % (LANG, got))


def main(argv):
    if len(argv) == 4 and argv[0] == "produce":
        produce(argv[1], int(argv[2]), int(argv[3]))
    elif len(argv) == 3 and argv[0] == "consume":
        consume(argv[1], argv[2])
    else:
        sys.exit("usage: mix produce QUEUE N CONSUMERS | mix consume QUEUE MGR_ADDR")


if __name__ == "__main__":
    main(sys.argv[1:])
