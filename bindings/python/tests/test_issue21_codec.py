"""Issue #21 on the Python side (docs/TYPES.md D1-D4): tags pass through
(cbor2's semantic decoders are not used; string references and shared
values are never written), tag 55799 is dropped, Python writes only the
types the mapping has (refusing sets, Decimal, complex ... unless pickled),
times as D2 says, the nesting limit both ways (a deep value is refused, not
a crashed process), and maps with two equal keys refused both ways. The
hex of the issue is exact. Values also cross real processes (a queue
between this process and a forked child, which decodes and re-encodes)."""

import datetime
import decimal
import email.mime.text
import fractions
import ipaddress
import math
import multiprocessing
import re
import struct
import uuid

import cbor2
import pytest

import mpipc
from mpipc import _codec, decode, encode
from conftest import join_ok, python, start_child

UTC = datetime.timezone.utc


def nan(bits):
    return struct.unpack(">d", bytes.fromhex(bits))[0]


# -- D1: tags --------------------------------------------------------------------

# Bug 1: each of these came back changed, re-tagged, dropped or refused.
PASS_THROUGH = [
    "d81c01",  # 28 (shareable) decoded as 1
    "d81d00",  # 29 (shared reference) refused
    "d81900",  # 25 (string reference) refused
    "d90102820201",  # 258 [2, 1] came back [1, 2]
    "d90102820101",  # 258 [1, 1] came back [1]
    "d81e820204",  # 30 [2, 4] became [1, 2]
    "c5822003",  # 5 became 4
    "c48221196ab3",  # 4 (decimal fraction)
    "d903ec6a323032342d30312d3331",  # 1004 re-tagged 100
    "d864194d29",  # 100
    "d9010444c0a80001",  # 260 re-tagged 52
    "d90105a144c0a800001818",  # 261
    "d83444c0a80001", "d8365020010db8000000000000000000000001",  # 52, 54
    "d901008264616161616461616161",  # 256 dropped
    "d824715375626a6563743a2068690a0a626f6479",  # 36: an email Message that could not be re-encoded
    "d825508c8a8d48684b4c1e9a2e5b3c6d7e8f90",  # 37 (UUID)
    "d82363612b62",  # 35 (regular expression)
    "d9a7f882fb3ff0000000000000fb4000000000000000",  # 43000 (complex)
    "d9109282016178",  # 4242 around an array: a list inside, not a tuple
    "d9109282d9109280a0",  # tags inside tags
    "dbfffffffffffffffff6",  # tag 2^64-1
]


@pytest.mark.parametrize("hexed", PASS_THROUGH)
def test_tags_pass_through_to_the_same_bytes(hexed):
    got = decode(bytes.fromhex(hexed))
    assert type(got) is cbor2.CBORTag, got
    assert encode(got).hex() == hexed


def test_tag_content_is_a_list_outside_keys_and_a_tuple_inside():
    got = decode(bytes.fromhex("d9109282016178"))
    assert got.value == [1, "x"] and type(got.value) is list
    key, = decode(bytes.fromhex("a1d9109282016178f6"))
    assert key == cbor2.CBORTag(4242, (1, "x"))


@pytest.mark.parametrize("hexed", [
    "da6d707266da6d70747583616161626163",  # REF(TUPLE(["a", "b", "c"])): a tuple was accepted
    "a1da6d707266da6d70747583616161626101",  # the same as a map key (every array a tuple there)
    "a1da6d707266d9d9f7da6d7074758361616162616301",  # 55799 between them
    "da6d707475da6d70747580", "a1da6d707475da6d707475810100",  # TUPLE(TUPLE(...))
])
def test_tuple_and_ref_must_hold_an_array_on_the_wire(hexed):
    # Review of session 8: Rust, C, Go and Node check the content's head,
    # so a TUPLE (a tag) is not the array REF and TUPLE must hold.
    data = bytes.fromhex(hexed)
    with pytest.raises(mpipc.DecodeError) as e:
        decode(data)
    assert e.value.data == data and re.search("TUPLE|REF", str(e.value)), str(e.value)


@pytest.fixture
def refs_as_tuples():
    """REF decodes as ("ref", kind, name, address) during the test."""
    saved = _codec._ref_resolver
    _codec.set_ref_resolver(lambda *parts: ("ref",) + parts)
    yield
    _codec.set_ref_resolver(saved)


def test_ref_holds_three_texts_in_a_key_and_outside(refs_as_tuples):
    ref = ("ref", "a", "b", "c")
    assert decode(bytes.fromhex("da6d70726683616161626163")) == ref
    # A key: the plain array decodes as a tuple there, and is accepted,
    # after a TUPLE elsewhere in the message too (the last TUPLE is the one
    # a REF is compared with).
    got = decode(bytes.fromhex("a2da6d70726683616161626163018361616162616302"))
    assert list(got) == [ref, ("a", "b", "c")]
    got = decode(bytes.fromhex("82a1da6d7074758361616162616301a1da6d7072668361616162616302"))
    assert list(got[0]) == [("a", "b", "c")] and list(got[1]) == [ref]
    for hexed in ("da6d707266d9d9f783616161626163", "da6d70726683d9d9f7616161626163"):
        assert decode(bytes.fromhex(hexed)) == ref


def test_no_string_references_or_shared_values_are_written():
    # Bug 2: cbor2 turns string referencing on inside tag 256.
    assert encode(cbor2.CBORTag(256, ["aaaa", "aaaa"])).hex() == "d901008264616161616461616161"
    shared = ["aaaa"]
    assert encode([shared, shared, "aaaa", "aaaa"]).hex() == "84816461616161816461616161" + "6461616161" * 2
    got = decode(encode(cbor2.CBORTag(256, [cbor2.CBORTag(25, 0), cbor2.CBORTag(28, [1])])))
    assert got == cbor2.CBORTag(256, [cbor2.CBORTag(25, 0), cbor2.CBORTag(28, [1])])


def test_tag_55799_is_dropped_and_never_written():
    # Bug 7.
    assert decode(bytes.fromhex("d9d9f701")) == 1
    assert decode(bytes.fromhex("82d9d9f70102")) == [1, 2]
    assert decode(bytes.fromhex("a1d9d9f7616101")) == {"a": 1}
    assert decode(bytes.fromhex("d9d9f7da6d70747582016161")) == (1, "a")
    assert decode(bytes.fromhex("da0000d9f701")) == 1  # a longer head, the same tag
    assert encode(cbor2.CBORTag(55799, [1, cbor2.CBORTag(55799, 2)])).hex() == "820102"


REFUSED = [
    {1, 2}, frozenset([1]), decimal.Decimal("1.5"), fractions.Fraction(1, 3), uuid.UUID(int=7), 1j,
    re.compile("a+b"), ipaddress.IPv4Address("192.0.2.1"), ipaddress.ip_network("192.0.2.0/24"),
    email.mime.text.MIMEText("hi"), datetime.date(2024, 1, 31), cbor2.CBORSimpleValue(99), object(),
]


@pytest.mark.parametrize("value", REFUSED, ids=[type(v).__name__ for v in REFUSED])
def test_types_outside_the_mapping_are_refused_or_pickled(value):
    for where in (value, [1, {"k": value}]):
        for pickle in (None, False):
            with pytest.raises(mpipc.EncodeError) as e:
                encode(where, pickle=pickle)
            assert isinstance(e.value, TypeError)
            assert type(value).__name__ in str(e.value) and "serializer='pickle'" in str(e.value)
    if type(value) is cbor2.CBORSimpleValue:
        return  # (cbor2 cannot pickle it)
    data = encode([value], pickle=True)
    assert data.startswith(bytes.fromhex("81da6d70706b"))  # a PICKLE tag
    got, = decode(data, pickle=True)
    assert type(got) is type(value)
    if type(value) not in (object, email.mime.text.MIMEText):  # (they compare by identity)
        assert got == value


def test_subclasses_of_refused_types_are_refused():
    class MySet(set):
        pass

    with pytest.raises(mpipc.EncodeError):
        encode(MySet([1]), pickle=False)


# -- D2: times --------------------------------------------------------------------


@pytest.mark.parametrize("value,hexed", [
    (datetime.datetime(1969, 12, 31, 23, 59, 59, 999000, UTC), "c1fbbf50624dd2f1a9fc"),  # -0.001, exactly
    (datetime.datetime(1970, 1, 1, 0, 0, 1, 1000, UTC), "c1fb3ff004189374bc6a"),  # 1.001
    (datetime.datetime(1970, 1, 1, 0, 0, 0, tzinfo=UTC), "c100"),
    (datetime.datetime(1, 1, 1, tzinfo=UTC), "c13b0000000e7791f6ff"),
    (datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), "c11b0000003afff4417f"),
    # Not a whole second: a float, though the nearest double is integral.
    (datetime.datetime(9999, 12, 31, 23, 59, 59, 1, UTC), "c1fb" + struct.pack(">d", 253402300799.000001).hex()),
    # An offset: the same instant.
    (datetime.datetime(1970, 1, 1, 1, 0, 0, 500000, datetime.timezone(datetime.timedelta(hours=1))),
     "c1fb3fe0000000000000"),
])
def test_times_are_written_as_d2_says(value, hexed):
    assert encode(value).hex() == hexed
    got = decode(bytes.fromhex(hexed))
    assert type(got) is datetime.datetime and (got == value or hexed.startswith("c1fb42"))


def test_tag_1_rounds_to_the_nearest_microsecond():
    def us(seconds):
        t = decode(encode(cbor2.CBORTag(1, seconds)))
        d = t - datetime.datetime(1970, 1, 1, tzinfo=UTC)
        return (d.days * 86400 + d.seconds) * 10 ** 6 + d.microseconds

    assert us(1.0000006) == 1000001 and us(-1.0000006) == -1000001  # never truncated toward zero
    assert us(1.001) == 1001000 and us(-1.001) == -1001000


@pytest.mark.parametrize("hexed", [
    "c1fb7ff8000000000000", "c1fb7ff0000000000000", "c1fbfff0000000000000",  # NaN, +-inf
    "c13b0000000e7791f700",  # one second before year 1
    "c11b0000003afff44180",  # year 10000
    "c06568656c6c6f", "c060", "c06a323032342d30312d3331",  # not RFC 3339 date-times
    "c074323031362d31322d33315432333a35393a36305a",  # a leap second: datetime cannot hold it
    "c074303030302d30312d30315430303a30303a30305a",  # year 0
])
def test_times_datetime_cannot_hold_pass_through(hexed):
    got = decode(bytes.fromhex(hexed))
    assert type(got) is cbor2.CBORTag and got.tag in (0, 1)
    assert encode(got).hex() == hexed


@pytest.mark.parametrize("text,expected", [
    ("2013-03-21T20:04:00Z", datetime.datetime(2013, 3, 21, 20, 4, tzinfo=UTC)),
    ("2013-03-21t20:04:00z", datetime.datetime(2013, 3, 21, 20, 4, tzinfo=UTC)),
    ("2013-03-21T20:04:00-00:00", datetime.datetime(2013, 3, 21, 20, 4, tzinfo=UTC)),
    ("2013-03-21T20:04:00.5+01:00", datetime.datetime(2013, 3, 21, 19, 4, 0, 500000, UTC)),
    ("1970-01-01T00:00:00.0000005Z", datetime.datetime(1970, 1, 1, tzinfo=UTC)),  # half to even
    ("1970-01-01T00:00:00.0000015Z", datetime.datetime(1970, 1, 1, 0, 0, 0, 2, UTC)),
    ("1970-01-01T00:00:00.99999951Z", datetime.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)),
])
def test_tag_0_reads_rfc_3339(text, expected):
    got = decode(encode(cbor2.CBORTag(0, text)))
    assert type(got) is datetime.datetime and got == expected


@pytest.mark.parametrize("hexed", ["c001", "c1f5", "c1c249010000000000000000", "c26161", "c380", "8201c16161",
                                   "a1c2616101", "c0d9d9f701"])
def test_tags_0_to_3_around_the_wrong_content_are_refused(hexed):
    data = bytes.fromhex(hexed)
    with pytest.raises(mpipc.DecodeError) as e:
        decode(data)
    assert e.value.data == data and re.search(r"tag [0-3] ", str(e.value)), str(e.value)


@pytest.mark.parametrize("tag,content", [(0, 1), (1, "x"), (1, True), (1, None), (2, 1), (3, "x"),
                                          (_codec.TUPLE, "x"), (_codec.REF, ["a", "b"]), (_codec.PICKLE, 1)])
def test_tags_around_the_wrong_content_are_not_written(tag, content):
    for value in (cbor2.CBORTag(tag, content), [cbor2.CBORTag(tag, cbor2.CBORTag(55799, content))]):
        with pytest.raises(mpipc.EncodeError):
            encode(value)


# -- D3: depth ---------------------------------------------------------------------


def nest(n, inner, wrap=lambda v: [v]):
    for _ in range(n):
        inner = wrap(inner)
    return inner


@pytest.mark.parametrize("value,ok", [
    (nest(128, 1), True),
    (nest(129, 1), False),
    (nest(128, []), True),  # 129 arrays, the innermost (empty) at depth 128
    (nest(128, {}), True),
    (nest(129, []), False),
    (nest(128, [1]), False),
    (nest(128, 1, lambda v: cbor2.CBORTag(99, v)), True),
    (nest(129, 1, lambda v: cbor2.CBORTag(99, v)), False),
    (nest(64, 1, lambda v: (v,)), True),  # a tuple is two levels
    (nest(63, (), lambda v: (v,)), True),
    (nest(64, (), lambda v: (v,)), False),  # the innermost tuple's (empty) array at depth 129
    (nest(127, {(1,): 1}), False),  # the 1 in the key at depth 129 (TUPLE, array, 1)
    (nest(127, {1: 1}), True),
    (nest(128, {1: 1}), False),
    (nest(127, datetime.datetime(2024, 1, 1, tzinfo=UTC)), True),
    (nest(128, datetime.datetime(2024, 1, 1, tzinfo=UTC)), False),
    (nest(128, cbor2.CBORTag(55799, 1)), True),  # 55799 is not written, so does not count
])
def test_encoders_refuse_what_decoders_refuse(value, ok):
    if ok:
        assert same_value(decode(encode(value)), value)
    else:
        for pickle in (None, False, True):
            with pytest.raises(mpipc.EncodeError) as e:
                encode(value, pickle=pickle)
            assert "deeper than 128" in str(e.value)
    # The encoder is usable afterwards (a failed message drops it).
    assert encode([1, {"a": (2,)}]).hex() == "8201a16161da6d7074758102"


def same_value(a, b):
    if isinstance(b, cbor2.CBORTag) and b.tag == 55799:
        return same_value(a, b.value)
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, cbor2.CBORTag):
        return a.tag == b.tag and same_value(a.value, b.value)
    return a == b


def test_a_value_thousands_deep_is_refused_not_a_crash():
    # cbor2's encoder recurses on the C stack: 20,000 levels overflowed it
    # (a segfault) before the depth was counted. In a fresh process, on a
    # thread with a small stack (512 KiB: glibc's default is 8 MiB; the
    # encoder needs ~2 KiB a level, up to the limit). The values are made
    # and freed on the main thread (freeing one 100,000 deep needs more
    # stack than that in CPython 3.13).
    python(
        "import threading, mpipc\n"
        "values = []\n"
        "for make in (lambda v: [v], lambda v: {'k': v}, lambda v: (v,)):\n"
        "    v = 1\n"
        "    for _ in range(100000):\n"
        "        v = make(v)\n"
        "    values.append(v)\n"
        "out = []\n"
        "def run():\n"
        "    for v in values:\n"
        "        for pickle in (None, True):\n"
        "            try:\n"
        "                mpipc.encode(v, pickle=pickle)\n"
        "            except mpipc.EncodeError as e:\n"
        "                out.append('deeper than 128' in str(e))\n"
        "threading.stack_size(512 * 1024)\n"
        "t = threading.Thread(target=run)\n"
        "t.start()\n"
        "t.join()\n"
        "assert out == [True] * 6, out\n"
    )


def test_cycles_are_refused():
    cyclic = []
    cyclic.append(cyclic)
    d = {}
    d["self"] = d
    for v in (cyclic, d):
        with pytest.raises(mpipc.EncodeError):
            encode(v)


@pytest.mark.parametrize("hexed,ok", [
    ("81" * 128 + "d9d9f701", True),  # 55799 does not count (cbor2 counts a frame for it)
    ("81" * 127 + "d9d9f7" * 3 + "8101", True),
    ("81" * 129 + "d9d9f701", False),
    ("9f" * 129 + "ff" * 129, True),  # cbor2 cannot know the innermost is empty
    ("9f" * 130 + "ff" * 130, False),
    ("81" * 128 + "bfff", True),
    ("81" * 127 + "9f5f41614162ffff", True),
    ("81" * 128 + "9f5f41614162ffff", False),
    ("81" * 128 + "d9d9f70100", False),  # trailing bytes, after the second look
])
def test_depth_as_docs_types_counts_it_on_decode(hexed, ok):
    data = bytes.fromhex(hexed)
    if ok:
        decode(data)
    else:
        with pytest.raises(mpipc.DecodeError):
            decode(data)


# -- D4: colliding keys ---------------------------------------------------------------


@pytest.mark.parametrize("hexed", [
    "a2fb7ff800000000000001fb7ff800000000000002",  # NaN twice
    "a2f97e0001fb7ff800000000000002",  # a half NaN is the same NaN
    "a281fb7ff80000000000000181fb7ff800000000000002",  # inside array keys
    "82a0a2fb7ff800000000000001fb7ff800000000000002",  # at any depth
    "a2016161fb3ff00000000000006162", "a2006161fb80000000000000006162", "a20100c2410102",
    "a282010201da6d70747582010202", "a20100d9d9f70101",
    "a2f56161016162", "a2f46161fb00000000000000006162",  # true and 1, false and 0.0: a dict merges them
])
def test_maps_with_two_equal_keys_are_refused(hexed):
    data = bytes.fromhex(hexed)
    with pytest.raises(mpipc.DecodeError) as e:
        decode(data)
    assert e.value.data == data and "two equal keys" in str(e.value)


def test_nans_of_other_bits_are_other_keys():
    data = bytes.fromhex("a2fb7ff800000000000001fb7ff800000000000102")
    got = decode(data)
    assert len(got) == 2 and all(math.isnan(k) for k in got)
    assert encode(got) == data


def test_encoder_refuses_two_equal_keys():
    a, b = nan("7ff8000000000000"), nan("7ff8000000000000")
    for value in ({a: 1, b: 2}, [{(a,): 1, (b,): 2}], {cbor2.CBORTag(9, a): 1, cbor2.CBORTag(9, b): 2}):
        with pytest.raises(mpipc.EncodeError) as e:
            encode(value)
        assert "two equal keys" in str(e.value)
    assert len(decode(encode({a: 1, nan("7ff8000000000001"): 2}))) == 2

    class Pairs(dict):
        """A Mapping whose items() says what the receiver would refuse."""

        def items(self):
            return [(1, "a"), (1.0, "b")]

    with pytest.raises(mpipc.EncodeError):
        encode(Pairs(), pickle=False)


def test_text_that_is_not_unicode_is_refused():
    with pytest.raises(mpipc.EncodeError) as e:
        encode(["a\udcffb"])
    assert isinstance(e.value, TypeError) and "UTF-8" in str(e.value)


# -- across processes -------------------------------------------------------------------


def _reencode(inbox, outbox, n):
    """Gets n values and puts each back (decoded and re-encoded here), or
    ["refused", its DecodeError's message]."""
    for _ in range(n):
        try:
            v = inbox.get(timeout=30)
        except mpipc.DecodeError as e:
            v = ["refused", str(e)]
        outbox.put(v, timeout=30)


CROSSING = PASS_THROUGH + ["c1fbbf50624dd2f1a9fc", "c1fb7ff8000000000000", "c06568656c6c6f",
                          "a2fb7ff800000000000001fb7ff800000000000102", "81" * 128 + "01"]


def test_values_cross_a_queue_to_the_same_bytes(names):
    inbox, outbox = mpipc.Queue(name=names()), mpipc.Queue(name=names())
    p = start_child(multiprocessing.get_context("fork"), _reencode, inbox, outbox, len(CROSSING) + 3)
    try:
        for h in CROSSING:
            inbox.put_bytes(bytes.fromhex(h))
            assert outbox.get_bytes(timeout=30).hex() == h
        # A refused message is consumed with its error; the next one passes.
        inbox.put_bytes(bytes.fromhex("a2fb7ff800000000000001fb7ff800000000000002"))
        inbox.put_bytes(bytes.fromhex("c1c249010000000000000000"))
        inbox.put_bytes(b"\x01")
        refused, why = outbox.get(timeout=30)
        assert refused == "refused" and "two equal keys" in why
        refused, why = outbox.get(timeout=30)
        assert refused == "refused" and "tag 1" in why
        assert outbox.get(timeout=30) == 1
        join_ok(p)
        # Queue.get's own copy of the decoder: a depth cbor2 miscounts.
        inbox.put_bytes(bytes.fromhex("81" * 128 + "d9d9f701"))
        inbox.put_bytes(bytes.fromhex("81" * 129 + "d9d9f701"))
        assert inbox.get(timeout=30) == nest(128, 1)
        with pytest.raises(mpipc.DecodeError):
            inbox.get(timeout=30)
    finally:
        inbox.close()
        outbox.close()


def test_pipe_recv_decodes_as_the_contract_says():
    a, b = mpipc.Pipe()
    try:
        for h in ("81" * 128 + "d9d9f701", "a2fb7ff800000000000001fb7ff800000000000002", "d81c01", "c1c26101"):
            a.send_bytes(bytes.fromhex(h))
        assert b.recv() == nest(128, 1)
        with pytest.raises(mpipc.DecodeError):
            b.recv()
        assert b.recv() == cbor2.CBORTag(28, 1)
        with pytest.raises(mpipc.DecodeError):
            b.recv()
    finally:
        a.close()
        b.close()
