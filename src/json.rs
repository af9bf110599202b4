//! The JSON bridge: JSON text to CBOR and back, following docs/TYPES.md,
//! for programs that already speak JSON (the C ABI's `mp_json_to_cbor`,
//! `mpq_put_json`, ... are built on it).
//!
//! JSON has no bytes, no tags, no non-finite floats and no keys other than
//! text; the bridge writes and reads these as *extended forms*, objects whose
//! keys are exactly the ones below (any other object is a plain map):
//!
//! | CBOR | JSON |
//! |---|---|
//! | byte string | `{"$bytes": "<base64, standard alphabet, padded>"}` |
//! | NaN, +inf, -inf | `{"$float": "NaN"}`, `{"$float": "Infinity"}`, `{"$float": "-Infinity"}` |
//! | tag (0, 1, REF, any other but 2, 3, TUPLE, PICKLE) | `{"$tag": <u64>, "$value": <item>}` |
//! | map with a key that is not text, or whose keys spell an extended form | `{"$map": [[key, value], ...]}` |
//! | integer, bignum (tags 2/3) | a JSON integer literal, of any size up to [`MAX_INT_DIGITS`](crate::json::MAX_INT_DIGITS) digits |
//! | float | a JSON number with a fraction or an exponent (`1.0`, `1e+20`: reads back as a float) |
//! | TUPLE (`0x6d707475`) | a plain array (the tag is dropped); written by `{"$tag": 1836086389, "$value": [...]}` |
//! | PICKLE (`0x6d70706b`) | refused both ways ([`ErrorKind::Type`]) |
//!
//! Parsing is serde_json's (with a visitor that builds a
//! [`ciborium::Value`] directly, so objects keep their key order, as
//! TYPES.md rule 5 asks; a repeated name is refused, as every decoder
//! refuses a map with two equal keys); encoding is the manager's
//! deterministic encoder ([`crate::manager::cbor::encode`]: 64-bit floats,
//! shortest integer heads, definite lengths), decoding its strict, bounded
//! decoder ([`crate::manager::protocol::decode_value`]). Writing JSON is
//! serde_json's serializer (escaping, the shortest float that reads back
//! the same).
//!
//! **Integers beyond 64 bits.** serde_json (without its
//! `arbitrary_precision` feature, which this library crate does not turn
//! on: features unify, and it would change how every other serde_json user
//! in a program reads numbers) reads an integer literal beyond 64 bits as
//! a rounded `f64` (and `-0` as `-0.0`). A document holding one is read
//! again on a raw-number path (serde_json's `RawValue`: each value's text,
//! numbers converted exactly from their literal), and so is one that
//! serde_json refuses (the raw path finds the same syntax errors, and
//! tells an integer beyond `f64`'s range from a float out of range); every
//! other document is read once.
//!
//! **Limits.** Nesting is limited to TYPES.md's 128 levels, counted on the
//! CBOR (an extended form's own object and arrays do not count), both
//! ways; integers to [`MAX_INT_DIGITS`](crate::json::MAX_INT_DIGITS) decimal digits both ways (decimal
//! conversion is quadratic: the same reason and the same limit as
//! Python's `int`). Everything the bridge allocates is bounded by a
//! multiple of its input's length.

use crate::error::{Error, ErrorKind, Result};
use crate::manager::cbor::{TAG_PICKLE, TAG_REF, TAG_SELF_DESCRIBED, TAG_TUPLE};
use crate::manager::protocol::{decode_value, encode_value, MAX_DEPTH};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ciborium::value::{Integer, Value};
use serde::de::{self, DeserializeSeed, Deserializer as _, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::value::RawValue;
use std::cell::RefCell;
use std::fmt;

/// The most decimal digits of an integer the bridge reads or writes: 4300,
/// Python's default `sys.get_int_max_str_digits()`, for the same reason
/// (converting decimal text to binary and back takes time quadratic in the
/// length). Longer literals are refused with [`ErrorKind::Invalid`], longer
/// CBOR bignums with [`ErrorKind::Type`].
pub const MAX_INT_DIGITS: usize = 4300;

/// Converts JSON text to one CBOR item, following docs/TYPES.md and the
/// extended forms of this module's documentation.
///
/// # Errors
/// [`ErrorKind::Invalid`]: not JSON (the message says where), trailing
/// text, an extended form with the wrong content (`{"$bytes": 1}`),
/// nesting deeper than 128, a number out of range (`1e400`, an integer of
/// more than [`MAX_INT_DIGITS`] digits), a tag 2/3 or a malformed TUPLE /
/// REF in `$tag` form. [`ErrorKind::Type`]: a PICKLE tag.
///
/// # Examples
/// ```
/// let cbor = mpipc::json::to_cbor(r#"{"id": 1, "b": {"$bytes": "AAE="}}"#)?;
/// assert_eq!(cbor, b"\xa2\x62id\x01\x61b\x42\x00\x01");
/// # Ok::<(), mpipc::Error>(())
/// ```
pub fn to_cbor(json: &str) -> Result<Vec<u8>> {
    Ok(encode_value(&to_value(json)?))
}

/// Converts JSON text to a [`ciborium::Value`] (what [`to_cbor`] encodes).
///
/// # Errors
/// As [`to_cbor`].
///
/// # Examples
/// ```
/// use ciborium::Value;
/// let v = mpipc::json::to_value("[1.0, 18446744073709551616]")?;
/// // 2^64 is a bignum: tag 2 around its bytes.
/// let big = Value::Tag(2, Box::new(Value::Bytes(vec![1, 0, 0, 0, 0, 0, 0, 0, 0])));
/// assert_eq!(v, Value::Array(vec![Value::Float(1.0), big]));
/// # Ok::<(), mpipc::Error>(())
/// ```
pub fn to_value(json: &str) -> Result<Value> {
    match parse(json, false) {
        Err(Parse::NeedsRaw) => match parse(json, true) {
            Ok(v) => Ok(v),
            Err(Parse::Failed(e)) => Err(e),
            Err(Parse::NeedsRaw) => unreachable!("the raw path decides"),
        },
        Ok(v) => Ok(v),
        Err(Parse::Failed(e)) => Err(e),
    }
}

/// Converts one CBOR item to JSON text (compact, UTF-8), following
/// docs/TYPES.md and the extended forms of this module's documentation.
///
/// # Errors
/// [`ErrorKind::Invalid`]: not valid CBOR under TYPES.md (the decoder's
/// message: truncated, trailing bytes, nested deeper than 128, a simple
/// value, ...), or a bignum tag around something other than a byte string.
/// [`ErrorKind::Type`]: a PICKLE (only Python with its opt-in reads one),
/// an integer of more than [`MAX_INT_DIGITS`] digits.
///
/// # Examples
/// ```
/// let json = mpipc::json::from_cbor(b"\xa2\x62id\x01\x65score\xfb\x3f\xe0\x00\x00\x00\x00\x00\x00")?;
/// assert_eq!(json, r#"{"id":1,"score":0.5}"#);
/// // A float that is integral keeps a fraction, so it reads back a float.
/// assert_eq!(mpipc::json::from_cbor(b"\xfb\x3f\xf0\x00\x00\x00\x00\x00\x00")?, "1.0");
/// # Ok::<(), mpipc::Error>(())
/// ```
pub fn from_cbor(cbor: &[u8]) -> Result<String> {
    from_value(&decode_value(cbor)?)
}

/// Converts a [`ciborium::Value`] to JSON text (what [`from_cbor`] does
/// after decoding).
///
/// # Errors
/// As [`from_cbor`]; also [`ErrorKind::Invalid`] for what the decoder
/// would have refused: nesting deeper than 128, a TUPLE around something
/// other than an array, a REF around something other than three texts.
///
/// # Examples
/// ```
/// use ciborium::Value;
/// let v = Value::Map(vec![(Value::Integer(1.into()), Value::Float(f64::NAN))]);
/// assert_eq!(mpipc::json::from_value(&v)?, r#"{"$map":[[1,{"$float":"NaN"}]]}"#);
/// # Ok::<(), mpipc::Error>(())
/// ```
pub fn from_value(v: &Value) -> Result<String> {
    let fail = RefCell::new(None);
    match serde_json::to_string(&Out { v, depth: 0, fail: &fail }) {
        Ok(s) => Ok(s),
        Err(e) => Err(fail.into_inner().unwrap_or_else(|| Error::new(ErrorKind::Invalid, format!("JSON bridge: {e}")))),
    }
}

// ---------------------------------------------------------------------------
// Errors

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Invalid, msg.into())
}

fn too_deep() -> Error {
    invalid(format!("nesting deeper than {MAX_DEPTH} levels (docs/TYPES.md's limit)"))
}

fn pickle() -> Error {
    Error::new(
        ErrorKind::Type,
        "a Python pickle (the PICKLE tag 0x6d70706b): only Python with serializer=\"pickle\" reads one; \
         the JSON bridge neither reads nor writes it",
    )
}

const BAD_TUPLE: &str = "the TUPLE tag (0x6d707475) must hold an array";
const BAD_REF: &str = "the REF tag (0x6d707266) must hold [kind, name, address], three text strings";

// ---------------------------------------------------------------------------
// JSON -> CBOR

/// How a parse ended other than with a value.
enum Parse {
    /// The fast path met what only the raw path reads exactly (see
    /// `to_value`), or failed on the syntax: read again on the raw path.
    NeedsRaw,
    /// Refused, for good.
    Failed(Error),
}

/// What every seed of one parse shares.
struct State {
    /// The raw-number path: every value is first taken as serde_json's
    /// `RawValue` (its text), numbers converted from their literal.
    raw: bool,
    /// The error that stopped the parse, with its kind (serde's errors
    /// carry only a message).
    fail: RefCell<Option<Error>>,
}

impl State {
    /// Records `e` and returns a serde error that stops the parse.
    fn fail<E: de::Error>(&self, e: Error) -> E {
        let msg = e.message().to_owned();
        *self.fail.borrow_mut() = Some(e);
        E::custom(msg)
    }
}

fn parse(json: &str, raw: bool) -> std::result::Result<Value, Parse> {
    let st = State { raw, fail: RefCell::new(None) };
    let mut de = serde_json::Deserializer::from_str(json);
    // The seeds below bound the nesting themselves (to 128 CBOR levels,
    // at most 3 JSON levels each: see `Mode`), and serde_json's own limit
    // (127 JSON levels) would refuse what the `$map` form of a deep map
    // needs.
    de.disable_recursion_limit();
    let r = Item { st: &st, depth: 0, check: true, mode: Mode::Item }.deserialize(&mut de).and_then(|v| {
        de.end()?;
        Ok(v)
    });
    match (r, st.fail.into_inner()) {
        (Ok(v), _) => Ok(v),
        // Refused by the bridge (a form, the depth): the same on either path.
        (Err(_), Some(e)) => Err(Parse::Failed(e)),
        // serde_json's own error. On the fast path it may come from a
        // number only the raw path reads (an integer literal beyond f64's
        // range is "number out of range" there), so the raw path decides;
        // it sees every syntax error too, at the same place.
        (Err(_), None) if !raw => Err(Parse::NeedsRaw),
        (Err(e), None) => Err(Parse::Failed(invalid(format!("invalid JSON: {e}")))),
    }
}

/// What a JSON value stands for, in the place it is read.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// An item at `depth`.
    Item,
    /// The value of a `"$map"` key in an object at `depth`: if it is an
    /// array, its elements are read as `Pair`s (their items at `depth + 1`,
    /// where a `$map` form puts them); anything else is an item at
    /// `depth + 1` (the value of a plain map's key).
    PairList,
    /// An element of a `PairList`: an array's elements are items at
    /// `depth + 1`; anything else an item at `depth + 1` (not a pair: the
    /// object is refused, or is a plain map and checked again).
    Pair,
}

/// The seed and visitor of every JSON value: builds the CBOR item.
#[derive(Clone, Copy)]
struct Item<'s> {
    st: &'s State,
    /// The CBOR depth of the item (0 for the document).
    depth: usize,
    /// Whether to refuse the item itself when `depth` is beyond the limit:
    /// false for what may turn out to be part of an extended form.
    check: bool,
    mode: Mode,
}

impl<'s> Item<'s> {
    fn at(self, depth: usize, check: bool, mode: Mode) -> Item<'s> {
        Item { depth, check, mode, ..self }
    }

    /// The raw path's value: a number from its literal, anything else read
    /// again from its text (with the same seed, so its parts are raw too).
    fn read_raw(self, text: &str) -> serde_json::Result<Value> {
        match text.as_bytes().first() {
            Some(b'-' | b'0'..=b'9') => number(text).map_err(|e| self.st.fail(e)),
            _ => {
                let mut de = serde_json::Deserializer::from_str(text);
                de.disable_recursion_limit(); // bounded by the seeds, as in `parse`
                de.deserialize_any(self)
            }
        }
    }

    /// The object just read: an extended form, or a plain map.
    fn object(self, depth: usize, mut entries: Vec<(String, Value)>) -> Result<Value> {
        // Which extended form the keys spell, if any ("" past the second).
        let key = |i: usize| entries.get(i).map_or("", |(k, _)| k.as_str());
        let form = if entries.len() > 2 { "" } else { key(0) };
        let tag_first = entries.len() == 2 && key(0) == "$tag" && key(1) == "$value";
        let tag_form = tag_first || (entries.len() == 2 && key(0) == "$value" && key(1) == "$tag");
        match form {
            "$bytes" if entries.len() == 1 => match entries.pop().map(|(_, v)| v) {
                Some(Value::Text(s)) => BASE64.decode(s).map(Value::Bytes).map_err(|e| {
                    invalid(format!("{{\"$bytes\": ...}} must hold base64 (standard alphabet, padded): {e}"))
                }),
                _ => Err(invalid("{\"$bytes\": ...} must hold a base64 string")),
            },
            "$float" if entries.len() == 1 => match entries.pop().map(|(_, v)| v) {
                Some(Value::Text(s)) if s == "NaN" => Ok(Value::Float(f64::NAN)),
                Some(Value::Text(s)) if s == "Infinity" => Ok(Value::Float(f64::INFINITY)),
                Some(Value::Text(s)) if s == "-Infinity" => Ok(Value::Float(f64::NEG_INFINITY)),
                _ => Err(invalid("{\"$float\": ...} must hold \"NaN\", \"Infinity\" or \"-Infinity\"")),
            },
            "$map" if entries.len() == 1 => pairs(entries.pop().map(|(_, v)| v)),
            _ if tag_form => {
                let (second, first) = (entries.pop().map(|(_, v)| v), entries.pop().map(|(_, v)| v));
                let (t, v) = if tag_first { (first, second) } else { (second, first) };
                match (t.and_then(|t| t.as_integer()).and_then(|i| u64::try_from(i).ok()), v) {
                    (Some(t), Some(v)) => tag(t, v),
                    _ => Err(invalid("{\"$tag\": ...} must be an integer from 0 to 2^64-1")),
                }
            }
            _ => {
                // A plain map: its keys and values are at depth + 1. The
                // values of "$map" keys were read as pair lists, whose
                // items count two levels less than they do here.
                if !entries.is_empty() && depth + 1 > MAX_DEPTH {
                    return Err(too_deep());
                }
                for (k, v) in &entries {
                    if k == "$map" {
                        check_depth(v, depth + 1)?;
                    }
                }
                if let Some(k) = repeated(&entries) {
                    let k = serde_json::to_string(k).unwrap_or_default();
                    return Err(invalid(format!("duplicate key {k} in an object (TYPES.md rule 5)")));
                }
                Ok(Value::Map(entries.into_iter().map(|(k, v)| (Value::Text(k), v)).collect()))
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Item<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        if self.check && self.depth > MAX_DEPTH {
            return Err(self.st.fail(too_deep()));
        }
        if self.st.raw {
            let raw = <&'de RawValue as serde::Deserialize>::deserialize(d)?;
            self.read_raw(raw.get()).map_err(de::Error::custom)
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for Item<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> std::result::Result<Value, E> {
        Ok(Value::Integer(n.into()))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> std::result::Result<Value, E> {
        Ok(Value::Integer(n.into()))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> std::result::Result<Value, E> {
        // serde_json gives u64 / i64 for every integer literal that fits;
        // one that does not arrives here rounded, indistinguishable from a
        // float literal of the same value (integral, beyond the i64 / u64
        // range), and so does "-0" (as -0.0): such a document goes the raw
        // path, which reads the literal (an error not recorded in `fail`).
        let beyond_64_bits = f.fract() == 0.0 && (f >= 18446744073709551616.0 || f <= -9223372036854775808.0);
        if beyond_64_bits || (f == 0.0 && f.is_sign_negative()) {
            return Err(E::custom("read again on the raw path"));
        }
        Ok(Value::Float(f))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Value, E> {
        Ok(Value::Text(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> std::result::Result<Value, E> {
        Ok(Value::Text(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let elem = match self.mode {
            Mode::Item | Mode::Pair => self.at(self.depth + 1, true, Mode::Item),
            Mode::PairList => self.at(self.depth, false, Mode::Pair),
        };
        // No size hint from JSON: the vector grows with what was read.
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(elem)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let depth = match self.mode {
            Mode::Item => self.depth,
            Mode::PairList | Mode::Pair => self.depth + 1,
        };
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            let seed = match k.as_str() {
                // Maybe a `$map` form: its pairs' items are at depth + 1.
                "$map" => self.at(depth, false, Mode::PairList),
                // Maybe an extended form, which is one item at `depth`;
                // else a plain map, checked by `object`.
                "$bytes" | "$float" | "$tag" => self.at(depth + 1, false, Mode::Item),
                _ => self.at(depth + 1, true, Mode::Item),
            };
            let v = map.next_value_seed(seed)?;
            entries.push((k, v));
        }
        self.object(depth, entries).map_err(|e| self.st.fail(e))
    }
}

/// Refuses `v` (an item at `depth`) if anything in it is deeper than the
/// limit.
fn check_depth(v: &Value, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    match v {
        Value::Array(a) => a.iter().try_for_each(|x| check_depth(x, depth + 1)),
        Value::Map(m) => m.iter().try_for_each(|(k, x)| {
            check_depth(k, depth + 1)?;
            check_depth(x, depth + 1)
        }),
        Value::Tag(_, x) => check_depth(x, depth + 1),
        _ => Ok(()),
    }
}

/// The map of a `{"$map": [[key, value], ...]}` form.
fn pairs(v: Option<Value>) -> Result<Value> {
    const BAD: &str = "{\"$map\": ...} must hold an array of [key, value] pairs";
    let Some(Value::Array(list)) = v else { return Err(invalid(BAD)) };
    let mut out = Vec::with_capacity(list.len());
    for p in list {
        match p {
            Value::Array(kv) if kv.len() == 2 => {
                let mut kv = kv.into_iter();
                out.push((kv.next().expect("2 items"), kv.next().expect("2 items")));
            }
            _ => return Err(invalid(BAD)),
        }
    }
    // Two equal keys (1 and 1.0 are one key): what every decoder refuses.
    crate::manager::cbor::check_map_keys(&out).map_err(|_| {
        invalid("duplicate key in {\"$map\": ...}: two keys are equal (1 and 1.0 are one key, TYPES.md rule 5)")
    })?;
    Ok(Value::Map(out))
}

/// The first name that an object's `entries` repeat, if any.
fn repeated(entries: &[(String, Value)]) -> Option<&str> {
    if entries.len() <= 16 {
        return entries
            .iter()
            .enumerate()
            .find(|(i, (k, _))| entries[i + 1..].iter().any(|(j, _)| j == k))
            .map(|(_, (k, _))| k.as_str());
    }
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    entries.iter().map(|(k, _)| k.as_str()).find(|k| !seen.insert(*k))
}

/// The tag of a `{"$tag": t, "$value": v}` form, refused where TYPES.md
/// fixes another form or content.
fn tag(t: u64, v: Value) -> Result<Value> {
    match t {
        2 | 3 => Err(invalid("tags 2 and 3 (bignums) are written as JSON integer literals, not in $tag form")),
        0 if !matches!(v, Value::Text(_)) => Err(invalid("{\"$tag\": 0, ...} (a date-time) must hold a string")),
        1 if !matches!(v, Value::Integer(_) | Value::Float(_)) => {
            Err(invalid("{\"$tag\": 1, ...} (epoch seconds) must hold a number of at most 64 bits"))
        }
        // Self-described CBOR means nothing: dropped, never written.
        TAG_SELF_DESCRIBED => Ok(v),
        TAG_PICKLE => Err(pickle()),
        TAG_TUPLE if !matches!(v, Value::Array(_)) => Err(invalid(BAD_TUPLE)),
        TAG_REF if !is_ref_content(&v) => Err(invalid(BAD_REF)),
        _ => Ok(Value::Tag(t, Box::new(v))),
    }
}

fn is_ref_content(v: &Value) -> bool {
    matches!(v, Value::Array(a) if a.len() == 3 && a.iter().all(|x| matches!(x, Value::Text(_))))
}

/// A number from its JSON literal (already checked by serde_json): a float
/// if it has a fraction or an exponent, else an integer, exactly.
fn number(text: &str) -> Result<Value> {
    if text.contains(['.', 'e', 'E']) {
        // std's parse is correctly rounded (as serde_json's float_roundtrip).
        return match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(invalid(format!("invalid JSON: number out of range: {text}"))),
        };
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.len() > MAX_INT_DIGITS {
        return Err(invalid(format!(
            "invalid JSON: an integer of {} digits (at most {MAX_INT_DIGITS}, as Python's int)",
            digits.len()
        )));
    }
    if let Some(i) = text.parse::<i128>().ok().and_then(|i| Integer::try_from(i).ok()) {
        return Ok(Value::Integer(i));
    }
    // Beyond CBOR's integers (-2^64 .. 2^64-1): a bignum, tag 2 around the
    // magnitude, or tag 3 around -1 - value (RFC 8949 §3.4.3).
    let mag = digits_to_be(digits);
    Ok(if text.starts_with('-') {
        Value::Tag(3, Box::new(Value::Bytes(be_decrement(mag))))
    } else {
        Value::Tag(2, Box::new(Value::Bytes(mag)))
    })
}

/// Decimal digits to the big-endian bytes of their value, without leading
/// zeros. Quadratic in the length, which the callers bound.
fn digits_to_be(digits: &str) -> Vec<u8> {
    // Little-endian base-2^32 limbs, fed 9 decimal digits at a time.
    let mut limbs: Vec<u32> = Vec::with_capacity(digits.len() / 9 + 1);
    for chunk in digits.as_bytes().chunks(9) {
        let mul = 10u64.pow(chunk.len() as u32);
        let mut carry = chunk.iter().fold(0u64, |a, &c| a * 10 + u64::from(c - b'0'));
        for l in limbs.iter_mut() {
            let x = u64::from(*l) * mul + carry;
            *l = x as u32;
            carry = x >> 32;
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
    }
    let mut out: Vec<u8> = limbs.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
    let zeros = out.iter().take_while(|&&b| b == 0).count();
    out.drain(..zeros);
    out
}

/// `n - 1` for a big-endian `n > 0`, without leading zeros.
fn be_decrement(mut n: Vec<u8>) -> Vec<u8> {
    for b in n.iter_mut().rev() {
        let (v, borrow) = b.overflowing_sub(1);
        *b = v;
        if !borrow {
            break;
        }
    }
    let zeros = n.iter().take_while(|&&b| b == 0).count();
    n.drain(..zeros);
    n
}

/// `n + 1` for a big-endian `n`.
fn be_increment(n: &[u8]) -> Vec<u8> {
    let mut out = n.to_vec();
    for b in out.iter_mut().rev() {
        let (v, carry) = b.overflowing_add(1);
        *b = v;
        if !carry {
            return out;
        }
    }
    out.insert(0, 1);
    out
}

/// The decimal digits of a big-endian magnitude, or `None` beyond
/// [`MAX_INT_DIGITS`] digits.
fn be_to_digits(n: &[u8]) -> Option<String> {
    let n = &n[n.iter().take_while(|&&b| b == 0).count()..];
    // 1786 bytes hold numbers of up to 4301 digits; beyond, refuse before
    // the quadratic conversion.
    if n.len() > 1786 {
        return None;
    }
    // Big-endian base-2^32 limbs, divided by 10^9 until zero.
    let mut limbs: Vec<u32> = Vec::with_capacity(n.len() / 4 + 1);
    let head = n.len() % 4;
    if head > 0 {
        limbs.push(n[..head].iter().fold(0u32, |a, &b| (a << 8) | u32::from(b)));
    }
    limbs.extend(n[head..].chunks(4).map(|c| u32::from_be_bytes(c.try_into().expect("4 bytes"))));
    let mut chunks = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rem = 0u64;
        for l in limbs.iter_mut() {
            let x = (rem << 32) | u64::from(*l);
            *l = (x / 1_000_000_000) as u32;
            rem = x % 1_000_000_000;
        }
        chunks.push(rem as u32);
        let zeros = limbs.iter().take_while(|&&l| l == 0).count();
        limbs.drain(..zeros);
    }
    let mut s = match chunks.pop() {
        Some(top) => top.to_string(),
        None => return Some("0".to_owned()),
    };
    for c in chunks.iter().rev() {
        s.push_str(&format!("{c:09}"));
    }
    (s.len() <= MAX_INT_DIGITS).then_some(s)
}

// ---------------------------------------------------------------------------
// CBOR -> JSON

/// A value to write as JSON, at a CBOR depth; the first error with its
/// kind goes to `fail` (serde's errors carry only a message).
struct Out<'a> {
    v: &'a Value,
    depth: usize,
    fail: &'a RefCell<Option<Error>>,
}

impl Out<'_> {
    fn child<'b>(&'b self, v: &'b Value) -> Out<'b> {
        Out { v, depth: self.depth + 1, fail: self.fail }
    }

    fn err<E: ser::Error>(&self, e: Error) -> E {
        let msg = e.message().to_owned();
        *self.fail.borrow_mut() = Some(e);
        E::custom(msg)
    }
}

/// The keys of the extended forms: a map of text keys that spells one is
/// written in `$map` form, so that it reads back as a map.
fn spells_extended_form(m: &[(Value, Value)]) -> bool {
    let key = |i: usize| match &m[i].0 {
        Value::Text(t) => t.as_str(),
        _ => "",
    };
    match m.len() {
        1 => matches!(key(0), "$bytes" | "$float" | "$map"),
        2 => matches!((key(0), key(1)), ("$tag", "$value") | ("$value", "$tag")),
        _ => false,
    }
}

/// A one-entry JSON object `{key: value}`.
fn single<S: Serializer, V: Serialize + ?Sized>(s: S, key: &str, value: &V) -> std::result::Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(1))?;
    m.serialize_entry(key, value)?;
    m.end()
}

/// `[key, value]` of a `$map` form.
struct PairOut<'a>(Out<'a>, Out<'a>);

impl Serialize for PairOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(2))?;
        seq.serialize_element(&self.0)?;
        seq.serialize_element(&self.1)?;
        seq.end()
    }
}

/// The pairs of a `$map` form.
struct PairsOut<'a>(&'a Out<'a>, &'a [(Value, Value)]);

impl Serialize for PairsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.1.len()))?;
        for (k, v) in self.1 {
            seq.serialize_element(&PairOut(self.0.child(k), self.0.child(v)))?;
        }
        seq.end()
    }
}

impl Serialize for Out<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        // The decoder refuses deeper CBOR; this bounds the recursion for a
        // value made in Rust too.
        if self.depth > MAX_DEPTH {
            return Err(self.err(too_deep()));
        }
        match self.v {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Integer(i) => s.serialize_i128(i128::from(*i)),
            // serde_json writes the shortest text that reads back the same
            // f64, with a fraction or an exponent ("1.0", "1e+20").
            Value::Float(f) if f.is_finite() => s.serialize_f64(*f),
            Value::Float(f) => single(
                s,
                "$float",
                if f.is_nan() {
                    "NaN"
                } else if *f > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                },
            ),
            Value::Text(t) => s.serialize_str(t),
            Value::Bytes(b) => single(s, "$bytes", &BASE64.encode(b)),
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for x in a {
                    seq.serialize_element(&self.child(x))?;
                }
                seq.end()
            }
            Value::Map(m) if m.iter().all(|(k, _)| matches!(k, Value::Text(_))) && !spells_extended_form(m) => {
                let mut out = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    let Value::Text(k) = k else { unreachable!("checked: every key is text") };
                    out.serialize_entry(k, &self.child(v))?;
                }
                out.end()
            }
            Value::Map(m) => single(s, "$map", &PairsOut(self, m)),
            Value::Tag(t @ (2 | 3), x) => {
                let Value::Bytes(b) = &**x else {
                    return Err(self.err(invalid(format!("invalid CBOR: a bignum (tag {t}) must hold a byte string"))));
                };
                // Tag 3 holds -1 - value.
                let digits =
                    if *t == 2 { be_to_digits(b) } else { be_to_digits(&be_increment(b)).map(|d| format!("-{d}")) };
                let Some(digits) = digits.filter(|d| d.trim_start_matches('-').len() <= MAX_INT_DIGITS) else {
                    return Err(self.err(Error::new(
                        ErrorKind::Type,
                        format!("an integer of more than {MAX_INT_DIGITS} digits (the JSON bridge's limit, as Python's int)"),
                    )));
                };
                // A literal of any length, written as it is (serde_json's
                // RawValue; it reads its own integer syntax back).
                match RawValue::from_string(digits) {
                    Ok(raw) => raw.serialize(s),
                    Err(e) => Err(self.err(invalid(format!("JSON bridge: {e}")))),
                }
            }
            Value::Tag(TAG_PICKLE, _) => Err(self.err(pickle())),
            Value::Tag(TAG_TUPLE, x) => match &**x {
                // The tuple's documented meaning outside Python: an array.
                Value::Array(_) => self.child(x).serialize(s),
                _ => Err(self.err(invalid(format!("invalid CBOR: {BAD_TUPLE}")))),
            },
            Value::Tag(TAG_REF, x) if !is_ref_content(x) => Err(self.err(invalid(format!("invalid CBOR: {BAD_REF}")))),
            Value::Tag(t, x) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("$tag", t)?;
                m.serialize_entry("$value", &self.child(x))?;
                m.end()
            }
            // ciborium's Value has no other variant today; it is
            // non-exhaustive in spirit.
            #[allow(unreachable_patterns)]
            _ => Err(self.err(Error::new(ErrorKind::Type, "a CBOR value the JSON bridge does not know"))),
        }
    }
}

#[cfg(test)]
mod tests;
