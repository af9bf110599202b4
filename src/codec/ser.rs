//! A serde `Serializer` that writes docs/TYPES.md's CBOR straight into a
//! byte vector: 64-bit floats, shortest integer heads, bignums beyond 64
//! bits, definite lengths only, entries in the order serde gives them.
//!
//! A sequence or map whose length serde does not know up front (an
//! iterator, `#[serde(flatten)]`), or whose declared length turns out
//! wrong, gets its head rewritten at its end (the items are moved once);
//! every other value is written in one pass, without building a tree.
//! ciborium's tag convention is understood, so a [`ciborium::Value`]
//! holding `Tag(n, v)` (or ciborium's `tag::Required` / `Captured`) is
//! written as a real CBOR tag.

use crate::manager::cbor::{head, read_head};
use serde::ser::{self, Serialize};

/// The serializer's error: a message.
#[derive(Debug)]
pub(crate) struct EncError(pub(crate) String);

impl std::fmt::Display for EncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EncError {}

impl ser::Error for EncError {
    fn custom<M: std::fmt::Display>(msg: M) -> EncError {
        EncError(msg.to_string())
    }
}

type R = Result<(), EncError>;

/// The name ciborium gives its tag enum, and the variants that mean
/// "a tag around the value" and "no tag".
const TAG_ENUM: &str = "@@TAG@@";
const TAGGED: &str = "@@TAGGED@@";
const UNTAGGED: &str = "@@UNTAGGED@@";

/// Writes into `out`.
pub(crate) struct Enc<'a> {
    pub(crate) out: &'a mut Vec<u8>,
}

impl Enc<'_> {
    fn text(&mut self, s: &str) {
        head(self.out, 3, s.len() as u64);
        self.out.extend_from_slice(s.as_bytes());
    }

    fn int(&mut self, v: i128) {
        if let Ok(n) = u64::try_from(v) {
            head(self.out, 0, n);
        } else if let Ok(n) = u64::try_from(-1 - v) {
            head(self.out, 1, n);
        } else {
            // A bignum: tag 2 (n) or 3 (-1 - n), the magnitude big-endian
            // without leading zeros.
            let (tag, mag) = if v >= 0 { (2, v as u128) } else { (3, (-1 - v) as u128) };
            self.bignum(tag, mag);
        }
    }

    fn bignum(&mut self, tag: u64, mag: u128) {
        let be = mag.to_be_bytes();
        let first = be.iter().position(|&b| b != 0).unwrap_or(15);
        head(self.out, 6, tag);
        head(self.out, 2, (16 - first) as u64);
        self.out.extend_from_slice(&be[first..]);
    }

    /// Starts a compound of `major` (4 array, 5 map) with `len` items if
    /// known.
    fn open(&mut self, major: u8, len: Option<usize>) -> Compound<'_> {
        let start = self.out.len();
        if let Some(n) = len {
            head(self.out, major, n as u64);
        }
        Compound { out: &mut *self.out, start, major, declared: len, count: 0, tag: TagState::None }
    }
}

/// What a compound is in ciborium's tag convention.
#[derive(Clone, Copy, PartialEq)]
enum TagState {
    /// An ordinary compound.
    None,
    /// `@@TAGGED@@`: the next field is the tag number.
    Number,
    /// The number is written: the next field is the tagged value.
    Value,
}

/// An array or map being written; its head is fixed at the end if its
/// length was unknown or wrong.
pub(crate) struct Compound<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
    major: u8,
    declared: Option<usize>,
    count: usize,
    tag: TagState,
}

impl Compound<'_> {
    fn item<T: Serialize + ?Sized>(&mut self, v: &T) -> R {
        match self.tag {
            TagState::None if self.major == 6 => Err(EncError("a CBOR tag has a number and one value".into())),
            TagState::None => {
                self.count += 1;
                v.serialize(&mut Enc { out: &mut *self.out })
            }
            TagState::Number => {
                // Written as an integer, then turned into the tag's head.
                let at = self.out.len();
                v.serialize(&mut Enc { out: &mut *self.out })?;
                match read_head(self.out, at) {
                    Some((0, Some(n), end)) if end == self.out.len() => {
                        self.out.truncate(at);
                        head(self.out, 6, n);
                        self.tag = TagState::Value;
                        Ok(())
                    }
                    _ => Err(EncError("a CBOR tag number must be an unsigned integer".into())),
                }
            }
            TagState::Value => {
                self.tag = TagState::None;
                self.count = usize::MAX; // done: nothing more may follow
                v.serialize(&mut Enc { out: &mut *self.out })
            }
        }
    }

    fn close(self) -> R {
        if self.major == 6 {
            return if self.count == usize::MAX {
                Ok(())
            } else {
                Err(EncError("a CBOR tag needs its number and its value".into()))
            };
        }
        let count = if self.major == 5 { self.count / 2 } else { self.count };
        if self.declared == Some(count) {
            return Ok(());
        }
        // Unknown or wrong length: (re)write the head in front of the items.
        let old = match self.declared {
            Some(n) => {
                let mut h = Vec::new();
                head(&mut h, self.major, n as u64);
                h.len()
            }
            None => 0,
        };
        let mut h = Vec::with_capacity(9);
        head(&mut h, self.major, count as u64);
        self.out.splice(self.start..self.start + old, h);
        Ok(())
    }
}

impl<'a> ser::Serializer for &'a mut Enc<'_> {
    type Ok = ();
    type Error = EncError;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> R {
        self.out.push(if v { 0xf5 } else { 0xf4 });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> R {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> R {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> R {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> R {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> R {
        self.int(v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> R {
        head(self.out, 0, v.into());
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> R {
        head(self.out, 0, v.into());
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> R {
        head(self.out, 0, v.into());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> R {
        head(self.out, 0, v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> R {
        match u64::try_from(v) {
            Ok(n) => head(self.out, 0, n),
            Err(_) => self.bignum(2, v),
        }
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> R {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> R {
        // Rule 2: always 64 bits, even when a shorter form is exact.
        self.out.push(0xfb);
        self.out.extend_from_slice(&v.to_bits().to_be_bytes());
        Ok(())
    }
    fn serialize_char(self, v: char) -> R {
        self.text(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> R {
        self.text(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> R {
        head(self.out, 2, v.len() as u64);
        self.out.extend_from_slice(v);
        Ok(())
    }
    fn serialize_none(self) -> R {
        self.out.push(0xf6);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> R {
        v.serialize(self)
    }
    fn serialize_unit(self) -> R {
        self.out.push(0xf6);
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> R {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _name: &'static str, _i: u32, variant: &'static str) -> R {
        self.text(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, v: &T) -> R {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _i: u32,
        variant: &'static str,
        v: &T,
    ) -> R {
        if name == TAG_ENUM && variant == UNTAGGED {
            return v.serialize(self);
        }
        // serde's external tagging: {variant: value}.
        self.out.push(0xa1);
        self.text(variant);
        v.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a>, EncError> {
        Ok(self.open(4, len))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, EncError> {
        Ok(self.open(4, Some(len)))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a>, EncError> {
        Ok(self.open(4, Some(len)))
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _i: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, EncError> {
        if name == TAG_ENUM && variant == TAGGED {
            let start = self.out.len();
            return Ok(Compound {
                out: &mut *self.out,
                start,
                major: 6,
                declared: None,
                count: 0,
                tag: TagState::Number,
            });
        }
        self.out.push(0xa1);
        self.text(variant);
        Ok(self.open(4, Some(len)))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a>, EncError> {
        Ok(self.open(5, len))
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a>, EncError> {
        Ok(self.open(5, Some(len)))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, EncError> {
        self.out.push(0xa1);
        self.text(variant);
        Ok(self.open(5, Some(len)))
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

/// The four sequence-like serde traits: every element is one item of the
/// array `open` started, and `end` closes it (one body, four impls).
macro_rules! impl_sequence {
    ($($trait:ident :: $method:ident),+) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = EncError;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> R {
                self.item(v)
            }
            fn end(self) -> R {
                self.close()
            }
        }
    )+};
}

impl_sequence!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = EncError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> R {
        self.item(k)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> R {
        self.item(v)
    }
    fn end(self) -> R {
        self.close()
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = EncError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> R {
        self.count += 1;
        Enc { out: &mut *self.out }.text(key);
        self.item(v)
    }
    fn end(self) -> R {
        self.close()
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = EncError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> R {
        self.count += 1;
        Enc { out: &mut *self.out }.text(key);
        self.item(v)
    }
    fn end(self) -> R {
        self.close()
    }
}
