"""docs/TYPES.md on the Python side: the shared vectors of
tests/vectors/cbor.json (with the mpipc tags TUPLE, REF and PICKLE), and
what the mapping refuses."""

import datetime
import json
import math
import os
import struct

import cbor2
import pytest

import mpipc
from mpipc import _codec, decode, encode

VECTORS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests", "vectors", "cbor.json")
with open(VECTORS) as f:
    DOC = json.load(f)


class VRef:
    """A manager reference of the vectors: encoded through __mpipc_ref__,
    and what the test resolver (vector_resolver) decodes REF into."""

    def __init__(self, kind, name, address):
        self.ref = (kind, name, address)

    def __mpipc_ref__(self):
        return self.ref

    def __eq__(self, other):
        return type(other) is VRef and other.ref == self.ref

    def __hash__(self):
        return hash(self.ref)

    def __repr__(self):
        return "VRef%r" % (self.ref,)


@pytest.fixture(autouse=True)
def vector_resolver():
    """REF decodes as VRef during these tests (managers.py's resolver,
    which opens a proxy, is put back afterwards)."""
    saved = _codec._ref_resolver
    _codec.set_ref_resolver(VRef)
    yield
    _codec.set_ref_resolver(saved)


def build(d, plain=False):
    """The Python value a vector's description stands for (`plain`: every
    tuple an array, as hex_plain holds it; a key array is still a tuple)."""
    if "nest" in d:
        # encode_invalid: `nest` arrays (or tags `tag`) around `value`.
        v = build(d["value"], plain)
        for _ in range(d["nest"]):
            v = cbor2.CBORTag(d["tag"], v) if "tag" in d else [v]
        return v
    (k, v), = [(k, v) for k, v in d.items() if k not in ("value", "generic") or len(d) == 1][:1]
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
    if k == "text_utf8":
        # Bytes that are not UTF-8: the closest a str comes (surrogates).
        return bytes.fromhex(v).decode("utf-8", "surrogateescape")
    if k == "bytes":
        return bytes.fromhex(v)
    if k == "array":
        return [build(x, plain) for x in v]
    if k == "tuple":
        items = [build(x, plain) for x in v]
        return items if plain else tuple(items)
    if k == "ref":
        return VRef(*v)
    if k == "map":
        return {_key(build(kv[0], plain)): build(kv[1], plain) for kv in v}
    if k == "tag":
        inner = build(d["value"], plain)
        if d["tag"] == 1 and not d.get("generic") and type(inner) in (int, float):
            return datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=inner)
        return cbor2.CBORTag(d["tag"], inner)
    raise AssertionError("unknown vector kind %s" % k)


def _entries(d):
    """How many map entries a description holds, at any depth (a dict
    that holds fewer merged keys, and the vector is not Python's to test)."""
    if isinstance(d, dict):
        n = len(d["map"]) if "map" in d else 0
        return n + sum(_entries(x) for x in d.values())
    if isinstance(d, list):
        return sum(_entries(x) for x in d)
    return 0


def _built_entries(v):
    if isinstance(v, dict):
        return len(v) + sum(_built_entries(k) + _built_entries(x) for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return sum(_built_entries(x) for x in v)
    if isinstance(v, cbor2.CBORTag):
        return _built_entries(v.value)
    return 0


def _key(k):
    """An array in a map key decodes as a tuple, arrays inside it too."""
    return tuple(_key(x) for x in k) if isinstance(k, (list, tuple)) else k


def _has_key_array(d, in_key=False):
    """Whether a description has an array (not a tuple) inside a map key."""
    if isinstance(d, dict):
        if "array" in d and in_key:
            return True
        if "map" in d:
            return any(_has_key_array(kv[0], True) or _has_key_array(kv[1], in_key) for kv in d["map"])
        return any(_has_key_array(x, in_key) for x in d.values())
    if isinstance(d, list):
        return any(_has_key_array(x, in_key) for x in d)
    return False


def _has_key_tuple(d, in_key=False):
    """Whether a description has a tuple inside a map key."""
    if isinstance(d, dict):
        if "tuple" in d and in_key:
            return True
        if "map" in d:
            return any(_has_key_tuple(kv[0], True) or _has_key_tuple(kv[1], in_key) for kv in d["map"])
        return any(_has_key_tuple(x, in_key) for x in d.values())
    if isinstance(d, list):
        return any(_has_key_tuple(x, in_key) for x in d)
    return False


def same(a, b):
    """Equality that tells -0.0 from 0.0, 1 from 1.0 and True from 1, and keeps map order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if a != a:
            return b != b and struct.pack(">d", a) == struct.pack(">d", b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, cbor2.CBORTag):
        return a.tag == b.tag and same(a.value, b.value)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(same(ka, kb) and same(va, vb)
                                        for (ka, va), (kb, vb) in zip(a.items(), b.items()))
    return a == b


def _python_refuses(v):
    return "python" in v.get("refused_by", ())


@pytest.mark.parametrize("v", DOC["valid"], ids=[v["name"] for v in DOC["valid"]])
def test_valid_vector_decodes_and_encodes_back(v):
    data = bytes.fromhex(v["hex"])
    if _python_refuses(v):
        # (A map with both true and 1, or false and 0: a dict cannot keep
        # them apart, docs/TYPES.md D4.)
        with pytest.raises(mpipc.DecodeError) as e:
            decode(data)
        assert e.value.data == data and "true apart from 1" in str(e.value)
        return
    hexed = v.get("reencoded", {}).get("python", v["hex"])
    got = decode(data)
    assert same(got, build(v["value"])), (got, build(v["value"]))
    if _has_key_array(v["value"]) and "python" not in v.get("reencoded", {}):
        # An array inside a map key decodes as a tuple (a list cannot be a
        # key), which Python writes with the TUPLE tag: the same value
        # for every decoder but Python's own, which gets the tuple back.
        again = encode(got)
        assert again.hex() != hexed and same(decode(again), got)
        assert encode(build(v["value"])) == again
        return
    assert encode(got).hex() == hexed
    assert encode(build(v["value"])).hex() == hexed


@pytest.mark.parametrize("v", [v for v in DOC["valid"] if "hex_plain" in v and not _python_refuses(v)],
                         ids=[v["name"] for v in DOC["valid"] if "hex_plain" in v and not _python_refuses(v)])
def test_valid_vector_without_the_tuple_tags(v):
    # What Go or Node write for the same value: arrays where Python has
    # tuples; an array in a map key still comes back a tuple (a list
    # cannot be a key), so Python writes that one back with the tag.
    data = bytes.fromhex(v["hex_plain"])
    got = decode(data)
    assert same(got, build(v["value"], plain=True)), (got, build(v["value"], plain=True))
    again = encode(got)
    assert same(decode(again), got)
    if _has_key_tuple(v["value"]):
        assert again != data
    else:
        assert again == data


@pytest.mark.parametrize("v", DOC["decode_only"], ids=[v["name"] for v in DOC["decode_only"]])
def test_decode_only_vector(v):
    assert same(decode(bytes.fromhex(v["hex"])), build(v["value"]))


@pytest.mark.parametrize("v", DOC["invalid"], ids=[v["name"] for v in DOC["invalid"]])
def test_invalid_vector_is_refused(v):
    data = bytes.fromhex(v["hex"])
    for pickle in (None, False) if "pickle" in v else (None, False, True):
        with pytest.raises(mpipc.DecodeError) as e:
            decode(data, pickle=pickle)
        assert isinstance(e.value, ValueError) and e.value.data == data
        if "pickle" in v:
            assert "Python pickle" in str(e.value) and "serializer='pickle'" in str(e.value)
    if "pickle" in v:
        # Python with the opt-in reads it.
        assert repr(decode(data, pickle=True)) == v["pickle"]["python_repr"]


@pytest.mark.parametrize("v", DOC.get("times", []), ids=[v["name"] for v in DOC.get("times", [])])
def test_time_vector(v):
    # Decoded to an aware datetime (µs, rounded to nearest), written back
    # as Python's tag 1.
    got = decode(bytes.fromhex(v["hex"]))
    assert type(got) is datetime.datetime and got.tzinfo is not None, got
    assert encode(got).hex() == v["encoded"]["python"]


@pytest.mark.parametrize("v", DOC.get("encode_invalid", []), ids=[v["name"] for v in DOC.get("encode_invalid", [])])
def test_encode_invalid_vector_is_refused(v):
    value = build(v["value"])
    if _built_entries(value) != _entries(v["value"]):
        pytest.skip("a dict merges the keys: Python cannot build this value")
    for pickle in (None, False, True):
        with pytest.raises(mpipc.EncodeError) as e:
            encode(value, pickle=pickle)
        assert isinstance(e.value, TypeError)


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
        assert same(got, v) if not isinstance(v, datetime.datetime) else got == v, (v, got)
    assert list(decode(encode({(1, 2): 0})))[0] == (1, 2)  # array keys come back as tuples
    assert decode(encode(bytearray(b"ab"))) == b"ab"
    assert list(decode(encode(cbor2.CBORTag(4242, [1, "x"]))).value) == [1, "x"]
