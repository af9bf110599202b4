//! A named segment holding one `#[repr(C)]` state struct: the common shape
//! of the named synchronisation objects and arrays.
//!
//! Layout: the common [`SegmentHeader`](crate::segment::SegmentHeader) (32
//! bytes), padding to [`STATE_OFFSET`], the state `T`, then optional
//! trailing bytes (an array's elements) from [`NamedSegment::tail`].

use crate::error::{Error, ErrorKind, Result};
use crate::segment::{Access, OpenMode, Segment, SegmentKind};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, Ordering};

/// Where the state struct starts (one cache line after the segment start).
pub const STATE_OFFSET: usize = 64;

/// The file mode used when a caller passes 0: owner read/write only.
pub const DEFAULT_MODE: u32 = 0o600;

/// How to open a named object: create, attach, or either; and the file mode
/// when creating (0 = [`DEFAULT_MODE`]).
#[derive(Clone, Copy, Debug)]
pub struct OpenOptions {
    /// Create, attach or either.
    pub open_mode: OpenMode,
    /// File mode when created; 0 = 0600.
    pub mode: u32,
    /// Attach to an existing object even if another user owns it. Off by
    /// default for private objects (mode 0 / 0600): another local user
    /// could otherwise create the name first, world-writable, and read
    /// what we put into "our" object (name squatting). Turn it on for
    /// objects shared across users on purpose, or for inspection as root.
    /// A wider `mode` (group or other bits) implies it.
    pub any_owner: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions { open_mode: OpenMode::CreateOrAttach, mode: 0, any_owner: false }
    }
}

impl OpenOptions {
    /// For objects that cannot be created without a size or count:
    /// `missing` (that parameter is 0) turns create-or-attach into attach
    /// only, and makes create-only an [`ErrorKind::Invalid`] error (`what`
    /// says why).
    pub fn attach_if(&self, missing: bool, what: &str) -> Result<OpenOptions> {
        if !missing {
            return Ok(*self);
        }
        match self.open_mode {
            OpenMode::CreateOnly => Err(Error::new(ErrorKind::Invalid, what.to_owned())),
            _ => Ok(OpenOptions { open_mode: OpenMode::AttachOnly, ..*self }),
        }
    }
}

/// A mapped segment whose state is a `T` at [`STATE_OFFSET`], followed by
/// `tail_len` bytes aligned to 64.
#[derive(Debug)]
pub struct NamedSegment<T> {
    /// Unmapped on drop unless `keep_mapped` was called.
    seg: ManuallyDrop<Segment>,
    tail_offset: usize,
    /// Set when a robust mutex inside may still be held by a thread of this
    /// process (see [`NamedSegment::keep_mapped`]).
    keep: AtomicBool,
    _state: PhantomData<T>,
}

impl<T> Drop for NamedSegment<T> {
    fn drop(&mut self) {
        // Relaxed: set and read by the owner of the handle.
        if !self.keep.load(Ordering::Relaxed) {
            // SAFETY: dropped exactly once, here; `seg` is not used again.
            unsafe { ManuallyDrop::drop(&mut self.seg) };
        }
    }
}

// SAFETY: T lives in shared memory and is only touched through atomics, a
// process-shared lock, or fields written once before publication; the
// segment itself is Send + Sync.
unsafe impl<T> Send for NamedSegment<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for NamedSegment<T> {}

/// Offset of the tail: after the state, rounded up to 64 bytes.
pub const fn tail_offset<T>() -> usize {
    (STATE_OFFSET + std::mem::size_of::<T>()).div_ceil(64) * 64
}

impl<T> NamedSegment<T> {
    /// Creates (running `init` on the zeroed, not yet published state and
    /// tail) or attaches (the common header is checked; the caller then
    /// validates the state, see [`NamedSegment::created`]).
    pub fn open(
        kind: SegmentKind,
        name: &str,
        layout_version: u32,
        tail_len: usize,
        opts: &OpenOptions,
        init: impl FnOnce(*mut T, *mut u8) -> Result<()>,
    ) -> Result<NamedSegment<T>> {
        let tail = tail_offset::<T>();
        let size = tail
            .checked_add(tail_len)
            .filter(|s| *s <= isize::MAX as usize)
            .ok_or_else(|| Error::new(ErrorKind::Invalid, "size too large"))?;
        let mode = if opts.mode == 0 { DEFAULT_MODE } else { opts.mode };
        let access = Access { mode, open_mode: opts.open_mode, any_owner: opts.any_owner };
        let seg = Segment::open(kind, name, layout_version, size, access, |seg| {
            // SAFETY: the new mapping is `size` bytes, page-aligned, so
            // the state (at 64, alignment <= 64) and the tail are in bounds.
            unsafe { init(seg.base().add(STATE_OFFSET).cast(), seg.base().add(tail)) }
        })?;
        if seg.len() < tail {
            return Err(Error::new(ErrorKind::Corrupt, format!("{name:?}: segment too small for its kind")));
        }
        Ok(NamedSegment {
            seg: ManuallyDrop::new(seg),
            tail_offset: tail,
            keep: AtomicBool::new(false),
            _state: PhantomData,
        })
    }

    /// The shared state.
    pub fn state(&self) -> &T {
        // SAFETY: in bounds (checked in open), aligned (64 within a
        // page-aligned mapping), and initialised by the creator before the
        // segment was published.
        unsafe { &*self.seg.base().add(STATE_OFFSET).cast::<T>() }
    }

    /// The first byte after the state (64-aligned).
    pub fn tail(&self) -> *mut u8 {
        // SAFETY: tail_offset <= len (checked in open).
        unsafe { self.seg.base().add(self.tail_offset) }
    }

    /// Bytes available after the state.
    pub fn tail_len(&self) -> usize {
        self.seg.len() - self.tail_offset
    }

    /// Keeps the mapping for the rest of the process's life instead of
    /// unmapping it on drop. For a handle dropped while one of its robust
    /// mutexes is held: glibc links held robust mutexes into the thread's
    /// robust list *through the mutexes themselves*, so unmapping one would
    /// make the next lock operation write into freed (or reused) memory and
    /// keep the kernel from marking the mutex owner-dead when the thread
    /// dies. Kept mapped, the mutex goes to the next acquirer with
    /// owner-dead when this process exits, as documented.
    pub fn keep_mapped(&self) {
        self.keep.store(true, Ordering::Relaxed);
    }

    /// Whether this process created the segment.
    pub fn created(&self) -> bool {
        self.seg.created()
    }
}
