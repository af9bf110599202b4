//! The queue at a Redis / Valkey address (`redis://host:port[/db]/NAME`):
//! the same operations as the shared-memory queue, kept on the server in a
//! list and a hash, every change made atomically by the `mpipc_1` function
//! library (docs/REDIS.md, "Queue").
//!
//! Waiting is server-side blocking, never polling: a getter blocks in
//! `BLMPOP` on the queue's items and its `shut` latch, a putter on the
//! `room` and `shut` latches, a joiner on the `done` latch. A latch is a
//! list holding at most one token while its condition holds; a waiter
//! woken by the token puts it back (`mpipc_1_latch_rearm`) if the condition
//! still holds, so one state change wakes every waiter in turn. Each block
//! lasts at most [`MAX_BLOCK`]: a token lost with a waiter killed at the
//! wrong instant delays the others by one slice at most.
//!
//! Delivery is at-most-once by default (a message popped is gone);
//! `?ack=at-least-once` at creation makes the queue keep each taken message
//! in its consumer's processing list until `task_done`, and give back the
//! messages of a consumer whose lease ended (docs/REDIS.md, "Delivery").

use crate::error::{Error, ErrorKind, Result};
use crate::os::Deadline;
use crate::queue::QueueOptions;
use crate::redis::address::Ack;
use crate::redis::{block_seconds, endpoint_of, is_transport, prefix, random_u64, Endpoint, MAX_BLOCK};
use crate::segment::OpenMode;
use parking_lot::Mutex;
use redis::Value;
use std::sync::Arc;
use std::time::Duration;

/// The largest message when the queue sets no `max_message`: Redis's
/// default `proto-max-bulk-len` (512 MiB), the largest string it accepts.
pub const REDIS_MAX_MESSAGE: usize = 512 << 20;

/// The default lease of an at-least-once consumer (`?lease_ms=`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// The queue's keys, in the order every queue function takes them.
#[derive(Debug)]
struct Keys {
    /// items, meta, room, done, shut.
    base: [String; 5],
    /// The consumers' lease ZSET (at-least-once).
    consumers: String,
    /// The prefix of a consumer's processing list (at-least-once).
    proc_prefix: String,
}

/// A handle on a queue kept by a Redis server (see the module doc).
#[derive(Debug)]
pub struct RedisQueue {
    ep: Arc<Endpoint>,
    name: String,
    keys: Keys,
    maxsize: usize,
    max_message: usize,
    ack: Ack,
    lease: Duration,
    /// At-least-once: this process's consumer (created at the first get).
    consumer: Mutex<Option<Consumer>>,
    /// At-least-once: messages handed out by consumers this handle
    /// abandoned (see [`RedisQueue::abandon`]) and not yet `task_done`:
    /// their `task_done` is [`ErrorKind::Broken`]. Relaxed: a counter
    /// only read and changed under `consumer`'s lock.
    orphaned: std::sync::atomic::AtomicUsize,
}

/// An at-least-once consumer: its id and the thread renewing its lease.
#[derive(Debug)]
struct Consumer {
    /// `<pid>:<random>`: one per handle and process.
    id: String,
    /// The process it belongs to (a child after fork() makes its own).
    pid: u32,
    /// Messages handed to the caller and not yet `task_done`.
    outstanding: usize,
    /// Dropping it stops the renewing thread.
    _keeper: Keeper,
}

/// The thread that renews an at-least-once consumer's lease every third
/// of the lease while the handle lives; it stops when this is dropped.
#[derive(Debug)]
struct Keeper {
    stop: Option<std::sync::mpsc::Sender<()>>,
}

impl Drop for Keeper {
    fn drop(&mut self) {
        // Closing the channel wakes the thread's timed receive: it ends.
        self.stop.take();
    }
}

/// What one non-blocking get found.
enum Got {
    Messages(Vec<Vec<u8>>),
    Empty,
    Drained,
    /// `get_into`: the first message is this long, more than the buffer.
    TooBig(usize),
}

impl RedisQueue {
    /// Opens (creating unless `opts` says attach only) the queue at
    /// `address` (`redis://[user:password@]host[:port][/db]/NAME[?options]`,
    /// docs/REDIS.md, "Addresses").
    pub fn open(address: &str, opts: &QueueOptions) -> Result<RedisQueue> {
        let (ep, addr) = endpoint_of(address, true)?;
        let name = addr.name.clone().expect("a queue address has a name");
        if opts.capacity_bytes != 0 {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "capacity_bytes does not apply to a queue at a Redis address: the server's maxmemory bounds it \
                     (a full server answers MP_E_FULL); pass 0 ({})",
                    ep.shown()
                ),
            ));
        }
        if opts.mode != 0 {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "mode does not apply to a queue at a Redis address (no file): the server's ACLs decide who may \
                 use it; pass 0",
            ));
        }
        let lease = addr.lease_ms.map_or(DEFAULT_LEASE, Duration::from_millis);
        RedisQueue::on_endpoint(Arc::new(ep), addr.ns.as_deref(), &name, opts, addr.ack, lease)
    }

    /// Opens the queue `name` (namespace `ns`) through an endpoint that
    /// is already there (the manager's `queue` kind shares its client's):
    /// as [`RedisQueue::open`] after the address is read. `ack` is the
    /// delivery asked for (`None`: the queue's own, at-most-once for a new
    /// one); `lease` is an at-least-once consumer's.
    pub fn on_endpoint(
        ep: Arc<Endpoint>,
        ns: Option<&str>,
        name: &str,
        opts: &QueueOptions,
        ack: Option<Ack>,
        lease: Duration,
    ) -> Result<RedisQueue> {
        let name = crate::segment::validate_name(name)?.to_owned();
        if opts.capacity_bytes != 0 || opts.mode != 0 {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "capacity_bytes and mode do not apply to a queue at a Redis address: pass 0",
            ));
        }
        let p = prefix(ns);
        let base = |part: &str| format!("{p}q:{{{name}}}:{part}");
        let keys = Keys {
            base: [base("items"), base("meta"), base("room"), base("done"), base("shut")],
            consumers: base("consumers"),
            proc_prefix: base("proc:"),
        };
        let open_mode = match opts.open_mode.unwrap_or(OpenMode::CreateOrAttach) {
            OpenMode::CreateOrAttach => "c",
            OpenMode::CreateOnly => "C",
            OpenMode::AttachOnly => "A",
        };
        // Without `?ack=`, a new queue is at-most-once and an existing one
        // keeps its own mode ('' lets the server decide).
        let ack = match ack {
            None => "",
            Some(Ack::AtMostOnce) => "amo",
            Some(Ack::AtLeastOnce) => "alo",
        };
        let reply: Vec<Value> = ep.run(None, |con| {
            redis::cmd("FCALL")
                .arg("mpipc_1_q_open")
                .arg(5)
                .arg(&keys.base)
                .arg(open_mode)
                .arg(opts.maxsize)
                .arg(opts.max_message)
                .arg(ack)
                .query(con)
        })?;
        let bad = || Error::new(ErrorKind::Corrupt, format!("queue {name:?}: mpipc_1_q_open gave {reply:?}"));
        let (maxsize, max_message, mode) = match &reply[..] {
            [Value::Int(m), Value::Int(x), mode, ..] => {
                (*m, *x, redis::from_redis_value::<String>(mode).map_err(|_| bad())?)
            }
            _ => return Err(bad()),
        };
        let max_message = match usize::try_from(max_message).map_err(|_| bad())? {
            0 => REDIS_MAX_MESSAGE,
            m => m,
        };
        let maxsize = usize::try_from(maxsize).map_err(|_| bad())?;
        Ok(RedisQueue {
            ep,
            name,
            keys,
            maxsize,
            max_message,
            // The queue's own mode wins over the address's (it is set at
            // creation, for every client).
            ack: if mode == "alo" { Ack::AtLeastOnce } else { Ack::AtMostOnce },
            lease,
            consumer: Mutex::new(None),
            orphaned: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Deletes the queue at `address` and every key it has.
    /// [`ErrorKind::NotFound`] if there is none. Open handles then get
    /// [`ErrorKind::NotFound`] from their calls.
    pub fn unlink(address: &str) -> Result<()> {
        let q =
            RedisQueue::open(address, &QueueOptions { open_mode: Some(OpenMode::AttachOnly), ..Default::default() })?;
        let deleted: i64 = q.ep.run(None, |con| {
            redis::cmd("FCALL").arg("mpipc_1_q_unlink").arg(6).arg(&q.keys.base).arg(&q.keys.consumers).query(con)
        })?;
        if deleted == 0 {
            return Err(Error::new(ErrorKind::NotFound, format!("no queue {:?} at {}", q.name, q.ep.shown())));
        }
        Ok(())
    }

    /// The queue's name (the last part of its address).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Maximum number of messages (0 = unbounded).
    pub fn maxsize(&self) -> usize {
        self.maxsize
    }

    /// Largest message accepted, in bytes.
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    /// Whether the queue keeps taken messages until `task_done`.
    #[cfg(test)]
    pub fn at_least_once(&self) -> bool {
        self.ack == Ack::AtLeastOnce
    }

    /// Puts as many of `msgs` as fit, in order, in one atomic step (one
    /// round trip), waiting at most `timeout` until at least one fits.
    pub fn put_many<M: AsRef<[u8]>>(&self, msgs: &[M], timeout: Option<Duration>) -> Result<usize> {
        if msgs.is_empty() {
            return Ok(0);
        }
        if let Some(m) = msgs.iter().find(|m| m.as_ref().len() > self.max_message) {
            return Err(Error::new(
                ErrorKind::TooBig,
                format!(
                    "message of {} bytes exceeds max_message {} of queue {:?}",
                    m.as_ref().len(),
                    self.max_message,
                    self.name
                ),
            ));
        }
        let deadline = Deadline::from_timeout(timeout);
        loop {
            let put: i64 = self.ep.run(None, |con| {
                let mut cmd = redis::cmd("FCALL");
                cmd.arg("mpipc_1_q_put").arg(5).arg(&self.keys.base).arg("-");
                for m in msgs {
                    cmd.arg(m.as_ref());
                }
                cmd.query(con)
            })?;
            if put > 0 {
                return Ok(put as usize);
            }
            // Full: wait for the room latch (or the shut latch, after which
            // the next put says Shutdown).
            let Some(block) = self.slice(&deadline) else {
                return Err(Error::new(ErrorKind::Full, format!("queue {:?} is full", self.name)));
            };
            let woken = self.block_pop(block, &[2, 4], 1)?;
            if let Some((key, _)) = woken {
                if key == self.keys.base[4] {
                    self.rearm("shut")?;
                }
            }
        }
    }

    /// Takes up to `max` messages (one round trip when some are there),
    /// waiting at most `timeout` for the first.
    pub fn get_many(&self, max: usize, timeout: Option<Duration>) -> Result<Vec<Vec<u8>>> {
        if max == 0 {
            return Err(Error::new(ErrorKind::Invalid, "get_many needs room for at least one message"));
        }
        match self.take(max, None, timeout)? {
            Got::Messages(m) if !m.is_empty() && m.len() <= max => Ok(m),
            _ => Err(self.odd_reply("a get", &"no message, or more than asked for")),
        }
    }

    /// Takes the oldest message into `buf`, returning its length;
    /// [`ErrorKind::BufSize`] (with the size needed) leaves it queued.
    /// A message found too big after a blocking wait goes back to the head
    /// of the queue (another getter may take the next one meanwhile).
    pub fn get_into(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<usize> {
        match self.take(1, Some(buf.len()), timeout)? {
            Got::Messages(m) if m.len() == 1 && m[0].len() <= buf.len() => {
                buf[..m[0].len()].copy_from_slice(&m[0]);
                Ok(m[0].len())
            }
            Got::TooBig(n) => Err(Error::buf_size(n)),
            _ => Err(self.odd_reply("a get", &"not one message that fits")),
        }
    }

    /// Puts one message (see [`RedisQueue::put_many`]).
    pub fn put_bytes_timeout(&self, msg: &[u8], timeout: Option<Duration>) -> Result<()> {
        self.put_many(&[msg], timeout).map(|_| ())
    }

    /// Takes the oldest message.
    pub fn get_bytes_timeout(&self, timeout: Option<Duration>) -> Result<Vec<u8>> {
        // get_many returns one message or an error (it checks the reply).
        let mut one = self.get_many(1, timeout)?;
        Ok(one.pop().unwrap_or_default())
    }

    /// Takes up to `lens.len()` messages packed into `buf` (see
    /// [`crate::Queue::get_many_into`]). Messages taken that do not fit go
    /// back to the head of the queue, in order (another getter may take a
    /// later one meanwhile).
    pub fn get_many_into(
        &self,
        buf: &mut [u8],
        lens: &mut [usize],
        timeout: Option<Duration>,
    ) -> Result<(usize, usize)> {
        let msgs = self.get_many(lens.len(), timeout)?;
        let (mut n, mut used) = (0, 0);
        for m in &msgs {
            if m.len() > buf.len() - used {
                break;
            }
            buf[used..used + m.len()].copy_from_slice(m);
            lens[n] = m.len();
            used += m.len();
            n += 1;
        }
        if n < msgs.len() {
            self.give_back(&msgs[n..])?;
            if n == 0 {
                return Err(Error::buf_size(msgs[0].len()));
            }
        }
        Ok((n, used))
    }

    /// Puts messages taken by this handle back at the head, in order.
    fn give_back(&self, msgs: &[Vec<u8>]) -> Result<()> {
        if self.ack == Ack::AtLeastOnce {
            // They are in our processing list (its tail): move them back.
            let cid = self.consumer_id()?;
            self.alo_unget(&cid, msgs.len())?;
            self.handed_out(&cid, -(msgs.len() as isize));
            return Ok(());
        }
        self.unget(msgs)
    }

    /// Puts popped messages back at the head, in order (`mpipc_1_q_unget`:
    /// a function with `allow-oom`, so it works at maxmemory, where a plain
    /// LPUSH is refused and the messages would be lost).
    fn unget(&self, msgs: &[Vec<u8>]) -> Result<()> {
        self.ep.run(None, |con| {
            let mut cmd = redis::cmd("FCALL");
            cmd.arg("mpipc_1_q_unget").arg(5).arg(&self.keys.base);
            for m in msgs {
                cmd.arg(m);
            }
            cmd.query::<i64>(con)
        })?;
        Ok(())
    }

    /// Moves the `n` newest messages of consumer `cid`'s processing list
    /// back to the head (`mpipc_1_q_alo_unget`, `allow-oom` as `unget`).
    fn alo_unget(&self, cid: &str, n: usize) -> Result<()> {
        let proc_key = format!("{}{cid}", self.keys.proc_prefix);
        self.ep.run(None, |con| {
            redis::cmd("FCALL")
                .arg("mpipc_1_q_alo_unget")
                .arg(7)
                .arg(&self.keys.base)
                .arg(&self.keys.consumers)
                .arg(&proc_key)
                .arg(cid)
                .arg(n)
                .query::<i64>(con)
        })?;
        Ok(())
    }

    /// The common path of the gets: a non-blocking attempt in one function
    /// call when it can succeed at once, else server-side waits.
    fn take(&self, max: usize, cap: Option<usize>, timeout: Option<Duration>) -> Result<Got> {
        let deadline = Deadline::from_timeout(timeout);
        if self.ack == Ack::AtLeastOnce {
            return self.take_alo(max, cap, &deadline);
        }
        // An unbounded queue's blocking get needs no function: BLMPOP on
        // the items and the shut latch is the whole operation (items come
        // first, so a shut queue is drained before the latch is seen).
        // (get_into too: a message too big for the buffer goes back to the
        // head, which is rarer than paying a function call on every get.)
        let mut first_try = self.maxsize != 0 || timeout == Some(Duration::ZERO);
        loop {
            if first_try {
                match self.try_take(max, cap)? {
                    Got::Empty => {}
                    Got::Drained => return Err(self.drained()),
                    got => return Ok(got),
                }
            }
            first_try = true;
            let Some(block) = self.slice(&deadline) else {
                return Err(Error::new(ErrorKind::Empty, format!("queue {:?} is empty", self.name)));
            };
            match self.block_pop(block, &[0, 4], max)? {
                None => {}
                Some((key, _)) if key == self.keys.base[4] => {
                    // Shut down: pass the token on, then drain or fail.
                    self.rearm("shut")?;
                }
                Some((_, msgs)) => {
                    if let Some(cap) = cap {
                        if msgs[0].len() > cap {
                            self.unget(&msgs)?;
                            return Ok(Got::TooBig(msgs[0].len()));
                        }
                    }
                    return Ok(Got::Messages(msgs));
                }
            }
        }
    }

    /// One non-blocking get (`mpipc_1_q_get`, or `mpipc_1_q_get_into` with
    /// a buffer's size).
    fn try_take(&self, max: usize, cap: Option<usize>) -> Result<Got> {
        let reply: Vec<Value> = self.ep.run(None, |con| {
            let mut cmd = redis::cmd("FCALL");
            match cap {
                Some(cap) => cmd.arg("mpipc_1_q_get_into").arg(5).arg(&self.keys.base).arg(cap),
                None => cmd.arg("mpipc_1_q_get").arg(5).arg(&self.keys.base).arg(max),
            };
            cmd.query(con)
        })?;
        self.got(reply)
    }

    /// Reads a `{status, msg...}` reply of the get functions.
    fn got(&self, mut reply: Vec<Value>) -> Result<Got> {
        let status = match reply.first() {
            Some(Value::Int(s)) => *s,
            _ => return Err(self.odd_reply("a get", &reply)),
        };
        match status {
            0 => {
                let msgs = reply.drain(1..).map(|v| self.bytes(v)).collect::<Result<Vec<_>>>()?;
                if msgs.is_empty() {
                    return Err(self.odd_reply("a get", &reply));
                }
                Ok(Got::Messages(msgs))
            }
            1 => Ok(Got::Empty),
            2 => Ok(Got::Drained),
            3 => match reply.get(1) {
                Some(Value::Int(n)) => Ok(Got::TooBig(*n as usize)),
                _ => Err(self.odd_reply("a get", &reply)),
            },
            _ => Err(self.odd_reply("a get", &reply)),
        }
    }

    /// The at-least-once gets: messages move to this consumer's processing
    /// list (`mpipc_1_q_alo_get`), or, after a wait, with `BLMOVE`.
    fn take_alo(&self, max: usize, cap: Option<usize>, deadline: &Deadline) -> Result<Got> {
        let cid = self.consumer_id()?;
        let got = self.take_alo_as(&cid, max, cap, deadline);
        match &got {
            Ok(Got::Messages(m)) => self.handed_out(&cid, m.len() as isize),
            Err(e) if is_transport(e) => self.abandon(&cid),
            _ => {}
        }
        got
    }

    /// [`RedisQueue::take_alo`] as consumer `cid`.
    fn take_alo_as(&self, cid: &str, max: usize, cap: Option<usize>, deadline: &Deadline) -> Result<Got> {
        let proc_key = format!("{}{cid}", self.keys.proc_prefix);
        loop {
            let reply: Vec<Value> = self.ep.run(None, |con| {
                redis::cmd("FCALL")
                    .arg("mpipc_1_q_alo_get")
                    .arg(7)
                    .arg(&self.keys.base)
                    .arg(&self.keys.consumers)
                    .arg(&proc_key)
                    .arg(cid)
                    .arg(max)
                    .arg(self.lease.as_millis() as u64)
                    .arg(cap)
                    .query(con)
            })?;
            match self.got(reply)? {
                Got::Empty => {}
                Got::Drained => return Err(self.drained()),
                got => return Ok(got),
            }
            let Some(block) = self.slice(deadline) else {
                return Err(Error::new(ErrorKind::Empty, format!("queue {:?} is empty", self.name)));
            };
            // BLMOVE takes one source key: a shutdown is seen at the next
            // attempt's function call, within one slice. A message it
            // moves is in our processing list: it is ours to hand out.
            let moved: Option<Vec<u8>> = self.ep.run(Some(block), |con| {
                redis::cmd("BLMOVE")
                    .arg(&self.keys.base[0])
                    .arg(&proc_key)
                    .arg("LEFT")
                    .arg("RIGHT")
                    .arg(block_seconds(block))
                    .query(con)
            })?;
            if let Some(msg) = moved {
                if self.maxsize != 0 {
                    // Its failure only leaves putters to their next slice;
                    // the message moved is handed out whatever happens.
                    let _ = self.rearm("room");
                }
                // Too big for the caller's buffer: give it back to the head.
                if let Some(cap) = cap {
                    if msg.len() > cap {
                        self.alo_unget(cid, 1)?;
                        return Ok(Got::TooBig(msg.len()));
                    }
                }
                return Ok(Got::Messages(vec![msg]));
            }
        }
    }

    /// Counts `n` messages handed to (negative: given back by) the caller
    /// of consumer `cid`.
    fn handed_out(&self, cid: &str, n: isize) {
        if let Some(c) = self.consumer.lock().as_mut().filter(|c| c.id == cid) {
            c.outstanding = c.outstanding.saturating_add_signed(n);
        }
    }

    /// Gives up consumer `cid` after a transport failure: a get whose reply
    /// was lost may still move a message into its processing list (a busy
    /// server runs it later), where nobody would ever see it, and a
    /// `task_done` would then acknowledge that one instead of the caller's.
    /// So its lease is left to end (its keeper stops): the reaper then
    /// gives every message it holds back to the queue; the next get
    /// registers a new consumer. The messages it had handed out count as
    /// orphaned: their `task_done` is [`ErrorKind::Broken`].
    fn abandon(&self, cid: &str) {
        let mut consumer = self.consumer.lock();
        if consumer.as_ref().is_some_and(|c| c.id == cid) {
            let c = consumer.take().expect("checked");
            // Relaxed: changed under the `consumer` lock (see `orphaned`).
            self.orphaned.fetch_add(c.outstanding, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// This process's consumer id, registering it (and starting its lease
    /// keeper) at the first use.
    fn consumer_id(&self) -> Result<String> {
        let pid = crate::os::current_pid();
        {
            let mut consumer = self.consumer.lock();
            if let Some(c) = consumer.as_ref().filter(|c| c.pid == pid) {
                return Ok(c.id.clone());
            }
            if let Some(mut old) = consumer.take() {
                // The parent's consumer, inherited through fork(): its
                // keeper thread did not come along; the parent keeps its
                // lease.
                old._keeper.stop.take();
                std::mem::forget(old);
            }
        }
        // Registered without the lock held: a round trip (and a thread
        // start) under it would leave it locked for ever in a child forked
        // meanwhile by another thread.
        let id = format!("{pid}:{:016x}", random_u64());
        self.renew(&id)?;
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (ep, keys, lease, cid) = (self.ep.clone(), self.lease_keys(), self.lease, id.clone());
        std::thread::Builder::new()
            .name("mpipc-redis-lease".into())
            .spawn(move || {
                crate::os::AsyncSignalsBlocked::for_this_thread();
                // Renew every third of the lease until the handle is
                // dropped (the channel closes) or the process forks away.
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(lease / 3) {
                    let _ = renew_lease(&ep, &keys, &cid, lease);
                }
            })
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start the lease thread: {e}")))?;
        let mine = Consumer { id: id.clone(), pid, outstanding: 0, _keeper: Keeper { stop: Some(tx) } };
        let mut consumer = self.consumer.lock();
        if let Some(c) = consumer.as_ref().filter(|c| c.pid == pid) {
            // Another thread registered one meanwhile: use it; ours (with
            // nothing taken) lapses with its keeper.
            return Ok(c.id.clone());
        }
        *consumer = Some(mine);
        Ok(id)
    }

    fn lease_keys(&self) -> [String; 7] {
        let b = &self.keys.base;
        [
            b[0].clone(),
            b[1].clone(),
            b[2].clone(),
            b[3].clone(),
            b[4].clone(),
            self.keys.consumers.clone(),
            self.keys.proc_prefix.clone(),
        ]
    }

    fn renew(&self, cid: &str) -> Result<()> {
        renew_lease(&self.ep, &self.lease_keys(), cid, self.lease)
    }

    /// Pops from the keys of `which` (indexes into the base keys), blocking
    /// at most `block`: the key it came from and what it popped.
    fn block_pop(&self, block: Duration, which: &[usize], count: usize) -> Result<Option<(String, Vec<Vec<u8>>)>> {
        let rearm_room = self.maxsize != 0 && which[0] == 0;
        let reply: Value = self.ep.run(Some(block), |con| {
            let mut cmd = redis::cmd("BLMPOP");
            cmd.arg(block_seconds(block)).arg(which.len());
            for &i in which {
                cmd.arg(&self.keys.base[i]);
            }
            cmd.arg("LEFT").arg("COUNT").arg(count);
            if rearm_room {
                // A bounded queue's get leaves room: open the room latch
                // in the same round trip (the function runs right after
                // the pop, on the same connection).
                let mut pipe = redis::pipe();
                pipe.add_command(cmd).cmd("FCALL").arg("mpipc_1_latch_rearm").arg(5).arg(&self.keys.base).arg("room");
                // The rearm's own result does not matter (a failure leaves
                // putters to their next slice): only the pop's is read, so
                // messages popped are never dropped with an error.
                match crate::redis::pipeline_within(con, &pipe, self.ep.timeout() + block)?.into_iter().next() {
                    Some(Value::ServerError(e)) => Err(e.into()),
                    Some(v) => Ok(v),
                    None => Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into()),
                }
            } else {
                cmd.query(con)
            }
        })?;
        match reply {
            Value::Nil => Ok(None),
            Value::Array(mut kv) if kv.len() == 2 => {
                let msgs = match kv.pop() {
                    Some(Value::Array(items)) if !items.is_empty() && items.len() <= count => {
                        items.into_iter().map(|v| self.bytes(v)).collect::<Result<Vec<_>>>()?
                    }
                    other => return Err(self.odd_reply("BLMPOP", &other)),
                };
                let key = redis::from_redis_value::<String>(&kv[0]).map_err(|e| self.ep.error(&e))?;
                Ok(Some((key, msgs)))
            }
            other => Err(self.odd_reply("BLMPOP", &other)),
        }
    }

    /// Puts a latch's token back if its condition still holds; the reply
    /// (1 when the `done` latch's condition holds).
    fn rearm(&self, which: &str) -> Result<i64> {
        self.ep.run(None, |con| {
            redis::cmd("FCALL").arg("mpipc_1_latch_rearm").arg(5).arg(&self.keys.base).arg(which).query(con)
        })
    }

    /// The next server-side block: what is left until `deadline`, at most
    /// [`MAX_BLOCK`]; `None` once it has passed.
    fn slice(&self, deadline: &Deadline) -> Option<Duration> {
        deadline.next_remaining().map(|left| left.min(MAX_BLOCK))
    }

    /// The exact number of messages in the queue.
    pub fn qsize(&self) -> Result<usize> {
        Ok(self.state()?.0)
    }

    /// `(messages, unfinished, shutdown)` read in one atomic step.
    pub fn state(&self) -> Result<(usize, usize, bool)> {
        let reply: Vec<i64> = self
            .ep
            .run(None, |con| redis::cmd("FCALL_RO").arg("mpipc_1_q_qsize").arg(5).arg(&self.keys.base).query(con))?;
        match &reply[..] {
            [n, u, s, ..] => Ok((*n as usize, *u as usize, *s != 0)),
            _ => Err(Error::new(ErrorKind::Corrupt, format!("queue {:?}: mpipc_1_q_qsize gave {reply:?}", self.name))),
        }
    }

    /// The unfinished-task count.
    pub fn unfinished_tasks(&self) -> Result<usize> {
        Ok(self.state()?.1)
    }

    /// Whether the queue was shut down (by any client).
    pub fn is_shutdown(&self) -> Result<bool> {
        Ok(self.state()?.2)
    }

    /// The queue's figures, read in one atomic step; the ring's (bytes,
    /// positions) are 0: there is no ring.
    pub fn stats(&self, _timeout: Option<Duration>) -> Result<crate::queue::QueueStats> {
        let (messages, unfinished, shutdown) = self.state()?;
        Ok(crate::queue::QueueStats { messages, bytes_used: 0, unfinished, shutdown, head: 0, tail: 0 })
    }

    /// Whether the queue holds `maxsize` messages (never for an unbounded
    /// queue).
    pub fn full(&self) -> Result<bool> {
        Ok(self.maxsize != 0 && self.qsize()? >= self.maxsize)
    }

    /// Marks one task as finished ([`ErrorKind::Invalid`] when called more
    /// times than messages were put; at-least-once: [`ErrorKind::Broken`]
    /// when this consumer's lease had ended and its messages went back).
    pub fn task_done(&self) -> Result<()> {
        if self.ack == Ack::AtLeastOnce {
            return self.task_done_alo();
        }
        self.ep.run(None, |con| {
            redis::cmd("FCALL").arg("mpipc_1_q_task_done").arg(5).arg(&self.keys.base).arg(1).query::<i64>(con)
        })?;
        Ok(())
    }

    /// `task_done` of an at-least-once consumer: acknowledges the oldest
    /// message it took (`mpipc_1_q_ack`).
    fn task_done_alo(&self) -> Result<()> {
        let lease_ended = |why: &str| {
            Error::new(
                ErrorKind::Broken,
                format!(
                    "queue {:?}: {why}: the message went back to the queue (at-least-once) and may be delivered again",
                    self.name
                ),
            )
        };
        {
            let _consumer = self.consumer.lock();
            // Relaxed: changed under the `consumer` lock (see `orphaned`).
            let orphaned = &self.orphaned;
            if orphaned.load(std::sync::atomic::Ordering::Relaxed) > 0 {
                orphaned.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                return Err(lease_ended("the connection was lost while this handle held the message"));
            }
        }
        let cid = self.consumer_id()?;
        let proc_key = format!("{}{cid}", self.keys.proc_prefix);
        let acked = self.ep.run(None, |con| {
            redis::cmd("FCALL")
                .arg("mpipc_1_q_ack")
                .arg(7)
                .arg(&self.keys.base)
                .arg(&self.keys.consumers)
                .arg(&proc_key)
                .arg(&cid)
                .arg(1)
                .query::<i64>(con)
        });
        let outstanding = self.consumer.lock().as_ref().filter(|c| c.id == cid).map_or(0, |c| c.outstanding);
        match acked {
            Ok(_) => {
                self.handed_out(&cid, -1);
                Ok(())
            }
            // The consumer holds less than it handed out: its lease ended
            // (a stall) and its messages were given back; its keeper then
            // registered it afresh.
            Err(e) if e.kind() == ErrorKind::Invalid && outstanding > 0 => {
                self.handed_out(&cid, -(outstanding as isize));
                Err(lease_ended("this consumer's lease had ended"))
            }
            Err(e) => {
                if is_transport(&e) {
                    self.handed_out(&cid, -1);
                    self.abandon(&cid);
                }
                Err(e)
            }
        }
    }

    /// Waits until every message put has been marked done
    /// ([`ErrorKind::Timeout`] when `timeout` runs out first).
    pub fn join(&self, timeout: Option<Duration>) -> Result<()> {
        let deadline = Deadline::from_timeout(timeout);
        loop {
            let Some(block) = self.slice(&deadline) else {
                // One last look: a zero timeout still answers "done now?".
                if self.state()?.1 == 0 {
                    return Ok(());
                }
                return Err(Error::new(ErrorKind::Timeout, format!("join on queue {:?} timed out", self.name)));
            };
            // Woken by the token or not, ask: `latch_rearm 'done'` answers 1
            // when nothing is unfinished (and puts the token back for the
            // next joiner). After an empty slice this is what finds a
            // token lost with a joiner killed before it put it back.
            self.block_pop(block, &[3], 1)?;
            if self.rearm("done")? == 1 {
                return Ok(());
            }
        }
    }

    /// Shuts the queue down for every client (see
    /// [`crate::Queue::shutdown`]); wakes every blocked caller.
    pub fn shutdown(&self, immediate: bool) -> Result<()> {
        self.ep.run(None, |con| {
            redis::cmd("FCALL")
                .arg("mpipc_1_q_shutdown")
                .arg(5)
                .arg(&self.keys.base)
                .arg(if immediate { "1" } else { "0" })
                .query::<i64>(con)
        })?;
        Ok(())
    }

    fn drained(&self) -> Error {
        Error::new(ErrorKind::Shutdown, format!("queue {:?} is shut down", self.name))
    }

    fn bytes(&self, v: Value) -> Result<Vec<u8>> {
        match v {
            Value::BulkString(b) => Ok(b),
            other => Err(self.odd_reply("a get", &other)),
        }
    }

    #[cold]
    fn odd_reply(&self, what: &str, reply: &dyn std::fmt::Debug) -> Error {
        Error::new(ErrorKind::Corrupt, format!("queue {:?}: unexpected reply to {what}: {reply:?}", self.name))
    }
}

impl Drop for RedisQueue {
    fn drop(&mut self) {
        // An at-least-once consumer closing gives its messages not yet done
        // back to the head of the queue at once (rather than when its lease
        // ends).
        let consumer = self.consumer.get_mut().take();
        if let Some(c) = consumer.filter(|c| c.pid == crate::os::current_pid()) {
            let proc_key = format!("{}{}", self.keys.proc_prefix, c.id);
            let _ = self.ep.run(None, |con| {
                redis::cmd("FCALL")
                    .arg("mpipc_1_q_release")
                    .arg(7)
                    .arg(&self.keys.base)
                    .arg(&self.keys.consumers)
                    .arg(&proc_key)
                    .arg(&c.id)
                    .query::<Value>(con)
            });
        }
    }
}

/// Registers or renews consumer `cid`'s lease, and gives back the messages
/// of consumers whose lease ended (`mpipc_1_q_lease`).
fn renew_lease(ep: &Endpoint, keys: &[String; 7], cid: &str, lease: Duration) -> Result<()> {
    ep.run(None, |con| {
        redis::cmd("FCALL")
            .arg("mpipc_1_q_lease")
            .arg(6)
            .arg(&keys[..6])
            .arg(cid)
            .arg(lease.as_millis() as u64)
            .arg(&keys[6])
            .query::<Value>(con)
    })?;
    Ok(())
}

#[cfg(test)]
#[path = "redis_tests.rs"]
mod tests;
