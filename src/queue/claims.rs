//! Claims: records worked on outside the queue's lock (layout in
//! `layout.rs`, protocol in docs/PROTOCOL.md §2). They carry the two-phase
//! copy of large messages ([`ShmQueue::put_bytes_timeout`] and the gets,
//! above [`TWO_PHASE_MIN`](crate::queue::TWO_PHASE_MIN) bytes) and the
//! zero-copy API: [`ShmQueue::reserve`] / [`Reservation`] and
//! [`ShmQueue::get_view`] / [`View`], plus their raw forms for the C ABI
//! (the public calls are on the facade, [`crate::Queue`]).
//!
//! A claim lives from the critical section that names it in the committed
//! state (`claims` bit set) to the one that ends it (bit cleared). For all
//! that time its thread holds the slot's `alive` robust mutex; nobody else
//! ever locks it except to test it, under the queue lock. So, under the
//! queue lock, for a named claim:
//! - `trylock` is EBUSY: another live thread holds it;
//! - `trylock` is EDEADLK (the mutex is error-checking): the calling thread;
//! - `trylock` succeeds (EOWNERDEAD or not): its thread is gone (killed, or
//!   exited with the claim open), and the caller undoes it in the same
//!   critical section ([`ShmQueue::recover`]).
//!
//! The owner releases the mutex only after the commit that ends its claim,
//! still under the queue lock, and a slot's mutex is taken only while the
//! committed state does not name the slot, so neither window can make a
//! live claim look dead. A recoverer that dies half-way leaves the claim
//! named with its mutex owner-dead: the next one redoes the (idempotent)
//! recovery.
//!
//! A claim's bytes are the claiming thread's until it ends the claim; once
//! that thread exits, the claim is recovered and the bytes reused. So the
//! claiming thread must outlive every use of them (by itself or by any
//! thread it handed the pointer to). A [`ShmQueue`] dropped while
//! claims made through it are open keeps its mapping (see
//! `ShmQueue::claims_out`): the claim mutexes are on their threads' robust
//! lists, linked through memory in the mapping.

use super::layout::{record_size, skip_word, State, MAX_CLAIMS};
use super::{Notify, Owner, Rec, ShmQueue, Txn};
use crate::error::{Error, ErrorKind, Result};
use crate::os::{Deadline, LockState, Probe, RobustMutex};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Every claim slot's bit.
const ALL_SLOTS: u64 = if MAX_CLAIMS == 64 { u64::MAX } else { (1u64 << MAX_CLAIMS) - 1 };

/// Tickets are 56 bits: a claim id is `ticket << 8 | slot`.
const TICKET_MASK: u64 = (1 << 56) - 1;

/// How a claim ends (see [`ShmQueue::end_claim`]).
pub(super) enum Ending {
    /// A reservation becomes a message of this many bytes.
    Commit(usize),
    /// A reservation is dropped.
    Cancel,
    /// A taken record's bytes are freed.
    Release,
}

/// What a reservation attempt produced.
enum Reserved {
    /// A write claim.
    Claim(RawClaim),
    /// No claim slot was free; the message (given) was copied under the
    /// lock instead.
    Copied,
}

/// A claim as the C ABI holds it across calls: the payload's memory in
/// the ring, its length, and the id that names the claim. Valid until it
/// is committed, cancelled or released, and while the [`Queue`](crate::Queue)
/// handle that made it is open; it belongs to the thread that made it.
#[derive(Clone, Copy, Debug)]
pub struct RawClaim {
    /// The payload's first byte, inside the queue's shared memory.
    pub ptr: *mut u8,
    /// Payload bytes: reserved (a reservation) or the message's (a view).
    pub len: usize,
    /// Names the claim in [`Queue::commit_raw`](crate::Queue::commit_raw),
    /// [`Queue::cancel_raw`](crate::Queue::cancel_raw),
    /// [`Queue::release_raw`](crate::Queue::release_raw) (slot index and
    /// ticket; opaque).
    pub id: u64,
}

impl ShmQueue {
    /// Who holds claim slot `i`'s `alive` mutex (see the module doc). On
    /// [`Owner::Gone`] the caller now holds it; it is released after the
    /// commit (`unlock_after`).
    pub(super) fn owner(&self, tx: &mut Txn, i: usize) -> Result<Owner> {
        let alive = &self.claim(i).alive;
        match alive.probe()? {
            Probe::Busy => Ok(Owner::Alive),
            // The mutex is error-checking, so trylock by its holder reports
            // the holder (EDEADLK) instead of succeeding.
            Probe::Mine => Ok(Owner::Mine),
            Probe::Acquired(st) => {
                if st == LockState::OwnerDied {
                    alive.mark_consistent();
                }
                tx.unlock_after |= 1 << i;
                Ok(Owner::Gone)
            }
            Probe::Unrecoverable => {
                self.reinit_alive(i)?;
                tx.unlock_after |= 1 << i;
                Ok(Owner::Gone)
            }
        }
    }

    /// Re-initialises claim slot `i`'s mutex after `ENOTRECOVERABLE` and
    /// takes it. That state never arises from this code (every owner-dead
    /// acquisition is marked consistent before the unlock; a recoverer
    /// killed in between leaves the mutex owner-dead again, which the next
    /// one handles) but only from damage to the segment. glibc reports it
    /// only for a mutex nobody holds, so it is on no thread's robust list,
    /// and every claim-mutex operation but its owner's death happens under
    /// the queue lock, which the caller holds.
    fn reinit_alive(&self, i: usize) -> Result<()> {
        let alive = &self.claim(i).alive;
        // SAFETY: the mutex is in the mapped segment, aligned; it is not
        // held (ENOTRECOVERABLE) and no other thread touches it while we
        // hold the queue lock. RobustMutex is an UnsafeCell, so writing it
        // through a shared reference is sound.
        unsafe { RobustMutex::init(alive as *const RobustMutex as *mut RobustMutex)? };
        match alive.probe()? {
            Probe::Acquired(_) => Ok(()),
            _ => Err(Error::new(ErrorKind::Corrupt, format!("queue {:?}: claim slot {i} is unusable", self.name))),
        }
    }

    /// Undoes claim `i`, whose thread is gone: a reservation becomes a skip
    /// record (its message was never put), a taken record's bytes are
    /// freed (that message is lost, as one taken by a consumer killed in
    /// `get`). The caller holds the slot's mutex (in `unlock_after`).
    pub(super) fn recover(&self, tx: &mut Txn, i: usize) -> Result<()> {
        let (pos, len) = self.claim_meta(&tx.state, i)?;
        let bit = 1u64 << i;
        if tx.state.write_claims & bit != 0 {
            self.drop_reservation(tx, pos, len);
        }
        tx.state.claims &= !bit;
        tx.state.write_claims &= !bit;
        // A reservation dropped at the read position is passed now, so
        // that its bytes are free without waiting for a reader.
        self.pass_skips(tx);
        self.recompute_head(tx)?;
        tx.notify = Notify::ALL;
        // Relaxed: a statistic (see owner_deaths), updated under the lock.
        self.hdr().lock.0.owner_deaths.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Drops the reservation of `len` bytes at `pos` (its claim is being
    /// ended): the newest record gives its bytes back, any other becomes a
    /// skip record. Nothing to do for one behind the read position (passed
    /// by an immediate shutdown). Idempotent for crash recovery: a
    /// recoverer killed after the store leaves the claim named, and the
    /// next one writes the same word (the tail moves only in the commit).
    pub(super) fn drop_reservation(&self, tx: &mut Txn, pos: u64, len: u64) {
        if pos < tx.state.rhead {
            return;
        }
        let size = record_size(len);
        if pos + size == tx.state.tail {
            tx.state.tail = pos;
        } else {
            self.set_word(pos, skip_word(size));
        }
    }

    /// Recovers the claims in `mask` whose threads are gone.
    pub(super) fn reap(&self, tx: &mut Txn, mask: u64) -> Result<()> {
        let mut bits = mask & tx.state.claims;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if let Owner::Gone = self.owner(tx, i)? {
                self.recover(tx, i)?;
            }
        }
        Ok(())
    }

    /// Position and payload length of claim `i`, validated against the
    /// state: a damaged segment must never make us touch bytes outside the
    /// ring or outside the claimed record.
    pub(super) fn claim_meta(&self, s: &State, i: usize) -> Result<(u64, u64)> {
        let c = self.claim(i);
        // Relaxed: written and read under the queue lock only.
        let (pos, len) = (c.pos.load(Ordering::Relaxed), c.len.load(Ordering::Relaxed));
        let ok = pos % 8 == 0
            && pos >= s.head
            && pos < s.tail
            && len <= self.geo.max_message
            && self.contiguous(s, pos, record_size(len));
        if !ok {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!("queue {:?}: claim {i} names an impossible record ({len} bytes at {pos})", self.name),
            ));
        }
        Ok((pos, len))
    }

    /// The claim among `mask` whose record is at `pos`, if any.
    pub(super) fn claim_at(&self, s: &State, mask: u64, pos: u64) -> Result<Option<usize>> {
        let mut bits = mask & s.claims;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if self.claim_meta(s, i)?.0 == pos {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    /// Takes a free claim slot's mutex (in `unlock_after` until
    /// [`ShmQueue::name_claim`] keeps it); `None` when all are in use, even
    /// after recovering those of dead threads.
    fn alloc_claim(&self, tx: &mut Txn) -> Result<Option<usize>> {
        for pass in 0..2 {
            let mut free = !tx.state.claims & ALL_SLOTS & !tx.unlock_after;
            while free != 0 {
                let i = free.trailing_zeros() as usize;
                free &= free - 1;
                let alive = &self.claim(i).alive;
                match alive.probe()? {
                    Probe::Acquired(st) => {
                        // OwnerDied: a thread died just after ending its
                        // claim (or after taking the slot in a critical
                        // section that never committed). Nothing to repair.
                        if st == LockState::OwnerDied {
                            alive.mark_consistent();
                        }
                        tx.unlock_after |= 1 << i;
                        return Ok(Some(i));
                    }
                    Probe::Unrecoverable => {
                        self.reinit_alive(i)?;
                        tx.unlock_after |= 1 << i;
                        return Ok(Some(i));
                    }
                    // Held although no state names it (cannot happen, see
                    // the module doc): leave that slot alone.
                    Probe::Busy | Probe::Mine => {}
                }
            }
            if pass == 0 && tx.state.claims != 0 {
                self.reap(tx, tx.state.claims)?;
                // The slots just recovered are still named by the committed
                // state, and naming one anew before that state is replaced
                // would overwrite the fields its recovery reads (were this
                // process killed before the commit). Commit the recovery
                // first, so that the second pass can use them.
                self.checkpoint(tx);
            }
        }
        Ok(None)
    }

    /// Names claim slot `i` (taken by [`ShmQueue::alloc_claim`]) for the record
    /// at `pos` with payload `len`, and keeps its mutex held past the
    /// commit. Returns the claim's id.
    fn name_claim(&self, tx: &mut Txn, i: usize, pos: u64, len: u64, write: bool) -> u64 {
        let c = self.claim(i);
        // Relaxed: under the queue lock; published by the state commit.
        let ticket = c.ticket.load(Ordering::Relaxed).wrapping_add(1) & TICKET_MASK;
        c.pos.store(pos, Ordering::Relaxed);
        c.len.store(len, Ordering::Relaxed);
        c.ticket.store(ticket, Ordering::Relaxed);
        let bit = 1u64 << i;
        tx.state.claims |= bit;
        if write {
            tx.state.write_claims |= bit;
        }
        tx.unlock_after &= !bit;
        (ticket << 8) | i as u64
    }

    /// Takes the message at the read position (payload `len`, found by
    /// `front`) as a read claim: it leaves the queue, its bytes stay
    /// reserved until [`Ending::Release`]. `None` if no claim slot is free.
    pub(super) fn claim_front(&self, tx: &mut Txn, rec: Rec) -> Result<Option<RawClaim>> {
        // Recovering dead claims (in alloc_claim) cannot touch the record
        // at rhead: front() found no reservation there, and recovery only
        // rewrites reservations' own records and moves the head.
        let Some(i) = self.alloc_claim(tx)? else { return Ok(None) };
        let pos = tx.state.rhead;
        let id = self.name_claim(tx, i, pos, rec.len, false);
        self.advance(tx, rec.off, record_size(rec.len));
        tx.state.count -= 1;
        tx.notify.get = true;
        self.pass_skips(tx);
        self.recompute_head(tx)?;
        Ok(Some(RawClaim { ptr: self.payload_at(rec.off), len: rec.len as usize, id }))
    }

    /// Places a reservation of `len` bytes, waiting until `deadline` for
    /// room (and a free claim slot). With `copy`, a full claim table makes
    /// it put that message under the lock instead.
    fn reserve_inner(&self, len: usize, deadline: Deadline, copy: Option<&[u8]>) -> Result<Reserved> {
        if len as u64 > self.geo.max_message {
            return Err(Error::new(
                ErrorKind::TooBig,
                format!("message of {len} bytes exceeds max_message {} of queue {:?}", self.geo.max_message, self.name),
            ));
        }
        let rec = record_size(len as u64);
        self.blocking(
            deadline,
            &self.hdr().get_event.0,
            ErrorKind::Full,
            |s| s.shutdown != 0 || self.room_for(s, rec),
            |tx| {
                if tx.state.shutdown != 0 {
                    return Err(Error::new(ErrorKind::Shutdown, "queue is shut down"));
                }
                if !self.room_for(&tx.state, rec) {
                    self.no_room(tx, rec)?;
                    if !self.room_for(&tx.state, rec) {
                        return Ok(None);
                    }
                }
                let Some(i) = self.alloc_claim(tx)? else {
                    if let Some(msg) = copy {
                        if self.put_record(tx, msg) {
                            tx.notify.put = true;
                            return Ok(Some(Reserved::Copied));
                        }
                    }
                    // Wait for a claim to end (every end wakes both events).
                    return Ok(None);
                };
                // alloc_claim may have recovered claims: place() re-checks.
                let Some((pos, off)) = self.place(tx, rec) else { return Ok(None) };
                // The length word of a reservation is never read (readers
                // stop at the claim); commit rewrites it.
                self.set_word_at(off, len as u64);
                let id = self.name_claim(tx, i, pos, len as u64, true);
                tx.state.tail = pos + rec;
                Ok(Some(Reserved::Claim(RawClaim { ptr: self.payload_at(off), len, id })))
            },
        )
    }

    /// A put of a large message: reserve, copy with the lock released,
    /// commit. The copy overlaps other processes' copies; a producer killed
    /// during it leaves a reservation that the next reader recovers.
    pub(super) fn put_large(&self, msg: &[u8], timeout: Option<Duration>) -> Result<()> {
        match self.reserve_inner(msg.len(), Deadline::from_timeout(timeout), Some(msg))? {
            Reserved::Copied => Ok(()),
            Reserved::Claim(c) => {
                // SAFETY: the reservation's payload holds c.len == msg.len()
                // bytes, which nobody else touches until the commit.
                unsafe { std::ptr::copy_nonoverlapping(msg.as_ptr(), c.ptr, msg.len()) };
                self.end_claim(c.id, Ending::Commit(msg.len()))
            }
        }
    }

    /// Ends the claim `id` of the calling thread (see [`Ending`]), one
    /// that a call of this handle made and ends itself (a large put or get
    /// copying outside the lock). Should the end fail (a damaged queue), the
    /// claim stays open and its mutex held by this thread: it is then
    /// counted in `claims_out`, so that the handle keeps its mapping when
    /// dropped (see there: the thread's robust list runs through it).
    pub(super) fn end_claim(&self, id: u64, ending: Ending) -> Result<()> {
        let (ended, result) = self.finish_claim(id, ending);
        if !ended {
            self.claim_handed_out();
        }
        result
    }

    /// [`ShmQueue::end_claim`], also saying whether the claim no longer exists
    /// afterwards (ended, dropped at a shutdown, or found lost), for the
    /// count of claims handed out through the raw API.
    fn finish_claim(&self, id: u64, ending: Ending) -> (bool, Result<()>) {
        let i = (id & 0xff) as usize;
        let ticket = id >> 8;
        let write = !matches!(ending, Ending::Release);
        let what = if write { "reservation" } else { "view" };
        let outcome = self.locked(|q, tx| {
            let bit = 1u64.checked_shl(i as u32).unwrap_or(0);
            // Relaxed: the ticket is written under the queue lock we hold.
            let named = i < MAX_CLAIMS
                && tx.state.claims & bit != 0
                && (tx.state.write_claims & bit != 0) == write
                && q.claim(i).ticket.load(Ordering::Relaxed) == ticket;
            if !named {
                return Ok((
                    false,
                    Err(Error::new(
                        ErrorKind::Invalid,
                        format!("no such {what} in queue {:?} (already ended, or from another queue?)", q.name),
                    )),
                ));
            }
            match q.owner(tx, i)? {
                // This section ends the caller's own claim: were it to fail,
                // the mutex must stay held (the claim stays named).
                Owner::Mine => tx.ending |= bit,
                Owner::Alive => {
                    return Ok((
                        false,
                        Err(Error::new(
                            ErrorKind::Permission,
                            format!("the {what} belongs to another thread (end it on the thread that made it)"),
                        )),
                    ))
                }
                Owner::Gone => {
                    q.recover(tx, i)?;
                    return Ok((
                        true,
                        Err(Error::new(
                            ErrorKind::Invalid,
                            format!("the {what} was lost: the thread that made it has exited"),
                        )),
                    ));
                }
            }
            let (pos, len) = q.claim_meta(&tx.state, i)?;
            let mut result = Ok(());
            let mut dropped = false;
            match ending {
                Ending::Commit(n) if n as u64 > len => {
                    // Nothing changes: the reservation stays the caller's.
                    return Ok((
                        false,
                        Err(Error::new(ErrorKind::Invalid, format!("commit of {n} bytes exceeds the {len} reserved"))),
                    ));
                }
                Ending::Commit(_) if tx.state.shutdown != 0 || pos < tx.state.rhead => {
                    // Puts fail once the queue is shut down; so does this one.
                    dropped = true;
                    result = Err(Error::new(ErrorKind::Shutdown, "queue is shut down: the reservation was dropped"));
                }
                Ending::Commit(n) => {
                    let (full, used) = (record_size(len), record_size(n as u64));
                    if pos + full == tx.state.tail {
                        // The newest record: give the unused end back.
                        tx.state.tail = pos + used;
                    } else if used < full {
                        q.set_word(pos + used, skip_word(full - used));
                    }
                    q.set_word(pos, n as u64);
                    tx.state.count += 1;
                    tx.state.unfinished += 1;
                }
                Ending::Cancel => dropped = true,
                Ending::Release => {}
            }
            if dropped {
                q.drop_reservation(tx, pos, len);
            }
            tx.state.claims &= !bit;
            tx.state.write_claims &= !bit;
            tx.unlock_after |= bit;
            if dropped {
                // Pass the skip record now if it is in front, so that its
                // bytes are free without waiting for a reader.
                q.front(tx)?;
            }
            q.recompute_head(tx)?;
            // A claim ended: wake both sides (a message, room, or a free
            // claim slot for a waiting reserve or view).
            tx.notify.put = true;
            tx.notify.get = true;
            Ok((true, result))
        });
        match outcome {
            Ok(done) => done,
            // The queue is damaged: whether the claim still exists is
            // unknown, so it counts as open (the mapping is kept).
            Err(e) => (false, Err(e)),
        }
    }

    // ----- the zero-copy API (public docs on the facade, `Queue`) -----

    /// [`Queue::reserve`](crate::Queue::reserve).
    pub(crate) fn reserve(&self, len: usize, timeout: Option<Duration>) -> Result<Reservation<'_>> {
        Ok(Reservation { q: self, raw: self.reserve_raw(len, timeout)?, ended: false })
    }

    /// [`Queue::reserve_raw`](crate::Queue::reserve_raw).
    pub(crate) fn reserve_raw(&self, len: usize, timeout: Option<Duration>) -> Result<RawClaim> {
        match self.reserve_inner(len, Deadline::from_timeout(timeout), None)? {
            Reserved::Claim(c) => {
                self.claim_handed_out();
                Ok(c)
            }
            Reserved::Copied => unreachable!("nothing to copy without a message"),
        }
    }

    /// Counts a claim left open: handed out through the raw API, or one a
    /// call of this handle could not end (see `claims_out`).
    fn claim_handed_out(&self) {
        // Relaxed: a process-local count, read only when the handle drops
        // (when no call on it is in flight).
        self.claims_out.fetch_add(1, Ordering::Relaxed);
    }

    /// Ends a claim of the raw API and keeps `claims_out` in step.
    fn end_raw(&self, id: u64, ending: Ending) -> Result<()> {
        let (ended, result) = self.finish_claim(id, ending);
        if ended {
            // Relaxed: see claim_handed_out. Saturating: an id forged by
            // the caller may name a claim handed out by another handle.
            let _ = self.claims_out.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
        result
    }

    /// [`Queue::commit_raw`](crate::Queue::commit_raw).
    pub(crate) fn commit_raw(&self, id: u64, len: usize) -> Result<()> {
        self.end_raw(id, Ending::Commit(len))
    }

    /// [`Queue::cancel_raw`](crate::Queue::cancel_raw).
    pub(crate) fn cancel_raw(&self, id: u64) -> Result<()> {
        self.end_raw(id, Ending::Cancel)
    }

    /// [`Queue::get_view`](crate::Queue::get_view).
    pub(crate) fn get_view(&self, timeout: Option<Duration>) -> Result<View<'_>> {
        Ok(View { q: self, raw: self.get_view_raw(timeout)?, ended: false })
    }

    /// [`Queue::get_view_raw`](crate::Queue::get_view_raw).
    pub(crate) fn get_view_raw(&self, timeout: Option<Duration>) -> Result<RawClaim> {
        // A full claim table makes the view wait (Ok(None)) like an empty
        // queue; every claim's end wakes the getters.
        let c = self.take(timeout, |q, tx, rec| q.claim_front(tx, rec))?;
        self.claim_handed_out();
        Ok(c)
    }

    /// [`Queue::release_raw`](crate::Queue::release_raw).
    pub(crate) fn release_raw(&self, id: u64) -> Result<()> {
        self.end_raw(id, Ending::Release)
    }
}

/// Room for one message, reserved in the queue's ring by
/// [`Queue::reserve`](crate::Queue::reserve): write it in place (it dereferences to the reserved
/// bytes, whose initial contents are whatever the ring held), then
/// [`Reservation::commit`]. Dropped without a commit, it is cancelled.
///
/// It belongs to the thread that made it (not `Send`). The bytes are in
/// shared memory: a process with write access to the queue's segment could
/// change them, as with any shared memory.
#[derive(Debug)]
pub struct Reservation<'q> {
    q: &'q ShmQueue,
    raw: RawClaim,
    ended: bool,
}

impl Reservation<'_> {
    /// Commits the first `len` bytes (at most the reserved length, the slice's `len()`) as one
    /// message. A `len` over the reserved length cancels the reservation
    /// and fails with [`ErrorKind::Invalid`]; see
    /// [`Queue::commit_raw`](crate::Queue::commit_raw) for the other errors.
    pub fn commit(mut self, len: usize) -> Result<()> {
        self.ended = true;
        if len > self.raw.len {
            let _ = self.q.cancel_raw(self.raw.id);
            return Err(Error::new(
                ErrorKind::Invalid,
                format!("commit of {len} bytes exceeds the {} reserved (the reservation is cancelled)", self.raw.len),
            ));
        }
        self.q.commit_raw(self.raw.id, len)
    }

    /// Drops the reservation: nothing is put.
    pub fn cancel(mut self) -> Result<()> {
        self.ended = true;
        self.q.cancel_raw(self.raw.id)
    }
}

impl std::ops::Deref for Reservation<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the reserved payload (raw.len bytes at raw.ptr) lies in the
        // mapped ring, claimed by this thread until the reservation ends
        // (which consumes self); the mapping lives as long as `q`.
        unsafe { std::slice::from_raw_parts(self.raw.ptr, self.raw.len) }
    }
}

impl std::ops::DerefMut for Reservation<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in deref; no reader or writer of this library touches
        // claimed bytes, so the mutable borrow is exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.raw.ptr, self.raw.len) }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.ended {
            // Nothing to report to: a failure leaves the claim to the
            // recovery that every thread exit allows.
            let _ = self.q.cancel_raw(self.raw.id);
        }
    }
}

/// The oldest message, taken from the queue and read in place in its ring
/// by [`Queue::get_view`](crate::Queue::get_view); it dereferences to the message's bytes. Release
/// it ([`View::release`], or drop it) to free them.
///
/// It belongs to the thread that made it (not `Send`). The bytes are in
/// shared memory: a process with write access to the queue's segment could
/// change them while the view is held, as with any shared memory.
#[derive(Debug)]
pub struct View<'q> {
    q: &'q ShmQueue,
    raw: RawClaim,
    ended: bool,
}

impl View<'_> {
    /// Frees the message's bytes in the ring.
    pub fn release(mut self) -> Result<()> {
        self.ended = true;
        self.q.release_raw(self.raw.id)
    }
}

impl std::ops::Deref for View<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the message (raw.len bytes at raw.ptr) lies in the mapped
        // ring, claimed by this thread until the view is released (which
        // consumes self); the mapping lives as long as `q`.
        unsafe { std::slice::from_raw_parts(self.raw.ptr, self.raw.len) }
    }
}

impl Drop for View<'_> {
    fn drop(&mut self) {
        if !self.ended {
            let _ = self.q.release_raw(self.raw.id);
        }
    }
}
