use redis::{ConnectionAddr, ConnectionInfo, RedisConnectionInfo, ProtocolVersion};
use std::time::{Duration, Instant};

fn info(addr: ConnectionAddr, password: Option<&str>) -> ConnectionInfo {
    ConnectionInfo { addr, redis: RedisConnectionInfo { db: 0, username: None, password: password.map(Into::into), protocol: ProtocolVersion::RESP2 } }
}
fn describe(what: &str, r: redis::RedisResult<redis::Connection>, t0: Instant) {
    match r {
        Ok(_) => println!("{what}: connected in {:?}", t0.elapsed()),
        Err(e) => println!(
            "{what}: after {:?}: kind={:?} code={:?} timeout={} refused={} dropped={} io={:?} msg={e}",
            t0.elapsed(), e.kind(), e.code(), e.is_timeout(), e.is_connection_refusal(), e.is_connection_dropped(),
            std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>()).map(|i| i.kind())
        ),
    }
}
fn main() {
    let tcp = |p| ConnectionAddr::Tcp("127.0.0.1".into(), p);
    let to = Duration::from_millis(300);
    // 1. refused
    let t0 = Instant::now(); describe("refused", redis::Client::open(info(tcp(6399), None)).unwrap().get_connection_with_timeout(to), t0);
    // 2. a listener that accepts (kernel backlog) and never answers: handshake must be bounded
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap(); let p = l.local_addr().unwrap().port();
    let t0 = Instant::now(); describe("silent server, with password (AUTH unanswered)", redis::Client::open(info(tcp(p), Some("x"))).unwrap().get_connection_with_timeout(to), t0);
    let t0 = Instant::now(); describe("silent server, no password (CLIENT SETINFO unanswered)", redis::Client::open(info(tcp(p), None)).unwrap().get_connection_with_timeout(to), t0);
    // 3. wrong password, no password on a protected server
    let t0 = Instant::now(); describe("wrong password", redis::Client::open(info(tcp(6392), Some("bad"))).unwrap().get_connection_with_timeout(to), t0);
    let t0 = Instant::now();
    let mut c = redis::Client::open(info(tcp(6392), None)).unwrap().get_connection_with_timeout(to).unwrap();
    let r: redis::RedisResult<String> = redis::cmd("PING").query(&mut c);
    match r { Ok(v) => println!("no password: {v}"), Err(e) => println!("no password: connect ok, first command: kind={:?} code={:?} {e} ({:?})", e.kind(), e.code(), t0.elapsed()) }
    let t0 = Instant::now(); describe("right password", redis::Client::open(info(tcp(6392), Some("s3cret"))).unwrap().get_connection_with_timeout(to), t0);
    // 4. unix socket + URL forms
    let t0 = Instant::now(); describe("unix socket", redis::Client::open(info(ConnectionAddr::Unix("/tmp/r22/srv/redis.sock".into()), None)).unwrap().get_connection_with_timeout(to), t0);
    for u in ["redis://127.0.0.1:6390/0", "redis://:pw@h:1/2", "redis://u:p%40x@h/3", "redis+unix:///tmp/r22/srv/redis.sock?db=1&pass=x", "unix:///tmp/s.sock", "rediss://h:1", "redis://h:1/0/jobs", "valkey://h"] {
        match redis::Client::open(u) { Ok(c) => println!("url {u}: {:?} db={} user={:?} pass={:?}", c.get_connection_info().addr, c.get_connection_info().redis.db, c.get_connection_info().redis.username, c.get_connection_info().redis.password),
            Err(e) => println!("url {u}: ERR kind={:?} {e}", e.kind()) }
    }
    // 5. scripts: NOSCRIPT auto reload; our error codes
    let mut c = redis::Client::open(info(tcp(6390), None)).unwrap().get_connection_with_timeout(to).unwrap();
    let s = redis::Script::new("if ARGV[1] == 'e' then return redis.error_reply('MPIPC_TYPE the value is text') end return 7");
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
    let v: i64 = s.arg("x").invoke(&mut c).unwrap(); println!("script after SCRIPT FLUSH: {v} (auto SCRIPT LOAD)");
    let e = s.arg("e").invoke::<i64>(&mut c).unwrap_err(); println!("script error: kind={:?} code={:?} detail={:?}", e.kind(), e.code(), e.detail());
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
    let mut p = redis::pipe(); p.cmd("SET").arg("k").arg(1).invoke_script(&s.arg("x")).cmd("INCR").arg("k");
    match p.query::<(String, i64, i64)>(&mut c) { Ok(v) => println!("pipeline after flush: {v:?}"), Err(e) => println!("pipeline after flush: kind={:?} {e}", e.kind()) }
    // 6. BLMPOP with a read timeout larger than the block; CLIENT UNBLOCK from a second connection
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut c).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let h = std::thread::spawn(move || {
        let mut c2 = redis::Client::open(info(tcp(6390), None)).unwrap().get_connection().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let n: i64 = redis::cmd("CLIENT").arg("UNBLOCK").arg(id).arg("ERROR").query(&mut c2).unwrap(); n
    });
    let t0 = Instant::now();
    let r: redis::RedisResult<Option<(String, Vec<Vec<u8>>)>> = redis::cmd("BLMPOP").arg(3).arg(1).arg("nokey").arg("LEFT").query(&mut c);
    println!("BLMPOP unblocked by CLIENT UNBLOCK after {:?}: {:?} (unblock returned {})", t0.elapsed(), r.as_ref().map_err(|e| (e.kind(), e.code().map(String::from))), h.join().unwrap());
    let ok: String = redis::cmd("PING").query(&mut c).unwrap(); println!("connection still usable: {ok}");
    // 7. read timeout shorter than the block: error kind, then is the connection in sync?
    c.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let r: redis::RedisResult<Option<(String, Vec<Vec<u8>>)>> = redis::cmd("BLMPOP").arg(0.3).arg(1).arg("nokey").arg("LEFT").query(&mut c);
    println!("read timeout < block: {:?}", r.as_ref().map_err(|e| (e.kind(), e.is_timeout())));
    std::thread::sleep(Duration::from_millis(400));
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let r: redis::RedisResult<String> = redis::cmd("ECHO").arg("after").query(&mut c);
    println!("next command after a timed-out read: {:?}", r.map_err(|e| e.to_string()));
    // 8. fork: the child must not use the parent's connection; dropping it in the child is harmless
    let mut pc = redis::Client::open(info(tcp(6390), None)).unwrap().get_connection().unwrap();
    let pid_parent = unsafe { libc::getpid() };
    let child = unsafe { libc::fork() };
    if child == 0 {
        // what the pid check does: drop the inherited connection (close(2) of our copy only), connect anew
        drop(pc);
        let mut cc = redis::Client::open(info(tcp(6390), None)).unwrap().get_connection().unwrap();
        let v: String = redis::cmd("ECHO").arg("child").query(&mut cc).unwrap();
        assert_eq!(v, "child");
        unsafe { libc::_exit(0) };
    }
    let mut st = 0; unsafe { libc::waitpid(child, &mut st, 0) };
    let v: String = redis::cmd("ECHO").arg("parent").query(&mut pc).unwrap();
    println!("fork: parent {pid_parent} connection still fine after the child dropped its copy: {v}; child status {st}");
    // 9. server gone mid-connection: kill the password server's connections via CLIENT KILL, then use
    let mut k = redis::Client::open(info(tcp(6390), None)).unwrap().get_connection().unwrap();
    let kid: i64 = redis::cmd("CLIENT").arg("ID").query(&mut k).unwrap();
    let _: i64 = redis::cmd("CLIENT").arg("KILL").arg("ID").arg(kid).query(&mut c).unwrap();
    let r: redis::RedisResult<String> = redis::cmd("PING").query(&mut k);
    if let Err(e) = &r { println!("connection killed by the server: kind={:?} dropped={} unrecoverable={} io={:?}", e.kind(), e.is_connection_dropped(), e.is_unrecoverable_error(), std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>()).map(|i| i.kind())); }
    let r: redis::RedisResult<String> = redis::cmd("PING").query(&mut k);
    if let Err(e) = &r { println!("  and again: kind={:?} dropped={} open={}", e.kind(), e.is_connection_dropped(), redis::ConnectionLike::is_open(&k)); }
}
