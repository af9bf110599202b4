"""Queue, JoinableQueue and the manager at a Redis / Valkey address
(docs/REDIS.md): the same Python API, a URL for a name.

The module starts its own server (scripts/redis-server.sh: a free loopback
port and a unix socket, `hz 100`) and stops it at the end. A server that is
not installed fails the run under CI=true (scripts/install-deps.sh installs
redis-server) and is skipped loudly elsewhere. Tests give every object a
name of their own, so they share the server without seeing each other's
keys. Cross-process cases use real processes (forked, spawned, or a fresh
interpreter); "blocked in another process" is a state read from the server
(INFO's blocked_clients), never a sleep.
"""

import itertools
import multiprocessing
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings

import cbor2
import pytest

import mpipc
from mpipc import JoinableQueue, Queue, SimpleQueue, connect_manager

from conftest import ROOT, child_env, join_ok, python

SCRIPT = os.path.join(ROOT, "scripts", "redis-server.sh")
_counter = itertools.count()
RUN = "pyr%d-%s" % (os.getpid(), secrets.token_hex(3))


# --------------------------------------------------------------------------
# The server


class Server:
    """A server started by scripts/redis-server.sh in a directory of its own."""

    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="mpipc-pyredis-")
        r = subprocess.run(["bash", SCRIPT, "start", self.dir, *args], capture_output=True, text=True)
        if r.returncode == 3:
            why = "the Redis / Valkey server is not installed: %s" % r.stderr.strip()
            if os.environ.get("CI") == "true":
                pytest.fail("CI=true: " + why)
            warnings.warn("SKIPPED the Python binding's Redis tests: " + why)
            print("\nSKIPPED the Python binding's Redis tests: " + why, file=sys.stderr)
            pytest.skip(why)
        assert r.returncode == 0, "redis-server.sh start failed:\n%s%s" % (r.stdout, r.stderr)
        fields = dict(kv.split("=", 1) for kv in r.stdout.split())
        self.port, self.socket = int(fields["port"]), fields["socket"]

    def stop(self):
        subprocess.run(["bash", SCRIPT, "stop", self.dir], check=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def tcp(self, name="", opts=""):
        """A queue address (or, with no name, a manager address) over TCP."""
        return "redis://127.0.0.1:%d%s%s" % (self.port, "/" + name if name else "", "?" + opts if opts else "")

    def unix(self, name="", opts=""):
        """The same over the unix socket."""
        return "redis+unix://%s%s%s" % (self.socket, "/" + name if name else "", "?" + opts if opts else "")

    def command(self, *args):
        """One command through a plain RESP connection (the unix socket): a
        plain client's view of the server, for checks and interop."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.socket)
            out = b"*%d\r\n" % len(args)
            for a in args:
                a = a if isinstance(a, bytes) else str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
            s.sendall(out)
            return _Reply(s.makefile("rb")).read()

    def blocked_clients(self):
        info = self.command("INFO", "clients").decode()
        return int(info.split("blocked_clients:", 1)[1].split()[0])

    def wait_blocked(self, n=1):
        """Waits until at least `n` clients are blocked in a server-side
        wait (BLMPOP/BLMOVE): a process is inside its blocking call. The
        bindings wait in 100 ms slices, so the count dips between slices;
        seeing it once is enough."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.blocked_clients() >= n:
                return
            time.sleep(0.005)  # polling a state, not waiting for a duration
        raise AssertionError("no client blocked on the server")


class _Reply:
    """A RESP2 reply reader (what the checks need: every reply type)."""

    def __init__(self, f):
        self.f = f

    def read(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise AssertionError("server error: %s" % rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise AssertionError("unexpected reply %r" % line)


@pytest.fixture(scope="module")
def srv():
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def qname():
    """A fresh queue / object name of this test."""
    return "%s-%d" % (RUN, next(_counter))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# Child processes (module-level: a spawned child imports them)

SHUTDOWN_EXIT = 7


def _get_until_shutdown(q):
    try:
        q.get()
    except mpipc.ShutDown:
        os._exit(SHUTDOWN_EXIT)
    os._exit(1)


def _echo(qin, qout):
    while True:
        v = qin.get(timeout=60)
        if v == "stop":
            return
        qout.put(v)


def _worker(jobs, results):
    while True:
        x = jobs.get(timeout=60)
        if x is None:
            jobs.task_done()
            return
        results.put(x * 2)
        jobs.task_done()


def _join(jq):
    jq.join()


def _get_then_hang(q, took):
    took.put(q.get(timeout=60))
    signal.pause()  # killed here, between get and task_done


def _put_blocked(q, v):
    q.put(v, timeout=60)


def _dict_incr(d, n):
    for _ in range(n):
        d.incr("hits")


def _try_lock(lk, want):
    got = lk.acquire(timeout=0.05)
    if got:
        lk.release()
    os._exit(0 if got == want else 1)


def _hold_lock_then_hang(lk, took):
    assert lk.acquire(timeout=60)
    took.put(lk._callmethod("fence"))
    signal.pause()


def _event_wait(e):
    os._exit(0 if e.wait(60) else 1)


@pytest.fixture(params=["fork", "spawn"])
def ctx(request):
    return multiprocessing.get_context(request.param)


# --------------------------------------------------------------------------
# Queue

VALUES = [
    None, True, False, 0, -1, 2 ** 63 - 1, 2 ** 64, -(2 ** 64) - 1, 2 ** 200, -(2 ** 300), 1.5, float("inf"),
    "", "héllo ✓", b"", bytes(range(256)), [], [1, [2, [3, b"x"]]], (1, "a", (2,)),
    {"id": 1, "vals": [1.5, 2.5], "raw": b"\x00\xff", "nested": {"k": None}},
    {1: "int key", (1, 2): "tuple key", b"b": "bytes key"},
]


def test_values_round_trip(srv, qname):
    q = Queue(name=srv.tcp(qname))
    assert q.name == srv.tcp(qname)
    for v in VALUES:
        q.put(v)
    assert q.qsize() == len(VALUES) and not q.empty()
    got = [q.get(timeout=10) for _ in VALUES]
    assert got == VALUES
    assert [type(v) for v in got] == [type(v) for v in VALUES]  # tuples stay tuples, big ints ints
    assert q.empty()
    q.close()


def test_values_round_trip_through_another_process(srv, qname, ctx):
    qin, qout = Queue(name=srv.tcp(qname + "-in")), Queue(name=srv.tcp(qname + "-out"))
    qin.put("warm")  # this process's connection exists before the fork
    assert qin.get(timeout=10) == "warm"
    p = ctx.Process(target=_echo, args=(qin, qout))
    p.start()
    for v in VALUES:
        qin.put(v)
    qin.put("stop")
    assert [qout.get(timeout=60) for _ in VALUES] == VALUES
    join_ok(p, timeout=60)


def test_a_fresh_interpreter_puts_by_address(srv, qname):
    addr = srv.tcp(qname)
    python("import mpipc, sys; q = mpipc.Queue(name=sys.argv[1]); q.put({'from': 'child', 'n': 2 ** 70})", addr)
    q = Queue(name=addr, create=False)
    assert q.get(timeout=10) == {"from": "child", "n": 2 ** 70}


def test_tcp_and_unix_socket_reach_one_queue(srv, qname):
    a = Queue(name=srv.tcp(qname))
    b = Queue(name=srv.unix(qname), create=False)
    a.put([1, 2])
    assert b.qsize() == 1
    assert b.get(timeout=10) == [1, 2]
    assert a.empty()


def test_local_names_stay_local(srv, name):
    q = Queue(name=name)
    assert os.path.exists("/dev/shm/mpipc.q." + name)
    g = Queue()
    assert "://" not in g.name and os.path.exists("/dev/shm/mpipc.q." + g.name)
    q.close()
    g.close()


def test_maxsize_and_put_timeout_full(srv, qname):
    q = Queue(2, name=srv.tcp(qname))
    assert q.maxsize == 2
    q.put(1)
    q.put_nowait(2)
    assert q.full() and q.qsize() == 2
    with pytest.raises(queue.Full) as e:
        q.put(3, timeout=0.05)
    assert isinstance(e.value, mpipc.Full) and e.value.code == mpipc.Full.code
    with pytest.raises(queue.Full):
        q.put_nowait(3)
    with pytest.raises(queue.Full):
        q.put(3, block=False)
    other = Queue(name=srv.tcp(qname), create=False)  # attached: the server's maxsize
    assert other.maxsize == 2 and other.full()
    assert q.get(timeout=10) == 1
    q.put(3)
    assert [q.get(timeout=10), q.get(timeout=10)] == [2, 3]
    assert not q.full()


def test_get_timeout_empty(srv, qname):
    q = SimpleQueue(name=srv.tcp(qname))
    with pytest.raises(queue.Empty) as e:
        q.get(timeout=0.05)
    assert isinstance(e.value, mpipc.Empty)
    with pytest.raises(queue.Empty):
        q.get_nowait()
    with pytest.raises(queue.Empty):
        q.get(False)
    with pytest.raises(queue.Empty):
        q.get(timeout=-1)
    assert q.empty()


def test_blocked_get_and_put_in_another_process_wake(srv, qname, ctx):
    q = Queue(1, name=srv.tcp(qname))
    p = ctx.Process(target=_echo, args=(q, Queue(name=srv.tcp(qname + "-out"))))
    p.start()
    srv.wait_blocked()  # the child waits on the server for a message
    q.put("hello")
    assert Queue(name=srv.tcp(qname + "-out"), create=False).get(timeout=60) == "hello"
    q.put("stop")
    join_ok(p, timeout=60)
    # A putter blocked on a full queue wakes when a get makes room.
    q.put("first")
    p = ctx.Process(target=_put_blocked, args=(q, "second"))
    p.start()
    srv.wait_blocked()
    assert q.get(timeout=10) == "first"
    join_ok(p, timeout=60)
    assert q.get(timeout=10) == "second"


def test_shutdown_wakes_a_getter_blocked_in_another_process(srv, qname, ctx):
    q = Queue(name=srv.tcp(qname))
    q.qsize()  # this process's connection exists before the fork
    p = ctx.Process(target=_get_until_shutdown, args=(q,))
    p.start()
    srv.wait_blocked()
    q.shutdown()
    p.join(60)
    assert p.exitcode == SHUTDOWN_EXIT
    with pytest.raises(mpipc.ShutDown):
        q.put(1)
    with pytest.raises(mpipc.ShutDown):
        q.get(timeout=10)


def test_shutdown_drains_then_immediate_discards(srv, qname):
    q = JoinableQueue(name=srv.tcp(qname))
    q.put_many([1, 2])
    q.shutdown()
    assert [q.get(timeout=10), q.get(timeout=10)] == [1, 2]
    with pytest.raises(mpipc.ShutDown):
        q.get(timeout=10)
    q2 = JoinableQueue(name=srv.tcp(qname + "-imm"))
    q2.put_many([1, 2, 3])
    q2.shutdown(immediate=True)
    with pytest.raises(mpipc.ShutDown):
        q2.get(timeout=10)
    assert q2.qsize() == 0
    q2.join(timeout=10)  # the discarded items count as done


def test_ctrl_c_interrupts_a_get_blocked_on_the_server(srv, qname):
    # A fresh interpreter blocked in q.get() (sliced server-side waits)
    # gets SIGINT: KeyboardInterrupt within a slice, and nothing is taken.
    code = ("import mpipc, sys\n"
            "q = mpipc.Queue(name=sys.argv[1])\n"
            "try:\n"
            "    q.get()\n"
            "except KeyboardInterrupt:\n"
            "    sys.exit(5)\n")
    p = subprocess.Popen([sys.executable, "-c", code, srv.tcp(qname)], env=child_env())
    try:
        srv.wait_blocked()
        p.send_signal(signal.SIGINT)
        assert p.wait(60) == 5
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    q = Queue(name=srv.tcp(qname), create=False)
    q.put("after")
    assert q.get(timeout=10) == "after"


def test_join_and_task_done_across_processes(srv, qname, ctx):
    jobs = JoinableQueue(name=srv.tcp(qname))
    results = Queue(name=srv.tcp(qname + "-res"))
    workers = [ctx.Process(target=_worker, args=(jobs, results)) for _ in range(2)]
    for w in workers:
        w.start()
    jobs.put_many(list(range(20)) + [None, None])
    jobs.join(timeout=60)
    assert sorted(results.get(timeout=10) for _ in range(20)) == [2 * x for x in range(20)]
    join_ok(*workers, timeout=60)
    with pytest.raises(ValueError, match="too many times"):
        jobs.task_done()


def test_join_blocked_in_another_process_wakes_at_task_done(srv, qname, ctx):
    jq = JoinableQueue(name=srv.tcp(qname))
    jq.put("job")
    p = ctx.Process(target=_join, args=(jq,))
    p.start()
    srv.wait_blocked()
    assert jq.get(timeout=10) == "job"
    assert p.is_alive()  # nothing has been marked done: the joiner still waits
    jq.task_done()
    join_ok(p, timeout=60)
    jq.put("more")
    with pytest.raises(mpipc.Timeout):
        jq.join(timeout=0.05)


def test_put_many_get_many(srv, qname):
    q = Queue(name=srv.tcp(qname))
    q.put_many(range(1000))
    assert q.qsize() == 1000
    got = []
    while len(got) < 1000:
        batch = q.get_many(300, timeout=10)
        assert 1 <= len(batch) <= 300
        got += batch
    assert got == list(range(1000))
    with pytest.raises(queue.Empty):
        q.get_many(10, timeout=0.05)
    # Messages bigger than this thread's receive buffer (64 KiB).
    big = [bytes([i]) * 200_000 for i in range(3)]
    q.put_many(big)
    got = []
    while len(got) < 3:
        got += q.get_many(10, timeout=10)
    assert got == big
    q.put(b"y" * 300_000)
    assert q.get(timeout=10) == b"y" * 300_000


def test_put_many_on_a_bounded_queue_reports_how_many(srv, qname):
    q = Queue(10, name=srv.tcp(qname))
    with pytest.raises(queue.Full) as e:
        q.put_many(range(15), timeout=0.05)
    assert e.value.args[1] == 10
    assert q.get_many(100, timeout=10) == list(range(10))


def test_bytes_and_a_plain_client_interoperate(srv, qname):
    q = Queue(name=srv.tcp(qname))
    q.put({"id": 1, "task": "resize"})
    items = "mpipc:q:{%s}:items" % qname
    assert [cbor2.loads(m) for m in srv.command("LRANGE", items, 0, -1)] == [{"id": 1, "task": "resize"}]
    keys = ["mpipc:q:{%s}:%s" % (qname, k) for k in ("items", "meta", "room", "done", "shut")]
    srv.command("FCALL", "mpipc_1_q_put", 5, *keys, "-", cbor2.dumps([1, "from a plain client"]))
    assert q.get(timeout=10) == {"id": 1, "task": "resize"}
    assert q.get(timeout=10) == [1, "from a plain client"]
    q.put_bytes(b"\x01raw")
    assert q.get_bytes(timeout=10) == b"\x01raw"


def test_at_least_once_gives_a_killed_consumers_message_back(srv, qname, ctx):
    addr = srv.tcp(qname, "ack=at-least-once&lease_ms=1000")
    q = JoinableQueue(name=addr)
    q.put({"job": 1})
    q.qsize()  # this process's handle and connection exist before a fork: the child is its own consumer
    took = Queue(name=srv.tcp(qname + "-took"))
    p = ctx.Process(target=_get_then_hang, args=(q, took))
    p.start()
    assert took.get(timeout=60) == {"job": 1}
    os.kill(p.pid, signal.SIGKILL)
    p.join()
    # The dead consumer's lease ends; a get of another consumer gives the
    # message back and takes it.
    assert q.get(timeout=60) == {"job": 1}
    q.task_done()
    q.join(timeout=10)
    assert q.qsize() == 0


def test_at_most_once_loses_a_killed_consumers_message(srv, qname):
    q = JoinableQueue(name=srv.tcp(qname))
    q.put({"job": 1})
    took = Queue(name=srv.tcp(qname + "-took"))
    p = multiprocessing.get_context("spawn").Process(target=_get_then_hang, args=(q, took))
    p.start()
    assert took.get(timeout=60) == {"job": 1}
    os.kill(p.pid, signal.SIGKILL)
    p.join()
    assert q.qsize() == 0
    with pytest.raises(queue.Empty):
        q.get_nowait()


def test_ack_mode_must_match_the_queue(srv, qname):
    Queue(name=srv.tcp(qname, "ack=at-least-once"))
    Queue(name=srv.tcp(qname))  # left out: the queue's mode
    with pytest.raises(mpipc.InvalidArgument):
        Queue(name=srv.tcp(qname, "ack=at-most-once"))


def test_options_that_do_not_apply_are_unsupported(srv, qname):
    with pytest.raises(AttributeError) as e:
        Queue(name=srv.tcp(qname), capacity_bytes=4096)
    assert isinstance(e.value, mpipc.Unsupported) and e.value.status_name == "MP_E_UNSUPPORTED"
    assert "capacity_bytes" in str(e.value)
    with pytest.raises(mpipc.Unsupported, match="TLS"):
        Queue(name="rediss://127.0.0.1:%d/%s" % (srv.port, qname))


def test_bad_addresses_name_the_wrong_part(srv, qname):
    with pytest.raises(mpipc.InvalidArgument, match="notaport"):
        Queue(name="redis://127.0.0.1:notaport/" + qname)
    with pytest.raises(mpipc.InvalidArgument, match="bogus"):
        Queue(name=srv.tcp(qname, "bogus=1"))
    with pytest.raises(mpipc.InvalidArgument):
        Queue(name=srv.tcp("bad name!"))


def test_unreachable_server_is_an_error_not_a_hang(qname):
    with pytest.raises(OSError):
        Queue(name="redis://127.0.0.1:%d/%s?timeout_ms=5000" % (_free_port(), qname))


def test_create_attach_and_unlink(srv, qname):
    addr = srv.tcp(qname)
    with pytest.raises(FileNotFoundError):
        Queue(name=addr, create=False)
    q = Queue(name=addr, create=True)
    with pytest.raises(FileExistsError):
        Queue(name=addr, create=True)
    q.put(1)
    q.unlink()
    assert srv.command("KEYS", "mpipc:q:{%s}*" % qname) == []
    with pytest.raises(FileNotFoundError):
        Queue(name=addr, create=False)
    with pytest.raises(FileNotFoundError):
        mpipc.unlink("queue", addr)
    Queue(name=addr)
    mpipc.unlink("queue", addr)
    assert srv.command("KEYS", "mpipc:q:{%s}*" % qname) == []


# --------------------------------------------------------------------------
# Manager


@pytest.fixture(scope="module")
def mgr(srv):
    # The default lease (10 s): a short one could end under a loaded
    # machine while a test holds a lock; test_manager_lock_of_a_killed_
    # holder_is_a_lease uses a short one of its own.
    m = connect_manager(srv.tcp(opts="ns=" + RUN))
    yield m


def test_manager_address_is_passed_as_it_is(srv, mgr):
    assert mgr.address == srv.tcp(opts="ns=" + RUN)
    assert mgr.connected


def test_manager_dict(srv, mgr):
    d = mgr.dict({"a": 1}, b=2)
    d["c"] = {"nested": [1, 2 ** 70, b"\x00"]}
    d[(1, 2)] = "tuple key"
    assert d["a"] == 1 and d["c"] == {"nested": [1, 2 ** 70, b"\x00"]} and d[(1, 2)] == "tuple key"
    assert len(d) == 4 and "a" in d and "z" not in d
    assert sorted(map(repr, d.keys())) == sorted(map(repr, ["a", "b", "c", (1, 2)]))
    assert dict(d.items()) == {"a": 1, "b": 2, "c": {"nested": [1, 2 ** 70, b"\x00"]}, (1, 2): "tuple key"}
    assert d.get("z") is None and d.get("z", 5) == 5
    with pytest.raises(KeyError):
        d["z"]
    del d["a"]
    with pytest.raises(KeyError):
        del d["a"]
    with pytest.raises(KeyError):
        d["a"]
    assert d.setdefault("s", 1) == 1 and d.setdefault("s", 2) == 1
    assert d.pop("s") == 1 and d.pop("s", "gone") == "gone"
    d.update({"u": 1}, v=2)
    assert d["u"] == 1 and d["v"] == 2
    d.clear()
    assert len(d) == 0


def test_manager_dict_incr_and_compare_and_set(mgr):
    d = mgr.dict()
    assert d.incr("n") == 1
    assert d.incr("n", 41) == 42
    assert d.compare_and_set("n", 42, 43) is True
    assert d.compare_and_set("n", 42, 44) is False
    assert d["n"] == 43
    assert d.compare_and_set("absent", None, 1) is False and "absent" not in d
    d["big"] = 2 ** 63 - 2
    assert d.incr("big") == 2 ** 63 - 1  # exact over the signed 64-bit range
    with pytest.raises(ValueError):
        d.incr("big")  # beyond it: MP_E_INVAL, nothing changes
    assert d["big"] == 2 ** 63 - 1
    d["text"] = "x"
    with pytest.raises(TypeError):
        d.incr("text")


def test_manager_dict_incr_across_processes(mgr, ctx):
    d = mgr.dict()
    d["hits"] = 0
    ps = [ctx.Process(target=_dict_incr, args=(d, 50)) for _ in range(2)]
    for p in ps:
        p.start()
    join_ok(*ps, timeout=60)
    assert d["hits"] == 100


def test_manager_over_the_unix_socket_sees_the_same_objects(srv, mgr):
    d = mgr.dict(name=RUN + "-shared")
    d["k"] = [1, "v"]
    other = connect_manager(srv.unix(opts="ns=" + RUN))
    assert other.dict(name=RUN + "-shared")["k"] == [1, "v"]


def test_a_proxy_travels_through_a_redis_queue(srv, mgr, qname):
    d = mgr.dict(name=qname)
    d["k"] = "seen"
    q = Queue(name=srv.tcp(qname))
    q.put(d)
    # A fresh interpreter with no manager of its own: the reference carries
    # the address, and the proxy connects with no key (the URL's password).
    r = python("import mpipc, sys; q = mpipc.Queue(name=sys.argv[1]); d = q.get(timeout=10); "
               "print(d['k']); d['back'] = 1", srv.tcp(qname))
    assert r.stdout.strip() == "seen" and d["back"] == 1


def test_manager_list_value_namespace(mgr):
    li = mgr.list([1, 2])
    li.append(3)
    li.extend([4, (5, 6)])
    assert len(li) == 5 and li[0] == 1 and li[-1] == (5, 6) and li[1:3] == [2, 3]
    assert li.pop() == (5, 6) and li.index(3) == 2
    li.remove(1)
    assert list(li) == [2, 3, 4]
    with pytest.raises(ValueError):
        li.remove(99)
    with pytest.raises(IndexError):
        li[10]
    li[0] = "two"
    assert list(li) == ["two", 3, 4]

    v = mgr.Value("i", 5)
    assert v.value == 5
    v.value = 7
    assert v.get() == 7 and v.incr(3) == 10
    assert v.compare_and_set(10, 11) is True and v.compare_and_set(10, 12) is False and v.value == 11

    ns = mgr.Namespace(x=1)
    ns.y = [1, {"z": None}]
    assert ns.x == 1 and ns.y == [1, {"z": None}]
    with pytest.raises(AttributeError):
        ns.missing


def test_manager_lock(mgr, ctx):
    lk = mgr.Lock()
    assert lk.acquire() is True
    assert lk.acquire(timeout=0.05) is False  # not reentrant
    p = ctx.Process(target=_try_lock, args=(lk, False))
    p.start()
    join_ok(p, timeout=60)  # held here: the other process times out
    f1 = lk._callmethod("fence")
    lk.release()
    with pytest.raises(RuntimeError):
        lk.release()  # not held
    p = ctx.Process(target=_try_lock, args=(lk, True))
    p.start()
    join_ok(p, timeout=60)
    with lk:
        assert lk._callmethod("fence") > f1  # every hold gets a larger token

    r = mgr.RLock()
    assert r.acquire() and r.acquire()
    r.release()
    r.release()
    with pytest.raises(RuntimeError):
        r.release()


def test_manager_lock_of_a_killed_holder_is_a_lease(srv):
    m = connect_manager(srv.tcp(opts="ns=" + RUN + "&lease_ms=1000"))
    lk = m.Lock()
    took = Queue()
    p = multiprocessing.get_context("fork").Process(target=_hold_lock_then_hang, args=(lk, took))
    p.start()
    fence = took.get(timeout=60)
    os.kill(p.pid, signal.SIGKILL)
    p.join()
    # The holder's lease (lease_ms=1000 in the address) ends: the lock is free.
    assert lk.acquire(timeout=60) is True
    assert lk._callmethod("fence") > fence
    lk.release()
    took.close()


def test_manager_semaphore(mgr):
    s = mgr.Semaphore(2)
    assert s.acquire() and s.acquire()
    assert s.acquire(timeout=0.05) is False
    assert s.get_value() == 0
    s.release()
    assert s.acquire(timeout=10) is True
    s.release(2)
    assert s.get_value() == 2
    b = mgr.BoundedSemaphore(1)
    assert b.acquire()
    b.release()
    with pytest.raises(ValueError):
        b.release()


def test_manager_event(srv, mgr, ctx):
    e = mgr.Event()
    assert not e.is_set() and e.wait(0.05) is False
    p = ctx.Process(target=_event_wait, args=(e,))
    p.start()
    srv.wait_blocked()
    e.set()
    join_ok(p, timeout=60)
    assert e.is_set() and e.wait(0) is True
    e.clear()
    assert not e.is_set()


def test_manager_queue(mgr):
    q = mgr.Queue(2)
    q.put({"a": 1})
    q.put_nowait(2)
    with pytest.raises(queue.Full):
        q.put(3, timeout=0.05)
    assert q.qsize() == 2 and q.full()
    assert q.get(timeout=10) == {"a": 1} and q.get_nowait() == 2
    with pytest.raises(queue.Empty):
        q.get(timeout=0.05)
    q.task_done()
    q.task_done()
    q.join(timeout=10)


def test_manager_queue_is_the_queue_at_its_address(srv, mgr, qname):
    mq = mgr.Queue(name=qname)
    q = JoinableQueue(name=srv.tcp(qname, "ns=" + RUN), create=False)
    mq.put({"via": "manager"})
    assert q.get(timeout=10) == {"via": "manager"}
    q.put([2 ** 70])
    assert mq.get(timeout=10) == [2 ** 70]
    q.task_done()
    mq.task_done()
    q.join(timeout=10)


def test_manager_kinds_not_on_redis_are_unsupported(mgr):
    for make in (mgr.Condition, lambda: mgr.Barrier(2), lambda: mgr.Array("i", 3)):
        with pytest.raises(AttributeError) as e:
            make()
        assert isinstance(e.value, mpipc.Unsupported)


def test_manager_objects_and_delete(mgr):
    d = mgr.dict(name=RUN + "-listed")
    d["x"] = 1
    assert (RUN + "-listed", "dict") in mgr.objects()
    assert mgr.delete(RUN + "-listed") is True
    assert len(mgr.dict(name=RUN + "-listed")) == 0


def test_a_manager_is_not_served_at_a_redis_address(srv):
    with pytest.raises(ValueError):
        mpipc.Manager(address=srv.tcp())


def test_manager_at_a_closed_port_is_an_error(qname):
    with pytest.raises(OSError):
        connect_manager("redis://127.0.0.1:%d?timeout_ms=5000" % _free_port())


# --------------------------------------------------------------------------
# A server restarted (AOF, appendfsync always): a clear error, then the next
# call reconnects, and no acknowledged write is lost


def _after_restart(fn):
    """fn() on a connection made before the restart: the first call may
    fail with EOFError (mpipc.EOF; it may or may not have been applied,
    nothing is retried for the caller); the next one reconnects."""
    try:
        return fn()
    except EOFError as e:
        assert isinstance(e, mpipc.EOF) and "next call reconnects" in str(e)
        return fn()


def test_server_restart(qname):
    s = Server()
    try:
        q = JoinableQueue(name=s.unix(qname))
        m = connect_manager(s.unix())
        d = m.dict(name=qname)
        q.put_many(range(100))
        d["k"] = {"kept": True}
        r = subprocess.run(["bash", SCRIPT, "restart", s.dir], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert _after_restart(q.qsize) == 100
        assert _after_restart(lambda: d["k"]) == {"kept": True}
        assert m.connected  # a call went through: connected again, no reconnect() needed
        assert q.get_many(1000, timeout=10) == list(range(100))
        for _ in range(100):
            q.task_done()
        q.join(timeout=10)
    finally:
        s.stop()


# --------------------------------------------------------------------------
# A server with a password: the authkey is the password


@pytest.fixture(scope="module")
def srv_pw():
    s = Server("--password", "s3cret")
    yield s
    s.stop()


def test_queue_password_in_the_address(srv_pw, qname):
    q = Queue(name="redis://:s3cret@127.0.0.1:%d/%s" % (srv_pw.port, qname))
    q.put(1)
    assert q.get(timeout=10) == 1
    with pytest.raises(mpipc.AuthenticationError):
        Queue(name="redis://:wrong@127.0.0.1:%d/%s" % (srv_pw.port, qname))
    with pytest.raises(mpipc.AuthenticationError):
        Queue(name=srv_pw.tcp(qname))


def test_manager_authkey_is_the_password(srv_pw):
    m = connect_manager(srv_pw.tcp(), authkey=b"s3cret")
    d = m.dict()
    d["k"] = 1
    assert d["k"] == 1
    with pytest.raises(mpipc.AuthenticationError):
        connect_manager(srv_pw.tcp(), authkey=b"wrong")
    with pytest.raises(mpipc.AuthenticationError):
        connect_manager(srv_pw.tcp())
    m2 = connect_manager("redis://:s3cret@127.0.0.1:%d" % srv_pw.port)
    assert m2.dict(name=d.name)["k"] == 1
    with pytest.raises(ValueError):
        connect_manager("redis://:s3cret@127.0.0.1:%d" % srv_pw.port, authkey=b"other")


# --------------------------------------------------------------------------
# Valkey: the same calls


@pytest.fixture(scope="module")
def valkey():
    s = Server("--valkey")
    yield s
    s.stop()


def test_valkey_queue_and_dict(valkey, qname):
    q = JoinableQueue(3, name="valkey://127.0.0.1:%d/%s" % (valkey.port, qname))
    q.put_many(VALUES[:3])
    assert q.get_many(10, timeout=10) == VALUES[:3]
    for _ in range(3):
        q.task_done()
    q.join(timeout=10)
    m = connect_manager("valkey+unix://" + valkey.socket)
    d = m.dict()
    assert d.incr("n", 2) == 2 and d["n"] == 2


def test_a_repr_never_shows_the_password():
    from mpipc._common import redact_address
    assert redact_address("redis://:s3cret@h:1/0/q") == "redis://:***@h:1/0/q"
    assert redact_address("redis://u:p%40w@h/q?ns=x") == "redis://u:***@h/q?ns=x"
    assert redact_address("redis+unix:///s.sock/q?db=1&password=x&ns=y") == "redis+unix:///s.sock/q?db=1&password=***&ns=y"
    assert redact_address("redis://h/q") == "redis://h/q"
    assert redact_address("jobs") == "jobs"
