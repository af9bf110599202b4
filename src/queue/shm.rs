//! The shared-memory backend of [`Queue`](super::Queue): a named, bounded,
//! multi-producer multi-consumer queue in a segment in /dev/shm, with the
//! semantics of Python's `multiprocessing.JoinableQueue` (and
//! `queue.Queue.shutdown` of Python 3.13).
//!
//! Design (see `layout.rs` and docs/PROTOCOL.md): a ring of length-prefixed
//! records guarded by one robust process-shared mutex; every update is
//! published by a single store (double-buffered state), so a process killed
//! at any instant leaves a consistent queue, and the robust mutex hands the
//! lock to the next process. Waiting is a short adaptive spin, then a futex
//! sleep on an event word, re-checked at least every
//! [`crate::os::RECHECK_INTERVAL`] in case the process that should have
//! woken us was killed.
//!
//! The alternative, a lock-free slot protocol (crossbeam's `ArrayQueue`,
//! iceoryx2's index queues), needs fixed-size slots and a repair protocol for
//! slots claimed by a dead process; with variable-size messages, byte bounds
//! and an exact `qsize` the lock is simpler to prove, and batch calls
//! ([`ShmQueue::put_many`], [`ShmQueue::get_many_into`]) amortise it.
//!
//! Large messages are copied outside the lock. A put of at least
//! [`TWO_PHASE_MIN`] bytes places its record under the lock as a *write
//! claim* (readers stop in front of it), copies the payload with the lock
//! released, and commits under the lock; a get of such a record takes it as
//! a *read claim* (its bytes stay reserved), copies, and releases. A
//! producer's copy thus overlaps a consumer's instead of waiting for it.
//! The same claims, held across calls, are the zero-copy API:
//! [`ShmQueue::reserve`] (write in place, then [`Reservation::commit`](crate::queue::Reservation::commit)) and
//! [`ShmQueue::get_view`] (read in place, then [`View::release`](crate::queue::View::release)). A claim's
//! thread holds a robust mutex of its own, so a claim whose thread dies is
//! found (by the next process that needs its bytes) and undone: a
//! reservation is dropped, a view freed (see `layout.rs`, docs/PROTOCOL.md).

// claims.rs and layout.rs sit beside this file (their history is
// src/queue/'s) but belong to this backend: claims.rs extends `ShmQueue`
// with the claim protocol and uses its private transaction types.
#[path = "claims.rs"]
mod claims;
#[path = "layout.rs"]
pub(super) mod layout;

use claims::Ending;
pub use claims::{RawClaim, Reservation, View};
use layout::{
    record_size, skip_word, CacheLine, ClaimSlot, Geometry, QueueHeader, State, DATA_OFFSET, RECORD_HEADER, SKIP_MARK,
    SKIP_MASK,
};
pub use layout::{LAYOUT_VERSION, MAX_CLAIMS};

use super::{QueueOptions, QueueStats, DEFAULT_CAPACITY, DEFAULT_MODE, MAX_CAPACITY, MIN_CAPACITY, TWO_PHASE_MIN};
use crate::error::{Error, ErrorKind, Result};
use crate::os::{AdaptiveSpin, Deadline, EventWord, LockState, RobustMutex};
use crate::segment::{self, Access, OpenMode, Segment, SegmentKind};
use std::time::Duration;

/// The shared-memory queue behind a [`Queue`](super::Queue) handle (see the
/// module doc). The calls' public docs are on the facade's methods of the
/// same names; here each says where it differs or what it is for.
#[derive(Debug)]
pub(crate) struct ShmQueue {
    /// Unmapped on drop unless claims handed out through this handle are
    /// still open (see `claims_out`).
    seg: std::mem::ManuallyDrop<Segment>,
    name: String,
    /// Private, validated copy of the geometry: every bound the code relies
    /// on comes from here, never re-read from shared memory.
    geo: Geometry,
    spin: AdaptiveSpin,
    /// Claims handed out by [`ShmQueue::reserve_raw`] / [`ShmQueue::get_view_raw`]
    /// (and so by [`ShmQueue::reserve`] / [`ShmQueue::get_view`]) and not yet
    /// ended, and claims of this handle's own large puts and gets that a
    /// damaged queue kept them from ending; process-local. A handle dropped while it is above 0 keeps its
    /// mapping: each open claim's thread holds the claim slot's robust
    /// mutex, which glibc links into the thread's robust list *through the
    /// mutex itself*; unmapped, the thread's next unlock of another robust
    /// mutex would write into freed memory, and its death would no longer
    /// mark the claim owner-dead (the claim would look alive for ever).
    claims_out: std::sync::atomic::AtomicUsize,
}

impl Drop for ShmQueue {
    fn drop(&mut self) {
        // Relaxed: the handle is being dropped, no call on it is in flight.
        if self.claims_out.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            // SAFETY: dropped exactly once, here; nothing uses the segment
            // after the handle is gone.
            unsafe { std::mem::ManuallyDrop::drop(&mut self.seg) };
        }
    }
}

/// Which event words to bump after the lock is released.
#[derive(Clone, Copy, Default)]
struct Notify {
    put: bool,
    get: bool,
    done: bool,
}

impl Notify {
    const ALL: Notify = Notify { put: true, get: true, done: true };
}

/// The state seen under the lock, plus what the critical section changed.
struct Txn {
    state: State,
    notify: Notify,
    /// Claim slots whose `alive` mutex this critical section holds and must
    /// release once the state is committed (claims it ended or recovered,
    /// or a slot it took and then did not use).
    unlock_after: u64,
    /// `state.rhead % capacity` when known without a division (a 64-bit
    /// division costs tens of cycles, the whole critical section ~100): set
    /// where the read position moves past a record of known offset, and
    /// cleared wherever it moves otherwise.
    rhead_off: Option<usize>,
    /// Claim slots of the calling thread's own claims that this section
    /// ends: should it fail (nothing committed), their mutexes stay held.
    ending: u64,
    /// The `claims` of the last committed state (the one a failure leaves
    /// live): where this section started, or its last checkpoint.
    committed_claims: u64,
}

/// A message at the read position: its payload length and the ring offset
/// of its record.
#[derive(Clone, Copy)]
struct Rec {
    len: u64,
    off: usize,
}

/// What is at the read position, as [`ShmQueue::front`] finds it.
enum Front {
    /// Nothing queued.
    Empty,
    /// A reservation not yet committed: wait for it.
    Pending,
    /// A reservation of the calling thread itself: waiting would never end.
    Own,
    /// A message.
    Record(Rec),
}

/// Who holds a claim slot's `alive` mutex, as [`ShmQueue::owner`] finds out.
enum Owner {
    /// Another live thread.
    Alive,
    /// The calling thread.
    Mine,
    /// Nobody any more (its thread died, or it was given up): the caller
    /// now holds the mutex and must put the slot in `unlock_after`.
    Gone,
}

/// What one locked attempt of a blocking operation concluded.
enum Step<R> {
    Done(R),
    Expired,
    Spin,
    Sleep(u32),
}

impl ShmQueue {
    /// Opens (or creates) the segment `name`: [`Queue::open`](super::Queue::open).
    pub(crate) fn open(name: &str, opts: &QueueOptions) -> Result<ShmQueue> {
        let geo = ShmQueue::geometry_for(opts)?;
        let size = usize::try_from(DATA_OFFSET + geo.capacity)
            .map_err(|_| Error::new(ErrorKind::Invalid, "capacity too large"))?;
        let mode = if opts.mode == 0 { DEFAULT_MODE } else { opts.mode };
        let seg = Segment::open(
            SegmentKind::Queue,
            name,
            LAYOUT_VERSION,
            size,
            Access { mode, open_mode: opts.open_mode.unwrap_or(OpenMode::CreateOrAttach), any_owner: opts.any_owner },
            |seg| ShmQueue::init(seg, geo),
        )?;
        let geo = if seg.created() { geo } else { ShmQueue::check_existing(&seg, name, opts)? };
        Ok(ShmQueue {
            seg: std::mem::ManuallyDrop::new(seg),
            name: segment::validate_name(name)?.to_owned(),
            geo,
            spin: AdaptiveSpin::default(),
            claims_out: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Removes the segment's name: [`Queue::unlink`](super::Queue::unlink).
    pub(crate) fn unlink(name: &str) -> Result<()> {
        segment::unlink(SegmentKind::Queue, name)
    }

    /// [`Queue::name`](super::Queue::name).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// [`Queue::maxsize`](super::Queue::maxsize).
    pub(crate) fn maxsize(&self) -> usize {
        self.geo.maxsize as usize
    }

    /// [`Queue::capacity_bytes`](super::Queue::capacity_bytes).
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.geo.capacity as usize
    }

    /// [`Queue::max_message`](super::Queue::max_message).
    pub(crate) fn max_message(&self) -> usize {
        self.geo.max_message as usize
    }

    /// [`Queue::set_spin_us`](super::Queue::set_spin_us).
    pub(crate) fn set_spin_us(&self, us: u32) {
        self.spin.set_max_us(us);
    }

    /// [`Queue::put_bytes_timeout`](super::Queue::put_bytes_timeout): a large message in two
    /// phases (claims.rs), a small one as a batch of one.
    pub(crate) fn put_bytes_timeout(&self, msg: &[u8], timeout: Option<Duration>) -> Result<()> {
        if msg.len() >= TWO_PHASE_MIN {
            return self.put_large(msg, timeout);
        }
        self.put_many(&[msg], timeout).map(|_| ())
    }

    /// [`Queue::put_many`](super::Queue::put_many), under one lock round trip.
    pub(crate) fn put_many<M: AsRef<[u8]>>(&self, msgs: &[M], timeout: Option<Duration>) -> Result<usize> {
        if msgs.is_empty() {
            return Ok(0);
        }
        if let Some(m) = msgs.iter().find(|m| m.as_ref().len() as u64 > self.geo.max_message) {
            return Err(Error::new(
                ErrorKind::TooBig,
                format!(
                    "message of {} bytes exceeds max_message {} of queue {:?}",
                    m.as_ref().len(),
                    self.geo.max_message,
                    self.name
                ),
            ));
        }
        let first_rec = record_size(msgs[0].as_ref().len() as u64);
        self.blocking(
            Deadline::from_timeout(timeout),
            &self.hdr().get_event.0,
            ErrorKind::Full,
            |s| s.shutdown != 0 || self.room_for(s, first_rec),
            |tx| {
                if tx.state.shutdown != 0 {
                    return Err(Error::new(ErrorKind::Shutdown, "queue is shut down"));
                }
                let put_all = |tx: &mut Txn| msgs.iter().take_while(|m| self.put_record(tx, m.as_ref())).count();
                let mut n = put_all(tx);
                if n == 0 && tx.state.claims != 0 {
                    // Claims of dead threads may hold the room back.
                    self.no_room(tx, first_rec)?;
                    n = put_all(tx);
                }
                if n == 0 {
                    return Ok(None);
                }
                tx.notify.put = true;
                Ok(Some(n))
            },
        )
    }

    /// [`Queue::get_bytes_timeout`](super::Queue::get_bytes_timeout): a large message is copied
    /// out with the lock released (a read claim).
    pub(crate) fn get_bytes_timeout(&self, timeout: Option<Duration>) -> Result<Vec<u8>> {
        let (mut v, claim) = self.take(timeout, |q, tx, rec| {
            let mut v = alloc_message(rec.len)?;
            if rec.len as usize >= TWO_PHASE_MIN {
                if let Some(c) = q.claim_front(tx, rec)? {
                    return Ok(Some((v, Some(c))));
                }
            }
            // SAFETY: v has capacity rec.len; read_payload fills all of it.
            unsafe {
                q.read_payload(rec, v.as_mut_ptr());
                v.set_len(rec.len as usize);
            }
            q.consume(tx, rec)?;
            Ok(Some((v, None)))
        })?;
        if let Some(c) = claim {
            // The copy, outside the lock: the record is ours until released.
            // SAFETY: v has capacity c.len; the claimed record holds c.len
            // payload bytes at c.ptr, which nobody reuses until the release.
            unsafe {
                std::ptr::copy_nonoverlapping(c.ptr, v.as_mut_ptr(), c.len);
                v.set_len(c.len);
            }
            self.end_claim(c.id, Ending::Release)?;
        }
        Ok(v)
    }

    /// [`Queue::get_into`](super::Queue::get_into).
    pub(crate) fn get_into(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<usize> {
        let cap = buf.len();
        let dst = buf.as_mut_ptr();
        let (len, claim) = self.take(timeout, |q, tx, rec| {
            let len = rec.len as usize;
            if len > cap {
                return Err(Error::buf_size(len));
            }
            if len >= TWO_PHASE_MIN {
                if let Some(c) = q.claim_front(tx, rec)? {
                    return Ok(Some((len, Some(c))));
                }
            }
            // SAFETY: dst has cap >= len writable bytes (the caller's buf).
            unsafe { q.read_payload(rec, dst) };
            q.consume(tx, rec)?;
            Ok(Some((len, None)))
        })?;
        if let Some(c) = claim {
            // SAFETY: as in get_bytes_timeout; buf has room for c.len bytes.
            unsafe { std::ptr::copy_nonoverlapping(c.ptr, dst, c.len) };
            self.end_claim(c.id, Ending::Release)?;
        }
        Ok(len)
    }

    /// [`Queue::get_many_into`](super::Queue::get_many_into), under one lock round trip.
    pub(crate) fn get_many_into(
        &self,
        buf: &mut [u8],
        lens: &mut [usize],
        timeout: Option<Duration>,
    ) -> Result<(usize, usize)> {
        if lens.is_empty() {
            return Err(Error::new(ErrorKind::Invalid, "get_many needs room for at least one message"));
        }
        self.take(timeout, |q, tx, first| {
            let (mut n, mut used) = (0usize, 0usize);
            let mut next = Some(first);
            while let Some(rec) = next {
                let len = rec.len as usize;
                if len > buf.len() - used {
                    if n == 0 {
                        return Err(Error::buf_size(len));
                    }
                    break;
                }
                // SAFETY: buf[used..used + len] is in bounds (checked above).
                unsafe { q.read_payload(rec, buf.as_mut_ptr().add(used)) };
                q.consume(tx, rec)?;
                lens[n] = len;
                used += len;
                n += 1;
                next = if n < lens.len() { q.next_record(tx)? } else { None };
            }
            Ok(Some((n, used)))
        })
    }

    /// [`Queue::get_many`](super::Queue::get_many), under one lock round trip.
    pub(crate) fn get_many(&self, max: usize, timeout: Option<Duration>) -> Result<Vec<Vec<u8>>> {
        if max == 0 {
            return Err(Error::new(ErrorKind::Invalid, "get_many needs room for at least one message"));
        }
        self.take(timeout, |q, tx, first| {
            let mut out = Vec::new();
            let mut next = Some(first);
            while let Some(rec) = next {
                let mut v = alloc_message(rec.len)?;
                // SAFETY: v has capacity rec.len; read_payload fills all of it.
                unsafe {
                    q.read_payload(rec, v.as_mut_ptr());
                    v.set_len(rec.len as usize);
                }
                q.consume(tx, rec)?;
                out.push(v);
                next = if out.len() < max { q.next_record(tx)? } else { None };
            }
            Ok(Some(out))
        })
    }

    /// [`Queue::qsize`](super::Queue::qsize).
    pub(crate) fn qsize(&self) -> Result<usize> {
        self.locked(|_, tx| Ok(tx.state.count as usize))
    }

    /// [`Queue::full`](super::Queue::full).
    pub(crate) fn full(&self) -> Result<bool> {
        self.locked(|q, tx| Ok(q.geo.maxsize != 0 && tx.state.count >= q.geo.maxsize))
    }

    /// [`Queue::bytes_used`](super::Queue::bytes_used).
    pub(crate) fn bytes_used(&self) -> Result<usize> {
        self.locked(|_, tx| Ok(tx.state.used() as usize))
    }

    /// [`Queue::positions`](super::Queue::positions).
    pub(crate) fn positions(&self) -> Result<(u64, u64)> {
        self.locked(|_, tx| Ok((tx.state.head, tx.state.tail)))
    }

    /// [`Queue::stats`](super::Queue::stats).
    pub(crate) fn stats(&self, timeout: Option<Duration>) -> Result<QueueStats> {
        self.locked_until(&Deadline::from_timeout(timeout), |_, tx| {
            let s = &tx.state;
            Ok(QueueStats {
                messages: s.count as usize,
                bytes_used: s.used() as usize,
                unfinished: s.unfinished as usize,
                shutdown: s.shutdown != 0,
                head: s.head,
                tail: s.tail,
            })
        })
    }

    /// The error of a lock wait that ran out (see [`ShmQueue::stats`]).
    #[cold]
    fn lock_stayed_held(&self) -> Error {
        let tid = self.hdr().lock.0.mutex.holder_tid();
        let by = if tid != 0 { format!(" by thread {tid}") } else { String::new() };
        Error::new(
            ErrorKind::Timeout,
            format!("queue {:?}: its lock stayed held{by} (a process stopped or hung inside an operation)", self.name),
        )
    }

    /// [`Queue::unfinished_tasks`](super::Queue::unfinished_tasks).
    pub(crate) fn unfinished_tasks(&self) -> Result<usize> {
        self.locked(|_, tx| Ok(tx.state.unfinished as usize))
    }

    /// [`Queue::owner_deaths`](super::Queue::owner_deaths).
    pub(crate) fn owner_deaths(&self) -> u64 {
        // Relaxed: a statistic; no other data is read on its strength.
        self.hdr().lock.0.owner_deaths.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// [`Queue::task_done`](super::Queue::task_done).
    pub(crate) fn task_done(&self) -> Result<()> {
        self.locked(|_, tx| {
            if tx.state.unfinished == 0 {
                return Err(Error::new(ErrorKind::Invalid, "task_done() called too many times"));
            }
            tx.state.unfinished -= 1;
            tx.notify.done = tx.state.unfinished == 0;
            Ok(())
        })
    }

    /// [`Queue::join`](super::Queue::join).
    pub(crate) fn join(&self, timeout: Option<Duration>) -> Result<()> {
        self.blocking(
            Deadline::from_timeout(timeout),
            &self.hdr().done_event.0,
            ErrorKind::Timeout,
            |s| s.unfinished == 0,
            |tx| Ok((tx.state.unfinished == 0).then_some(())),
        )
    }

    /// [`Queue::shutdown`](super::Queue::shutdown).
    pub(crate) fn shutdown(&self, immediate: bool) -> Result<()> {
        self.locked(|q, tx| {
            tx.state.shutdown = 1;
            if immediate {
                tx.state.unfinished = tx.state.unfinished.saturating_sub(tx.state.count);
                // Reservations still pending fall behind the read position:
                // their commits fail (Shutdown) and free them.
                tx.state.rhead = tx.state.tail;
                tx.rhead_off = None;
                tx.state.count = 0;
                q.recompute_head(tx)?;
            }
            tx.notify = Notify::ALL;
            Ok(())
        })
    }

    /// [`Queue::is_shutdown`](super::Queue::is_shutdown).
    pub(crate) fn is_shutdown(&self) -> Result<bool> {
        self.locked(|_, tx| Ok(tx.state.shutdown != 0))
    }

    /// Whether this handle created the segment (the unit tests' check of
    /// create-or-attach races).
    #[cfg(test)]
    pub(super) fn created(&self) -> bool {
        self.seg.created()
    }

    // ----- internals -----

    fn geometry_for(opts: &QueueOptions) -> Result<Geometry> {
        let capacity = if opts.capacity_bytes == 0 { DEFAULT_CAPACITY } else { opts.capacity_bytes };
        if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity) {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!("capacity_bytes {capacity} out of range {MIN_CAPACITY}..={MAX_CAPACITY}"),
            ));
        }
        let capacity = (capacity as u64).div_ceil(8) * 8;
        let max_message = match opts.max_message as u64 {
            0 => capacity - RECORD_HEADER,
            m if record_size(m) > capacity => {
                return Err(Error::new(
                    ErrorKind::Invalid,
                    format!(
                        "max_message {m} does not fit in a ring of {capacity} bytes (8-byte header, 8-byte padding)"
                    ),
                ));
            }
            m => m,
        };
        Ok(Geometry { maxsize: opts.maxsize as u64, capacity, max_message, data_offset: DATA_OFFSET })
    }

    fn init(seg: &Segment, geo: Geometry) -> Result<()> {
        let h = seg.base() as *mut QueueHeader;
        // SAFETY: the segment is DATA_OFFSET + capacity bytes, zero-filled,
        // page-aligned and not yet visible to any other process. Zeroed
        // atomics and event words are valid initial values.
        unsafe {
            std::ptr::addr_of_mut!((*h).geometry).write(geo);
            std::ptr::addr_of_mut!((*h).state).write(CacheLine::default());
            std::ptr::addr_of_mut!((*h).put_event).write(CacheLine(EventWord::default()));
            std::ptr::addr_of_mut!((*h).get_event).write(CacheLine(EventWord::default()));
            std::ptr::addr_of_mut!((*h).done_event).write(CacheLine(EventWord::default()));
            let seeds = ticket_seeds();
            for (i, seed) in seeds.iter().enumerate() {
                RobustMutex::init(std::ptr::addr_of_mut!((*h).claims[i].alive))?;
                // Relaxed: the segment is not yet visible to anyone.
                (*h).claims[i].ticket.store(*seed, std::sync::atomic::Ordering::Relaxed);
            }
            RobustMutex::init(std::ptr::addr_of_mut!((*h).lock.0.mutex))
        }
    }

    /// Validates an attached segment's geometry and the caller's options
    /// against it; returns the geometry to trust.
    fn check_existing(seg: &Segment, name: &str, opts: &QueueOptions) -> Result<Geometry> {
        if seg.len() < DATA_OFFSET as usize + MIN_CAPACITY {
            return Err(Error::new(ErrorKind::Corrupt, format!("queue {name:?}: segment too small")));
        }
        // SAFETY: the segment holds at least a QueueHeader (checked above);
        // geometry is plain data written once before publication.
        let geo = unsafe { (*(seg.base() as *const QueueHeader)).geometry };
        let sane = geo.data_offset == DATA_OFFSET
            && geo.capacity % 8 == 0
            && geo.capacity >= MIN_CAPACITY as u64
            && geo.capacity <= MAX_CAPACITY as u64
            && DATA_OFFSET + geo.capacity == seg.len() as u64
            // Bounded first: record_size(max_message) wraps for values
            // near 2^64 (and would pass the test below).
            && geo.max_message <= geo.capacity
            && record_size(geo.max_message) <= geo.capacity;
        if !sane {
            return Err(Error::new(ErrorKind::Corrupt, format!("queue {name:?}: impossible geometry {geo:?}")));
        }
        let want = |field: &str, asked: usize, have: u64| {
            if asked != 0 && asked as u64 != have {
                Err(Error::new(ErrorKind::Invalid, format!("queue {name:?} exists with {field} = {have}, not {asked}")))
            } else {
                Ok(())
            }
        };
        want("maxsize", opts.maxsize, geo.maxsize)?;
        want(
            "capacity_bytes",
            if opts.capacity_bytes == 0 { 0 } else { opts.capacity_bytes.div_ceil(8) * 8 },
            geo.capacity,
        )?;
        want("max_message", opts.max_message, geo.max_message)?;
        Ok(geo)
    }

    fn hdr(&self) -> &QueueHeader {
        // SAFETY: the segment was validated to hold a QueueHeader at offset 0;
        // every field is either immutable after publication or atomic.
        unsafe { &*(self.seg.base() as *const QueueHeader) }
    }

    fn data(&self) -> *mut u8 {
        // SAFETY: DATA_OFFSET + capacity == segment length (validated).
        unsafe { self.seg.base().add(DATA_OFFSET as usize) }
    }

    fn claim(&self, i: usize) -> &ClaimSlot {
        &self.hdr().claims[i]
    }

    /// Whether `maxsize` allows one more message. Pending reservations
    /// count against it: each will be a message once committed.
    fn count_allows(&self, s: &State) -> bool {
        if self.geo.maxsize == 0 {
            return true;
        }
        let mut n = s.count;
        if s.write_claims != 0 {
            n += s.write_claims.count_ones() as u64;
        }
        n < self.geo.maxsize
    }

    /// Whether the ring has room for a record of `rec` bytes now:
    /// `Some(padding)` (the bytes a skip record must fill before it, at
    /// the ring's end), or `None`.
    fn fits_bytes(&self, s: &State, rec: u64) -> Option<u64> {
        let cap = self.geo.capacity;
        if s.used() == 0 {
            return Some(0); // place() restarts at the ring's start if needed
        }
        if s.used() + rec > cap {
            return None; // decided without the division below
        }
        let off = s.tail % cap;
        let pad = if off + rec <= cap { 0 } else { cap - off };
        (s.used() + pad + rec <= cap).then_some(pad)
    }

    /// Whether a record of `rec` bytes can be placed now (count and
    /// bytes), without a division in the common cases: also the lock-free
    /// peek of every put.
    fn room_for(&self, s: &State, rec: u64) -> bool {
        let (used, cap) = (s.used(), self.geo.capacity);
        // Any padding is shorter than the record it makes room for.
        self.count_allows(s) && (used == 0 || used + 2 * rec <= cap || self.fits_bytes(s, rec).is_some())
    }

    /// Makes room for a record of `rec` bytes at the tail if it fits (see
    /// [`ShmQueue::room_for`]) and returns its position and ring offset; the
    /// caller writes it and advances the tail by `rec`. Records never
    /// straddle the ring's end: an empty ring restarts at its start,
    /// otherwise a skip record fills the end.
    fn place(&self, tx: &mut Txn, rec: u64) -> Option<(u64, usize)> {
        if !self.count_allows(&tx.state) {
            return None;
        }
        let cap = self.geo.capacity;
        let s = &mut tx.state;
        let used = s.used();
        if used != 0 && used + rec > cap {
            return None;
        }
        let off = s.tail % cap;
        if off + rec <= cap {
            return Some((s.tail, off as usize));
        }
        if used == 0 {
            // Nothing is queued, taken or claimed (each takes bytes), so
            // every position may move to the next ring start.
            let start = s.tail - off + cap;
            (s.head, s.rhead, s.tail) = (start, start, start);
            tx.rhead_off = Some(0);
            return Some((start, 0));
        }
        let pad = cap - off;
        if used + pad + rec > cap {
            return None;
        }
        // The skip record lies in free space until the commit.
        self.set_word_at(off as usize, skip_word(pad));
        s.tail += pad;
        Some((s.tail, 0))
    }

    /// Puts `msg` under the lock if it fits; false if not.
    fn put_record(&self, tx: &mut Txn, msg: &[u8]) -> bool {
        let rec = record_size(msg.len() as u64);
        let Some((pos, off)) = self.place(tx, rec) else { return false };
        self.set_word_at(off, msg.len() as u64);
        // SAFETY: place() found rec contiguous free bytes at off.
        unsafe { std::ptr::copy_nonoverlapping(msg.as_ptr(), self.payload_at(off), msg.len()) };
        tx.state.tail = pos + rec;
        tx.state.count += 1;
        tx.state.unfinished += 1;
        true
    }

    /// Called when a record of `rec` bytes did not fit: recovers claims of
    /// dead threads that hold bytes back, and refuses to wait when what
    /// holds the bytes back is the calling thread's own view (that wait
    /// would never end).
    fn no_room(&self, tx: &mut Txn, rec: u64) -> Result<()> {
        if tx.state.claims == 0 {
            return Ok(());
        }
        self.reap(tx, tx.state.claims)?;
        if self.fits_bytes(&tx.state, rec).is_none() && tx.state.write_claims != 0 {
            // Readers stop at a reservation at the read position: if it is
            // the calling thread's own, nothing will make room.
            if let Some(i) = self.claim_at(&tx.state, tx.state.write_claims, tx.state.rhead)? {
                match self.owner(tx, i)? {
                    Owner::Mine => return Err(Error::new(
                        ErrorKind::Invalid,
                        "no room until this thread commits or cancels its own reservation at the front of the queue",
                    )),
                    // Its thread died since `reap` looked.
                    Owner::Gone => self.recover(tx, i)?,
                    Owner::Alive => {}
                }
            }
        }
        if self.fits_bytes(&tx.state, rec).is_none() && tx.state.head < tx.state.rhead {
            let at_head = self.claim_at(&tx.state, tx.state.claims & !tx.state.write_claims, tx.state.head)?;
            if let Some(i) = at_head {
                match self.owner(tx, i)? {
                    Owner::Mine => {
                        return Err(Error::new(
                            ErrorKind::Invalid,
                            "no room until this thread releases its own view of the oldest message",
                        ))
                    }
                    Owner::Gone => self.recover(tx, i)?,
                    Owner::Alive => {}
                }
            }
        }
        Ok(())
    }

    /// Runs `f` under the lock with the live state; commits the state if `f`
    /// changed it and returns Ok; fires the notifications after unlocking.
    fn locked<R>(&self, f: impl FnOnce(&Self, &mut Txn) -> Result<R>) -> Result<R> {
        self.locked_until(&Deadline::Never, f)
    }

    /// [`ShmQueue::locked`], waiting for the lock until `deadline` only:
    /// [`ErrorKind::Timeout`] when it passed first.
    fn locked_until<R>(&self, deadline: &Deadline, f: impl FnOnce(&Self, &mut Txn) -> Result<R>) -> Result<R> {
        let h = self.hdr();
        let Some((guard, how)) = h.lock.0.mutex.lock_until(deadline)? else {
            return Err(self.lock_stayed_held());
        };
        let state = h.state.0.load();
        // Read again rather than copied: under the lock both reads see the
        // same slot, and copying the just-filled struct stalls on store
        // forwarding (wide loads of narrow stores), measurably on the
        // small-message path. The copy acted upon is the one validated (a
        // writer from outside could change the state between the reads);
        // `state` only tells whether anything changed.
        let mut tx = Txn {
            state: h.state.0.load(),
            notify: Notify::default(),
            unlock_after: 0,
            rhead_off: None,
            ending: 0,
            committed_claims: state.claims,
        };
        if !tx.state.is_valid(self.geo.capacity) {
            // Leave the mutex unrecoverable if the owner died: nothing sane to hand on.
            let bad = tx.state;
            return Err(Error::new(ErrorKind::Corrupt, format!("queue {:?}: impossible state {bad:?}", self.name)));
        }
        if how == LockState::OwnerDied {
            // The double-buffered state is consistent whatever instant the
            // holder died at (see layout.rs); the dead process may have owed
            // the sleepers a wake-up, so wake everyone.
            guard.mark_consistent();
            // Relaxed: a statistic, updated under the lock, read as a hint.
            h.lock.0.owner_deaths.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tx.notify = Notify::ALL;
        }
        let out = f(self, &mut tx);
        // A failed step (BufSize, Shutdown, Corrupt) commits nothing.
        if out.is_ok() && tx.state != state {
            h.state.0.commit(&tx.state);
        }
        // After the commit, still under the lock: a claim's mutex is free
        // only once no committed state names the claim (or never was named).
        // After a failure nothing was committed: the caller's own claims
        // that it was ending stay held (they are still named), while slots
        // this section took, or named without committing, are released
        // (those of dead owners are then simply recovered again).
        let release = if out.is_ok() {
            tx.unlock_after
        } else {
            (tx.unlock_after & !tx.ending) | (tx.state.claims & !tx.committed_claims)
        };
        self.release_claim_slots(release);
        // Decide under the lock whom to wake (see EventWord's protocol).
        let wake = [
            tx.notify.put && h.put_event.0.take_waiters(),
            tx.notify.get && h.get_event.0.take_waiters(),
            tx.notify.done && h.done_event.0.take_waiters(),
        ];
        drop(guard);
        for (event, wake) in [&h.put_event.0, &h.get_event.0, &h.done_event.0].into_iter().zip(wake) {
            if wake {
                event.wake();
            }
        }
        out
    }

    /// Releases the `alive` mutexes of the claim slots in `bits`, held by
    /// this thread (taken in the current critical section, or the claims'
    /// own thread ending them): release cannot fail.
    fn release_claim_slots(&self, mut bits: u64) {
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let _ = self.claim(i).alive.release();
        }
    }

    /// Commits the state reached so far in the current critical section
    /// and releases the claim mutexes it no longer needs (those of claims
    /// it ended or recovered), so that their slots can be named again in
    /// the same section. Every state a section reaches between steps is
    /// consistent, so a crash after the checkpoint leaves a valid queue.
    fn checkpoint(&self, tx: &mut Txn) {
        self.hdr().state.0.commit(&tx.state);
        tx.committed_claims = tx.state.claims;
        let done = tx.unlock_after & !tx.state.claims;
        self.release_claim_slots(done);
        tx.unlock_after &= !done;
        tx.ending &= !done;
    }

    /// The blocking loop shared by put, get and join: try under the lock;
    /// if not possible, spin on `ready` (a lock-free hint), then sleep on
    /// `event` until something changes or the deadline passes.
    fn blocking<R>(
        &self,
        deadline: Deadline,
        event: &EventWord,
        on_expiry: ErrorKind,
        ready: impl Fn(&State) -> bool,
        mut attempt: impl FnMut(&mut Txn) -> Result<Option<R>>,
    ) -> Result<R> {
        let mut may_spin = true;
        // Peek first (lock-free): taking the lock only to find the queue
        // empty (or full) moves the lock and state cache lines away from the
        // peer that is about to change them.
        if !deadline.expired() && self.spin.max_us() > 0 && !ready(&self.hdr().state.0.load()) {
            may_spin = false;
            self.spin.spin(&deadline, || ready(&self.hdr().state.0.load()));
        }
        loop {
            let step = self.locked(|_, tx| {
                if let Some(r) = attempt(tx)? {
                    return Ok(Step::Done(r));
                }
                if deadline.expired() {
                    return Ok(Step::Expired);
                }
                // Under load (gate closed) go straight to the futex: a
                // second spin would only return at once.
                if may_spin && self.spin.worth_spinning() {
                    return Ok(Step::Spin);
                }
                Ok(Step::Sleep(event.prepare_wait()))
            })?;
            match step {
                Step::Done(r) => return Ok(r),
                Step::Expired => return Err(Error::new(on_expiry, expiry_message(on_expiry))),
                Step::Spin => {
                    may_spin = false;
                    self.spin.spin(&deadline, || ready(&self.hdr().state.0.load()));
                }
                Step::Sleep(seen) => match deadline.next_sleep() {
                    Some(d) => event.wait(seen, d),
                    None => return Err(Error::new(on_expiry, expiry_message(on_expiry))),
                },
            }
        }
    }

    /// Like `blocking` for the get family: waits on put_event for a message
    /// and calls `f` with the length of the one at the read position; fails
    /// with Shutdown once shut down and drained.
    fn take<R>(
        &self,
        timeout: Option<Duration>,
        mut f: impl FnMut(&Self, &mut Txn, Rec) -> Result<Option<R>>,
    ) -> Result<R> {
        self.blocking(
            Deadline::from_timeout(timeout),
            &self.hdr().put_event.0,
            ErrorKind::Empty,
            |s| s.count > 0 || s.shutdown != 0,
            |tx| match self.front(tx)? {
                Front::Record(rec) => f(self, tx, rec),
                Front::Own => Err(Error::new(
                    ErrorKind::Invalid,
                    "the oldest message is this thread's own reservation, not yet committed",
                )),
                Front::Empty | Front::Pending => {
                    // Shut down and nothing committed left: pending
                    // reservations can no longer be committed.
                    if tx.state.shutdown != 0 && tx.state.count == 0 {
                        Err(Error::new(ErrorKind::Shutdown, "queue is shut down and drained"))
                    } else {
                        Ok(None)
                    }
                }
            },
        )
    }

    /// What is at the read position. Moves the read position past skip
    /// records, and recovers a reservation there whose thread died.
    fn front(&self, tx: &mut Txn) -> Result<Front> {
        loop {
            let (rhead, tail) = (tx.state.rhead, tx.state.tail);
            if rhead == tail {
                return Ok(Front::Empty);
            }
            if tx.state.write_claims != 0 {
                if let Some(i) = self.claim_at(&tx.state, tx.state.write_claims, rhead)? {
                    match self.owner(tx, i)? {
                        Owner::Alive => return Ok(Front::Pending),
                        Owner::Mine => return Ok(Front::Own),
                        Owner::Gone => {
                            self.recover(tx, i)?;
                            continue;
                        }
                    }
                }
            }
            let off = self.rhead_off(tx);
            let word = self.word_at(off);
            if word & SKIP_MASK == SKIP_MARK {
                let size = RECORD_HEADER + (word & !SKIP_MASK);
                if size % 8 != 0 || !self.fits_at(off, size, tail - rhead) {
                    return Err(self.impossible_record(word, rhead));
                }
                self.advance(tx, off, size);
                self.recompute_head(tx)?;
                tx.notify.get = true;
                continue;
            }
            if word > self.geo.max_message || !self.fits_at(off, record_size(word), tail - rhead) || tx.state.count == 0
            {
                return Err(self.impossible_record(word, rhead));
            }
            return Ok(Front::Record(Rec { len: word, off }));
        }
    }

    /// The ring offset of the read position (see [`Txn::rhead_off`]).
    fn rhead_off(&self, tx: &mut Txn) -> usize {
        let off = match tx.rhead_off {
            Some(off) => off,
            None => (tx.state.rhead % self.geo.capacity) as usize,
        };
        debug_assert_eq!(off as u64, tx.state.rhead % self.geo.capacity);
        tx.rhead_off = Some(off);
        off
    }

    /// Moves the read position past the `size` bytes of the record at ring
    /// offset `off` (the read position's).
    fn advance(&self, tx: &mut Txn, off: usize, size: u64) {
        tx.state.rhead += size;
        let next = off + size as usize;
        // Records never straddle the end: the next one starts right after,
        // or at the ring's start.
        tx.rhead_off = Some(if next as u64 == self.geo.capacity { 0 } else { next });
    }

    /// For batch gets: the next message if one can be taken now (see
    /// [`ShmQueue::front`]), else None.
    fn next_record(&self, tx: &mut Txn) -> Result<Option<Rec>> {
        Ok(match self.front(tx)? {
            Front::Record(rec) => Some(rec),
            _ => None,
        })
    }

    /// Whether `size` bytes at ring offset `off` lie within the `avail`
    /// bytes up to the tail without straddling the ring's end.
    fn fits_at(&self, off: usize, size: u64, avail: u64) -> bool {
        size <= avail && off as u64 + size <= self.geo.capacity
    }

    /// Whether `size` bytes from position `pos` lie between the read
    /// position and the tail without straddling the ring's end.
    fn contiguous(&self, s: &State, pos: u64, size: u64) -> bool {
        size <= s.tail - pos && pos % self.geo.capacity + size <= self.geo.capacity
    }

    fn impossible_record(&self, word: u64, pos: u64) -> Error {
        Error::new(
            ErrorKind::Corrupt,
            format!("queue {:?}: record of {word} bytes at position {pos} is impossible", self.name),
        )
    }

    /// Takes the message at the read position (payload `len`): advances the
    /// read position past it and, if nothing is claimed, the head with it.
    fn consume(&self, tx: &mut Txn, rec: Rec) -> Result<()> {
        self.advance(tx, rec.off, record_size(rec.len));
        tx.state.count -= 1;
        tx.notify.get = true;
        if tx.state.count == 0 {
            // Drained: free the skip records left up to the tail now, so
            // that `bytes_used` is 0 (with messages queued, the next get's
            // `front` passes them; reading the next record's word here
            // would touch a cache line the producer is writing).
            self.pass_skips(tx);
        }
        if tx.state.claims == 0 {
            tx.state.head = tx.state.rhead;
            return Ok(());
        }
        self.recompute_head(tx)
    }

    /// Moves the read position past skip records, so that their bytes are
    /// free at once (and `bytes_used` is 0 once the queue is drained). A
    /// reservation's record word is its length, never a skip mark, so this
    /// never passes a live reservation. An impossible skip record is left
    /// for `front` to report.
    fn pass_skips(&self, tx: &mut Txn) {
        while tx.state.rhead < tx.state.tail {
            let off = self.rhead_off(tx);
            let word = self.word_at(off);
            let size = RECORD_HEADER + (word & !SKIP_MASK);
            if word & SKIP_MASK != SKIP_MARK
                || size % 8 != 0
                || !self.fits_at(off, size, tx.state.tail - tx.state.rhead)
            {
                return;
            }
            self.advance(tx, off, size);
        }
    }

    /// The head: the oldest record some claim still holds behind the read
    /// position (a view, a large get copying, a reservation passed by an
    /// immediate shutdown), else the read position.
    fn recompute_head(&self, tx: &mut Txn) -> Result<()> {
        let mut head = tx.state.rhead;
        let mut bits = tx.state.claims;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let (pos, _) = self.claim_meta(&tx.state, i)?;
            if pos < head {
                head = pos;
            }
        }
        tx.state.head = head;
        Ok(())
    }

    /// The ring word at ring offset `off` (a multiple of 8 below the
    /// capacity: positions and the capacity are multiples of 8).
    fn word_at(&self, off: usize) -> u64 {
        debug_assert!(off % 8 == 0 && (off as u64) < self.geo.capacity);
        // SAFETY: per the above, the 8-byte word lies inside the ring.
        u64::from_le(unsafe { (self.data().add(off) as *const u64).read_volatile() })
    }

    /// Writes the ring word at ring offset `off` (as in `word_at`).
    fn set_word_at(&self, off: usize, word: u64) {
        debug_assert!(off % 8 == 0 && (off as u64) < self.geo.capacity);
        // SAFETY: as in word_at; callers write only words of records they
        // place, own or recover, under the lock.
        unsafe { (self.data().add(off) as *mut u64).write_volatile(word.to_le()) };
    }

    /// Writes the ring word at position `pos` (8-aligned).
    fn set_word(&self, pos: u64, word: u64) {
        self.set_word_at((pos % self.geo.capacity) as usize, word);
    }

    /// Where the payload of the record at ring offset `off` starts.
    /// Records are contiguous, so the whole payload follows.
    fn payload_at(&self, off: usize) -> *mut u8 {
        debug_assert!((off as u64) < self.geo.capacity);
        // SAFETY: a record at off lies inside the ring (contiguous), so its
        // payload start is in bounds (or one past the end, for an empty
        // payload in the ring's last word).
        unsafe { self.data().add(off + RECORD_HEADER as usize) }
    }

    /// Copies the payload of `rec` (found by `front`) to `dst`.
    ///
    /// # Safety
    /// `dst` has `rec.len` writable bytes; the record is not reused while
    /// the caller holds the lock or a claim on it.
    unsafe fn read_payload(&self, rec: Rec, dst: *mut u8) {
        // SAFETY: per the contract; front() validated that the record's
        // rec.len payload bytes lie in the ring.
        unsafe { std::ptr::copy_nonoverlapping(self.payload_at(rec.off), dst, rec.len as usize) };
    }
}

/// Random first tickets for a new queue's claim slots, so that a claim id
/// of one queue does not name a claim of another (each slot's first claim
/// would otherwise have the same id in every queue). From `getrandom`;
/// should that fail, from the clock and the process id, which still makes
/// collisions between queues unlikely.
fn ticket_seeds() -> [u64; layout::MAX_CLAIMS] {
    let mut seeds = [0u64; layout::MAX_CLAIMS];
    let len = std::mem::size_of_val(&seeds);
    // SAFETY: seeds is `len` writable bytes; GRND_NONBLOCK never blocks.
    let got = unsafe { libc::getrandom(seeds.as_mut_ptr().cast(), len, libc::GRND_NONBLOCK) };
    if got != len as isize {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let mut x = t ^ (u64::from(std::process::id()) << 32);
        for s in &mut seeds {
            // splitmix64: spreads one seed over the slots.
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            *s = z ^ (z >> 31);
        }
    }
    seeds
}

/// An empty buffer with room for a message of `len` bytes; an allocation
/// failure is an error (the message stays queued), not an abort. Not
/// zero-filled: every caller fills it entirely before `set_len` (zeroing a
/// large message costs as much as copying it).
fn alloc_message(len: u64) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len as usize)
        .map_err(|_| Error::new(ErrorKind::TooBig, format!("cannot allocate {len} bytes for the message")))?;
    Ok(v)
}

fn expiry_message(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Full => "queue full",
        ErrorKind::Empty => "queue empty",
        _ => "timed out",
    }
}
