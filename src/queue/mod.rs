//! A named, bounded, multi-producer multi-consumer queue in shared memory,
//! with the semantics of Python's `multiprocessing.JoinableQueue` (and
//! `queue.Queue.shutdown` of Python 3.13).
//!
//! Design (see `layout.rs` and docs/PROTOCOL.md): a ring of length-prefixed
//! records guarded by one robust process-shared mutex; every update is
//! published by a single store (double-buffered state), so a process killed
//! at any instant leaves a consistent queue, and the robust mutex hands the
//! lock to the next process. Waiting is a short adaptive spin, then a futex
//! sleep on an event word, re-checked at least every
//! [`crate::sync::RECHECK_INTERVAL`] in case the process that should have
//! woken us was killed.
//!
//! The alternative, a lock-free slot protocol (crossbeam's `ArrayQueue`,
//! iceoryx2's index queues), needs fixed-size slots and a repair protocol for
//! slots claimed by a dead process; with variable-size messages, byte bounds
//! and an exact `qsize` the lock is simpler to prove, and batch calls
//! ([`Queue::put_many`], [`Queue::get_many_into`]) amortise it.

mod layout;

pub use layout::LAYOUT_VERSION;
use layout::{record_size, CacheLine, Geometry, QueueHeader, State, DATA_OFFSET, RECORD_HEADER};

use crate::error::{Error, ErrorKind, Result};
use crate::shm::{self, Access, OpenMode, Segment, SegmentKind};
use crate::sync::{AdaptiveSpin, Deadline, EventWord, LockState, RobustMutex};
use std::time::Duration;

/// The ring size used when [`QueueOptions::capacity_bytes`] is 0: 1 MiB.
pub const DEFAULT_CAPACITY: usize = 1 << 20;
/// The smallest ring accepted.
pub const MIN_CAPACITY: usize = 64;
/// The largest ring accepted: 1 TiB.
pub const MAX_CAPACITY: usize = 1 << 40;
/// The file mode used when [`QueueOptions::mode`] is 0.
pub const DEFAULT_MODE: u32 = 0o600;

/// How to create (or what to expect when attaching to) a queue. Zero in any
/// field means the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueOptions {
    /// Maximum number of messages in the queue; 0 = unbounded (the ring's
    /// byte capacity still bounds it), as in Python.
    pub maxsize: usize,
    /// Size of the ring in bytes; 0 = [`DEFAULT_CAPACITY`]. Rounded up to a
    /// multiple of 8. Each message takes 8 bytes plus its length rounded up
    /// to 8.
    pub capacity_bytes: usize,
    /// Largest message accepted; 0 = anything that fits in the ring
    /// (`capacity_bytes - 8`).
    pub max_message: usize,
    /// File mode of the segment when created; 0 = 0600 (owner only).
    pub mode: u32,
    /// Create-or-attach (default), create only, or attach only.
    pub open_mode: Option<OpenMode>,
    /// Attach even if another user owns the queue (see
    /// [`crate::sync::OpenOptions::any_owner`]: refused by default for a
    /// private queue, against name squatting).
    pub any_owner: bool,
}

/// A handle on a named shared-memory queue. Cheap to share between
/// threads (`&Queue` is all any method needs); each process opens its own.
///
/// # Examples
/// ```
/// use mpipc::{Queue, QueueOptions};
/// use std::time::Duration;
/// let name = format!("doc-queue-{}", std::process::id());
/// let q = Queue::open(&name, &QueueOptions { maxsize: 100, ..Default::default() })?;
/// q.put(b"hello")?;
/// assert_eq!(q.qsize()?, 1);
/// assert_eq!(q.get()?, b"hello");
/// assert_eq!(q.get_timeout(Some(Duration::ZERO)).unwrap_err().kind(), mpipc::ErrorKind::Empty);
/// Queue::unlink(&name)?;
/// # Ok::<(), mpipc::Error>(())
/// ```
#[derive(Debug)]
pub struct Queue {
    seg: Segment,
    name: String,
    /// Private, validated copy of the geometry: every bound the code relies
    /// on comes from here, never re-read from shared memory.
    geo: Geometry,
    spin: AdaptiveSpin,
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
}

/// What one locked attempt of a blocking operation concluded.
enum Step<R> {
    Done(R),
    Expired,
    Spin,
    Sleep(u32),
}

impl Queue {
    /// Opens the queue `name`, creating it with `opts` if it does not exist.
    ///
    /// When it exists, every nonzero size in `opts` must match it, else
    /// [`ErrorKind::Invalid`]; a segment of another kind, another layout
    /// version or with a damaged header gives [`ErrorKind::Type`],
    /// [`ErrorKind::Version`] or [`ErrorKind::Corrupt`].
    pub fn open(name: &str, opts: &QueueOptions) -> Result<Queue> {
        let geo = Queue::geometry_for(opts)?;
        let size = usize::try_from(DATA_OFFSET + geo.capacity)
            .map_err(|_| Error::new(ErrorKind::Invalid, "capacity too large"))?;
        let mode = if opts.mode == 0 { DEFAULT_MODE } else { opts.mode };
        let seg = Segment::open(
            SegmentKind::Queue,
            name,
            LAYOUT_VERSION,
            size,
            Access { mode, open_mode: opts.open_mode.unwrap_or(OpenMode::CreateOrAttach), any_owner: opts.any_owner },
            |seg| Queue::init(seg, geo),
        )?;
        let geo = if seg.created() { geo } else { Queue::check_existing(&seg, name, opts)? };
        Ok(Queue { seg, name: shm::validate_name(name)?.to_owned(), geo, spin: AdaptiveSpin::default() })
    }

    /// Removes the queue's name. Open handles keep working on the old queue;
    /// the next [`Queue::open`] creates a new one. [`ErrorKind::NotFound`]
    /// if there is no such queue.
    pub fn unlink(name: &str) -> Result<()> {
        shm::unlink(SegmentKind::Queue, name)
    }

    /// The queue's name (without a leading `/`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Maximum number of messages (0 = unbounded).
    pub fn maxsize(&self) -> usize {
        self.geo.maxsize as usize
    }

    /// Size of the ring in bytes.
    pub fn capacity_bytes(&self) -> usize {
        self.geo.capacity as usize
    }

    /// Largest message accepted, in bytes.
    pub fn max_message(&self) -> usize {
        self.geo.max_message as usize
    }

    /// Sets how long a blocked call spins before sleeping, in microseconds
    /// (default 50; 0 = sleep at once, the pure futex path). Per handle.
    pub fn set_spin_us(&self, us: u32) {
        self.spin.set_max_us(us);
    }

    /// Puts a message, blocking while the queue is full.
    pub fn put(&self, msg: &[u8]) -> Result<()> {
        self.put_timeout(msg, None)
    }

    /// Puts a message, waiting at most `timeout` for room (`None` = forever,
    /// zero = do not wait). [`ErrorKind::Full`] when the time runs out,
    /// [`ErrorKind::TooBig`] for a message over [`Queue::max_message`],
    /// [`ErrorKind::Shutdown`] once the queue is shut down.
    pub fn put_timeout(&self, msg: &[u8], timeout: Option<Duration>) -> Result<()> {
        self.put_many(&[msg], timeout).map(|_| ())
    }

    /// Puts as many of `msgs` as fit, in order, in one atomic step: waits
    /// (at most `timeout`) until at least one fits, then returns how many
    /// were put (at least 1, unless `msgs` is empty). The throughput path:
    /// one lock round trip for the whole batch.
    ///
    /// Every message is checked against [`Queue::max_message`] first; if one
    /// is too big, nothing is put.
    ///
    /// # Examples
    /// ```
    /// use mpipc::{Queue, QueueOptions};
    /// let name = format!("doc-batch-{}", std::process::id());
    /// let q = Queue::open(&name, &QueueOptions { maxsize: 3, ..Default::default() })?;
    /// let msgs = [&b"a"[..], b"bb", b"ccc", b"dddd"];
    /// assert_eq!(q.put_many(&msgs, None)?, 3); // maxsize 3: the fourth waits for the next call
    /// let (mut buf, mut lens) = ([0u8; 16], [0usize; 8]);
    /// let (n, bytes) = q.get_many_into(&mut buf, &mut lens, None)?;
    /// assert_eq!((n, bytes, &lens[..n]), (3, 6, &[1, 2, 3][..]));
    /// assert_eq!(&buf[..bytes], b"abbccc");
    /// Queue::unlink(&name)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn put_many<M: AsRef<[u8]>>(&self, msgs: &[M], timeout: Option<Duration>) -> Result<usize> {
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
                let mut n = 0;
                for m in msgs {
                    let m = m.as_ref();
                    let rec = record_size(m.len() as u64);
                    if !self.room_for(&tx.state, rec) {
                        break;
                    }
                    self.write_record(tx.state.tail, m);
                    tx.state.tail += rec;
                    tx.state.count += 1;
                    tx.state.unfinished += 1;
                    n += 1;
                }
                if n == 0 {
                    return Ok(None);
                }
                tx.notify.put = true;
                Ok(Some(n))
            },
        )
    }

    /// Takes the oldest message, blocking while the queue is empty.
    pub fn get(&self) -> Result<Vec<u8>> {
        self.get_timeout(None)
    }

    /// Takes the oldest message, waiting at most `timeout` (`None` =
    /// forever, zero = do not wait). [`ErrorKind::Empty`] when the time runs
    /// out; [`ErrorKind::Shutdown`] once the queue is shut down and drained.
    pub fn get_timeout(&self, timeout: Option<Duration>) -> Result<Vec<u8>> {
        self.take(timeout, |q, tx| {
            let len = q.record_len(&tx.state)?;
            let mut v = alloc_message(len)?;
            q.read_payload(tx.state.head, &mut v);
            q.consume(tx, len);
            Ok(Some(v))
        })
    }

    /// Takes the oldest message into `buf`, returning its length. If `buf`
    /// is too small the message stays queued and the error
    /// ([`ErrorKind::BufSize`]) carries the size needed in
    /// [`Error::needed`].
    pub fn get_into(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<usize> {
        self.take(timeout, |q, tx| {
            let len = q.record_len(&tx.state)?;
            if len as usize > buf.len() {
                return Err(Error::buf_size(len as usize));
            }
            q.read_payload(tx.state.head, &mut buf[..len as usize]);
            q.consume(tx, len);
            Ok(Some(len as usize))
        })
    }

    /// Takes up to `lens.len()` messages in one atomic step, packed back to
    /// back into `buf`; their lengths go to `lens`. Waits (at most
    /// `timeout`) for the first; then takes what is there and fits. Returns
    /// (messages, bytes). [`ErrorKind::BufSize`] (with [`Error::needed`]) if
    /// not even the first message fits; it stays queued.
    pub fn get_many_into(
        &self,
        buf: &mut [u8],
        lens: &mut [usize],
        timeout: Option<Duration>,
    ) -> Result<(usize, usize)> {
        if lens.is_empty() {
            return Err(Error::new(ErrorKind::Invalid, "get_many needs room for at least one message"));
        }
        self.take(timeout, |q, tx| {
            let (mut n, mut used) = (0usize, 0usize);
            while tx.state.count > 0 && n < lens.len() {
                let len = q.record_len(&tx.state)? as usize;
                if len > buf.len() - used {
                    if n == 0 {
                        return Err(Error::buf_size(len));
                    }
                    break;
                }
                q.read_payload(tx.state.head, &mut buf[used..used + len]);
                q.consume(tx, len as u64);
                lens[n] = len;
                used += len;
                n += 1;
            }
            Ok(Some((n, used)))
        })
    }

    /// Takes up to `max` messages in one atomic step (see
    /// [`Queue::get_many_into`]), each in its own vector.
    pub fn get_many(&self, max: usize, timeout: Option<Duration>) -> Result<Vec<Vec<u8>>> {
        if max == 0 {
            return Err(Error::new(ErrorKind::Invalid, "get_many needs room for at least one message"));
        }
        self.take(timeout, |q, tx| {
            let mut out = Vec::new();
            while tx.state.count > 0 && out.len() < max {
                let len = q.record_len(&tx.state)?;
                let mut v = alloc_message(len)?;
                q.read_payload(tx.state.head, &mut v);
                q.consume(tx, len);
                out.push(v);
            }
            Ok(Some(out))
        })
    }

    /// The exact number of messages in the queue.
    pub fn qsize(&self) -> Result<usize> {
        self.locked(|_, tx| Ok(tx.state.count as usize))
    }

    /// Whether the queue holds no message.
    pub fn empty(&self) -> Result<bool> {
        Ok(self.qsize()? == 0)
    }

    /// Whether the queue holds `maxsize` messages (never true for an
    /// unbounded queue; a queue short of bytes but not of count is not full).
    pub fn full(&self) -> Result<bool> {
        self.locked(|q, tx| Ok(q.geo.maxsize != 0 && tx.state.count >= q.geo.maxsize))
    }

    /// Bytes of the ring in use (records plus their headers).
    pub fn bytes_used(&self) -> Result<usize> {
        self.locked(|_, tx| Ok(tx.state.used() as usize))
    }

    /// The ring positions `(head, tail)`: how many bytes (records with
    /// their 8-byte headers and padding) were ever taken from and put on
    /// the queue since it was created. Their change over time is the byte
    /// rate `mpipc watch` shows; `tail - head` is [`Queue::bytes_used`].
    pub fn positions(&self) -> Result<(u64, u64)> {
        self.locked(|_, tx| Ok((tx.state.head, tx.state.tail)))
    }

    /// The unfinished-task count: messages put and not yet `task_done`.
    pub fn unfinished_tasks(&self) -> Result<usize> {
        self.locked(|_, tx| Ok(tx.state.unfinished as usize))
    }

    /// How many times an operation found that the previous lock holder had
    /// died and recovered the queue (since creation, all processes).
    pub fn owner_deaths(&self) -> u64 {
        // Relaxed: a statistic; no other data is read on its strength.
        self.hdr().lock.0.owner_deaths.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Marks one task (a message taken by some consumer) as finished.
    /// [`ErrorKind::Invalid`] if called more times than messages were put.
    pub fn task_done(&self) -> Result<()> {
        self.locked(|_, tx| {
            if tx.state.unfinished == 0 {
                return Err(Error::new(ErrorKind::Invalid, "task_done() called too many times"));
            }
            tx.state.unfinished -= 1;
            tx.notify.done = tx.state.unfinished == 0;
            Ok(())
        })
    }

    /// Waits until every message ever put has been marked done.
    /// [`ErrorKind::Timeout`] if `timeout` runs out first.
    ///
    /// # Examples
    /// ```
    /// use mpipc::{ErrorKind, Queue, QueueOptions};
    /// use std::time::Duration;
    /// let name = format!("doc-join-{}", std::process::id());
    /// let q = Queue::open(&name, &QueueOptions::default())?;
    /// q.put(b"task")?;
    /// assert_eq!(q.join(Some(Duration::from_millis(10))).unwrap_err().kind(), ErrorKind::Timeout);
    /// let _task = q.get()?;
    /// q.task_done()?;
    /// q.join(None)?; // returns at once: nothing unfinished
    /// Queue::unlink(&name)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn join(&self, timeout: Option<Duration>) -> Result<()> {
        self.blocking(
            Deadline::from_timeout(timeout),
            &self.hdr().done_event.0,
            ErrorKind::Timeout,
            |s| s.unfinished == 0,
            |tx| Ok((tx.state.unfinished == 0).then_some(())),
        )
    }

    /// Shuts the queue down for every process: puts fail with
    /// [`ErrorKind::Shutdown`] at once; gets drain what is left and then fail
    /// with it. With `immediate`, what is left is discarded (and counted as
    /// done for `join`). Every blocked caller is woken. Idempotent.
    ///
    /// # Examples
    /// ```
    /// use mpipc::{ErrorKind, Queue, QueueOptions};
    /// let name = format!("doc-shutdown-{}", std::process::id());
    /// let q = Queue::open(&name, &QueueOptions::default())?;
    /// q.put(b"last")?;
    /// q.shutdown(false)?;
    /// assert_eq!(q.put(b"more").unwrap_err().kind(), ErrorKind::Shutdown);
    /// assert_eq!(q.get()?, b"last"); // drains what is left...
    /// assert_eq!(q.get().unwrap_err().kind(), ErrorKind::Shutdown); // ...then fails, never blocks
    /// Queue::unlink(&name)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn shutdown(&self, immediate: bool) -> Result<()> {
        self.locked(|_, tx| {
            tx.state.shutdown = 1;
            if immediate {
                tx.state.unfinished = tx.state.unfinished.saturating_sub(tx.state.count);
                tx.state.head = tx.state.tail;
                tx.state.count = 0;
            }
            tx.notify = Notify::ALL;
            Ok(())
        })
    }

    /// Whether [`Queue::shutdown`] was called (by any process).
    pub fn is_shutdown(&self) -> Result<bool> {
        self.locked(|_, tx| Ok(tx.state.shutdown != 0))
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

    fn room_for(&self, s: &State, rec: u64) -> bool {
        (self.geo.maxsize == 0 || s.count < self.geo.maxsize) && s.used() + rec <= self.geo.capacity
    }

    /// Runs `f` under the lock with the live state; commits the state if `f`
    /// changed it and returns Ok; fires the notifications after unlocking.
    fn locked<R>(&self, f: impl FnOnce(&Self, &mut Txn) -> Result<R>) -> Result<R> {
        let h = self.hdr();
        let (guard, how) = h.lock.0.mutex.lock()?;
        let state = h.state.0.load();
        if !state.is_valid(self.geo.capacity) {
            // Leave the mutex unrecoverable if the owner died: nothing sane to hand on.
            return Err(Error::new(ErrorKind::Corrupt, format!("queue {:?}: impossible state {state:?}", self.name)));
        }
        let mut tx = Txn { state, notify: Notify::default() };
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

    /// Like `blocking` for the get family: waits on put_event for a message;
    /// fails with Shutdown once shut down and empty.
    fn take<R>(&self, timeout: Option<Duration>, mut f: impl FnMut(&Self, &mut Txn) -> Result<Option<R>>) -> Result<R> {
        self.blocking(
            Deadline::from_timeout(timeout),
            &self.hdr().put_event.0,
            ErrorKind::Empty,
            |s| s.count > 0 || s.shutdown != 0,
            |tx| {
                if tx.state.count == 0 {
                    return if tx.state.shutdown != 0 {
                        Err(Error::new(ErrorKind::Shutdown, "queue is shut down and drained"))
                    } else {
                        Ok(None)
                    };
                }
                f(self, tx)
            },
        )
    }

    /// Length of the record at `s.head` (count > 0), validated against the
    /// geometry so that a damaged segment can never make us read out of
    /// bounds or allocate without limit.
    fn record_len(&self, s: &State) -> Result<u64> {
        let off = s.head % self.geo.capacity;
        // SAFETY: off is a multiple of 8 below capacity (head % 8 == 0 and
        // capacity % 8 == 0), so the 8-byte word lies inside the ring.
        let raw = unsafe { (self.data().add(off as usize) as *const u64).read_volatile() };
        let len = u64::from_le(raw);
        if len > self.geo.max_message || record_size(len) > s.used() {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!("queue {:?}: record of {len} bytes at position {} is impossible", self.name, s.head),
            ));
        }
        Ok(len)
    }

    /// Advances the head past the record of payload `len` at `tx.state.head`.
    fn consume(&self, tx: &mut Txn, len: u64) {
        tx.state.head += record_size(len);
        tx.state.count -= 1;
        tx.notify.get = true;
    }

    /// Writes a record at byte position `pos` (caller checked there is room).
    fn write_record(&self, pos: u64, msg: &[u8]) {
        let off = pos % self.geo.capacity;
        // SAFETY: off is 8-aligned and < capacity, so the length word fits;
        // the payload copy wraps within the ring.
        unsafe { (self.data().add(off as usize) as *mut u64).write_volatile((msg.len() as u64).to_le()) };
        self.copy_in((pos + RECORD_HEADER) % self.geo.capacity, msg);
    }

    fn copy_in(&self, off: u64, src: &[u8]) {
        let cap = self.geo.capacity as usize;
        let off = off as usize;
        let first = src.len().min(cap - off);
        // SAFETY: [off, off+first) and [0, len-first) lie inside the ring
        // (len <= max_message < capacity); the bytes are free space that no
        // other process reads until we commit, under the lock we hold.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.data().add(off), first);
            std::ptr::copy_nonoverlapping(src.as_ptr().add(first), self.data(), src.len() - first);
        }
    }

    fn read_payload(&self, head: u64, dst: &mut [u8]) {
        let cap = self.geo.capacity as usize;
        let off = ((head + RECORD_HEADER) % self.geo.capacity) as usize;
        let first = dst.len().min(cap - off);
        // SAFETY: as in copy_in; the record was committed by its producer and
        // is not overwritten until we advance the head, under the lock we hold.
        unsafe {
            std::ptr::copy_nonoverlapping(self.data().add(off), dst.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(self.data(), dst.as_mut_ptr().add(first), dst.len() - first);
        }
    }
}

/// A zeroed buffer for a message of `len` bytes; an allocation failure is
/// an error (the message stays queued), not an abort.
fn alloc_message(len: u64) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len as usize)
        .map_err(|_| Error::new(ErrorKind::TooBig, format!("cannot allocate {len} bytes for the message")))?;
    v.resize(len as usize, 0);
    Ok(v)
}

fn expiry_message(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Full => "queue full",
        ErrorKind::Empty => "queue empty",
        _ => "timed out",
    }
}

#[cfg(test)]
mod tests;
