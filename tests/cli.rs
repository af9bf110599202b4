//! The `mpipc` command, run as a built binary: every subcommand, its
//! `--help`, its output and its exit codes (0 ok, 1 failure, 2 usage, 3
//! nothing in time), including the error paths.

use mpipc::segment::SegmentKind;
use mpipc::sync::OpenOptions;
use mpipc::{Event, ListenerOptions, ManagerServer, OpenMode, Queue, QueueOptions, Semaphore};
use std::process::{Command, Output};
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
    expect(&[], 2);
    let (_, err) = expect(&["frobnicate"], 2);
    assert!(err.contains("unknown command \"frobnicate\""), "{err}");
    let (_, err) = expect(&["ls", "--bogus"], 2);
    assert!(err.contains("unknown option --bogus"), "{err}");
    let (_, err) = expect(&["get", "q", "--timeout"], 2);
    assert!(err.contains("--timeout needs a value"), "{err}");
    let (_, err) = expect(&["get", "q", "--timeout", "soon"], 2);
    assert!(err.contains("needs a number"), "{err}");
    expect(&["stat"], 2);
    expect(&["put", "only-name"], 2);
    expect(&["manager"], 2);
    expect(&["manager", "serve"], 2);
    let (v, _) = expect(&["version"], 0);
    assert_eq!(v.trim(), format!("mpipc {}", env!("CARGO_PKG_VERSION")));
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
}

#[test]
fn get_shows_what_json_cannot_in_diagnostic_notation() {
    let n = Name::new("diag");
    let q = queue(&n);
    q.put_bytes(b"\xa1\x01\x42\xde\xad").unwrap(); // {1: h'dead'}
    q.put_bytes(b"\xff\xfe").unwrap(); // not CBOR
    assert_eq!(expect(&["get", &n.0], 0).0.trim(), "{1: h'dead'}");
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
    let (out, _) = expect(&["ls"], 0);
    let line = |kind: &str| {
        out.lines()
            .find(|l| l.split_whitespace().take(2).collect::<Vec<_>>() == [kind, n.0.as_str()])
            .unwrap_or_else(|| panic!("no {kind} line in {out}"))
            .to_owned()
    };
    assert!(line("queue").contains("messages=1 bytes_used=16"), "{out}");
    assert!(line("event").contains("set=true"), "{out}");
    assert!(line("sem").contains("value=3 bounded=true"), "{out}");
    // Three kinds share the name: stat and rm need --kind.
    let (_, err) = expect(&["stat", &n.0], 2);
    assert!(err.contains("several kinds") && err.contains("--kind"), "{err}");
    expect(&["rm", &n.0], 2);
    let (st, _) = expect(&["stat", &n.0, "--kind", "queue"], 0);
    assert!(st.contains("kind:    queue") && st.contains("messages: 1"), "{st}");
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

#[test]
fn gc_keeps_what_hidden_processes_may_use_unless_told() {
    // Whether some process cannot be inspected depends on the machine
    // (as root in a container, init often cannot be); when one can't, a
    // segment of its owner is kept without --ignore-uninspectable.
    let prefix = format!("cli-gch-{}-", std::process::id());
    let n = Name(format!("{prefix}q"));
    drop(queue(&n));
    let (out, _) = expect(&["gc", "--dry-run", "--min-age", "0", "--prefix", &prefix], 0);
    // Some process of ours (the segment's owner) whose maps we cannot read?
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let hidden = std::fs::read_dir("/proc").unwrap().flatten().any(|p| {
        use std::os::unix::fs::MetadataExt;
        let numeric = p.file_name().to_str().is_some_and(|s| s.parse::<u32>().is_ok());
        let ours = std::fs::metadata(p.path()).is_ok_and(|m| m.uid() == me);
        numeric
            && ours
            && std::fs::read_to_string(p.path().join("maps")).is_err_and(|e| e.kind() != std::io::ErrorKind::NotFound)
    });
    if hidden {
        assert!(out.contains("cannot be inspected and may use it"), "{out}");
    } else {
        assert!(out.contains(&format!("would remove queue {}", n.0)), "{out}");
    }
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
    assert!(err.contains("dict \"d\".get") && err.contains("MP_E_NOTFOUND"), "{err}");
    let (_, err) = expect(&["manager", "call", &addr, "dict", "d", "keys", r#"{"not": "a list"}"#], 2);
    assert!(err.contains("JSON array"), "{err}");
    let (_, err) =
        expect(&["manager", "call", &addr, "dict", "d", "keys", "[]", "--authkey-file", "/nonexistent/key"], 1);
    assert!(err.contains("cannot read the authkey file"), "{err}");
    // No key for a server that wants one: refused, saying so (the server's
    // challenge arrives where the first reply was expected).
    let (_, err) = expect(&["manager", "call", &addr, "dict", "d", "keys", "[]"], 1);
    assert!(err.starts_with("mpipc manager: ") && err.contains("requires an authkey"), "{err}");
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
    assert!(line(&short).contains("error=cannot read the header"), "{out}");
    assert!(line(&junk).contains("error=bad magic"), "{out}");
    assert!(line(&wrong).contains("error=header says kind 2, the file name says queue"), "{out}");
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
