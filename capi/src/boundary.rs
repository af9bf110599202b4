//! Plumbing every `extern "C"` function goes through: the panic boundary,
//! NULL checks, handle casts and poisoning.
//!
//! Pattern from rustls-ffi (`ffi_panic_boundary!`, `Castable`) and hyper's C
//! API (`ffi_fn!`, `non_null!`): each exported body is wrapped once, so a
//! Rust panic can never unwind into C, and every pointer is checked before
//! it is dereferenced.

use super::status::{mp_status, set_last_error, MP_E_NULL, MP_E_PANIC, MP_E_POISONED, MP_OK};
use mpipc::error::{Error, ErrorKind, Result};
use std::any::Any;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

/// Runs `body` (returning `mp_status`), turning a panic into `MP_E_PANIC`
/// with the panic message in the last-error slot.
pub(crate) fn boundary(body: impl FnOnce() -> mp_status) -> mp_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(status) => status,
        Err(payload) => {
            set_last_error(&Error::new(ErrorKind::Panic, format!("panic in mpipc: {}", panic_text(&*payload))));
            MP_E_PANIC
        }
    }
}

/// Runs an infallible `body`, returning `default` if it panics.
pub(crate) fn boundary_or<T>(default: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(default)
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}

/// Converts a core result to a status, recording the error's message.
pub(crate) fn status_of(r: Result<()>) -> mp_status {
    match r {
        Ok(()) => MP_OK,
        Err(e) => set_last_error(&e),
    }
}

/// Views C's batch arguments (`data` holding `n` messages back to back,
/// `lens[i]` bytes each) as slices.
///
/// # Safety
/// `lens` holds `n` lengths (NULL if `n` is 0); `data` holds their sum.
pub(crate) unsafe fn split_messages<'a>(
    data: *const u8,
    lens: *const usize,
    n: usize,
) -> std::result::Result<Vec<&'a [u8]>, mp_status> {
    // SAFETY: per the contract.
    let lens = unsafe { bytes_arg_mut(lens.cast_mut(), n, "lens")? };
    let Some(total) = lens.iter().try_fold(0usize, |a, &l| a.checked_add(l)) else {
        return Err(set_last_error(&Error::new(ErrorKind::Invalid, "message lengths overflow")));
    };
    // SAFETY: per the contract.
    let data = unsafe { bytes_arg(data, total, "data")? };
    let mut off = 0;
    Ok(lens
        .iter()
        .map(|&l| {
            off += l;
            &data[off - l..off]
        })
        .collect())
}

/// Reads the `(address, authkey, keylen)` arguments shared by every
/// function that binds or connects, as the address and the options.
///
/// # Safety
/// `address` is NULL or NUL-terminated; `authkey` points to `keylen` bytes
/// (NULL if 0).
pub(crate) unsafe fn endpoint_args<'a>(
    address: *const c_char,
    authkey: *const u8,
    keylen: usize,
) -> std::result::Result<(&'a str, mpipc::pipe::ListenerOptions), mp_status> {
    // SAFETY: per the contract.
    let (address, key) = unsafe { (str_arg(address, "address")?, bytes_arg(authkey, keylen, "authkey")?) };
    Ok((address, mpipc::pipe::ListenerOptions { authkey: Some(key.to_vec()), ..Default::default() }))
}

/// Copies `text` NUL-terminated into `buf`: `MP_OK` with its length in
/// `*out_len`, or `MP_E_BUFSIZE` with the size needed (length + 1).
///
/// # Safety
/// `buf` has `cap` writable bytes (or is NULL); `out_len` is valid.
pub(crate) unsafe fn copy_text_out(text: &str, buf: *mut c_char, cap: usize, out_len: *mut usize) -> mp_status {
    // SAFETY: per the contract.
    unsafe {
        if buf.is_null() || cap < text.len() + 1 {
            *out_len = text.len() + 1;
            return set_last_error(&Error::buf_size(text.len() + 1));
        }
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        *buf.add(text.len()) = 0;
        *out_len = text.len();
    }
    MP_OK
}

/// The status of a receive-into-buffer call: on `Ok(n)` writes `n` to
/// `*out_len`; on [`ErrorKind::BufSize`] writes the size needed (the one
/// documented exception to "outputs only on success").
///
/// # Safety
/// `out_len` is non-NULL and writable.
pub(crate) unsafe fn len_status(r: Result<usize>, out_len: *mut usize) -> mp_status {
    match r {
        Ok(n) => {
            // SAFETY: per the contract.
            unsafe { *out_len = n };
            MP_OK
        }
        Err(e) => {
            if e.kind() == ErrorKind::BufSize {
                // SAFETY: per the contract.
                unsafe { *out_len = e.needed() };
            }
            set_last_error(&e)
        }
    }
}

/// Records a NULL-argument error for `what` and returns `MP_E_NULL`.
pub(crate) fn null_arg(what: &str) -> mp_status {
    set_last_error(&Error::new(ErrorKind::Null, format!("argument `{what}` is NULL")));
    MP_E_NULL
}

/// Returns early with `MP_E_NULL` if any of the pointers is NULL.
macro_rules! check_not_null {
    ($($p:ident),+ $(,)?) => {
        $( if $p.is_null() { return $crate::boundary::null_arg(stringify!($p)); } )+
    };
}
pub(crate) use check_not_null;

/// Evaluates a `Result`, returning its error as a status on failure.
macro_rules! try_status {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(err) => return $crate::status::set_last_error(&err),
        }
    };
}
pub(crate) use try_status;

/// Evaluates an argument conversion ([`str_arg`], [`bytes_arg`],
/// [`bytes_arg_mut`], [`endpoint_args`], [`split_messages`], ...: a
/// `Result<T, mp_status>` whose error the conversion has already recorded
/// in the last-error slot) and returns the status early on failure.
///
/// rustls-ffi's `try_ref_from_ptr!` / `try_slice!` shape: the conversion
/// and the early return are one expression at the call site, so the
/// arguments are converted one after the other and the first bad one is
/// both the status returned and the message left in the slot.
macro_rules! try_arg {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(status) => return status,
        }
    };
}
pub(crate) use try_arg;

/// Reads a C string argument as UTF-8.
///
/// # Safety
/// `p` must be NULL or a NUL-terminated string valid for the call.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> std::result::Result<&'a str, mp_status> {
    if p.is_null() {
        return Err(null_arg(what));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|_| set_last_error(&Error::new(ErrorKind::Invalid, format!("argument `{what}` is not UTF-8"))))
}

/// Views a C `(pointer, length)` argument as a slice; NULL is allowed for an
/// empty slice.
///
/// # Safety
/// If `len > 0`, `p` must point to `len` readable bytes valid for the call.
pub(crate) unsafe fn bytes_arg<'a>(p: *const u8, len: usize, what: &str) -> std::result::Result<&'a [u8], mp_status> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(null_arg(what));
    }
    check_len::<u8>(len, what)?;
    // SAFETY: non-NULL with `len` readable bytes per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// No real buffer is longer than `isize::MAX` bytes; a length beyond that is
/// a caller bug, refused before a slice (whose size must fit) is made.
fn check_len<T>(len: usize, what: &str) -> std::result::Result<(), mp_status> {
    match len.checked_mul(std::mem::size_of::<T>()) {
        Some(bytes) if bytes <= isize::MAX as usize => Ok(()),
        _ => {
            Err(set_last_error(&Error::new(ErrorKind::Invalid, format!("argument `{what}`: impossible length {len}"))))
        }
    }
}

/// Mutable counterpart of [`bytes_arg`].
///
/// # Safety
/// If `len > 0`, `p` must point to `len` writable bytes valid for the call
/// and not aliased.
pub(crate) unsafe fn bytes_arg_mut<'a, T>(
    p: *mut T,
    len: usize,
    what: &str,
) -> std::result::Result<&'a mut [T], mp_status> {
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(null_arg(what));
    }
    check_len::<T>(len, what)?;
    // SAFETY: non-NULL with `len` writable elements per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, len) })
}

/// `flags` of every named object's `mp_<kind>_open`: creation mode in
/// the low bits (`MP_OPEN_CREATE_ONLY`, `MP_OPEN_ATTACH_ONLY`),
/// `MP_OPEN_ANY_OWNER`, plus the kind's own flags in `kind_flags`. Unknown
/// bits are `MP_E_INVAL`.
pub(crate) fn open_options(flags: u32, kind_flags: u32) -> Result<mpipc::sync::OpenOptions> {
    use crate::{MP_OPEN_ANY_OWNER, MP_OPEN_ATTACH_ONLY, MP_OPEN_CREATE_ONLY};
    let unknown = flags & !(MP_OPEN_CREATE_ONLY | MP_OPEN_ATTACH_ONLY | MP_OPEN_ANY_OWNER | kind_flags);
    if unknown != 0 {
        return Err(Error::new(ErrorKind::Invalid, format!("unknown flags {unknown:#x}")));
    }
    let open_mode = match flags & (MP_OPEN_CREATE_ONLY | MP_OPEN_ATTACH_ONLY) {
        0 => mpipc::segment::OpenMode::CreateOrAttach,
        MP_OPEN_CREATE_ONLY => mpipc::segment::OpenMode::CreateOnly,
        MP_OPEN_ATTACH_ONLY => mpipc::segment::OpenMode::AttachOnly,
        _ => return Err(Error::new(ErrorKind::Invalid, "MP_OPEN_CREATE_ONLY and MP_OPEN_ATTACH_ONLY together")),
    };
    Ok(mpipc::sync::OpenOptions { open_mode, mode: 0, any_owner: flags & MP_OPEN_ANY_OWNER != 0 })
}

/// The body of every `mp_<kind>_open`: checks `name` and `out`, parses
/// `flags` (see [`open_options`]), calls `open` and hands out the handle.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or writable.
pub(crate) unsafe fn open_named<C: Castable>(
    name: *const c_char,
    flags: u32,
    kind_flags: u32,
    out: *mut *mut C,
    open: impl FnOnce(&str, &mpipc::sync::OpenOptions) -> Result<C::Rust>,
) -> mp_status {
    boundary(|| {
        check_not_null!(out);
        // SAFETY: per the contract.
        let name = try_arg!(unsafe { str_arg(name, "name") });
        let opts = try_status!(open_options(flags, kind_flags));
        let obj = try_status!(open(name, &opts));
        // SAFETY: out is non-NULL and writable per the contract.
        unsafe { *out = into_handle::<C>(obj) };
        MP_OK
    })
}

/// The body of every `mp_<kind>_unlink`.
///
/// # Safety
/// `name` is NULL or NUL-terminated.
pub(crate) unsafe fn unlink_named(name: *const c_char, unlink: fn(&str) -> Result<()>) -> mp_status {
    boundary(|| {
        // SAFETY: per the contract.
        let name = try_arg!(unsafe { str_arg(name, "name") });
        status_of(unlink(name))
    })
}

/// The status of a lock acquisition: `MP_OK`, `MP_E_TIMEOUT`, or
/// `MP_E_OWNER_DEAD` (acquired from a dead holder).
pub(crate) fn acquire_status(r: Result<Option<mpipc::sync::LockState>>) -> mp_status {
    match r {
        Ok(Some(mpipc::sync::LockState::Clean)) => MP_OK,
        Ok(Some(mpipc::sync::LockState::OwnerDied)) => set_last_error(&Error::new(
            ErrorKind::OwnerDead,
            "acquired; the previous holder died holding the lock: check the data it guards",
        )),
        Ok(None) => set_last_error(&Error::new(ErrorKind::Timeout, "timed out waiting for the lock")),
        Err(e) => set_last_error(&e),
    }
}

/// The status of a wait that reports success as a bool: `MP_OK` for
/// true, `MP_E_TIMEOUT` (with `timeout_msg`) for false.
pub(crate) fn set_status_bool(r: Result<bool>, timeout_msg: &str) -> mp_status {
    match r {
        Ok(true) => MP_OK,
        Ok(false) => set_last_error(&Error::new(ErrorKind::Timeout, timeout_msg.to_owned())),
        Err(e) => set_last_error(&e),
    }
}

/// Writes `value` to `out` (checked non-NULL) and returns `MP_OK`.
///
/// # Safety
/// `out` is NULL or writable.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) -> mp_status {
    if out.is_null() {
        return null_arg("out");
    }
    // SAFETY: non-NULL and writable per the contract.
    unsafe { out.write(value) };
    MP_OK
}

/// The Rust object behind an opaque C handle, plus its poison flag.
pub(crate) struct Handle<T> {
    poisoned: AtomicBool,
    inner: T,
}

impl<T> Handle<T> {
    /// The object, for the few exported functions that cannot go through
    /// [`with_handle`] (infallible accessors, arrays of handles).
    pub(crate) fn inner(&self) -> &T {
        &self.inner
    }
}

/// Ties an opaque C handle type (e.g. `mpq`) to the Rust type it points to.
/// Every cast between the two goes through the functions below, never
/// through ad-hoc `as` casts. Handles are always `Box`-owned.
pub(crate) trait Castable {
    /// The Rust object behind the handle.
    type Rust;
}

/// Boxes `value` into a new handle for C.
pub(crate) fn into_handle<C: Castable>(value: C::Rust) -> *mut C {
    Box::into_raw(Box::new(Handle { poisoned: AtomicBool::new(false), inner: value })).cast()
}

/// Frees a handle made by [`into_handle`]; NULL is a no-op.
///
/// # Safety
/// `p` is NULL or came from `into_handle::<C>` and is not used afterwards.
pub(crate) unsafe fn free_handle<C: Castable>(p: *mut C) {
    if !p.is_null() {
        // SAFETY: per the contract, `p` is a live Box<Handle<C::Rust>>.
        drop(unsafe { Box::from_raw(p.cast::<Handle<C::Rust>>()) });
    }
}

/// Runs `f` on the object behind handle `p` inside the panic boundary:
/// NULL gives `MP_E_NULL`, a poisoned handle `MP_E_POISONED`, and a panic in
/// `f` poisons the handle and gives `MP_E_PANIC`.
///
/// # Safety
/// `p` is NULL or a live handle made by `into_handle::<C>`.
pub(crate) unsafe fn with_handle<C: Castable>(p: *const C, f: impl FnOnce(&C::Rust) -> mp_status) -> mp_status {
    if p.is_null() {
        return null_arg("handle");
    }
    // SAFETY: per the contract, `p` points to a live Handle<C::Rust>; handles
    // are only read through shared references (the core types are Sync).
    let h = unsafe { &*p.cast::<Handle<C::Rust>>() };
    // Relaxed: the flag guards no other data; a call racing with the panic
    // that poisons the handle may run once more, which is harmless.
    if h.poisoned.load(Ordering::Relaxed) {
        set_last_error(&Error::new(ErrorKind::Poisoned, "handle poisoned by an earlier panic; close it"));
        return MP_E_POISONED;
    }
    let status = boundary(|| f(&h.inner));
    if status == MP_E_PANIC {
        h.poisoned.store(true, Ordering::Relaxed);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::last_error_text;

    struct Dummy {
        _p: [u8; 0],
    }
    impl Castable for Dummy {
        type Rust = u32;
    }

    #[test]
    fn panics_become_status_and_poison_the_handle() {
        let h: *mut Dummy = into_handle::<Dummy>(7);
        // SAFETY: h is a live handle for the whole test.
        unsafe {
            assert_eq!(with_handle(h, |v| if *v == 7 { MP_OK } else { MP_E_NULL }), MP_OK);
            assert_eq!(with_handle(h, |_| panic!("boom")), MP_E_PANIC);
            assert!(last_error_text().contains("boom"));
            assert_eq!(with_handle(h, |_| MP_OK), MP_E_POISONED);
            free_handle(h);
            free_handle::<Dummy>(std::ptr::null_mut());
            assert_eq!(with_handle::<Dummy>(std::ptr::null(), |_| MP_OK), MP_E_NULL);
        }
        assert_eq!(boundary_or(5, || panic!("x")), 5);
        assert_eq!(boundary(|| std::panic::panic_any(42u8)), MP_E_PANIC);
        assert!(last_error_text().contains("unknown panic payload"));
    }

    #[test]
    fn argument_helpers() {
        // SAFETY: the pointers passed are NULL or valid for their lengths.
        unsafe {
            assert_eq!(bytes_arg(std::ptr::null(), 0, "d").unwrap(), &[] as &[u8]);
            assert_eq!(bytes_arg(std::ptr::null(), 3, "d").unwrap_err(), MP_E_NULL);
            let x = 0u8;
            assert_eq!(bytes_arg(&x, usize::MAX, "d").unwrap_err(), crate::status::MP_E_INVAL);
            let mut y = 0usize;
            assert_eq!(bytes_arg_mut(&mut y, usize::MAX / 4, "lens").unwrap_err(), crate::status::MP_E_INVAL);
            assert_eq!(str_arg(std::ptr::null(), "name").unwrap_err(), MP_E_NULL);
            assert_eq!(str_arg(c"\xff".as_ptr(), "name").unwrap_err(), crate::status::MP_E_INVAL);
            assert_eq!(str_arg(c"ok".as_ptr(), "name").unwrap(), "ok");
        }
    }

    #[test]
    fn try_arg_stops_at_the_first_bad_argument() {
        fn two(a: *const c_char, b: *const c_char) -> mp_status {
            // SAFETY: the test passes NULL or NUL-terminated strings.
            let _a = try_arg!(unsafe { str_arg(a, "a") });
            // SAFETY: as above.
            let _b = try_arg!(unsafe { str_arg(b, "b") });
            MP_OK
        }
        assert_eq!(two(c"x".as_ptr(), c"y".as_ptr()), MP_OK);
        // Both bad: the status and the message are the first one's.
        assert_eq!(two(std::ptr::null(), c"\xff".as_ptr()), MP_E_NULL);
        assert!(last_error_text().contains("`a`"), "{}", last_error_text());
        assert_eq!(two(c"x".as_ptr(), c"\xff".as_ptr()), crate::status::MP_E_INVAL);
        assert!(last_error_text().contains("`b`"), "{}", last_error_text());
    }
}
