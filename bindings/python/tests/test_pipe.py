"""Pipe / Connection / Listener / Client / wait, as multiprocessing
documents them, across processes, and against Python's own
multiprocessing.connection."""

import multiprocessing.connection as mpc
import os
import select
import socket
import threading
import time

import pytest

import mpipc
from mpipc import Pipe
from mpipc.connection import Client, Listener, wait

from conftest import join_ok, start_child


def _echo(conn, other):
    other.close()  # the child's copy of the parent's end (else no EOF: as with multiprocessing)
    while True:
        try:
            m = conn.recv()
        except EOFError:
            break
        conn.send(m)
    conn.close()


def test_duplex_pipe_across_processes(ctx):
    a, b = Pipe()
    p = start_child(ctx, _echo, b, a)
    b.close()  # the parent's copy of the child's end
    for v in ({"x": [1, 2.5]}, None, b"bytes", "s" * 100000):
        a.send(v)
        assert a.recv() == v
    a.close()
    join_ok(p)


def _echo_bytes(conn, other):
    other.close()
    while True:
        try:
            m = conn.recv_bytes()
        except EOFError:
            break
        conn.send_bytes(m)
    conn.close()


def test_messages_of_every_size_across_processes(ctx):
    # A receive lands in the thread's buffer (64 KiB at first), which grows
    # for a bigger message; one over 16 MiB is received into memory the
    # library allocates. Objects and bytes interleave on one connection.
    a, b = Pipe()
    p = start_child(ctx, _echo, b, a)
    b.close()
    for size in (0, 1, 65000, 70000, 3 << 20, (16 << 20) + 100, 10):
        v = {"size": size, "data": bytes(range(256)) * (size // 256) + b"x" * (size % 256)}
        a.send(v)
        assert a.recv() == v
        raw = mpipc.encode(v)
        a.send_bytes(raw)
        assert a.recv_bytes() == raw
    a.close()
    join_ok(p)
    c, d = Pipe()
    q = start_child(ctx, _echo_bytes, d, c)
    d.close()
    for i in range(2000):
        c.send({"id": i})
        assert c.recv() == {"id": i}
    c.send_bytes(b"\xff\xff")
    with pytest.raises(mpipc.DecodeError):
        c.recv()  # consumed: the next message comes next
    c.send_bytes(b"\x01")
    assert c.recv() == 1
    c.close()
    join_ok(q)


def _sender_then_exit(conn):
    conn.send("last")
    conn.close()


def test_eof_when_the_peer_closes(ctx):
    a, b = Pipe()
    p = start_child(ctx, _sender_then_exit, b)
    b.close()
    assert a.recv() == "last"
    with pytest.raises(EOFError):
        a.recv()
    assert a.poll(0)  # EOF counts as readable, as in multiprocessing
    join_ok(p)
    a.close()


def test_simplex_pipe_directions():
    r, w = Pipe(duplex=False)
    assert r.readable and not r.writable and w.writable and not w.readable
    w.send(1)
    assert r.recv() == 1
    with pytest.raises(OSError):
        r.send(1)
    with pytest.raises(OSError):
        w.recv()
    r.close()
    w.close()


def test_send_bytes_offsets_and_errors():
    a, b = Pipe()
    a.send_bytes(b"hello world", 6)
    a.send_bytes(bytearray(b"hello"), 1, 3)
    a.send_bytes(memoryview(b"xyz"))
    assert b.recv_bytes() == b"world" and b.recv_bytes() == b"ell" and b.recv_bytes() == b"xyz"
    for args, msg in (((b"abc", -1), "negative"), ((b"abc", 4), "offset"), ((b"abc", 0, -1), "negative"),
                      ((b"abc", 1, 3), "offset \\+ size")):
        with pytest.raises(ValueError, match=msg):
            a.send_bytes(*args)
    a.close()
    b.close()


def test_recv_bytes_maxlength_closes_the_connection():
    a, b = Pipe()
    with pytest.raises(ValueError):
        b.recv_bytes(-1)
    a.send_bytes(b"0123456789")
    with pytest.raises(OSError, match="bad message length"):
        b.recv_bytes(5)
    assert b.closed
    with pytest.raises(OSError):
        b.recv_bytes()
    a.close()


def test_recv_bytes_into_and_buffer_too_short():
    import array

    a, b = Pipe()
    a.send_bytes(b"abcd")
    buf = bytearray(10)
    assert b.recv_bytes_into(buf, 2) == 4 and buf[2:6] == b"abcd"
    arr = array.array("i", [0, 0])
    a.send_bytes(array.array("i", [7, 8]))
    assert b.recv_bytes_into(arr) == 8 and list(arr) == [7, 8]
    a.send_bytes(b"too long for it")
    with pytest.raises(mpipc.BufferTooShort) as e:
        b.recv_bytes_into(bytearray(4))
    assert e.value.args[0] == b"too long for it"  # the whole message, consumed
    import multiprocessing

    assert isinstance(e.value, multiprocessing.BufferTooShort)
    with pytest.raises(ValueError):
        b.recv_bytes_into(bytearray(4), 5)
    a.close()
    b.close()


def test_poll_timeouts():
    a, b = Pipe()
    assert not b.poll()
    t = time.monotonic()
    assert not b.poll(0.2)
    assert 0.18 <= time.monotonic() - t < 2
    threading.Timer(0.1, a.send, args=("x",)).start()
    assert b.poll(None)
    assert b.recv() == "x"
    a.close()
    b.close()


def test_fileno_with_select_and_context_manager():
    a, b = Pipe()
    with a, b:
        a.send(1)
        r, _, _ = select.select([b.fileno()], [], [], 5)
        assert r == [b.fileno()]
        assert b.recv() == 1
    assert a.closed and b.closed
    with pytest.raises(OSError):
        a.send(1)
    a.close()  # idempotent


def test_type_error_at_send():
    a, b = Pipe()
    with pytest.raises(TypeError):
        a.send(object())
    assert not b.poll(0)
    a.close()
    b.close()


def test_close_while_another_thread_receives():
    a, b = Pipe()
    errs = []

    def reader():
        try:
            b.recv()
        except OSError as e:
            errs.append(e)

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.05)
    b.close()  # no crash: the handle is freed after the reader leaves
    t.join(5)
    assert not t.is_alive() and errs
    a.close()


def test_wait_on_several():
    pairs = [Pipe() for _ in range(3)]
    ends = [b for _, b in pairs]
    assert wait(ends, 0.05) == []
    pairs[1][0].send("one")
    assert wait(ends, 5) == [ends[1]]
    ends[1].recv()
    sock_a, sock_b = socket.socketpair()
    sock_a.send(b"x")
    assert wait(ends + [sock_b], 5) == [sock_b]
    for a, b in pairs:
        a.close()
        b.close()
    sock_a.close()
    sock_b.close()


def _client_proc(address, key):
    with Client(address, authkey=key) as c:
        c.send(c.recv() + 1)


def test_listener_and_client_across_processes(ctx):
    with Listener(authkey=b"secret") as lst:
        assert os.path.exists(lst.address)
        p = start_child(ctx, _client_proc, lst.address, b"secret")
        with lst.accept(timeout=10) as c:
            c.send(41)
            assert c.recv() == 42
        join_ok(p)
    assert not os.path.exists(lst.address)


def test_authentication_error():
    with Listener(authkey=b"right") as lst:
        errs = []

        def accept():
            try:
                lst.accept(timeout=5)
            except mpipc.AuthenticationError as e:
                errs.append(e)

        t = threading.Thread(target=accept)
        t.start()
        with pytest.raises(mpipc.AuthenticationError):
            Client(lst.address, authkey=b"wrong", timeout=5)
        t.join(10)
        assert errs
    import multiprocessing

    assert issubclass(mpipc.AuthenticationError, multiprocessing.AuthenticationError)


def test_stock_python_client_and_listener_interoperate():
    with Listener(authkey=b"k") as lst:
        def serve():
            with lst.accept(timeout=10) as c:
                c.send_bytes(c.recv_bytes()[::-1])

        t = threading.Thread(target=serve)
        t.start()
        with mpc.Client(lst.address, authkey=b"k") as c:
            c.send_bytes(b"abc")
            assert c.recv_bytes() == b"cba"
        t.join(10)
    with mpc.Listener(authkey=b"k") as plst:
        def serve2():
            with plst.accept() as c:
                c.send_bytes(c.recv_bytes() * 2)

        t = threading.Thread(target=serve2)
        t.start()
        with Client(plst.address, authkey=b"k") as c:
            c.send_bytes(b"ab")
            assert c.recv_bytes() == b"abab"
        t.join(10)


def test_tcp_requires_an_authkey():
    with pytest.raises(ValueError):
        Listener(("127.0.0.1", 0))
    with Listener(("127.0.0.1", 0), authkey=b"k") as lst:
        host, port = lst.address
        assert host == "127.0.0.1" and port > 0
        t = threading.Thread(target=lambda: lst.accept(timeout=10).send("tcp"))
        t.start()
        with Client(lst.address, authkey=b"k") as c:
            assert c.recv() == "tcp"
        t.join(10)
