"""A model of mpipc's client side of a Redis queue, in Python over redis-py:
the waits, latches and slices the Rust core (src/queue/redis.rs) does, so
the tests drive the server library (src/redis/mpipc_1.lua) as mpipc does
and as docs/REDIS.md tells a plain client to.

Each blocking wait is cut in slices of at most `slice_s` seconds (the core
uses 1 s). The tests use long slices, so that a wait that returns well
before its slice ends was woken by the server, not by a re-check.

Errors: queue.Full / queue.Empty when a timeout expires, EOFError from a get
of a shut down and drained queue, redis.ResponseError `MPIPC_<KIND> ...`
from the library otherwise (kind_of() reads KIND).
"""

import os
import queue
import socket
import time
import uuid

KEY_NAMES = ("items", "meta", "room", "done", "shut")


def kind_of(err):
    """The KIND of an `MPIPC_<KIND> text` error reply, or None."""
    text = str(err)
    return text.split(" ", 1)[0][len("MPIPC_"):] if text.startswith("MPIPC_") else None


def prefix(name, ns=None):
    """The key prefix of queue `name`: P q:{NAME}: with P = mpipc: or mpipc:NS:."""
    return "mpipc:%sq:{%s}:" % (ns + ":" if ns else "", name)


def wait_until(pred, what, deadline_s=10.0):
    """Polls `pred` until it holds (a state), failing after `deadline_s`."""
    end = time.monotonic() + deadline_s
    while not pred():
        assert time.monotonic() < end, "not reached within %s s: %s" % (deadline_s, what)
        time.sleep(0.002)


def blocked_clients(r):
    return int(r.info("clients")["blocked_clients"])


def wait_blocked(r, n, deadline_s=10.0):
    """Waits until at least `n` clients of the server are blocked in a
    blocking command (BLMPOP, BLMOVE)."""
    wait_until(lambda: blocked_clients(r) >= n, "%d blocked clients" % n, deadline_s)


def _seconds(t):
    """A positive BLMPOP timeout in seconds, 3 decimals (0 would block forever)."""
    return "%.3f" % max(t, 0.001)


class Q:
    """A queue handle on its own connection (`client`)."""

    def __init__(self, client, name, maxsize=0, how="c", max_message=0, mode="", ns=None, slice_s=20.0):
        self.r, self.name, self.slice_s = client, name, slice_s
        self.prefix = prefix(name, ns)
        self.keys = [self.prefix + k for k in KEY_NAMES]
        self.items, self.meta, self.room, self.done, self.shut = self.keys
        self.consumers = self.prefix + "consumers"
        info = self.fc("q_open", how, maxsize, max_message, mode)
        self.maxsize, self.max_message = int(info[0]), int(info[1])
        self.mode, self.created = info[2].decode(), int(info[3])

    def fc(self, fn, *args, keys=None):
        keys = self.keys if keys is None else keys
        return self.r.fcall("mpipc_1_" + fn, len(keys), *keys, *args)

    def _left(self, end):
        return None if end is None else end - time.monotonic()

    def _slice(self, left):
        return self.slice_s if left is None else min(left, self.slice_s)

    def put_many(self, msgs, timeout=None):
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            n = self.fc("q_put", "w", *msgs)
            if n > 0:
                return n
            left = self._left(end)
            if left is not None and left <= 0:
                raise queue.Full
            r = self.r.blmpop(_seconds(self._slice(left)), 2, self.room, self.shut, direction="LEFT", count=1)
            if r and r[0].decode() == self.shut:
                self.fc("latch_rearm", "shut")   # the next q_put answers SHUTDOWN

    def put(self, m, timeout=None):
        return self.put_many([m], timeout)

    def _status(self, r):
        if r[0] == 0:
            return r[1:]
        if r[0] == 2:
            raise EOFError("shut down")
        return None

    def get_many(self, n=1, timeout=None):
        end = None if timeout is None else time.monotonic() + timeout
        if self.maxsize > 0 or timeout == 0:
            got = self._status(self.fc("q_get", n))
            if got is not None:
                return got
            if timeout == 0:
                raise queue.Empty
        while True:
            left = self._left(end)
            if left is not None and left <= 0:
                raise queue.Empty
            r = self.r.blmpop(_seconds(self._slice(left)), 2, self.items, self.shut, direction="LEFT", count=n)
            if r is None:
                continue
            if r[0].decode() == self.shut:
                self.fc("latch_rearm", "shut")
                # A non-immediate shutdown leaves messages to drain.
                got = self._status(self.fc("q_get", n))
                if got is not None:
                    return got
                raise EOFError("shut down")
            # No room latch to set: a getter blocks only on an empty queue,
            # so no putter can be blocked on a full one meanwhile.
            return r[1]

    def get(self, timeout=None):
        return self.get_many(1, timeout)[0]

    def get_into(self, cap):
        """The non-blocking get_into: the message if it fits `cap`, else
        ('too big', length) and the message stays queued."""
        r = self.fc("q_get_into", cap)
        if r[0] == 3:
            return ("too big", r[1])
        got = self._status(r)
        if got is None:
            raise queue.Empty
        return got[0]

    def task_done(self, n=1):
        return self.fc("q_task_done", n)

    def join(self, timeout=None):
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            left = self._left(end)
            if left is not None and left <= 0:
                raise TimeoutError("join")
            r = self.r.blmpop(_seconds(self._slice(left)), 1, self.done, direction="LEFT", count=1)
            if r is not None and self.fc("latch_rearm", "done") == 1:
                return

    def shutdown(self, immediate=False):
        return self.fc("q_shutdown", "1" if immediate else "0")

    def qsize(self):
        return self.fc("q_qsize")

    def unlink(self):
        return self.fc("q_unlink", keys=self.keys + [self.consumers])


_seq = 0


def consumer_id():
    """host:pid:random:n, as the core makes them."""
    global _seq
    _seq += 1
    return "%s:%d:%s:%d" % (socket.gethostname(), os.getpid(), uuid.uuid4().hex[:16], _seq)


class AloConsumer(Q):
    """An at-least-once consumer: its messages stay in its processing list
    until task_done (q_ack); a consumer whose lease ends gets them reaped back
    to the head of the queue by another consumer's q_lease."""

    def __init__(self, client, name, lease_ms=10000, cid=None, **kw):
        super().__init__(client, name, mode=kw.pop("mode", "alo"), **kw)
        self.cid = cid or consumer_id()
        self.lease_ms = lease_ms
        self.proc = self.prefix + "proc:" + self.cid
        self.keys6 = self.keys + [self.consumers]
        self.keys7 = self.keys6 + [self.proc]

    def lease(self):
        """Registers or renews the lease; reaps dead consumers. {requeued, ok}."""
        return self.fc("q_lease", self.cid, self.lease_ms, keys=self.keys6)

    def get_many(self, n=1, timeout=None):
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            self.lease()
            got = self._status(self.fc("q_alo_get", self.cid, n, self.lease_ms, keys=self.keys7))
            if got is not None:
                return got
            left = self._left(end)
            if left is not None and left <= 0:
                raise queue.Empty
            m = self.r.blmove(self.items, self.proc, _seconds(self._slice(left)), "LEFT", "RIGHT")
            if m is not None:
                if n == 1:
                    return [m]
                more = self.fc("q_alo_get", self.cid, n - 1, self.lease_ms, keys=self.keys7)
                return [m] + (list(more[1:]) if more[0] == 0 else [])

    def task_done(self, n=1):
        return self.fc("q_ack", self.cid, n, keys=self.keys7)

    def release(self):
        return self.fc("q_release", self.cid, keys=self.keys7)
