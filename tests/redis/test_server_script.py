"""scripts/redis-server.sh, and what the library relies on from a server it
starts: the printed and written addresses, a password, stop waiting for the
exit, and a server SIGKILLed and restarted on its AOF (appendfsync always)
keeping the mpipc_1 library and every acknowledged put.
"""

import os
import shutil
import signal
import subprocess

import pytest
import redis

from conftest import SCRIPT, start_server
from qlib import Q, kind_of


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


@pytest.fixture(params=["redis", "valkey"])
def kind(request):
    return request.param


def test_start_prints_and_writes_the_addresses_stop_waits(kind):
    s = start_server(kind)
    try:
        env = dict(line.split("=", 1) for line in open(os.path.join(s.dir, "env")).read().split())
        assert int(env["REDIS_PORT"]) == s.port and env["REDIS_SOCKET"] == s.socket
        assert int(env["REDIS_PID"]) == s.pid and alive(s.pid)
        for t in ("tcp", "unix"):
            assert s.client(t).ping()
        info = s.client().info("server")
        assert ("valkey_version" in info) == (kind == "valkey")
        assert s.client().config_get("hz")["hz"] == "100"
        assert s.client().config_get("appendfsync")["appendfsync"] == "always"
        # A second server in the same directory is refused.
        r = subprocess.run(["bash", str(SCRIPT), "start", s.dir] + (["--valkey"] if kind == "valkey" else []),
                           capture_output=True, text=True)
        assert r.returncode == 1 and "already runs" in r.stderr
    finally:
        s.stop()
    assert not alive(s.pid)
    s.stop()   # nothing to stop: fine
    shutil.rmtree(s.dir, ignore_errors=True)


def test_password(kind):
    s = start_server(kind)
    s.stop()
    s.extra = []
    args = ["bash", str(SCRIPT), "start", s.dir, "--password", "pw 1"] + (["--valkey"] if kind == "valkey" else [])
    r = subprocess.run(args, capture_output=True, text=True, check=True)
    fields = dict(kv.split("=", 1) for kv in r.stdout.split())
    s.port, s.socket = int(fields["port"]), fields["socket"]
    try:
        with pytest.raises(redis.AuthenticationError):
            s.client().ping()
        assert s.client(password="pw 1").ping()
        assert s.client("unix", password="pw 1").ping()
    finally:
        s.stop()
        shutil.rmtree(s.dir, ignore_errors=True)


def test_restart_on_the_aof_keeps_the_library_and_every_acknowledged_put(kind):
    s = start_server(kind)
    try:
        s.load()
        q = Q(s.client(), "jobs", maxsize=0)
        acked = sum(q.put_many([b"m%d" % i]) for i in range(200))
        assert acked == 200
        os.kill(s.pid, signal.SIGKILL)
        s.stop()                      # waits until it is gone
        s.start()                     # same directory: the same AOF
        r = s.client()
        assert r.function_list(library="mpipc_1")[0][1] == b"mpipc_1"
        q = Q(r, "jobs", how="A")
        assert q.qsize() == [200, 200, 0, 0]
        assert q.get_many(1000) == [b"m%d" % i for i in range(200)]
        with pytest.raises(redis.ResponseError) as e:
            Q(r, "jobs", how="C")
        assert kind_of(e.value) == "EXISTS"
    finally:
        s.stop()
        shutil.rmtree(s.dir, ignore_errors=True)
