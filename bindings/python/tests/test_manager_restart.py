"""A manager server (``mpipc manager serve``, a separate process) SIGKILLed
and restarted at the same address: the lost connection raises
ConnectionLost (EOFError and BrokenPipeError, as Python's managers do) and
keeps raising it at once; ``reconnect()`` times out while no server listens,
reaches the restarted one (which starts empty), and wins a race with a
restart; other threads' connections follow."""

import errno
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import mpipc
from mpipc import connect_manager

from conftest import mpipc_command

KEY = b"restart test key"
MPIPC_BIN = mpipc_command()


class Server:
    """``mpipc manager serve`` at `path` in a child process."""

    def __init__(self, path, keyfile):
        assert os.access(MPIPC_BIN, os.X_OK), "%s missing: build the crate (cargo build --release)" % MPIPC_BIN
        self.proc = subprocess.Popen([MPIPC_BIN, "manager", "serve", "--address", "unix:" + path,
                                      "--authkey-file", keyfile], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def serve(tmp_path):
    """serve() starts a server at one socket path of this test (again after
    a kill); every one is stopped at the end."""
    path = str(tmp_path / "mgr.sock")
    keyfile = tmp_path / "key"
    keyfile.write_bytes(KEY)
    started = []

    def start():
        s = Server(path, str(keyfile))
        started.append(s)
        return s

    start.path = path
    yield start
    for s in started:
        s.stop()


def connect_when_up(path):
    deadline = time.monotonic() + 20
    while True:
        try:
            return connect_manager(path, KEY)
        except (FileNotFoundError, ConnectionError, EOFError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def assert_lost(excinfo, path):
    e = excinfo.value
    assert isinstance(e, mpipc.ConnectionLost)
    assert isinstance(e, EOFError) and isinstance(e, BrokenPipeError) and isinstance(e, mpipc.EOF)
    assert e.code == mpipc._b.MP_E_EOF and e.status_name == "MP_E_EOF" and e.errno == errno.EPIPE
    assert "connection to the manager at unix:%s lost" % path in str(e)
    assert "restarted server starts empty" in str(e) and "reconnect" in str(e)


def test_killed_server_lost_connection_reconnect_and_empty_restart(serve):
    path = serve.path
    server = serve()
    m = connect_when_up(path)
    d = m.dict(name="d")
    d["k"] = 1
    assert m.connected
    q = m.Queue(name="q")
    # Two more threads with connections of their own (proxies use one per
    # thread): w1 will notice the loss itself, w2 will not call until after
    # the reconnect.
    w1, w2 = ThreadPoolExecutor(1), ThreadPoolExecutor(1)
    assert w1.submit(lambda: d["k"]).result() == 1 and w2.submit(lambda: d["k"]).result() == 1
    # Another thread is blocked in a queue get when the server dies.
    got = []

    def blocked_get():
        try:
            q.get(timeout=20)
        except BaseException as e:  # noqa: BLE001 - recorded for the assertion
            got.append(e)

    t = threading.Thread(target=blocked_get)
    t.start()
    time.sleep(0.1)

    server.kill()

    t.join(10)
    assert not t.is_alive(), "a get blocked in a killed server did not fail"
    assert len(got) == 1 and isinstance(got[0], mpipc.ConnectionLost), got
    with pytest.raises(mpipc.ConnectionLost) as ei:
        d["k"]
    assert_lost(ei, path)
    assert not m.connected
    # Later calls fail the same way, at once; multiprocessing-style handlers catch it.
    t0 = time.monotonic()
    for _ in range(10):
        with pytest.raises(BrokenPipeError) as ei:
            len(d)
        assert_lost(ei, path)
    with pytest.raises(EOFError):
        m.objects()
    with pytest.raises(mpipc.ConnectionLost):
        w1.submit(lambda: d["k"]).result()
    assert time.monotonic() - t0 < 2

    # No server: reconnect runs out of time; still disconnected.
    t0 = time.monotonic()
    with pytest.raises(TimeoutError) as ei:
        m.reconnect(timeout=0.2)
    assert isinstance(ei.value, mpipc.Timeout) and "unix:%s" % path in str(ei.value)
    assert 0.19 <= time.monotonic() - t0 < 5
    with pytest.raises(mpipc.Timeout):
        m.reconnect(timeout=0)
    assert not m.connected
    with pytest.raises(mpipc.ConnectionLost):
        d["k"]

    # Restart at the same address (over the stale socket file): reconnect
    # gets through, and the restarted server is empty.
    serve()
    m.reconnect(timeout=20)
    assert m.connected
    with pytest.raises(KeyError):
        d["k"]
    d["k"] = 2
    assert d["k"] == 2 and dict(d.items()) == {"k": 2}
    assert m.objects() == [("d", "dict")]
    # Proxies of kinds with creation arguments are recreated explicitly.
    q = m.Queue(name="q")
    q.put("after restart")
    assert q.get(timeout=5) == "after restart"

    # The other threads' connections are replaced at their next call.
    for w in (w1, w2):
        assert w.submit(lambda: (d["k"], m.connected)).result() == (2, True)
        w.shutdown()


def test_reconnect_started_before_the_server_restarts(serve):
    path = serve.path
    server = serve()
    m = connect_when_up(path)
    d = m.dict(name="d")
    d.incr("n")
    server.kill()
    with pytest.raises(mpipc.ConnectionLost):
        d.incr("n")

    # The reconnect starts first; the server comes up 300 ms later.
    result = []
    t0 = time.monotonic()

    def reconnect():
        try:
            m.reconnect(timeout=20)
            result.append(time.monotonic() - t0)
        except BaseException as e:  # noqa: BLE001 - recorded for the assertion
            result.append(e)

    t = threading.Thread(target=reconnect)
    t.start()
    time.sleep(0.3)
    assert not result, "reconnect returned before the server restarted: %r" % result
    serve()
    t.join(25)
    assert len(result) == 1 and isinstance(result[0], float), result
    assert result[0] >= 0.3
    # That thread's reconnect serves this thread's next call as well.
    assert m.connected
    assert d.get("n") is None  # the restarted server is empty
    assert d.incr("n") == 1


def in_fresh_thread(fn):
    """fn() in a new thread (which has no manager connection yet): its result or exception."""
    out = []

    def run():
        try:
            out.append(fn())
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            out.append(e)

    t = threading.Thread(target=run)
    t.start()
    t.join(25)
    assert out, "thread did not finish"
    return out[0]


def test_reconnect_from_a_thread_without_a_connection(serve):
    path = serve.path
    server = serve()
    m = connect_when_up(path)
    m.dict(name="d")["k"] = 1
    server.kill()
    with pytest.raises(mpipc.ConnectionLost):
        m.dict(name="d")
    # No server: that thread's reconnect times out.
    r = in_fresh_thread(lambda: m.reconnect(timeout=0.2))
    assert isinstance(r, mpipc.Timeout) and "unix:%s" % path in str(r), r
    assert not m.connected
    # The server comes up while that thread's reconnect waits.
    later = threading.Timer(0.3, serve)
    later.start()
    assert in_fresh_thread(lambda: m.reconnect(timeout=20)) is None
    later.join()
    assert m.connected
    assert m.dict(name="d").get("k") is None


def test_reconnect_needs_a_started_or_connected_manager():
    with pytest.raises(ValueError):
        mpipc.SyncManager("/tmp/nowhere.sock", b"").reconnect(timeout=0)
    assert not mpipc.SyncManager("/tmp/nowhere.sock", b"").connected
