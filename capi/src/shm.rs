//! `mp_shm_*`: named raw shared-memory blocks.

use super::boundary::{open_named, unlink_named, Castable, Handle};
use super::status::mp_status;
use mpipc::shared_memory::SharedMemory;
use std::ffi::{c_char, c_void};

/// A named raw block of shared memory (Python's
/// `shared_memory.SharedMemory`). The bytes are the caller's to
/// synchronise (see `mp_lock`). Closing never unlinks, whoever created it.
/// Segment: `/dev/shm/mpipc.shm.<name>`, mode 0600; the data is 64-byte
/// aligned. With `MP_SHM_RAW`: a raw POSIX block `/dev/shm/<name>` with no
/// mpipc header, as Python's stock `multiprocessing.shared_memory` (and
/// any `shm_open` user) makes them.
///
/// Methods: `mp_shm_open`, `mp_shm_ptr`, `mp_shm_size`, `mp_shm_close`,
/// `mp_shm_unlink`, `mp_shm_unlink_raw`.
pub struct mp_shm {
    _private: [u8; 0],
}

impl Castable for mp_shm {
    type Rust = SharedMemory;
}

/// `mp_shm_open` flag: a raw POSIX block `/dev/shm/<name>` (one leading
/// `/` ignored, as `shm_open` and Python's stock SharedMemory do) with no
/// mpipc header: `mp_shm_ptr` is the file's first byte and the size is the
/// file's (fstat). Created zero-filled with mode 0600 and published
/// atomically. This is how a block made by a stock Python program
/// (`multiprocessing.shared_memory.SharedMemory(create=True, ...)`, whose
/// `name` is what to pass here) is read from C, Go, Node and Rust, and
/// how a block for such a program is made. Names beginning with `mpipc.`
/// are refused (`MP_E_INVAL`). Remove with `mp_shm_unlink_raw`.
pub const MP_SHM_RAW: u32 = 0x100;

/// Opens the block `name`: creates it with `size` zeroed bytes, or
/// attaches (the size must match). `size` 0 attaches only, to any size.
/// `flags`: `MP_OPEN_*`, plus `MP_SHM_RAW` for a raw POSIX block.
///
/// # Returns
/// `MP_OK`; `MP_E_INVAL` (a size that differs from the existing block; 0
/// with `MP_OPEN_CREATE_ONLY`; bad name or flags; with `MP_SHM_RAW`, an
/// empty (0-byte) block or a name beginning with `mpipc.`); `MP_E_EXISTS`;
/// `MP_E_NOTFOUND` (missing, with `MP_OPEN_ATTACH_ONLY` or size 0; the
/// message says when the name exists as the other kind of block, raw or
/// mpipc); `MP_E_TYPE` / `MP_E_VERSION` / `MP_E_CORRUPT` (not a valid
/// block); `MP_E_PERM`; `MP_E_IO`.
///
/// # Safety
/// `name` is a NUL-terminated string; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn mp_shm_open(name: *const c_char, size: usize, flags: u32, out: *mut *mut mp_shm) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        open_named(name, flags, MP_SHM_RAW, out, |n, o| {
            if flags & MP_SHM_RAW != 0 {
                SharedMemory::open_raw(n, size, o)
            } else {
                SharedMemory::open(n, size, o)
            }
        })
    }
}

/// The first byte of the block, valid until `mp_shm_close`; NULL for a
/// NULL handle.
///
/// # Safety
/// `s` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mp_shm_ptr(s: *const mp_shm) -> *mut c_void {
    if s.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: a live handle per the contract; reading it cannot panic.
    unsafe { (*s.cast::<Handle<SharedMemory>>()).inner().as_ptr().cast() }
}

/// The block's size in bytes; 0 for a NULL handle.
///
/// # Safety
/// `s` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mp_shm_size(s: *const mp_shm) -> usize {
    if s.is_null() {
        return 0;
    }
    // SAFETY: a live handle per the contract.
    unsafe { (*s.cast::<Handle<SharedMemory>>()).inner().size() }
}

/// Unmaps the block and frees the handle (the block itself stays until
/// unlinked). NULL is a no-op.
///
/// # Safety
/// `s` is NULL or live, and not used afterwards (nor pointers from
/// `mp_shm_ptr`).
#[no_mangle]
pub unsafe extern "C" fn mp_shm_close(s: *mut mp_shm) {
    // SAFETY: per the contract.
    super::boundary::boundary_or((), || unsafe { super::boundary::free_handle(s) })
}

/// Removes the name; processes that have it open keep their mapping.
///
/// # Returns
/// `MP_OK`; `MP_E_NOTFOUND`; `MP_E_INVAL` (bad name).
///
/// # Safety
/// `name` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mp_shm_unlink(name: *const c_char) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { unlink_named(name, SharedMemory::unlink) }
}

/// Removes the raw POSIX block `name` (one made with `MP_SHM_RAW`, or by
/// Python's stock `multiprocessing.shared_memory`: its `unlink()`);
/// processes that have it open keep their mapping.
///
/// # Returns
/// `MP_OK`; `MP_E_NOTFOUND`; `MP_E_INVAL` (bad name, or one beginning
/// with `mpipc.`).
///
/// # Safety
/// `name` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mp_shm_unlink_raw(name: *const c_char) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { unlink_named(name, SharedMemory::unlink_raw) }
}
