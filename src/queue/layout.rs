//! The queue's shared-memory layout (documented in docs/PROTOCOL.md).
//!
//! ```text
//! offset  size  what
//!      0    32  SegmentHeader (magic "MPIPCSEG", layout version, kind = 1, total size)
//!     32    32  Geometry: maxsize, capacity, max_message, data_offset (fixed at creation)
//!     64    64  lock: robust process-shared pthread mutex (40 bytes) + owner_deaths (u64)
//!    128   128  state: `current` (u32) + two StateSlots (head, tail, count, unfinished,
//!               shutdown, rhead, claims); slot 0 shares `current`'s cache line,
//!               slot 1 has the next one
//!    256    64  put_event  (EventWord: seq, waiters) - getters sleep here
//!    320    64  get_event  (EventWord) - putters sleep here
//!    384    64  done_event (EventWord) - join() sleeps here
//!    448  2048  claim slots: 32 x (alive robust mutex, pos, len, ticket)
//!   2496     -  data: the ring, `capacity` bytes
//! ```
//!
//! **Records.** The ring holds records back to back: an 8-byte little-endian
//! word, then the payload, padded to a multiple of 8. The word is the
//! payload's length, or [`SKIP_MARK`] plus the length of a stretch to skip
//! (padding before the ring's end, a cancelled reservation, the unused end
//! of a shrunk one), which no reader delivers. Positions (`head`, `rhead`,
//! `tail`) are monotonically increasing byte counts; the offset in the ring
//! is `pos % capacity`. A record never straddles the end of the ring (a
//! skip record fills the end instead), so every payload is one contiguous
//! run of memory: it can be copied with one `memcpy`, written in place
//! through a reservation, read in place through a view.
//!
//! **Claims** (layout version 2). A claim is a record that one thread is
//! working on outside the lock: a *write claim* (a reservation: the record
//! is placed, its payload not yet written, so readers stop in front of it)
//! or a *read claim* (a view, or a large get copying out: the record was
//! taken, its bytes may not be reused yet). Each uses one claim slot; the
//! state's `claims` bitmask says which slots are in use (`write_claims` the
//! write ones), so a claim exists exactly when a committed state says so.
//! While a claim exists its thread holds the slot's `alive` robust mutex:
//! when that thread dies, the kernel marks the mutex owner-dead, and the
//! next process that tries it (`trylock`, under the queue lock) learns of
//! the death and undoes the claim (a write claim becomes a skip record, a
//! read claim is freed). Regions: `[head, rhead)` holds records taken but
//! not all released (`head` is the oldest read claim, or `rhead`),
//! `[rhead, tail)` the queued records and the write claims.
//!
//! **Crash consistency.** Every field of the state is guarded by the lock.
//! A critical section reads the slot named by `current`, writes the new
//! state into the *other* slot, and publishes it with one final store to
//! `current`. A holder killed at any instant therefore leaves either the old
//! or the new state, both consistent: the next locker (told by the robust
//! mutex that the owner died) just validates and carries on. Payload bytes
//! are written into free space before the commit, so a half-written record
//! is never reachable. A claim slot's `pos`/`len`/`ticket` are written only
//! while no committed state names the slot, under the lock, before the
//! commit that names it, so they too are either unreachable or complete.

use crate::os::{EventWord, RobustMutex};
use crate::segment::SegmentHeader;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Bumped whenever anything in this file changes shape or meaning.
/// 2: claims (reservations and views), skip records, contiguous records.
pub const LAYOUT_VERSION: u32 = 2;

/// Size of a record's length word.
pub const RECORD_HEADER: u64 = 8;

/// Number of claim slots: how many records may be worked on outside the
/// lock at once (reservations, views and large copies in flight, all
/// processes together). Fits a u32 bitmask.
pub const MAX_CLAIMS: usize = 32;
const _: () = assert!(MAX_CLAIMS <= 32, "the claims bitmasks are u32");

/// A record word with these top 16 bits ("SK") starts a skip record; the
/// low 48 bits are the length of the stretch after the word (a multiple
/// of 8). No payload length comes near 2^48 (the ring is at most 2^40).
pub const SKIP_MARK: u64 = 0x534B << 48;
/// The bits of a record word that hold [`SKIP_MARK`].
pub const SKIP_MASK: u64 = 0xFFFF << 48;

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
    /// Byte position of the oldest record not yet taken (monotonic u64;
    /// `head <= rhead <= tail`).
    pub rhead: AtomicU64,
    /// Low 32 bits: bit i set when claim slot i is in use; high 32 bits:
    /// the subset that are write claims (reservations). One word, so that
    /// a slot is 56 bytes and slot 0 shares `current`'s cache line (every
    /// operation, and every spinning peek, reads `current` and the live
    /// slot).
    pub claims: AtomicU64,
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

/// One claim slot (see the module doc). 64 bytes, one cache line.
#[repr(C, align(64))]
pub struct ClaimSlot {
    /// Held by the claiming thread for as long as the claim exists.
    pub alive: RobustMutex,
    /// Ring position of the claimed record. Relaxed: written and read
    /// under the queue lock only.
    pub pos: AtomicU64,
    /// Payload length of the claimed record (for a write claim: the length
    /// reserved). Under the queue lock.
    pub len: AtomicU64,
    /// Bumped each time the slot is claimed; with the slot index it names
    /// one claim, so a stale handle is refused. Under the queue lock.
    pub ticket: AtomicU64,
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
    /// See [`ClaimSlot`].
    pub claims: [ClaimSlot; MAX_CLAIMS],
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
    /// See [`StateSlot::rhead`].
    pub rhead: u64,
    /// See [`StateSlot::claims`].
    pub claims: u64,
    /// The subset of `claims` that are write claims (the high half of
    /// [`StateSlot::claims`]).
    pub write_claims: u64,
}

impl State {
    /// Bytes of the ring in use (queued, taken but not released, claimed).
    pub fn used(&self) -> u64 {
        self.tail.wrapping_sub(self.head)
    }

    /// Whether the state is possible for a ring of `capacity` bytes. Anything
    /// else means the segment was damaged from outside: it is reported as
    /// corrupt rather than acted upon.
    pub fn is_valid(&self, capacity: u64) -> bool {
        self.head <= self.rhead
            && self.rhead <= self.tail
            && self.used() <= capacity
            && self.head % 8 == 0
            && self.rhead % 8 == 0
            && self.tail % 8 == 0
            // Sums of a position and up to two ring lengths (the next
            // ring start, a record) must not wrap; a real queue's positions
            // never come near (2^64 bytes: 29 years at 20 GB/s).
            && self.tail <= u64::MAX - 2 * capacity
            && self.count <= (self.tail - self.rhead) / RECORD_HEADER
            && (self.count == 0 || self.tail > self.rhead)
            && self.shutdown <= 1
            && self.claims >> MAX_CLAIMS == 0
            && self.write_claims & !self.claims == 0
            // Every byte between head and rhead belongs to a record some
            // read claim holds back: none there without a claim.
            && (self.head == self.rhead || self.claims != 0)
    }
}

impl StateBlock {
    /// The live state. Under the lock this is exact; without it, a hint.
    pub fn load(&self) -> State {
        // SYNC POINT: Acquire pairs with the Release in `commit`, so a
        // lock-free reader sees the slot contents written before the flip.
        let slot = &self.slots[(self.current.load(Ordering::Acquire) & 1) as usize];
        // One load: the two bitmasks must come from the same word.
        let claims = slot.claims.load(Ordering::Relaxed);
        State {
            head: slot.head.load(Ordering::Relaxed),
            tail: slot.tail.load(Ordering::Relaxed),
            count: slot.count.load(Ordering::Relaxed),
            unfinished: slot.unfinished.load(Ordering::Relaxed),
            shutdown: slot.shutdown.load(Ordering::Relaxed),
            rhead: slot.rhead.load(Ordering::Relaxed),
            claims: claims & 0xffff_ffff,
            write_claims: claims >> 32,
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
        next.rhead.store(s.rhead, Ordering::Relaxed);
        next.claims.store(s.claims | s.write_claims << 32, Ordering::Relaxed);
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

/// The record word of a skip record covering `size` bytes in all (its word
/// included; a multiple of 8, at least 8).
pub fn skip_word(size: u64) -> u64 {
    debug_assert!(size >= RECORD_HEADER && size % 8 == 0);
    SKIP_MARK | (size - RECORD_HEADER)
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
        assert_eq!(std::mem::offset_of!(StateBlock, slots), 8);
        assert_eq!(std::mem::size_of::<StateSlot>(), 56);
        assert_eq!(std::mem::offset_of!(QueueHeader, put_event), 256);
        assert_eq!(std::mem::offset_of!(QueueHeader, get_event), 320);
        assert_eq!(std::mem::offset_of!(QueueHeader, done_event), 384);
        assert_eq!(std::mem::offset_of!(QueueHeader, claims), 448);
        assert_eq!(std::mem::size_of::<ClaimSlot>(), 64);
        assert_eq!(std::mem::offset_of!(ClaimSlot, pos), 40);
        assert_eq!(DATA_OFFSET, 2496);
        assert!(std::mem::size_of::<LockBlock>() <= 64);
    }

    #[test]
    fn state_validation() {
        let ok = State { head: 8, rhead: 8, tail: 24, count: 1, unfinished: 1, ..Default::default() };
        assert!(ok.is_valid(64));
        assert!(!State { head: 24, rhead: 24, tail: 8, ..ok }.is_valid(64));
        assert!(!State { tail: 8 + 72, ..ok }.is_valid(64));
        assert!(State { count: 0, ..ok }.is_valid(64), "a pending write claim is not counted");
        assert!(!State { count: 3, ..ok }.is_valid(64));
        assert!(!State { tail: 25, ..ok }.is_valid(64));
        assert!(!State { shutdown: 7, ..ok }.is_valid(64));
        assert!(!State { rhead: 32, ..ok }.is_valid(64));
        assert!(!State { rhead: 16, ..ok }.is_valid(64), "taken bytes without a claim");
        assert!(State { rhead: 16, count: 0, claims: 1, ..ok }.is_valid(64));
        assert!(!State { claims: 1 << MAX_CLAIMS, ..ok }.is_valid(64));
        // The two bitmasks share one word in shared memory.
        let block = StateBlock::default();
        let s = State { claims: 0b101, write_claims: 0b100, ..ok };
        block.commit(&s);
        assert_eq!(block.load(), s);
        assert!(!State { write_claims: 2, claims: 1, ..ok }.is_valid(64));
        assert_eq!(record_size(0), 8);
        assert_eq!(record_size(1), 16);
        assert_eq!(record_size(64), 72);
        assert_eq!(skip_word(8), SKIP_MARK);
        assert_eq!(skip_word(24) & !SKIP_MASK, 16);
    }
}
