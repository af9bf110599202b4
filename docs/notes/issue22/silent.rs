use std::time::{Duration, Instant};
fn main() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap(); let p = l.local_addr().unwrap().port();
    let info = redis::ConnectionInfo { addr: redis::ConnectionAddr::Tcp("127.0.0.1".into(), p), redis: Default::default() };
    let t0 = Instant::now();
    let mut c = redis::Client::open(info).unwrap().get_connection_with_timeout(Duration::from_millis(300)).unwrap();
    println!("connect with no handshake: {:?}", t0.elapsed());
    // our own handshake: one deadline for AUTH + SELECT + FUNCTION LIST pipelined
    let deadline = Instant::now() + Duration::from_millis(300);
    c.set_read_timeout(Some(deadline - Instant::now())).unwrap();
    let mut pp = redis::pipe(); pp.cmd("AUTH").arg("pw").cmd("SELECT").arg(1).cmd("FUNCTION").arg("LIST").arg("LIBRARYNAME").arg("mpipc_1");
    let t1 = Instant::now();
    let r: redis::RedisResult<redis::Value> = pp.query(&mut c);
    println!("own pipelined handshake against a silent server: {:?} after {:?} (timeout={})", r.as_ref().err().map(|e| e.kind()), t1.elapsed(), r.as_ref().err().map_or(false, |e| e.is_timeout()));
    drop(l);
}
