use std::time::Instant;
fn main() {
    let mut c = redis::Client::open("redis://127.0.0.1:6390/").unwrap().get_connection().unwrap();
    let k = ["mpipc:q:{m}:items", "mpipc:q:{m}:meta", "mpipc:q:{m}:room", "mpipc:q:{m}:done", "mpipc:q:{m}:shut"];
    let _: () = redis::cmd("DEL").arg(&k[..]).query(&mut c).unwrap();
    let _: redis::Value = redis::cmd("FCALL").arg("mpipc_1_q_open").arg(5).arg(&k[..]).arg("c").arg(0).arg(0).arg("amo").query(&mut c).unwrap();
    let msg = vec![b'x'; 100];
    let mk: Vec<(&str, redis::Cmd)> = vec![
        ("RPUSH", { let mut x = redis::cmd("RPUSH"); x.arg(k[0]).arg(&msg[..]); x }),
        ("RPUSH+HINCRBY pipelined", redis::Cmd::new()),
        ("FCALL bare_rpush", { let mut x = redis::cmd("FCALL"); x.arg("bare_rpush").arg(1).arg(k[0]).arg(&msg[..]); x }),
        ("FCALL fast_put", { let mut x = redis::cmd("FCALL"); x.arg("fast_put").arg(5).arg(&k[..]).arg("-").arg(&msg[..]); x }),
        ("FCALL mpipc_1_q_put", { let mut x = redis::cmd("FCALL"); x.arg("mpipc_1_q_put").arg(5).arg(&k[..]).arg("-").arg(&msg[..]); x }),
    ];
    let mut p = redis::pipe(); p.cmd("RPUSH").arg(k[0]).arg(&msg[..]).cmd("HINCRBY").arg(k[1]).arg("unfinished").arg(1);
    let mut res: Vec<Vec<f64>> = vec![vec![]; mk.len()];
    for _ in 0..15000 { for (i, (name, cmd)) in mk.iter().enumerate() {
        let t = Instant::now();
        if *name == "RPUSH+HINCRBY pipelined" { let _: (i64, i64) = p.query(&mut c).unwrap(); } else { let _: i64 = cmd.query(&mut c).unwrap(); }
        res[i].push(t.elapsed().as_secs_f64() * 1e6);
    } }
    for (i, (name, _)) in mk.iter().enumerate() { let v = &mut res[i]; v.sort_by(|a, b| a.partial_cmp(b).unwrap()); println!("{name:<26} p50 {:.1} µs  p90 {:.1} µs", v[v.len()/2], v[v.len()*9/10]); }
    let _: () = redis::cmd("DEL").arg(&k[..]).query(&mut c).unwrap();
}
