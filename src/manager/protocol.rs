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

use super::cbor::{head, read_head, scan, scan_item, Form};
use crate::error::{Error, ErrorKind, Result};
use ciborium::Value;

/// Largest request frame the server accepts: 64 MiB. Here rather than in
/// the server because the client checks it too, before sending.
pub const MAX_REQUEST: u64 = 64 << 20;

/// How long a connection thread and a client busy-poll for the next
/// message before sleeping, at most (both ends of a connection use it).
pub(crate) const SPIN_US: u32 = 50;

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
///
/// mpipc's own tags (docs/TYPES.md) stay tags: a Python tuple is
/// `Tag(TAG_TUPLE, Array)`, a manager reference `Tag(TAG_REF, Array)` of
/// three `Text` (kind, name, address), a Python pickle `Tag(TAG_PICKLE,
/// Bytes)` (the constants are in [`super::cbor`]); one of them around
/// other content is an error.
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

/// One argument of a request as it arrived: a well-formed CBOR item
/// (checked by [`scan_item`]) and its [`Form`]. Made only by a check, so
/// the objects may trust both.
#[derive(Clone, Copy, Debug)]
pub struct RawItem<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) form: Form,
}

impl<'a> RawItem<'a> {
    /// Checks `bytes` hold one well-formed item nested at most
    /// [`MAX_DEPTH`] deep ([`scan`]; its error otherwise).
    pub fn new(bytes: &'a [u8]) -> Result<RawItem<'a>> {
        Ok(RawItem { bytes, form: scan(bytes, MAX_DEPTH)? })
    }

    /// The item's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// What the bytes are beyond well-formed (canonical, a plain key).
    pub fn form(&self) -> Form {
        self.form
    }
}

/// The most arguments a request may have to be read in place by
/// [`RawRequest::parse`]; requests with more take the decoding path (no
/// method of a hot kind takes more than 3).
pub const MAX_RAW_ARGS: usize = 4;

/// A request read in place, without allocating: the text fields borrowed
/// from the frame, each argument a [`RawItem`]. What the server serves
/// nearly every request with; [`Request::decode`] remains for every other
/// well-formed shape (indefinite lengths, more arguments) and for the
/// error of a malformed one.
#[derive(Clone, Copy, Debug)]
pub struct RawRequest<'a> {
    /// Chosen by the client; echoed in the reply.
    pub id: u64,
    /// Object kind, or `manager`.
    pub kind: &'a str,
    /// Object name.
    pub name: &'a str,
    /// Method name.
    pub method: &'a str,
    args: [RawItem<'a>; MAX_RAW_ARGS],
    nargs: usize,
}

impl<'a> RawRequest<'a> {
    /// Reads a frame that is exactly `[uint, text, text, text, [items]]`
    /// with definite lengths, at most [`MAX_RAW_ARGS`] arguments, every
    /// argument well-formed within [`MAX_DEPTH`] as [`Request::decode`]
    /// counts it. `None` for anything else, well-formed or not: the caller
    /// then decodes the frame, which serves it or says what is wrong.
    pub fn parse(frame: &'a [u8]) -> Option<RawRequest<'a>> {
        if frame.first() != Some(&0x85) {
            return None;
        }
        let (0, Some(id), mut pos) = read_head(frame, 1)? else { return None };
        let mut text = || -> Option<&'a str> {
            let (3, Some(n), start) = read_head(frame, pos)? else { return None };
            let end = start.checked_add(usize::try_from(n).ok()?)?;
            let s = std::str::from_utf8(frame.get(start..end)?).ok()?;
            pos = end;
            Some(s)
        };
        let (kind, name, method) = (text()?, text()?, text()?);
        let (4, Some(n), mut pos) = read_head(frame, pos)? else { return None };
        if n > MAX_RAW_ARGS as u64 {
            return None;
        }
        let mut args = [RawItem { bytes: &[], form: Form::default() }; MAX_RAW_ARGS];
        for a in args.iter_mut().take(n as usize) {
            // Depth 2: inside the request array and the args array.
            let (end, form) = scan_item(frame, pos, 2, MAX_DEPTH).ok()?;
            *a = RawItem { bytes: &frame[pos..end], form };
            pos = end;
        }
        (pos == frame.len()).then_some(RawRequest { id, kind, name, method, args, nargs: n as usize })
    }

    /// The arguments.
    pub fn args(&self) -> &[RawItem<'a>] {
        &self.args[..self.nargs]
    }
}

/// Appends the start of a success reply, `[id, 0, `: the result item
/// follows. The same bytes as [`Reply::encode`].
pub fn start_ok_reply(out: &mut Vec<u8>, id: u64) {
    out.push(0x83);
    head(out, 0, id);
    out.push(0x00);
}

/// Appends a failure reply, `[id, status, message]`. The same bytes as
/// [`Reply::encode`].
pub fn write_err_reply(out: &mut Vec<u8>, id: u64, e: &Error) {
    out.push(0x83);
    head(out, 0, id);
    let code = e.kind().code() as i64;
    if code >= 0 {
        head(out, 0, code as u64);
    } else {
        head(out, 1, (-1 - code) as u64);
    }
    head(out, 3, e.message().len() as u64);
    out.extend_from_slice(e.message().as_bytes());
}

/// A reply read in place (client side): the result stays the bytes that
/// arrived.
#[derive(Clone, Copy, Debug)]
pub struct ReplyView<'a> {
    /// The request's id.
    pub id: u64,
    /// 0, or the `MP_E_*` code of the failure.
    pub status: i32,
    /// The result item (a value, or the failure's message).
    pub result: &'a [u8],
}

impl<'a> ReplyView<'a> {
    /// Reads a frame that is well-formed within [`MAX_REPLY_DEPTH`] and
    /// exactly `[uint, int, item]` with a definite head, as our server
    /// writes every reply. `None` for anything else: the caller then
    /// decodes it with [`Reply::decode`], which accepts every other
    /// well-formed shape and says what is wrong with a malformed one.
    pub fn parse(frame: &'a [u8]) -> Option<ReplyView<'a>> {
        scan(frame, MAX_REPLY_DEPTH).ok()?;
        if frame.first() != Some(&0x83) {
            return None;
        }
        let (0, Some(id), pos) = read_head(frame, 1)? else { return None };
        let (status, pos) = match read_head(frame, pos)? {
            (0, Some(n), p) => (i32::try_from(n).ok()?, p),
            (1, Some(n), p) => (i32::try_from(-1 - i64::try_from(n).ok()?).ok()?, p),
            _ => return None,
        };
        // The scan checked the array holds exactly three items: the third
        // runs to the end of the frame.
        Some(ReplyView { id, status, result: &frame[pos..] })
    }

    /// The failure a non-zero status stands for, with the server's
    /// message, as [`Reply::decode`] makes it: an unknown status is
    /// [`ErrorKind::Io`], a message that is not text "(no message)".
    pub fn error(status: i32, result: &[u8]) -> Error {
        let kind = ErrorKind::from_code(status).unwrap_or(ErrorKind::Io);
        let msg = match read_head(result, 0) {
            Some((3, Some(n), start)) if start as u64 + n == result.len() as u64 => {
                String::from_utf8_lossy(&result[start..]).into_owned()
            }
            _ => match decode_value_reply(result) {
                Ok(Value::Text(t)) => t,
                _ => String::from("(no message)"),
            },
        };
        Error::new(kind, msg)
    }
}

/// Decodes a result item of a reply (nested at most as a reply may be).
pub fn decode_value_reply(bytes: &[u8]) -> Result<Value> {
    super::cbor::decode(bytes, MAX_REPLY_DEPTH)
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

    /// What [`RawRequest::parse`] reads in place must be what
    /// [`Request::decode`] decodes: same id, kind, name, method and
    /// arguments; and a frame it declines must still be served (or
    /// refused) by the decoder.
    #[test]
    fn the_in_place_reader_agrees_with_the_decoder() {
        let mut x: u64 = 0x0bad_5eed_1234_5678;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let base = Request {
            id: 300,
            kind: "dict".into(),
            name: "naïve".into(),
            method: "set".into(),
            args: vec![Value::Text("k".into()), Value::Array(vec![Value::Float(1.5), Value::Null])],
        }
        .encode();
        let mut parsed = 0;
        for round in 0..30_000 {
            let mut m = base.clone();
            if round > 0 {
                for _ in 0..(next() % 3 + 1) {
                    let i = (next() as usize) % m.len();
                    m[i] = next() as u8;
                }
                if next() % 4 == 0 {
                    m.truncate((next() as usize) % m.len());
                }
            }
            let Some(raw) = RawRequest::parse(&m) else { continue };
            parsed += 1;
            let req = Request::decode(&m).unwrap_or_else(|e| panic!("parsed in place, not decoded: {e:?} {m:02x?}"));
            assert_eq!((raw.id, raw.kind, raw.name, raw.method), (req.id, &*req.kind, &*req.name, &*req.method));
            let args: Vec<Value> = raw.args().iter().map(|a| decode_value(a.bytes).unwrap()).collect();
            // By encoding: NaN != NaN.
            assert_eq!(encode_value(&Value::Array(args)), encode_value(&Value::Array(req.args)));
        }
        assert!(parsed > 1000, "the mutations left too few readable frames ({parsed})");
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
