"""The fault torture: every primitive, C and Python worker processes at
once, random SIGKILLs, then checks (docs/TORTURE.md).

    torture.py --worker-c build/torture/worker [--rounds N] [--seed S]
               [--primitives a,b,...] [--timeout SECONDS] [--max-gap-ms MS]

For each primitive: create its objects, start its workers (C and Python,
alternating; a killed worker is replaced by one of the other language),
then `rounds` times: wait a random 0..max-gap ms, SIGKILL a random worker
that is up, record where it was (its slot of the shared log), replace it,
and require the scenario to make progress again within the bound. Then
stop the workers (each must exit 0 within the bound: a worker that cannot
finish is a deadlock) and check what the log and the objects say. Prints
one line per primitive and a total; exits 1 when any check failed.

Runs with the Python binding (PYTHONPATH=bindings/python, MPIPC_LIB set):
tests/torture/run.sh sets both.
"""

import argparse
import ctypes
import mmap
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import types
import warnings

import mpipc

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER_PY = os.path.join(HERE, "worker.py")
sys.path.insert(0, HERE)
import worker as worker_py  # noqa: E402  (its records: one definition for both)

# torture_log.h (checked against both workers at start-up)
G_STOP, G_FLAG, G_GEN, G_SETNS, G_ABORTS, G_WORDS = 0, 1, 2, 3, 4, 16
MAX_SLOTS, SLOT_WORDS, BM_BASE = 16, 32, 8192
(S_PID, S_READY, S_STATE, S_OPS, S_ERR, S_CORRUPT, S_DUP, S_SEQ, S_PEND, S_ACK, S_TD, S_TDPEND, S_OWNDEAD,
 S_REPAIR, S_STALL, S_SEEN, S_LATMAX, S_EOF, S_AUX1, S_AUX2, S_AUX3, S_AUX4, S_BROKEN, S_PARK,
 S_NULLS) = range(25)
LAYOUT = "G_WORDS=%d MAX_SLOTS=%d SLOT_WORDS=%d BM_BASE=%d S_NULLS=%d S_PARK=%d" % (
    G_WORDS, MAX_SLOTS, SLOT_WORDS, BM_BASE, S_NULLS, S_PARK)

ALL = ["queue", "joinable", "pipe", "listener", "manager", "array", "lock", "rlock", "semaphore", "event",
       "condition", "barrier", "slist"]


_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent():
    """In a child before exec: SIGKILL it if the orchestrator dies (a
    worker left running would spin forever)."""
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Failed(Exception):
    """A check failed (the message says which)."""


class Log:
    """The shared log file (torture_log.h), mapped here too."""

    def __init__(self, path, size):
        self.path = path
        with open(path, "wb") as f:
            f.truncate(max(size, BM_BASE + 4096))
        fd = os.open(path, os.O_RDWR)
        self.mm = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        os.close(fd)
        self.words = (ctypes.c_uint64 * (BM_BASE // 8)).from_buffer(self.mm)

    def w(self, slot, i):
        return self.words[G_WORDS + slot * SLOT_WORDS + i]

    def set_w(self, slot, i, v):
        self.words[G_WORDS + slot * SLOT_WORDS + i] = v

    def clear_slot(self, slot):
        for i in range(SLOT_WORDS):
            self.set_w(slot, i, 0)

    def bitmap(self, k, nbytes):
        off = BM_BASE + k * nbytes
        return int.from_bytes(self.mm[off:off + nbytes], "little")

    def close(self):
        del self.words
        self.mm.close()
        os.unlink(self.path)


class Worker:
    """One slot's current process."""

    def __init__(self, slot, role, lang):
        self.slot, self.role, self.lang = slot, role, lang
        self.proc = None
        self.spawns = 0


class Scenario:
    """A primitive's torture. Subclasses set `roles` ([(role, lang)] per
    slot) and fill in the hooks."""

    roles = []
    log_size = BM_BASE + 4096

    def __init__(self, t, name):
        self.t = t
        self.name = name
        self.obj = "trt%d-%s" % (t.run_id, name)
        self.bound = t.timeout
        self.rng = random.Random("%d/%s" % (t.seed, name))
        self.kills = 0
        self.kills_by_state = {}
        self.failures = []
        self.notes = []
        self.figures = {}

    # -- hooks -------------------------------------------------------------

    def setup(self):
        pass

    def args(self, w):
        return []

    def victims(self):
        return [w for w in self.workers if self.up(w)]

    def pick(self, cands):
        return self.rng.choice(cands)

    def kill_hook(self, w, snap):
        """After w died (its log slot as it left it, `snap`), before its replacement starts."""

    def round_hook(self, rnd):
        pass

    def progress(self):
        return sum(self.log.w(w.slot, S_OPS) for w in self.workers)

    def stop(self):
        self.log.words[G_STOP] = 1
        self.wait_exit(self.workers)

    def check(self):
        pass

    def cleanup(self):
        pass

    # -- plumbing ----------------------------------------------------------

    def fail(self, msg):
        self.failures.append(msg)
        raise Failed(msg)

    def soft_fail(self, msg):
        self.failures.append(msg)

    def up(self, w):
        return w.proc is not None and w.proc.poll() is None and self.log.w(w.slot, S_READY) == 1

    def spawn(self, w, extra_fds=()):
        seed = (self.t.seed * 1000003 + w.slot * 7919 + w.spawns * 104729) & 0x7FFFFFFFFFFFFFFF
        common = [w.role, "--log", self.log.path, "--slot", str(w.slot), "--seed", str(seed), "--name", self.obj,
                  "--bound-ms", str(int(self.bound * 1000))] + [str(a) for a in self.args(w)]
        cmd = [self.t.worker_c] + common if w.lang == "c" else [sys.executable, WORKER_PY] + common
        self.log.set_w(w.slot, S_READY, 0)
        self.log.set_w(w.slot, S_PID, 0)
        w.proc = subprocess.Popen(cmd, pass_fds=tuple(extra_fds), env=self.t.env, preexec_fn=die_with_parent)
        w.spawns += 1

    def wait_ready(self, ws):
        deadline = time.monotonic() + self.bound
        for w in ws:
            while self.log.w(w.slot, S_READY) != 1:
                rc = w.proc.poll()
                if rc is not None:
                    self.fail("%s worker slot %d (%s) exited with %s while starting" % (w.lang, w.slot, w.role, rc))
                if time.monotonic() > deadline:
                    self.fail("%s worker slot %d (%s) not ready within %.0f s" % (w.lang, w.slot, w.role, self.bound))
                time.sleep(0.002)

    def wait_exit(self, ws, bound=None):
        """Every worker of ws must exit 0 within the bound."""
        deadline = time.monotonic() + (self.bound if bound is None else bound)
        for w in ws:
            if w.proc is None:
                continue
            while True:
                rc = w.proc.poll()
                if rc is not None:
                    break
                if time.monotonic() > deadline:
                    self.deadlocks += 1
                    self.fail("deadlock: %s worker slot %d (%s, pid %d) still running %.0f s after stop"
                              % (w.lang, w.slot, w.role, w.proc.pid, self.bound))
                self.stop_tick()
                time.sleep(0.005)
            if rc != 0:
                if rc == 3:
                    self.deadlocks += 1
                self.fail("%s worker slot %d (%s) exited with %d%s" % (
                    w.lang, w.slot, w.role, rc, " (a bounded wait ran out: deadlock)" if rc == 3 else ""))

    def stop_tick(self):
        """Called while waiting for workers to exit (to wake waiters)."""

    def kill(self, w):
        snap = [self.log.w(w.slot, i) for i in range(SLOT_WORDS)]  # before: may change until it dies
        w.proc.send_signal(signal.SIGKILL)
        rc = w.proc.wait()
        snap = [self.log.w(w.slot, i) for i in range(SLOT_WORDS)]
        if rc != -signal.SIGKILL:
            if rc == 3:
                self.deadlocks += 1
            self.fail("%s worker slot %d (%s) had exited with %d before its kill" % (w.lang, w.slot, w.role, rc))
        self.kills += 1
        st = (w.role, snap[S_STATE])
        self.kills_by_state[st] = self.kills_by_state.get(st, 0) + 1
        return snap

    def respawn(self, w):
        w.lang = "py" if w.lang == "c" else "c"  # the other language takes over the slot
        self.log.set_w(w.slot, S_STATE, 0)
        self.spawn(w)
        self.wait_ready([w])

    def killed(self, role, *states):
        return sum(n for (r, s), n in self.kills_by_state.items() if r == role and s in states)

    def require_progress(self, before, what="after round"):
        deadline = time.monotonic() + self.bound
        while self.progress() <= before:
            for w in self.workers:
                if w.proc is not None and w.proc.poll() is not None:
                    rc = w.proc.returncode
                    if rc == 3:
                        self.deadlocks += 1
                    self.fail("%s worker slot %d (%s) exited with %d %s" % (w.lang, w.slot, w.role, rc, what))
            if time.monotonic() > deadline:
                self.deadlocks += 1
                self.fail("deadlock: no progress within %.0f s %s" % (self.bound, what))
            time.sleep(0.001)

    def run(self, rounds):
        self.rounds = rounds
        self.deadlocks = 0
        self.log = Log("/dev/shm/mpipc-torture-%d-%s.log" % (self.t.run_id, self.name), self.log_size)
        self.workers = [Worker(i, r, lang) for i, (r, lang) in enumerate(self.roles)]
        t0 = time.monotonic()
        try:
            self.setup()
            for w in self.workers:
                self.spawn(w)
            self.wait_ready(self.workers)
            self.require_progress(0, "at start")
            for rnd in range(rounds):
                time.sleep(self.rng.uniform(0, self.t.max_gap))
                cands = self.victims()
                if not cands:
                    self.fail("no worker up to kill in round %d" % rnd)
                w = self.pick(cands)
                before = self.progress()
                snap = self.kill(w)
                self.kill_hook(w, snap)
                self.respawn_after_kill(w)
                self.round_hook(rnd)
                self.require_progress(before, "after round %d (killed %s slot %d)" % (rnd, w.role, w.slot))
            self.stop()
            self.check()
        except Failed:
            pass
        except Exception as e:  # the orchestrator's own calls on the objects
            self.failures.append("%s: %s" % (type(e).__name__, e))
        finally:
            for w in self.workers:
                if w.proc is not None and w.proc.poll() is None:
                    w.proc.kill()
                    w.proc.wait()
            try:
                self.cleanup()
            except Exception as e:
                self.failures.append("cleanup: %s: %s" % (type(e).__name__, e))
            self.sum_log()
            self.log.close()
        self.seconds = time.monotonic() - t0

    def respawn_after_kill(self, w):
        self.respawn(w)

    def sum_log(self):
        self.corrupt = sum(self.log.w(w.slot, S_CORRUPT) for w in self.workers) + self.figures.pop("corrupt", 0)
        self.dups = sum(self.log.w(w.slot, S_DUP) for w in self.workers) + self.figures.pop("duplicates", 0)
        self.errors = sum(self.log.w(w.slot, S_ERR) for w in self.workers)
        self.ops = self.figures.pop("ops", None)
        if self.ops is None:
            self.ops = sum(self.log.w(w.slot, S_OPS) for w in self.workers)
        self.losses = self.figures.pop("losses", 0)
        if self.corrupt:
            self.soft_fail("%d corrupt item(s) seen" % self.corrupt)
        if self.dups:
            self.soft_fail("%d duplicate(s)" % self.dups)
        if self.losses:
            self.soft_fail("%d loss(es)" % self.losses)

    def line(self):
        langs = "C+Python"
        by_role = {}
        for (r, _), n in self.kills_by_state.items():
            by_role[r] = by_role.get(r, 0) + n
        self.figures["killed"] = ",".join("%s:%d" % kv for kv in sorted(by_role.items()))
        extra = " ".join("%s=%s" % kv for kv in self.figures.items())
        return ("torture: %-9s %s rounds=%d kills=%d ops=%d losses=%d duplicates=%d corrupt=%d deadlocks=%d "
                "%s %.1fs %s" % (self.name, "PASS" if not self.failures else "FAIL", self.rounds, self.kills,
                                 self.ops, self.losses, self.dups, self.corrupt, self.deadlocks, extra,
                                 self.seconds, langs))


# ---------------------------------------------------------------------------
# Queue and JoinableQueue


class QueueScenario(Scenario):
    """Producers (C, Python) and consumers (Python, C) on a small queue;
    exactly-once checked from per-message bitmaps (docs/TORTURE.md)."""

    NPROD, NCONS = 2, 2
    roles = [("qprod", "c"), ("qprod", "py"), ("qcons", "py"), ("qcons", "c")]
    joinable = False

    def __init__(self, t, name):
        super().__init__(t, name)
        self.max_seq = t.max_seq
        # Bitmaps: per producer its acknowledged numbers; per consumer and
        # producer the numbers delivered to that consumer.
        self.bm_bytes = self.max_seq // 8
        self.log_size = BM_BASE + (self.NPROD + self.NCONS * self.NPROD) * self.bm_bytes
        self.allowance = 0      # messages consumers may have taken into their death
        self.td_inflight = 0    # task_done calls interrupted by a kill

    def setup(self):
        self.q = mpipc.JoinableQueue(32, name=self.obj, create=True, capacity_bytes=4096)

    def args(self, w):
        return ["--max-seq", self.max_seq, "--nprod", self.NPROD, "--variant",
                "joinable" if self.joinable else "queue"]

    def progress(self):
        if all(self.log.w(w.slot, S_SEQ) + 8 >= self.max_seq for w in self.workers if w.role == "qprod"):
            self.fail("producers used up their %d numbers: raise --max-seq" % self.max_seq)
        return super().progress()

    def kill_hook(self, w, snap):
        if w.role == "qcons":
            self.allowance += snap[S_PEND]
            self.td_inflight += snap[S_TDPEND]
            # The replacement starts clean; its counts add up with the old.
            self.log.set_w(w.slot, S_PEND, 0)
            self.log.set_w(w.slot, S_TDPEND, 0)

    def stop(self):
        L = self.log
        L.words[G_STOP] = 1
        self.wait_exit([w for w in self.workers if w.role == "qprod"])
        deadline = time.monotonic() + self.bound
        while self.q.qsize() > 0:
            if time.monotonic() > deadline:
                self.deadlocks += 1
                self.fail("deadlock: queue not drained within %.0f s (%d left)" % (self.bound, self.q.qsize()))
            time.sleep(0.005)
        cons = [w for w in self.workers if w.role == "qcons"]
        if self.joinable:
            L.words[G_FLAG] = 1  # drained: consumers finish their tasks, then join
            deadline = time.monotonic() + self.bound
            while not all(L.w(w.slot, S_STATE) == 9 or w.proc.poll() is not None for w in cons):
                if time.monotonic() > deadline:
                    self.deadlocks += 1
                    self.fail("deadlock: consumers did not reach join within %.0f s" % self.bound)
                time.sleep(0.002)
            self.settle_unfinished()
        else:
            self.q.shutdown()
        self.wait_exit(cons)

    def settle_unfinished(self):
        """Counts the tasks dead consumers left unfinished by calling
        task_done until it refuses (ValueError: none left), then checks the
        count against what the log predicts; the survivors' join returns."""
        D, T = self.deliveries()
        unfinished = 0
        while True:
            try:
                self.q.task_done()
            except ValueError:
                break
            unfinished += 1
            if unfinished > D + self.allowance + 1:
                self.fail("task_done accepted more than the log allows")
        lo, hi = D - T - self.td_inflight, D - T + self.allowance
        self.figures["unfinished"] = "%d(expected %d..%d)" % (unfinished, max(lo, 0), hi)
        if not lo <= unfinished <= hi:
            self.soft_fail("unfinished tasks %d outside what the log predicts [%d, %d]" % (unfinished, lo, hi))
        try:
            self.q.join(timeout=self.bound)
        except mpipc.Timeout:
            self.deadlocks += 1
            self.fail("join did not return after settling the unfinished count")

    def deliveries(self):
        """(deliveries recorded, task_done calls that returned OK)."""
        D = 0
        for c in range(self.NCONS):
            for p in range(self.NPROD):
                D += self.log.bitmap(self.NPROD + c * self.NPROD + p, self.bm_bytes).bit_count()
        T = sum(self.log.w(w.slot, S_TD) for w in self.workers if w.role == "qcons")
        return D, T

    def check(self):
        L = self.log
        lost = dup = phantom = acked = unacked_delivered = 0
        for p in range(self.NPROD):
            attempted = L.w(p, S_SEQ)
            ack = L.bitmap(p, self.bm_bytes)
            dels = [L.bitmap(self.NPROD + c * self.NPROD + p, self.bm_bytes) for c in range(self.NCONS)]
            union = 0
            for d in dels:
                union |= d
            dup += sum(d.bit_count() for d in dels) - union.bit_count()
            lost += (ack & ~union).bit_count()
            unacked_delivered += (union & ~ack).bit_count()
            phantom += (union >> attempted).bit_count() if attempted < self.max_seq else 0
            acked += ack.bit_count()
        if self.q.qsize() != 0:
            self.soft_fail("queue not empty at the end")
        if lost > self.allowance:
            self.figures["losses"] = lost - self.allowance
        self.figures["duplicates"] = dup
        self.figures["corrupt"] = phantom
        self.figures["ops"] = acked
        self.figures["in_flight_lost"] = "%d(allowed %d)" % (lost, self.allowance)
        self.figures["unacked_delivered"] = unacked_delivered
        if lost > self.allowance:
            self.soft_fail("%d acknowledged messages lost, only %d were in flight to killed consumers"
                           % (lost, self.allowance))

    def cleanup(self):
        if hasattr(self, "q"):
            self.q.close()
            self.q.unlink()


class JoinableScenario(QueueScenario):
    joinable = True


# ---------------------------------------------------------------------------
# Pipe


class PipeScenario(Scenario):
    """Two sender/receiver pairs over socketpairs (C->Python and
    Python->C, swapped at each replacement). Killing one end: the other
    must get EOF within the bound, with every message whole and in order,
    and the receiver must hold every message whose send returned."""

    roles = [("psend", "c"), ("precv", "py"), ("psend", "py"), ("precv", "c")]

    def setup(self):
        self.done_ops = 0
        self.eof_waits = []

    def pairs(self):
        return [(self.workers[0], self.workers[1]), (self.workers[2], self.workers[3])]

    def spawn(self, w, extra_fds=()):
        # Both ends of a pair start together, from a fresh socketpair.
        if w.role == "psend":
            a, b = socket.socketpair()
            self._fds = (a, b)
            w.fd = a.fileno()
            super().spawn(w, (a.fileno(),))
        else:
            a, b = self._fds
            w.fd = b.fileno()
            super().spawn(w, (b.fileno(),))
            a.close()
            b.close()

    def args(self, w):
        if w.role == "psend":
            return ["--fd", w.fd]
        return ["--fd", w.fd, "--peer", w.slot - 1]

    def progress(self):
        return self.done_ops + sum(self.log.w(w.slot, S_OPS) for w in self.workers if w.role == "precv")

    def respawn_after_kill(self, w):
        s, r = self.pairs()[0] if w.slot < 2 else self.pairs()[1]
        other = r if w is s else s
        t0 = time.monotonic()
        self.wait_exit([other])
        self.eof_waits.append(time.monotonic() - t0)
        self.check_pair(s, r, killed=w)
        for x in (s, r):
            x.lang = "py" if x.lang == "c" else "c"
            self.log.clear_slot(x.slot)
        self.spawn(s)
        self.spawn(r)
        self.wait_ready([s, r])

    def check_pair(self, s, r, killed=None):
        L = self.log
        got, acked, attempted = L.w(r.slot, S_SEQ), L.w(s.slot, S_ACK), L.w(s.slot, S_SEQ)
        survivor = None if killed is None else (r if killed is s else s)
        if survivor is not None and L.w(survivor.slot, S_EOF) != 1:
            self.soft_fail("%s survivor slot %d did not report EOF" % (survivor.role, survivor.slot))
        if killed is not r:
            # The receiver lived: it has every message the sender's send returned for.
            if not acked <= got <= attempted:
                self.soft_fail("pipe slot %d->%d: received %d, sender acknowledged %d, attempted %d"
                               % (s.slot, r.slot, got, acked, attempted))
                self.figures["losses"] = self.figures.get("losses", 0) + max(0, acked - got)
        elif got > attempted:
            self.soft_fail("pipe slot %d->%d: received %d > attempted %d" % (s.slot, r.slot, got, attempted))
        self.done_ops += L.w(r.slot, S_OPS)
        self.figures["corrupt"] = self.figures.get("corrupt", 0) + L.w(s.slot, S_CORRUPT) + L.w(r.slot, S_CORRUPT)

    def stop(self):
        self.log.words[G_STOP] = 1
        self.wait_exit(self.workers)
        for s, r in self.pairs():
            if self.log.w(r.slot, S_EOF) != 1:
                self.soft_fail("receiver slot %d did not end with EOF" % r.slot)
            self.check_pair(s, r)
        self.figures["ops"] = self.done_ops
        if self.eof_waits:
            self.figures["eof_max_ms"] = "%.0f" % (1000 * max(self.eof_waits))


# ---------------------------------------------------------------------------
# Listener / Client


class ListenerScenario(Scenario):
    """A server (Listener, HMAC authkey) answering two clients (C and
    Python) with checked request/reply records; servers and clients are
    killed: clients must see EOF and reconnect to the replacement, the
    server must drop dead clients, nothing is ever corrupt."""

    roles = [("lserver", "c"), ("lclient", "py"), ("lclient", "c")]

    def setup(self):
        self.dir = tempfile.mkdtemp(prefix="mpipc-torture-")
        self.addr = "unix:" + os.path.join(self.dir, "l.sock")
        self.key = os.urandom(16).hex()

    def args(self, w):
        return ["--addr", self.addr, "--key", self.key]

    def pick(self, cands):
        servers = [w for w in cands if w.role == "lserver"]
        if servers and self.rng.random() < 0.3:
            return servers[0]
        return self.rng.choice([w for w in cands if w.role != "lserver"] or cands)

    def progress(self):
        return sum(self.log.w(w.slot, S_OPS) for w in self.workers if w.role == "lclient")

    def stop(self):
        self.log.words[G_STOP] = 1
        self.wait_exit(self.workers[1:])
        self.wait_exit(self.workers[:1])

    def check(self):
        self.figures["ops"] = self.progress()
        self.figures["client_eofs"] = sum(self.log.w(w.slot, S_EOF) for w in self.workers[1:])
        self.figures["server_eofs"] = self.log.w(0, S_EOF)

    def cleanup(self):
        if hasattr(self, "dir"):
            shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# Manager


class ManagerScenario(Scenario):
    """`mpipc manager serve` (never killed) and four clients (C, Python)
    doing dict incr, list append and a two-step update under the manager's
    lock; clients are killed."""

    roles = [("mclient", "c"), ("mclient", "py"), ("mclient", "c"), ("mclient", "py")]

    def setup(self):
        self.dir = tempfile.mkdtemp(prefix="mpipc-torture-")
        self.addr = "unix:" + os.path.join(self.dir, "m.sock")
        self.server_log = open(os.path.join(self.dir, "server.log"), "w+")
        self.server = subprocess.Popen([self.t.mpipc_bin, "manager", "serve", "--address", self.addr],
                                       stdout=self.server_log, stderr=self.server_log, env=self.t.env,
                                       preexec_fn=die_with_parent)
        deadline = time.monotonic() + self.bound
        while True:
            try:
                self.m = mpipc.connect_manager(self.addr)
                break
            except (mpipc.NotFound, OSError):
                if time.monotonic() > deadline or self.server.poll() is not None:
                    self.fail("manager server did not start")
                time.sleep(0.01)
        self.inflight_appends = {}

    def args(self, w):
        return ["--addr", self.addr]

    def kill_hook(self, w, snap):
        if snap[S_AUX2] < snap[S_SEQ]:  # an append burnt but not acknowledged
            self.inflight_appends.setdefault(w.slot, set()).add(snap[S_SEQ] - 1)

    def check(self):
        L = self.log
        if self.server.poll() is not None:
            self.fail("the manager server died (exit %s)" % self.server.returncode)
        self.m._client.call("manager", "", "ping")
        counts = self.m.dict(name="counts")
        for w in self.workers:
            v = counts.get("s%d" % w.slot, 0)
            ack, att = L.w(w.slot, S_ACK), L.w(w.slot, S_AUX1)
            if not ack <= v <= att:
                self.soft_fail("counts[s%d] = %d outside [acknowledged %d, attempted %d]" % (w.slot, v, ack, att))
                if v < ack:
                    self.figures["losses"] = self.figures.get("losses", 0) + ack - v
        entries = list(self.m.list(name="appends"))
        seen = {}
        dup = 0
        for e in entries:
            if not (isinstance(e, list) and len(e) == 2):
                self.figures["corrupt"] = self.figures.get("corrupt", 0) + 1
                continue
            s, q = e
            seen.setdefault(s, [])
            if q in seen[s]:
                dup += 1
            seen[s].append(q)
        self.figures["duplicates"] = dup
        lost = 0
        for w in self.workers:
            got = seen.get(w.slot, [])
            gotset = set(got)
            nxt = L.w(w.slot, S_SEQ)
            infl = self.inflight_appends.get(w.slot, set())
            missing = set(range(nxt)) - gotset - infl
            extra = gotset - set(range(nxt))
            lost += len(missing)
            if missing or extra:
                self.soft_fail("appends of slot %d: missing %s, unexpected %s" % (
                    w.slot, sorted(missing)[:5], sorted(extra)[:5]))
            acked_order = [q for q in got if q not in infl]
            if acked_order != sorted(acked_order):
                self.soft_fail("appends of slot %d out of order" % w.slot)
        self.figures["losses"] = self.figures.get("losses", 0) + lost
        # The lock: free (its killed holders' connections are gone) and the
        # guarded pair consistent.
        lock = self.m.Lock(name="L")
        t0 = time.monotonic()
        if not lock.acquire(timeout=self.bound):
            self.deadlocks += 1
            self.fail("the manager lock is still held after every client exited")
        guard = self.m.dict(name="guard")
        a, b = guard.get("a", 0), guard.get("b", 0)
        holders_killed = self.killed("mclient", 4)
        if a != b:
            if a == b + 1 and holders_killed:
                guard.incr("b", 1)
                b += 1
            else:
                self.soft_fail("guard a=%d b=%d" % (a, b))
        lock.release()
        done = sum(L.w(w.slot, S_AUX3) for w in self.workers)
        if not done <= a <= done + holders_killed:
            self.soft_fail("guard a=%d outside [%d, %d]" % (a, done, done + holders_killed))
        repairs = sum(L.w(w.slot, S_REPAIR) for w in self.workers)
        if repairs > holders_killed:
            self.soft_fail("%d repairs but only %d holders killed" % (repairs, holders_killed))
        self.figures["lock_wait_ms"] = "%.0f" % (1000 * (time.monotonic() - t0))
        self.figures["holders_killed"] = holders_killed
        self.figures["repairs"] = repairs
        self.figures["ops"] = sum(L.w(w.slot, S_OPS) for w in self.workers)

    def cleanup(self):
        if hasattr(self, "server"):
            if self.server.poll() is None:
                self.server.send_signal(signal.SIGTERM)
                try:
                    rc = self.server.wait(self.bound)
                except subprocess.TimeoutExpired:
                    self.server.kill()
                    self.server.wait()
                    self.failures.append("the manager server did not stop on SIGTERM")
                else:
                    if rc != 0:
                        self.failures.append("the manager server exited with %d" % rc)
            self.server_log.seek(0)
            text = self.server_log.read()
            if self.failures and text.strip():
                sys.stderr.write("manager server log:\n" + text[-4000:])
            self.server_log.close()
        if hasattr(self, "dir"):
            shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# Array + Lock, Lock, RLock


class SectionScenario(Scenario):
    """Two cells kept equal under a robust lock (the Array's own, a Lock,
    or an RLock taken twice); holders are killed mid-section."""

    roles = [("alock", "c"), ("alock", "py"), ("alock", "c"), ("alock", "py")]
    variant = "array"

    def setup(self):
        if self.variant == "array":
            self.arr = mpipc.Array("q", 4, name=self.obj, create=True)
            self.lock = None
        elif self.variant == "lock":
            self.arr = mpipc.Array("q", 4, lock=False, name=self.obj, create=True)
            self.lock = mpipc.Lock(name=self.obj + ".lock", create=True)
        else:
            self.arr = None
            self.shm = mpipc.SharedMemory(name=self.obj, create=True, size=64)
            self.lock = mpipc.RLock(name=self.obj + ".lock", create=True)

    def args(self, w):
        return ["--variant", self.variant]

    def check(self):
        L = self.log
        warnings.simplefilter("ignore", mpipc.OwnerDiedWarning)
        if self.variant == "array":
            lk, owner = self.arr.get_lock(), self.arr
        else:
            lk = owner = self.lock
        if not lk.acquire(timeout=self.bound):
            self.deadlocks += 1
            self.fail("lock still held after every worker exited")
        died = owner.owner_died
        if self.arr is not None:
            # A raw array (lock=False) is the ctypes array itself, as
            # multiprocessing's; a synchronized one wraps it.
            cells = self.arr.get_obj() if self.variant == "array" else self.arr
        else:
            cells = (ctypes.c_int64 * 2).from_buffer(self.shm.buf)
        a, b = cells[0], cells[1]
        sure = self.killed("alock", 1)
        maybe = self.killed("alock", 2, 3)
        repairs = sum(L.w(w.slot, S_REPAIR) for w in self.workers)
        if a != b:
            if died and a == b + 1:
                cells[1] = a
                repairs += 1
            else:
                self.soft_fail("cells %d != %d (owner died: %s)" % (a, b, died))
        del cells
        lk.release()
        done = sum(L.w(w.slot, S_AUX1) for w in self.workers)
        if not done <= a <= done + sure:
            self.soft_fail("counter %d outside [%d completed sections, + %d holders killed]" % (a, done, sure))
            if a < done:
                self.figures["losses"] = done - a
        seen = sum(L.w(w.slot, S_OWNDEAD) for w in self.workers) + (1 if died else 0)
        if not sure <= seen <= sure + maybe:
            self.soft_fail("%d owner-dead acquisitions for %d holders killed (+ %d maybe)" % (seen, sure, maybe))
        if repairs > sure:
            self.soft_fail("%d repairs for %d holders killed" % (repairs, sure))
        self.figures.update(holders_killed=sure, owner_dead=seen, repairs=repairs, ops=done)

    def cleanup(self):
        for o in (getattr(self, "arr", None), getattr(self, "lock", None), getattr(self, "shm", None)):
            if o is not None:
                o.close()
                o.unlink()


class LockScenario(SectionScenario):
    variant = "lock"


class RLockScenario(SectionScenario):
    variant = "rlock"


# ---------------------------------------------------------------------------
# BoundedSemaphore


class SemaphoreScenario(Scenario):
    """A BoundedSemaphore(2) shared by four workers that count holders.
    A killed holder's unit stays taken (semaphores have no owner): the
    orchestrator returns it, as a supervisor would, and after every round
    pauses everyone to check the value: never above the bound, and below it
    only by units taken by workers killed inside acquire/release."""

    roles = [("sem", "c"), ("sem", "py"), ("sem", "c"), ("sem", "py")]
    CAP = 2

    def setup(self):
        self.sem = mpipc.BoundedSemaphore(self.CAP, name=self.obj, create=True)
        self.uncertain = 0
        self.returned = 0
        self.leaked = 0

    def args(self, w):
        return ["--nslots", len(self.roles), "--cap", self.CAP]

    def kill_hook(self, w, snap):
        if snap[S_STATE] == 2:  # held a unit: give it back
            self.log.set_w(w.slot, S_AUX2, snap[S_AUX2] + 1)  # leaves state 2, as a worker does
            self.log.set_w(w.slot, S_STATE, 0)
            try:
                self.sem.release()
            except ValueError:
                self.soft_fail("returning a killed holder's unit went over the bound")
            self.returned += 1
        elif snap[S_STATE] in (1, 3):
            self.uncertain += 1

    def round_hook(self, rnd):
        L = self.log
        epoch = L.words[G_FLAG] + 1
        L.words[G_FLAG] = epoch  # odd: pause
        deadline = time.monotonic() + self.bound
        while not all(L.w(w.slot, S_PARK) == epoch for w in self.workers):
            if time.monotonic() > deadline:
                self.deadlocks += 1
                self.fail("workers did not park within %.0f s" % self.bound)
            time.sleep(0.001)
        v = self.sem.get_value()
        if v > self.CAP:
            self.soft_fail("semaphore value %d above its bound %d" % (v, self.CAP))
        elif self.CAP - v > self.uncertain:
            self.soft_fail("semaphore value %d: %d units missing, only %d workers killed inside acquire/release"
                           % (v, self.CAP - v, self.uncertain))
            self.figures["losses"] = self.figures.get("losses", 0) + self.CAP - v - self.uncertain
        for _ in range(max(0, self.CAP - v)):
            self.sem.release()
            self.leaked += 1
        self.uncertain = 0
        L.words[G_FLAG] = epoch + 1  # resume

    def check(self):
        v = self.sem.get_value()
        if v != self.CAP:
            self.soft_fail("semaphore value %d at the end, expected %d" % (v, self.CAP))
        self.figures.update(units_returned=self.returned, units_taken_by_dying=self.leaked)

    def cleanup(self):
        if hasattr(self, "sem"):
            self.sem.close()
            self.sem.unlink()


# ---------------------------------------------------------------------------
# Event


class EventScenario(Scenario):
    """A setter (clear, set, wait for every waiter to see it) and three
    waiters; any of them killed. Every live waiter must see every
    generation within the bound."""

    roles = [("evset", "c"), ("evwait", "py"), ("evwait", "c"), ("evwait", "py")]

    def setup(self):
        self.ev = mpipc.Event(name=self.obj, create=True)

    def args(self, w):
        return ["--nslots", len(self.roles)]

    def respawn(self, w):
        if w.role == "evwait":
            # A replacement starts from the current generation.
            self.log.set_w(w.slot, S_SEEN, self.log.words[G_GEN] - 1 if self.log.words[G_GEN] else 0)
        super().respawn(w)

    def progress(self):
        return self.log.words[G_GEN]

    def stop_tick(self):
        self.ev.set()

    def check(self):
        self.figures["generations"] = self.log.words[G_GEN]
        self.figures["wake_max_ms"] = "%.1f" % (max(self.log.w(w.slot, S_LATMAX) for w in self.workers) / 1e6)

    def cleanup(self):
        if hasattr(self, "ev"):
            self.ev.close()
            self.ev.unlink()


# ---------------------------------------------------------------------------
# Condition


class ConditionScenario(Scenario):
    """A one-slot buffer under a Lock with two Conditions (not full / not
    empty, notify(1) each), producers and consumers in C and Python; and a
    sleeper on a third Condition that only the orchestrator notifies: it
    kills the sleeper inside its wait, starts another, and one notify(1)
    must wake the new one (the dead waiter is skipped)."""

    roles = [("cprod", "c"), ("cprod", "py"), ("ccons", "py"), ("ccons", "c"), ("csleep", "c")]

    def setup(self):
        n = self.obj
        self.lock = mpipc.Lock(name=n + ".lock", create=True)
        self.nf = mpipc.Condition(self.lock, name=n + ".nf", create=True)
        self.ne = mpipc.Condition(self.lock, name=n + ".ne", create=True)
        self.arr = mpipc.Array("q", 4, lock=False, name=n, create=True)
        self.zlock = mpipc.Lock(name=n + ".zlock", create=True)
        self.z = mpipc.Condition(self.zlock, name=n + ".z", create=True)
        self.probes = 0
        warnings.simplefilter("ignore", mpipc.OwnerDiedWarning)

    def progress(self):
        return sum(self.log.w(w.slot, S_OPS) for w in self.workers if w.role != "csleep")

    def pick(self, cands):
        sleepers = [w for w in cands if w.role == "csleep"]
        if sleepers and self.rng.random() < 0.3:
            return sleepers[0]
        return self.rng.choice([w for w in cands if w.role != "csleep"] or cands)

    def kill(self, w):
        if w.role != "csleep":
            return super().kill(w)
        # Kill the sleeper while it waits: holding its lock, it can only be
        # inside the wait (it set state 4 holding the lock).
        deadline = time.monotonic() + self.bound
        while True:
            if not self.zlock.acquire(timeout=self.bound):
                self.fail("sleeper lock not acquired within %.0f s" % self.bound)
            if self.log.w(w.slot, S_STATE) == 4:
                break
            self.zlock.release()
            if time.monotonic() > deadline:
                self.fail("the sleeper never waited")
            time.sleep(0.001)
        try:
            return super().kill(w)
        finally:
            self.zlock.release()

    def respawn_after_kill(self, w):
        self.respawn(w)
        if w.role != "csleep":
            return
        deadline = time.monotonic() + self.bound
        while self.log.w(w.slot, S_STATE) != 4:
            if time.monotonic() > deadline:
                self.fail("the new sleeper never waited")
            time.sleep(0.001)
        while True:
            if not self.zlock.acquire(timeout=self.bound):
                self.fail("sleeper lock not acquired within %.0f s" % self.bound)
            before, timeouts = self.log.w(w.slot, S_OPS), self.log.w(w.slot, S_AUX1)
            self.z.notify(1)  # the dead sleeper is older: it must be skipped
            self.zlock.release()
            deadline = time.monotonic() + min(self.bound / 2, 5.0)
            while self.log.w(w.slot, S_OPS) == before and self.log.w(w.slot, S_AUX1) == timeouts:
                if time.monotonic() > deadline:
                    self.deadlocks += 1
                    self.fail("notify(1) did not wake the live sleeper (given to the waiter killed before it?)")
                time.sleep(0.001)
            if self.log.w(w.slot, S_OPS) != before:
                break
            # Its wait (bound long) timed out just before the notify: again.
        self.probes += 1

    def stop_tick(self):
        for lk, conds in ((self.lock, (self.nf, self.ne)), (self.zlock, (self.z,))):
            if lk.acquire(timeout=0.05):
                for c in conds:
                    c.notify_all()
                lk.release()

    def check(self):
        L = self.log
        if not self.lock.acquire(timeout=self.bound):
            self.deadlocks += 1
            self.fail("buffer lock still held after every worker exited")
        died = self.lock.owner_died
        cell = self.arr  # raw (lock=False): the ctypes array itself
        t, p, c = cell[0], cell[1], cell[2]
        if t != p - c:
            if died and abs(t - (p - c)) == 1:
                cell[0] = p - c
            else:
                self.soft_fail("buffer T=%d P=%d C=%d (owner died: %s)" % (t, p, c, died))
        del cell
        self.lock.release()
        prod = sum(L.w(w.slot, S_AUX1) for w in self.workers if w.role == "cprod")
        cons = sum(L.w(w.slot, S_AUX1) for w in self.workers if w.role == "ccons")
        pk, ck = self.killed("cprod", 1), self.killed("ccons", 1)
        if not prod <= p <= prod + pk:
            self.soft_fail("P=%d outside [%d, %d]" % (p, prod, prod + pk))
        if not cons <= c <= cons + ck:
            self.soft_fail("C=%d outside [%d, %d]" % (c, cons, cons + ck))
        stalls = sum(L.w(w.slot, S_STALL) for w in self.workers)
        may_stall = sum(self.killed(r, 1, 4) for r in ("cprod", "ccons"))
        if stalls > may_stall:
            self.soft_fail("%d waits missed a notification, only %d waiters/holders were killed" % (stalls, may_stall))
        sure = pk + ck
        maybe = sum(self.killed(r, 2, 3, 4) for r in ("cprod", "ccons"))
        seen = sum(L.w(w.slot, S_OWNDEAD) for w in self.workers if w.role != "csleep") + (1 if died else 0)
        if not sure <= seen <= sure + maybe:
            self.soft_fail("%d owner-dead acquisitions for %d holders killed (+ %d maybe)" % (seen, sure, maybe))
        self.figures.update(items=c, stalls=stalls, dead_waiter_probes=self.probes, owner_dead=seen)
        self.figures["ops"] = prod + cons

    def cleanup(self):
        for o in ("nf", "ne", "z", "lock", "zlock", "arr"):
            x = getattr(self, o, None)
            if x is not None:
                x.close()
                x.unlink()


# ---------------------------------------------------------------------------
# Barrier


class BarrierScenario(Scenario):
    """Three parties (C, Python, C) looping on one Barrier; parties are
    killed (a killed waiter counts as arrived, so the survivors and the
    replacement go on), and every other round the orchestrator aborts the
    barrier: every live party must see BROKEN, then it is reset and the
    parties must trip it again."""

    roles = [("bar", "c"), ("bar", "py"), ("bar", "c")]

    def setup(self):
        self.bar = mpipc.Barrier(len(self.roles), name=self.obj, create=True)
        self.aborts = 0

    def progress(self):
        return sum(self.log.w(w.slot, S_OPS) for w in self.workers)

    def round_hook(self, rnd):
        if rnd % 2 == 0:
            return
        L = self.log
        L.words[G_ABORTS] += 1
        self.aborts += 1
        self.bar.abort()
        deadline = time.monotonic() + self.bound
        while not all(L.w(w.slot, S_SEEN) >= L.words[G_ABORTS] for w in self.workers):
            for w in self.workers:
                if w.proc.poll() is not None:
                    self.fail("party slot %d exited with %d after an abort" % (w.slot, w.proc.returncode))
            if time.monotonic() > deadline:
                self.deadlocks += 1
                self.fail("not every party saw the abort within %.0f s" % self.bound)
            time.sleep(0.001)
        self.bar.reset()

    def stop(self):
        self.log.words[G_STOP] = 1
        self.bar.abort()
        self.wait_exit(self.workers)

    def check(self):
        self.figures["aborts"] = self.aborts
        self.figures["broken_seen"] = sum(self.log.w(w.slot, S_BROKEN) for w in self.workers)
        self.figures["ops"] = sum(self.log.w(w.slot, S_OPS) for w in self.workers)

    def cleanup(self):
        if hasattr(self, "bar"):
            self.bar.close()
            self.bar.unlink()


# ---------------------------------------------------------------------------
# ShareableList


class SlistScenario(Scenario):
    """Writers (C, Python) overwrite items of one length, readers (Python,
    C) check every item: a record whole and valid, or null (a torn item the
    library replaced); never anything else."""

    roles = [("slw", "c"), ("slw", "py"), ("slr", "py"), ("slr", "c")]
    N = 8

    def setup(self):
        self.sl = mpipc.ShareableList([worker_py.rec_make(99, i, worker_py.SL_N) for i in range(self.N)], name=self.obj)

    def pick(self, cands):
        ws = [w for w in cands if w.role == "slw"]
        if ws and self.rng.random() < 0.7:
            return self.rng.choice(ws)
        return self.rng.choice(cands)

    def check(self):
        writer_kills = sum(n for (r, s), n in self.kills_by_state.items() if r == "slw")
        nulls = 0
        for i in range(self.N):
            x = self.sl[i]
            if x is None:
                nulls += 1
            elif not (isinstance(x, bytes) and worker_py.rec_check(x) is not None):
                self.figures["corrupt"] = self.figures.get("corrupt", 0) + 1
        worst = max([self.log.w(w.slot, S_NULLS) for w in self.workers if w.role == "slr"] + [nulls])
        if worst > writer_kills:
            self.soft_fail("%d items turned null, only %d writers killed" % (worst, writer_kills))
        self.figures.update(writer_kills=writer_kills, nulls_seen=worst)

    def cleanup(self):
        if hasattr(self, "sl"):
            self.sl.shm.close()
            self.sl.shm.unlink()


SCENARIOS = {
    "queue": QueueScenario, "joinable": JoinableScenario, "pipe": PipeScenario, "listener": ListenerScenario,
    "manager": ManagerScenario, "array": SectionScenario, "lock": LockScenario, "rlock": RLockScenario,
    "semaphore": SemaphoreScenario, "event": EventScenario, "condition": ConditionScenario,
    "barrier": BarrierScenario, "slist": SlistScenario,
}


def leftovers(run_id):
    tag = "trt%d-" % run_id
    found = [f for f in os.listdir("/dev/shm") if tag in f or f.startswith("mpipc-torture-%d-" % run_id)]
    return found


def on_term(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main():
    signal.signal(signal.SIGTERM, on_term)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker-c", required=True, help="the built tests/torture/worker.c")
    ap.add_argument("--mpipc-bin", default="target/release/mpipc", help="the mpipc command (manager server)")
    ap.add_argument("--rounds", type=int, default=130, help="kill rounds in all, shared by the primitives")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--primitives", default=",".join(ALL), help="comma-separated, from: " + ",".join(ALL))
    ap.add_argument("--timeout", type=float, default=10.0, help="the bound (s) on every wait: beyond it, deadlock")
    ap.add_argument("--max-gap-ms", type=float, default=20.0, help="longest pause before a kill")
    ap.add_argument("--max-seq", type=int, default=0, help="queue: numbers per producer (default: from --rounds)")
    a = ap.parse_args()
    prims = [p for p in a.primitives.split(",") if p]
    bad = [p for p in prims if p not in SCENARIOS]
    if bad:
        ap.error("unknown primitive(s): %s" % ",".join(bad))
    t = types.SimpleNamespace()  # the run's settings, shared by the scenarios
    t.seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "little")
    t.run_id = os.getpid()
    t.timeout = a.timeout
    t.max_gap = a.max_gap_ms / 1000.0
    per_prim = a.rounds // max(1, len(prims))
    t.max_seq = a.max_seq or min(1 << 28, max(1 << 22, per_prim << 16))
    t.max_seq = (t.max_seq + 7) // 8 * 8
    t.worker_c = os.path.abspath(a.worker_c)
    t.mpipc_bin = os.path.abspath(a.mpipc_bin)
    t.env = dict(os.environ)
    for exe, cmd in (("C", [t.worker_c, "--layout"]), ("Python", [sys.executable, WORKER_PY, "--layout"])):
        got = subprocess.run(cmd, capture_output=True, text=True, env=t.env).stdout.strip()
        if got != LAYOUT:
            print("torture: the %s worker's log layout (%s) differs from the orchestrator's (%s)" % (exe, got, LAYOUT))
            return 1
    per = [a.rounds // len(prims) + (1 if i < a.rounds % len(prims) else 0) for i in range(len(prims))]
    print("torture: seed=%d rounds=%d primitives=%s timeout=%.0fs max_gap=%.0fms (workers: C and Python)"
          % (t.seed, a.rounds, ",".join(prims), a.timeout, a.max_gap_ms), flush=True)
    t0 = time.monotonic()
    results = []
    for p, n in zip(prims, per):
        sc = SCENARIOS[p](t, p)
        sc.run(n)
        left = leftovers(t.run_id)
        if getattr(sc, "dir", None) and os.path.exists(sc.dir):
            sc.failures.append("left behind: %s" % sc.dir)
            shutil.rmtree(sc.dir, ignore_errors=True)
        if left:
            sc.failures.append("left behind in /dev/shm: %s" % ", ".join(sorted(left)))
            for f in left:
                try:
                    os.unlink(os.path.join("/dev/shm", f))
                except OSError:
                    pass
        print(sc.line(), flush=True)
        for f in sc.failures:
            print("torture:   %s: %s" % (p, f), flush=True)
        results.append(sc)
    passed = sum(1 for r in results if not r.failures)
    failed = len(results) - passed
    print("torture: %d passed, %d failed; kills=%d ops=%d losses=%d duplicates=%d corrupt=%d deadlocks=%d "
          "in %.1fs (seed %d)" % (passed, failed, sum(r.kills for r in results), sum(r.ops for r in results),
                                  sum(r.losses for r in results), sum(r.dups for r in results),
                                  sum(r.corrupt for r in results), sum(r.deadlocks for r in results),
                                  time.monotonic() - t0, t.seed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
