//! A named, bounded, multi-producer multi-consumer queue with the semantics
//! of Python's `multiprocessing.JoinableQueue` (and `queue.Queue.shutdown`
//! of Python 3.13).
//!
//! [`Queue`] is the public handle and a thin facade: it holds one backend
//! and every method delegates to it with one `match` (an enum, not a trait
//! object, so that the hot path stays a direct, inlinable call). The
//! backend today is the queue in shared memory, `ShmQueue` (`shm.rs`, with
//! its segment layout in `layout.rs` and its claims in `claims.rs`; the
//! design is in `shm.rs`'s module doc and docs/PROTOCOL.md). The typed
//! calls ([`Queue::put`], [`Queue::get`], ...) are written once here, on
//! top of the byte calls, so a backend implements bytes only. Calls that
//! only make sense in shared memory (the zero-copy claims, ring positions
//! and bytes) reach the backend through `Queue::shm`, which refuses them on
//! any other backend with [`ErrorKind::Unsupported`].

#[cfg(feature = "redis")]
pub(crate) mod redis;
mod shm;

use shm::ShmQueue;
pub use shm::{RawClaim, Reservation, View, LAYOUT_VERSION, MAX_CLAIMS};

use crate::error::{Error, ErrorKind, Result};
use crate::segment::OpenMode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// The ring size used when [`QueueOptions::capacity_bytes`] is 0: 1 MiB.
pub const DEFAULT_CAPACITY: usize = 1 << 20;
/// The smallest ring accepted.
pub const MIN_CAPACITY: usize = 64;
/// The largest ring accepted: 1 TiB.
pub const MAX_CAPACITY: usize = 1 << 40;
/// The file mode used when [`QueueOptions::mode`] is 0.
pub const DEFAULT_MODE: u32 = 0o600;
/// Messages at least this long are put and got in two phases, the copy
/// outside the lock (see the module doc of the shared-memory queue, in
/// `src/queue/shm.rs`); shorter ones are copied under the lock, which costs
/// one lock round trip instead of two or three.
pub const TWO_PHASE_MIN: usize = 32 * 1024;

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

/// The figures of a queue at one instant ([`Queue::stats`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueStats {
    /// Messages in the queue ([`Queue::qsize`]).
    pub messages: usize,
    /// Bytes of the ring in use ([`Queue::bytes_used`]).
    pub bytes_used: usize,
    /// Messages put and not yet `task_done` ([`Queue::unfinished_tasks`]).
    pub unfinished: usize,
    /// Whether the queue was shut down ([`Queue::is_shutdown`]).
    pub shutdown: bool,
    /// Bytes ever freed from the ring ([`Queue::positions`]).
    pub head: u64,
    /// Bytes ever put on the ring ([`Queue::positions`]).
    pub tail: u64,
}

/// A handle on a named queue: in shared memory for a plain name, or kept
/// by a Redis / Valkey server for an address such as
/// `redis://host:6379/0/jobs` (docs/REDIS.md: the same calls; the
/// shared-memory-only ones, such as [`Queue::reserve`], are
/// [`ErrorKind::Unsupported`] there). Cheap to share between threads
/// (`&Queue` is all any method needs); each process opens its own.
///
/// # Examples
/// ```
/// use mpipc::{Queue, QueueOptions};
/// use std::time::Duration;
/// let name = format!("doc-queue-{}", std::process::id());
/// let q = Queue::open(&name, &QueueOptions { maxsize: 100, ..Default::default() })?;
/// q.put("hello")?; // any serde value, as CBOR (docs/TYPES.md)
/// q.put_bytes(b"raw")?; // or raw bytes, outside the contract
/// assert_eq!(q.qsize()?, 2);
/// assert_eq!(q.get::<String>()?, "hello");
/// assert_eq!(q.get_bytes()?, b"raw");
/// assert_eq!(q.get_timeout::<String>(Some(Duration::ZERO)).unwrap_err().kind(), mpipc::ErrorKind::Empty);
/// Queue::unlink(&name)?;
/// # Ok::<(), mpipc::Error>(())
/// ```
#[derive(Debug)]
pub struct Queue {
    backend: Backend,
}

/// The queue behind a [`Queue`] handle: where a backend plugs in. A new
/// backend is a variant here, a branch in [`Queue::open`] (and
/// [`Queue::unlink`]), and an arm in each method below that delegates with
/// a `match` (the compiler lists them: the byte calls, the counts,
/// `task_done` / `join`, `shutdown`, `stats`). The shared-memory-only calls
/// go through [`Queue::as_shm`] and need no arm.
#[derive(Debug)]
enum Backend {
    /// A segment in /dev/shm: every name without a scheme.
    Shm(ShmQueue),
    /// A queue kept by a Redis / Valkey server: a `redis://`,
    /// `redis+unix://` or `valkey://` address (docs/REDIS.md).
    #[cfg(feature = "redis")]
    Redis(Box<redis::RedisQueue>),
}

impl Queue {
    /// Opens the queue `name`, creating it with `opts` if it does not exist.
    ///
    /// When it exists, every nonzero size in `opts` must match it, else
    /// [`ErrorKind::Invalid`]; a segment of another kind, another layout
    /// version or with a damaged header gives [`ErrorKind::Type`],
    /// [`ErrorKind::Version`] or [`ErrorKind::Corrupt`].
    pub fn open(name: &str, opts: &QueueOptions) -> Result<Queue> {
        // The backend is chosen here, by the address: a name with a scheme
        // goes to Redis (docs/REDIS.md); every other name is a segment in
        // /dev/shm.
        #[cfg(feature = "redis")]
        if crate::redis::address::is_address(name) {
            return Ok(Queue { backend: Backend::Redis(Box::new(redis::RedisQueue::open(name, opts)?)) });
        }
        Ok(Queue { backend: Backend::Shm(ShmQueue::open(name, opts)?) })
    }

    /// Removes the queue's name. Open handles keep working on the old queue;
    /// the next [`Queue::open`] creates a new one. [`ErrorKind::NotFound`]
    /// if there is no such queue.
    pub fn unlink(name: &str) -> Result<()> {
        // Dispatched by the address, as in `open`.
        #[cfg(feature = "redis")]
        if crate::redis::address::is_address(name) {
            return redis::RedisQueue::unlink(name);
        }
        ShmQueue::unlink(name)
    }

    /// The queue's name (without a leading `/`).
    pub fn name(&self) -> &str {
        match &self.backend {
            Backend::Shm(q) => q.name(),
            #[cfg(feature = "redis")]
            Backend::Redis(q) => q.name(),
        }
    }

    /// Maximum number of messages (0 = unbounded).
    pub fn maxsize(&self) -> usize {
        match &self.backend {
            Backend::Shm(q) => q.maxsize(),
            #[cfg(feature = "redis")]
            Backend::Redis(q) => q.maxsize(),
        }
    }

    /// Size of the ring in bytes (shared memory only: 0 on a backend
    /// without a ring).
    pub fn capacity_bytes(&self) -> usize {
        self.as_shm().map_or(0, ShmQueue::capacity_bytes)
    }

    /// Largest message accepted, in bytes.
    pub fn max_message(&self) -> usize {
        match &self.backend {
            Backend::Shm(q) => q.max_message(),
            #[cfg(feature = "redis")]
            Backend::Redis(q) => q.max_message(),
        }
    }

    /// Sets how long a blocked call spins before sleeping, in microseconds
    /// (default 50; 0 = sleep at once, the pure futex path). Per handle.
    /// Shared memory only: no effect on a backend that waits on a server.
    pub fn set_spin_us(&self, us: u32) {
        if let Some(q) = self.as_shm() {
            q.set_spin_us(us);
        }
    }

    /// Puts `value`, encoded as CBOR (docs/TYPES.md), blocking while the
    /// queue is full: any `Serialize` value (a struct, a map, a tuple, a
    /// [`ciborium::Value`] built by hand), which a Python, Go or Node
    /// consumer gets as its dict / map / object.
    ///
    /// The errors of [`Queue::put_bytes`], and [`Codec::Encode`](crate::Codec::Encode) when
    /// the value cannot be encoded, before anything is put. A byte slice,
    /// `Vec<u8>` or byte array is refused that way too (serde would write
    /// an array of integers): raw bytes go through [`Queue::put_bytes`], a
    /// CBOR byte string is `serde_bytes::Bytes`.
    ///
    /// # Examples
    /// ```
    /// use mpipc::{Queue, QueueOptions};
    /// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    /// struct Job { name: String, id: u32, score: f64, vals: Vec<i32> }
    ///
    /// let name = format!("doc-typed-{}", std::process::id());
    /// let q = Queue::open(&name, &QueueOptions::default())?;
    /// let job = Job { name: "a".into(), id: 1, score: 0.5, vals: vec![1, 2] };
    /// q.put(&job)?; // Python: q.get() == {"name": "a", "id": 1, "score": 0.5, "vals": [1, 2]}
    /// assert_eq!(q.get::<Job>()?, job);
    /// q.put(&("job", 2))?; // a tuple is an array: ["job", 2] in Python
    /// let v: ciborium::Value = q.get()?; // the dynamic form
    /// assert_eq!(v, ciborium::Value::Array(vec!["job".into(), 2.into()]));
    /// Queue::unlink(&name)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn put<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        self.put_timeout(value, None)
    }

    /// [`Queue::put`] waiting at most `timeout` for room (`None` = forever,
    /// zero = do not wait): the errors of [`Queue::put_bytes_timeout`]
    /// ([`ErrorKind::Full`] when the time runs out, ...).
    ///
    /// # Examples
    /// ```
    /// use mpipc::{ErrorKind, Queue, QueueOptions};
    /// use std::time::Duration;
    /// let name = format!("doc-typed-full-{}", std::process::id());
    /// let q = Queue::open(&name, &QueueOptions { maxsize: 1, ..Default::default() })?;
    /// q.put_timeout(&[1, 2, 3], Some(Duration::ZERO))?;
    /// let e = q.put_timeout("no room", Some(Duration::ZERO)).unwrap_err();
    /// assert_eq!(e.kind(), ErrorKind::Full);
    /// Queue::unlink(&name)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn put_timeout<T: Serialize + ?Sized>(&self, value: &T, timeout: Option<Duration>) -> Result<()> {
        crate::codec::refuse_raw_bytes::<T>("put")?;
        crate::codec::with_encoded(value, |msg| self.put_bytes_timeout(msg, timeout))
    }

    /// Puts a message of raw bytes, blocking while the queue is full
    /// (outside the CBOR contract: Go's `PutBytes`, Python's `put_bytes`).
    ///
    /// # Examples
    /// ```
    /// use mpipc::{Queue, QueueOptions};
    /// let name = format!("doc-bytes-{}", std::process::id());
    /// let q = Queue::open(&name, &QueueOptions::default())?;
    /// q.put_bytes(b"\x00raw\xff")?;
    /// assert_eq!(q.get_bytes()?, b"\x00raw\xff");
    /// Queue::unlink(&name)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    #[inline]
    pub fn put_bytes(&self, msg: &[u8]) -> Result<()> {
        self.put_bytes_timeout(msg, None)
    }

    /// Puts a message of raw bytes, waiting at most `timeout` for room
    /// (`None` = forever, zero = do not wait). [`ErrorKind::Full`] when the
    /// time runs out, [`ErrorKind::TooBig`] for a message over
    /// [`Queue::max_message`], [`ErrorKind::Shutdown`] once the queue is
    /// shut down.
    ///
    /// # Examples
    /// ```
    /// use mpipc::{ErrorKind, Queue, QueueOptions};
    /// use std::time::Duration;
    /// let name = format!("doc-bytes-t-{}", std::process::id());
    /// let q = Queue::open(&name, &QueueOptions { maxsize: 1, ..Default::default() })?;
    /// q.put_bytes_timeout(b"one", Some(Duration::ZERO))?;
    /// let e = q.put_bytes_timeout(b"two", Some(Duration::ZERO)).unwrap_err();
    /// assert_eq!(e.kind(), ErrorKind::Full);
    /// Queue::unlink(&name)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    #[inline]
    pub fn put_bytes_timeout(&self, msg: &[u8], timeout: Option<Duration>) -> Result<()> {
        match &self.backend {
            Backend::Shm(q) => q.put_bytes_timeout(msg, timeout),
            #[cfg(feature = "redis")]
            Backend::Redis(q) => q.put_bytes_timeout(msg, timeout),
        }
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
    #[inline]
    pub fn put_many<M: AsRef<[u8]>>(&self, msgs: &[M], timeout: Option<Duration>) -> Result<usize> {
        match &self.backend {
            Backend::Shm(q) => q.put_many(msgs, timeout),
            #[cfg(feature = "redis")]
            Backend::Redis(q) => q.put_many(msgs, timeout),
        }
    }

    /// Takes the oldest message and decodes it as a `T`, blocking while the
    /// queue is empty. `T` is any `DeserializeOwned` type: a struct, a
    /// `HashMap`, a tuple, or [`ciborium::Value`] for a value of any shape
    /// (see [`crate::codec`] for what decoding accepts).
    ///
    /// The errors of [`Queue::get_bytes`], and [`Codec::Decode`](crate::Codec::Decode) when
    /// the message is not CBOR or not a `T`: the message is consumed all
    /// the same (it could never be decoded), as in the other bindings.
    ///
    /// # Examples
    /// ```
    /// use mpipc::{Queue, QueueOptions};
    /// use std::collections::HashMap;
    /// let name = format!("doc-typed-get-{}", std::process::id());
    /// let q = Queue::open(&name, &QueueOptions::default())?;
    /// q.put(&HashMap::from([("id", 1)]))?;
    /// let m: HashMap<String, i64> = q.get()?;
    /// assert_eq!(m["id"], 1);
    /// q.put("text")?;
    /// let e = q.get::<i64>().unwrap_err(); // consumed, not an i64
    /// assert_eq!(e.codec(), Some(mpipc::Codec::Decode));
    /// assert!(q.empty()?);
    /// Queue::unlink(&name)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn get<T: DeserializeOwned>(&self) -> Result<T> {
        self.get_timeout(None)
    }

    /// [`Queue::get`] waiting at most `timeout` (`None` = forever, zero =
    /// do not wait): [`ErrorKind::Empty`] when the time runs out, and the
    /// other errors of [`Queue::get_bytes_timeout`].
    ///
    /// # Examples
    /// ```
    /// use mpipc::{ErrorKind, Queue, QueueOptions};
    /// use std::time::Duration;
    /// let name = format!("doc-typed-get-t-{}", std::process::id());
    /// let q = Queue::open(&name, &QueueOptions::default())?;
    /// let e = q.get_timeout::<String>(Some(Duration::from_millis(1))).unwrap_err();
    /// assert_eq!(e.kind(), ErrorKind::Empty);
    /// Queue::unlink(&name)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn get_timeout<T: DeserializeOwned>(&self, timeout: Option<Duration>) -> Result<T> {
        crate::codec::decode(&self.get_bytes_timeout(timeout)?)
    }

    /// Takes the oldest message as raw bytes, blocking while the queue is
    /// empty.
    ///
    /// # Examples
    /// ```
    /// use mpipc::{Queue, QueueOptions};
    /// let name = format!("doc-get-bytes-{}", std::process::id());
    /// let q = Queue::open(&name, &QueueOptions::default())?;
    /// q.put(&1)?;
    /// assert_eq!(q.get_bytes()?, b"\x01"); // the CBOR of 1
    /// Queue::unlink(&name)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    #[inline]
    pub fn get_bytes(&self) -> Result<Vec<u8>> {
        self.get_bytes_timeout(None)
    }

    /// Takes the oldest message as raw bytes, waiting at most `timeout`
    /// (`None` = forever, zero = do not wait). [`ErrorKind::Empty`] when
    /// the time runs out; [`ErrorKind::Shutdown`] once the queue is shut
    /// down and drained.
    ///
    /// # Examples
    /// ```
    /// use mpipc::{ErrorKind, Queue, QueueOptions};
    /// use std::time::Duration;
    /// let name = format!("doc-get-bytes-t-{}", std::process::id());
    /// let q = Queue::open(&name, &QueueOptions::default())?;
    /// let e = q.get_bytes_timeout(Some(Duration::ZERO)).unwrap_err();
    /// assert_eq!(e.kind(), ErrorKind::Empty);
    /// Queue::unlink(&name)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    #[inline]
    pub fn get_bytes_timeout(&self, timeout: Option<Duration>) -> Result<Vec<u8>> {
        match &self.backend {
            Backend::Shm(q) => q.get_bytes_timeout(timeout),
            #[cfg(feature = "redis")]
            Backend::Redis(q) => q.get_bytes_timeout(timeout),
        }
    }

    /// Takes the oldest message into `buf`, returning its length. If `buf`
    /// is too small the message stays queued and the error
    /// ([`ErrorKind::BufSize`]) carries the size needed in
    /// [`Error::needed`].
    #[inline]
    pub fn get_into(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<usize> {
        match &self.backend {
            Backend::Shm(q) => q.get_into(buf, timeout),
            #[cfg(feature = "redis")]
            Backend::Redis(q) => q.get_into(buf, timeout),
        }
    }

    /// Takes up to `lens.len()` messages in one atomic step, packed back to
    /// back into `buf`; their lengths go to `lens`. Waits (at most
    /// `timeout`) for the first; then takes what is there and fits. Returns
    /// (messages, bytes). [`ErrorKind::BufSize`] (with [`Error::needed`]) if
    /// not even the first message fits; it stays queued.
    #[inline]
    pub fn get_many_into(
        &self,
        buf: &mut [u8],
        lens: &mut [usize],
        timeout: Option<Duration>,
    ) -> Result<(usize, usize)> {
        match &self.backend {
            Backend::Shm(q) => q.get_many_into(buf, lens, timeout),
            #[cfg(feature = "redis")]
            Backend::Redis(q) => q.get_many_into(buf, lens, timeout),
        }
    }

    /// Takes up to `max` messages in one atomic step (see
    /// [`Queue::get_many_into`]), each in its own vector.
    #[inline]
    pub fn get_many(&self, max: usize, timeout: Option<Duration>) -> Result<Vec<Vec<u8>>> {
        match &self.backend {
            Backend::Shm(q) => q.get_many(max, timeout),
            #[cfg(feature = "redis")]
            Backend::Redis(q) => q.get_many(max, timeout),
        }
    }

    /// The exact number of messages in the queue.
    pub fn qsize(&self) -> Result<usize> {
        match &self.backend {
            Backend::Shm(q) => q.qsize(),
            #[cfg(feature = "redis")]
            Backend::Redis(q) => q.qsize(),
        }
    }

    /// Whether the queue holds no message.
    pub fn empty(&self) -> Result<bool> {
        Ok(self.qsize()? == 0)
    }

    /// Whether the queue holds `maxsize` messages (never true for an
    /// unbounded queue; a queue short of bytes but not of count is not full).
    pub fn full(&self) -> Result<bool> {
        match &self.backend {
            Backend::Shm(q) => q.full(),
            #[cfg(feature = "redis")]
            Backend::Redis(q) => q.full(),
        }
    }

    /// Bytes of the ring in use (records plus their headers and padding,
    /// messages taken but still read through a view, reservations).
    /// Shared memory only: [`ErrorKind::Unsupported`] elsewhere.
    pub fn bytes_used(&self) -> Result<usize> {
        self.shm("bytes_used")?.bytes_used()
    }

    /// The ring positions `(head, tail)`: how many bytes (records with
    /// their 8-byte headers and padding) were ever freed from and put on
    /// the queue since it was created. Their change over time is the byte
    /// rate `mpipc watch` shows; `tail - head` is [`Queue::bytes_used`].
    /// Both also advance over the ring's unused end when a record does not
    /// fit before it (records never straddle the end of the ring). Shared
    /// memory only: [`ErrorKind::Unsupported`] elsewhere.
    pub fn positions(&self) -> Result<(u64, u64)> {
        self.shm("positions")?.positions()
    }

    /// The figures of the queue read in one critical section, so they agree
    /// with each other, waiting at most `timeout` for the lock (`None` =
    /// as long as it takes). [`ErrorKind::Timeout`] when a holder keeps the
    /// lock longer, which a healthy queue never does (critical sections
    /// last microseconds): its holder is stopped (SIGSTOP, a debugger) or
    /// hung inside an operation. Monitoring tools (`mpipc ls`, `stat`,
    /// `watch`) report such a queue busy instead of hanging on it. A holder
    /// that died is recovered, as by every operation. A backend without a
    /// ring reports 0 for `bytes_used`, `head` and `tail`.
    ///
    /// # Examples
    /// ```
    /// use mpipc::{Queue, QueueOptions};
    /// use std::time::Duration;
    /// let name = format!("doc-stats-{}", std::process::id());
    /// let q = Queue::open(&name, &QueueOptions::default())?;
    /// q.put("job")?;
    /// let s = q.stats(Some(Duration::from_millis(250)))?;
    /// assert_eq!((s.messages, s.unfinished, s.shutdown), (1, 1, false));
    /// assert_eq!(s.bytes_used as u64, s.tail - s.head);
    /// Queue::unlink(&name)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn stats(&self, timeout: Option<Duration>) -> Result<QueueStats> {
        match &self.backend {
            Backend::Shm(q) => q.stats(timeout),
            #[cfg(feature = "redis")]
            Backend::Redis(q) => q.stats(timeout),
        }
    }

    /// The unfinished-task count: messages put and not yet `task_done`.
    pub fn unfinished_tasks(&self) -> Result<usize> {
        match &self.backend {
            Backend::Shm(q) => q.unfinished_tasks(),
            #[cfg(feature = "redis")]
            Backend::Redis(q) => q.unfinished_tasks(),
        }
    }

    /// How many times an operation found that the previous lock holder had
    /// died and recovered the queue (since creation, all processes).
    /// Shared memory only: 0 elsewhere.
    pub fn owner_deaths(&self) -> u64 {
        self.as_shm().map_or(0, ShmQueue::owner_deaths)
    }

    /// Marks one task (a message taken by some consumer) as finished.
    /// [`ErrorKind::Invalid`] if called more times than messages were put.
    pub fn task_done(&self) -> Result<()> {
        match &self.backend {
            Backend::Shm(q) => q.task_done(),
            #[cfg(feature = "redis")]
            Backend::Redis(q) => q.task_done(),
        }
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
    /// q.put("task")?;
    /// assert_eq!(q.join(Some(Duration::from_millis(10))).unwrap_err().kind(), ErrorKind::Timeout);
    /// let _task: String = q.get()?;
    /// q.task_done()?;
    /// q.join(None)?; // returns at once: nothing unfinished
    /// Queue::unlink(&name)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn join(&self, timeout: Option<Duration>) -> Result<()> {
        match &self.backend {
            Backend::Shm(q) => q.join(timeout),
            #[cfg(feature = "redis")]
            Backend::Redis(q) => q.join(timeout),
        }
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
    /// q.put("last")?;
    /// q.shutdown(false)?;
    /// assert_eq!(q.put("more").unwrap_err().kind(), ErrorKind::Shutdown);
    /// assert_eq!(q.get::<String>()?, "last"); // drains what is left...
    /// assert_eq!(q.get::<String>().unwrap_err().kind(), ErrorKind::Shutdown); // ...then fails, never blocks
    /// Queue::unlink(&name)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn shutdown(&self, immediate: bool) -> Result<()> {
        match &self.backend {
            Backend::Shm(q) => q.shutdown(immediate),
            #[cfg(feature = "redis")]
            Backend::Redis(q) => q.shutdown(immediate),
        }
    }

    /// Whether [`Queue::shutdown`] was called (by any process).
    pub fn is_shutdown(&self) -> Result<bool> {
        match &self.backend {
            Backend::Shm(q) => q.is_shutdown(),
            #[cfg(feature = "redis")]
            Backend::Redis(q) => q.is_shutdown(),
        }
    }

    // ----- the zero-copy API (shared memory only) -----

    /// Reserves room for a message of up to `len` bytes, to be written in
    /// place and then committed: the zero-copy put. Waits at most `timeout`
    /// for room as [`Queue::put_timeout`] does (and for one of the
    /// [`MAX_CLAIMS`] claim slots, all processes together); the same errors.
    ///
    /// Readers stop in front of a reservation until it is committed or
    /// cancelled (messages stay in reservation order), and it counts
    /// against `maxsize`. It belongs to the calling thread: a get by that
    /// thread that would have to wait for it fails with
    /// [`ErrorKind::Invalid`] instead of waiting for ever; a put by that
    /// thread into a ring kept full behind it may wait for ever (readers
    /// stop at the reservation), so commit before waiting for room. If the
    /// thread
    /// or its process dies first, the next reader drops the reservation and
    /// goes on. Dropping a [`Reservation`] cancels it. Shared memory only:
    /// [`ErrorKind::Unsupported`] elsewhere.
    ///
    /// # Examples
    /// ```
    /// use mpipc::{Queue, QueueOptions};
    /// let name = format!("doc-reserve-{}", std::process::id());
    /// let q = Queue::open(&name, &QueueOptions::default())?;
    /// let mut r = q.reserve(16, None)?;
    /// r[..5].copy_from_slice(b"hello"); // written in place, in the ring
    /// r.commit(5)?; // the message is the first 5 bytes
    /// let v = q.get_view(None)?; // read in place
    /// assert_eq!(&v[..], b"hello");
    /// v.release()?; // its bytes are free again
    /// Queue::unlink(&name)?;
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    #[inline]
    pub fn reserve(&self, len: usize, timeout: Option<Duration>) -> Result<Reservation<'_>> {
        self.shm("reserve")?.reserve(len, timeout)
    }

    /// [`Queue::reserve`] for the C ABI: the claim is ended by
    /// [`Queue::commit_raw`] or [`Queue::cancel_raw`] on the same thread,
    /// and stays open if never ended (until the thread exits).
    #[inline]
    pub fn reserve_raw(&self, len: usize, timeout: Option<Duration>) -> Result<RawClaim> {
        self.shm("reserve")?.reserve_raw(len, timeout)
    }

    /// Commits the reservation `id`: its first `len` bytes (at most the
    /// length reserved) become a message, after those put before it.
    /// [`ErrorKind::Invalid`] for a `len` over the reserved length (the
    /// reservation stays open) or an `id` that names no open reservation;
    /// [`ErrorKind::Permission`] from another thread than the one that
    /// reserved; [`ErrorKind::Shutdown`] if the queue was shut down since
    /// (the reservation is then dropped, as a put would fail).
    #[inline]
    pub fn commit_raw(&self, id: u64, len: usize) -> Result<()> {
        self.shm("commit")?.commit_raw(id, len)
    }

    /// Drops the reservation `id` (nothing is put). Errors as
    /// [`Queue::commit_raw`].
    #[inline]
    pub fn cancel_raw(&self, id: u64) -> Result<()> {
        self.shm("cancel")?.cancel_raw(id)
    }

    /// Takes the oldest message and returns a view of it in place, in the
    /// ring: the zero-copy get. Waits as [`Queue::get_timeout`] does (and
    /// for a free claim slot); the same errors. The message has left the
    /// queue (`qsize` no longer counts it); its bytes stay reserved until
    /// the view is released, so the ring has that much less room. Views
    /// may be released in any order. A consumer that dies holding a view
    /// loses that message (as one killed inside `get`); its bytes are
    /// freed by the next producer that needs them. Dropping a [`View`]
    /// releases it. See [`Queue::reserve`] for an example. Shared memory
    /// only: [`ErrorKind::Unsupported`] elsewhere.
    #[inline]
    pub fn get_view(&self, timeout: Option<Duration>) -> Result<View<'_>> {
        self.shm("get_view")?.get_view(timeout)
    }

    /// [`Queue::get_view`] for the C ABI: ended by [`Queue::release_raw`]
    /// on the same thread.
    #[inline]
    pub fn get_view_raw(&self, timeout: Option<Duration>) -> Result<RawClaim> {
        self.shm("get_view")?.get_view_raw(timeout)
    }

    /// Releases the view `id`: its bytes are free again. Errors as
    /// [`Queue::commit_raw`] (without the length and shutdown cases).
    #[inline]
    pub fn release_raw(&self, id: u64) -> Result<()> {
        self.shm("release")?.release_raw(id)
    }

    // ----- the backend -----

    /// The shared-memory queue behind this handle, if that is its backend.
    #[inline]
    fn as_shm(&self) -> Option<&ShmQueue> {
        match &self.backend {
            Backend::Shm(q) => Some(q),
            // Every other backend has no ring, no claims, no positions.
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The shared-memory queue behind this handle, for `what`, a call that
    /// only exists there: [`ErrorKind::Unsupported`] on any other backend.
    #[inline]
    fn shm(&self, what: &'static str) -> Result<&ShmQueue> {
        self.as_shm().ok_or_else(|| not_shm(what))
    }
}

/// The error of a shared-memory call (`what`) on a queue that is not in
/// shared memory.
#[cold]
fn not_shm(what: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!("{what} is a shared-memory feature: not available on a queue at a Redis address"),
    )
}

#[cfg(test)]
mod tests;
