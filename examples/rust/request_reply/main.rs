//! Request / reply between two processes over a `Listener` and `connect`
//! with an authkey (an HMAC handshake both ways): the wire format of
//! Python's `multiprocessing.connection`, so a stock Python `Client` could
//! be the client.
//!
//! The main process listens on an abstract Unix socket (unique to the run,
//! nothing to remove afterwards) and starts itself again as the client,
//! which sends 100 requests `{"id", "op": "add" | "mul", "args": [i, 10*i]}`
//! and checks every reply `{"id", "result"}`, then one unknown op that must
//! come back as `{"id", "error"}`. The server answers until the client
//! closes its end (`ErrorKind::Eof`) and exits non-zero unless it answered
//! 101 requests and the client succeeded.
//!
//! ```text
//! cargo run --release --example rust_request_reply
//! ```

use ciborium::Value;
use mpipc::manager::protocol::{decode_value, encode_value};
use mpipc::pipe::{connect, Listener, ListenerOptions};
use mpipc::ErrorKind;
use std::process::{Command, ExitCode};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const REQUESTS: i64 = 100;
const AUTHKEY: &[u8] = b"request-reply-example";
const WAIT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => run(),
        ["client", addr] => client(addr),
        _ => Err("usage: rust_request_reply [client <address>]".into()),
    };
    if let Err(e) = result {
        eprintln!("{} {}: {e}", args.first().map_or("server", String::as_str), std::process::id());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn options() -> ListenerOptions {
    ListenerOptions { authkey: Some(AUTHKEY.to_vec()), ..Default::default() }
}

fn run() -> Result {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let listener = Listener::bind(&format!("unix:@rust-example-rr-{}-{nanos:x}", std::process::id()), &options())?;
    let addr = listener.address().to_string();
    let mut child = Command::new(std::env::current_exe()?).args(["client", &addr]).spawn()?;

    let conn = listener.accept(Some(WAIT))?; // authenticated both ways
    let mut served = 0;
    loop {
        let msg = match conn.recv_timeout(Some(WAIT)) {
            Ok(msg) => msg,
            Err(e) if e.kind() == ErrorKind::Eof => break, // the client closed its end
            Err(e) => return Err(e.into()),
        };
        conn.send(&encode_value(&answer(&decode_value(&msg)?)?))?;
        served += 1;
    }
    let client_ok = child.wait()?.success();
    println!("server: answered {served} requests (want {REQUESTS} + 1 with an unknown op)");
    if !client_ok || served != REQUESTS + 1 {
        return Err("FAILED".into());
    }
    println!("OK");
    Ok(())
}

/// The reply to one request: its result, or an error for an unknown op.
fn answer(req: &Value) -> Result<Value> {
    let id = int(field(req, "id")?)?;
    let args = field(req, "args")?.as_array().ok_or("args is not an array")?;
    let args = args.iter().map(int).collect::<Result<Vec<i64>>>()?;
    let result: i64 = match field(req, "op")?.as_text().ok_or("op is not text")? {
        "add" => args.iter().sum(),
        "mul" => args.iter().product(),
        op => return Ok(map([("id", id.into()), ("error", format!("unknown op {op:?}").into())])),
    };
    Ok(map([("id", id.into()), ("result", result.into())]))
}

fn client(addr: &str) -> Result {
    let conn = connect(addr, &options(), Some(WAIT))?;
    for i in 0..REQUESTS {
        let (op, want) = if i % 2 == 0 { ("add", 11 * i) } else { ("mul", 10 * i * i) };
        let args = Value::Array(vec![i.into(), (10 * i).into()]);
        conn.send(&encode_value(&map([("id", i.into()), ("op", op.into()), ("args", args)])))?;
        let reply = decode_value(&conn.recv_timeout(Some(WAIT))?)?;
        if int(field(&reply, "id")?)? != i || int(field(&reply, "result")?)? != want {
            return Err(format!("request {i}: got {reply:?}, want result {want}").into());
        }
    }
    // An unknown operation comes back as an error reply.
    conn.send(&encode_value(&map([("id", (-1).into()), ("op", "nope".into()), ("args", Value::Array(vec![]))])))?;
    let reply = decode_value(&conn.recv_timeout(Some(WAIT))?)?;
    let error = field(&reply, "error")?.as_text().ok_or("no error text for an unknown op")?;
    println!("client {}: {REQUESTS} replies right; error reply: {error}", std::process::id());
    Ok(()) // dropping `conn` closes it: the server's recv gets Eof
}

/// A CBOR map with text keys, as every binding reads it.
fn map<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Map(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

fn field<'a>(m: &'a Value, key: &str) -> Result<&'a Value> {
    let found = m.as_map().and_then(|m| m.iter().find(|(k, _)| k.as_text() == Some(key)));
    Ok(found.map(|(_, v)| v).ok_or_else(|| format!("no {key:?} in {m:?}"))?)
}

fn int(v: &Value) -> Result<i64> {
    Ok(v.as_integer().ok_or_else(|| format!("{v:?} is not an integer"))?.try_into()?)
}
