"""Python values <-> CBOR, following docs/TYPES.md, with cbor2.

The fast path is one cbor2 call each way; the contract's corners are
handled only when the bytes say they may be present, so the common message
pays a couple of ``bytes`` scans at C speed:

- floats are always 64-bit (rule 2): cbor2 writes inf, -inf and NaN as
  half floats (``f9 7c00`` ...). When such a sequence appears in the output,
  the value is encoded again with a float encoder that writes ``fb``.
- ``undefined`` decodes as None and other simple values are refused
  (rule 6): cbor2 yields ``undefined`` / ``CBORSimpleValue``; only when
  marshal cannot serialise the decoded value is it walked.
- trailing bytes are refused; an item deeper than 128 is refused both
  ways (D3: an item inside an array, a map or a tag is one level deeper;
  tag 55799 does not count); a map with two equal keys is refused both ways
  (D4: cbor2's allow_duplicate_keys=False on decode, which also refuses
  true beside 1, as a dict cannot keep them apart; two NaN keys of the same
  bits, which a dict keeps apart, are looked for when the bytes hold two
  NaNs).

What is encoded (docs/TYPES.md's mapping, and nothing else): None, bool,
int (bignums beyond 64 bits), float, str, bytes/bytearray/memoryview (byte
strings), list (array), tuple (the TUPLE tag around an array, so that it
comes back a tuple; every other language reads a plain array), dict (any
hashable keys, tuples included), aware datetimes (tag 1, D2), CBORTag (as
it is: its tag, then its content; tag 55799 is not written), a manager
proxy (the REF tag: any object with ``__mpipc_ref__()``). Anything else --
sets, Decimal, Fraction, UUID, complex, re.Pattern, ipaddress objects,
email messages, dates without a time, naive datetimes, arbitrary objects,
cyclic structures -- raises EncodeError (a TypeError) naming the type
before anything is written, unless the pickle opt-in is on (the ``pickle``
argument, or ``set_serializer("pickle")``): then each object CBOR cannot
carry is pickled into a PICKLE tag inside the otherwise-CBOR message, which
only a Python receiver that opted in decodes. cbor2's semantic encoders
(which would write sets as tag 258, Decimal as 4, complex as 43000 ...),
string references and shared values (tags 25, 256, 28, 29) are never used.

What is decoded (D1): tags 0 and 1 as aware datetimes (D2: rounded to the
nearest microsecond; a time datetime cannot hold, or a tag 0 text that is
not RFC 3339, stays a CBORTag), 2 and 3 as ints, mpipc's three tags below;
tag 55799 is dropped; every other tag is a CBORTag around its content (a
list inside, outside map keys), which encodes back to the same bytes.

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
import threading

import cbor2

from ._errors import DecodeError, EncodeError

MAX_DEPTH = 128

TUPLE = 0x6D707475
PICKLE = 0x6D70706B
REF = 0x6D707266
# Self-described CBOR (RFC 8949 §3.4.6): dropped wherever it appears,
# never written (docs/TYPES.md rule 8).
SELF_DESCRIBED = 55799

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
_PICKLE_HEAD = b"\xda" + PICKLE.to_bytes(4, "big")
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
# re-enters an encoder that is in the middle of a message. An encoder whose
# message failed is dropped (its depth count, below, is then wrong).
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


def _enc_memoryview(e, v):
    _E.encode_bytes(e, v.tobytes())


def _float64(e, value):
    e.write(_pack_double(0xFB, value))


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


def _too_deep():
    return EncodeError("mpipc: cannot encode a value with an item nested deeper than %d levels (docs/TYPES.md, "
                       "nesting depth: every decoder refuses it; a tuple is two levels, its tag and its array)"
                       % MAX_DEPTH)


def _collision(keys):
    return EncodeError("mpipc: cannot encode a map with two equal keys (%.60r ...): every decoder refuses it "
                       "(docs/TYPES.md rule 5; a NaN key equals a NaN of the same bits)" % (keys,))


def _tag_error(tag, value):
    """Why CBORTag(tag, value) must not be written (every decoder refuses
    it, docs/TYPES.md rules 6 and 7), or None. Tag 55799 around the content
    is looked through (it is dropped when written)."""
    while type(value) is _Tag and value.tag == SELF_DESCRIBED:
        value = value.value
    t = type(value)
    if tag == 0:
        ok, want = isinstance(value, str), "a text string"
    elif tag == 1:
        ok, want = isinstance(value, (int, float)) and t is not bool, "an integer or a float"
    elif tag == 2 or tag == 3 or tag == PICKLE:
        ok, want = isinstance(value, (bytes, bytearray, memoryview)), "a byte string"
    elif tag == TUPLE:
        ok, want = t is list, "a list (an array)"
    elif tag == REF:
        ok = t is list and len(value) == 3 and all(type(x) is str for x in value)
        want = "a list of three str (kind, name, address)"
    else:
        return None
    if ok:
        return None
    return EncodeError("mpipc: cannot encode CBORTag(%d, %s): tag %d must hold %s (docs/TYPES.md; every decoder "
                       "refuses anything else)" % (tag, _type_name(value), tag, want))


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_TIMEDELTA = datetime.timedelta
_US = 1000000


def _dispatch(pickled, floats=None):
    """cbor2's ``encoders`` table of one encoder: type -> fn(encoder, value).

    cbor2 looks every value's exact type up in this table before its own
    checks, so the table decides everything: what docs/TYPES.md maps, and
    the refusal (or, in pickle mode, the pickling) of everything else,
    cbor2's own semantic encoders included (a set, a Decimal, a UUID ...).
    A miss would cost a KeyError (~100 ns a value), and a table that is a
    Python dict subclass ~15 ns a lookup more than an exact dict, so the
    table is a collections.defaultdict (a C type): the common types are
    there from the start; any other type gets, on its first lookup, a hook
    that resolves the type (resolve) and puts the result in its place.
    `pickled` says what the mode does with what CBOR cannot carry: False
    refuse, True pickle, None ask the module default at each value.

    The table belongs to one encoder: its container hooks count the
    nesting depth of the item being written (``depth``, docs/TYPES.md D3:
    an item inside an array, a map or a tag is one deeper) and refuse an
    item deeper than MAX_DEPTH before cbor2 writes it. This is also what
    keeps cbor2, whose encoder recurses on the C stack, from overflowing
    the stack on a value nested thousands deep. After a failed message the
    count is wrong, and the encoder (with its table) is dropped."""
    depth = 0  # containers and tags around the items now being written

    def enc_array(e, v):
        nonlocal depth
        depth += 1
        if depth > MAX_DEPTH and len(v):
            raise _too_deep()
        _array(e, v)
        depth -= 1

    def enc_map(e, v):
        nonlocal depth
        depth += 1
        if depth > MAX_DEPTH and len(v):
            raise _too_deep()
        _map(e, v)
        depth -= 1

    def enc_tuple(e, v):
        """TUPLE around the tuple's items as an array (also a namedtuple or
        any tuple subclass when CBOR is the serializer: a plain tuple).
        Two levels: the tag, then its array."""
        nonlocal depth
        depth += 2
        if depth > MAX_DEPTH and (len(v) or depth > MAX_DEPTH + 1):
            raise _too_deep()
        e.write(_TUPLE_HEAD)
        _array(e, v)
        depth -= 2

    def enc_tag(e, v):
        """A CBORTag as it is (its own head, then its content): not
        encode_semantic, which turns string referencing on inside tag 256
        (issue 21 bug 2). Tag 55799 is never written (docs/TYPES.md rule
        8): its content is written in its place."""
        nonlocal depth
        tag = v.tag
        if tag == SELF_DESCRIBED:
            return e.encode(v.value)
        err = _tag_error(tag, v.value)
        if err is not None:
            raise err
        depth += 1
        if depth > MAX_DEPTH:
            raise _too_deep()
        e.encode_length(6, tag)
        e.encode(v.value)
        depth -= 1

    def enc_mapping(e, v):
        """Any other Mapping (a dict subclass included) as a map, in its
        items() order; refused if two of its keys are equal (a dict would
        merge them; the receiver would refuse the map)."""
        items = list(v.items())
        d = dict(items)
        if len(d) != len(items):
            raise _collision([k for k, _ in items])
        enc_map(e, d)

    def enc_sequence(e, v):
        enc_array(e, v)

    def enc_datetime(e, v):
        """An aware datetime as tag 1 (docs/TYPES.md, times): the integer
        when it is a whole second, else the double nearest the exact time
        (its microseconds divided by 10^6, correctly rounded: int / int)."""
        if depth >= MAX_DEPTH:
            raise _too_deep()
        d = v - _EPOCH
        us = (d.days * 86400 + d.seconds) * _US + d.microseconds
        if us % _US:
            e.write(b"\xc1")
            _float64(e, us / _US)
        else:
            e.write(b"\xc1")
            _E.encode_int(e, us // _US)

    def enc_ref(e, v):
        """REF [kind, name, address] of a manager proxy (__mpipc_ref__)."""
        try:
            kind, name, address = v.__mpipc_ref__()
        except _PASS:
            raise
        except BaseException as x:
            raise EncodeError("mpipc: cannot encode %s as a manager reference: %s" % (type(v).__name__, x)) from None
        if not (type(kind) is str and type(name) is str and type(address) is str):
            raise EncodeError("mpipc: %s.__mpipc_ref__() must return three str (kind, name, address)"
                              % type(v).__name__)
        if depth + 2 > MAX_DEPTH:
            raise _too_deep()
        e.write(_REF_HEAD)
        _array(e, [kind, name, address])

    def enc_pickle(e, v):
        """PICKLE around pickle.dumps(v, protocol=5)."""
        try:
            data = _pickle.dumps(v, protocol=5)
        except _PASS:
            raise
        except BaseException as x:
            raise EncodeError("mpipc: cannot pickle %s: %s" % (type(v).__name__, x)) from None
        if depth >= MAX_DEPTH:
            raise _too_deep()
        e.write(_PICKLE_HEAD)
        _E.encode_bytes(e, data)

    enc_ref = _reentrant(enc_ref)
    enc_pickle = _reentrant(enc_pickle)

    def resolve(t):
        """(CBOR-mode hook, pickle-mode hook) for values of type t. In
        pickle mode, every type that is not exactly one CBOR maps back to
        is pickled, so that it comes back as itself (a namedtuple, an
        IntEnum, an OrderedDict, a naive datetime, a set, a Decimal), as
        with multiprocessing; in CBOR mode a subclass of a mapped type goes
        as its base (a namedtuple as a tuple, an IntEnum as an int, any
        Mapping as a map, any Sequence as an array), and what docs/TYPES.md
        does not map is refused (sets, Decimal, Fraction, UUID, complex,
        re.Pattern, ipaddress objects, email messages, a date without a
        time, arbitrary objects: cbor2 would write some of them as its
        semantic tags, which other languages do not read as such)."""
        if getattr(t, "__mpipc_ref__", None) is not None:
            return enc_ref, enc_ref
        if t is datetime.datetime:
            # (utcoffset() may run a tzinfo's code.) A naive datetime has
            # no CBOR form: refused, or pickled.
            return (_reentrant(lambda e, v: _enc_refuse(e, v) if _naive(v) else enc_datetime(e, v)),
                    _reentrant(lambda e, v: enc_pickle(e, v) if _naive(v) else enc_datetime(e, v)))
        for base, m in bases:
            if issubclass(t, base):
                return m, enc_pickle
        if issubclass(t, collections.abc.Mapping):
            return _reentrant(enc_mapping), enc_pickle
        if issubclass(t, collections.abc.Sequence) and not issubclass(t, (str, bytes, bytearray)):
            return _reentrant(enc_sequence), enc_pickle
        return _enc_refuse, enc_pickle

    # Builtin base -> hook, for subclasses (cbor2's order of checks).
    bases = (
        (bytes, _E.encode_bytes), (str, _E.encode_string), (int, _E.encode_int), (float, floats or _E.encode_float),
        (bytearray, _E.encode_bytearray), (tuple, enc_tuple),
    )

    def first(e, v):
        t = type(v)
        cb, pk = resolve(t)
        fn = cb if pickled is False else pk if pickled is True else _either(cb, pk)
        if len(table) < 4096:  # (types made in a loop must not grow it forever)
            table[t] = fn
        else:
            table.pop(t, None)
        return fn(e, v)

    table = collections.defaultdict(lambda: first, {
        str: _E.encode_string,
        int: _E.encode_int,
        float: floats or _E.encode_float,
        bool: _E.encode_bool,
        bytes: _E.encode_bytes,
        bytearray: _E.encode_bytearray,
        type(None): _enc_none,
        list: enc_array,
        dict: enc_map,
        tuple: enc_tuple,
        memoryview: _enc_memoryview,
        _Tag: enc_tag,
        _Undefined: _enc_undefined,
    })
    return table


_array = _E.encode_array
_map = _E.encode_map


def _either(cb, pk):
    def hook(e, v):
        return (pk if _default_pickle else cb)(e, v)
    return hook


_ATTR = {None: "enc", True: "enc_pk", False: "enc_cb"}


def new_encoder(pickle=None):
    """A fresh encoder's encode_to_bytes for mode `pickle` (None: the
    module default; this thread's persistent one is ``_tls.enc``). Drop it
    after a failed message."""
    return _E(io.BytesIO(), encoders=_dispatch(pickle)).encode_to_bytes


def _encode_error(obj, e):
    if isinstance(e, EncodeError):
        return e
    if isinstance(e, UnicodeError):
        return EncodeError("mpipc: cannot encode a str that is not valid Unicode text (%s): CBOR text must be UTF-8"
                           % (e,))
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
    """encode() with every float 64-bit, for a value that holds an
    infinity or a NaN; and, as a NaN is the only key a dict can hold twice
    under docs/TYPES.md's key equality (two NaN objects of the same bits
    are two dict keys), a check of the value's map keys."""
    try:
        data = _E(io.BytesIO(), encoders=_dispatch(pickle, floats=_float64)).encode_to_bytes(obj)
    except _PASS:
        raise
    except BaseException as e:
        raise _encode_error(obj, e) from None
    _check_nan_keys(obj)
    return data


def _check_nan_keys(obj):
    """EncodeError if a map in `obj` (lists, tuples, dicts, CBORTags
    looked into) holds two keys that are equal once NaNs compare by their
    bits."""
    todo = [obj]
    while todo:
        v = todo.pop()
        if isinstance(v, (list, tuple)):
            todo.extend(v)
        elif isinstance(v, dict):
            if len(v) > 1 and len(set(map(_canon, v))) != len(v):
                raise _collision(list(v))
            todo.extend(v)
            todo.extend(v.values())
        elif type(v) is _Tag:
            todo.append(v.value)


# The key form of a NaN (_canon) is (_NAN, its 64 bits): no key of a
# message can hold this object.
_NAN = object()


def _canon(k):
    """Map key `k` as docs/TYPES.md's key equality sees it where Python's
    does not already: a NaN equals a NaN of the same bits (inside tuples
    and tags too). Everything else compares as Python compares it."""
    t = type(k)
    if t is float:
        return (_NAN, _pack_double(0xFB, k)) if k != k else k
    if t is tuple:
        return tuple(map(_canon, k))
    if t is _Tag:
        return (_Tag, k.tag, _canon(k.value))
    return k


# -- decoding ----------------------------------------------------------------

# The tag decoders (docs/TYPES.md rule 8): only tags 0 and 1 (times), 2
# and 3 (bignums) and mpipc's three become Python values; 55799 is dropped;
# every other tag is a CBORTag around its content, re-encoded to the same
# bytes. cbor2's own semantic decoders (sets, fractions, string references,
# shared values, IP addresses, MIME ...) are never used: cbor2 asks the
# semantic_decoders mapping first for every tag, and SEMANTIC's mappings
# answer for every tag (_Tags.__missing__).
#
# cbor2 calls a plain semantic decoder after a failed attribute lookup that
# costs ~350 ns a tag; a two-stage decoder (cbor2.shareable_decoder:
# fn(immutable) -> (container, finish)) whose first stage is C code (a
# dict's get, through functools.partial, which can carry the attributes the
# decorator sets) costs ~60 ns, and gives each context (map key or not) its
# own finish. Its content is decoded mutable outside map keys (a list),
# immutable inside (a tuple), unlike cbor2's generic CBORTag, whose array
# content is always a tuple (which would come back with a TUPLE tag).


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
    # Outside a map key an array decodes as a list: a tuple here was a
    # TUPLE, which Rust, C, Go and Node refuse too (the wire holds a tag).
    if not (type(value) is list and len(value) == 3 and all(type(x) is str for x in value)):
        raise DecodeError("mpipc: the REF tag (0x6d707266) must hold [kind, name, address] (three text strings), "
                          "not %s" % _what(value))
    return _resolve(value)


def _ref_in_key(value):
    # In a map key every array decodes as a tuple; one the TUPLE tag made
    # is the last tuple _tuple_in_key returned (see _last_tuple).
    if not (type(value) is tuple and len(value) == 3 and all(type(x) is str for x in value)
            and value is not _last_tuple[0]):
        raise DecodeError("mpipc: the REF tag (0x6d707266) must hold [kind, name, address] (three text strings), "
                          "not %s" % ("a TUPLE" if value is _last_tuple[0] else _what(value)))
    return _resolve(value)


def _resolve(value):
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


# Tags 1, 2 and 3. A bignum is a tag, not an integer head, so tag 1 around
# one is refused (docs/TYPES.md, times): tag 1's first stage clears this
# thread's flag, a bignum's finish sets it, and tag 1's finish, which comes
# right after its content, reads it.
_big = threading.local()
_UTC = datetime.timezone.utc
_fromtimestamp = datetime.datetime.fromtimestamp


def _bignum(value):
    if type(value) is not bytes:
        raise DecodeError("mpipc: tag 2 (a bignum) must hold a byte string, not %s" % _what(value))
    _big.seen = True
    return int.from_bytes(value, "big")


def _negative_bignum(value):
    if type(value) is not bytes:
        raise DecodeError("mpipc: tag 3 (a negative bignum) must hold a byte string, not %s" % _what(value))
    _big.seen = True
    return -1 - int.from_bytes(value, "big")


def _epoch_time(value):
    """Tag 1: an aware datetime (UTC), its float rounded to the nearest
    microsecond (fromtimestamp rounds half to even); a time outside datetime's
    years 1 to 9999, a NaN or an infinity stays CBORTag(1, value)."""
    t = type(value)
    if t is float or (t is int and not _big.seen):
        try:
            return _fromtimestamp(value, _UTC)
        except (OverflowError, ValueError, OSError):
            return _Tag(1, value)
    raise DecodeError("mpipc: tag 1 (an epoch time) must hold an integer or a float, not %s"
                      % ("a bignum" if t is int else _what(value)))


_EPOCH_PAIR = (None, _epoch_time)


def _epoch_start(immutable):
    _big.seen = False
    return _EPOCH_PAIR


# RFC 3339 section 5.6's date-time (T, Z may be lower case); the fraction
# any length. Anything else in a tag 0 passes through.
_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([Zz])|([+-])(\d\d):(\d\d))",
                      re.ASCII)


def _text_time(value):
    """Tag 0: an aware datetime (its offset kept), the fraction rounded to
    the nearest microsecond (half to even); text that is not an RFC 3339
    date-time, or a time datetime cannot hold (a leap second, year 0),
    stays CBORTag(0, value)."""
    if type(value) is not str:
        raise DecodeError("mpipc: tag 0 (a date/time text) must hold a text string, not %s" % _what(value))
    m = _RFC3339.fullmatch(value)
    if m is None:
        return _Tag(0, value)
    y, mo, d, h, mi, s, frac, z, sign, oh, om = m.groups()
    try:
        if z or (oh == "00" and om == "00"):
            tz = _UTC
        else:
            off = _TIMEDELTA(hours=int(oh), minutes=int(om))
            tz = datetime.timezone(-off if sign == "-" else off)
        us = 0
        if frac:
            if len(frac) <= 6:
                us = int(frac.ljust(6, "0"))
            else:
                unit = 10 ** (len(frac) - 6)
                us, rest = divmod(int(frac), unit)
                if 2 * rest > unit or (2 * rest == unit and us & 1):
                    us += 1
        dt = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=tz)
        if us:
            dt += _TIMEDELTA(microseconds=us)
        dt - _EPOCH  # (OverflowError if its UTC time is outside datetime's range)
        return dt
    except (OverflowError, ValueError):
        return _Tag(0, value)


def _same(value):
    return value


_TUPLE_DEC = _two_stage(_tuple_of_array, _tuple_in_key)
_REF_DEC = _two_stage(_ref, _ref_in_key)
_COMMON = {
    0: _two_stage(_text_time),
    1: cbor2.shareable_decoder(_epoch_start),
    2: _two_stage(_bignum),
    3: _two_stage(_negative_bignum),
    SELF_DESCRIBED: _two_stage(_same),
    TUPLE: _TUPLE_DEC,
    REF: _REF_DEC,
}


class _Tags(dict):
    """A semantic_decoders mapping: the tags above, and for any other tag
    (missing), a decoder that makes a CBORTag around the content (kept for
    the next time, up to a bound: the tag numbers of messages are not
    ours to count)."""

    __slots__ = ()

    def __missing__(self, tag):
        dec = _two_stage(functools.partial(_Tag, tag))
        if len(self) < 512:
            self[tag] = dec
        return dec


# cbor2's semantic_decoders of each mode (looked up only at a tag).
SEMANTIC = {
    None: _Tags(_COMMON, **{}),
    True: _Tags(_COMMON),
    False: _Tags(_COMMON),
}
SEMANTIC[None][PICKLE] = _two_stage(_unpickle_if_default)
SEMANTIC[True][PICKLE] = _two_stage(_unpickle)
SEMANTIC[False][PICKLE] = _two_stage(_pickle_refused)
_SEM_AUTO = SEMANTIC[None]

_FrozenDict = getattr(cbor2, "frozendict", None)


def _fix(v, depth=0):
    """Replace undefined by None and refuse other simple values, anywhere
    in what cbor2 built (not inside objects a PICKLE or REF made); refuse
    a map with two keys that are equal once NaNs compare by their bits
    (cbor2 refuses the other equal keys, allow_duplicate_keys=False)."""
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
        if len(items) > 1 and len(set(_canon(k) for k, _ in items)) != len(items):
            raise DecodeError("mpipc: a map of the message holds two equal keys (%.60r ...; a NaN equals a NaN of "
                              "the same bits): docs/TYPES.md rule 5" % ([k for k, _ in items],))
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
    truncated CBOR, trailing bytes, an item deeper than 128, simple values
    other than false/true/null/undefined, a map with two equal keys (and,
    as a dict cannot keep them apart, a map with both true and 1 or false
    and 0), tags 0-3 around the wrong content, a TUPLE tag around anything
    but an array, a PICKLE tag without the opt-in (`pickle`: None follows
    the module default, set_serializer; True / False decide)."""
    return decode_framed(b"".join((HEAD, data, MARK)), pickle)


def decode_error(e, framed):
    """The DecodeError for exception `e` raised while decoding `framed`
    (HEAD + message + MARK): the one a tag decoder raised (cbor2 chains
    it), else an invalid-CBOR error."""
    data = bytes(framed[1:-PAD_AFTER])
    inner = e if isinstance(e, DecodeError) else e.__cause__
    if isinstance(inner, DecodeError):
        return DecodeError(inner.args[0] if inner.args else "mpipc: invalid CBOR message", data)
    text = str(e)
    if "Duplicate map key" in text:
        return DecodeError("mpipc: a map of the message holds two equal keys (%s): docs/TYPES.md rule 5 (numbers "
                           "compare by value, 1 == 1.0; and a Python dict cannot keep true apart from 1, or false "
                           "from 0)" % text[text.index("Duplicate map key"):], data)
    return DecodeError("mpipc: invalid CBOR message: %s" % (text,), data)


def decode_framed(framed, pickle=None):
    """decode() of HEAD + message + MARK (see MARK)."""
    try:
        pair = _loads(framed, max_depth=_DEPTH, semantic_decoders=SEMANTIC[pickle], allow_duplicate_keys=False)
    except _PASS:
        raise
    except BaseException as e:  # (pyo3's PanicException is no Exception)
        return decode_failed(e, framed, SEMANTIC[pickle])
    if pair[1] != MARK_VALUE:
        raise trailing_error(framed)
    value = pair[0]
    if type(value) not in _PLAIN:
        # check(value, framed), inlined (as in Queue.get).
        try:
            out = _marshal(value)
        except Exception:
            return walk(value, framed)
        if (0xFF in out or 0x7F in out) and len(_MARSHAL_NAN.findall(out)) > 1:
            return walk(value, framed)
    return value


def decode_failed(e, framed, semantic):
    """After cbor2 failed on `framed` with `e`: raises its DecodeError --
    unless cbor2 refused only a nesting depth that docs/TYPES.md accepts.
    cbor2 counts a frame for tag 55799, which the contract drops before
    counting, and for an empty indefinite-length array or map, which it
    cannot know is empty (so 129 nested indefinite arrays, the innermost
    empty, exceed its count). For those the depth is measured on the bytes
    (_nesting) and, if no item is deeper than 128, the message decoded
    again with the frames it needs. (A PICKLE or REF met before the first
    attempt stopped was decoded then too.)"""
    if not isinstance(e, _PASS) and "nesting depth" in str(e):
        try:
            deepest, frames = _nesting(memoryview(framed)[PAD_BEFORE:len(framed) - PAD_AFTER])
        except (ValueError, IndexError):
            deepest = frames = None  # malformed further on: the first error stands
        if deepest is not None and deepest <= MAX_DEPTH:
            try:
                pair = _loads(framed, max_depth=frames + 1, semantic_decoders=semantic, allow_duplicate_keys=False)
            except _PASS:
                raise
            except BaseException as e2:
                raise decode_error(e2, framed) from None
            if pair[1] != MARK_VALUE:
                raise trailing_error(framed)
            value = pair[0]
            return value if type(value) in _PLAIN else check(value, framed)
    raise decode_error(e, framed) from None


def _nesting(data):
    """(The depth of the deepest item of the CBOR item at the start of
    `data` as docs/TYPES.md counts it, the frames cbor2 opens for it at
    most). ValueError or IndexError if it is malformed. Python, item by
    item: only for the rare message decode_failed looks at."""
    pos = 0
    deepest = frames = 0
    stack = []  # [items left (None: until a break), depth of those items, cbor2 frames open around them]
    while True:
        ib = data[pos]
        pos += 1
        major, ai = ib >> 5, ib & 31
        if ai < 24:
            arg = ai
        elif ai < 28:
            size = 1 << (ai - 24)
            arg = int.from_bytes(data[pos:pos + size], "big")
            if pos + size > len(data):
                raise ValueError("truncated")
            pos += size
        elif ai == 31 and major in (2, 3, 4, 5, 7):
            arg = None
        else:
            raise ValueError("reserved head")
        depth, open_ = (stack[-1][1], stack[-1][2]) if stack else (0, 0)
        if ib == 0xFF:
            if not stack or stack[-1][0] is not None:
                raise ValueError("stray break")
            stack.pop()
        else:
            deepest = max(deepest, depth)
            if major in (2, 3):
                chunks = arg is None  # definite chunks of the same type until a break
                while True:
                    if chunks:
                        h = data[pos]
                        pos += 1
                        if h == 0xFF:
                            break
                        if h >> 5 != major or h & 31 > 27:
                            raise ValueError("bad chunk")
                        arg = h & 31
                        if arg >= 24:
                            size = 1 << (arg - 24)
                            arg = int.from_bytes(data[pos:pos + size], "big")
                            pos += size
                    if pos + arg > len(data):
                        raise ValueError("truncated")
                    pos += arg
                    if not chunks:
                        break
            elif major in (4, 5) and arg != 0:
                stack.append([None if arg is None else arg * (major - 3), depth + 1, open_ + 1])
                frames = max(frames, open_ + 1)
                continue
            elif major == 6:
                stack.append([1, depth if arg == SELF_DESCRIBED else depth + 1, open_ + 1])
                frames = max(frames, open_ + 1)
                continue
        # An item (or a container, at its break) is complete.
        while stack and stack[-1][0] is not None:
            stack[-1][0] -= 1
            if stack[-1][0]:
                break
            stack.pop()
        if not stack:
            return deepest, frames


_DEPTH = MAX_DEPTH + 1  # cbor2's max_depth for a framed message (the frame is one array more)
# A NaN in marshal's output (version 4): TYPE_BINARY_FLOAT ("g", 0xe7 with
# its reference flag), then the double's 8 bytes little-endian, the last
# two holding an all-ones exponent.
_MARSHAL_NAN = re.compile(rb"[g\xe7][\x00-\xff]{6}[\xf0-\xff][\x7f\xff]")


def check(value, framed):
    """The container `value` decoded from `framed` as the program gets it:
    undefined replaced by None, DecodeError for another simple value or
    for a map with two NaN keys of the same bits (the one collision a
    dict, and so cbor2's allow_duplicate_keys, does not see). The common
    case costs a marshal.dumps and two byte tests, at C speed."""
    # Is an undefined or a CBORSimpleValue inside? marshal serialises
    # builtin types only: if it accepts the value, neither is (a byte scan
    # of the message for their heads would hit the payload of most floats,
    # and walking in Python costs 5x more). Otherwise (datetimes, tags,
    # proxies, unpickled objects ... or a simple value) walk. Two NaNs are
    # looked for in marshal's output (every NaN ends in 0x7f or 0xff there;
    # a NaN key needs two to collide).
    try:
        out = _marshal(value)
    except Exception:
        return walk(value, framed)
    if (0xFF in out or 0x7F in out) and len(_MARSHAL_NAN.findall(out)) > 1:
        return walk(value, framed)
    return value


def trailing_error(framed):
    """The DecodeError of a framed message with bytes after its item."""
    return DecodeError("mpipc: invalid CBOR message: trailing bytes after the item", bytes(framed[1:-PAD_AFTER]))


def walk(value, framed):
    """`value` (decoded from `framed`) with undefined replaced by None;
    DecodeError for another simple value or two equal map keys (_fix)."""
    try:
        return _fix(value)
    except DecodeError as e:
        raise DecodeError(e.args[0], bytes(framed[1:-PAD_AFTER])) from None
