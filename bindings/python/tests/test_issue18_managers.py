"""Issue #18, the manager parts: bug 2 (a proxy used as a value never
panics), bug 3 (Namespace attributes are the user's), gap 3 (nested
proxies: a proxy stored anywhere arrives as a proxy of the same object),
gap 6 (ListProxy arithmetic, iteration, repr/str as multiprocessing's),
gap 11's BaseManager / SyncManager ``register()`` and ``BaseProxy``, and
``Manager(serializer="pickle")``.

Real processes, started by fork and by spawn, as CPython's
test_multiprocessing runs them; where the point is "as multiprocessing
does", the same scenario runs against a stock ``multiprocessing.Manager()``
beside mpipc's and the outcomes are compared."""

import collections.abc
import multiprocessing
import multiprocessing.managers
import os
import queue
import re
import sys
import threading

import pytest

import mpipc
import mpipc.managers as mm

from conftest import join_ok, python

METHODS = ["fork", "spawn"]


@pytest.fixture(scope="module")
def mgr():
    m = mpipc.Manager()
    yield m
    m.shutdown()


@pytest.fixture(scope="module")
def stock():
    """A stock multiprocessing manager, the reference behaviour."""
    m = multiprocessing.get_context("fork").Manager()
    yield m
    m.shutdown()


def _no_panic(fn):
    """Runs fn(); a BaseException that is not an Exception (pyo3's
    PanicException: "Already borrowed") fails the test with its name."""
    try:
        return fn()
    except Exception:
        raise
    except BaseException as e:  # noqa: B036 -- the very thing under test
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        pytest.fail("%s.%s escaped: %s" % (type(e).__module__, type(e).__name__, e))


# --------------------------------------------------------------------------
# Bug 2: a proxy used as a value


def _as_value_route(m, d, route):
    """One way of using proxy `d` as a value: (put, get, what to close)."""
    if route == "mpipc.Queue.put":
        q = mpipc.Queue()
        return lambda: q.put(d), lambda: q.get(timeout=10), q
    if route == "QueueProxy.put":
        mq = m.Queue()
        return lambda: mq.put(d), lambda: mq.get(timeout=10), None
    if route == "list.append":
        li = m.list()
        return lambda: li.append(d), lambda: li[0], None
    if route == "dict(x=d)":
        made = {}
        return lambda: made.setdefault("o", m.dict(x=d)), lambda: made["o"]["x"], None
    d2 = m.dict()
    return lambda: d2.__setitem__("k", d), lambda: d2["k"], None


ROUTES = ["mpipc.Queue.put", "QueueProxy.put", "list.append", "dict(x=d)", "d2[k] = d"]


@pytest.mark.parametrize("route", ROUTES)
def test_bug2_proxy_as_value_never_panics(mgr, route):
    d = mgr.dict(a=1)
    put, get, closeable = _as_value_route(mgr, d, route)
    _no_panic(put)
    got = _no_panic(get)
    assert isinstance(got, mm.DictProxy)
    assert got._token.id == d._token.id and got["a"] == 1
    got["b"] = 2  # the same object
    assert d["b"] == 2
    if closeable is not None:
        closeable.close()


def test_bug2_dict_factory_with_a_proxy_value(mgr):
    d = mgr.dict()
    outer = _no_panic(lambda: mgr.dict(x=d, y=[d, {"z": d}]))
    d["n"] = 5
    assert outer["x"]["n"] == 5
    y = outer["y"]
    assert y[0]["n"] == 5 and y[1]["z"]["n"] == 5


# --------------------------------------------------------------------------
# Gap 3: nested proxies, across processes


def _open_nested(route, holders):
    """The payload that went by `route`, read in this (child) process."""
    mq, q, hd, hl, hns, hv = holders
    if route == "mpipc.Queue":
        return mq.get(timeout=30)
    if route == "QueueProxy":
        return q.get(timeout=30)
    if route == "dict":
        return hd["payload"]
    if route == "list":
        return hl[0]
    if route == "Namespace":
        return hns.payload
    return hv.value


NESTED_ROUTES = ["mpipc.Queue", "QueueProxy", "dict", "list", "Namespace", "Value"]


def _use_nested(holders, names, out):
    try:
        for route in NESTED_ROUTES:
            p = _open_nested(route, holders)
            d, inner = p["d"], p["nested"]
            li, (ns,) = inner[0], inner[1]
            assert isinstance(d, mm.DictProxy) and d._token.id == names[0], (route, d)
            assert isinstance(li, mm.ListProxy) and li._token.id == names[1], (route, li)
            assert isinstance(ns, mm.NamespaceProxy) and ns._token.id == names[2], (route, ns)
            assert isinstance(inner[1], tuple)
            d.incr("hits")
            li.append(route)
            ns.last = route
        out.put("ok")
    except BaseException as e:
        out.put("%s: %s" % (type(e).__name__, e))
        raise


@pytest.mark.parametrize("method", METHODS)
def test_nested_proxies_arrive_as_proxies_in_another_process(mgr, method):
    ctx = multiprocessing.get_context(method)
    d, li, ns = mgr.dict(), mgr.list(), mgr.Namespace()
    payload = {"d": d, "nested": [li, (ns,)]}
    mq, q = mpipc.Queue(), mgr.Queue()
    hd, hl, hns, hv = mgr.dict(), mgr.list(), mgr.Namespace(), mgr.Value("O", None)
    mq.put(payload)
    q.put(payload)
    hd["payload"] = payload
    hl.append(payload)
    hns.payload = payload
    hv.value = payload
    out = mpipc.SimpleQueue()
    p = ctx.Process(target=_use_nested, args=((mq, q, hd, hl, hns, hv), (d._id, li._id, ns._id), out),
                    daemon=True)
    p.start()
    join_ok(p, timeout=60)
    assert out.get() == "ok"
    assert d["hits"] == len(NESTED_ROUTES)
    assert li[:] == NESTED_ROUTES
    assert ns.last == NESTED_ROUTES[-1]
    # and read back here, each holder gives the proxies again
    assert hd["payload"]["nested"][0]._id == li._id
    assert hv.value["nested"][1][0].last == NESTED_ROUTES[-1]
    mq.close()
    out.close()


def test_reference_decodes_through_a_manager_opened_elsewhere(mgr):
    # A program that connected by address (not the one that made d) gets
    # proxies through its own connection.
    d = mgr.dict(k="v")
    holder = mgr.dict()
    holder["ref"] = {"inner": d}
    code = ("import sys, mpipc; m = mpipc.connect_manager(sys.argv[1], bytes.fromhex(sys.argv[2])); "
            "h = m.dict(name=sys.argv[3]); p = h['ref']['inner']; "
            "assert type(p).__name__ == 'DictProxy', p; p['child'] = p['k'] + '!'; print(p._id)")
    r = python(code, mgr.address, mgr._authkey.hex(), holder._id)
    assert r.stdout.strip() == d._id
    assert d["child"] == "v!"


def test_reference_is_the_tag_of_protocol_md(mgr):
    # REF = 0x6d707266 around [kind, name, address] (docs/PROTOCOL.md).
    import cbor2

    d = mgr.dict()
    tag = cbor2.loads(mpipc.encode(d))
    assert isinstance(tag, cbor2.CBORTag) and tag.tag == 0x6D707266
    assert list(tag.value) == ["dict", d._id, d._client.address]
    assert tag.value[2].startswith("unix:")


# --------------------------------------------------------------------------
# Bug 3: Namespace attributes are the user's


def test_bug3_namespace_name_attribute_is_the_users(mgr):
    n = mgr.Namespace()
    with pytest.raises(AttributeError):
        n.name  # nothing set yet: not the proxy's own name
    n.name = "Bob"
    assert n.name == "Bob"
    assert mgr.Namespace(name="Bob").name == "Bob"
    m2 = mgr.Namespace(name="Ann", x=1)
    assert (m2.name, m2.x) == ("Ann", 1)
    assert m2._token.id == m2._id and m2._id != "Ann"


def test_bug3_no_public_attribute_of_the_proxy_shadows_the_users(mgr):
    n = mgr.Namespace()
    public = sorted({a for cls in type(n).__mro__ for a in vars(cls) if not a.startswith("_")})
    for a in public + ["name", "get", "set", "value", "copy", "keys", "items"]:
        setattr(n, a, a + "!")
        assert getattr(n, a) == a + "!", a
        delattr(n, a)
        assert not hasattr(n, a), a


def test_bug3_same_as_multiprocessing(mgr, stock):
    for m in (mgr, stock):
        n = m.Namespace(name="Bob", x=1)
        n.y = [2]
        assert (n.name, n.x, n.y) == ("Bob", 1, [2])
        assert str(n) == "Namespace(name='Bob', x=1, y=[2])"
        n._local = 5  # underscore names stay on the proxy, in both
        assert n._local == 5 and "_local" not in str(n)


def _set_name_in_child(n, out):
    n.name = "from %d" % os.getpid()
    out.put(n.name)


@pytest.mark.parametrize("method", METHODS)
def test_bug3_namespace_in_another_process(mgr, method):
    ctx = multiprocessing.get_context(method)
    n = mgr.named("ns-%s-%d" % (method, os.getpid())).Namespace(name="parent")
    out = mpipc.SimpleQueue()
    p = ctx.Process(target=_set_name_in_child, args=(n, out), daemon=True)
    p.start()
    join_ok(p, timeout=60)
    assert out.get() == n.name == "from %d" % p.pid
    out.close()


def test_named_gives_the_server_name(mgr):
    n = mgr.named("cfg-named").Namespace(x=1, name="the attribute")
    assert n._id == "cfg-named" and n.name == "the attribute"
    assert mgr.named("cfg-named").Namespace().x == 1  # attaches to the same object
    q = mgr.named("jobs-named").Queue(3)
    assert q.name == "jobs-named" and ("jobs-named", "queue") in mgr.objects()
    code = ("import sys, mpipc; m = mpipc.connect_manager(sys.argv[1], bytes.fromhex(sys.argv[2])); "
            "print(m.named('cfg-named').Namespace().x)")
    assert python(code, mgr.address, mgr._authkey.hex()).stdout.strip() == "1"


# --------------------------------------------------------------------------
# Gap 6: ListProxy arithmetic, iteration, repr / str


@pytest.mark.parametrize("impl", ["mpipc", "multiprocessing"])
def test_list_arithmetic_as_multiprocessing(mgr, stock, impl):
    m = mgr if impl == "mpipc" else stock
    li = m.list([1, 2])
    s = li + [3]
    assert type(s) is list and s == [1, 2, 3]
    assert type(li * 2) is list and li * 2 == [1, 2, 1, 2]
    assert type(2 * li) is list and 2 * li == [1, 2, 1, 2]
    with pytest.raises(TypeError):
        [0] + li  # neither has __radd__
    with pytest.raises(TypeError):
        li + (3,)
    same = li
    same += [3]
    assert same is li and li[:] == [1, 2, 3]
    same *= 2
    assert same is li and li[:] == [1, 2, 3, 1, 2, 3]
    same *= 0
    assert same is li and li[:] == []


def _append_when(li, go, done):
    go.wait(30)
    li.append("late")
    done.set()


def _add_key_when(d, go, done):
    go.wait(30)
    d["late"] = 1
    done.set()


@pytest.mark.parametrize("impl", ["mpipc", "multiprocessing"])
def test_iteration_is_a_live_view_as_multiprocessing(mgr, stock, impl):
    m = mgr if impl == "mpipc" else stock
    ctx = multiprocessing.get_context("fork")
    # A list: iterating sees what another process appended meanwhile.
    li = m.list([1, 2])
    go, done = m.Event(), m.Event()
    p = ctx.Process(target=_append_when, args=(li, go, done), daemon=True)
    p.start()
    it = iter(li)
    assert next(it) == 1
    go.set()
    assert done.wait(30)
    assert list(it) == [2, "late"]
    join_ok(p)
    # A dict: another process adds a key during the iteration: RuntimeError.
    d = m.dict(a=1, b=2)
    go, done = m.Event(), m.Event()
    p = ctx.Process(target=_add_key_when, args=(d, go, done), daemon=True)
    p.start()
    it = iter(d)
    assert next(it) == "a"
    go.set()
    assert done.wait(30)
    with pytest.raises(RuntimeError, match="changed size during iteration"):
        list(it)
    join_ok(p)
    # Without changes both iterate all keys, in insertion order.
    assert list(d) == ["a", "b", "late"] and sorted(iter(m.dict({3: 0, 1: 0}))) == [1, 3]


def test_iteration_of_a_long_list(mgr):
    li = mgr.list(range(3000))
    assert list(li) == list(range(3000)) and list(reversed(li)) == list(range(2999, -1, -1))


def _shape(s):
    """A repr with addresses and generated names blanked."""
    return re.sub(r"0x[0-9a-f]+", "0x?", re.sub(r", name '[^']*'", "", s))


def test_repr_and_str_as_multiprocessing(mgr, stock):
    kinds = [
        ("dict", lambda m: m.dict(a=1)), ("list", lambda m: m.list([1, 2])),
        ("Namespace", lambda m: m.Namespace(x=1)), ("Value", lambda m: m.Value("i", 3)),
        ("Array", lambda m: m.Array("i", [1, 2])),
    ]
    for typeid, make in kinds:
        mine, theirs = make(mgr), make(stock)
        # repr: "<DictProxy object, typeid 'dict' at 0x...>" (no call to the server)
        assert _shape(repr(mine)) == _shape(repr(theirs)), (repr(mine), repr(theirs))
        assert ", name %r" % mine._id in repr(mine)
        # str: the object's state, as the referent's own str
        assert str(mine) == str(theirs), (str(mine), str(theirs))
    # The synchronisation kinds: str shows the state as threading's does
    # (threading's reprs show it since Python 3.11: compare with stock there).
    for m in (mgr, stock) if sys.version_info >= (3, 11) else (mgr,):
        e = m.Event()
        assert str(e).endswith(": unset>")
        e.set()
        assert str(e).endswith(": set>")
        assert "value=2>" in str(m.Semaphore(2))
        assert "waiters=0/2>" in str(m.Barrier(2))
        lk = m.Lock()
        assert str(lk).startswith("<unlocked ")
        lk.acquire()
        assert str(lk).startswith("<locked ")
        lk.release()
    assert _shape(repr(mgr.Event())) == "<EventProxy object, typeid 'Event' at 0x?>"


def test_str_of_a_proxy_whose_server_is_gone():
    m = mpipc.Manager()
    d = m.dict(a=1)
    assert str(d) == "{'a': 1}"
    m.shutdown()
    assert str(d).endswith("; '__str__()' failed>")  # as multiprocessing's
    assert repr(d).startswith("<DictProxy object, typeid 'dict'")


def test_event_repr_shows_the_state_as_multiprocessing():
    theirs = multiprocessing.get_context("fork").Event()
    mine = mpipc.Event()
    # multiprocessing's Event repr shows the state since Python 3.11.
    for e in (mine, theirs) if sys.version_info >= (3, 11) else (mine,):
        assert re.fullmatch(r"<Event at 0x[0-9a-f]+ unset( name='[^']+')?>", repr(e)), repr(e)
        e.set()
        assert re.fullmatch(r"<Event at 0x[0-9a-f]+ set( name='[^']+')?>", repr(e)), repr(e)
    assert "name=%r" % mine.name in repr(mine)
    mine.close()
    assert " closed " in repr(mine)


# --------------------------------------------------------------------------
# Gap 11: BaseProxy, BaseManager / SyncManager register()


def test_every_proxy_is_a_base_proxy(mgr):
    made = [mgr.dict(), mgr.list(), mgr.Namespace(), mgr.Value("i", 0), mgr.Array("i", 2), mgr.Queue(),
            mgr.JoinableQueue(), mgr.Lock(), mgr.RLock(), mgr.Semaphore(), mgr.BoundedSemaphore(), mgr.Event(),
            mgr.Condition(), mgr.Barrier(2)]
    for p in made:
        assert isinstance(p, mm.BaseProxy), p
        assert p._token.address == mgr.address
    assert isinstance(made[0], collections.abc.MutableMapping)
    assert mm.BaseProxy is mpipc.managers.BaseProxy
    assert issubclass(mm.SyncManager, mm.BaseManager)


class _TotalDict(mm.DictProxy):
    def total(self):
        return sum(self.values())


class _Registered(mm.BaseManager):
    pass


_Registered.register("dict", dict)
_Registered.register("Jobs", queue.Queue)
_Registered.register("TotalDict", dict, _TotalDict)
_Registered.register("StockDict", dict, multiprocessing.managers.DictProxy)
_Registered.register("Shared", proxytype=mm.DictProxy)  # the object named "Shared"
_Registered.register("Cfg", proxytype=mm.NamespaceProxy)


class _Client(mm.BaseManager):
    pass


_Client.register("Shared")  # no kind given: the existing object's
_Client.register("Missing")


def _use_registered(address, authkey, out):
    m = _Client(address, authkey).connect()
    s = m.Shared()
    s["child"] = os.getpid()
    out.put(type(s).__name__)
    try:
        m.Missing()
    except LookupError as e:
        out.put("LookupError: %s" % e)


@pytest.mark.parametrize("method", METHODS)
def test_register_builtin_kinds(method):
    ctx = multiprocessing.get_context(method)
    m = _Registered().start()
    try:
        assert isinstance(m.dict(a=1), mm.DictProxy) and m.dict(a=1)._token.typeid == "dict"
        j1, j2 = m.Jobs(), m.Jobs()
        assert isinstance(j1, mm.QueueProxy) and j1._id != j2._id  # a new queue per call
        assert j1._token.typeid == "Jobs"
        t = m.TotalDict(a=1, b=2)
        assert type(t) is _TotalDict and t.total() == 3
        assert type(m.StockDict()) is mm.DictProxy
        s1 = m.Shared()
        s1["parent"] = 1
        assert m.Shared()._id == s1._id == "Shared"  # the same object each call
        assert m.Cfg(name="x").name == "x" and m.Cfg()._id == "Cfg"
        assert not hasattr(mm.BaseManager, "Jobs") and not hasattr(mm.SyncManager, "Jobs")
        out = mpipc.SimpleQueue()
        p = ctx.Process(target=_use_registered, args=(m.address, m._authkey, out), daemon=True)
        p.start()
        join_ok(p, timeout=60)
        assert out.get() == "DictProxy"
        assert out.get().startswith("LookupError: mpipc: no object named 'Missing'")
        assert s1["child"] == p.pid and s1["parent"] == 1
        out.close()
    finally:
        m.shutdown()


def test_register_refuses_callables_clearly():
    class M(mm.SyncManager):
        pass

    for bad in (lambda: queue.Queue(), dict.fromkeys, object, _TotalDict):
        with pytest.raises(TypeError, match="written in Rust and cannot run Python callables"):
            M.register("bad", bad)
    with pytest.raises(TypeError, match="proxytype"):
        M.register("bad", dict, proxytype=int)
    with pytest.raises(TypeError, match="does not fit"):
        M.register("bad", dict, mm.ListProxy)
    assert not hasattr(M, "bad")
    M.register("NoMethod", dict, create_method=False)
    assert "NoMethod" in M._registry and not hasattr(M, "NoMethod")
    assert "NoMethod" not in mm.SyncManager._registry


# --------------------------------------------------------------------------
# Manager(serializer="pickle")


class Point:
    """A class CBOR cannot carry (module level: a spawned child imports it)."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


def _read_pickled(d, q, out):
    try:
        assert d["p"] == Point(1, 2)  # the fast path
        assert d.get("p") == Point(1, 2) and d.copy()["nested"] == [Point(3, 4), "text"]
        d["from child"] = Point(os.getpid(), 0)
        q.put({"p": Point(5, 6)})
        out.put("ok")
    except BaseException as e:
        out.put("%s: %s" % (type(e).__name__, e))
        raise


@pytest.mark.parametrize("method", METHODS)
def test_manager_pickle_serializer(method):
    ctx = multiprocessing.get_context(method)
    m = mpipc.Manager(serializer="pickle")
    try:
        d, q = m.dict(), m.Queue()
        d["p"] = Point(1, 2)
        d["nested"] = [Point(3, 4), "text"]
        d["plain"] = {"a": [1, 2.5]}
        assert d["p"] == Point(1, 2) and d["p"] == Point(1, 2)  # twice: the memo keeps no pickled value
        out = mpipc.SimpleQueue()
        p = ctx.Process(target=_read_pickled, args=(d, q, out), daemon=True)
        p.start()
        join_ok(p, timeout=60)
        assert out.get() == "ok"
        assert d["from child"] == Point(p.pid, 0) and q.get(timeout=10) == {"p": Point(5, 6)}
        out.close()
        # A client without the opt-in reads the CBOR parts, and gets a
        # clear error for a pickle.
        plain = mpipc.connect_manager(m.address, m._authkey, serializer="cbor")
        pd = plain.dict(name=d._id)
        assert pd["plain"] == {"a": [1, 2.5]}
        with pytest.raises(mpipc.DecodeError, match="pickle"):
            pd["p"]
        with pytest.raises(TypeError, match="Point"):
            pd["q"] = Point(0, 0)
    finally:
        m.shutdown()


def test_serializer_choices():
    with pytest.raises(ValueError, match="xmlrpclib"):
        mm.SyncManager(serializer="xmlrpclib")
    with pytest.raises(ValueError):
        mpipc.Manager(serializer="json")
    m = mm.SyncManager(serializer="cbor").start()
    try:
        with pytest.raises(TypeError, match="Point"):
            m.dict()["p"] = Point(1, 2)
        with pytest.raises(TypeError, match="Point"):
            m.Queue().put(Point(1, 2))
    finally:
        m.shutdown()


def test_threads_share_proxies_as_values(mgr):
    # Encoding a proxy from several threads at once (each thread's encoder
    # is its own; the proxy's __mpipc_ref__ makes no call).
    d = mgr.dict()
    li = mgr.list()
    errors = []

    def work():
        try:
            for _ in range(50):
                li.append({"d": d})
        except BaseException as e:  # noqa: B036
            errors.append(e)

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors and len(li) == 200 and all(x["d"]._id == d._id for x in li)


def test_register_a_builtin_typeid_on_syncmanager_itself():
    # register("dict", ...) on a SyncManager subclass replaces its method by
    # one that still makes dicts (no recursion through the new attribute).
    class M(mm.SyncManager):
        pass

    M.register("dict", dict, _TotalDict)
    M.register("list")
    m = M().start()
    try:
        t = m.dict(a=1, b=2)
        assert type(t) is _TotalDict and t.total() == 3
        assert m.list([1]) == [1] and m.list()._id != m.list()._id
        assert mm.SyncManager.dict.__qualname__ == "SyncManager.dict"  # SyncManager untouched
    finally:
        m.shutdown()
