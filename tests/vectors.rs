//! The CBOR test vectors of docs/TYPES.md (tests/vectors/cbor.json), on the
//! Rust side: the manager's codec decodes every valid vector into the value
//! it describes and encodes it back to exactly the same bytes, decodes the
//! other encoders' forms, and refuses every invalid one; the typed codec
//! refuses to encode every `encode_invalid` value. The bindings' suites run the same file.
//! mpipc's own tags (TUPLE, REF, PICKLE; docs/TYPES.md) stay tags here:
//! the manager stores them as Python wrote them. Rust has no time type:
//! tags 0 and 1 are tags (`generic` or not), and it keeps map order, so
//! `reencoded` (Go's and Node's) does not apply; `refused_by` names
//! bindings that are not Rust.

use ciborium::Value;
use mpipc::manager::cbor::{TAG_PICKLE, TAG_REF, TAG_TUPLE};
use mpipc::manager::protocol::{decode_value, encode_value};
use serde_json::Value as Json;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// The ciborium value a vector's description stands for: a tuple is the
/// TUPLE tag around its array (Rust keeps the tag), or the plain array
/// when `plain` (the value of the vector's `hex_plain`).
fn build(d: &Json) -> Value {
    build_as(d, false)
}

fn build_as(d: &Json, plain: bool) -> Value {
    let build = |d: &Json| build_as(d, plain);
    if let Some(n) = d.get("nest") {
        // n one-element arrays (or n tags) around the value.
        let mut v = build(&d["value"]);
        for _ in 0..n.as_u64().unwrap() {
            v = match d.get("tag") {
                Some(t) => Value::Tag(t.as_u64().unwrap(), Box::new(v)),
                None => Value::Array(vec![v]),
            };
        }
        return v;
    }
    // The kind is the one key besides a tag's "value" and "generic" (serde_json
    // sorts keys: "generic" comes first).
    let (k, v) = d.as_object().unwrap().iter().find(|(k, _)| !matches!(k.as_str(), "value" | "generic")).unwrap();
    match k.as_str() {
        "null" => Value::Null,
        "bool" => Value::Bool(v.as_bool().unwrap()),
        "int" => {
            let n: i128 = v.as_str().unwrap().parse().unwrap_or_else(|_| {
                // Beyond i128 (none today): keep the test honest.
                panic!("integer {v} does not fit i128")
            });
            match ciborium::value::Integer::try_from(n) {
                Ok(i) => Value::Integer(i),
                Err(_) => {
                    let (tag, mag) = if n >= 0 { (2, n as u128) } else { (3, (-1 - n) as u128) };
                    let bytes = mag.to_be_bytes();
                    let first = bytes.iter().position(|&b| b != 0).unwrap_or(15);
                    Value::Tag(tag, Box::new(Value::Bytes(bytes[first..].to_vec())))
                }
            }
        }
        "float" => Value::Float(match v {
            Json::String(s) if s == "nan" => f64::from_bits(0x7ff8_0000_0000_0000),
            Json::String(s) => s.parse().unwrap(),
            n => n.as_f64().unwrap(),
        }),
        "text" => Value::Text(v.as_str().unwrap().to_owned()),
        "bytes" => Value::Bytes(hex(v.as_str().unwrap())),
        "array" => Value::Array(v.as_array().unwrap().iter().map(build).collect()),
        "map" => Value::Map(
            v.as_array()
                .unwrap()
                .iter()
                .map(|kv| (build(&kv.as_array().unwrap()[0]), build(&kv.as_array().unwrap()[1])))
                .collect(),
        ),
        "tag" => Value::Tag(d["tag"].as_u64().unwrap(), Box::new(build(&d["value"]))),
        "tuple" => {
            let items = Value::Array(v.as_array().unwrap().iter().map(build).collect());
            if plain {
                items
            } else {
                Value::Tag(TAG_TUPLE, Box::new(items))
            }
        }
        "ref" => Value::Tag(
            TAG_REF,
            Box::new(Value::Array(
                v.as_array().unwrap().iter().map(|s| Value::Text(s.as_str().unwrap().into())).collect(),
            )),
        ),
        other => panic!("unknown vector kind {other}"),
    }
}

/// The vector file.
fn vectors() -> Json {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/cbor.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Equality that tells -0.0 from 0.0 and a NaN from a NaN of other bits
/// (bytes are compared separately).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((ka, va), (kb, vb))| same(ka, kb) && same(va, vb))
        }
        (Value::Tag(t, x), Value::Tag(u, y)) => t == u && same(x, y),
        _ => a == b,
    }
}

#[test]
fn every_vector_round_trips_and_every_invalid_one_is_refused() {
    let doc = vectors();
    let valid = doc["valid"].as_array().unwrap();
    assert!(valid.len() >= 40);
    for v in valid {
        let name = v["name"].as_str().unwrap();
        let bytes = hex(v["hex"].as_str().unwrap());
        let want = build(&v["value"]);
        let got = decode_value(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        // A bignum that fits 64 bits is decoded as the plain integer
        // (TYPES.md rule 3); compare through the encoding then.
        assert!(
            same(&got, &want) || encode_value(&got) == encode_value(&want),
            "{name}: decoded {got:?}, want {want:?}"
        );
        assert_eq!(encode_value(&got), bytes, "{name}: re-encoding differs");
        assert_eq!(encode_value(&want), bytes, "{name}: encoding the described value differs");
        // The bytes Go and Node write for a tuple (the array without its
        // TUPLE tags): a plain array here too, and back to the same bytes.
        if let Some(plain) = v["hex_plain"].as_str() {
            let plain = hex(plain);
            let got = decode_value(&plain).unwrap_or_else(|e| panic!("{name} (plain): {e}"));
            assert!(same(&got, &build_as(&v["value"], true)), "{name} (plain): decoded {got:?}");
            assert_eq!(encode_value(&got), plain, "{name} (plain): re-encoding differs");
        }
    }
    let has = |tag: u64| valid.iter().any(|v| v["hex"].as_str().unwrap().contains(&format!("da{tag:08x}")));
    assert!(has(TAG_TUPLE) && has(TAG_REF), "the vectors cover mpipc's TUPLE and REF tags");
    for v in doc["decode_only"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let got = decode_value(&hex(v["hex"].as_str().unwrap())).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(same(&got, &build(&v["value"])), "{name}: decoded {got:?}");
    }
    let mut pickles = 0;
    for v in doc["invalid"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let bytes = hex(v["hex"].as_str().unwrap());
        if v.get("pickle").is_some() {
            // A Python pickle: refused by every binding but Python (with its
            // opt-in); the manager stores it for Python, so Rust keeps the
            // tag and gives back the same bytes.
            let got = decode_value(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut tagged = vec![&got];
            if let Value::Array(a) = &got {
                tagged.extend(a.iter());
            }
            assert!(
                tagged.iter().any(|x| matches!(x, Value::Tag(TAG_PICKLE, b) if matches!(**b, Value::Bytes(_)))),
                "{name}: decoded {got:?}"
            );
            assert_eq!(encode_value(&got), bytes, "{name}: re-encoding differs");
            pickles += 1;
            continue;
        }
        assert!(decode_value(&bytes).is_err(), "{name} must be refused");
    }
    assert!(pickles > 0, "the vectors cover the PICKLE tag");
}

/// The typed API's codec (`mpipc::codec`, what `Queue::put` / `get` use)
/// on the same vectors: decoding into a `ciborium::Value` keeps every tag
/// (TUPLE, REF, bignums, times) and encoding it gives back exactly the
/// canonical bytes; the other encoders' forms decode to the described
/// value; every invalid vector is refused with a decode error.
#[test]
fn the_typed_codec_follows_the_vectors() {
    use mpipc::codec;
    use mpipc::Codec;
    let doc = vectors();
    for v in doc["valid"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let bytes = hex(v["hex"].as_str().unwrap());
        let got: Value = codec::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = build(&v["value"]);
        assert!(
            same(&got, &want) || encode_value(&got) == encode_value(&want),
            "{name}: decoded {got:?}, want {want:?}"
        );
        assert_eq!(codec::encode(&got).unwrap(), bytes, "{name}: the typed encoding differs");
        assert_eq!(codec::encode(&want).unwrap(), bytes, "{name}: the typed encoding of the value differs");
    }
    for v in doc["decode_only"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let got: Value = codec::decode(&hex(v["hex"].as_str().unwrap())).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(same(&got, &build(&v["value"])), "{name}: decoded {got:?}");
    }
    for v in doc["invalid"].as_array().unwrap() {
        if v.get("pickle").is_some() {
            continue; // stored as it is for Python (see the test above)
        }
        let name = v["name"].as_str().unwrap();
        let e = codec::decode::<Value>(&hex(v["hex"].as_str().unwrap())).expect_err(name);
        assert_eq!(e.codec(), Some(Codec::Decode), "{name}: {e}");
    }
}

/// Issue 21's sections on the Rust side: the `times` vectors keep their
/// tag (Rust has no time type; a canonical one re-encodes to itself), and
/// every `encode_invalid` value Rust can hold is refused by the typed
/// encoder, nothing written (the manager's `encode_value` writes what it
/// is given: it only re-encodes what its decoder accepted).
#[test]
fn times_keep_their_tag_and_encoders_refuse_what_decoders_refuse() {
    use mpipc::codec;
    use mpipc::Codec;
    let doc = vectors();
    for v in doc["times"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let bytes = hex(v["hex"].as_str().unwrap());
        let got = decode_value(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(matches!(got, Value::Tag(0 | 1, _)), "{name}: {got:?}");
    }
    let mut refused = 0;
    for v in doc["encode_invalid"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        if v["value"].get("text_utf8").is_some() {
            continue; // a Rust String cannot hold it
        }
        let value = build(&v["value"]);
        let mut out = vec![0xaa];
        let e = codec::encode_into(&value, &mut out).expect_err(name);
        assert_eq!(e.codec(), Some(Codec::Encode), "{name}: {e}");
        assert_eq!(out, [0xaa], "{name}: nothing written");
        // And what it would have written is refused by the decoder.
        assert!(decode_value(&encode_value(&value)).is_err(), "{name}");
        refused += 1;
    }
    assert!(refused >= 8, "{refused}");
}
