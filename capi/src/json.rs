//! `mp_json_*`: the JSON bridge, JSON text to CBOR and back following
//! docs/TYPES.md ("JSON bridge"), for C programs that already speak JSON.
//! The put/get-as-JSON calls of the objects (`mpq_put_json`,
//! `mp_pipe_send_json`, `mp_mgr_dict_set_json`, ...) live in their objects'
//! files and use the helpers here.

use super::boundary::{boundary, boundary_or, bytes_arg, check_not_null, null_arg, try_arg};
use super::bytes::mp_buf;
use super::status::{mp_status, set_last_error, MP_OK};
use mpipc::error::{Error, ErrorKind};
use std::ffi::{c_char, CStr};

/// Converts JSON text to one CBOR item, following docs/TYPES.md's JSON
/// bridge: objects keep their key order; integers of any size (beyond 64
/// bits: bignums); a number with a fraction or an exponent is a 64-bit
/// float; and the extended forms `{"$bytes": "<base64>"}`,
/// `{"$float": "NaN" | "Infinity" | "-Infinity"}`,
/// `{"$tag": n, "$value": v}` and `{"$map": [[key, value], ...]}` for
/// what JSON lacks.
///
/// # Arguments
/// - `json`: the text, UTF-8, `len` bytes (need not be NUL-terminated).
/// - `out`: receives the CBOR on `MP_OK` (free it with `mp_buf_free`).
///
/// # Returns
/// `MP_OK`; `MP_E_INVAL`: not JSON or not UTF-8 (the message says where),
/// an extended form with the wrong content, nesting deeper than 128, a
/// number out of range (`1e400`, an integer of more than 4300 digits);
/// `MP_E_TYPE`: a PICKLE tag (`{"$tag": 1836085355, ...}`); `MP_E_NULL`.
///
/// # Safety
/// `json` points to `len` readable bytes (NULL if 0); `out` is valid.
#[no_mangle]
pub unsafe extern "C" fn mp_json_to_cbor(json: *const c_char, len: usize, out: *mut mp_buf) -> mp_status {
    boundary(|| {
        check_not_null!(out);
        // SAFETY: per the contract.
        let text = try_arg!(unsafe { bytes_arg(json.cast::<u8>(), len, "json") });
        let Ok(text) = std::str::from_utf8(text) else {
            return set_last_error(&Error::new(ErrorKind::Invalid, "json: invalid JSON: the text is not UTF-8"));
        };
        match mpipc::json::to_cbor(text) {
            Ok(cbor) => {
                // SAFETY: out is non-NULL and writable per the contract.
                unsafe { *out = mp_buf::from_vec(cbor) };
                MP_OK
            }
            Err(e) => set_last_error(&prefixed("json", &e)),
        }
    })
}

/// Converts one CBOR item to JSON text (compact), the inverse of
/// `mp_json_to_cbor`: bytes, non-finite floats, tags and maps with keys
/// other than text in their extended forms; a TUPLE as a plain array; a
/// float always with a fraction or an exponent (`1.0`), so it reads back a
/// float.
///
/// # Arguments
/// - `cbor`: one CBOR item, `len` bytes.
/// - `out_json`: receives the text on `MP_OK`, UTF-8 and NUL-terminated;
///   free it with `mp_json_free`.
///
/// # Returns
/// `MP_OK`; `MP_E_INVAL`: not valid CBOR under docs/TYPES.md (truncated,
/// trailing bytes, nesting deeper than 128, a reserved simple value, ...);
/// `MP_E_TYPE`: a PICKLE (only Python with its opt-in reads one), an
/// integer of more than 4300 digits; `MP_E_NULL`.
///
/// # Safety
/// `cbor` points to `len` readable bytes (NULL if 0); `out_json` is valid.
#[no_mangle]
pub unsafe extern "C" fn mp_cbor_to_json(cbor: *const u8, len: usize, out_json: *mut *mut c_char) -> mp_status {
    boundary(|| {
        check_not_null!(out_json);
        // SAFETY: per the contract.
        let bytes = try_arg!(unsafe { bytes_arg(cbor, len, "cbor") });
        match mpipc::json::from_cbor(bytes) {
            // SAFETY: out_json is non-NULL and writable per the contract.
            Ok(text) => unsafe { text_out(&text, out_json) },
            Err(e) => set_last_error(&prefixed("cbor", &e)),
        }
    })
}

/// Frees JSON text returned by the library (`mp_cbor_to_json`,
/// `mpq_get_json`, `mp_pipe_recv_json`, `mp_mgr_dict_get_json`). NULL is a
/// no-op.
///
/// # Safety
/// `json` is NULL or text returned by the library, not freed before and
/// not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn mp_json_free(json: *mut c_char) {
    boundary_or((), || {
        // SAFETY: per the contract, json is NULL or came from `text_out`'s
        // malloc, which free takes back whatever the caller wrote into it.
        unsafe { libc::free(json.cast()) }
    })
}

/// `e` with its message prefixed by the argument it is about.
fn prefixed(what: &str, e: &Error) -> Error {
    Error::new(e.kind(), format!("{what}: {}", e.message()))
}

/// The CBOR of the NUL-terminated JSON argument `json` (named `what` in
/// errors), the status recorded on failure.
///
/// # Safety
/// `json` is NULL or NUL-terminated.
pub(crate) unsafe fn cbor_of_json_arg(json: *const c_char, what: &str) -> Result<Vec<u8>, mp_status> {
    if json.is_null() {
        return Err(null_arg(what));
    }
    // SAFETY: non-NULL and NUL-terminated per the contract.
    let Ok(text) = unsafe { CStr::from_ptr(json) }.to_str() else {
        return Err(set_last_error(&Error::new(
            ErrorKind::Invalid,
            format!("{what}: invalid JSON: the text is not UTF-8"),
        )));
    };
    mpipc::json::to_cbor(text).map_err(|e| set_last_error(&prefixed(what, &e)))
}

/// Writes the JSON of a received CBOR item (a queue or pipe message, a
/// manager result) to `*out_json`. A message that is not valid CBOR is
/// `MP_E_CORRUPT`, as the bindings' decode error (TYPES.md rule 6); what
/// the bridge refuses in a valid one (a PICKLE) keeps its own status.
///
/// # Safety
/// `out_json` is non-NULL and writable.
pub(crate) unsafe fn json_of_received(cbor: &[u8], what: &str, out_json: *mut *mut c_char) -> mp_status {
    match mpipc::json::from_cbor(cbor) {
        // SAFETY: per the contract.
        Ok(text) => unsafe { text_out(&text, out_json) },
        Err(e) if e.kind() == ErrorKind::Invalid => {
            set_last_error(&Error::new(ErrorKind::Corrupt, format!("{what}: {}", e.message())))
        }
        Err(e) => set_last_error(&prefixed(what, &e)),
    }
}

/// Hands `text` to C: a malloc'd copy with a NUL after it, freed by
/// `mp_json_free` (malloc rather than a Rust allocation because the free
/// must not depend on the length, which the caller may change by writing a
/// NUL into the text; an `mp_buf` could not hold the NUL outside its length).
///
/// # Safety
/// `out_json` is non-NULL and writable.
unsafe fn text_out(text: &str, out_json: *mut *mut c_char) -> mp_status {
    // SAFETY: malloc of len + 1 bytes (never 0); checked for NULL below.
    let p = unsafe { libc::malloc(text.len() + 1) }.cast::<u8>();
    if p.is_null() {
        return set_last_error(&Error::new(ErrorKind::Io, "out of memory for the JSON text"));
    }
    // SAFETY: p has text.len() + 1 writable bytes, not overlapping text.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), p, text.len());
        *p.add(text.len()) = 0;
        *out_json = p.cast();
    }
    MP_OK
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::mp_buf_free;
    use crate::status::*;
    use crate::status_text::mp_last_error;
    use std::ptr::{null, null_mut};

    fn last_error() -> String {
        // SAFETY: mp_last_error returns a valid NUL-terminated string.
        unsafe { CStr::from_ptr(mp_last_error()).to_string_lossy().into_owned() }
    }

    /// JSON -> CBOR -> JSON as C calls it, and every argument error.
    #[test]
    fn conversions_as_c_would() {
        let json = br#"{"name": "a", "id": 1, "score": 0.5, "vals": [1, 2], "b": {"$bytes": "AAE="}}"#;
        // SAFETY: every pointer is NULL (on purpose) or valid.
        unsafe {
            let mut b = mp_buf { ptr: null_mut(), len: 0 };
            assert_eq!(mp_json_to_cbor(json.as_ptr().cast(), json.len(), &mut b), MP_OK);
            let cbor = std::slice::from_raw_parts(b.ptr, b.len).to_vec();
            assert_eq!(cbor, mpipc::json::to_cbor(std::str::from_utf8(json).unwrap()).unwrap());
            let mut text: *mut c_char = null_mut();
            assert_eq!(mp_cbor_to_json(b.ptr, b.len, &mut text), MP_OK);
            assert_eq!(
                CStr::from_ptr(text).to_str().unwrap(),
                r#"{"name":"a","id":1,"score":0.5,"vals":[1,2],"b":{"$bytes":"AAE="}}"#
            );
            // The caller may shorten the text: the free does not care.
            *text = 0;
            mp_json_free(text);
            mp_json_free(null_mut());
            mp_buf_free(&mut b);

            // The length is what counts, not a NUL.
            assert_eq!(mp_json_to_cbor(c"[1]xyz".as_ptr(), 3, &mut b), MP_OK);
            assert_eq!(std::slice::from_raw_parts(b.ptr, b.len), &[0x81, 0x01]);
            mp_buf_free(&mut b);

            // Argument errors.
            assert_eq!(mp_json_to_cbor(null(), 1, &mut b), MP_E_NULL);
            assert_eq!(mp_json_to_cbor(c"1".as_ptr(), 1, null_mut()), MP_E_NULL);
            assert_eq!(mp_json_to_cbor(null(), 0, &mut b), MP_E_INVAL, "empty text is not JSON");
            assert!(last_error().starts_with("json: invalid JSON: EOF"), "{}", last_error());
            assert_eq!(mp_cbor_to_json(null(), 1, &mut text), MP_E_NULL);
            assert_eq!(mp_cbor_to_json([1u8].as_ptr(), 1, null_mut()), MP_E_NULL);

            // Every refusal, with its status and a message naming it.
            for (j, st, part) in [
                (&b"{\"a\": }"[..], MP_E_INVAL, "json: invalid JSON: expected value at line 1 column 7"),
                (b"\xff", MP_E_INVAL, "not UTF-8"),
                (br#"{"$bytes": "AA"}"#, MP_E_INVAL, "base64"),
                (br#"{"$float": "inf"}"#, MP_E_INVAL, "$float"),
                (br#"{"$map": [1]}"#, MP_E_INVAL, "pairs"),
                (br#"{"$tag": -1, "$value": 1}"#, MP_E_INVAL, "$tag"),
                (br#"{"$tag": 1836085355, "$value": {"$bytes": ""}}"#, MP_E_TYPE, "pickle"),
                (b"1e400", MP_E_INVAL, "out of range"),
            ] {
                let mut b = mp_buf { ptr: null_mut(), len: 0 };
                assert_eq!(mp_json_to_cbor(j.as_ptr().cast(), j.len(), &mut b), st, "{j:?}");
                assert!(last_error().contains(part), "{j:?}: {}", last_error());
                assert!(b.ptr.is_null());
            }
            // 130 arrays: the innermost is at depth 129.
            let deep = format!("{}{}", "[".repeat(130), "]".repeat(130));
            assert_eq!(mp_json_to_cbor(deep.as_ptr().cast(), deep.len(), &mut b), MP_E_INVAL);
            assert!(last_error().contains("nesting deeper than 128"), "{}", last_error());
            for (c, st, part) in [
                (&[][..], MP_E_INVAL, "cbor: invalid CBOR: truncated"),
                (&[0x00, 0x00], MP_E_INVAL, "trailing bytes"),
                (&[0xda, 0x6d, 0x70, 0x70, 0x6b, 0x40], MP_E_TYPE, "cbor: a Python pickle"),
                (&[0x5b, 0x40, 0, 0, 0, 0, 0, 0, 0], MP_E_INVAL, "exceeds the input"),
            ] {
                let mut t: *mut c_char = null_mut();
                assert_eq!(mp_cbor_to_json(c.as_ptr(), c.len(), &mut t), st, "{c:02x?}");
                assert!(last_error().contains(part), "{c:02x?}: {}", last_error());
                assert!(t.is_null());
            }
        }
    }

    /// The text behind `p`, freed.
    unsafe fn take_text(p: *mut c_char) -> String {
        // SAFETY: p is text returned by the library.
        let s = unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned();
        // SAFETY: as above, freed once.
        unsafe { mp_json_free(p) };
        s
    }

    #[test]
    fn queue_json_as_c_would() {
        use crate::queue::*;
        let name = std::ffi::CString::new(format!("ffi-json-{}", std::process::id())).unwrap();
        // SAFETY: every pointer is NULL (on purpose) or valid.
        unsafe {
            let mut q = null_mut();
            assert_eq!(mpq_open(name.as_ptr(), null(), &mut q), MP_OK);
            assert_eq!(mpq_put_json(q, c"{\"id\": 1, \"vals\": [1, 2.0]}".as_ptr()), MP_OK);
            // The message is the CBOR every binding writes.
            let mut b = mp_buf { ptr: null_mut(), len: 0 };
            assert_eq!(mpq_get_timeout(q, &mut b, 0), MP_OK);
            assert_eq!(
                std::slice::from_raw_parts(b.ptr, b.len),
                mpipc::json::to_cbor(r#"{"id": 1, "vals": [1, 2.0]}"#).unwrap()
            );
            mp_buf_free(&mut b);
            assert_eq!(mpq_put_json_timeout(q, c"[\"x\", {\"$bytes\": \"AQ==\"}]".as_ptr(), 0), MP_OK);
            let mut t: *mut c_char = null_mut();
            assert_eq!(mpq_get_json(q, &mut t, 0), MP_OK);
            assert_eq!(take_text(t), r#"["x",{"$bytes":"AQ=="}]"#);
            assert_eq!(mpq_get_json(q, &mut t, 0), MP_E_EMPTY);
            // Refused texts put nothing.
            assert_eq!(mpq_put_json(q, c"{\"id\": }".as_ptr()), MP_E_INVAL);
            assert!(last_error().starts_with("json: invalid JSON: "), "{}", last_error());
            assert_eq!(mpq_put_json(q, c"{\"$tag\": 1836085355, \"$value\": {\"$bytes\": \"\"}}".as_ptr()), MP_E_TYPE);
            let mut n = 9usize;
            assert_eq!(mpq_qsize(q, &mut n), MP_OK);
            assert_eq!(n, 0);
            assert_eq!(mpq_put_json(q, null()), MP_E_NULL);
            assert_eq!(mpq_put_json(null_mut(), c"1".as_ptr()), MP_E_NULL);
            assert_eq!(mpq_get_json(q, null_mut(), 0), MP_E_NULL);
            assert_eq!(mpq_get_json(null_mut(), &mut t, 0), MP_E_NULL);
            // A message that is not CBOR, then a pickle: refused, consumed.
            assert_eq!(mpq_put(q, [0x01u8, 0x02].as_ptr(), 2), MP_OK);
            let pickle = [0xdau8, 0x6d, 0x70, 0x70, 0x6b, 0x41, 0x80];
            assert_eq!(mpq_put(q, pickle.as_ptr(), pickle.len()), MP_OK);
            t = null_mut();
            assert_eq!(mpq_get_json(q, &mut t, 0), MP_E_CORRUPT);
            assert!(last_error().starts_with("message: invalid CBOR: trailing bytes"), "{}", last_error());
            assert_eq!(mpq_get_json(q, &mut t, 0), MP_E_TYPE);
            assert!(last_error().contains("pickle"), "{}", last_error());
            assert!(t.is_null());
            assert_eq!(mpq_qsize(q, &mut n), MP_OK);
            assert_eq!(n, 0);
            // A full queue: MP_E_FULL within the timeout.
            mpq_close(q);
            assert_eq!(mpq_unlink(name.as_ptr()), MP_OK);
            let o = mpq_options { maxsize: 1, ..Default::default() };
            assert_eq!(mpq_open(name.as_ptr(), &o, &mut q), MP_OK);
            assert_eq!(mpq_put_json_timeout(q, c"1".as_ptr(), 0), MP_OK);
            assert_eq!(mpq_put_json_timeout(q, c"2".as_ptr(), 0), MP_E_FULL);
            mpq_close(q);
            assert_eq!(mpq_unlink(name.as_ptr()), MP_OK);
        }
    }

    #[test]
    fn pipe_json_as_c_would() {
        use crate::pipe::*;
        // SAFETY: every pointer is NULL (on purpose) or valid.
        unsafe {
            let (mut a, mut b) = (null_mut(), null_mut());
            assert_eq!(mp_pipe_new(true, &mut a, &mut b), MP_OK);
            assert_eq!(mp_pipe_send_json(a, c"{\"n\": 18446744073709551616}".as_ptr()), MP_OK);
            let mut t: *mut c_char = null_mut();
            assert_eq!(mp_pipe_recv_json(b, &mut t, 1000), MP_OK);
            assert_eq!(take_text(t), r#"{"n":18446744073709551616}"#);
            assert_eq!(mp_pipe_recv_json(b, &mut t, 0), MP_E_EMPTY);
            assert_eq!(mp_pipe_send_json(a, c"[1,".as_ptr()), MP_E_INVAL);
            assert_eq!(mp_pipe_send_json(a, null()), MP_E_NULL);
            assert_eq!(mp_pipe_send_json(null_mut(), c"1".as_ptr()), MP_E_NULL);
            assert_eq!(mp_pipe_recv_json(b, null_mut(), 0), MP_E_NULL);
            let mut ready = true;
            assert_eq!(mp_pipe_poll(b, 0, &mut ready), MP_OK);
            assert!(!ready, "nothing was sent");
            assert_eq!(mp_pipe_send(a, [0xffu8].as_ptr(), 1), MP_OK);
            assert_eq!(mp_pipe_recv_json(b, &mut t, 1000), MP_E_CORRUPT);
            assert_eq!(mp_pipe_poll(b, 0, &mut ready), MP_OK);
            assert!(!ready, "the bad message was consumed");
            mp_pipe_close(a);
            assert_eq!(mp_pipe_recv_json(b, &mut t, 1000), MP_E_EOF);
            mp_pipe_close(b);
        }
    }

    #[test]
    fn manager_json_as_c_would() {
        use crate::manager::*;
        use crate::manager_server::*;
        let addr = std::ffi::CString::new(format!("unix:@mpipc-ffi-json-{}", std::process::id())).unwrap();
        // SAFETY: every pointer is NULL (on purpose) or valid.
        unsafe {
            let mut s = null_mut();
            assert_eq!(mp_mgr_serve(addr.as_ptr(), null(), 0, &mut s), MP_OK);
            let mut m = null_mut();
            assert_eq!(mp_mgr_connect(addr.as_ptr(), null(), 0, 2000, &mut m), MP_OK);
            let d = c"jobs".as_ptr();
            assert_eq!(mp_mgr_dict_set_json(m, d, c"\"j1\"".as_ptr(), c"{\"id\": 1, \"score\": 0.5}".as_ptr()), MP_OK);
            assert_eq!(mp_mgr_dict_set_json(m, d, c"[1, 2]".as_ptr(), c"{\"$float\": \"NaN\"}".as_ptr()), MP_OK);
            let mut t: *mut c_char = null_mut();
            assert_eq!(mp_mgr_dict_get_json(m, d, c"\"j1\"".as_ptr(), &mut t), MP_OK);
            assert_eq!(take_text(t), r#"{"id":1,"score":0.5}"#);
            assert_eq!(mp_mgr_dict_get_json(m, d, c"[1, 2]".as_ptr(), &mut t), MP_OK);
            assert_eq!(take_text(t), r#"{"$float":"NaN"}"#);
            // The C calls with CBOR see the same entry: the key is the text "j1".
            let key = [0x62u8, b'j', b'1'];
            let mut n = 0i64;
            assert_eq!(mp_mgr_dict_incr(m, d, [0x61u8, b'c'].as_ptr(), 2, 5, &mut n), MP_OK);
            assert_eq!(mp_mgr_dict_get_json(m, d, c"\"c\"".as_ptr(), &mut t), MP_OK);
            assert_eq!(take_text(t), "5");
            let mut b = mp_buf { ptr: null_mut(), len: 0 };
            assert_eq!(mp_mgr_dict_get(m, d, key.as_ptr(), key.len(), &mut b), MP_OK);
            assert_eq!(
                std::slice::from_raw_parts(b.ptr, b.len),
                mpipc::json::to_cbor(r#"{"id":1,"score":0.5}"#).unwrap()
            );
            mp_buf_free(&mut b);
            // Errors.
            t = null_mut();
            assert_eq!(mp_mgr_dict_get_json(m, d, c"\"nope\"".as_ptr(), &mut t), MP_E_NOTFOUND);
            assert_eq!(mp_mgr_dict_set_json(m, d, c"k".as_ptr(), c"1".as_ptr()), MP_E_INVAL);
            assert!(last_error().starts_with("key_json: invalid JSON"), "{}", last_error());
            assert_eq!(mp_mgr_dict_set_json(m, d, c"\"k\"".as_ptr(), c"[".as_ptr()), MP_E_INVAL);
            assert!(last_error().starts_with("val_json: invalid JSON"), "{}", last_error());
            assert_eq!(mp_mgr_dict_set_json(m, d, c"{\"a\": 1}".as_ptr(), c"1".as_ptr()), MP_E_TYPE, "unhashable");
            assert_eq!(mp_mgr_dict_get_json(m, d, c"{".as_ptr(), &mut t), MP_E_INVAL);
            assert_eq!(mp_mgr_dict_set_json(m, d, null(), c"1".as_ptr()), MP_E_NULL);
            assert_eq!(mp_mgr_dict_set_json(m, d, c"1".as_ptr(), null()), MP_E_NULL);
            assert_eq!(mp_mgr_dict_set_json(m, null(), c"1".as_ptr(), c"1".as_ptr()), MP_E_NULL);
            assert_eq!(mp_mgr_dict_get_json(m, d, c"1".as_ptr(), null_mut()), MP_E_NULL);
            assert_eq!(mp_mgr_dict_get_json(null_mut(), d, c"1".as_ptr(), &mut t), MP_E_NULL);
            // A value stored as a pickle (by Python with the opt-in).
            let pickle = [0xdau8, 0x6d, 0x70, 0x70, 0x6b, 0x41, 0x80];
            assert_eq!(mp_mgr_dict_set(m, d, key.as_ptr(), key.len(), pickle.as_ptr(), pickle.len()), MP_OK);
            assert_eq!(mp_mgr_dict_get_json(m, d, c"\"j1\"".as_ptr(), &mut t), MP_E_TYPE);
            assert!(t.is_null());
            let mut len = 0usize;
            assert_eq!(mp_mgr_dict_len(m, d, &mut len), MP_OK);
            assert_eq!(len, 3);
            mp_mgr_close(m);
            assert_eq!(mp_mgr_server_shutdown(s), MP_OK);
        }
    }

    #[test]
    fn received_messages_that_do_not_decode_are_corrupt() {
        let mut t: *mut c_char = null_mut();
        // SAFETY: t is valid.
        unsafe {
            assert_eq!(json_of_received(&[0x00, 0x00], "message", &mut t), MP_E_CORRUPT);
            assert!(last_error().starts_with("message: invalid CBOR: trailing bytes"), "{}", last_error());
            assert_eq!(json_of_received(&[0xda, 0x6d, 0x70, 0x70, 0x6b, 0x40], "message", &mut t), MP_E_TYPE);
            assert!(t.is_null());
            assert_eq!(cbor_of_json_arg(null(), "json"), Err(MP_E_NULL));
            assert_eq!(cbor_of_json_arg(c"\xff".as_ptr(), "json"), Err(MP_E_INVAL));
            assert_eq!(cbor_of_json_arg(c"{\"id\": 1}".as_ptr(), "json"), Ok(vec![0xa1, 0x62, b'i', b'd', 0x01]));
        }
    }
}
