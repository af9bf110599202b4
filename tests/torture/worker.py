"""The fault torture's Python worker (tests/torture): the roles of worker.c,
played through the Python binding (bindings/python), with the same
arguments, the same shared log (torture_log.h) and the same exit statuses
(0; 1 an unexpected result; 3 a bounded wait ran out).

    python worker.py ROLE --log PATH --slot S --seed N [...as worker.c]
"""

import ctypes
import mmap
import os
import struct
import sys
import time
import warnings
import zlib

import mpipc
from mpipc._common import open_handle
from mpipc._ffi import lib
from mpipc.connection import Connection

# torture_log.h
G_STOP, G_FLAG, G_GEN, G_SETNS, G_ABORTS, G_WORDS = 0, 1, 2, 3, 4, 16
MAX_SLOTS, SLOT_WORDS, BM_BASE = 16, 32, 8192
(S_PID, S_READY, S_STATE, S_OPS, S_ERR, S_CORRUPT, S_DUP, S_SEQ, S_PEND, S_ACK, S_TD, S_TDPEND, S_OWNDEAD,
 S_REPAIR, S_STALL, S_SEEN, S_LATMAX, S_EOF, S_AUX1, S_AUX2, S_AUX3, S_AUX4, S_BROKEN, S_PARK,
 S_NULLS) = range(25)
EXIT_OK, EXIT_FAIL, EXIT_DEADLOCK = 0, 1, 3

REPLY_BASE = 1000
SL_N = 60000


class Fail(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


class Worker:
    def __init__(self, argv):
        self.role = argv[0]
        self.args = {}
        for i in range(1, len(argv) - 1, 2):
            self.args[argv[i]] = argv[i + 1]
        self.slot = int(self.args["--slot"])
        self.rng = int(self.args.get("--seed", "1")) | 1
        self.name = self.args.get("--name", "")
        self.bound_ms = int(self.args.get("--bound-ms", "10000"))
        self.bound = self.bound_ms / 1000.0
        fd = os.open(self.args["--log"], os.O_RDWR)
        self.mm = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        os.close(fd)
        self.words = (ctypes.c_uint64 * (BM_BASE // 8)).from_buffer(self.mm)
        self.base = G_WORDS + self.slot * SLOT_WORDS

    # -- log -----------------------------------------------------------------

    def me(self, w):
        return self.words[self.base + w]

    def set_me(self, w, v):
        self.words[self.base + w] = v

    def add_me(self, w, d=1):
        self.words[self.base + w] += d

    def g(self, w):
        return self.words[w]

    def stopping(self):
        return self.words[G_STOP] != 0

    def slot_word(self, slot, w):
        return self.words[G_WORDS + slot * SLOT_WORDS + w]

    def fail(self, code, msg):
        raise Fail(code, msg)

    def say(self, msg):
        sys.stderr.write("worker[py %s slot %d pid %d]: %s\n" % (self.role, self.slot, os.getpid(), msg))

    def below(self, n):  # xorshift64*, as worker.c
        x = self.rng
        x ^= x >> 12
        x ^= (x << 25) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 27
        self.rng = x
        return ((x * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF) % n if n else 0

    def bm_index(self, max_seq, k, seq):
        if seq >= max_seq:
            self.fail(EXIT_FAIL, "bitmap offset out of range")
        return BM_BASE + k * (max_seq // 8) + seq // 8


# -- records (as worker.c) -------------------------------------------------

PAT = bytes((j * 167 + 13) & 255 for j in range(1024))
PAT_LONG = PAT * 300  # enough for 300 KB records
_HDR = struct.Struct("<4sIQI")


def rec_make(src, seq, n):
    start = (seq * 13 + src * 5) % 1024
    body = _HDR.pack(b"TRT1", src, seq, n) + PAT_LONG[start:start + n]
    return body + struct.pack("<I", zlib.crc32(body))


def rec_check(m):
    """(src, seq) of a valid record, else None."""
    if len(m) < 24:
        return None
    magic, src, seq, n = _HDR.unpack_from(m, 0)
    if magic != b"TRT1" or 24 + n != len(m):
        return None
    m = bytes(m)
    if struct.unpack_from("<I", m, 20 + n)[0] != zlib.crc32(m[:20 + n]):
        return None
    start = (seq * 13 + src * 5) % 1024
    if m[20:20 + n] != PAT_LONG[start:start + n]:
        return None
    return src, seq


def cbor_bytes_payload(m):
    """The content of a CBOR byte string (raw queue messages), else None."""
    if not m:
        return None
    major, ai = m[0] >> 5, m[0] & 31
    if major != 2:
        return None
    if ai < 24:
        h, n = 1, ai
    elif ai in (24, 25, 26, 27):
        k = 1 << (ai - 24)
        h, n = 1 + k, int.from_bytes(m[1:1 + k], "big")
    else:
        return None
    return m[h:] if h + n == len(m) else None


# -- queue -------------------------------------------------------------------

def role_qprod(w):
    max_seq = int(w.args["--max-seq"])
    q = mpipc.Queue(name=w.name, create=False)
    w.set_me(S_READY, 1)
    mm = w.mm
    while not w.stopping():
        first = w.me(S_SEQ)
        batch = 1 + w.below(8) if w.below(4) == 0 else 1
        if first + batch > max_seq:
            time.sleep(0.001)
            continue
        w.set_me(S_SEQ, first + batch)  # burnt before the put
        msgs = [rec_make(w.slot, s, 8 + (s * 7 + w.slot * 3) % 200) for s in range(first, first + batch)]
        put = 0
        try:
            if batch == 1:
                q.put(msgs[0], timeout=0.2)
                put = 1
            else:
                q.put_many(msgs, timeout=0.2)
                put = batch
        except mpipc.Full as e:
            put = e.args[1] if batch > 1 and len(e.args) > 1 else 0
        except mpipc.ShutDown:
            break
        for s in range(first, first + put):
            i = w.bm_index(max_seq, w.slot, s)
            mm[i] = mm[i] | (1 << (s % 8))
        if put:
            w.add_me(S_OPS, put)
    q.close()


def record_delivery(w, max_seq, nprod, m):
    r = rec_check(m) if m is not None else None
    if r is None or r[0] >= nprod or r[1] >= max_seq:
        w.add_me(S_CORRUPT)
        w.say("corrupt message %r" % (bytes(m[:32]) if m is not None else None,))
        return
    src, seq = r
    k = nprod + (w.slot - nprod) * nprod + src
    i = w.bm_index(max_seq, k, seq)
    bit = 1 << (seq % 8)
    if w.mm[i] & bit:
        w.add_me(S_DUP)
        w.say("duplicate %d/%d" % (src, seq))
    w.mm[i] = w.mm[i] | bit
    w.add_me(S_OPS)


def role_qcons(w):
    max_seq = int(w.args["--max-seq"])
    nprod = int(w.args["--nprod"])
    joinable = w.args.get("--variant") == "joinable"
    q = (mpipc.JoinableQueue if joinable else mpipc.Queue)(name=w.name, create=False)
    w.set_me(S_READY, 1)

    def task_done():
        w.set_me(S_TDPEND, 1)
        q.task_done()
        w.add_me(S_TD)
        w.set_me(S_TDPEND, 0)

    while True:
        if joinable and w.g(G_FLAG) == 1:
            w.set_me(S_STATE, 9)
            try:
                q.join(timeout=w.bound)
            except mpipc.Timeout:
                w.fail(EXIT_DEADLOCK, "join did not return within %d ms" % w.bound_ms)
            break
        mode = w.below(3)
        w.set_me(S_PEND, 8 if mode == 2 else 1)
        try:
            if mode == 0:
                msgs = [q.get(timeout=0.1)]
                msgs = [m if isinstance(m, bytes) else None for m in msgs]
            elif mode == 1:
                msgs = [cbor_bytes_payload(q.get_bytes(timeout=0.1))]
            else:
                msgs = q.get_many(8, timeout=0.1)
                msgs = [m if isinstance(m, bytes) else None for m in msgs]
        except mpipc.Empty:
            msgs = []
        except mpipc.ShutDown:
            w.set_me(S_PEND, 0)
            break
        for m in msgs:
            record_delivery(w, max_seq, nprod, m)
        if joinable:
            for _ in msgs:
                task_done()
        w.set_me(S_PEND, 0)
    q.close()


# -- pipe ----------------------------------------------------------------------

def pipe_msg_n(w):
    r = w.below(32)
    if r == 0:
        return 65536 + w.below(200000)
    if r < 8:
        return 8 + w.below(8192)
    return 8 + w.below(400)


def conn_from_fd(fd):
    return Connection(open_handle(lib.mp_pipe_from_fd, int(fd)))


def role_psend(w):
    c = conn_from_fd(w.args["--fd"])
    w.set_me(S_READY, 1)
    while not w.stopping():
        seq = w.me(S_SEQ)
        m = rec_make(w.slot, seq, pipe_msg_n(w))
        w.set_me(S_SEQ, seq + 1)
        try:
            c.send_bytes(m)
        except mpipc.EOF:
            w.set_me(S_EOF, 1)
            break
        w.set_me(S_ACK, seq + 1)
        w.add_me(S_OPS)
    c.close()


def role_precv(w):
    c = conn_from_fd(w.args["--fd"])
    peer = int(w.args["--peer"])
    w.set_me(S_READY, 1)
    while True:
        if not c.poll(w.bound):
            w.fail(EXIT_DEADLOCK, "nothing (not even EOF) within %d ms" % w.bound_ms)
        try:
            m = c.recv_bytes()
        except mpipc.EOF:
            w.set_me(S_EOF, 1)
            break
        want = w.me(S_SEQ)
        r = rec_check(m)
        if r is None or r != (peer, want):
            w.add_me(S_CORRUPT)
            w.say("bad message (%d bytes, expected seq %d)" % (len(m), want))
        w.set_me(S_SEQ, want + 1)
        w.add_me(S_OPS)
    c.close()


# -- listener / client -------------------------------------------------------

def role_lserver(w):
    addr = w.args["--addr"]
    key = bytes.fromhex(w.args["--key"])
    path = addr[len("unix:"):]
    try:
        os.unlink(path)  # left behind by a killed server
    except FileNotFoundError:
        pass
    lst = mpipc.Listener(path, authkey=key)
    w.set_me(S_READY, 1)
    conns = []
    while not w.stopping():
        try:
            conns.append(lst.accept(timeout=0 if conns else 0.02))
        except mpipc.Timeout:
            pass
        except mpipc.EOF:
            w.add_me(S_EOF)  # a client killed during the handshake
        if not conns:
            continue
        for c in mpipc.wait(conns, timeout=0.02):
            drop = False
            try:
                m = c.recv_bytes()
            except mpipc.EOF:
                w.add_me(S_EOF)
                drop = True
            else:
                r = rec_check(m)
                if r is None or r[0] >= REPLY_BASE:
                    w.add_me(S_CORRUPT)
                    w.say("bad request of %d bytes" % len(m))
                    drop = True
                else:
                    try:
                        c.send_bytes(rec_make(REPLY_BASE + r[0], r[1], len(m) - 24))
                        w.add_me(S_OPS)
                    except mpipc.EOF:
                        w.add_me(S_EOF)
                        drop = True
            if drop:
                c.close()
                conns.remove(c)
    for c in conns:
        c.close()
    lst.close()


def role_lclient(w):
    addr = w.args["--addr"]
    key = bytes.fromhex(w.args["--key"])
    path = addr[len("unix:"):]
    c = None
    since = time.monotonic()
    w.set_me(S_READY, 1)
    while not w.stopping():
        if c is None:
            try:
                c = mpipc.Client(path, authkey=key, timeout=1.0)
            except (mpipc.NotFound, mpipc.EOF, mpipc.Timeout):
                if time.monotonic() - since > w.bound:
                    w.fail(EXIT_DEADLOCK, "no server for %d ms" % w.bound_ms)
                time.sleep(0.002)
                continue
        seq = w.me(S_SEQ)
        w.set_me(S_SEQ, seq + 1)
        n = min(pipe_msg_n(w), 20000)
        try:
            c.send_bytes(rec_make(w.slot, seq, n))
            if not c.poll(w.bound):
                w.fail(EXIT_DEADLOCK, "no reply (not even EOF) within %d ms" % w.bound_ms)
            m = c.recv_bytes()
        except mpipc.EOF:
            w.add_me(S_EOF)
            c.close()
            c = None
            since = time.monotonic()
            continue
        if rec_check(m) != (REPLY_BASE + w.slot, seq) or len(m) != 24 + n:
            w.add_me(S_CORRUPT)
            w.say("bad reply to %d" % seq)
        w.add_me(S_OPS)
        since = time.monotonic()
    if c is not None:
        c.close()


# -- manager -------------------------------------------------------------------

def role_mclient(w):
    m = mpipc.connect_manager(w.args["--addr"])
    counts = m.dict(name="counts")
    guard = m.dict(name="guard")
    appends = m.list(name="appends")
    lock = m.Lock(name="L")
    mykey = "s%d" % w.slot
    w.set_me(S_READY, 1)
    while not w.stopping():
        op = w.below(3)
        if op == 0:
            w.set_me(S_AUX1, w.me(S_AUX1) + 1)
            w.set_me(S_STATE, 1)
            counts.incr(mykey, 1)
            w.add_me(S_ACK)
            w.set_me(S_STATE, 0)
        elif op == 1:
            seq = w.me(S_SEQ)
            w.set_me(S_SEQ, seq + 1)
            w.set_me(S_STATE, 2)
            appends.append([w.slot, seq])
            w.set_me(S_AUX2, seq + 1)
            w.set_me(S_STATE, 0)
        else:
            w.set_me(S_STATE, 3)
            if not lock.acquire(timeout=w.bound):
                w.fail(EXIT_DEADLOCK, "manager lock not acquired within %d ms" % w.bound_ms)
            w.set_me(S_STATE, 4)
            a, b = guard.get("a", 0), guard.get("b", 0)
            if a != b:
                if a != b + 1:
                    w.add_me(S_CORRUPT)
                    w.say("guard a=%d b=%d" % (a, b))
                guard.incr("b", a - b)
                w.add_me(S_REPAIR)
            guard.incr("a", 1)
            if w.below(2):
                time.sleep(w.below(300) / 1e6)
            guard.incr("b", 1)
            w.add_me(S_AUX3)
            w.set_me(S_STATE, 5)
            lock.release()
            w.set_me(S_STATE, 0)
        w.add_me(S_OPS)


# -- array / lock / rlock sections -----------------------------------------

def role_alock(w):
    v = w.args.get("--variant", "array")
    warnings.simplefilter("ignore", mpipc.OwnerDiedWarning)
    if v == "array":
        arr = mpipc.Array("q", 4, name=w.name, create=False)
        lk = arr.get_lock()
        died = lambda: arr.owner_died  # noqa: E731
        cells = arr.get_obj()
        acquire, release = lk.acquire, lk.release
    else:
        lk = (mpipc.Lock if v == "lock" else mpipc.RLock)(name=w.name + ".lock", create=False)
        died = lambda: lk.owner_died  # noqa: E731
        if v == "lock":
            # Raw (lock=False): the ctypes array itself, as multiprocessing's.
            cells = arr = mpipc.Array("q", 4, lock=False, name=w.name, create=False)
        else:
            shm = mpipc.SharedMemory(name=w.name, create=False)
            cells = (ctypes.c_int64 * 2).from_buffer(shm.buf)

        if v == "rlock":
            def acquire(timeout):
                if not lk.acquire(timeout=timeout):
                    return False
                d = lk.owner_died
                if not lk.acquire(timeout=timeout):  # re-entry: depth 2
                    w.fail(EXIT_FAIL, "RLock re-entry failed")
                lk.owner_died = d
                return True

            def release():
                lk.release()
                lk.release()
        else:
            acquire, release = lk.acquire, lk.release
    w.set_me(S_READY, 1)
    while not w.stopping():
        w.set_me(S_STATE, 3)
        if not acquire(timeout=w.bound):
            w.fail(EXIT_DEADLOCK, "lock not acquired within %d ms" % w.bound_ms)
        w.set_me(S_STATE, 1)
        dead = died()
        a, b = cells[0], cells[1]
        if dead:
            w.add_me(S_OWNDEAD)
        if a != b:
            if not dead or a != b + 1:
                w.add_me(S_CORRUPT)
                w.say("cells %d %d (owner dead: %s)" % (a, b, dead))
            cells[1] = a
            w.add_me(S_REPAIR)
        cells[0] = a + 1
        if w.below(4) == 0:
            time.sleep(w.below(300) / 1e6)
        cells[1] = a + 1
        w.add_me(S_AUX1)
        w.set_me(S_STATE, 2)
        release()
        w.set_me(S_STATE, 0)
        w.add_me(S_OPS)
        if w.below(4) == 0:
            time.sleep(w.below(200) / 1e6)


# -- semaphore -----------------------------------------------------------------

def count_holders(w, nslots):
    """Slots that all held a unit at one instant (as worker.c): state 2 at
    the first read, and no release (S_AUX2 unchanged) by the second."""
    first = [(w.slot_word(i, S_STATE), w.slot_word(i, S_AUX2)) for i in range(nslots)]
    return sum(1 for i, (st, gen) in enumerate(first) if st == 2 and w.slot_word(i, S_AUX2) == gen)


def role_sem(w):
    nslots = int(w.args["--nslots"])
    cap = int(w.args["--cap"])
    s = mpipc.BoundedSemaphore(0, name=w.name, create=False)
    w.set_me(S_READY, 1)
    waited_since = time.monotonic()
    while not w.stopping():
        epoch = w.g(G_FLAG)
        if epoch != w.me(S_PARK):
            w.set_me(S_PARK, epoch)
            time.sleep(0.0005)
            waited_since = time.monotonic()
            continue
        if epoch % 2 == 1:
            time.sleep(0.0005)
            waited_since = time.monotonic()
            continue
        w.set_me(S_STATE, 1)
        if not s.acquire(timeout=0.05):
            w.set_me(S_STATE, 0)
            if time.monotonic() - waited_since > w.bound:
                w.fail(EXIT_DEADLOCK, "no unit within %d ms" % w.bound_ms)
            continue
        w.set_me(S_STATE, 2)
        waited_since = time.monotonic()
        holders = count_holders(w, nslots)
        v = s.get_value()
        if holders > cap or v > cap:
            w.add_me(S_CORRUPT)
            w.say("%d holders, value %d, bound %d (slots: %s)" % (holders, v, cap, " ".join(
                "%d:state=%d,pid=%d" % (i, w.slot_word(i, S_STATE), w.slot_word(i, S_PID)) for i in range(nslots))))
        time.sleep(w.below(300) / 1e6)
        w.add_me(S_AUX2)  # leaves state 2: count_holders sees it
        w.set_me(S_STATE, 3)
        try:
            s.release()
        except ValueError:
            w.add_me(S_CORRUPT)
            w.say("release refused (over the bound)")
        w.set_me(S_STATE, 0)
        w.add_me(S_OPS)


# -- event ---------------------------------------------------------------------

def role_evset(w):
    nslots = int(w.args["--nslots"])
    e = mpipc.Event(name=w.name, create=False)
    w.set_me(S_READY, 1)
    words = w.words
    while not w.stopping():
        g = words[G_GEN] + 1
        e.clear()
        if e.is_set():
            w.add_me(S_CORRUPT)
        time.sleep(w.below(1000) / 1e6)
        e.set()
        if not e.is_set():
            w.add_me(S_CORRUPT)
        words[G_SETNS] = time.monotonic_ns()
        words[G_GEN] = g
        t0 = time.monotonic()
        for i in range(nslots):
            if i == w.slot:
                continue
            while w.slot_word(i, S_SEEN) < g and not w.stopping():
                if time.monotonic() - t0 > w.bound:
                    w.fail(EXIT_DEADLOCK, "waiter slot %d did not see generation %d within %d ms"
                           % (i, g, w.bound_ms))
                time.sleep(0.0001)
        w.add_me(S_OPS)


def role_evwait(w):
    e = mpipc.Event(name=w.name, create=False)
    w.set_me(S_READY, 1)
    words = w.words
    while not w.stopping():
        w.set_me(S_STATE, 1)
        ok = e.wait(timeout=w.bound)
        w.set_me(S_STATE, 0)
        if not ok:
            if w.stopping():
                break
            w.fail(EXIT_DEADLOCK, "event not set within %d ms" % w.bound_ms)
        g = words[G_GEN]
        if g > w.me(S_SEEN):
            lat = time.monotonic_ns() - words[G_SETNS]
            if g == w.me(S_SEEN) + 1 and w.me(S_OPS) > 0 and lat > w.me(S_LATMAX):
                w.set_me(S_LATMAX, lat)
            w.set_me(S_SEEN, g)
            w.add_me(S_OPS)
        else:
            time.sleep(0.0002)


# -- condition -----------------------------------------------------------------

def role_cbuf(w, producer):
    warnings.simplefilter("ignore", mpipc.OwnerDiedWarning)
    lk = mpipc.Lock(name=w.name + ".lock", create=False)
    nf = mpipc.Condition(lk, name=w.name + ".nf", create=False)
    ne = mpipc.Condition(lk, name=w.name + ".ne", create=False)
    # Raw (lock=False): the ctypes array itself, as multiprocessing's.
    cell = arr = mpipc.Array("q", 4, lock=False, name=w.name, create=False)
    mine, other = (nf, ne) if producer else (ne, nf)

    def repair(dead):
        if dead:
            w.add_me(S_OWNDEAD)
        t, p, c = cell[0], cell[1], cell[2]
        if t != p - c:
            if not dead or t not in (p - c + 1, p - c - 1):
                w.add_me(S_CORRUPT)
                w.say("T=%d P=%d C=%d" % (t, p, c))
            cell[0] = p - c
            w.add_me(S_REPAIR)

    w.set_me(S_READY, 1)
    while not w.stopping():
        w.set_me(S_STATE, 3)
        if not lk.acquire(timeout=w.bound):
            w.fail(EXIT_DEADLOCK, "lock not acquired within %d ms" % w.bound_ms)
        w.set_me(S_STATE, 1)
        repair(lk.owner_died)
        t0 = time.monotonic()
        quit_ = False
        while (cell[0] >= 1) if producer else (cell[0] <= 0):
            if w.stopping():
                quit_ = True
                break
            w.set_me(S_STATE, 4)
            lk.owner_died = False
            notified = mine.wait(1.0)
            w.set_me(S_STATE, 1)
            if lk.owner_died:
                repair(True)
            elif not notified and ((cell[0] < 1) if producer else (cell[0] > 0)):
                w.add_me(S_STALL)
            if time.monotonic() - t0 > w.bound:
                w.fail(EXIT_DEADLOCK, "condition never true within %d ms" % w.bound_ms)
        if not quit_:
            if producer:
                cell[0] = cell[0] + 1
                cell[1] = cell[1] + 1
            else:
                cell[0] = cell[0] - 1
                cell[2] = cell[2] + 1
            w.add_me(S_AUX1)
            other.notify(1)
        w.set_me(S_STATE, 2)
        lk.release()
        w.set_me(S_STATE, 0)
        if not quit_:
            w.add_me(S_OPS)
        if producer:
            time.sleep(w.below(300) / 1e6)


def role_csleep(w):
    warnings.simplefilter("ignore", mpipc.OwnerDiedWarning)
    lk = mpipc.Lock(name=w.name + ".zlock", create=False)
    z = mpipc.Condition(lk, name=w.name + ".z", create=False)
    w.set_me(S_READY, 1)
    while not w.stopping():
        if not lk.acquire(timeout=w.bound):
            w.fail(EXIT_DEADLOCK, "lock not acquired within %d ms" % w.bound_ms)
        if lk.owner_died:
            w.add_me(S_OWNDEAD)
        w.set_me(S_STATE, 4)
        lk.owner_died = False
        if z.wait(w.bound):
            if lk.owner_died:
                w.add_me(S_OWNDEAD)
            else:
                w.add_me(S_OPS)
        else:
            w.add_me(S_AUX1)
        w.set_me(S_STATE, 2)
        lk.release()
        w.set_me(S_STATE, 0)


# -- barrier -------------------------------------------------------------------

def role_bar(w):
    b = mpipc.Barrier(0, name=w.name, create=False)
    parties = b.parties
    w.set_me(S_SEEN, w.g(G_ABORTS))
    w.set_me(S_READY, 1)
    while True:
        w.set_me(S_STATE, 1)
        try:
            idx = b.wait(timeout=w.bound)
            broken = False
        except mpipc.BrokenBarrierError:
            broken = True
        w.set_me(S_STATE, 0)
        if w.stopping():
            break
        if not broken:
            if not 0 <= idx < parties:
                w.add_me(S_CORRUPT)
            w.add_me(S_OPS)
            continue
        w.add_me(S_BROKEN)
        aborts = w.g(G_ABORTS)
        if aborts <= w.me(S_SEEN):
            w.fail(EXIT_DEADLOCK, "barrier broken without an abort (a wait timed out after %d ms?)" % w.bound_ms)
        w.set_me(S_SEEN, aborts)
        t0 = time.monotonic()
        while b.broken and not w.stopping():
            if time.monotonic() - t0 > w.bound:
                w.fail(EXIT_DEADLOCK, "barrier not reset within %d ms" % w.bound_ms)
            time.sleep(0.0005)
        if w.stopping():
            break


# -- shareable list --------------------------------------------------------------

def role_slw(w):
    sl = mpipc.ShareableList(name=w.name)
    n = len(sl)
    first = w.me(S_SEQ)
    items = [rec_make(w.slot, first + k, SL_N) for k in range(16)]
    w.set_me(S_SEQ, first + 16)
    w.set_me(S_READY, 1)
    while not w.stopping():
        w.set_me(S_STATE, 1)
        sl[w.below(n)] = items[w.below(16)]
        w.set_me(S_STATE, 0)
        w.add_me(S_OPS)


def role_slr(w):
    sl = mpipc.ShareableList(name=w.name)
    n = len(sl)
    was_null = [False] * n
    was_bad = [False] * n
    w.set_me(S_READY, 1)
    while not w.stopping():
        for i in range(n):
            x = sl[i]
            bad = False
            if x is None:  # a torn item the library repaired
                if not was_null[i]:
                    w.add_me(S_NULLS)
                was_null[i] = True
            elif isinstance(x, bytes) and rec_check(x) is not None:
                was_null[i] = False
            else:
                bad = True
                if not was_bad[i]:  # counted once until the item is overwritten
                    w.add_me(S_CORRUPT)
                    w.say("item %d is corrupt: %r" % (i, x[:32] if isinstance(x, (bytes, str)) else x))
            was_bad[i] = bad
            w.add_me(S_OPS)


ROLES = {
    "qprod": role_qprod, "qcons": role_qcons, "psend": role_psend, "precv": role_precv,
    "lserver": role_lserver, "lclient": role_lclient, "mclient": role_mclient, "alock": role_alock,
    "sem": role_sem, "evset": role_evset, "evwait": role_evwait,
    "cprod": lambda w: role_cbuf(w, True), "ccons": lambda w: role_cbuf(w, False), "csleep": role_csleep,
    "bar": role_bar, "slw": role_slw, "slr": role_slr,
}


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--layout":
        print("G_WORDS=%d MAX_SLOTS=%d SLOT_WORDS=%d BM_BASE=%d S_NULLS=%d S_PARK=%d"
              % (G_WORDS, MAX_SLOTS, SLOT_WORDS, BM_BASE, S_NULLS, S_PARK))
        return 0
    w = Worker(sys.argv[1:])
    w.set_me(S_PID, os.getpid())
    try:
        ROLES[w.role](w)
    except Fail as e:
        w.say(str(e))
        w.add_me(S_ERR)
        return e.code
    except Exception as e:  # an unexpected status from the binding
        w.say("%s: %s" % (type(e).__name__, e))
        w.add_me(S_ERR)
        return EXIT_FAIL
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
