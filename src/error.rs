//! The one error type of the Rust API, and the table that ties each kind to
//! its C status code.
//!
//! Every fallible call in the core returns [`Result<T>`]. An [`Error`] carries
//! an [`ErrorKind`] (what went wrong, stable, mapped one-to-one onto the C
//! `MP_E_*` codes by [`ErrorKind::code`]) and a human-readable message (which
//! object, which value). The FFI layer turns the kind into the status code and
//! stores the message for `mp_last_error_message`.

use std::borrow::Cow;
use std::ffi::CStr;
use std::fmt;

/// Declares [`ErrorKind`] and everything derived from it from ONE table:
/// one row per kind, `doc, Variant = code, "MP_E_NAME", "description"`.
///
/// This table is the one source of the status codes (issue 20, item 4):
/// the enum, [`ErrorKind::ALL`], [`ErrorKind::c_name`],
/// [`ErrorKind::description`] and [`ErrorKind::status_text`] (what C's
/// `mp_status_str` returns) are generated from it. The `MP_E_*` constants
/// of the C library (`capi/src/status.rs`, which cbindgen turns into the
/// header's `#define`s and so cannot be macro-generated) and, through the
/// header, the Python, Go and Node tables are checked against it by tests
/// (`capi/src/status_text.rs`, `bindings/*`).
macro_rules! error_kinds {
    ($( $(#[doc = $doc:literal])* $variant:ident = $code:literal, $c_name:literal, $desc:literal; )*) => {
        /// What went wrong, independent of the message text.
        ///
        /// The discriminants are the C status codes (`MP_E_*` in
        /// `include/mpipc.h`): this enum *is* the table (see the
        /// `error_kinds!` rows in this file). Values are append-only: a
        /// retired kind keeps its number reserved.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(i32)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $( $(#[doc = $doc])* $variant = $code, )*
        }

        /// How many kinds the table has.
        const KIND_COUNT: usize = [$($code),*].len();

        impl ErrorKind {
            /// Every kind, in code order: used by tests that walk the table.
            pub const ALL: [ErrorKind; KIND_COUNT] = [$(ErrorKind::$variant),*];

            /// The symbolic C name of the code, e.g. `"MP_E_EMPTY"`.
            pub const fn c_name(self) -> &'static str {
                match self {
                    $(ErrorKind::$variant => $c_name,)*
                }
            }

            /// A short description of the kind, used when no detail is
            /// available.
            pub const fn description(self) -> &'static str {
                match self {
                    $(ErrorKind::$variant => $desc,)*
                }
            }

            /// The C name and the description, as C's `mp_status_str`
            /// returns them: e.g. `"MP_E_EMPTY: empty"`, NUL-terminated,
            /// static.
            ///
            /// # Examples
            /// ```
            /// let t = mpipc::ErrorKind::Empty.status_text();
            /// assert_eq!(t.to_str().unwrap(), "MP_E_EMPTY: empty");
            /// ```
            pub fn status_text(self) -> &'static CStr {
                match self {
                    $(ErrorKind::$variant => {
                        // Built at compile time (a NUL inside a row is a
                        // build error, not a runtime one), and a static,
                        // not a const: C callers may compare the pointers
                        // mp_status_str returns, which must not differ
                        // between calls.
                        static TEXT: &CStr = match CStr::from_bytes_with_nul(
                            concat!($c_name, ": ", $desc, "\0").as_bytes(),
                        ) {
                            Ok(t) => t,
                            Err(_) => panic!("a status text holds a NUL byte"),
                        };
                        TEXT
                    })*
                }
            }
        }
    };
}

error_kinds! {
    /// A required pointer argument was NULL (C ABI only).
    Null = -1, "MP_E_NULL", "a required pointer argument was NULL";
    /// An argument is invalid: a bad name, an option out of range, an
    /// operation not allowed in this state (e.g. `task_done` called too often).
    Invalid = -2, "MP_E_INVAL", "invalid argument or operation";
    /// A wait ran out of time where no more specific status applies
    /// (e.g. `join`).
    Timeout = -3, "MP_E_TIMEOUT", "timed out";
    /// Nothing to receive: the queue was empty until the deadline.
    Empty = -4, "MP_E_EMPTY", "empty";
    /// No room: the queue stayed full until the deadline.
    Full = -5, "MP_E_FULL", "full";
    /// The queue was shut down: puts fail at once, gets fail once it is drained.
    Shutdown = -6, "MP_E_SHUTDOWN", "shut down";
    /// A message is larger than the object's configured maximum.
    TooBig = -7, "MP_E_TOOBIG", "message too big";
    /// The caller's buffer is too small; the required size is reported and
    /// nothing was consumed.
    BufSize = -8, "MP_E_BUFSIZE", "buffer too small";
    /// No object of that name exists (attach-only open, unlink), or no such
    /// key (Python's KeyError from a manager dict).
    NotFound = -9, "MP_E_NOTFOUND", "not found";
    /// An object of that name exists and exclusive creation was asked for.
    Exists = -10, "MP_E_EXISTS", "already exists";
    /// Of the wrong type: a value the operation cannot use (an `incr` on
    /// text, an item a ShareableList cannot hold, a value the CBOR mapping
    /// cannot carry), or a name held by an object of another kind (or by
    /// a directory or other non-file in `/dev/shm`).
    Type = -11, "MP_E_TYPE", "wrong type: a value the call cannot use, or a name held by another kind of object";
    /// An object of that name was made by an incompatible layout version.
    Version = -12, "MP_E_VERSION", "incompatible layout version";
    /// Shared state, a frame or a CBOR message failed validation (bad
    /// magic, impossible sizes or positions, malformed CBOR): the object
    /// was not touched further.
    Corrupt = -13, "MP_E_CORRUPT", "corrupt: shared state or a message failed validation";
    /// The operating system refused access (permissions, mode 0600 of another
    /// user), or mpipc refused to use a name another user could have planted
    /// (a private object of another user, a symbolic link in `/dev/shm`).
    Permission = -14, "MP_E_PERM", "permission denied";
    /// Any other operating-system error; the message carries errno's text.
    Io = -15, "MP_E_IO", "operating-system error";
    /// A Rust panic was caught at the C boundary (C ABI only).
    Panic = -16, "MP_E_PANIC", "internal panic caught at the C boundary";
    /// The handle was poisoned by an earlier panic and must be closed
    /// (C ABI only).
    Poisoned = -17, "MP_E_POISONED", "handle poisoned by an earlier panic";
    /// The peer closed the connection and no message is left to receive.
    Eof = -18, "MP_E_EOF", "end of file: the peer closed the connection";
    /// Authentication failed: wrong key, or the peer does not speak the
    /// handshake.
    Auth = -19, "MP_E_AUTH", "authentication failed";
    /// An index out of range (Python's IndexError), or a pop from an
    /// empty container.
    Index = -20, "MP_E_INDEX", "index out of range";
    /// No such method for this kind of object, or no such kind.
    Unsupported = -21, "MP_E_UNSUPPORTED", "no such method or kind";
    /// A barrier is broken (aborted, reset, or a wait timed out), as
    /// Python's BrokenBarrierError.
    Broken = -22, "MP_E_BROKEN", "barrier broken";
    /// The lock was acquired, but its previous holder died holding it: the
    /// data it guards may be half updated. The caller holds the lock and
    /// should check or repair that data (the lock itself is usable again).
    OwnerDead = -23, "MP_E_OWNER_DEAD", "acquired; the previous holder died holding it";
}

impl ErrorKind {
    /// The C status code (`MP_E_*`) of this kind; always negative.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The kind whose code is `code`, if any.
    pub fn from_code(code: i32) -> Option<ErrorKind> {
        ErrorKind::ALL.iter().copied().find(|k| k.code() == code)
    }
}

/// Which half of the CBOR mapping (docs/TYPES.md) failed, for an error of
/// the typed API ([`Error::codec`]).
///
/// The [`ErrorKind`] of such an error is the C status another binding
/// would report (Python's `EncodeError` and `DecodeError` carry the same
/// codes): [`ErrorKind::Type`] for `Encode`, [`ErrorKind::Corrupt`] for
/// `Decode`. `ErrorKind` is the C status table, so the distinction lives
/// here rather than in two new status codes.
///
/// # Examples
/// ```
/// use mpipc::{Codec, ErrorKind};
/// let e = mpipc::codec::decode::<String>(b"\x01").unwrap_err(); // 1 is not text
/// assert_eq!(e.codec(), Some(Codec::Decode));
/// assert_eq!(e.kind(), ErrorKind::Corrupt);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// A value could not be encoded (at `put` / `send` / a manager call,
    /// before anything was written).
    Encode,
    /// A message or a manager result is not valid CBOR, or not of the type
    /// asked for. A queue or pipe message is consumed all the same (it
    /// could never be decoded); `get_bytes` / `recv_bytes` read raw bytes.
    Decode,
}

/// An error of the Rust API: a stable [`ErrorKind`] plus a message that
/// names the object and the values involved.
///
/// # Examples
/// ```
/// use mpipc::{ErrorKind, Queue, QueueOptions};
/// use std::time::Duration;
/// let name = format!("doc-error-{}", std::process::id());
/// let q = Queue::open(&name, &QueueOptions::default())?;
/// let e = q.get_timeout::<String>(Some(Duration::ZERO)).unwrap_err();
/// assert_eq!(e.kind(), ErrorKind::Empty);
/// assert!(e.to_string().ends_with("(MP_E_EMPTY)"));
/// Queue::unlink(&name)?;
/// # Ok::<(), mpipc::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: Cow<'static, str>,
    /// For [`ErrorKind::BufSize`]: the size the caller's buffer needs.
    needed: usize,
    /// For an error of the CBOR mapping: which half.
    codec: Option<Codec>,
}

impl Error {
    /// An error with a message; static strings cost no allocation, which
    /// matters for `Empty`/`Full` returned by non-blocking calls in a loop.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Error {
        Error { kind, message: message.into(), needed: 0, codec: None }
    }

    /// An error of the CBOR mapping: kind [`ErrorKind::Type`] for
    /// [`Codec::Encode`], [`ErrorKind::Corrupt`] for [`Codec::Decode`].
    ///
    /// # Examples
    /// ```
    /// use mpipc::{Codec, Error, ErrorKind};
    /// let e = Error::with_codec(Codec::Decode, "not a job");
    /// assert_eq!((e.kind(), e.codec()), (ErrorKind::Corrupt, Some(Codec::Decode)));
    /// ```
    pub fn with_codec(which: Codec, message: impl Into<Cow<'static, str>>) -> Error {
        let kind = match which {
            Codec::Encode => ErrorKind::Type,
            Codec::Decode => ErrorKind::Corrupt,
        };
        Error { kind, message: message.into(), needed: 0, codec: Some(which) }
    }

    /// A [`ErrorKind::BufSize`] error telling how many bytes are needed.
    pub fn buf_size(needed: usize) -> Error {
        Error {
            kind: ErrorKind::BufSize,
            message: Cow::Borrowed("buffer too small for the message"),
            needed,
            codec: None,
        }
    }

    /// An [`ErrorKind::Io`] (or a more precise kind for well-known errno
    /// values) from the calling thread's `errno`, with `what` naming the call.
    pub fn last_os_error(what: &str) -> Error {
        Error::from_io(what, std::io::Error::last_os_error())
    }

    /// Like [`Error::last_os_error`] for an already captured `io::Error`.
    pub fn from_io(what: &str, err: std::io::Error) -> Error {
        let kind = match err.raw_os_error() {
            Some(libc::EACCES) | Some(libc::EPERM) => ErrorKind::Permission,
            Some(libc::ENOENT) => ErrorKind::NotFound,
            Some(libc::EEXIST) | Some(libc::EADDRINUSE) => ErrorKind::Exists,
            // Nobody listens at that address.
            Some(libc::ECONNREFUSED) => ErrorKind::NotFound,
            Some(libc::EINVAL) | Some(libc::ENAMETOOLONG) => ErrorKind::Invalid,
            Some(libc::EPIPE) | Some(libc::ECONNRESET) => ErrorKind::Eof,
            _ => ErrorKind::Io,
        };
        Error::new(kind, format!("{what}: {err}"))
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The detailed message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// For [`ErrorKind::BufSize`], the buffer size needed; otherwise 0.
    pub fn needed(&self) -> usize {
        self.needed
    }

    /// For an error of the typed API's CBOR mapping, which half failed
    /// (see [`Codec`]); `None` for every other error.
    ///
    /// # Examples
    /// ```
    /// let e = mpipc::codec::decode::<u32>(b"\x61x").unwrap_err(); // "x" is not a u32
    /// assert_eq!(e.codec(), Some(mpipc::Codec::Decode));
    /// assert_eq!(mpipc::Error::new(mpipc::ErrorKind::Empty, "empty").codec(), None);
    /// ```
    pub fn codec(&self) -> Option<Codec> {
        self.codec
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.kind.c_name())
    }
}

impl std::error::Error for Error {}

/// The result type of the Rust API.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_negative_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            assert!(kind.code() < 0, "{kind:?}");
            assert!(seen.insert(kind.code()), "duplicate code {}", kind.code());
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
            assert!(kind.c_name().starts_with("MP_E_"));
        }
        assert_eq!(ErrorKind::from_code(0), None);
        assert_eq!(ErrorKind::from_code(-1000), None);
    }

    #[test]
    fn errno_maps_to_precise_kinds() {
        let e = Error::from_io("open", std::io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!(e.kind(), ErrorKind::Permission);
        assert!(e.message().starts_with("open: "));
        let e = Error::from_io("open", std::io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = Error::from_io("mmap", std::io::Error::from_raw_os_error(libc::ENOMEM));
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(Error::buf_size(77).needed(), 77);
    }
}
