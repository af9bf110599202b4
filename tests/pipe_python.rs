//! Interop with the real thing: the Python interpreter's own
//! `multiprocessing.connection.Listener` / `Client` (`send_bytes` /
//! `recv_bytes`) against our Listener / connect, with right and wrong keys,
//! over a Unix socket and TCP. Python here is whatever `python3` is on PATH
//! (3.11 speaks the legacy HMAC-MD5 handshake, 3.12+ the `{sha256}` one).

use mpipc::pipe::{connect, Listener, ListenerOptions};
use mpipc::ErrorKind;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const T: Option<Duration> = Some(Duration::from_secs(20));

fn key(k: &[u8]) -> ListenerOptions {
    ListenerOptions { authkey: Some(k.to_vec()), ..Default::default() }
}

fn sock(tag: &str) -> String {
    let p = format!("/tmp/mpipc-py-{tag}-{}.sock", std::process::id());
    let _ = std::fs::remove_file(&p);
    p
}

fn python(script: &str, args: &[&str]) -> std::process::Child {
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3")
}

const PY_CLIENT: &str = r#"
import sys
from multiprocessing.connection import Client
addr = sys.argv[1]
if addr.startswith('tcp:'):
    host, port = addr[4:].rsplit(':', 1)
    addr = (host, int(port))
try:
    c = Client(addr, authkey=sys.argv[2].encode())
except Exception as e:
    print('ERR', type(e).__name__, flush=True)
    sys.exit(3)
c.send_bytes(b'hello from python')
big = c.recv_bytes()
c.send_bytes(big[::-1])
print('OK', len(big), flush=True)
"#;

fn serve_python_client(addr_for_bind: &str, py_addr: &str) {
    let l = Listener::bind(addr_for_bind, &key(b"s3cret")).unwrap();
    let py_addr = if py_addr.is_empty() { l.address().to_string() } else { py_addr.to_owned() };
    let mut child = python(PY_CLIENT, &[&py_addr, "s3cret"]);
    let c = l.accept(T).unwrap();
    assert_eq!(c.recv_bytes_timeout(T).unwrap(), b"hello from python");
    let big: Vec<u8> = (0..8_000_000u32).map(|i| (i % 253) as u8).collect();
    c.send_bytes(&big).unwrap();
    let back = c.recv_bytes_timeout(T).unwrap();
    assert!(back.iter().eq(big.iter().rev()));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK 8000000");
    child = python(PY_CLIENT, &[&py_addr, "wrong"]);
    assert_eq!(l.accept(T).unwrap_err().kind(), ErrorKind::Auth);
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ERR AuthenticationError");
}

#[test]
fn python_client_to_our_unix_listener() {
    let p = sock("client");
    serve_python_client(&format!("unix:{p}"), &p);
}

#[test]
fn python_client_to_our_tcp_listener() {
    serve_python_client("tcp:127.0.0.1:0", "");
}

const PY_LISTENER: &str = r#"
import sys
from multiprocessing.connection import Listener
l = Listener(sys.argv[1], authkey=sys.argv[2].encode())
print('ready', flush=True)
try:
    c = l.accept()
except Exception as e:
    print('ERR', type(e).__name__, flush=True)
    sys.exit(3)
m = c.recv_bytes()
c.send_bytes(m[::-1])
c.close()
print('OK', flush=True)
"#;

fn python_listener(path: &str, k: &str) -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    let mut child = python(PY_LISTENER, &[path, k]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    (child, out)
}

#[test]
fn our_client_to_python_listener() {
    let p = sock("listener");
    let (mut child, mut out) = python_listener(&p, "k3y");
    let c = connect(&format!("unix:{p}"), &key(b"k3y"), T).unwrap();
    c.send_bytes(b"abc").unwrap();
    assert_eq!(c.recv_bytes_timeout(T).unwrap(), b"cba");
    assert_eq!(c.recv_bytes_timeout(T).unwrap_err().kind(), ErrorKind::Eof, "Python closed its end");
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "OK");
    assert!(child.wait().unwrap().success());
}

#[test]
fn our_client_with_a_wrong_key_is_refused_by_python() {
    let p = sock("wrongkey");
    let (mut child, mut out) = python_listener(&p, "right");
    assert_eq!(connect(&format!("unix:{p}"), &key(b"wrong"), T).unwrap_err().kind(), ErrorKind::Auth);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ERR AuthenticationError");
    let _ = child.wait();
    let _ = std::fs::remove_file(&p);
}

/// Python 3.12+'s handshake (`{sha256}` challenge of 40 random bytes, MAC
/// over the prefix too, `{digest}`-prefixed answers, SHA-256 by default),
/// written with Python's own `hmac` and `socket` by following 3.12's
/// `deliver_challenge` / `answer_challenge` line by line: the interpreter on
/// this machine (3.11) only speaks the legacy form. The script is the
/// client: it answers our challenge, then challenges us with `{sha256}`.
const PY_MODERN_CLIENT: &str = r#"
import hmac, os, socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); key = sys.argv[2].encode()
def send(b): s.sendall(struct.pack('!i', len(b)) + b)
def recv():
    def exact(n):
        b = b''
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c: raise EOFError
            b += c
        return b
    return exact(struct.unpack('!i', exact(4))[0])
# answer_challenge (3.12)
msg = recv(); assert msg.startswith(b'#CHALLENGE#'), msg
msg = msg[len(b'#CHALLENGE#'):]
assert msg.startswith(b'{sha256}') and len(msg) == 8 + 40, msg
send(b'{sha256}' + hmac.new(key, msg, 'sha256').digest())
if recv() != b'#WELCOME#': print('REJECTED'); sys.exit(3)
# deliver_challenge (3.12), with a digest the caller picks
digest = sys.argv[3]
msg = b'{' + digest.encode() + b'}' + os.urandom(40)
send(b'#CHALLENGE#' + msg)
resp = recv()
want = b'{' + digest.encode() + b'}' + hmac.new(key, msg, digest).digest()
if not hmac.compare_digest(resp, want): send(b'#FAILURE#'); print('BAD ANSWER', resp); sys.exit(4)
send(b'#WELCOME#')
send(b'modern ok')
print('OK', flush=True)
"#;

#[test]
fn python_312_style_handshake_with_sha256_and_sha384() {
    for digest in ["sha256", "sha384"] {
        let p = sock(&format!("modern-{digest}"));
        let l = Listener::bind(&format!("unix:{p}"), &key(b"modern")).unwrap();
        let child = python(PY_MODERN_CLIENT, &[&p, "modern", digest]);
        let c = l.accept(T).unwrap();
        assert_eq!(c.recv_bytes_timeout(T).unwrap(), b"modern ok");
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{digest}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A wrong key fails on our side with Auth, and the script sees the rejection.
    let p = sock("modern-wrong");
    let l = Listener::bind(&format!("unix:{p}"), &key(b"right")).unwrap();
    let child = python(PY_MODERN_CLIENT, &[&p, "wrong", "sha256"]);
    assert_eq!(l.accept(T).unwrap_err().kind(), ErrorKind::Auth);
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "REJECTED");
}
