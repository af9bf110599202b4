//! `mp_array_*` and `mp_value_*`: named typed arrays (Python's `Array`
//! and `Value`).

use super::boundary::{
    acquire_status, bytes_arg, bytes_arg_mut, open_named, status_of, try_arg, unlink_named, with_handle,
};
use super::boundary::{write_out, Castable, Handle};
use super::status::{mp_status, set_last_error, MP_OK};
use mpipc::array::{Array, Guarded, Number};
use mpipc::error::{Error, ErrorKind};
use mpipc::sync::Deadline;
use std::ffi::{c_char, c_void};

/// A named array of one of Python's typecodes (`c b B h H i I l L q Q f d`,
/// sizes of the 64-bit Linux ABI: 1 1 1 2 2 4 4 8 8 8 8 4 8 bytes) with a
/// robust recursive lock beside the data (Python's `Array` uses an RLock),
/// or none (`MP_ARRAY_NO_LOCK`). A Value is an array of length 1
/// (`mp_value_open`).
///
/// Thread-safe. The typed accessors take the lock (re-entrantly, so they
/// may be called between `mp_array_lock` and `mp_array_unlock`);
/// `mp_array_ptr` gives direct access. Segment: `/dev/shm/mpipc.a.<name>`,
/// mode 0600; the data is 64-byte aligned.
///
/// Methods: `mp_array_open`, `mp_array_ptr`, `mp_array_len`,
/// `mp_array_typecode`, `mp_array_itemsize`, `mp_array_lock`,
/// `mp_array_unlock`, `mp_array_get_i64`, `mp_array_get_u64`,
/// `mp_array_get_f64`, `mp_array_set_i64`, `mp_array_set_u64`,
/// `mp_array_set_f64`, `mp_array_incr`, `mp_array_read`,
/// `mp_array_write`, `mp_array_close`, `mp_array_unlink`, the lock
/// queries `mp_array_lock_held_by_me`, `mp_array_locked`,
/// `mp_array_lock_depth`, and `mp_value_open`, `mp_value_get_i64`,
/// `mp_value_set_i64`, `mp_value_get_f64`, `mp_value_set_f64`.
pub struct mp_array {
    _private: [u8; 0],
}

impl Castable for mp_array {
    type Rust = Array;
}

/// `mp_array_open` / `mp_value_open` flag: create without a lock (Python's
/// `lock=False`); `mp_array_lock` then returns `MP_E_UNSUPPORTED`.
pub const MP_ARRAY_NO_LOCK: u32 = 0x100;

/// Opens the array `name`: creates `length` zeroed elements of `typecode`,
/// or attaches (the typecode and length must match; the lock is the
/// creator's choice). `length` 0 attaches only, to any length.
///
/// # Returns
/// `MP_OK`; `MP_E_INVAL` (unknown typecode, a length that differs, 0 with
/// `MP_OPEN_CREATE_ONLY`, bad name or flags); `MP_E_TYPE` (another
/// typecode); `MP_E_EXISTS`; `MP_E_NOTFOUND` (missing, with
/// `MP_OPEN_ATTACH_ONLY` or length 0); `MP_E_CORRUPT` /
/// `MP_E_VERSION` (not a valid array); `MP_E_PERM`.
///
/// # Safety
/// `name` is a NUL-terminated string; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn mp_array_open(
    name: *const c_char,
    typecode: c_char,
    length: usize,
    flags: u32,
    out: *mut *mut mp_array,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        open_named(name, flags, MP_ARRAY_NO_LOCK, out, |n, o| {
            Array::open(n, typecode as u8, length, flags & MP_ARRAY_NO_LOCK != 0, o)
        })
    }
}

/// Opens a Value: an array of length 1 (see `mp_array_open`). Use the
/// `mp_value_*` accessors or any `mp_array_*` call; close with
/// `mp_array_close`, unlink with `mp_array_unlink`.
///
/// # Safety
/// As `mp_array_open`.
#[no_mangle]
pub unsafe extern "C" fn mp_value_open(
    name: *const c_char,
    typecode: c_char,
    flags: u32,
    out: *mut *mut mp_array,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { mp_array_open(name, typecode, 1, flags, out) }
}

fn array_of<'a>(a: *const mp_array) -> Option<&'a Array> {
    // SAFETY: callers pass NULL or a live handle (their contract).
    (!a.is_null()).then(|| unsafe { (*a.cast::<Handle<Array>>()).inner() })
}

/// The first element, valid until `mp_array_close`; NULL for a NULL handle.
///
/// # Safety
/// `a` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mp_array_ptr(a: *const mp_array) -> *mut c_void {
    array_of(a).map_or(std::ptr::null_mut(), |a| a.as_ptr().cast())
}

/// The element count; 0 for a NULL handle.
///
/// # Safety
/// `a` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mp_array_len(a: *const mp_array) -> usize {
    array_of(a).map_or(0, |a| a.len())
}

/// The typecode character; 0 for a NULL handle.
///
/// # Safety
/// `a` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mp_array_typecode(a: *const mp_array) -> c_char {
    array_of(a).map_or(0, |a| a.typecode().as_char() as c_char)
}

/// Bytes per element; 0 for a NULL handle.
///
/// # Safety
/// `a` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mp_array_itemsize(a: *const mp_array) -> usize {
    array_of(a).map_or(0, |a| a.typecode().size())
}

/// Acquires the array's lock (recursive), waiting at most `timeout_ms`.
///
/// # Returns
/// `MP_OK`; `MP_E_TIMEOUT`; `MP_E_OWNER_DEAD` (acquired from a holder
/// that died: check the data); `MP_E_UNSUPPORTED` (created without a lock).
///
/// # Safety
/// `a` live.
#[no_mangle]
pub unsafe extern "C" fn mp_array_lock(a: *mut mp_array, timeout_ms: i64) -> mp_status {
    // SAFETY: a is a live handle or NULL (checked).
    unsafe { with_handle(a, |a| acquire_status(a.lock(&Deadline::from_timeout_ms(timeout_ms)))) }
}

/// Releases the array's lock (one level).
///
/// # Returns
/// `MP_OK`; `MP_E_PERM` (not held by this thread); `MP_E_UNSUPPORTED`.
///
/// # Safety
/// `a` live.
#[no_mangle]
pub unsafe extern "C" fn mp_array_unlock(a: *mut mp_array) -> mp_status {
    // SAFETY: a is a live handle or NULL (checked).
    unsafe { with_handle(a, |a| status_of(a.unlock())) }
}

/// Reads element `index` as a signed integer (under the lock).
///
/// # Returns
/// `MP_OK`; `MP_E_INDEX`; `MP_E_TYPE` (a float array: use
/// `mp_array_get_f64`); `MP_E_INVAL` (a `Q`/`L` value above INT64_MAX: use
/// `mp_array_get_u64`); `MP_E_OWNER_DEAD`: read (`*out` is written), after
/// taking the lock from a holder that died holding it. Every accessor below
/// that takes the lock reports a dead holder the same way, after doing its
/// work.
///
/// # Safety
/// `a` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_array_get_i64(a: *mut mp_array, index: usize, out: *mut i64) -> mp_status {
    // SAFETY: a is a live handle or NULL (checked); out per the contract.
    unsafe { with_handle(a, |a| get_int(a, index, out)) }
}

/// Reads element `index` as an unsigned integer (under the lock).
///
/// # Returns
/// As `mp_array_get_i64`; `MP_E_INVAL` for a negative value.
///
/// # Safety
/// `a` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_array_get_u64(a: *mut mp_array, index: usize, out: *mut u64) -> mp_status {
    // SAFETY: a is a live handle or NULL (checked); out per the contract.
    unsafe { with_handle(a, |a| get_int(a, index, out)) }
}

/// Reads element `index` as a double (integers are converted).
///
/// # Safety
/// `a` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_array_get_f64(a: *mut mp_array, index: usize, out: *mut f64) -> mp_status {
    // SAFETY: a is a live handle or NULL (checked); out per the contract.
    unsafe {
        with_handle(a, |a| match a.get(index) {
            Ok(g) => guarded(g.owner_died, || match g.value {
                Number::Int(x) => write_out(out, x as f64),
                Number::Float(f) => write_out(out, f),
            }),
            Err(e) => set_last_error(&e),
        })
    }
}

/// Reads an integer element into `out` (i64 or u64), range-checked.
///
/// # Safety
/// `out` NULL or writable.
unsafe fn get_int<T: TryFrom<i128>>(a: &Array, index: usize, out: *mut T) -> mp_status {
    match a.get(index) {
        Ok(Guarded { value: Number::Int(x), owner_died }) => match T::try_from(x) {
            // SAFETY: per the contract.
            Ok(v) => guarded(owner_died, || unsafe { write_out(out, v) }),
            Err(_) => set_last_error(&Error::new(
                ErrorKind::Invalid,
                format!("element value {x} does not fit the type asked for"),
            )),
        },
        Ok(Guarded { value: Number::Float(_), .. }) => {
            set_last_error(&Error::new(ErrorKind::Type, "a float array: read it as f64"))
        }
        Err(e) => set_last_error(&e),
    }
}

/// Writes a signed integer to element `index` (under the lock).
///
/// # Returns
/// `MP_OK`; `MP_E_INDEX`; `MP_E_INVAL` (out of the typecode's range;
/// nothing written); `MP_E_OWNER_DEAD` (written, after taking the lock from
/// a dead holder).
///
/// # Safety
/// `a` live.
#[no_mangle]
pub unsafe extern "C" fn mp_array_set_i64(a: *mut mp_array, index: usize, value: i64) -> mp_status {
    // SAFETY: a is a live handle or NULL (checked).
    unsafe { with_handle(a, |a| guarded_of(a.set(index, Number::Int(value as i128)))) }
}

/// Writes an unsigned integer to element `index` (as `mp_array_set_i64`).
///
/// # Safety
/// `a` live.
#[no_mangle]
pub unsafe extern "C" fn mp_array_set_u64(a: *mut mp_array, index: usize, value: u64) -> mp_status {
    // SAFETY: a is a live handle or NULL (checked).
    unsafe { with_handle(a, |a| guarded_of(a.set(index, Number::Int(value as i128)))) }
}

/// Writes a double to element `index` of an `f` or `d` array.
///
/// # Returns
/// `MP_OK`; `MP_E_INDEX`; `MP_E_TYPE` (an integer array, as Python's
/// TypeError).
///
/// # Safety
/// `a` live.
#[no_mangle]
pub unsafe extern "C" fn mp_array_set_f64(a: *mut mp_array, index: usize, value: f64) -> mp_status {
    // SAFETY: a is a live handle or NULL (checked).
    unsafe { with_handle(a, |a| guarded_of(a.set(index, Number::Float(value)))) }
}

/// Adds `delta` to integer element `index` under the lock (an atomic
/// `a[i] += delta`) and writes the new value to `out_new` (may be NULL).
///
/// # Returns
/// `MP_OK`; `MP_E_INDEX`; `MP_E_TYPE` (float array); `MP_E_INVAL` (the
/// result leaves the typecode's range or INT64; nothing written).
///
/// # Safety
/// `a` live; `out_new` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mp_array_incr(a: *mut mp_array, index: usize, delta: i64, out_new: *mut i64) -> mp_status {
    // SAFETY: a is a live handle or NULL (checked); out_new per the contract.
    unsafe {
        with_handle(a, |a| match a.incr(index, delta) {
            Ok(g) => guarded(g.owner_died, || {
                if !out_new.is_null() {
                    // In range: Array::incr refuses results beyond i64.
                    *out_new = g.value as i64;
                }
                MP_OK
            }),
            Err(e) => set_last_error(&e),
        })
    }
}

/// Copies `count` elements from `start` into `out` (native layout, under
/// the lock).
///
/// # Returns
/// `MP_OK`; `MP_E_INDEX` (range past the end); `MP_E_NULL`.
///
/// # Safety
/// `a` live; `out` has room for `count` elements.
#[no_mangle]
pub unsafe extern "C" fn mp_array_read(a: *mut mp_array, start: usize, out: *mut c_void, count: usize) -> mp_status {
    // SAFETY: a is a live handle or NULL (checked); out per the contract.
    unsafe {
        with_handle(a, |a| {
            let Some(bytes) = count.checked_mul(a.typecode().size()) else {
                return set_last_error(&Error::new(ErrorKind::Index, "count too large"));
            };
            let buf = try_arg!(bytes_arg_mut(out.cast::<u8>(), bytes, "out"));
            guarded_of(a.read(start, buf))
        })
    }
}

/// Copies `count` elements from `data` (native layout) to the elements from
/// `start` (under the lock).
///
/// # Returns
/// `MP_OK`; `MP_E_INDEX`; `MP_E_NULL`.
///
/// # Safety
/// `a` live; `data` holds `count` elements.
#[no_mangle]
pub unsafe extern "C" fn mp_array_write(
    a: *mut mp_array,
    start: usize,
    data: *const c_void,
    count: usize,
) -> mp_status {
    // SAFETY: a is a live handle or NULL (checked); data per the contract.
    unsafe {
        with_handle(a, |a| {
            let Some(bytes) = count.checked_mul(a.typecode().size()) else {
                return set_last_error(&Error::new(ErrorKind::Index, "count too large"));
            };
            let buf = try_arg!(bytes_arg(data.cast::<u8>(), bytes, "data"));
            guarded_of(a.write(start, buf))
        })
    }
}

/// The status of an access done under the array's lock: `write` (which
/// stores the results) runs in every case, then `MP_E_OWNER_DEAD` replaces
/// `MP_OK` when the lock came from a holder that died.
fn guarded(owner_died: bool, write: impl FnOnce() -> mp_status) -> mp_status {
    let st = write();
    if st == MP_OK && owner_died {
        return set_last_error(&Error::new(
            ErrorKind::OwnerDead,
            "done, but the array lock's previous holder died holding it: check the data",
        ));
    }
    st
}

/// [`guarded`] for accesses with no result to write.
fn guarded_of(r: mpipc::error::Result<Guarded<()>>) -> mp_status {
    match r {
        Ok(g) => guarded(g.owner_died, || MP_OK),
        Err(e) => set_last_error(&e),
    }
}

/// A Value's integer (`mp_array_get_i64` of element 0).
///
/// # Safety
/// `v` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_value_get_i64(v: *mut mp_array, out: *mut i64) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { mp_array_get_i64(v, 0, out) }
}

/// Sets a Value's integer (`mp_array_set_i64` of element 0).
///
/// # Safety
/// `v` live.
#[no_mangle]
pub unsafe extern "C" fn mp_value_set_i64(v: *mut mp_array, value: i64) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { mp_array_set_i64(v, 0, value) }
}

/// A Value as a double (`mp_array_get_f64` of element 0).
///
/// # Safety
/// `v` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_value_get_f64(v: *mut mp_array, out: *mut f64) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { mp_array_get_f64(v, 0, out) }
}

/// Sets a float Value (`mp_array_set_f64` of element 0).
///
/// # Safety
/// `v` live.
#[no_mangle]
pub unsafe extern "C" fn mp_value_set_f64(v: *mut mp_array, value: f64) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { mp_array_set_f64(v, 0, value) }
}

/// Unmaps and frees the handle (the array stays until unlinked). NULL is a
/// no-op.
///
/// # Safety
/// `a` is NULL or live, and not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn mp_array_close(a: *mut mp_array) {
    // SAFETY: per the contract.
    super::boundary::boundary_or((), || unsafe { super::boundary::free_handle(a) })
}

/// Removes the name (arrays and Values share it); open handles keep working.
///
/// # Safety
/// `name` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mp_array_unlink(name: *const c_char) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { unlink_named(name, Array::unlink) }
}

/// Whether the calling thread holds the array's lock (see
/// `mp_lock_held_by_me`).
///
/// # Returns
/// `MP_OK`; `MP_E_UNSUPPORTED` (created without a lock).
///
/// # Safety
/// `a` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_array_lock_held_by_me(a: *mut mp_array, out: *mut bool) -> mp_status {
    // SAFETY: a is a live handle or NULL (checked); out per the contract.
    unsafe { with_handle(a, |a| result_out(a.lock_held_by_me(), out)) }
}

/// Whether any thread of any process holds the array's lock, read without
/// acquiring it (see `mp_lock_locked`).
///
/// # Returns
/// `MP_OK`; `MP_E_UNSUPPORTED` (created without a lock).
///
/// # Safety
/// `a` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_array_locked(a: *mut mp_array, out: *mut bool) -> mp_status {
    // SAFETY: a is a live handle or NULL (checked); out per the contract.
    unsafe { with_handle(a, |a| result_out(a.is_locked(), out)) }
}

/// The calling thread's recursion depth on the array's lock, 0 when it
/// does not hold it (see `mp_lock_depth`).
///
/// # Returns
/// `MP_OK`; `MP_E_UNSUPPORTED` (created without a lock).
///
/// # Safety
/// `a` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn mp_array_lock_depth(a: *mut mp_array, out: *mut u32) -> mp_status {
    // SAFETY: a is a live handle or NULL (checked); out per the contract.
    unsafe { with_handle(a, |a| result_out(a.lock_depth(), out)) }
}

/// Writes a query's answer to `out`, or reports its error (`out` untouched).
///
/// # Safety
/// `out` is NULL or writable.
unsafe fn result_out<T>(r: mpipc::error::Result<T>, out: *mut T) -> mp_status {
    match r {
        // SAFETY: forwarded contract (NULL is reported, not written).
        Ok(v) => unsafe { write_out(out, v) },
        Err(e) => set_last_error(&e),
    }
}
