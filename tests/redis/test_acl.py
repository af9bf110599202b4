"""The minimal ACL of docs/REDIS.md ("Setting up the server") is enough for
every function of the library and the blocking commands mpipc uses, and a
user without `fcall` or outside the key pattern is refused (NOPERM, which
mpipc reports as MP_E_PERM).
"""

import uuid

import cbor2
import pytest
import redis

from qlib import AloConsumer, Q

# The rules docs/REDIS.md gives, word for word (keep them equal).
MINIMAL_ACL = ("~mpipc:* +@list +@hash +@string +@sortedset +@transaction +del +exists +pexpire +pttl +time "
               "+fcall +fcall_ro +function|list +ping +select +auth")


@pytest.fixture
def user(db):
    name, password = "mpipc-test-" + uuid.uuid4().hex[:8], uuid.uuid4().hex
    db.r.execute_command("ACL", "SETUSER", name, "on", ">" + password, *MINIMAL_ACL.split())
    c = db.server.client(db.transport, username=name, password=password)
    yield c
    c.close()
    db.r.execute_command("ACL", "DELUSER", name)


def enc(v):
    return cbor2.dumps(v, canonical=True)


def fc(c, fn, keys, *args):
    return c.fcall("mpipc_1_" + fn, len(keys), *keys, *args)


def test_the_minimal_acl_runs_everything(user, name):
    c = user
    q = Q(c, name, maxsize=4)
    q.put_many([b"a", b"b"])
    assert q.get() == b"a" and q.get_many(5, timeout=0.01) == [b"b"]
    assert q.task_done(2) == 0
    q.join(timeout=1)
    assert c.execute_command("FCALL_RO", "mpipc_1_q_qsize", 5, *q.keys) == [0, 0, 0, 4]
    q.shutdown(True)
    assert q.unlink() == 1
    a = Q(c, name + "-alo", mode="alo")
    a.put(b"m")
    consumer = AloConsumer(c, name + "-alo", lease_ms=10000)
    assert consumer.get(timeout=1) == b"m"
    assert consumer.task_done() == 0
    a.put(b"n")
    assert consumer.get(timeout=1) == b"n"
    assert consumer.release() == 1             # back to the queue
    assert a.unlink() == 1
    d, v, lst = "mpipc:d:{%s}" % name, "mpipc:v:{%s}" % name, "mpipc:l:{%s}" % name
    assert cbor2.loads(fc(c, "d_incr", [d], enc("k"), enc(2))) == 2
    assert fc(c, "d_cas", [d], enc("k"), enc(2), enc(3)) == [1]
    assert fc(c, "d_get_or_set", [d], enc("g"), enc(0)) == enc(0)
    assert fc(c, "d_pop", [d], enc("g")) == enc(0)
    assert fc(c, "d_popitem", [d]) == [enc("k"), enc(3)]
    assert cbor2.loads(fc(c, "v_incr", [v], enc(1))) == 1
    assert fc(c, "v_cas", [v], enc(1), enc(5)) == [1]
    assert fc(c, "l_insert_at", [lst], 0, enc(1)) == 1
    assert fc(c, "l_insert_at", [lst], 1, enc(3)) == 2
    assert fc(c, "l_insert_at", [lst], 1, enc(2)) == 3
    assert fc(c, "l_pop_at", [lst], 1) == enc(2)
    assert fc(c, "l_del_at", [lst], 0) == 1
    lk = ["mpipc:lock:{%s}" % name + s for s in ("", ":seq", ":wake")]
    assert fc(c, "lock_acquire", lk, "o", 10000, "0")[0] == 1
    assert fc(c, "lease_renew", lk[:1], "o", 10000) == 1
    assert c.execute_command("FCALL_RO", "mpipc_1_lock_fence", 1, lk[0], "o") == 1
    assert fc(c, "lock_release", lk, "o") == 0
    assert c.blmpop("0.01", 1, lk[2], direction="LEFT") == [lk[2].encode(), [b"1"]]
    sk = ["mpipc:sem:{%s}" % name + s for s in ("", ":meta", ":seq", ":wake")]
    assert fc(c, "sem_acquire", sk, "h", 10000, 1, "1")[0] == 1
    assert fc(c, "sem_renew", sk[:1], "h", 10000) == 1
    assert fc(c, "sem_release", sk, "h") == 1
    assert c.execute_command("FCALL_RO", "mpipc_1_sem_value", 2, *sk[:2], 1) == 1
    ek = ["mpipc:ev:{%s}" % name, "mpipc:ev:{%s}:wake" % name]
    assert fc(c, "ev_set", ek) == 1 and fc(c, "ev_rearm", ek) == 1 and fc(c, "ev_clear", ek) == 1
    assert c.execute_command("FCALL_RO", "mpipc_1_revision", 0) == 1
    assert c.function_list(library="mpipc_1")
    # A transaction as the manager's list sort does it.
    with c.pipeline() as p:
        p.watch(lst)
        p.multi()
        p.delete(lst)
        p.rpush(lst, enc(0))
        p.execute()


def test_outside_the_acl_is_noperm(db, name):
    password = uuid.uuid4().hex
    no_fcall = "mpipc-test-nofcall-" + uuid.uuid4().hex[:8]
    db.r.execute_command("ACL", "SETUSER", no_fcall, "on", ">" + password,
                         *MINIMAL_ACL.replace("+fcall ", "").split())
    c = db.server.client(db.transport, username=no_fcall, password=password)
    with pytest.raises(redis.exceptions.NoPermissionError):
        Q(c, name)
    c.close()
    db.r.execute_command("ACL", "DELUSER", no_fcall)
    # Keys outside the pattern: the queue of another prefix.
    other = "mpipc-test-keys-" + uuid.uuid4().hex[:8]
    db.r.execute_command("ACL", "SETUSER", other, "on", ">" + password,
                         *MINIMAL_ACL.replace("~mpipc:*", "~mpipc:app:*").split())
    c = db.server.client(db.transport, username=other, password=password)
    with pytest.raises(redis.exceptions.NoPermissionError):
        Q(c, name)
    Q(c, name, ns="app").put(b"fine")
    c.close()
    db.r.execute_command("ACL", "DELUSER", other)
