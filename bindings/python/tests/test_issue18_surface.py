"""Issue 18, gap 11 (module surface): mpipc.get_context, the module-level
process functions, connection.families, Listener/Client validating address
and family as multiprocessing does, answer_challenge/deliver_challenge over
mpipc Connections, keyless TCP behind an explicit opt-in on both sides, and
Connections passed to spawned children. Cross-process cases run under fork
and spawn (the `ctx` fixture, conftest.BOTH_START_METHODS)."""

import multiprocessing
import multiprocessing.connection as mpc
import os
import pickle
import threading

import pytest

import mpipc
import mpipc.connection as conn
from conftest import join_ok, start_child

# --------------------------------------------------------------------------
# Child targets (module level: a spawned child imports them)


def _ctx_worker(q, lock, v, ev):
    with lock:
        v.value += 1
    q.put(("child", os.getpid(), multiprocessing.current_process().name))
    ev.wait(20)


def _challenge_answerer(c, key):
    try:
        conn.answer_challenge(c, key)
        conn.deliver_challenge(c, key)
        c.send("in")
    except mpipc.AuthenticationError as e:
        c.send(["refused", str(e)])


def _insecure_client(address, q):
    try:
        c = conn.Client(address, allow_insecure_tcp=True)
    except Exception as e:  # reported, so the test shows why
        q.put(["error", repr(e)])
        return
    c.send(["hello", os.getpid()])
    q.put(["ok", c.recv()])
    c.close()


def _keyless_client_refused(address, q):
    try:
        conn.Client(address)
    except ValueError as e:
        q.put(["refused", type(e).__name__, str(e)])
    else:
        q.put(["connected"])


def _wait_event(ev):
    return ev.wait(60)


def _echo_once(c):
    c.send(["echo", c.recv()])
    c.close()


# --------------------------------------------------------------------------
# get_context and the module-level names


def test_context_has_every_name_of_multiprocessing_contexts():
    public = [n for n in dir(multiprocessing.context.BaseContext) if not n.startswith("_")]
    for method in (None, "fork", "spawn", "forkserver"):
        ctx = mpipc.get_context(method)
        missing = [n for n in public + ["Process"] if not hasattr(ctx, n)]
        assert not missing, (method, missing)
    # The module itself has every name of multiprocessing's.
    assert not [n for n in multiprocessing.__all__ if not hasattr(mpipc, n)]


def test_context_methods_processes_and_primitives(name):
    for method in ("fork", "spawn", "forkserver"):
        ctx = mpipc.get_context(method)
        assert ctx is mpipc.get_context(method)  # one per method, as multiprocessing
        assert ctx.get_start_method() == method
        assert ctx.Process is multiprocessing.get_context(method).Process
        assert ctx.get_context() is ctx
        assert ctx.get_context("spawn") is mpipc.get_context("spawn")
        with pytest.raises(ValueError):
            ctx.set_start_method("spawn")  # a concrete context, as multiprocessing
    ctx = mpipc.get_context("spawn")
    q = ctx.Queue(name=name)
    assert isinstance(q, mpipc.Queue)
    assert isinstance(ctx.Lock(), mpipc.Lock) and isinstance(ctx.Event(), mpipc.Event)
    a, b = ctx.Pipe()
    assert isinstance(a, conn.Connection)
    a.close()
    b.close()
    assert ctx.cpu_count() == multiprocessing.cpu_count()
    assert ctx.current_process() is multiprocessing.current_process()
    assert ctx.BufferTooShort is mpipc.BufferTooShort and issubclass(ctx.BufferTooShort, multiprocessing.BufferTooShort)
    assert ctx.TimeoutError is multiprocessing.TimeoutError
    with pytest.raises(ValueError):
        mpipc.get_context("nope")
    q.close()


def test_module_level_process_functions():
    assert mpipc.Process is multiprocessing.Process
    assert mpipc.current_process() is multiprocessing.current_process()
    assert mpipc.get_all_start_methods() == multiprocessing.get_all_start_methods()
    assert mpipc.get_start_method(allow_none=True) == multiprocessing.get_start_method(allow_none=True)


def test_context_process_gets_mpipc_objects(ctx):
    # mpipc.get_context(method): multiprocessing's process of that method,
    # mpipc's primitives, crossing to the child as that method passes them.
    m = mpipc.get_context(ctx.get_start_method())
    q, lock, v, ev = m.Queue(), m.Lock(), m.Value("i", 0), m.Event()
    procs = [m.Process(target=_ctx_worker, args=(q, lock, v, ev), daemon=True) for _ in range(2)]
    for p in procs:
        p.start()
    got = sorted(q.get(timeout=60)[1] for _ in procs)
    assert got == sorted(p.pid for p in procs)
    ev.set()
    join_ok(*procs, timeout=60)
    assert v.value == 2
    q.close()


def test_context_pool_is_multiprocessings():
    # Delegated: multiprocessing's own Pool of the context's method; its
    # tasks may take mpipc objects (they pickle by name).
    ev = mpipc.Event()
    with mpipc.get_context("fork").Pool(1) as pool:
        assert pool.map(abs, [-1, -2]) == [1, 2]
        r = pool.apply_async(_wait_event, (ev,))
        with pytest.raises(mpipc.TimeoutError):  # multiprocessing.TimeoutError
            r.get(timeout=0)
        ev.set()
        assert r.get(timeout=60) is True
    ev.close()


# --------------------------------------------------------------------------
# families, address_type, Listener / Client validation


def test_families_as_multiprocessing():
    assert conn.families == mpc.families == ["AF_INET", "AF_UNIX"]
    for address in [("127.0.0.1", 0), "/tmp/x", "\0abstract", b"\0abstract", "\\\\.\\pipe\\x"]:
        assert conn.address_type(address) == mpc.address_type(address), address
    for address in [b"/tmp/x", 123, ["h", 1]]:
        with pytest.raises(Exception) as ours:
            conn.address_type(address)
        with pytest.raises(Exception) as stock:
            mpc.address_type(address)
        assert type(ours.value) is type(stock.value), address


def _error_of(make, **kw):
    try:
        obj = make(**kw)
    except Exception as e:
        return type(e)
    obj.close()
    return None


LISTENER_CASES = [
    dict(address=None, family="AF_FOO"),
    dict(address=None, family="AF_PIPE"),
    dict(address=None, family=5),
    dict(address="@PATH@", family="AF_PIPE"),
    dict(address=("127.0.0.1", 0), family="AF_UNIX"),
    dict(address="@PATH@", family="AF_INET"),
    dict(address=123),
    dict(address=b"/tmp/mpipc-not-abstract"),
    dict(address=["127.0.0.1", 0]),
    dict(address=("127.0.0.1", 0, 1)),
    dict(address=("127.0.0.1", "x")),
    dict(address=("127.0.0.1", 70000)),
    dict(address=None, backlog="x"),
    dict(address="@PATH@", authkey="text"),
]


@pytest.mark.parametrize("case", range(len(LISTENER_CASES)))
def test_listener_refuses_what_multiprocessing_refuses(case, tmp_path):
    kw = dict(LISTENER_CASES[case])
    if kw.get("address") == "@PATH@":
        kw["address"] = str(tmp_path / "sock")
    if "authkey" not in kw and isinstance(kw.get("address"), tuple):
        kw["authkey"] = b"k"  # (TCP needs one here; not what is tested)
    ours = _error_of(conn.Listener, **kw)
    # Nothing was created by the refused call (multiprocessing checks the
    # authkey only after binding).
    assert not os.path.exists(str(tmp_path / "sock"))
    stock = _error_of(mpc.Listener, **kw)
    assert stock is not None and ours is not None
    assert issubclass(ours, stock), (kw, ours, stock)


def test_listener_unknown_family_with_an_address_is_a_value_error(tmp_path):
    # multiprocessing gets as far as socket.socket(getattr(socket, family))
    # and raises AttributeError; the issue asks for ValueError, as for
    # every other bad family.
    with pytest.raises(ValueError, match="AF_FOO"):
        conn.Listener(str(tmp_path / "s"), family="AF_FOO")
    with pytest.raises(ValueError, match="AF_PIPE"):
        conn.Client(str(tmp_path / "s"), family="AF_PIPE")
    with pytest.raises(ValueError):
        conn.Client(str(tmp_path / "s"), family="AF_FOO")


def test_listener_family_inferred_and_defaults(tmp_path):
    with conn.Listener() as lst:  # default family: AF_UNIX, a fresh path
        assert conn.address_type(lst.address) == "AF_UNIX"
    with conn.Listener(family="AF_INET", authkey=b"k") as lst:
        host, port = lst.address
        assert port > 0
    with conn.Listener("\0mpipc-surface-%d" % os.getpid()) as lst:
        assert lst.address == "\0mpipc-surface-%d" % os.getpid()
    with conn.Listener(b"\0mpipc-surface-b-%d" % os.getpid()) as lst:
        c = conn.Client(b"\0mpipc-surface-b-%d" % os.getpid())
        s = lst.accept(timeout=20)
        c.send(1)
        assert s.recv() == 1
        c.close()
        s.close()


# --------------------------------------------------------------------------
# answer_challenge / deliver_challenge


def test_challenge_over_a_pipe_across_processes(ctx):
    a, b = mpipc.Pipe()
    p = start_child(ctx, _challenge_answerer, b, b"secret")
    conn.deliver_challenge(a, b"secret")
    conn.answer_challenge(a, b"secret")
    assert a.recv() == "in"
    join_ok(p)


def test_challenge_wrong_key_raises_on_both_sides(ctx):
    a, b = mpipc.Pipe()
    p = start_child(ctx, _challenge_answerer, b, b"wrong")
    with pytest.raises(multiprocessing.AuthenticationError, match="digest received was wrong"):
        conn.deliver_challenge(a, b"secret")
    assert a.recv() == ["refused", "digest sent was rejected"]
    join_ok(p)


def test_challenge_interoperates_with_stock_multiprocessing(tmp_path):
    # The stock functions over a stock connection on one side, ours over an
    # mpipc Connection on the other (a keyless Unix listener: the handshake
    # is the program's own). Python 3.11's side speaks the legacy form.
    path = str(tmp_path / "s")
    with conn.Listener(path) as lst:
        for key_stock, key_ours, ok in [(b"k", b"k", True), (b"k", b"x", False)]:
            stock = mpc.Client(path)
            ours = lst.accept(timeout=20)
            if ok:
                # Ours challenges first, the stock side answers, then back.
                t = threading.Thread(target=lambda: (mpc.answer_challenge(stock, key_stock),
                                                     mpc.deliver_challenge(stock, key_stock)), daemon=True)
                t.start()
                conn.deliver_challenge(ours, key_ours)
                conn.answer_challenge(ours, key_ours)
                t.join(20)
                assert not t.is_alive()
            else:
                errors = []

                def stock_side():
                    try:
                        mpc.answer_challenge(stock, key_stock)
                    except multiprocessing.AuthenticationError as e:
                        errors.append(str(e))

                t = threading.Thread(target=stock_side, daemon=True)
                t.start()
                with pytest.raises(mpipc.AuthenticationError):
                    conn.deliver_challenge(ours, key_ours)
                t.join(20)
                assert errors == ["digest sent was rejected"]
            stock.close()
            ours.close()


def test_challenge_argument_errors():
    a, b = mpipc.Pipe()
    with pytest.raises(ValueError, match="Authkey must be bytes"):
        conn.deliver_challenge(a, "text")
    with pytest.raises(ValueError, match="Authkey must be bytes"):
        conn.answer_challenge(a, "text")
    b.send_bytes(b"not a challenge")
    with pytest.raises(multiprocessing.AuthenticationError, match="expected challenge"):
        conn.answer_challenge(a, b"k")
    a.close()
    b.close()


# --------------------------------------------------------------------------
# TCP without an authkey: refused unless both sides opt in


def test_tcp_without_authkey_is_refused_by_default():
    with pytest.raises(ValueError, match="TCP needs an authkey"):
        conn.Listener(("127.0.0.1", 0))
    with conn.Listener(("127.0.0.1", 0), authkey=b"k") as lst:
        with pytest.raises(ValueError, match="TCP needs an authkey"):
            conn.Client(lst.address)


def test_tcp_without_authkey_opted_in_on_both_sides(ctx):
    q = mpipc.Queue()
    with conn.Listener(("127.0.0.1", 0), allow_insecure_tcp=True) as lst:
        # A client that did not opt in is refused before it connects.
        p = start_child(ctx, _keyless_client_refused, lst.address, q)
        got = q.get(timeout=60)
        assert got[0] == "refused" and "TCP needs an authkey" in got[2], got
        join_ok(p, timeout=60)
        # One that did is accepted, across processes.
        p = start_child(ctx, _insecure_client, lst.address, q)
        s = lst.accept(timeout=60)
        hello = s.recv()
        assert hello[0] == "hello"
        s.send("welcome")
        assert q.get(timeout=60) == ["ok", "welcome"]
        join_ok(p, timeout=60)
        s.close()
    q.close()


def test_keyless_tcp_interoperates_with_stock_multiprocessing():
    # multiprocessing allows keyless TCP; our opted-in ends talk to its.
    with conn.Listener(("127.0.0.1", 0), allow_insecure_tcp=True) as lst:
        stock = mpc.Client(lst.address)
        s = lst.accept(timeout=20)
        stock.send_bytes(b"from stock")
        assert s.recv_bytes() == b"from stock"
        stock.close()
        s.close()
    with mpc.Listener(("127.0.0.1", 0)) as stock_lst:
        c = conn.Client(stock_lst.address, allow_insecure_tcp=True)
        s = stock_lst.accept()
        c.send_bytes(b"from mpipc")
        assert s.recv_bytes() == b"from mpipc"
        c.close()
        s.close()


# --------------------------------------------------------------------------
# Connections passed to children under every start method


def test_connection_passes_to_a_child_under_each_method(ctx):
    a, b = mpipc.Pipe()
    p = start_child(ctx, _echo_once, b)
    a.send({"x": 1})
    assert a.recv() == ["echo", {"x": 1}]
    join_ok(p)


def test_connection_pickles_only_for_a_child():
    a, b = mpipc.Pipe()
    with pytest.raises(TypeError, match="Process argument"):
        pickle.dumps(a)
    a.close()
    b.close()


def test_connection_with_read_ahead_data_is_refused_for_spawn():
    # One read took both messages: the second waits in this process's
    # buffer and would be lost to a spawned child.
    a, b = mpipc.Pipe()
    a.send(1)
    a.send(2)
    assert b.recv() == 1
    p = multiprocessing.get_context("spawn").Process(target=_echo_once, args=(b,))
    with pytest.raises(ValueError, match="received data"):
        p.start()
    assert b.recv() == 2
    a.close()
    b.close()
