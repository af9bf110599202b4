"""docs/TYPES.md on the Python side: the shared vectors of
tests/vectors/cbor.json, and what the mapping refuses."""

import datetime
import json
import math
import os

import cbor2
import pytest

import mpipc
from mpipc import decode, encode

VECTORS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests", "vectors", "cbor.json")
with open(VECTORS) as f:
    DOC = json.load(f)


def build(d):
    """The Python value a vector's description stands for."""
    (k, v), = [(k, v) for k, v in d.items() if k != "value" or len(d) == 1][:1]
    if k == "null":
        return None
    if k == "bool":
        return v
    if k == "int":
        return int(v)
    if k == "float":
        return float(v) if isinstance(v, str) else float(v)
    if k == "text":
        return v
    if k == "bytes":
        return bytes.fromhex(v)
    if k == "array":
        return [build(x) for x in v]
    if k == "map":
        return {_key(build(kv[0])): build(kv[1]) for kv in v}
    if k == "tag":
        inner = build(d["value"])
        if d["tag"] == 1:
            return datetime.datetime.fromtimestamp(inner, datetime.timezone.utc)
        return cbor2.CBORTag(d["tag"], inner)
    raise AssertionError("unknown vector kind %s" % k)


def _key(k):
    return tuple(k) if isinstance(k, list) else k


def same(a, b):
    """Equality that tells -0.0 from 0.0, 1 from 1.0 and True from 1, and keeps map order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(same(ka, kb) and same(va, vb)
                                        for (ka, va), (kb, vb) in zip(a.items(), b.items()))
    return a == b


@pytest.mark.parametrize("v", DOC["valid"], ids=[v["name"] for v in DOC["valid"]])
def test_valid_vector_decodes_and_encodes_back(v):
    data = bytes.fromhex(v["hex"])
    got = decode(data)
    assert same(got, build(v["value"])), (got, build(v["value"]))
    assert encode(got).hex() == v["hex"]
    assert encode(build(v["value"])).hex() == v["hex"]


@pytest.mark.parametrize("v", DOC["decode_only"], ids=[v["name"] for v in DOC["decode_only"]])
def test_decode_only_vector(v):
    assert same(decode(bytes.fromhex(v["hex"])), build(v["value"]))


@pytest.mark.parametrize("v", DOC["invalid"], ids=[v["name"] for v in DOC["invalid"]])
def test_invalid_vector_is_refused(v):
    with pytest.raises(mpipc.DecodeError) as e:
        decode(bytes.fromhex(v["hex"]))
    assert isinstance(e.value, ValueError) and e.value.data == bytes.fromhex(v["hex"])


def test_vectors_cover_the_contract():
    assert len(DOC["valid"]) >= 40 and DOC["invalid"] and DOC["decode_only"]


@pytest.mark.parametrize("value,hexed", [
    (float("inf"), "fb7ff0000000000000"),
    (float("-inf"), "fbfff0000000000000"),
    (float("nan"), "fb7ff8000000000000"),
    ([1.5, float("inf")], "82fb3ff8000000000000fb7ff0000000000000"),
    ({"k": b"\xf9\x7c\x00"}, "a1616b43f97c00"),  # the bytes look like a half float: untouched
])
def test_floats_are_always_64_bit(value, hexed):
    assert encode(value).hex() == hexed


def test_refused_on_encode_with_type_error():
    cyclic = []
    cyclic.append(cyclic)
    for bad in (object(), lambda: 1, datetime.datetime(2024, 1, 1), cyclic, {1: object()}, [1, {2, object()}]):
        with pytest.raises(TypeError) as e:
            encode(bad)
        assert isinstance(e.value, mpipc.EncodeError)


def test_simple_values_inside_containers():
    assert decode(bytes.fromhex("82f7a1f7f7")) == [None, {None: None}]
    with pytest.raises(mpipc.DecodeError):
        decode(bytes.fromhex("8201a101e0"))  # simple value 0 nested in a map
    # A float whose bytes look like simple-value heads is just a float.
    assert decode(encode([1.5, -1.5, 0.1])) == [1.5, -1.5, 0.1]


def test_nesting_limit_is_128():
    ok = b"\x81" * 128 + b"\x00"
    v = decode(ok)
    for _ in range(128):
        v = v[0]
    assert v == 0
    with pytest.raises(mpipc.DecodeError):
        decode(b"\x81" * 129 + b"\x00")


def test_round_trip_of_python_values():
    values = [
        None, True, False, 0, -1, 2 ** 64, -(2 ** 64) - 1, 3.25, "", "h\u00e9", b"", b"\x00\xff",
        [1, [2, [3]]], (1, 2), {"a": 1, 2: "b", (1, 2): [3], b"k": None, 1.5: 2},
        datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc),
        cbor2.CBORTag(4242, "x"),
    ]
    for v in values:
        got = decode(encode(v))
        want = list(v) if isinstance(v, tuple) else v
        assert got == want, (v, got)
    assert list(decode(encode({(1, 2): 0})))[0] == (1, 2)  # array keys come back as tuples
    assert decode(encode(bytearray(b"ab"))) == b"ab"
    assert list(decode(encode(cbor2.CBORTag(4242, [1, "x"]))).value) == [1, "x"]
