//! Status codes and the thread-local last-error slot that the boundary
//! fills. The exported functions that read them (`mp_status_str`,
//! `mp_last_error_message`, `mp_last_error`) live in `status_text.rs`: they
//! run inside the panic boundary, and the boundary records errors here, so
//! keeping them apart leaves no import cycle between this file and
//! `boundary.rs`.

use mpipc::error::{Error, ErrorKind};
use std::cell::RefCell;

/// The result of every fallible call: `MP_OK` (0) or a negative `MP_E_*`
/// code. A plain `int32_t`, not an enum, so that any value a C caller
/// passes back in (e.g. to `mp_status_str`) is well defined.
#[allow(non_camel_case_types)]
pub type mp_status = i32;

/// Success.
pub const MP_OK: mp_status = 0;
/// A required pointer argument was NULL.
pub const MP_E_NULL: mp_status = -1;
/// An argument is invalid, or the operation is not allowed in this state.
pub const MP_E_INVAL: mp_status = -2;
/// A wait ran out of time (where no more specific code applies).
pub const MP_E_TIMEOUT: mp_status = -3;
/// Nothing to receive before the deadline.
pub const MP_E_EMPTY: mp_status = -4;
/// No room before the deadline.
pub const MP_E_FULL: mp_status = -5;
/// The object was shut down.
pub const MP_E_SHUTDOWN: mp_status = -6;
/// A message exceeds the configured maximum.
pub const MP_E_TOOBIG: mp_status = -7;
/// The caller's buffer is too small; the size needed was written to the
/// length out-parameter and nothing was consumed.
pub const MP_E_BUFSIZE: mp_status = -8;
/// No object of that name, or no such key (a manager dict's KeyError).
pub const MP_E_NOTFOUND: mp_status = -9;
/// The name exists and exclusive creation was asked for.
pub const MP_E_EXISTS: mp_status = -10;
/// Of the wrong type: a value the call cannot use (an incr on text, an
/// item a ShareableList cannot hold), or a name held by an object of
/// another kind (or by a directory or other non-file in /dev/shm).
pub const MP_E_TYPE: mp_status = -11;
/// The object was made by an incompatible layout version.
pub const MP_E_VERSION: mp_status = -12;
/// Shared state, a frame or a CBOR message failed validation (malformed
/// CBOR included).
pub const MP_E_CORRUPT: mp_status = -13;
/// Permission denied, or a name refused because another user could have
/// planted it (another user's private object, a symbolic link in /dev/shm).
pub const MP_E_PERM: mp_status = -14;
/// Any other operating-system error.
pub const MP_E_IO: mp_status = -15;
/// A panic was caught inside the library.
pub const MP_E_PANIC: mp_status = -16;
/// The handle was poisoned by an earlier panic; close it.
pub const MP_E_POISONED: mp_status = -17;
/// The peer closed the connection and nothing is left to receive.
pub const MP_E_EOF: mp_status = -18;
/// Authentication failed (wrong key, or not the handshake).
pub const MP_E_AUTH: mp_status = -19;
/// Index out of range (Python's IndexError), or pop from an empty container.
pub const MP_E_INDEX: mp_status = -20;
/// No such method for this kind of object, or no such kind.
pub const MP_E_UNSUPPORTED: mp_status = -21;
/// The barrier is broken (aborted, reset, or a wait timed out).
pub const MP_E_BROKEN: mp_status = -22;
/// Acquired, but the previous holder died holding the lock: the caller now
/// holds it and should repair the data it guards.
pub const MP_E_OWNER_DEAD: mp_status = -23;

/// The status code of a core error kind. The table lives in [`ErrorKind`]
/// (src/error.rs); the constants above are written out because cbindgen
/// reads them for the header, and `status_text.rs`'s tests check that the
/// header's codes are exactly that table.
pub(crate) fn status_of_kind(kind: ErrorKind) -> mp_status {
    kind.code()
}

thread_local! {
    /// The last failure's message on this thread, NUL-terminated (never
    /// empty: an empty message is the single NUL). Written by
    /// [`set_last_error`], read by `status_text.rs`.
    pub(crate) static LAST_ERROR: RefCell<Vec<u8>> = RefCell::new(vec![0]);
}

/// Records `err` as this thread's last error and returns its status code.
/// The buffer is reused, so a failing call in a loop does not allocate.
/// During thread exit (atexit handlers, TLS destructors) the slot may
/// already be destroyed: the code is still returned, the message dropped.
pub(crate) fn set_last_error(err: &Error) -> mp_status {
    let _ = LAST_ERROR.try_with(|slot| {
        let mut buf = slot.borrow_mut();
        buf.clear();
        buf.extend(err.message().bytes().map(|b| if b == 0 { b'?' } else { b }));
        buf.push(0);
    });
    status_of_kind(err.kind())
}

/// The last error's text (for the unit tests).
#[cfg(test)]
pub(crate) fn last_error_text() -> String {
    LAST_ERROR.with(|slot| {
        let buf = slot.borrow();
        String::from_utf8_lossy(&buf[..buf.len() - 1]).into_owned()
    })
}
