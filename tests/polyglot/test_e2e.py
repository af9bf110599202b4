"""The cross-language end-to-end matrix (tests/polyglot/PEERS.md): for every
primitive and every ordered pair of {c, cpp, go, node, python, rust} (same-language
pairs included), a sender peer in one language and a receiver peer in the
other exchange the shared CBOR vectors (tests/vectors/cbor.json) through
mpipc, and the case passes only if both peers say every check passed.

    build/venv-python/bin/python -m pytest -q tests/polyglot/test_e2e.py

The session fixture builds the C, C++, Go and Rust peers once (gcc, g++, go build,
cargo build --release --locked --example polyglot_peer) against
target/release, and the manager cases share one `mpipc manager serve`.
A language whose toolchain or binding is missing FAILS its cases (CI has
them all), with the reason. Each case has a hard timeout (CASE_TIMEOUT s)
and kills its peers when it fails; names, sockets and segments are removed
whatever happened. A compact matrix is printed at the end (conftest.py).

The Redis column (test_e2e_redis, issue 22; `-k redis` runs it alone): the
queue and manager exchanges again, every ordered pair, with the objects on
one Redis server started for the module (scripts/redis-server.sh, a
loopback port, password `polyglot`): the peers get the queue's address
(redis://:polyglot@127.0.0.1:PORT/0/NAME) as its name and the server's
(redis://127.0.0.1:PORT/0) as the manager's, whose authkey is then the
password. The peers are the same programs: they pass names through.
"""

import ctypes
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, "tests", "polyglot")
PEERS = os.path.join(HERE, "peers")
VECTORS = os.path.join(ROOT, "tests", "vectors", "cbor.json")
OBJECT_VECTORS = os.path.join(HERE, "object_map.json")  # issue 19's map, for test_object
RELEASE = os.path.join(ROOT, "target", "release")
LIB = os.path.join(RELEASE, "libmpipc.so")
BUILD = os.path.join(ROOT, "build", "polyglot")

LANGS = ["c", "cpp", "go", "node", "python", "rust"]
PRIMITIVES = ["queue", "pipe", "listener", "manager", "array", "lock"]
AUTHKEY = b"polyglot"
CASE_TIMEOUT = 30.0  # seconds, per case, everything included
BUILD_TIMEOUT = 600.0

CASES = [pytest.param(p, s, r, id="%s-%s-%s" % (p, s, r)) for p in PRIMITIVES for s in LANGS for r in LANGS]
REDIS_PRIMITIVES = ["queue", "manager"]
REDIS_CASES = [pytest.param(p, s, r, id="%s-%s-%s" % (p, s, r))
               for p in REDIS_PRIMITIVES for s in LANGS for r in LANGS]
REDIS_SERVER = os.path.join(ROOT, "scripts", "redis-server.sh")
REDIS_PARALLEL = 8  # Redis cases at once (redis_column)


# --------------------------------------------------------------------------
# building the peers


def _run(cmd, cwd=ROOT, env=None, timeout=BUILD_TIMEOUT):
    """Runs a build command; None on success, else what went wrong."""
    tool = shutil.which(cmd[0])
    if tool is None:
        return "%s not found on PATH (toolchain missing)" % cmd[0]
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "%s: timed out after %d s" % (" ".join(cmd), timeout)
    if p.returncode != 0:
        return "%s (in %s) exited %d:\n%s" % (" ".join(cmd), cwd, p.returncode,
                                              p.stdout.decode(errors="replace")[-4000:])
    return None


def _pkg_config(module):
    """(error or None, flags): `pkg-config --cflags --libs module`."""
    if shutil.which("pkg-config") is None:
        return "pkg-config not found on PATH", []
    p = subprocess.run(["pkg-config", "--cflags", "--libs", module], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        return "pkg-config %s: %s (make deps installs it)" % (module, p.stdout.decode(errors="replace").strip()), []
    return None, p.stdout.decode().split()


def _build_c():
    # The C peer's objects are libcbor items (Debian's libcbor-dev).
    out = os.path.join(BUILD, "c_peer")
    err, cbor = _pkg_config("libcbor")
    if err:
        return err, [out]
    err = _run(["gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-I", os.path.join(ROOT, "include"),
                os.path.join(PEERS, "c", "peer.c"), "-L", RELEASE, "-lmpipc"] + cbor
               + ["-Wl,-rpath," + RELEASE, "-o", out])
    return err, [out]


def _build_cpp():
    # The C++ peer: include/mpipc.hpp + mpipc_json.hpp (nlohmann/json,
    # Debian's nlohmann-json3-dev). Built, then checked against every vector
    # of the file (valid, decode_only, invalid) before any case runs.
    out = os.path.join(BUILD, "cpp_peer")
    err, flags = _pkg_config("nlohmann_json")
    if err:
        return err, [out]
    err = _run(["g++", "-std=c++17", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Werror",
                "-I", os.path.join(ROOT, "include")] + flags + [os.path.join(PEERS, "cpp", "peer.cpp"), "-L", RELEASE,
                                                                "-lmpipc", "-Wl,-rpath," + RELEASE, "-o", out])
    return err or _run([out, "vectors", VECTORS], timeout=60), [out]


def _build_go():
    out = os.path.join(BUILD, "go_peer")
    err = _run(["go", "build", "-o", out, "."], cwd=os.path.join(PEERS, "go"))
    return err, [out]


def _build_rust():
    err = _run(["cargo", "build", "--release", "--locked", "--example", "polyglot_peer"])
    return err, [os.path.join(RELEASE, "examples", "polyglot_peer")]


def _check_python():
    # The driver runs in the project's venv (build/venv-python), which the
    # Python peer uses too.
    argv = [sys.executable, os.path.join(PEERS, "python", "peer.py")]
    err = _run([sys.executable, "-c", "import mpipc, cbor2"], env=peer_env(), timeout=60)
    return err, argv


def _check_node():
    binding = os.path.join(ROOT, "bindings", "node")
    argv = ["node", os.path.join(PEERS, "node", "peer.mjs")]
    if not os.path.exists(argv[1]):
        return "tests/polyglot/peers/node/peer.mjs is missing", argv
    err = _run(["node", "-e", "require(%r)" % binding], env=peer_env(), timeout=60)
    return err, argv


def peer_env(extra=None):
    env = dict(os.environ)
    env["MPIPC_LIB"] = LIB
    pp = os.path.join(ROOT, "bindings", "python")
    env["PYTHONPATH"] = pp + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("MPIPC_E2E_FD", None)
    env.pop("MPIPC_E2E_MANAGER", None)
    env.pop("MPIPC_E2E_SENDER", None)
    if extra:
        env.update(extra)
    return env


@pytest.fixture(scope="session")
def peers():
    """{lang: (error or None, argv)}: every peer built or checked once."""
    os.makedirs(BUILD, exist_ok=True)
    if not os.path.exists(LIB):
        return {lang: ("%s is missing: build the library first (cargo build --release)" % LIB, None)
                for lang in LANGS}
    jobs = {"c": _build_c, "cpp": _build_cpp, "go": _build_go, "rust": _build_rust, "python": _check_python,
            "node": _check_node}
    with ThreadPoolExecutor(len(jobs)) as ex:
        futs = {lang: ex.submit(fn) for lang, fn in jobs.items()}
        return {lang: f.result() for lang, f in futs.items()}


@pytest.fixture(scope="session")
def manager_server():
    """One `mpipc manager serve` for every manager case: its address."""
    tmp = tempfile.mkdtemp(prefix="mpipc-e2e-")
    keyfile = os.path.join(tmp, "authkey")
    with open(os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(AUTHKEY)
    sock = "/tmp/mpipc-e2e-%d-%s.sock" % (os.getpid(), secrets.token_hex(4))
    log = open(os.path.join(tmp, "manager.log"), "w+b")
    proc = subprocess.Popen([os.path.join(RELEASE, "mpipc"), "manager", "serve", "--address", "unix:" + sock,
                             "--authkey-file", keyfile], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while not os.path.exists(sock) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    ok = os.path.exists(sock) and proc.poll() is None
    log.seek(0)
    state = {"address": "unix:" + sock if ok else None,
             "error": None if ok else "manager server did not start: %s" % log.read().decode(errors="replace")}
    yield state
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    shutil.rmtree(tmp, ignore_errors=True)
    if os.path.exists(sock):
        os.unlink(sock)


@pytest.fixture(scope="session")
def redis_server():
    """One Redis server for the Redis column (scripts/redis-server.sh):
    {"queue": the address prefix of a queue, "manager": the server's
    address, "error": why there is none}. Its password is AUTHKEY, so the
    peers' manager authkey logs in; no AOF (nothing here needs durability,
    and an fsync per write would slow every case)."""
    tmp = tempfile.mkdtemp(prefix="mpipc-e2e-redis-")
    p = subprocess.run(["bash", REDIS_SERVER, "start", tmp, "--password", AUTHKEY.decode(), "--", "--appendonly", "no"],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    state = {"queue": None, "manager": None,
             "error": None if p.returncode == 0 else "scripts/redis-server.sh start exited %d: %s" % (
                 p.returncode, p.stdout.decode(errors="replace"))}
    if p.returncode == 0:
        with open(os.path.join(tmp, "env")) as f:
            port = int(dict(line.strip().split("=", 1) for line in f if "=" in line)["REDIS_PORT"])
        state["queue"] = "redis://:%s@127.0.0.1:%d/0/" % (AUTHKEY.decode(), port)
        state["manager"] = "redis://127.0.0.1:%d/0" % port
    yield state
    subprocess.run(["bash", REDIS_SERVER, "stop", tmp], stdin=subprocess.DEVNULL, timeout=60)
    shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------
# one peer process


class Peer:
    """A running peer, with its stdout and stderr collected by threads."""

    def __init__(self, lang, argv, role, primitive, name, env, pass_fds=(), vectors=VECTORS):
        self.lang, self.role = lang, role
        self.out_lines = []
        self.err = bytearray()
        self.ready = threading.Event()
        self.proc = subprocess.Popen(argv + [role, primitive, name, vectors], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, pass_fds=pass_fds)
        self._threads = [threading.Thread(target=self._read_out, daemon=True),
                         threading.Thread(target=self._read_err, daemon=True)]
        for t in self._threads:
            t.start()

    def _read_out(self):
        for line in self.proc.stdout:
            self.out_lines.append(line.decode(errors="replace").rstrip("\n"))
            if line == b"READY\n":
                self.ready.set()
        self.ready.set()  # EOF: wake a waiter (it checks the flag's cause)

    def _read_err(self):
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):
            self.err += chunk

    def wait_ready(self, deadline):
        self.ready.wait(max(0.0, deadline - time.monotonic()))
        return "READY" in self.out_lines

    def wait(self, deadline):
        try:
            return self.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def finish(self):
        for t in self._threads:
            t.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def report(self):
        rc = self.proc.poll()
        err = self.err.decode(errors="replace").strip()
        if len(err) > 6000:
            err = err[:3000] + "\n[...]\n" + err[-3000:]
        return "--- %s %s (exit %s), stdout %r\n%s" % (self.lang, self.role, rc, self.out_lines,
                                                        err or "(no stderr)")


# --------------------------------------------------------------------------
# cleanup


_libmpipc = None


def _manager_delete(address, names):
    """`manager delete` of each name, through the C ABI (best effort)."""
    global _libmpipc
    try:
        if _libmpipc is None:
            lib = ctypes.CDLL(LIB)
            lib.mp_mgr_connect.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int64,
                                           ctypes.POINTER(ctypes.c_void_p)]
            lib.mp_mgr_call.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p]
            lib.mp_mgr_close.argtypes = [ctypes.c_void_p]
            lib.mp_buf_free.argtypes = [ctypes.c_void_p]
            _libmpipc = lib
        lib = _libmpipc
        m = ctypes.c_void_p()
        if lib.mp_mgr_connect(address.encode(), AUTHKEY, len(AUTHKEY), 5000, ctypes.byref(m)) != 0:
            return
        buf = (ctypes.c_void_p * 2)()
        for n in names:
            if lib.mp_mgr_call(m, b"manager", n.encode(), b"delete", b"\x80", 1, buf) == 0:
                lib.mp_buf_free(buf)
        lib.mp_mgr_close(m)
    except OSError:
        pass


def _queue_unlink(address):
    """`mpq_unlink` of a queue's address, through the C ABI (best effort)."""
    try:
        lib = ctypes.CDLL(LIB)
        lib.mpq_unlink.argtypes = [ctypes.c_char_p]
        lib.mpq_unlink(address.encode())
    except OSError:
        pass


def _cleanup(name, manager_address, queue_address=None):
    for path in glob.glob("/dev/shm/mpipc.*.%s*" % glob.escape(name)) + ["/tmp/%s.sock" % name]:
        try:
            os.unlink(path)
        except OSError:
            pass
    if manager_address:
        _manager_delete(manager_address, [name + "-dict", name + "-list"])
    if queue_address:
        _queue_unlink(queue_address)


# --------------------------------------------------------------------------
# the matrix

_seq = iter(range(1, 1 << 30))


def _exchange(primitive, sender, receiver, argvs, manager_address, vectors=VECTORS, queue_prefix=""):
    """Runs one case; returns a list of problems (empty: passed).
    `queue_prefix`: prepended to the queue's name (a Redis server's address)."""
    name = "e2e-%d-%d-%s-%s-%s" % (os.getpid(), next(_seq), primitive, sender, receiver)
    peer_name = queue_prefix + name if primitive == "queue" else name
    deadline = time.monotonic() + CASE_TIMEOUT
    # Both peers learn the sender's language: a receiver expects a Python
    # tuple as the plain array (the vector's hex_plain) from Go and Node.
    extra = {"MPIPC_E2E_SENDER": sender}
    if manager_address:
        extra["MPIPC_E2E_MANAGER"] = manager_address
    env = peer_env(extra)
    started = []
    problems = []

    def start(lang, role, **kw):
        p = Peer(lang, argvs[lang], role, primitive, peer_name, kw.pop("env", env), vectors=vectors, **kw)
        started.append(p)
        return p

    def need_ready(p):
        if not p.wait_ready(deadline):
            rc = p.proc.poll()
            problems.append("%s %s: no READY line (%s)" % (
                p.lang, p.role, "still running after %.0f s (killed)" % CASE_TIMEOUT if rc is None else "exit %s" % rc))
            return False
        return True

    def need_exit(p, want=0):
        rc = p.wait(deadline)
        if rc is None:
            problems.append("%s %s: still running after %.0f s (killed)" % (p.lang, p.role, CASE_TIMEOUT))
        elif rc != want:
            problems.append("%s %s: exit %s" % (p.lang, p.role, rc))
        return rc == want

    try:
        if primitive == "pipe":
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s = start(sender, "send", pass_fds=(a.fileno(),),
                          env=dict(env, MPIPC_E2E_FD=str(a.fileno())))
                r = start(receiver, "recv", pass_fds=(b.fileno(),),
                          env=dict(env, MPIPC_E2E_FD=str(b.fileno())))
            finally:
                a.close()  # the peers hold the only copies: EOF comes when the sender exits
                b.close()
            need_exit(s) and need_exit(r)
        elif primitive == "queue":
            # Both at once: the receiver's 10 s per get covers the sender's start-up.
            s = start(sender, "send")
            r = start(receiver, "recv")
            need_exit(s) and need_exit(r)
        elif primitive == "listener":
            r = start(receiver, "recv")
            if need_ready(r):
                s = start(sender, "send")
                need_exit(s) and need_exit(r)
        elif primitive in ("manager", "array"):
            s = start(sender, "send")
            if need_exit(s):
                need_exit(start(receiver, "recv"))
        elif primitive == "lock":
            s = start(sender, "send")
            if need_ready(s):
                r = start(receiver, "recv")
                if need_ready(r):
                    s.kill()
                    need_exit(r)
        else:
            problems.append("unknown primitive %s" % primitive)
    finally:
        for p in started:
            p.kill()
        for p in started:
            p.finish()
        _cleanup(name, manager_address, peer_name if queue_prefix and primitive == "queue" else None)
    if not problems:
        for p in started:
            if p.out_lines != ["READY"]:
                problems.append("%s %s: stdout %r, want exactly one READY line" % (p.lang, p.role, p.out_lines))
    if problems:
        problems.extend(p.report() for p in started)
    return problems


@pytest.mark.parametrize("primitive,sender,receiver", CASES)
def test_e2e(primitive, sender, receiver, peers, request):
    missing = ["%s peer unavailable: %s" % (lang, peers[lang][0]) for lang in sorted({sender, receiver})
               if peers[lang][0]]
    if missing:
        pytest.fail("\n".join(missing), pytrace=False)
    manager_address = None
    if primitive == "manager":
        srv = request.getfixturevalue("manager_server")
        if srv["error"]:
            pytest.fail(srv["error"], pytrace=False)
        manager_address = srv["address"]
    argvs = {lang: peers[lang][1] for lang in (sender, receiver)}
    problems = _exchange(primitive, sender, receiver, argvs, manager_address)
    if problems:
        pytest.fail("%s from %s to %s:\n%s" % (primitive, sender, receiver, "\n".join(problems)), pytrace=False)


def _redis_case(case, peers, server):
    """Problems of one Redis case (empty: passed)."""
    primitive, sender, receiver = case
    missing = ["%s peer unavailable: %s" % (lang, peers[lang][0]) for lang in sorted({sender, receiver})
               if peers[lang][0]]
    if server["error"]:
        missing.append(server["error"])
    if missing:
        return missing
    argvs = {lang: peers[lang][1] for lang in (sender, receiver)}
    return _exchange(primitive, sender, receiver, argvs, server["manager"] if primitive == "manager" else None,
                     queue_prefix=server["queue"])


@pytest.fixture(scope="session")
def redis_column(request, peers, redis_server):
    """{(primitive, sender, receiver): problems} of every Redis case this
    session selected, run REDIS_PARALLEL at a time: a case spends most of
    its time starting its two peers and waiting for the server, so the
    column costs a fraction of running its cases one by one. Each case has
    its own names and its own hard timeout, as in the sequential matrix."""
    cases = [tuple(item.callspec.params[k] for k in ("primitive", "sender", "receiver"))
             for item in request.session.items if getattr(item, "originalname", None) == "test_e2e_redis"]
    with ThreadPoolExecutor(REDIS_PARALLEL) as ex:
        futs = {case: ex.submit(_redis_case, case, peers, redis_server) for case in cases}
        return {case: f.result() for case, f in futs.items()}


@pytest.mark.parametrize("primitive,sender,receiver", REDIS_CASES)
def test_e2e_redis(primitive, sender, receiver, redis_column):
    problems = redis_column[(primitive, sender, receiver)]
    if problems:
        pytest.fail("%s on Redis from %s to %s:\n%s" % (primitive, sender, receiver, "\n".join(problems)),
                    pytrace=False)


# Issue 19's "done when": a program in a language without objects of its own
# (C, through libcbor; C++, through mpipc_json.hpp and nlohmann::json) puts
# the map {"name": "a", "id": 1, "score": 0.5, "vals": [1, 2]} on a queue,
# and a Python, a Go and a Node consumer each get an equal dict / map /
# object. It is the matrix's queue exchange over a vectors file holding just
# that map (object_map.json): the sender builds it from its description with
# its CBOR library; each receiver checks the bytes, the decoded value and its
# re-encoding. Rust (the typed API: `Queue::put_timeout(&value)`, serde
# through mpipc::codec) is a sender too, and so is C through the C ABI's
# JSON bridge ("cjson": the C peer with --json puts the vector's `json` text
# with mpq_put_json). The other way, "cjson" receives what Python, Go and
# Node put with mpq_get_json and compares it with that text
# (OBJECT_JSON_SOURCES).
OBJECT_SENDERS = ["c", "cjson", "cpp", "rust"]
OBJECT_RECEIVERS = ["python", "go", "node"]
OBJECT_JSON_SOURCES = ["python", "go", "node"]
OBJECT_CASES = ([(s, r) for s in OBJECT_SENDERS for r in OBJECT_RECEIVERS]
                + [(s, "cjson") for s in OBJECT_JSON_SOURCES])


def _object_peer(lang, peers):
    """(error or None, argv) of one side of a test_object case: "cjson" is
    the C peer with --json (PEERS.md, "Issue 19's object")."""
    if lang == "cjson":
        err, argv = peers["c"]
        return err, (argv + ["--json"] if argv else argv)
    return peers[lang]


@pytest.mark.parametrize("sender,receiver", [pytest.param(s, r, id="%s-%s" % (s, r)) for s, r in OBJECT_CASES])
def test_object(sender, receiver, peers):
    sides = {lang: _object_peer(lang, peers) for lang in (sender, receiver)}
    missing = ["%s peer unavailable: %s" % (lang, sides[lang][0]) for lang in sorted(sides) if sides[lang][0]]
    if missing:
        pytest.fail("\n".join(missing), pytrace=False)
    argvs = {lang: side[1] for lang, side in sides.items()}
    problems = _exchange("queue", sender, receiver, argvs, None, vectors=OBJECT_VECTORS)
    if problems:
        pytest.fail("issue 19's map from %s to %s:\n%s" % (sender, receiver, "\n".join(problems)), pytrace=False)
