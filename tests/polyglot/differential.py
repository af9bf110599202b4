"""The values of the differential test (issue 21; tests/polyglot/test_differential.py).

A seeded generator of CBOR values, written independently of every codec the
project ships (this file has its own canonical encoder; it does not use cbor2
or mpipc), and, for each codec, the bytes that codec must give back when it
decodes a value and encodes it again: docs/TYPES.md's rules 1 to 4 (the
canonical bytes), changed only where TYPES.md says that codec changes them:

- the TUPLE tag is kept by Python, Rust and C (libcbor); Go, Node, C++ and
  the JSON bridge give the plain array; Python gives TUPLE for every array
  inside a map key (a list cannot be a dict key);
- Go writes map keys sorted by their encoded bytes (its maps have no order);
- Node writes an integral float that is a safe integer (|x| <= 2^53 - 1,
  not -0.0) as the integer (but inside a tag 1 that passes through), a plain object's array-index keys first
  (ascending), and a map key -0.0 as 0 (JavaScript has one number type);
- Python, Go and Node read tag 0 (RFC 3339 text) as a time and write it
  back as tag 1; the others keep the tag.

Values: null, booleans, integers at every head-size boundary and bignums,
doubles (boundaries, -0.0, infinities, NaN, random bit patterns), text
(ASCII to astral planes), byte strings, arrays, TUPLEs, maps with mixed keys
(text, integers, floats, booleans, null, bytes, arrays; never two keys equal
under TYPES.md's key rule, nor two keys that one language's type cannot keep
apart, which that language alone refuses (TYPES.md D4, "Collisions"): true
and 1 or false and 0 (Python's dict), two NaNs of any bits (a JavaScript
Map), two maps with the same entries in another order (Python's frozendict;
no map key is generated), two times of the same unit (no time key is
generated)), tags (times, REF, and tags that pass through), and nesting up to
the depth limit. `malformed()` lists messages every codec
must refuse; `mutate()` derives byte-level mutations of valid messages, on
which every codec must agree (accepted by all, or refused by all).

Run as a program for a longer run (the fuzz command):
    python tests/polyglot/differential.py --print SEED N   # show values
"""

import math
import random
import struct
import sys

TUPLE = 0x6D707475
REF = 0x6D707266
PICKLE = 0x6D70706B
MAX_DEPTH = 128

# Every codec the project ships (PEERS.md's peers; "cjson" is the C peer
# through the C ABI's JSON bridge).
CODECS = ["python", "go", "node", "rust", "c", "cjson", "cpp"]
KEEP_TUPLE = {"python", "rust", "c"}
TIME_AWARE = {"python", "go", "node"}


class T(list):
    """A TUPLE: the tag 0x6d707475 around an array (a Python tuple)."""


class M:
    """A map: its (key, value) pairs in the order written."""

    def __init__(self, pairs):
        self.pairs = pairs

    def __repr__(self):
        return "M(%r)" % (self.pairs,)


class Tag:
    """Tag `n` around `value`, a tag every codec passes through."""

    def __init__(self, n, value):
        self.n, self.value = n, value

    def __repr__(self):
        return "Tag(%d, %r)" % (self.n, self.value)


class Ref:
    """A REF: [kind, name, address], three texts."""

    def __init__(self, kind, name, address):
        self.parts = [kind, name, address]

    def __repr__(self):
        return "Ref%r" % (tuple(self.parts),)


class Time:
    """A time, `ms` milliseconds since the epoch: tag 1 with the integer
    seconds when whole, else the double nearest to ms / 1000 (TYPES.md)."""

    def __init__(self, ms):
        self.ms = ms

    def __repr__(self):
        return "Time(%d ms)" % self.ms


class Time0:
    """Tag 0 around RFC 3339 text, `ms` milliseconds since the epoch."""

    def __init__(self, ms):
        self.ms = ms
        whole, frac = divmod(ms, 1000)
        days, secs = divmod(whole, 86400)
        y, mo, d = _civil_from_days(days)
        self.text = "%04d-%02d-%02dT%02d:%02d:%02d%sZ" % (y, mo, d, secs // 3600, secs // 60 % 60, secs % 60,
                                                          ".%03d" % frac if frac else "")

    def __repr__(self):
        return "Time0(%r)" % self.text


def _civil_from_days(z):
    # Howard Hinnant's days -> (year, month, day), proleptic Gregorian.
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y), m, d


# -- the canonical encoder -----------------------------------------------------


def head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for ai, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | ai]) + struct.pack(fmt, n)
    raise ValueError("head argument %d beyond 64 bits" % n)


def _index_key(s):
    # A JavaScript array index: canonical decimal 0 .. 2^32 - 2.
    return s.isdigit() and s.isascii() and (s == "0" or s[0] != "0") and int(s) <= 2 ** 32 - 2


def encode(v, codec, in_key=False, direct_key=False):
    """The bytes `codec` gives back for value `v` (see the module's doc)."""
    if v is None:
        return b"\xf6"
    if v is True or v is False:
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        if 0 <= v < 1 << 64:
            return head(0, v)
        if -(1 << 64) <= v < 0:
            return head(1, -1 - v)
        mag = v if v > 0 else -1 - v
        raw = mag.to_bytes((mag.bit_length() + 7) // 8, "big")
        return head(6, 2 if v > 0 else 3) + head(2, len(raw)) + raw
    if isinstance(v, float):
        if codec == "node":
            neg_zero = v == 0 and math.copysign(1, v) < 0
            if direct_key and neg_zero:
                return b"\x00"
            if v.is_integer() and abs(v) <= 2 ** 53 - 1 and not neg_zero:
                return encode(int(v), codec)
        if math.isnan(v):
            return b"\xfb\x7f\xf8\x00\x00\x00\x00\x00\x00"
        return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, str):
        raw = v.encode("utf-8")
        return head(3, len(raw)) + raw
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, list):
        body = head(4, len(v)) + b"".join(encode(x, codec, in_key) for x in v)
        tagged = (type(v) is T and codec in KEEP_TUPLE) or (codec == "python" and in_key)
        return head(6, TUPLE) + body if tagged else body
    if isinstance(v, M):
        pairs = [(encode(k, codec, True, True), encode(x, codec, in_key)) for k, x in v.pairs]
        if codec == "go":
            pairs.sort(key=lambda p: p[0])
        elif codec == "node" and all(isinstance(k, str) for k, _ in v.pairs):
            idx = sorted((int(k), i) for i, (k, _) in enumerate(v.pairs) if _index_key(k))
            first = [pairs[i] for _, i in idx]
            pairs = first + [p for (k, _), p in zip(v.pairs, pairs) if not _index_key(k)]
        return head(5, len(pairs)) + b"".join(k + x for k, x in pairs)
    if isinstance(v, Tag):
        if v.n == 1 and isinstance(v.value, float):
            # A tag 1 no time type holds passes through whole: Node keeps
            # its float a float (a Float64) there.
            return head(6, 1) + encode(v.value, "rust")
        return head(6, v.n) + encode(v.value, codec, in_key)
    if isinstance(v, Ref):
        return head(6, REF) + encode(list(v.parts), codec)
    if isinstance(v, Time0):
        if codec in TIME_AWARE:
            return encode(Time(v.ms), codec)
        return head(6, 0) + encode(v.text, codec)
    if isinstance(v, Time):
        if v.ms % 1000 == 0:
            return head(6, 1) + encode(v.ms // 1000, "rust")
        return head(6, 1) + b"\xfb" + struct.pack(">d", v.ms / 1000)
    raise TypeError("not a generated value: %r" % (v,))


def sent(v):
    """The bytes the driver sends: the canonical encoding (Rust keeps everything)."""
    return encode(v, "rust")


# -- the generator ---------------------------------------------------------------

INT_EDGES = [0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 1,
             2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1, 2 ** 64, 2 ** 100, 10 ** 40]
INT_EDGES += [-1 - n for n in INT_EDGES]
FLOAT_EDGES = [0.0, -0.0, 1.0, -1.0, 1.5, 0.1, 2.0 ** 53, 2.0 ** 53 - 1, -2.0 ** 53 + 1, 2.0 ** 64, 1e300, -1e300,
               5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, math.inf, -math.inf, math.nan,
               65504.0, 3.4028234663852886e38, 1e-7]
TEXT_EDGES = ["", "a", "é", "€", "😀", "\u0000", "\uffff", "\U0010ffff", "a" * 23, "b" * 24, "ü" * 128, "0", "1",
              "10", "01", "4294967294", "4294967295", "-1", "__proto__", "constructor", "$bytes", "$tag", "$map",
              "$float", "z"]
# Tags that pass through every codec (rule 8): standard ones whose meaning
# no codec applies (some of which cbor2 would), large and small numbers.
PASS_TAGS = [4, 5, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 32, 33, 34, 35, 36, 37, 38, 42, 64, 100, 256, 257,
             258, 259, 260, 261, 1004, 1040, 43000, 65535, 65536, 0x6D706B79, 2 ** 32 - 1, 2 ** 32, 2 ** 64 - 1]
REF_KINDS = ["dict", "list", "namespace", "value", "queue", "lock"]
# Years 1 .. 9999: every language's time type holds them (Python's is the
# narrowest), in milliseconds since the epoch.
MS_MIN, MS_MAX = -62135596800 * 1000, 253402300799 * 1000 + 999


def _text(rng):
    r = rng.random()
    if r < 0.3:
        return rng.choice(TEXT_EDGES)
    n = rng.choice([0, 1, 3, 8, 23, 24, 40])
    pools = [(0x20, 0x7E), (0xA0, 0x7FF), (0x800, 0xD7FF), (0xE000, 0xFFFD), (0x10000, 0x10FFFF), (0, 0x1F)]
    out = []
    for _ in range(n):
        lo, hi = rng.choice(pools)
        out.append(chr(rng.randint(lo, hi)))
    return "".join(out)


def _int(rng):
    r = rng.random()
    if r < 0.4:
        return rng.choice(INT_EDGES)
    if r < 0.8:
        return rng.randint(-(2 ** rng.randint(1, 64)), 2 ** rng.randint(1, 64))
    return rng.randint(-(2 ** 200), 2 ** 200)


def _float(rng):
    r = rng.random()
    if r < 0.4:
        return rng.choice(FLOAT_EDGES)
    if r < 0.7:
        return rng.uniform(-1e6, 1e6)
    while True:  # any finite double, NaN payloads excluded (TYPES.md writes one NaN)
        f = struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0]
        if not math.isnan(f):
            return f


def _scalar(rng):
    kind = rng.randrange(10)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind in (1, 2):
        return _int(rng)
    if kind in (3, 4):
        return _float(rng)
    if kind in (5, 6):
        return _text(rng)
    if kind == 7:
        return bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 5, 23, 24, 100])))
    if kind == 8:
        return _time(rng)
    return Ref(rng.choice(REF_KINDS), _text(rng), "unix:/tmp/%s.sock" % rng.randrange(1000))


def _time(rng):
    r = rng.random()
    ms = rng.randint(MS_MIN, MS_MAX) if r < 0.5 else rng.randint(-10 ** 12, 10 ** 12)
    if rng.random() < 0.3:
        ms -= ms % 1000  # whole seconds: the integer form
    if rng.random() < 0.25:
        return Time0(ms)
    if rng.random() < 0.1:
        # A tag 1 no time type holds: passes through as the generic tag.
        return Tag(1, rng.choice([math.nan, math.inf, -math.inf, 1e20, -1e20, 2 ** 63]))
    return Time(ms)


def _key_identity(k):
    # TYPES.md's key rule (numbers by value, TUPLE ignored), made stricter
    # where a language's type is (D4, "Collisions"): true is 1 in Python's
    # dict, so never both; a JavaScript Map holds one NaN key, so every NaN
    # is one key here, whatever its bits. _key makes no map and no time
    # key: Python's frozendict ignores a map's order, and times are one key
    # in a language when they round to the same unit of its time type.
    if k is True or k is False:
        return ("n", int(k))
    if isinstance(k, float):
        if math.isnan(k):
            return ("nan",)
        return ("n", int(k)) if k.is_integer() else ("n", k)
    if isinstance(k, int):
        return ("n", k)
    if isinstance(k, list):
        return ("a", tuple(_key_identity(x) for x in k))
    return (type(k).__name__, k)


def _key(rng, depth):
    r = rng.randrange(12)
    if r < 5:
        return _text(rng)
    if r < 7:
        return _int(rng)
    if r == 7:
        f = _float(rng)
        return f
    if r == 8:
        return rng.choice([None, True, False])
    if r == 9:
        return bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 2, 8])))
    n = rng.randrange(3)
    items = [_key(rng, depth + 1) if depth < 3 else _int(rng) for _ in range(n)]
    return T(items) if r == 10 else items


def value(rng, depth=0):
    """One generated value, containers at most a few levels deep."""
    r = rng.random()
    if depth >= 4 or r < 0.45:
        return _scalar(rng)
    n = rng.choice([0, 1, 2, 3, 5, 24])
    if r < 0.6:
        return [value(rng, depth + 1) for _ in range(n)]
    if r < 0.7:
        return T(value(rng, depth + 1) for _ in range(n))
    if r < 0.9:
        pairs, seen = [], set()
        text_only = rng.random() < 0.5
        for _ in range(n):
            k = _text(rng) if text_only else _key(rng, depth + 1)
            ident = _key_identity(k)
            if ident in seen:
                continue
            seen.add(ident)
            pairs.append((k, value(rng, depth + 1)))
        return M(pairs)
    return Tag(rng.choice(PASS_TAGS), value(rng, depth + 1))


def deep(n, inner=1, tags=False):
    """n arrays (or tags) around `inner`."""
    v = inner
    for _ in range(n):
        v = Tag(100, v) if tags else [v]
    return v


def values(seed, n):
    """n values from `seed`, after the fixed ones (edges and depth limits)."""
    rng = random.Random(seed)
    fixed = [deep(MAX_DEPTH), deep(MAX_DEPTH, tags=True), deep(MAX_DEPTH, inner=[]), M([]), [], T([]),
             M([("k", 1), (math.nan, 2)]), M([(-0.0, "neg zero key")]), M([("10", 1), ("2", 2), ("a", 3), ("0", 4)]),
             M([(1, "int"), ("1", "text"), (1.5, "float"), (T([1, "a"]), "tuple"), (b"\x01", "bytes")]),
             Time(1001), Time(-1), Time(-1001), Time(0), Time0(1577836800123), Tag(1, math.nan),
             Tag(1, -62135596801 * 1.0), Tag(256, ["aaaa", "aaaa"]), Tag(258, [2, 1]), Tag(258, [1, 1]),
             Tag(30, [2, 4]), Tag(28, 1), Tag(29, 0), Tag(25, 0), Tag(36, "text"), Tag(43000, [1.0, 2.0])]
    out = fixed + [value(rng) for _ in range(n)]
    for v in out:
        _check_keys(v)
    return out


def _check_keys(v):
    # The values are valid in every codec: no map holds keys one language
    # cannot keep apart (see _key_identity), whatever edits _key gets.
    if isinstance(v, M):
        idents = [_key_identity(k) for k, _ in v.pairs]
        assert len(set(idents)) == len(idents), "keys one language cannot keep apart: %r" % (v,)
        for k, x in v.pairs:
            assert not isinstance(k, (M, Time, Time0)), "a map or a time as a map key: %r" % (k,)
            _check_keys(k)
            _check_keys(x)
    elif isinstance(v, list):
        for x in v:
            _check_keys(x)
    elif isinstance(v, Tag):
        _check_keys(v.value)


# -- messages every codec refuses, and mutations -----------------------------


def malformed():
    """(name, bytes) of messages every codec must refuse with its decode
    error (TYPES.md rule 6 and issue 21's decisions)."""
    deep129 = bytes([0x81]) * (MAX_DEPTH + 1) + b"\x01"
    tags129 = bytes([0xD8, 100]) * (MAX_DEPTH + 1) + b"\x01"
    return [
        ("empty", b""),
        ("truncated int", b"\x19\x01"),
        ("truncated text", b"\x63ab"),
        ("truncated array", b"\x82\x01"),
        ("reserved head 28", b"\x1c"),
        ("reserved head 30", b"\x3e"),
        ("lone break", b"\xff"),
        ("simple 0", b"\xe0"),
        ("simple 32", b"\xf8\x20"),
        ("invalid utf-8", b"\x62\xc3\x28"),
        ("utf-8 surrogate", b"\x63\xed\xa0\x80"),
        ("trailing bytes", b"\x01\x02"),
        ("129 arrays around 1", deep129),
        ("129 tags around 1", tags129),
        ("text length beyond", b"\x7a\xff\xff\xff\xff"),
        ("array count beyond", b"\x9b\x00\x00\x00\x01\x00\x00\x00\x00"),
        ("map count beyond", b"\xbb\x7f\xff\xff\xff\xff\xff\xff\xff"),
        ("indefinite text, byte chunk", b"\x7f\x41\x00\xff"),
        ("tag 0 around an int", b"\xc0\x01"),
        ("tag 1 around text", b"\xc1\x61\x61"),
        ("tag 2 around an int", b"\xc2\x01"),
        ("tag 3 around text", b"\xc3\x61\x61"),
        ("duplicate int keys", b"\xa2\x01\x00\x01\x00"),
        ("duplicate text keys", b"\xa2\x61\x61\x00\x61\x61\x01"),
        ("keys 1 and 1.0", b"\xa2\x01\x00\xfb\x3f\xf0\x00\x00\x00\x00\x00\x00\x01"),
        ("keys 0 and -0.0", b"\xa2\x00\x00\xfb\x80\x00\x00\x00\x00\x00\x00\x00\x01"),
        ("keys [1] and TUPLE [1]", b"\xa2\x81\x01\x00\xda\x6d\x70\x74\x75\x81\x01\x01"),
    ]


def mutate(rng, msg):
    """A byte-level mutation of `msg`: a flipped, dropped, inserted or
    duplicated byte, or a cut."""
    b = bytearray(msg)
    op = rng.randrange(5)
    if not b or op == 0:
        b.insert(rng.randrange(len(b) + 1), rng.getrandbits(8))
    elif op == 1:
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif op == 2:
        del b[rng.randrange(len(b))]
    elif op == 3:
        b = b[:rng.randrange(len(b))]
    else:
        i = rng.randrange(len(b))
        b[i] = rng.choice([0x18, 0x5f, 0x7f, 0x9f, 0xbf, 0xf7, 0xf9, 0xfa, 0xff, 0xc0, 0xc1, 0xc2])
    return bytes(b)


def main(argv):
    if len(argv) == 4 and argv[1] == "--print":
        for v in values(int(argv[2]), int(argv[3])):
            print(repr(v)[:200], sent(v).hex()[:120])
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
