//! A direct CBOR (RFC 8949) encoder and decoder for `ciborium::Value`.
//!
//! ciborium's serde path costs about 3 µs per manager round trip (request
//! and reply, both ways), more than the socket hop itself; this codec does
//! the same work several times faster by writing and reading the item
//! heads directly. It is also the strict, bounded decoder the manager
//! needs for untrusted input:
//! - every declared length is checked against the bytes that remain before
//!   anything is allocated (an array can hold at most one element per
//!   remaining byte);
//! - nesting is limited to [`super::protocol::MAX_DEPTH`];
//! - text must be UTF-8; reserved additional-information values,
//!   unexpected breaks and trailing bytes are errors.
//!
//! Encoding is deterministic: shortest heads, floats always as 64-bit.
//! Decoding accepts every
//! float width, indefinite-length strings, arrays and maps, "undefined" (as
//! null), and bignums that fit in 128 bits (as integers).

use crate::error::{Error, ErrorKind, Result};
use ciborium::Value;

fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[m | 24, n as u8]);
    } else if n <= 0xffff {
        out.push(m | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n <= 0xffff_ffff {
        out.push(m | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends the encoding of `v` to `out`.
pub fn encode_into(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Integer(i) => {
            let i = i128::from(*i);
            // ciborium's Integer spans exactly CBOR's range, -2^64 ..= 2^64-1,
            // so major types 0 and 1 always suffice.
            let (major, n) = if i >= 0 { (0u8, i as u64) } else { (1u8, (-1 - i) as u64) };
            head(out, major, n);
        }
        Value::Bytes(b) => {
            head(out, 2, b.len() as u64);
            out.extend_from_slice(b);
        }
        Value::Text(s) => {
            head(out, 3, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Array(a) => {
            head(out, 4, a.len() as u64);
            for x in a {
                encode_into(x, out);
            }
        }
        Value::Map(m) => {
            head(out, 5, m.len() as u64);
            for (k, x) in m {
                encode_into(k, out);
                encode_into(x, out);
            }
        }
        Value::Tag(t, x) => {
            head(out, 6, *t);
            encode_into(x, out);
        }
        Value::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
        Value::Null => out.push(0xf6),
        Value::Float(f) => {
            out.push(0xfb);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        // ciborium::Value is non-exhaustive in spirit; every variant above.
        #[allow(unreachable_patterns)]
        _ => out.push(0xf6),
    }
}

/// The encoding of `v`.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    encode_into(v, &mut out);
    out
}

fn invalid(msg: &str) -> Error {
    Error::new(ErrorKind::Invalid, format!("invalid CBOR: {msg}"))
}

struct Decoder<'a> {
    b: &'a [u8],
    pos: usize,
    max_depth: usize,
}

/// What an item head announced.
enum Arg {
    Num(u64),
    Indefinite,
}

impl Decoder<'_> {
    fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if n > self.remaining() {
            return Err(invalid("truncated"));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn arg(&mut self, info: u8) -> Result<Arg> {
        Ok(Arg::Num(match info {
            0..=23 => info as u64,
            24 => self.byte()? as u64,
            25 => u16::from_be_bytes(self.take(2)?.try_into().expect("2")) as u64,
            26 => u32::from_be_bytes(self.take(4)?.try_into().expect("4")) as u64,
            27 => u64::from_be_bytes(self.take(8)?.try_into().expect("8")),
            31 => return Ok(Arg::Indefinite),
            _ => return Err(invalid("reserved additional information")),
        }))
    }

    /// A definite length, checked against the bytes left (each unit takes
    /// at least `min_bytes`), so no allocation exceeds the input.
    fn len(&self, n: u64, min_bytes: usize) -> Result<usize> {
        match usize::try_from(n) {
            Ok(n) if n.checked_mul(min_bytes).is_some_and(|b| b <= self.remaining()) => Ok(n),
            _ => Err(invalid("declared length exceeds the input")),
        }
    }

    fn at_break(&mut self) -> Result<bool> {
        if self.remaining() == 0 {
            return Err(invalid("truncated"));
        }
        if self.b[self.pos] == 0xff {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// The bytes of a (possibly indefinite, chunked) byte or text string.
    fn string(&mut self, major: u8, arg: Arg) -> Result<Vec<u8>> {
        match arg {
            Arg::Num(n) => {
                let n = self.len(n, 1)?;
                Ok(self.take(n)?.to_vec())
            }
            Arg::Indefinite => {
                let mut out = Vec::new();
                while !self.at_break()? {
                    let ib = self.byte()?;
                    if ib >> 5 != major {
                        return Err(invalid("wrong chunk type in an indefinite string"));
                    }
                    match self.arg(ib & 0x1f)? {
                        Arg::Num(n) => {
                            let n = self.len(n, 1)?;
                            out.extend_from_slice(self.take(n)?);
                        }
                        Arg::Indefinite => return Err(invalid("nested indefinite string")),
                    }
                }
                Ok(out)
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        if depth > self.max_depth {
            return Err(invalid("nesting too deep"));
        }
        let ib = self.byte()?;
        let (major, info) = (ib >> 5, ib & 0x1f);
        if major == 7 {
            return Ok(match info {
                20 => Value::Bool(false),
                21 => Value::Bool(true),
                22 | 23 => Value::Null,
                25 => Value::Float(f16_to_f64(u16::from_be_bytes(self.take(2)?.try_into().expect("2")))),
                26 => Value::Float(f32::from_be_bytes(self.take(4)?.try_into().expect("4")) as f64),
                27 => Value::Float(f64::from_be_bytes(self.take(8)?.try_into().expect("8"))),
                31 => return Err(invalid("unexpected break")),
                _ => return Err(invalid("unsupported simple value")),
            });
        }
        let arg = self.arg(info)?;
        let num = |a: &Arg| match a {
            Arg::Num(n) => Ok(*n),
            Arg::Indefinite => Err(invalid("indefinite length not allowed here")),
        };
        Ok(match major {
            0 => Value::Integer(num(&arg)?.into()),
            1 => Value::Integer((-1 - num(&arg)? as i128).try_into().map_err(|_| invalid("integer out of range"))?),
            2 => Value::Bytes(self.string(2, arg)?),
            3 => Value::Text(String::from_utf8(self.string(3, arg)?).map_err(|_| invalid("text is not UTF-8"))?),
            4 => {
                let mut items = Vec::new();
                match arg {
                    Arg::Num(n) => {
                        let n = self.len(n, 1)?;
                        items.reserve_exact(n);
                        for _ in 0..n {
                            items.push(self.value(depth + 1)?);
                        }
                    }
                    Arg::Indefinite => {
                        while !self.at_break()? {
                            items.push(self.value(depth + 1)?);
                        }
                    }
                }
                Value::Array(items)
            }
            5 => {
                let mut pairs = Vec::new();
                match arg {
                    Arg::Num(n) => {
                        let n = self.len(n, 2)?;
                        pairs.reserve_exact(n);
                        for _ in 0..n {
                            pairs.push((self.value(depth + 1)?, self.value(depth + 1)?));
                        }
                    }
                    Arg::Indefinite => {
                        while !self.at_break()? {
                            pairs.push((self.value(depth + 1)?, self.value(depth + 1)?));
                        }
                    }
                }
                Value::Map(pairs)
            }
            6 => {
                let tag = num(&arg)?;
                let inner = self.value(depth + 1)?;
                match (tag, &inner) {
                    // Bignums that fit in 128 bits become plain integers.
                    (2 | 3, Value::Bytes(b)) if b.len() <= 16 => {
                        let mut buf = [0u8; 16];
                        buf[16 - b.len()..].copy_from_slice(b);
                        let n = u128::from_be_bytes(buf);
                        let i = if tag == 2 { i128::try_from(n).ok() } else { i128::try_from(n).ok().map(|n| -1 - n) };
                        match i.and_then(|i| ciborium::value::Integer::try_from(i).ok()) {
                            Some(i) => Value::Integer(i),
                            None => Value::Tag(tag, Box::new(inner)),
                        }
                    }
                    _ => Value::Tag(tag, Box::new(inner)),
                }
            }
            _ => unreachable!("major types are 0 to 7"),
        })
    }
}

fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f64;
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

/// Decodes exactly one item from `bytes` (trailing bytes are an error),
/// nesting at most `max_depth` deep.
pub fn decode(bytes: &[u8], max_depth: usize) -> Result<Value> {
    let mut d = Decoder { b: bytes, pos: 0, max_depth };
    let v = d.value(0)?;
    if d.remaining() != 0 {
        return Err(invalid("trailing bytes after the item"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_as_ciborium(v: &Value) {
        let mut theirs = Vec::new();
        ciborium::ser::into_writer(v, &mut theirs).unwrap();
        // Our decoder reads ciborium's output, and ciborium reads ours.
        assert_eq!(&decode(&theirs, 64).unwrap(), v, "{v:?}");
        let back: Value = ciborium::de::from_reader(&encode(v)[..]).unwrap();
        assert_eq!(&back, v);
    }

    #[test]
    fn round_trips_against_ciborium() {
        let most_negative = Value::Integer(ciborium::value::Integer::try_from(-(u64::MAX as i128) - 1).unwrap());
        for v in [
            Value::Null,
            Value::Bool(true),
            Value::Integer(0.into()),
            Value::Integer(23.into()),
            Value::Integer(24.into()),
            Value::Integer(65536.into()),
            Value::Integer((-1).into()),
            Value::Integer(i64::MIN.into()),
            Value::Integer(u64::MAX.into()),
            most_negative,
            Value::Float(1.5),
            Value::Float(-0.0),
            Value::Float(f64::INFINITY),
            Value::Text("héllo".into()),
            Value::Bytes(vec![0, 1, 255]),
            Value::Array(vec![Value::Null, Value::Array(vec![])]),
            Value::Map(vec![(Value::Integer(1.into()), Value::Text("one".into()))]),
            Value::Tag(1, Box::new(Value::Integer(1_700_000_000.into()))),
        ] {
            same_as_ciborium(&v);
        }
    }

    #[test]
    fn accepts_other_encoders_forms() {
        // f16 1.5, f32 0.5, undefined, indefinite text and array (RFC 8949 examples).
        assert_eq!(decode(&[0xf9, 0x3e, 0x00], 8).unwrap(), Value::Float(1.5));
        assert_eq!(decode(&[0xfa, 0x3f, 0x00, 0x00, 0x00], 8).unwrap(), Value::Float(0.5));
        assert_eq!(decode(&[0xf7], 8).unwrap(), Value::Null);
        assert_eq!(decode(&[0x7f, 0x62, b'a', b'b', 0x61, b'c', 0xff], 8).unwrap(), Value::Text("abc".into()));
        assert_eq!(
            decode(&[0x9f, 0x01, 0x02, 0xff], 8).unwrap(),
            Value::Array(vec![Value::Integer(1.into()), Value::Integer(2.into())])
        );
        assert_eq!(
            decode(&[0xbf, 0x01, 0x02, 0xff], 8).unwrap(),
            Value::Map(vec![(Value::Integer(1.into()), Value::Integer(2.into()))])
        );
    }

    #[test]
    fn refuses_malformed_input_without_allocating() {
        let bad: &[&[u8]] = &[
            &[],
            &[0x18],                                                 // truncated argument
            &[0x1c],                                                 // reserved info
            &[0x5b, 0x40, 0, 0, 0, 0, 0, 0, 0],                      // 2^62-byte string
            &[0x9b, 0x40, 0, 0, 0, 0, 0, 0, 0],                      // 2^62-element array
            &[0xbb, 0x40, 0, 0, 0, 0, 0, 0, 0],                      // 2^62-pair map
            &[0x62, 0xff, 0xfe],                                     // text not UTF-8
            &[0xff],                                                 // lone break
            &[0x01, 0x02],                                           // trailing byte
            &[0x7f, 0x41, 0x00, 0xff],                               // bytes chunk in a text string
            &[0xf8, 0x20],                                           // simple value
            &[0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // -2^64: fits i128, fine? (checked below)
        ];
        for b in &bad[..bad.len() - 1] {
            assert_eq!(decode(b, 8).unwrap_err().kind(), ErrorKind::Invalid, "{b:?}");
        }
        assert!(decode(bad[bad.len() - 1], 8).is_ok(), "-2^64 is a valid CBOR integer");
        let deep = vec![0x81u8; 100];
        assert!(decode(&deep, 10).is_err());
    }

    /// A deterministic property test: random values round-trip exactly, and
    /// random or mutated bytes never panic (the fuzzing of the decoder that
    /// runs in every test run; issue 11 adds a coverage-guided fuzzer).
    #[test]
    fn property_round_trip_and_garbage() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        fn gen(next: &mut dyn FnMut() -> u64, depth: u32) -> Value {
            match next() % if depth > 3 { 6 } else { 8 } {
                0 => Value::Integer(((next() as i64) >> (next() % 64)).into()),
                1 => Value::Float(f64::from_bits(next()) % 1e12),
                2 => Value::Text((0..next() % 8).map(|i| char::from(b'a' + (i as u8 % 26))).collect()),
                3 => Value::Bytes((0..next() % 40).map(|_| next() as u8).collect()),
                4 => Value::Bool(next() % 2 == 0),
                5 => Value::Null,
                6 => Value::Array((0..next() % 5).map(|_| gen(next, depth + 1)).collect()),
                _ => Value::Map((0..next() % 4).map(|_| (gen(next, depth + 1), gen(next, depth + 1))).collect()),
            }
        }
        for _ in 0..5000 {
            let v = gen(&mut next, 0);
            let bytes = encode(&v);
            let back = decode(&bytes, 64).unwrap();
            // NaN != NaN: compare encodings, which are deterministic.
            assert_eq!(encode(&back), bytes);
            let mut m = bytes.clone();
            if !m.is_empty() {
                let i = next() as usize % m.len();
                m[i] ^= next() as u8 | 1;
                let _ = decode(&m, 64);
                m.truncate(next() as usize % m.len());
                let _ = decode(&m, 64);
            }
            let junk: Vec<u8> = (0..next() % 32).map(|_| next() as u8).collect();
            let _ = decode(&junk, 64);
        }
    }
}
