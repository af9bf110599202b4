"""The queue functions of mpipc_1 (q_open, q_put, q_get, q_get_into,
q_task_done, q_shutdown, latch_rearm, q_qsize, q_unlink) driven as the core
drives them (qlib.Q): FIFO, maxsize and partial put_many, exact qsize,
server-side wakes of blocked putters, getters and joiners on separate
connections, shutdown in both modes, create/attach flags, many producers and
consumers, the library's argument checks, and a server at maxmemory.

Waits are for states (clients blocked on the server, threads finished),
never for a duration; the slices of qlib are 20 s, so a wait that ends is a
server-side wake.
"""

import queue
import threading

import pytest
import redis

from qlib import Q, kind_of, prefix, wait_blocked

JOIN_S = 10.0


def fresh(db, name, **kw):
    q = Q(db.r, name, **kw)
    assert q.created == 1
    return q


def run(target, *args):
    t = threading.Thread(target=target, args=args, daemon=True)
    t.start()
    return t


def finish(*threads):
    for t in threads:
        t.join(JOIN_S)
        assert not t.is_alive(), "a thread still waits after %s s" % JOIN_S


def test_fifo_maxsize_partial_put_exact_qsize(db, name):
    q = fresh(db, name, maxsize=3)
    assert q.put_many([b"a", b"bb", b"ccc", b"dddd"]) == 3
    assert q.qsize() == [3, 3, 0, 3]
    with pytest.raises(queue.Full):
        q.put(b"x", timeout=0)
    assert q.get_many(10) == [b"a", b"bb", b"ccc"]
    assert q.qsize() == [0, 3, 0, 3]
    assert db.fc_ro("q_qsize", q.keys) == [0, 3, 0, 3]
    with pytest.raises(queue.Empty):
        q.get(timeout=0)


def test_put_many_in_chunks(db, name):
    # More than one RPUSH chunk of 1000 (Lua's unpack is bounded).
    q = fresh(db, name)
    msgs = [b"%d" % i for i in range(2500)]
    assert q.put_many(msgs) == 2500
    assert q.get_many(3000) == msgs


def test_blocked_putter_woken_by_get_on_another_client(db, name):
    q = fresh(db, name, maxsize=1)
    q.put(b"1")
    res = {}
    t = run(lambda: res.setdefault("p", Q(db.new(), name).put(b"2", timeout=JOIN_S)))
    wait_blocked(db.r, 1)
    assert Q(db.new(), name).get() == b"1"
    finish(t)
    assert res["p"] == 1
    assert q.get() == b"2"


def test_shutdown_wakes_every_blocked_getter(db, name):
    fresh(db, name)
    outs = []

    def getter():
        try:
            Q(db.new(), name).get(timeout=JOIN_S)
            outs.append("msg")
        except EOFError:
            outs.append("shut")

    ts = [run(getter) for _ in range(8)]
    wait_blocked(db.r, 8)
    Q(db.r, name).shutdown(False)
    finish(*ts)
    assert outs == ["shut"] * 8


def test_shutdown_drains_then_refuses(db, name):
    q = fresh(db, name)
    q.put_many([b"x", b"y"])
    q.shutdown(False)
    with pytest.raises(redis.ResponseError) as e:
        q.put(b"z")
    assert kind_of(e.value) == "SHUTDOWN"
    assert q.get() == b"x" and q.get() == b"y"
    with pytest.raises(EOFError):
        q.get(timeout=JOIN_S)
    with pytest.raises(EOFError):
        q.get(timeout=0)
    assert db.r.llen(q.shut) == 1   # the latch stays armed for later getters


def test_join_wakes_every_joiner_at_zero(db, name):
    q = fresh(db, name)
    q.put_many([b"j1", b"j2"])
    joined = []
    ts = [run(lambda: joined.append(Q(db.new(), name).join(timeout=JOIN_S))) for _ in range(3)]
    wait_blocked(db.r, 3)
    q.get()
    assert q.task_done() == 1
    # Still 3 joiners blocked: the done latch is not set at 1.
    assert db.r.llen(q.done) == 0 and not joined
    q.get()
    assert q.task_done() == 0
    finish(*ts)
    assert len(joined) == 3
    with pytest.raises(redis.ResponseError) as e:
        q.task_done()
    assert kind_of(e.value) == "INVAL" and "too many" in str(e.value)
    q.join(timeout=JOIN_S)


def test_immediate_shutdown_discards_and_wakes_joiners(db, name):
    q = fresh(db, name)
    q.put_many([b"a", b"b", b"c"])
    t = run(lambda: Q(db.new(), name).join(timeout=JOIN_S))
    wait_blocked(db.r, 1)
    q.shutdown(True)
    finish(t)
    assert q.qsize() == [0, 0, 1, 0]


def test_blocked_putter_gets_shutdown(db, name):
    q = fresh(db, name, maxsize=1)
    q.put(b"1")
    err = []

    def putter():
        try:
            Q(db.new(), name).put(b"2", timeout=JOIN_S)
        except redis.ResponseError as e:
            err.append(kind_of(e))

    t = run(putter)
    wait_blocked(db.r, 1)
    q.shutdown(False)
    finish(t)
    assert err == ["SHUTDOWN"]


def test_open_flags_and_mismatches(db, name):
    with pytest.raises(redis.ResponseError) as e:
        Q(db.r, name, how="A")
    assert kind_of(e.value) == "NOTFOUND"
    q = fresh(db, name, maxsize=1, max_message=100)
    assert (q.maxsize, q.max_message, q.mode) == (1, 100, "amo")
    with pytest.raises(redis.ResponseError) as e:
        Q(db.r, name, how="C")
    assert kind_of(e.value) == "EXISTS"
    with pytest.raises(redis.ResponseError) as e:
        Q(db.r, name, maxsize=5)
    assert kind_of(e.value) == "INVAL" and "maxsize = 1, not 5" in str(e.value)
    with pytest.raises(redis.ResponseError) as e:
        Q(db.r, name, max_message=7)
    assert kind_of(e.value) == "INVAL" and "max_message = 100, not 7" in str(e.value)
    with pytest.raises(redis.ResponseError) as e:
        Q(db.r, name, mode="alo")
    assert kind_of(e.value) == "INVAL" and "at-most-once, not at-least-once" in str(e.value)
    # Zero options attach to whatever exists; attach-only works now.
    a = Q(db.r, name, how="A")
    assert (a.maxsize, a.max_message, a.mode, a.created) == (1, 100, "amo", 0)
    # Another layout's meta.
    db.r.hset(a.meta, "v", "2")
    with pytest.raises(redis.ResponseError) as e:
        Q(db.r, name)
    assert kind_of(e.value) == "VERSION"
    with pytest.raises(redis.ResponseError) as e:
        a.put(b"x")
    assert kind_of(e.value) == "VERSION"


def test_max_message_is_checked_by_the_server(db, name):
    q = fresh(db, name, max_message=4)
    with pytest.raises(redis.ResponseError) as e:
        q.put_many([b"ok", b"too long"])
    assert kind_of(e.value) == "TOOBIG"
    assert q.qsize()[0] == 0   # nothing put
    assert q.put_many([b"ok", b"four"]) == 2


def test_get_into_leaves_a_message_too_big(db, name):
    q = fresh(db, name, maxsize=2)
    q.put_many([b"0123456789", b"x"])
    assert q.get_into(4) == ("too big", 10)
    assert q.qsize()[0] == 2   # still queued and first
    assert q.get_into(10) == b"0123456789"
    assert q.get_into(1) == b"x"
    with pytest.raises(queue.Empty):
        q.get_into(100)
    # It opened the room latch as a get does.
    assert db.r.llen(q.room) == 1
    q.shutdown(False)
    with pytest.raises(EOFError):
        q.get_into(100)


def test_many_producers_and_consumers_every_message_once(db, name):
    fresh(db, name, maxsize=64)
    n, got, lock = 1500, [], threading.Lock()

    def producer(k):
        qq = Q(db.new(), name)
        for i in range(0, n, 50):
            batch = [b"%d-%d" % (k, j) for j in range(i, i + 50)]
            while batch:
                batch = batch[qq.put_many(batch, timeout=JOIN_S):]

    def consumer():
        qq = Q(db.new(), name)
        while True:
            try:
                ms = qq.get_many(32, timeout=JOIN_S)
            except EOFError:
                return
            with lock:
                got.extend(ms)
            qq.task_done(len(ms))

    ps = [run(producer, k) for k in range(2)]
    cs = [run(consumer) for _ in range(2)]
    finish(*ps)
    q = Q(db.r, name)
    q.join(timeout=JOIN_S)
    q.shutdown()
    finish(*cs)
    assert sorted(got) == sorted(b"%d-%d" % (k, j) for k in range(2) for j in range(n))
    assert q.qsize() == [0, 0, 1, 64]


def test_unlink_deletes_every_key(db, name):
    q = fresh(db, name, maxsize=4, mode="alo")
    q.put_many([b"a", b"b"])
    # An at-least-once consumer's processing list (registered in the ZSET).
    db.fc("q_alo_get", q.keys + [q.consumers, q.prefix + "proc:c1"], "c1", 1, 10000)
    assert db.r.llen(q.prefix + "proc:c1") == 1
    assert q.unlink() == 1
    pattern = prefix(name).replace("{", "\\{").replace("}", "\\}") + "*"
    assert list(db.r.scan_iter(pattern)) == []
    assert q.unlink() == 0
    with pytest.raises(redis.ResponseError) as e:
        q.put(b"x")
    assert kind_of(e.value) == "NOTFOUND"
    with pytest.raises(redis.ResponseError) as e:
        q.get(timeout=0)
    assert kind_of(e.value) == "NOTFOUND"


def test_namespaces_are_separate(db, name):
    a = Q(db.r, name, ns="app1")
    b = Q(db.r, name, ns="app2")
    a.put(b"in app1")
    assert b.qsize()[0] == 0 and a.qsize()[0] == 1
    assert a.items == "mpipc:app1:q:{%s}:items" % name


def test_argument_checks(db, name):
    q = fresh(db, name)
    bad = [
        ("q_put", q.keys[:4], ["-", b"m"]),          # too few keys
        ("q_put", q.keys, ["-"]),                    # no message
        ("q_get", q.keys, ["0"]),
        ("q_get", q.keys, ["1e3"]),
        ("q_get", q.keys, ["0x10"]),
        ("q_task_done", q.keys, ["-1"]),
        ("q_get_into", q.keys, ["x"]),
        ("latch_rearm", q.keys, ["nope"]),
        ("q_open", q.keys, ["x", "0", "0", ""]),
        ("q_open", q.keys, ["c", "-1", "0", ""]),
        ("q_open", q.keys, ["c", "0", "0", "exactly-once"]),
        ("q_lease", q.keys + [q.consumers], ["", "100"]),
        ("q_lease", q.keys + [q.consumers], ["c", "0"]),
        ("q_lease", q.keys + [q.consumers], ["c", "100", "wrong:prefix:"]),
        ("q_ack", q.keys + [q.consumers, q.prefix + "proc:other"], ["c", "1"]),
    ]
    for fn, keys, args in bad:
        with pytest.raises(redis.ResponseError) as e:
            db.fc(fn, keys, *args)
        assert kind_of(e.value) == "INVAL", (fn, args, str(e.value))


def test_revision(db):
    assert db.fc_ro("revision", []) == 1


def test_consumers_drain_a_server_at_maxmemory(server, name):
    # Puts fail with -OOM once maxmemory is reached (MP_E_FULL for the core);
    # the functions flagged allow-oom still let consumers drain and count.
    r = server.client()
    q = fresh_on(r, name)
    used = int(r.info("memory")["used_memory"])
    r.config_set("maxmemory", used + 1024 * 1024)
    try:
        put = 0
        # redis-py maps the server's -OOM reply to OutOfMemoryError.
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            while put < 100000:
                put += q.put_many([b"x" * 1024] * 32)
        assert put > 0
        got = q.get_many(put)
        assert len(got) == put
        assert q.task_done(put) == 0
        q.shutdown(True)
    finally:
        r.config_set("maxmemory", 0)
        r.close()


def fresh_on(r, name):
    q = Q(r, name)
    assert q.created == 1
    return q


def test_a_latch_waiter_can_rearm_for_the_next(db, name):
    # The latch protocol itself: one token, taken by the first waiter and put
    # back by latch_rearm while the condition holds.
    q = fresh(db, name)
    q.shutdown(False)
    assert db.r.lpop(q.shut) == b"1"
    assert db.r.llen(q.shut) == 0
    assert q.fc("latch_rearm", "shut") == 1
    assert db.r.llen(q.shut) == 1
    assert q.fc("latch_rearm", "shut") == 1
    assert db.r.llen(q.shut) == 1   # never more than one token
    q2 = fresh(db, name + "2")
    q2.put(b"x")
    assert q2.fc("latch_rearm", "done") == 0 and db.r.llen(q2.done) == 0
    assert q2.get() == b"x"
    q2.task_done()
    assert db.r.llen(q2.done) == 1
