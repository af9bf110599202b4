//! The JSON bridge: every form both ways, every refusal, the depth limit,
//! bignums, the shared vectors, and bad input (errors, never panics).

use super::*;
use crate::manager::protocol::encode_value;

fn int(i: i128) -> Value {
    Value::Integer(Integer::try_from(i).unwrap())
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// `json` reads as `v` (compared as CBOR, so NaN equals NaN), on both
/// the fast and the raw path.
fn reads_as(json: &str, v: &Value) {
    assert_eq!(encode_value(&to_value(json).unwrap_or_else(|e| panic!("{json}: {e}"))), encode_value(v), "{json}");
    let raw = parse(json, true).unwrap_or_else(|_| panic!("{json}: the raw path failed"));
    assert_eq!(encode_value(&raw), encode_value(v), "{json} (raw path)");
}

/// `v` writes as exactly `json`, and `json` reads back as `v`.
fn both_ways(v: &Value, json: &str) {
    assert_eq!(from_value(v).unwrap_or_else(|e| panic!("{v:?}: {e}")), json, "{v:?}");
    reads_as(json, v);
}

/// The error of `to_value(json)`: its kind, and that its message holds `part`.
fn refused(json: &str, kind: ErrorKind, part: &str) {
    let e = to_value(json).expect_err(json);
    assert_eq!(e.kind(), kind, "{json}: {e}");
    assert!(e.message().contains(part), "{json}: {:?} lacks {part:?}", e.message());
}

/// The error of `from_value(v)`.
fn refused_out(v: &Value, kind: ErrorKind, part: &str) {
    let e = from_value(v).expect_err("refused");
    assert_eq!(e.kind(), kind, "{v:?}: {e}");
    assert!(e.message().contains(part), "{v:?}: {:?} lacks {part:?}", e.message());
}

#[test]
fn scalars_both_ways() {
    both_ways(&Value::Null, "null");
    both_ways(&Value::Bool(true), "true");
    both_ways(&Value::Bool(false), "false");
    for (i, s) in [
        (0i128, "0"),
        (23, "23"),
        (24, "24"),
        (-1, "-1"),
        (i64::MIN as i128, "-9223372036854775808"),
        (i64::MAX as i128, "9223372036854775807"),
        (u64::MAX as i128, "18446744073709551615"),
        (-(u64::MAX as i128) - 1, "-18446744073709551616"),
    ] {
        both_ways(&int(i), s);
    }
    for (f, s) in [
        (0.5, "0.5"),
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (0.1, "0.1"),
        (1e20, "1e+20"),
        (1.5e-7, "1.5e-7"),
        (f64::MAX, "1.7976931348623157e+308"),
        (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
        (5e-324, "5e-324"),
        (123456789.0, "123456789.0"),
    ] {
        both_ways(&Value::Float(f), s);
    }
    both_ways(&text(""), r#""""#);
    both_ways(&text("héllo \"q\" \\ \n\u{1}\u{1F600}"), r#""héllo \"q\" \\ \n\u0001😀""#);
}

#[test]
// Literals with more digits than an f64 holds, on purpose: they must round
// as a correctly rounded parser rounds them.
#[allow(clippy::excessive_precision)]
fn numbers_read_by_their_spelling() {
    // A fraction or an exponent makes a float, whatever its value.
    reads_as("1e2", &Value::Float(100.0));
    reads_as("1E+2", &Value::Float(100.0));
    reads_as("100.000", &Value::Float(100.0));
    reads_as("-0", &int(0));
    reads_as("9007199254740993", &int(9007199254740993));
    // Correctly rounded (serde_json's float_roundtrip; std on the raw path).
    reads_as("2.2250738585072011e-308", &Value::Float(2.2250738585072011e-308));
    reads_as("0.30000000000000004", &Value::Float(0.30000000000000004));
    reads_as("8.98846567431158e307", &Value::Float(8.98846567431158e307));
    // Big integral floats are floats (they only send the fast path to the
    // raw one).
    reads_as("1e19", &Value::Float(1e19));
    reads_as("-1e19", &Value::Float(-1e19));
    reads_as("[1.8446744073709552e19, 5]", &Value::Array(vec![Value::Float(18446744073709551616.0), int(5)]));
    refused("1e400", ErrorKind::Invalid, "out of range");
    refused("[18446744073709551616, 1e400]", ErrorKind::Invalid, "out of range");
    refused("-1e400", ErrorKind::Invalid, "out of range");
}

#[test]
fn the_issue_example_is_the_cbor_every_binding_writes() {
    let cbor = to_cbor(r#"{"name": "a", "id": 1, "score": 0.5, "vals": [1, 2]}"#).unwrap();
    let want = encode_value(&Value::Map(vec![
        (text("name"), text("a")),
        (text("id"), int(1)),
        (text("score"), Value::Float(0.5)),
        (text("vals"), Value::Array(vec![int(1), int(2)])),
    ]));
    assert_eq!(cbor, want);
    // 0.5 as 64 bits (0xfb), keys in the order written.
    assert_eq!(cbor, hex("a4646e616d656161626964016573636f7265fb3fe00000000000006476616c73820102"));
    assert_eq!(from_cbor(&cbor).unwrap(), r#"{"name":"a","id":1,"score":0.5,"vals":[1,2]}"#);
}

#[test]
fn containers_keep_order() {
    both_ways(&Value::Array(vec![]), "[]");
    both_ways(&Value::Map(vec![]), "{}");
    both_ways(
        &Value::Map(vec![(text("b"), int(1)), (text("a"), int(2)), (text("c"), int(3))]),
        r#"{"b":1,"a":2,"c":3}"#,
    );
    both_ways(
        &Value::Array(vec![Value::Null, Value::Array(vec![Value::Map(vec![(text("x"), Value::Array(vec![]))])])]),
        r#"[null,[{"x":[]}]]"#,
    );
}

#[test]
fn bytes_are_base64() {
    for (b, s) in [
        (vec![], r#"{"$bytes":""}"#),
        (vec![0], r#"{"$bytes":"AA=="}"#),
        (vec![0, 1], r#"{"$bytes":"AAE="}"#),
        (vec![0, 1, 2], r#"{"$bytes":"AAEC"}"#),
        (vec![0xfb, 0xff, 0xbf], r#"{"$bytes":"+/+/"}"#),
    ] {
        both_ways(&Value::Bytes(b), s);
    }
    for bad in [
        r#"{"$bytes": "AA"}"#,   // padding missing
        r#"{"$bytes": "AA="}"#,  // padding short
        r#"{"$bytes": "-_-_"}"#, // the URL alphabet
        r#"{"$bytes": "AA==AA=="}"#,
        r#"{"$bytes": "AB=="}"#, // non-zero trailing bits
        r#"{"$bytes": " AA=="}"#,
        r#"{"$bytes": "A"}"#,
    ] {
        refused(bad, ErrorKind::Invalid, "base64");
    }
    refused(r#"{"$bytes": 1}"#, ErrorKind::Invalid, "must hold a base64 string");
    refused(r#"{"$bytes": null}"#, ErrorKind::Invalid, "must hold a base64 string");
    refused(r#"{"$bytes": ["AA=="]}"#, ErrorKind::Invalid, "must hold a base64 string");
}

#[test]
fn non_finite_floats() {
    both_ways(&Value::Float(f64::INFINITY), r#"{"$float":"Infinity"}"#);
    both_ways(&Value::Float(f64::NEG_INFINITY), r#"{"$float":"-Infinity"}"#);
    both_ways(&Value::Float(f64::NAN), r#"{"$float":"NaN"}"#);
    // Any NaN writes as "NaN" and reads back as the canonical one.
    assert_eq!(from_cbor(&hex("fb7ff8000000000001")).unwrap(), r#"{"$float":"NaN"}"#);
    assert_eq!(from_cbor(&hex("f97e00")).unwrap(), r#"{"$float":"NaN"}"#);
    assert_eq!(to_cbor(r#"{"$float":"NaN"}"#).unwrap(), hex("fb7ff8000000000000"));
    for bad in [r#"{"$float": "nan"}"#, r#"{"$float": "inf"}"#, r#"{"$float": 1.5}"#, r#"{"$float": "1.5"}"#] {
        refused(bad, ErrorKind::Invalid, "$float");
    }
}

#[test]
fn maps_with_other_keys_are_map_forms() {
    let m = Value::Map(vec![
        (int(1), text("one")),
        (Value::Float(0.25), Value::Null),
        (Value::Bool(true), int(2)),
        (Value::Null, int(3)),
        (Value::Bytes(vec![7]), int(4)),
        (Value::Array(vec![int(1), text("a")]), int(5)),
        (text("t"), int(6)),
    ]);
    both_ways(&m, r#"{"$map":[[1,"one"],[0.25,null],[true,2],[null,3],[{"$bytes":"Bw=="},4],[[1,"a"],5],["t",6]]}"#);
    // A map of text keys may be written so too.
    reads_as(r#"{"$map": [["a", 1]]}"#, &Value::Map(vec![(text("a"), int(1))]));
    reads_as(r#"{"$map": []}"#, &Value::Map(vec![]));
    // A map whose keys spell an extended form is written as a $map form,
    // so that it reads back as the map it is.
    for keys in [vec!["$bytes"], vec!["$float"], vec!["$map"], vec!["$tag", "$value"], vec!["$value", "$tag"]] {
        let m = Value::Map(keys.iter().map(|k| (text(k), text("x"))).collect());
        let json = from_value(&m).unwrap();
        assert!(json.starts_with(r#"{"$map":"#), "{json}");
        reads_as(&json, &m);
    }
    // Other objects with $ keys are plain maps.
    for json in [
        r#"{"$bytes":"AA==","x":1}"#,
        r#"{"$tag":1}"#,
        r#"{"$value":1}"#,
        r#"{"$tag":1,"$value":2,"x":3}"#,
        r#"{"$map":[[1,2]],"x":3}"#,
        r#"{"$other":1}"#,
    ] {
        let v = to_value(json).unwrap();
        let Value::Map(m) = &v else { panic!("{json}: {v:?}") };
        assert!(m.iter().all(|(k, _)| matches!(k, Value::Text(_))), "{json}: {v:?}");
        // ... and round-trip as such (through the $map form where needed).
        reads_as(&from_value(&v).unwrap(), &v);
    }
    for bad in [
        r#"{"$map": 1}"#,
        r#"{"$map": {"a": 1}}"#,
        r#"{"$map": [1]}"#,
        r#"{"$map": [[1]]}"#,
        r#"{"$map": [[1, 2, 3]]}"#,
        r#"{"$map": [[1, 2], "x"]}"#,
    ] {
        refused(bad, ErrorKind::Invalid, "[key, value] pairs");
    }
}

#[test]
fn tags() {
    let tagged = |t: u64, v: Value| Value::Tag(t, Box::new(v));
    both_ways(&tagged(1, Value::Float(1.5)), r#"{"$tag":1,"$value":1.5}"#);
    both_ways(&tagged(1, int(1_700_000_000)), r#"{"$tag":1,"$value":1700000000}"#);
    both_ways(&tagged(0, text("2024-01-02T03:04:05Z")), r#"{"$tag":0,"$value":"2024-01-02T03:04:05Z"}"#);
    both_ways(&tagged(32, text("http://x/")), r#"{"$tag":32,"$value":"http://x/"}"#);
    both_ways(&tagged(u64::MAX, Value::Null), r#"{"$tag":18446744073709551615,"$value":null}"#);
    both_ways(&tagged(5, tagged(6, Value::Array(vec![]))), r#"{"$tag":5,"$value":{"$tag":6,"$value":[]}}"#);
    reads_as(r#"{"$value": 1.5, "$tag": 1}"#, &tagged(1, Value::Float(1.5)));
    let r = Value::Array(vec![text("dict"), text("d"), text("unix:/tmp/m")]);
    both_ways(&tagged(TAG_REF, r.clone()), r#"{"$tag":1836085862,"$value":["dict","d","unix:/tmp/m"]}"#);
    // TUPLE: an array; written with $tag it is a Python tuple.
    assert_eq!(from_value(&tagged(TAG_TUPLE, Value::Array(vec![int(1), text("a")]))).unwrap(), r#"[1,"a"]"#);
    reads_as(r#"{"$tag":1836086389,"$value":[1,"a"]}"#, &tagged(TAG_TUPLE, Value::Array(vec![int(1), text("a")])));
    for (bad, part) in [
        (r#"{"$tag": 2, "$value": {"$bytes": "AQ=="}}"#, "integer literals"),
        (r#"{"$tag": 3, "$value": {"$bytes": "AQ=="}}"#, "integer literals"),
        (r#"{"$tag": -1, "$value": 0}"#, "0 to 2^64-1"),
        (r#"{"$tag": 18446744073709551616, "$value": 0}"#, "0 to 2^64-1"),
        (r#"{"$tag": 1.0, "$value": 0}"#, "0 to 2^64-1"),
        (r#"{"$tag": "1", "$value": 0}"#, "0 to 2^64-1"),
        (r#"{"$tag": 1836086389, "$value": 1}"#, "TUPLE"),
        (r#"{"$tag": 1836085862, "$value": ["dict", "d"]}"#, "REF"),
        (r#"{"$tag": 1836085862, "$value": ["dict", "d", 1]}"#, "REF"),
    ] {
        refused(bad, ErrorKind::Invalid, part);
    }
    refused_out(&tagged(2, text("x")), ErrorKind::Invalid, "byte string");
    refused_out(&tagged(TAG_TUPLE, int(1)), ErrorKind::Invalid, "TUPLE");
    refused_out(&tagged(TAG_REF, Value::Array(vec![])), ErrorKind::Invalid, "REF");
}

#[test]
fn pickle_is_refused_both_ways() {
    refused(r#"{"$tag": 1836085355, "$value": {"$bytes": "gAQ="}}"#, ErrorKind::Type, "pickle");
    refused(r#"[{"$tag": 1836085355, "$value": 1}]"#, ErrorKind::Type, "pickle");
    let e = from_cbor(&hex("da6d70706b428004")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Type);
    assert!(e.message().contains("serializer=\"pickle\""), "{e}");
    let e = from_cbor(&hex("82 01 da6d70706b428004".replace(' ', "").as_str())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Type);
}

#[test]
fn bignums_both_ways() {
    let big = |t: u64, b: Vec<u8>| Value::Tag(t, Box::new(Value::Bytes(b)));
    // Just beyond 64 bits, each side.
    both_ways(&big(2, vec![1, 0, 0, 0, 0, 0, 0, 0, 0]), "18446744073709551616");
    both_ways(&big(3, vec![1, 0, 0, 0, 0, 0, 0, 0, 0]), "-18446744073709551617");
    assert_eq!(to_cbor("18446744073709551616").unwrap(), hex("c249010000000000000000"));
    assert_eq!(to_cbor("-18446744073709551617").unwrap(), hex("c349010000000000000000"));
    // 2^128 and -2^128 - 1; a 100-digit number; 10^4299 (4300 digits).
    both_ways(&big(2, [vec![1], vec![0; 16]].concat()), "340282366920938463463374607431768211456");
    both_ways(&big(3, [vec![1], vec![0; 16]].concat()), "-340282366920938463463374607431768211457");
    let hundred = format!("1{}", "0".repeat(99));
    let v = to_value(&hundred).unwrap();
    assert_eq!(from_value(&v).unwrap(), hundred);
    let max = format!("9{}", "9".repeat(MAX_INT_DIGITS - 1));
    let v = to_value(&max).unwrap();
    assert_eq!(from_value(&v).unwrap(), max);
    let neg = format!("-{max}");
    assert_eq!(from_value(&to_value(&neg).unwrap()).unwrap(), neg);
    // What Python writes for 10**30: the same bytes.
    assert_eq!(to_cbor(&format!("1{}", "0".repeat(30))).unwrap(), hex("c24d0c9f2c9cd04674edea40000000"));
    // Within 64 bits a bignum is the plain integer (TYPES.md rule 3),
    // leading zero bytes or not.
    assert_eq!(from_cbor(&hex("c2420001")).unwrap(), "1");
    assert_eq!(from_cbor(&hex("c340")).unwrap(), "-1");
    assert_eq!(from_value(&big(2, vec![0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])).unwrap(), "18446744073709551616");
    assert_eq!(from_value(&big(2, vec![])).unwrap(), "0");
    assert_eq!(from_value(&big(3, vec![])).unwrap(), "-1");
    // Beyond the limit: refused, before any quadratic conversion.
    refused(&format!("1{}", "0".repeat(MAX_INT_DIGITS)), ErrorKind::Invalid, "4301 digits");
    refused(&format!("-1{}", "0".repeat(MAX_INT_DIGITS)), ErrorKind::Invalid, "4301 digits");
    refused(&format!("[0.5, 1{}]", "0".repeat(1_000_000)), ErrorKind::Invalid, "1000001 digits");
    refused_out(&big(2, vec![0xff; 1786]), ErrorKind::Type, "4300 digits");
    refused_out(&big(3, vec![0xff; 1_000_000]), ErrorKind::Type, "4300 digits");
    // 10^4300 has 4301 digits and fits 1786 bytes: refused after converting.
    let ten4300 = digits_to_be(&format!("1{}", "0".repeat(MAX_INT_DIGITS)));
    assert_eq!(ten4300.len(), 1786);
    refused_out(&big(2, ten4300), ErrorKind::Type, "4300 digits");
    // The conversions agree with each other on assorted values.
    for d in ["1", "255", "256", "4294967295", "4294967296", "123456789012345678901234567890", "999999999999999999"] {
        assert_eq!(be_to_digits(&digits_to_be(d)).unwrap(), d);
    }
    assert_eq!(be_decrement(vec![1, 0, 0]), vec![0xff, 0xff]);
    assert_eq!(be_increment(&[0xff, 0xff]), vec![1, 0, 0]);
}

/// `[[...[x]...]]`: `n` arrays around `x`.
fn nest(n: usize, x: &str) -> String {
    format!("{}{x}{}", "[".repeat(n), "]".repeat(n))
}

#[test]
fn nesting_is_limited_as_on_the_cbor() {
    // 128 arrays: the innermost item is at depth 128, as the decoder allows.
    let ok = nest(MAX_DEPTH, "1");
    let cbor = to_cbor(&ok).unwrap();
    assert_eq!(cbor, [vec![0x81u8; MAX_DEPTH], vec![1]].concat());
    assert_eq!(from_cbor(&cbor).unwrap(), ok);
    refused(&nest(MAX_DEPTH + 1, "1"), ErrorKind::Invalid, "nesting deeper than 128");
    refused(&nest(100_000, ""), ErrorKind::Invalid, "nesting deeper than 128");
    // An empty array or map at depth 128 has nothing deeper.
    to_cbor(&nest(MAX_DEPTH, "[]")).unwrap();
    to_cbor(&nest(MAX_DEPTH, "{}")).unwrap();
    refused(&nest(MAX_DEPTH, r#"{"a":1}"#), ErrorKind::Invalid, "nesting");
    // Objects count as arrays do.
    let objs = |n: usize| format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
    to_cbor(&objs(MAX_DEPTH)).unwrap();
    refused(&objs(MAX_DEPTH + 1), ErrorKind::Invalid, "nesting");
    // An extended form is one item: $bytes, $float at depth 128 are fine,
    // a $tag's value is one level deeper.
    to_cbor(&nest(MAX_DEPTH, r#"{"$bytes":"AA=="}"#)).unwrap();
    to_cbor(&nest(MAX_DEPTH, r#"{"$float":"NaN"}"#)).unwrap();
    to_cbor(&nest(MAX_DEPTH - 1, r#"{"$tag":7,"$value":1}"#)).unwrap();
    refused(&nest(MAX_DEPTH, r#"{"$tag":7,"$value":1}"#), ErrorKind::Invalid, "nesting");
    // ... but the same keys in a plain map are a level deeper.
    refused(&nest(MAX_DEPTH, r#"{"$bytes":"AA==","x":1}"#), ErrorKind::Invalid, "nesting");
    refused(&nest(MAX_DEPTH, r#"{"$tag":7}"#), ErrorKind::Invalid, "nesting");
    // A $map form's pairs do not count: maps with an integer key nested
    // 128 deep are 3 JSON levels each, 385 in all (serde_json alone stops
    // at 127), and read back.
    let mut v = int(0);
    for _ in 0..MAX_DEPTH {
        v = Value::Map(vec![(int(1), v)]);
    }
    let json = from_value(&v).unwrap();
    assert_eq!(json.matches('[').count(), 2 * MAX_DEPTH);
    reads_as(&json, &v);
    let mut deeper = Value::Map(vec![(int(1), int(0))]);
    for _ in 0..MAX_DEPTH {
        deeper = Value::Map(vec![(int(1), deeper)]);
    }
    refused_out(&deeper, ErrorKind::Invalid, "nesting");
    let deeper_json = format!("{}0{}", r#"{"$map":[[1,"#.repeat(MAX_DEPTH + 1), "]]}".repeat(MAX_DEPTH + 1));
    refused(&deeper_json, ErrorKind::Invalid, "nesting");
    // A plain map with a "$map" key: its pairs count there.
    let plain = |n: usize| nest(n, r#"{"$map":[[1]],"x":0}"#);
    to_cbor(&plain(MAX_DEPTH - 3)).unwrap();
    refused(&plain(MAX_DEPTH - 2), ErrorKind::Invalid, "nesting");
    // The raw path (a bignum in the document) keeps the same limits.
    let big = "18446744073709551616";
    to_cbor(&nest(MAX_DEPTH, big)).unwrap();
    refused(&nest(MAX_DEPTH + 1, big), ErrorKind::Invalid, "nesting");
    refused(&format!("[{big}, {}]", nest(MAX_DEPTH, "1")), ErrorKind::Invalid, "nesting");
    let Value::Map(m) = &v else { unreachable!() };
    let v127 = m[0].1.clone();
    let json127 = from_value(&v127).unwrap();
    reads_as(&format!("[{big}, {json127}]"), &Value::Array(vec![to_value(big).unwrap(), v127]));
    refused(&format!("[{big}, {json}]"), ErrorKind::Invalid, "nesting");
    // CBOR deeper than 128 does not decode.
    let e = from_cbor(&[vec![0x81u8; MAX_DEPTH + 1], vec![1]].concat()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    // A value made in Rust, deeper than the decoder allows.
    let mut deep = Value::Null;
    for _ in 0..10_000 {
        deep = Value::Array(vec![deep]);
    }
    refused_out(&deep, ErrorKind::Invalid, "nesting");
    // Taken apart a level at a time: dropping it whole recurses 10,000
    // levels deep, which overflows a test thread's stack under ASan.
    while let Value::Array(mut inner) = deep {
        deep = inner.pop().unwrap_or(Value::Null);
    }
}

/// The worst nesting the bridge accepts, both ways and on both paths, in
/// a thread with a small stack (`JSON_TEST_STACK` bytes, default 2 MiB:
/// Rust's default for a spawned thread; C and Python threads get 8 MiB
/// from glibc). A debug build needs under 1 MiB for it.
#[test]
fn the_deepest_documents_fit_a_small_stack() {
    let stack = std::env::var("JSON_TEST_STACK").map_or(2 << 20, |s| s.parse().expect("JSON_TEST_STACK: bytes"));
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(|| {
            // Each map's key is a map: the last key's items are at 128,
            // and each level is 3 JSON levels of `$map` form.
            let deepest = |inner: Value| {
                let mut v = inner;
                for _ in 0..MAX_DEPTH - 1 {
                    v = Value::Map(vec![(Value::Map(vec![(int(1), int(2))]), v)]);
                }
                v
            };
            // The fast path, then the raw path (a bignum inside).
            for v in [deepest(int(0)), deepest(to_value("18446744073709551616").unwrap())] {
                let json = from_value(&v).unwrap();
                assert_eq!(encode_value(&to_value(&json).unwrap()), encode_value(&v));
            }
            assert!(to_value(&nest(1_000_000, "")).is_err());
            assert!(to_value(&nest(1_000_000, "18446744073709551616")).is_err());
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn invalid_json_is_refused_with_where() {
    for bad in [
        "",
        " ",
        "{",
        "[1,]",
        "[1 2]",
        "{\"a\" 1}",
        "{\"a\": 1,}",
        "{1: 2}",
        "nul",
        "'a'",
        "1 2",
        "[1] x",
        "01",
        "1.",
        "+1",
        ".5",
        "NaN",
        "Infinity",
        "\"\\x\"",
        "\"\u{1}\"",
        "\"\\ud800\"",
        "[\"a\"",
        "/* c */ 1",
    ] {
        let e = to_value(bad).expect_err(bad);
        assert_eq!(e.kind(), ErrorKind::Invalid, "{bad:?}");
        assert!(e.message().starts_with("invalid JSON: "), "{bad:?}: {e}");
        assert!(e.message().contains("line 1 column"), "{bad:?}: {e}");
    }
    // Whitespace around the value is fine.
    reads_as(
        " \n\t[ 1 , {\"a\" : null} ]\r\n",
        &Value::Array(vec![int(1), Value::Map(vec![(text("a"), Value::Null)])]),
    );
}

#[test]
fn invalid_cbor_is_refused() {
    for (bad, part) in [
        ("", "truncated"),
        ("0000", "trailing bytes"),
        ("1901", "truncated"),
        ("62ff fe", "UTF-8"),
        ("f820", "simple value"),
        ("ff", "break"),
        ("1c", "reserved"),
        ("5b4000000000000000", "exceeds the input"),
        ("9b4000000000000000", "exceeds the input"),
        ("bb4000000000000000", "exceeds the input"),
        ("da6d707475 01", "TUPLE"),
        ("da6d707266 80", "REF"),
    ] {
        let e = from_cbor(&hex(&bad.replace(' ', ""))).expect_err(bad);
        assert_eq!(e.kind(), ErrorKind::Invalid, "{bad}: {e}");
        assert!(e.message().contains(part), "{bad}: {e}");
    }
    // Other encoders' forms read, and write back canonical: a half float,
    // undefined, an indefinite array, a non-shortest head.
    assert_eq!(from_cbor(&hex("9ff93e00f71801ff")).unwrap(), "[1.5,null,1]");
    assert_eq!(to_cbor("[1.5,null,1]").unwrap(), hex("83fb3ff8000000000000f601"));
}

/// Every valid vector of tests/vectors reads as JSON and back to exactly
/// its canonical bytes (without the TUPLE tags, which the bridge drops);
/// every invalid one is refused.
#[test]
fn the_shared_vectors_round_trip() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/cbor.json");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut n = 0;
    for v in doc["valid"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let want = hex(v.get("hex_plain").unwrap_or(&v["hex"]).as_str().unwrap());
        let json = from_cbor(&hex(v["hex"].as_str().unwrap())).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(to_cbor(&json).unwrap(), want, "{name}: {json}");
        n += 1;
    }
    assert!(n >= 50, "{n} vectors");
    for v in doc["invalid"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let bytes = hex(v["hex"].as_str().unwrap());
        let e = from_cbor(&bytes).expect_err(name);
        // A well-formed pickle is refused as such; the rest do not decode.
        let want = if decode_value(&bytes).is_ok() { ErrorKind::Type } else { ErrorKind::Invalid };
        assert!(want == ErrorKind::Invalid || name.contains("pickle"), "{name}");
        assert_eq!(e.kind(), want, "{name}: {e}");
    }
    /// The value without its TUPLE tags (the bridge writes a tuple as a plain array).
    fn plain(v: Value) -> Value {
        match v {
            Value::Tag(TAG_TUPLE, x) => plain(*x),
            Value::Tag(t, x) => Value::Tag(t, Box::new(plain(*x))),
            Value::Array(a) => Value::Array(a.into_iter().map(plain).collect()),
            Value::Map(m) => Value::Map(m.into_iter().map(|(k, x)| (plain(k), plain(x))).collect()),
            other => other,
        }
    }
    for v in doc["decode_only"].as_array().unwrap() {
        let bytes = hex(v["hex"].as_str().unwrap());
        let json = from_cbor(&bytes).unwrap();
        assert_eq!(to_cbor(&json).unwrap(), encode_value(&plain(decode_value(&bytes).unwrap())), "{}", v["name"]);
    }
}

/// JSON -> CBOR -> JSON gives the same text, compact, for documents
/// written the way the bridge writes them.
#[test]
fn json_round_trips() {
    for json in [
        r#"{"name":"a","id":1,"score":0.5,"vals":[1,2]}"#,
        r#"[null,true,false,0,-1,1.0,-0.0,"",{"$bytes":"AQID"},{"$float":"-Infinity"}]"#,
        r#"{"$map":[[[1,2],{"$tag":1,"$value":1.5}]]}"#,
        r#"[18446744073709551616,-18446744073709551617,123456789012345678901234567890]"#,
        r#"{"a":{"b":{"c":[{"$tag":99,"$value":{"$map":[[null,null]]}}]}}}"#,
        "\"\\u0000\\u001f\\\"\\\\/\u{7f}\u{e9}\u{1F600}\"",
    ] {
        assert_eq!(from_cbor(&to_cbor(json).unwrap()).unwrap(), json);
    }
    // Other spellings of the same text read the same.
    reads_as(r#""\/\u00e9\ud83d\ude00""#, &text("/\u{e9}\u{1F600}"));
}

/// The fast and the raw path agree on everything both can read (`-0`
/// and integers beyond 64 bits only the raw path reads).
#[test]
fn the_two_paths_agree() {
    for json in [
        "0",
        "[1, -1, 1.5, -2.5e-3, 1E10, 9223372036854775807, -9223372036854775808, 18446744073709551615]",
        r#"{"a": [true, false, null, "x\n\u00e9"], "b": {"$bytes": "AAEC"}, "c": {"$map": [[1, 2]]}}"#,
        r#"{"$tag": 1, "$value": 0.1}"#,
        r#"{"$map": [[1, 2]], "x": [[1]]}"#,
        "[0.1, 0.2, 0.30000000000000004, 1e-300, 4.9406564584124654e-324, 1.7976931348623157e-308]",
    ] {
        let fast = match parse(json, false) {
            Ok(v) => v,
            Err(_) => panic!("{json}: the fast path failed"),
        };
        let raw = match parse(json, true) {
            Ok(v) => v,
            Err(_) => panic!("{json}: the raw path failed"),
        };
        assert_eq!(encode_value(&fast), encode_value(&raw), "{json}");
    }
}

/// A small deterministic generator (xorshift64*), for the bad-input test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Mangled JSON and random CBOR: an error or a value, never a panic; and
/// what reads as CBOR writes JSON that reads back to the same CBOR.
#[test]
fn bad_input_never_panics() {
    let seeds = [
        r#"{"name": "a", "id": 1, "score": 0.5, "vals": [1, 2], "b": {"$bytes": "AAE="}}"#,
        r#"{"$map": [[1, {"$tag": 7, "$value": [18446744073709551616, {"$float": "NaN"}]}]]}"#,
        r#"[-1.5e300, "\u00e9\ud83d\ude00", {"$tag": 1836085862, "$value": ["a", "b", "c"]}]"#,
    ];
    let alphabet = b"{}[]\":,$0123456789.eE+-abtufnlrsAQ=\\ ";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..20_000 {
        let mut s = seeds[i % seeds.len()].as_bytes().to_vec();
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() as usize) % (s.len() + 1);
            match rng.next() % 3 {
                0 if at < s.len() => {
                    s.remove(at);
                }
                1 if at < s.len() => s[at] = alphabet[(rng.next() as usize) % alphabet.len()],
                _ => s.insert(at, alphabet[(rng.next() as usize) % alphabet.len()]),
            }
        }
        let Ok(text) = std::str::from_utf8(&s) else { continue };
        if let Ok(v) = to_value(text) {
            let cbor = encode_value(&v);
            if let Ok(json) = from_cbor(&cbor) {
                assert_eq!(to_cbor(&json).unwrap(), cbor, "{text} -> {json}");
            }
        }
    }
    let cbor_seed = to_cbor(seeds[1]).unwrap();
    for _ in 0..20_000 {
        let mut b = cbor_seed.clone();
        for _ in 0..1 + rng.next() % 3 {
            let at = (rng.next() as usize) % b.len();
            b[at] = rng.next() as u8;
        }
        b.truncate(1 + (rng.next() as usize) % b.len());
        if let Ok(json) = from_cbor(&b) {
            let back = to_cbor(&json).unwrap();
            assert_eq!(from_cbor(&back).unwrap(), json);
        }
    }
    for _ in 0..20_000 {
        let len = (rng.next() % 24) as usize;
        let b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = from_cbor(&b);
    }
}

/// Issue 21 (docs/TYPES.md rules 5 to 8): a map with two equal keys is
/// refused both ways, as every decoder refuses it, with the key named for
/// a JSON object; tags 0 and 1 hold a text and a number; tag 55799 is
/// dropped and never written.
#[test]
fn equal_keys_and_tag_contents_are_refused() {
    refused(r#"{"b": 1, "a": 2, "b": 3}"#, ErrorKind::Invalid, "duplicate key \"b\"");
    refused(r#"{"x": {"a": 1, "a": 1}}"#, ErrorKind::Invalid, "duplicate key \"a\"");
    let many: Vec<String> = (0..40).map(|i| format!("\"k{}\": 1", i % 39)).collect();
    refused(&format!("{{{}}}", many.join(",")), ErrorKind::Invalid, "duplicate key \"k0\"");
    for pairs in
        ["[[1, 0], [1.0, 1]]", "[[0, 0], [-0.0, 1]]", "[[[1, 2], 0], [{\"$tag\": 1836086389, \"$value\": [1, 2]}, 1]]"]
    {
        refused(&format!(r#"{{"$map": {pairs}}}"#), ErrorKind::Invalid, "duplicate key");
    }
    // Keys that are different stay: true and 1, "1" and 1, bytes and text.
    reads_as(
        r#"{"$map": [[true, 0], [1, 1], ["1", 2], [{"$bytes": "MQ=="}, 3]]}"#,
        &Value::Map(vec![
            (Value::Bool(true), int(0)),
            (int(1), int(1)),
            (text("1"), int(2)),
            (Value::Bytes(b"1".to_vec()), int(3)),
        ]),
    );
    refused(r#"{"$tag": 0, "$value": 1}"#, ErrorKind::Invalid, "must hold a string");
    refused(r#"{"$tag": 1, "$value": "x"}"#, ErrorKind::Invalid, "must hold a number");
    refused(r#"{"$tag": 1, "$value": 18446744073709551616}"#, ErrorKind::Invalid, "must hold a number");
    both_ways(&Value::Tag(1, Box::new(Value::Float(f64::NAN))), r#"{"$tag":1,"$value":{"$float":"NaN"}}"#);
    reads_as(r#"{"$tag": 55799, "$value": [1]}"#, &Value::Array(vec![int(1)]));
    // CBOR in: the strict decoder's refusals, MP_E_INVAL's kind.
    for bad in ["a2 0100 fb3ff0000000000000 01", "a2 6161 01 6161 02", "c1 6161", "c0 01", "c2 01"] {
        let e = from_cbor(&hex(&bad.replace(' ', ""))).expect_err(bad);
        assert_eq!(e.kind(), ErrorKind::Invalid, "{bad}: {e}");
    }
    assert_eq!(from_cbor(&hex("d9d9f78201d9d9f702")).unwrap(), "[1,2]");
}
