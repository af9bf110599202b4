//! JSON <-> CBOR for `mpipc put`, `get` and `manager call`.
//!
//! JSON goes to CBOR one to one (objects become maps with text keys,
//! integers stay integers, other numbers become 64-bit floats: the mapping
//! of docs/TYPES.md). CBOR comes back as JSON when JSON can show it
//! exactly; otherwise (byte strings, tags, non-text or repeated map keys,
//! NaN and infinities, integers beyond 64 bits) the whole value is shown
//! in CBOR diagnostic notation (RFC 8949 §8), so nothing is silently
//! changed.

use ciborium::value::Value;
use std::fmt::Write;

/// The CBOR value of a JSON value.
pub fn json_to_cbor(j: &serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Integer(i.into())
            } else if let Some(u) = n.as_u64() {
                Value::Integer(u.into())
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::Text(s.clone()),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(json_to_cbor).collect()),
        serde_json::Value::Object(m) => {
            Value::Map(m.iter().map(|(k, v)| (Value::Text(k.clone()), json_to_cbor(v))).collect())
        }
    }
}

/// Parses JSON text and encodes it as one CBOR item.
pub fn json_text_to_cbor(text: &str) -> Result<Vec<u8>, String> {
    let j: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    Ok(encode(&json_to_cbor(&j)))
}

/// Encodes one CBOR item.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(v, &mut out).expect("writing CBOR to a Vec cannot fail");
    out
}

/// The JSON value of a CBOR value, or `None` when JSON cannot show it
/// exactly.
pub fn cbor_to_json(v: &Value) -> Option<serde_json::Value> {
    Some(match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Integer(i) => {
            let i = i128::from(*i);
            if let Ok(x) = i64::try_from(i) {
                x.into()
            } else {
                u64::try_from(i).ok()?.into()
            }
        }
        Value::Float(f) => serde_json::Value::Number(serde_json::Number::from_f64(*f)?),
        Value::Text(s) => serde_json::Value::String(s.clone()),
        Value::Array(a) => serde_json::Value::Array(a.iter().map(cbor_to_json).collect::<Option<_>>()?),
        Value::Map(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let Value::Text(k) = k else { return None };
                if out.insert(k.clone(), cbor_to_json(v)?).is_some() {
                    return None; // a repeated key: JSON would lose one
                }
            }
            serde_json::Value::Object(out)
        }
        _ => return None, // byte strings, tags
    })
}

/// RFC 8949 §8 diagnostic notation of a CBOR value.
pub fn diag(v: &Value) -> String {
    let mut s = String::new();
    write_diag(v, &mut s);
    s
}

fn write_diag(v: &Value, s: &mut String) {
    match v {
        Value::Null => s.push_str("null"),
        Value::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
        Value::Integer(i) => {
            let _ = write!(s, "{}", i128::from(*i));
        }
        Value::Float(f) if f.is_nan() => s.push_str("NaN"),
        Value::Float(f) if f.is_infinite() => s.push_str(if *f > 0.0 { "Infinity" } else { "-Infinity" }),
        Value::Float(f) => {
            let _ = write!(s, "{f:?}");
        }
        Value::Text(t) => s.push_str(&serde_json::Value::String(t.clone()).to_string()),
        Value::Bytes(b) => {
            s.push_str("h'");
            for x in b {
                let _ = write!(s, "{x:02x}");
            }
            s.push('\'');
        }
        Value::Tag(t, inner) => {
            let _ = write!(s, "{t}(");
            write_diag(inner, s);
            s.push(')');
        }
        Value::Array(a) => {
            s.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_diag(x, s);
            }
            s.push(']');
        }
        Value::Map(m) => {
            s.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                write_diag(k, s);
                s.push_str(": ");
                write_diag(x, s);
            }
            s.push('}');
        }
        _ => s.push_str("undefined"),
    }
}

/// How a message is shown: JSON when exact, else diagnostic notation, and
/// bytes that are not one CBOR item as a diagnostic byte string (with
/// `false` in the second field, so the caller can say so).
pub fn show(bytes: &[u8], force_diag: bool) -> (String, bool) {
    let mut rd = bytes;
    match ciborium::de::from_reader::<Value, _>(&mut rd) {
        Ok(v) if rd.is_empty() => match cbor_to_json(&v).filter(|_| !force_diag) {
            Some(j) => (j.to_string(), true),
            None => (diag(&v), true),
        },
        _ => (diag(&Value::Bytes(bytes.to_vec())), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(json: &str) -> String {
        show(&json_text_to_cbor(json).unwrap(), false).0
    }

    #[test]
    fn json_round_trips() {
        for j in [r#"{"a":[1,-2,3.5,null,true,"x"]}"#, "18446744073709551615", "-9223372036854775808", "1.0", "[]"] {
            assert_eq!(round(j), j);
        }
        assert!(json_text_to_cbor("{bad").unwrap_err().contains("invalid JSON"));
    }

    #[test]
    fn what_json_cannot_show_is_diagnostic() {
        let v = Value::Map(vec![
            (Value::Integer(1.into()), Value::Bytes(vec![0xde, 0xad])),
            (Value::Text("t".into()), Value::Tag(258, Box::new(Value::Array(vec![Value::Float(f64::NAN)])))),
        ]);
        assert_eq!(show(&encode(&v), false).0, r#"{1: h'dead', "t": 258([NaN])}"#);
        let big = Value::Integer(ciborium::value::Integer::try_from(-(1i128 << 64)).unwrap());
        assert_eq!(show(&encode(&big), false).0, "-18446744073709551616");
        let inf = Value::Array(vec![Value::Float(f64::INFINITY), Value::Float(f64::NEG_INFINITY)]);
        assert_eq!(show(&encode(&inf), false).0, "[Infinity, -Infinity]");
        let dup =
            Value::Map(vec![(Value::Text("k".into()), Value::Null), (Value::Text("k".into()), Value::Bool(false))]);
        assert_eq!(show(&encode(&dup), false).0, r#"{"k": null, "k": false}"#);
        assert_eq!(show(&encode(&Value::Text("a\"b".into())), true).0, r#""a\"b""#);
    }

    #[test]
    fn non_cbor_bytes_are_a_byte_string() {
        assert_eq!(show(b"\xff\x00", false), ("h'ff00'".to_owned(), false));
        // Two items are not one message.
        assert_eq!(show(b"\x01\x02", false), ("h'0102'".to_owned(), false));
    }
}
