"""incr on CBOR integers (mpipc_1_d_incr, mpipc_1_v_incr) against Python's
integers: exact over the whole signed 64-bit range (Lua 5.1 computes on two
32-bit halves), canonical result bytes (cbor2 canonical), and the local
manager's rules beyond it (src/manager/values.rs add_int): absent or null
counts as 0, a stored integer outside i64 or a result outside it is INVAL,
anything but an integer is TYPE, malformed bytes are CORRUPT.
"""

import random

import cbor2
import pytest
import redis

from qlib import kind_of

I64 = (-2**63, 2**63 - 1)
EDGES = [0, 1, -1, 23, 24, -24, -25, 255, 256, -256, -257, 65535, 65536, 2**32 - 1, 2**32, -2**32, -2**32 - 1,
         2**53, 2**53 + 1, -2**53 - 1, 2**62, 2**63 - 2, 2**63 - 1, -2**63, -2**63 + 1,
         2**63, 2**64 - 1, -2**64]   # the last three: stored values out of range
SEED = 22


def enc(v):
    return cbor2.dumps(v, canonical=True)


def in64(v):
    return I64[0] <= v <= I64[1]


def test_incr_is_exact_over_i64(db, name):
    key = "mpipc:d:{%s}" % name
    field = enc("k")
    rng = random.Random(SEED)
    pairs = [(a, d) for a in EDGES + [None] for d in EDGES if in64(d)]
    for _ in range(1000):
        pairs.append((rng.randint(*I64), rng.randint(*I64)))
        pairs.append((rng.randint(-2**40, 2**40), rng.randint(-2**40, 2**40)))
    counts = {"ok": 0, "INVAL": 0}
    # Pipelined (one round trip per batch) to keep the run short; each
    # FCALL still runs alone on the server.
    for i in range(0, len(pairs), 500):
        batch = pairs[i:i + 500]
        p = db.r.pipeline(transaction=False)
        for start, delta in batch:
            if start is None:
                p.hdel(key, field)
            else:
                p.hset(key, field, enc(start))
            p.fcall("mpipc_1_d_incr", 1, key, field, enc(delta))
            p.hget(key, field)
        replies = p.execute(raise_on_error=False)
        for j, (start, delta) in enumerate(batch):
            out, stored = replies[3 * j + 1], replies[3 * j + 2]
            want = (0 if start is None else start) + delta
            if start is not None and not in64(start) or not in64(want):
                assert isinstance(out, redis.ResponseError), (start, delta, out)
                assert kind_of(out) == "INVAL", (start, delta, str(out))
                assert stored == (None if start is None else enc(start)), "unchanged on error"
                counts["INVAL"] += 1
            else:
                assert out == enc(want), (start, delta, out, enc(want))
                assert stored == out
                counts["ok"] += 1
    assert counts["ok"] > 1500 and counts["INVAL"] > 100, counts


def incr_error(db, key, stored, delta=enc(1)):
    db.r.hset(key, b"f", stored)
    with pytest.raises(redis.ResponseError) as e:
        db.fc("d_incr", [key], b"f", delta)
    assert db.r.hget(key, b"f") == stored, "unchanged on error"
    return kind_of(e.value)


def test_incr_rules_beyond_integers(db, name):
    key = "mpipc:d:{%s}" % name
    for value in ["text", 1.5, 1.0, b"bytes", True, [1], {"a": 1}, cbor2.CBORTag(1, 5), 2**200, -2**200]:
        assert incr_error(db, key, enc(value)) == "TYPE", value
    # Integers that cbor2 writes as bignums (tags 2/3) beyond i64: INVAL,
    # as the manager (a bignum that fits 128 bits decodes as an integer).
    for value in [2**63, 2**64, 2**100, -2**63 - 1, -2**100]:
        assert incr_error(db, key, enc(value)) == "INVAL", value
    # Malformed stored bytes.
    for stored in [b"\x1b\x00\x00", b"\x01\x02", b"\x1c", b""]:
        assert incr_error(db, key, stored) == "CORRUPT", stored
    # Bad deltas.
    assert incr_error(db, key, enc(1), enc("x")) == "TYPE"
    assert incr_error(db, key, enc(1), enc(2**63)) == "INVAL"
    assert incr_error(db, key, enc(1), b"\x18") == "CORRUPT"


def test_incr_reads_what_other_encoders_write(db, name):
    key = "mpipc:d:{%s}" % name

    def incr(stored, delta=1):
        if stored is None:
            db.r.hdel(key, b"f")
        else:
            db.r.hset(key, b"f", stored)
        return cbor2.loads(db.fc("d_incr", [key], b"f", enc(delta)))

    assert incr(None) == 1                            # absent
    assert incr(b"\xf6", 5) == 5                      # null
    assert incr(b"\xf7", 5) == 5                      # undefined decodes as null
    assert incr(b"\x18\x05") == 6                     # a non-shortest head
    assert incr(b"\x1b" + (5).to_bytes(8, "big")) == 6
    assert incr(b"\xd9\xd9\xf7\x05") == 6             # tag 55799 dropped
    assert incr(b"\xc2\x41\x05") == 6                 # bignum 5
    assert incr(b"\xc3\x41\x05") == -5                # bignum -6
    assert incr(b"\xc2\x40") == 1                     # bignum 0
    assert incr(b"\xc2\x49\x00" + (2**63 - 2).to_bytes(8, "big")) == 2**63 - 1  # leading zero
    assert incr(b"\xc2\x5f\x41\x05\xff") == 6         # indefinite bignum bytes
    # The result is canonical whatever the stored form was.
    assert db.r.hget(key, b"f") == enc(6)


def test_value_incr(db, name):
    key = "mpipc:v:{%s}" % name
    assert cbor2.loads(db.fc("v_incr", [key], enc(2**62))) == 2**62
    assert cbor2.loads(db.fc("v_incr", [key], enc(2**62 - 1))) == 2**63 - 1
    with pytest.raises(redis.ResponseError) as e:
        db.fc("v_incr", [key], enc(1))
    assert kind_of(e.value) == "INVAL" and "overflow" in str(e.value)
    assert db.r.get(key) == enc(2**63 - 1)
    assert cbor2.loads(db.fc("v_incr", [key], enc(-2**63))) == -1
    db.r.set(key, enc("text"))
    with pytest.raises(redis.ResponseError) as e:
        db.fc("v_incr", [key], enc(1))
    assert kind_of(e.value) == "TYPE"
