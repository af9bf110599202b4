//! A throwaway Redis server for the unit tests of the Redis backend: its
//! own directory, a free loopback port and a unix socket, `--hz 100`
//! (server-side timeouts end within ~10 ms), AOF with `appendfsync always`
//! (so a restart keeps every acknowledged write), killed on drop.
//!
//! The binary is `redis-server` on PATH (scripts/install-deps.sh installs
//! it), or `$MPIPC_TEST_REDIS_SERVER` (e.g. Valkey's `valkey-server`).
//! Without one the tests fail under `CI=true` and are skipped loudly
//! elsewhere.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running test server.
pub struct TestServer {
    child: Option<Child>,
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    /// The server's directory (AOF, log, socket).
    pub dir: PathBuf,
    /// Extra arguments it was started with (kept for a restart).
    args: Vec<String>,
}

impl TestServer {
    /// Starts a server, or `None` (after saying so on stderr) when no
    /// server binary is installed and `CI` is not `true`.
    pub fn start() -> Option<TestServer> {
        TestServer::start_with(&[])
    }

    /// [`TestServer::start`] with extra `redis-server` arguments (e.g.
    /// `["--requirepass", "pw"]`).
    pub fn start_with(extra: &[&str]) -> Option<TestServer> {
        let bin = binary();
        if Command::new(&bin).arg("--version").stdout(Stdio::null()).status().is_err() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{bin} not found: scripts/install-deps.sh installs redis-server"
            );
            eprintln!("SKIPPED: {bin} not found (scripts/install-deps.sh installs redis-server)");
            return None;
        }
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        // Relaxed: a unique number, nothing else is ordered by it.
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("mpipc-redis-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test server directory");
        let mut server = TestServer { child: None, port: 0, dir, args: extra.iter().map(|s| s.to_string()).collect() };
        server.launch(None);
        Some(server)
    }

    /// `redis://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The unix socket's path.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("redis.sock")
    }

    /// `redis+unix://PATH` (no trailing slash).
    pub fn unix_url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    /// Kills the server with SIGKILL and starts it again on the same port
    /// and directory (its AOF brings back every acknowledged write).
    pub fn restart(&mut self) {
        self.kill();
        self.launch(Some(self.port));
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn launch(&mut self, port: Option<u16>) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let port = port.unwrap_or_else(free_port);
            let mut cmd = Command::new(binary());
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"])
                .args(["--appendfsync", "always", "--hz", "100", "--daemonize", "no", "--unixsocketperm", "700"])
                .arg("--dir")
                .arg(&self.dir)
                .arg("--unixsocket")
                .arg(self.socket())
                .args(&self.args)
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(self.dir.join("server.log")).expect("log"))
                .stderr(Stdio::null());
            let mut child = cmd.spawn().expect("start the test redis server");
            // Ready when it answers a PING (over the socket, which needs
            // no password in the reply check: NOAUTH counts as an answer).
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // exited: the port was taken; try another
                }
                if answers_ping(port) {
                    self.child = Some(child);
                    self.port = port;
                    return;
                }
                assert!(Instant::now() < deadline, "the test redis server did not start; see {:?}", self.dir);
                std::thread::sleep(Duration::from_millis(5));
            }
            assert!(Instant::now() < deadline, "the test redis server did not start; see {:?}", self.dir);
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn binary() -> String {
    std::env::var("MPIPC_TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned())
}

/// A port the kernel just handed out (closed again: the server binds it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Whether a server on `port` answers `PING` (or refuses it for want of a
/// password: it is up either way).
fn answers_ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(n) if n > 0 && (buf[..n].starts_with(b"+PONG") || buf[..n].starts_with(b"-NOAUTH")))
}
