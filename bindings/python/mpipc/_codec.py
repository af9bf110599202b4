"""Python values <-> CBOR, following docs/TYPES.md, with cbor2.

The fast path is one cbor2 call each way; the contract's corners are
handled only when the bytes say they may be present, so the common message
pays a couple of ``bytes`` scans at C speed:

- floats are always 64-bit (rule 2): cbor2 writes inf, -inf and NaN as
  half floats (``f9 7c00`` ...). When such a sequence appears in the output,
  the value is encoded again with a float encoder that writes ``fb``.
- ``undefined`` decodes as None and other simple values are refused
  (rule 6): cbor2 yields ``undefined`` / ``CBORSimpleValue``. Their heads
  are bytes 0xe0-0xf3, 0xf7, 0xf8; only when one of those bytes occurs is
  the decoded value walked.
- trailing bytes are refused; nesting is limited to 128 containers.

What is encoded: None, bool, int (bignums beyond 64 bits), float, str,
bytes/bytearray/memoryview (byte strings), list (array), tuple (the TUPLE
tag around an array, so that it comes back a tuple; every other language
reads a plain array), dict (any hashable keys, tuples included), aware
datetimes (tag 1), CBORTag, a manager proxy (the REF tag: any object with
``__mpipc_ref__()``), and cbor2's other standard semantic types (set,
Decimal, Fraction, UUID, ... as their registered tags, which other
languages see as tagged values). Anything else -- arbitrary objects, naive
datetimes, cyclic structures -- raises EncodeError (a TypeError) naming
the type before anything is written, unless the pickle opt-in is on (the
``pickle`` argument, or ``set_serializer("pickle")``): then each object
CBOR cannot carry is pickled into a PICKLE tag inside the otherwise-CBOR
message, which only a Python receiver that opted in decodes.

The three mpipc tags (docs/TYPES.md):

- TUPLE 0x6d707475 ("mptu"), content an array: a tuple;
- PICKLE 0x6d70706b ("mppk"), content ``pickle.dumps(obj, protocol=5)``;
- REF 0x6d707266 ("mprf"), content ``[kind, name, address]``: a manager
  object, decoded through the function given to ``set_ref_resolver``.
"""

import collections.abc
import datetime
import functools
import io
import marshal
import pickle as _pickle
import re
import secrets
import struct
import sys
import threading

import cbor2

from ._errors import DecodeError, EncodeError

MAX_DEPTH = 128

TUPLE = 0x6D707475
PICKLE = 0x6D70706B
REF = 0x6D707266

_HALF_SPECIALS = re.compile(b"\xf9[\x7c\xfc\x7e\xfe]")

_dumps = cbor2.dumps
_loads = cbor2.loads
_Undefined = type(cbor2.undefined)
_Simple = cbor2.CBORSimpleValue
_Tag = cbor2.CBORTag
_E = cbor2.CBOREncoder
_marshal = marshal.dumps
_PLAIN = frozenset({int, float, str, bytes, bool, type(None)})
_pack_double = struct.Struct(">Bd").pack
# The head of each mpipc tag (0xda: a tag number in the next 4 bytes).
_TUPLE_HEAD = b"\xda" + TUPLE.to_bytes(4, "big")
_REF_HEAD = b"\xda" + REF.to_bytes(4, "big")
# What escapes encode/decode unchanged; any other BaseException (pyo3's
# PanicException among them) becomes EncodeError / DecodeError.
_PASS = (KeyboardInterrupt, SystemExit)


# -- the serializer opt-in ---------------------------------------------------

# The module default (set_serializer): False = CBOR only, True = pickle
# what CBOR cannot carry. Read where a decision is made (pickle=None), so
# a change applies to every later message of every queue, pipe and
# manager that did not choose.
_default_pickle = False


def set_serializer(name):
    """Sets the default serializer of every Queue, Pipe / Connection and
    Manager that was not given one: ``"cbor"`` (the default: values as
    docs/TYPES.md maps them, readable by every language) or ``"pickle"``
    (Python to Python only: an object CBOR cannot carry is pickled inside
    the CBOR message; the receiving process must opt in too).

    Warning: unpickling runs code chosen by whoever wrote the message.
    Opt in only where every process that can open the queue, pipe or
    manager is trusted (see the pickle module's documentation)."""
    global _default_pickle
    if name not in ("cbor", "pickle"):
        raise ValueError("serializer must be 'cbor' or 'pickle', not %r" % (name,))
    _default_pickle = name == "pickle"


def get_serializer():
    """The default serializer: ``"cbor"`` or ``"pickle"`` (set_serializer)."""
    return "pickle" if _default_pickle else "cbor"


def serializer_flag(serializer):
    """The ``pickle`` argument of encode/decode for a ``serializer=``
    argument: None (follow the module default), "cbor" -> False,
    "pickle" -> True; ValueError otherwise."""
    if serializer is None:
        return None
    if serializer == "pickle":
        return True
    if serializer == "cbor":
        return False
    raise ValueError("serializer must be None, 'cbor' or 'pickle', not %r" % (serializer,))


# -- manager references ------------------------------------------------------

_ref_resolver = None


def set_ref_resolver(fn):
    """Registers ``fn(kind, name, address)``, which turns a decoded REF into
    the object the program gets (managers.py registers one that returns a
    proxy). None unregisters it: REF then decodes as ``cbor2.CBORTag``."""
    global _ref_resolver
    if fn is not None and not callable(fn):
        raise TypeError("the REF resolver must be callable or None")
    _ref_resolver = fn


# -- encoding ----------------------------------------------------------------

# One persistent encoder per thread and mode: encode_to_bytes on it skips
# the set-up that every cbor2.dumps call pays (~15% of a small message's
# encoding). Attribute names: enc (pickle=None: follow the default), enc_pk
# (pickle=True), enc_cb (pickle=False). Hooks that run the program's code
# set them aside while it runs (_reentrant), so a nested encode never
# re-enters an encoder that is in the middle of a message.
_tls = threading.local()


def _reentrant(fn):
    """`fn` as an encoder hook that may run code of the program's (a
    __reduce__, a proxy's __mpipc_ref__, a Mapping's items(), a tzinfo):
    if that code encodes (a manager call does), it must get fresh encoders,
    not this thread's, which is busy with the enclosing message (cbor2
    encoders are not re-entrant: pyo3 panics with "Already borrowed")."""

    def hook(e, v):
        d = _tls.__dict__
        saved = d.copy()
        d.clear()
        try:
            return fn(e, v)
        finally:
            d.clear()
            d.update(saved)

    hook.__name__ = fn.__name__
    hook.__doc__ = fn.__doc__
    return hook


def _enc_none(e, v):
    e.encode_none()


def _enc_undefined(e, v):
    e.encode_undefined()


def _enc_tuple(e, v):
    """TUPLE around the tuple's items as an array (also a namedtuple or
    any tuple subclass when CBOR is the serializer: a plain tuple)."""
    e.write(_TUPLE_HEAD)
    _E.encode_array(e, v)


def _enc_memoryview(e, v):
    _E.encode_bytes(e, v.tobytes())


def _enc_tag(e, v):
    e.encode_semantic(v.tag, v.value)


def _float64(e, value):
    e.write(_pack_double(0xFB, value))


@_reentrant
def _enc_ref(e, v):
    """REF [kind, name, address] of a manager proxy (__mpipc_ref__)."""
    try:
        kind, name, address = v.__mpipc_ref__()
    except _PASS:
        raise
    except BaseException as x:
        raise EncodeError("mpipc: cannot encode %s as a manager reference: %s" % (type(v).__name__, x)) from None
    if not (type(kind) is str and type(name) is str and type(address) is str):
        raise EncodeError("mpipc: %s.__mpipc_ref__() must return three str (kind, name, address)" % type(v).__name__)
    e.write(_REF_HEAD)
    _E.encode_array(e, [kind, name, address])


@_reentrant
def _enc_pickle(e, v):
    """PICKLE around pickle.dumps(v, protocol=5)."""
    try:
        data = _pickle.dumps(v, protocol=5)
    except _PASS:
        raise
    except BaseException as x:
        raise EncodeError("mpipc: cannot pickle %s: %s" % (type(v).__name__, x)) from None
    e.encode_semantic(PICKLE, data)


def _enc_refuse(e, v):
    raise EncodeError(
        "mpipc: cannot encode %s%s as CBOR (docs/TYPES.md lists what crosses); between Python processes, "
        "serializer='pickle' (or mpipc.set_serializer('pickle')) sends it pickled"
        % ("a naive " if type(v) is datetime.datetime else "", _type_name(v))
    )


def _type_name(v):
    t = type(v)
    return t.__qualname__ if t.__module__ == "builtins" else "%s.%s" % (t.__module__, t.__qualname__)


def _naive(v):
    return v.tzinfo is None or v.utcoffset() is None


# Exact types that map to CBOR with no Python code on the way (cbor2's own
# methods, called through the encoders table) or with a tiny hook.
_NATIVE = {
    str: _E.encode_string,
    int: _E.encode_int,
    float: _E.encode_float,
    bool: _E.encode_bool,
    bytes: _E.encode_bytes,
    bytearray: _E.encode_bytearray,
    type(None): _enc_none,
    list: _E.encode_array,
    dict: _E.encode_map,
    tuple: _enc_tuple,
    memoryview: _enc_memoryview,
    set: _E.encode_set,
    frozenset: _E.encode_frozenset,
    complex: _E.encode_complex,
    _Tag: _enc_tag,
    _Simple: _E.encode_simple_value,
    _Undefined: _enc_undefined,
}
# Exact standard-library types cbor2 writes as their registered tags (its
# own list; it matches them by exact type too). Imported when first met.
_STDLIB = (
    ("datetime", "datetime", "encode_datetime"), ("datetime", "date", "encode_date"),
    ("decimal", "Decimal", "encode_decimal"), ("fractions", "Fraction", "encode_rational"),
    ("uuid", "UUID", "encode_uuid"), ("re", "Pattern", "encode_regexp"),
    ("ipaddress", "IPv4Address", "encode_ipv4_address"), ("ipaddress", "IPv4Network", "encode_ipv4_network"),
    ("ipaddress", "IPv4Interface", "encode_ipv4_interface"), ("ipaddress", "IPv6Address", "encode_ipv6_address"),
    ("ipaddress", "IPv6Network", "encode_ipv6_network"), ("ipaddress", "IPv6Interface", "encode_ipv6_interface"),
    ("email.mime.text", "MIMEText", "encode_mime"),
)
# Builtin base -> cbor2 method, for subclasses (cbor2's order of checks).
_BASES = (
    (bytes, _E.encode_bytes), (str, _E.encode_string), (int, _E.encode_int), (float, _E.encode_float),
    (complex, _E.encode_complex), (bytearray, _E.encode_bytearray), (tuple, _enc_tuple),
)


def _stdlib_method(t):
    for mod, name, meth in _STDLIB:
        m = sys.modules.get(mod)
        if m is not None and getattr(m, name, None) is t:
            return getattr(_E, meth)
    return None


def _resolve(t):
    """(CBOR-mode hook, pickle-mode hook) for values of type t. In pickle
    mode, every type that is not exactly one CBOR maps back to is pickled,
    so that it comes back as itself (a namedtuple, an IntEnum, an
    OrderedDict, a naive datetime), as with multiprocessing; in CBOR mode
    it goes as cbor2 writes it (a namedtuple as a tuple, an IntEnum as an
    int, any Mapping as a map), and what has no CBOR form is refused."""
    if getattr(t, "__mpipc_ref__", None) is not None:
        return _enc_ref, _enc_ref
    m = _stdlib_method(t)
    if t is datetime.datetime:
        # (utcoffset() may run a tzinfo's code.) A naive datetime has
        # no CBOR form: refused, or pickled.
        return (_reentrant(lambda e, v: _enc_refuse(e, v) if _naive(v) else m(e, v)),
                _reentrant(lambda e, v: _enc_pickle(e, v) if _naive(v) else m(e, v)))
    if m is not None:
        return m, m
    for base, m in _BASES:
        if issubclass(t, base):
            return m, _enc_pickle
    if issubclass(t, collections.abc.Mapping):
        return _reentrant(_E.encode_map), _enc_pickle
    if issubclass(t, collections.abc.Sequence):
        return _reentrant(_E.encode_array), _enc_pickle
    if issubclass(t, set):
        return _reentrant(_E.encode_set), _enc_pickle
    if issubclass(t, frozenset):
        return _reentrant(_E.encode_frozenset), _enc_pickle
    return _enc_refuse, _enc_pickle


def _dispatch(pickled, floats=None):
    """cbor2's ``encoders`` table of one mode: type -> fn(encoder, value).

    cbor2 looks every value's exact type up in this table before its own
    checks. A miss would cost a KeyError (~100 ns a value), and a table
    that is a Python dict subclass ~15 ns a lookup more than an exact
    dict, so the table is a collections.defaultdict (a C type): the common
    types are there from the start, mapped to cbor2's own methods (~15 ns
    a value more than cbor2 without a table); any other type gets, on its
    first lookup, a hook that resolves the type (_resolve) and puts the
    result in its place. `pickled` says what the mode does with what CBOR
    cannot carry: False refuse, True pickle, None ask the module default
    at each value."""

    def first(e, v):
        t = type(v)
        cb, pk = _resolve(t)
        fn = cb if pickled is False else pk if pickled is True else _either(cb, pk)
        if len(table) < 4096:  # (types made in a loop must not grow it forever)
            table[t] = fn
        else:
            table.pop(t, None)
        return fn(e, v)

    table = collections.defaultdict(lambda: first, _NATIVE)
    if floats is not None:
        table[float] = floats
    return table


def _either(cb, pk):
    def hook(e, v):
        return (pk if _default_pickle else cb)(e, v)
    return hook


_DISPATCH = {None: _dispatch(None), True: _dispatch(True), False: _dispatch(False)}
_DISPATCH64 = {}  # the same with 64-bit non-finite floats, made when needed
_ATTR = {None: "enc", True: "enc_pk", False: "enc_cb"}


def new_encoder(pickle=None):
    """A fresh encoder's encode_to_bytes for mode `pickle` (None: the
    module default; this thread's persistent one is ``_tls.enc``)."""
    return _E(io.BytesIO(), datetime_as_timestamp=True, encoders=_DISPATCH[pickle]).encode_to_bytes


def _encode_error(obj, e):
    if isinstance(e, EncodeError):
        return e
    return EncodeError("mpipc: cannot encode %s as CBOR: %s" % (_type_name(obj), e))


def encode(obj, pickle=None):
    """CBOR bytes of `obj` (EncodeError if the mapping cannot carry it).

    `pickle`: None follows the module default (set_serializer), True
    pickles what CBOR cannot carry, False refuses it."""
    attr = _ATTR[pickle]
    d = _tls.__dict__
    enc = d.get(attr)
    if enc is None:
        enc = d[attr] = new_encoder(pickle)
    try:
        data = enc(obj)
    except _PASS:
        d.pop(attr, None)  # its state after an interrupted message is unknown
        raise
    except BaseException as e:  # (pyo3's PanicException is no Exception)
        d.pop(attr, None)
        raise _encode_error(obj, e) from None
    if 0xF9 in data and _HALF_SPECIALS.search(data):
        # Possibly a non-finite float written in half precision; redo with
        # 64-bit floats everywhere (rare: costs a second, slower encode).
        data = _encode64(obj, pickle)
    return data


def _encode64(obj, pickle):
    table = _DISPATCH64.get(pickle)
    if table is None:
        table = _DISPATCH64[pickle] = _dispatch(pickle, floats=_float64)
    try:
        return _dumps(obj, datetime_as_timestamp=True, encoders=table)
    except _PASS:
        raise
    except BaseException as e:
        raise _encode_error(obj, e) from None


# -- decoding ----------------------------------------------------------------

# The tag decoders. cbor2 calls a plain semantic decoder after a failed
# attribute lookup that costs ~350 ns a tag; a two-stage decoder
# (cbor2.shareable_decoder: fn(immutable) -> (container, finish)) whose
# first stage is C code (a dict's get, through functools.partial, which can
# carry the attributes the decorator sets) costs ~60 ns, and gives each
# context (map key or not) its own finish.


def _two_stage(finish, finish_in_key=None):
    pairs = {False: (None, finish), True: (None, finish_in_key or finish)}
    return cbor2.shareable_decoder(functools.partial(pairs.get))


def _tuple_of_array(value):
    if type(value) is list:
        return tuple(value)
    raise DecodeError("mpipc: the TUPLE tag (0x6d707475) must hold an array, not %s" % _what(value))


# The last tuple _tuple_in_key returned: a TUPLE whose content is that
# very object had another TUPLE as content, not an array (in a map key,
# where an array decodes as a tuple too, identity is the only difference
# left; an empty one is a shared object, so TUPLE(TUPLE([])) in a key
# passes as ()).
_last_tuple = [None]


def _tuple_in_key(value):
    if type(value) is not tuple or (value and value is _last_tuple[0]):
        raise DecodeError("mpipc: the TUPLE tag (0x6d707475) must hold an array, not %s" % _what(value))
    _last_tuple[0] = value
    return value


_OPT_IN = ("unpickling runs code, so mpipc decodes it only with the opt-in: serializer='pickle' on the "
           "Queue / Manager, or mpipc.set_serializer('pickle')")


def _pickle_refused(value):
    raise DecodeError("mpipc: the message holds a Python pickle (tag 0x6d70706b); " + _OPT_IN)


def _unpickle(value):
    if type(value) is not bytes:
        raise DecodeError("mpipc: the PICKLE tag (0x6d70706b) must hold a byte string, not %s" % _what(value))
    try:
        return _pickle.loads(value)
    except _PASS:
        raise
    except BaseException as e:
        raise DecodeError("mpipc: cannot unpickle a PICKLE item: %s: %s" % (type(e).__name__, e)) from None


def _unpickle_if_default(value):
    return (_unpickle if _default_pickle else _pickle_refused)(value)


def _ref(value):
    if not (type(value) in (list, tuple) and len(value) == 3 and all(type(x) is str for x in value)):
        raise DecodeError("mpipc: the REF tag (0x6d707266) must hold [kind, name, address] (three text strings), "
                          "not %s" % _what(value))
    fn = _ref_resolver
    if fn is None:
        return _Tag(REF, value)
    try:
        return fn(*value)
    except _PASS:
        raise
    except DecodeError:
        raise
    except BaseException as e:
        raise DecodeError("mpipc: cannot open the manager %s %r at %s: %s: %s"
                          % (value[0], value[1], value[2], type(e).__name__, e)) from None


def _what(v):
    return "%s %.40r" % (type(v).__name__, v)


_TUPLE_DEC = _two_stage(_tuple_of_array, _tuple_in_key)
_REF_DEC = _two_stage(_ref)
# cbor2's semantic_decoders of each mode (looked up only at a tag).
SEMANTIC = {
    None: {TUPLE: _TUPLE_DEC, PICKLE: _two_stage(_unpickle_if_default), REF: _REF_DEC},
    True: {TUPLE: _TUPLE_DEC, PICKLE: _two_stage(_unpickle), REF: _REF_DEC},
    False: {TUPLE: _TUPLE_DEC, PICKLE: _two_stage(_pickle_refused), REF: _REF_DEC},
}
_SEM_AUTO = SEMANTIC[None]

_FrozenDict = getattr(cbor2, "frozendict", None)


def _fix(v, depth=0):
    """Replace undefined by None and refuse other simple values, anywhere
    in what cbor2 built (not inside objects a PICKLE or REF made)."""
    t = type(v)
    if t is _Undefined:
        return None
    if t is _Simple:
        raise DecodeError("mpipc: simple value %d is not part of the CBOR mapping" % v.value)
    if t is list:
        for i, x in enumerate(v):
            y = _fix(x, depth + 1)
            if y is not x:
                v[i] = y
        return v
    if t is tuple:
        return tuple(_fix(x, depth + 1) for x in v)
    if t is dict or (t is _FrozenDict or t.__name__ == "frozendict" and t.__module__ in ("builtins", "cbor2")):
        items = [(_fix(k, depth + 1), _fix(x, depth + 1)) for k, x in v.items()]
        if t is dict:
            v.clear()
            v.update(items)
            return v
        return t(items)
    if t is _Tag:
        return _Tag(v.tag, _fix(v.value, depth + 1))
    return v


# Exactly one item, no trailing bytes -- with cbor2.loads, which does not
# say where the item ended (its stream decoder does, at twice the cost).
# The message is framed as the 2-element array [message, MARK]: 0x82,
# the message's bytes, then MARK, a byte string of 8 random bytes chosen
# once per process. If the message is exactly one item, loads returns
# [item, MARK_VALUE]. Trailing bytes become the second element (or a stray
# break, an error); a truncated item eats into MARK, which then cannot
# decode as itself. Only a producer that knew this process's secret 64
# bits could forge the frame, and all it would get is its own message
# decoded as it wrote it. The receive buffer of a queue keeps room around
# each message so that framing costs no copy (decode_framed).
MARK_VALUE = bytes(secrets.randbelow(0xE0) for _ in range(8))  # no simple-value head bytes
MARK = b"\x48" + MARK_VALUE
HEAD = b"\x82"
PAD_BEFORE = len(HEAD)
PAD_AFTER = len(MARK)
_DECODE_ERRORS = (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError, MemoryError)


def decode(data, pickle=None):
    """The value of the CBOR message `data` (a bytes-like object).

    Raises DecodeError for anything docs/TYPES.md refuses: invalid or
    truncated CBOR, trailing bytes, nesting deeper than 128, simple values
    other than false/true/null/undefined, a TUPLE tag around anything but
    an array, a PICKLE tag without the opt-in (`pickle`: None follows the
    module default, set_serializer; True / False decide)."""
    return decode_framed(b"".join((HEAD, data, MARK)), pickle)


def decode_error(e, framed):
    """The DecodeError for exception `e` raised while decoding `framed`
    (HEAD + message + MARK): the one a tag decoder raised (cbor2 chains
    it), else an invalid-CBOR error."""
    data = bytes(framed[1:-PAD_AFTER])
    inner = e if isinstance(e, DecodeError) else e.__cause__
    if isinstance(inner, DecodeError):
        return DecodeError(inner.args[0] if inner.args else "mpipc: invalid CBOR message", data)
    return DecodeError("mpipc: invalid CBOR message: %s" % (e,), data)


def decode_framed(framed, pickle=None):
    """decode() of HEAD + message + MARK (see MARK)."""
    try:
        pair = _loads(framed, max_depth=MAX_DEPTH + 1, semantic_decoders=SEMANTIC[pickle])
    except _PASS:
        raise
    except BaseException as e:  # (pyo3's PanicException is no Exception)
        raise decode_error(e, framed) from None
    if pair[1] != MARK_VALUE:
        raise trailing_error(framed)
    value = pair[0]
    if type(value) not in _PLAIN:
        # Containers: is an undefined or a CBORSimpleValue inside? marshal
        # serialises builtin types only, at C speed: if it accepts the
        # value, neither is (a byte scan for their heads would hit the
        # payload of most floats, and walking in Python costs 5x more).
        # Otherwise (datetimes, tags, proxies, unpickled objects ... or a
        # simple value) walk.
        try:
            _marshal(value)
        except Exception:
            return walk(value, framed)
    return value


def trailing_error(framed):
    """The DecodeError of a framed message with bytes after its item."""
    return DecodeError("mpipc: invalid CBOR message: trailing bytes after the item", bytes(framed[1:-PAD_AFTER]))


def walk(value, framed):
    """`value` (decoded from `framed`) with undefined replaced by None;
    DecodeError for another simple value (_fix)."""
    try:
        return _fix(value)
    except DecodeError as e:
        raise DecodeError(e.args[0], bytes(framed[1:-PAD_AFTER])) from None
