#!/usr/bin/env python3
"""The Python worker of the polyglot demo (see README.md).

    worker.py JOBS_QUEUE RESULTS_QUEUE CONTROL_ADDR MANAGER_ADDR COUNTS_DICT
    (authkeys, hex: the control channel's in $DEMO_AUTHKEY_HEX, the
    manager's in $DEMO_MANAGER_AUTHKEY_HEX)

Says "ready" on the control connection, then takes jobs, puts one result
per job on the results JoinableQueue, counts it with an atomic incr in the
manager dict, and stops on {"cmd": "stop"} (answering "bye").
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bindings", "python"))

import mpipc  # noqa: E402
from mpipc.connection import Client  # noqa: E402


def main():
    jobs_name, results_name, ctl_addr, mgr_addr, counts_name = sys.argv[1:6]
    key = bytes.fromhex(os.environ["DEMO_AUTHKEY_HEX"])
    name = "python-%d" % os.getpid()

    jobs = mpipc.Queue(name=jobs_name, create=False)
    results = mpipc.JoinableQueue(name=results_name, create=False)
    mgr = mpipc.connect_manager(mgr_addr, authkey=bytes.fromhex(os.environ["DEMO_MANAGER_AUTHKEY_HEX"]))
    counts = mgr.dict(name=counts_name)
    ctl = Client(ctl_addr, authkey=key)
    ctl.send({"cmd": "ready", "worker": name, "lang": "python", "pid": os.getpid()})

    processed = 0
    while True:
        try:
            job = jobs.get(timeout=0.05)
        except mpipc.Empty:
            if ctl.poll(0):
                msg = ctl.recv()
                if msg.get("cmd") == "stop":
                    break
            continue
        results.put({"id": job["id"], "worker": name, "y": job["x"] * job["x"]})
        counts.incr(name)
        processed += 1

    ctl.send({"cmd": "bye", "worker": name, "processed": processed})
    ctl.close()
    jobs.close()
    results.close()


if __name__ == "__main__":
    main()
