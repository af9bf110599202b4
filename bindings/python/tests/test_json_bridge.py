"""The C ABI's JSON bridge (docs/TYPES.md, "JSON bridge") against the
Python binding, across real processes: a C-ABI ``mpq_put_json`` (called
through ctypes in a fresh Python process, as a C program calls it) is read
by ``Queue.get`` as a dict, Python's ``put`` is read back by
``mpq_get_json``; the same for the pipe (``mp_pipe_send_json`` /
``mp_pipe_recv_json``) and the manager dict (``mp_mgr_dict_set_json`` /
``mp_mgr_dict_get_json``); and every refusal of the bridge, with its
status."""

import ctypes
import datetime
import json
import math
import subprocess
import sys

import pytest

import mpipc
from mpipc import Manager, Pipe, Queue
from mpipc import _bindings as B
from mpipc._ffi import lib
from mpipc.connection import _to_c_address

from conftest import child_env

EXAMPLE = '{"name": "a", "id": 1, "score": 0.5, "vals": [1, 2]}'

# What every child program starts with: the library through the Python
# binding's ctypes handle (the C functions as C calls them), a check that
# exits with the status and the last error, and the text of a char * the
# library returned, freed with mp_json_free.
PRELUDE = r"""
import ctypes, os, sys
from mpipc._ffi import lib

def check(rc, what):
    if rc != 0:
        sys.stderr.write("%s: %d %s\n" % (what, rc, lib.mp_last_error().decode()))
        sys.exit(3)

def take(p):
    s = ctypes.string_at(p.value).decode()
    lib.mp_json_free(p)
    return s
"""


def run(code, *args, pass_fds=()):
    """Runs PRELUDE + code in a fresh Python (not forked), with the package
    importable; returns its stdout; fails the test on a non-zero exit."""
    r = subprocess.run([sys.executable, "-c", PRELUDE + code, *args], env=child_env(), capture_output=True,
                       text=True, timeout=60, pass_fds=pass_fds)
    assert r.returncode == 0, "child failed (%d):\n%s\n%s" % (r.returncode, r.stdout, r.stderr)
    return r.stdout


def last_error():
    return lib.mp_last_error().decode()


def to_cbor(text):
    """mp_json_to_cbor(text): (status, bytes or None)."""
    raw = text.encode() if isinstance(text, str) else text
    b = B.mp_buf()
    rc = lib.mp_json_to_cbor(raw, len(raw), ctypes.byref(b))
    if rc:
        return rc, None
    out = ctypes.string_at(b.ptr, b.len)
    lib.mp_buf_free(ctypes.byref(b))
    return rc, out


def to_json(cbor):
    """mp_cbor_to_json(cbor): (status, text or None)."""
    p = ctypes.c_void_p()
    rc = lib.mp_cbor_to_json(cbor, len(cbor), ctypes.byref(p))
    if rc:
        assert p.value is None, "the output is written only on MP_OK"
        return rc, None
    s = ctypes.string_at(p.value).decode()
    lib.mp_json_free(p)
    return rc, s


def test_c_put_json_reaches_python_as_a_dict(name):
    q = Queue(name=name)
    run("""
q = ctypes.c_void_p()
check(lib.mpq_open(sys.argv[1].encode(), None, ctypes.byref(q)), "mpq_open")
for text in sys.argv[2:]:
    check(lib.mpq_put_json(q, text.encode()), "mpq_put_json")
lib.mpq_close(q)
""", name, EXAMPLE,
        '{"b": {"$bytes": "AAH/"}, "big": 1180591620717411303424, "neg": -18446744073709551617, '
        '"f": 1.0, "nan": {"$float": "NaN"}, "inf": {"$float": "-Infinity"}}',
        '{"$map": [[1, "int key"], [[1, "a"], "array key"], [null, true]]}',
        '{"$tag": 1836086389, "$value": [1, "a"]}',
        '{"$tag": 1, "$value": 1700000000.5}',
        '{"$tag": 99, "$value": "other"}')
    assert q.get(timeout=10) == {"name": "a", "id": 1, "score": 0.5, "vals": [1, 2]}
    got = q.get(timeout=10)
    assert got["b"] == b"\x00\x01\xff" and got["big"] == 2 ** 70 and got["neg"] == -2 ** 64 - 1
    assert got["f"] == 1.0 and type(got["f"]) is float
    assert math.isnan(got["nan"]) and got["inf"] == -math.inf
    # Keys that are not text; an array key is a tuple in Python.
    assert q.get(timeout=10) == {1: "int key", (1, "a"): "array key", None: True}
    t = q.get(timeout=10)
    assert t == (1, "a") and type(t) is tuple
    assert q.get(timeout=10) == datetime.datetime.fromtimestamp(1700000000.5, datetime.timezone.utc)
    other = q.get(timeout=10)
    assert (other.tag, other.value) == (99, "other")
    q.close()


def test_python_put_is_read_by_mpq_get_json(name):
    q = Queue(name=name)
    q.put({"name": "a", "id": 1, "score": 0.5, "vals": [1, 2]})
    q.put({"t": (1, 2), "b": b"\x01\x02\x03", "big": 2 ** 70, "f": 1.0, "nan": float("nan"), "none": None})
    q.put({1: "int key", (1, 2): "tuple key"})
    q.put(datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc))
    out = run("""
q = ctypes.c_void_p()
check(lib.mpq_open(sys.argv[1].encode(), None, ctypes.byref(q)), "mpq_open")
for _ in range(4):
    p = ctypes.c_void_p()
    check(lib.mpq_get_json(q, ctypes.byref(p), 10000), "mpq_get_json")
    print(take(p))
lib.mpq_close(q)
""", name)
    assert out.splitlines() == [
        '{"name":"a","id":1,"score":0.5,"vals":[1,2]}',
        '{"t":[1,2],"b":{"$bytes":"AQID"},"big":1180591620717411303424,"f":1.0,"nan":{"$float":"NaN"},"none":null}',
        '{"$map":[[1,"int key"],[[1,2],"tuple key"]]}',
        '{"$tag":1,"$value":1704164645}',
    ]
    # What JSON parsers read of it.
    assert json.loads(out.splitlines()[0]) == {"name": "a", "id": 1, "score": 0.5, "vals": [1, 2]}
    q.close()


def test_a_pickle_is_refused_and_consumed(name):
    q = Queue(name=name, serializer="pickle")
    q.put(range(3))  # only pickle carries a range
    q.put("next")
    out = run("""
q = ctypes.c_void_p()
check(lib.mpq_open(sys.argv[1].encode(), None, ctypes.byref(q)), "mpq_open")
p = ctypes.c_void_p()
print(lib.mpq_get_json(q, ctypes.byref(p), 10000), p.value, lib.mp_last_error().decode())
check(lib.mpq_get_json(q, ctypes.byref(p), 10000), "mpq_get_json")
print(take(p))
""", name)
    first, second = out.splitlines()
    assert first.startswith("%d None message: a Python pickle" % B.MP_E_TYPE), first
    assert second == '"next"'
    q.close()


def test_refused_texts_put_nothing(name):
    q = Queue(name=name)
    raw = ctypes.c_void_p(q._ptr())
    for text, status, part in [
        (b'{"id": }', B.MP_E_INVAL, "json: invalid JSON: expected value at line 1 column 8"),
        (b'{"$bytes": "AA"}', B.MP_E_INVAL, "base64"),
        (b'{"$tag": 1836085355, "$value": {"$bytes": "gAQ="}}', B.MP_E_TYPE, "pickle"),
        (b"[" * 130 + b"]" * 130, B.MP_E_INVAL, "nesting deeper than 128"),
        (b'"\xff"', B.MP_E_INVAL, "not UTF-8"),
        (None, B.MP_E_NULL, "json"),
    ]:
        assert lib.mpq_put_json(raw, text) == status, text
        assert part in last_error(), (text, last_error())
    assert lib.mpq_put_json_timeout(None, b"1", 0) == B.MP_E_NULL
    assert lib.mpq_get_json(raw, None, 0) == B.MP_E_NULL
    assert q.qsize() == 0 and q.empty()
    q.close()


def test_conversions_and_every_refusal():
    rc, cbor = to_cbor(EXAMPLE)
    assert rc == 0 and cbor == mpipc.encode({"name": "a", "id": 1, "score": 0.5, "vals": [1, 2]})
    assert mpipc.decode(cbor) == json.loads(EXAMPLE)
    assert to_json(cbor) == (0, '{"name":"a","id":1,"score":0.5,"vals":[1,2]}')
    # What Python encodes, the bridge writes as JSON and reads back to the same bytes.
    for v in [None, True, -1, 2 ** 64, -2 ** 64 - 1, 10 ** 40, 0.1, -0.0, 1e300, "é\n", b"", b"\xff" * 5,
              [1, [2, [3]]], {"a": {"b": None}}, {1.5: 2}, float("inf")]:
        data = mpipc.encode(v)
        rc, text = to_json(data)
        assert rc == 0, (v, last_error())
        assert to_cbor(text) == (0, data), (v, text)
    for text, status, part in [
        ("", B.MP_E_INVAL, "EOF"),
        ("[1,]", B.MP_E_INVAL, "invalid JSON"),
        ("NaN", B.MP_E_INVAL, "invalid JSON"),
        ("1e400", B.MP_E_INVAL, "out of range"),
        ("1" * 4301, B.MP_E_INVAL, "4301 digits"),
        ('{"$float": "nan"}', B.MP_E_INVAL, "$float"),
        ('{"$map": [[1, 2, 3]]}', B.MP_E_INVAL, "[key, value] pairs"),
        ('{"$tag": 2, "$value": {"$bytes": "AQ=="}}', B.MP_E_INVAL, "integer literals"),
        ('{"$tag": 1836085862, "$value": [1, 2, 3]}', B.MP_E_INVAL, "REF"),
        ('{"$tag": 1836085355, "$value": {"$bytes": ""}}', B.MP_E_TYPE, "pickle"),
        ("[" * 129 + "1" + "]" * 129, B.MP_E_INVAL, "nesting deeper than 128"),
    ]:
        assert to_cbor(text) == (status, None), text
        assert part in last_error(), (text, last_error())
    for data, status, part in [
        (b"", B.MP_E_INVAL, "truncated"),
        (b"\x00\x00", B.MP_E_INVAL, "trailing bytes"),
        (b"\xf8\x20", B.MP_E_INVAL, "simple value"),
        (b"\x81" * 129 + b"\x00", B.MP_E_INVAL, "nesting too deep"),
        (b"\xda\x6d\x70\x70\x6b\x41\x80", B.MP_E_TYPE, "pickle"),  # PICKLE around one byte
    ]:
        assert to_json(data) == (status, None), data
        assert part in last_error(), (data, last_error())
    # NULL arguments.
    b = B.mp_buf()
    p = ctypes.c_void_p()
    assert lib.mp_json_to_cbor(None, 1, ctypes.byref(b)) == B.MP_E_NULL
    assert lib.mp_json_to_cbor(b"1", 1, None) == B.MP_E_NULL
    assert lib.mp_cbor_to_json(None, 1, ctypes.byref(p)) == B.MP_E_NULL
    assert lib.mp_cbor_to_json(b"\x01", 1, None) == B.MP_E_NULL
    lib.mp_json_free(None)


def test_pipe_json_both_ways():
    a, b = Pipe()
    fd = b.fileno()
    child = subprocess.Popen([sys.executable, "-c", PRELUDE + """
p = ctypes.c_void_p()
check(lib.mp_pipe_from_fd(int(sys.argv[1]), ctypes.byref(p)), "mp_pipe_from_fd")
check(lib.mp_pipe_send_json(p, sys.argv[2].encode()), "mp_pipe_send_json")
check(lib.mp_pipe_send_json(p, b'{"$map": [[1, {"$bytes": "AQ=="}]]}'), "mp_pipe_send_json")
assert lib.mp_pipe_send_json(p, b"[1,") == -2  # refused: nothing sent
r = ctypes.c_void_p()
check(lib.mp_pipe_recv_json(p, ctypes.byref(r), 10000), "mp_pipe_recv_json")
print(take(r))
lib.mp_pipe_close(p)
""", str(fd), EXAMPLE], env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        pass_fds=(fd,))
    b.close()
    try:
        assert a.recv() == {"name": "a", "id": 1, "score": 0.5, "vals": [1, 2]}
        assert a.recv() == {1: b"\x01"}
        a.send({"from": "python", "t": (1, 2.5), "big": -2 ** 80})
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    assert out.splitlines() == ['{"from":"python","t":[1,2.5],"big":-1208925819614629174706176}']
    with pytest.raises(EOFError):
        a.recv()
    a.close()


def test_manager_dict_json_both_ways():
    with Manager() as m:
        d = m.dict(name="json-bridge")
        d["from-python"] = {"id": 7, "vals": (1.5, None)}
        out = run("""
m = ctypes.c_void_p()
key = bytes.fromhex(sys.argv[2])
check(lib.mp_mgr_connect(sys.argv[1].encode(), key, len(key), 10000, ctypes.byref(m)), "mp_mgr_connect")
check(lib.mp_mgr_dict_set_json(m, b"json-bridge", b'"from-c"', sys.argv[3].encode()), "set")
check(lib.mp_mgr_dict_set_json(m, b"json-bridge", b"[1, 2]", b'{"$bytes": "AQI="}'), "set")
p = ctypes.c_void_p()
check(lib.mp_mgr_dict_get_json(m, b"json-bridge", b'"from-python"', ctypes.byref(p)), "get")
print(take(p))
print(lib.mp_mgr_dict_get_json(m, b"json-bridge", b'"nope"', ctypes.byref(p)), lib.mp_last_error().decode())
print(lib.mp_mgr_dict_set_json(m, b"json-bridge", b"{", b"1"), lib.mp_last_error().decode())
lib.mp_mgr_close(m)
""", _to_c_address(m.address), m._authkey.hex(), EXAMPLE)
        got, missing, bad = out.splitlines()
        assert got == '{"id":7,"vals":[1.5,null]}'
        assert missing.startswith("%d " % B.MP_E_NOTFOUND) and "KeyError" in missing
        assert bad.startswith("%d key_json: invalid JSON" % B.MP_E_INVAL)
        assert d["from-c"] == {"name": "a", "id": 1, "score": 0.5, "vals": [1, 2]}
        assert d[(1, 2)] == b"\x01\x02"
        assert len(d) == 3
