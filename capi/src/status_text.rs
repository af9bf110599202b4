//! The exported functions that turn a status into text and read this
//! thread's last error: `mp_status_str`, `mp_last_error_message`,
//! `mp_last_error`. Apart from `status.rs` (the codes and the slot) because
//! they run inside the panic boundary, which itself records errors through
//! `status.rs`: this way `boundary.rs` and `status.rs` do not import each
//! other.

use super::boundary::{boundary, boundary_or};
use super::status::*;
use mpipc::error::ErrorKind;
use std::ffi::{c_char, CStr};

/// Returns a static, human-readable name for a status code: its C name and
/// what it means, e.g. `"MP_E_EMPTY: empty"`. Never NULL; never to be
/// freed. Unknown codes give `"MP_E_UNKNOWN: unknown status"`.
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn mp_status_str(code: mp_status) -> *const c_char {
    boundary_or(c"MP_E_UNKNOWN: unknown status".as_ptr(), || status_cstr(code).as_ptr())
}

/// The text of `code`: the core's status table ([`ErrorKind::status_text`],
/// the one source of every code's name and description), plus `MP_OK`,
/// which is not an error kind.
fn status_cstr(code: mp_status) -> &'static CStr {
    match ErrorKind::from_code(code) {
        Some(kind) => kind.status_text(),
        None if code == MP_OK => c"MP_OK: success",
        None => c"MP_E_UNKNOWN: unknown status",
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

    /// The header's `MP_E_*` codes (from the constants of status.rs, which
    /// cbindgen reads) are exactly the core's table, name for name and
    /// value for value, and `mp_status_str` gives the table's text.
    #[test]
    fn the_header_codes_are_the_core_table() {
        let header = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../include/mpipc.h")).unwrap();
        let mut defined: Vec<(String, i32)> = header
            .lines()
            .filter_map(|l| {
                let mut words = l.strip_prefix("#define ")?.split_whitespace();
                let name = words.next().filter(|n| n.starts_with("MP_E_"))?;
                Some((name.to_string(), words.next()?.parse().ok()?))
            })
            .collect();
        defined.sort_by_key(|d| -d.1);
        let table: Vec<(String, i32)> = ErrorKind::ALL.iter().map(|k| (k.c_name().to_string(), k.code())).collect();
        assert_eq!(defined, table, "include/mpipc.h's MP_E_* codes differ from src/error.rs's table");
        for kind in ErrorKind::ALL {
            assert_eq!(status_of_kind(kind), kind.code());
            // SAFETY: mp_status_str returns a static NUL-terminated string.
            let text = unsafe { CStr::from_ptr(mp_status_str(kind.code())) };
            assert_eq!(text, kind.status_text());
            assert_eq!(text.to_str().unwrap(), format!("{}: {}", kind.c_name(), kind.description()));
        }
        // SAFETY: as above.
        let ok = unsafe { CStr::from_ptr(mp_status_str(MP_OK)) };
        assert_eq!(ok.to_str().unwrap(), "MP_OK: success");
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(mp_status_str(12345)) };
        assert!(unknown.to_str().unwrap().starts_with("MP_E_UNKNOWN"));
        // Spot checks of the constants the code uses by name.
        assert_eq!((MP_E_NULL, MP_E_TYPE, MP_E_OWNER_DEAD), (-1, -11, -23));
    }

    /// The words of the codes a user meets for a value (issue 20, item
    /// 6): an incr on text is MP_E_TYPE, which must not read as "the
    /// object is of another kind" only.
    #[test]
    fn status_texts_say_what_happened() {
        // SAFETY: static NUL-terminated strings.
        let text = |c| unsafe { CStr::from_ptr(mp_status_str(c)) }.to_str().unwrap();
        assert!(text(MP_E_TYPE).contains("a value the call cannot use"), "{}", text(MP_E_TYPE));
        assert!(text(MP_E_CORRUPT).contains("message"), "{}", text(MP_E_CORRUPT));
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
