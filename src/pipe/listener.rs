//! `Listener` and `connect`: Python's `multiprocessing.connection.Listener`
//! and `Client`, over Unix sockets (path or abstract) and TCP.

use super::address::Address;
use super::auth::{answer_challenge, deliver_challenge};
use super::{wait_fds, Connection};
use crate::error::{Error, ErrorKind, Result};
use crate::os::Deadline;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::time::Duration;

/// How long an accepted peer may take to complete the authentication
/// handshake when the caller's accept timeout leaves no bound.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Options of [`Listener::bind`] and [`connect`].
#[derive(Clone, Debug, Default)]
pub struct ListenerOptions {
    /// The shared secret; `None` = no authentication.
    pub authkey: Option<Vec<u8>>,
    /// Allow TCP without an authkey (refused by default: anyone who can
    /// reach the port could talk to us).
    pub allow_tcp_without_authkey: bool,
    /// On bind, replace a Unix socket file that nobody accepts on any more
    /// (left by a process that was killed) instead of failing with
    /// [`ErrorKind::Exists`]. Only a socket owned by this user that refuses
    /// connections is removed; a live listener, another user's socket or
    /// any other kind of file still gives `Exists`. The manager server
    /// sets this, so that it can be restarted after a crash.
    pub reclaim_stale_socket: bool,
    /// Without an authkey, accept Unix-socket peers of other users too
    /// (by default refused with [`ErrorKind::Permission`], checked with
    /// `SO_PEERCRED`; see [`Listener::authenticate`]).
    pub allow_other_users: bool,
}

fn check_tcp_key(addr: &Address, opts: &ListenerOptions) -> Result<()> {
    if addr.is_tcp() && opts.authkey.as_deref().is_none_or(|k| k.is_empty()) && !opts.allow_tcp_without_authkey {
        return Err(Error::new(
            ErrorKind::Invalid,
            format!("{addr}: TCP needs an authkey (or an explicit opt-in to run without one)"),
        ));
    }
    Ok(())
}

/// Refuses a Unix-socket peer running as another user (root excepted).
fn check_peer_is_us(fd: std::os::fd::RawFd) -> Result<()> {
    // SAFETY: an all-zero ucred is valid; getsockopt fills it.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: fd is a connected Unix socket; cred/len describe a ucred.
    let rc = unsafe {
        libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_PEERCRED, (&mut cred as *mut libc::ucred).cast(), &mut len)
    };
    if rc != 0 {
        return Err(Error::last_os_error("getsockopt(SO_PEERCRED)"));
    }
    // SAFETY: geteuid has no preconditions.
    let us = unsafe { libc::geteuid() };
    if cred.uid != us && cred.uid != 0 {
        return Err(Error::new(
            ErrorKind::Permission,
            format!("peer runs as uid {} (we are {us}): refused without an authkey", cred.uid),
        ));
    }
    Ok(())
}

/// Binds and listens on a Unix socket file created mode 0600 from the
/// start: the socket's own mode is set before bind(2), which creates the
/// file with it (less the umask). Binding first and chmod-ing after would
/// leave a window in which the file has the umask's mode (0777 under umask
/// 0) and another user could connect.
fn bind_unix_private(path: &std::path::Path) -> std::io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let name = path.as_os_str().as_bytes();
    let (sa, len) = unix_sockaddr(name, false).ok_or_else(|| std::io::Error::from_raw_os_error(libc::ENAMETOOLONG))?;
    // SAFETY: plain socket creation.
    let raw = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nobody else owns.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
    // SAFETY: fd is our socket; sa is a valid sockaddr_un of `len` bytes.
    let bound = unsafe {
        libc::fchmod(fd.as_raw_fd(), 0o600) == 0
            && libc::bind(fd.as_raw_fd(), (&sa as *const libc::sockaddr_un).cast(), len) == 0
    };
    if !bound {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is our bound socket.
    if unsafe { libc::listen(fd.as_raw_fd(), 128) } != 0 {
        let err = std::io::Error::last_os_error();
        // The file exists now: don't leave it behind.
        let _ = std::fs::remove_file(path);
        return Err(err);
    }
    Ok(fd)
}

/// A `sockaddr_un` for a path (`is_abstract` false) or an abstract name,
/// and its length; `None` when the name does not fit.
fn unix_sockaddr(name: &[u8], is_abstract: bool) -> Option<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: an all-zero sockaddr_un is valid; we fill family and path.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let start = usize::from(is_abstract); // abstract names start with a NUL
    if start + name.len() + usize::from(!is_abstract) > sa.sun_path.len() {
        return None;
    }
    for (i, &b) in name.iter().enumerate() {
        sa.sun_path[start + i] = b as libc::c_char;
    }
    let len = std::mem::offset_of!(libc::sockaddr_un, sun_path) + start + name.len() + usize::from(!is_abstract);
    Some((sa, len as libc::socklen_t))
}

/// Removes the socket file at `path` if it is a stale one: a socket, owned
/// by us, that refuses connections (its listener is gone). Anything else is
/// left alone and reported as [`ErrorKind::Exists`].
fn reclaim_stale_socket(path: &std::path::Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let exists =
        || Error::new(ErrorKind::Exists, format!("{}: in use (a live listener or not a stale socket)", path.display()));
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        // Gone since our bind failed: nothing to reclaim, bind again.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::from_io("stat socket", e)),
    };
    // SAFETY: geteuid has no preconditions.
    if !meta.file_type().is_socket() || meta.uid() != unsafe { libc::geteuid() } {
        return Err(exists());
    }
    // Probe without blocking: a listener that exists but does not accept
    // (stopped, its backlog full) must read as "in use", not hang us.
    let probe = Address::Unix(path.to_path_buf());
    let deadline = Deadline::from_timeout(Some(Duration::from_millis(100)));
    match connect_unix(path.as_os_str().as_bytes(), false, deadline, &probe) {
        // ECONNREFUSED (nobody listens) maps to NotFound.
        Err(e) if e.kind() == ErrorKind::NotFound => {
            // A window remains between this check and the unlink in which
            // another process could bind the same path; two servers racing
            // to restart on one path is a misconfiguration we don't arbitrate
            // (docs/SECURITY.md, "Residual risks").
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::from_io("remove stale socket", e)),
                _ => Ok(()),
            }
        }
        _ => Err(exists()),
    }
}

/// A bound, listening socket that accepts authenticated connections.
/// Thread-safe. A Unix socket file it created is removed when it is dropped.
#[derive(Debug)]
pub struct Listener {
    fd: OwnedFd,
    address: Address,
    authkey: Option<Vec<u8>>,
    /// Accept keyless Unix-socket peers of other users.
    allow_other_users: bool,
    /// The process that bound it: only it removes the socket file (a
    /// forked child closing its copy must not), as Python's Listener.
    creator: libc::pid_t,
}

impl Listener {
    /// Binds and listens. A Unix socket file is created mode 0600; an
    /// existing file at the path is [`ErrorKind::Exists`] (as in Python).
    /// For `tcp:host:0` the port chosen is in [`Listener::address`].
    pub fn bind(address: &str, opts: &ListenerOptions) -> Result<Listener> {
        let addr = Address::parse(address)?;
        check_tcp_key(&addr, opts)?;
        let (fd, addr): (OwnedFd, Address) = match &addr {
            Address::Unix(path) => {
                let l = match bind_unix_private(path) {
                    Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && opts.reclaim_stale_socket => {
                        reclaim_stale_socket(path)?;
                        bind_unix_private(path)
                    }
                    r => r,
                }
                .map_err(|e| Error::from_io(&format!("bind {addr}"), e))?;
                // Owner read/write exactly: bind gave the file 0600 less
                // the umask, and a umask that strips the owner's own bits
                // would lock the owner out (connect needs write access).
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| Error::from_io("chmod socket", e))?;
                (l, addr.clone())
            }
            Address::Abstract(name) => {
                let sa = SocketAddr::from_abstract_name(name).map_err(|e| Error::from_io("abstract address", e))?;
                let l = UnixListener::bind_addr(&sa).map_err(|e| Error::from_io(&format!("bind {addr}"), e))?;
                (l.into(), addr.clone())
            }
            Address::Tcp(host, port) => {
                let l = std::net::TcpListener::bind((host.as_str(), *port))
                    .map_err(|e| Error::from_io(&format!("bind {addr}"), e))?;
                let local = l.local_addr().map_err(|e| Error::from_io("local_addr", e))?;
                (l.into(), Address::Tcp(local.ip().to_string(), local.port()))
            }
        };
        // SAFETY: getpid has no preconditions.
        let creator = unsafe { libc::getpid() };
        Ok(Listener {
            fd,
            address: addr,
            authkey: opts.authkey.clone().filter(|k| !k.is_empty()),
            allow_other_users: opts.allow_other_users,
            creator,
        })
    }

    /// The address bound (with the actual port for `tcp:...:0`).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The listening descriptor (readable when a connection is pending).
    pub fn fileno(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// Accepts one connection, waiting at most `timeout` for it
    /// ([`ErrorKind::Timeout`]); then authenticates it if the listener has
    /// an authkey. A peer that fails authentication is dropped and
    /// [`ErrorKind::Auth`] returned; the listener stays usable.
    ///
    /// `timeout` bounds the wait for a peer only: once one has connected,
    /// the handshake gets its own [`HANDSHAKE_TIMEOUT`]. Otherwise a caller
    /// that accepts in short slices (a binding keeping its waits
    /// cancellable) would drop a peer whose handshake straddles the end of
    /// a slice, and that peer would see the connection closed.
    pub fn accept(&self, timeout: Option<Duration>) -> Result<Connection> {
        let conn = self.accept_unauthenticated(timeout)?;
        self.authenticate(&conn, HANDSHAKE_TIMEOUT)?;
        Ok(conn)
    }

    /// Accepts one connection without running the handshake, so that a
    /// server can authenticate on the connection's own thread (a slow peer
    /// then holds up nobody). Call [`Listener::authenticate`] before using
    /// the connection.
    pub fn accept_unauthenticated(&self, timeout: Option<Duration>) -> Result<Connection> {
        if wait_fds(&[self.fd.as_raw_fd()], Deadline::from_timeout(timeout))?.is_empty() {
            return Err(Error::new(ErrorKind::Timeout, "no connection to accept"));
        }
        let fd = loop {
            // SAFETY: accept4 on our listening socket; no address wanted.
            let fd = unsafe {
                libc::accept4(self.fd.as_raw_fd(), std::ptr::null_mut(), std::ptr::null_mut(), libc::SOCK_CLOEXEC)
            };
            if fd >= 0 {
                // SAFETY: a fresh descriptor nobody else owns.
                break unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                return Err(Error::from_io("accept", err));
            }
        };
        if self.address.is_tcp() {
            set_nodelay(&fd);
        }
        Connection::from_owned_fd(fd)
    }

    /// Runs the handshake (both directions) on a connection from
    /// [`Listener::accept_unauthenticated`], if the listener has an authkey.
    ///
    /// Without an authkey, a Unix-socket peer must run as our user (or
    /// root), checked with `SO_PEERCRED`, else [`ErrorKind::Permission`]
    /// (unless [`ListenerOptions::allow_other_users`]): a socket file is
    /// already 0600, but an abstract name (`unix:@name`) has no
    /// permissions at all, and any local user could connect.
    pub fn authenticate(&self, conn: &Connection, timeout: Duration) -> Result<()> {
        match &self.authkey {
            Some(key) => {
                deliver_challenge(conn, key, timeout)?;
                answer_challenge(conn, key, timeout)?;
            }
            None if !self.address.is_tcp() && !self.allow_other_users => check_peer_is_us(conn.fileno())?,
            None => {}
        }
        Ok(())
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // SAFETY: getpid has no preconditions.
        if let (Address::Unix(path), true) = (&self.address, unsafe { libc::getpid() } == self.creator) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The handshake's bound: what the caller's deadline leaves (at least
/// 1 ms), or [`HANDSHAKE_TIMEOUT`] without one.
pub(crate) fn handshake_timeout(deadline: Deadline) -> Duration {
    match deadline {
        Deadline::At(at) => at.saturating_duration_since(std::time::Instant::now()).max(Duration::from_millis(1)),
        _ => HANDSHAKE_TIMEOUT,
    }
}

fn set_nodelay(fd: &OwnedFd) {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt with a valid int option value.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

/// Connects a Unix stream socket to a path (or an abstract name), within
/// the deadline. A blocking `connect(2)` on a Unix socket waits without
/// bound while the listener's backlog is full (Python's `Listener` has a
/// backlog of 1), so with a deadline the socket is non-blocking and a full
/// backlog (`EAGAIN`) is retried with short pauses until the deadline.
fn connect_unix(name: &[u8], is_abstract: bool, deadline: Deadline, addr: &Address) -> Result<OwnedFd> {
    let (sa, len) = unix_sockaddr(name, is_abstract)
        .ok_or_else(|| Error::new(ErrorKind::Invalid, format!("{addr}: name too long")))?;
    let nonblocking = !matches!(deadline, Deadline::Never);
    let flags = libc::SOCK_STREAM | libc::SOCK_CLOEXEC | if nonblocking { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: plain socket creation.
    let raw = unsafe { libc::socket(libc::AF_UNIX, flags, 0) };
    if raw < 0 {
        return Err(Error::last_os_error("socket"));
    }
    // SAFETY: a fresh descriptor nobody else owns.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
    let mut pause = Duration::from_micros(200);
    loop {
        // SAFETY: sa is a valid sockaddr_un of `len` bytes.
        let rc = unsafe { libc::connect(fd.as_raw_fd(), (&sa as *const libc::sockaddr_un).cast(), len) };
        if rc == 0 {
            // Connection::from_owned_fd makes the descriptor blocking again.
            return Ok(fd);
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::EAGAIN) => match deadline.next_remaining() {
                Some(left) => {
                    std::thread::sleep(pause.min(left));
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                None => {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!("connect {addr}: the listener's backlog stayed full"),
                    ))
                }
            },
            _ => return Err(Error::from_io(&format!("connect {addr}"), err)),
        }
    }
}

/// Connects to a [`Listener`] (ours or Python's) at `address` and, with an
/// authkey, runs the handshake, all within `timeout`
/// ([`ErrorKind::Timeout`]). Python's `Client(address, authkey=...)`.
pub fn connect(address: &str, opts: &ListenerOptions, timeout: Option<Duration>) -> Result<Connection> {
    let addr = Address::parse(address)?;
    check_tcp_key(&addr, opts)?;
    let deadline = Deadline::from_timeout(timeout);
    let fd: OwnedFd = match &addr {
        Address::Unix(path) => {
            use std::os::unix::ffi::OsStrExt;
            connect_unix(path.as_os_str().as_bytes(), false, deadline, &addr)?
        }
        Address::Abstract(name) => connect_unix(name, true, deadline, &addr)?,
        Address::Tcp(host, port) => {
            use std::net::ToSocketAddrs;
            let mut last = Error::new(ErrorKind::NotFound, format!("{addr}: host not found"));
            let mut stream = None;
            for sa in (host.as_str(), *port).to_socket_addrs().map_err(|e| Error::from_io("resolve", e))? {
                let t = match deadline {
                    Deadline::Never => Duration::from_secs(3600),
                    d => d.next_remaining().ok_or_else(|| Error::new(ErrorKind::Timeout, "connect timed out"))?,
                };
                match std::net::TcpStream::connect_timeout(&sa, t) {
                    Ok(s) => {
                        stream = Some(s);
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                        last = Error::new(ErrorKind::Timeout, format!("connect {addr} timed out"))
                    }
                    Err(e) => last = Error::from_io(&format!("connect {addr}"), e),
                }
            }
            let s = stream.ok_or(last)?;
            let fd: OwnedFd = s.into();
            set_nodelay(&fd);
            fd
        }
    };
    let conn = Connection::from_owned_fd(fd)?;
    if let Some(key) = opts.authkey.as_deref().filter(|k| !k.is_empty()) {
        let t = handshake_timeout(deadline);
        answer_challenge(&conn, key, t)?;
        deliver_challenge(&conn, key, t)?;
    }
    Ok(conn)
}
