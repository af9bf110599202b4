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

import argparse
import json
import os
import platform
import queue as queue_mod
import random
import socket
import statistics
import struct
import sys
import time

import multiprocessing as mp

MSG_SIZE = 64  # pipe_tput, pipe_latency, socketpair_latency
BW_MSG_SIZE = 1 << 20  # pipe_bw
START_METHOD = "fork"
CHILD_TIMEOUT = 300.0  # seconds: generous upper bound on one run
SEQ = struct.Struct("<Q")  # pipe_bw: sequence number in a message's first 8 bytes


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# clock check


def _clock_child(res):
    res.put((time.perf_counter_ns(), time.clock_gettime_ns(time.CLOCK_MONOTONIC)))


def clock_check(ctx):
    """Check that perf_counter is CLOCK_MONOTONIC and agrees across processes."""
    info = time.get_clock_info("perf_counter")
    if sys.platform.startswith("linux"):
        assert info.implementation == "clock_gettime(CLOCK_MONOTONIC)", info
    assert info.monotonic, info
    # perf_counter_ns must be the raw CLOCK_MONOTONIC value (no per-process offset).
    a = time.perf_counter_ns()
    m = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    b = time.perf_counter_ns()
    assert a <= m <= b, (a, m, b)
    # ... and a reading taken in another process falls between two parent readings.
    res = ctx.SimpleQueue()
    t0 = time.perf_counter_ns()
    p = ctx.Process(target=_clock_child, args=(res,))
    p.start()
    child_pc, child_mono = res.get()
    p.join()
    t1 = time.perf_counter_ns()
    assert p.exitcode == 0
    assert t0 <= child_pc <= t1, (t0, child_pc, t1)
    assert abs(child_mono - child_pc) < 1_000_000, (child_pc, child_mono)
    return info.implementation


# --------------------------------------------------------------------------
# helpers (same as mp_queue_bench.py)


def _start(ctx, target, args):
    p = ctx.Process(target=target, args=args, daemon=True)
    p.start()
    return p


def _collect(res, n, procs):
    """Get n results from the result queue, failing fast if a child died."""
    out = []
    deadline = time.monotonic() + CHILD_TIMEOUT
    while len(out) < n:
        try:
            out.append(res.get(timeout=0.5))
        except queue_mod.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                _kill(procs)
                raise RuntimeError(
                    "child failed or timed out: exit codes %s" % [p.exitcode for p in procs]
                )
    return out


def _kill(procs):
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(5)


def _join(procs):
    for p in procs:
        p.join(CHILD_TIMEOUT)
    bad = [(p.name, p.exitcode) for p in procs if p.exitcode != 0]
    if bad:
        _kill(procs)
        raise RuntimeError("child exited badly: %s" % bad)


def _close_queue(q):
    q.close()
    q.join_thread()


def _close_all(*ends):
    """Close connections / sockets (a forked child inherits both ends of every
    pipe the parent holds; each side closes the ones it does not use, and the
    parent closes all of them once both children are running)."""
    for e in ends:
        e.close()


def _run_pair(ctx, target_a, args_a, target_b, args_b, ends):
    """Start two children, close the parent's copies of `ends`, collect one
    result from each (keyed by its first element) and join them."""
    res = ctx.Queue()
    procs = []
    try:
        procs.append(_start(ctx, target_a, args_a + (res,)))
        procs.append(_start(ctx, target_b, args_b + (res,)))
    finally:
        _close_all(*ends)
    try:
        out = dict((r[0], r[1:]) for r in _collect(res, 2, procs))
        _join(procs)
    finally:
        _kill(procs)
        _close_queue(res)
    return out


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


def _percentiles(rtts):
    rtts.sort()

    def pct(p):
        return rtts[int((len(rtts) - 1) * p)] / 1000.0

    return pct(0.5), pct(0.99), pct(0.0)


def _pipe_pinger(a, b, rounds, warmup, res):
    b.close()
    send, recv = a.send_bytes, a.recv_bytes
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
    res.put(("pinger", len(rtts), bad) + _percentiles(rtts))


def _pipe_ponger(b, a, res):
    a.close()
    send, recv = b.send_bytes, b.recv_bytes
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


def _sock_recv_exact(recv, size):
    """recv() until `size` bytes have arrived; b"" on EOF before the first byte."""
    m = recv(size)
    if len(m) == size or not m:
        return m
    parts = [m]
    left = size - len(m)
    while left:
        m = recv(left)
        if not m:
            raise EOFError("socket closed in the middle of a message")
        parts.append(m)
        left -= len(m)
    return b"".join(parts)


def _sock_send_all(send, msg):
    """send() until all of msg has gone (a 64-byte send on a blocking Unix
    socket is never short in practice; this is just correct if it is)."""
    k = send(msg)
    if k != len(msg):
        view = memoryview(msg)
        while k < len(msg):
            k += send(view[k:])


def _sock_pinger(s1, s2, rounds, warmup, res):
    s2.close()
    send, recv = s1.send, s1.recv
    clock = time.perf_counter_ns
    rtts = []
    bad = 0
    for i in range(warmup + rounds):
        msg = PING[i & 1]
        t = clock()
        _sock_send_all(send, msg)
        r = _sock_recv_exact(recv, MSG_SIZE)
        t = clock() - t
        if i >= warmup:
            rtts.append(t)
        if r != msg:
            bad += 1
    s1.close()  # the ponger's EOF
    res.put(("pinger", len(rtts), bad) + _percentiles(rtts))


def _sock_ponger(s2, s1, res):
    s1.close()
    send, recv = s2.send, s2.recv
    echoed = 0
    nbytes = 0
    while True:
        m = _sock_recv_exact(recv, MSG_SIZE)
        if not m:
            break
        _sock_send_all(send, m)
        echoed += 1
        nbytes += len(m)
    s2.close()
    res.put(("ponger", echoed, nbytes))


def run_latency(ctx, kind, rounds, warmup):
    if kind == "pipe":
        a, b = ctx.Pipe(duplex=True)
        pinger, ponger = _pipe_pinger, _pipe_ponger
    else:
        a, b = socket.socketpair()
        pinger, ponger = _sock_pinger, _sock_ponger
    out = _run_pair(ctx, pinger, (a, b, rounds, warmup), ponger, (b, a), (a, b))
    timed, bad, med, p99, mn = out["pinger"]
    echoed, nbytes = out["ponger"]
    assert timed == rounds, (timed, rounds)
    assert bad == 0, "%d echoes differed from the message sent" % bad
    assert echoed == rounds + warmup, (echoed, rounds + warmup)
    assert nbytes == echoed * MSG_SIZE, (nbytes, echoed * MSG_SIZE)
    return med, p99, mn


# --------------------------------------------------------------------------


def rate_runs(name, repeat, run, key, unit, ndigits):
    runs = []
    for i in range(repeat):
        t = time.perf_counter()
        runs.append(run())
        log("%s run %d: %.*f %s (%.2f s wall)" % (name, i + 1, ndigits, runs[-1], unit, time.perf_counter() - t))
    return {key: round(statistics.median(runs), ndigits), "runs": [round(x, ndigits) for x in runs]}


def latency_runs(name, repeat, run, rounds, warmup):
    runs = []
    for i in range(repeat):
        t = time.perf_counter()
        runs.append(run())
        log("%s run %d: median %.2f us, p99 %.2f us, min %.2f us (%.2f s wall)"
            % ((name, i + 1) + runs[-1] + (time.perf_counter() - t,)))
    return {
        "median_us": round(statistics.median(r[0] for r in runs), 2),
        "p99_us": round(statistics.median(r[1] for r in runs), 2),
        "min_us": round(statistics.median(r[2] for r in runs), 2),
        "runs_median_us": [round(r[0], 2) for r in runs],
        "runs_p99_us": [round(r[1], 2) for r in runs],
        "runs_min_us": [round(r[2], 2) for r in runs],
        "rounds": rounds,
        "warmup": warmup,
        "msg_bytes": MSG_SIZE,
    }


WORKLOADS = ["pipe_tput", "pipe_bw", "pipe_latency", "socketpair_latency"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, repeat 1 (smoke test)")
    ap.add_argument("--only", choices=WORKLOADS, help="run one workload")
    ap.add_argument("--repeat", type=int, help="runs per workload (default 3; --quick: 1)")
    ap.add_argument("--tput-n", type=int, help="pipe_tput messages (default 200000; --quick: 20000)")
    ap.add_argument("--bw-n", type=int, help="pipe_bw 1 MiB messages (default 1024 = 1 GiB; --quick: 128)")
    ap.add_argument("--bw-recv", choices=["bytes", "into"], default="bytes",
                    help="pipe_bw receive call: recv_bytes() (default, faster) or "
                         "recv_bytes_into() a preallocated bytearray")
    ap.add_argument("--lat-rounds", type=int, help="timed round trips (default 20000; --quick: 2000)")
    ap.add_argument("--lat-warmup", type=int, help="warm-up round trips (default 1000; --quick: 200)")
    a = ap.parse_args(argv)

    def pick(v, full, quick):
        return v if v is not None else (quick if a.quick else full)

    repeat = pick(a.repeat, 3, 1)
    tput_n = pick(a.tput_n, 200_000, 20_000)
    bw_n = pick(a.bw_n, 1024, 128)
    lat_rounds = pick(a.lat_rounds, 20_000, 2_000)
    lat_warmup = pick(a.lat_warmup, 1_000, 200)
    if repeat < 1 or min(tput_n, bw_n, lat_rounds) < 1 or lat_warmup < 0:
        ap.error("sizes must be positive")

    ctx = mp.get_context(START_METHOD)
    clock = clock_check(ctx)
    out = {
        "python": platform.python_version(),
        "start_method": START_METHOD,
        "clock": clock,
        "repeat": repeat,
        "cpus": os.cpu_count(),
    }
    want = (lambda name: a.only in (None, name))
    t_all = time.perf_counter()

    if want("pipe_tput"):
        out["pipe_tput"] = rate_runs("pipe_tput", repeat, lambda: run_tput(ctx, tput_n), "msgs_per_s", "msg/s", 0)
        out["pipe_tput"]["msgs_per_s"] = int(out["pipe_tput"]["msgs_per_s"])
        out["pipe_tput"]["runs"] = [int(x) for x in out["pipe_tput"]["runs"]]
        out["pipe_tput"].update(n=tput_n, msg_bytes=MSG_SIZE, duplex=False)

    if want("pipe_bw"):
        out["pipe_bw"] = rate_runs(
            "pipe_bw", repeat, lambda: run_bw(ctx, bw_n, BW_MSG_SIZE, a.bw_recv), "gb_per_s", "GB/s", 3
        )
        out["pipe_bw"].update(
            msg_bytes=BW_MSG_SIZE, n=bw_n, total_bytes=bw_n * BW_MSG_SIZE, duplex=False,
            recv="recv_bytes_into" if a.bw_recv == "into" else "recv_bytes",
        )

    if want("pipe_latency"):
        out["pipe_latency"] = latency_runs(
            "pipe_latency", repeat, lambda: run_latency(ctx, "pipe", lat_rounds, lat_warmup), lat_rounds, lat_warmup
        )
        out["pipe_latency"]["duplex"] = True

    if want("socketpair_latency"):
        out["socketpair_latency"] = latency_runs(
            "socketpair_latency", repeat, lambda: run_latency(ctx, "socketpair", lat_rounds, lat_warmup),
            lat_rounds, lat_warmup,
        )

    log("total %.1f s" % (time.perf_counter() - t_all))
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
