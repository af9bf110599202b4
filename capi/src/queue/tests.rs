//! The `mpq_*` functions called directly, as C would: NULL arguments, the
//! out-parameter rules, buffer sizes, flags, and double close.

use super::*;
use crate::bytes::mp_buf_free;
use crate::status::*;
use std::ffi::CString;
use std::ptr::{null, null_mut};

fn name(tag: &str) -> CString {
    CString::new(format!("ffi-{tag}-{}", std::process::id())).unwrap()
}

/// Opens `n` with `opts`, asserting success.
unsafe fn open(n: &CString, opts: *const mpq_options) -> *mut mpq {
    let mut q = null_mut();
    // SAFETY: n is a valid C string; opts is NULL or valid; &mut q is valid.
    assert_eq!(unsafe { mpq_open(n.as_ptr(), opts, &mut q) }, MP_OK);
    assert!(!q.is_null());
    q
}

#[test]
fn null_arguments_are_refused() {
    let n = name("null");
    // SAFETY: every pointer is NULL or valid; NULLs are the point of the test.
    unsafe {
        let mut q = null_mut();
        assert_eq!(mpq_open(null(), null(), &mut q), MP_E_NULL);
        assert_eq!(mpq_open(n.as_ptr(), null(), null_mut()), MP_E_NULL);
        assert_eq!(mpq_put(null_mut(), b"x".as_ptr(), 1), MP_E_NULL);
        let q = open(&n, null());
        assert_eq!(mpq_put(q, null(), 3), MP_E_NULL);
        assert_eq!(mpq_put(q, null(), 0), MP_OK, "NULL with length 0 is an empty message");
        assert_eq!(mpq_get(q, null_mut()), MP_E_NULL);
        assert_eq!(mpq_get_into(q, null_mut(), 0, null_mut(), 0), MP_E_NULL);
        assert_eq!(mpq_qsize(q, null_mut()), MP_E_NULL);
        assert_eq!(mpq_empty(q, null_mut()), MP_E_NULL);
        assert_eq!(mpq_full(q, null_mut()), MP_E_NULL);
        assert_eq!(mpq_options_of(q, null_mut()), MP_E_NULL);
        assert_eq!(mpq_put_many(q, null(), null(), 0, 0, null_mut()), MP_E_NULL);
        let (mut k, mut b) = (0usize, 0usize);
        assert_eq!(mpq_get_many(q, null_mut(), 0, null_mut(), 1, 0, &mut k, &mut b), MP_E_NULL);
        assert_eq!(mpq_unlink(null()), MP_E_NULL);
        mpq_close(q);
        mpq_close(null_mut());
        assert_eq!(mpq_unlink(n.as_ptr()), MP_OK);
    }
}

#[test]
fn outputs_are_written_only_on_success() {
    let n = name("outs");
    // SAFETY: all pointers are valid for the calls.
    unsafe {
        let q = open(&n, null());
        let mut b = mp_buf { ptr: 0x1 as *mut u8, len: 77 };
        assert_eq!(mpq_get_timeout(q, &mut b, 0), MP_E_EMPTY);
        assert_eq!((b.ptr as usize, b.len), (1, 77), "untouched on failure");
        assert_eq!(mpq_put(q, b"hello".as_ptr(), 5), MP_OK);
        let mut small = [0u8; 2];
        let mut len = 0usize;
        assert_eq!(mpq_get_into(q, small.as_mut_ptr(), 2, &mut len, 0), MP_E_BUFSIZE);
        assert_eq!(len, 5, "BUFSIZE reports the size needed");
        let mut size = 0usize;
        assert_eq!(mpq_qsize(q, &mut size), MP_OK);
        assert_eq!(size, 1, "the message stays queued");
        let mut b = mp_buf { ptr: null_mut(), len: 0 };
        assert_eq!(mpq_get(q, &mut b), MP_OK);
        assert_eq!(std::slice::from_raw_parts(b.ptr, b.len), b"hello");
        mp_buf_free(&mut b);
        mp_buf_free(&mut b);
        mpq_close(q);
        mpq_unlink(n.as_ptr());
    }
}

#[test]
fn batches_through_the_c_abi() {
    let n = name("batch");
    let opts = mpq_options { maxsize: 3, ..Default::default() };
    // SAFETY: buffers and lengths match; pointers are valid.
    unsafe {
        let q = open(&n, &opts);
        let data = b"aabbbc";
        let lens = [2usize, 3, 1, 0];
        let mut put = 99usize;
        assert_eq!(mpq_put_many(q, data.as_ptr(), lens.as_ptr(), 4, 0, &mut put), MP_OK);
        assert_eq!(put, 3, "maxsize 3: the fourth does not fit");
        assert_eq!(mpq_put_many(q, data.as_ptr(), lens.as_ptr(), 1, 0, &mut put), MP_E_FULL);
        let mut buf = [0u8; 16];
        let mut out_lens = [0usize; 8];
        let (mut k, mut bytes) = (0usize, 0usize);
        assert_eq!(mpq_get_many(q, buf.as_mut_ptr(), 1, out_lens.as_mut_ptr(), 8, 0, &mut k, &mut bytes), MP_E_BUFSIZE);
        assert_eq!(bytes, 2, "the first message needs 2 bytes");
        assert_eq!(mpq_get_many(q, buf.as_mut_ptr(), 16, out_lens.as_mut_ptr(), 0, 0, &mut k, &mut bytes), MP_E_INVAL);
        assert_eq!(mpq_get_many(q, buf.as_mut_ptr(), 16, out_lens.as_mut_ptr(), 8, 0, &mut k, &mut bytes), MP_OK);
        assert_eq!((k, bytes), (3, 6));
        assert_eq!(&out_lens[..3], &[2, 3, 1]);
        assert_eq!(&buf[..6], data);
        let huge = [usize::MAX, 2];
        assert_eq!(mpq_put_many(q, data.as_ptr(), huge.as_ptr(), 2, 0, &mut put), MP_E_INVAL);
        mpq_close(q);
        mpq_unlink(n.as_ptr());
    }
}

#[test]
fn flags_and_options() {
    let n = name("flags");
    // SAFETY: pointers are valid.
    unsafe {
        let mut q = null_mut();
        let attach = mpq_options { flags: MPQ_ATTACH_ONLY, ..Default::default() };
        assert_eq!(mpq_open(n.as_ptr(), &attach, &mut q), MP_E_NOTFOUND);
        assert!(q.is_null(), "out untouched on failure");
        let create = mpq_options { flags: MPQ_CREATE_ONLY, capacity_bytes: 4096, ..Default::default() };
        let q1 = open(&n, &create);
        assert_eq!(mpq_open(n.as_ptr(), &create, &mut q), MP_E_EXISTS);
        let bad = mpq_options { flags: 7, ..Default::default() };
        assert_eq!(mpq_open(n.as_ptr(), &bad, &mut q), MP_E_INVAL);
        let q2 = open(&n, &attach);
        let mut o = mpq_options::default();
        assert_eq!(mpq_options_of(q2, &mut o), MP_OK);
        assert_eq!((o.maxsize, o.capacity_bytes, o.max_message), (0, 4096, 4088));
        assert_eq!(mpq_set_spin(q2, 0), MP_OK);
        assert_eq!(mpq_shutdown(q1, false), MP_OK);
        assert_eq!(mpq_put(q2, b"x".as_ptr(), 1), MP_E_SHUTDOWN);
        let mut b = mp_buf { ptr: null_mut(), len: 0 };
        assert_eq!(mpq_get(q2, &mut b), MP_E_SHUTDOWN);
        assert_eq!(mpq_task_done(q2), MP_E_INVAL);
        assert_eq!(mpq_join(q2, 0), MP_OK);
        let mut e = false;
        assert_eq!(mpq_empty(q2, &mut e), MP_OK);
        assert!(e);
        assert_eq!(mpq_full(q2, &mut e), MP_OK);
        assert!(!e);
        mpq_close(q1);
        mpq_close(q2);
        assert_eq!(mpq_unlink(n.as_ptr()), MP_OK);
        assert_eq!(mpq_unlink(n.as_ptr()), MP_E_NOTFOUND);
        assert_eq!(mpq_unlink(c"../etc/passwd".as_ptr()), MP_E_INVAL);
    }
}

#[test]
fn zero_copy_calls_check_their_arguments() {
    let n = name("zc");
    // SAFETY: every pointer is NULL or valid; NULLs are part of the test.
    unsafe {
        let q = open(&n, null());
        let mut r = mpq_reservation { data: 0x1 as *mut u8, len: 77, id: 77 };
        assert_eq!(mpq_reserve(null_mut(), 8, 0, &mut r), MP_E_NULL);
        assert_eq!(mpq_reserve(q, 8, 0, null_mut()), MP_E_NULL);
        assert_eq!(mpq_reserve(q, 1 << 30, 0, &mut r), MP_E_TOOBIG);
        assert_eq!((r.data as usize, r.len, r.id), (1, 77, 77), "untouched on failure");
        let mut v = mpq_view { data: 0x1 as *const u8, len: 77, id: 77 };
        assert_eq!(mpq_get_view(q, 0, &mut v), MP_E_EMPTY);
        assert_eq!((v.data as usize, v.len, v.id), (1, 77, 77), "untouched on failure");
        assert_eq!(mpq_get_view(q, 0, null_mut()), MP_E_NULL);

        assert_eq!(mpq_reserve(q, 16, 0, &mut r), MP_OK);
        assert_eq!(r.len, 16);
        std::ptr::copy_nonoverlapping(b"in place".as_ptr(), r.data, 8);
        assert_eq!(mpq_commit(q, null(), 8), MP_E_NULL);
        assert_eq!(mpq_commit(q, &r, 17), MP_E_INVAL, "more than reserved");
        assert_eq!(mpq_commit(q, &r, 8), MP_OK);
        assert_eq!(mpq_commit(q, &r, 8), MP_E_INVAL, "used up");
        assert_eq!(mpq_cancel(q, &r), MP_E_INVAL);

        assert_eq!(mpq_get_view(q, 0, &mut v), MP_OK);
        assert_eq!(std::slice::from_raw_parts(v.data, v.len), b"in place");
        assert_eq!(mpq_release_view(q, null()), MP_E_NULL);
        assert_eq!(mpq_release_view(q, &v), MP_OK);
        assert_eq!(mpq_release_view(q, &v), MP_E_INVAL, "released twice");

        assert_eq!(mpq_reserve(q, 4, 0, &mut r), MP_OK);
        assert_eq!(mpq_cancel(q, null()), MP_E_NULL);
        assert_eq!(mpq_cancel(q, &r), MP_OK);
        let mut size = 7usize;
        assert_eq!(mpq_qsize(q, &mut size), MP_OK);
        assert_eq!(size, 0);
        mpq_close(q);
        assert_eq!(mpq_unlink(n.as_ptr()), MP_OK);
    }
}
