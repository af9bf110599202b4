//! The manager client: one connection, calls by (kind, name, method, args).

use super::protocol::{decode_value, encode_value, Reply, Request};
use crate::error::{Error, ErrorKind, Result};
use crate::pipe::{connect, Connection, ListenerOptions};
use ciborium::Value;
use std::sync::Mutex;
use std::time::Duration;

/// A connection to a manager. Thread-safe: calls from several threads are
/// serialised (each waits for its own reply); for throughput from one
/// thread, send many requests at once with [`ManagerClient::pipeline`].
pub struct ManagerClient {
    conn: Connection,
    /// The next request id; guarded with the connection so ids and replies
    /// stay in step.
    next_id: Mutex<u64>,
}

impl ManagerClient {
    /// Connects (and authenticates, with an authkey) within `timeout`.
    pub fn connect(address: &str, opts: &ListenerOptions, timeout: Option<Duration>) -> Result<ManagerClient> {
        let conn = connect(address, opts, timeout)?;
        // The reply to a small request comes back within microseconds:
        // spin for it rather than pay a wake-up (see server::SPIN_US).
        conn.set_spin_us(super::server::SPIN_US);
        Ok(ManagerClient { conn, next_id: Mutex::new(1) })
    }

    /// Sets how long a call busy-polls for its reply before sleeping
    /// (microseconds, 0 = never; default 50). Spinning trades CPU for
    /// latency; the budget shrinks by itself when replies are slow.
    pub fn set_spin_us(&self, us: u32) {
        self.conn.set_spin_us(us);
    }

    /// Calls `method` on the object `name` of `kind` (created on first use).
    /// Server-side failures come back as their own kinds (`NotFound` for a
    /// missing key, `Index`, `Type`, `Unsupported`, ...) with the server's
    /// message.
    pub fn call(&self, kind: &str, name: &str, method: &str, args: Vec<Value>) -> Result<Value> {
        self.pipeline(vec![(kind, name, method, args)])?.pop().expect("one reply per request")
    }

    /// Like [`ManagerClient::call`] with the arguments already encoded as a
    /// CBOR array, returning the result encoded (the C ABI's path).
    pub fn call_encoded(&self, kind: &str, name: &str, method: &str, args_cbor: &[u8]) -> Result<Vec<u8>> {
        let args = match decode_value(args_cbor)? {
            Value::Array(a) => a,
            _ => return Err(Error::new(ErrorKind::Invalid, "args must be a CBOR array")),
        };
        Ok(encode_value(&self.call(kind, name, method, args)?))
    }

    /// Like [`ManagerClient::pipeline`] with requests and results CBOR
    /// encoded (the C ABI's path): `reqs_cbor` is an array of
    /// `[kind, name, method, args]`; the result is an array of
    /// `[status, value_or_message]`, status 0 meaning success.
    pub fn pipeline_encoded(&self, reqs_cbor: &[u8]) -> Result<Vec<u8>> {
        let bad = |m: &str| Error::new(ErrorKind::Invalid, format!("requests: {m}"));
        let Value::Array(items) = decode_value(reqs_cbor)? else { return Err(bad("not an array")) };
        let mut reqs = Vec::with_capacity(items.len());
        for it in items {
            let Value::Array(parts) = it else { return Err(bad("each request is [kind, name, method, args]")) };
            let [Value::Text(kind), Value::Text(name), Value::Text(method), Value::Array(args)]: [Value; 4] =
                parts.try_into().map_err(|_| bad("each request is [kind, name, method, args]"))?
            else {
                return Err(bad("each request is [kind, name, method, args] (text, text, text, array)"));
            };
            reqs.push((kind, name, method, args));
        }
        let results =
            self.pipeline(reqs.iter().map(|(k, n, m, a)| (k.as_str(), n.as_str(), m.as_str(), a.clone())).collect())?;
        Ok(encode_value(&Value::Array(
            results
                .into_iter()
                .map(|r| match r {
                    Ok(v) => Value::Array(vec![Value::Integer(0.into()), v]),
                    Err(e) => {
                        Value::Array(vec![Value::Integer(e.kind().code().into()), Value::Text(e.message().into())])
                    }
                })
                .collect(),
        )))
    }

    /// Sends every request before reading any reply (one syscall for the
    /// whole batch), then returns the results in order. The outer error is
    /// a transport failure; per-request failures are in the vector.
    pub fn pipeline(&self, reqs: Vec<(&str, &str, &str, Vec<Value>)>) -> Result<Vec<Result<Value>>> {
        let mut next = self.next_id.lock().unwrap_or_else(|e| e.into_inner());
        let first = *next;
        let frames: Vec<Vec<u8>> = reqs
            .into_iter()
            .enumerate()
            .map(|(i, (kind, name, method, args))| {
                Request { id: first + i as u64, kind: kind.into(), name: name.into(), method: method.into(), args }
                    .encode()
            })
            .collect();
        *next += frames.len() as u64;
        self.conn.send_many(&frames)?;
        (0..frames.len() as u64)
            .map(|i| {
                let frame = self.conn.recv()?;
                if frame.starts_with(b"#CHALLENGE#") {
                    // The server authenticates and we came without a key:
                    // its challenge arrived where a reply was expected.
                    return Err(Error::new(
                        ErrorKind::Auth,
                        "the manager requires an authkey; connect with the server's authkey",
                    ));
                }
                let reply = Reply::decode(&frame)?;
                if reply.id != first + i {
                    // Id 0 with an error: the server refused the stream
                    // itself (e.g. a frame over its limit) and closed it.
                    return Err(match reply.result {
                        Err(e) if reply.id == 0 => e,
                        _ => Error::new(ErrorKind::Corrupt, "manager reply out of order"),
                    });
                }
                Ok(reply.result)
            })
            .collect()
    }
}
