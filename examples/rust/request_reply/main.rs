//! Request / reply between two processes over a `Listener` and `connect`
//! with an authkey (an HMAC handshake both ways): the wire format of
//! Python's `multiprocessing.connection`, so a stock Python `Client` could
//! be the client.
//!
//! The main process listens on an abstract Unix socket (unique to the run,
//! nothing to remove afterwards) and starts itself again as the client,
//! which sends 100 requests `{"id", "op": "add" | "mul", "args": [i, 10*i]}`
//! (a serde struct `Request`, sent with the typed `Connection::send`) and
//! checks every reply `{"id", "result"}` (a `Reply`, read with the typed
//! `recv`), then one unknown op that must come back as `{"id", "error"}`. The server answers until the client
//! closes its end (`ErrorKind::Eof`) and exits non-zero unless it answered
//! 101 requests and the client succeeded.
//!
//! ```text
//! cargo run --release --example rust_request_reply
//! ```

use mpipc::pipe::{connect, Listener, ListenerOptions};
use mpipc::ErrorKind;
use serde::{Deserialize, Serialize};
use std::process::{Command, ExitCode};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const REQUESTS: i64 = 100;
const AUTHKEY: &[u8] = b"request-reply-example";
const WAIT: Duration = Duration::from_secs(10);

/// `{"id": 3, "op": "add", "args": [3, 30]}`.
#[derive(Serialize, Deserialize, Debug)]
struct Request {
    id: i64,
    op: String,
    args: Vec<i64>,
}

/// `{"id": 3, "result": 33}` or `{"id": -1, "error": "..."}`: the field
/// that is `None` is left out of the map.
#[derive(Serialize, Deserialize, Debug, Default)]
struct Reply {
    id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    result: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

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
        let req: Request = match conn.recv_timeout(Some(WAIT)) {
            Ok(req) => req,
            Err(e) if e.kind() == ErrorKind::Eof => break, // the client closed its end
            Err(e) => return Err(e.into()),
        };
        conn.send(&answer(&req))?;
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
fn answer(req: &Request) -> Reply {
    let result = match req.op.as_str() {
        "add" => req.args.iter().sum(),
        "mul" => req.args.iter().product(),
        op => return Reply { id: req.id, error: Some(format!("unknown op {op:?}")), ..Default::default() },
    };
    Reply { id: req.id, result: Some(result), ..Default::default() }
}

fn client(addr: &str) -> Result {
    let conn = connect(addr, &options(), Some(WAIT))?;
    for i in 0..REQUESTS {
        let (op, want) = if i % 2 == 0 { ("add", 11 * i) } else { ("mul", 10 * i * i) };
        conn.send(&Request { id: i, op: op.into(), args: vec![i, 10 * i] })?;
        let reply: Reply = conn.recv_timeout(Some(WAIT))?;
        if reply.id != i || reply.result != Some(want) {
            return Err(format!("request {i}: got {reply:?}, want result {want}").into());
        }
    }
    // An unknown operation comes back as an error reply.
    conn.send(&Request { id: -1, op: "nope".into(), args: vec![] })?;
    let reply: Reply = conn.recv_timeout(Some(WAIT))?;
    let error = reply.error.ok_or("no error text for an unknown op")?;
    println!("client {}: {REQUESTS} replies right; error reply: {error}", std::process::id());
    Ok(()) // dropping `conn` closes it: the server's recv gets Eof
}
