//! `Connection`: whole messages over a byte stream, framed exactly as
//! Python's `multiprocessing.connection` frames them, so a stock Python
//! program can be the peer.
//!
//! Frame (docs/PROTOCOL.md §3): a 4-byte big-endian signed length, or -1
//! followed by an 8-byte big-endian length for messages over 2^31 - 1
//! bytes; then the payload. Python's reader accepts either form for any
//! size; its writer uses the long form only above 0x7fffffff, and so do we.
//!
//! Receiving is buffered (one `read` fetches as many small frames as the
//! socket holds), which is what makes small messages fast. The consequence:
//! a message may sit in this process's buffer while the descriptor is not
//! readable. [`Connection::poll`] and [`wait`](crate::pipe::wait) account for the buffer; code
//! that watches [`Connection::fileno`] in its own event loop must, once the
//! descriptor is readable, receive with timeout 0 until `Empty`.
//!
//! Timeouts bound the wait for a message to *start*; once its first byte is
//! here the rest is read to the end, as Python's `poll()` + `recv()` do (a
//! peer that dies mid-frame gives EOF, not a hang).

mod address;
pub(crate) mod auth;
pub(crate) mod fdpass;
mod listener;

pub use address::Address;
pub use listener::{connect, Listener, ListenerOptions, HANDSHAKE_TIMEOUT};

use crate::error::{Error, ErrorKind, Result};
use crate::os::{AdaptiveSpin, Deadline};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The default largest frame accepted by `recv`: 1 GiB.
pub const DEFAULT_MAX_FRAME: u64 = 1 << 30;

/// Size of the receive buffer. Frames larger than what is buffered are read
/// straight into their destination.
const RX_BUFFER: usize = 64 * 1024;

/// What a read for the next header asks for after a large frame: the
/// longest header (12 bytes). Filling the 64 KiB buffer instead would pull
/// most of a following large payload through the buffer, an extra copy of
/// 64 KiB per message that also evicts the caller's buffer from the cache
/// (measured: about 7% of a 1 MiB message's receive time); one more small
/// read per large message costs far less. Small frames keep the full
/// buffer, which batches many of them per read.
const HEADER_READ: usize = 12;

/// A payload at least this long marks the stream as carrying large frames
/// (see [`HEADER_READ`]).
const LARGE_FRAME: usize = RX_BUFFER / 2;

/// Largest length Python writes in the short (4-byte) header.
const SHORT_MAX: u64 = 0x7fff_ffff;

/// One end of a pipe or socket carrying whole messages. Thread-safe: sends
/// are serialised with each other, receives with each other, so one thread
/// may send while another receives.
#[derive(Debug)]
pub struct Connection {
    fd: OwnedFd,
    readable: bool,
    writable: bool,
    is_socket: bool,
    /// Largest frame `recv` accepts; Relaxed: a setting, read per call.
    max_frame: AtomicU64,
    /// Busy-polls the descriptor before a blocking receive (off unless
    /// [`Connection::set_spin_us`] turns it on).
    spin: AdaptiveSpin,
    /// Serialises receives. A parking_lot mutex, not poisoned by a panic
    /// (std's poison was recovered here anyway); a stream a failed receive
    /// cannot resume is marked in `RxState::broken`.
    rx: Mutex<RxState>,
    /// Serialises sends; holds the iovec scratch reused by every send, so
    /// a send allocates nothing.
    tx: Mutex<IovScratch>,
}

/// The iovec array reused by sends.
#[derive(Debug)]
struct IovScratch(Vec<libc::iovec>);

// SAFETY: the iovecs' pointers are only set and used during one send,
// under the `tx` lock, while the slices they point to are borrowed; they
// are never dereferenced after that call returns, so moving or sharing the
// (stale) vector between threads is harmless.
unsafe impl Send for IovScratch {}

#[derive(Debug)]
struct RxState {
    buf: Box<[u8]>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Set when the stream can no longer be parsed (oversized or invalid
    /// frame): every later receive fails with this error.
    broken: Option<Error>,
    /// The last frame was large: read the next header alone (see
    /// [`HEADER_READ`]).
    large: bool,
}

impl RxState {
    fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// How far into `buf` a read for the next header may fill.
    fn read_limit(&self) -> usize {
        if self.large {
            HEADER_READ
        } else {
            self.buf.len()
        }
    }
}

/// A frame header parsed from the buffer: payload length and header size.
fn parse_header(b: &[u8]) -> Option<std::result::Result<(u64, usize), Error>> {
    if b.len() < 4 {
        return None;
    }
    let short = i32::from_be_bytes(b[..4].try_into().expect("4 bytes"));
    match short {
        n if n >= 0 => Some(Ok((n as u64, 4))),
        -1 => {
            if b.len() < 12 {
                return None;
            }
            Some(Ok((u64::from_be_bytes(b[4..12].try_into().expect("8 bytes")), 12)))
        }
        n => Some(Err(Error::new(ErrorKind::Corrupt, format!("invalid frame length {n}")))),
    }
}

/// Creates a connected pair: a socketpair when `duplex`, else a pipe whose
/// first end receives and second end sends (Python's `Pipe(duplex=False)`).
pub fn pipe(duplex: bool) -> Result<(Connection, Connection)> {
    let mut fds = [0 as libc::c_int; 2];
    if duplex {
        // SAFETY: fds is a valid array of two ints.
        if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } != 0
        {
            return Err(Error::last_os_error("socketpair"));
        }
    } else {
        // SAFETY: fds is a valid array of two ints.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(Error::last_os_error("pipe2"));
        }
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((Connection::from_owned_fd(a)?, Connection::from_owned_fd(b)?))
}

impl Connection {
    /// Wraps a descriptor (a socket or a pipe end), taking ownership. The
    /// direction comes from the descriptor's access mode.
    pub fn from_owned_fd(fd: OwnedFd) -> Result<Connection> {
        // SAFETY: fd is open; F_GETFL has no side effects.
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
        if flags < 0 {
            return Err(Error::last_os_error("fcntl(F_GETFL)"));
        }
        // SAFETY: an all-zero stat is valid to overwrite.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fd is open; st is a valid out-pointer.
        if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
            return Err(Error::last_os_error("fstat"));
        }
        let kind = st.st_mode & libc::S_IFMT;
        if kind != libc::S_IFSOCK && kind != libc::S_IFIFO {
            return Err(Error::new(ErrorKind::Invalid, "descriptor is neither a socket nor a pipe"));
        }
        if flags & libc::O_NONBLOCK != 0 {
            // We wait with poll(2) and read blocking; a non-blocking
            // descriptor handed over would make reads fail with EAGAIN.
            // SAFETY: fd is open.
            unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) };
        }
        let acc = flags & libc::O_ACCMODE;
        Ok(Connection {
            fd,
            readable: acc == libc::O_RDONLY || acc == libc::O_RDWR,
            writable: acc == libc::O_WRONLY || acc == libc::O_RDWR,
            is_socket: kind == libc::S_IFSOCK,
            max_frame: AtomicU64::new(DEFAULT_MAX_FRAME),
            spin: AdaptiveSpin::disabled(),
            rx: Mutex::new(RxState {
                buf: vec![0u8; RX_BUFFER].into_boxed_slice(),
                start: 0,
                end: 0,
                broken: None,
                large: false,
            }),
            tx: Mutex::new(IovScratch(Vec::new())),
        })
    }

    /// The descriptor, for event loops (see the module doc on buffering).
    pub fn fileno(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Gives the descriptor up (e.g. to hand it to a child process).
    /// Fails with [`ErrorKind::Invalid`] if received bytes are buffered,
    /// since they would be lost.
    pub fn into_owned_fd(self) -> Result<OwnedFd> {
        if !self.rx.lock().buffered().is_empty() {
            return Err(Error::new(ErrorKind::Invalid, "received data is buffered in this process"));
        }
        Ok(self.fd)
    }

    /// Sets the largest frame `recv` accepts (default 1 GiB). A larger
    /// incoming frame is refused before any allocation.
    pub fn set_max_frame(&self, bytes: u64) {
        self.max_frame.store(bytes, Ordering::Relaxed);
    }

    /// The largest frame `recv` accepts.
    pub fn max_frame(&self) -> u64 {
        self.max_frame.load(Ordering::Relaxed)
    }

    /// Busy-polls up to `us` microseconds for a message before a receive
    /// sleeps in the kernel (0, the default, never spins). A sleeping
    /// receiver costs a wake-up of tens of microseconds on a loaded machine;
    /// a spinning one sees the message within a microsecond, at the price of
    /// CPU while it waits. The budget adapts: spins that fail shrink it.
    pub fn set_spin_us(&self, us: u32) {
        self.spin.set_max_us(us);
    }

    /// Sends `value` encoded as CBOR (docs/TYPES.md; Python's `send(obj)`
    /// with mpipc's encoding, Go's `Send`): any `Serialize` value.
    ///
    /// The errors of [`Connection::send_bytes`], and
    /// [`Codec::Encode`](crate::Codec::Encode) when the value cannot be encoded (nothing is
    /// sent). A byte slice, `Vec<u8>` or byte array is refused that way
    /// (serde would write an array of integers): raw bytes go through
    /// [`Connection::send_bytes`].
    ///
    /// # Examples
    /// ```
    /// use std::collections::BTreeMap;
    /// let (a, b) = mpipc::pipe::pipe(true)?;
    /// a.send(&BTreeMap::from([("id", 1.5)]))?;
    /// let m: BTreeMap<String, f64> = b.recv()?;
    /// assert_eq!(m["id"], 1.5);
    /// b.send(&(1, "two", [3.0]))?;
    /// let t: (u8, String, Vec<f64>) = a.recv()?;
    /// assert_eq!(t, (1, "two".into(), vec![3.0]));
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn send<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        crate::codec::refuse_raw_bytes::<T>("send")?;
        crate::codec::with_encoded(value, |msg| self.send_bytes(msg))
    }

    /// Receives one message and decodes it as a `T` (any
    /// `DeserializeOwned`; [`ciborium::Value`] for any shape), blocking.
    ///
    /// The errors of [`Connection::recv_bytes`], and
    /// [`Codec::Decode`](crate::Codec::Decode) when the message is not CBOR or not a `T` (it
    /// is consumed all the same).
    ///
    /// # Examples
    /// ```
    /// let (a, b) = mpipc::pipe::pipe(true)?;
    /// a.send(&vec![Some(1), None])?;
    /// assert_eq!(b.recv::<Vec<Option<i32>>>()?, vec![Some(1), None]);
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn recv<T: DeserializeOwned>(&self) -> Result<T> {
        self.recv_timeout(None)
    }

    /// [`Connection::recv`] waiting at most `timeout` for the message to
    /// start: [`ErrorKind::Empty`] on expiry, and the other errors of
    /// [`Connection::recv_bytes_timeout`].
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let (a, b) = mpipc::pipe::pipe(true)?;
    /// let e = b.recv_timeout::<String>(Some(Duration::ZERO)).unwrap_err();
    /// assert_eq!(e.kind(), mpipc::ErrorKind::Empty);
    /// drop(a);
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn recv_timeout<T: DeserializeOwned>(&self, timeout: Option<Duration>) -> Result<T> {
        crate::codec::decode(&self.recv_bytes_timeout(timeout)?)
    }

    /// Sends one message of raw bytes (Python's `send_bytes`). Large
    /// messages are streamed; the call returns once the kernel has taken
    /// every byte. [`ErrorKind::Eof`] if the peer has closed.
    ///
    /// # Examples
    /// ```
    /// let (a, b) = mpipc::pipe::pipe(true)?;
    /// a.send_bytes(b"raw")?;
    /// assert_eq!(b.recv_bytes()?, b"raw");
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn send_bytes(&self, msg: &[u8]) -> Result<()> {
        if !self.writable {
            return Err(Error::new(ErrorKind::Invalid, "this end of the pipe is read-only"));
        }
        let mut header = [0u8; 12];
        let hlen = if msg.len() as u64 > SHORT_MAX {
            header[..4].copy_from_slice(&(-1i32).to_be_bytes());
            header[4..12].copy_from_slice(&(msg.len() as u64).to_be_bytes());
            12
        } else {
            header[..4].copy_from_slice(&(msg.len() as u32).to_be_bytes());
            4
        };
        let mut tx = self.tx.lock();
        self.write_all(&mut [&header[..hlen], msg], &mut tx.0)
    }

    /// Sends several messages with as few syscalls as possible (one
    /// `sendmsg`/`writev` per up to 512 messages): the throughput path for
    /// small messages. Equivalent to calling [`Connection::send`] for each,
    /// in order; the peer receives them as separate messages.
    pub fn send_many<M: AsRef<[u8]>>(&self, msgs: &[M]) -> Result<()> {
        if !self.writable {
            return Err(Error::new(ErrorKind::Invalid, "this end of the pipe is read-only"));
        }
        let headers: Vec<[u8; 12]> = msgs
            .iter()
            .map(|m| {
                let len = m.as_ref().len() as u64;
                let mut h = [0u8; 12];
                if len > SHORT_MAX {
                    h[..4].copy_from_slice(&(-1i32).to_be_bytes());
                    h[4..12].copy_from_slice(&len.to_be_bytes());
                } else {
                    h[..4].copy_from_slice(&(len as u32).to_be_bytes());
                }
                h
            })
            .collect();
        let mut parts: Vec<&[u8]> = Vec::with_capacity(2 * msgs.len());
        for (h, m) in headers.iter().zip(msgs) {
            let m = m.as_ref();
            parts.push(&h[..if m.len() as u64 > SHORT_MAX { 12 } else { 4 }]);
            parts.push(m);
        }
        let mut tx = self.tx.lock();
        self.write_all(&mut parts, &mut tx.0)
    }

    /// Writes every byte of `parts` in order, with as few syscalls as the
    /// kernel allows (up to 1024 iovecs per call, IOV_MAX on Linux).
    /// `parts` is consumed in place (written prefixes are cut off); `iov`
    /// is scratch space, reused across calls.
    fn write_all(&self, parts: &mut [&[u8]], iov: &mut Vec<libc::iovec>) -> Result<()> {
        let mut first = 0; // parts[..first] are fully written
        loop {
            // Empty parts need no bytes; skipping them also guarantees that
            // every syscall below has something to write.
            while first < parts.len() && parts[first].is_empty() {
                first += 1;
            }
            if first == parts.len() {
                break;
            }
            iov.clear();
            iov.extend(
                parts[first..]
                    .iter()
                    .take(1024)
                    .map(|p| libc::iovec { iov_base: p.as_ptr() as *mut libc::c_void, iov_len: p.len() }),
            );
            let n = if self.is_socket {
                // SAFETY: msghdr points to iovecs over live slices.
                unsafe {
                    let mut msg: libc::msghdr = std::mem::zeroed();
                    msg.msg_iov = iov.as_mut_ptr();
                    msg.msg_iovlen = iov.len();
                    // MSG_NOSIGNAL: a closed peer gives EPIPE, not SIGPIPE.
                    libc::sendmsg(self.fd.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
                }
            } else {
                write_pipe_nosigpipe(self.fd.as_raw_fd(), iov)
            };
            if n < 0 {
                let err = std::io::Error::last_os_error();
                if err.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(Error::from_io("send", err));
            }
            // Skip what was written: whole parts, then a prefix of the next.
            let mut n = n as usize;
            while n > 0 && first < parts.len() {
                let len = parts[first].len();
                if n >= len {
                    n -= len;
                    first += 1;
                } else {
                    parts[first] = &parts[first][n..];
                    n = 0;
                }
            }
        }
        Ok(())
    }

    /// Receives one message of raw bytes, waiting at most `timeout` for it
    /// to start (`None` = forever, zero = only if one is already here).
    /// [`ErrorKind::Empty`] on expiry, [`ErrorKind::Eof`] once the peer has
    /// closed and nothing is left, [`ErrorKind::TooBig`] for a frame over
    /// [`Connection::max_frame`] (refused before allocating; the connection
    /// is then unusable, as the stream cannot be resynchronised).
    ///
    /// # Examples
    /// ```
    /// use mpipc::ErrorKind;
    /// use std::time::Duration;
    /// let (a, b) = mpipc::pipe::pipe(true)?;
    /// assert_eq!(b.recv_bytes_timeout(Some(Duration::ZERO)).unwrap_err().kind(), ErrorKind::Empty);
    /// drop(a);
    /// assert_eq!(b.recv_bytes_timeout(None).unwrap_err().kind(), ErrorKind::Eof);
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn recv_bytes_timeout(&self, timeout: Option<Duration>) -> Result<Vec<u8>> {
        let mut rx = self.rx_lock()?;
        let (len, hdr) = self.next_frame(&mut rx, Deadline::from_timeout(timeout))?;
        // Not zero-filled: for large messages zeroing costs as much as a
        // memory copy. take_payload fills all `len` bytes or fails.
        let mut v = Vec::new();
        if v.try_reserve_exact(len).is_err() {
            // Refuse like an oversized frame: the stream cannot be skipped.
            let e = Error::new(ErrorKind::TooBig, format!("cannot allocate {len} bytes for an incoming message"));
            rx.broken = Some(e.clone());
            return Err(e);
        }
        // SAFETY: v has capacity len; take_payload writes exactly len bytes
        // on success, after which they are initialised.
        unsafe {
            self.take_payload(&mut rx, hdr, v.as_mut_ptr(), len)?;
            v.set_len(len);
        }
        Ok(v)
    }

    /// Receives one message of raw bytes, blocking (Python's `recv_bytes`).
    ///
    /// # Examples
    /// ```
    /// let (a, b) = mpipc::pipe::pipe(true)?;
    /// a.send("hi")?;
    /// assert_eq!(b.recv_bytes()?, b"\x62hi"); // the CBOR of "hi"
    /// # Ok::<(), mpipc::Error>(())
    /// ```
    pub fn recv_bytes(&self) -> Result<Vec<u8>> {
        self.recv_bytes_timeout(None)
    }

    /// Receives one message into `buf`, returning its length. If `buf` is
    /// too small the message stays queued (the error's [`Error::needed`]
    /// tells the size), unlike Python's `recv_bytes_into`, which consumes it.
    pub fn recv_into(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<usize> {
        let mut rx = self.rx_lock()?;
        let (len, hdr) = self.next_frame(&mut rx, Deadline::from_timeout(timeout))?;
        if len > buf.len() {
            return Err(Error::buf_size(len));
        }
        // SAFETY: buf has at least len writable bytes.
        unsafe { self.take_payload(&mut rx, hdr, buf.as_mut_ptr(), len)? };
        Ok(len)
    }

    /// Whether a message (or EOF) can be received within `timeout`.
    pub fn poll(&self, timeout: Option<Duration>) -> Result<bool> {
        if self.has_buffered()? {
            return Ok(true);
        }
        Ok(!wait_fds(&[self.fileno()], Deadline::from_timeout(timeout))?.is_empty())
    }

    /// Whether received bytes wait in this process's buffer (or the stream
    /// is broken, which a receive would report at once): a receive may then
    /// proceed without a syscall. Servers use it to batch their replies.
    pub fn has_buffered(&self) -> Result<bool> {
        if !self.readable {
            return Err(Error::new(ErrorKind::Invalid, "this end of the pipe is write-only"));
        }
        let rx = self.rx.lock();
        Ok(rx.broken.is_some() || !rx.buffered().is_empty())
    }

    fn rx_lock(&self) -> Result<parking_lot::MutexGuard<'_, RxState>> {
        if !self.readable {
            return Err(Error::new(ErrorKind::Invalid, "this end of the pipe is write-only"));
        }
        let rx = self.rx.lock();
        if let Some(e) = &rx.broken {
            return Err(e.clone());
        }
        Ok(rx)
    }

    /// Makes sure a whole frame header is buffered and returns (payload
    /// length, header length) without consuming anything. Waits for the
    /// frame to start until `deadline`; then reads blocking.
    fn next_frame(&self, rx: &mut RxState, deadline: Deadline) -> Result<(usize, usize)> {
        loop {
            if let Some(h) = parse_header(rx.buffered()) {
                let (len, hdr) = h.inspect_err(|e| rx.broken = Some(e.clone()))?;
                let max = self.max_frame();
                if len > max {
                    let e =
                        Error::new(ErrorKind::TooBig, format!("incoming frame of {len} bytes exceeds max_frame {max}"));
                    rx.broken = Some(e.clone());
                    return Err(e);
                }
                return Ok((len as usize, hdr));
            }
            let started = !rx.buffered().is_empty();
            if !started {
                rx.start = 0;
                rx.end = 0;
                if let Some(n) = self.spin_read(rx, &deadline)? {
                    if n == 0 {
                        return Err(self.eof(rx, false));
                    }
                    rx.end = n;
                    continue;
                }
            }
            // Without a deadline the read itself blocks: no poll(2) needed,
            // which saves a syscall per message on the latency path.
            if !started
                && !matches!(deadline, Deadline::Never)
                && !wait_fds(&[self.fileno()], deadline).map(|r| !r.is_empty())?
            {
                return Err(Error::new(ErrorKind::Empty, "no message"));
            }
            if rx.start > 0 {
                // Compact so the header fits in one contiguous run.
                let (start, end) = (rx.start, rx.end);
                rx.buf.copy_within(start..end, 0);
                rx.end -= start;
                rx.start = 0;
            }
            // After a large frame, read up to the end of the longest
            // header only (the compaction above put the header at 0).
            let (end, limit) = (rx.end, rx.read_limit().max(rx.end + 1));
            let n = self.read_some(&mut rx.buf[end..limit])?;
            if n == 0 {
                return Err(self.eof(rx, started));
            }
            rx.end += n;
        }
    }

    /// Consumes the header and writes the `len`-byte payload to `out`, from
    /// the buffer first, then straight from the descriptor.
    ///
    /// # Safety
    /// `out` points to `len` writable bytes (possibly uninitialised).
    unsafe fn take_payload(&self, rx: &mut RxState, hdr: usize, out: *mut u8, len: usize) -> Result<()> {
        rx.start += hdr;
        let have = rx.buffered().len().min(len);
        // SAFETY: `have` <= len bytes from the buffer into `out`.
        unsafe { std::ptr::copy_nonoverlapping(rx.buffered().as_ptr(), out, have) };
        rx.start += have;
        if rx.start == rx.end {
            rx.start = 0;
            rx.end = 0;
        }
        rx.large = len >= LARGE_FRAME;
        let mut filled = have;
        while filled < len {
            // SAFETY: [filled, len) of `out` is writable per the contract.
            let n = unsafe { self.read_rest(out.add(filled), len - filled)? };
            if n == 0 {
                return Err(self.eof(rx, true));
            }
            filled += n;
        }
        Ok(())
    }

    /// The spin phase of a receive into the empty buffer: polls the
    /// descriptor without blocking until data (or EOF) arrives or the spin
    /// budget is spent. `Some(bytes read)` (0 = EOF), or `None` to go on
    /// and wait in the kernel.
    fn spin_read(&self, rx: &mut RxState, deadline: &Deadline) -> Result<Option<usize>> {
        if self.spin.max_us() == 0 {
            return Ok(None);
        }
        let fd = self.fd.as_raw_fd();
        let mut got: Option<Result<usize>> = None;
        let limit = rx.read_limit();
        let buf = &mut rx.buf[..limit];
        self.spin.spin_syscall(deadline, || {
            let n = if self.is_socket {
                // SAFETY: buf is valid writable memory of its length.
                unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) }
            } else {
                let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
                // SAFETY: one valid pollfd; a zero timeout never blocks.
                match unsafe { libc::poll(&mut pfd, 1, 0) } {
                    // Readable (or hung up): the blocking read below
                    // returns at once.
                    1 => return true,
                    _ => return false,
                }
            };
            if n >= 0 {
                got = Some(Ok(n as usize));
                return true;
            }
            let err = std::io::Error::last_os_error();
            match err.raw_os_error() {
                // Nothing yet: spin_syscall offers the core (guarded)
                // before the next poll.
                Some(libc::EAGAIN) | Some(libc::EINTR) => false,
                _ => {
                    got = Some(Err(Error::from_io("recv", err)));
                    true
                }
            }
        });
        got.transpose()
    }

    /// One read(2) into `buf`, retried on EINTR; the byte count (0 = EOF).
    fn read_some(&self, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: a slice is valid writable memory of its length.
        unsafe { self.read_raw(buf.as_mut_ptr(), buf.len()) }
    }

    /// Reads the rest of a payload whose start has arrived: on a socket one
    /// `recv(MSG_WAITALL)`, which sleeps in the kernel until all `len`
    /// bytes are there instead of returning (and being called again) each
    /// time the sender's next chunk lands; on a pipe, read(2). Retried on
    /// EINTR; the byte count (short only at EOF or on a signal).
    ///
    /// # Safety
    /// `ptr` points to `len` writable bytes.
    unsafe fn read_rest(&self, ptr: *mut u8, len: usize) -> Result<usize> {
        if !self.is_socket {
            // SAFETY: per the contract.
            return unsafe { self.read_raw(ptr, len) };
        }
        loop {
            // SAFETY: per the contract.
            let n = unsafe { libc::recv(self.fd.as_raw_fd(), ptr.cast(), len, libc::MSG_WAITALL) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                return Err(Error::from_io("recv", err));
            }
        }
    }

    /// One read(2) into raw memory, retried on EINTR.
    ///
    /// # Safety
    /// `ptr` points to `len` writable bytes.
    unsafe fn read_raw(&self, ptr: *mut u8, len: usize) -> Result<usize> {
        loop {
            // SAFETY: per the contract.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), ptr.cast(), len) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                return Err(Error::from_io("recv", err));
            }
        }
    }

    fn eof(&self, rx: &mut RxState, mid_message: bool) -> Error {
        if mid_message {
            let e = Error::new(ErrorKind::Eof, "the peer closed the connection in the middle of a message");
            rx.broken = Some(e.clone());
            e
        } else {
            Error::new(ErrorKind::Eof, "the peer closed the connection")
        }
    }
}

/// Whether the process ignores SIGPIPE (`SIG_IGN`), as Python and Node do:
/// a write to a pipe whose reader is gone then fails with EPIPE and no
/// signal is delivered, so no masking is needed. One `rt_sigaction` query,
/// against the four signal-mask syscalls of the masked path (measured on
/// the Python `Pipe(duplex=False)` throughput path: 5 syscalls per send
/// became 2).
///
/// The answer holds for the write that follows unless another thread sets
/// a SIGPIPE handler or the default action in between *and* the reader
/// vanishes in that window; the process then gets the SIGPIPE it has just
/// asked for, as any other write(2) of it would.
fn sigpipe_ignored() -> bool {
    // SAFETY: a query (NULL new action) into a zeroed local struct.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Writes iovecs to a pipe without dying of SIGPIPE if the reader is gone:
/// when the process ignores SIGPIPE, a plain writev; otherwise SIGPIPE is
/// blocked in this thread for the call, and a SIGPIPE the write raised is
/// consumed before unblocking (the technique of git and libcurl).
/// Returns write(2)'s result; EPIPE then reports the closed peer.
fn write_pipe_nosigpipe(fd: RawFd, iov: &[libc::iovec]) -> isize {
    if sigpipe_ignored() {
        // SAFETY: writev on iovecs over live slices.
        return unsafe { libc::writev(fd, iov.as_ptr(), iov.len() as libc::c_int) };
    }
    // SAFETY: sigset operations on local, initialised sets; writev on live
    // iovecs; sigtimedwait with a zero timeout only dequeues a pending
    // SIGPIPE aimed at this thread.
    unsafe {
        let mut block: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut block);
        libc::sigaddset(&mut block, libc::SIGPIPE);
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending);
        let already_pending = libc::sigismember(&pending, libc::SIGPIPE) == 1;
        libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old);
        let n = libc::writev(fd, iov.as_ptr(), iov.len() as libc::c_int);
        let errno = *libc::__errno_location();
        // The reader may vanish mid-write: the kernel then raises SIGPIPE
        // even though writev reports the bytes it did write. So check for a
        // pending SIGPIPE whatever writev returned.
        if !already_pending {
            let mut now_pending: libc::sigset_t = std::mem::zeroed();
            libc::sigpending(&mut now_pending);
            if libc::sigismember(&now_pending, libc::SIGPIPE) == 1 {
                let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
                libc::sigtimedwait(&block, std::ptr::null_mut(), &zero);
            }
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        *libc::__errno_location() = errno;
        n
    }
}

/// Waits until at least one of `fds` is readable (or at EOF / error) or the
/// deadline passes; returns the indexes of the ready ones.
pub fn wait_fds(fds: &[RawFd], deadline: Deadline) -> Result<Vec<usize>> {
    let mut pfds: Vec<libc::pollfd> =
        fds.iter().map(|&fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 }).collect();
    loop {
        let ms: libc::c_int = match deadline {
            Deadline::Never => -1,
            Deadline::Now => 0,
            // Round up, so that poll does not return just before the deadline.
            Deadline::At(at) => {
                at.saturating_duration_since(std::time::Instant::now()).as_micros().div_ceil(1000).min(i32::MAX as u128)
                    as libc::c_int
            }
        };
        // SAFETY: pfds is a valid array of pollfd of the given length.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(Error::from_io("poll", err));
        }
        if n == 0 && !matches!(deadline, Deadline::Never) {
            // poll rounds down to whole milliseconds: finish the remainder.
            if let Deadline::At(at) = deadline {
                if std::time::Instant::now() < at {
                    continue;
                }
            }
            return Ok(Vec::new());
        }
        return Ok(pfds.iter().enumerate().filter(|(_, p)| p.revents != 0).map(|(i, _)| i).collect());
    }
}

/// Waits until at least one connection has a message (or EOF) to receive,
/// at most `timeout`; returns the indexes of the ready ones
/// (`multiprocessing.connection.wait`). Buffered messages count as ready.
pub fn wait(conns: &[&Connection], timeout: Option<Duration>) -> Result<Vec<usize>> {
    let mut buffered = Vec::new();
    for (i, c) in conns.iter().enumerate() {
        if c.has_buffered()? {
            buffered.push(i);
        }
    }
    // Report every ready connection, not only the buffered ones: a peer
    // that keeps a buffer full must not starve the others.
    let deadline = if buffered.is_empty() { Deadline::from_timeout(timeout) } else { Deadline::Now };
    let fds: Vec<RawFd> = conns.iter().map(|c| c.fileno()).collect();
    let mut ready = wait_fds(&fds, deadline)?;
    ready.extend(buffered);
    ready.sort_unstable();
    ready.dedup();
    Ok(ready)
}

#[cfg(test)]
mod tests;
