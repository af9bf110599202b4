//! The queue's shared-memory layout (documented in docs/PROTOCOL.md).
//!
//! ```text
//! offset  size  what
//!      0    32  SegmentHeader (magic "MPIPCSEG", layout version, kind = 1, total size)
//!     32    32  Geometry: maxsize, capacity, max_message, data_offset (fixed at creation)
//!     64    64  lock: robust process-shared pthread mutex (40 bytes) + owner_deaths (u64)
//!    128   128  state: `current` (u32) + two StateSlots (head, tail, count, unfinished, shutdown)
//!    256    64  put_event  (EventWord: seq, waiters) - getters sleep here
//!    320    64  get_event  (EventWord) - putters sleep here
//!    384    64  done_event (EventWord) - join() sleeps here
//!    448     -  data: the ring, `capacity` bytes
//! ```
//!
//! **Records.** The ring holds records back to back: an 8-byte little-endian
//! length, then the payload, padded to a multiple of 8. Positions (`head`,
//! `tail`) are monotonically increasing byte counts; the offset in the ring is
//! `pos % capacity`. `capacity` is a multiple of 8, so a length word never
//! straddles the end of the ring; payloads may (they are copied in two parts).
//!
//! **Crash consistency.** Every field of the state is guarded by the lock.
//! A critical section reads the slot named by `current`, writes the new
//! state into the *other* slot, and publishes it with one final store to
//! `current`. A holder killed at any instant therefore leaves either the old
//! or the new state, both consistent: the next locker (told by the robust
//! mutex that the owner died) just validates and carries on. Payload bytes
//! are written into free space before the commit, so a half-written record
//! is never reachable.

use crate::shm::SegmentHeader;
use crate::sync::{EventWord, RobustMutex};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Bumped whenever anything in this file changes shape or meaning.
pub const LAYOUT_VERSION: u32 = 1;

/// Size of a record's length word.
pub const RECORD_HEADER: u64 = 8;

/// Pads a field to its own cache line (64 bytes) so that the lock, the state
/// and each event word do not false-share.
#[repr(C, align(64))]
#[derive(Default)]
pub struct CacheLine<T>(pub T);

/// Fixed at creation, read-only afterwards.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Maximum number of messages; 0 = unbounded (bounded by bytes only).
    pub maxsize: u64,
    /// Size of the ring in bytes (multiple of 8).
    pub capacity: u64,
    /// Largest payload accepted by put, in bytes (<= capacity - 8).
    pub max_message: u64,
    /// Offset of the ring from the start of the segment.
    pub data_offset: u64,
}

/// One copy of the queue state. All fields are guarded by the lock; they are
/// atomics only so that lock-free *hints* (spinning) may read them.
#[repr(C)]
#[derive(Default)]
pub struct StateSlot {
    /// Byte position of the oldest record (encoding: monotonic u64).
    pub head: AtomicU64,
    /// Byte position one past the newest record (monotonic u64).
    pub tail: AtomicU64,
    /// Number of records between head and tail.
    pub count: AtomicU64,
    /// JoinableQueue's unfinished-task counter: +1 per put, -1 per task_done.
    pub unfinished: AtomicU64,
    /// 0 = open, 1 = shut down.
    pub shutdown: AtomicU64,
}

/// The double-buffered state and the index of the live copy.
#[repr(C)]
#[derive(Default)]
pub struct StateBlock {
    /// Index (0 or 1) of the live slot; the commit point of every update.
    pub current: AtomicU32,
    _pad: u32,
    /// The two copies; `slots[current]` is live, the other is scratch.
    pub slots: [StateSlot; 2],
}

/// The lock and a counter of the times a dead holder was recovered.
#[repr(C)]
pub struct LockBlock {
    /// Guards `state` and the ring.
    pub mutex: RobustMutex,
    /// How many times a locker found the previous holder dead (statistics
    /// for tests and operators; incremented under the lock).
    pub owner_deaths: AtomicU64,
}

/// The whole fixed part of a queue segment. `#[repr(C)]`, offsets only.
#[repr(C)]
pub struct QueueHeader {
    /// The common segment header.
    pub seg: SegmentHeader,
    /// Sizes fixed at creation.
    pub geometry: Geometry,
    /// Guards `state` and the ring.
    pub lock: CacheLine<LockBlock>,
    /// See [`StateBlock`].
    pub state: CacheLine<StateBlock>,
    /// Bumped after every put; getters wait here.
    pub put_event: CacheLine<EventWord>,
    /// Bumped after every get; putters wait here.
    pub get_event: CacheLine<EventWord>,
    /// Bumped when the unfinished-task count reaches 0; `join` waits here.
    pub done_event: CacheLine<EventWord>,
}

/// Where the ring starts: right after the header, cache-line aligned.
pub const DATA_OFFSET: u64 = (std::mem::size_of::<QueueHeader>() as u64).div_ceil(64) * 64;

/// A plain copy of a state slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// See [`StateSlot::head`].
    pub head: u64,
    /// See [`StateSlot::tail`].
    pub tail: u64,
    /// See [`StateSlot::count`].
    pub count: u64,
    /// See [`StateSlot::unfinished`].
    pub unfinished: u64,
    /// See [`StateSlot::shutdown`].
    pub shutdown: u64,
}

impl State {
    /// Bytes of the ring in use.
    pub fn used(&self) -> u64 {
        self.tail.wrapping_sub(self.head)
    }

    /// Whether the state is possible for a ring of `capacity` bytes. Anything
    /// else means the segment was damaged from outside: it is reported as
    /// corrupt rather than acted upon.
    pub fn is_valid(&self, capacity: u64) -> bool {
        self.head <= self.tail
            && self.used() <= capacity
            && self.head % 8 == 0
            && self.tail % 8 == 0
            && self.count <= self.used() / RECORD_HEADER
            && (self.count == 0) == (self.used() == 0)
            && self.shutdown <= 1
    }
}

impl StateBlock {
    /// The live state. Under the lock this is exact; without it, a hint.
    pub fn load(&self) -> State {
        // SYNC POINT: Acquire pairs with the Release in `commit`, so a
        // lock-free reader sees the slot contents written before the flip.
        let slot = &self.slots[(self.current.load(Ordering::Acquire) & 1) as usize];
        State {
            head: slot.head.load(Ordering::Relaxed),
            tail: slot.tail.load(Ordering::Relaxed),
            count: slot.count.load(Ordering::Relaxed),
            unfinished: slot.unfinished.load(Ordering::Relaxed),
            shutdown: slot.shutdown.load(Ordering::Relaxed),
        }
    }

    /// Publishes `s`: writes the scratch slot, then flips `current`.
    /// Must be called with the lock held.
    pub fn commit(&self, s: &State) {
        let cur = self.current.load(Ordering::Relaxed) & 1;
        let next = &self.slots[(cur ^ 1) as usize];
        next.head.store(s.head, Ordering::Relaxed);
        next.tail.store(s.tail, Ordering::Relaxed);
        next.count.store(s.count, Ordering::Relaxed);
        next.unfinished.store(s.unfinished, Ordering::Relaxed);
        next.shutdown.store(s.shutdown, Ordering::Relaxed);
        // SYNC POINT: the commit. Release orders the slot stores before the
        // flip (for lock-free readers and for crash consistency: a holder
        // killed before this store leaves the old state live).
        self.current.store(cur ^ 1, Ordering::Release);
    }
}

/// Bytes a record with a payload of `len` bytes occupies in the ring.
pub fn record_size(len: u64) -> u64 {
    RECORD_HEADER + len.div_ceil(8) * 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_offsets_match_the_documentation() {
        assert_eq!(std::mem::size_of::<SegmentHeader>(), 32);
        assert_eq!(std::mem::offset_of!(QueueHeader, geometry), 32);
        assert_eq!(std::mem::offset_of!(QueueHeader, lock), 64);
        assert_eq!(std::mem::offset_of!(QueueHeader, state), 128);
        assert_eq!(std::mem::offset_of!(QueueHeader, put_event), 256);
        assert_eq!(std::mem::offset_of!(QueueHeader, get_event), 320);
        assert_eq!(std::mem::offset_of!(QueueHeader, done_event), 384);
        assert_eq!(DATA_OFFSET, 448);
        assert!(std::mem::size_of::<LockBlock>() <= 64);
    }

    #[test]
    fn state_validation() {
        let ok = State { head: 8, tail: 24, count: 1, unfinished: 1, shutdown: 0 };
        assert!(ok.is_valid(64));
        assert!(!State { head: 24, tail: 8, ..ok }.is_valid(64));
        assert!(!State { tail: 8 + 72, ..ok }.is_valid(64));
        assert!(!State { count: 0, ..ok }.is_valid(64));
        assert!(!State { count: 3, ..ok }.is_valid(64));
        assert!(!State { tail: 25, ..ok }.is_valid(64));
        assert!(!State { shutdown: 7, ..ok }.is_valid(64));
        assert_eq!(record_size(0), 8);
        assert_eq!(record_size(1), 16);
        assert_eq!(record_size(64), 72);
    }
}
