//! `mpipc-torture`: the queue's crash torture test.
//!
//! Runs producer and consumer *processes* (this binary, re-executed in a
//! role) on one small queue, kills random ones with SIGKILL at random
//! instants for many rounds, respawns them, then drains and checks:
//!
//! - exactly-once: every message whose put returned `Ok` was delivered
//!   exactly once, except at most one message (one batch for `get_many`)
//!   per consumer killed while inside a get;
//! - no duplicates, no corrupted payloads, ever;
//! - no deadlock: every phase finishes within a bound.
//!
//! Producers put one message, a batch, or one through a reservation
//! (`reserve`, write in place, `commit`); consumers take with `get`,
//! `get_into`, `get_many_into` or a view (`get_view`, copy, `release`), so
//! kills land inside claims too. With `--large 1` one message in five is
//! over `TWO_PHASE_MIN` bytes (put and got with the copy outside the lock)
//! in a larger ring.
//!
//! Bookkeeping lives in a shared log file the children map: per producer
//! the next sequence number to attempt (stored *before* the put, so a
//! respawned producer never reuses a number) and a bitmap of acknowledged
//! numbers (set *after* the put returns Ok); per consumer a "pending" count
//! (messages that may be lost if it dies now); per producer a bitmap of
//! delivered numbers (a bit found already set is a duplicate).
//!
//! Usage:
//!   mpipc-torture run [--rounds N] [--producers P] [--consumers C] [--seed S]
//!                     [--max-kill-gap-us U] [--max-seq M] [--timeout-s T] [--large 0|1]
//! Exit status 0 when every check holds; the last line of output summarises.

use mpipc::{ErrorKind, Queue, QueueOptions};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// Sizes of the log header (in u64 words) before the bitmaps.
const MAX_PRODUCERS: usize = 8;
const MAX_CONSUMERS: usize = 16;

/// The shared bookkeeping file, mapped by every process. Every access is
/// SeqCst: this is test bookkeeping, where simplicity beats speed.
struct Log {
    base: *mut u8,
    len: usize,
    max_seq: u64,
}

// Word indexes in the log header.
const W_STOP: usize = 0;
const W_CORRUPT: usize = 1;
const W_DUPLICATE: usize = 2;
const W_DELIVERED: usize = 3;
const W_PRODUCERS: usize = 8; // [attempted] per producer
const W_CONSUMERS: usize = W_PRODUCERS + MAX_PRODUCERS; // [pending] per consumer
const HEADER_WORDS: usize = W_CONSUMERS + MAX_CONSUMERS;

impl Log {
    fn open(path: &str, max_seq: u64, create: bool) -> Log {
        let bitmap = (max_seq as usize).div_ceil(8);
        let len = HEADER_WORDS * 8 + 2 * MAX_PRODUCERS * bitmap;
        let f = std::fs::OpenOptions::new().read(true).write(true).create(create).open(path).expect("open log");
        if create {
            f.set_len(len as u64).expect("size log");
        }
        use std::os::fd::AsRawFd;
        // SAFETY: mapping a file we opened, shared, of the length we sized.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED, "mmap log");
        Log { base: p.cast(), len, max_seq }
    }

    fn word(&self, i: usize) -> &AtomicU64 {
        assert!(i < HEADER_WORDS);
        // SAFETY: i is within the header; the mapping is page-aligned so every
        // word is 8-aligned; AtomicU64 has the layout of u64.
        unsafe { &*(self.base.add(i * 8) as *const AtomicU64) }
    }

    fn attempted(&self, p: usize) -> &AtomicU64 {
        self.word(W_PRODUCERS + p)
    }

    fn pending(&self, c: usize) -> &AtomicU64 {
        self.word(W_CONSUMERS + c)
    }

    /// Byte of bitmap `which` (0 = delivered, 1 = acknowledged) of producer p.
    fn bitmap_byte(&self, which: usize, p: usize, seq: u64) -> &AtomicU8 {
        let bitmap = (self.max_seq as usize).div_ceil(8);
        let off = HEADER_WORDS * 8 + (which * MAX_PRODUCERS + p) * bitmap + (seq / 8) as usize;
        assert!(off < self.len);
        // SAFETY: off is inside the mapping (checked); AtomicU8 has u8's layout.
        unsafe { &*(self.base.add(off) as *const AtomicU8) }
    }

    /// Records a delivery; returns false if it was already delivered.
    fn deliver(&self, p: usize, seq: u64) -> bool {
        let bit = 1u8 << (seq % 8);
        self.bitmap_byte(0, p, seq).fetch_or(bit, Ordering::SeqCst) & bit == 0
    }

    fn delivered(&self, p: usize, seq: u64) -> bool {
        self.bitmap_byte(0, p, seq).load(Ordering::SeqCst) & (1u8 << (seq % 8)) != 0
    }

    /// Records that the put of `seq` returned Ok.
    fn ack(&self, p: usize, seq: u64) {
        self.bitmap_byte(1, p, seq).fetch_or(1u8 << (seq % 8), Ordering::SeqCst);
    }

    fn acked_bit(&self, p: usize, seq: u64) -> bool {
        self.bitmap_byte(1, p, seq).load(Ordering::SeqCst) & (1u8 << (seq % 8)) != 0
    }
}

/// The payload of message `seq` of producer `p`: a 16-byte header then a
/// filler whose length and bytes derive from (p, seq), so any corruption or
/// mix-up is detected. With `large`, one number in five gets a message
/// over `TWO_PHASE_MIN` bytes.
fn payload_sized(p: usize, seq: u64, large: bool) -> Vec<u8> {
    let mut filler = ((seq * 7 + p as u64) % 300) as usize;
    if large && seq % 5 == 0 {
        filler += mpipc::queue::TWO_PHASE_MIN;
    }
    let mut v = Vec::with_capacity(16 + filler);
    v.extend_from_slice(&(p as u32).to_le_bytes());
    v.extend_from_slice(&(filler as u32).to_le_bytes());
    v.extend_from_slice(&seq.to_le_bytes());
    v.extend((0..filler).map(|i| (seq as usize).wrapping_add(i * 31 + p) as u8));
    v
}

fn parse_payload(m: &[u8]) -> Option<(usize, u64)> {
    if m.len() < 16 {
        return None;
    }
    let p = u32::from_le_bytes(m[0..4].try_into().ok()?) as usize;
    let seq = u64::from_le_bytes(m[8..16].try_into().ok()?);
    (p < MAX_PRODUCERS && payload_sized(p, seq, m.len() > 16 + 300) == m).then_some((p, seq))
}

/// A small deterministic PRNG (xorshift64*), enough for picking victims.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.windows(2)
        .find(|w| w[0] == name)
        .map(|w| w[1].parse().unwrap_or_else(|_| panic!("{name} takes a number")))
        .unwrap_or(default)
}

fn sarg<'a>(args: &'a [String], name: &str) -> &'a str {
    args.windows(2).find(|w| w[0] == name).map(|w| w[1].as_str()).unwrap_or_else(|| panic!("missing {name}"))
}

fn producer(args: &[String]) {
    let (queue, log_path) = (sarg(args, "--queue"), sarg(args, "--log"));
    let id = arg(args, "--id", 0) as usize;
    let log = Log::open(log_path, arg(args, "--max-seq", 0), false);
    let q = Queue::open(queue, &QueueOptions::default()).expect("producer open");
    let mut rng = Rng(arg(args, "--seed", 1) | 1);
    let large = arg(args, "--large", 0) == 1;
    loop {
        if log.word(W_STOP).load(Ordering::SeqCst) != 0 {
            return;
        }
        let first = log.attempted(id).load(Ordering::SeqCst);
        let batch = if rng.below(4) == 0 { 1 + rng.below(8) } else { 1 };
        if first + batch > log.max_seq {
            return;
        }
        // Burn the numbers before trying, so a respawn never reuses one.
        log.attempted(id).store(first + batch, Ordering::SeqCst);
        let msgs: Vec<Vec<u8>> = (first..first + batch).map(|s| payload_sized(id, s, large)).collect();
        let put = if batch == 1 && rng.below(3) == 0 {
            // Zero-copy: reserve a little more than needed, write in place,
            // commit the message's length.
            let m = &msgs[0];
            q.reserve(m.len() + rng.below(64) as usize, Some(Duration::from_millis(200))).and_then(|mut r| {
                r[..m.len()].copy_from_slice(m);
                r.commit(m.len()).map(|_| 1)
            })
        } else if batch == 1 {
            q.put_bytes_timeout(&msgs[0], Some(Duration::from_millis(200))).map(|_| 1)
        } else {
            q.put_many(&msgs, Some(Duration::from_millis(200)))
        };
        match put {
            Ok(n) => {
                for s in first..first + n as u64 {
                    log.ack(id, s);
                }
            }
            Err(e) if e.kind() == ErrorKind::Full => {}
            Err(e) if e.kind() == ErrorKind::Shutdown => return,
            Err(e) => panic!("producer {id}: {e}"),
        }
    }
}

fn consumer(args: &[String]) {
    let (queue, log_path) = (sarg(args, "--queue"), sarg(args, "--log"));
    let id = arg(args, "--id", 0) as usize;
    let log = Log::open(log_path, arg(args, "--max-seq", 0), false);
    let q = Queue::open(queue, &QueueOptions::default()).expect("consumer open");
    let mut rng = Rng(arg(args, "--seed", 1) | 1);
    let mut buf = vec![0u8; 4096 + mpipc::queue::TWO_PHASE_MIN];
    let mut lens = [0usize; 8];
    let timeout = Some(Duration::from_millis(200));
    loop {
        let mode = rng.below(4);
        let may_lose = if mode == 2 { lens.len() as u64 } else { 1 };
        log.pending(id).store(may_lose, Ordering::SeqCst);
        let got: Result<Vec<Vec<u8>>, mpipc::Error> = match mode {
            0 => q.get_bytes_timeout(timeout).map(|m| vec![m]),
            1 => q.get_into(&mut buf, timeout).map(|n| vec![buf[..n].to_vec()]),
            3 => q.get_view(timeout).and_then(|v| {
                let m = v.to_vec();
                v.release().map(|_| vec![m])
            }),
            _ => q.get_many_into(&mut buf, &mut lens, timeout).map(|(n, _)| {
                let mut off = 0;
                lens[..n]
                    .iter()
                    .map(|&l| {
                        off += l;
                        buf[off - l..off].to_vec()
                    })
                    .collect()
            }),
        };
        match got {
            Ok(msgs) => {
                for m in msgs {
                    match parse_payload(&m) {
                        Some((p, seq)) if seq < log.max_seq => {
                            if !log.deliver(p, seq) {
                                log.word(W_DUPLICATE).fetch_add(1, Ordering::SeqCst);
                            }
                            log.word(W_DELIVERED).fetch_add(1, Ordering::SeqCst);
                        }
                        _ => {
                            log.word(W_CORRUPT).fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
                log.pending(id).store(0, Ordering::SeqCst);
            }
            Err(e) if e.kind() == ErrorKind::Empty => log.pending(id).store(0, Ordering::SeqCst),
            Err(e) if e.kind() == ErrorKind::Shutdown => {
                log.pending(id).store(0, Ordering::SeqCst);
                return;
            }
            Err(e) => panic!("consumer {id}: {e}"),
        }
    }
}

struct Role {
    producer: bool,
    id: usize,
    child: Child,
    spawned: u64,
}

fn run(args: &[String]) -> bool {
    let rounds = arg(args, "--rounds", 200);
    let producers = (arg(args, "--producers", 2) as usize).clamp(1, MAX_PRODUCERS);
    let consumers = (arg(args, "--consumers", 2) as usize).clamp(1, MAX_CONSUMERS);
    let seed = arg(
        args,
        "--seed",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64,
    );
    let gap_us = arg(args, "--max-kill-gap-us", 3000);
    let max_seq = arg(args, "--max-seq", 64 << 20);
    let bound = Duration::from_secs(arg(args, "--timeout-s", 60));
    let large = arg(args, "--large", 0);
    let pid = std::process::id();
    let queue = format!("torture-{pid}");
    let log_path = format!("/dev/shm/mpipc-torture-{pid}.log");
    println!(
        "torture: seed={seed} rounds={rounds} producers={producers} consumers={consumers} max_kill_gap_us={gap_us} \
         large={large}"
    );
    let _ = Queue::unlink(&queue);
    let capacity = if large == 1 { 8 * mpipc::queue::TWO_PHASE_MIN } else { 4096 };
    let q = Queue::open(&queue, &QueueOptions { maxsize: 32, capacity_bytes: capacity, ..Default::default() })
        .expect("create queue");
    let log = Log::open(&log_path, max_seq, true);
    let exe = std::env::current_exe().expect("current_exe");
    let mut rng = Rng(seed | 1);
    let spawn = |producer: bool, id: usize, n: u64| -> Child {
        Command::new(&exe)
            .arg(if producer { "producer" } else { "consumer" })
            .args(["--queue", &queue, "--log", &log_path, "--id", &id.to_string()])
            .args(["--max-seq", &max_seq.to_string(), "--seed", &(seed ^ (id as u64 * 7919) ^ (n << 20)).to_string()])
            .args(["--large", &large.to_string()])
            .spawn()
            .expect("spawn child")
    };
    let mut roles: Vec<Role> = (0..producers)
        .map(|id| Role { producer: true, id, child: spawn(true, id, 0), spawned: 1 })
        .chain((0..consumers).map(|id| Role { producer: false, id, child: spawn(false, id, 0), spawned: 1 }))
        .collect();

    let started = Instant::now();
    let (mut kills_p, mut kills_c, mut allowed_loss) = (0u64, 0u64, 0u64);
    for _ in 0..rounds {
        std::thread::sleep(Duration::from_micros(rng.below(gap_us + 1)));
        let victim = &mut roles[rng.below(producers as u64 + consumers as u64) as usize];
        if victim.child.try_wait().expect("try_wait").is_some() {
            continue; // a producer that reached max_seq; nothing to kill
        }
        let _ = victim.child.kill(); // SIGKILL
        let _ = victim.child.wait();
        if victim.producer {
            kills_p += 1;
        } else {
            kills_c += 1;
            allowed_loss += log.pending(victim.id).swap(0, Ordering::SeqCst);
        }
        victim.child = spawn(victim.producer, victim.id, victim.spawned);
        victim.spawned += 1;
    }
    let kill_phase = started.elapsed();

    // Drain: stop producers, wait for them, let consumers empty the queue,
    // then shut it down so consumers exit. Each phase is bounded: a phase
    // that does not end is a deadlock.
    log.word(W_STOP).store(1, Ordering::SeqCst);
    let deadline = Instant::now() + bound;
    let mut ok = true;
    let wait_all = |roles: &mut Vec<Role>, producer: bool| -> bool {
        for r in roles.iter_mut().filter(|r| r.producer == producer) {
            loop {
                match r.child.try_wait().expect("try_wait") {
                    Some(st) if st.success() => break,
                    Some(st) => {
                        println!(
                            "torture: FAIL: {} {} exited with {st}",
                            if producer { "producer" } else { "consumer" },
                            r.id
                        );
                        return false;
                    }
                    None if Instant::now() > deadline => {
                        println!(
                            "torture: FAIL: deadlock: {} {} still running",
                            if producer { "producer" } else { "consumer" },
                            r.id
                        );
                        return false;
                    }
                    None => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        }
        true
    };
    ok &= wait_all(&mut roles, true);
    while ok && q.qsize().expect("qsize") > 0 {
        if Instant::now() > deadline {
            println!("torture: FAIL: deadlock: queue not drained ({} left)", q.qsize().unwrap());
            ok = false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    q.shutdown(false).expect("shutdown");
    ok &= wait_all(&mut roles, false);
    for r in roles.iter_mut() {
        let _ = r.child.kill();
        let _ = r.child.wait();
    }

    // Exactly-once check.
    // Every message whose put returned Ok (its ack bit is set) must have
    // been delivered, but for at most `allowed_loss` taken by consumers
    // killed inside a get. Numbers burnt by a failed or partial put were
    // never put and have no ack bit.
    let (mut acked_total, mut lost) = (0u64, 0u64);
    for p in 0..producers {
        for s in 0..log.attempted(p).load(Ordering::SeqCst).min(max_seq) {
            if log.acked_bit(p, s) {
                acked_total += 1;
                if !log.delivered(p, s) {
                    lost += 1;
                }
            }
        }
    }
    let delivered = log.word(W_DELIVERED).load(Ordering::SeqCst);
    let dups = log.word(W_DUPLICATE).load(Ordering::SeqCst);
    let corrupt = log.word(W_CORRUPT).load(Ordering::SeqCst);
    let q_after = q.qsize().expect("qsize after");
    println!(
        "torture: kills={} (producers {kills_p}, consumers {kills_c}) acked={acked_total} delivered={delivered} \
         duplicates={dups} corrupt={corrupt} lost_acked={lost} (allowed {allowed_loss}: consumers killed inside a get) \
         owner_deaths_recovered={} \
         kill_phase={:.2}s total={:.2}s",
        kills_p + kills_c,
        q.owner_deaths(),
        kill_phase.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    drop(q);
    let _ = Queue::unlink(&queue);
    let _ = std::fs::remove_file(&log_path);
    ok && dups == 0 && corrupt == 0 && q_after == 0 && lost <= allowed_loss
}

/// `die-in-put --queue NAME --commit 0|1`: behaves like a process killed in
/// the middle of a put, deterministically. It locks the queue's mutex, writes
/// a record ("from-the-dead") into free ring space and the new state into
/// the scratch slot; with `--commit 1` it also flips `current` (the commit
/// store). Then it prints "ready" and waits to be SIGKILLed while holding
/// the lock, before it could unlock or wake anyone.
///
/// It pokes the segment through the offsets of docs/PROTOCOL.md (asserted by
/// the layout unit test), as a foreign implementation would.
fn die_in_put(args: &[String]) {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let name = sarg(args, "--queue");
    let commit = arg(args, "--commit", 0) == 1;
    let f = std::fs::OpenOptions::new().read(true).write(true).open(format!("/dev/shm/mpipc.q.{name}")).expect("open");
    let len = f.metadata().expect("stat").len() as usize;
    // SAFETY: mapping the whole segment file, shared.
    let base = unsafe {
        libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, f.as_raw_fd(), 0)
    } as *mut u8;
    assert_ne!(base as *mut libc::c_void, libc::MAP_FAILED);
    // SAFETY: offsets from docs/PROTOCOL.md, all inside the segment; the
    // mutex at 64 was initialised by the creator; we hold it while writing.
    unsafe {
        let word = |off: usize| &*(base.add(off) as *const AtomicU64);
        let capacity = word(40).load(Ordering::Relaxed);
        let data = base.add(word(56).load(Ordering::Relaxed) as usize); // data_offset
        assert_eq!(libc::pthread_mutex_lock(base.add(64) as *mut libc::pthread_mutex_t), 0);
        let current = (*(base.add(128) as *const std::sync::atomic::AtomicU32)).load(Ordering::Relaxed) & 1;
        // State slots of layout version 2: 7 u64 from 136, 56 bytes apart.
        let live = 136 + 56 * current as usize;
        let scratch = 136 + 56 * (current ^ 1) as usize;
        let (head, tail, count, unfinished, rhead) = (
            word(live).load(Ordering::Relaxed),
            word(live + 8).load(Ordering::Relaxed),
            word(live + 16).load(Ordering::Relaxed),
            word(live + 24).load(Ordering::Relaxed),
            word(live + 40).load(Ordering::Relaxed),
        );
        let msg = b"from-the-dead";
        let rec = 8 + (msg.len() as u64).div_ceil(8) * 8;
        // The tests call this on an empty queue whose tail is far from the
        // ring's end: the record fits before it (records never straddle it).
        let off = (tail % capacity) as usize;
        assert!(off as u64 + rec <= capacity, "die-in-put needs room before the ring's end");
        (data.add(off) as *mut u64).write((msg.len() as u64).to_le());
        for (i, b) in msg.iter().enumerate() {
            *data.add(off + 8 + i) = *b;
        }
        word(scratch).store(head, Ordering::Relaxed);
        word(scratch + 8).store(tail + rec, Ordering::Relaxed);
        word(scratch + 16).store(count + 1, Ordering::Relaxed);
        word(scratch + 24).store(unfinished + 1, Ordering::Relaxed);
        word(scratch + 32).store(0, Ordering::Relaxed); // shutdown
        word(scratch + 40).store(rhead, Ordering::Relaxed);
        word(scratch + 48).store(0, Ordering::Relaxed); // claims (both bitmasks)
        if commit {
            (*(base.add(128) as *const std::sync::atomic::AtomicU32)).store(current ^ 1, Ordering::Release);
        } else {
            // A half-written scratch slot: garbage the next holder must ignore.
            word(scratch + 8).store(u64::MAX, Ordering::Relaxed);
        }
    }
    println!("ready");
    std::io::stdout().flush().expect("flush");
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// `hold-claim --queue NAME --what reserve|view [--len N]`: makes a
/// reservation of N bytes (writing "half-written" into it) or takes a view
/// of the oldest message, prints "ready <len>", and waits to be killed
/// holding it: a process dying between reserve and commit, or holding a
/// view.
fn hold_claim(args: &[String]) {
    use std::io::Write;
    let q = Queue::open(sarg(args, "--queue"), &QueueOptions::default()).expect("open");
    let len = match sarg(args, "--what") {
        "reserve" => {
            let mut r = q.reserve(arg(args, "--len", 64) as usize, None).expect("reserve");
            let n = r.len().min(12);
            r[..n].copy_from_slice(&b"half-written"[..n]);
            let len = r.len();
            std::mem::forget(r); // held until the process dies
            len
        }
        "view" => {
            let v = q.get_view(None).expect("get_view");
            let len = v.len();
            std::mem::forget(v);
            len
        }
        w => panic!("--what {w}?"),
    };
    println!("ready {len}");
    std::io::stdout().flush().expect("flush");
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// `mgr-incr --address A --n N`: increments `dict "counts"["n"]` N times
/// through the manager (atomic incr), then exits.
fn mgr_incr(args: &[String]) {
    let c = mpipc::ManagerClient::connect(sarg(args, "--address"), &Default::default(), Some(Duration::from_secs(10)))
        .expect("connect");
    for _ in 0..arg(args, "--n", 1000) {
        c.call("dict", "counts", "incr", vec![ciborium::Value::Text("n".into())]).expect("incr");
    }
}

/// `mgr-hold-lock --address A`: acquires `lock "L"`, prints "held", and
/// waits to be killed (the server must then release the lock).
fn mgr_hold_lock(args: &[String]) {
    use std::io::Write;
    let c = mpipc::ManagerClient::connect(sarg(args, "--address"), &Default::default(), Some(Duration::from_secs(10)))
        .expect("connect");
    assert_eq!(c.call("lock", "L", "acquire", vec![]).expect("acquire"), ciborium::Value::Bool(true));
    println!("held");
    std::io::stdout().flush().expect("flush");
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("producer") => producer(&args[1..]),
        Some("consumer") => consumer(&args[1..]),
        Some("die-in-put") => die_in_put(&args[1..]),
        Some("hold-claim") => hold_claim(&args[1..]),
        Some("mgr-incr") => mgr_incr(&args[1..]),
        Some("mgr-hold-lock") => mgr_hold_lock(&args[1..]),
        Some("run") => {
            let ok = run(&args[1..]);
            println!("torture: {}", if ok { "OK" } else { "FAIL" });
            std::process::exit(if ok { 0 } else { 1 });
        }
        _ => {
            eprintln!("usage: mpipc-torture run [--rounds N] [--producers P] [--consumers C] [--seed S] [--max-kill-gap-us U] [--max-seq M] [--timeout-s T]");
            std::process::exit(2);
        }
    }
}
