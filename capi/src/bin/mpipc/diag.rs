//! How `mpipc get` and `mpipc manager call` show a CBOR message.
//!
//! By default as the JSON bridge's text (`mpipc::json`, docs/TYPES.md
//! "JSON bridge"): every value has an exact form there (byte strings as
//! `{"$bytes": ...}`, tags as `{"$tag": N, "$value": ...}`, non-text keys
//! as `{"$map": [...]}`, bignums as long integer literals), and `mpipc put`
//! reads that text back to the same CBOR. JSON conversion is the library's
//! only: this command has no converter of its own.
//!
//! With `--diag`, and for an item the bridge refuses (a PICKLE, a simple
//! value, ...), the value is printed in CBOR diagnostic notation (RFC 8949
//! §8) instead, and bytes that are not one CBOR item as a diagnostic byte
//! string `h'...'`; the caller says why on stderr.

use ciborium::value::Value;
use std::fmt::Write;

/// A message as text, and when it is not the JSON bridge's form, why (for
/// a note on stderr).
pub struct Shown {
    /// What to print on stdout.
    pub text: String,
    /// `None` when `text` is the JSON bridge's form, or what was shown
    /// instead and why.
    pub note: Option<String>,
}

/// Shows one message (see the module doc); `force_diag` is `--diag`.
pub fn show(bytes: &[u8], force_diag: bool) -> Shown {
    let refused = if force_diag {
        None
    } else {
        match mpipc::json::from_cbor(bytes) {
            Ok(text) => return Shown { text, note: None },
            Err(e) => Some(e),
        }
    };
    let mut rd = bytes;
    match ciborium::de::from_reader::<Value, _>(&mut rd) {
        Ok(v) if rd.is_empty() => Shown {
            text: diag(&v),
            note: refused.map(|e| format!("shown in CBOR diagnostic notation: JSON cannot hold it: {}", e.message())),
        },
        _ => Shown {
            text: diag(&Value::Bytes(bytes.to_vec())),
            note: Some("the message is not one CBOR item; shown as bytes".to_owned()),
        },
    }
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
        // JSON's string escapes are diagnostic notation's (RFC 8949 §8).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The library's deterministic encoding (64-bit floats), which the
    /// JSON bridge writes.
    fn encode(v: &Value) -> Vec<u8> {
        mpipc::manager::protocol::encode_value(v)
    }

    #[test]
    fn json_bridge_by_default_diagnostic_on_demand() {
        let v = Value::Map(vec![
            (Value::Integer(1.into()), Value::Bytes(vec![0xde, 0xad])),
            (Value::Text("t".into()), Value::Tag(258, Box::new(Value::Array(vec![Value::Float(f64::NAN)])))),
        ]);
        let b = encode(&v);
        let j = show(&b, false);
        assert_eq!(j.text, r#"{"$map":[[1,{"$bytes":"3q0="}],["t",{"$tag":258,"$value":[{"$float":"NaN"}]}]]}"#);
        assert!(j.note.is_none());
        assert_eq!(mpipc::json::to_cbor(&j.text).unwrap(), b, "what get prints, put reads back");
        let d = show(&b, true);
        assert_eq!(d.text, r#"{1: h'dead', "t": 258([NaN])}"#);
        assert!(d.note.is_none());
        let inf = Value::Array(vec![Value::Float(f64::INFINITY), Value::Float(f64::NEG_INFINITY)]);
        assert_eq!(show(&encode(&inf), true).text, "[Infinity, -Infinity]");
        assert_eq!(show(&encode(&Value::Text("a\"b".into())), true).text, r#""a\"b""#);
    }

    #[test]
    fn what_the_bridge_refuses_is_diagnostic_with_a_note() {
        // A Python pickle (the PICKLE tag): CBOR, but only Python reads it.
        let s = show(b"\x82\x01\xda\x6d\x70\x70\x6b\x41\x00", false);
        assert_eq!(s.text, "[1, 1836085355(h'00')]");
        assert!(s.note.unwrap().starts_with("shown in CBOR diagnostic notation: JSON cannot hold it: "));
    }

    #[test]
    fn non_cbor_bytes_are_a_byte_string() {
        for (b, t) in [(&b"\xff\x00"[..], "h'ff00'"), (b"\x01\x02", "h'0102'")] {
            // Two items are not one message either.
            let s = show(b, false);
            assert_eq!(s.text, t);
            assert!(s.note.unwrap().contains("not one CBOR item"));
        }
    }
}
