//! `mp_buf`: byte strings allocated by the library and handed to the caller.

/// A byte string allocated by the library (e.g. a message taken from a
/// queue). The caller reads `ptr[0..len]` and releases it with
/// `mp_buf_free`, never with `free()`. A zero-length result may have a
/// non-NULL `ptr`; it must still be passed to `mp_buf_free` (a no-op then).
///
/// Methods: `mp_buf_free`.
#[repr(C)]
#[derive(Debug)]
#[allow(non_camel_case_types)]
pub struct mp_buf {
    /// The bytes; NULL after `mp_buf_free`.
    pub ptr: *mut u8,
    /// The number of bytes.
    pub len: usize,
}

impl mp_buf {
    /// Hands `v` over to C. `v` is shrunk to its length so that
    /// `mp_buf_free` can rebuild the exact allocation from (ptr, len).
    pub(crate) fn from_vec(v: Vec<u8>) -> mp_buf {
        let boxed: Box<[u8]> = v.into_boxed_slice();
        let len = boxed.len();
        mp_buf { ptr: Box::into_raw(boxed).cast::<u8>(), len }
    }
}

/// Releases the bytes of `buf` and sets `buf->ptr = NULL, buf->len = 0`.
/// `buf == NULL` or `buf->ptr == NULL` is a no-op, so freeing twice is safe.
///
/// # Safety
/// `buf` is NULL or points to an `mp_buf` filled by this library (or
/// zeroed); its bytes are not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn mp_buf_free(buf: *mut mp_buf) {
    super::boundary::boundary_or((), || {
        if buf.is_null() {
            return;
        }
        // SAFETY: per the contract, buf points to a valid mp_buf.
        let b = unsafe { &mut *buf };
        if !b.ptr.is_null() {
            // SAFETY: ptr/len came from `from_vec` (a Box<[u8]> of exactly len).
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(b.ptr, b.len)) });
        }
        b.ptr = std::ptr::null_mut();
        b.len = 0;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_is_idempotent_and_null_safe() {
        for v in [vec![], vec![1u8, 2, 3], Vec::with_capacity(100)] {
            let mut b = mp_buf::from_vec(v);
            // SAFETY: b was filled by from_vec.
            unsafe {
                mp_buf_free(&mut b);
                assert!(b.ptr.is_null());
                mp_buf_free(&mut b);
            }
        }
        // SAFETY: NULL is allowed.
        unsafe { mp_buf_free(std::ptr::null_mut()) };
    }
}
