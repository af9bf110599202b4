//! `mpipc`: the command-line tool. `mpipc help` lists the commands and
//! `mpipc COMMAND --help` explains one; the texts are in [`HELP`].
//!
//! Exit codes, for every command: 0 success; 1 the operation failed (no
//! such object, a library error, the manager refused); 2 a usage error
//! (unknown command or flag, bad JSON, a name that needs `--kind`); 3
//! `get` found nothing in time, `put` found no room in time.
//!
//! Arguments are parsed by hand, like the first version of this command:
//! the grammar is small (a subcommand, positionals, a few `--flag VALUE`),
//! and a parser crate (clap) would add a dozen crates to a library whose
//! dependencies are kept few and pinned (docs/DECISIONS.md, "The mpipc
//! command").

mod bench;
mod cbor_json;
mod segments;

use mpipc::segment::SegmentKind;
use mpipc::{ListenerOptions, ManagerClient, ManagerServer, OpenMode, Queue, QueueOptions};
use segments::Seg;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// A command's failure: the message and the exit code.
struct Fail(u8, String);

type Res = Result<(), Fail>;

fn usage_err(msg: impl Into<String>) -> Fail {
    Fail(2, msg.into())
}

fn failed(msg: impl Into<String>) -> Fail {
    Fail(1, msg.into())
}

/// The help text of each command; `("", ...)` is the overview.
const HELP: &[(&str, &str)] = &[
    (
        "",
        "usage: mpipc COMMAND [ARGS]

Commands:
  ls                   list every mpipc object in /dev/shm
  stat NAME            details of one object
  put NAME JSON        put a JSON value (as CBOR) on a queue
  get NAME             take a message from a queue, print it as JSON
  rm NAME              remove an object's name
  gc                   remove objects that no process uses
  watch NAME           a queue's depth and rates, live
  manager serve        run a manager server
  manager call         call a method of a manager's object
  bench                run the standard workloads briefly
  version              print the version

`mpipc COMMAND --help` explains one. Exit codes: 0 success, 1 failure,
2 usage error, 3 nothing to get / no room to put in time.",
    ),
    (
        "ls",
        "usage: mpipc ls

Lists every mpipc object in /dev/shm (segment files mpipc.<kind>.<name>):
kind, name, size in bytes, and what the object tells: for a queue its
message count, bytes used, capacity, maxsize and unfinished tasks; the value
of a semaphore, whether an event is set, an array's typecode and length, a
barrier's parties, and so on. Kinds: queue, shm, array, lock, sem, event,
cond, barrier, slist. Nothing is created or changed.",
    ),
    (
        "stat",
        "usage: mpipc stat NAME [--kind KIND]

Details of the object NAME: its file, kind, size, mode, owner, layout
version, the kind's figures (as in ls) and the processes that map it or
hold it open. Objects of different kinds may share a name; then --kind
(queue, shm, array, lock, sem, event, cond, barrier, slist) is required.",
    ),
    (
        "put",
        "usage: mpipc put NAME JSON [--timeout MS]

Encodes JSON as CBOR (objects become maps, integers stay integers, other
numbers are 64-bit floats; docs/TYPES.md) and puts it on the existing
queue NAME, waiting at most MS milliseconds for room (default: forever;
0: do not wait). Exit 3 when the queue stayed full.",
    ),
    (
        "get",
        "usage: mpipc get NAME [--timeout MS] [--diag]

Takes one message from the existing queue NAME, waiting at most MS
milliseconds (default: forever; 0: do not wait), and prints it as JSON.
What JSON cannot show exactly (byte strings, tags, non-text map keys, NaN,
integers beyond 64 bits) is printed in CBOR diagnostic notation (RFC 8949
section 8) instead, and --diag always does; a message that is not CBOR is
printed as a byte string h'...'. Exit 3 when nothing arrived in time. The
message is taken (not task_done).",
    ),
    (
        "rm",
        "usage: mpipc rm NAME [--kind KIND]

Removes the name of the object NAME (like mpq_unlink): processes that have
it open keep using it, the next open creates a new one. --kind is required
when objects of several kinds have this name.",
    ),
    (
        "gc",
        "usage: mpipc gc [--dry-run] [--min-age SECONDS] [--prefix P] [--ignore-uninspectable]

Removes the objects that no process uses. An object is in use when a
process maps its segment or holds it open, found by scanning
/proc/PID/maps and /proc/PID/fd (by device and inode). Segments do not
record their creator, so a creator that is gone is one that no longer maps
the segment. An object is kept when it was modified less than SECONDS ago
(default 10: a process may be between opening and mapping it), and when a
process that cannot be inspected (another user's, without privilege) could
use it (in a container whose init is hidden from its root user, that
keeps every root-owned object: --ignore-uninspectable treats such
processes as using nothing). Note: a name kept on purpose with no process attached (like a
SharedMemory its creator closed but did not unlink) is removed too; use
--dry-run first. --prefix limits gc to the names that start with P.
Prints one line per object removed or kept; an object that disappears
meanwhile is not an error.",
    ),
    (
        "watch",
        "usage: mpipc watch NAME [--interval MS] [--count N]

Prints the queue NAME's depth (messages), bytes used, unfinished tasks
and the bytes per second put and taken (from the ring's positions, which
count every byte ever put and taken) every MS milliseconds (default 1000),
until Ctrl-C or N lines (--count).",
    ),
    (
        "manager",
        "usage: mpipc manager serve --address ADDR [--authkey-file FILE]
       mpipc manager call ADDR KIND NAME METHOD ARGS_JSON [--authkey-file FILE] [--timeout MS]

serve runs a standalone manager server until SIGTERM or SIGINT, logging to
stderr. ADDR is unix:/path, unix:@name or tcp:host:port (TCP needs an
authkey). The authkey file's bytes are the key (one trailing newline is
ignored); keep it mode 0600.

call connects to the manager at ADDR and calls METHOD of the object NAME
of KIND (dict, list, set, namespace, value, array, queue, lock, ...; the
methods are in docs/PROTOCOL.md section 4) with the arguments of the JSON
array ARGS_JSON, converted to CBOR; the result is printed as `mpipc get`
prints a message. --timeout bounds the connection (default 5000 ms).
Example: mpipc manager call unix:/tmp/m.sock dict stats incr '[\"hits\", 1]'",
    ),
    (
        "bench",
        "usage: mpipc bench [--duration-ms MS]

Runs the standard workloads briefly (each about MS milliseconds, default
300), with threads of this process, and prints a table: queue throughput
(64-byte messages, one producer, one consumer), queue round trip (two
queues, ping-pong), pipe throughput (64-byte messages), and an
uncontended lock acquire/release. For the real figures, across processes
and beside Python's multiprocessing, run `make bench` (BENCHMARKS.md).",
    ),
    ("version", "usage: mpipc version\n\nPrints the version of mpipc."),
];

fn help(cmd: &str) -> &'static str {
    HELP.iter().find(|(c, _)| *c == cmd).map(|h| h.1).unwrap_or(HELP[0].1)
}

/// Parsed arguments of one command: positionals and `--flag [VALUE]`s.
struct Args {
    pos: Vec<String>,
    flags: Vec<(String, Option<String>)>,
}

impl Args {
    /// Splits `args`; `valued` flags take the next argument, `switches`
    /// take none; anything else starting with `--` is a usage error.
    fn parse(args: &[String], valued: &[&str], switches: &[&str]) -> Result<Args, Fail> {
        let mut a = Args { pos: Vec::new(), flags: Vec::new() };
        let mut it = args.iter();
        while let Some(x) = it.next() {
            if valued.contains(&x.as_str()) {
                let v = it.next().ok_or_else(|| usage_err(format!("{x} needs a value")))?;
                a.flags.push((x.clone(), Some(v.clone())));
            } else if switches.contains(&x.as_str()) {
                a.flags.push((x.clone(), None));
            } else if x.starts_with("--") && x.len() > 2 {
                return Err(usage_err(format!("unknown option {x}")));
            } else {
                a.pos.push(x.clone());
            }
        }
        Ok(a)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.flags.iter().rev().find(|f| f.0 == name).and_then(|f| f.1.as_deref())
    }

    fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f.0 == name)
    }

    /// A numeric flag.
    fn num<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Fail> {
        self.get(name)
            .map(|v| v.parse::<T>().map_err(|_| usage_err(format!("{name} needs a number, not {v:?}"))))
            .transpose()
    }

    /// Exactly `n` positionals.
    fn expect(&self, n: usize, cmd: &str) -> Result<(), Fail> {
        if self.pos.len() != n {
            return Err(usage_err(format!("{}\n(expected {n} argument(s), got {})", help(cmd), self.pos.len())));
        }
        Ok(())
    }
}

/// `--timeout MS` as the library's `Option<Duration>`: absent or negative
/// = forever.
fn timeout(a: &Args) -> Result<Option<Duration>, Fail> {
    Ok(a.num::<i64>("--timeout")?.filter(|ms| *ms >= 0).map(|ms| Duration::from_millis(ms as u64)))
}

fn lib_fail(what: &str, e: mpipc::Error) -> Fail {
    failed(format!("{what}: {e}"))
}

fn open_queue(name: &str) -> Result<Queue, Fail> {
    // Whoever owns it: the user names the queue (see segments::attach).
    let opts = QueueOptions { open_mode: Some(OpenMode::AttachOnly), any_owner: true, ..Default::default() };
    Queue::open(name, &opts).map_err(|e| lib_fail(&format!("cannot open the queue {name:?}"), e))
}

fn kind_flag(a: &Args) -> Result<Option<SegmentKind>, Fail> {
    a.get("--kind")
        .map(|k| {
            segments::parse_kind(k).ok_or_else(|| {
                let all: Vec<_> = SegmentKind::ALL.iter().map(|k| k.label()).collect();
                usage_err(format!("unknown kind {k:?}; kinds: {}", all.join(", ")))
            })
        })
        .transpose()
}

/// The one segment `name` (of `--kind`) designates.
fn one(name: &str, a: &Args) -> Result<Seg, Fail> {
    let kind = kind_flag(a)?;
    let mut found = segments::find(name, kind).map_err(|e| failed(format!("cannot list /dev/shm: {e}")))?;
    match found.len() {
        0 => Err(failed(match kind {
            Some(k) => format!("no {} named {name:?}", k.label()),
            None => format!("no mpipc object named {name:?}"),
        })),
        1 => Ok(found.remove(0)),
        _ => {
            let kinds: Vec<_> = found.iter().map(|s| s.kind.label()).collect();
            Err(usage_err(format!("{name:?} names objects of several kinds ({}); add --kind KIND", kinds.join(", "))))
        }
    }
}

fn kv(d: &[(String, String)]) -> String {
    d.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

fn cmd_ls(args: &[String]) -> Res {
    let a = Args::parse(args, &[], &[])?;
    a.expect(0, "ls")?;
    let segs = segments::list().map_err(|e| failed(format!("cannot list /dev/shm: {e}")))?;
    println!("{:<8} {:<32} {:>12}  DETAILS", "KIND", "NAME", "SIZE");
    for s in &segs {
        println!("{:<8} {:<32} {:>12}  {}", s.kind.label(), s.name, s.meta.len(), kv(&segments::details(s)));
    }
    Ok(())
}

fn cmd_stat(args: &[String]) -> Res {
    use std::os::unix::fs::MetadataExt;
    let a = Args::parse(args, &["--kind"], &[])?;
    a.expect(1, "stat")?;
    let s = one(&a.pos[0], &a)?;
    println!("name:    {}", s.name);
    println!("kind:    {}", s.kind.label());
    println!("file:    {}", s.path.display());
    println!("size:    {}", s.meta.len());
    println!("mode:    {} (uid {}, gid {})", segments::mode_string(&s.meta), s.meta.uid(), s.meta.gid());
    println!("changed: {} s ago", (now_secs() - s.meta.mtime()).max(0));
    for (k, v) in segments::details(&s) {
        println!("{:<8} {v}", format!("{k}:"));
    }
    let users = segments::Users::scan();
    let pids = users.pids(&s);
    let me = std::process::id();
    let pids: Vec<String> = pids.into_iter().filter(|p| *p != me).map(|p| p.to_string()).collect();
    println!("used by: {}", if pids.is_empty() { "no process".to_owned() } else { format!("pid {}", pids.join(", ")) });
    Ok(())
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn cmd_put(args: &[String]) -> Res {
    let a = Args::parse(args, &["--timeout"], &[])?;
    a.expect(2, "put")?;
    let t = timeout(&a)?;
    let msg = cbor_json::json_text_to_cbor(&a.pos[1]).map_err(usage_err)?;
    let q = open_queue(&a.pos[0])?;
    match q.put_bytes_timeout(&msg, t) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == mpipc::ErrorKind::Full => Err(Fail(3, format!("the queue {:?} stayed full", a.pos[0]))),
        Err(e) => Err(lib_fail("put", e)),
    }
}

fn cmd_get(args: &[String]) -> Res {
    let a = Args::parse(args, &["--timeout"], &["--diag"])?;
    a.expect(1, "get")?;
    let t = timeout(&a)?;
    let q = open_queue(&a.pos[0])?;
    match q.get_bytes_timeout(t) {
        Ok(m) => {
            let (text, cbor) = cbor_json::show(&m, a.has("--diag"));
            if !cbor {
                eprintln!("mpipc get: the message is not one CBOR item; shown as bytes");
            }
            println!("{text}");
            Ok(())
        }
        Err(e) if e.kind() == mpipc::ErrorKind::Empty => Err(Fail(3, format!("the queue {:?} is empty", a.pos[0]))),
        Err(e) => Err(lib_fail("get", e)),
    }
}

fn cmd_rm(args: &[String]) -> Res {
    let a = Args::parse(args, &["--kind"], &[])?;
    a.expect(1, "rm")?;
    let s = one(&a.pos[0], &a)?;
    mpipc::segment::unlink(s.kind, &s.name).map_err(|e| lib_fail(&format!("cannot remove {:?}", s.name), e))?;
    println!("removed {} {}", s.kind.label(), s.name);
    Ok(())
}

fn cmd_gc(args: &[String]) -> Res {
    use std::os::unix::fs::MetadataExt;
    let a = Args::parse(args, &["--min-age", "--prefix"], &["--dry-run", "--ignore-uninspectable"])?;
    a.expect(0, "gc")?;
    let min_age = a.num::<i64>("--min-age")?.unwrap_or(10);
    let dry = a.has("--dry-run");
    let prefix = a.get("--prefix").unwrap_or("");
    let mut segs = segments::list().map_err(|e| failed(format!("cannot list /dev/shm: {e}")))?;
    segs.retain(|s| s.name.starts_with(prefix));
    let users = segments::Users::scan();
    let now = now_secs();
    let mut errors = 0;
    for s in &segs {
        let pids = users.pids(s);
        let why_keep = if !pids.is_empty() {
            let p: Vec<String> = pids.iter().map(u32::to_string).collect();
            Some(format!("used by pid {}", p.join(", ")))
        } else if now - s.meta.mtime() < min_age {
            Some(format!("changed less than {min_age} s ago"))
        } else if users.maybe_hidden_user(s) && !a.has("--ignore-uninspectable") {
            Some(format!("pid {} cannot be inspected and may use it", users.hidden_pids(s).join(", ")))
        } else {
            None
        };
        match why_keep {
            Some(why) => println!("kept {} {}: {why}", s.kind.label(), s.name),
            None if dry => println!("would remove {} {}", s.kind.label(), s.name),
            None => match mpipc::segment::unlink(s.kind, &s.name) {
                Ok(()) => println!("removed {} {}", s.kind.label(), s.name),
                Err(e) if e.kind() == mpipc::ErrorKind::NotFound => {
                    println!("gone {} {}: removed meanwhile", s.kind.label(), s.name)
                }
                Err(e) => {
                    eprintln!("mpipc gc: cannot remove {} {}: {e}", s.kind.label(), s.name);
                    errors += 1;
                }
            },
        }
    }
    if errors > 0 {
        return Err(failed(format!("{errors} object(s) could not be removed")));
    }
    Ok(())
}

fn cmd_watch(args: &[String]) -> Res {
    let a = Args::parse(args, &["--interval", "--count"], &[])?;
    a.expect(1, "watch")?;
    let interval = Duration::from_millis(a.num::<u64>("--interval")?.unwrap_or(1000).max(1));
    let count = a.num::<u64>("--count")?;
    let q = open_queue(&a.pos[0])?;
    let e = |e| lib_fail("watch", e);
    println!(
        "{:>10} {:>10} {:>12} {:>10} {:>12} {:>12}",
        "TIME_S", "MESSAGES", "BYTES_USED", "UNFINISHED", "IN_B/S", "OUT_B/S"
    );
    let start = Instant::now();
    let (mut head, mut tail) = q.positions().map_err(e)?;
    let mut last = start;
    let mut n = 0u64;
    loop {
        if count.is_some_and(|c| n >= c) {
            return Ok(());
        }
        if n > 0 {
            std::thread::sleep(interval);
        }
        let (h, t) = q.positions().map_err(e)?;
        let now = Instant::now();
        let dt = now.duration_since(last).as_secs_f64().max(1e-9);
        let (rin, rout) = if n == 0 { (0.0, 0.0) } else { ((t - tail) as f64 / dt, (h - head) as f64 / dt) };
        println!(
            "{:>10.1} {:>10} {:>12} {:>10} {:>12.0} {:>12.0}",
            now.duration_since(start).as_secs_f64(),
            q.qsize().map_err(e)?,
            t - h,
            q.unfinished_tasks().map_err(e)?,
            rin,
            rout
        );
        (head, tail, last) = (h, t, now);
        n += 1;
    }
}

fn read_authkey(a: &Args) -> Result<Option<Vec<u8>>, Fail> {
    match a.get("--authkey-file") {
        None => Ok(None),
        Some(path) => match std::fs::read(path) {
            Ok(mut k) => {
                if k.last() == Some(&b'\n') {
                    k.pop();
                }
                Ok(Some(k))
            }
            Err(e) => Err(failed(format!("cannot read the authkey file {path}: {e}"))),
        },
    }
}

fn cmd_manager_call(args: &[String]) -> Res {
    let a = Args::parse(args, &["--authkey-file", "--timeout"], &[])?;
    a.expect(5, "manager")?;
    let (address, kind, name, method) = (&a.pos[0], &a.pos[1], &a.pos[2], &a.pos[3]);
    let j: serde_json::Value =
        serde_json::from_str(&a.pos[4]).map_err(|e| usage_err(format!("ARGS_JSON: invalid JSON: {e}")))?;
    if !j.is_array() {
        return Err(usage_err("ARGS_JSON must be a JSON array of the arguments, e.g. '[\"key\", 1]'"));
    }
    let args_cbor = cbor_json::encode(&cbor_json::json_to_cbor(&j));
    let authkey = read_authkey(&a)?;
    let t = Some(Duration::from_millis(a.num::<u64>("--timeout")?.unwrap_or(5000)));
    let m = ManagerClient::connect(address, &ListenerOptions { authkey, ..Default::default() }, t)
        .map_err(|e| lib_fail(&format!("cannot connect to {address}"), e))?;
    let r = m
        .call_encoded(kind, name, method, &args_cbor)
        .map_err(|e| lib_fail(&format!("{kind} {name:?}.{method}"), e))?;
    println!("{}", cbor_json::show(&r, false).0);
    Ok(())
}

fn cmd_manager_serve(args: &[String]) -> Res {
    let a = Args::parse(args, &["--address", "--authkey-file"], &[])?;
    a.expect(0, "manager")?;
    let Some(address) = a.get("--address") else { return Err(usage_err(help("manager"))) };
    let authkey = read_authkey(&a)?;
    // Block the stop signals in this thread before any other thread exists
    // (threads inherit the mask), then wait for one with sigwait: no signal
    // handler runs, so nothing async-signal-unsafe can happen.
    // SAFETY: plain signal-mask calls on a local set.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    let server = ManagerServer::serve(address, &ListenerOptions { authkey, ..Default::default() })
        .map_err(|e| failed(format!("cannot serve at {address}: {e}")))?;
    eprintln!("mpipc manager: serving at {} (pid {})", server.address(), std::process::id());
    let mut sig: libc::c_int = 0;
    // SAFETY: waiting for a signal of the blocked set.
    unsafe { libc::sigwait(&set, &mut sig) };
    eprintln!("mpipc manager: signal {sig}, shutting down");
    server.shutdown();
    eprintln!("mpipc manager: stopped");
    Ok(())
}

fn run(args: &[String]) -> Res {
    let Some(cmd) = args.first().map(String::as_str) else { return Err(usage_err(help(""))) };
    let rest = &args[1..];
    if matches!(cmd, "help" | "--help" | "-h") {
        println!("{}", help(rest.first().map(String::as_str).unwrap_or("")));
        return Ok(());
    }
    if rest.iter().any(|a| a == "--help" || a == "-h") && HELP.iter().any(|h| h.0 == cmd && !cmd.is_empty()) {
        println!("{}", help(cmd));
        return Ok(());
    }
    match cmd {
        "ls" => cmd_ls(rest),
        "stat" => cmd_stat(rest),
        "put" => cmd_put(rest),
        "get" => cmd_get(rest),
        "rm" => cmd_rm(rest),
        "gc" => cmd_gc(rest),
        "watch" => cmd_watch(rest),
        "bench" => bench::run(rest),
        "manager" => match rest.first().map(String::as_str) {
            Some("serve") => cmd_manager_serve(&rest[1..]),
            Some("call") => cmd_manager_call(&rest[1..]),
            _ => Err(usage_err(help("manager"))),
        },
        "version" => {
            Args::parse(rest, &[], &[])?.expect(0, "version")?;
            println!("mpipc {}", mpipc::VERSION);
            Ok(())
        }
        _ => Err(usage_err(format!("unknown command {cmd:?}\n\n{}", help("")))),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(code, msg)) => {
            let cmd = args.first().map(String::as_str).unwrap_or("");
            if code == 2 && msg.starts_with("usage:") {
                eprintln!("{msg}");
            } else {
                eprintln!("mpipc {cmd}: {msg}");
            }
            ExitCode::from(code)
        }
    }
}
