#!/usr/bin/env python3
"""Issue 22 from Python: the mpipc binding's Queue and manager at a Redis address beside redis-py doing the same.

One program, two sides, each run in its own virtualenv (benches/run.sh
runs them in turn, round by round, so that a drift of the machine's load
hits both alike):

    build/venv-python/bin/python benches/python/redis_bench.py --side mpipc \\
        --tcp HOST:PORT --unix SOCKET [--quick] [--repeat N] [--only W[,W]] [--round R]
    build/venv-peers/bin/python benches/python/redis_bench.py --side plain ...

Prints ONE JSON object on stdout (progress on stderr): every figure's
median over N rounds (default 5; --quick 1) and each round's value, keyed
``WORKLOAD/TRANSPORT/SIDE`` as benches/redis_bench.rs keys the Rust
figures. It needs a running server (benches/run.sh starts one with
``scripts/redis-server.sh start DIR -- --appendonly no``).

Sides and transports:
- ``--side mpipc`` (the binding, build/venv-python, MPIPC_LIB): side
  ``mpipc`` at ``tcp`` (``mpipc.Queue(name="redis://HOST:PORT/NAME")``,
  ``mpipc.connect_manager("redis://HOST:PORT")``), at ``unix``
  (``redis+unix:///SOCKET/NAME``, ``redis+unix:///SOCKET``) and at ``shm``
  (the local queue ``NAME`` and ``mpipc.Manager()``, whose server runs as
  threads of this process; dict reads come from its replica in shared
  memory);
- ``--side plain`` (redis-py, pinned in benches/python/requirements-peers.txt,
  build/venv-peers; its pure-Python parser, no hiredis): side ``plain``,
  the client of the issue's text, ``LPUSH`` / ``BRPOP`` (batched: one
  ``LPUSH`` of 256 values / ``BLMPOP ... RIGHT COUNT 256``), ``HGET``,
  ``HINCRBY``; and side ``counted``: what mpipc's put does in its one round
  trip, by hand: ``LPUSH`` and ``HINCRBY`` of an unfinished-task counter in
  one pipeline (gets as ``plain``). At ``tcp`` and ``unix``.

Messages: ``b"x" * 100`` (mpipc: ``put`` / ``get`` of the bytes object,
CBOR inside; redis-py: the bytes themselves). Start method 'fork'; every
child opens its own handle or connection after the fork.

Workloads (``--only`` takes prefixes):
- ``q_rtt`` (figures ``q_put_rtt``, ``q_get_rtt``): one process, one call
  at a time: a put of one message, a get of one message that is there.
  Blocks of 500 puts then 500 gets, the sides of the program taking turns
  block by block; the first block of each side is warm-up. Median and p99
  of every call's time (us).
- ``q_1x1_single``, ``q_2x2_single``: 1 producer -> 1 consumer and 2 -> 2,
  processes, one message per call; ``q_1x1_batch``, ``q_2x2_batch``: the
  same with ``put_many`` / ``get_many`` of 256. All wait on a Barrier;
  start = the earliest producer's clock after it, end = the latest
  consumer's clock at its last message (perf_counter is CLOCK_MONOTONIC,
  comparable across processes: _bench_common.clock_check); msg/s. mpipc's
  consumers stop on the queue's shutdown (after the drain), redis-py's on
  an empty end marker the parent pushes once the producers are done; the
  messages received are counted against those sent.
- ``d_get_rtt``: one process, ``d["k"]`` of a dict holding a 100-byte
  value (redis-py: ``HGET`` of the same CBOR bytes), timed as ``q_rtt``.
- ``d_incr_2``: 2 client processes, each ``d.incr("hits")`` (redis-py
  ``HINCRBY``) N times on one shared key; start = the earlier client's
  clock after the Barrier, end = the later one's after its last call;
  ops/s in all; the parent checks the final count.
"""

import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))

from _bench_common import (  # noqa: E402
    bench_parser, collect, emit, join_all, kill_all, log, option_picker, setup, start_child,
)

WORKLOADS = ["q_rtt", "q_1x1_single", "q_2x2_single", "q_1x1_batch", "q_2x2_batch", "d_get_rtt", "d_incr_2"]
MSG = b"x" * 100
BATCH = 256
BLOCK = 500
POP_WAIT = 5  # seconds one blocking plain pop waits before asking again (an end marker always comes)
# CBOR of MSG (a byte string of 100: 0x58 0x64, then the bytes): what the
# plain side's hash holds, the value mpipc's dict holds.
CBOR_MSG = b"\x58\x64" + MSG

side_mod = None  # mpipc or redis, imported by main() for the side asked


# --------------------------------------------------------------------------
# Where things are.


class Target:
    """The server (tcp HOST:PORT, unix SOCKET) and the names on it."""

    def __init__(self, tcp, unix):
        self.host, port = tcp.rsplit(":", 1)
        self.port = int(port)
        self.unix = unix

    def queue(self, transport, name):
        """mpipc's queue address (shm: the local name)."""
        if transport == "tcp":
            return "redis://%s:%d/%s" % (self.host, self.port, name)
        if transport == "unix":
            return "redis+unix://%s/%s" % (self.unix, name)
        return name

    def manager(self, transport):
        return ("redis://%s:%d" % (self.host, self.port)) if transport == "tcp" else "redis+unix://" + self.unix

    def plain(self, transport):
        """A new redis-py client at `transport`."""
        r = side_mod
        if transport == "tcp":
            return r.Redis(host=self.host, port=self.port, socket_timeout=60)
        return r.Redis(unix_socket_path=self.unix, socket_timeout=60)


def sides_of(side, counted=True):
    """The sides the program measures (one transport at a time)."""
    if side == "mpipc":
        return ["mpipc"]
    return ["plain", "counted"] if counted else ["plain"]


def rotated(xs, r):
    k = r % len(xs)
    return xs[k:] + xs[:k]


def med_p99(ts):
    """Median and p99 in us of a list of durations in ns."""
    ts.sort()
    return statistics.median(ts) / 1000.0, ts[(len(ts) - 1) * 99 // 100] / 1000.0


# --------------------------------------------------------------------------
# Queue round trips (one process).


def queue_rtt(tg, side, transport, blocks, round_):
    """{side: (put times, get times)} in ns, the first block left out."""
    pc = time.perf_counter_ns
    name = "bench-rtt-%d" % os.getpid()
    out = {}
    if side == "mpipc":
        mpipc = side_mod
        q = mpipc.Queue(name=tg.queue(transport, name))
        puts, gets = [], []
        for b in range(blocks):
            pt, gt = [], []
            for _ in range(BLOCK):
                t = pc()
                q.put(MSG)
                pt.append(pc() - t)
            for _ in range(BLOCK):
                t = pc()
                m = q.get()
                gt.append(pc() - t)
                assert m == MSG
            if b:
                puts += pt
                gets += gt
        out["mpipc"] = (puts, gets)
        q.unlink()
        q.close()
        return out
    r = tg.plain(transport)
    key = "bench:" + name
    r.delete(key, key + ":meta")
    order = rotated(sides_of(side), round_)
    res = {s: ([], []) for s in order}
    for b in range(blocks):
        for s in order:
            pt, gt = [], []
            if s == "counted":
                p = r.pipeline(transaction=False)
                for _ in range(BLOCK):
                    t = pc()
                    p.lpush(key, MSG)
                    p.hincrby(key + ":meta", "unfinished", 1)
                    p.execute()
                    pt.append(pc() - t)
            else:
                for _ in range(BLOCK):
                    t = pc()
                    r.lpush(key, MSG)
                    pt.append(pc() - t)
            for _ in range(BLOCK):
                t = pc()
                m = r.brpop(key, POP_WAIT)
                gt.append(pc() - t)
                assert m[1] == MSG
            if b:
                res[s][0].extend(pt)
                res[s][1].extend(gt)
    r.delete(key, key + ":meta")
    r.close()
    return res


# --------------------------------------------------------------------------
# Queue throughput (processes).


def _mpipc_producer(addr, barrier, n, batch, res):
    q = side_mod.Queue(name=addr)
    msgs = [MSG] * batch
    barrier.wait()
    t0 = time.perf_counter()
    if batch <= 1:
        for _ in range(n):
            q.put(MSG)
    else:
        for i in range(0, n, batch):
            q.put_many(msgs[:min(batch, n - i)])
    res.put(("producer", t0, n))


def _mpipc_consumer(addr, barrier, batch, res):
    mpipc = side_mod
    q = mpipc.Queue(name=addr)
    got = 0
    last = None
    barrier.wait()
    try:
        if batch <= 1:
            while True:
                m = q.get()
                last = time.perf_counter()
                assert len(m) == len(MSG)
                got += 1
        else:
            while True:
                ms = q.get_many(batch)
                last = time.perf_counter()
                assert all(len(m) == len(MSG) for m in ms)
                got += len(ms)
    except mpipc.ShutDown:
        pass
    res.put(("consumer", last, got))


def _plain_producer(tg, transport, key, counted, barrier, n, batch, res):
    r = tg.plain(transport)
    r.ping()
    p = r.pipeline(transaction=False)
    msgs = [MSG] * batch
    barrier.wait()
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        k = min(batch, n - i)
        vals = msgs[:k] if batch > 1 else (MSG,)
        if counted:
            p.lpush(key, *vals)
            p.hincrby(key + ":meta", "unfinished", k)
            p.execute()
        else:
            r.lpush(key, *vals)
    res.put(("producer", t0, n))


def _plain_consumer(tg, transport, key, barrier, batch, res):
    r = tg.plain(transport)
    r.ping()
    got = 0
    last = None
    barrier.wait()
    while True:
        if batch <= 1:
            m = r.brpop(key, POP_WAIT)
            ms = [m[1]] if m else []
        else:
            m = r.blmpop(POP_WAIT, 1, key, direction="RIGHT", count=batch)
            ms = m[1] if m else []
        if not ms:
            continue
        if not ms[-1]:
            # End markers follow every message: give back the other
            # consumers' markers this batch took, and stop.
            i = ms.index(b"")
            assert not any(ms[i:]), "messages after an end marker"
            if len(ms) - i > 1:
                r.rpush(key, *ms[i + 1:])
            ms = ms[:i]
            if ms:
                last = time.perf_counter()
                got += len(ms)
            break
        last = time.perf_counter()
        assert all(len(m) == len(MSG) for m in ms)
        got += len(ms)
    res.put(("consumer", last, got))


def throughput(ctx, tg, side, transport, producers, consumers, n, batch):
    """msg/s of `producers` -> `consumers` processes, `n` messages in all."""
    per = n // producers
    barrier = ctx.Barrier(producers + consumers)
    res = ctx.Queue()
    name = "bench-%d-%d-%d" % (os.getpid(), producers, batch)
    procs = []
    try:
        if side == "mpipc":
            mpipc = side_mod
            addr = tg.queue(transport, name)
            q = mpipc.Queue(name=addr)
            for _ in range(producers):
                procs.append(start_child(ctx, _mpipc_producer, (addr, barrier, per, batch, res)))
            for _ in range(consumers):
                procs.append(start_child(ctx, _mpipc_consumer, (addr, barrier, batch, res)))
            ends = collect(res, producers, procs)
            q.shutdown()
        else:
            r = tg.plain(transport)
            key = "bench:" + name
            r.delete(key, key + ":meta")
            for _ in range(producers):
                procs.append(start_child(ctx, _plain_producer,
                                         (tg, transport, key, side == "counted", barrier, per, batch, res)))
            for _ in range(consumers):
                procs.append(start_child(ctx, _plain_consumer, (tg, transport, key, barrier, batch, res)))
            ends = collect(res, producers, procs)
            r.lpush(key, *([b""] * consumers))
        ends += collect(res, consumers, procs)
        join_all(procs)
    finally:
        kill_all(procs)
        res.close()
        res.join_thread()
    if side == "mpipc":
        q.unlink()
        q.close()
    else:
        r.delete(key, key + ":meta")
        r.close()
    sent = sum(e[2] for e in ends if e[0] == "producer")
    got = sum(e[2] for e in ends if e[0] == "consumer")
    assert sent == got == per * producers, (sent, got)
    t0 = min(e[1] for e in ends if e[0] == "producer")
    t1 = max(e[1] for e in ends if e[0] == "consumer" and e[1] is not None)
    return sent / (t1 - t0)


# --------------------------------------------------------------------------
# Dict (manager) workloads.


def open_dict(tg, transport, name, local):
    """mpipc's dict `name` at `transport` (shm: on the local manager)."""
    m = local if transport == "shm" else side_mod.connect_manager(tg.manager(transport))
    return m, m.dict(name=name)


def dict_rtt(tg, side, transport, blocks, local):
    """{side: get times in ns}, the first block left out."""
    pc = time.perf_counter_ns
    name = "bench-rtt-%d" % os.getpid()
    ts = []
    if side == "mpipc":
        m, d = open_dict(tg, transport, name, local)
        d["k"] = MSG
        for b in range(blocks):
            bt = []
            for _ in range(BLOCK):
                t = pc()
                v = d["k"]
                bt.append(pc() - t)
                assert len(v) == len(MSG)
            if b:
                ts += bt
        return {"mpipc": ts}
    r = tg.plain(transport)
    h = "bench:" + name
    r.hset(h, "k", CBOR_MSG)
    for b in range(blocks):
        bt = []
        for _ in range(BLOCK):
            t = pc()
            v = r.hget(h, "k")
            bt.append(pc() - t)
            assert len(v) == len(CBOR_MSG)
        if b:
            ts += bt
    r.delete(h)
    r.close()
    return {"plain": ts}


def _incr_client(how, barrier, n, res):
    if how[0] == "mpipc":
        d = how[1]
        len(d)  # connects (untimed)
        barrier.wait()
        t0 = time.perf_counter()
        for _ in range(n):
            d.incr("hits")
    else:
        tg, transport, h = how[1:]
        r = tg.plain(transport)
        r.ping()
        barrier.wait()
        t0 = time.perf_counter()
        for _ in range(n):
            r.hincrby(h, "hits", 1)
    res.put((t0, time.perf_counter()))


def dict_incr(ctx, tg, side, transport, n, local):
    """ops/s of 2 processes x `n` increments of one key."""
    clients = 2
    name = "bench-incr-%d" % os.getpid()
    if side == "mpipc":
        m, d = open_dict(tg, transport, name, local)
        d["hits"] = 0
        how = ("mpipc", d)
    else:
        r = tg.plain(transport)
        h = "bench:" + name
        r.delete(h)
        how = ("plain", tg, transport, h)
    barrier = ctx.Barrier(clients)
    res = ctx.Queue()
    procs = []
    try:
        procs = [start_child(ctx, _incr_client, (how, barrier, n, res)) for _ in range(clients)]
        ends = collect(res, clients, procs)
        join_all(procs)
    finally:
        kill_all(procs)
        res.close()
        res.join_thread()
    if side == "mpipc":
        total = d["hits"]
        del d["hits"]
    else:
        total = int(r.hget(h, "hits"))
        r.delete(h)
        r.close()
    assert total == clients * n, (total, clients * n)
    return clients * n / (max(e[1] for e in ends) - min(e[0] for e in ends))


# --------------------------------------------------------------------------


def one_round(ctx, tg, side, transports, wanted, sizes, round_, local):
    """One measurement of every workload wanted: {figure: value}."""
    fig = {}

    def put(k, v):
        log("round %d: %s: %.2f" % (round_, k, v))
        fig[k] = v

    if wanted("q_rtt"):
        for t in transports:
            for s, (puts, gets) in queue_rtt(tg, side, t, sizes["blocks"], round_).items():
                pm, pp = med_p99(puts)
                put("q_put_rtt/%s/%s" % (t, s), pm)
                put("q_put_rtt/%s/%s/p99" % (t, s), pp)
                if s != "counted":
                    gm, gp = med_p99(gets)
                    put("q_get_rtt/%s/%s" % (t, s), gm)
                    put("q_get_rtt/%s/%s/p99" % (t, s), gp)
    for w, p, c, b in (("q_1x1_single", 1, 1, 1), ("q_2x2_single", 2, 2, 1), ("q_1x1_batch", 1, 1, BATCH),
                       ("q_2x2_batch", 2, 2, BATCH)):
        if not wanted(w):
            continue
        for t in transports:
            n = sizes[("single" if b == 1 else "batched") + ("_shm" if t == "shm" else "")]
            for s in rotated(sides_of(side), round_):
                put("%s/%s/%s" % (w, t, s), throughput(ctx, tg, s, t, p, c, n, b))
    if wanted("d_get_rtt"):
        for t in transports:
            for s, ts in dict_rtt(tg, side, t, sizes["blocks"], local).items():
                m, p99 = med_p99(ts)
                put("d_get_rtt/%s/%s" % (t, s), m)
                put("d_get_rtt/%s/%s/p99" % (t, s), p99)
    if wanted("d_incr_2"):
        for t in transports:
            for s in sides_of(side, counted=False):
                put("d_incr_2/%s/%s" % (t, s), dict_incr(ctx, tg, s, t, sizes["incr"], local))
    return fig


def main(argv=None):
    global side_mod
    ap = bench_parser(__doc__, WORKLOADS)
    ap.add_argument("--side", choices=["mpipc", "plain"], required=True)
    ap.add_argument("--tcp", required=True, help="the server's HOST:PORT")
    ap.add_argument("--unix", required=True, help="the server's unix socket")
    ap.add_argument("--transports", help="a list of tcp, unix (and shm for --side mpipc); default all")
    ap.add_argument("--round", type=int, default=0, help="the first round's number (rotates the sides' order)")
    # --only takes a comma-separated list of prefixes here.
    ap._option_string_actions["--only"].choices = None
    a = ap.parse_args(argv)
    only = a.only.split(",") if a.only else None
    for o in only or ():
        if not any(w.startswith(o) for w in WORKLOADS):
            ap.error("--only %s: no workload starts with it (workloads: %s)" % (o, ", ".join(WORKLOADS)))

    def wanted(w):
        return only is None or any(w.startswith(o) for o in only)

    pick = option_picker(a.quick)
    repeat = pick(a.repeat, 5, 1)
    every = ["tcp", "unix", "shm"] if a.side == "mpipc" else ["tcp", "unix"]
    transports = a.transports.split(",") if a.transports else every
    for t in transports:
        if t not in every:
            ap.error("--transports: %s is not one of %s for --side %s" % (t, ", ".join(every), a.side))
    sizes = ({"single": 400, "single_shm": 2000, "batched": 10 * BATCH, "batched_shm": 40 * BATCH, "blocks": 2,
              "incr": 100} if a.quick else
             {"single": 10_000, "single_shm": 100_000, "batched": 200_000, "batched_shm": 1_000_000, "blocks": 11,
              "incr": 5000})
    if a.side == "mpipc":
        import mpipc as side_mod
        version = {"mpipc": side_mod.LIB_VERSION}
    else:
        import redis as side_mod
        version = {"redis_py": side_mod.__version__}
    ctx, out = setup(repeat, program="redis_bench.py", side=a.side, msg_bytes=len(MSG), batch=BATCH,
                     first_round=a.round, quick=a.quick, **version,
                     sizes=dict(sizes, rtt_calls=(sizes["blocks"] - 1) * BLOCK))
    tg = Target(a.tcp, a.unix)
    local = None
    if a.side == "mpipc" and "shm" in transports and (wanted("d_get_rtt") or wanted("d_incr_2")):
        local = side_mod.Manager()
    t_all = time.perf_counter()
    runs = {}
    try:
        for i in range(repeat):
            for k, v in one_round(ctx, tg, a.side, transports, wanted, sizes, a.round + i, local).items():
                runs.setdefault(k, []).append(v)
    finally:
        if local is not None:
            local.shutdown()
    out["figures"] = {k: round(statistics.median(v), 3) for k, v in runs.items()}
    out["runs"] = {k: [round(x, 3) for x in v] for k, v in runs.items()}
    emit(out, t_all)


if __name__ == "__main__":
    main()
