//! `SharedMemory`: a named raw block of shared memory (Python's
//! `shared_memory.SharedMemory`, the C ABI's `mp_shm_*`).
//!
//! An mpipc block is `/dev/shm/mpipc.shm.<name>`: the common segment header
//! and the size in front of the data, so attaching checks kind, version
//! and size; the data is 64-byte aligned. With
//! [`SharedMemory::open_raw`] it is a header-less POSIX block
//! `/dev/shm/<name>` as Python's stock `multiprocessing.shared_memory`
//! makes them (for sharing with programs that do not use mpipc). Closing
//! never unlinks: only [`SharedMemory::unlink`] removes a name (Python's
//! resource tracker unlinking blocks it merely attached to is a
//! long-standing bug we do not copy).

use crate::error::{Error, ErrorKind, Result};
use crate::segment::{self, NamedSegment, OpenOptions, SegmentKind};

/// The layout version of raw blocks.
const BLOCK_LAYOUT: u32 = 1;

#[repr(C)]
struct BlockState {
    /// The usable size in bytes (the tail may be longer: never shorter).
    size: u64,
}

/// A named raw shared-memory block. Thread-safe (the bytes are the
/// caller's to synchronise).
pub struct SharedMemory {
    map: BlockMap,
    size: usize,
}

/// What a [`SharedMemory`] maps.
enum BlockMap {
    /// An mpipc block: `/dev/shm/mpipc.shm.<name>`, the common header and
    /// the size in front of the data.
    Segment(NamedSegment<BlockState>),
    /// A raw POSIX block (`/dev/shm/<name>`, no header), as Python's stock
    /// `multiprocessing.shared_memory` and any `shm_open` user make them.
    Raw(segment::Segment),
}

impl SharedMemory {
    /// Opens the block `name`: creates it with `size` zero-filled bytes, or
    /// attaches (another size is [`ErrorKind::Invalid`]). `size` 0 attaches
    /// only, to any size.
    pub fn open(name: &str, size: usize, opts: &OpenOptions) -> Result<SharedMemory> {
        let opts = opts.attach_if(size == 0, "a new shared-memory block needs a size of at least 1")?;
        let seg = NamedSegment::open(SegmentKind::Block, name, BLOCK_LAYOUT, size, &opts, |st: *mut BlockState, _| {
            // SAFETY: the zeroed, unpublished state.
            unsafe { (*st).size = size as u64 };
            Ok(())
        })
        .map_err(|e| {
            // A caller who meant a stock (raw) block gets pointed at the flag.
            if e.kind() == ErrorKind::NotFound && segment::raw_exists(name) {
                Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "{name:?}: no mpipc block of that name, but a raw POSIX block /dev/shm/{} exists \
                         (one made by Python's stock multiprocessing.shared_memory or shm_open): open it as a raw block",
                        name.trim_start_matches('/')
                    ),
                )
            } else {
                e
            }
        })?;
        let have = seg.state().size;
        if have == 0 || have > seg.tail_len() as u64 {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!("{name:?}: block size {have} does not fit its segment"),
            ));
        }
        if size != 0 && have != size as u64 {
            return Err(Error::new(ErrorKind::Invalid, format!("{name:?} is {have} bytes, opened as {size}")));
        }
        Ok(SharedMemory { size: have as usize, map: BlockMap::Segment(seg) })
    }

    /// Opens the raw POSIX block `name` (`/dev/shm/<name>`, no mpipc
    /// header: the block Python's stock `SharedMemory(name)` and
    /// `shm_open("/<name>")` use), with the rules of
    /// [`SharedMemory::open`]: `size` 0 attaches only, to any size; a
    /// created block is zero-filled, mode 0600 unless `opts.mode` says
    /// otherwise. An empty (0-byte) block is [`ErrorKind::Invalid`]; a
    /// name that only exists as an mpipc block is [`ErrorKind::NotFound`]
    /// with a message saying so.
    pub fn open_raw(name: &str, size: usize, opts: &OpenOptions) -> Result<SharedMemory> {
        let opts = opts.attach_if(size == 0, "a new shared-memory block needs a size of at least 1")?;
        let mode = if opts.mode == 0 { 0o600 } else { opts.mode };
        let access = segment::Access { mode, open_mode: opts.open_mode, any_owner: opts.any_owner };
        let seg = segment::Segment::open_raw(name, size, access).map_err(|e| {
            let mpipc_block = segment::segment_path(SegmentKind::Block, name)
                .is_ok_and(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file()));
            if e.kind() == ErrorKind::NotFound && mpipc_block {
                Error::new(
                    ErrorKind::NotFound,
                    format!("{name:?}: no raw POSIX block of that name, but an mpipc block exists: open it without the raw flag"),
                )
            } else {
                e
            }
        })?;
        Ok(SharedMemory { size: seg.len(), map: BlockMap::Raw(seg) })
    }

    /// Removes the name; open handles keep the memory.
    pub fn unlink(name: &str) -> Result<()> {
        segment::unlink(SegmentKind::Block, name)
    }

    /// Removes the raw POSIX block `name` (see [`SharedMemory::open_raw`]);
    /// open handles keep the memory.
    pub fn unlink_raw(name: &str) -> Result<()> {
        segment::unlink_raw(name)
    }

    /// Whether this is a raw POSIX block (see [`SharedMemory::open_raw`]).
    pub fn is_raw(&self) -> bool {
        matches!(self.map, BlockMap::Raw(_))
    }

    /// The first byte (64-byte aligned for an mpipc block, page-aligned
    /// for a raw one), valid for [`SharedMemory::size`] bytes while this
    /// handle lives.
    pub fn as_ptr(&self) -> *mut u8 {
        match &self.map {
            BlockMap::Segment(seg) => seg.tail(),
            BlockMap::Raw(seg) => seg.base(),
        }
    }

    /// The size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }
}

// The layout documented in docs/PROTOCOL.md §5.
const _: () = assert!(crate::segment::tail_offset::<BlockState>() == 128);
