//! Manager requests and replies: CBOR arrays on the Connection framing
//! (docs/PROTOCOL.md §4).
//!
//! Request: `[request_id: uint, kind: text, name: text, method: text, args: array]`
//! Reply:   `[request_id: uint, status: int, result: any]` — on success
//! `status` is 0 and `result` the method's value; on failure `status` is the
//! `MP_E_*` code and `result` the server's message (text).
//!
//! Decoding is strict and bounded: the frame is already size-limited by the
//! connection, no declared length is trusted beyond the bytes present, and
//! nesting is limited to [`MAX_DEPTH`].

use crate::error::{Error, ErrorKind, Result};
use ciborium::Value;

/// Deepest nesting of arrays/maps accepted in a request.
pub const MAX_DEPTH: usize = 128;

/// Deepest nesting accepted in a reply: one level more than a request,
/// since a result can hold a stored value one level deeper than the
/// request that stored it (`items` and `popitem` return `[key, value]`
/// pairs inside an array). Found by the c_abi fuzz target: a value stored
/// at the request limit made `items`' reply undecodable, and the client
/// dropped its connection.
pub const MAX_REPLY_DEPTH: usize = MAX_DEPTH + 1;

/// A decoded request.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// Chosen by the client; echoed in the reply.
    pub id: u64,
    /// Object kind: `dict`, `list`, ... or `manager` for server-wide methods.
    pub kind: String,
    /// Object name.
    pub name: String,
    /// Method name.
    pub method: String,
    /// Positional arguments.
    pub args: Vec<Value>,
}

/// A reply: the request's id and the method's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// The request's id.
    pub id: u64,
    /// The value, or the error (kind and message).
    pub result: std::result::Result<Value, Error>,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Invalid, format!("malformed request: {}", msg.into()))
}

/// Decodes one CBOR item (exactly: trailing bytes are an error), bounded
/// in depth and in allocation by the input length (see [`super::cbor`]).
pub fn decode_value(bytes: &[u8]) -> Result<Value> {
    super::cbor::decode(bytes, MAX_DEPTH)
}

/// Encodes a CBOR value (deterministically, see [`super::cbor`]).
pub fn encode_value(v: &Value) -> Vec<u8> {
    super::cbor::encode(v)
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Integer(i) => u64::try_from(i128::from(*i)).ok(),
        _ => None,
    }
}

/// The request id of a frame that starts like a request (an array of 5
/// whose first item is an unsigned integer), read without decoding the
/// rest.
fn peek_id(bytes: &[u8]) -> Option<u64> {
    let (&array5, rest) = bytes.split_first()?;
    if array5 != 0x85 {
        return None;
    }
    let (&head, rest) = rest.split_first()?;
    if head >> 5 != 0 {
        return None; // not an unsigned integer
    }
    let n = match head & 0x1f {
        v @ 0..=23 => return Some(u64::from(v)),
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        _ => return None,
    };
    let be = rest.get(..n)?;
    Some(be.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

impl Request {
    /// Decodes a request frame. An error here still knows the id when it
    /// could be read (`Err((Some(id), e))`), so the reply can carry it.
    pub fn decode(bytes: &[u8]) -> std::result::Result<Request, (Option<u64>, Error)> {
        // A request whose body does not decode (nested too deep, say) still
        // gets its reply under its own id when the head is readable, so the
        // client can match it and keep the connection (a reply with id 0
        // means the stream itself is broken).
        let v = decode_value(bytes).map_err(|e| (peek_id(bytes), e))?;
        let Value::Array(mut items) = v else { return Err((None, bad("not an array"))) };
        let id = items.first().and_then(as_u64);
        if items.len() != 5 {
            return Err((id, bad(format!("expected 5 elements, got {}", items.len()))));
        }
        let id = id.ok_or_else(|| (None, bad("request_id must be an unsigned integer")))?;
        let args = match items.pop() {
            Some(Value::Array(a)) => a,
            _ => return Err((Some(id), bad("args must be an array"))),
        };
        let mut text = |what: &str| match items.pop() {
            Some(Value::Text(t)) => Ok(t),
            _ => Err((Some(id), bad(format!("{what} must be text")))),
        };
        let method = text("method")?;
        let name = text("name")?;
        let kind = text("kind")?;
        Ok(Request { id, kind, name, method, args })
    }

    /// Encodes the request (client side).
    pub fn encode(&self) -> Vec<u8> {
        encode_value(&Value::Array(vec![
            Value::Integer(self.id.into()),
            Value::Text(self.kind.clone()),
            Value::Text(self.name.clone()),
            Value::Text(self.method.clone()),
            Value::Array(self.args.clone()),
        ]))
    }
}

impl Reply {
    /// Encodes the reply (server side).
    pub fn encode(&self) -> Vec<u8> {
        let (status, result) = match &self.result {
            Ok(v) => (0i64, v.clone()),
            Err(e) => (e.kind().code() as i64, Value::Text(e.message().to_owned())),
        };
        encode_value(&Value::Array(vec![Value::Integer(self.id.into()), Value::Integer(status.into()), result]))
    }

    /// Decodes a reply frame (client side).
    pub fn decode(bytes: &[u8]) -> Result<Reply> {
        let bad = |m: &str| Error::new(ErrorKind::Corrupt, format!("malformed reply from the manager: {m}"));
        let Value::Array(items) = super::cbor::decode(bytes, MAX_REPLY_DEPTH)? else {
            return Err(bad("not an array"));
        };
        let [id, status, result]: [Value; 3] = items.try_into().map_err(|_| bad("expected 3 elements"))?;
        let id = as_u64(&id).ok_or_else(|| bad("bad request_id"))?;
        let status = match status {
            Value::Integer(i) => i32::try_from(i128::from(i)).map_err(|_| bad("bad status"))?,
            _ => return Err(bad("bad status")),
        };
        let result = if status == 0 {
            Ok(result)
        } else {
            let kind = ErrorKind::from_code(status).unwrap_or(ErrorKind::Io);
            let msg = match result {
                Value::Text(t) => t,
                _ => String::from("(no message)"),
            };
            Err(Error::new(kind, msg))
        };
        Ok(Reply { id, result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_round_trip() {
        let r = Request {
            id: 7,
            kind: "dict".into(),
            name: "d".into(),
            method: "set".into(),
            args: vec![Value::Text("k".into()), Value::Integer(1.into())],
        };
        assert_eq!(Request::decode(&r.encode()).unwrap(), r);
        let ok = Reply { id: 7, result: Ok(Value::Bool(true)) };
        assert_eq!(Reply::decode(&ok.encode()).unwrap(), ok);
        let err = Reply { id: 8, result: Err(Error::new(ErrorKind::NotFound, "KeyError: 'k'")) };
        assert_eq!(Reply::decode(&err.encode()).unwrap(), err);
    }

    #[test]
    fn malformed_requests_are_errors_not_panics() {
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![0xff],
            encode_value(&Value::Integer(3.into())),
            encode_value(&Value::Array(vec![])),
            encode_value(&Value::Array(vec![Value::Integer((-1).into()); 5])),
            encode_value(&Value::Array(vec![
                Value::Integer(1.into()),
                Value::Text("dict".into()),
                Value::Text("d".into()),
                Value::Text("get".into()),
                Value::Text("not an array".into()),
            ])),
            // 2^62-byte text string declared in a 9-byte header: no allocation.
            vec![0x7b, 0x40, 0, 0, 0, 0, 0, 0, 0],
            // Nesting deeper than the limit.
            vec![0x81; 10_000],
        ];
        for c in cases {
            let e = Request::decode(&c).unwrap_err().1;
            assert_eq!(e.kind(), ErrorKind::Invalid, "{c:?}");
        }
        let e = Request::decode(&encode_value(&Value::Array(vec![Value::Integer(5.into())]))).unwrap_err();
        assert_eq!(e.0, Some(5), "the id is kept for the error reply");
    }

    #[test]
    fn decoder_survives_arbitrary_bytes() {
        // A deterministic property test: mutate valid requests and random
        // byte strings; decoding must return, never panic or hang.
        let base = Request {
            id: 1,
            kind: "list".into(),
            name: "l".into(),
            method: "append".into(),
            args: vec![Value::Bytes(vec![1, 2, 3])],
        }
        .encode();
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let mut m = base.clone();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % m.len();
                m[i] = next() as u8;
            }
            if next() % 3 == 0 {
                m.truncate((next() as usize) % m.len());
            }
            let _ = Request::decode(&m);
            let random: Vec<u8> = (0..(next() % 64)).map(|_| next() as u8).collect();
            let _ = Request::decode(&random);
            let _ = Reply::decode(&random);
        }
    }
}
