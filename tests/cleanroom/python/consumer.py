"""Clean-room consumer (tests/cleanroom/python.sh): gets from the queue
QUEUE (created or attached: the producer may not have made it yet) until
None, checks that the jobs arrive in order, each once, with
text == "job-<id>", prints "python consumed K idsum S" and unlinks the
queue.

    python consumer.py QUEUE
"""

import sys

import mpipc


def main():
    name = sys.argv[1]
    q = mpipc.Queue(8, name=name)
    got = idsum = 0
    while True:
        # A bound, not a synchronisation: the None ends the loop.
        m = q.get(timeout=60)
        if m is None:
            break
        if m != {"id": got, "text": "job-%d" % got}:
            sys.exit("python consumer: message %d is %r, expected {'id': %d, 'text': 'job-%d'}" % (got, m, got, got))
        idsum += m["id"]
        got += 1
    q.unlink()
    q.close()
    print("python consumed %d idsum %d (library %s)" % (got, idsum, mpipc.LIB_PATH))


if __name__ == "__main__":
    main()
