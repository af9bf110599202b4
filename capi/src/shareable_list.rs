//! `mp_slist_*`: named ShareableList.

use super::boundary::{bytes_arg, open_named, status_of, try_arg, unlink_named, with_handle, write_out, Castable};
use super::bytes::mp_buf;
use super::status::{mp_status, set_last_error, MP_OK};
use mpipc::shareable_list::{split_items, ShareableList};
use std::ffi::c_char;

/// A named fixed-length list of scalars (Python's
/// `shared_memory.ShareableList`): each element is null, bool, integer,
/// float, text or bytes, exchanged as CBOR and stored exactly (byte for
/// byte). Each slot's capacity is fixed at creation and counted in the
/// value's own bytes (UTF-8 for text, raw for bytes, 8 for any other
/// scalar), as Python's stock ShareableList counts it: text or bytes of n
/// bytes make a slot of `8 * (n / 8 + 1)`, anything else a slot of 8 (any
/// int64 or float fits any slot). Layout version 2 (version 1 counted
/// CBOR bytes). Thread-safe (reads and writes
/// take the list's robust lock). Segment: `/dev/shm/mpipc.sl.<name>`,
/// mode 0600.
///
/// Methods: `mp_slist_open`, `mp_slist_len`, `mp_slist_get`,
/// `mp_slist_set`, `mp_slist_capacity`, `mp_slist_close`,
/// `mp_slist_unlink`.
pub struct mp_slist {
    _private: [u8; 0],
}

impl Castable for mp_slist {
    type Rust = ShareableList;
}

/// Opens the list `name`. With `items_cbor` (a CBOR array of scalars),
/// creates it holding them or attaches to an existing list of as many
/// elements; with `items_cbor` NULL, attaches only.
///
/// # Returns
/// `MP_OK`; `MP_E_TYPE` (an item that is not a scalar); `MP_E_INVAL`
/// (not a CBOR array, an element count that differs from the existing
/// list, bad name or flags); `MP_E_EXISTS`; `MP_E_NOTFOUND`;
/// `MP_E_CORRUPT` (`items_cbor` is not well-formed CBOR, or the list's
/// segment failed validation).
///
/// # Safety
/// `name` is a NUL-terminated string; `items_cbor` is NULL or holds `len`
/// bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn mp_slist_open(
    name: *const c_char,
    items_cbor: *const u8,
    len: usize,
    flags: u32,
    out: *mut *mut mp_slist,
) -> mp_status {
    let init = if items_cbor.is_null() {
        None
    } else {
        // SAFETY: per the contract.
        Some(try_arg!(unsafe { bytes_arg(items_cbor, len, "items_cbor") }))
    };
    // SAFETY: forwarded contract.
    unsafe {
        open_named(name, flags, 0, out, |n, o| match init {
            None => ShareableList::open(n, None, o),
            Some(b) => ShareableList::open(n, Some(&split_items(b)?), o),
        })
    }
}

/// The element count.
///
/// # Safety
/// `l` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_slist_len(l: *mut mp_slist, out: *mut usize) -> mp_status {
    // SAFETY: l is a live handle or NULL (checked); out per the contract.
    unsafe { with_handle(l, |l| write_out(out, l.len())) }
}

/// Element `index`, CBOR-encoded, into `out` (free with `mp_buf_free`).
///
/// # Returns
/// `MP_OK`; `MP_E_INDEX`.
///
/// # Safety
/// `l` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_slist_get(l: *mut mp_slist, index: usize, out: *mut mp_buf) -> mp_status {
    // SAFETY: l is a live handle or NULL (checked); out per the contract.
    unsafe {
        with_handle(l, |l| {
            if out.is_null() {
                return super::boundary::null_arg("out");
            }
            match l.get(index) {
                Ok(v) => {
                    *out = mp_buf::from_vec(v);
                    MP_OK
                }
                Err(e) => set_last_error(&e),
            }
        })
    }
}

/// Stores the CBOR scalar `item` at `index`.
///
/// # Returns
/// `MP_OK`; `MP_E_INDEX`; `MP_E_TYPE` (not a scalar); `MP_E_CORRUPT`
/// (`item` is not well-formed CBOR); `MP_E_TOOBIG`
/// (a text or byte string longer than the slot's capacity; nothing
/// changes).
///
/// # Safety
/// `l` live; `item` holds `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mp_slist_set(l: *mut mp_slist, index: usize, item: *const u8, len: usize) -> mp_status {
    // SAFETY: l is a live handle or NULL (checked); item per the contract.
    unsafe { with_handle(l, |l| status_of(l.set(index, try_arg!(bytes_arg(item, len, "item"))))) }
}

/// Slot `index`'s capacity in the value's own bytes (see `mp_slist`).
///
/// # Returns
/// `MP_OK`; `MP_E_INDEX`.
///
/// # Safety
/// `l` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_slist_capacity(l: *mut mp_slist, index: usize, out: *mut usize) -> mp_status {
    // SAFETY: l is a live handle or NULL (checked); out per the contract.
    unsafe {
        with_handle(l, |l| match l.capacity(index) {
            Ok(c) => write_out(out, c),
            Err(e) => set_last_error(&e),
        })
    }
}

/// Unmaps and frees the handle. NULL is a no-op.
///
/// # Safety
/// `l` is NULL or live, and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn mp_slist_close(l: *mut mp_slist) {
    // SAFETY: per the contract.
    super::boundary::boundary_or((), || unsafe { super::boundary::free_handle(l) })
}

/// Removes the name; open handles keep working.
///
/// # Safety
/// `name` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mp_slist_unlink(name: *const c_char) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { unlink_named(name, ShareableList::unlink) }
}
