//! The manager across real processes: the standalone server
//! (`mpipc manager serve`), client processes (`mpipc-torture mgr-*`), a
//! client killed while holding a lock, 256 connections at once, SIGTERM.

use ciborium::Value;
use mpipc::{ErrorKind, ListenerOptions, ManagerClient};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MPIPC: &str = env!("CARGO_BIN_EXE_mpipc");
const TORTURE: &str = env!("CARGO_BIN_EXE_mpipc-torture");
const T: Option<Duration> = Some(Duration::from_secs(10));

/// Starts `mpipc manager serve` and waits for its "serving" line.
fn start_server(address: &str) -> Child {
    let mut child =
        Command::new(MPIPC).args(["manager", "serve", "--address", address]).stderr(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("serving at"), "{line}");
    child
}

fn connect(address: &str) -> ManagerClient {
    ManagerClient::connect(address, &ListenerOptions::default(), T).unwrap()
}

#[test]
fn the_manager_across_processes() {
    let address = format!("unix:@mpipc-it-mgr-{}", std::process::id());
    let mut server = start_server(&address);

    // Four client processes incrementing one counter: the total is exact
    // (Python's manager loses updates with d[k] += 1).
    let incr: Vec<Child> = (0..4)
        .map(|_| Command::new(TORTURE).args(["mgr-incr", "--address", &address, "--n", "2000"]).spawn().unwrap())
        .collect();
    for mut c in incr {
        assert!(c.wait().unwrap().success());
    }
    let me = connect(&address);
    assert_eq!(me.call("dict", "counts", "get", vec![Value::Text("n".into())]).unwrap(), Value::Integer(8000.into()));

    // A client killed while holding a lock: the server releases it.
    let mut holder =
        Command::new(TORTURE).args(["mgr-hold-lock", "--address", &address]).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "held");
    assert_eq!(me.call("lock", "L", "acquire", vec![Value::Integer(0.into())]).unwrap(), Value::Bool(false));
    holder.kill().unwrap();
    holder.wait().unwrap();
    let t0 = Instant::now();
    assert_eq!(me.call("lock", "L", "acquire", vec![Value::Integer(5000.into())]).unwrap(), Value::Bool(true));
    assert!(t0.elapsed() < Duration::from_secs(5));

    // 256 connections held open at once, each served.
    let many: Vec<ManagerClient> = (0..256).map(|_| connect(&address)).collect();
    for (n, c) in many.iter().enumerate() {
        c.call("set", "conns", "add", vec![Value::Integer(n.into())]).unwrap();
    }
    assert_eq!(me.call("set", "conns", "len", vec![]).unwrap(), Value::Integer(256.into()));
    let stats = me.call("manager", "", "stats", vec![]).unwrap();
    let conns = match &stats {
        Value::Map(m) => m.iter().find(|(k, _)| *k == Value::Text("connections".into())).map(|(_, v)| v.clone()),
        _ => None,
    };
    assert_eq!(conns, Some(Value::Integer(257.into())), "{stats:?}");
    drop(many);

    // SIGTERM: a clean stop; a connected client then sees the connection end.
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGTERM) };
    let status = server.wait().unwrap();
    assert!(status.success(), "{status}");
    let e = me.call("dict", "counts", "len", vec![]).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Eof | ErrorKind::Io), "{e}");
    let e = ManagerClient::connect(&address, &ListenerOptions::default(), T).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
}

#[test]
fn tcp_manager_requires_and_checks_the_authkey() {
    let keyfile = std::env::temp_dir().join(format!("mpipc-it-key-{}", std::process::id()));
    std::fs::write(&keyfile, b"tcp-secret\n").unwrap();
    let mut child = Command::new(MPIPC)
        .args(["manager", "serve", "--address", "tcp:127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(!child.wait().unwrap().success(), "TCP without an authkey is refused");
    let mut server = Command::new(MPIPC)
        .args(["manager", "serve", "--address", "tcp:127.0.0.1:0", "--authkey-file", keyfile.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stderr.as_mut().unwrap()).read_line(&mut line).unwrap();
    let address = line.split_whitespace().find(|w| w.starts_with("tcp:")).unwrap().to_owned();
    let good = ListenerOptions { authkey: Some(b"tcp-secret".to_vec()), ..Default::default() };
    let bad = ListenerOptions { authkey: Some(b"nope".to_vec()), ..Default::default() };
    assert_eq!(ManagerClient::connect(&address, &bad, T).err().unwrap().kind(), ErrorKind::Auth);
    let c = ManagerClient::connect(&address, &good, T).unwrap();
    c.call("value", "v", "set", vec![Value::Integer(1.into())]).unwrap();
    assert_eq!(c.call("value", "v", "get", vec![]).unwrap(), Value::Integer(1.into()));
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGTERM) };
    assert!(server.wait().unwrap().success());
    let _ = std::fs::remove_file(keyfile);
}
