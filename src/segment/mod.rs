//! Named shared-memory segments: create-or-attach, header validation,
//! unlink; the kinds of segment
//! ([`SegmentKind`](crate::segment::SegmentKind), one row per kind); and
//! [`NamedSegment`](crate::segment::NamedSegment) (named.rs), the segment
//! holding one state struct that every named object but the queue lives in.
//!
//! A segment is a file in `/dev/shm` (what glibc's `shm_open` uses), named
//! `mpipc.<kind>.<name>` so that objects of different kinds never collide.
//! Every segment starts with a [`SegmentHeader`](crate::segment::SegmentHeader) (magic, layout version,
//! kind, sizes); attaching validates it before anything else is read.
//!
//! **Atomic publication.** A segment is created *unnamed* (`O_TMPFILE` on the
//! tmpfs), sized, mapped and fully initialised by the caller's closure, and only
//! then linked under its name with `linkat`, which fails with `EEXIST` if
//! another process won the race. So a name never refers to a half-initialised
//! segment, a creator killed during initialisation leaves nothing behind, and
//! attachers need no "initialised" flag or retry loop. (Kernels or filesystems
//! without `O_TMPFILE` fall back to a uniquely named temporary file that is
//! renamed into place with `link` + `unlink`.)
//!
//! Segments are created with mode 0600 unless the caller asks otherwise; the
//! mode is applied with `fchmod`, so the umask cannot widen or narrow it.

use crate::error::{Error, ErrorKind, Result};
use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

mod named;

pub use named::{tail_offset, NamedSegment, OpenOptions, DEFAULT_MODE, STATE_OFFSET};

/// Where POSIX shared memory lives on Linux.
pub const SHM_DIR: &str = "/dev/shm";

/// `b"MPIPCSEG"` read as a little-endian `u64`.
pub const SEGMENT_MAGIC: u64 = u64::from_le_bytes(*b"MPIPCSEG");

/// The longest object name accepted (bytes, after an optional leading `/`).
pub const MAX_NAME_LEN: usize = 200;

/// Declares [`SegmentKind`] from one table with a row per kind (the
/// table follows): its value in [`SegmentHeader::kind`], the prefix of its
/// file names in [`SHM_DIR`] and its label in the `mpipc` command. A new
/// kind is one row; nothing else lists the kinds.
macro_rules! segment_kinds {
    ($($(#[doc = $doc:literal])* $kind:ident = $value:literal { prefix: $prefix:literal, label: $label:literal },)+) => {
        /// The kinds of segment; stored in [`SegmentHeader::kind`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u32)]
        pub enum SegmentKind {
            $($(#[doc = $doc])* $kind = $value,)+
        }

        impl SegmentKind {
            /// Every kind, in [`SegmentKind`] value order.
            pub const ALL: [SegmentKind; [$($value),+].len()] = [$(SegmentKind::$kind),+];

            /// A short lowercase name of the kind, as the `mpipc` command shows
            /// and accepts it: `queue`, `shm`, `array`, `lock`, `sem`, `event`,
            /// `cond`, `barrier`, `slist`.
            pub fn label(self) -> &'static str {
                match self {
                    $(SegmentKind::$kind => $label,)+
                }
            }

            /// The file-name prefix of this kind's segments (`mpipc.q.` ...).
            pub fn prefix(self) -> &'static str {
                match self {
                    $(SegmentKind::$kind => $prefix,)+
                }
            }
        }
    };
}

segment_kinds! {
    /// A [`crate::Queue`].
    Queue = 1 { prefix: "mpipc.q.", label: "queue" },
    /// A raw block, [`crate::SharedMemory`].
    Block = 2 { prefix: "mpipc.shm.", label: "shm" },
    /// A typed [`crate::Array`] (Python's `Array` and `Value`).
    Array = 3 { prefix: "mpipc.a.", label: "array" },
    /// A [`crate::Lock`] (Lock or RLock).
    Lock = 4 { prefix: "mpipc.lock.", label: "lock" },
    /// A [`crate::Semaphore`] (bounded or not).
    Semaphore = 5 { prefix: "mpipc.sem.", label: "sem" },
    /// An [`crate::Event`].
    Event = 6 { prefix: "mpipc.ev.", label: "event" },
    /// A [`crate::Condition`].
    Condition = 7 { prefix: "mpipc.cond.", label: "cond" },
    /// A [`crate::Barrier`].
    Barrier = 8 { prefix: "mpipc.bar.", label: "barrier" },
    /// A [`crate::ShareableList`].
    ShareableList = 9 { prefix: "mpipc.sl.", label: "slist" },
}

impl SegmentKind {
    /// The kind stored as `value` in a [`SegmentHeader`], if any.
    pub fn from_u32(value: u32) -> Option<SegmentKind> {
        SegmentKind::ALL.into_iter().find(|k| *k as u32 == value)
    }

    /// The kind and object name of a file name in [`SHM_DIR`]
    /// (`mpipc.q.jobs` -> `(Queue, "jobs")`); `None` for any other file.
    pub fn parse_file_name(file: &str) -> Option<(SegmentKind, &str)> {
        SegmentKind::ALL.into_iter().find_map(|k| {
            let name = file.strip_prefix(k.prefix())?;
            validate_name(name).ok().map(|n| (k, n))
        })
    }
}

/// The first bytes of every segment. Offsets and sizes only, no pointers:
/// each process maps the segment at its own address.
#[repr(C)]
#[derive(Debug)]
pub struct SegmentHeader {
    /// [`SEGMENT_MAGIC`].
    pub magic: u64,
    /// The layout version of this kind's format (bumped on any change).
    pub layout_version: u32,
    /// A [`SegmentKind`] value.
    pub kind: u32,
    /// The size in bytes of the whole segment (the file size).
    pub total_size: u64,
    /// Reserved, zero.
    pub reserved: u64,
}

/// Checks an object name and returns it without a leading `/`.
///
/// Names are 1 to [`MAX_NAME_LEN`] bytes of `A-Z a-z 0-9 . _ -`, not
/// starting with `.`; one leading `/` (POSIX habit) is accepted and ignored.
/// This keeps names from escaping `/dev/shm` (no `/`, no `..`).
pub fn validate_name(name: &str) -> Result<&str> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    if bare.is_empty() || bare.len() > MAX_NAME_LEN {
        return Err(Error::new(
            ErrorKind::Invalid,
            format!("invalid name {name:?}: must be 1 to {MAX_NAME_LEN} bytes"),
        ));
    }
    if bare.starts_with('.') || !bare.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(Error::new(
            ErrorKind::Invalid,
            format!("invalid name {name:?}: use letters, digits, '.', '_', '-' and do not start with '.'"),
        ));
    }
    Ok(bare)
}

/// The filesystem path of the segment of `kind` named `name`.
pub fn segment_path(kind: SegmentKind, name: &str) -> Result<String> {
    let bare = validate_name(name)?;
    Ok(format!("{SHM_DIR}/{}{bare}", kind.prefix()))
}

/// Removes the segment of `kind` named `name`. Processes that have it mapped
/// keep using it; new opens create a fresh one.
pub fn unlink(kind: SegmentKind, name: &str) -> Result<()> {
    let path = cstring(&segment_path(kind, name)?)?;
    // SAFETY: `path` is a valid NUL-terminated string.
    if unsafe { libc::unlink(path.as_ptr()) } != 0 {
        let err = std::io::Error::last_os_error();
        return Err(not_a_segment(&path, name).unwrap_or_else(|| Error::from_io(&format!("unlink {name:?}"), err)));
    }
    Ok(())
}

/// The error for a name in /dev/shm held by something that is not a
/// segment file (issue 20, item 6: a bare `MP_E_IO` said nothing): a
/// symbolic link is refused with [`ErrorKind::Permission`] (mpipc never
/// follows one: another user could plant it to redirect what we write,
/// as with the name squatting `open_existing` refuses), a directory, FIFO,
/// socket or device with [`ErrorKind::Type`] (the name is held by another
/// kind of thing). The message names the path and what was found. `None`
/// when the path is a regular file, or gone.
fn not_a_segment(path: &CString, name: &str) -> Option<Error> {
    let shown = path.to_string_lossy();
    let meta = std::fs::symlink_metadata(&*shown).ok()?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = std::fs::read_link(&*shown).map(|t| format!(" to {}", t.display())).unwrap_or_default();
        return Some(Error::new(
            ErrorKind::Permission,
            format!(
                "{name:?}: {shown} is a symbolic link{target}, not a shared-memory segment; mpipc never follows \
                 links in {SHM_DIR} (one planted by another user could redirect the data): remove it if it is \
                 not yours"
            ),
        ));
    }
    use std::os::unix::fs::FileTypeExt;
    let what = if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() || ft.is_block_device() {
        "a device"
    } else {
        return None;
    };
    Some(Error::new(
        ErrorKind::Type,
        format!("{name:?}: {shown} is {what}, not a shared-memory segment: remove it or use another name"),
    ))
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::new(ErrorKind::Invalid, "name contains a NUL byte"))
}

/// How [`Segment::open`] may treat an existing or missing name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the segment if missing, else attach.
    CreateOrAttach,
    /// Create; fail with [`ErrorKind::Exists`] if the name exists.
    CreateOnly,
    /// Attach; fail with [`ErrorKind::NotFound`] if the name does not exist.
    AttachOnly,
}

/// How [`Segment::open`] may create or attach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// File mode when created (the caller resolves 0 to its default).
    pub mode: u32,
    /// Create, attach or either.
    pub open_mode: OpenMode,
    /// Attach even to a private segment owned by another user (see
    /// `Segment::attach`: refused by default against name squatting).
    pub any_owner: bool,
}

/// A mapping of a whole segment into this process. Unmapped on drop.
#[derive(Debug)]
pub struct Segment {
    base: NonNull<u8>,
    len: usize,
    created: bool,
}

// SAFETY: a Segment is an owned mapping (pointer + length); the memory is
// shared between processes anyway, and every access to it goes through
// atomics, a process-shared lock, or raw copies under that lock.
unsafe impl Send for Segment {}
// SAFETY: see Send; `&Segment` only exposes the base pointer and length.
unsafe impl Sync for Segment {}

impl Segment {
    /// Opens the segment of `kind` named `name`.
    ///
    /// When it creates, the segment is `size` bytes, zero-filled, with file
    /// mode `access.mode`; `init` is called on the mapping (which is not yet visible
    /// to anyone) to write the kind's header and state, then the segment is
    /// published atomically. When it attaches, the common header (magic,
    /// version, kind, size) is checked; the caller then validates its own
    /// part (see [`Segment::created`]).
    pub fn open(
        kind: SegmentKind,
        name: &str,
        layout_version: u32,
        size: usize,
        access: Access,
        init: impl FnOnce(&Segment) -> Result<()>,
    ) -> Result<Segment> {
        let Access { mode, open_mode, any_owner } = access;
        let path = segment_path(kind, name)?;
        let cpath = cstring(&path)?;
        if open_mode != OpenMode::AttachOnly {
            match Segment::create(kind, &cpath, layout_version, size, mode, init)? {
                Some(seg) => return Ok(seg),
                None if open_mode == OpenMode::CreateOnly => {
                    return Err(Error::new(ErrorKind::Exists, format!("{name:?} already exists")));
                }
                None => {}
            }
        }
        let seg = Segment::attach(&cpath, name, mode, any_owner)?;
        seg.check_common(kind, layout_version, name)?;
        Ok(seg)
    }

    /// The first byte of the mapping.
    pub fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// The length of the mapping (the segment size).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is zero bytes long (never, for a valid segment).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether this process created the segment (rather than attached).
    pub fn created(&self) -> bool {
        self.created
    }

    /// The common header at the start of the mapping.
    pub fn header(&self) -> &SegmentHeader {
        // SAFETY: every mapping is at least size_of::<SegmentHeader>() bytes
        // (checked in attach and create) and page-aligned.
        unsafe { &*(self.base.as_ptr() as *const SegmentHeader) }
    }

    /// Creates, initialises and publishes. `Ok(None)` when the name exists.
    fn create(
        kind: SegmentKind,
        cpath: &CString,
        layout_version: u32,
        size: usize,
        mode: u32,
        init: impl FnOnce(&Segment) -> Result<()>,
    ) -> Result<Option<Segment>> {
        if size < std::mem::size_of::<SegmentHeader>() {
            return Err(Error::new(ErrorKind::Invalid, "segment size too small"));
        }
        let tmp = TempFile::new(mode)?;
        // SAFETY: tmp.fd is an open file descriptor we own.
        if unsafe { libc::ftruncate(tmp.fd, size as libc::off_t) } != 0 {
            return Err(Error::last_os_error("ftruncate"));
        }
        let seg = Segment::map(tmp.fd, size, true)?;
        // SAFETY: the mapping is at least a header long, page-aligned, and
        // not yet visible to any other process.
        unsafe {
            seg.base().cast::<SegmentHeader>().write(SegmentHeader {
                magic: 0,
                layout_version,
                kind: kind as u32,
                total_size: size as u64,
                reserved: 0,
            })
        };
        init(&seg)?;
        // Publish the magic last: the link below makes the segment visible,
        // and the mapping is shared, so all writes above are in the file.
        // SAFETY: header is in bounds and aligned; no one else sees it yet.
        unsafe { (*seg.base().cast::<SegmentHeader>()).magic = SEGMENT_MAGIC };
        match tmp.publish(cpath)? {
            true => Ok(Some(seg)),
            false => Ok(None),
        }
    }

    /// Attaches to an existing segment. With a private `mode` (no group or
    /// other bits, the default 0600) and not `any_owner`, the file must
    /// belong to us: otherwise another local user could create the name
    /// first, world-writable, and receive what we put into "our" queue
    /// (name squatting).
    fn attach(cpath: &CString, name: &str, mode: u32, any_owner: bool) -> Result<Segment> {
        let (fd, size) = open_existing(cpath, name, mode, any_owner)?;
        if size < std::mem::size_of::<SegmentHeader>() as u64 || size > isize::MAX as u64 {
            return Err(Error::new(ErrorKind::Corrupt, format!("{name:?} has an impossible size of {size} bytes")));
        }
        Segment::map(fd.0, size as usize, false)
    }

    /// Opens the raw POSIX shared-memory block `name`: the file
    /// `/dev/shm/<name>` (what `shm_open("/<name>")` and Python's stock
    /// `multiprocessing.shared_memory` use), with no mpipc header: the
    /// mapping is the block's bytes, and its size is the file's.
    ///
    /// Creating makes a zero-filled block of `size` bytes with mode
    /// `access.mode`, published atomically as [`Segment::open`] does (an
    /// attacher never sees it half-sized). Attaching maps the whole file;
    /// `size` 0 accepts any size, another size must match
    /// ([`ErrorKind::Invalid`]). A block of 0 bytes (a creator between
    /// `shm_open` and `ftruncate`, or a file that is not a block) is
    /// [`ErrorKind::Invalid`]. Names beginning with `mpipc.` are mpipc's
    /// own segments and refused ([`ErrorKind::Invalid`]).
    pub fn open_raw(name: &str, size: usize, access: Access) -> Result<Segment> {
        let Access { mode, open_mode, any_owner } = access;
        let path = raw_path(name)?;
        let cpath = cstring(&path)?;
        if open_mode != OpenMode::AttachOnly {
            if size == 0 {
                return Err(Error::new(ErrorKind::Invalid, "a new shared-memory block needs a size of at least 1"));
            }
            let tmp = TempFile::new(mode)?;
            // SAFETY: tmp.fd is an open file descriptor we own.
            if unsafe { libc::ftruncate(tmp.fd, size as libc::off_t) } != 0 {
                return Err(Error::last_os_error("ftruncate"));
            }
            let seg = Segment::map(tmp.fd, size, true)?;
            if tmp.publish(&cpath)? {
                return Ok(seg);
            }
            if open_mode == OpenMode::CreateOnly {
                return Err(Error::new(ErrorKind::Exists, format!("{name:?} already exists")));
            }
        }
        let (fd, have) = open_existing(&cpath, name, mode, any_owner)?;
        if have == 0 {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!("{name:?} is an empty (0-byte) block: nothing to map (is its creator still sizing it?)"),
            ));
        }
        if have > isize::MAX as u64 {
            return Err(Error::new(ErrorKind::Corrupt, format!("{name:?} has an impossible size of {have} bytes")));
        }
        if size != 0 && have != size as u64 {
            return Err(Error::new(ErrorKind::Invalid, format!("{name:?} is {have} bytes, opened as {size}")));
        }
        Segment::map(fd.0, have as usize, false)
    }

    fn map(fd: libc::c_int, len: usize, created: bool) -> Result<Segment> {
        // SAFETY: mapping a file we hold open, shared, with a nonzero length.
        let p = unsafe {
            libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0)
        };
        if p == libc::MAP_FAILED {
            return Err(Error::last_os_error("mmap"));
        }
        Ok(Segment { base: NonNull::new(p.cast()).expect("mmap never returns NULL on success"), len, created })
    }

    /// Checks the common header against what the opener expects.
    fn check_common(&self, kind: SegmentKind, layout_version: u32, name: &str) -> Result<()> {
        let h = self.header();
        if h.magic != SEGMENT_MAGIC {
            return Err(Error::new(ErrorKind::Corrupt, format!("{name:?}: bad magic, not an mpipc segment")));
        }
        if h.kind != kind as u32 {
            return Err(Error::new(
                ErrorKind::Type,
                format!("{name:?} is a segment of kind {}, not {:?}", h.kind, kind),
            ));
        }
        if h.layout_version != layout_version {
            return Err(Error::new(
                ErrorKind::Version,
                format!("{name:?} has layout version {}, this library speaks {layout_version}", h.layout_version),
            ));
        }
        if h.total_size != self.len as u64 {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!("{name:?}: header says {} bytes, segment has {}", h.total_size, self.len),
            ));
        }
        Ok(())
    }
}

/// Opens the existing file `cpath` read-write and returns it with its size,
/// after the checks every attach makes: a regular file (not a symlink), and
/// with a private `mode` (no group or other bits, the default 0600) and not
/// `any_owner`, owned by us (see [`Segment::open`]'s name-squatting note).
fn open_existing(cpath: &CString, name: &str, mode: u32, any_owner: bool) -> Result<(Fd, u64)> {
    // SAFETY: cpath is NUL-terminated; O_NOFOLLOW refuses a planted symlink.
    let fd = unsafe { libc::open(cpath.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC | libc::O_NOFOLLOW) };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        return Err(match err.raw_os_error() {
            Some(libc::ENOENT) => Error::new(ErrorKind::NotFound, format!("{name:?} does not exist")),
            // ELOOP (a symlink, refused by O_NOFOLLOW), EISDIR, ENXIO (a
            // socket), ...: say what holds the name.
            _ => not_a_segment(cpath, name).unwrap_or_else(|| Error::from_io(&format!("open {name:?}"), err)),
        });
    }
    let fd = Fd(fd);
    // SAFETY: an all-zero stat is a valid value to be overwritten by fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open; st is a valid out-pointer.
    if unsafe { libc::fstat(fd.0, &mut st) } != 0 {
        return Err(Error::last_os_error("fstat"));
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        // A FIFO or device that open accepted.
        return Err(not_a_segment(cpath, name)
            .unwrap_or_else(|| Error::new(ErrorKind::Type, format!("{name:?} is not a shared-memory segment"))));
    }
    // SAFETY: geteuid has no preconditions.
    if !any_owner && mode & 0o077 == 0 && st.st_uid != unsafe { libc::geteuid() } {
        return Err(Error::new(
            ErrorKind::Permission,
            format!(
                "{name:?} belongs to another user (uid {}); refusing to share a private object \
                 (open with the any-owner flag to share on purpose)",
                st.st_uid
            ),
        ));
    }
    Ok((fd, st.st_size as u64))
}

/// The path of the raw POSIX block `name` (see [`Segment::open_raw`]):
/// `/dev/shm/<name>`, the name checked as [`validate_name`] does (one
/// leading `/` ignored, as `shm_open` and Python's stock SharedMemory do)
/// and not beginning with `mpipc.` (mpipc's own segments).
pub fn raw_path(name: &str) -> Result<String> {
    let bare = validate_name(name)?;
    if bare.starts_with("mpipc.") {
        return Err(Error::new(
            ErrorKind::Invalid,
            format!("invalid raw block name {name:?}: names beginning with \"mpipc.\" are mpipc's own segments"),
        ));
    }
    Ok(format!("{SHM_DIR}/{bare}"))
}

/// Whether the raw POSIX block `name` exists (for error messages that
/// point a caller who forgot the raw flag to it).
pub fn raw_exists(name: &str) -> bool {
    raw_path(name).is_ok_and(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file()))
}

/// Removes the raw POSIX block `name` (`shm_unlink`). Processes that have
/// it mapped keep using it.
pub fn unlink_raw(name: &str) -> Result<()> {
    let path = cstring(&raw_path(name)?)?;
    // SAFETY: `path` is a valid NUL-terminated string.
    if unsafe { libc::unlink(path.as_ptr()) } != 0 {
        let err = std::io::Error::last_os_error();
        return Err(match err.raw_os_error() {
            Some(libc::ENOENT) => Error::new(ErrorKind::NotFound, format!("{name:?} does not exist")),
            _ => Error::from_io(&format!("unlink {name:?}"), err),
        });
    }
    Ok(())
}

impl Drop for Segment {
    fn drop(&mut self) {
        // SAFETY: base/len describe a mapping made by `map` and not yet unmapped.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// An owned file descriptor, closed on drop.
struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.0) };
    }
}

/// A not-yet-published segment file: unnamed (`O_TMPFILE`) or, as a fallback,
/// a uniquely named temporary that is removed on drop.
struct TempFile {
    fd: libc::c_int,
    temp_path: Option<CString>,
}

impl TempFile {
    fn new(mode: u32) -> Result<TempFile> {
        let dir = cstring(SHM_DIR)?;
        // SAFETY: dir is NUL-terminated; O_TMPFILE creates an unnamed file.
        let fd = unsafe { libc::open(dir.as_ptr(), libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC, 0o600) };
        let file = if fd >= 0 {
            TempFile { fd, temp_path: None }
        } else {
            // Fallback for filesystems without O_TMPFILE.
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            // SAFETY: getpid has no preconditions.
            let pid = unsafe { libc::getpid() };
            let p = cstring(&format!("{SHM_DIR}/.mpipc-tmp-{pid}-{n}"))?;
            // SAFETY: p is NUL-terminated.
            let fd =
                unsafe { libc::open(p.as_ptr(), libc::O_CREAT | libc::O_EXCL | libc::O_RDWR | libc::O_CLOEXEC, 0o600) };
            if fd < 0 {
                return Err(Error::last_os_error("create shared-memory segment"));
            }
            TempFile { fd, temp_path: Some(p) }
        };
        // SAFETY: fd is open. fchmod sets the exact mode, ignoring the umask.
        if unsafe { libc::fchmod(file.fd, (mode & 0o777) as libc::mode_t) } != 0 {
            return Err(Error::last_os_error("fchmod"));
        }
        Ok(file)
    }

    /// Links the file under `path`. `Ok(false)` if the name already exists.
    fn publish(&self, path: &CString) -> Result<bool> {
        let rc = match &self.temp_path {
            None => {
                // Linking an O_TMPFILE through /proc needs no privilege,
                // unlike AT_EMPTY_PATH.
                let proc_path = cstring(&format!("/proc/self/fd/{}", self.fd))?;
                // SAFETY: both paths are NUL-terminated.
                unsafe {
                    libc::linkat(
                        libc::AT_FDCWD,
                        proc_path.as_ptr(),
                        libc::AT_FDCWD,
                        path.as_ptr(),
                        libc::AT_SYMLINK_FOLLOW,
                    )
                }
            }
            // SAFETY: both paths are NUL-terminated.
            Some(tmp) => unsafe { libc::link(tmp.as_ptr(), path.as_ptr()) },
        };
        if rc == 0 {
            return Ok(true);
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EEXIST) {
            return Ok(false);
        }
        Err(Error::from_io("publish shared-memory segment", err))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = &self.temp_path {
            // SAFETY: p is NUL-terminated; removing our own temporary name.
            unsafe { libc::unlink(p.as_ptr()) };
        }
        // SAFETY: we own the descriptor; the mapping keeps the file alive.
        unsafe { libc::close(self.fd) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert_eq!(validate_name("/jobs").unwrap(), "jobs");
        assert_eq!(validate_name("a.b_c-9").unwrap(), "a.b_c-9");
        for bad in ["", "/", "../etc", "a/b", ".hidden", "sp ace", "nul\0", &"x".repeat(MAX_NAME_LEN + 1)] {
            assert_eq!(validate_name(bad).unwrap_err().kind(), ErrorKind::Invalid, "{bad:?}");
        }
        assert_eq!(segment_path(SegmentKind::Queue, "/jobs").unwrap(), "/dev/shm/mpipc.q.jobs");
    }

    #[test]
    fn raw_blocks_are_plain_posix_files() {
        let name = format!("t-raw-{}", std::process::id());
        let access = |open_mode| Access { mode: 0o600, open_mode, any_owner: false };
        let created = Segment::open_raw(&format!("/{name}"), 100, access(OpenMode::CreateOnly)).unwrap();
        assert!(created.created() && created.len() == 100);
        let path = format!("{SHM_DIR}/{name}");
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!((meta.len(), std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777), (100, 0o600));
        // SAFETY: 100 bytes mapped.
        unsafe { created.base().write(42) };
        let attached = Segment::open_raw(&name, 0, access(OpenMode::AttachOnly)).unwrap();
        // SAFETY: the same file, 100 bytes mapped.
        assert_eq!(unsafe { attached.base().read() }, 42);
        let err = |r: Result<Segment>| r.unwrap_err().kind();
        assert_eq!(err(Segment::open_raw(&name, 8, access(OpenMode::AttachOnly))), ErrorKind::Invalid);
        assert_eq!(err(Segment::open_raw(&name, 100, access(OpenMode::CreateOnly))), ErrorKind::Exists);
        assert_eq!(err(Segment::open_raw("mpipc.q.x", 0, access(OpenMode::AttachOnly))), ErrorKind::Invalid);
        unlink_raw(&name).unwrap();
        assert_eq!(err(Segment::open_raw(&name, 0, access(OpenMode::AttachOnly))), ErrorKind::NotFound);
        assert_eq!(unlink_raw(&name).unwrap_err().kind(), ErrorKind::NotFound);
        std::fs::File::create(&path).unwrap(); // an empty file, as a creator between shm_open and ftruncate
        assert_eq!(err(Segment::open_raw(&name, 0, access(OpenMode::AttachOnly))), ErrorKind::Invalid);
        unlink_raw(&name).unwrap();
    }

    #[test]
    fn kinds_round_trip_through_file_names_and_values() {
        for k in SegmentKind::ALL {
            assert_eq!(SegmentKind::from_u32(k as u32), Some(k));
            let file = format!("{}a.b", k.prefix());
            assert_eq!(SegmentKind::parse_file_name(&file), Some((k, "a.b")), "{file}");
        }
        assert_eq!(SegmentKind::from_u32(0), None);
        assert_eq!(SegmentKind::from_u32(10), None);
        for other in ["mpipc.q.", "mpipc.zz.x", "other", ".mpipc-tmp-1-2", "mpipc.q..hidden"] {
            assert_eq!(SegmentKind::parse_file_name(other), None, "{other}");
        }
        let labels: std::collections::HashSet<_> = SegmentKind::ALL.iter().map(|k| k.label()).collect();
        assert_eq!(labels.len(), SegmentKind::ALL.len());
        let prefixes: std::collections::HashSet<_> = SegmentKind::ALL.iter().map(|k| k.prefix()).collect();
        assert_eq!(prefixes.len(), SegmentKind::ALL.len());
        assert!(SegmentKind::ALL.windows(2).all(|w| (w[0] as u32) < (w[1] as u32)), "ALL in value order");
    }
}
