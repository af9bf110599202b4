//! `Listener` and `connect`: Python's `multiprocessing.connection.Listener`
//! and `Client`, over Unix sockets (path or abstract) and TCP.

use super::address::Address;
use super::auth::{answer_challenge, deliver_challenge};
use super::{wait_fds, Connection};
use crate::error::{Error, ErrorKind, Result};
use crate::sync::Deadline;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
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

/// A bound, listening socket that accepts authenticated connections.
/// Thread-safe. A Unix socket file it created is removed when it is dropped.
#[derive(Debug)]
pub struct Listener {
    fd: OwnedFd,
    address: Address,
    authkey: Option<Vec<u8>>,
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
                let l = UnixListener::bind(path).map_err(|e| Error::from_io(&format!("bind {addr}"), e))?;
                // Owner only. (The kernel checks write permission on the
                // socket file at connect; until this chmod the file has the
                // umask's mode, normally without write for others.)
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| Error::from_io("chmod socket", e))?;
                (l.into(), addr.clone())
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
        Ok(Listener { fd, address: addr, authkey: opts.authkey.clone().filter(|k| !k.is_empty()) })
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
    pub fn accept(&self, timeout: Option<Duration>) -> Result<Connection> {
        let deadline = Deadline::from_timeout(timeout);
        if wait_fds(&[self.fd.as_raw_fd()], deadline)?.is_empty() {
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
        let conn = Connection::from_owned_fd(fd)?;
        if let Some(key) = &self.authkey {
            let t = handshake_timeout(deadline);
            deliver_challenge(&conn, key, t)?;
            answer_challenge(&conn, key, t)?;
        }
        Ok(conn)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Address::Unix(path) = &self.address {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn handshake_timeout(deadline: Deadline) -> Duration {
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

/// Connects to a [`Listener`] (ours or Python's) at `address` and, with an
/// authkey, runs the handshake, all within `timeout`
/// ([`ErrorKind::Timeout`]). Python's `Client(address, authkey=...)`.
pub fn connect(address: &str, opts: &ListenerOptions, timeout: Option<Duration>) -> Result<Connection> {
    let addr = Address::parse(address)?;
    check_tcp_key(&addr, opts)?;
    let deadline = Deadline::from_timeout(timeout);
    let fd: OwnedFd = match &addr {
        Address::Unix(path) => {
            UnixStream::connect(path).map_err(|e| Error::from_io(&format!("connect {addr}"), e))?.into()
        }
        Address::Abstract(name) => {
            let sa = SocketAddr::from_abstract_name(name).map_err(|e| Error::from_io("abstract address", e))?;
            UnixStream::connect_addr(&sa).map_err(|e| Error::from_io(&format!("connect {addr}"), e))?.into()
        }
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
