//! The exported functions that turn a status into text and read this
//! thread's last error: `mp_status_str`, `mp_last_error_message`,
//! `mp_last_error`. Apart from `status.rs` (the codes and the slot) because
//! they run inside the panic boundary, which itself records errors through
//! `status.rs`: this way `boundary.rs` and `status.rs` do not import each
//! other.

use super::boundary::{boundary, boundary_or};
use super::status::*;
use std::ffi::{c_char, CStr};

/// Returns a static, human-readable name for a status code, e.g.
/// `"MP_E_EMPTY: empty"`. Never NULL; never to be freed. Unknown codes give
/// `"MP_E_UNKNOWN: unknown status"`.
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn mp_status_str(code: mp_status) -> *const c_char {
    boundary_or(c"MP_E_UNKNOWN: unknown status".as_ptr(), || status_cstr(code).as_ptr())
}

fn status_cstr(code: mp_status) -> &'static CStr {
    match code {
        MP_OK => c"MP_OK: success",
        MP_E_NULL => c"MP_E_NULL: a required pointer argument was NULL",
        MP_E_INVAL => c"MP_E_INVAL: invalid argument or operation",
        MP_E_TIMEOUT => c"MP_E_TIMEOUT: timed out",
        MP_E_EMPTY => c"MP_E_EMPTY: empty",
        MP_E_FULL => c"MP_E_FULL: full",
        MP_E_SHUTDOWN => c"MP_E_SHUTDOWN: shut down",
        MP_E_TOOBIG => c"MP_E_TOOBIG: message too big",
        MP_E_BUFSIZE => c"MP_E_BUFSIZE: buffer too small",
        MP_E_NOTFOUND => c"MP_E_NOTFOUND: not found",
        MP_E_EXISTS => c"MP_E_EXISTS: already exists",
        MP_E_TYPE => c"MP_E_TYPE: object is of another kind",
        MP_E_VERSION => c"MP_E_VERSION: incompatible layout version",
        MP_E_CORRUPT => c"MP_E_CORRUPT: shared state is corrupt",
        MP_E_PERM => c"MP_E_PERM: permission denied",
        MP_E_IO => c"MP_E_IO: operating-system error",
        MP_E_PANIC => c"MP_E_PANIC: internal panic caught at the C boundary",
        MP_E_POISONED => c"MP_E_POISONED: handle poisoned by an earlier panic",
        MP_E_EOF => c"MP_E_EOF: end of file: the peer closed the connection",
        MP_E_AUTH => c"MP_E_AUTH: authentication failed",
        MP_E_INDEX => c"MP_E_INDEX: index out of range",
        MP_E_UNSUPPORTED => c"MP_E_UNSUPPORTED: no such method or kind",
        MP_E_BROKEN => c"MP_E_BROKEN: barrier broken",
        MP_E_OWNER_DEAD => c"MP_E_OWNER_DEAD: acquired; the previous holder died holding it",
        _ => c"MP_E_UNKNOWN: unknown status",
    }
}

/// Copies this thread's last error message, NUL-terminated, into `buf`.
///
/// The message describes the most recent call *on this thread* that
/// returned an error; successful calls leave it unchanged, so read it right
/// after the failing call. It is empty before any failure. This function
/// never changes the message, even when it fails itself.
///
/// # Arguments
/// - `buf`, `cap`: the caller's buffer (may be NULL when `cap` is 0).
/// - `out_len`: receives the message length without the NUL on `MP_OK`,
///   or the buffer size needed (length + 1) on `MP_E_BUFSIZE`.
///
/// # Returns
/// `MP_OK`, `MP_E_BUFSIZE` if `cap` is too small, `MP_E_NULL` if `out_len`
/// is NULL.
///
/// # Safety
/// `buf` must be NULL or point to `cap` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn mp_last_error_message(buf: *mut c_char, cap: usize, out_len: *mut usize) -> mp_status {
    boundary(|| {
        if out_len.is_null() {
            return MP_E_NULL;
        }
        let copied = LAST_ERROR.try_with(|slot| {
            let msg = slot.borrow();
            // SAFETY: out_len is non-NULL and writable per the contract.
            unsafe {
                if buf.is_null() || cap < msg.len() {
                    *out_len = msg.len();
                    return MP_E_BUFSIZE;
                }
                std::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), msg.len());
                *out_len = msg.len() - 1;
            }
            MP_OK
        });
        copied.unwrap_or_else(|_| {
            // The slot is gone (thread exit): report an empty message.
            // SAFETY: out_len is non-NULL; buf, if non-NULL, has cap bytes.
            unsafe {
                if buf.is_null() || cap == 0 {
                    *out_len = 1;
                    return MP_E_BUFSIZE;
                }
                *buf = 0;
                *out_len = 0;
            }
            MP_OK
        })
    })
}

/// Returns this thread's last error message as a NUL-terminated string
/// owned by the library (never NULL; empty before any failure). The pointer
/// stays valid until the next failing call on this thread; copy it if you
/// need it longer. Convenient for bindings; C code may prefer
/// `mp_last_error_message`.
#[no_mangle]
pub extern "C" fn mp_last_error() -> *const c_char {
    boundary_or(c"".as_ptr(), || LAST_ERROR.try_with(|slot| slot.borrow().as_ptr().cast()).unwrap_or(c"".as_ptr()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpipc::error::{Error, ErrorKind};

    #[test]
    fn every_kind_maps_to_its_constant() {
        let table = [
            (ErrorKind::Null, MP_E_NULL),
            (ErrorKind::Invalid, MP_E_INVAL),
            (ErrorKind::Timeout, MP_E_TIMEOUT),
            (ErrorKind::Empty, MP_E_EMPTY),
            (ErrorKind::Full, MP_E_FULL),
            (ErrorKind::Shutdown, MP_E_SHUTDOWN),
            (ErrorKind::TooBig, MP_E_TOOBIG),
            (ErrorKind::BufSize, MP_E_BUFSIZE),
            (ErrorKind::NotFound, MP_E_NOTFOUND),
            (ErrorKind::Exists, MP_E_EXISTS),
            (ErrorKind::Type, MP_E_TYPE),
            (ErrorKind::Version, MP_E_VERSION),
            (ErrorKind::Corrupt, MP_E_CORRUPT),
            (ErrorKind::Permission, MP_E_PERM),
            (ErrorKind::Io, MP_E_IO),
            (ErrorKind::Panic, MP_E_PANIC),
            (ErrorKind::Poisoned, MP_E_POISONED),
            (ErrorKind::Eof, MP_E_EOF),
            (ErrorKind::Auth, MP_E_AUTH),
            (ErrorKind::Index, MP_E_INDEX),
            (ErrorKind::Unsupported, MP_E_UNSUPPORTED),
            (ErrorKind::Broken, MP_E_BROKEN),
            (ErrorKind::OwnerDead, MP_E_OWNER_DEAD),
        ];
        assert_eq!(table.len(), ErrorKind::ALL.len());
        for (kind, code) in table {
            assert_eq!(status_of_kind(kind), code, "{kind:?}");
            // SAFETY: mp_status_str returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(mp_status_str(code)) }.to_str().unwrap();
            assert!(name.starts_with(kind.c_name()), "{name} vs {}", kind.c_name());
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(mp_status_str(12345)) };
        assert!(unknown.to_str().unwrap().starts_with("MP_E_UNKNOWN"));
    }

    #[test]
    fn last_error_copy_out() {
        set_last_error(&Error::new(ErrorKind::Full, "queue \"x\" is full"));
        let mut need = 0usize;
        // SAFETY: NULL buffer with cap 0 is allowed; out_len is valid.
        assert_eq!(unsafe { mp_last_error_message(std::ptr::null_mut(), 0, &mut need) }, MP_E_BUFSIZE);
        assert_eq!(need, "queue \"x\" is full".len() + 1);
        let mut small = [0 as c_char; 4];
        let mut n = 0usize;
        // SAFETY: buffer of 4 bytes.
        assert_eq!(unsafe { mp_last_error_message(small.as_mut_ptr(), 4, &mut n) }, MP_E_BUFSIZE);
        let mut buf = vec![0 as c_char; need];
        // SAFETY: buffer of `need` bytes.
        assert_eq!(unsafe { mp_last_error_message(buf.as_mut_ptr(), need, &mut n) }, MP_OK);
        assert_eq!(n, need - 1);
        // SAFETY: the library wrote a NUL-terminated string.
        assert_eq!(unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap(), "queue \"x\" is full");
        // SAFETY: mp_last_error returns a valid NUL-terminated string.
        assert_eq!(unsafe { CStr::from_ptr(mp_last_error()) }.to_str().unwrap(), "queue \"x\" is full");
        // SAFETY: NULL out_len is checked.
        assert_eq!(unsafe { mp_last_error_message(buf.as_mut_ptr(), need, std::ptr::null_mut()) }, MP_E_NULL);
        assert_eq!(last_error_text(), "queue \"x\" is full", "failing reads must not overwrite the message");
    }
}
