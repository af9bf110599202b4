//! The `mpipc` command, run as a built binary: every subcommand, its
//! `--help`, its output and its exit codes (0 ok, 1 failure, 2 usage, 3
//! nothing in time), including the error paths.

use mpipc::segment::SegmentKind;
use mpipc::sync::OpenOptions;
use mpipc::{Event, ListenerOptions, Lock, ManagerServer, OpenMode, Queue, QueueOptions, Semaphore};
use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

fn mpipc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mpipc")).args(args).output().expect("run mpipc")
}

/// Runs and checks the exit code; returns (stdout, stderr).
fn expect(args: &[&str], code: i32) -> (String, String) {
    let o = mpipc(args);
    let (out, err) = (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned());
    assert_eq!(o.status.code(), Some(code), "mpipc {args:?}\nstdout: {out}\nstderr: {err}");
    (out, err)
}

/// A unique object name; every kind of that name is unlinked on drop.
struct Name(String);

impl Name {
    fn new(tag: &str) -> Name {
        static N: AtomicU32 = AtomicU32::new(0);
        Name(format!("cli-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        for k in SegmentKind::ALL {
            let _ = mpipc::segment::unlink(k, &self.0);
        }
    }
}

fn queue(n: &Name) -> Queue {
    Queue::open(&n.0, &QueueOptions { maxsize: 2, ..Default::default() }).unwrap()
}

#[test]
fn help_for_every_command_and_usage_errors() {
    let (top, _) = expect(&["help"], 0);
    for cmd in ["ls", "stat", "put", "get", "rm", "gc", "watch", "manager", "bench", "version"] {
        assert!(top.contains(cmd), "overview lists {cmd}");
        let (h, _) = expect(&[cmd, "--help"], 0);
        assert!(h.starts_with(&format!("usage: mpipc {cmd}")), "{cmd} --help: {h}");
        assert_eq!(expect(&["help", cmd], 0).0, h);
    }
    let (_, err) = expect(&[], 2);
    assert!(err.starts_with("mpipc: no command given\n") && err.contains("Commands:"), "{err}");
    let (_, err) = expect(&["frobnicate"], 2);
    assert!(err.starts_with("mpipc: unknown command \"frobnicate\"\n") && err.contains("Commands:"), "{err}");
    let (_, err) = expect(&["help", "frobnicate"], 2);
    assert!(err.starts_with("mpipc: no help on \"frobnicate\": it is not a command\n"), "{err}");
    let (_, err) = expect(&["get", "q", "--timeout"], 2);
    assert!(err.contains("--timeout needs a value"), "{err}");
    let (_, err) = expect(&["get", "q", "--timeout", "soon"], 2);
    assert!(err.contains("needs a number"), "{err}");
    expect(&["manager", "serve"], 2);
}

/// The reason of a usage error comes first, then the command's usage
/// lines (not the other way round, and not the usage alone).
#[test]
fn usage_errors_give_the_reason_before_the_usage() {
    for (args, reason, usage) in [
        (&["put", "only-name"][..], "mpipc put: missing JSON\n", "usage: mpipc put NAME JSON"),
        (&["stat"], "mpipc stat: missing NAME\n", "usage: mpipc stat NAME"),
        (&["ls", "extra"], "mpipc ls: unexpected argument \"extra\"\n", "usage: mpipc ls"),
        (&["ls", "--bogus"], "mpipc ls: unknown option --bogus\n", "usage: mpipc ls"),
        (&["manager"], "mpipc manager: missing the manager command: serve or call\n", "usage: mpipc manager serve"),
        (&["manager", "serve"], "mpipc manager serve: serve needs --address ADDR\n", "usage: mpipc manager serve"),
        (
            &["manager", "call", "unix:/x"],
            "mpipc manager call: missing KIND and NAME and METHOD and ARGS_JSON\n",
            "mpipc manager call ADDR",
        ),
    ] {
        let (_, err) = expect(args, 2);
        assert!(err.starts_with(reason), "{args:?}: the reason first: {err}");
        let at = err.find(usage).unwrap_or_else(|| panic!("{args:?}: usage after the reason: {err}"));
        assert!(at > reason.len() - 1, "{args:?}: {err}");
        assert!(err.trim_end().ends_with("--help` explains it)"), "{args:?}: {err}");
    }
    // A wrong value (not a wrong shape) is the reason alone.
    let (_, err) = expect(&["put", "q", "{oops"], 2);
    assert!(err.starts_with("mpipc put: JSON: invalid JSON") && !err.contains("usage:"), "{err}");
}

#[test]
fn manager_names_an_unknown_subcommand() {
    let (_, err) = expect(&["manager", "frobnicate"], 2);
    assert!(err.starts_with("mpipc manager: unknown manager command \"frobnicate\"; it has serve and call\n"), "{err}");
    assert!(err.contains("usage: mpipc manager serve"), "{err}");
}

#[test]
fn version_and_dash_dash_version() {
    let want = format!("mpipc {}\n", env!("CARGO_PKG_VERSION"));
    for args in [&["version"][..], &["--version"], &["-V"]] {
        assert_eq!(expect(args, 0).0, want, "{args:?}");
    }
    let (_, err) = expect(&["--version", "x"], 2);
    assert!(err.starts_with("mpipc version: unexpected argument \"x\""), "{err}");
}

#[test]
fn numeric_options_out_of_range_are_refused() {
    let n = Name::new("range");
    let _q = queue(&n);
    for (args, msg) in [
        (&["gc", "--min-age", "-5"][..], "mpipc gc: --min-age needs a whole number of seconds, 0 or more, not \"-5\""),
        (&["gc", "--min-age", "old"], "mpipc gc: --min-age needs a whole number of seconds"),
        (
            &["watch", &n.0, "--interval", "0"],
            "mpipc watch: --interval needs a whole number of milliseconds, 1 or more, not \"0\"",
        ),
        (&["watch", &n.0, "--interval", "-1"], "mpipc watch: --interval needs a whole number of milliseconds"),
        (&["put", &n.0, "1", "--create", "--capacity", "lots"], "mpipc put: --capacity needs a number of bytes"),
        (&["put", &n.0, "1", "--create", "--mode", "rw"], "mpipc put: --mode needs an octal file mode"),
    ] {
        let (_, err) = expect(args, 2);
        assert!(err.starts_with(msg), "{args:?}: {err}");
    }
    // The smallest values allowed work.
    expect(&["watch", &n.0, "--interval", "1", "--count", "2"], 0);
    expect(&["gc", "--min-age", "0", "--prefix", &n.0, "--dry-run"], 0);
}

#[test]
fn put_then_get_round_trips_json() {
    let n = Name::new("q");
    let _q = queue(&n);
    expect(&["put", &n.0, r#"{"id": 1, "vals": [1.5, -2, null, true, "x"]}"#], 0);
    let (out, _) = expect(&["get", &n.0, "--timeout", "0"], 0);
    assert_eq!(out.trim(), r#"{"id":1,"vals":[1.5,-2,null,true,"x"]}"#);
    expect(&["put", &n.0, "1.0"], 0);
    let (out, _) = expect(&["get", &n.0, "--diag"], 0);
    assert_eq!(out.trim(), "1.0");
    // Empty: exit 3 after the timeout.
    let (_, err) = expect(&["get", &n.0, "--timeout", "20"], 3);
    assert!(err.contains("is empty"), "{err}");
    // Full (maxsize 2): exit 3.
    expect(&["put", &n.0, "1"], 0);
    expect(&["put", &n.0, "2"], 0);
    let (_, err) = expect(&["put", &n.0, "3", "--timeout", "0"], 3);
    assert!(err.contains("stayed full"), "{err}");
    // Bad JSON: usage error, nothing put.
    let (_, err) = expect(&["put", &n.0, "{oops"], 2);
    assert!(err.contains("invalid JSON"), "{err}");
    assert_eq!(q_len(&n), 2);
}

fn q_len(n: &Name) -> usize {
    let attach = QueueOptions { open_mode: Some(OpenMode::AttachOnly), ..Default::default() };
    Queue::open(&n.0, &attach).unwrap().qsize().unwrap()
}

/// The README's first command works on a fresh system: `put --create`
/// makes the queue, with mpq_open's options.
#[test]
fn put_create_makes_the_queue_with_its_options() {
    let n = Name::new("create");
    let attach = QueueOptions { open_mode: Some(OpenMode::AttachOnly), ..Default::default() };
    // Without --create a missing queue is an error that says how to make it.
    let (_, err) = expect(&["put", &n.0, r#"{"id": 1}"#], 1);
    assert!(err.contains("does not exist") && err.contains("--create"), "{err}");
    assert!(Queue::open(&n.0, &attach).is_err(), "nothing was created");
    // The options need --create.
    let (_, err) = expect(&["put", &n.0, "1", "--maxsize", "3"], 2);
    assert!(err.starts_with("mpipc put: --maxsize applies only with --create"), "{err}");
    let opts = ["--create", "--maxsize", "2", "--capacity", "4K", "--max-message", "100", "--mode", "0640"];
    let with = |json: &str, extra: &[&str]| {
        let mut v = vec!["put", n.0.as_str(), json];
        v.extend_from_slice(extra);
        v.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>, code| expect(&args.iter().map(String::as_str).collect::<Vec<_>>(), code);
    run(with(r#"{"id": 1}"#, &opts), 0);
    let q = Queue::open(&n.0, &attach).unwrap();
    assert_eq!((q.maxsize(), q.capacity_bytes(), q.max_message()), (2, 4096, 100));
    let mode = std::fs::metadata(format!("/dev/shm/mpipc.q.{}", n.0)).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
    // Again with --create: attaches to the queue now there (same options).
    run(with("2", &opts), 0);
    assert_eq!(q.qsize().unwrap(), 2);
    assert_eq!(expect(&["get", &n.0, "--timeout", "0"], 0).0, "{\"id\":1}\n");
    // Options that do not match the existing queue: the library refuses.
    let (_, err) = run(with("3", &["--create", "--maxsize", "5"]), 1);
    assert!(err.contains("MP_E_INVAL"), "{err}");
    // The queue's own limits hold: a message beyond --max-message.
    let (_, err) = run(with(&format!("\"{}\"", "x".repeat(200)), &[]), 1);
    assert!(err.contains("MP_E_TOOBIG"), "{err}");
    // --create alone: the defaults (1 MiB ring, unbounded).
    let d = Name::new("create-default");
    expect(&["put", &d.0, "[]", "--create"], 0);
    let q = Queue::open(&d.0, &attach).unwrap();
    assert_eq!((q.maxsize(), q.capacity_bytes(), q.qsize().unwrap()), (0, 1 << 20, 1));
}

/// JSON integers beyond 64 bits become CBOR bignums (tags 2 and 3), and
/// come back as the same integers; the conversion is the library's JSON
/// bridge both ways.
#[test]
fn put_writes_bignums_and_get_reads_them_back() {
    let n = Name::new("big");
    let q = queue(&n);
    let json = "[18446744073709551616,-18446744073709551617,18446744073709551615,-9223372036854775809,1.0]";
    expect(&["put", &n.0, json], 0);
    let mut want = vec![0x85];
    want.extend_from_slice(b"\xc2\x49\x01\0\0\0\0\0\0\0\0"); // 2(h'010000000000000000') = 2^64
    want.extend_from_slice(b"\xc3\x49\x01\0\0\0\0\0\0\0\0"); // 3(...) = -1 - 2^64
    want.extend_from_slice(b"\x1b\xff\xff\xff\xff\xff\xff\xff\xff"); // 2^64 - 1 still fits
    want.extend_from_slice(b"\x3b\x80\0\0\0\0\0\0\0"); // -2^63 - 1: a negative integer head
    want.extend_from_slice(b"\xfb\x3f\xf0\0\0\0\0\0\0"); // 1.0 stays a float
    assert_eq!(q.get_bytes().unwrap(), want);
    expect(&["put", &n.0, json], 0);
    assert_eq!(expect(&["get", &n.0], 0).0.trim(), json);
}

/// `get` prints the JSON bridge's text, which `put` reads back to the same
/// CBOR; `--diag` prints diagnostic notation; what the bridge refuses and
/// what is not CBOR are shown in diagnostic notation with a note.
#[test]
fn get_prints_the_json_bridge_text_or_diagnostic_notation() {
    let n = Name::new("diag");
    let q = queue(&n);
    let map = b"\xa1\x01\x42\xde\xad"; // {1: h'dead'}
    q.put_bytes(map).unwrap();
    let (out, err) = expect(&["get", &n.0], 0);
    assert_eq!(out.trim(), r#"{"$map":[[1,{"$bytes":"3q0="}]]}"#);
    assert_eq!(err, "");
    expect(&["put", &n.0, out.trim()], 0);
    assert_eq!(q.get_bytes().unwrap(), map, "what get printed, put read back to the same bytes");
    q.put_bytes(map).unwrap();
    assert_eq!(expect(&["get", &n.0, "--diag"], 0).0.trim(), "{1: h'dead'}");
    q.put_bytes(b"\x82\x01\xda\x6d\x70\x70\x6b\x41\x00").unwrap(); // [1, PICKLE(h'00')]: Python's only
    let (out, err) = expect(&["get", &n.0], 0);
    assert_eq!(out.trim(), "[1, 1836085355(h'00')]");
    assert!(err.starts_with("mpipc get: shown in CBOR diagnostic notation"), "{err}");
    q.put_bytes(b"\xff\xfe").unwrap(); // not CBOR
    let (out, err) = expect(&["get", &n.0], 0);
    assert_eq!(out.trim(), "h'fffe'");
    assert!(err.contains("not one CBOR item"), "{err}");
}

#[test]
fn missing_objects_fail_with_exit_1() {
    let n = Name::new("none");
    for args in [
        vec!["get", n.0.as_str(), "--timeout", "0"],
        vec!["put", &n.0, "1"],
        vec!["stat", &n.0],
        vec!["rm", &n.0],
        vec!["watch", &n.0, "--count", "1"],
    ] {
        let (_, err) = expect(&args, 1);
        assert!(err.contains("does not exist") || err.contains("no mpipc object"), "{args:?}: {err}");
    }
    let (_, err) = expect(&["rm", &n.0, "--kind", "sem"], 1);
    assert!(err.contains("no sem named"), "{err}");
    let (_, err) = expect(&["rm", &n.0, "--kind", "teapot"], 2);
    assert!(err.contains("unknown kind"), "{err}");
}

#[test]
fn ls_and_stat_describe_objects() {
    let n = Name::new("ls");
    let q = queue(&n);
    q.put_bytes(b"\x01").unwrap();
    let attach_or_create = OpenOptions { open_mode: OpenMode::CreateOrAttach, mode: 0, any_owner: false };
    let ev = Event::open(&n.0, &attach_or_create).unwrap();
    ev.set();
    let _sem = Semaphore::open(&n.0, 3, true, &attach_or_create).unwrap();
    let lock = Lock::open(&n.0, false, &attach_or_create).unwrap();
    lock.acquire(&mpipc::sync::Deadline::Never).unwrap();
    let line = |out: &str, kind: &str| {
        out.lines()
            .find(|l| l.split_whitespace().take(2).collect::<Vec<_>>() == [kind, n.0.as_str()])
            .unwrap_or_else(|| panic!("no {kind} line in {out}"))
            .to_owned()
    };
    // Short: human sizes and the state in a few words.
    let (out, _) = expect(&["ls"], 0);
    assert!(out.starts_with("KIND") && out.lines().next().unwrap().ends_with("SIZE  STATE"), "{out}");
    let fields = |l: String| l.split_whitespace().skip(2).collect::<Vec<_>>().join(" ");
    assert_eq!(fields(line(&out, "queue")), "1.0 MiB 1 message", "{out}");
    assert_eq!(fields(line(&out, "event")), "128 B set", "{out}");
    assert_eq!(fields(line(&out, "sem")), "128 B value 3", "{out}");
    assert_eq!(fields(line(&out, "lock")), "128 B locked", "{out}");
    // Wide: every figure as key=value, exact numbers.
    for flag in ["-l", "--wide"] {
        let (out, _) = expect(&["ls", flag], 0);
        assert!(out.lines().next().unwrap().ends_with("SIZE  DETAILS"), "{out}");
        assert!(line(&out, "queue").contains("messages=1 bytes_used=16 capacity=1048576 maxsize=2"), "{out}");
        assert!(line(&out, "event").contains("set=true"), "{out}");
        assert!(line(&out, "sem").contains("value=3 bounded=true"), "{out}");
        assert!(line(&out, "lock").contains("recursive=false locked=true"), "{out}");
    }
    lock.release().unwrap();
    // Three kinds share the name: stat and rm need --kind.
    let (_, err) = expect(&["stat", &n.0], 2);
    assert!(err.contains("several kinds") && err.contains("--kind"), "{err}");
    expect(&["rm", &n.0], 2);
    let (st, _) = expect(&["stat", &n.0, "--kind", "queue"], 0);
    assert!(st.contains("kind:    queue") && st.contains("messages: 1"), "{st}");
    assert!(st.contains(&format!("size:    1.0 MiB ({} bytes)", q_file_len(&n))), "{st}");
    assert!(st.contains(&format!("used by: pid {}", std::process::id())), "{st}");
    let (st, _) = expect(&["stat", &n.0, "--kind", "ev"], 0);
    assert!(st.contains("set:     true"), "{st}");
    let (out, _) = expect(&["rm", &n.0, "--kind", "event"], 0);
    assert_eq!(out.trim(), format!("removed event {}", n.0));
    assert!(!expect(&["ls"], 0).0.contains(&format!("event    {}", n.0)));
}

#[test]
fn gc_removes_only_what_nobody_uses() {
    // --prefix keeps gc to this test's objects: other tests run meanwhile,
    // and the machine may hold objects of others.
    let prefix = format!("cli-gcx-{}-", std::process::id());
    let used = Name(format!("{prefix}used"));
    let unused = Name(format!("{prefix}unused"));
    let _q = queue(&used);
    drop(queue(&unused));
    let gc = |extra: &[&str], code: i32| {
        let mut args = vec!["gc", "--prefix", &prefix, "--ignore-uninspectable"];
        args.extend_from_slice(extra);
        expect(&args, code).0
    };
    let attach = QueueOptions { open_mode: Some(OpenMode::AttachOnly), ..Default::default() };
    let out = gc(&["--dry-run", "--min-age", "0"], 0);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains(&format!("would remove queue {}", unused.0)), "{out}");
    assert!(out.contains(&format!("kept queue {}: used by pid {}", used.0, std::process::id())), "{out}");
    assert!(Queue::open(&unused.0, &attach).is_ok(), "dry run removed nothing");
    // A young segment is kept by the default --min-age.
    let out = gc(&["--dry-run"], 0);
    assert!(out.contains(&format!("kept queue {}: changed less than", unused.0)), "{out}");
    let out = gc(&["--min-age", "0"], 0);
    assert!(out.contains(&format!("removed queue {}", unused.0)), "{out}");
    assert!(!out.contains(&format!("removed queue {}", used.0)), "{out}");
    assert!(Queue::open(&unused.0, &attach).is_err());
    assert!(Queue::open(&used.0, &attach).is_ok());
    expect(&["gc", "extra"], 2);
    expect(&["gc", "--min-age", "old"], 2);
}

fn q_file_len(n: &Name) -> u64 {
    std::fs::metadata(format!("/dev/shm/mpipc.q.{}", n.0)).unwrap().len()
}

/// Runs `mpipc args`, failing the test if it has not finished after a
/// minute (a hang guard for the bounded waits under test, not a timing
/// assertion: a bounded wait takes a fraction of a second).
fn expect_finishes(args: &[&str], code: i32) -> (String, String) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let (tx, rx) = std::sync::mpsc::channel();
    let shown = format!("{args:?}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mpipc"))
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mpipc");
    let pid = child.id();
    let (mut so, mut se) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    std::thread::spawn(move || {
        use std::io::Read;
        let (mut out, mut err) = (String::new(), String::new());
        let e = std::thread::spawn(move || {
            se.read_to_string(&mut err).unwrap();
            err
        });
        so.read_to_string(&mut out).unwrap();
        let _ = tx.send((child.wait().unwrap(), out, e.join().unwrap()));
    });
    match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok((status, out, err)) => {
            assert_eq!(status.code(), Some(code), "mpipc {shown}\nstdout: {out}\nstderr: {err}");
            (out, err)
        }
        Err(_) => {
            // SAFETY: kill of our own child's pid.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("mpipc {shown} still runs after a minute: it waits without bound");
        }
    }
}

/// A forked child of this test process, killed and reaped on drop. The
/// child does only async-signal-safe calls (it is a fork of a
/// multi-threaded process) and closes every inherited descriptor but its
/// own, so it keeps no pipe of a concurrent test open.
struct Forked(libc::pid_t);

impl Forked {
    /// Forks; the child runs `f(ready_fd)`, which writes one byte to
    /// `ready_fd` once in the state the test needs, then `_exit(0)`s. The
    /// parent returns once that byte arrived (waiting for the state).
    fn spawn(f: fn(libc::c_int)) -> Forked {
        let mut p = [0 as libc::c_int; 2];
        // SAFETY: p has room for the two descriptors.
        assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: the child calls only async-signal-safe functions
        // (close, prctl, pthread_mutex_lock on a shared mutex, write,
        // raise, pause, _exit) before it exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            // SAFETY: closing descriptors this child does not use.
            unsafe {
                for fd in 3..4096 {
                    if fd != p[1] {
                        libc::close(fd);
                    }
                }
                f(p[1]);
                libc::_exit(0);
            }
        }
        // SAFETY: closing our copy of the write end; reading one byte.
        unsafe {
            libc::close(p[1]);
            let mut b = 0u8;
            assert_eq!(libc::read(p[0], (&mut b as *mut u8).cast(), 1), 1, "the child reached its state");
            libc::close(p[0]);
        }
        Forked(pid)
    }

    /// Kills the child with SIGKILL and reaps it.
    fn kill(&mut self) {
        if self.0 > 0 {
            // SAFETY: our own child, reaped here exactly once.
            unsafe {
                libc::kill(self.0, libc::SIGKILL);
                libc::waitpid(self.0, std::ptr::null_mut(), 0);
            }
            self.0 = 0;
        }
    }
}

impl Drop for Forked {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Signals readiness and blocks until killed.
///
/// # Safety
/// In a forked child only (see [`Forked::spawn`]).
unsafe fn ready_then_wait(fd: libc::c_int) {
    // SAFETY: writing one byte from a local; pause until killed.
    unsafe {
        libc::write(fd, b"r".as_ptr().cast(), 1);
        loop {
            libc::pause();
        }
    }
}

/// A user id no process runs as (for [`gc_keeps_what_uninspectable_processes_may_use_and_says_how_to_disregard_them`]).
fn unused_uid() -> u32 {
    let used: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| std::fs::read_to_string(p.path().join("status")).ok())
        .filter_map(|st| st.lines().find_map(|l| l.strip_prefix("Uid:")).map(str::to_owned))
        .flat_map(|ids| ids.split_whitespace().filter_map(|i| i.parse().ok()).collect::<Vec<u32>>())
        .collect();
    (52000..62000).find(|u| !used.contains(u)).expect("a free uid")
}

/// The uid the hidden process and gc run as (0: this test's own).
static GC_UID: AtomicU32 = AtomicU32::new(0);

/// A process of the segment's owner that gc cannot inspect (a process
/// made non-dumpable: its /proc/PID/maps is unreadable to gc, as a
/// container's init is) keeps the segment; gc says so, names the process
/// and how to disregard it, and --ignore-uninspectable does.
///
/// As root the segment, the hidden process and gc get a user id of their
/// own, so that no other process of the machine counts (root's
/// non-dumpable processes, pid 1 in a container, would be listed too) and
/// gc has no capability that reads a non-dumpable process (setresuid away
/// from root drops them all); otherwise they run as this test's user.
#[test]
fn gc_keeps_what_uninspectable_processes_may_use_and_says_how_to_disregard_them() {
    let prefix = format!("cli-gch-{}-", std::process::id());
    let n = Name(format!("{prefix}q"));
    drop(queue(&n));
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let uid = unused_uid();
        let path = std::ffi::CString::new(format!("/dev/shm/mpipc.q.{}", n.0)).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::chown(path.as_ptr(), uid, uid) }, 0);
        // Relaxed: read by the forked children, which copy this memory.
        GC_UID.store(uid, Ordering::Relaxed);
    }
    /// Becomes GC_UID (when set): in a forked child (async-signal-safe calls).
    fn become_gc_uid() -> std::io::Result<()> {
        let uid = GC_UID.load(Ordering::Relaxed);
        // SAFETY: plain credential syscalls.
        if uid != 0
            && unsafe {
                libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setresgid(uid, uid, uid) != 0
                    || libc::setresuid(uid, uid, uid) != 0
            }
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
    let hidden = Forked::spawn(|fd| {
        // SAFETY: prctl has no memory arguments here; see ready_then_wait.
        unsafe {
            if become_gc_uid().is_err() {
                libc::_exit(1);
            }
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
            ready_then_wait(fd)
        }
    });
    // The command as the other user can run it: the build's directories
    // follow the umask the tests were started with (0700 under umask 077),
    // so that user may not reach target/; a copy in a directory of our own
    // with explicit modes does not depend on it.
    let exe_dir = std::env::temp_dir().join(format!("cli-gch-{}", std::process::id()));
    std::fs::create_dir_all(&exe_dir).unwrap();
    std::fs::set_permissions(&exe_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = exe_dir.join("mpipc");
    std::fs::copy(env!("CARGO_BIN_EXE_mpipc"), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let gc = |extra: &[&str]| {
        let mut cmd = Command::new(&exe);
        cmd.args(["gc", "--dry-run", "--min-age", "0", "--prefix", &prefix]).args(extra);
        // SAFETY: credential syscalls in the child before exec.
        unsafe { cmd.pre_exec(become_gc_uid) };
        let o = cmd.output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        (String::from_utf8(o.stdout).unwrap(), String::from_utf8(o.stderr).unwrap())
    };
    let (out, err) = gc(&[]);
    let pid = hidden.0;
    assert_eq!(
        out.trim(),
        format!(
            "kept queue {}: pid {pid} cannot be inspected and may use it (--ignore-uninspectable to disregard)",
            n.0
        )
    );
    assert!(
        err.starts_with(&format!("mpipc gc: 1 object(s) kept only because process(es) {pid} could use them")),
        "{err}"
    );
    assert!(err.contains("run again with --ignore-uninspectable"), "{err}");
    let (out, err) = gc(&["--ignore-uninspectable"]);
    assert_eq!(out.trim(), format!("would remove queue {}", n.0));
    assert_eq!(err, "");
    std::fs::remove_dir_all(&exe_dir).unwrap();
}

/// `ls`, `stat` and `watch` wait a bounded time for a queue's lock held by
/// a stopped process and report the queue busy; once that process is
/// killed, the next look recovers the lock (the holder died).
#[test]
fn ls_and_stat_report_a_queue_whose_lock_a_stopped_process_holds_busy() {
    let n = Name::new("busy");
    let q = queue(&n);
    q.put_bytes(b"\x01").unwrap();
    // The queue's mutex is at offset 64 of its segment (docs/PROTOCOL.md,
    // the queue's header); the child maps the file and takes it.
    let path = std::ffi::CString::new(format!("/dev/shm/mpipc.q.{}", n.0)).unwrap();
    // SAFETY: opening and mapping the queue's file in this process, before
    // the fork; the child inherits the mapping.
    let base = unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_RDWR);
        assert!(fd >= 0);
        let m = libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0);
        libc::close(fd);
        assert_ne!(m, libc::MAP_FAILED);
        m
    };
    static MUTEX: std::sync::atomic::AtomicPtr<libc::pthread_mutex_t> =
        std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());
    // SAFETY: offset 64 is inside the 4096 bytes mapped. Relaxed: the
    // fork copies this process's memory, no other thread reads it.
    MUTEX.store(unsafe { base.cast::<u8>().add(64).cast() }, Ordering::Relaxed);
    let mut holder = Forked::spawn(|fd| {
        // SAFETY: the robust process-shared mutex the queue's creator
        // initialised; then readiness, then stop (see ready_then_wait).
        unsafe {
            libc::pthread_mutex_lock(MUTEX.load(Ordering::Relaxed));
            libc::write(fd, b"r".as_ptr().cast(), 1);
            libc::raise(libc::SIGSTOP);
            loop {
                libc::pause();
            }
        }
    });
    // Wait until the holder is stopped.
    // SAFETY: our own child; WUNTRACED reports the stop without reaping.
    unsafe {
        let mut st = 0;
        assert_eq!(libc::waitpid(holder.0, &mut st, libc::WUNTRACED), holder.0);
        assert!(libc::WIFSTOPPED(st));
    }
    let tid = holder.0.to_string();
    let (out, _) = expect_finishes(&["ls"], 0);
    let line = out.lines().find(|l| l.contains(&n.0)).unwrap_or_else(|| panic!("{out}"));
    assert!(line.ends_with("busy: its lock stays held (ls -l or stat says by whom)"), "{out}");
    let (out, _) = expect_finishes(&["ls", "-l"], 0);
    let line = out.lines().find(|l| l.contains(&n.0)).unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains(&format!("busy=queue {:?}: its lock stayed held by thread {tid}", n.0)), "{out}");
    assert!(line.contains("capacity=1048576 maxsize=2"), "what needs no lock is still shown: {out}");
    let (st, _) = expect_finishes(&["stat", &n.0], 0);
    assert!(
        st.contains(&format!("busy:    queue {:?}: its lock stayed held by thread {tid} (a process stopped", n.0)),
        "{st}"
    );
    let (w, _) = expect_finishes(&["watch", &n.0, "--interval", "1", "--count", "1"], 0);
    assert!(w.lines().nth(1).is_some_and(|l| l.contains("busy: ")), "{w}");
    // Killed: the kernel marks the mutex owner-dead; the next look takes
    // it over and counts the death.
    holder.kill();
    let (st, _) = expect_finishes(&["stat", &n.0], 0);
    assert!(st.contains("messages: 1") && st.contains("owner_deaths: 1") && !st.contains("busy:"), "{st}");
    // SAFETY: the mapping made above, unused from here on.
    unsafe { libc::munmap(base, 4096) };
}

/// TCP serve and call name this command's own options: the authkey file,
/// or the opt-in to run without one, which they have.
#[test]
fn manager_over_tcp_needs_a_key_or_the_commands_opt_in() {
    for args in [
        &["manager", "serve", "--address", "tcp:127.0.0.1:0"][..],
        &["manager", "call", "tcp:127.0.0.1:9", "dict", "d", "keys", "[]"],
    ] {
        let (_, err) = expect(args, 2);
        assert!(
            err.contains("TCP needs an authkey: --authkey-file FILE")
                && err.contains("--allow-tcp-without-authkey")
                && !err.contains("explicit opt-in"),
            "{args:?}: {err}"
        );
    }
    let mut server = Command::new(env!("CARGO_BIN_EXE_mpipc"))
        .args(["manager", "serve", "--address", "tcp:127.0.0.1:0", "--allow-tcp-without-authkey"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    /// Stops the server (SIGTERM) and reaps it, also when an assertion fails.
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            // SAFETY: our own child.
            unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
            let _ = self.0.wait();
        }
    }
    let mut lines = std::io::BufReader::new(server.stderr.take().unwrap()).lines();
    let server = Stop(server);
    let warning = lines.next().unwrap().unwrap();
    assert!(warning.contains("no authkey: anyone who reaches tcp:127.0.0.1:"), "{warning}");
    let serving = lines.next().unwrap().unwrap();
    let addr = serving
        .strip_prefix("mpipc manager: serving at ")
        .and_then(|s| s.split(' ').next())
        .unwrap_or_else(|| panic!("{serving}"))
        .to_owned();
    let (_, err) = expect(&["manager", "call", &addr, "dict", "d", "set", r#"["k", 7]"#], 2);
    assert!(err.contains("--allow-tcp-without-authkey"), "{err}");
    let opt_in = "--allow-tcp-without-authkey";
    expect(&["manager", "call", &addr, "dict", "d", "set", r#"["k", 7]"#, opt_in], 0);
    assert_eq!(expect(&["manager", "call", &addr, "dict", "d", "get", r#"["k"]"#, opt_in], 0).0, "7\n");
    drop(server);
    assert!(lines.any(|l| l.is_ok_and(|l| l == "mpipc manager: stopped")), "stopped on SIGTERM");
}

#[test]
fn watch_prints_count_lines() {
    let n = Name::new("watch");
    let q = queue(&n);
    q.put_bytes(b"\x01").unwrap();
    let (out, _) = expect(&["watch", &n.0, "--interval", "10", "--count", "3"], 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].contains("MESSAGES") && lines[0].contains("IN_B/S"));
    let f: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(&f[1..4], ["1", "16", "1"], "{out}");
}

#[test]
fn manager_call_calls_methods() {
    /// A directory removed on drop, also when an assertion fails.
    struct TempDir(std::path::PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let tmp = TempDir(std::env::temp_dir().join(format!("mpipc-cli-mgr-{}", std::process::id())));
    let dir = tmp.0.clone();
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("key");
    std::fs::write(&key, b"sekrit\n").unwrap();
    let addr = format!("unix:{}", dir.join("m.sock").display());
    let opts = ListenerOptions { authkey: Some(b"sekrit".to_vec()), ..Default::default() };
    let server = ManagerServer::serve(&addr, &opts).unwrap();
    let k = key.to_str().unwrap();
    expect(&["manager", "call", &addr, "dict", "d", "set", r#"["a", {"x": [1, 2]}]"#, "--authkey-file", k], 0);
    let (out, _) = expect(&["manager", "call", &addr, "dict", "d", "get", r#"["a"]"#, "--authkey-file", k], 0);
    assert_eq!(out.trim(), r#"{"x":[1,2]}"#);
    let (_, err) = expect(&["manager", "call", &addr, "dict", "d", "get", r#"["nope"]"#, "--authkey-file", k], 1);
    assert!(err.starts_with("mpipc manager call: dict \"d\".get") && err.contains("MP_E_NOTFOUND"), "{err}");
    // Beyond 64 bits: a bignum both ways; bytes in the bridge's form.
    let big = r#"["b", [18446744073709551616, {"$bytes": "AAE="}]]"#;
    expect(&["manager", "call", &addr, "dict", "d", "set", big, "--authkey-file", k], 0);
    let (out, _) = expect(&["manager", "call", &addr, "dict", "d", "get", r#"["b"]"#, "--authkey-file", k], 0);
    assert_eq!(out.trim(), r#"[18446744073709551616,{"$bytes":"AAE="}]"#);
    let (_, err) = expect(&["manager", "call", &addr, "dict", "d", "keys", r#"{"not": "a list"}"#], 2);
    assert!(err.contains("JSON array"), "{err}");
    let (_, err) =
        expect(&["manager", "call", &addr, "dict", "d", "keys", "[]", "--authkey-file", "/nonexistent/key"], 1);
    assert!(err.contains("cannot read the authkey file"), "{err}");
    // No key for a server that wants one: refused, saying so (the server's
    // challenge arrives where the first reply was expected).
    let (_, err) = expect(&["manager", "call", &addr, "dict", "d", "keys", "[]"], 1);
    assert!(err.starts_with("mpipc manager call: ") && err.contains("requires an authkey"), "{err}");
    server.shutdown();
    let (_, err) = expect(&["manager", "call", &addr, "dict", "d", "keys", "[]", "--timeout", "200"], 1);
    assert!(err.contains("cannot connect"), "{err}");
}

#[test]
fn bench_prints_a_table() {
    let (out, err) = expect(&["bench", "--duration-ms", "20"], 0);
    for w in ["WORKLOAD", "q_tput", "q_latency", "pipe_tput", "lock"] {
        assert!(out.contains(w), "{w} in {out}");
    }
    assert!(err.contains("[1/4] q_tput") && err.contains("[4/4] lock"), "progress on stderr: {err}");
    expect(&["bench", "--duration-ms", "x"], 2);
}

#[test]
fn foreign_and_damaged_files_are_reported_not_trusted() {
    let short = Name::new("short");
    let junk = Name::new("junk");
    let wrong = Name::new("wrong");
    let path = |n: &Name| format!("/dev/shm/mpipc.q.{}", n.0);
    std::fs::write(path(&short), b"MPIPC").unwrap();
    std::fs::write(path(&junk), [0u8; 4096]).unwrap();
    // A valid magic and layout, but kind 2 (shm) under a queue's name.
    let mut h = b"MPIPCSEG".to_vec();
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&2u32.to_le_bytes());
    h.resize(4096, 0);
    std::fs::write(path(&wrong), h).unwrap();
    let (out, _) = expect(&["ls"], 0);
    let line =
        |n: &Name| out.lines().find(|l| l.contains(&n.0)).unwrap_or_else(|| panic!("{} in {out}", n.0)).to_owned();
    assert!(line(&short).contains("5 B  error: cannot read the header"), "{out}");
    assert!(line(&junk).contains("4.0 KiB  error: bad magic"), "{out}");
    assert!(line(&wrong).contains("error: header says kind 2, the file name says queue"), "{out}");
    let (out, _) = expect(&["ls", "-l"], 0);
    assert!(
        out.lines().any(|l| l.contains(&junk.0) && l.ends_with("  error=bad magic: not an mpipc segment")),
        "{out}"
    );
    let (st, _) = expect(&["stat", &junk.0], 0);
    assert!(st.contains("error:   bad magic"), "{st}");
    // put and get refuse them (the library checks the header), rm removes.
    let (_, err) = expect(&["get", &junk.0, "--timeout", "0"], 1);
    assert!(err.contains("MP_E_CORRUPT"), "{err}");
    let (_, err) = expect(&["put", &wrong.0, "1"], 1);
    assert!(err.contains("MP_E_TYPE"), "{err}");
    expect(&["rm", &junk.0], 0);
    assert!(!std::path::Path::new(&path(&junk)).exists());
}
