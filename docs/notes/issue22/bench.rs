use redis::{Connection, ConnectionAddr, ConnectionInfo, RedisConnectionInfo};
use std::time::{Duration, Instant};
fn conn(unix: bool) -> Connection {
    let addr = if unix { ConnectionAddr::Unix("/tmp/r22/srv/redis.sock".into()) } else { ConnectionAddr::Tcp("127.0.0.1".into(), 6390) };
    let c = redis::Client::open(ConnectionInfo { addr, redis: RedisConnectionInfo::default() }).unwrap();
    c.get_connection_with_timeout(Duration::from_secs(1)).unwrap()
}
const K: [&str; 5] = ["mpipc:q:{b}:items", "mpipc:q:{b}:meta", "mpipc:q:{b}:room", "mpipc:q:{b}:done", "mpipc:q:{b}:shut"];
fn fcall(name: &str, keys: &[&str]) -> redis::Cmd { let mut c = redis::cmd("FCALL"); c.arg(name).arg(keys.len()).arg(keys); c }
fn pct(mut v: Vec<f64>) -> String { v.sort_by(|a, b| a.partial_cmp(b).unwrap()); format!("p50 {:.1} µs, p99 {:.1} µs", v[v.len() / 2], v[v.len() * 99 / 100]) }
fn reset(c: &mut Connection, maxsize: u64) {
    let _: () = redis::cmd("DEL").arg(&K[..]).query(c).unwrap();
    let _: redis::Value = fcall("mpipc_1_q_open", &K).arg("c").arg(maxsize).arg(0).arg("amo").query(c).unwrap();
}
fn main() {
    let msg = vec![b'x'; 100];
    for unix in [false, true] {
        let tag = if unix { "unix" } else { "tcp " };
        let mut c = conn(unix);
        let _: () = redis::cmd("HSET").arg("h").arg("f").arg(&msg[..]).query(&mut c).unwrap();
        let mut v = vec![];
        for _ in 0..20000 { let t = Instant::now(); let _: Vec<u8> = redis::cmd("HGET").arg("h").arg("f").query(&mut c).unwrap(); v.push(t.elapsed().as_secs_f64() * 1e6); }
        println!("{tag} HGET round trip: {}", pct(v));
        reset(&mut c, 0);
        let (mut vp, mut vg, mut vl, mut vb) = (vec![], vec![], vec![], vec![]);
        for _ in 0..20000 {
            let t = Instant::now(); let _: i64 = fcall("mpipc_1_q_put", &K).arg("-").arg(&msg[..]).query(&mut c).unwrap(); vp.push(t.elapsed().as_secs_f64() * 1e6);
            let t = Instant::now(); let _: redis::Value = redis::cmd("BLMPOP").arg(1).arg(2).arg(K[0]).arg(K[4]).arg("LEFT").query(&mut c).unwrap(); vg.push(t.elapsed().as_secs_f64() * 1e6);
            let t = Instant::now(); let _: i64 = redis::cmd("RPUSH").arg(K[0]).arg(&msg[..]).query(&mut c).unwrap(); vl.push(t.elapsed().as_secs_f64() * 1e6);
            let t = Instant::now(); let _: redis::Value = redis::cmd("BLPOP").arg(K[0]).arg(1).query(&mut c).unwrap(); vb.push(t.elapsed().as_secs_f64() * 1e6);
        }
        println!("{tag} put (FCALL q_put): {} | plain RPUSH: {}", pct(vp), pct(vl));
        println!("{tag} get (BLMPOP items+shut): {} | plain BLPOP: {}", pct(vg), pct(vb));
        // streams of messages, 1 -> 1 and 2 x 2, one per call and batched
        for (np, nc, batch) in [(1, 1, 1), (1, 1, 256), (2, 2, 1), (2, 2, 256)] {
            reset(&mut c, 0);
            let total = if batch == 1 { 40000 } else { 1_000_000 };
            let per = total / np;
            let t0 = Instant::now();
            let mut hs = vec![];
            for _ in 0..np { let m = msg.clone(); hs.push(std::thread::spawn(move || {
                let mut c = conn(unix); let mut sent = 0;
                while sent < per { let n = batch.min(per - sent); let mut cmd = fcall("mpipc_1_q_put", &K); cmd.arg("-"); for _ in 0..n { cmd.arg(&m[..]); }
                    let k: usize = cmd.query(&mut c).unwrap(); sent += k; }
            })); }
            let got = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            for _ in 0..nc { let got = got.clone(); hs.push(std::thread::spawn(move || {
                let mut c = conn(unix);
                while got.load(std::sync::atomic::Ordering::Relaxed) < total {
                    let r: Option<(String, Vec<Vec<u8>>)> = redis::cmd("BLMPOP").arg(0.2).arg(2).arg(K[0]).arg(K[4]).arg("LEFT").arg("COUNT").arg(batch).query(&mut c).unwrap();
                    if let Some((_, v)) = r { got.fetch_add(v.len(), std::sync::atomic::Ordering::Relaxed); }
                }
            })); }
            for h in hs { h.join().unwrap(); }
            let s = t0.elapsed().as_secs_f64();
            println!("{tag} queue {np}x{nc} batch {batch:>3}: {:>9.0} msg/s ({} msgs of 100 B)", total as f64 / s, total);
        }
        // 2-client increments: HINCRBY vs the CBOR incr function
        for which in ["HINCRBY", "mpipc_1_d_incr"] {
            let _: () = redis::cmd("DEL").arg("mpipc:d:{s}").query(&mut c).unwrap();
            let n = 20000; let t0 = Instant::now();
            let hs: Vec<_> = (0..2).map(|_| std::thread::spawn(move || { let mut c = conn(unix); for _ in 0..n {
                if which == "HINCRBY" { let _: i64 = redis::cmd("HINCRBY").arg("mpipc:d:{s}").arg("hits").arg(1).query(&mut c).unwrap(); }
                else { let _: Vec<u8> = fcall("mpipc_1_d_incr", &["mpipc:d:{s}"]).arg(b"\x64hits".as_slice()).arg(b"\x01".as_slice()).query(&mut c).unwrap(); }
            } })).collect();
            for h in hs { h.join().unwrap(); }
            println!("{tag} 2-client {which}: {:.0} /s", 2.0 * n as f64 / t0.elapsed().as_secs_f64());
        }
    }
}
