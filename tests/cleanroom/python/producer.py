"""Clean-room producer (tests/cleanroom/python.sh): puts N jobs
{"id": i, "text": "job-<i>"} and then None on the queue QUEUE, created or
attached (the consumer may have made it first). The queue holds 8
messages, so the producer really waits for the consumer process.

    python producer.py QUEUE N
"""

import sys

import mpipc


def main():
    name, n = sys.argv[1], int(sys.argv[2])
    q = mpipc.Queue(8, name=name)
    for i in range(n):
        q.put({"id": i, "text": "job-%d" % i}, timeout=60)
    q.put(None, timeout=60)
    q.close()
    print("python produced %d (library %s)" % (n, mpipc.LIB_PATH))


if __name__ == "__main__":
    main()
