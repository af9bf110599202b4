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
//!   unexpected breaks and trailing bytes are errors;
//! - tags 0 to 3 must hold what docs/TYPES.md fixes (tag 0 a text, tag 1
//!   an integer or a float, tags 2 and 3 a byte string), and mpipc's own
//!   tags theirs;
//! - a map must not hold two equal keys under mpipc's key equality
//!   ([`key_bytes`]: numbers by value, the TUPLE tag ignored);
//! - tag 55799 (self-described CBOR) is dropped wherever it appears, its
//!   content read in its place (docs/TYPES.md rule 8).
//!
//! Encoding is deterministic: shortest heads, floats always as 64-bit.
//! Decoding accepts every
//! float width, indefinite-length strings, arrays and maps, "undefined" (as
//! null), and bignums that fit in 128 bits (as integers).

use crate::error::{Error, ErrorKind, Result};
use ciborium::Value;

/// Appends an item head: major type `major` with argument `n`, in the
/// shortest form.
pub fn head(out: &mut Vec<u8>, major: u8, n: u64) {
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

/// The encoding of the integer `i` (shortest head), written into `buf`
/// without allocating.
pub fn encode_i64(i: i64, buf: &mut [u8; 9]) -> &[u8] {
    let (major, n) = if i >= 0 { (0u8, i as u64) } else { (1u8, !(i as u64)) };
    let m = major << 5;
    let len = if n < 24 {
        buf[0] = m | n as u8;
        return &buf[..1];
    } else if n <= 0xff {
        buf[0] = m | 24;
        1
    } else if n <= 0xffff {
        buf[0] = m | 25;
        2
    } else if n <= 0xffff_ffff {
        buf[0] = m | 26;
        4
    } else {
        buf[0] = m | 27;
        8
    };
    buf[1..1 + len].copy_from_slice(&n.to_be_bytes()[8 - len..]);
    &buf[..1 + len]
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
        // Tag 55799 means nothing (RFC 8949 §3.4.6): never written, as
        // every binding drops it (docs/TYPES.md rule 8).
        Value::Tag(TAG_SELF_DESCRIBED, x) => encode_into(x, out),
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

/// mpipc's tag of a Python tuple around its array (ASCII "mptu", in IANA's
/// first-come-first-served range; docs/TYPES.md "mpipc's own tags"). The
/// codec keeps it (`Tag(TAG_TUPLE, Array)`), so a tuple stored by Python
/// comes back a tuple; [`super::values::key_bytes`] ignores it, so a tuple
/// key and the same array are one key.
pub const TAG_TUPLE: u64 = 0x6d70_7475;
/// mpipc's tag of a Python pickle (ASCII "mppk") around a byte string:
/// written by Python only with its opt-in, kept as it is here.
pub const TAG_PICKLE: u64 = 0x6d70_706b;
/// mpipc's tag of a manager object reference (ASCII "mprf") around
/// `[kind, name, address]`, three text strings.
pub const TAG_REF: u64 = 0x6d70_7266;

/// Tag 55799, "self-described CBOR": no meaning (RFC 8949 §3.4.6); the
/// decoder drops it wherever it appears and the encoder never writes it.
pub const TAG_SELF_DESCRIBED: u64 = 55799;

/// Whether `v` is what [`TAG_REF`] must hold: an array of three texts.
fn is_ref_content(v: &Value) -> bool {
    matches!(v, Value::Array(a) if a.len() == 3 && a.iter().all(|x| matches!(x, Value::Text(_))))
}

fn invalid(msg: &str) -> Error {
    Error::new(ErrorKind::Invalid, format!("invalid CBOR: {msg}"))
}

/// The byte cursor the decoder and the scanner share: bounds-checked
/// reads that advance through the input.
trait Cursor<'a> {
    /// The whole input.
    fn input(&self) -> &'a [u8];
    /// The read position.
    fn pos(&self) -> usize;
    /// Moves the read position `n` bytes on.
    fn advance(&mut self, n: usize);

    /// Bytes left after the position.
    fn remaining(&self) -> usize {
        self.input().len() - self.pos()
    }

    /// The next `n` bytes; "truncated" if there are fewer.
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(invalid("truncated"));
        }
        let s = &self.input()[self.pos()..self.pos() + n];
        self.advance(n);
        Ok(s)
    }

    /// The next byte.
    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// A definite length, checked against the bytes left (each unit takes
    /// at least `min_bytes`), so no allocation exceeds the input.
    fn len(&self, n: u64, min_bytes: usize) -> Result<usize> {
        match usize::try_from(n) {
            Ok(n) if n.checked_mul(min_bytes).is_some_and(|b| b <= self.remaining()) => Ok(n),
            _ => Err(invalid("declared length exceeds the input")),
        }
    }

    /// Whether the next byte is an indefinite item's break (0xff),
    /// consumed if so; "truncated" at the end of the input.
    fn at_break(&mut self) -> Result<bool> {
        match self.input().get(self.pos()) {
            None => Err(invalid("truncated")),
            Some(0xff) => {
                self.advance(1);
                Ok(true)
            }
            Some(_) => Ok(false),
        }
    }
}

impl<'a> Cursor<'a> for Decoder<'a> {
    fn input(&self) -> &'a [u8] {
        self.b
    }
    fn pos(&self) -> usize {
        self.pos
    }
    fn advance(&mut self, n: usize) {
        self.pos += n;
    }
}

impl<'a> Cursor<'a> for Scanner<'a> {
    fn input(&self) -> &'a [u8] {
        self.b
    }
    fn pos(&self) -> usize {
        self.pos
    }
    fn advance(&mut self, n: usize) {
        self.pos += n;
    }
}

struct Decoder<'a> {
    b: &'a [u8],
    pos: usize,
    max_depth: usize,
}

const BAD_TUPLE: &str = "the TUPLE tag (0x6d707475) must hold an array";
const BAD_PICKLE: &str = "the PICKLE tag (0x6d70706b) must hold a byte string";
const BAD_REF: &str = "the REF tag (0x6d707266) must hold [kind, name, address], three text strings";
const BAD_TIME_TEXT: &str = "tag 0 (a date-time) must hold a text string";
const BAD_TIME_NUMBER: &str = "tag 1 (epoch seconds) must hold an integer or a float";
const BAD_BIGNUM: &str = "tags 2 and 3 (bignums) must hold a byte string";
const EQUAL_KEYS: &str = "a map holds two equal keys (docs/TYPES.md rule 5: 1 and 1.0 are one key)";

/// The head of the item at `b[pos]`, looking through any tag 55799 in
/// front of it: its major type and additional information; `None` where
/// the bytes end (the caller's own read then says "truncated") or a head
/// is malformed (idem).
fn content_head(b: &[u8], mut pos: usize) -> Option<(u8, u8)> {
    loop {
        let (major, info) = (*b.get(pos)? >> 5, *b.get(pos)? & 0x1f);
        if major == 6 {
            if let Some((_, Some(TAG_SELF_DESCRIBED), end)) = read_head(b, pos) {
                pos = end;
                continue;
            }
        }
        return Some((major, info));
    }
}

/// Refuses the content of tags 0 to 3 that docs/TYPES.md does not allow
/// (rule 6, "Times"), given the content's head ([`content_head`]); a
/// bignum is a tag, not an integer head, so tag 1 refuses it.
fn check_tag_content(tag: u64, content: Option<(u8, u8)>) -> Result<()> {
    let Some((major, info)) = content else { return Ok(()) };
    let (ok, why) = match tag {
        0 => (major == 3, BAD_TIME_TEXT),
        1 => (major <= 1 || (major == 7 && (25..=27).contains(&info)), BAD_TIME_NUMBER),
        2 | 3 => (major == 2, BAD_BIGNUM),
        _ => return Ok(()),
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(why))
    }
}

/// Appends the canonical key bytes of `v` to `out`: two values are equal
/// under mpipc's key equality (docs/TYPES.md "Map keys", PROTOCOL.md §4)
/// exactly when these bytes are. Numbers by value: an integral float is
/// written as the integer (a bignum beyond 64 bits) it equals, `-0.0` as
/// `0`, a bignum that fits 64 bits as that integer; other floats by their
/// bits (a NaN equals a NaN of the same bits); the TUPLE tag and tag 55799
/// are looked through at any depth; everything else as [`encode_into`]
/// writes it (booleans are not numbers, text is compared by code points,
/// bytes bytewise).
pub fn key_bytes_into(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Float(f) if f.is_finite() && f.fract() == 0.0 => integral_float_key(*f, out),
        Value::Tag(TAG_TUPLE | TAG_SELF_DESCRIBED, x) => key_bytes_into(x, out),
        Value::Tag(t @ (2 | 3), x) if matches!(**x, Value::Bytes(_)) => {
            let Value::Bytes(b) = &**x else { unreachable!("matched above") };
            bignum_key(*t == 3, b, out)
        }
        Value::Tag(t, x) => {
            head(out, 6, *t);
            key_bytes_into(x, out);
        }
        Value::Array(a) => {
            head(out, 4, a.len() as u64);
            a.iter().for_each(|x| key_bytes_into(x, out));
        }
        Value::Map(m) => {
            head(out, 5, m.len() as u64);
            for (k, x) in m {
                key_bytes_into(k, out);
                key_bytes_into(x, out);
            }
        }
        other => encode_into(other, out),
    }
}

/// The canonical key bytes of `v` ([`key_bytes_into`]).
pub fn key_bytes(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    key_bytes_into(v, &mut out);
    out
}

/// The key bytes of the integer a bignum stands for: `negative` (tag 3,
/// the value -1 - magnitude) and its big-endian magnitude, leading zeros
/// ignored; a plain integer head when it fits 64 bits.
fn bignum_key(negative: bool, magnitude: &[u8], out: &mut Vec<u8>) {
    let m = &magnitude[magnitude.iter().position(|&b| b != 0).unwrap_or(magnitude.len())..];
    if m.len() <= 8 {
        let n = m.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        head(out, if negative { 1 } else { 0 }, n);
    } else {
        head(out, 6, if negative { 3 } else { 2 });
        head(out, 2, m.len() as u64);
        out.extend_from_slice(m);
    }
}

/// The key bytes of a finite integral float: the integer it equals.
fn integral_float_key(f: f64, out: &mut Vec<u8>) {
    let a = f.abs();
    if a < 18_446_744_073_709_551_616.0 {
        // Below 2^64 the float converts exactly (it is integral).
        let n = a as u64;
        if f < 0.0 && n > 0 {
            head(out, 1, n - 1);
        } else {
            head(out, 0, n); // -0.0 is 0
        }
        return;
    }
    // |f| >= 2^64: mantissa * 2^exp with exp >= 11, as big-endian bytes.
    let bits = a.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as u32 - 1075;
    let mant = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
    let wide = (mant as u128) << (exp % 8);
    let mut mag: Vec<u8> = wide.to_be_bytes().to_vec();
    mag.extend(std::iter::repeat_n(0u8, (exp / 8) as usize));
    if f < 0.0 {
        // Tag 3 holds |f| - 1: borrow through the trailing zero bytes.
        for b in mag.iter_mut().rev() {
            let (v, borrow) = b.overflowing_sub(1);
            *b = v;
            if !borrow {
                break;
            }
        }
    }
    bignum_key(f < 0.0, &mag, out);
}

/// Refuses a map whose keys are not all different under mpipc's key
/// equality ([`key_bytes`]). Text keys (the common case) are compared as
/// they are; other keys through their key bytes. Small maps pairwise,
/// larger ones sorted: O(n log n), memory bounded by the keys' size.
fn check_keys<'v>(keys: impl ExactSizeIterator<Item = &'v Value> + Clone) -> Result<()> {
    let n = keys.len();
    if n < 2 {
        return Ok(());
    }
    if keys.clone().all(|k| matches!(k, Value::Text(_))) {
        let text = |k: &'v Value| match k {
            Value::Text(t) => t.as_str(),
            _ => unreachable!("all text"),
        };
        if n <= SMALL_MAP {
            let mut fps = [0u64; SMALL_MAP];
            let mut strs = [""; SMALL_MAP];
            for (i, k) in keys.enumerate() {
                strs[i] = text(k);
                fps[i] = fingerprint(strs[i].as_bytes());
            }
            return if small_distinct(&fps[..n], |i, j| strs[i] == strs[j]) {
                Ok(())
            } else {
                Err(invalid(EQUAL_KEYS))
            };
        }
        let mut ks: Vec<&str> = keys.map(text).collect();
        ks.sort_unstable();
        return if ks.windows(2).any(|w| w[0] == w[1]) { Err(invalid(EQUAL_KEYS)) } else { Ok(()) };
    }
    if n <= SMALL_MAP {
        // Keys equal only to keys of their own variant, as they are (no
        // integral float, no tag, no container): compared directly.
        let mut fps = [0u64; SMALL_MAP];
        let mut ks: [Option<&Value>; SMALL_MAP] = [None; SMALL_MAP];
        let mut simple = true;
        for (i, k) in keys.clone().enumerate() {
            ks[i] = Some(k);
            fps[i] = match k {
                Value::Integer(x) => (i128::from(*x) as u64) ^ 1,
                Value::Text(t) => fingerprint(t.as_bytes()) ^ 2,
                Value::Bytes(b) => fingerprint(b) ^ 3,
                Value::Float(f) if !(f.is_finite() && f.fract() == 0.0) => f.to_bits(),
                Value::Bool(b) => 4 + u64::from(*b),
                Value::Null => 6,
                _ => {
                    simple = false;
                    break;
                }
            };
        }
        if simple {
            let same = |i: usize, j: usize| match (ks[i], ks[j]) {
                (Some(Value::Float(a)), Some(Value::Float(b))) => a.to_bits() == b.to_bits(),
                (a, b) => a == b,
            };
            return if small_distinct(&fps[..n], same) { Ok(()) } else { Err(invalid(EQUAL_KEYS)) };
        }
    }
    let mut buf = Vec::with_capacity(n * 4);
    let mut spans = Vec::with_capacity(n);
    for k in keys {
        let start = buf.len();
        key_bytes_into(k, &mut buf);
        spans.push(start..buf.len());
    }
    distinct(&buf, spans)
}

/// Maps of at most this many keys are checked pairwise, on fingerprints,
/// with nothing allocated; larger ones sorted.
const SMALL_MAP: usize = 16;

/// A cheap digest of a key's bytes (its length, first and last 8 bytes):
/// equal bytes give equal fingerprints, so two keys need comparing only
/// when their fingerprints are equal.
fn fingerprint(b: &[u8]) -> u64 {
    let n = b.len();
    let word = |s: &[u8]| s.iter().rev().fold(0u64, |acc, &c| (acc << 8) | u64::from(c));
    let (head, tail) = if n >= 8 { (word(&b[..8]), word(&b[n - 8..])) } else { (word(b), 0) };
    head ^ tail.rotate_left(29) ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Whether no two of the keys whose fingerprints are `fps` are equal,
/// `same(i, j)` comparing keys i and j where their fingerprints agree.
fn small_distinct(fps: &[u64], same: impl Fn(usize, usize) -> bool) -> bool {
    for i in 1..fps.len() {
        for j in 0..i {
            if fps[i] == fps[j] && same(i, j) {
                return false;
            }
        }
    }
    true
}

/// Refuses a map whose keys are not all different under mpipc's key
/// equality ([`key_bytes`]), as the decoder does: for the encoders that
/// build a map themselves (the JSON bridge's `$map` form).
pub fn check_map_keys(pairs: &[(Value, Value)]) -> Result<()> {
    check_keys(pairs.iter().map(|(k, _)| k))
}

/// Whether the byte ranges `spans` of `buf` are all different (else the
/// equal-keys error).
fn distinct(buf: &[u8], mut spans: Vec<std::ops::Range<usize>>) -> Result<()> {
    spans.sort_unstable_by(|a, b| buf[a.clone()].cmp(&buf[b.clone()]));
    if spans.windows(2).any(|w| buf[w[0].clone()] == buf[w[1].clone()]) {
        Err(invalid(EQUAL_KEYS))
    } else {
        Ok(())
    }
}

/// What an item head announced.
enum Arg {
    Num(u64),
    Indefinite,
}

impl Decoder<'_> {
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
        let mut ib = self.byte()?;
        // Tag 55799 is dropped: its content is read in its place, at its
        // depth (a loop, so a long run of them costs no stack).
        while ib >> 5 == 6 {
            match read_head(self.b, self.pos - 1) {
                Some((_, Some(TAG_SELF_DESCRIBED), end)) => {
                    self.pos = end;
                    ib = self.byte()?;
                }
                _ => break,
            }
        }
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
            4 => self.array(arg, depth)?,
            5 => self.map(arg, depth)?,
            6 => self.tagged(num(&arg)?, depth)?,
            _ => unreachable!("major types are 0 to 7"),
        })
    }

    // The containers' and tags' reading, each in a function of its own
    // (never inlined) so that the recursive `value` frame holds only what
    // every item needs: a value 128 levels deep then fits a connection
    // thread's stack even in a debug build under AddressSanitizer, whose
    // frames are many times larger (sanitize-smoke overflowed 1 MiB when
    // these were inlined).
    #[inline(never)]
    fn array(&mut self, arg: Arg, depth: usize) -> Result<Value> {
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
        Ok(Value::Array(items))
    }

    #[inline(never)]
    fn map(&mut self, arg: Arg, depth: usize) -> Result<Value> {
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
        check_keys(pairs.iter().map(|(k, _)| k))?;
        Ok(Value::Map(pairs))
    }

    #[inline(never)]
    fn tagged(&mut self, tag: u64, depth: usize) -> Result<Value> {
        check_tag_content(tag, content_head(self.b, self.pos))?;
        let inner = self.value(depth + 1)?;
        Ok(match (tag, &inner) {
            // Bignums that fit in 128 bits become plain integers
            // (their content is a byte string: checked above).
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
            // mpipc's own tags: refused when their content is not
            // the one docs/TYPES.md fixes (as every binding refuses it).
            (TAG_TUPLE, v) if !matches!(v, Value::Array(_)) => return Err(invalid(BAD_TUPLE)),
            (TAG_PICKLE, v) if !matches!(v, Value::Bytes(_)) => return Err(invalid(BAD_PICKLE)),
            (TAG_REF, v) if !is_ref_content(v) => return Err(invalid(BAD_REF)),
            _ => Value::Tag(tag, Box::new(inner)),
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

/// What a well-formed item's bytes are, beyond well-formed: found by
/// [`scan`] and [`scan_item`] in the same pass, and what lets the manager
/// use a caller's bytes as they are instead of decoding and re-encoding
/// them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Form(u8);

impl Form {
    /// Some head is not in its shortest form, some length is indefinite,
    /// or some value is one the decoder changes (undefined, a half or
    /// single float, a bignum): re-encoding the decoded item may give
    /// other bytes.
    const NOT_CANONICAL: u8 = 1;
    /// A map or a tag somewhere: not a key (unhashable).
    const MAP_OR_TAG: u8 = 2;
    /// A float with an integral value, which a key turns into an integer
    /// (`1.0` and `1` are one key).
    const INTEGRAL_FLOAT: u8 = 4;

    /// Whether the bytes are exactly the encoding of the value they decode
    /// to ([`encode`] of [`decode`] gives them back).
    pub fn canonical(self) -> bool {
        self.0 & Form::NOT_CANONICAL == 0
    }

    /// Whether the bytes are exactly their own canonical key bytes
    /// (`values::key_bytes` of the decoded value gives them back, without
    /// an error): canonical, no map, no tag, no integral float.
    pub fn plain_key(self) -> bool {
        self.0 == 0
    }
}

/// Checks that chunks of an indefinite text string are UTF-8 once
/// concatenated, as [`decode`] checks them, without concatenating: a
/// character split across chunks is carried over (at most 3 bytes).
struct Utf8Chunks {
    carry: [u8; 4],
    len: usize,
}

impl Utf8Chunks {
    /// Takes the next chunk; false once the text cannot be UTF-8.
    fn push(&mut self, mut c: &[u8]) -> bool {
        if self.len > 0 {
            // carry[0] starts a valid but unfinished sequence (see below),
            // so its width is known.
            let width = match self.carry[0] {
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            let take = (width - self.len).min(c.len());
            self.carry[self.len..self.len + take].copy_from_slice(&c[..take]);
            self.len += take;
            c = &c[take..];
            if self.len < width {
                return true; // this chunk ended too: still unfinished
            }
            if std::str::from_utf8(&self.carry[..width]).is_err() {
                return false;
            }
            self.len = 0;
        }
        match std::str::from_utf8(c) {
            Ok(_) => true,
            // error_len() None: the chunk ends inside a character that is
            // valid so far (at most 3 bytes): the next chunk may finish it.
            Err(e) if e.error_len().is_none() => {
                let tail = &c[e.valid_up_to()..];
                self.carry[..tail.len()].copy_from_slice(tail);
                self.len = tail.len();
                true
            }
            Err(_) => false,
        }
    }
}

/// The well-formedness check of [`scan`]: [`Decoder`]'s rules, step for
/// step, with nothing allocated (lengths are checked against the bytes
/// left, as the decoder does, and then only skipped).
struct Scanner<'a> {
    b: &'a [u8],
    pos: usize,
    max_depth: usize,
    form: u8,
}

impl Scanner<'_> {
    /// As `Decoder::arg`, also noting a head longer than needed.
    fn arg(&mut self, info: u8) -> Result<Arg> {
        let (n, shortest) = match info {
            0..=23 => (info as u64, true),
            24 => {
                let n = self.byte()? as u64;
                (n, n >= 24)
            }
            25 => {
                let n = u16::from_be_bytes(self.take(2)?.try_into().expect("2")) as u64;
                (n, n > 0xff)
            }
            26 => {
                let n = u32::from_be_bytes(self.take(4)?.try_into().expect("4")) as u64;
                (n, n > 0xffff)
            }
            27 => {
                let n = u64::from_be_bytes(self.take(8)?.try_into().expect("8"));
                (n, n > 0xffff_ffff)
            }
            31 => {
                self.form |= Form::NOT_CANONICAL;
                return Ok(Arg::Indefinite);
            }
            _ => return Err(invalid("reserved additional information")),
        };
        if !shortest {
            self.form |= Form::NOT_CANONICAL;
        }
        Ok(Arg::Num(n))
    }

    fn string(&mut self, major: u8, arg: Arg) -> Result<()> {
        let not_utf8 = || invalid("text is not UTF-8");
        match arg {
            Arg::Num(n) => {
                let n = self.len(n, 1)?;
                let s = self.take(n)?;
                if major == 3 && std::str::from_utf8(s).is_err() {
                    return Err(not_utf8());
                }
            }
            Arg::Indefinite => {
                let mut text = Utf8Chunks { carry: [0; 4], len: 0 };
                while !self.at_break()? {
                    let ib = self.byte()?;
                    if ib >> 5 != major {
                        return Err(invalid("wrong chunk type in an indefinite string"));
                    }
                    match self.arg(ib & 0x1f)? {
                        Arg::Num(n) => {
                            let n = self.len(n, 1)?;
                            let chunk = self.take(n)?;
                            if major == 3 && !text.push(chunk) {
                                return Err(not_utf8());
                            }
                        }
                        Arg::Indefinite => return Err(invalid("nested indefinite string")),
                    }
                }
                if major == 3 && text.len != 0 {
                    return Err(not_utf8());
                }
            }
        }
        Ok(())
    }

    fn item(&mut self, depth: usize) -> Result<()> {
        if depth > self.max_depth {
            return Err(invalid("nesting too deep"));
        }
        let mut ib = self.byte()?;
        // Tag 55799, as the decoder drops it (so the bytes are not the
        // canonical encoding of what they decode to).
        while ib >> 5 == 6 {
            match read_head(self.b, self.pos - 1) {
                Some((_, Some(TAG_SELF_DESCRIBED), end)) => {
                    self.pos = end;
                    self.form |= Form::NOT_CANONICAL;
                    ib = self.byte()?;
                }
                _ => break,
            }
        }
        let (major, info) = (ib >> 5, ib & 0x1f);
        if major == 7 {
            match info {
                20..=22 => {}
                // undefined (read as null), half and single floats (read
                // as 64-bit): the decoder changes them.
                23 => self.form |= Form::NOT_CANONICAL,
                25 | 26 => {
                    self.take(if info == 25 { 2 } else { 4 })?;
                    self.form |= Form::NOT_CANONICAL;
                }
                27 => {
                    let f = f64::from_be_bytes(self.take(8)?.try_into().expect("8"));
                    // A key turns it into the integer it equals (values::
                    // canonical below 9e15, key_bytes at any size).
                    if f.is_finite() && f.fract() == 0.0 {
                        self.form |= Form::INTEGRAL_FLOAT;
                    }
                }
                31 => return Err(invalid("unexpected break")),
                _ => return Err(invalid("unsupported simple value")),
            }
            return Ok(());
        }
        let arg = self.arg(info)?;
        let num = |a: &Arg| match a {
            Arg::Num(n) => Ok(*n),
            Arg::Indefinite => Err(invalid("indefinite length not allowed here")),
        };
        match major {
            0 | 1 => {
                num(&arg)?;
            }
            2 | 3 => self.string(major, arg)?,
            4 => match arg {
                Arg::Num(n) => {
                    for _ in 0..self.len(n, 1)? {
                        self.item(depth + 1)?;
                    }
                }
                Arg::Indefinite => {
                    while !self.at_break()? {
                        self.item(depth + 1)?;
                    }
                }
            },
            5 => {
                self.form |= Form::MAP_OR_TAG;
                let n = match arg {
                    Arg::Num(n) => Some(self.len(n, 2)?),
                    Arg::Indefinite => None,
                };
                let mut keys = KeySpans::default();
                loop {
                    match n {
                        Some(n) if keys.len() == n => break,
                        None if self.at_break()? => break,
                        _ => {}
                    }
                    // The key's own form says whether its bytes are its
                    // key bytes already.
                    let (start, outer) = (self.pos, self.form);
                    self.form = 0;
                    self.item(depth + 1)?;
                    keys.push((start, self.pos, self.form == 0));
                    self.form |= outer;
                    self.item(depth + 1)?;
                }
                self.distinct_keys(&keys)?;
            }
            6 => {
                let tag = num(&arg)?;
                self.form |= Form::MAP_OR_TAG;
                // A bignum may decode to a plain integer: not canonical
                // (conservatively, whatever its size).
                if (tag == 2 || tag == 3) && self.b.get(self.pos).is_some_and(|b| b >> 5 == 2) {
                    self.form |= Form::NOT_CANONICAL;
                }
                // Tags 0-3 and mpipc's own tags: the decoder's content
                // checks, on the content's head (the item itself is
                // scanned as usual).
                let head = content_head(self.b, self.pos);
                check_tag_content(tag, head)?;
                let content = head.map(|(major, _)| major);
                match tag {
                    TAG_TUPLE if content.is_some_and(|m| m != 4) => return Err(invalid(BAD_TUPLE)),
                    TAG_PICKLE if content.is_some_and(|m| m != 2) => return Err(invalid(BAD_PICKLE)),
                    TAG_REF if content.is_some() => return self.ref_content(depth + 1),
                    _ => {}
                }
                self.item(depth + 1)?;
            }
            _ => unreachable!("major types are 0 to 7"),
        }
        Ok(())
    }
}

/// The keys of a map being scanned: each key's start and end in the input
/// and whether those bytes are its key bytes already ([`Form::plain_key`]).
/// The first [`SMALL_MAP`] kept inline: a small map allocates nothing.
#[derive(Default)]
struct KeySpans {
    inline: [(usize, usize, bool); SMALL_MAP],
    n: usize,
    more: Vec<(usize, usize, bool)>,
}

impl KeySpans {
    fn len(&self) -> usize {
        self.n
    }
    fn push(&mut self, k: (usize, usize, bool)) {
        if self.n < self.inline.len() {
            self.inline[self.n] = k;
        } else {
            self.more.push(k);
        }
        self.n += 1;
    }
    fn iter(&self) -> impl Iterator<Item = &(usize, usize, bool)> + Clone {
        self.inline[..self.n.min(self.inline.len())].iter().chain(self.more.iter())
    }
}

impl Scanner<'_> {
    /// The decoder's equal-keys check on a scanned map's keys: keys whose
    /// bytes are their key bytes compared as they are (pairwise when few,
    /// else sorted), any other key decoded for its key bytes.
    fn distinct_keys(&self, keys: &KeySpans) -> Result<()> {
        let n = keys.len();
        if n < 2 {
            return Ok(());
        }
        let b = self.b;
        if keys.iter().all(|k| k.2) {
            if n <= SMALL_MAP {
                let mut fps = [0u64; SMALL_MAP];
                let mut spans = [(0usize, 0usize); SMALL_MAP];
                for (i, &(start, end, _)) in keys.iter().enumerate() {
                    spans[i] = (start, end);
                    fps[i] = fingerprint(&b[start..end]);
                }
                let same = |i: usize, j: usize| b[spans[i].0..spans[i].1] == b[spans[j].0..spans[j].1];
                return if small_distinct(&fps[..n], same) { Ok(()) } else { Err(invalid(EQUAL_KEYS)) };
            }
            return distinct(b, keys.iter().map(|k| k.0..k.1).collect());
        }
        let mut buf = Vec::new();
        let mut spans = Vec::with_capacity(n);
        for &(start, end, plain) in keys.iter() {
            let at = buf.len();
            if plain {
                buf.extend_from_slice(&b[start..end]);
            } else {
                // Already scanned: well-formed and within the depth.
                key_bytes_into(&decode(&b[start..end], self.max_depth)?, &mut buf);
            }
            spans.push(at..buf.len());
        }
        distinct(&buf, spans)
    }

    /// Scans the content of a REF tag, at `depth`: as [`Scanner::item`]
    /// does, and it must be an array of exactly three text strings.
    fn ref_content(&mut self, depth: usize) -> Result<()> {
        if depth > self.max_depth {
            return Err(invalid("nesting too deep"));
        }
        let mut ib = self.byte()?;
        while ib >> 5 == 6 {
            match read_head(self.b, self.pos - 1) {
                Some((_, Some(TAG_SELF_DESCRIBED), end)) => {
                    self.pos = end;
                    self.form |= Form::NOT_CANONICAL;
                    ib = self.byte()?;
                }
                _ => break,
            }
        }
        if ib >> 5 != 4 {
            return Err(invalid(BAD_REF));
        }
        let n = match self.arg(ib & 0x1f)? {
            Arg::Num(n) => Some(n),
            Arg::Indefinite => None,
        };
        let mut count = 0u64;
        loop {
            match n {
                Some(n) if count == n => break,
                None if self.at_break()? => break,
                _ => {}
            }
            if count == 3 || content_head(self.b, self.pos).is_some_and(|(m, _)| m != 3) {
                return Err(invalid(BAD_REF));
            }
            self.item(depth + 1)?;
            count += 1;
        }
        if count != 3 {
            return Err(invalid(BAD_REF));
        }
        Ok(())
    }
}

/// Checks that `bytes` hold exactly one item that [`decode`] (with the
/// same `max_depth`) accepts, and tells its [`Form`], without allocating
/// anything: the same declared-length, depth, UTF-8 and simple-value
/// checks, the same errors ([`ErrorKind::Invalid`], "invalid CBOR: ...").
pub fn scan(bytes: &[u8], max_depth: usize) -> Result<Form> {
    let (end, form) = scan_item(bytes, 0, 0, max_depth)?;
    if end != bytes.len() {
        return Err(invalid("trailing bytes after the item"));
    }
    Ok(form)
}

/// Checks the item that starts at `bytes[pos]`, nested `depth` deep (the
/// depth of an item inside an enclosing one: what [`decode`] of the
/// enclosing item would count), like [`scan`]; returns where it ends and
/// its [`Form`]. Bytes after it are not looked at.
pub fn scan_item(bytes: &[u8], pos: usize, depth: usize, max_depth: usize) -> Result<(usize, Form)> {
    let mut s = Scanner { b: bytes, pos: pos.min(bytes.len()), max_depth, form: 0 };
    s.item(depth)?;
    Ok((s.pos, Form(s.form)))
}

/// Reads the head at `bytes[pos]` of an item already checked by [`scan`]
/// (or [`scan_item`]): its major type, its argument (`None` for an
/// indefinite length or a simple value / float) and where the head ends.
/// `None` when the bytes end first.
pub fn read_head(bytes: &[u8], pos: usize) -> Option<(u8, Option<u64>, usize)> {
    let ib = *bytes.get(pos)?;
    let (major, info) = (ib >> 5, ib & 0x1f);
    let n = match info {
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        _ => 0,
    };
    if major == 7 || info == 31 {
        return Some((major, None, pos + 1 + n));
    }
    if info > 27 {
        return None;
    }
    let v = if n == 0 {
        info as u64
    } else {
        bytes.get(pos + 1..pos + 1 + n)?.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    };
    Some((major, Some(v), pos + 1 + n))
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
                _ => {
                    // Keys all different (else the decoder refuses the map).
                    let mut seen = std::collections::HashSet::new();
                    let pairs = (0..next() % 4).map(|_| (gen(next, depth + 1), gen(next, depth + 1)));
                    Value::Map(pairs.filter(|(k, _)| seen.insert(key_bytes(k))).collect())
                }
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

    /// `scan` must accept exactly what `decode` accepts (the manager sends
    /// and stores what `scan` passed), with the same error kind, and its
    /// `Form` must never claim more than is true: canonical bytes are what
    /// `encode(decode(x))` gives, plain keys what `key_bytes` gives.
    fn scan_agrees(b: &[u8], max_depth: usize) {
        let decoded = decode(b, max_depth);
        let scanned = scan(b, max_depth);
        match (&decoded, &scanned) {
            (Ok(v), Ok(form)) => {
                if form.canonical() {
                    assert_eq!(encode(v), b, "claimed canonical: {b:02x?}");
                }
                if form.plain_key() {
                    assert_eq!(crate::manager::values::key_bytes(v).unwrap(), b, "claimed a plain key: {b:02x?}");
                }
            }
            (Err(d), Err(s)) => assert_eq!((d.kind(), s.kind()), (ErrorKind::Invalid, ErrorKind::Invalid)),
            _ => panic!("decode {decoded:?} but scan {scanned:?} for {b:02x?}"),
        }
    }

    #[test]
    fn scan_accepts_what_decode_accepts_and_no_more() {
        let cases: &[&[u8]] = &[
            &[],
            &[0x18],                                                          // truncated argument
            &[0x18, 0x05],                                                    // 5 in a 2-byte head: not canonical
            &[0x19, 0x00, 0x05],                                              // and a 3-byte one
            &[0x1c],                                                          // reserved info
            &[0x5b, 0x40, 0, 0, 0, 0, 0, 0, 0],                               // 2^62-byte string
            &[0x9b, 0x40, 0, 0, 0, 0, 0, 0, 0],                               // 2^62-element array
            &[0xbb, 0x40, 0, 0, 0, 0, 0, 0, 0],                               // 2^62-pair map
            &[0xba, 0xff, 0xff, 0xff, 0xff, 0x01],                            // 2^32-pair map, 1 byte
            &[0x62, 0xff, 0xfe],                                              // text not UTF-8
            &[0xff],                                                          // lone break
            &[0x01, 0x02],                                                    // trailing byte
            &[0x7f, 0x41, 0x00, 0xff],                                        // bytes chunk in a text string
            &[0x7f, 0x7f, 0xff, 0xff],                                        // nested indefinite string
            &[0x7f, 0x61, 0xc3, 0x61, 0xa9, 0xff],                            // é split across chunks: valid
            &[0x7f, 0x61, 0xc3, 0x60, 0x61, 0xa9, 0xff],                      // ... with an empty chunk between
            &[0x7f, 0x61, 0xc3, 0xff],                                        // ... never finished
            &[0x7f, 0x61, 0xc3, 0x61, 0x41, 0xff],                            // ... finished wrongly
            &[0x7f, 0x62, 0xe2, 0x82, 0x61, 0xac, 0xff],                      // € in 2 + 1
            &[0x7f, 0x62, 0x61, 0xe2, 0x62, 0x82, 0xac, 0xff],                // "a€" in 2 + 2
            &[0xf8, 0x20],                                                    // simple value
            &[0xf7],                                                          // undefined: null
            &[0xf9, 0x3e, 0x00],                                              // f16
            &[0xfa, 0x3f, 0x00, 0x00, 0x00],                                  // f32
            &[0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0],                            // 1.0: an integer key
            &[0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0],                            // 1.5
            &[0xfb, 0x80, 0, 0, 0, 0, 0, 0, 0],                               // -0.0: key 0
            &[0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1],                            // a NaN
            &[0xc2, 0x41, 0x05],                                              // bignum 5: integer 5
            &[0xc3, 0x41, 0x05],                                              // bignum -6
            &[0xc2, 0x51, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], // 17-byte bignum: stays a tag
            &[0xc2, 0x5f, 0x41, 0x05, 0xff],                                  // indefinite bignum bytes
            &[0xc1, 0x1a, 0x65, 0x53, 0xf1, 0x00],                            // tag 1
            &[0xdf, 0x00],                                                    // indefinite tag number
            &[0x9f, 0x01, 0x02, 0xff],                                        // indefinite array
            &[0x9f, 0x01, 0x02],                                              // ... unterminated
            &[0xda, 0x6d, 0x70, 0x74, 0x75, 0x82, 0x01, 0x02],                // TUPLE [1, 2]
            &[0xda, 0x6d, 0x70, 0x74, 0x75, 0x01],                            // TUPLE 1: refused
            &[0xda, 0x6d, 0x70, 0x74, 0x75],                                  // TUPLE, truncated
            &[0xda, 0x6d, 0x70, 0x70, 0x6b, 0x41, 0x00],                      // PICKLE h'00'
            &[0xda, 0x6d, 0x70, 0x70, 0x6b, 0x5f, 0x41, 0x00, 0xff],          // ... indefinite bytes
            &[0xda, 0x6d, 0x70, 0x70, 0x6b, 0x61, 0x61],                      // PICKLE "a": refused
            &[0xda, 0x6d, 0x70, 0x72, 0x66, 0x83, 0x60, 0x60, 0x60],          // REF ["", "", ""]
            &[0xda, 0x6d, 0x70, 0x72, 0x66, 0x9f, 0x60, 0x60, 0x60, 0xff],    // ... indefinite
            &[0xda, 0x6d, 0x70, 0x72, 0x66, 0x9f, 0x60, 0x60, 0xff],          // ... of 2: refused
            &[0xda, 0x6d, 0x70, 0x72, 0x66, 0x9f, 0x60, 0x60, 0x60, 0x60],    // ... of 4: refused
            &[0xda, 0x6d, 0x70, 0x72, 0x66, 0x84, 0x60, 0x60, 0x60, 0x60],    // REF of 4: refused
            &[0xda, 0x6d, 0x70, 0x72, 0x66, 0x83, 0x60, 0x01, 0x60],          // REF with an int: refused
            &[0xda, 0x6d, 0x70, 0x72, 0x66, 0x83, 0x60, 0x60],                // REF truncated
            &[0xda, 0x6d, 0x70, 0x72, 0x66, 0x60],                            // REF "": refused
            &[0xbf, 0x01, 0x02, 0xff],                                        // indefinite map
            &[0xbf, 0x01, 0xff],                                              // ... odd
            &[0x82, 0x01, 0x61, 0x61],                                        // [1, "a"]: a plain key
            &[0x82, 0x01, 0xfb, 0x40, 0, 0, 0, 0, 0, 0, 0],                   // [1, 2.0]: not one
            &[0x81, 0xa0],                                                    // [{}]: not a key
            &[0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],          // -2^64
        ];
        for c in cases {
            scan_agrees(c, 8);
        }
        for depth in 0..12 {
            let mut deep = vec![0x81u8; depth];
            deep.push(0x00);
            scan_agrees(&deep, 8);
            let mut tags = vec![0xc6u8; depth];
            tags.push(0x00);
            scan_agrees(&tags, 8);
        }
        // Non-allocation is by construction (the scanner has nowhere to
        // put anything); a huge declared length is refused before any
        // byte is skipped.
        assert_eq!(scan(&[0x5b, 0x40, 0, 0, 0, 0, 0, 0, 0], 8).unwrap_err().kind(), ErrorKind::Invalid);
        // The forms: what the manager may pass through untouched.
        let form = |b: &[u8]| scan(b, 8).unwrap();
        assert!(form(&[0x01]).plain_key());
        assert!(form(&[0x63, b'a', b'b', b'c']).plain_key());
        assert!(!form(&[0x18, 0x05]).canonical());
        assert!(form(&[0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]).canonical());
        assert!(!form(&[0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]).plain_key());
        assert!(form(&[0xa1, 0x01, 0x02]).canonical());
        assert!(!form(&[0xa1, 0x01, 0x02]).plain_key());
        assert!(!form(&[0xc2, 0x41, 0x05]).canonical());
    }

    fn h(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// Issue 21's rules (docs/TYPES.md D1 to D4) in the decoder and the
    /// scanner alike: tags 0 to 3 around the wrong content refused, tag
    /// 55799 dropped (a long run of them costs no stack), maps with two
    /// equal keys refused whatever their size and the keys' forms.
    #[test]
    fn tag_contents_self_described_and_equal_keys() {
        let refused = [
            "c0 01",
            "c0 4161",
            "c1 6161",
            "c1 f5",
            "c1 f6",
            "c1 80",
            "c1 c2 41 01",
            "c2 01",
            "c2 6161",
            "c3 80",
            "c3 fb3ff8000000000000",
            "82 01 c1 6161",
            "a1 c2 6161 01",
            "c1 d9d9f7 6161",
            "c2 d9d9f7 01",
            "a2 01 00 fb3ff0000000000000 01",
            "a2 00 00 fb8000000000000000 01",
            "a2 6161 01 6161 02",
            "a2 f93c00 00 fa3f800000 01",
            "a2 01 00 c2 41 01 01",
            "a2 01 00 c2 43 000001 01",
            "a2 fb7ff8000000000000 01 fb7ff8000000000000 02",
            "a2 820102 01 da6d707475 820102 02",
            "a2 1b0020000000000000 01 fb4340000000000000 02",
            "a2 c249010000000000000000 01 fb43f0000000000000 02",
            "a2 3bffffffffffffffff 01 fbc3f0000000000000 02",
            "a2 c350ffffffffffffffffffffffffffffffff 01 fbc7f0000000000000 02",
            "a2 01 00 d9d9f7 01 01",
            "bf 01 00 01 00 ff",
            "81 a2 6161 01 6161 02",
            "a1 a2 01 00 01 00 00",
        ];
        for b in refused {
            let bytes = h(b);
            assert_eq!(decode(&bytes, 128).unwrap_err().kind(), ErrorKind::Invalid, "{b}");
            scan_agrees(&bytes, 128);
        }
        let accepted = [
            ("d9d9f7 01", "01"),
            ("d9d9f7 d9d9f7 82 d9d9f7 01 02", "82 01 02"),
            ("a1 d9d9f7 6161 01", "a1 6161 01"),
            ("c1 d9d9f7 01", "c1 01"),
            ("c1 f93c00", "c1 fb3ff0000000000000"),
            ("c0 6161", "c0 6161"),
            ("c2 d9d9f7 41 05", "05"),
            ("da6d707266 d9d9f7 83 60 d9d9f7 60 60", "da6d707266 83 60 60 60"),
            ("a2 f5 00 01 01", "a2 f5 00 01 01"),
            ("a2 4161 00 6161 01", "a2 4161 00 6161 01"),
            ("a2 1b0020000000000001 01 fb4340000000000000 02", "a2 1b0020000000000001 01 fb4340000000000000 02"),
            ("a2 fb7ff8000000000000 01 fb7ff8000000000001 02", "a2 fb7ff8000000000000 01 fb7ff8000000000001 02"),
            ("a2 81 01 00 81 81 01 01", "a2 81 01 00 81 81 01 01"),
        ];
        for (b, want) in accepted {
            let bytes = h(b);
            let v = decode(&bytes, 128).unwrap_or_else(|e| panic!("{b}: {e}"));
            assert_eq!(encode(&v), h(want), "{b}");
            scan_agrees(&bytes, 128);
        }
        // 55799 is never written, and a run of a million costs no stack.
        assert_eq!(encode(&Value::Tag(TAG_SELF_DESCRIBED, Box::new(Value::Integer(1.into())))), h("01"));
        let mut run = h("d9d9f7").repeat(1_000_000);
        run.push(0x01);
        assert_eq!(decode(&run, 128).unwrap(), Value::Integer(1.into()));
        assert!(scan(&run, 128).is_ok_and(|f| !f.canonical()));
        // Large maps (sorted, not pairwise): text keys and mixed keys.
        let mut many = vec![0xb8, 40];
        for i in 0..40u8 {
            many.extend([0x62, b'k', b'0' + i % 39, 0x00]); // the last key is "k0" again
        }
        assert!(decode(&many, 128).is_err() && scan(&many, 128).is_err());
        many[2 + 39 * 4 + 2] = b'~'; // the last key made unique

        assert!(decode(&many, 128).is_ok() && scan(&many, 128).is_ok());
        let mut mixed = vec![0xb8, 40];
        for i in 0..40u8 {
            let k = if i == 39 { h("fb4032000000000000") } else { encode(&Value::Integer(i.into())) }; // 18.0 == 18
            mixed.extend(k);
            mixed.push(0x00);
        }
        assert!(decode(&mixed, 128).unwrap_err().message().contains("equal keys"), "mixed");
        scan_agrees(&mixed, 128);
        let at = mixed.len() - 9; // 18.0 becomes 18.5
        mixed[at..at + 8].copy_from_slice(&18.5f64.to_be_bytes());
        assert!(decode(&mixed, 128).is_ok() && scan(&mixed, 128).is_ok());
    }

    /// Key bytes: numbers by value in every form, floats beyond 64 bits too.
    #[test]
    fn key_bytes_compare_numbers_by_value() {
        let f = |x: f64| key_bytes(&Value::Float(x));
        let i = |x: i128| key_bytes(&Value::Integer(x.try_into().unwrap()));
        let big = |t: u64, b: &str| key_bytes(&Value::Tag(t, Box::new(Value::Bytes(h(b)))));
        assert_eq!(f(1.0), i(1));
        assert_eq!(f(-0.0), i(0));
        assert_eq!(f(-1.0), i(-1));
        assert_eq!(f(9007199254740992.0), i(9007199254740992));
        assert_ne!(f(9007199254740992.0), i(9007199254740993));
        assert_eq!(f(18446744073709551615.0), big(2, "010000000000000000")); // rounds to 2^64
        assert_eq!(f(-18446744073709551616.0), i(-18446744073709551616));
        assert_eq!(f(-340282366920938463463374607431768211456.0), big(3, "ffffffffffffffffffffffffffffffff"));
        assert_eq!(big(2, "0000000001"), i(1));
        assert_eq!(big(3, "00"), i(-1));
        assert_ne!(f(1.5), i(1));
        assert_ne!(f(f64::NAN), f(f64::from_bits(0x7ff8_0000_0000_0001)));
        assert_eq!(f(f64::NAN), f(f64::NAN));
        assert_ne!(key_bytes(&Value::Bool(true)), i(1));
        assert_eq!(
            key_bytes(&Value::Tag(TAG_TUPLE, Box::new(Value::Array(vec![Value::Float(1.0)])))),
            key_bytes(&Value::Array(vec![Value::Integer(1.into())]))
        );
    }

    #[test]
    fn property_scan_agrees_with_decode() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Items in every form: encoded values, then their bytes mutated,
        // truncated, and pieces of other encoders' forms spliced in.
        let forms: &[&[u8]] = &[
            &[0xf9, 0x3c, 0x00],
            &[0xfa, 0x40, 0x00, 0x00, 0x00],
            &[0xf7],
            &[0x7f, 0x61, 0xc3, 0x61, 0xa9, 0xff],
            &[0x9f, 0x01, 0xff],
            &[0xbf, 0x61, 0x61, 0x01, 0xff],
            &[0x18, 0x01],
            &[0xc2, 0x41, 0x01],
            &[0xfb, 0x40, 0x00, 0, 0, 0, 0, 0, 0],
            &[0xc6, 0x01],
        ];
        for _ in 0..20_000 {
            let n = (next() % 4) as usize;
            let mut b = vec![0x80 | n as u8];
            for _ in 0..n {
                match next() % 4 {
                    0 => b.extend_from_slice(forms[next() as usize % forms.len()]),
                    1 => b.extend(encode(&Value::Integer(((next() as i64) >> (next() % 64)).into()))),
                    2 => b.extend(encode(&Value::Text("é€x".into()))),
                    _ => b.extend(encode(&Value::Float(f64::from_bits(next())))),
                }
            }
            scan_agrees(&b, 4);
            let mut m = b.clone();
            let i = next() as usize % m.len();
            m[i] ^= next() as u8 | 1;
            scan_agrees(&m, 4);
            m.truncate(next() as usize % m.len());
            scan_agrees(&m, 4);
            let junk: Vec<u8> = (0..next() % 24).map(|_| next() as u8).collect();
            scan_agrees(&junk, 4);
        }
    }
}
