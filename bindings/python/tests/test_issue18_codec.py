"""Issue #18, gaps 1 and 2 and bug 2's root cause, on the codec's side:
tuples cross as tuples (the TUPLE tag), the pickle opt-in (the PICKLE tag)
and its refusals, the REF hooks of nested manager proxies, and an encoder
that is never re-entered and never lets a pyo3 panic out. Values cross
real processes (a queue between this process and fork and spawn
children), as multiprocessing's own tests exercise its queues."""

import collections
import collections.abc
import datetime
import enum
import io
import multiprocessing

import cbor2
import pytest

import mpipc
from mpipc import _codec
from conftest import join_ok, start_child

TUPLE_HEAD = "da6d707475"
PICKLE_HEAD = "da6d70706b"
REF_HEAD = "da6d707266"

Point = collections.namedtuple("Point", "x y")


class Color(enum.IntEnum):
    RED = 1


class Thing:
    """An object CBOR cannot carry (module level: a spawned child unpickles it)."""

    def __init__(self, label, items):
        self.label = label
        self.items = items

    def __eq__(self, other):
        return type(other) is Thing and (other.label, other.items) == (self.label, self.items)

    def __repr__(self):
        return "Thing(%r, %r)" % (self.label, self.items)


# Values with tuples everywhere: top level, nested, as (and inside) keys.
TUPLE_VALUES = [
    (1, "a"),
    (),
    ((1, (2,)), [3, (4, 5)]),
    {(1, 2): "pair", ("a", (1, 2.5)): [(), (None,)], "k": (b"x", True)},
    [{(): ()}],
]


@pytest.fixture(params=["fork", "spawn"])
def mctx(request):
    """Children started by fork, then by spawn (each case runs twice)."""
    return multiprocessing.get_context(request.param)


@pytest.fixture(autouse=True)
def default_serializer():
    """Every test starts and ends with the module default "cbor"."""
    mpipc.set_serializer("cbor")
    yield
    mpipc.set_serializer("cbor")


# -- children (module level: spawn imports them) -------------------------------


def _echo(inbox, outbox, n):
    """Gets n values and puts each back, re-encoded by this process, with
    the repr of what it got (so the parent sees the child's types)."""
    for _ in range(n):
        v = inbox.get(timeout=30)
        outbox.put([v, repr(v)], timeout=30)


def _get_and_report(q, report, pickle_default):
    """Gets one value from `q` and reports ["ok", repr] or [error class, message]."""
    if pickle_default:
        mpipc.set_serializer("pickle")
    try:
        v = q.get(timeout=30)
    except mpipc.Error as e:
        report.put([type(e).__name__, str(e), isinstance(e, ValueError)], timeout=30)
    else:
        report.put(["ok", repr(v)], timeout=30)


def _put_raw(q, hexes):
    for h in hexes:
        q.put_bytes(bytes.fromhex(h), timeout=30)


def _put_with_default(q):
    mpipc.set_serializer("pickle")
    q.put(Thing("default", [1]), timeout=30)


# -- gap 1: tuples ---------------------------------------------------------------


def test_tuple_is_the_tuple_tag_around_an_array():
    assert mpipc.encode((1, "a")).hex() == TUPLE_HEAD + "82016161"
    assert mpipc.encode({(1, 2): 0}).hex() == "a1" + TUPLE_HEAD + "820102" + "00"
    # A list stays a plain array.
    assert mpipc.encode([1, "a"]).hex() == "82016161"
    for v in TUPLE_VALUES:
        assert _same(mpipc.decode(mpipc.encode(v)), v)


def test_tuples_cross_processes_as_tuples(mctx, names):
    inbox, outbox = mpipc.Queue(name=names()), mpipc.Queue(name=names())
    p = start_child(mctx, _echo, inbox, outbox, len(TUPLE_VALUES) + 1)
    try:
        inbox.put((1, "a"))
        got, seen = outbox.get(timeout=30)
        assert got == (1, "a") and type(got) is tuple and seen == "(1, 'a')"
        for v in TUPLE_VALUES:
            inbox.put(v)
            got, seen = outbox.get(timeout=30)
            assert _same(got, v), (got, v)
            assert seen == repr(v)  # the child got tuples too
        join_ok(p)
    finally:
        inbox.close()
        outbox.close()


def test_plain_array_in_a_key_from_another_language_decodes_as_a_tuple():
    # Go's or Node's [1, 2] key (no tag): a tuple key here (a list cannot
    # be one), written back with the tag; the manager treats both as one key.
    v = mpipc.decode(bytes.fromhex("a182010200"))
    assert v == {(1, 2): 0}
    assert mpipc.encode(v).hex() == "a1" + TUPLE_HEAD + "820102" + "00"


def test_namedtuple_is_a_plain_tuple_with_cbor_and_itself_with_pickle():
    got = mpipc.decode(mpipc.encode(Point(1, 2)))
    assert got == (1, 2) and type(got) is tuple
    got = mpipc.decode(mpipc.encode(Point(1, 2), pickle=True), pickle=True)
    assert got == Point(1, 2) and type(got) is Point


@pytest.mark.parametrize("hexed,what", [
    (TUPLE_HEAD + "01", "int"),
    (TUPLE_HEAD + "6161", "str"),
    (TUPLE_HEAD + "a0", "dict"),
    (TUPLE_HEAD + TUPLE_HEAD + "8101", "tuple"),  # the content is a tag, not an array
    ("a1" + TUPLE_HEAD + "a0" + "00", "frozendict"),  # inside a map key
    ("a1" + TUPLE_HEAD + TUPLE_HEAD + "8101" + "00", "tuple"),  # inside a map key
])
def test_tuple_tag_around_anything_but_an_array_is_refused(hexed, what):
    with pytest.raises(mpipc.DecodeError) as e:
        mpipc.decode(bytes.fromhex(hexed))
    assert "TUPLE tag (0x6d707475) must hold an array, not " + what in str(e.value)
    assert e.value.data == bytes.fromhex(hexed)


def test_tuple_tag_around_anything_but_an_array_from_another_process(mctx, name):
    q = mpipc.Queue(name=name)
    try:
        p = start_child(mctx, _put_raw, q, [TUPLE_HEAD + "01", TUPLE_HEAD + "820102"])
        with pytest.raises(mpipc.DecodeError, match="must hold an array"):
            q.get(timeout=30)
        assert q.get(timeout=30) == (1, 2)  # the bad message was consumed; the next one decodes
        join_ok(p)
    finally:
        q.close()


# -- gap 2: the pickle opt-in ------------------------------------------------------


def test_without_the_opt_in_the_error_names_the_type():
    for bad, named in ((Thing("a", []), "Thing"), ({"k": [Thing("a", [])]}, "Thing"),
                       (datetime.datetime(2024, 1, 1), "naive datetime.datetime"), (lambda: 1, "function")):
        with pytest.raises(mpipc.EncodeError) as e:
            mpipc.encode(bad)
        assert named in str(e.value) and "serializer='pickle'" in str(e.value)
        assert isinstance(e.value, TypeError)
    q = mpipc.Queue()
    try:
        with pytest.raises(TypeError, match="Thing"):
            q.put({"x": Thing("a", [])})
        assert q.empty()  # nothing was written
    finally:
        q.close()


def test_only_what_cbor_cannot_carry_is_pickled():
    data = mpipc.encode({"n": 1, "t": Thing("a", [1, 2]), "s": "x"}, pickle=True)
    # The map, its keys and the CBOR values stay readable by any language.
    assert data.startswith(bytes.fromhex("a3616e016174" + PICKLE_HEAD))
    assert data.endswith(bytes.fromhex("61736178"))
    assert mpipc.decode(data, pickle=True) == {"n": 1, "t": Thing("a", [1, 2]), "s": "x"}
    # Values CBOR maps exactly are never pickled, opt-in or not.
    for v in (1, "s", [1.5, None], {"a": (1, 2)}, datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)):
        assert mpipc.encode(v, pickle=True) == mpipc.encode(v)
    # Types that CBOR would carry only as their base come back as themselves.
    for v in (Color.RED, collections.OrderedDict(a=1), Point(1, 2), datetime.datetime(2024, 1, 1)):
        got = mpipc.decode(mpipc.encode(v, pickle=True), pickle=True)
        assert got == v and type(got) is type(v)


def test_pickle_queue_across_processes(mctx, names):
    inbox = mpipc.Queue(name=names(), serializer="pickle")
    outbox = mpipc.Queue(name=names(), serializer="pickle")
    assert inbox.serializer == "pickle"
    values = [Thing("t", [1, (2, 3)]), {"k": Thing("n", [])}, Point(1, 2), Color.RED, (1, "a")]
    p = start_child(mctx, _echo, inbox, outbox, len(values))  # the child's queues keep serializer="pickle"
    try:
        for v in values:
            inbox.put(v)
            got, seen = outbox.get(timeout=30)
            assert got == v and type(got) is type(v)
            assert seen == repr(v)
        join_ok(p)
    finally:
        inbox.close()
        outbox.close()


def test_receiver_without_the_opt_in_refuses_a_pickle(mctx, name):
    q = mpipc.Queue(name=name, serializer="pickle")
    report = mpipc.Queue()
    try:
        q.put(Thing("x", []))
        # The child opens the queue by name with the default serializer.
        p = start_child(mctx, _get_and_report, mpipc.Queue(name=name, create=False), report, False)
        kind, message, is_value_error = report.get(timeout=30)
        join_ok(p)
        assert kind == "DecodeError" and is_value_error
        assert "Python pickle" in message and "serializer='pickle'" in message
        assert "set_serializer('pickle')" in message
        assert q.empty()  # consumed: it could never be decoded there
        # The same child with the module default set decodes it.
        q.put(Thing("y", [2]))
        p = start_child(mctx, _get_and_report, mpipc.Queue(name=name, create=False), report, True)
        assert report.get(timeout=30) == ["ok", "Thing('y', [2])"]
        join_ok(p)
    finally:
        q.close()
        report.close()


def test_decode_never_unpickles_without_the_opt_in():
    ran = []
    data = mpipc.encode(_Runs(ran), pickle=True)
    for flag in (False, None):
        with pytest.raises(mpipc.DecodeError, match="Python pickle"):
            mpipc.decode(data, pickle=flag)
    assert ran == []
    got = mpipc.decode(data, pickle=True)
    assert type(got) is _Runs


def test_module_default_serializer(mctx, name):
    assert mpipc.get_serializer() == "cbor"
    with pytest.raises(ValueError):
        mpipc.set_serializer("json")
    q = mpipc.Queue(name=name)  # serializer=None: follows the default when used
    try:
        with pytest.raises(mpipc.EncodeError):
            q.put(Thing("a", []))
        mpipc.set_serializer("pickle")
        assert mpipc.get_serializer() == "pickle"
        q.put(Thing("a", [1]))
        assert q.get(timeout=30) == Thing("a", [1])
        # A queue that chose "cbor" ignores the default.
        as_cbor = mpipc.Queue(name=name, serializer="cbor")
        as_pickle = mpipc.Queue(name=name, serializer="pickle")
        with pytest.raises(mpipc.EncodeError):
            as_cbor.put(Thing("a", []))
        mpipc.set_serializer("cbor")
        # A child that sets the default puts a pickle that this process
        # refuses until it opts in too.
        for _ in range(2):
            join_ok(start_child(mctx, _put_with_default, mpipc.Queue(name=name, create=False)))
        with pytest.raises(mpipc.DecodeError, match="Python pickle"):
            as_cbor.get(timeout=30)
        assert as_pickle.get(timeout=30) == Thing("default", [1])
        as_cbor.close()
        as_pickle.close()
    finally:
        q.close()


def test_pipe_follows_the_module_default():
    a, b = mpipc.Pipe()
    try:
        with pytest.raises(mpipc.EncodeError, match="Thing"):
            a.send(Thing("a", []))
        mpipc.set_serializer("pickle")
        a.send({"t": Thing("a", [(1, 2)])})
        assert b.recv() == {"t": Thing("a", [(1, 2)])}
    finally:
        a.close()
        b.close()


def test_every_queue_class_and_batch_call_takes_the_serializer(name):
    for cls in (mpipc.Queue, mpipc.JoinableQueue, mpipc.SimpleQueue):
        q = cls(serializer="pickle")
        try:
            q.put_many([(1, 2), Thing("m", [(3,)]), Point(4, 5)])
            q.put(Thing("p", []))
            got = q.get_many(3) + [q.get(timeout=30)]
            assert got == [(1, 2), Thing("m", [(3,)]), Point(4, 5), Thing("p", [])]
            assert type(got[2]) is Point
        finally:
            q.close()
    q = mpipc.Queue(name=name)
    try:
        with pytest.raises(mpipc.EncodeError, match="Thing"):
            q.put_many([1, Thing("x", [])])
        assert q.empty()  # all are encoded first: nothing was put
        q.put_many([(1,), [2]])
        assert q.get_many(2) == [(1,), [2]]
    finally:
        q.close()


def test_bad_serializer_names_are_refused():
    with pytest.raises(ValueError):
        mpipc.Queue(serializer="marshal")
    with pytest.raises(ValueError):
        mpipc.SimpleQueue(serializer=True)


def test_pickle_errors_are_encode_and_decode_errors():
    with pytest.raises(mpipc.EncodeError, match="cannot pickle"):
        mpipc.encode([lambda: 1], pickle=True)
    bad = bytes.fromhex(PICKLE_HEAD + "4400010203")  # not a pickle
    with pytest.raises(mpipc.DecodeError, match="cannot unpickle"):
        mpipc.decode(bad, pickle=True)
    with pytest.raises(mpipc.DecodeError, match="must hold a byte string"):
        mpipc.decode(bytes.fromhex(PICKLE_HEAD + "01"), pickle=True)


# -- nested proxies: the REF hooks ----------------------------------------------------


class _Ref:
    def __init__(self, kind="dict", name="d-1", address="unix:/tmp/mpipc-test.sock"):
        self.ref = (kind, name, address)

    def __mpipc_ref__(self):
        return self.ref


def test_ref_is_written_from_mpipc_ref_and_read_through_the_resolver():
    data = mpipc.encode({"r": [_Ref()]})
    assert data.hex() == "a16172" + "81" + REF_HEAD + "83" + "6464696374" + "63642d31" + \
        "7819" + b"unix:/tmp/mpipc-test.sock".hex()
    saved = _codec._ref_resolver
    try:
        _codec.set_ref_resolver(lambda kind, name, address: ("opened", kind, name, address))
        assert mpipc.decode(data) == {"r": [("opened", "dict", "d-1", "unix:/tmp/mpipc-test.sock")]}
        _codec.set_ref_resolver(None)
        got = mpipc.decode(data)["r"][0]
        assert type(got) is cbor2.CBORTag and got.tag == _codec.REF
        assert list(got.value) == ["dict", "d-1", "unix:/tmp/mpipc-test.sock"]

        def fails(kind, name, address):
            raise ConnectionRefusedError("no server")

        _codec.set_ref_resolver(fails)
        with pytest.raises(mpipc.DecodeError, match="no server"):
            mpipc.decode(data)
    finally:
        _codec.set_ref_resolver(saved)
    with pytest.raises(mpipc.DecodeError, match="REF tag"):
        mpipc.decode(bytes.fromhex(REF_HEAD + "826161" + "6162"))  # two items, not three
    with pytest.raises(mpipc.EncodeError, match="three str"):
        mpipc.encode(_Ref(address=None))
    # A proxy is a reference even with the pickle opt-in.
    assert mpipc.encode(_Ref(), pickle=True) == mpipc.encode(_Ref())


# -- bug 2's root cause: re-entrancy and panics ------------------------------------------


class _EncodesInRef(_Ref):
    """__mpipc_ref__ encodes (as a proxy's manager call does)."""

    def __mpipc_ref__(self):
        assert mpipc.decode(mpipc.encode({"nested": (1, [2])})) == {"nested": (1, [2])}
        return super().__mpipc_ref__()


class _EncodingMapping(collections.abc.Mapping):
    """A Mapping whose iteration encodes (as a dict proxy's does)."""

    def __init__(self, d):
        self.d = d

    def __getitem__(self, k):
        return mpipc.decode(mpipc.encode(self.d[k]))

    def __iter__(self):
        mpipc.encode([1, 2, 3])
        return iter(self.d)

    def __len__(self):
        mpipc.encode({"len": (1,)})  # where bug 2's panic came from
        return len(self.d)


class _Runs:
    """Unpickling it appends to a list: shows whether a pickle ran."""

    def __init__(self, ran):
        self.ran = ran

    def __reduce__(self):
        return (_Runs._rebuild, ())

    @staticmethod
    def _rebuild():
        return _Runs(["ran"])


def test_encode_is_reentrant(name):
    v = {"a": _EncodesInRef(), "b": _EncodingMapping({"x": (1, 2), "y": "z"}), "c": (3,)}
    want = mpipc.encode({"a": _Ref(), "b": {"x": (1, 2), "y": "z"}, "c": (3,)})
    assert mpipc.encode(v) == want
    q = mpipc.Queue(name=name)  # the queue's inlined encode too
    try:
        q.put(v)
        assert mpipc.encode(_decode_with_tag(q.get_bytes(timeout=30))) == want
    finally:
        q.close()
    # With the pickle opt-in, __reduce__ that encodes.
    assert type(mpipc.decode(mpipc.encode(_EncodesOnPickle(), pickle=True), pickle=True)) is _EncodesOnPickle


class _EncodesOnPickle:
    def __reduce__(self):
        mpipc.encode({"in": (1,)})
        return (_EncodesOnPickle, ())


def _decode_with_tag(data):
    saved = _codec._ref_resolver
    _codec.set_ref_resolver(None)
    try:
        return mpipc.decode(data)
    finally:
        _codec.set_ref_resolver(saved)


def _panic_type():
    """pyo3's PanicException (a BaseException), as cbor2 raises it when an
    encoder is re-entered: what bug 2 let out of Queue.put."""
    enc = cbor2.CBOREncoder(io.BytesIO())

    class Reenters(collections.abc.Mapping):
        def __getitem__(self, k):
            return 1

        def __iter__(self):
            return iter([1])

        def __len__(self):
            enc.encode_to_bytes(1)  # (cbor2 holds the encoder while it asks)
            return 1

    try:
        enc.encode_to_bytes(Reenters())
    except Exception:
        return None
    except BaseException as e:
        return type(e)
    return None


def test_no_panic_escapes_encode_or_decode(name):
    panic = _panic_type()
    assert panic is not None and not issubclass(panic, Exception)

    class PanicsInRef:
        def __mpipc_ref__(self):
            raise panic("Already borrowed")

    for put in (mpipc.encode, lambda v: mpipc.encode(v, pickle=True)):
        with pytest.raises(mpipc.EncodeError, match="Already borrowed"):
            put([PanicsInRef()])
    q = mpipc.Queue(name=name)
    try:
        with pytest.raises(mpipc.EncodeError, match="Already borrowed"):
            q.put({"p": PanicsInRef()})
        q.put((1, 2))  # the thread's encoder still works
        assert q.get(timeout=30) == (1, 2)
        saved = _codec._ref_resolver

        def resolver(kind, name_, address):
            raise panic("resolver panicked")

        _codec.set_ref_resolver(resolver)
        try:
            q.put(_Ref())
            with pytest.raises(mpipc.DecodeError, match="resolver panicked"):
                q.get(timeout=30)
            with pytest.raises(mpipc.DecodeError, match="resolver panicked"):
                mpipc.decode(mpipc.encode(_Ref()))
        finally:
            _codec.set_ref_resolver(saved)
    finally:
        q.close()


def test_interrupts_still_escape():
    class Interrupts:
        def __mpipc_ref__(self):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        mpipc.encode([Interrupts()])
    assert mpipc.encode((1,)) == bytes.fromhex(TUPLE_HEAD + "8101")


def test_manager_proxy_in_a_queue_is_a_reference(name):
    # Bug 2 end to end: q.put(d) with d a manager proxy raised pyo3's
    # PanicException. Now it crosses as REF and comes back a proxy of the
    # same object (the resolver is managers.py's).
    with mpipc.Manager() as m:
        d = m.dict(a=1)
        q = mpipc.Queue(name=name)
        try:
            q.put({"d": d, "t": (d,)})
            got = q.get(timeout=30)
            assert type(got["d"]) is type(d) and type(got["t"]) is tuple
            got["d"]["b"] = 2
            assert d["b"] == 2 and got["t"][0]["a"] == 1
        finally:
            q.close()


def _same(a, b):
    """Equality that also compares the types (a tuple is not a list) at every level."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(_same(ka, kb) and _same(va, vb)
                                        for (ka, va), (kb, vb) in zip(a.items(), b.items()))
    return a == b
