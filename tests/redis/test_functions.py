"""The manager-side functions of mpipc_1: dict (d_cas, d_get_or_set, d_pop,
d_popitem), value (v_cas), list (l_pop_at, l_insert_at, l_del_at against a
Python list), lock (lease, fencing, reentrancy, PERM, wake of a waiter,
expiry of a dead holder's lease), semaphore (leases, bounded, value, wake,
renewal) and event (one set wakes every waiter, on separate connections).

Waits are for states: clients blocked on the server, threads finished, a
lease's end seen by the server.
"""

import random
import threading
import time

import cbor2
import pytest
import redis

from qlib import kind_of, wait_blocked, wait_until

JOIN_S = 10.0


def enc(v):
    return cbor2.dumps(v, canonical=True)


def run(target, *args):
    t = threading.Thread(target=target, args=args, daemon=True)
    t.start()
    return t


def finish(*threads):
    for t in threads:
        t.join(JOIN_S)
        assert not t.is_alive(), "a thread still waits after %s s" % JOIN_S


def error_kind(fn):
    with pytest.raises(redis.ResponseError) as e:
        fn()
    return kind_of(e.value)


# ---- dict -----------------------------------------------------------------

def test_dict_cas(db, name):
    d = "mpipc:d:{%s}" % name
    db.r.hset(d, enc("f"), enc(1.0))
    # Bytes differ (1.0 stored, 1 expected): no swap, the current bytes come
    # back so the client can compare values and retry with them.
    assert db.fc("d_cas", [d], enc("f"), enc(1), enc(2)) == [0, enc(1.0)]
    assert db.fc("d_cas", [d], enc("f"), enc(1.0), enc(2)) == [1]
    assert cbor2.loads(db.r.hget(d, enc("f"))) == 2
    # Never inserts.
    assert db.fc("d_cas", [d], enc("absent"), enc(None), enc(3)) == [0, None]
    assert not db.r.hexists(d, enc("absent"))


def test_dict_get_or_set_pop_popitem(db, name):
    d = "mpipc:d:{%s}" % name
    assert cbor2.loads(db.fc("d_get_or_set", [d], enc("g"), enc("dflt"))) == "dflt"
    assert cbor2.loads(db.fc("d_get_or_set", [d], enc("g"), enc("other"))) == "dflt"
    assert cbor2.loads(db.fc("d_pop", [d], enc("g"))) == "dflt"
    assert db.fc("d_pop", [d], enc("g")) is None          # absent: nil (NOTFOUND or default)
    assert db.fc("d_popitem", [d]) is None
    pairs = {enc(i): enc("v%d" % i) for i in range(5)}
    db.r.hset(d, mapping=pairs)
    seen = {}
    for _ in range(5):
        f, v = db.fc("d_popitem", [d])
        seen[f] = v
    assert seen == pairs and db.r.hlen(d) == 0 and db.fc("d_popitem", [d]) is None


# ---- value ----------------------------------------------------------------

def test_value_cas(db, name):
    v = "mpipc:v:{%s}" % name
    assert db.fc("v_cas", [v], enc(None), enc(1)) == [0, None]   # never set: no swap
    db.r.set(v, enc(1))
    assert db.fc("v_cas", [v], enc(2), enc(3)) == [0, enc(1)]
    assert db.fc("v_cas", [v], enc(1), enc(3)) == [1]
    assert db.r.get(v) == enc(3)


# ---- list -----------------------------------------------------------------

def test_list_index_functions_match_python(db, name):
    key = "mpipc:l:{%s}" % name
    rng = random.Random(7)
    model = []
    for step in range(400):
        op = rng.choice(["insert", "insert", "pop", "del"])
        i = rng.randint(-len(model) - 3, len(model) + 3)
        if op == "insert":
            x = enc([step, rng.random()])
            model.insert(i, x)
            assert db.fc("l_insert_at", [key], i, x) == len(model)
        elif op == "pop":
            if not model:
                assert error_kind(lambda: db.fc("l_pop_at", [key], i)) == "INDEX"
                continue
            try:
                want = model.pop(i)
            except IndexError:
                assert error_kind(lambda: db.fc("l_pop_at", [key], i)) == "INDEX"
                continue
            assert db.fc("l_pop_at", [key], i) == want
        else:
            try:
                del model[i]
            except IndexError:
                assert error_kind(lambda: db.fc("l_del_at", [key], i)) == "INDEX"
                continue
            assert db.fc("l_del_at", [key], i) == len(model)
        assert db.r.lrange(key, 0, -1) == model, (step, op, i)


def test_list_splice_matches_python_slice_assignment(db, name):
    # mpipc_1_l_splice (the manager's setslice / delslice).
    key = "mpipc:l:{%s}" % name
    rng = random.Random(11)
    model = []
    for step in range(200):
        n = len(model)

        def bound():
            return rng.choice(["", str(rng.randint(-n - 2, n + 2))])

        a, b = bound(), bound()
        new = [enc([step, k]) for k in range(rng.choice([0, 0, 1, 2, 5]))]
        model[int(a) if a else None:int(b) if b else None] = new
        assert db.fc("l_splice", [key], a, b, *new) == len(model), (step, a, b)
        assert db.r.lrange(key, 0, -1) == model, (step, a, b)
    assert error_kind(lambda: db.fc("l_splice", [key], "x", "")) == "INVAL"


def test_list_errors_name_the_method(db, name):
    key = "mpipc:l:{%s}" % name
    with pytest.raises(redis.ResponseError) as e:
        db.fc("l_pop_at", [key], -1)
    assert str(e.value) == "MPIPC_INDEX pop from empty list"
    db.r.rpush(key, enc(1), enc(2))
    with pytest.raises(redis.ResponseError) as e:
        db.fc("l_pop_at", [key], 2)
    assert str(e.value) == "MPIPC_INDEX pop: list index 2 out of range (len 2)"
    with pytest.raises(redis.ResponseError) as e:
        db.fc("l_del_at", [key], -3)
    assert str(e.value) == "MPIPC_INDEX delitem: list index -3 out of range (len 2)"
    assert error_kind(lambda: db.fc("l_pop_at", [key], "x")) == "INVAL"
    assert error_kind(lambda: db.fc("l_insert_at", [key], 0)) == "INVAL"


# ---- lock -----------------------------------------------------------------

def lock_keys(name, kind="lock"):
    k = "mpipc:%s:{%s}" % (kind, name)
    return [k, k + ":seq", k + ":wake"]


def acquire_blocking(db, client, keys, owner, lease_ms, timeout_s=JOIN_S):
    """The core's acquire loop: try; else block on the wake latch for at most
    the holder's remaining lease, then try again."""
    end = time.monotonic() + timeout_s
    while True:
        got = db.fc("lock_acquire", keys, owner, lease_ms, "0", client=client)
        if got[0] == 1:
            return got[1]
        assert time.monotonic() < end, "lock not acquired in time"
        client.blmpop("%.3f" % max(min(got[1], 20000) / 1000, 0.001), 1, keys[2], direction="LEFT")


def test_lock_lease_fencing_and_wake(db, name):
    k = lock_keys(name)
    f1 = db.fc("lock_acquire", k, "A", 60000, "0")
    assert f1[0] == 1
    assert db.fc_ro("lock_fence", k[:1], "A") == f1[1]
    got = db.fc("lock_acquire", k, "B", 60000, "0")
    assert got[0] == 0 and 0 < got[1] <= 60000
    assert error_kind(lambda: db.fc("lock_acquire", k, "A", 60000, "0")) == "INVAL"
    assert error_kind(lambda: db.fc_ro("lock_fence", k[:1], "B")) == "PERM"
    res = []
    c = db.new()
    t = run(lambda: res.append(acquire_blocking(db, c, k, "C", 60000)))
    wait_blocked(db.r, 1)
    assert db.fc("lock_release", k, "A") == 0
    finish(t)
    assert res == [f1[1] + 1]                     # woken by the release, a higher fence
    assert error_kind(lambda: db.fc("lock_release", k, "A")) == "PERM"
    assert db.fc("lease_renew", k[:1], "A", 1000) == 0
    assert db.fc("lease_renew", k[:1], "C", 1000) == 1
    assert db.fc("lock_release", k, "C") == 0


def test_rlock_depth(db, name):
    k = lock_keys(name, "rlock")
    a = db.fc("lock_acquire", k, "A", 60000, "1")
    assert db.fc("lock_acquire", k, "A", 60000, "1") == a   # same fence, depth 2
    assert db.r.hget(k[0], "depth") == b"2"
    assert db.fc("lock_release", k, "A") == 1
    assert db.fc("lock_release", k, "A") == 0
    assert not db.r.exists(k[0]) and db.r.llen(k[2]) == 1


def test_a_dead_holders_lease_ends(db, name):
    k = lock_keys(name)
    dead = db.fc("lock_acquire", k, "dead", 300, "0")   # never renewed, never released
    fence = acquire_blocking(db, db.new(), k, "waiter", 60000)
    assert fence == dead[1] + 1
    assert error_kind(lambda: db.fc("lock_release", k, "dead")) == "PERM"


# ---- semaphore ------------------------------------------------------------

def sem_keys(name):
    k = "mpipc:sem:{%s}" % name
    return [k, k + ":meta", k + ":seq", k + ":wake"]


def test_semaphore_leases(db, name):
    s = sem_keys(name)
    assert db.fc_ro("sem_value", s[:2], 2) == 2                 # never used: initial
    a = db.fc("sem_acquire", s, "h1", 60000, 2, "1")
    b = db.fc("sem_acquire", s, "h2", 60000, 2, "1")
    assert a[0] == 1 and b == [1, a[1] + 1]
    full = db.fc("sem_acquire", s, "h3", 60000, 2, "1")
    assert full[0] == 0 and 0 < full[1] <= 60000
    assert db.fc_ro("sem_value", s[:2], 2) == 0
    assert error_kind(lambda: db.fc("sem_acquire", s, "h1", 60000, 2, "1")) == "INVAL"
    assert db.fc("sem_release", s, "h1") == 1
    assert db.fc("sem_acquire", s, "h3", 60000, 2, "1")[0] == 1
    assert error_kind(lambda: db.fc("sem_release", s, "h1")) == "PERM"   # not held any more
    # Bounded: bare releases beyond the initial value are refused.
    assert db.fc("sem_release", s, "h2") == 1
    assert db.fc("sem_release", s, "h3") == 1
    assert error_kind(lambda: db.fc("sem_release", s, "")) == "INVAL"
    assert db.fc_ro("sem_value", s[:2], 2) == 2


def test_semaphore_unbounded_bare_release_and_zero(db, name):
    s = sem_keys(name)
    # Semaphore(0): nobody holds a lease that could end: wait -1.
    assert db.fc("sem_acquire", s, "h1", 60000, 0, "0") == [0, -1]
    res = []
    c = db.new()

    def waiter():
        while True:
            got = db.fc("sem_acquire", s, "w", 60000, 0, "0", client=c)
            if got[0] == 1:
                res.append(got[1])
                return
            c.blmpop("20", 1, s[3], direction="LEFT")

    t = run(waiter)
    wait_blocked(db.r, 1)
    assert db.fc("sem_release", s, "", 3) == 1                # bare, n = 3
    finish(t)
    assert len(res) == 1 and db.fc_ro("sem_value", s[:2], 0) == 2
    assert error_kind(lambda: db.fc("sem_release", s, "", 0)) == "INVAL"


def test_semaphore_expiry_and_renew(db, name):
    s = sem_keys(name)
    assert db.fc("sem_acquire", s, "short", 200, 1, "1")[0] == 1
    assert db.fc("sem_renew", s[:1], "short", 60000) == 1
    assert db.fc("sem_renew", s[:1], "nobody", 60000) == 0
    assert db.fc("sem_acquire", s, "dying", 1, 1, "1")[0] == 0
    db.fc("sem_release", s, "short")
    assert db.fc("sem_acquire", s, "dying", 1, 1, "1")[0] == 1   # a 1 ms lease
    # Once the server's clock passed its end, the permit is free again.
    wait_until(lambda: db.fc_ro("sem_value", s[:2], 1) == 1, "the 1 ms lease to end")
    assert db.fc("sem_renew", s[:1], "dying", 60000) == 0
    assert error_kind(lambda: db.fc("sem_release", s, "dying")) == "PERM"
    assert db.fc("sem_acquire", s, "next", 60000, 1, "1")[0] == 1


# ---- event ----------------------------------------------------------------

def test_event_set_wakes_every_waiter(db, name):
    e = "mpipc:ev:{%s}" % name
    keys = [e, e + ":wake"]
    woke = []

    def waiter():
        c = db.new()
        while True:
            if c.blmpop("20", 1, keys[1], direction="LEFT") and db.fc("ev_rearm", keys, client=c) == 1:
                woke.append(1)
                return

    ts = [run(waiter) for _ in range(6)]
    wait_blocked(db.r, 6)
    assert db.fc("ev_set", keys) == 1
    finish(*ts)
    assert len(woke) == 6 and db.r.exists(e) == 1 and db.r.llen(keys[1]) == 1
    assert db.fc("ev_clear", keys) == 1
    assert db.r.exists(e, keys[1]) == 0
    assert db.fc("ev_rearm", keys) == 0
