"""At-least-once queues (q_lease, q_alo_get, q_ack, q_release): consumer
processes SIGKILLed with a message in flight, their messages reaped back to
the head of the queue once their lease ends and delivered to a survivor,
every job processed at least once and acknowledged exactly once; a consumer
whose lease ended gets BROKEN at task_done; a closing consumer gives its
messages back at once.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from qlib import AloConsumer, Q, kind_of, wait_until

HERE = Path(__file__).resolve().parent
JOIN_S = 20.0


def address(db):
    s = db.server
    return "unix:" + s.socket if db.transport == "unix" else "tcp:%d" % s.port


def spawn(db, name, mode, lease_ms):
    return subprocess.Popen([sys.executable, str(HERE / "alo_worker.py"), address(db), name, mode, str(lease_ms)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(HERE))


def kill_holding(db, name, lease_ms):
    """A victim process that took one message, SIGKILLed with it in flight.
    Returns the message."""
    p = spawn(db, name, "victim", lease_ms)
    line = p.stdout.readline().split()
    assert line[:1] == ["got"], line
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    p.stdout.close()
    p.stdin.close()
    return line[1].encode()


def test_sigkilled_consumers_job_comes_back_first(db, name):
    q = Q(db.r, name, mode="alo")
    assert q.mode == "alo"
    q.put_many([b"job1", b"job2", b"job3"])
    assert kill_holding(db, name, 300) == b"job1"
    assert db.r.lrange(q.items, 0, -1) == [b"job2", b"job3"]
    assert q.qsize()[:2] == [2, 3]
    survivor = AloConsumer(db.new(), name, lease_ms=60000)
    requeued = []
    # The victim's lease ends on the server's clock; the survivor's q_lease
    # (as its lease keeper does) reaps it then.
    wait_until(lambda: requeued.append(survivor.lease()[0]) or sum(requeued) == 1, "the dead consumer reaped")
    assert db.r.zcard(q.consumers) == 1
    got = [survivor.get(timeout=0) for _ in range(3)]
    assert got == [b"job1", b"job2", b"job3"]
    assert [survivor.task_done() for _ in got] == [2, 1, 0]
    with pytest.raises(redis.ResponseError) as e:
        survivor.task_done()
    assert kind_of(e.value) == "INVAL"
    q.join(timeout=JOIN_S)


def test_workers_and_victims_every_job_processed(db, name):
    q = Q(db.r, name, mode="alo", maxsize=16)
    jobs = [b"j%03d" % i for i in range(120)]
    q.put_many(jobs[:16])
    lost = [kill_holding(db, name, 300) for _ in range(2)]
    # Workers lease for longer than any stall of a busy machine: a worker
    # losing its lease would process a job twice (allowed, but not counted here).
    workers = [spawn(db, name, "worker", 3000) for _ in range(2)]
    rest = jobs[16:]
    while rest:
        rest = rest[q.put_many(rest, timeout=JOIN_S):]
    q.join(timeout=JOIN_S)            # every job acked, the victims' too
    q.shutdown()
    counts = []
    for w in workers:
        out, _ = w.communicate(timeout=JOIN_S)
        assert w.returncode == 0
        counts.append(int(out.split()[1]))
    assert sum(counts) == len(jobs)   # each acked once: the victims never acked
    assert db.r.smembers("mpipc-test:seen:" + name) == set(jobs)
    assert set(lost) <= set(jobs)
    assert q.qsize() == [0, 0, 1, 16]
    assert db.r.zcard(q.consumers) == 2   # the workers (never closed)


def test_lease_lost_is_broken(db, name):
    Q(db.r, name, mode="alo").put_many([b"a", b"b"])
    slow = AloConsumer(db.new(), name, lease_ms=1)
    assert slow.get_many(1, timeout=0) == [b"a"]
    other = AloConsumer(db.new(), name, lease_ms=60000)
    wait_until(lambda: other.lease()[0] == 1, "the slow consumer's 1 ms lease to end")
    with pytest.raises(redis.ResponseError) as e:
        slow.task_done()
    assert kind_of(e.value) == "BROKEN"
    assert other.get_many(2, timeout=0) == [b"a", b"b"]
    assert other.task_done(2) == 0


def test_release_gives_messages_back_at_once(db, name):
    q = Q(db.r, name, mode="alo")
    q.put_many([b"1", b"2", b"3"])
    c = AloConsumer(db.new(), name)
    assert c.get_many(2, timeout=0) == [b"1", b"2"]
    assert db.r.lrange(c.proc, 0, -1) == [b"1", b"2"]
    assert c.release() == 2
    assert db.r.lrange(q.items, 0, -1) == [b"1", b"2", b"3"]
    assert db.r.zscore(q.consumers, c.cid) is None and not db.r.exists(c.proc)
    assert q.qsize()[:2] == [3, 3]


def test_alo_get_into_and_shutdown(db, name):
    q = Q(db.r, name, mode="alo")
    q.put_many([b"0123456789"])
    c = AloConsumer(db.new(), name)
    k7 = c.keys7
    assert db.fc("q_alo_get", k7, c.cid, 1, 60000, 4) == [3, 10]
    assert db.fc("q_alo_get", k7, c.cid, 1, 60000, 10) == [0, b"0123456789"]
    assert db.fc("q_alo_get", k7, c.cid, 1, 60000) == [1]
    q.shutdown()
    assert db.fc("q_alo_get", k7, c.cid, 1, 60000) == [2]
    with pytest.raises(EOFError):
        c.get(timeout=JOIN_S)
    assert c.task_done() == 0
