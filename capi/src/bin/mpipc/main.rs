//! `mpipc`: the command-line tool. `mpipc help` lists the commands and
//! `mpipc COMMAND --help` explains one; the texts are in [`HELP`].
//!
//! Exit codes, for every command: 0 success; 1 the operation failed (no
//! such object, a library error, the manager refused); 2 a usage error
//! (unknown command or flag, bad JSON, a name that needs `--kind`); 3
//! `get` found nothing in time, `put` found no room in time.
//!
//! An error is printed as its reason first (`mpipc CMD: what is wrong`),
//! then, for a mistake in the command line's shape (an unknown option, a
//! missing argument), the command's usage lines.
//!
//! Arguments are parsed by hand, like the first version of this command:
//! the grammar is small (a subcommand, positionals, a few `--flag VALUE`),
//! and a parser crate (clap) would add a dozen crates to a library whose
//! dependencies are kept few and pinned (docs/DECISIONS.md, "The mpipc
//! command").

mod bench;
mod diag;
mod segments;

use mpipc::segment::SegmentKind;
use mpipc::{ListenerOptions, ManagerClient, ManagerServer, OpenMode, Queue, QueueOptions};
use segments::Seg;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// A command's failure: the exit code, the reason and, for a mistake in
/// the command line's shape, the [`HELP`] entry whose usage lines follow
/// the reason.
struct Fail {
    code: u8,
    msg: String,
    usage: Option<&'static str>,
}

type Res = Result<(), Fail>;

/// A wrong value on a well-formed command line (bad JSON, a kind that does
/// not exist): exit 2, the reason alone.
fn usage_err(msg: impl Into<String>) -> Fail {
    Fail { code: 2, msg: msg.into(), usage: None }
}

/// A command line of the wrong shape: exit 2, the reason, then the usage
/// lines of `cmd`.
fn shape_err(cmd: &'static str, msg: impl Into<String>) -> Fail {
    Fail { code: 2, msg: msg.into(), usage: Some(cmd) }
}

fn failed(msg: impl Into<String>) -> Fail {
    Fail { code: 1, msg: msg.into(), usage: None }
}

/// How long `ls`, `stat` and `watch` wait for a queue's lock before they
/// report the queue busy: critical sections last microseconds, so a lock
/// held this long has a holder that is stopped or hung.
const BUSY_WAIT: Duration = Duration::from_millis(250);

/// The help text of each command; `("", ...)` is the overview. Each text
/// starts with its usage lines, ended by an empty line.
const HELP: &[(&str, &str)] = &[
    (
        "",
        "usage: mpipc COMMAND [ARGS]
       mpipc --version

Commands:
  ls [-l]              list every mpipc object in /dev/shm
  stat NAME            details of one object
  put NAME JSON        put a JSON value (as CBOR) on a queue; --create makes it
  get NAME             take a message from a queue, print it as JSON
  rm NAME              remove an object's name
  gc                   remove objects that no process uses
  watch NAME           a queue's depth and rates, live
  manager serve        run a manager server
  manager call         call a method of a manager's object
  bench                run the standard workloads briefly
  version              print the version (as --version does)

`mpipc COMMAND --help` explains one. Exit codes: 0 success, 1 failure,
2 usage error, 3 nothing to get / no room to put in time.",
    ),
    (
        "ls",
        "usage: mpipc ls [-l | --wide]

Lists every mpipc object in /dev/shm (segment files mpipc.<kind>.<name>):
its kind, name, size (B, KiB, MiB, GiB: powers of 1024) and state in a
few words: a queue's message count, a semaphore's value, whether an event
is set, a lock is locked, how many of a barrier's parties wait, ...

-l (or --wide) shows every figure instead, as key=value pairs with exact
numbers: for a queue its messages, bytes used, capacity, maxsize, largest
message, unfinished tasks, whether it was shut down and how many lock
holders died; a semaphore's value and whether it is bounded; an array's
typecode and length; and so on.

A queue whose lock stays held for 250 ms (its holder stopped, for example
by SIGSTOP or a debugger, or hung inside an operation) is shown as busy
rather than waited for; a holder that died is recovered as by any user.
Kinds: queue, shm, array, lock, sem, event, cond, barrier, slist. Nothing
is created or changed.",
    ),
    (
        "stat",
        "usage: mpipc stat NAME [--kind KIND]

Details of the object NAME: its file, kind, size, mode, owner, layout
version, the kind's figures (those of ls -l; a queue whose lock stays held
for 250 ms is shown busy, with the thread holding it) and the processes
that map it or hold it open. Objects of different kinds may share a name;
then --kind (queue, shm, array, lock, sem, event, cond, barrier, slist) is
required.",
    ),
    (
        "put",
        "usage: mpipc put NAME JSON [--timeout MS]
       mpipc put NAME JSON --create [--maxsize N] [--capacity BYTES] [--max-message BYTES] [--mode MODE] [--timeout MS]

Converts JSON to one CBOR item with the JSON bridge (docs/TYPES.md, \"JSON
bridge\"): objects become maps, integers stay integers whatever their size
(beyond 64 bits a CBOR bignum), other numbers become 64-bit floats, and
the bridge's extended forms ({\"$bytes\": \"<base64>\"}, {\"$tag\": N, \"$value\": V},
...) give what JSON lacks; what `mpipc get` prints reads back to the same
CBOR. Then puts it on the queue NAME, waiting at most MS milliseconds for
room (default: forever; 0: do not wait). Exit 3 when the queue stayed
full.

Without --create the queue must exist. With --create it is created if it
does not exist yet, with the options of mpq_open, and attached otherwise
(then each option given must match the queue's):
  --maxsize N          messages at most (default 0: unbounded; the ring's
                       bytes still bound it)
  --capacity BYTES     size of the ring (default 1M)
  --max-message BYTES  largest message (default: whatever fits in the ring)
  --mode MODE          the file's mode, in octal (default 600: owner only)
BYTES may end in K, M or G (times 1024, 1024^2, 1024^3).
Example: mpipc put jobs '{\"id\": 1}' --create --maxsize 1000",
    ),
    (
        "get",
        "usage: mpipc get NAME [--timeout MS] [--diag]

Takes one message from the existing queue NAME, waiting at most MS
milliseconds (default: forever; 0: do not wait), and prints it as the JSON
bridge writes it (docs/TYPES.md, \"JSON bridge\"): exact for every value,
byte strings, tags and non-text map keys in the bridge's extended forms,
integers of any size as integers; `mpipc put` reads it back to the same
CBOR. --diag prints CBOR diagnostic notation (RFC 8949 section 8)
instead, and so does a value the bridge refuses (a Python pickle, a
simple value; a note on stderr says why); a message that is not CBOR is
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
the segment. Kept anyway:
  - an object changed less than SECONDS ago (default 10, 0 or more: a
    process may be between opening and mapping it);
  - an object that a process gc cannot inspect could use: a process of
    the object's owner (of any user, when the object's mode lets others
    open it) whose /proc/PID/maps and fd gc may not read. Without
    privilege that is another user's process; in a container often its
    init or a process of the host, which keeps every object of that user.
    gc names those processes. --ignore-uninspectable treats them as using
    nothing: give it when they do not use mpipc objects.
Note: a name kept on purpose with no process attached (like a
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
count every byte ever put and taken) every MS milliseconds (default 1000,
at least 1), until Ctrl-C or N lines (--count). While the queue's lock
stays held for 250 ms (a holder stopped or hung) the line says busy.",
    ),
    (
        "manager",
        "usage: mpipc manager serve --address ADDR [--authkey-file FILE] [--allow-tcp-without-authkey]
       mpipc manager call ADDR KIND NAME METHOD ARGS_JSON [--authkey-file FILE] [--timeout MS]
                          [--allow-tcp-without-authkey]

serve runs a standalone manager server until SIGTERM or SIGINT, logging to
stderr. ADDR is unix:/path, unix:@name or tcp:host:port. The authkey
file's bytes are the key (one trailing newline is ignored); keep it mode
0600. A TCP address needs an authkey, unless --allow-tcp-without-authkey
is given to serve and to call: only on a trusted network, since anyone who
reaches the port can then read and change every object.

call connects to the manager at ADDR and calls METHOD of the object NAME
of KIND (dict, list, set, namespace, value, array, queue, lock, ...; the
methods are in docs/PROTOCOL.md section 4) with the arguments of the JSON
array ARGS_JSON, converted to CBOR as `mpipc put` converts; the result is
printed as `mpipc get` prints a message. --timeout bounds the connection
(default 5000 ms).
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
    ("version", "usage: mpipc version\n       mpipc --version\n\nPrints the version of mpipc."),
];

fn help(cmd: &str) -> &'static str {
    HELP.iter().find(|(c, _)| *c == cmd).map(|h| h.1).unwrap_or(HELP[0].1)
}

/// The usage lines of `cmd`'s help (up to its first empty line).
fn synopsis(cmd: &str) -> &'static str {
    let h = help(cmd);
    h.split("\n\n").next().unwrap_or(h)
}

/// Parsed arguments of one command: positionals and `--flag [VALUE]`s.
struct Args {
    cmd: &'static str,
    pos: Vec<String>,
    flags: Vec<(String, Option<String>)>,
}

impl Args {
    /// Splits `args` of the command `cmd` (a [`HELP`] key); `valued` flags
    /// take the next argument, `switches` take none; anything else
    /// starting with `--` is an unknown option. A single `-` prefix is not
    /// an option unless listed (`-5` is JSON).
    fn parse(cmd: &'static str, args: &[String], valued: &[&str], switches: &[&str]) -> Result<Args, Fail> {
        let mut a = Args { cmd, pos: Vec::new(), flags: Vec::new() };
        let mut it = args.iter();
        while let Some(x) = it.next() {
            if valued.contains(&x.as_str()) {
                let v = it.next().ok_or_else(|| shape_err(cmd, format!("{x} needs a value")))?;
                a.flags.push((x.clone(), Some(v.clone())));
            } else if switches.contains(&x.as_str()) {
                a.flags.push((x.clone(), None));
            } else if x.starts_with("--") && x.len() > 2 {
                return Err(shape_err(cmd, format!("unknown option {x}")));
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

    /// A whole-number flag of at least `min` (`unit` names what it counts,
    /// for the message).
    fn at_least(&self, name: &str, min: u64, unit: &str) -> Result<Option<u64>, Fail> {
        self.get(name)
            .map(|v| match v.parse::<u64>() {
                Ok(n) if n >= min => Ok(n),
                _ => Err(usage_err(format!("{name} needs a whole number of {unit}, {min} or more, not {v:?}"))),
            })
            .transpose()
    }

    /// The positionals named `names` (as in the usage line), exactly.
    fn expect(&self, names: &[&str]) -> Result<(), Fail> {
        if let Some(extra) = self.pos.get(names.len()) {
            return Err(shape_err(self.cmd, format!("unexpected argument {extra:?}")));
        }
        if self.pos.len() < names.len() {
            return Err(shape_err(self.cmd, format!("missing {}", names[self.pos.len()..].join(" and "))));
        }
        Ok(())
    }
}

/// `--timeout MS` as the library's `Option<Duration>`: absent or negative
/// = forever.
fn timeout(a: &Args) -> Result<Option<Duration>, Fail> {
    Ok(a.num::<i64>("--timeout")?.filter(|ms| *ms >= 0).map(|ms| Duration::from_millis(ms as u64)))
}

/// A byte count with an optional K, M or G suffix (powers of 1024).
fn bytes_flag(a: &Args, name: &str) -> Result<usize, Fail> {
    let Some(v) = a.get(name) else { return Ok(0) };
    let (digits, mult) = match v.as_bytes().last() {
        Some(b'K' | b'k') => (&v[..v.len() - 1], 1usize << 10),
        Some(b'M' | b'm') => (&v[..v.len() - 1], 1 << 20),
        Some(b'G' | b'g') => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| usage_err(format!("{name} needs a number of bytes (a suffix K, M or G allowed), not {v:?}")))
}

fn lib_fail(what: &str, e: mpipc::Error) -> Fail {
    failed(format!("{what}: {e}"))
}

/// Attaches to the existing queue `name`, whoever owns it (the user names
/// the queue; see segments::attach).
fn open_queue(name: &str) -> Result<Queue, Fail> {
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

/// `n` bytes for a reader: `512 B`, `4.0 KiB`, `1.5 MiB` (powers of 1024).
fn human_size(n: u64) -> String {
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    for unit in ["KiB", "MiB", "GiB", "TiB"] {
        // 1023.96 KiB would print as "1024.0 KiB": go up a unit instead.
        if v < 1023.95 || unit == "TiB" {
            return format!("{v:.1} {unit}");
        }
        v /= 1024.0;
    }
    unreachable!("the loop returns at TiB")
}

fn cmd_ls(args: &[String]) -> Res {
    let a = Args::parse("ls", args, &[], &["-l", "--wide"])?;
    a.expect(&[])?;
    let wide = a.has("-l") || a.has("--wide");
    let segs = segments::list().map_err(|e| failed(format!("cannot list /dev/shm: {e}")))?;
    println!("{:<8} {:<32} {:>10}  {}", "KIND", "NAME", "SIZE", if wide { "DETAILS" } else { "STATE" });
    for s in &segs {
        let d = segments::details(s, BUSY_WAIT);
        let last = if wide { kv(&d) } else { segments::summary(s.kind, &d) };
        println!("{:<8} {:<32} {:>10}  {last}", s.kind.label(), s.name, human_size(s.meta.len()));
    }
    Ok(())
}

fn cmd_stat(args: &[String]) -> Res {
    use std::os::unix::fs::MetadataExt;
    let a = Args::parse("stat", args, &["--kind"], &[])?;
    a.expect(&["NAME"])?;
    let s = one(&a.pos[0], &a)?;
    println!("name:    {}", s.name);
    println!("kind:    {}", s.kind.label());
    println!("file:    {}", s.path.display());
    println!("size:    {} ({} bytes)", human_size(s.meta.len()), s.meta.len());
    println!("mode:    {} (uid {}, gid {})", segments::mode_string(&s.meta), s.meta.uid(), s.meta.gid());
    println!("changed: {} s ago", (now_secs() - s.meta.mtime()).max(0));
    for (k, v) in segments::details(&s, BUSY_WAIT) {
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

/// The options of `put --create`, as mpq_open's.
const CREATE_OPTIONS: [&str; 4] = ["--maxsize", "--capacity", "--max-message", "--mode"];

fn cmd_put(args: &[String]) -> Res {
    let valued = [&["--timeout"][..], &CREATE_OPTIONS].concat();
    let a = Args::parse("put", args, &valued, &["--create"])?;
    a.expect(&["NAME", "JSON"])?;
    let t = timeout(&a)?;
    let name = &a.pos[0];
    let msg = mpipc::json::to_cbor(&a.pos[1]).map_err(|e| usage_err(format!("JSON: {}", e.message())))?;
    let q = if a.has("--create") {
        let mode = match a.get("--mode") {
            None => 0,
            Some(m) => u32::from_str_radix(m.strip_prefix("0o").unwrap_or(m), 8)
                .map_err(|_| usage_err(format!("--mode needs an octal file mode such as 600 or 0660, not {m:?}")))?,
        };
        let opts = QueueOptions {
            maxsize: a.num::<usize>("--maxsize")?.unwrap_or(0),
            capacity_bytes: bytes_flag(&a, "--capacity")?,
            max_message: bytes_flag(&a, "--max-message")?,
            mode,
            open_mode: Some(OpenMode::CreateOrAttach),
            any_owner: true,
        };
        Queue::open(name, &opts).map_err(|e| lib_fail(&format!("cannot create or open the queue {name:?}"), e))?
    } else {
        if let Some(o) = CREATE_OPTIONS.iter().find(|o| a.has(o)) {
            return Err(shape_err(
                "put",
                format!("{o} applies only with --create (a queue's sizes are set when it is created)"),
            ));
        }
        let opts = QueueOptions { open_mode: Some(OpenMode::AttachOnly), any_owner: true, ..Default::default() };
        Queue::open(name, &opts).map_err(|e| {
            let hint = if e.kind() == mpipc::ErrorKind::NotFound {
                "\n(--create creates it; `mpipc put --help` lists the queue's options)"
            } else {
                ""
            };
            failed(format!("cannot open the queue {name:?}: {e}{hint}"))
        })?
    };
    match q.put_bytes_timeout(&msg, t) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == mpipc::ErrorKind::Full => {
            Err(Fail { code: 3, msg: format!("the queue {name:?} stayed full"), usage: None })
        }
        Err(e) => Err(lib_fail("put", e)),
    }
}

/// Prints a message as [`diag::show`] shows it, with its note on stderr.
fn print_message(cmd: &str, bytes: &[u8], force_diag: bool) {
    let shown = diag::show(bytes, force_diag);
    if let Some(note) = shown.note {
        eprintln!("mpipc {cmd}: {note}");
    }
    println!("{}", shown.text);
}

fn cmd_get(args: &[String]) -> Res {
    let a = Args::parse("get", args, &["--timeout"], &["--diag"])?;
    a.expect(&["NAME"])?;
    let t = timeout(&a)?;
    let q = open_queue(&a.pos[0])?;
    match q.get_bytes_timeout(t) {
        Ok(m) => {
            print_message("get", &m, a.has("--diag"));
            Ok(())
        }
        Err(e) if e.kind() == mpipc::ErrorKind::Empty => {
            Err(Fail { code: 3, msg: format!("the queue {:?} is empty", a.pos[0]), usage: None })
        }
        Err(e) => Err(lib_fail("get", e)),
    }
}

fn cmd_rm(args: &[String]) -> Res {
    let a = Args::parse("rm", args, &["--kind"], &[])?;
    a.expect(&["NAME"])?;
    let s = one(&a.pos[0], &a)?;
    mpipc::segment::unlink(s.kind, &s.name).map_err(|e| lib_fail(&format!("cannot remove {:?}", s.name), e))?;
    println!("removed {} {}", s.kind.label(), s.name);
    Ok(())
}

/// `pids` as `1, 2, 3`, at most `max` of them (`... and N more`).
fn pid_list(pids: &[u32], max: usize) -> String {
    let shown: Vec<String> = pids.iter().take(max).map(u32::to_string).collect();
    let more = pids.len().saturating_sub(max);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn cmd_gc(args: &[String]) -> Res {
    use std::os::unix::fs::MetadataExt;
    let a = Args::parse("gc", args, &["--min-age", "--prefix"], &["--dry-run", "--ignore-uninspectable"])?;
    a.expect(&[])?;
    let min_age = a.at_least("--min-age", 0, "seconds")?.unwrap_or(10).min(i64::MAX as u64) as i64;
    let dry = a.has("--dry-run");
    let ignore_hidden = a.has("--ignore-uninspectable");
    let prefix = a.get("--prefix").unwrap_or("");
    let mut segs = segments::list().map_err(|e| failed(format!("cannot list /dev/shm: {e}")))?;
    segs.retain(|s| s.name.starts_with(prefix));
    let users = segments::Users::scan();
    let now = now_secs();
    let mut errors = 0;
    // Objects kept only because of processes gc could not inspect, and
    // those processes: the closing note names them and the way out.
    let mut kept_hidden = 0;
    let mut hidden_seen: Vec<u32> = Vec::new();
    for s in &segs {
        let pids = users.pids(s);
        let hidden = users.hidden_pids(s);
        let why_keep = if !pids.is_empty() {
            Some(format!("used by pid {}", pid_list(&pids, 10)))
        } else if now - s.meta.mtime() < min_age {
            Some(format!("changed less than {min_age} s ago"))
        } else if !hidden.is_empty() && !ignore_hidden {
            kept_hidden += 1;
            hidden_seen.extend(&hidden);
            Some(format!(
                "pid {} cannot be inspected and may use it (--ignore-uninspectable to disregard)",
                pid_list(&hidden, 5)
            ))
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
    if kept_hidden > 0 {
        hidden_seen.sort_unstable();
        hidden_seen.dedup();
        eprintln!(
            "mpipc gc: {kept_hidden} object(s) kept only because process(es) {} could use them and cannot be \
             inspected (their /proc/PID/maps and fd are unreadable to gc: another user's processes without \
             privilege, or in a container its init or processes of the host). If they do not use mpipc objects, \
             run again with --ignore-uninspectable (with --dry-run first to see what it would remove).",
            pid_list(&hidden_seen, 10)
        );
    }
    if errors > 0 {
        return Err(failed(format!("{errors} object(s) could not be removed")));
    }
    Ok(())
}

fn cmd_watch(args: &[String]) -> Res {
    let a = Args::parse("watch", args, &["--interval", "--count"], &[])?;
    a.expect(&["NAME"])?;
    let interval = Duration::from_millis(a.at_least("--interval", 1, "milliseconds")?.unwrap_or(1000));
    let count = a.at_least("--count", 0, "lines")?;
    let q = open_queue(&a.pos[0])?;
    println!(
        "{:>10} {:>10} {:>12} {:>10} {:>12} {:>12}",
        "TIME_S", "MESSAGES", "BYTES_USED", "UNFINISHED", "IN_B/S", "OUT_B/S"
    );
    let start = Instant::now();
    // The last snapshot read and when: the rates are taken against it.
    let mut last: Option<(mpipc::queue::QueueStats, Instant)> = None;
    let mut n = 0u64;
    loop {
        if count.is_some_and(|c| n >= c) {
            return Ok(());
        }
        if n > 0 {
            std::thread::sleep(interval);
        }
        n += 1;
        let st = match q.stats(Some(BUSY_WAIT)) {
            Ok(st) => st,
            Err(e) if e.kind() == mpipc::ErrorKind::Timeout => {
                println!("{:>10.1} busy: {}", start.elapsed().as_secs_f64(), e.message());
                continue;
            }
            Err(e) => return Err(lib_fail("watch", e)),
        };
        let now = Instant::now();
        let (rin, rout) = match last {
            None => (0.0, 0.0),
            Some((p, at)) => {
                let dt = now.duration_since(at).as_secs_f64().max(1e-9);
                ((st.tail - p.tail) as f64 / dt, (st.head - p.head) as f64 / dt)
            }
        };
        println!(
            "{:>10.1} {:>10} {:>12} {:>10} {:>12.0} {:>12.0}",
            now.duration_since(start).as_secs_f64(),
            st.messages,
            st.bytes_used,
            st.unfinished,
            rin,
            rout
        );
        last = Some((st, now));
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

/// The listener options of `manager serve` / `call`: the authkey, and the
/// opt-in to TCP without one, which a TCP address without a key needs
/// (refused here, naming this command's options, before the library
/// refuses it in its own words).
fn manager_options(address: &str, a: &Args) -> Result<ListenerOptions, Fail> {
    let authkey = read_authkey(a)?;
    let allow = a.has("--allow-tcp-without-authkey");
    let keyless = authkey.as_deref().is_none_or(<[u8]>::is_empty);
    if address.starts_with("tcp:") && keyless && !allow {
        return Err(usage_err(format!(
            "{address}: TCP needs an authkey: --authkey-file FILE (or, on a trusted network only, \
             --allow-tcp-without-authkey, on both serve and call)"
        )));
    }
    Ok(ListenerOptions { authkey, allow_tcp_without_authkey: allow, ..Default::default() })
}

fn cmd_manager_call(args: &[String]) -> Res {
    let a = Args::parse("manager", args, &["--authkey-file", "--timeout"], &["--allow-tcp-without-authkey"])?;
    a.expect(&["ADDR", "KIND", "NAME", "METHOD", "ARGS_JSON"])?;
    let (address, kind, name, method) = (&a.pos[0], &a.pos[1], &a.pos[2], &a.pos[3]);
    let args = mpipc::json::to_value(&a.pos[4]).map_err(|e| usage_err(format!("ARGS_JSON: {}", e.message())))?;
    if !matches!(args, ciborium::Value::Array(_)) {
        return Err(usage_err("ARGS_JSON must be a JSON array of the arguments, e.g. '[\"key\", 1]'"));
    }
    let args_cbor = mpipc::manager::protocol::encode_value(&args);
    let opts = manager_options(address, &a)?;
    let t = Some(Duration::from_millis(a.num::<u64>("--timeout")?.unwrap_or(5000)));
    let m =
        ManagerClient::connect(address, &opts, t).map_err(|e| lib_fail(&format!("cannot connect to {address}"), e))?;
    let r = m
        .call_encoded(kind, name, method, &args_cbor)
        .map_err(|e| lib_fail(&format!("{kind} {name:?}.{method}"), e))?;
    print_message("manager call", &r, false);
    Ok(())
}

fn cmd_manager_serve(args: &[String]) -> Res {
    let a = Args::parse("manager", args, &["--address", "--authkey-file"], &["--allow-tcp-without-authkey"])?;
    a.expect(&[])?;
    let Some(address) = a.get("--address") else { return Err(shape_err("manager", "serve needs --address ADDR")) };
    let opts = manager_options(address, &a)?;
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
    let keyless_tcp = opts.allow_tcp_without_authkey && address.starts_with("tcp:") && opts.authkey.is_none();
    let server = ManagerServer::serve(address, &opts).map_err(|e| failed(format!("cannot serve at {address}: {e}")))?;
    if keyless_tcp {
        eprintln!(
            "mpipc manager: no authkey: anyone who reaches {} can read and change every object",
            server.address()
        );
    }
    eprintln!("mpipc manager: serving at {} (pid {})", server.address(), std::process::id());
    let mut sig: libc::c_int = 0;
    // SAFETY: waiting for a signal of the blocked set.
    unsafe { libc::sigwait(&set, &mut sig) };
    eprintln!("mpipc manager: signal {sig}, shutting down");
    server.shutdown();
    eprintln!("mpipc manager: stopped");
    Ok(())
}

fn cmd_version(args: &[String]) -> Res {
    Args::parse("version", args, &[], &[])?.expect(&[])?;
    println!("mpipc {}", mpipc::VERSION);
    Ok(())
}

fn run(args: &[String]) -> Res {
    let Some(cmd) = args.first().map(String::as_str) else { return Err(shape_err("", "no command given")) };
    let rest = &args[1..];
    if matches!(cmd, "help" | "--help" | "-h") {
        let topic = rest.first().map(String::as_str).unwrap_or("");
        if !HELP.iter().any(|h| h.0 == topic) {
            return Err(shape_err("", format!("no help on {topic:?}: it is not a command")));
        }
        println!("{}", help(topic));
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
            Some(sub) => Err(shape_err("manager", format!("unknown manager command {sub:?}; it has serve and call"))),
            None => Err(shape_err("manager", "missing the manager command: serve or call")),
        },
        "version" | "--version" | "-V" => cmd_version(rest),
        _ => Err(shape_err("", format!("unknown command {cmd:?}"))),
    }
}

/// The words naming the command in messages: `mpipc put`, `mpipc manager
/// call`; just `mpipc` when the command is unknown.
fn command_words(args: &[String]) -> String {
    let mut w = vec!["mpipc"];
    let first = args.first().map(|c| if matches!(c.as_str(), "--version" | "-V") { "version" } else { c.as_str() });
    if let Some(cmd) = first.filter(|c| HELP.iter().any(|h| !h.0.is_empty() && h.0 == *c)) {
        w.push(cmd);
        if let Some(sub) = args.get(1).filter(|s| cmd == "manager" && matches!(s.as_str(), "serve" | "call")) {
            w.push(sub);
        }
    }
    w.join(" ")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail { code, msg, usage }) => {
            // The reason first, then (for a command line of the wrong
            // shape) how the command is used.
            eprintln!("{}: {msg}", command_words(&args));
            if let Some(cmd) = usage {
                if cmd.is_empty() {
                    eprintln!("\n{}", help(""));
                } else {
                    eprintln!("\n{}\n(`mpipc {cmd} --help` explains it)", synopsis(cmd));
                }
            }
            ExitCode::from(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        for (n, s) in [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (1024 * 1024 - 1, "1.0 MiB"),
            (1 << 20, "1.0 MiB"),
            ((1 << 20) + 2496, "1.0 MiB"),
            (3 << 30, "3.0 GiB"),
            (5 << 40, "5.0 TiB"),
            (u64::MAX, "16777216.0 TiB"),
        ] {
            assert_eq!(human_size(n), s, "{n}");
        }
    }

    #[test]
    fn byte_counts_take_binary_suffixes() {
        let parse = |v: &str| {
            let a = Args::parse("put", &["--capacity".to_owned(), v.to_owned()], &["--capacity"], &[]).ok().unwrap();
            bytes_flag(&a, "--capacity").ok()
        };
        assert_eq!(parse("4096"), Some(4096));
        assert_eq!(parse("64K"), Some(64 << 10));
        assert_eq!(parse("16m"), Some(16 << 20));
        assert_eq!(parse("1G"), Some(1 << 30));
        for bad in ["", "K", "1.5M", "-1", "1T", "99999999999999999999G"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
