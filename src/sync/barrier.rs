//! `Barrier`: named, process-shared, with Python's `threading.Barrier`
//! semantics: `wait` returns a distinct arrival index in `0..parties`; a
//! timed-out wait, `abort` or `reset` breaks the waiting generation
//! ([`ErrorKind::Broken`] for every waiter); after `abort` (or a timeout)
//! the barrier stays broken until `reset`.
//!
//! State is guarded by an internal robust mutex; waiters sleep on the
//! generation word, which every trip or break bumps. Each critical section
//! writes `broken_gen` before bumping the generation, so a holder killed
//! midway leaves either the old generation intact or the new one complete.
//! A party killed while waiting still counts as arrived (it did arrive);
//! the others are not stranded, but the generation trips one live party
//! short — documented, as Python has no equivalent (its threads cannot die
//! alone).
//!
//! **Two phases** (for a binding that runs Python's `action`, and waits in
//! slices so that its signal handlers run): [`Barrier::arrive`] counts the
//! party in and returns an `Arrival`; [`Barrier::await_trip`] waits for
//! that generation to end, in as many slices as the caller likes (a slice
//! that runs out breaks nothing); [`Barrier::leave`] withdraws an arrival
//! (an interrupted wait, as `threading.Barrier` does when its wait is
//! interrupted) or breaks the barrier (a wait that timed out). With `hold`,
//! the last arrival does not release the others: the generation stays
//! *held* (`count == parties`) while its caller runs the action, then
//! [`Barrier::trip`] releases everyone, or [`Barrier::abort`] breaks the
//! barrier if the action failed — so no party returns before the action
//! has run, as `threading.Barrier` promises. A party arriving while a
//! generation is held waits for it to end and joins the next one. A party
//! killed while holding leaves the others waiting until their timeout or
//! an abort/reset (the held state is not robust; the action runs in the
//! binding, out of the library's sight). A library older than the two
//! phases reads a held generation as corrupt (`MP_E_CORRUPT`) if it
//! arrives during the action.

use crate::error::{Error, ErrorKind, Result};
use crate::os::{futex_wait, futex_wake_all, Deadline, RobustMutex, RobustMutexGuard};
use crate::segment::{self, NamedSegment, OpenOptions, SegmentKind};
use std::sync::atomic::{AtomicU32, Ordering};

/// Orderings: every field is written only under `lock`, and read under it
/// too except by a waiter watching `generation` (and then
/// `broken_gen_plus1`) without the lock. So plain Relaxed accesses inside
/// the lock (the mutex orders them), a Release store of each new
/// generation, and Acquire loads by the unlocked waiters, which then see
/// everything the generation's end wrote.
#[repr(C)]
struct BarrierState {
    lock: RobustMutex,
    /// Bumped (wrapping) by every trip, break and reset; the futex word.
    generation: AtomicU32,
    /// Parties waiting in the current generation.
    count: AtomicU32,
    /// 1 while broken (until reset).
    broken: AtomicU32,
    /// The generation that ended broken most recently, plus one (0 = none).
    broken_gen_plus1: AtomicU32,
    /// Written once before publication.
    parties: u32,
}

const BARRIER_LAYOUT: u32 = 1;

/// The generation after `gen`. Wraps, but skips `u32::MAX`, so that
/// `gen + 1` (wrapping) is never 0, which `broken_gen_plus1` reserves for
/// "never broken" (else every waiter of generation `u32::MAX` would read
/// as broken).
fn next_gen(gen: u32) -> u32 {
    match gen.wrapping_add(1) {
        u32::MAX => 0,
        g => g,
    }
}

// The layout documented in docs/PROTOCOL.md §5 (offsets from the state).
const _: () = assert!(std::mem::offset_of!(BarrierState, generation) == 40);
const _: () = assert!(std::mem::offset_of!(BarrierState, parties) == 56);

/// A party's place in a generation, from [`Barrier::arrive`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// The arrival index, `0 .. parties` (`parties - 1`: this party was the
    /// last, and tripped the generation or, with `hold`, holds it).
    pub index: u32,
    /// The generation arrived in: what [`Barrier::await_trip`],
    /// [`Barrier::trip`] and [`Barrier::leave`] take.
    pub ticket: u32,
}

/// A named barrier. Thread-safe.
pub struct Barrier {
    seg: NamedSegment<BarrierState>,
}

impl Barrier {
    /// Opens the barrier `name` for `parties` parties: creates it or
    /// attaches (another count is [`ErrorKind::Invalid`]). `parties` 0
    /// attaches only, to any count.
    pub fn open(name: &str, parties: u32, opts: &OpenOptions) -> Result<Barrier> {
        let opts = opts.attach_if(parties == 0, "a barrier needs at least 1 party")?;
        let seg =
            NamedSegment::open(SegmentKind::Barrier, name, BARRIER_LAYOUT, 0, &opts, |st: *mut BarrierState, _| {
                // SAFETY: the zeroed, unpublished state.
                unsafe {
                    (*st).parties = parties;
                    RobustMutex::init(std::ptr::addr_of_mut!((*st).lock))
                }
            })?;
        let have = seg.state().parties;
        if have == 0 {
            return Err(Error::new(ErrorKind::Corrupt, format!("{name:?}: barrier with 0 parties")));
        }
        if parties != 0 && have != parties {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!("{name:?} is a barrier for {have} parties, opened for {parties}"),
            ));
        }
        Ok(Barrier { seg })
    }

    /// Removes the name.
    pub fn unlink(name: &str) -> Result<()> {
        segment::unlink(SegmentKind::Barrier, name)
    }

    fn st(&self) -> &BarrierState {
        self.seg.state()
    }

    fn lock(&self) -> Result<RobustMutexGuard<'_>> {
        // Every critical section leaves a consistent state at each store
        // (see the module doc): a dead holder needs no repair.
        self.st().lock.lock_self_consistent()
    }

    /// Ends generation `gen` broken and wakes its waiters. Under the lock.
    fn break_generation(&self, gen: u32) {
        let st = self.st();
        // Relaxed inside the lock; the Release bump publishes them.
        st.broken_gen_plus1.store(gen.wrapping_add(1), Ordering::Relaxed);
        st.count.store(0, Ordering::Relaxed);
        st.generation.store(next_gen(gen), Ordering::Release);
    }

    /// Waits for all parties, at most until `deadline`. Returns this
    /// party's arrival index. [`ErrorKind::Broken`] if the barrier is or
    /// becomes broken, including by this wait timing out (which breaks it
    /// for everyone, as in Python). A generation held by another party's
    /// action is waited out until `deadline` too: a holder that died
    /// holding it would otherwise keep this wait forever (found by the
    /// `segment` fuzz target: a held generation in a damaged segment hung
    /// a wait with `Deadline::Now`). Timing out there breaks the barrier
    /// as any timed-out wait does, so that nobody stays stuck behind it.
    pub fn wait(&self, deadline: &Deadline) -> Result<u32> {
        let a = match self.arrive(deadline, false) {
            Err(e) if e.kind() == ErrorKind::Timeout => {
                self.abort()?;
                return Err(Error::new(
                    ErrorKind::Broken,
                    "barrier wait timed out while another party held the generation; the barrier is broken",
                ));
            }
            r => r?,
        };
        if a.index + 1 == self.st().parties {
            return Ok(a.index); // tripped it
        }
        if self.await_trip(a.ticket, deadline)? {
            return Ok(a.index);
        }
        if self.leave(a.ticket, true)? {
            return Err(Error::new(ErrorKind::Broken, "barrier wait timed out; the barrier is broken"));
        }
        // The generation ended meanwhile, or is held by the party running
        // its action (whose outcome this party shares): wait for it.
        self.await_trip(a.ticket, &Deadline::Never)?;
        Ok(a.index)
    }

    /// Counts this party in. Returns its `Arrival`; [`ErrorKind::Broken`]
    /// if the barrier is broken. The last party to arrive trips the
    /// generation (everyone is released) or, with `hold`, holds it: the
    /// others stay waiting until this party calls [`Barrier::trip`] (or
    /// [`Barrier::abort`]). While another party holds a generation, waits
    /// (at most until `deadline`: [`ErrorKind::Timeout`], not counted in)
    /// for it to end, then arrives in the next one.
    pub fn arrive(&self, deadline: &Deadline, hold: bool) -> Result<Arrival> {
        let st = self.st();
        loop {
            let g = self.lock()?;
            if st.broken.load(Ordering::Relaxed) != 0 {
                return Err(Error::new(ErrorKind::Broken, "the barrier is broken"));
            }
            let gen = st.generation.load(Ordering::Relaxed);
            let index = st.count.load(Ordering::Relaxed);
            if index > st.parties {
                return Err(Error::new(ErrorKind::Corrupt, "barrier state corrupt: more waiters than parties"));
            }
            if index == st.parties {
                // Held: its last party runs an action. Wait for the trip (or
                // break) to bump the generation.
                drop(g);
                match deadline.next_sleep() {
                    Some(sleep) => futex_wait(&st.generation, gen, sleep),
                    None => {
                        return Err(Error::new(ErrorKind::Timeout, "timed out waiting for a held generation to end"))
                    }
                }
                continue;
            }
            if index + 1 == st.parties {
                if hold {
                    // Relaxed inside the lock: count == parties marks the
                    // hold; the generation is unchanged, so waiters sleep on.
                    st.count.store(st.parties, Ordering::Relaxed);
                    return Ok(Arrival { index, ticket: gen });
                }
                st.count.store(0, Ordering::Relaxed);
                // Release: the trip publishes everything the parties did.
                st.generation.store(next_gen(gen), Ordering::Release);
                drop(g);
                futex_wake_all(&st.generation);
                return Ok(Arrival { index, ticket: gen });
            }
            st.count.store(index + 1, Ordering::Relaxed);
            return Ok(Arrival { index, ticket: gen });
        }
    }

    /// Waits, at most until `deadline`, for generation `ticket` to end.
    /// `Ok(true)`: it tripped; `Ok(false)`: it still runs (the arrival
    /// stands; nothing is broken); [`ErrorKind::Broken`]: it ended broken.
    pub fn await_trip(&self, ticket: u32, deadline: &Deadline) -> Result<bool> {
        let st = self.st();
        loop {
            // Acquire: pairs with the trip's (or break's) Release.
            if st.generation.load(Ordering::Acquire) != ticket {
                break;
            }
            match deadline.next_sleep() {
                Some(sleep) => futex_wait(&st.generation, ticket, sleep),
                None => return Ok(false),
            }
        }
        // Acquire: written before the generation's Release bump. A later
        // break overwrites it only after a reset and new arrivals (abort
        // breaks nothing while already broken), long after this party woke.
        if st.broken_gen_plus1.load(Ordering::Acquire) == ticket.wrapping_add(1) {
            return Err(Error::new(ErrorKind::Broken, "the barrier was broken while waiting"));
        }
        Ok(true)
    }

    /// Releases the generation `ticket` that this party holds (see
    /// [`Barrier::arrive`]'s `hold`): every waiter returns. [`ErrorKind::Broken`]
    /// if it was aborted or reset meanwhile (the waiters already got
    /// `Broken`); [`ErrorKind::Invalid`] if `ticket` is not a held generation.
    pub fn trip(&self, ticket: u32) -> Result<()> {
        let st = self.st();
        let g = self.lock()?;
        if st.generation.load(Ordering::Relaxed) != ticket {
            return Err(Error::new(ErrorKind::Broken, "the barrier was aborted or reset while the action ran"));
        }
        if st.count.load(Ordering::Relaxed) != st.parties {
            return Err(Error::new(
                ErrorKind::Invalid,
                "this generation is not held (arrive with hold, as the last party)",
            ));
        }
        st.count.store(0, Ordering::Relaxed);
        // Release: the trip publishes everything the parties (and the
        // action) did.
        st.generation.store(next_gen(ticket), Ordering::Release);
        drop(g);
        futex_wake_all(&st.generation);
        Ok(())
    }

    /// Ends a wait on generation `ticket` that has not seen its end: while
    /// the generation is still filling, withdraws this party's arrival
    /// (`brk` false: as Python's Barrier when a wait is interrupted) or
    /// breaks the barrier for everyone (`brk` true: a wait that timed out).
    /// `Ok(true)` when it did; `Ok(false)` when the generation has ended
    /// or is held (all parties arrived: the outcome is
    /// [`Barrier::await_trip`]'s).
    pub fn leave(&self, ticket: u32, brk: bool) -> Result<bool> {
        let st = self.st();
        let g = self.lock()?;
        let count = st.count.load(Ordering::Relaxed);
        if st.generation.load(Ordering::Relaxed) != ticket || count >= st.parties {
            return Ok(false);
        }
        if brk {
            st.broken.store(1, Ordering::Relaxed);
            self.break_generation(ticket);
            drop(g);
            futex_wake_all(&st.generation);
        } else {
            // Relaxed inside the lock. count >= 1: this party is counted.
            st.count.store(count.saturating_sub(1), Ordering::Relaxed);
        }
        Ok(true)
    }

    /// Breaks the barrier: current and future waits fail with
    /// [`ErrorKind::Broken`] until [`Barrier::reset`].
    pub fn abort(&self) -> Result<()> {
        let st = self.st();
        let g = self.lock()?;
        // A broken barrier has nobody waiting (arrivals are refused): a
        // second abort breaks nothing more, so that `broken_gen_plus1` keeps
        // naming the generation whose waiters may still be waking up.
        if st.broken.load(Ordering::Relaxed) != 0 && st.count.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        st.broken.store(1, Ordering::Relaxed);
        self.break_generation(st.generation.load(Ordering::Relaxed));
        drop(g);
        futex_wake_all(&st.generation);
        Ok(())
    }

    /// Returns the barrier to its initial state; parties waiting now get
    /// [`ErrorKind::Broken`].
    pub fn reset(&self) -> Result<()> {
        let st = self.st();
        let g = self.lock()?;
        if st.count.load(Ordering::Relaxed) > 0 {
            self.break_generation(st.generation.load(Ordering::Relaxed));
        }
        st.broken.store(0, Ordering::Relaxed);
        drop(g);
        futex_wake_all(&st.generation);
        Ok(())
    }

    /// The number of parties.
    pub fn parties(&self) -> u32 {
        self.st().parties
    }

    /// Parties waiting now.
    pub fn n_waiting(&self) -> u32 {
        self.st().count.load(Ordering::Relaxed)
    }

    /// Whether the barrier is broken.
    pub fn is_broken(&self) -> bool {
        self.st().broken.load(Ordering::Relaxed) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::next_gen;

    #[test]
    fn generations_skip_the_value_reserved_by_broken_gen_plus1() {
        assert_eq!(next_gen(5), 6);
        assert_eq!(next_gen(u32::MAX - 1), 0, "u32::MAX is skipped");
        let mut g = u32::MAX - 3;
        for _ in 0..10 {
            g = next_gen(g);
            assert_ne!(g.wrapping_add(1), 0);
        }
    }
}
