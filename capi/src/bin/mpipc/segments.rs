//! Finding mpipc segments in /dev/shm, describing them, and finding who
//! uses them (for `ls`, `stat`, `rm` and `gc`).

use mpipc::segment::{SegmentKind, SEGMENT_MAGIC, SHM_DIR};
use mpipc::sync::OpenOptions;
use mpipc::{Array, Barrier, Condition, Event, Lock, OpenMode, Queue, QueueOptions, Semaphore, ShareableList};
use mpipc::{SharedMemory, TypeCode};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

/// One segment file.
pub struct Seg {
    /// Its kind, from the file name.
    pub kind: SegmentKind,
    /// The object name.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The file's metadata (size, mode, owner, inode).
    pub meta: std::fs::Metadata,
}

/// Every mpipc segment in /dev/shm, sorted by kind then name.
pub fn list() -> std::io::Result<Vec<Seg>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(SHM_DIR)? {
        let e = e?;
        let file = e.file_name();
        let Some((kind, name)) = file.to_str().and_then(SegmentKind::parse_file_name) else { continue };
        let Ok(meta) = std::fs::symlink_metadata(e.path()) else { continue }; // removed meanwhile
        if !meta.is_file() {
            continue;
        }
        out.push(Seg { kind, name: name.to_owned(), path: e.path(), meta });
    }
    out.sort_by(|a, b| (a.kind as u32, &a.name).cmp(&(b.kind as u32, &b.name)));
    Ok(out)
}

/// The segments named `name`, of `kind` if given.
pub fn find(name: &str, kind: Option<SegmentKind>) -> std::io::Result<Vec<Seg>> {
    let name = name.strip_prefix('/').unwrap_or(name);
    Ok(list()?.into_iter().filter(|s| s.name == name && kind.is_none_or(|k| k == s.kind)).collect())
}

/// Parses a `--kind` value: a label (`queue`, `sem`, ...) or a prefix
/// (`q`, `a`, ...).
pub fn parse_kind(s: &str) -> Option<SegmentKind> {
    SegmentKind::ALL
        .into_iter()
        .find(|k| k.label() == s || k.prefix().trim_start_matches("mpipc.").trim_end_matches('.') == s)
}

/// How the command attaches to what it inspects: attach only, whoever owns
/// it (the user names the object, e.g. `sudo mpipc stat q.jobs`; the
/// name-squatting guard is for programs that put data into "their" objects).
fn attach() -> OpenOptions {
    OpenOptions { open_mode: OpenMode::AttachOnly, mode: 0, any_owner: true }
}

/// What can be known about a segment, as `key=value` pairs. Reads the
/// common header itself, then attaches through the library (attach only:
/// nothing is ever created) for the kind's own figures. A queue's figures
/// need its lock: waited for at most `busy_wait`, then the queue is
/// reported `busy` (with the library's message, naming the holder).
pub fn details(s: &Seg, busy_wait: std::time::Duration) -> Vec<(String, String)> {
    let mut d = Vec::new();
    match read_header(s) {
        Ok((layout, kind)) if kind == s.kind as u32 => d.push(("layout".into(), layout.to_string())),
        Ok((_, kind)) => {
            d.push(("error".into(), format!("header says kind {kind}, the file name says {}", s.kind.label())));
            return d;
        }
        Err(e) => {
            d.push(("error".into(), e));
            return d;
        }
    }
    let r: mpipc::Result<()> = (|| {
        match s.kind {
            SegmentKind::Queue => {
                let opts =
                    QueueOptions { open_mode: Some(OpenMode::AttachOnly), any_owner: true, ..Default::default() };
                let q = Queue::open(&s.name, &opts)?;
                // One snapshot under the lock, waited for at most busy_wait.
                let st = match q.stats(Some(busy_wait)) {
                    Ok(st) => Some(st),
                    Err(e) if e.kind() == mpipc::ErrorKind::Timeout => {
                        d.push(("busy".into(), e.message().to_owned()));
                        None
                    }
                    Err(e) => return Err(e),
                };
                if let Some(st) = st {
                    d.push(("messages".into(), st.messages.to_string()));
                    d.push(("bytes_used".into(), st.bytes_used.to_string()));
                }
                d.push(("capacity".into(), q.capacity_bytes().to_string()));
                d.push(("maxsize".into(), q.maxsize().to_string()));
                d.push(("max_message".into(), q.max_message().to_string()));
                if let Some(st) = st {
                    d.push(("unfinished".into(), st.unfinished.to_string()));
                    d.push(("shutdown".into(), st.shutdown.to_string()));
                }
                d.push(("owner_deaths".into(), q.owner_deaths().to_string()));
            }
            SegmentKind::Block => {
                let b = SharedMemory::open(&s.name, 0, &attach())?;
                d.push(("bytes".into(), b.size().to_string()));
            }
            SegmentKind::Array => {
                // The typecode is needed to attach: try each; only the
                // right one is not a Type error.
                let mut found = None;
                for tc in TypeCode::ALL {
                    match Array::open(&s.name, tc.as_char(), 0, false, &attach()) {
                        Ok(a) => {
                            found = Some(a);
                            break;
                        }
                        Err(e) if e.kind() == mpipc::ErrorKind::Type => continue,
                        Err(e) => return Err(e),
                    }
                }
                if let Some(a) = found {
                    d.push(("typecode".into(), (a.typecode().as_char() as char).to_string()));
                    d.push(("length".into(), a.len().to_string()));
                    d.push(("lock".into(), a.has_lock().to_string()));
                    d.push(("owner_deaths".into(), a.owner_deaths().to_string()));
                }
            }
            SegmentKind::Lock => {
                let l = Lock::open(&s.name, false, &attach()).or_else(|_| Lock::open(&s.name, true, &attach()))?;
                d.push(("recursive".into(), l.is_recursive().to_string()));
                d.push(("locked".into(), l.is_locked().to_string()));
                d.push(("owner_deaths".into(), l.owner_deaths().to_string()));
            }
            SegmentKind::Semaphore => {
                let m = Semaphore::open(&s.name, 0, false, &attach())
                    .or_else(|_| Semaphore::open(&s.name, 0, true, &attach()))?;
                d.push(("value".into(), m.value().to_string()));
                d.push(("bounded".into(), m.is_bounded().to_string()));
            }
            SegmentKind::Event => {
                let e = Event::open(&s.name, &attach())?;
                d.push(("set".into(), e.is_set().to_string()));
            }
            SegmentKind::Condition => {
                let c = Condition::open(&s.name, &attach())?;
                d.push(("waiters".into(), c.waiters().to_string()));
            }
            SegmentKind::Barrier => {
                let b = Barrier::open(&s.name, 0, &attach())?;
                d.push(("parties".into(), b.parties().to_string()));
                d.push(("waiting".into(), b.n_waiting().to_string()));
                d.push(("broken".into(), b.is_broken().to_string()));
            }
            SegmentKind::ShareableList => {
                let l = ShareableList::open(&s.name, None, &attach())?;
                d.push(("items".into(), l.len().to_string()));
            }
        }
        Ok(())
    })();
    if let Err(e) = r {
        d.push(("error".into(), e.to_string()));
    }
    d
}

/// The state of a segment in a few words, for `ls` (what [`details`]
/// found, the figure that matters most for its kind).
pub fn summary(kind: SegmentKind, d: &[(String, String)]) -> String {
    let get = |k: &str| d.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let n = |k: &str| get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let plural = |k: &str, one: &str| {
        let x = n(k);
        format!("{x} {one}{}", if x == 1 { "" } else { "s" })
    };
    if let Some(e) = get("error") {
        return format!("error: {e}");
    }
    if get("busy").is_some() {
        return "busy: its lock stays held (ls -l or stat says by whom)".to_owned();
    }
    let yes = |k: &str| get(k) == Some("true");
    match kind {
        SegmentKind::Queue => {
            let mut s = plural("messages", "message");
            if yes("shutdown") {
                s.push_str(", shut down");
            }
            s
        }
        SegmentKind::Block => String::new(),
        SegmentKind::Array => match get("typecode") {
            Some(tc) => format!("{} of '{tc}'", plural("length", "item")),
            None => String::new(),
        },
        SegmentKind::Lock => {
            let what = if yes("recursive") { "recursive, " } else { "" };
            format!("{what}{}", if yes("locked") { "locked" } else { "free" })
        }
        SegmentKind::Semaphore => format!("value {}", n("value")),
        SegmentKind::Event => (if yes("set") { "set" } else { "not set" }).to_owned(),
        SegmentKind::Condition => format!("{} waiting", n("waiters")),
        SegmentKind::Barrier => {
            let mut s = format!("{} of {} waiting", n("waiting"), n("parties"));
            if yes("broken") {
                s.push_str(", broken");
            }
            s
        }
        SegmentKind::ShareableList => plural("items", "item"),
    }
}

/// The common header's layout version and kind, read from the file.
fn read_header(s: &Seg) -> Result<(u32, u32), String> {
    use std::io::Read;
    let mut b = [0u8; 16];
    std::fs::File::open(&s.path)
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| format!("cannot read the header: {e}"))?;
    if u64::from_le_bytes(b[0..8].try_into().unwrap()) != SEGMENT_MAGIC {
        return Err("bad magic: not an mpipc segment".into());
    }
    Ok((u32::from_le_bytes(b[8..12].try_into().unwrap()), u32::from_le_bytes(b[12..16].try_into().unwrap())))
}

/// The file mode as `rw-------`.
pub fn mode_string(meta: &std::fs::Metadata) -> String {
    let m = meta.permissions().mode();
    (0..9).map(|i| if m & (1 << (8 - i)) != 0 { b"rwx"[i % 3] as char } else { '-' }).collect()
}

/// Who uses which segment: every process's mappings (/proc/PID/maps, by
/// device and inode) and open descriptors (/proc/PID/fd). Processes whose
/// maps or descriptors cannot be read are remembered with their effective
/// user id.
pub struct Users {
    /// (dev, inode, pid) of every mapping or descriptor of a /dev/shm file.
    uses: Vec<(u64, u64, u32)>,
    /// The (pid, uid) of processes that could not be inspected.
    hidden: Vec<(u32, u32)>,
}

impl Users {
    /// Scans /proc once.
    pub fn scan() -> Users {
        let mut u = Users { uses: Vec::new(), hidden: Vec::new() };
        let shm_dev = std::fs::metadata(SHM_DIR).map(|m| m.dev()).unwrap_or(0);
        let Ok(procs) = std::fs::read_dir("/proc") else { return u };
        for p in procs.flatten() {
            let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            let dir = p.path();
            let mut readable = true;
            match std::fs::read_to_string(dir.join("maps")) {
                Ok(maps) => {
                    for line in maps.lines() {
                        // address perms offset dev inode path
                        let f: Vec<&str> = line.split_whitespace().collect();
                        if f.len() >= 6 && f[5].starts_with(SHM_DIR) {
                            if let Ok(ino) = f[4].parse::<u64>() {
                                u.uses.push((shm_dev, ino, pid));
                            }
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue, // exited
                Err(_) => readable = false,
            }
            match std::fs::read_dir(dir.join("fd")) {
                Ok(fds) => {
                    for fd in fds.flatten() {
                        if let Ok(m) = std::fs::metadata(fd.path()) {
                            if m.dev() == shm_dev {
                                u.uses.push((m.dev(), m.ino(), pid));
                            }
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(_) => readable = false,
            }
            if !readable {
                if let Some(uid) = effective_uid(&dir) {
                    u.hidden.push((pid, uid));
                }
            }
        }
        u
    }

    /// The processes that map or hold the segment open (sorted, unique).
    pub fn pids(&self, s: &Seg) -> Vec<u32> {
        let mut v: Vec<u32> =
            self.uses.iter().filter(|(d, i, _)| *d == s.meta.dev() && *i == s.meta.ino()).map(|u| u.2).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The processes that could not be inspected and might use the
    /// segment: those of its owner, or anyone's when the mode lets others
    /// open it (sorted).
    pub fn hidden_pids(&self, s: &Seg) -> Vec<u32> {
        let shared = s.meta.permissions().mode() & 0o066 != 0;
        let mut v: Vec<u32> =
            self.hidden.iter().filter(|(_, uid)| shared || *uid == s.meta.uid()).map(|(p, _)| *p).collect();
        v.sort_unstable();
        v
    }
}

/// The effective user id of the process of /proc/PID `dir`, from its
/// `status` (readable whatever the process: the owner of the /proc/PID
/// directory itself is root for a process that made itself non-dumpable,
/// and would hide the real user), else the directory's owner.
fn effective_uid(dir: &std::path::Path) -> Option<u32> {
    let from_status = std::fs::read_to_string(dir.join("status")).ok().and_then(|st| {
        // "Uid:\treal\teffective\tsaved\tfs"
        st.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|ids| ids.split_whitespace().nth(1)?.parse().ok())
    });
    from_status.or_else(|| std::fs::metadata(dir).ok().map(|m| m.uid()))
}
