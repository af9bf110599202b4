//! Rust values as CBOR, following docs/TYPES.md: the serde side of the
//! typed API ([`Queue::put`](crate::Queue::put),
//! [`Connection::send`](crate::Connection::send), the manager proxies).
//!
//! **Encoding** is this module's own serde `Serializer`, writing straight
//! into the message buffer, not `ciborium::into_writer`, because ciborium's
//! writer breaks two of the contract's rules: it writes floats in their
//! shortest exact width (`0.5` as a half float, `f9 3800`) where every
//! binding writes 64 bits (`0xfb`), and it writes an indefinite-length
//! array or map for a sequence whose length serde does not know. Here every
//! float (`f32` widened) is `0xfb`, every integer its shortest head
//! (`i128` / `u128` beyond 64 bits a bignum, tags 2/3), every length
//! definite (a sequence of unknown length gets its head when it ends), and
//! map entries keep the order serde gives them (a struct's field order). A
//! [`ciborium::Value`] is written as the manager's encoder writes it (tags
//! included, through ciborium's tag convention).
//!
//! The bytes are then checked as a decoder checks them: a value that holds
//! an item deeper than 128, a map with two equal keys (`1` and `1.0`) or
//! a tag 0-3 around the wrong content is refused (TYPES.md rule 7).
//!
//! **Decoding** first checks and decodes the message with the manager's
//! strict decoder ([`crate::manager::protocol::decode_value`]: trailing
//! bytes, nesting deeper than 128, reserved simple values, invalid UTF-8,
//! maps with two equal keys and tags 0-3 around the wrong content are
//! refused, tag 55799 is dropped, lengths are never trusted beyond the
//! message), then feeds
//! the value to `T`'s `Deserialize` through this module's deserializer,
//! which is lenient where the languages differ:
//! - an integer is accepted for a float (Node sends `1.0` as `1`);
//! - a tag in front of a value of the type asked for is looked through:
//!   mpipc's TUPLE tag (a Python tuple reads as a Rust tuple, `Vec` or
//!   array), a tag 1 timestamp (reads as its number), ...;
//! - a bignum (tags 2/3) reads as an `i128` / `u128` (or any integer it
//!   fits);
//! - a CBOR byte string reads as a `Vec<u8>` as well as a
//!   `serde_bytes::ByteBuf`;
//! - into [`ciborium::Value`] every tag is kept (`Tag(n, value)`, TUPLE
//!   and bignums included, as TYPES.md's Rust column says), so
//!   `get::<ciborium::Value>()` is the dynamic path. Other self-describing
//!   targets (`serde_json::Value`, `#[serde(untagged)]` enums) cannot hold
//!   a tag: a tagged item there is a decode error.
//!
//! Rust tuples serialize as plain CBOR arrays (serde's model has no tuple
//! type of its own), which is the cross-language meaning of a tuple in
//! TYPES.md: Python receives a `list`, Go a `[]any`, Node an `Array`.
//! A value for a Python `tuple` is `Tag(0x6d707475, Array)` in a
//! [`ciborium::Value`].

mod ser;

use crate::error::{Codec, Error, Result};
use ciborium::Value;
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::Serialize;

/// Encodes `value` as one CBOR item following docs/TYPES.md.
///
/// Integers beyond 64 bits (`i128`, `u128`) are written as bignums (tags
/// 2/3), as TYPES.md says.
///
/// Errors: [`Codec::Encode`] (kind [`ErrorKind::Type`](crate::ErrorKind::Type)) when the
/// value's `Serialize` fails (a `Path` that is not UTF-8, a poisoned
/// `Mutex`, ...), or when the value holds what every decoder refuses
/// (docs/TYPES.md rule 7: an item deeper than 128, a map with two equal
/// keys such as `1` and `1.0`, tags 0-3 around the wrong content); nothing
/// is written then.
///
/// # Examples
/// ```
/// # #[derive(serde::Serialize)] struct Job { id: u32, score: f32 }
/// let bytes = mpipc::codec::encode(&Job { id: 1, score: 0.5 })?;
/// // {"id": 1, "score": 0.5}: the float written as 64 bits (0xfb), as every binding does.
/// assert_eq!(bytes, b"\xa2\x62id\x01\x65score\xfb\x3f\xe0\x00\x00\x00\x00\x00\x00");
/// # Ok::<(), mpipc::Error>(())
/// ```
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `value` to `out` (see [`encode`]); on an error
/// `out` is left as it was.
///
/// # Examples
/// ```
/// let mut buf = Vec::new();
/// mpipc::codec::encode_into(&("job", 1), &mut buf)?; // a tuple is a plain array
/// assert_eq!(buf, b"\x82\x63job\x01");
/// # Ok::<(), mpipc::Error>(())
/// ```
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<()> {
    let len = out.len();
    value.serialize(&mut ser::Enc { out: &mut *out }).map_err(|e| {
        out.truncate(len);
        Error::with_codec(Codec::Encode, format!("cannot encode the value: {e}"))
    })?;
    // Nothing is written that a decoder refuses (TYPES.md rule 7): the
    // bytes go through the strict decoder's checks (an item deeper than
    // 128, a map with two equal keys, tags 0-3 or mpipc's tags around the
    // wrong content). One pass over the bytes, nothing allocated for the
    // usual value.
    crate::manager::cbor::scan(&out[len..], crate::manager::protocol::MAX_DEPTH).map(|_| ()).map_err(|e| {
        out.truncate(len);
        Error::with_codec(Codec::Encode, format!("cannot encode the value: {}", e.message()))
    })
}

/// Encodes `value` into a buffer reused by the calling thread and hands
/// the bytes to `then` (a typed put or send): no allocation per message
/// once the buffer has grown. A nested call (a `Serialize` impl that puts
/// on a queue itself) gets a buffer of its own.
pub(crate) fn with_encoded<T: Serialize + ?Sized, R>(value: &T, then: impl FnOnce(&[u8]) -> Result<R>) -> Result<R> {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    /// A buffer grown past this by one large message is given back.
    const KEEP: usize = 64 << 10;
    BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            encode_into(value, &mut buf)?;
            let r = then(&buf);
            if buf.capacity() > KEEP {
                *buf = Vec::new();
            }
            r
        }
        Err(_) => then(&encode(value)?),
    })
}

/// Decodes one CBOR item, the whole of `bytes`, as a `T` (see the module
/// documentation for what is accepted).
///
/// Errors: [`Codec::Decode`] (kind [`ErrorKind::Corrupt`](crate::ErrorKind::Corrupt), as
/// Python's `DecodeError`) for bytes that are not one valid item, or an
/// item that is not a `T`; the message says which.
///
/// # Examples
/// ```
/// use std::collections::BTreeMap;
/// let m: BTreeMap<String, f64> = mpipc::codec::decode(b"\xa1\x61x\x01")?; // {"x": 1}, an integer
/// assert_eq!(m["x"], 1.0);
/// let e = mpipc::codec::decode::<u8>(b"\x19\x01\x00").unwrap_err(); // 256
/// assert_eq!(e.codec(), Some(mpipc::Codec::Decode));
/// # Ok::<(), mpipc::Error>(())
/// ```
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let v = crate::manager::protocol::decode_value(bytes)
        .map_err(|e| Error::with_codec(Codec::Decode, e.message().to_owned()))?;
    from_value(&v)
}

/// Converts a decoded [`ciborium::Value`] into a `T`, with the leniencies of
/// [`decode`].
///
/// # Examples
/// ```
/// use ciborium::Value;
/// let v = Value::Array(vec![Value::Text("job".into()), Value::Integer(1.into())]);
/// let (what, n): (String, i64) = mpipc::codec::from_value(&v)?;
/// assert_eq!((what.as_str(), n), ("job", 1));
/// # Ok::<(), mpipc::Error>(())
/// ```
pub fn from_value<T: DeserializeOwned>(v: &Value) -> Result<T> {
    T::deserialize(De(v)).map_err(|e| Error::with_codec(Codec::Decode, format!("cannot decode the message: {}", e.0)))
}

/// Rejects a top-level byte slice, byte vector or byte array given to a
/// typed put/send: serde writes it as an array of small integers, which is
/// almost never what the caller meant (the bytes path is `put_bytes` /
/// `send_bytes`; a CBOR byte string is `serde_bytes::Bytes`).
///
/// Checked by the type's name, which `std::any::type_name` gives without
/// a `'static` bound; the name's form is not guaranteed, so a future
/// compiler could only make the check miss, never refuse another type
/// (a unit test pins the forms of today's compilers).
pub(crate) fn refuse_raw_bytes<T: ?Sized>(what: &str) -> Result<()> {
    let name = std::any::type_name::<T>();
    let bytes_like = name == "[u8]"
        || name == "alloc::vec::Vec<u8>"
        || (name.starts_with("[u8; ") && name.ends_with(']'))
        || name == "alloc::boxed::Box<[u8]>";
    if bytes_like {
        return Err(Error::with_codec(
            Codec::Encode,
            format!(
                "{what} of a {name} would send a CBOR array of integers: use {what}_bytes for raw bytes, or \
                 serde_bytes::Bytes for a CBOR byte string"
            ),
        ));
    }
    Ok(())
}

/// The deserializer's error: a message, turned into an [`Error`] by
/// [`from_value`].
#[derive(Debug)]
struct DeError(String);

impl std::fmt::Display for DeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<M: std::fmt::Display>(msg: M) -> DeError {
        DeError(msg.to_string())
    }
}

/// A deserializer over a decoded value (see the module documentation).
struct De<'a>(&'a Value);

/// `deserialize_<t>` methods: `deserialize_any` of the value under its tags.
macro_rules! untagged_then_any {
    ($($m:ident)*) => {
        $(fn $m<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, DeError> {
            De(untagged(self.0)).deserialize_any(visitor)
        })*
    };
}

/// `deserialize_<t>` methods of integer types: the number (a bignum's too)
/// as `deserialize_any` gives it, the type's visitor checking its range.
macro_rules! integer_then_any {
    ($($m:ident)*) => {
        $(fn $m<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, DeError> {
            match integer(self.0).map(|i| (i, ciborium::value::Integer::try_from(i))) {
                Some((_, Ok(n))) => De(&Value::Integer(n)).deserialize_any(visitor),
                Some((i, Err(_))) => visitor.visit_i128(i),
                None => De(untagged(self.0)).deserialize_any(visitor),
            }
        })*
    };
}

/// What a value is, for error messages.
fn unexpected(v: &Value) -> de::Unexpected<'_> {
    match v {
        Value::Integer(i) => match i64::try_from(*i) {
            Ok(n) => de::Unexpected::Signed(n),
            Err(_) => de::Unexpected::Other("a large integer"),
        },
        Value::Bytes(b) => de::Unexpected::Bytes(b),
        Value::Float(f) => de::Unexpected::Float(*f),
        Value::Text(t) => de::Unexpected::Str(t),
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Null => de::Unexpected::Unit,
        Value::Tag(..) => de::Unexpected::Other("a tagged value"),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Map(_) => de::Unexpected::Map,
        _ => de::Unexpected::Other("an unknown item"),
    }
}

/// The value under any tags, except a bignum's (tags 2/3), which is the
/// number itself.
fn untagged(mut v: &Value) -> &Value {
    while let Value::Tag(t, inner) = v {
        if *t == 2 || *t == 3 {
            break;
        }
        v = inner;
    }
    v
}

/// The integer a value holds: an integer, or a bignum that fits 128 bits.
fn integer(v: &Value) -> Option<i128> {
    match untagged(v) {
        Value::Integer(i) => Some(i128::from(*i)),
        Value::Tag(t @ (2 | 3), b) => {
            let Value::Bytes(b) = &**b else { return None };
            let digits: Vec<u8> = b.iter().copied().skip_while(|&d| d == 0).collect();
            if digits.len() > 16 {
                return None;
            }
            let n = digits.iter().fold(0u128, |acc, &d| (acc << 8) | u128::from(d));
            if *t == 2 {
                i128::try_from(n).ok()
            } else {
                i128::try_from(n).ok().map(|n| -1 - n)
            }
        }
        _ => None,
    }
}

impl<'de> de::Deserializer<'de> for De<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, DeError> {
        match self.0 {
            Value::Integer(i) => {
                let i = i128::from(*i);
                if let Ok(n) = u64::try_from(i) {
                    visitor.visit_u64(n)
                } else if let Ok(n) = i64::try_from(i) {
                    visitor.visit_i64(n)
                } else {
                    visitor.visit_i128(i)
                }
            }
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Text(t) => visitor.visit_str(t),
            Value::Bytes(b) => visitor.visit_bytes(b),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Null => visitor.visit_unit(),
            Value::Array(a) => visitor.visit_seq(Seq(a.iter())),
            Value::Map(m) => visitor.visit_map(Map { it: m.iter(), value: None }),
            // A tag as ciborium's own deserializers present one, so that a
            // `ciborium::Value` keeps it (TUPLE, REF, bignums, times, ...):
            // an enum variant "@@TAGGED@@" holding (tag, value). Every
            // method that asks for a type (a sequence, a map, a number, ...)
            // looks through tags instead.
            Value::Tag(t, inner) => visitor.visit_enum(Tagged { tag: *t, value: inner }),
            _ => Err(DeError("an unknown CBOR item".into())),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, DeError> {
        match untagged(self.0) {
            Value::Float(f) => visitor.visit_f64(*f),
            // Exact up to 2^53; beyond, the nearest float, as Python's float(n).
            v => match integer(v) {
                Some(i) => visitor.visit_f64(i as f64),
                None => Err(de::Error::invalid_type(unexpected(v), &visitor)),
            },
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, DeError> {
        match integer(self.0) {
            Some(i) => visitor.visit_i128(i),
            None => De(untagged(self.0)).deserialize_any(visitor),
        }
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, DeError> {
        match untagged(self.0) {
            // A u128 beyond i128: only a bignum can hold one.
            Value::Tag(2, b) if matches!(&**b, Value::Bytes(d) if d.iter().skip_while(|&&x| x == 0).count() == 16) => {
                let Value::Bytes(d) = &**b else { unreachable!() };
                let n = d.iter().fold(0u128, |acc, &x| (acc << 8) | u128::from(x));
                visitor.visit_u128(n)
            }
            _ => self.deserialize_i128(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, DeError> {
        match untagged(self.0) {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, DeError> {
        match untagged(self.0) {
            Value::Array(a) => visitor.visit_seq(Seq(a.iter())),
            // A byte string is a sequence of bytes too (Vec<u8>, [u8; N]).
            Value::Bytes(b) => visitor.visit_seq(de::value::SeqDeserializer::new(b.iter().copied())),
            v => Err(de::Error::invalid_type(unexpected(v), &visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> std::result::Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, DeError> {
        match untagged(self.0) {
            Value::Bytes(b) => visitor.visit_bytes(b),
            v => De(v).deserialize_any(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, DeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, DeError> {
        match untagged(self.0) {
            Value::Null => visitor.visit_unit(),
            v => Err(de::Error::invalid_type(unexpected(v), &visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        // serde's external tagging: a unit variant is its name, any other
        // a map of one entry {name: content}.
        match untagged(self.0) {
            Value::Text(t) => visitor.visit_enum(t.as_str().into_deserializer()),
            Value::Map(m) if m.len() == 1 => visitor.visit_enum(Variant { name: &m[0].0, content: &m[0].1 }),
            v => Err(de::Error::invalid_type(unexpected(v), &"an enum: a variant name, or a map of one entry")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        De(untagged(self.0)).deserialize_any(visitor)
    }

    untagged_then_any! { deserialize_bool deserialize_char deserialize_str deserialize_string deserialize_map deserialize_identifier }
    integer_then_any! { deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 }

    fn is_human_readable(&self) -> bool {
        false
    }
}

/// The elements of an array.
struct Seq<'a>(std::slice::Iter<'a, Value>);

impl<'de> de::SeqAccess<'de> for Seq<'_> {
    type Error = DeError;

    fn next_element_seed<S: de::DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> std::result::Result<Option<S::Value>, DeError> {
        self.0.next().map(|v| seed.deserialize(De(v))).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// The entries of a map.
struct Map<'a> {
    it: std::slice::Iter<'a, (Value, Value)>,
    value: Option<&'a Value>,
}

impl<'de> de::MapAccess<'de> for Map<'_> {
    type Error = DeError;

    fn next_key_seed<S: de::DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> std::result::Result<Option<S::Value>, DeError> {
        match self.it.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(De(k)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<S: de::DeserializeSeed<'de>>(&mut self, seed: S) -> std::result::Result<S::Value, DeError> {
        let v = self.value.take().ok_or_else(|| DeError("a map value asked for before its key".into()))?;
        seed.deserialize(De(v))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.it.len())
    }
}

/// An enum variant written as `{name: content}`.
struct Variant<'a> {
    name: &'a Value,
    content: &'a Value,
}

impl<'de> de::EnumAccess<'de> for Variant<'_> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<S: de::DeserializeSeed<'de>>(self, seed: S) -> std::result::Result<(S::Value, Self), DeError> {
        Ok((seed.deserialize(De(self.name))?, self))
    }
}

impl<'de> de::VariantAccess<'de> for Variant<'_> {
    type Error = DeError;

    fn unit_variant(self) -> std::result::Result<(), DeError> {
        match untagged(self.content) {
            Value::Null => Ok(()),
            v => Err(de::Error::invalid_type(unexpected(v), &"a unit variant")),
        }
    }

    fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(self, seed: S) -> std::result::Result<S::Value, DeError> {
        seed.deserialize(De(self.content))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> std::result::Result<V::Value, DeError> {
        de::Deserializer::deserialize_seq(De(self.content), visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        de::Deserializer::deserialize_any(De(self.content), visitor)
    }
}

/// A tag as ciborium presents one to a `Deserialize` (see
/// `deserialize_any`): variant "@@TAGGED@@", a tuple of (tag, value).
struct Tagged<'a> {
    tag: u64,
    value: &'a Value,
}

impl<'de> de::EnumAccess<'de> for Tagged<'_> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<S: de::DeserializeSeed<'de>>(self, seed: S) -> std::result::Result<(S::Value, Self), DeError> {
        let name: de::value::StrDeserializer<'_, DeError> = "@@TAGGED@@".into_deserializer();
        Ok((seed.deserialize(name)?, self))
    }
}

impl<'de> de::VariantAccess<'de> for Tagged<'_> {
    type Error = DeError;

    fn unit_variant(self) -> std::result::Result<(), DeError> {
        Err(DeError("a tagged value is not a unit variant".into()))
    }

    fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(self, seed: S) -> std::result::Result<S::Value, DeError> {
        seed.deserialize(De(self.value))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> std::result::Result<V::Value, DeError> {
        visitor.visit_seq(TagSeq { tag: Some(self.tag), value: Some(self.value) })
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, DeError> {
        self.tuple_variant(2, visitor)
    }
}

/// The (tag, value) pair of [`Tagged`].
struct TagSeq<'a> {
    tag: Option<u64>,
    value: Option<&'a Value>,
}

impl<'de> de::SeqAccess<'de> for TagSeq<'_> {
    type Error = DeError;

    fn next_element_seed<S: de::DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> std::result::Result<Option<S::Value>, DeError> {
        if let Some(t) = self.tag.take() {
            let d: de::value::U64Deserializer<DeError> = t.into_deserializer();
            return seed.deserialize(d).map(Some);
        }
        self.value.take().map(|v| seed.deserialize(De(v))).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use std::collections::BTreeMap;

    #[test]
    fn floats_are_64_bit_and_ints_shortest() {
        assert_eq!(encode(&0.5f64).unwrap(), b"\xfb\x3f\xe0\0\0\0\0\0\0");
        assert_eq!(encode(&0.5f32).unwrap(), b"\xfb\x3f\xe0\0\0\0\0\0\0");
        assert_eq!(encode(&1.0f64).unwrap(), b"\xfb\x3f\xf0\0\0\0\0\0\0");
        assert_eq!(encode(&23u64).unwrap(), b"\x17");
        assert_eq!(encode(&-1i8).unwrap(), b"\x20");
        assert_eq!(encode(&65536u32).unwrap(), b"\x1a\0\x01\0\0");
        assert_eq!(encode(&u64::MAX).unwrap(), b"\x1b\xff\xff\xff\xff\xff\xff\xff\xff");
        // Definite lengths, even for an iterator of unknown length.
        struct Unknown;
        impl Serialize for Unknown {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.collect_seq((0..3).filter(|_| true))
            }
        }
        assert_eq!(encode(&Unknown).unwrap(), b"\x83\x00\x01\x02");
        // A flattened struct (a map of unknown length) and skipped fields.
        #[derive(Serialize)]
        struct Inner {
            b: u8,
        }
        #[derive(Serialize)]
        struct Outer {
            a: u8,
            #[serde(skip_serializing_if = "Option::is_none")]
            none: Option<u8>,
            #[serde(flatten)]
            inner: Inner,
        }
        let v = Outer { a: 1, none: None, inner: Inner { b: 2 } };
        assert_eq!(encode(&v).unwrap(), b"\xa2\x61a\x01\x61b\x02");
        // 24 items of unknown length: the head grows to two bytes.
        struct Many;
        impl Serialize for Many {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.collect_seq((0..24u8).filter(|_| true))
            }
        }
        let m = encode(&Many).unwrap();
        assert_eq!(&m[..2], b"\x98\x18");
        assert_eq!(decode::<Vec<u8>>(&m).unwrap(), (0..24).collect::<Vec<u8>>());
        // ciborium's tags (a Value's, tag::Required) are real tags.
        let t = Value::Tag(1, Box::new(Value::Float(1.5)));
        assert_eq!(encode(&t).unwrap(), b"\xc1\xfb\x3f\xf8\0\0\0\0\0\0");
        let r = ciborium::tag::Required::<_, 0x6d707475>(vec![1]);
        assert_eq!(encode(&r).unwrap(), b"\xda\x6d\x70\x74\x75\x81\x01");
        // Enum variants: external tagging.
        #[derive(Serialize)]
        enum E {
            Unit,
            New(u8),
            Tup(u8, u8),
            Rec { x: u8 },
        }
        assert_eq!(encode(&E::Unit).unwrap(), b"\x64Unit");
        assert_eq!(encode(&E::New(1)).unwrap(), b"\xa1\x63New\x01");
        assert_eq!(encode(&E::Tup(1, 2)).unwrap(), b"\xa1\x63Tup\x82\x01\x02");
        assert_eq!(encode(&E::Rec { x: 1 }).unwrap(), b"\xa1\x63Rec\xa1\x61x\x01");
        // On an error the buffer is left as it was.
        let mut buf = b"keep".to_vec();
        let p = std::path::PathBuf::from(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"\xff"));
        assert!(encode_into(&(1, p), &mut buf).is_err());
        assert_eq!(buf, b"keep");
    }

    #[test]
    fn the_issue_map_matches_python() {
        // cbor2.dumps({"name": "a", "id": 1, "score": 0.5, "vals": [1, 2]}), 64-bit float.
        #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
        struct M {
            name: String,
            id: i64,
            score: f64,
            vals: Vec<i64>,
        }
        let m = M { name: "a".into(), id: 1, score: 0.5, vals: vec![1, 2] };
        let want = b"\xa4\x64name\x61a\x62id\x01\x65score\xfb\x3f\xe0\0\0\0\0\0\0\x64vals\x82\x01\x02";
        assert_eq!(encode(&m).unwrap(), want);
        assert_eq!(decode::<M>(want).unwrap(), m);
    }

    #[test]
    fn lenient_decoding() {
        // An integer for a float; a tuple tag dropped; a half float read.
        let m: BTreeMap<String, f64> = decode(b"\xa1\x61x\x01").unwrap();
        assert_eq!(m["x"], 1.0);
        let t: (i64, String) = decode(b"\xda\x6d\x70\x74\x75\x82\x01\x61a").unwrap();
        assert_eq!(t, (1, "a".into()));
        assert_eq!(decode::<f32>(b"\xf9\x3e\x00").unwrap(), 1.5);
        // Bignums: 2^64 as a u128 and as -2^64 - 1 an i128.
        assert_eq!(decode::<u128>(b"\xc2\x49\x01\0\0\0\0\0\0\0\0").unwrap(), 1u128 << 64);
        assert_eq!(decode::<i128>(b"\xc3\x49\x01\0\0\0\0\0\0\0\0").unwrap(), -(1i128 << 64) - 1);
        // A byte string into Vec<u8>.
        assert_eq!(decode::<Vec<u8>>(b"\x43abc").unwrap(), b"abc");
        // Tags survive into a ciborium::Value.
        let v: Value = decode(b"\xc1\x01").unwrap();
        assert_eq!(v, Value::Tag(1, Box::new(Value::Integer(1.into()))));
        // Enums, externally tagged.
        #[derive(serde::Deserialize, Serialize, Debug, PartialEq)]
        enum E {
            A,
            B(i32),
            C { x: i32 },
        }
        for e in [E::A, E::B(2), E::C { x: 3 }] {
            assert_eq!(decode::<E>(&encode(&e).unwrap()).unwrap(), e);
        }
    }

    #[test]
    fn errors_say_encode_or_decode() {
        let e = decode::<u8>(b"\x19\x01\x00").unwrap_err();
        assert_eq!((e.codec(), e.kind()), (Some(Codec::Decode), ErrorKind::Corrupt));
        let e = decode::<u8>(b"\x01\x02").unwrap_err(); // trailing bytes
        assert_eq!(e.codec(), Some(Codec::Decode));
        assert!(e.message().contains("trailing"), "{e}");
        let e = decode::<String>(b"\xf0").unwrap_err(); // simple(16)
        assert_eq!(e.codec(), Some(Codec::Decode));
        let p = std::path::PathBuf::from(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"\xff"));
        let e = encode(&p).unwrap_err();
        assert_eq!((e.codec(), e.kind()), (Some(Codec::Encode), ErrorKind::Type));
        // Beyond 64 bits: a bignum, read back.
        let big = encode(&(1u128 << 64)).unwrap();
        assert_eq!(big, b"\xc2\x49\x01\0\0\0\0\0\0\0\0");
        assert_eq!(decode::<u128>(&big).unwrap(), 1u128 << 64);
    }

    #[test]
    fn raw_bytes_are_refused_by_name() {
        assert!(refuse_raw_bytes::<[u8]>("put").is_err());
        assert!(refuse_raw_bytes::<Vec<u8>>("put").is_err());
        assert!(refuse_raw_bytes::<[u8; 5]>("put").is_err());
        assert!(refuse_raw_bytes::<Box<[u8]>>("put").is_err());
        let e = refuse_raw_bytes::<Vec<u8>>("send").unwrap_err();
        assert!(e.message().contains("send_bytes"), "{e}");
        assert!(refuse_raw_bytes::<Vec<u16>>("put").is_ok());
        assert!(refuse_raw_bytes::<str>("put").is_ok());
        assert!(refuse_raw_bytes::<(u8, u8)>("put").is_ok());
    }
}
