#!/usr/bin/env python3
"""The polyglot demo's orchestrator (see README.md): a Go producer, workers
in C, Python and Node, one results JoinableQueue, a manager dict of
per-worker counts, and a control channel over an authenticated Listener.

    orchestrator.py --bin-dir DIR [--jobs N] [--c K] [--python K] [--node K] [--backend ADDRESS]

Without --backend the queues are shared memory and the dict lives on an
embedded manager server; with --backend redis://host:port[/db] (or any
Redis address of docs/REDIS.md without an object name) the queues are
ADDRESS/<name> and the dict is on the manager at ADDRESS: the same
programs, only the names and the manager address they are given differ.

DIR holds the built `producer` (Go) and `worker_c` (C). Exits 0 only if
every job was processed exactly once, every worker's three counts agree
(its results, the manager dict, its own "bye"), and every process exited 0.
"""

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))

import mpipc  # noqa: E402
from mpipc.connection import Listener  # noqa: E402

TIMEOUT = 30.0  # seconds without progress before giving up


def log(msg):
    print("orchestrator: " + msg, flush=True)


class Failed(Exception):
    pass


def expected_y(i):
    x = (i * 7919) % 1000  # what the Go producer puts in job i
    return x * x


def check_alive(procs):
    for pid, (label, p) in procs.items():
        if p.poll() not in (None, 0):
            raise Failed("%s (pid %d) exited with %d" % (label, pid, p.returncode))


def accept(listener, procs):
    """Accepts the next control connection, failing fast if a process died."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            return listener.accept(timeout=0.2)
        except mpipc.Timeout:
            check_alive(procs)
            if time.monotonic() > deadline:
                raise Failed("nobody connected to the control listener for %.0f s" % TIMEOUT)


def on_backend(backend, name):
    """The address of object `name` on the server at `backend`: the name
    becomes the last part of the path, before any ?options."""
    base, sep, query = backend.partition("?")
    return base.rstrip("/") + "/" + name + sep + query


def shown(address):
    """`address` without its password (a Redis URL may hold one: in
    user:password@ or, for a unix socket, in ?password=)."""
    address = re.sub(r"([?&]pass(?:word)?=)[^&]*", r"\1***", address)
    scheme, sep, rest = address.partition("://")
    auth, at, host = rest.partition("@")
    if not at or "/" in auth or ":" not in auth:
        return address
    return scheme + sep + auth.split(":", 1)[0] + ":***@" + host


def gone(address):
    """True if no queue exists at `address` any more (attaching to it
    fails with NotFound; any other failure leaves the question open)."""
    try:
        mpipc.Queue(name=address, create=False).close()
    except mpipc.NotFound:
        return True
    except Exception as e:  # noqa: BLE001 - reported; counts as not gone
        log("cannot check %s: %r" % (shown(address), e))
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--jobs", type=int, default=3000)
    ap.add_argument("--c", type=int, default=1)
    ap.add_argument("--python", type=int, default=1)
    ap.add_argument("--node", type=int, default=1)
    ap.add_argument("--backend", default="", help="a Redis address: the queues and the dict on that server")
    a = ap.parse_args()

    # Every name is unique to this run: several demos can run at once.
    run = "pgdemo-%d-%s" % (os.getpid(), secrets.token_hex(4))
    key = secrets.token_bytes(16)  # the control channel's
    tmpdir = tempfile.mkdtemp(prefix=run + ".")  # the two sockets, mode 0700
    ctl_addr = "unix:" + os.path.join(tmpdir, "control.sock")
    names = {"jobs": run + "-jobs", "results": run + "-results", "counts": run + "-counts"}
    if a.backend:
        # On Redis the manager's authkey is the server's password: none
        # here (a password goes in the address, redis://:PW@host...).
        mgr_addr, mgr_key = a.backend, b""
        names["jobs"], names["results"] = on_backend(a.backend, names["jobs"]), on_backend(a.backend, names["results"])
    else:
        mgr_addr, mgr_key = "unix:" + os.path.join(tmpdir, "manager.sock"), secrets.token_bytes(16)
    env = dict(os.environ, DEMO_AUTHKEY_HEX=key.hex(), DEMO_MANAGER_AUTHKEY_HEX=mgr_key.hex(),
               MPIPC_LIB=os.path.join(ROOT, "target", "release", "libmpipc.so"))

    procs = {}  # pid -> (label, Popen)
    manager = mgr = counts = jobs = results = listener = None
    conns = []
    ok = False
    try:
        # --- the shared objects --------------------------------------------
        if a.backend:
            mgr = mpipc.connect_manager(mgr_addr, authkey=mgr_key)  # the server at the address holds the dict
        else:
            manager = mgr = mpipc.Manager(address=mgr_addr, authkey=mgr_key)  # embedded server, threads in this process
        counts = mgr.dict(name=names["counts"])
        jobs = mpipc.Queue(1024, name=names["jobs"], create=True, unlink_on_close=True)
        results = mpipc.JoinableQueue(name=names["results"], create=True, unlink_on_close=True)
        listener = Listener(ctl_addr, authkey=key)
        log("run %s: %d jobs; queues %s and %s, manager dict %s at %s, control %s" % (
            run, a.jobs, shown(names["jobs"]), shown(names["results"]), names["counts"], shown(mgr_addr), ctl_addr))

        # --- the workers: start them, wait for each one's "ready" ---------
        args = [names["jobs"], names["results"], ctl_addr, mgr_addr, names["counts"]]
        cmds = ([[os.path.join(a.bin_dir, "worker_c")] + args] * a.c
                + [[sys.executable, os.path.join(HERE, "worker.py")] + args] * a.python
                + [["node", os.path.join(HERE, "worker.js")] + args] * a.node)
        for cmd in cmds:
            p = subprocess.Popen(cmd, env=env)
            procs[p.pid] = (os.path.basename(cmd[1] if cmd[0] in ("node", sys.executable) else cmd[0]), p)
        workers = {}  # worker name -> {"lang", "pid", "conn"}
        for _ in cmds:
            c = accept(listener, procs)
            conns.append(c)
            if not c.poll(TIMEOUT):
                raise Failed("a worker connected but did not say ready")
            msg = c.recv()
            if msg.get("cmd") != "ready" or msg.get("pid") not in procs:
                raise Failed("unexpected first message %r" % (msg,))
            workers[msg["worker"]] = {"lang": msg["lang"], "pid": msg["pid"], "conn": c}
            log("ready: %s" % msg["worker"])

        # --- the producer: ready, go --------------------------------------
        p = subprocess.Popen([os.path.join(a.bin_dir, "producer"), "-jobs", names["jobs"], "-n", str(a.jobs),
                              "-ctl", ctl_addr], env=env)
        procs[p.pid] = ("producer", p)
        prod = accept(listener, procs)
        conns.append(prod)
        if not prod.poll(TIMEOUT):
            raise Failed("the producer did not say ready")
        msg = prod.recv()
        if msg.get("cmd") != "ready" or msg.get("role") != "producer":
            raise Failed("unexpected message from the producer: %r" % (msg,))
        log("ready: %s (producer)" % msg["worker"])
        t0 = time.monotonic()
        prod.send({"cmd": "go", "n": a.jobs})

        # --- collect one result per job ----------------------------------
        seen = {}  # id -> worker
        dups, wrong = [], []
        per_worker = {w: 0 for w in workers}
        produced = None
        last = time.monotonic()
        received = 0
        while received < a.jobs:
            try:
                r = results.get(timeout=0.2)
            except mpipc.Empty:
                check_alive(procs)
                if time.monotonic() - last > TIMEOUT:
                    raise Failed("no result for %.0f s; %d of %d received" % (TIMEOUT, received, a.jobs))
                continue
            results.task_done()
            last = time.monotonic()
            received += 1
            i, w = r["id"], r["worker"]
            if i in seen:
                dups.append((i, seen[i], w))
            seen[i] = w
            per_worker[w] = per_worker.get(w, 0) + 1
            if r["y"] != expected_y(i):
                wrong.append((i, w, r["y"]))
            if produced is None and prod.poll(0):
                produced = prod.recv()
        t_all = time.monotonic() - t0
        results.join(timeout=TIMEOUT)  # every result taken was task_done'd
        if produced is None:
            if not prod.poll(TIMEOUT):
                raise Failed("the producer never reported")
            produced = prod.recv()

        # --- stop the workers; each answers bye with its own count ---------
        for w in workers.values():
            w["conn"].send({"cmd": "stop"})
        for name, w in workers.items():
            if not w["conn"].poll(TIMEOUT):
                raise Failed("%s did not answer stop" % name)
            bye = w["conn"].recv()
            if bye.get("cmd") != "bye":
                raise Failed("%s answered %r" % (name, bye))
            w["bye"] = bye["processed"]
        for pid, (label, pr) in procs.items():
            rc = pr.wait(timeout=TIMEOUT)
            if rc != 0:
                raise Failed("%s (pid %d) exited with %d" % (label, pid, rc))
        # Anything left would be a duplicate (or a job not taken).
        extra = 0
        while True:
            try:
                r = results.get_nowait()
            except mpipc.Empty:
                break
            results.task_done()
            extra += 1
            dups.append((r["id"], seen.get(r["id"]), r["worker"]))
        left = jobs.qsize()
        mgr_counts = dict(counts.items())

        # --- the report ----------------------------------------------------
        missing = a.jobs - len(set(seen) & set(range(a.jobs)))
        print()
        print("=== polyglot demo report (%s) ===" % run)
        print("backend: %s" % ("Redis at " + shown(a.backend) if a.backend
                               else "shared memory, the dict on the embedded manager"))
        print("producer %s: put %d jobs in %.3f s (%.0f jobs/s)" % (
            produced["worker"], produced["n"], produced["seconds"], produced["n"] / max(produced["seconds"], 1e-9)))
        print("all %d results collected in %.3f s: %.0f jobs/s end to end" % (received, t_all, received / t_all))
        print()
        print("%-14s %-7s %8s %9s %9s %9s" % ("worker", "lang", "pid", "results", "manager", "bye"))
        agree = True
        for name, w in sorted(workers.items(), key=lambda kv: (kv[1]["lang"], kv[0])):
            nr, nm, nb = per_worker.get(name, 0), mgr_counts.get(name, 0), w["bye"]
            flag = "" if nr == nm == nb else "   <-- DISAGREE"
            agree = agree and not flag
            print("%-14s %-7s %8d %9d %9d %9d%s" % (name, w["lang"], w["pid"], nr, nm, nb, flag))
        print("%-14s %-7s %8s %9d %9d %9d" % ("total", "", "", sum(per_worker.values()),
                                              sum(mgr_counts.values()), sum(w["bye"] for w in workers.values())))
        print()
        idle = [n for n, w in workers.items() if per_worker.get(n, 0) == 0]
        print("jobs: %d put, %d distinct ids back, %d missing, %d duplicates, %d wrong answers, %d left in queue" % (
            produced["n"], len(seen), missing, len(dups), len(wrong), left))
        if idle:
            print("note: %s processed no job (the others were faster)" % ", ".join(idle))
        unknown = set(per_worker) - set(workers) | set(mgr_counts) - set(workers)
        ok = (produced["n"] == a.jobs and missing == 0 and not dups and not wrong and left == 0 and extra == 0
              and agree and not unknown)
        print("RESULT: %s" % ("OK, every job accounted for exactly once" if ok else "FAILED"))
        for d in dups[:5]:
            print("  duplicate: job %d from %s and %s" % d)
        for w in wrong[:5]:
            print("  wrong answer: job %d from %s: %r" % w)
        if unknown:
            print("  results or counts from unknown workers: %s" % sorted(unknown))
    except Failed as e:
        log("FAILED: %s" % e)
    except Exception as e:  # noqa: BLE001 - reported, then cleaned up
        log("FAILED: %r" % (e,))
    finally:
        for _, pr in procs.values():
            if pr.poll() is None:
                pr.kill()
                pr.wait()
        for c in conns:
            c.close()
        if listener is not None:
            listener.close()  # removes control.sock
        for q in (jobs, results):
            if q is not None:
                q.close()  # unlink_on_close: removes /dev/shm/mpipc.q.<name>
        if manager is not None:
            manager.shutdown()  # stops the server, every object it held goes
        elif mgr is not None:
            # The Redis server outlives the run: delete the dict there.
            try:
                if counts is not None:
                    mgr.delete(names["counts"])
            except Exception as e:  # noqa: BLE001 - reported, and a failed run anyway
                log("could not delete the dict %s: %r" % (names["counts"], e))
                ok = False
            mgr.shutdown()  # a connected manager: closes its connections
        shutil.rmtree(tmpdir, ignore_errors=True)
        leftovers = [f for f in os.listdir("/dev/shm") if run in f]
        if a.backend:
            leftovers += [shown(names[q]) for q in ("jobs", "results") if not gone(names[q])]
        if leftovers or os.path.exists(tmpdir):
            log("left behind: %s" % (leftovers or tmpdir))
            ok = False
        else:
            log("cleaned up: queues unlinked, sockets and %s gone" % ("the dict" if a.backend else "manager"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
