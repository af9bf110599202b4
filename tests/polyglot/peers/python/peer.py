"""The Python peer of the cross-language end-to-end tests
(tests/polyglot/PEERS.md):

    peer.py <send|recv> <queue|pipe|listener|manager|array|lock> <name> <vectors.json>

Uses the Python binding (``import mpipc``, bindings/python; run with
build/venv-python/bin/python, the package found through PYTHONPATH and the
library through MPIPC_LIB). Native values are built from the vectors'
descriptions (dict for maps, in order; tuple for {tuple} and array keys;
int; float; str; bytes; an aware datetime for tag 1; PeerRef, an object
with ``__mpipc_ref__``, for {ref}, which the codec's REF resolver gives
back; cbor2.CBORTag for other tags) and
sent with the object API (put, send, d[k] = v, append). Received messages
are taken as raw bytes where the API allows (get_bytes, recv_bytes; the
manager proxies only return decoded values), compared with the vector's
hex, decoded with mpipc.decode, compared with the described value, and
re-encoded with mpipc.encode.
"""

import ctypes
import datetime
import json
import math
import os
import struct
import sys
import time
import warnings

import cbor2

import mpipc
from mpipc.connection import Connection

AUTHKEY = b"polyglot"
TIMEOUT = 10.0
# The sender's language (the driver sets it for both peers): Go and Node
# write a tuple as the plain array, the vector's hex_plain (PEERS.md).
SENDER = os.environ.get("MPIPC_E2E_SENDER")
PLAIN_SENDER = SENDER in ("go", "node")
ME = "python"  # this binding's name in the vectors' 'reencoded' and 'refused_by'
# D3 of docs/TYPES.md: nothing deeper than 128. A manager call's argument
# array (and a list copy's result) puts a value one level below the top.
MAX_DEPTH = 128

failed = 0


def fail(msg):
    global failed
    failed += 1
    print("python peer: %s" % msg, file=sys.stderr, flush=True)


def die(msg):
    print("python peer: fatal: %s" % msg, file=sys.stderr, flush=True)
    sys.exit(2)


def ready():
    sys.stdout.write("READY\n")
    sys.stdout.flush()


class PeerRef:
    """A manager reference (REF) as this peer sends and receives it: not a
    proxy (the vectors' addresses have no server), but encoded the same
    way, through ``__mpipc_ref__``."""

    def __init__(self, kind, name, address):
        self.ref = (kind, name, address)

    def __mpipc_ref__(self):
        return self.ref

    def __eq__(self, other):
        return isinstance(other, PeerRef) and other.ref == self.ref

    def __repr__(self):
        return "PeerRef%r" % (self.ref,)


def build(d, tagged=True):
    """The Python value a vector's description stands for; a {tuple} is a
    list when not `tagged` (the bytes a Go or Node sender wrote), except in
    a map key, where every array is a tuple."""
    if "nest" in d:  # {nest: k, [tag: n,] value: v}: k one-element arrays (or tags n) around v
        v = build(d["value"], tagged)
        for _ in range(d["nest"]):
            v = cbor2.CBORTag(d["tag"], v) if "tag" in d else [v]
        return v
    if "tag" in d:
        inner = build(d["value"], tagged)
        if d["tag"] == 1 and not d.get("generic"):
            return datetime.datetime.fromtimestamp(inner, datetime.timezone.utc)
        if d["tag"] == 0 and not d.get("generic"):
            return datetime.datetime.fromisoformat(inner.replace("Z", "+00:00"))
        return cbor2.CBORTag(d["tag"], inner)  # {generic}: a time no datetime holds passes through
    (k, v), = d.items()
    if k == "null":
        return None
    if k == "bool":
        return v
    if k == "int":
        return int(v)
    if k == "float":
        return float(v)
    if k == "text":
        return v
    if k == "bytes":
        return bytes.fromhex(v)
    if k == "array":
        return [build(x, tagged) for x in v]
    if k == "tuple":
        items = [build(x, tagged) for x in v]
        return tuple(items) if tagged else items
    if k == "ref":
        return PeerRef(*v)
    if k == "map":
        return {key(build(kv[0], tagged)): build(kv[1], tagged) for kv in v}
    die("unknown description %r" % (d,))


def key(k):
    """A map key: arrays are tuples (hashable)."""
    return tuple(key(x) for x in k) if isinstance(k, list) else k


def depth(d):
    """The depth of the deepest item of description d (D3: the top item is
    at depth 0; an item inside an array, a map or a tag is one deeper)."""
    if "nest" in d:
        return d["nest"] + depth(d["value"])
    if "tag" in d:
        return 1 + depth(d["value"])
    (k, v), = d.items()
    if k == "int":
        return 1 if not -2 ** 64 <= int(v) < 2 ** 64 else 0  # a bignum: tag 2/3 around bytes
    if k in ("array", "tuple"):
        inner = 1 + max((depth(x) for x in v), default=-1)
        return inner + 1 if k == "tuple" else inner
    if k == "ref":
        return 2  # REF, its array, the texts
    if k == "map":
        return 1 + max((depth(x) for kv in v for x in kv), default=-1)
    return 0


def array_in_key(d, in_key=False):
    """Whether description d has an {array} inside a map key: Python makes
    every array in a key a tuple (a list is not hashable), which it writes
    with the TUPLE tag (docs/TYPES.md), so it cannot send such a value."""
    if "nest" in d or "tag" in d:
        return ("nest" in d and "tag" not in d and in_key) or array_in_key(d["value"], in_key)
    (k, v), = d.items()
    if k in ("array", "tuple"):
        return (k == "array" and in_key) or any(array_in_key(x, in_key) for x in v)
    if k == "map":
        return any(array_in_key(kv[0], True) or array_in_key(kv[1], in_key) for kv in v)
    return False


def skipped(v, prim):
    """Whether vector v is left out of this exchange, by both peers alike
    (PEERS.md, "Vectors a peer leaves out"): the sender's binding refuses
    it ('refused_by': it cannot build the value), Python sends it (an
    {array} in a map key, which Python cannot build), or it goes through
    the manager and is too deep to sit in a call's argument array."""
    return (SENDER in v.get("refused_by", ()) or (SENDER == "python" and array_in_key(v["value"]))
            or (prim == "manager" and depth(v["value"]) >= MAX_DEPTH))


def same(a, b):
    """Equality that tells -0.0 from 0.0, 1 from 1.0 and True from 1, and
    keeps map order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b) or (a != a and b != b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(same(ka, kb) and same(va, vb)
                                        for (ka, va), (kb, vb) in zip(a.items(), b.items()))
    if isinstance(a, cbor2.CBORTag):
        return a.tag == b.tag and same(a.value, b.value)
    return a == b


def load(path, prim):
    with open(path) as f:
        doc = json.load(f)
    vs = [v for v in doc["valid"] if not skipped(v, prim)]
    if not vs:
        die("no valid vector")
    for v in vs:
        # What the sender wrote: hex_plain (a tuple as the plain array) from
        # Go and Node, hex from the others (this peer always sends hex).
        v["plain"] = PLAIN_SENDER and "hex_plain" in v
        v["bytes"] = bytes.fromhex(v["hex_plain"] if v["plain"] else v["hex"])
        # Python's decoder refuses it (a dict cannot keep true and 1 apart).
        v["refused"] = ME in v.get("refused_by", ())
        # What Python writes for the decoded value where it is not the bytes received.
        v["reencoded"] = bytes.fromhex(v["reencoded"][ME]) if ME in v.get("reencoded", {}) else None
        # An {array} in a map key comes back a tuple, which Python writes with the TUPLE tag.
        v["tuple_keys"] = array_in_key(v["value"])
        if not v["refused"]:
            v["native"] = build(v["value"], not v["plain"])
            v["send"] = build(v["value"])
    return vs


def check_decoded(what, v, got):
    """A value the binding decoded for vector v: the described value, which
    encodes back to v's bytes."""
    if not same(got, v["native"]):
        fail("%s: vector %s: decoded %r, want %r" % (what, v["name"], got, v["native"]))
    try:
        re = mpipc.encode(got)
    except Exception as e:  # noqa: BLE001 - report any encoder failure
        fail("%s: vector %s: re-encoding the decoded value: %r" % (what, v["name"], e))
        return
    if v["reencoded"] is not None:
        if re != v["reencoded"]:
            fail("%s: vector %s: decoded and re-encoded %s, want %s (its 'reencoded')" % (
                what, v["name"], re.hex(), v["reencoded"].hex()))
    elif v["plain"] or v["tuple_keys"]:
        # Plain bytes of a tuple, or an array in a map key: Python re-encodes
        # every map key's array as a tuple (TUPLE-tagged), so the bytes may
        # differ; the value may not.
        if not same(mpipc.decode(re), got):
            fail("%s: vector %s: re-encoded %s decodes to another value" % (what, v["name"], re.hex()))
    elif re != v["bytes"]:
        fail("%s: vector %s: decoded and re-encoded %s, want %s" % (what, v["name"], re.hex(), v["bytes"].hex()))


def check_raw(what, v, data):
    """Raw bytes received for vector v: its canonical encoding; then decode
    and re-encode."""
    if data != v["bytes"]:
        fail("%s: vector %s: got bytes %s, want %s" % (what, v["name"], data.hex(), v["bytes"].hex()))
    if v["refused"]:
        check_refused(what, v, lambda: mpipc.decode(data))
        return
    try:
        got = mpipc.decode(data)
    except Exception as e:  # noqa: BLE001
        fail("%s: vector %s: decode: %r" % (what, v["name"], e))
        return
    check_decoded(what, v, got)


def check_refused(what, v, get):
    """A vector Python's decoder refuses ('refused_by'): `get()` (a decode)
    raises mpipc.DecodeError."""
    try:
        got = get()
    except mpipc.DecodeError:
        return
    except Exception as e:  # noqa: BLE001 - any other failure is reported as such
        fail("%s: vector %s: decoding raised %r, want mpipc.DecodeError (refused_by)" % (what, v["name"], e))
        return
    fail("%s: vector %s: decoded %r, want mpipc.DecodeError (refused_by)" % (what, v["name"], got))


def queue(vs, send, name):
    q = mpipc.Queue(name=name)
    ready()
    if send:
        for v in vs:
            q.put(v["send"], timeout=TIMEOUT)
        q.close()
        return
    for v in vs:
        try:
            data = q.get_bytes(timeout=TIMEOUT)
        except mpipc.Empty:
            die("queue: vector %s did not come within %s s" % (v["name"], TIMEOUT))
        check_raw("queue", v, data)
    n = q.qsize()
    if n != 0:
        fail("queue: %d messages left after the last vector" % n)
    q.close()


def send_all(vs, c):
    for v in vs:
        c.send(v["send"])


def recv_all(vs, c, what):
    for v in vs:
        if not c.poll(TIMEOUT):
            die("%s: vector %s did not come within %s s" % (what, v["name"], TIMEOUT))
        check_raw(what, v, c.recv_bytes())
    if not c.poll(TIMEOUT):
        fail("%s: no EOF within %s s after the last vector" % (what, TIMEOUT))
        return
    try:
        extra = c.recv_bytes()
    except EOFError:
        return
    fail("%s: a message after the last vector: %s" % (what, extra.hex()))


def pipe(vs, send):
    fd = int(os.environ["MPIPC_E2E_FD"])
    # The binding has no public constructor from a descriptor
    # (multiprocessing's Connection(handle) takes one; mpipc's Connection
    # takes a C handle): wrap it with mp_pipe_from_fd from the binding's
    # loaded library and hand the handle to mpipc's Connection.
    from mpipc._ffi import lib

    out = ctypes.c_void_p()
    rc = lib.mp_pipe_from_fd(fd, ctypes.byref(out))
    if rc:
        die("mp_pipe_from_fd: %d" % rc)
    c = Connection(out.value)
    ready()
    if send:
        send_all(vs, c)
    else:
        recv_all(vs, c, "pipe")
    c.close()


def listener(vs, send, name):
    addr = "unix:/tmp/%s.sock" % name
    if not send:
        with mpipc.Listener(addr, authkey=AUTHKEY) as lst:
            ready()
            c = lst.accept(timeout=TIMEOUT)
            recv_all(vs, c, "listener")
            c.close()
        return
    deadline = time.monotonic() + 5.0
    while True:
        try:
            c = mpipc.Client(addr, authkey=AUTHKEY, timeout=TIMEOUT)
            break
        except Exception as e:  # noqa: BLE001 - retry whatever it is, for 5 s
            if time.monotonic() >= deadline:
                die("connect (for 5 s): %r" % e)
            time.sleep(0.02)
    ready()
    send_all(vs, c)
    c.close()


def manager(vs, send, name):
    addr = os.environ.get("MPIPC_E2E_MANAGER") or die("MPIPC_E2E_MANAGER is not set")
    m = mpipc.connect_manager(addr, authkey=AUTHKEY)
    ready()
    d = m.dict(name=name + "-dict")
    li = m.list(name=name + "-list")
    if send:
        for i, v in enumerate(vs):
            d[i] = v["send"]
        for v in vs:
            li.append(v["send"])
        return
    if len(d) != len(vs):
        fail("dict holds %d entries, want %d" % (len(d), len(vs)))
    for i, v in enumerate(vs):
        if v["refused"]:
            check_refused("manager dict", v, lambda: d[i])
            continue
        try:
            got = d[i]
        except KeyError:
            fail("manager dict: vector %s: key %d missing" % (v["name"], i))
            continue
        check_decoded("manager dict", v, got)
    if len(li) != len(vs):
        fail("manager list holds %d items, want %d" % (len(li), len(vs)))
    if not any(v["refused"] for v in vs):
        for v, got in zip(vs, li.copy()):
            check_decoded("manager list", v, got)
        return
    # A copy of the whole list cannot decode where an item is refused: item by item.
    for i, v in enumerate(vs):
        if v["refused"]:
            check_refused("manager list", v, lambda: li[i])
        else:
            check_decoded("manager list", v, li[i])


def bits(f):
    return struct.pack("<d", f).hex()


def array(vs, send, name):
    specs = [("q", 4), ("d", 4), ("B", 2)]
    if send:
        arrs = [mpipc.Array(tc, n, name="%s-%s" % (name, tc)) for tc, n in specs]
    else:
        arrs = [mpipc.Array(tc, 0, name="%s-%s" % (name, tc), create=False) for tc, _ in specs]
    ready()
    qv = [0, -1, 2 ** 63 - 1, -(2 ** 63)]
    dv = [1.5, -0.0, math.inf, 1e300]
    bv = [0, 255]
    if send:
        for i, x in enumerate(qv):
            arrs[0][i] = x
        for i, x in enumerate(dv):
            arrs[1][i] = x
        for i, x in enumerate(bv):
            arrs[2][i] = x
        r = arrs[0].incr(0, 5)
        if r != 5:
            fail("incr returned %r, want 5" % (r,))
    else:
        for a, (tc, n) in zip(arrs, specs):
            if a.typecode != tc:
                fail("array %s: typecode %r, want %r" % (a.name, a.typecode, tc))
            if len(a) != n:
                fail("array %s: length %d, want %d" % (a.name, len(a), n))
        for i, want in enumerate([5] + qv[1:]):
            got = arrs[0][i]
            if type(got) is not int or got != want:
                fail("q[%d] = %r, want %r" % (i, got, want))
        for i, want in enumerate(dv):
            got = arrs[1][i]
            if type(got) is not float or bits(got) != bits(want):
                fail("d[%d] = %r (bits %s), want %r (bits %s)" % (
                    i, got, bits(got) if isinstance(got, float) else "?", want, bits(want)))
        for i, want in enumerate(bv):
            got = arrs[2][i]
            if type(got) is not int or got != want:
                fail("B[%d] = %r, want %r" % (i, got, want))
    for a in arrs:
        a.close()


def lock(vs, send, name):
    lk = mpipc.Lock(name=name)
    if send:
        if not lk.acquire(timeout=TIMEOUT):
            die("acquire of a fresh lock timed out")
        ready()
        while True:
            time.sleep(3600)  # until SIGKILL
    if lk.acquire(block=False):
        die("acquire(block=False) of a held lock returned True")
    ready()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ok = lk.acquire(timeout=TIMEOUT)
    if not ok:
        die("acquire after the holder was killed timed out")
    if not lk.owner_died:
        fail("acquire after the holder was killed: owner_died is False")
    if not any(issubclass(w.category, mpipc.OwnerDiedWarning) for w in caught):
        fail("acquire after the holder was killed: no OwnerDiedWarning")
    try:
        lk.release()
    except Exception as e:  # noqa: BLE001
        fail("release after the owner died: %r" % e)
    try:
        lk.release()
        fail("second release did not raise")
    except RuntimeError as e:
        if not isinstance(e, mpipc.NotOwner):
            fail("second release raised %r, want mpipc.NotOwner" % e)


# --------------------------------------------------------------------------
# bench roles (benches/polyglot_bench.py; PEERS.md "Bench roles"): the small
# object, encoded by Queue.put (the binding's encoder) and decoded by
# Queue.get (its decoder).


def bench(args):
    role = args[0]

    def go():
        if not sys.stdin.readline().startswith("GO"):
            die("bench: expected GO on stdin")

    if role in ("bench-put", "bench-get") and len(args) == 3:
        q, n = mpipc.Queue(name=args[1]), int(args[2])
        ready()
        if role == "bench-put":
            go()
            put = q.put
            for i in range(n):
                put({"id": i, "name": f"item-{i}", "vals": [1.5, 2.5, 3.5]})
        else:
            get = q.get
            for i in range(n):
                m = get()
                if m["id"] != i:
                    die("bench-get: message %d out of order" % i)
            print("DONE", flush=True)
        q.close()
    elif role == "bench-pong" and len(args) == 4:
        q1, q2, n = mpipc.Queue(name=args[1]), mpipc.Queue(name=args[2]), int(args[3])
        ready()
        for _ in range(n):
            q2.put(q1.get())
        q1.close()
        q2.close()
    elif role == "bench-ping" and len(args) == 5:
        q1, q2, rounds, warm = mpipc.Queue(name=args[1]), mpipc.Queue(name=args[2]), int(args[3]), int(args[4])
        ready()
        go()
        lat = []
        clock = time.perf_counter_ns
        for i in range(warm + rounds):
            t0 = clock()
            q1.put({"id": i, "name": f"item-{i}", "vals": [1.5, 2.5, 3.5]})
            m = q2.get()
            t1 = clock()
            if m["id"] != i:
                die("bench-ping: round %d: wrong id back" % i)
            if i >= warm:
                lat.append(t1 - t0)
        lat.sort()
        print("RESULT %d %d" % (lat[len(lat) // 2], lat[min(len(lat) - 1, len(lat) * 99 // 100)]), flush=True)
        q1.close()
        q2.close()
    else:
        die("usage: peer.py bench-put|bench-get <queue> <n> | bench-ping <q1> <q2> <rounds> <warmup> | "
            "bench-pong <q1> <q2> <total>")


def echo(in_name, out_name):
    """The differential test's echo (tests/polyglot/test_differential.py):
    each message of queue `in_name` decoded with mpipc.decode and encoded
    again with mpipc.encode onto `out_name`; a message that does not decode
    (or encode) is answered with b"\\xffD" (b"\\xffE") and the reason; b"\\xffSTOP"
    ends it. The driver's queues exist; REFs come back as PeerRef."""
    from mpipc import _codec
    _codec.set_ref_resolver(PeerRef)
    src, dst = mpipc.Queue(name=in_name, create=False), mpipc.Queue(name=out_name, create=False)
    ready()
    while True:
        raw = src.get_bytes(timeout=60)
        if raw == b"\xffSTOP":
            break
        try:
            value = mpipc.decode(raw)
        except Exception as e:  # every decode failure is the answer, whatever its class
            dst.put_bytes(b"\xffD" + ("%s: %s" % (type(e).__name__, e)).encode("utf-8", "replace"))
            continue
        try:
            out = mpipc.encode(value)
        except Exception as e:
            dst.put_bytes(b"\xffE" + ("%s: %s" % (type(e).__name__, e)).encode("utf-8", "replace"))
            continue
        dst.put_bytes(out)
    src.close()
    dst.close()


def main():
    if len(sys.argv) >= 2 and sys.argv[1].startswith("bench-"):
        bench(sys.argv[1:])
        return
    if len(sys.argv) == 4 and sys.argv[1] == "echo":
        echo(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) != 5:
        die("usage: peer.py <send|recv> <primitive> <name> <vectors.json>")
    role, prim, name, path = sys.argv[1:]
    if role not in ("send", "recv"):
        die("role %s: want send or recv" % role)
    fn = {"queue": queue, "pipe": lambda vs, s, n: pipe(vs, s), "listener": listener, "manager": manager,
          "array": array, "lock": lock}.get(prim) or die("unknown primitive %s" % prim)
    # Decode every REF as a PeerRef (after managers.py registered its own).
    import mpipc.managers  # noqa: F401
    from mpipc import _codec
    _codec.set_ref_resolver(PeerRef)
    fn(load(path, prim), role == "send", name)
    if failed:
        print("python peer: %s %s: %d check(s) failed" % (role, prim, failed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
