#!/usr/bin/env python3
"""Python baseline for mpipc's Pipe: multiprocessing.Pipe on the pipe workloads.

Prints ONE JSON object on stdout; progress goes to stderr. Standard library only.

    python3 benches/python/mp_pipe_bench.py [--quick] [--only NAME] [--repeat N]
        [--tput-n N] [--bw-n N] [--bw-recv {bytes,into}]
        [--lat-rounds R] [--lat-warmup W]

Every workload runs between two child processes made with the 'fork' start
method (multiprocessing.get_context('fork'), chosen explicitly):

- pipe_tput: Pipe(duplex=False) (an os.pipe()), 64-byte messages with
  send_bytes/recv_bytes, one direction. Both children wait on a Barrier and
  read time.perf_counter() right after it; the start is the earlier of the two
  readings (the barrier release), the end is the receiver's reading when it
  has received message N.  The sender then closes its end and the receiver
  reads until EOFError, which proves that nothing beyond N arrived.
  perf_counter is clock_gettime(CLOCK_MONOTONIC), a system-wide clock, so
  readings from different processes are comparable (checked at start-up by
  clock_check()).
- pipe_bw: the same with 1 MiB messages (default 1024 of them, 1 GiB: about
  1 s per run on a 2-core VM at ~1.1 GB/s). The receiver uses recv_bytes()
  by default: in CPython 3.11 Connection.recv_bytes_into() reads the message
  into an io.BytesIO exactly like recv_bytes() and then copies it into the
  caller's buffer, one extra 1 MiB copy per message (measured ~0.8 vs ~1.1
  GB/s; --bw-recv into selects it; the JSON's "recv" says which was used).  Every message carries its sequence number in its
  first 8 bytes and the receiver checks it; the first, middle and last
  messages are compared in full.  GB/s = 1e9 bytes/s.
- pipe_latency: ping-pong over a duplex Pipe (a socketpair underneath),
  64-byte messages, send_bytes + recv_bytes and an echo; the pinger times
  each round trip with perf_counter_ns, after W warm-up rounds.
- socketpair_latency: the same ping-pong over a bare socket.socketpair() with
  raw sock.send / sock.recv of 64 bytes (recv repeated until 64 bytes have
  arrived): the Python-level floor under pipe_latency, without the
  Connection framing (4-byte length header, two reads per message).

The echoes alternate between two payloads, so a lost, duplicated or stale
echo is detected. Every receiver counts messages and bytes and the parent
asserts the totals; children close the pipe ends they do not use (fork
duplicates every descriptor), so a peer that dies shows up as EOF rather than
a hang; all children are joined and their exit codes checked.  Each
workload runs --repeat times; the reported figure is the median over runs
(statistics.median), with every run's value listed beside it.
"""

import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench_common import (  # noqa: E402  (benches/python/_bench_common.py)
    CHILD_TIMEOUT, bench_parser, by_role, emit, latency_runs, option_picker, percentiles, rate_runs,
    run_children, setup,
)

MSG_SIZE = 64  # pipe_tput, pipe_latency, socketpair_latency
BW_MSG_SIZE = 1 << 20  # pipe_bw
SEQ = struct.Struct("<Q")  # pipe_bw: sequence number in a message's first 8 bytes


# --------------------------------------------------------------------------
# helpers


def _close_all(*ends):
    """Close connections / sockets (a forked child inherits both ends of every
    pipe the parent holds; each side closes the ones it does not use, and the
    parent closes all of them once both children are running)."""
    for e in ends:
        e.close()


def _run_pair(ctx, target_a, args_a, target_b, args_b, ends):
    """Start two children, close the parent's copies of `ends`, collect one
    result from each (keyed by its first element) and join them."""
    jobs = [(target_a, args_a), (target_b, args_b)]
    return by_role(run_children(ctx, jobs, started=lambda: _close_all(*ends)))


# --------------------------------------------------------------------------
# pipe_tput: 64-byte messages, one direction


TPUT_FIRST = bytes(range(MSG_SIZE))
TPUT_MID = b"\x07" * MSG_SIZE
TPUT_LAST = bytes(range(255, 255 - MSG_SIZE, -1))


def _tput_expected(n):
    """(first, last) message the receiver must see."""
    return TPUT_FIRST, (TPUT_LAST if n > 1 else TPUT_FIRST)


def _tput_sender(w, r, barrier, n, res):
    r.close()
    send = w.send_bytes
    mid = TPUT_MID
    barrier.wait(CHILD_TIMEOUT)
    t0 = time.perf_counter()
    send(TPUT_FIRST)
    for _ in range(n - 2):
        send(mid)
    if n > 1:
        send(TPUT_LAST)
    w.close()  # the receiver's EOF
    res.put(("sender", t0))


def _tput_receiver(r, w, barrier, n, res):
    w.close()
    recv = r.recv_bytes
    clock = time.perf_counter
    got = 0
    nbytes = 0
    t_end = None
    first = last = None
    barrier.wait(CHILD_TIMEOUT)
    t0 = clock()
    try:
        while True:
            m = recv()
            got += 1
            nbytes += len(m)
            if got == n:
                t_end = clock()
                last = m
            if got == 1:
                first = m
    except EOFError:
        pass
    r.close()
    res.put(("receiver", t0, t_end, got, nbytes, (first, last) == _tput_expected(n)))


def run_tput(ctx, n):
    r, w = ctx.Pipe(duplex=False)
    barrier = ctx.Barrier(2)
    out = _run_pair(
        ctx, _tput_sender, (w, r, barrier, n), _tput_receiver, (r, w, barrier, n), (r, w)
    )
    (s_t0,) = out["sender"]
    r_t0, t_end, got, nbytes, ok = out["receiver"]
    assert got == n, "receiver got %d of %d messages" % (got, n)
    assert nbytes == n * MSG_SIZE, (nbytes, n * MSG_SIZE)
    assert ok, "first or last message differs from the one sent"
    t0 = min(s_t0, r_t0)
    assert t_end is not None and t_end > t0, (t0, t_end)
    return n / (t_end - t0)


# --------------------------------------------------------------------------
# pipe_bw: 1 MiB messages, one direction


def _bw_messages(n, size):
    """(first, mid, last): first and last are distinct pseudo-random payloads
    already stamped with their sequence numbers (0 and n-1); mid is the
    payload of every other message, stamped by the sender before each send.
    Built identically (same seeds) by both processes before the barrier."""
    first = bytearray(random.Random(1).randbytes(size))
    last = bytearray(random.Random(2).randbytes(size))
    mid = bytearray(bytes(range(256)) * (size // 256) + bytes(range(size % 256)))
    SEQ.pack_into(first, 0, 0)
    SEQ.pack_into(last, 0, n - 1)
    return first, mid, last


def _bw_sender(w, r, barrier, n, size, res):
    r.close()
    first, mid, last = _bw_messages(n, size)
    send = w.send_bytes
    pack = SEQ.pack_into
    barrier.wait(CHILD_TIMEOUT)
    t0 = time.perf_counter()
    send(first)
    for i in range(1, n - 1):
        pack(mid, 0, i)
        send(mid)
    if n > 1:
        send(last)
    w.close()
    res.put(("sender", t0))


def _bw_receiver(r, w, barrier, n, size, method, res):
    w.close()
    first, mid, last = _bw_messages(n, size)
    if n == 1:
        last = first
    middle = n // 2 if 0 < n // 2 < n - 1 else None  # a "mid" message, checked in full
    unpack = SEQ.unpack_from
    clock = time.perf_counter
    got = 0
    nbytes = 0
    bad_seq = 0
    checked = []  # (index, equal) for the messages compared in full
    t_end = None
    if method == "into":
        buf = bytearray(size)
        recv_into = r.recv_bytes_into
        barrier.wait(CHILD_TIMEOUT)
        t0 = clock()
        try:
            while True:
                k = recv_into(buf)
                if unpack(buf, 0)[0] != got:
                    bad_seq += 1
                got += 1
                nbytes += k
                if got == n:
                    t_end = clock()
                    checked.append((got - 1, k == size and buf == last))
                elif got == 1:
                    checked.append((0, k == size and buf == first))
                elif got - 1 == middle:
                    checked.append((middle, k == size and buf[8:] == mid[8:]))
        except EOFError:
            pass
    else:
        recv = r.recv_bytes
        barrier.wait(CHILD_TIMEOUT)
        t0 = clock()
        try:
            while True:
                m = recv()
                if unpack(m, 0)[0] != got:
                    bad_seq += 1
                got += 1
                nbytes += len(m)
                if got == n:
                    t_end = clock()
                    checked.append((got - 1, m == last))
                elif got == 1:
                    checked.append((0, m == first))
                elif got - 1 == middle:
                    checked.append((middle, len(m) == size and m[8:] == mid[8:]))
        except EOFError:
            pass
    r.close()
    res.put(("receiver", t0, t_end, got, nbytes, bad_seq, checked))


def run_bw(ctx, n, size, method):
    r, w = ctx.Pipe(duplex=False)
    barrier = ctx.Barrier(2)
    out = _run_pair(
        ctx,
        _bw_sender, (w, r, barrier, n, size),
        _bw_receiver, (r, w, barrier, n, size, method),
        (r, w),
    )
    (s_t0,) = out["sender"]
    r_t0, t_end, got, nbytes, bad_seq, checked = out["receiver"]
    assert got == n, "receiver got %d of %d messages" % (got, n)
    assert nbytes == n * size, (nbytes, n * size)
    assert bad_seq == 0, "%d messages out of sequence" % bad_seq
    want = sorted({0, n - 1} | ({n // 2} if 0 < n // 2 < n - 1 else set()))
    assert sorted(i for i, _ in checked) == want, (checked, want)
    assert all(ok for _, ok in checked), "payload mismatch: %s" % checked
    t0 = min(s_t0, r_t0)
    assert t_end is not None and t_end > t0, (t0, t_end)
    return n * size / (t_end - t0) / 1e9


# --------------------------------------------------------------------------
# latency: ping-pong (Pipe or bare socketpair)


PING = (b"\x01" * MSG_SIZE, b"\x02" * MSG_SIZE)


def _sock_endpoint(sock):
    """(send, recv) over a bare socket, shaped like a Connection's
    (send_bytes, recv_bytes): send(msg) sends all of msg (a 64-byte send on a
    blocking Unix socket is never short in practice; this is just correct if
    it is); recv() returns exactly MSG_SIZE bytes, repeating sock.recv until
    they have arrived, and raises EOFError on EOF before the first byte (EOF
    in the middle of a message is a ConnectionError).  Each is a single
    Python call wrapping the raw sock.send / sock.recv."""
    raw_send, raw_recv = sock.send, sock.recv
    size = MSG_SIZE

    def send(msg):
        k = raw_send(msg)
        if k != len(msg):
            view = memoryview(msg)
            while k < len(msg):
                k += raw_send(view[k:])

    def recv():
        m = raw_recv(size)
        if len(m) == size:
            return m
        if not m:
            raise EOFError
        parts = [m]
        left = size - len(m)
        while left:
            m = raw_recv(left)
            if not m:
                raise ConnectionError("socket closed in the middle of a message")
            parts.append(m)
            left -= len(m)
        return b"".join(parts)

    return send, recv


def _endpoint(end):
    """(send, recv) for a Connection (send_bytes, recv_bytes) or a socket."""
    if isinstance(end, socket.socket):
        return _sock_endpoint(end)
    return end.send_bytes, end.recv_bytes


def _pinger(a, b, rounds, warmup, res):
    b.close()
    send, recv = _endpoint(a)
    clock = time.perf_counter_ns
    rtts = []
    bad = 0
    for i in range(warmup + rounds):
        msg = PING[i & 1]
        t = clock()
        send(msg)
        r = recv()
        t = clock() - t
        if i >= warmup:
            rtts.append(t)
        if r != msg:
            bad += 1
    a.close()  # the ponger's EOF
    res.put(("pinger", len(rtts), bad) + percentiles(rtts))


def _ponger(b, a, res):
    a.close()
    send, recv = _endpoint(b)
    echoed = 0
    nbytes = 0
    try:
        while True:
            m = recv()
            send(m)
            echoed += 1
            nbytes += len(m)
    except EOFError:
        pass
    b.close()
    res.put(("ponger", echoed, nbytes))


def run_latency(ctx, kind, rounds, warmup):
    a, b = ctx.Pipe(duplex=True) if kind == "pipe" else socket.socketpair()
    out = _run_pair(ctx, _pinger, (a, b, rounds, warmup), _ponger, (b, a), (a, b))
    timed, bad, med, p99, mn = out["pinger"]
    echoed, nbytes = out["ponger"]
    assert timed == rounds, (timed, rounds)
    assert bad == 0, "%d echoes differed from the message sent" % bad
    assert echoed == rounds + warmup, (echoed, rounds + warmup)
    assert nbytes == echoed * MSG_SIZE, (nbytes, echoed * MSG_SIZE)
    return med, p99, mn


# --------------------------------------------------------------------------


WORKLOADS = ["pipe_tput", "pipe_bw", "pipe_latency", "socketpair_latency"]


def main(argv=None):
    ap = bench_parser(__doc__, WORKLOADS)
    ap.add_argument("--tput-n", type=int, help="pipe_tput messages (default 200000; --quick: 20000)")
    ap.add_argument("--bw-n", type=int, help="pipe_bw 1 MiB messages (default 1024 = 1 GiB; --quick: 128)")
    ap.add_argument("--bw-recv", choices=["bytes", "into"], default="bytes",
                    help="pipe_bw receive call: recv_bytes() (default, faster) or "
                         "recv_bytes_into() a preallocated bytearray")
    ap.add_argument("--lat-rounds", type=int, help="timed round trips (default 20000; --quick: 2000)")
    ap.add_argument("--lat-warmup", type=int, help="warm-up round trips (default 1000; --quick: 200)")
    a = ap.parse_args(argv)
    pick = option_picker(a.quick)
    repeat = pick(a.repeat, 3, 1)
    tput_n = pick(a.tput_n, 200_000, 20_000)
    bw_n = pick(a.bw_n, 1024, 128)
    lat_rounds = pick(a.lat_rounds, 20_000, 2_000)
    lat_warmup = pick(a.lat_warmup, 1_000, 200)
    if repeat < 1 or min(tput_n, bw_n, lat_rounds) < 1 or lat_warmup < 0:
        ap.error("sizes must be positive")

    ctx, out = setup(repeat)
    want = (lambda name: a.only in (None, name))
    t_all = time.perf_counter()

    if want("pipe_tput"):
        out["pipe_tput"] = rate_runs(
            "pipe_tput", repeat, lambda: run_tput(ctx, tput_n), "msgs_per_s", "msg/s", wall=True,
            n=tput_n, msg_bytes=MSG_SIZE, duplex=False,
        )

    if want("pipe_bw"):
        out["pipe_bw"] = rate_runs(
            "pipe_bw", repeat, lambda: run_bw(ctx, bw_n, BW_MSG_SIZE, a.bw_recv), "gb_per_s", "GB/s", 3, wall=True,
            msg_bytes=BW_MSG_SIZE, n=bw_n, total_bytes=bw_n * BW_MSG_SIZE, duplex=False,
            recv="recv_bytes_into" if a.bw_recv == "into" else "recv_bytes",
        )

    if want("pipe_latency"):
        out["pipe_latency"] = latency_runs(
            "pipe_latency", repeat, lambda: run_latency(ctx, "pipe", lat_rounds, lat_warmup), wall=True,
            rounds=lat_rounds, warmup=lat_warmup, msg_bytes=MSG_SIZE, duplex=True,
        )

    if want("socketpair_latency"):
        out["socketpair_latency"] = latency_runs(
            "socketpair_latency", repeat, lambda: run_latency(ctx, "socketpair", lat_rounds, lat_warmup), wall=True,
            rounds=lat_rounds, warmup=lat_warmup, msg_bytes=MSG_SIZE,
        )

    emit(out, t_all)


if __name__ == "__main__":
    main()
