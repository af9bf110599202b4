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
bytes/bytearray/memoryview, list/tuple (arrays), dict (any hashable keys),
aware datetimes (tag 1), CBORTag, and cbor2's other standard semantic
types (set, Decimal, Fraction, UUID, ... as their registered tags, which
other languages see as tagged values). Anything else -- arbitrary objects,
naive datetimes, cyclic structures -- raises EncodeError (a TypeError)
before anything is written. Pickle is never used.
"""

import io
import marshal
import re
import struct
import secrets
import threading

import cbor2

from ._errors import DecodeError, EncodeError

MAX_DEPTH = 128

_HALF_SPECIALS = re.compile(b"\xf9[\x7c\xfc\x7e\xfe]")

_dumps = cbor2.dumps
_loads = cbor2.loads
_Undefined = type(cbor2.undefined)
_Simple = cbor2.CBORSimpleValue
_Tag = cbor2.CBORTag
_marshal = marshal.dumps
_PLAIN = frozenset({int, float, str, bytes, bool, type(None)})
_pack_double = struct.Struct(">Bd").pack


def _float64(encoder, value):
    encoder.write(_pack_double(0xFB, value))


_ENCODERS = {float: _float64}


# One persistent encoder per thread: encode_to_bytes on it skips the set-up
# that every cbor2.dumps call pays (~15% of a small message's encoding).
_tls = threading.local()


def new_encoder():
    return cbor2.CBOREncoder(io.BytesIO(), datetime_as_timestamp=True).encode_to_bytes


def encode(obj):
    """CBOR bytes of `obj` (EncodeError if the mapping cannot carry it)."""
    try:
        enc = _tls.enc
    except AttributeError:
        enc = _tls.enc = new_encoder()
    try:
        data = enc(obj)
    except Exception as e:
        _tls.enc = new_encoder()  # its state after a failure is unknown
        raise EncodeError("mpipc: cannot encode %s as CBOR: %s" % (type(obj).__name__, e)) from None
    if 0xF9 in data and _HALF_SPECIALS.search(data):
        # Possibly a non-finite float written in half precision; redo with
        # 64-bit floats everywhere (rare: costs a second, slower encode).
        data = _dumps(obj, datetime_as_timestamp=True, encoders=_ENCODERS)
    return data


def _fix(v, depth=0):
    """Replace undefined by None and refuse other simple values, anywhere."""
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
    if isinstance(v, dict) or t.__name__ == "frozendict":
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


def decode(data):
    """The value of the CBOR message `data` (a bytes-like object).

    Raises DecodeError for anything docs/TYPES.md refuses: invalid or
    truncated CBOR, trailing bytes, nesting deeper than 128, simple values
    other than false/true/null/undefined."""
    return decode_framed(b"".join((HEAD, data, MARK)))


def decode_framed(framed):
    """decode() of HEAD + message + MARK (see MARK)."""
    try:
        pair = _loads(framed, max_depth=MAX_DEPTH + 1)
    except _DECODE_ERRORS as e:
        raise DecodeError("mpipc: invalid CBOR message: %s" % e, bytes(framed[1:-PAD_AFTER])) from None
    if pair[1] != MARK_VALUE:
        raise DecodeError("mpipc: invalid CBOR message: trailing bytes after the item", bytes(framed[1:-PAD_AFTER]))
    value = pair[0]
    if type(value) not in _PLAIN:
        # Containers: is an undefined or a CBORSimpleValue inside? marshal
        # serialises builtin types only, at C speed: if it accepts the
        # value, neither is (a byte scan for their heads would hit the
        # payload of most floats, and walking in Python costs 5x more).
        # Otherwise (datetimes, tags, ... or a simple value) walk.
        try:
            _marshal(value)
        except Exception:
            try:
                value = _fix(value)
            except DecodeError as e:
                raise DecodeError(e.args[0], bytes(framed[1:-PAD_AFTER])) from None
    return value
