use std::time::{Duration, Instant};
fn main() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap(); let p = l.local_addr().unwrap().port();
    let info = redis::ConnectionInfo { addr: redis::ConnectionAddr::Tcp("127.0.0.1".into(), p), redis: Default::default() };
    let mut c = redis::Client::open(info).unwrap().get_connection_with_timeout(Duration::from_millis(300)).unwrap();
    let deadline = Instant::now() + Duration::from_millis(300);
    let mut pp = redis::pipe(); pp.cmd("AUTH").arg("pw").cmd("SELECT").arg(1).cmd("FUNCTION").arg("LIST").arg("LIBRARYNAME").arg("mpipc_1");
    let t1 = Instant::now();
    c.send_packed_command(&pp.get_packed_pipeline()).unwrap();
    let mut out = vec![];
    for _ in 0..3 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() { out.push(Err("deadline".to_string())); break; }
        c.set_read_timeout(Some(left)).unwrap();
        match c.recv_response() { Ok(v) => out.push(Ok(format!("{v:?}"))), Err(e) => { out.push(Err(format!("{:?} timeout={}", e.kind(), e.is_timeout()))); break } }
    }
    println!("send_packed_command + recv_response with one deadline: {:?} after {:?}", out, t1.elapsed());
}
