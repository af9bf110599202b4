#!/usr/bin/env python3
"""Request / reply over a Pipe and over a Listener/Client pair: a server
process answers requests until the client closes its end (EOFError).

    python3 examples/python/request_reply/request_reply.py
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "bindings", "python"))

import multiprocessing  # noqa: E402

from mpipc import Pipe  # noqa: E402  (was: from multiprocessing import Pipe)
from mpipc.connection import Client, Listener  # noqa: E402


def serve(conn, other=None):
    if other is not None:
        other.close()  # the child's copy of the client's end, so that EOF can arrive
    while True:
        try:
            req = conn.recv()
        except EOFError:
            break
        conn.send({"id": req["id"], "result": sum(req["args"])})
    conn.close()


def main():
    # Connections pass to a child by inheritance (fork), as descriptors do.
    Process = multiprocessing.get_context("fork").Process
    client, server = Pipe()
    p = Process(target=serve, args=(server, client))
    p.start()
    server.close()
    for i in range(5):
        client.send({"id": i, "args": [i, i * 10]})
        assert client.poll(5)
        print("pipe reply:", client.recv())
    client.close()
    p.join()

    # The same over a named socket with an authkey: a stock Python
    # multiprocessing.connection.Client could be the client, too.
    with Listener(authkey=b"example key") as lst:
        p = Process(target=lambda: serve(lst.accept()))
        p.start()
        with Client(lst.address, authkey=b"example key") as c:
            c.send({"id": 99, "args": [1, 2, 3]})
            print("listener reply:", c.recv())
        p.join()
    print("OK")


if __name__ == "__main__":
    main()
