//! `mp_mgr_*`: a client connection to a manager.

use super::boundary::{
    boundary, boundary_or, bytes_arg, bytes_arg_mut, check_not_null, endpoint_args, free_handle, into_handle,
    len_status, str_arg, try_arg, try_status, with_handle, Castable,
};
use super::bytes::mp_buf;
use super::json::{cbor_of_json_arg, json_of_received};
use super::status::{mp_status, set_last_error, MP_OK};
use super::timeout_of_ms;
use ciborium::Value;
use mpipc::error::{Error, ErrorKind, Result};
use mpipc::manager::cbor::encode_i64;
use mpipc::manager::protocol::decode_value;
use mpipc::manager::{Item, ManagerClient, RawArgs};
use std::ffi::c_char;

/// A connection to a manager server (ours, embedded with `mp_mgr_serve`
/// or run by `mpipc manager serve`). Objects are addressed by kind and
/// name and created on first use.
///
/// Created by `mp_mgr_connect`, freed by `mp_mgr_close`. Thread-safe:
/// calls from several threads are serialised.
///
/// Under the hood: `Box<ManagerClient>` owning one connection.
///
/// Methods: `mp_mgr_connect`, `mp_mgr_call`, `mp_mgr_call_many`, `mp_mgr_dict_set`,
/// `mp_mgr_dict_get`, `mp_mgr_dict_get_into`, `mp_mgr_dict_version`,
/// `mp_mgr_dict_del`, `mp_mgr_dict_len`, `mp_mgr_dict_incr`,
/// `mp_mgr_set_spin`, `mp_mgr_set_local_reads`, `mp_mgr_reconnect`,
/// `mp_mgr_is_connected`, `mp_mgr_close`; JSON (docs/TYPES.md, "JSON
/// bridge"): `mp_mgr_dict_set_json`, `mp_mgr_dict_get_json`.
///
/// When the server goes away, the call that notices fails with `MP_E_EOF`
/// ("connection to the manager at ... lost"), and so does every later call
/// until `mp_mgr_reconnect`. Nothing is retried automatically: a call whose
/// reply never came may or may not have been applied, and a restarted
/// server starts empty. A manager at a Redis address (see `mp_mgr_connect`)
/// keeps its data on the server: there the next call after `MP_E_EOF`
/// connects again by itself.
pub struct mp_mgr {
    _private: [u8; 0],
}

impl Castable for mp_mgr {
    type Rust = ManagerClient;
}

/// Connects to the manager at `address` and authenticates with `authkey`
/// (if `keylen > 0`), within `timeout_ms`.
///
/// `address` may be a Redis (>= 7.0) or Valkey (>= 7.2) server:
/// `redis://[user[:password]@]host[:port][/db][?ns=NAME&lease_ms=N&timeout_ms=N]`
/// or `redis+unix:///path/to/redis.sock[?db=N&...]` (docs/REDIS.md). The
/// objects then live on that server (set, condition, barrier and array are
/// `MP_E_UNSUPPORTED` there; locks and semaphores are leases); `authkey`
/// is the password when the address has none.
///
/// # Returns
/// `MP_OK`; `MP_E_AUTH`; `MP_E_TIMEOUT`; `MP_E_NOTFOUND` (no server);
/// `MP_E_INVAL`; at a Redis address `MP_E_IO` (unreachable), `MP_E_INVAL`
/// naming the wrong part of a bad address, `MP_E_VERSION` (an older
/// server).
///
/// # Safety
/// `address` is a NUL-terminated string; `authkey` points to `keylen`
/// bytes (NULL if 0); `out` is valid.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_connect(
    address: *const c_char,
    authkey: *const u8,
    keylen: usize,
    timeout_ms: i64,
    out: *mut *mut mp_mgr,
) -> mp_status {
    boundary(|| {
        check_not_null!(out);
        // SAFETY: per the contract.
        let (address, opts) = try_arg!(unsafe { endpoint_args(address, authkey, keylen) });
        let c = try_status!(ManagerClient::connect(address, &opts, timeout_of_ms(timeout_ms)));
        // SAFETY: out is non-NULL and writable.
        unsafe { *out = into_handle::<mp_mgr>(c) };
        MP_OK
    })
}

/// Calls any method of any object: the one entry point bindings need.
/// `args_cbor` is a CBOR array of the arguments; the result comes back
/// CBOR-encoded in `*result_cbor` (free with `mp_buf_free`). Methods,
/// arguments and results: docs/PROTOCOL.md §4.
///
/// # Returns
/// `MP_OK`; a server-side failure as its own status with the server's
/// message in `mp_last_error_message`: `MP_E_NOTFOUND` (KeyError, missing
/// attribute, value not in list), `MP_E_INDEX` (IndexError), `MP_E_TYPE`
/// (wrong argument type, unhashable key, kind mismatch),
/// `MP_E_UNSUPPORTED` (unknown kind or method), `MP_E_INVAL` (wrong
/// argument count, invalid CBOR), `MP_E_PERM` (release of a lock not held);
/// `MP_E_TOOBIG` (the request exceeds the server's 64 MiB limit: nothing
/// sent, the connection kept); transport failures: `MP_E_EOF` (the
/// connection is lost, see `mp_mgr_reconnect`), `MP_E_IO`.
///
/// # Safety
/// `m` live; `kind`, `name`, `method` NUL-terminated; `args_cbor` points to
/// `args_len` bytes; `result_cbor` valid.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_call(
    m: *mut mp_mgr,
    kind: *const c_char,
    name: *const c_char,
    method: *const c_char,
    args_cbor: *const u8,
    args_len: usize,
    result_cbor: *mut mp_buf,
) -> mp_status {
    // SAFETY: m is a live handle or NULL (checked).
    unsafe {
        with_handle(m, |c| {
            check_not_null!(result_cbor);
            let kind = try_arg!(str_arg(kind, "kind"));
            let name = try_arg!(str_arg(name, "name"));
            let method = try_arg!(str_arg(method, "method"));
            let args = try_arg!(bytes_arg(args_cbor, args_len, "args_cbor"));
            let out = try_status!(c.call_encoded(kind, name, method, args));
            *result_cbor = mp_buf::from_vec(out);
            MP_OK
        })
    }
}

/// Sends many requests before reading any reply (pipelining: one write
/// for the batch, the server answers in order): the throughput path.
/// `reqs_cbor` is a CBOR array of `[kind, name, method, args]`;
/// `*results_cbor` receives a CBOR array of `[status, result]` in the same
/// order (status 0 = success and `result` the value; else an `MP_E_*` code
/// and the server's message). Free it with `mp_buf_free`.
///
/// # Returns
/// `MP_OK` when every reply arrived (each may still hold an error);
/// `MP_E_INVAL` for malformed requests (nothing sent); transport failures.
///
/// # Safety
/// `m` live; `reqs_cbor` points to `len` bytes; `results_cbor` valid.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_call_many(
    m: *mut mp_mgr,
    reqs_cbor: *const u8,
    len: usize,
    results_cbor: *mut mp_buf,
) -> mp_status {
    // SAFETY: m is a live handle or NULL (checked); the rest per the contract.
    unsafe {
        with_handle(m, |c| {
            check_not_null!(results_cbor);
            let reqs = try_arg!(bytes_arg(reqs_cbor, len, "reqs_cbor"));
            let out = try_status!(c.pipeline_encoded(reqs));
            *results_cbor = mp_buf::from_vec(out);
            MP_OK
        })
    }
}

/// Checks one CBOR item passed by C (well-formed, without decoding or
/// allocating: it is sent as it is).
unsafe fn item<'a>(p: *const u8, len: usize, what: &str) -> std::result::Result<Item<'a>, mp_status> {
    // SAFETY: per the caller's contract.
    let bytes = unsafe { bytes_arg(p, len, what)? };
    Item::new(bytes).map_err(|e| set_last_error(&Error::new(ErrorKind::Invalid, format!("{what}: {}", e.message()))))
}

/// Calls `method` on the dict named `dict` with `args`, handing the
/// result's bytes, as they arrived, to `read`.
fn dict_call<T>(
    c: &ManagerClient,
    dict: *const c_char,
    method: &str,
    args: &[Item<'_>],
    read: impl FnOnce(&[u8]) -> Result<T>,
) -> std::result::Result<T, mp_status> {
    // SAFETY: dict is NUL-terminated per the callers' contracts.
    let dict = unsafe { str_arg(dict, "dict")? };
    c.call_raw("dict", dict, method, RawArgs::Items(args), read).map_err(|e| set_last_error(&e))
}

/// `dict[key] = val` on the dict named `dict`; `key` and `val` are CBOR
/// items.
///
/// # Safety
/// `m` live; `dict` NUL-terminated; `key`/`val` point to `klen`/`vlen` bytes.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_dict_set(
    m: *mut mp_mgr,
    dict: *const c_char,
    key: *const u8,
    klen: usize,
    val: *const u8,
    vlen: usize,
) -> mp_status {
    // SAFETY: m is a live handle or NULL (checked); the rest per the contract.
    unsafe {
        with_handle(m, |c| {
            let k = try_arg!(item(key, klen, "key"));
            let v = try_arg!(item(val, vlen, "val"));
            dict_call(c, dict, "set", &[k, v], |_| Ok(())).map_or_else(|s| s, |()| MP_OK)
        })
    }
}

/// `dict[key]` as a CBOR item in `*val` (free with `mp_buf_free`).
///
/// # Returns
/// `MP_OK`; `MP_E_NOTFOUND` when the key is absent.
///
/// # Safety
/// `m` live; `dict` NUL-terminated; `key` points to `klen` bytes; `val` valid.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_dict_get(
    m: *mut mp_mgr,
    dict: *const c_char,
    key: *const u8,
    klen: usize,
    val: *mut mp_buf,
) -> mp_status {
    // SAFETY: m is a live handle or NULL (checked); the rest per the contract.
    unsafe {
        with_handle(m, |c| {
            check_not_null!(val);
            let k = try_arg!(item(key, klen, "key"));
            match dict_call(c, dict, "get", &[k], |r| Ok(r.to_vec())) {
                Ok(v) => {
                    *val = mp_buf::from_vec(v);
                    MP_OK
                }
                Err(s) => s,
            }
        })
    }
}

/// `dict[key]` into the caller's buffer: the value's CBOR item, its
/// length in `*out_len`. Allocates nothing: with a buffer that fits, a
/// read served from the local replica (docs/PROTOCOL.md, the dict
/// `replica` method) is one copy. The fast path of the bindings.
///
/// If `out_version` is not NULL, it receives the version the value was
/// read at (see `mp_mgr_dict_version`): 0 when a round trip served it.
///
/// # Returns
/// `MP_OK`; `MP_E_NOTFOUND` when the key is absent; `MP_E_BUFSIZE` if
/// `cap` is too small: `*out_len` holds the size needed (call again with a
/// larger buffer: the read is simply repeated, and may see a newer
/// value); otherwise as `mp_mgr_dict_get`.
///
/// # Safety
/// `m` live; `dict` NUL-terminated; `key` points to `klen` bytes; `buf`
/// has `cap` writable bytes (NULL if 0); `out_len` valid; `out_version`
/// valid or NULL.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_dict_get_into(
    m: *mut mp_mgr,
    dict: *const c_char,
    key: *const u8,
    klen: usize,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
    out_version: *mut u64,
) -> mp_status {
    // SAFETY: m is a live handle or NULL (checked); the rest per the contract.
    unsafe {
        with_handle(m, |c| {
            check_not_null!(out_len);
            let k = try_arg!(item(key, klen, "key"));
            let buf = try_arg!(bytes_arg_mut(buf, cap, "buf"));
            let dict = try_arg!(str_arg(dict, "dict"));
            let got = c.dict_get_versioned(dict, k, |r| {
                let dst = buf.get_mut(..r.len()).ok_or_else(|| Error::buf_size(r.len()))?;
                dst.copy_from_slice(r);
                Ok(r.len())
            });
            if let (Ok((_, v)), false) = (&got, out_version.is_null()) {
                *out_version = *v;
            }
            len_status(got.map(|(n, _)| n), out_len)
        })
    }
}

/// A number that changes whenever the local replica of the dict named
/// `dict` changes (every change to the dict moves it), in `*out`; 0 when
/// this handle does not read it locally (no replica mapped yet, a write
/// under way, local reads off, the connection lost). Two equal non-zero
/// versions mean the dict did not change in between, so a value read at
/// a version (`mp_mgr_dict_get_into`) may be served again, without the
/// library, while the version stays the same: the Python binding's cache.
///
/// # Safety
/// `m` live; `dict` NUL-terminated; `out` valid.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_dict_version(m: *mut mp_mgr, dict: *const c_char, out: *mut u64) -> mp_status {
    // SAFETY: m is a live handle or NULL (checked); the rest per the contract.
    unsafe {
        with_handle(m, |c| {
            check_not_null!(out);
            let dict = try_arg!(str_arg(dict, "dict"));
            *out = c.local_version(dict);
            MP_OK
        })
    }
}

/// `del dict[key]`.
///
/// # Returns
/// `MP_OK`; `MP_E_NOTFOUND` when the key is absent.
///
/// # Safety
/// `m` live; `dict` NUL-terminated; `key` points to `klen` bytes.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_dict_del(
    m: *mut mp_mgr,
    dict: *const c_char,
    key: *const u8,
    klen: usize,
) -> mp_status {
    // SAFETY: m is a live handle or NULL (checked); the rest per the contract.
    unsafe {
        with_handle(m, |c| {
            let k = try_arg!(item(key, klen, "key"));
            dict_call(c, dict, "del", &[k], |_| Ok(())).map_or_else(|s| s, |()| MP_OK)
        })
    }
}

/// `len(dict)` in `*out`.
///
/// # Safety
/// `m` live; `dict` NUL-terminated; `out` valid.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_dict_len(m: *mut mp_mgr, dict: *const c_char, out: *mut usize) -> mp_status {
    // SAFETY: m is a live handle or NULL (checked); the rest per the contract.
    unsafe {
        with_handle(m, |c| {
            check_not_null!(out);
            match dict_call(c, dict, "len", &[], int_of) {
                Ok(n) => {
                    *out = n as usize;
                    MP_OK
                }
                Err(s) => s,
            }
        })
    }
}

/// Atomically adds `delta` to the integer at `dict[key]` (a missing key
/// counts as 0) and writes the new value to `*out_new`.
///
/// # Returns
/// `MP_OK`; `MP_E_TYPE` if the value is not an integer; `MP_E_INVAL` on
/// 64-bit overflow.
///
/// # Safety
/// `m` live; `dict` NUL-terminated; `key` points to `klen` bytes; `out_new`
/// valid.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_dict_incr(
    m: *mut mp_mgr,
    dict: *const c_char,
    key: *const u8,
    klen: usize,
    delta: i64,
    out_new: *mut i64,
) -> mp_status {
    // SAFETY: m is a live handle or NULL (checked); the rest per the contract.
    unsafe {
        with_handle(m, |c| {
            check_not_null!(out_new);
            let k = try_arg!(item(key, klen, "key"));
            let mut buf = [0u8; 9];
            let d = Item::new(encode_i64(delta, &mut buf)).expect("an encoded integer is one item");
            match dict_call(c, dict, "incr", &[k, d], int_of) {
                Ok(n) => {
                    *out_new = n;
                    MP_OK
                }
                Err(s) => s,
            }
        })
    }
}

/// The integer a result encodes (`MP_E_CORRUPT` for anything else, or
/// one outside i64).
fn int_of(r: &[u8]) -> Result<i64> {
    match decode_value(r) {
        Ok(Value::Integer(i)) => {
            i64::try_from(i128::from(i)).map_err(|_| Error::new(ErrorKind::Corrupt, "integer out of range"))
        }
        _ => Err(Error::new(ErrorKind::Corrupt, "the manager answered a non-integer")),
    }
}

/// Sets how long a call busy-polls for its reply before sleeping, in
/// microseconds (default 50; 0 = sleep at once). Spinning cuts the round
/// trip from tens of microseconds (a wake-up) to a few, at the cost of CPU.
/// It happens only while a CPU is idle: beside CPU-bound processes a call
/// sleeps at once (see docs/DECISIONS.md, "Spinning only while a CPU is
/// idle").
///
/// # Safety
/// `m` live.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_set_spin(m: *mut mp_mgr, spin_us: u32) -> mp_status {
    // SAFETY: m is a live handle or NULL (checked).
    unsafe {
        with_handle(m, |c| {
            c.set_spin_us(spin_us);
            MP_OK
        })
    }
}

/// Turns local dict reads on (`true`, the default) or off for this
/// handle. On, a dict's `get`, `contains` and `len` over a Unix socket are
/// read from a replica the server keeps in shared memory, mapped
/// read-only, without a round trip (docs/PROTOCOL.md, the dict `replica`
/// method): the same results and errors, the same linearizable semantics.
/// Over TCP the round trip is always used. The environment variable
/// `MPIPC_MGR_LOCAL_READS=0` turns them off for every handle of a process
/// (read when a handle connects).
///
/// # Safety
/// `m` live.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_set_local_reads(m: *mut mp_mgr, on: bool) -> mp_status {
    // SAFETY: m is a live handle or NULL (checked).
    unsafe {
        with_handle(m, |c| {
            c.set_local_reads(on);
            MP_OK
        })
    }
}

/// Dials the handle's address again with its authkey, replacing the current
/// connection (lost or not), and waits up to `timeout_ms` (-1 = for ever)
/// for a server to accept: while none listens there (it is restarting),
/// the dial is retried every few milliseconds. The handle keeps its spin
/// setting. A restarted server holds none of the old objects: recreate
/// what you need. Locks held through the old connection are released by
/// the server when it notices the disconnect.
///
/// # Returns
/// `MP_OK` (connected); `MP_E_TIMEOUT` (no server accepted in time; the
/// handle stays disconnected and calls fail with `MP_E_EOF`); `MP_E_AUTH`
/// (the server refused the key); `MP_E_NULL`.
///
/// Meanwhile other calls on the same handle (from other threads) wait for
/// it, `mp_mgr_is_connected` too: bindings that must stay responsive call
/// it with short timeouts in a loop. A server that accepts gets at least
/// one second for the authkey handshake, even past `timeout_ms`. Unlike
/// this, `mp_mgr_connect` does not wait for a server to appear (no server:
/// `MP_E_NOTFOUND` at once, as Python's `Client`).
///
/// # Safety
/// `m` live.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_reconnect(m: *mut mp_mgr, timeout_ms: i64) -> mp_status {
    // SAFETY: m is a live handle or NULL (checked).
    unsafe {
        with_handle(m, |c| {
            try_status!(c.reconnect(timeout_of_ms(timeout_ms)));
            MP_OK
        })
    }
}

/// Stores in `*out` whether the handle has a connection: false once a call
/// found it lost (until `mp_mgr_reconnect` succeeds). A server that died
/// since the last call is noticed by the next call, not here.
///
/// # Returns
/// `MP_OK`; `MP_E_NULL`.
///
/// # Safety
/// `m` live; `out` valid.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_is_connected(m: *mut mp_mgr, out: *mut bool) -> mp_status {
    // SAFETY: m is a live handle or NULL (checked).
    unsafe {
        with_handle(m, |c| {
            check_not_null!(out);
            *out = c.is_connected();
            MP_OK
        })
    }
}

/// Closes the connection and frees the handle. Locks and semaphores this
/// connection holds on the server are released. NULL is a no-op.
///
/// # Safety
/// `m` is NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_close(m: *mut mp_mgr) {
    // SAFETY: per the contract.
    boundary_or((), || unsafe { free_handle(m) })
}

/// `dict[key] = val` on the dict named `dict`, key and value given as
/// JSON texts (converted as `mp_json_to_cbor` converts them; docs/TYPES.md,
/// "JSON bridge"): `mp_mgr_dict_set_json(m, "jobs", "\"j1\"",
/// "{\"id\": 1}")` is Python's `jobs["j1"] = {"id": 1}`. A text key is a
/// JSON string, quotes included.
///
/// # Arguments
/// - `key_json`, `val_json`: the texts, UTF-8 and NUL-terminated.
///
/// # Returns
/// `MP_OK`; `MP_E_INVAL` (either text is not JSON, holds an extended form
/// with the wrong content or nests deeper than the limit: the message
/// names `key_json` or `val_json`; nothing is sent); `MP_E_TYPE` (a
/// PICKLE tag, or a key the manager cannot hash); otherwise as
/// `mp_mgr_dict_set`.
///
/// # Safety
/// `m` live; `dict`, `key_json`, `val_json` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_dict_set_json(
    m: *mut mp_mgr,
    dict: *const c_char,
    key_json: *const c_char,
    val_json: *const c_char,
) -> mp_status {
    // SAFETY: m is a live handle or NULL (checked); the rest per the contract.
    unsafe {
        with_handle(m, |c| {
            let k = try_arg!(cbor_of_json_arg(key_json, "key_json"));
            let v = try_arg!(cbor_of_json_arg(val_json, "val_json"));
            let k = try_arg!(item(k.as_ptr(), k.len(), "key_json"));
            let v = try_arg!(item(v.as_ptr(), v.len(), "val_json"));
            dict_call(c, dict, "set", &[k, v], |_| Ok(())).map_or_else(|s| s, |()| MP_OK)
        })
    }
}

/// `dict[key]` as JSON text, the key given as JSON text (both converted
/// as the JSON bridge converts them; docs/TYPES.md): a value Python stored
/// with `d["j1"] = {"id": 1}` reads `{"id":1}` with key `"\"j1\""`.
///
/// # Arguments
/// - `key_json`: the key, UTF-8 and NUL-terminated.
/// - `out_json`: receives the value on `MP_OK`, UTF-8 and NUL-terminated;
///   free it with `mp_json_free`.
///
/// # Returns
/// `MP_OK`; `MP_E_NOTFOUND` when the key is absent; `MP_E_INVAL` (the key
/// is not JSON, ...); `MP_E_TYPE` (the value holds a Python pickle, or an
/// integer of more than 4300 digits: read it with `mp_mgr_dict_get`);
/// otherwise as `mp_mgr_dict_get`.
///
/// # Safety
/// `m` live; `dict` and `key_json` NUL-terminated; `out_json` valid.
#[no_mangle]
pub unsafe extern "C" fn mp_mgr_dict_get_json(
    m: *mut mp_mgr,
    dict: *const c_char,
    key_json: *const c_char,
    out_json: *mut *mut c_char,
) -> mp_status {
    // SAFETY: m is a live handle or NULL (checked); the rest per the contract.
    unsafe {
        with_handle(m, |c| {
            check_not_null!(out_json);
            let k = try_arg!(cbor_of_json_arg(key_json, "key_json"));
            let k = try_arg!(item(k.as_ptr(), k.len(), "key_json"));
            match dict_call(c, dict, "get", &[k], |r| Ok(r.to_vec())) {
                Ok(v) => json_of_received(&v, "value", out_json),
                Err(s) => s,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::mp_buf_free;
    use crate::manager_server::*;
    use crate::status::*;
    use crate::status_text::mp_last_error;
    use mpipc::manager::protocol::encode_value;
    use std::ptr::{null, null_mut};

    fn cbor(v: &Value) -> Vec<u8> {
        encode_value(v)
    }

    #[test]
    fn manager_calls_as_c_would() {
        let addr = std::ffi::CString::new(format!("unix:@mpipc-ffi-mgr-{}", std::process::id())).unwrap();
        // SAFETY: every pointer is NULL (on purpose) or valid.
        unsafe {
            let mut s = null_mut();
            assert_eq!(mp_mgr_serve(addr.as_ptr(), b"k".as_ptr(), 1, &mut s), MP_OK);
            let mut need = 0usize;
            assert_eq!(mp_mgr_server_address(s, null_mut(), 0, &mut need), MP_E_BUFSIZE);
            let mut m = null_mut();
            assert_eq!(mp_mgr_connect(addr.as_ptr(), b"bad".as_ptr(), 3, 2000, &mut m), MP_E_AUTH);
            assert_eq!(mp_mgr_connect(addr.as_ptr(), b"k".as_ptr(), 1, 2000, &mut m), MP_OK);
            let key = cbor(&Value::Text("hits".into()));
            let mut n = 0i64;
            for _ in 0..3 {
                assert_eq!(mp_mgr_dict_incr(m, c"d".as_ptr(), key.as_ptr(), key.len(), 2, &mut n), MP_OK);
            }
            assert_eq!(n, 6);
            let val = cbor(&Value::Bytes(vec![1, 2, 3]));
            let k2 = cbor(&Value::Integer(7.into()));
            assert_eq!(mp_mgr_dict_set(m, c"d".as_ptr(), k2.as_ptr(), k2.len(), val.as_ptr(), val.len()), MP_OK);
            let mut b = mp_buf { ptr: null_mut(), len: 0 };
            assert_eq!(mp_mgr_dict_get(m, c"d".as_ptr(), k2.as_ptr(), k2.len(), &mut b), MP_OK);
            assert_eq!(std::slice::from_raw_parts(b.ptr, b.len), &val[..]);
            mp_buf_free(&mut b);
            let mut len = 0usize;
            assert_eq!(mp_mgr_dict_len(m, c"d".as_ptr(), &mut len), MP_OK);
            assert_eq!(len, 2);
            assert_eq!(mp_mgr_dict_del(m, c"d".as_ptr(), k2.as_ptr(), k2.len()), MP_OK);
            assert_eq!(mp_mgr_dict_del(m, c"d".as_ptr(), k2.as_ptr(), k2.len()), MP_E_NOTFOUND);
            assert_eq!(mp_mgr_dict_get(m, c"d".as_ptr(), k2.as_ptr(), k2.len(), &mut b), MP_E_NOTFOUND);
            assert!(std::ffi::CStr::from_ptr(mp_last_error()).to_str().unwrap().contains("KeyError"));
            assert_eq!(mp_mgr_dict_set(m, c"d".as_ptr(), b"\xff".as_ptr(), 1, val.as_ptr(), val.len()), MP_E_INVAL);
            let args = cbor(&Value::Array(vec![Value::Integer(1.into())]));
            assert_eq!(
                mp_mgr_call(m, c"list".as_ptr(), c"l".as_ptr(), c"append".as_ptr(), args.as_ptr(), args.len(), &mut b),
                MP_OK
            );
            mp_buf_free(&mut b);
            let none = cbor(&Value::Array(vec![]));
            assert_eq!(
                mp_mgr_call(m, c"list".as_ptr(), c"l".as_ptr(), c"pop".as_ptr(), none.as_ptr(), none.len(), &mut b),
                MP_OK
            );
            assert_eq!(decode_value(std::slice::from_raw_parts(b.ptr, b.len)).unwrap(), Value::Integer(1.into()));
            mp_buf_free(&mut b);
            assert_eq!(
                mp_mgr_call(m, c"list".as_ptr(), c"l".as_ptr(), c"pop".as_ptr(), none.as_ptr(), none.len(), &mut b),
                MP_E_INDEX
            );
            assert_eq!(
                mp_mgr_call(m, c"list".as_ptr(), c"l".as_ptr(), c"fly".as_ptr(), none.as_ptr(), none.len(), &mut b),
                MP_E_UNSUPPORTED
            );
            assert_eq!(
                mp_mgr_call(m, c"dict".as_ptr(), c"l".as_ptr(), c"len".as_ptr(), none.as_ptr(), none.len(), &mut b),
                MP_E_TYPE
            );
            assert_eq!(
                mp_mgr_call(m, c"list".as_ptr(), c"l".as_ptr(), c"len".as_ptr(), val.as_ptr(), val.len(), &mut b),
                MP_E_INVAL,
                "args must be an array"
            );
            assert_eq!(
                mp_mgr_call(m, null(), c"l".as_ptr(), c"len".as_ptr(), none.as_ptr(), none.len(), &mut b),
                MP_E_NULL
            );
            let reqs = cbor(&Value::Array(vec![
                Value::Array(vec![
                    Value::Text("dict".into()),
                    Value::Text("p".into()),
                    Value::Text("set".into()),
                    Value::Array(vec![Value::Integer(1.into()), Value::Integer(2.into())]),
                ]),
                Value::Array(vec![
                    Value::Text("dict".into()),
                    Value::Text("p".into()),
                    Value::Text("get".into()),
                    Value::Array(vec![Value::Integer(1.into())]),
                ]),
                Value::Array(vec![
                    Value::Text("dict".into()),
                    Value::Text("p".into()),
                    Value::Text("get".into()),
                    Value::Array(vec![Value::Integer(9.into())]),
                ]),
            ]));
            assert_eq!(mp_mgr_call_many(m, reqs.as_ptr(), reqs.len(), &mut b), MP_OK);
            let Value::Array(res) = decode_value(std::slice::from_raw_parts(b.ptr, b.len)).unwrap() else { panic!() };
            mp_buf_free(&mut b);
            assert_eq!(res[1], Value::Array(vec![Value::Integer(0.into()), Value::Integer(2.into())]));
            assert_eq!(res[2].as_array().unwrap()[0], Value::Integer(MP_E_NOTFOUND.into()));
            assert_eq!(mp_mgr_call_many(m, val.as_ptr(), val.len(), &mut b), MP_E_INVAL);
            mp_mgr_close(m);
            mp_mgr_close(null_mut());
            assert_eq!(mp_mgr_server_shutdown(s), MP_OK);
            assert_eq!(mp_mgr_server_shutdown(null_mut()), MP_E_NULL);
        }
    }

    #[test]
    fn reconnect_and_is_connected_as_c_would() {
        let addr = std::ffi::CString::new(format!("unix:@mpipc-ffi-mgr-re-{}", std::process::id())).unwrap();
        // SAFETY: every pointer is NULL (on purpose) or valid.
        unsafe {
            let mut s = null_mut();
            assert_eq!(mp_mgr_serve(addr.as_ptr(), null(), 0, &mut s), MP_OK);
            let mut m = null_mut();
            assert_eq!(mp_mgr_connect(addr.as_ptr(), null(), 0, 2000, &mut m), MP_OK);
            let mut up = false;
            assert_eq!(mp_mgr_is_connected(m, &mut up), MP_OK);
            assert!(up);
            assert_eq!(mp_mgr_is_connected(null_mut(), &mut up), MP_E_NULL);
            assert_eq!(mp_mgr_is_connected(m, null_mut()), MP_E_NULL);
            assert_eq!(mp_mgr_reconnect(null_mut(), 0), MP_E_NULL);
            // A reconnect of a live connection replaces it.
            assert_eq!(mp_mgr_reconnect(m, 2000), MP_OK);
            let key = cbor(&Value::Text("k".into()));
            let mut n = 0i64;
            assert_eq!(mp_mgr_dict_incr(m, c"d".as_ptr(), key.as_ptr(), key.len(), 1, &mut n), MP_OK);
            // The server goes away: the next call is MP_E_EOF, the handle
            // says it is disconnected, and a reconnect times out.
            assert_eq!(mp_mgr_server_shutdown(s), MP_OK);
            assert_eq!(mp_mgr_dict_incr(m, c"d".as_ptr(), key.as_ptr(), key.len(), 1, &mut n), MP_E_EOF);
            assert!(std::ffi::CStr::from_ptr(mp_last_error()).to_str().unwrap().contains("lost"));
            assert_eq!(mp_mgr_is_connected(m, &mut up), MP_OK);
            assert!(!up);
            assert_eq!(mp_mgr_reconnect(m, 50), MP_E_TIMEOUT);
            // Served again at the same address: back, and empty.
            assert_eq!(mp_mgr_serve(addr.as_ptr(), null(), 0, &mut s), MP_OK);
            assert_eq!(mp_mgr_reconnect(m, 5000), MP_OK);
            assert_eq!(mp_mgr_dict_incr(m, c"d".as_ptr(), key.as_ptr(), key.len(), 1, &mut n), MP_OK);
            assert_eq!(n, 1);
            mp_mgr_close(m);
            assert_eq!(mp_mgr_server_shutdown(s), MP_OK);
        }
    }

    /// The last error message, for assertions.
    fn last_error() -> String {
        // SAFETY: mp_last_error returns a valid NUL-terminated string.
        unsafe { std::ffi::CStr::from_ptr(mp_last_error()).to_string_lossy().into_owned() }
    }

    /// Malformed CBOR from the caller, in every argument that takes CBOR:
    /// `MP_E_INVAL` with a message saying what is wrong, nothing sent (the
    /// dict is unchanged), the connection kept.
    #[test]
    fn malformed_cbor_from_c_is_refused_before_sending() {
        let addr = std::ffi::CString::new(format!("unix:@mpipc-ffi-mgr-bad-{}", std::process::id())).unwrap();
        let deep = |n: usize| [vec![0x81u8; n], vec![0x00]].concat();
        let bad: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("truncated head", vec![0x19, 0x01]),
            ("truncated text", vec![0x65, b'a', b'b']),
            ("truncated array", vec![0x83, 0x01, 0x02]),
            ("unterminated indefinite array", vec![0x9f, 0x01]),
            ("trailing bytes", vec![0x01, 0x02]),
            ("two items", vec![0x61, b'a', 0x61, b'b']),
            ("nested too deep", deep(200)),
            ("tags nested too deep", [vec![0xc6u8; 200], vec![0x00]].concat()),
            ("2^62-byte text", vec![0x7b, 0x40, 0, 0, 0, 0, 0, 0, 0]),
            ("2^62-byte bytes", vec![0x5b, 0x40, 0, 0, 0, 0, 0, 0, 0]),
            ("2^62-element array", vec![0x9b, 0x40, 0, 0, 0, 0, 0, 0, 0]),
            ("2^32-pair map", vec![0xba, 0xff, 0xff, 0xff, 0xff, 0x01]),
            ("text not UTF-8", vec![0x62, 0xff, 0xfe]),
            ("lone break", vec![0xff]),
            ("reserved head", vec![0x1c]),
            ("simple value", vec![0xf8, 0x20]),
        ];
        // SAFETY: every pointer is valid for the calls.
        unsafe {
            let mut s = null_mut();
            assert_eq!(mp_mgr_serve(addr.as_ptr(), null(), 0, &mut s), MP_OK);
            let mut m = null_mut();
            assert_eq!(mp_mgr_connect(addr.as_ptr(), null(), 0, 2000, &mut m), MP_OK);
            let good = cbor(&Value::Integer(1.into()));
            assert_eq!(mp_mgr_dict_set(m, c"d".as_ptr(), good.as_ptr(), good.len(), good.as_ptr(), good.len()), MP_OK);
            let mut b = mp_buf { ptr: null_mut(), len: 0 };
            let mut n = 0i64;
            for (what, x) in &bad {
                let (p, l) = (x.as_ptr(), x.len());
                let invalid = |st: mp_status, arg: &str| {
                    assert_eq!(st, MP_E_INVAL, "{what} as {arg}");
                    let msg = last_error();
                    assert!(msg.contains("invalid CBOR"), "{what} as {arg}: {msg}");
                };
                invalid(mp_mgr_dict_set(m, c"d".as_ptr(), p, l, good.as_ptr(), good.len()), "key");
                assert!(last_error().starts_with("key: "));
                invalid(mp_mgr_dict_set(m, c"d".as_ptr(), good.as_ptr(), good.len(), p, l), "val");
                assert!(last_error().starts_with("val: "));
                invalid(mp_mgr_dict_get(m, c"d".as_ptr(), p, l, &mut b), "get key");
                invalid(mp_mgr_dict_del(m, c"d".as_ptr(), p, l), "del key");
                invalid(mp_mgr_dict_incr(m, c"d".as_ptr(), p, l, 1, &mut n), "incr key");
                invalid(mp_mgr_call(m, c"dict".as_ptr(), c"d".as_ptr(), c"len".as_ptr(), p, l, &mut b), "args");
                invalid(mp_mgr_call_many(m, p, l, &mut b), "requests");
                // The same inside an otherwise good request.
                let args = [&[0x82u8, 0x61, b'k'][..], x].concat();
                let reqs = [&[0x81u8, 0x84, 0x64][..], b"dict", &[0x61, b'd', 0x63], b"set", &args].concat();
                invalid(mp_mgr_call_many(m, reqs.as_ptr(), reqs.len(), &mut b), "a request's args");
                assert!(b.ptr.is_null(), "no result on an error");
            }
            // Nesting: 128 levels below the item is the decoder's limit, as
            // before (the server refuses what is too deep for the request).
            let at_limit = deep(128);
            assert_eq!(
                mp_mgr_dict_set(m, c"d".as_ptr(), good.as_ptr(), good.len(), at_limit.as_ptr(), at_limit.len()),
                MP_E_INVAL
            );
            assert!(last_error().contains("too deep"), "{}", last_error());
            let fits = deep(126);
            assert_eq!(mp_mgr_dict_set(m, c"d".as_ptr(), good.as_ptr(), good.len(), fits.as_ptr(), fits.len()), MP_OK);
            // Arguments that are not an array, requests of the wrong shape.
            assert_eq!(
                mp_mgr_call(m, c"dict".as_ptr(), c"d".as_ptr(), c"len".as_ptr(), good.as_ptr(), good.len(), &mut b),
                MP_E_INVAL
            );
            assert!(last_error().contains("args must be a CBOR array"));
            for reqs in [
                cbor(&Value::Integer(1.into())),
                cbor(&Value::Array(vec![Value::Integer(1.into())])),
                cbor(&Value::Array(vec![Value::Array(vec![Value::Text("dict".into())])])),
                cbor(&Value::Array(vec![Value::Array(vec![
                    Value::Text("dict".into()),
                    Value::Text("d".into()),
                    Value::Integer(1.into()),
                    Value::Array(vec![]),
                ])])),
                vec![0x81, 0x9f, 0x64, b'd', b'i', b'c', b't', 0x61, b'd', 0x63, b'l', b'e', b'n', 0xff],
            ] {
                assert_eq!(mp_mgr_call_many(m, reqs.as_ptr(), reqs.len(), &mut b), MP_E_INVAL, "{reqs:02x?}");
                assert!(last_error().starts_with("requests: "), "{}", last_error());
            }
            // Nothing was sent: the dict holds what the good calls stored,
            // and the connection still serves.
            let mut len = 0usize;
            assert_eq!(mp_mgr_dict_len(m, c"d".as_ptr(), &mut len), MP_OK);
            assert_eq!(len, 1);
            let mut up = false;
            assert_eq!(mp_mgr_is_connected(m, &mut up), MP_OK);
            assert!(up);
            mp_mgr_close(m);
            assert_eq!(mp_mgr_server_shutdown(s), MP_OK);
        }
    }

    /// The caller's bytes go to the server as they are, whatever encoder
    /// wrote them; the server still treats keys by value (1, 1.0, a
    /// non-shortest 1, a half-float 1.0 and a bignum 1 are one key, as in
    /// Python) and answers in the canonical form.
    #[test]
    fn other_encoders_forms_are_one_key_and_come_back_canonical() {
        let addr = std::ffi::CString::new(format!("unix:@mpipc-ffi-mgr-forms-{}", std::process::id())).unwrap();
        let ones: [&[u8]; 6] = [
            &[0x01],
            &[0x18, 0x01],
            &[0x1b, 0, 0, 0, 0, 0, 0, 0, 1],
            &[0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0],
            &[0xf9, 0x3c, 0x00],
            &[0xc2, 0x41, 0x01],
        ];
        // SAFETY: every pointer is valid for the calls.
        unsafe {
            let mut s = null_mut();
            assert_eq!(mp_mgr_serve(addr.as_ptr(), null(), 0, &mut s), MP_OK);
            let mut m = null_mut();
            assert_eq!(mp_mgr_connect(addr.as_ptr(), null(), 0, 2000, &mut m), MP_OK);
            let mut b = mp_buf { ptr: null_mut(), len: 0 };
            for (i, k) in ones.iter().enumerate() {
                // A value in a half float, with a non-shortest head inside.
                let v = [&[0x82u8, 0xf9, 0x3e, 0x00, 0x19, 0x00][..], &[i as u8]].concat();
                assert_eq!(mp_mgr_dict_set(m, c"d".as_ptr(), k.as_ptr(), k.len(), v.as_ptr(), v.len()), MP_OK);
                for k2 in ones {
                    assert_eq!(mp_mgr_dict_get(m, c"d".as_ptr(), k2.as_ptr(), k2.len(), &mut b), MP_OK);
                    let canonical = cbor(&Value::Array(vec![Value::Float(1.5), Value::Integer(i.into())]));
                    assert_eq!(std::slice::from_raw_parts(b.ptr, b.len), &canonical[..], "{k:02x?} then {k2:02x?}");
                    mp_buf_free(&mut b);
                }
            }
            let mut len = 0usize;
            assert_eq!(mp_mgr_dict_len(m, c"d".as_ptr(), &mut len), MP_OK);
            assert_eq!(len, 1);
            // The key kept is the last written, in its canonical form: a
            // bignum 1 is the integer 1.
            let none = cbor(&Value::Array(vec![]));
            assert_eq!(
                mp_mgr_call(m, c"dict".as_ptr(), c"d".as_ptr(), c"keys".as_ptr(), none.as_ptr(), none.len(), &mut b),
                MP_OK
            );
            assert_eq!(std::slice::from_raw_parts(b.ptr, b.len), &[0x81, 0x01]);
            mp_buf_free(&mut b);
            // Text keys: an indefinite "ab" is "ab".
            let ab = cbor(&Value::Text("ab".into()));
            let ab_chunks = [0x7f, 0x61, b'a', 0x61, b'b', 0xff];
            let mut n = 0i64;
            assert_eq!(mp_mgr_dict_incr(m, c"d".as_ptr(), ab.as_ptr(), ab.len(), 2, &mut n), MP_OK);
            assert_eq!(mp_mgr_dict_incr(m, c"d".as_ptr(), ab_chunks.as_ptr(), ab_chunks.len(), 3, &mut n), MP_OK);
            assert_eq!(n, 5);
            // Pipelined: results as the server sent them, statuses in place.
            let reqs = [
                &[0x83u8, 0x84, 0x64][..],
                b"dict",
                &[0x61, b'd', 0x63],
                b"get",
                &[0x81, 0xf9, 0x3c, 0x00],
                &[0x84, 0x64],
                b"dict",
                &[0x61, b'd', 0x63],
                b"get",
                &[0x81, 0x02],
                &[0x84, 0x7f, 0x62, b'd', b'i', 0x62, b'c', b't', 0xff, 0x61, b'd', 0x63],
                b"len",
                &[0x9f, 0xff],
            ]
            .concat();
            assert_eq!(mp_mgr_call_many(m, reqs.as_ptr(), reqs.len(), &mut b), MP_OK);
            let res = decode_value(std::slice::from_raw_parts(b.ptr, b.len)).unwrap();
            mp_buf_free(&mut b);
            let i = |n: i64| Value::Integer(n.into());
            assert_eq!(
                res,
                Value::Array(vec![
                    Value::Array(vec![i(0), Value::Array(vec![Value::Float(1.5), i(5)])]),
                    Value::Array(vec![i(MP_E_NOTFOUND as i64), Value::Text("KeyError: 2".into())]),
                    Value::Array(vec![i(0), i(2)]),
                ])
            );
            mp_mgr_close(m);
            assert_eq!(mp_mgr_server_shutdown(s), MP_OK);
        }
    }

    /// A throwaway Redis server of scripts/redis-server.sh, stopped on
    /// drop; `None` (after saying so) when redis-server is not installed
    /// and `CI` is not `true`.
    struct RedisServer {
        dir: std::path::PathBuf,
        port: u16,
    }

    impl RedisServer {
        fn start(tag: &str, args: &[&str]) -> Option<RedisServer> {
            let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/redis-server.sh");
            let dir = std::env::temp_dir().join(format!("mpipc-ffi-redis-{tag}-{}", std::process::id()));
            let out = std::process::Command::new("bash")
                .arg(script)
                .arg("start")
                .arg(&dir)
                .args(args)
                .stderr(std::process::Stdio::inherit())
                .output()
                .expect("run scripts/redis-server.sh");
            if out.status.code() == Some(3) {
                assert!(std::env::var("CI").as_deref() != Ok("true"), "redis-server is required under CI=true");
                eprintln!("SKIPPED: redis-server is not installed (scripts/install-deps.sh installs it)");
                return None;
            }
            assert!(out.status.success(), "scripts/redis-server.sh start: {}", out.status);
            let line = String::from_utf8(out.stdout).unwrap();
            let port = line.split_whitespace().find_map(|w| w.strip_prefix("port=")).and_then(|p| p.parse().ok());
            Some(RedisServer { port: port.unwrap_or_else(|| panic!("no port in {line:?}")), dir })
        }
    }

    impl Drop for RedisServer {
        fn drop(&mut self) {
            let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/redis-server.sh");
            let _ = std::process::Command::new("bash").arg(script).arg("stop").arg(&self.dir).status();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// The same C calls on a manager at a Redis address (docs/REDIS.md,
    /// "Manager on Redis"): no change in the C ABI, the same statuses.
    #[test]
    fn manager_on_redis_as_c_would() {
        let Some(server) = RedisServer::start("mgr", &["--password", "pw"]) else { return };
        let url = std::ffi::CString::new(format!("redis://127.0.0.1:{}", server.port)).unwrap();
        let unix = std::ffi::CString::new(format!("redis+unix://{}/redis.sock", server.dir.display())).unwrap();
        // SAFETY: every pointer is NULL (on purpose) or valid.
        unsafe {
            let mut m = null_mut();
            assert_eq!(mp_mgr_connect(url.as_ptr(), null(), 0, 2000, &mut m), MP_E_AUTH, "no password");
            assert_eq!(mp_mgr_connect(url.as_ptr(), b"bad".as_ptr(), 3, 2000, &mut m), MP_E_AUTH);
            assert_eq!(mp_mgr_connect(c"redis://127.0.0.1:x".as_ptr(), null(), 0, 2000, &mut m), MP_E_INVAL);
            assert!(last_error().contains("port"), "{}", last_error());
            let mut s = null_mut();
            assert_eq!(mp_mgr_serve(url.as_ptr(), null(), 0, &mut s), MP_E_INVAL);
            // The authkey is the password.
            assert_eq!(mp_mgr_connect(url.as_ptr(), b"pw".as_ptr(), 2, 2000, &mut m), MP_OK);
            let mut u = null_mut();
            assert_eq!(mp_mgr_connect(unix.as_ptr(), b"pw".as_ptr(), 2, 2000, &mut u), MP_OK);
            let key = cbor(&Value::Text("hits".into()));
            let mut n = 0i64;
            for _ in 0..3 {
                assert_eq!(mp_mgr_dict_incr(m, c"d".as_ptr(), key.as_ptr(), key.len(), 2, &mut n), MP_OK);
            }
            assert_eq!(n, 6);
            assert_eq!(mp_mgr_dict_incr(u, c"d".as_ptr(), key.as_ptr(), key.len(), i64::MAX, &mut n), MP_E_INVAL);
            let val = cbor(&Value::Bytes(vec![1, 2, 3]));
            let k2 = cbor(&Value::Integer(7.into()));
            assert_eq!(mp_mgr_dict_set(m, c"d".as_ptr(), k2.as_ptr(), k2.len(), val.as_ptr(), val.len()), MP_OK);
            let mut b = mp_buf { ptr: null_mut(), len: 0 };
            assert_eq!(mp_mgr_dict_get(u, c"d".as_ptr(), k2.as_ptr(), k2.len(), &mut b), MP_OK);
            assert_eq!(std::slice::from_raw_parts(b.ptr, b.len), &val[..]);
            mp_buf_free(&mut b);
            let mut small = [0u8; 2];
            let (mut len, mut version) = (0usize, 7u64);
            let k2p = k2.as_ptr();
            let got =
                mp_mgr_dict_get_into(m, c"d".as_ptr(), k2p, k2.len(), small.as_mut_ptr(), 2, &mut len, &mut version);
            assert_eq!((got, len), (MP_E_BUFSIZE, val.len()));
            let mut buf = [0u8; 16];
            let got =
                mp_mgr_dict_get_into(m, c"d".as_ptr(), k2p, k2.len(), buf.as_mut_ptr(), 16, &mut len, &mut version);
            assert_eq!((got, &buf[..len], version), (MP_OK, &val[..], 0));
            assert_eq!(mp_mgr_dict_version(m, c"d".as_ptr(), &mut version), MP_OK);
            assert_eq!(version, 0, "no replica on Redis");
            let mut count = 0usize;
            assert_eq!(mp_mgr_dict_len(m, c"d".as_ptr(), &mut count), MP_OK);
            assert_eq!(count, 2);
            assert_eq!(mp_mgr_dict_del(m, c"d".as_ptr(), k2.as_ptr(), k2.len()), MP_OK);
            assert_eq!(mp_mgr_dict_del(m, c"d".as_ptr(), k2.as_ptr(), k2.len()), MP_E_NOTFOUND);
            assert!(last_error().contains("KeyError"), "{}", last_error());
            let args = cbor(&Value::Array(vec![Value::Integer(1.into())]));
            let call = |m, kind: &std::ffi::CStr, method: &std::ffi::CStr, args: &[u8], b: &mut mp_buf| {
                mp_mgr_call(m, kind.as_ptr(), c"l".as_ptr(), method.as_ptr(), args.as_ptr(), args.len(), b)
            };
            assert_eq!(call(m, c"list", c"append", &args, &mut b), MP_OK);
            mp_buf_free(&mut b);
            let none = cbor(&Value::Array(vec![]));
            assert_eq!(call(u, c"list", c"pop", &none, &mut b), MP_OK);
            assert_eq!(decode_value(std::slice::from_raw_parts(b.ptr, b.len)).unwrap(), Value::Integer(1.into()));
            mp_buf_free(&mut b);
            assert_eq!(call(m, c"list", c"pop", &none, &mut b), MP_E_INDEX);
            assert_eq!(call(m, c"set", c"len", &none, &mut b), MP_E_UNSUPPORTED);
            assert_eq!(call(m, c"lock", c"acquire", &none, &mut b), MP_OK);
            mp_buf_free(&mut b);
            assert_eq!(call(m, c"lock", c"fence", &none, &mut b), MP_OK);
            assert!(matches!(decode_value(std::slice::from_raw_parts(b.ptr, b.len)), Ok(Value::Integer(_))));
            mp_buf_free(&mut b);
            let zero = cbor(&Value::Array(vec![Value::Integer(0.into())]));
            assert_eq!(call(u, c"lock", c"acquire", &zero, &mut b), MP_OK);
            assert_eq!(std::slice::from_raw_parts(b.ptr, b.len), &[0xf4], "held by the other client");
            mp_buf_free(&mut b);
            assert_eq!(call(u, c"lock", c"release", &none, &mut b), MP_E_PERM);
            // A batch: [status, result] in order.
            let reqs = cbor(&Value::Array(vec![
                Value::Array(vec!["dict".into(), "d".into(), "get".into(), Value::Array(vec!["hits".into()])]),
                Value::Array(vec!["dict".into(), "d".into(), "get".into(), Value::Array(vec!["none".into()])]),
                Value::Array(vec!["lock".into(), "l".into(), "release".into(), Value::Array(vec![])]),
            ]));
            assert_eq!(mp_mgr_call_many(m, reqs.as_ptr(), reqs.len(), &mut b), MP_OK);
            let res = decode_value(std::slice::from_raw_parts(b.ptr, b.len)).unwrap();
            mp_buf_free(&mut b);
            let i = |n: i64| Value::Integer(n.into());
            assert_eq!(
                res,
                Value::Array(vec![
                    Value::Array(vec![i(0), i(6)]),
                    Value::Array(vec![i(MP_E_NOTFOUND as i64), Value::Text("KeyError: \"none\"".into())]),
                    Value::Array(vec![i(0), Value::Null]),
                ])
            );
            let mut up = false;
            assert_eq!(mp_mgr_is_connected(m, &mut up), MP_OK);
            assert!(up);
            assert_eq!(mp_mgr_set_spin(m, 0), MP_OK);
            assert_eq!(mp_mgr_set_local_reads(m, false), MP_OK);
            assert_eq!(mp_mgr_reconnect(m, 2000), MP_OK);
            assert_eq!(mp_mgr_dict_len(m, c"d".as_ptr(), &mut count), MP_OK);
            assert_eq!(count, 1);
            mp_mgr_close(u);
            mp_mgr_close(m);
        }
    }
}
