#!/usr/bin/env python3
"""Peer of mpipc's Python queue and pipe: pyzmq (ZeroMQ) PUSH/PULL and PAIR sockets over ipc://.

Prints ONE JSON object on stdout (progress on stderr), in the shape of the
other programs of benches/python (_bench_common.setup / rate_runs /
latency_runs). Runs in the peers' venv, made by
benches/python/setup-peers-venv.sh (pyzmq pinned in requirements-peers.txt):

    build/venv-peers/bin/python benches/python/peers_zmq.py [--quick] [--only NAME]
        [--repeat N] [--tput-n N] [--mpmc-n N] [--lat-rounds R] [--lat-warmup W]

Message: the small object {"id": i, "name": f"item-{i}", "vals": [1.5,
2.5, 3.5]}, built in the sender's loop exactly as benches/python/
mpipc_py_bench.py builds it for mpipc, sent with send_pyobj (pickle, as
multiprocessing) and received with recv_pyobj. Transport ipc:// (a Unix
socket, in a fresh temporary directory per run), one zmq.Context per
process, made in the process after the fork (zmq contexts do not survive
a fork). A sender connects only once its receivers have bound, so no
reconnect interval falls in a timed run. Start method 'fork'. Every socket
has send and receive timeouts of CHILD_TIMEOUT, so a lost peer fails the
run instead of hanging it.

- q_tput: 1 PUSH process -> 1 PULL process (the PULL binds), N messages
  (default 200,000). Both wait on a Barrier; the sender reads the clock
  before its first send, the receiver when it has received message N
  (perf_counter is CLOCK_MONOTONIC, comparable across processes:
  clock_check()). The sender then sends None; the receiver checks that
  nothing else came and that the last message is the one expected.
  Rate = N / elapsed.
- q_mpmc: 2 PUSH processes -> 2 PULL processes, N messages in all (default
  200,000, half per producer): each PULL binds its own endpoint; each
  producer has one PUSH socket connected to each consumer and deals its
  messages to them alternately (ZeroMQ's own round-robin, made explicit:
  one PUSH connected to both would be free to send its end marker to
  either consumer, and a PULL fair-queues among its connections, so a
  marker on another connection could overtake data; on its own connection
  it cannot). High-water marks of 1000 messages (SNDHWM on each PUSH,
  RCVHWM on each PULL): ZeroMQ's bound, per connection, on what waits --
  the closest it has to a queue's maxsize 1000. Start = the earlier
  producer's clock after the Barrier; each consumer stamps every message
  it gets; end = the later consumer's last stamp. Each producer ends with
  None on each of its sockets; a consumer stops after one None from each
  producer. Senders stay connected until their receivers have reported
  (ZeroMQ drops what a receiver at its high-water mark had not yet taken
  in when the sender disconnects: seen here as the last few hundred
  messages of a connection lost). The parent checks that the consumers
  received N messages in all, each id exactly once.
- pair_latency: ping-pong over one PAIR connection (the pinger binds, the
  ponger connects and echoes); the pinger times send_pyobj + recv_pyobj
  with perf_counter_ns; median and p99 of R (default 20,000) round trips
  after W (default 1,000) warm-up ones. (mpipc's counterparts: the
  Pipe's and the queue's round trips.)

Each workload runs --repeat times (default 3; --quick 1 with small sizes);
figures are medians over runs, with every run listed.
"""

import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import zmq  # noqa: E402
from _bench_common import (  # noqa: E402
    CHILD_TIMEOUT, bench_parser, by_role, collect, emit, join_all, kill_all, latency_runs, option_picker,
    percentiles, rate_runs, run_children, setup, start_child,
)

MPMC_PRODUCERS = 2
MPMC_CONSUMERS = 2
HWM = 1000
TIMEOUT_MS = int(CHILD_TIMEOUT * 1000)


def small(i):
    return {"id": i, "name": f"item-{i}", "vals": [1.5, 2.5, 3.5]}


def _socket(kind, hwm=None):
    """A socket of a new context (one per process); receive timeout
    CHILD_TIMEOUT (zmq.Again then fails the child)."""
    s = zmq.Context().socket(kind)
    s.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
    s.setsockopt(zmq.SNDTIMEO, TIMEOUT_MS)
    if hwm is not None:
        s.setsockopt(zmq.SNDHWM, hwm)
        s.setsockopt(zmq.RCVHWM, hwm)
    return s


def _close(s):
    """Close a socket, waiting until what it queued was delivered, and end
    its context."""
    s.close(linger=-1)
    s.context.term()


class Endpoints:
    """Fresh ipc:// endpoint names in a temporary directory, removed afterwards."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="peers-zmq-")

    def __call__(self, name):
        return "ipc://%s/%s" % (self.dir, name)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------
# q_tput: PUSH -> PULL


def _pusher(ep, bound, barrier, received, n, res):
    s = _socket(zmq.PUSH)
    bound.wait(CHILD_TIMEOUT)  # connect to a bound endpoint: no reconnect interval in the timed run
    s.connect(ep)
    send = s.send_pyobj
    barrier.wait(CHILD_TIMEOUT)
    t0 = time.perf_counter()
    for i in range(n):
        send({"id": i, "name": f"item-{i}", "vals": [1.5, 2.5, 3.5]})
    send(None)
    res.put(("producer", t0))
    # Stay connected until the receiver has everything (see _mpmc_producer).
    received.wait(CHILD_TIMEOUT)
    _close(s)


def _puller(ep, bound, barrier, n, res):
    s = _socket(zmq.PULL)
    s.bind(ep)
    bound.set()
    recv = s.recv_pyobj
    got = 0
    last = None
    t_end = None
    barrier.wait(CHILD_TIMEOUT)
    while True:
        m = recv()
        if m is None:
            break
        got += 1
        last = m
        if got == n:
            t_end = time.perf_counter()
    _close(s)
    res.put(("consumer", t_end, got, last))


def run_tput(ctx, n):
    eps = Endpoints()
    res = ctx.Queue()
    procs = []
    try:
        ep = eps("q")
        barrier = ctx.Barrier(2)
        bound, received = ctx.Event(), ctx.Event()
        procs = [start_child(ctx, _puller, (ep, bound, barrier, n, res)),
                 start_child(ctx, _pusher, (ep, bound, barrier, received, n, res))]
        out = collect(res, 2, procs)
        received.set()
        join_all(procs)
        out = by_role(out)
    finally:
        kill_all(procs)
        res.close()
        res.join_thread()
        eps.remove()
    (t0,) = out["producer"]
    t_end, got, last = out["consumer"]
    assert got == n, "consumer received %d of %d messages" % (got, n)
    assert last == small(n - 1), last
    assert t_end is not None and t_end > t0, (t0, t_end)
    return n / (t_end - t0)


# --------------------------------------------------------------------------
# q_mpmc: 2 PUSH -> 2 PULL


def _mpmc_producer(eps, bound, barrier, received, first, n, res):
    ctx = zmq.Context()
    socks = []
    for ev in bound:
        ev.wait(CHILD_TIMEOUT)  # connect to bound endpoints: no reconnect interval in the timed run
    for ep in eps:
        s = ctx.socket(zmq.PUSH)
        s.setsockopt(zmq.SNDTIMEO, TIMEOUT_MS)
        s.setsockopt(zmq.SNDHWM, HWM)
        s.connect(ep)
        socks.append(s)
    sends = [s.send_pyobj for s in socks]
    k = len(sends)
    barrier.wait(CHILD_TIMEOUT)
    t0 = time.perf_counter()
    for i in range(first, first + n):
        sends[i % k]({"id": i, "name": f"item-{i}", "vals": [1.5, 2.5, 3.5]})
    for send in sends:
        send(None)  # after this connection's data, on the same connection
    res.put(("producer", t0, n))
    # Stay connected until the consumers have everything: a peer that
    # disconnects while the receiving side is at its high-water mark loses
    # what the receiver had not yet taken in (seen here: the last few
    # hundred messages of a connection), whatever the sender's linger.
    received.wait(CHILD_TIMEOUT)
    for s in socks:
        s.close(linger=-1)
    ctx.term()


def _mpmc_consumer(ep, bound, barrier, producers, res):
    s = _socket(zmq.PULL, HWM)
    s.bind(ep)
    bound.set()
    recv = s.recv_pyobj
    clock = time.perf_counter
    ids = []
    t_last = None
    ended = 0
    barrier.wait(CHILD_TIMEOUT)
    while ended < producers:
        m = recv()
        if m is None:
            ended += 1
            continue
        t_last = clock()
        ids.append(m["id"])
    _close(s)
    res.put(("consumer", t_last, ids))


def run_mpmc(ctx, n):
    assert n % MPMC_PRODUCERS == 0, "n must divide evenly among producers"
    eps = Endpoints()
    res = ctx.Queue()
    procs = []
    try:
        ends = [eps("c%d" % c) for c in range(MPMC_CONSUMERS)]
        barrier = ctx.Barrier(MPMC_PRODUCERS + MPMC_CONSUMERS)
        received = ctx.Event()
        bound = [ctx.Event() for _ in ends]
        per = n // MPMC_PRODUCERS
        cons = [start_child(ctx, _mpmc_consumer, (ep, ev, barrier, MPMC_PRODUCERS, res))
                for ep, ev in zip(ends, bound)]
        prods = [start_child(ctx, _mpmc_producer, (ends, bound, barrier, received, p * per, per, res))
                 for p in range(MPMC_PRODUCERS)]
        procs = prods + cons
        out = collect(res, MPMC_PRODUCERS + MPMC_CONSUMERS, procs)
        received.set()
        join_all(procs)
    finally:
        kill_all(procs)
        res.close()
        res.join_thread()
        eps.remove()
    p_out = [r for r in out if r[0] == "producer"]
    c_out = [r for r in out if r[0] == "consumer"]
    assert len(p_out) == MPMC_PRODUCERS and len(c_out) == MPMC_CONSUMERS, out
    ids = sorted(i for r in c_out for i in r[2])
    assert ids == list(range(n)), "consumers received %d messages, not each of the %d once" % (len(ids), n)
    t0 = min(r[1] for r in p_out)
    t_end = max(r[1] for r in c_out if r[1] is not None)
    assert t_end > t0, (t0, t_end)
    return n / (t_end - t0)


# --------------------------------------------------------------------------
# pair_latency


def _pinger(ep, rounds, warmup, res):
    s = _socket(zmq.PAIR)
    s.bind(ep)
    send, recv = s.send_pyobj, s.recv_pyobj
    clock = time.perf_counter_ns
    rtts = []
    bad = 0
    for i in range(warmup + rounds):
        m = {"id": i, "name": f"item-{i}", "vals": [1.5, 2.5, 3.5]}
        t = clock()
        send(m)
        r = recv()
        t = clock() - t
        if i >= warmup:
            rtts.append(t)
        if r != m:
            bad += 1
    send(None)
    _close(s)
    res.put(("pinger", len(rtts), bad) + percentiles(rtts))


def _ponger(ep, res):
    s = _socket(zmq.PAIR)
    s.connect(ep)
    send, recv = s.send_pyobj, s.recv_pyobj
    echoed = 0
    while True:
        m = recv()
        if m is None:
            break
        send(m)
        echoed += 1
    _close(s)
    res.put(("ponger", echoed))


def run_latency(ctx, rounds, warmup):
    eps = Endpoints()
    try:
        ep = eps("pair")
        out = by_role(run_children(ctx, [(_pinger, (ep, rounds, warmup)), (_ponger, (ep,))]))
    finally:
        eps.remove()
    timed, bad, med, p99, mn = out["pinger"]
    (echoed,) = out["ponger"]
    assert timed == rounds and bad == 0 and echoed == rounds + warmup, (timed, bad, echoed)
    return med, p99, mn


# --------------------------------------------------------------------------


def main(argv=None):
    ap = bench_parser(__doc__, ["q_tput", "q_mpmc", "pair_latency"])
    ap.add_argument("--tput-n", type=int, help="q_tput messages (default 200000; --quick: 20000)")
    ap.add_argument("--mpmc-n", type=int, help="q_mpmc messages in all (default 200000; --quick: 20000)")
    ap.add_argument("--lat-rounds", type=int, help="pair_latency timed round trips (default 20000; --quick: 2000)")
    ap.add_argument("--lat-warmup", type=int, help="pair_latency warm-up round trips (default 1000; --quick: 200)")
    a = ap.parse_args(argv)
    pick = option_picker(a.quick)
    repeat = pick(a.repeat, 3, 1)
    tput_n = pick(a.tput_n, 200_000, 20_000)
    mpmc_n = pick(a.mpmc_n, 200_000, 20_000)
    lat_rounds = pick(a.lat_rounds, 20_000, 2_000)
    lat_warmup = pick(a.lat_warmup, 1_000, 200)
    if repeat < 1 or min(tput_n, mpmc_n, lat_rounds) < 1 or lat_warmup < 0:
        ap.error("sizes must be positive")
    if mpmc_n % MPMC_PRODUCERS:
        ap.error("--mpmc-n must be even (two producers)")

    ctx, out = setup(repeat, peer="pyzmq", peer_version=zmq.__version__, libzmq_version=zmq.zmq_version(),
                     transport="ipc", message="small object", serializer="pickle")
    want = (lambda name: a.only in (None, name))
    t_all = time.perf_counter()
    if want("q_tput"):
        out["q_tput"] = rate_runs("q_tput pyzmq PUSH/PULL", repeat, lambda: run_tput(ctx, tput_n), "msgs_per_s",
                                  "msg/s", n=tput_n, producers=1, consumers=1)
    if want("q_mpmc"):
        out["q_mpmc"] = rate_runs("q_mpmc pyzmq PUSH/PULL", repeat, lambda: run_mpmc(ctx, mpmc_n), "msgs_per_s",
                                  "msg/s", n=mpmc_n, producers=MPMC_PRODUCERS, consumers=MPMC_CONSUMERS, hwm=HWM)
    if want("pair_latency"):
        out["pair_latency"] = latency_runs("pair_latency pyzmq PAIR", repeat,
                                           lambda: run_latency(ctx, lat_rounds, lat_warmup), rounds=lat_rounds,
                                           warmup=lat_warmup)
    emit(out, t_all)


if __name__ == "__main__":
    main()
