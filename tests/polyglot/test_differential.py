"""The differential test across every codec the project ships (issue 21):
Python (cbor2), Go (fxamacker/cbor), Node (bindings/node/lib/cbor.js), Rust
(mpipc::codec), C with libcbor (mpcbor_decode), C through the C ABI's JSON
bridge ("cjson") and C++ (mpipc_json.hpp).

Each codec runs as its polyglot peer's `echo` role (PEERS.md): it gets each
message from one queue, decodes it into its language's value, encodes that
and puts it on another queue (a message it cannot decode is answered with
0xff 'D' and the reason). The driver, this file, sends generated values
(tests/polyglot/differential.py: a seeded generator with its own canonical
encoder, independent of every codec) and checks, for each codec:

- test_values: every value comes back as the bytes docs/TYPES.md says that
  codec writes (the canonical bytes, but for the changes TYPES.md names);
- test_malformed: every malformed message is refused, and the codec goes
  on (the message was consumed);
- test_mutations: byte-level mutations of the values' messages, sent to
  every codec: all accept or all refuse (but for the map-key limits
  TYPES.md names for Python and Node, whose map types merge some keys the
  contract keeps apart), and what a codec gives back it gives back again
  unchanged when sent it (its output is its own fixed point).

The seeds are fixed here, so that `make test` is reproducible; the fuzz
command runs longer with random seeds (MPIPC_DIFF_SEED, MPIPC_DIFF_COUNT,
MPIPC_DIFF_MUTATIONS; the seed is printed with every failure).

    build/venv-python/bin/python -m pytest -q tests/polyglot/test_differential.py
"""

import contextlib
import ctypes
import os
import random
import secrets
import subprocess
import threading
import time

import pytest

import differential as D
import test_e2e as E

SEED = int(os.environ.get("MPIPC_DIFF_SEED", "21"))
COUNT = int(os.environ.get("MPIPC_DIFF_COUNT", "300"))
MUTATIONS = int(os.environ.get("MPIPC_DIFF_MUTATIONS", "300"))
ANSWER_TIMEOUT_MS = 30000
MAX_SHOWN = 15


class Lib:
    """The few C calls the driver makes (raw queue bytes; no codec)."""

    def __init__(self):
        lib = ctypes.CDLL(E.LIB)
        self.lib = lib
        lib.mpq_open.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
        lib.mpq_put_timeout.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int64]
        lib.mpq_get_timeout.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        lib.mp_buf_free.argtypes = [ctypes.c_void_p]
        lib.mpq_close.argtypes = [ctypes.c_void_p]
        lib.mpq_unlink.argtypes = [ctypes.c_char_p]

    def open(self, name):
        # mpq_options {maxsize, capacity_bytes, max_message, mode, flags}: 8 MiB, created here.
        opts = (ctypes.c_uint64 * 5)(0, 8 << 20, 0, 0, 0)
        q = ctypes.c_void_p()
        st = self.lib.mpq_open(name.encode(), ctypes.cast(opts, ctypes.c_void_p), ctypes.byref(q))
        assert st == 0, "mpq_open %s: status %d" % (name, st)
        return q

    def put(self, q, data):
        st = self.lib.mpq_put_timeout(q, data, len(data), ANSWER_TIMEOUT_MS)
        assert st == 0, "mpq_put_timeout: status %d" % st

    def get(self, q):
        buf = (ctypes.c_void_p * 2)()  # mp_buf {ptr, len}
        st = self.lib.mpq_get_timeout(q, buf, ANSWER_TIMEOUT_MS)
        if st != 0:
            return None
        data = ctypes.string_at(buf[0], buf[1] or 0) if buf[1] else b""
        self.lib.mp_buf_free(buf)
        return data


class Echo:
    """One codec's echo peer, with its two queues."""

    def __init__(self, lib, codec, argv):
        self.lib, self.codec = lib, codec
        tag = "diff-%s-%s" % (codec, secrets.token_hex(4))
        self.names = [tag + "-in", tag + "-out"]
        self.qin, self.qout = lib.open(self.names[0]), lib.open(self.names[1])
        if codec == "cjson":
            argv = argv + ["--json"]
        self.proc = subprocess.Popen(argv + ["echo"] + self.names, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=E.peer_env())
        self.err = bytearray()
        self._t = threading.Thread(target=lambda: self.err.extend(self.proc.stderr.read()), daemon=True)
        self._t.start()
        line = self.proc.stdout.readline()
        if line != b"READY\n":
            self.proc.kill()
            self.proc.wait()
            self._t.join(5)
            raise AssertionError("%s echo peer did not start: %r %s" % (codec, line, self.err.decode(errors="replace")))

    def echo(self, data):
        """What the codec gives back for `data`: bytes, or ("D", why) when
        it refused to decode, ("E", why) when it refused to encode."""
        self.lib.put(self.qin, data)
        got = self.lib.get(self.qout)
        if got is None:
            raise AssertionError("%s echo peer gave no answer within %d s (exit %s): %s"
                                 % (self.codec, ANSWER_TIMEOUT_MS // 1000, self.proc.poll(),
                                    self.err.decode(errors="replace")[-2000:]))
        if got[:1] == b"\xff" and got[1:2] in (b"D", b"E"):
            return (got[1:2].decode(), got[2:].decode(errors="replace"))
        return got

    def close(self):
        try:
            self.lib.put(self.qin, b"\xffSTOP")
            self.proc.wait(30)
        except (subprocess.TimeoutExpired, AssertionError):
            self.proc.kill()
            self.proc.wait()
        self._t.join(5)
        for q in (self.qin, self.qout):
            self.lib.lib.mpq_close(q)
        for n in self.names:
            self.lib.lib.mpq_unlink(n.encode())
        return self.proc.returncode


@pytest.fixture(scope="module")
def built():
    """(Lib, {codec: (error or None, argv)}): every codec's peer built or
    checked once. Each test starts the echo peers it uses and stops them
    when it ends, so no peer waits idle (its get would time out) while
    another codec's long run goes on."""
    os.makedirs(E.BUILD, exist_ok=True)
    if not os.path.exists(E.LIB):
        pytest.fail("%s is missing: build the library first" % E.LIB)
    out = {"c": E._build_c(), "cpp": E._build_cpp(), "go": E._build_go(), "rust": E._build_rust(),
           "python": E._check_python(), "node": E._check_node()}
    out["cjson"] = out["c"]
    return Lib(), out


@contextlib.contextmanager
def started(built, codecs):
    """{codec: Echo}: the echo peers of `codecs`, running for the block."""
    lib, peers = built
    running = {}
    try:
        for codec in codecs:
            err, argv = peers[codec]
            if err:
                pytest.fail("%s: %s" % (codec, err))
            running[codec] = Echo(lib, codec, argv)
        yield running
    finally:
        for e in running.values():
            e.close()


def _show(problems, what):
    shown = "\n".join(problems[:MAX_SHOWN])
    more = "\n(%d more)" % (len(problems) - MAX_SHOWN) if len(problems) > MAX_SHOWN else ""
    return "%s (seed %d): %d problem(s):\n%s%s" % (what, SEED, len(problems), shown, more)


@pytest.mark.parametrize("codec", D.CODECS)
def test_values(built, codec):
    """Generated values come back as TYPES.md says that codec writes them."""
    with started(built, [codec]) as peers:
        problems = _values(peers[codec])
    assert not problems, _show(problems, "%s: values" % codec)


def _values(e):
    problems = []
    for i, v in enumerate(D.values(SEED, COUNT)):
        data, want = D.sent(v), D.encode(v, e.codec)
        got = e.echo(data)
        if got != want:
            # Shown from a little before the first byte that differs.
            at = next((k for k, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got))) \
                if isinstance(got, bytes) else 0
            frm = max(0, at - 16)
            problems.append("#%d %.150r\n   sent %s\n   differs at byte %d; from byte %d:\n   want %s\n   got  %s" % (
                i, v, data.hex()[:160], at, frm, want[frm:frm + 80].hex(),
                got[frm:frm + 80].hex() if isinstance(got, bytes) else got))
    return problems


@pytest.mark.parametrize("codec", D.CODECS)
def test_malformed(built, codec):
    """Every malformed message is refused with the codec's decode error,
    and the codec goes on with the next message."""
    with started(built, [codec]) as peers:
        problems = _malformed(peers[codec])
    assert not problems, _show(problems, "%s: malformed" % codec)


def _malformed(e):
    problems = []
    for name, data in D.malformed():
        got = e.echo(data)
        if not (isinstance(got, tuple) and got[0] == "D"):
            problems.append("%s (%s): got %s" % (name, data.hex()[:80], got.hex() if isinstance(got, bytes) else got))
    # Still answering, the right thing, after all of them.
    if e.echo(b"\x82\x01\x61\x61") != b"\x82\x01\x61\x61":
        problems.append("after the malformed messages, [1, \"a\"] did not come back")
    return problems


# The key-equality refusals of a language whose map type merges keys that
# TYPES.md keeps apart (its D4 "Collisions": Python's dict, true and 1, maps
# as keys without order, times in one microsecond; Node's Map, NaNs of other
# bits, times in one millisecond), as each codec words them.
KEY_LIMIT_REFUSALS = {"python": "holds two equal keys", "node": "two keys that are one key"}


def _key_limit_only(answers):
    """Whether every codec that refused a message did so for a key collision
    its own map type makes, while every other codec (the Rust strict decoder
    among them, which refuses every TYPES.md collision) accepted it: a
    documented language limit, not a disagreement on the contract."""
    refused = {c: a[1] for c, a in answers.items() if isinstance(a, tuple)}
    return bool(refused) and all(c in KEY_LIMIT_REFUSALS and KEY_LIMIT_REFUSALS[c] in why
                                 for c, why in refused.items())


def test_mutations(built):
    """Mutated messages: every codec accepts or every codec refuses, and a
    codec's answer, sent to it again, comes back unchanged."""
    with started(built, D.CODECS) as live:
        problems = _mutations(live)
    assert not problems, _show(problems, "mutations")


def _mutations(live):
    rng = random.Random(SEED * 7919 + 1)
    base = [D.sent(v) for v in D.values(SEED + 1, 60)] + [d for _, d in D.malformed()]
    problems = []
    seen = set()
    for _ in range(MUTATIONS):
        data = D.mutate(rng, rng.choice(base))
        if data in seen:
            continue
        seen.add(data)
        answers = {c: e.echo(data) for c, e in live.items()}
        verdicts = {c: ("refused" if isinstance(a, tuple) else "accepted") for c, a in answers.items()}
        if len(set(verdicts.values())) > 1 and not _key_limit_only(answers):
            problems.append("%s: %s" % (data.hex()[:120], ", ".join(
                "%s %s" % (c, v if v == "accepted" else "refused (%s)" % answers[c][1][:80])
                for c, v in verdicts.items())))
            continue
        for c, a in answers.items():
            if isinstance(a, bytes):
                again = live[c].echo(a)
                if again != a:
                    problems.append("%s: %s gave %s, and for that %s" % (
                        data.hex()[:80], c, a.hex()[:80], again.hex()[:80] if isinstance(again, bytes) else again))
    return problems
