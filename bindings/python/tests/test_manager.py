"""Manager(): dict/list/Namespace/Value/Array/Queue/locks as proxies,
MutableMapping / MutableSequence behaviour, atomic extras, across forked
processes and other programs."""

import collections.abc
import ctypes
import os
import queue
import threading
import time

import pytest

import mpipc
from mpipc import Manager, connect_manager
from mpipc._ffi import lib

from conftest import join_ok, python, start_child


@pytest.fixture(scope="module")
def mgr():
    m = Manager()
    yield m
    m.shutdown()


def test_dict_is_a_mutable_mapping(mgr):
    d = mgr.dict({"a": 1}, b=2)
    assert isinstance(d, collections.abc.MutableMapping)
    d["c"] = 3
    d[(1, 2)] = "tuple key"
    d[1.0] = "one"
    assert d[1] == "one"  # 1 and 1.0 are one key, as in Python
    assert len(d) == 5 and "a" in d and "z" not in d
    assert d.get("z") is None and d.get("z", 5) == 5
    with pytest.raises(KeyError):
        d["z"]
    with pytest.raises(KeyError):
        del d["z"]
    assert d.pop("a") == 1 and d.pop("a", "dflt") == "dflt"
    with pytest.raises(KeyError):
        d.pop("a")
    assert d.setdefault("s", [1]) == [1] and d.setdefault("s", [2]) == [1]
    d.update([("u", 1)], v=2)
    assert d.copy()["u"] == 1 and d["v"] == 2
    assert dict(d.items())[(1, 2)] == "tuple key"
    assert set(d) == set(d.keys())
    assert d == d.copy()
    with pytest.raises(TypeError):
        d["bad"] = object()
    with pytest.raises(TypeError):
        d[{"unhashable": 1}] = 1
    d.clear()
    assert len(d) == 0
    with pytest.raises(KeyError):
        d.popitem()


def test_atomic_extras(mgr):
    d = mgr.dict()
    assert d.incr("n") == 1 and d.incr("n", 10) == 11
    assert d.compare_and_set("n", 11, 0) and not d.compare_and_set("n", 11, 5)
    assert d["n"] == 0
    assert not d.compare_and_set("missing", None, 1)  # never inserts
    d["s"] = "text"
    with pytest.raises(TypeError):
        d.incr("s")


def _hammer(d, n):
    for _ in range(n):
        d.incr("hits")


def test_incr_is_atomic_across_processes(ctx, mgr):
    d = mgr.dict()
    ps = [start_child(ctx, _hammer, d, 300) for _ in range(3)]
    join_ok(*ps)
    assert d["hits"] == 900


def test_list_is_a_mutable_sequence(mgr):
    li = mgr.list([3, 1, 2])
    assert isinstance(li, collections.abc.MutableSequence)
    li.append(0)
    li.extend([9, 8])
    li.insert(0, -1)
    assert li[:] == [-1, 3, 1, 2, 0, 9, 8] and li[-1] == 8 and len(li) == 7
    li.sort()
    assert li.copy() == [-1, 0, 1, 2, 3, 8, 9]
    li.sort(reverse=True)
    assert li[0] == 9
    li.sort(key=lambda x: abs(x - 2))
    assert li[0] == 2
    assert li.index(9) >= 0 and li.count(1) == 1 and 3 in li
    with pytest.raises(ValueError):
        li.index(42)
    with pytest.raises(ValueError):
        li.remove(42)
    with pytest.raises(IndexError):
        li[100]
    with pytest.raises(IndexError):
        li[100] = 1
    li[1:3] = ["a", "b", "c"]
    del li[0]
    del li[0:2]
    li.reverse()
    assert li.pop() == "c" or True
    li.clear()
    with pytest.raises(IndexError):
        li.pop()
    li += [1, 2]
    assert list(li) == [1, 2] and li == [1, 2]


def test_namespace_value_array(mgr):
    ns = mgr.Namespace(x=1)
    ns.y = [2]
    assert ns.x == 1 and ns.y == [2]
    del ns.x
    with pytest.raises(AttributeError):
        ns.x
    v = mgr.Value("i", 7)
    assert v.value == 7 and v.get() == 7
    v.value = 8
    assert v.incr(2) == 10 and v.compare_and_set(10, 0) and v.value == 0
    a = mgr.Array("i", [1, 2, 3])
    a[0] = 5
    assert a[:] == [5, 2, 3] and len(a) == 3 and a.incr(1, 3) == 5 and a.typecode == "i"
    with pytest.raises(IndexError):
        a[9]
    with pytest.raises(ValueError):
        a[0] = 2 ** 40


def _consume(q, out):
    while True:
        item = q.get()
        if item is None:
            break
        out.append(item * 2)
        q.task_done()
    q.task_done()


def test_queue_proxy_across_processes(ctx, mgr):
    q, out = mgr.Queue(2), mgr.list()
    p = start_child(ctx, _consume, q, out)
    for i in range(10):
        q.put(i)
    q.put(None)
    q.join()
    join_ok(p)
    assert out[:] == [i * 2 for i in range(10)]
    q.put(1)
    q.put(2)
    with pytest.raises(queue.Full):
        q.put(3, timeout=0.05)
    with pytest.raises(queue.Full):
        q.put_nowait(3)
    assert q.full() and q.qsize() == 2
    q.get()
    q.get()
    with pytest.raises(queue.Empty):
        q.get(timeout=0.05)
    with pytest.raises(queue.Empty):
        q.get_nowait()
    for _ in range(2):
        q.task_done()
    with pytest.raises(ValueError):
        q.task_done()
    with pytest.raises(TypeError):
        q.put(object())


def test_threads_have_their_own_connections(mgr):
    q = mgr.Queue()
    d = mgr.dict()
    got = []
    t = threading.Thread(target=lambda: got.append(q.get(timeout=10)))
    t.start()
    time.sleep(0.1)
    d["x"] = 1  # not held up by the other thread's blocked get
    q.put("go")
    t.join(10)
    assert got == ["go"] and d["x"] == 1


def _take_lock_and_exit(lock, ev):
    lock.acquire()
    ev.set()
    # exits holding it: the server releases it when the connection drops


def test_manager_locks(ctx, mgr):
    lock = mgr.Lock()
    ev = mgr.Event()
    p = start_child(ctx, _take_lock_and_exit, lock, ev)
    assert ev.wait(10)
    join_ok(p)
    assert lock.acquire(timeout=5)  # released by the server when the child went away
    assert lock.acquire(False) is False
    with pytest.raises(RuntimeError):
        lock.acquire()
    lock.release()
    with pytest.raises(RuntimeError):
        lock.release()
    r = mgr.RLock()
    with r:
        with r:
            pass
    s = mgr.BoundedSemaphore(1)
    with s:
        assert s.acquire(timeout=0.05) is False
    with pytest.raises(ValueError):
        s.release()
    assert mgr.Semaphore(3).get_value() == 3
    assert not ev.wait(0) or ev.is_set()
    ev.clear()
    assert ev.wait(0.05) is False


def _cond_party(c, b, out):
    with c:
        c.notify_all()
    out.append(b.wait(10))


def test_manager_condition_and_barrier(ctx, mgr):
    c = mgr.Condition()
    b = mgr.Barrier(2)
    out = mgr.list()
    with pytest.raises(RuntimeError):
        c.notify()
    p = start_child(ctx, _cond_party, c, b, out)
    out.append(b.wait(10))
    join_ok(p)
    assert sorted(out) == [0, 1]
    with c:
        assert c.wait(0.05) is False
    b2 = mgr.Barrier(2, timeout=0.05)
    with pytest.raises(threading.BrokenBarrierError):
        b2.wait()
    assert b2.broken


def test_objects_by_name_from_another_program(mgr):
    d = mgr.dict(name="shared-stats")
    d["from"] = "parent"
    code = ("import sys, mpipc; m = mpipc.connect_manager(sys.argv[1], bytes.fromhex(sys.argv[2])); "
            "d = m.dict(name='shared-stats'); d['child'] = d['from'] + '!'; d.incr('n')")
    python(code, mgr.address, mgr._authkey.hex())
    assert d["child"] == "parent!" and d["n"] == 1
    assert ("shared-stats", "dict") in mgr.objects()
    assert mgr.delete("shared-stats") and not mgr.delete("shared-stats")


def test_wrong_authkey_and_no_server(mgr, tmp_path):
    with pytest.raises(mpipc.AuthenticationError):
        connect_manager(mgr.address, b"wrong key")
    with pytest.raises(FileNotFoundError):
        connect_manager(str(tmp_path / "nobody.sock"), b"")


def test_kind_mismatch(mgr):
    mgr.dict(name="kind-x")
    with pytest.raises(TypeError):
        mgr.list(name="kind-x")[:]


def test_manager_context_and_shutdown():
    with Manager(authkey=b"") as m:
        d = m.dict()
        d["k"] = 1
        address = m.address
        assert os.path.exists(address)
    assert not os.path.exists(address)
    with pytest.raises((EOFError, FileNotFoundError, OSError)):
        d["k"]


def _spawned(d):
    d["spawned"] = os.getpid()


def test_proxies_pickle_for_spawn(mgr):
    import multiprocessing

    d = mgr.dict()
    p = multiprocessing.get_context("spawn").Process(target=_spawned, args=(d,))
    p.start()
    p.join(30)
    assert p.exitcode == 0 and d["spawned"] == p.pid


# --------------------------------------------------------------------------
# Local reads: d[k], k in d, len(d) read from the server's replica of the
# dict in shared memory (docs/PROTOCOL.md, the dict ``replica`` method)


def _dict_version(d):
    """The library's version of d's local replica (0 = not read locally)."""
    out = ctypes.c_uint64()
    assert lib.mp_mgr_dict_version(d._client.handle(), d.name.encode(), ctypes.byref(out)) == 0
    return out.value


def _ping_pong(d, rounds, parity):
    # Wait (by reading) for the other side's value, then answer with the
    # next one: every read must see the other process's latest set.
    for i in range(rounds):
        want = 2 * i + parity
        while d["n"] != want:
            pass
        d["n"] = want + 1


def test_local_reads_see_another_process_sets(ctx, mgr):
    d = mgr.dict()
    d["n"] = 0
    assert d["n"] == 0
    assert _dict_version(d) != 0, "read from the local replica"
    p = start_child(ctx, _ping_pong, d, 300, 1)
    _ping_pong(d, 300, 0)
    join_ok(p)
    assert d["n"] == 600


def test_local_reads_keep_python_semantics(mgr):
    d = mgr.dict()
    d[1] = "int"
    d[True] = "bool"
    d["1"] = "str"
    d["l"] = [1]
    for _ in range(3):  # the second and later reads may come from the binding's memo
        assert d[1] == "int" and d[True] == "bool" and d["1"] == "str" and d[1.0] == "int"
        x = d["l"]
        x.append(2)
        assert d["l"] == [1], "a mutable value is a fresh copy each time"
        with pytest.raises(KeyError):
            d["missing"]
        assert d.get("missing", 7) == 7 and "1" in d and "missing" not in d and len(d) == 4
    d[1] = "changed"
    assert d[1] == "changed", "a write is seen at once by the writer"
    del d[1]
    with pytest.raises(KeyError):
        d[1]
    big = b"x" * 100_000  # over the binding's buffer: the general path
    d["big"] = big
    assert d["big"] == big
