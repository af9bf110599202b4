//! Helpers on CBOR values: hashable keys, equality, ordering, argument
//! extraction.
//!
//! Keys (dict keys, set members) are compared by a canonical encoding:
//! integral floats count as integers (as in Python, `1 == 1.0`), maps and
//! tagged values are refused as keys (unhashable, like Python's dict),
//! except mpipc's TUPLE tag, which a key ignores at any depth: Python's
//! tuple `(1, 2)` (written TUPLE-tagged) and another language's array
//! `[1, 2]` are one key (docs/PROTOCOL.md §4, docs/TYPES.md).

use crate::error::{Error, ErrorKind, Result};
use ciborium::Value;
use std::cmp::Ordering;

/// Canonical bytes of a value used as a key.
pub fn key_bytes(v: &Value) -> Result<Vec<u8>> {
    Ok(super::protocol::encode_value(&canonical(v, true)?))
}

/// Canonical bytes of any value (for equality: `count`, `index`,
/// `compare_and_set`).
pub fn value_bytes(v: &Value) -> Vec<u8> {
    super::protocol::encode_value(&canonical(v, false).expect("non-key canonicalisation cannot fail"))
}

fn canonical(v: &Value, as_key: bool) -> Result<Value> {
    Ok(match v {
        // An integral float is the integer it equals, exactly (2^53 and
        // 2^53.0 are one key, as in Python); below 2^64 in magnitude it
        // converts exactly and fits CBOR's integers (-2^64 ..= 2^64-1).
        Value::Float(f)
            if f.fract() == 0.0 && (-18_446_744_073_709_551_616.0..18_446_744_073_709_551_616.0).contains(f) =>
        {
            Value::Integer(ciborium::value::Integer::try_from(*f as i128).expect("within -2^64 ..= 2^64-1"))
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| canonical(x, as_key)).collect::<Result<_>>()?),
        // A tuple is hashable, and as a key it is the array it holds (a key
        // compares as Python compares it; in Python only the tuple can be a
        // key). As a value it keeps its tag: `(1, 2) != [1, 2]` in Python.
        Value::Tag(super::cbor::TAG_TUPLE, inner) if as_key && matches!(**inner, Value::Array(_)) => {
            canonical(inner, true)?
        }
        Value::Map(_) | Value::Tag(..) if as_key => {
            return Err(Error::new(ErrorKind::Type, "unhashable key: maps and tagged values cannot be keys"));
        }
        Value::Map(m) => {
            Value::Map(m.iter().map(|(k, x)| Ok((canonical(k, false)?, canonical(x, false)?))).collect::<Result<_>>()?)
        }
        other => other.clone(),
    })
}

/// Python-like ordering for `sort`: numbers with numbers, text with text,
/// bytes with bytes, arrays element-wise; anything else is a type error.
pub fn compare(a: &Value, b: &Value) -> Result<Ordering> {
    fn num(v: &Value) -> Option<f64> {
        match v {
            Value::Integer(i) => Some(i128::from(*i) as f64),
            Value::Float(f) => Some(*f),
            Value::Bool(b) => Some(*b as u8 as f64),
            _ => None,
        }
    }
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => Ok(i128::from(*x).cmp(&i128::from(*y))),
        (Value::Text(x), Value::Text(y)) => Ok(x.cmp(y)),
        (Value::Bytes(x), Value::Bytes(y)) => Ok(x.cmp(y)),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                match compare(p, q)? {
                    Ordering::Equal => {}
                    o => return Ok(o),
                }
            }
            Ok(x.len().cmp(&y.len()))
        }
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y).ok_or_else(|| Error::new(ErrorKind::Type, "cannot order NaN")),
            _ => Err(Error::new(ErrorKind::Type, "values of these types cannot be ordered")),
        },
    }
}

/// Argument `i` of a method call, or an arity error.
pub fn arg<'a>(args: &'a [Value], i: usize, method: &str) -> Result<&'a Value> {
    args.get(i).ok_or_else(|| Error::new(ErrorKind::Invalid, format!("{method}: missing argument {}", i + 1)))
}

/// Checks the number of arguments is within `min..=max`.
pub fn arity(args: &[Value], min: usize, max: usize, method: &str) -> Result<()> {
    arity_of(args.len(), min, max, method)
}

/// [`arity`] for `n` arguments however they are held.
pub fn arity_of(n: usize, min: usize, max: usize, method: &str) -> Result<()> {
    if n < min || n > max {
        let want = if min == max { format!("{min}") } else { format!("{min} to {max}") };
        return Err(Error::new(ErrorKind::Invalid, format!("{method} takes {want} arguments, got {n}")));
    }
    Ok(())
}

/// An integer argument.
pub fn int_arg(args: &[Value], i: usize, method: &str) -> Result<i64> {
    match arg(args, i, method)? {
        Value::Null => Err(Error::new(ErrorKind::Type, format!("{method}: argument {} must be an integer", i + 1))),
        v => opt_int_value(Some(v), i, 0, method),
    }
}

/// An optional integer argument (absent or null = `default`).
pub fn opt_int(args: &[Value], i: usize, default: i64, method: &str) -> Result<i64> {
    opt_int_value(args.get(i), i, default, method)
}

/// [`opt_int`] of argument `i` given as `v` (absent = `None`).
pub fn opt_int_value(v: Option<&Value>, i: usize, default: i64, method: &str) -> Result<i64> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Integer(n)) => i64::try_from(i128::from(*n))
            .map_err(|_| Error::new(ErrorKind::Invalid, format!("{method}: integer out of range"))),
        Some(_) => Err(Error::new(ErrorKind::Type, format!("{method}: argument {} must be an integer", i + 1))),
    }
}

/// A text argument.
pub fn text_arg<'a>(args: &'a [Value], i: usize, method: &str) -> Result<&'a str> {
    match arg(args, i, method)? {
        Value::Text(t) => Ok(t),
        _ => Err(Error::new(ErrorKind::Type, format!("{method}: argument {} must be text", i + 1))),
    }
}

/// An array argument.
pub fn array_arg<'a>(args: &'a [Value], i: usize, method: &str) -> Result<&'a [Value]> {
    match arg(args, i, method)? {
        Value::Array(a) => Ok(a),
        _ => Err(Error::new(ErrorKind::Type, format!("{method}: argument {} must be an array", i + 1))),
    }
}

/// Adds `delta` to an integer value (missing or null = 0), refusing overflow and
/// non-integers.
pub fn add_int(current: Option<&Value>, delta: i64, what: &str) -> Result<Value> {
    let cur = match current {
        // A missing entry, or a value never set (null), counts as 0.
        None | Some(Value::Null) => 0i64,
        Some(Value::Integer(n)) => i64::try_from(i128::from(*n))
            .map_err(|_| Error::new(ErrorKind::Invalid, format!("{what}: value out of the 64-bit range")))?,
        Some(v) => {
            return Err(Error::new(
                ErrorKind::Type,
                format!("{what}: the value is {}, not an integer: {}", type_name(v), display(v)),
            ))
        }
    };
    let new =
        cur.checked_add(delta).ok_or_else(|| Error::new(ErrorKind::Invalid, format!("{what}: integer overflow")))?;
    Ok(Value::Integer(new.into()))
}

/// What a value is, in words a user of any binding reads (for messages):
/// "text", "bytes", "a float", ...
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Integer(_) => "an integer",
        Value::Bytes(_) => "bytes",
        Value::Float(_) => "a float",
        Value::Text(_) => "text",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
        Value::Tag(super::cbor::TAG_TUPLE, _) => "a tuple",
        Value::Tag(..) => "a tagged value",
        Value::Array(_) => "an array",
        Value::Map(_) => "a map",
        _ => "a value of another type",
    }
}

/// The longest rendering [`display`] gives before it cuts the rest.
const DISPLAY_MAX: usize = 120;

/// `v` written as a user of any binding wrote it, for messages such as
/// `KeyError: "x"`: CBOR's diagnostic notation (RFC 8949 §8), which is
/// also how JSON, JavaScript, Go and C write text, numbers, booleans and
/// arrays (`"x"`, `1`, `1.5`, `true`, `null`, `[1, "a"]`, bytes as
/// `h'0102'`, other tags as `1(...)`), with Python's tuple (mpipc's TUPLE
/// tag) as `(1, 2)`. Never Rust's debug form (`Text("x")`). Cut after
/// 120 characters with an ellipsis: a message names a key, it does not
/// dump it.
pub fn display(v: &Value) -> String {
    let mut out = String::new();
    write_diag(v, &mut out);
    if out.chars().count() > DISPLAY_MAX {
        out = out.chars().take(DISPLAY_MAX).collect::<String>() + "…";
    }
    out
}

fn write_diag(v: &Value, out: &mut String) {
    use std::fmt::Write;
    // Deep values are cut long before the depth matters, but the
    // recursion must not run far past what is shown.
    if out.len() > DISPLAY_MAX * 4 {
        return;
    }
    let list = |items: &mut dyn Iterator<Item = &Value>, out: &mut String| {
        for (i, x) in items.enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            write_diag(x, out);
        }
    };
    match v {
        Value::Integer(n) => {
            let _ = write!(out, "{}", i128::from(*n));
        }
        Value::Float(f) if f.is_nan() => out.push_str("NaN"),
        Value::Float(f) if f.is_infinite() => out.push_str(if *f > 0.0 { "Infinity" } else { "-Infinity" }),
        // A whole float keeps its point (1.0, not 1): it is not the integer.
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e16 => {
            let _ = write!(out, "{f:.1}");
        }
        Value::Float(f) => {
            let _ = write!(out, "{f}");
        }
        // JSON's escapes, which are also diagnostic notation's.
        Value::Text(t) => out.push_str(&serde_json::to_string(t).unwrap_or_else(|_| format!("{t:?}"))),
        Value::Bytes(b) => {
            out.push_str("h'");
            for x in b.iter().take(DISPLAY_MAX) {
                let _ = write!(out, "{x:02x}");
            }
            out.push('\'');
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => out.push_str("null"),
        Value::Array(a) => {
            out.push('[');
            list(&mut a.iter(), out);
            out.push(']');
        }
        Value::Tag(super::cbor::TAG_TUPLE, inner) if matches!(**inner, Value::Array(_)) => {
            let Value::Array(a) = &**inner else { return };
            out.push('(');
            list(&mut a.iter(), out);
            out.push_str(if a.len() == 1 { ",)" } else { ")" });
        }
        Value::Tag(t, inner) => {
            let _ = write!(out, "{t}(");
            write_diag(inner, out);
            out.push(')');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_diag(k, out);
                out.push_str(": ");
                write_diag(x, out);
            }
            out.push('}');
        }
        _ => out.push_str("undefined"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_python_equality() {
        assert_eq!(key_bytes(&Value::Float(1.0)).unwrap(), key_bytes(&Value::Integer(1.into())).unwrap());
        assert_ne!(key_bytes(&Value::Text("1".into())).unwrap(), key_bytes(&Value::Integer(1.into())).unwrap());
        assert_ne!(key_bytes(&Value::Bytes(b"a".to_vec())).unwrap(), key_bytes(&Value::Text("a".into())).unwrap());
        assert_eq!(key_bytes(&Value::Map(vec![])).unwrap_err().kind(), ErrorKind::Type);
        assert!(key_bytes(&Value::Array(vec![Value::Float(2.0)])).is_ok(), "tuples are hashable");
    }

    #[test]
    fn a_tuple_key_is_its_array_at_any_depth() {
        use crate::manager::cbor::{TAG_REF, TAG_TUPLE};
        let i = |n: i64| Value::Integer(n.into());
        let tuple = |items: Vec<Value>| Value::Tag(TAG_TUPLE, Box::new(Value::Array(items)));
        let plain = Value::Array(vec![i(1), Value::Array(vec![i(2), Value::Text("a".into())])]);
        let want = key_bytes(&plain).unwrap();
        // Python's ((1.0, (2, "a"))), a mix, and the plain array: one key.
        let python = tuple(vec![Value::Float(1.0), tuple(vec![i(2), Value::Text("a".into())])]);
        let mixed = Value::Array(vec![i(1), tuple(vec![i(2), Value::Text("a".into())])]);
        assert_eq!(key_bytes(&python).unwrap(), want);
        assert_eq!(key_bytes(&mixed).unwrap(), want);
        assert_eq!(key_bytes(&tuple(vec![])).unwrap(), key_bytes(&Value::Array(vec![])).unwrap());
        // Still distinct from what it holds elsewhere, and other tags stay unhashable.
        assert_ne!(key_bytes(&tuple(vec![i(1)])).unwrap(), key_bytes(&i(1)).unwrap());
        let inside_map = Value::Array(vec![Value::Map(vec![])]);
        assert_eq!(key_bytes(&inside_map).unwrap_err().kind(), ErrorKind::Type);
        let r = Value::Tag(TAG_REF, Box::new(Value::Array(vec![Value::Text("dict".into()); 3])));
        assert_eq!(key_bytes(&r).unwrap_err().kind(), ErrorKind::Type);
        // As values (count, index, compare_and_set) a tuple and a list differ, as in Python.
        assert_ne!(value_bytes(&tuple(vec![i(1)])), value_bytes(&Value::Array(vec![i(1)])));
    }

    #[test]
    fn ordering_and_ints() {
        let i = |n: i64| Value::Integer(n.into());
        assert_eq!(compare(&i(1), &Value::Float(1.5)).unwrap(), Ordering::Less);
        assert_eq!(compare(&Value::Text("b".into()), &Value::Text("a".into())).unwrap(), Ordering::Greater);
        assert_eq!(compare(&i(1), &Value::Text("a".into())).unwrap_err().kind(), ErrorKind::Type);
        assert_eq!(add_int(None, 5, "incr").unwrap(), i(5));
        assert_eq!(add_int(Some(&i(i64::MAX)), 1, "incr").unwrap_err().kind(), ErrorKind::Invalid);
        assert_eq!(add_int(Some(&Value::Text("x".into())), 1, "incr").unwrap_err().kind(), ErrorKind::Type);
    }

    /// Messages show values as the user wrote them (issue 20, item 6):
    /// `KeyError: "x"`, never Rust's `Text("x")`.
    #[test]
    fn values_are_shown_as_users_write_them() {
        use crate::manager::cbor::TAG_TUPLE;
        let i = |n: i64| Value::Integer(n.into());
        let t = |s: &str| Value::Text(s.into());
        assert_eq!(display(&t("x")), r#""x""#);
        assert_eq!(display(&t("a\"b\n")), r#""a\"b\n""#);
        assert_eq!(display(&i(-7)), "-7");
        assert_eq!(display(&Value::Integer(u64::MAX.into())), "18446744073709551615");
        assert_eq!(display(&Value::Float(1.0)), "1.0");
        assert_eq!(display(&Value::Float(1.5)), "1.5");
        assert_eq!(display(&Value::Float(f64::NAN)), "NaN");
        assert_eq!(display(&Value::Float(f64::NEG_INFINITY)), "-Infinity");
        assert_eq!(display(&Value::Bytes(vec![1, 0xab])), "h'01ab'");
        assert_eq!(display(&Value::Bool(true)), "true");
        assert_eq!(display(&Value::Null), "null");
        assert_eq!(display(&Value::Array(vec![i(1), t("a")])), r#"[1, "a"]"#);
        assert_eq!(display(&Value::Tag(TAG_TUPLE, Box::new(Value::Array(vec![i(1), i(2)])))), "(1, 2)");
        assert_eq!(display(&Value::Tag(TAG_TUPLE, Box::new(Value::Array(vec![i(1)])))), "(1,)");
        assert_eq!(display(&Value::Tag(1, Box::new(i(0)))), "1(0)");
        assert_eq!(display(&Value::Map(vec![(t("k"), i(1))])), r#"{"k": 1}"#);
        let long = display(&t(&"y".repeat(1000)));
        assert!(long.ends_with('…') && long.chars().count() == DISPLAY_MAX + 1, "{long}");
        // The incr refusal names what the value is.
        let e = add_int(Some(&t("x")), 1, "incr").unwrap_err();
        assert_eq!(e.message(), r#"incr: the value is text, not an integer: "x""#);
    }
}
