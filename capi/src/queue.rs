//! `mpq_*`: the shared-memory Queue / JoinableQueue.

use super::boundary::{
    boundary, bytes_arg, bytes_arg_mut, check_not_null, free_handle, into_handle, len_status, split_messages,
    status_of, str_arg, try_arg, try_status, with_handle, Castable,
};
use super::bytes::mp_buf;
use super::json::{cbor_of_json_arg, json_of_received};
use super::status::{mp_status, set_last_error, MP_OK};
use super::timeout_of_ms;
use mpipc::error::{Error, ErrorKind};
use mpipc::queue::{Queue, QueueOptions, RawClaim};
use mpipc::segment::OpenMode;
use std::ffi::c_char;

/// A named, bounded, multi-producer multi-consumer queue of byte messages
/// in shared memory: Python's `multiprocessing.JoinableQueue`, reachable by
/// name from any process and language.
///
/// Created by `mpq_open`, freed by `mpq_close`. Thread-safe: one handle may
/// be used by many threads at once (every operation takes the queue's
/// process-shared lock). A handle inherited through `fork` works in the
/// child too (the mapping is shared and every operation goes through the
/// segment), as long as no call on it was in progress in another thread at
/// the fork; each process closes its own copy.
///
/// Under the hood: `Box<Queue>` over a `MAP_SHARED` mapping of
/// `/dev/shm/mpipc.q.<name>`.
///
/// Methods: `mpq_open`, `mpq_put`, `mpq_put_timeout`, `mpq_put_many`,
/// `mpq_get`, `mpq_get_timeout`, `mpq_get_into`, `mpq_get_many`,
/// `mpq_qsize`, `mpq_empty`, `mpq_full`, `mpq_task_done`, `mpq_join`,
/// `mpq_shutdown`, `mpq_options_of`, `mpq_set_spin`, `mpq_close`,
/// `mpq_unlink`; zero-copy: `mpq_reserve`, `mpq_commit`, `mpq_cancel`,
/// `mpq_get_view`, `mpq_release_view`; JSON (docs/TYPES.md, "JSON
/// bridge"): `mpq_put_json`, `mpq_put_json_timeout`, `mpq_get_json`.
pub struct mpq {
    _private: [u8; 0],
}

impl Castable for mpq {
    type Rust = Queue;
}

/// `mpq_options.flags`: fail with `MP_E_EXISTS` if the queue exists.
pub const MPQ_CREATE_ONLY: u32 = 1;
/// `mpq_options.flags`: fail with `MP_E_NOTFOUND` if the queue does not exist.
pub const MPQ_ATTACH_ONLY: u32 = 2;
/// `mpq_options.flags`: attach even if the queue belongs to another user
/// (see `MP_OPEN_ANY_OWNER`); may be combined with the other two.
pub const MPQ_ANY_OWNER: u32 = 4;

/// Options of `mpq_open`. Zero in any field means the default, so
/// `mpq_options o = {0};` is valid. When attaching to an existing queue,
/// each nonzero size must match the queue's (else `MP_E_INVAL`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct mpq_options {
    /// Maximum number of messages; 0 = unbounded (the byte capacity still
    /// bounds the queue), as Python's `maxsize <= 0`.
    pub maxsize: usize,
    /// Ring size in bytes; 0 = 1 MiB. Each message uses 8 bytes plus its
    /// length rounded up to a multiple of 8.
    pub capacity_bytes: usize,
    /// Largest message accepted (`MP_E_TOOBIG` beyond); 0 = whatever fits
    /// in the ring (`capacity_bytes - 8`).
    pub max_message: usize,
    /// File mode of the segment when created; 0 = 0600 (owner only).
    pub mode: u32,
    /// `MPQ_CREATE_ONLY` or `MPQ_ATTACH_ONLY` (0 = create or attach),
    /// optionally with `MPQ_ANY_OWNER`.
    pub flags: u32,
}

/// Opens the queue `name`, creating it if it does not exist.
///
/// Names are 1 to 200 characters of `A-Z a-z 0-9 . _ -` (one leading `/`
/// is ignored); the segment is `/dev/shm/mpipc.q.<name>`.
///
/// A name with a scheme is a queue kept by a Redis (>= 7.0) or Valkey
/// (>= 7.2) server (docs/REDIS.md):
/// `redis://[user[:password]@]host[:port][/db]/NAME[?options]`, or
/// `redis+unix:///path/to/redis.sock/NAME[?db=N&user=U&password=P&...]`
/// (`valkey://`, `valkey+unix://`, `unix://` alike); options `ns`, `ack`
/// (`at-most-once`, the default, or `at-least-once`), `lease_ms`,
/// `timeout_ms`. Every `mpq_*` call works on it except the zero-copy ones
/// (`MP_E_UNSUPPORTED`); `capacity_bytes` and `mode` must be 0
/// (`MP_E_UNSUPPORTED`); `rediss://` (TLS) is `MP_E_UNSUPPORTED` in this
/// build.
///
/// # Arguments
/// - `name`: the queue's name, or its Redis address.
/// - `opts`: sizes and flags, or NULL for the defaults.
/// - `out`: receives the new handle on `MP_OK`; free it with `mpq_close`.
///
/// # Returns
/// `MP_OK`; `MP_E_INVAL` (bad name or options, or options that do not match
/// the existing queue); `MP_E_EXISTS` / `MP_E_NOTFOUND` (flags);
/// `MP_E_TYPE`, `MP_E_VERSION`, `MP_E_CORRUPT` (the name holds something
/// else); `MP_E_PERM`; `MP_E_IO`. At a Redis address also:
/// `MP_E_INVAL` naming the wrong part of a bad address; `MP_E_IO` (server
/// unreachable); `MP_E_TIMEOUT` (no answer within `timeout_ms`, default
/// 10 s); `MP_E_AUTH` (wrong or missing password); `MP_E_VERSION` (a server
/// older than Redis 7.0); `MP_E_UNSUPPORTED` (options that do not apply).
///
/// # Safety
/// `name` is a NUL-terminated string; `opts` is NULL or valid; `out` valid.
#[no_mangle]
pub unsafe extern "C" fn mpq_open(name: *const c_char, opts: *const mpq_options, out: *mut *mut mpq) -> mp_status {
    boundary(|| {
        check_not_null!(out);
        // SAFETY: per the contract.
        let name = try_arg!(unsafe { str_arg(name, "name") });
        // SAFETY: opts is NULL or points to a valid mpq_options.
        let o = if opts.is_null() { mpq_options::default() } else { unsafe { *opts } };
        let open_mode = match o.flags & !MPQ_ANY_OWNER {
            0 => OpenMode::CreateOrAttach,
            MPQ_CREATE_ONLY => OpenMode::CreateOnly,
            MPQ_ATTACH_ONLY => OpenMode::AttachOnly,
            f => return set_last_error(&Error::new(ErrorKind::Invalid, format!("unknown mpq_options.flags {f:#x}"))),
        };
        let q = try_status!(Queue::open(
            name,
            &QueueOptions {
                maxsize: o.maxsize,
                capacity_bytes: o.capacity_bytes,
                max_message: o.max_message,
                mode: o.mode,
                open_mode: Some(open_mode),
                any_owner: o.flags & MPQ_ANY_OWNER != 0,
            },
        ));
        // SAFETY: out is non-NULL and writable.
        unsafe { *out = into_handle::<mpq>(q) };
        MP_OK
    })
}

/// Puts a message, blocking while the queue is full.
///
/// # Returns
/// `MP_OK` once the message is in the queue (it then survives the death of
/// this process); `MP_E_TOOBIG`; `MP_E_SHUTDOWN`; `MP_E_NULL`.
///
/// # Safety
/// `q` is a live handle; `data` points to `len` bytes (NULL if `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn mpq_put(q: *mut mpq, data: *const u8, len: usize) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { mpq_put_timeout(q, data, len, -1) }
}

/// Puts a message, waiting at most `timeout_ms` for room (0 = `put_nowait`,
/// negative = forever).
///
/// # Returns
/// `MP_OK`; `MP_E_FULL` when the time ran out; `MP_E_TOOBIG` (bigger than
/// `max_message`; nothing changes); `MP_E_SHUTDOWN`.
///
/// # Safety
/// `q` is a live handle; `data` points to `len` bytes (NULL if `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn mpq_put_timeout(q: *mut mpq, data: *const u8, len: usize, timeout_ms: i64) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked).
    unsafe {
        with_handle(q, |q| {
            let msg = try_arg!(bytes_arg(data, len, "data"));
            status_of(q.put_bytes_timeout(msg, timeout_of_ms(timeout_ms)))
        })
    }
}

/// Puts a batch of messages in one atomic step: the throughput path.
///
/// The `n` messages lie back to back in `data`; message `i` is `lens[i]`
/// bytes. Waits (at most `timeout_ms`) until the first fits, then puts as
/// many as fit, in order, and reports how many in `*out_put` (at least 1).
/// Call again with the rest to put them all. If any message exceeds
/// `max_message`, nothing is put (`MP_E_TOOBIG`).
///
/// # Returns
/// `MP_OK` with `*out_put` in `1..=n` (0 if `n` is 0); `MP_E_FULL` when
/// nothing could be put in time; `MP_E_TOOBIG`; `MP_E_SHUTDOWN`.
///
/// # Safety
/// `q` live; `lens` holds `n` lengths; `data` holds their sum in bytes.
#[no_mangle]
pub unsafe extern "C" fn mpq_put_many(
    q: *mut mpq,
    data: *const u8,
    lens: *const usize,
    n: usize,
    timeout_ms: i64,
    out_put: *mut usize,
) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked).
    unsafe {
        with_handle(q, |q| {
            check_not_null!(out_put);
            let msgs = try_arg!(split_messages(data, lens, n));
            let put = try_status!(q.put_many(&msgs, timeout_of_ms(timeout_ms)));
            *out_put = put;
            MP_OK
        })
    }
}

/// Takes the oldest message, blocking while the queue is empty.
///
/// # Returns
/// `MP_OK` with the message in `*out` (free it with `mp_buf_free`);
/// `MP_E_SHUTDOWN` once the queue is shut down and drained.
///
/// # Safety
/// `q` is a live handle; `out` is valid.
#[no_mangle]
pub unsafe extern "C" fn mpq_get(q: *mut mpq, out: *mut mp_buf) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { mpq_get_timeout(q, out, -1) }
}

/// Takes the oldest message, waiting at most `timeout_ms` (0 =
/// `get_nowait`, negative = forever).
///
/// # Returns
/// `MP_OK` with the message in `*out` (free it with `mp_buf_free`);
/// `MP_E_EMPTY` when the time ran out; `MP_E_SHUTDOWN` once shut down and
/// drained; `MP_E_CORRUPT` if the shared segment was damaged from outside.
///
/// # Safety
/// `q` is a live handle; `out` is valid.
#[no_mangle]
pub unsafe extern "C" fn mpq_get_timeout(q: *mut mpq, out: *mut mp_buf, timeout_ms: i64) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked).
    unsafe {
        with_handle(q, |q| {
            check_not_null!(out);
            let v = try_status!(q.get_bytes_timeout(timeout_of_ms(timeout_ms)));
            *out = mp_buf::from_vec(v);
            MP_OK
        })
    }
}

/// Takes the oldest message into the caller's buffer, waiting at most
/// `timeout_ms`. No allocation.
///
/// # Returns
/// `MP_OK` with the length in `*out_len`; `MP_E_BUFSIZE` if `cap` is too
/// small: the message stays queued and `*out_len` holds the size needed;
/// `MP_E_EMPTY`; `MP_E_SHUTDOWN`.
///
/// # Safety
/// `q` live; `buf` points to `cap` writable bytes (NULL if `cap` is 0);
/// `out_len` valid.
#[no_mangle]
pub unsafe extern "C" fn mpq_get_into(
    q: *mut mpq,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
    timeout_ms: i64,
) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked).
    unsafe {
        with_handle(q, |q| {
            check_not_null!(out_len);
            let buf = try_arg!(bytes_arg_mut(buf, cap, "buf"));
            len_status(q.get_into(buf, timeout_of_ms(timeout_ms)), out_len)
        })
    }
}

/// Takes up to `max_n` messages in one atomic step: the throughput path.
///
/// Waits (at most `timeout_ms`) for the first message, then takes what is
/// queued and fits: the messages are packed back to back into `buf`, their
/// lengths written to `lens[0..*out_n]`, their total to `*out_bytes`.
///
/// # Returns
/// `MP_OK` with `*out_n >= 1`; `MP_E_BUFSIZE` if not even the first message
/// fits in `cap` bytes (it stays queued; `*out_bytes` holds its size);
/// `MP_E_EMPTY`; `MP_E_SHUTDOWN`; `MP_E_INVAL` if `max_n` is 0.
///
/// A consumer killed inside this call may lose the batch it was taking
/// (as one killed inside `mpq_get` may lose its one message).
///
/// # Safety
/// `q` live; `buf` has `cap` writable bytes; `lens` has `max_n` slots;
/// `out_n`, `out_bytes` valid.
#[no_mangle]
pub unsafe extern "C" fn mpq_get_many(
    q: *mut mpq,
    buf: *mut u8,
    cap: usize,
    lens: *mut usize,
    max_n: usize,
    timeout_ms: i64,
    out_n: *mut usize,
    out_bytes: *mut usize,
) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked).
    unsafe {
        with_handle(q, |q| {
            check_not_null!(out_n, out_bytes);
            if max_n == 0 {
                return set_last_error(&Error::new(ErrorKind::Invalid, "max_n must be at least 1"));
            }
            let lens = try_arg!(bytes_arg_mut(lens, max_n, "lens"));
            let buf = try_arg!(bytes_arg_mut(buf, cap, "buf"));
            match q.get_many_into(buf, lens, timeout_of_ms(timeout_ms)) {
                Ok((n, bytes)) => {
                    *out_n = n;
                    *out_bytes = bytes;
                    MP_OK
                }
                Err(e) => {
                    if e.kind() == ErrorKind::BufSize {
                        *out_bytes = e.needed();
                    }
                    set_last_error(&e)
                }
            }
        })
    }
}

/// Writes the exact number of messages in the queue to `*out`.
///
/// # Safety
/// `q` live; `out` valid.
#[no_mangle]
pub unsafe extern "C" fn mpq_qsize(q: *const mpq, out: *mut usize) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked).
    unsafe {
        with_handle(q, |q| {
            check_not_null!(out);
            *out = try_status!(q.qsize());
            MP_OK
        })
    }
}

/// Writes whether the queue holds no message to `*out`.
///
/// # Safety
/// `q` live; `out` valid.
#[no_mangle]
pub unsafe extern "C" fn mpq_empty(q: *const mpq, out: *mut bool) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked).
    unsafe {
        with_handle(q, |q| {
            check_not_null!(out);
            *out = try_status!(q.empty());
            MP_OK
        })
    }
}

/// Writes whether the queue holds `maxsize` messages to `*out` (always
/// false for an unbounded queue).
///
/// # Safety
/// `q` live; `out` valid.
#[no_mangle]
pub unsafe extern "C" fn mpq_full(q: *const mpq, out: *mut bool) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked).
    unsafe {
        with_handle(q, |q| {
            check_not_null!(out);
            *out = try_status!(q.full());
            MP_OK
        })
    }
}

/// Marks one task taken from the queue as done (JoinableQueue).
///
/// # Returns
/// `MP_OK`; `MP_E_INVAL` if called more times than messages were put.
///
/// # Safety
/// `q` live.
#[no_mangle]
pub unsafe extern "C" fn mpq_task_done(q: *mut mpq) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked).
    unsafe { with_handle(q, |q| status_of(q.task_done())) }
}

/// Waits until every message put has been marked done with
/// `mpq_task_done`, at most `timeout_ms` (negative = forever).
///
/// # Returns
/// `MP_OK`; `MP_E_TIMEOUT`.
///
/// # Safety
/// `q` live.
#[no_mangle]
pub unsafe extern "C" fn mpq_join(q: *mut mpq, timeout_ms: i64) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked).
    unsafe { with_handle(q, |q| status_of(q.join(timeout_of_ms(timeout_ms)))) }
}

/// Shuts the queue down for every process (Python 3.13 `Queue.shutdown`):
/// puts fail with `MP_E_SHUTDOWN` at once; gets drain what is left, then
/// fail with it. With `immediate`, what is left is discarded and counted as
/// done for `mpq_join`. Wakes every blocked caller. Idempotent and
/// permanent for this queue name (unlink and reopen to start afresh).
///
/// # Safety
/// `q` live.
#[no_mangle]
pub unsafe extern "C" fn mpq_shutdown(q: *mut mpq, immediate: bool) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked).
    unsafe { with_handle(q, |q| status_of(q.shutdown(immediate))) }
}

/// Writes the queue's actual sizes (after defaults) to `*out`; `mode` and
/// `flags` are written as 0.
///
/// # Safety
/// `q` live; `out` valid.
#[no_mangle]
pub unsafe extern "C" fn mpq_options_of(q: *const mpq, out: *mut mpq_options) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked).
    unsafe {
        with_handle(q, |q| {
            check_not_null!(out);
            *out = mpq_options {
                maxsize: q.maxsize(),
                capacity_bytes: q.capacity_bytes(),
                max_message: q.max_message(),
                mode: 0,
                flags: 0,
            };
            MP_OK
        })
    }
}

/// Sets how long a blocked call on this handle spins before it sleeps, in
/// microseconds (default 50; 0 = sleep at once). Spinning cuts latency
/// when the peer answers within microseconds, at the cost of CPU. It
/// happens only while a CPU is idle: beside CPU-bound processes a blocked
/// call sleeps at once (see docs/DECISIONS.md, "Spinning only while a CPU
/// is idle").
///
/// # Safety
/// `q` live.
#[no_mangle]
pub unsafe extern "C" fn mpq_set_spin(q: *mut mpq, spin_us: u32) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked).
    unsafe {
        with_handle(q, |q| {
            q.set_spin_us(spin_us);
            MP_OK
        })
    }
}

/// Closes this process's handle (unmaps the queue). The queue and its
/// messages live on for other processes until `mpq_unlink`. NULL is a
/// no-op. The handle must not be used afterwards, nor concurrently with
/// this call. A handle closed while reservations or views made through it
/// are still open keeps its mapping until the process exits (their threads
/// hold robust mutexes inside it, which must stay mapped for the claims to
/// be recovered when those threads end); end them first.
///
/// # Safety
/// `q` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn mpq_close(q: *mut mpq) {
    super::boundary::boundary_or((), || {
        // SAFETY: per the contract.
        unsafe { free_handle(q) }
    })
}

/// Removes the queue's name. Processes that have it open keep using it; the
/// next `mpq_open` of the name creates a new queue.
///
/// # Returns
/// `MP_OK`; `MP_E_NOTFOUND`; `MP_E_INVAL` (bad name); `MP_E_PERM`.
///
/// # Safety
/// `name` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mpq_unlink(name: *const c_char) -> mp_status {
    boundary(|| {
        // SAFETY: per the contract.
        let name = try_arg!(unsafe { str_arg(name, "name") });
        status_of(Queue::unlink(name))
    })
}

/// Room for one message in a queue's ring, made by `mpq_reserve`: write
/// the message at `data` (up to `len` bytes), then `mpq_commit` it, or
/// `mpq_cancel` it. Nothing to free: the struct is plain data, the bytes
/// belong to the queue.
///
/// It belongs to the thread that called `mpq_reserve`: commit or cancel it
/// on that thread, before `mpq_close` of the handle. A reservation whose
/// thread exits (or whose process dies) is dropped by the next reader.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mpq_reservation {
    /// The reserved bytes, in the queue's shared memory (their initial
    /// contents are whatever the ring held).
    pub data: *mut u8,
    /// How many bytes were reserved.
    pub len: usize,
    /// Names the reservation; pass the struct back unchanged.
    pub id: u64,
}

/// The oldest message of a queue, taken by `mpq_get_view` and read in place
/// in the queue's ring: `len` bytes at `data`. `mpq_release_view` frees its
/// bytes; until then the ring has that much less room. Nothing to free:
/// the struct is plain data.
///
/// It belongs to the thread that called `mpq_get_view`: release it on that
/// thread, before `mpq_close` of the handle. A consumer that dies holding a
/// view loses that message (as one killed inside `mpq_get`), and the next
/// producer that needs the room frees it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mpq_view {
    /// The message's first byte, in the queue's shared memory (read only).
    pub data: *const u8,
    /// The message's length.
    pub len: usize,
    /// Names the view; pass the struct back unchanged.
    pub id: u64,
}

/// Reserves room for a message of up to `len` bytes, to be written in place
/// (no copy of the message through the library) and then committed with
/// `mpq_commit`: the zero-copy put.
///
/// Waits at most `timeout_ms` (0 = do not wait, negative = forever) for
/// room, as `mpq_put_timeout` does, and for one of the 32 claim slots that
/// reservations and views of all processes share. Readers stop in front of
/// a reservation until it is committed or cancelled (messages keep their
/// reservation order), and it counts against `maxsize`. A `mpq_get` on the
/// thread that holds the oldest reservation fails with `MP_E_INVAL`
/// instead of waiting for itself; a put on that thread into a ring kept
/// full behind the reservation would wait for ever, so commit first.
///
/// # Arguments
/// - `len`: bytes to reserve (at most `max_message`); commit may use fewer.
/// - `out`: receives the reservation on `MP_OK`.
///
/// # Returns
/// `MP_OK`; `MP_E_FULL` when the time ran out; `MP_E_TOOBIG`;
/// `MP_E_SHUTDOWN`; `MP_E_INVAL` if there is no room and what holds it
/// back is this thread's own reservation or view at the front of the
/// queue (that wait would never end); `MP_E_CORRUPT`; `MP_E_NULL`.
///
/// # Safety
/// `q` is a live handle; `out` is valid.
#[no_mangle]
pub unsafe extern "C" fn mpq_reserve(q: *mut mpq, len: usize, timeout_ms: i64, out: *mut mpq_reservation) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked).
    unsafe {
        with_handle(q, |q| {
            check_not_null!(out);
            let c = try_status!(q.reserve_raw(len, timeout_of_ms(timeout_ms)));
            *out = mpq_reservation { data: c.ptr, len: c.len, id: c.id };
            MP_OK
        })
    }
}

/// Commits a reservation: its first `len` bytes (at most `r->len`) become
/// one message, after those put before it. The reservation is then used
/// up: its bytes are the message's, no longer the caller's.
///
/// # Returns
/// `MP_OK` once the message is in the queue (it then survives the death of
/// this process); `MP_E_INVAL` if `len > r->len` (the reservation stays
/// open: commit again or cancel), or `r` names no open reservation of this
/// queue (already committed or cancelled, or dropped because its thread
/// exited); `MP_E_PERM` if called from another thread than the one that
/// reserved; `MP_E_SHUTDOWN` if the queue was shut down since (the
/// reservation is dropped, as a put would fail); `MP_E_CORRUPT`;
/// `MP_E_NULL`.
///
/// # Safety
/// `q` is the live handle that made `r`; `r` is valid.
#[no_mangle]
pub unsafe extern "C" fn mpq_commit(q: *mut mpq, r: *const mpq_reservation, len: usize) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked).
    unsafe {
        with_handle(q, |q| {
            check_not_null!(r);
            status_of(q.commit_raw((*r).id, len))
        })
    }
}

/// Cancels a reservation: nothing is put, its bytes return to the queue.
///
/// # Returns
/// `MP_OK`; `MP_E_INVAL`, `MP_E_PERM`, `MP_E_CORRUPT`, `MP_E_NULL` as for
/// `mpq_commit`.
///
/// # Safety
/// `q` is the live handle that made `r`; `r` is valid.
#[no_mangle]
pub unsafe extern "C" fn mpq_cancel(q: *mut mpq, r: *const mpq_reservation) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked).
    unsafe {
        with_handle(q, |q| {
            check_not_null!(r);
            status_of(q.cancel_raw((*r).id))
        })
    }
}

/// Takes the oldest message and gives a view of it in place, in the
/// queue's ring: the zero-copy get. The message leaves the queue at once
/// (`mpq_qsize` stops counting it); its bytes stay reserved until
/// `mpq_release_view`. Views may be released in any order.
///
/// Waits as `mpq_get_timeout` does (and for a free claim slot, see
/// `mpq_reserve`). A put on the thread holding the view that pins the
/// oldest bytes, into a queue that only that release would make room in,
/// fails with `MP_E_INVAL` instead of waiting for itself.
///
/// # Returns
/// `MP_OK` with the view in `*out`; `MP_E_EMPTY` when the time ran out;
/// `MP_E_SHUTDOWN` once shut down and drained; `MP_E_INVAL` if the oldest
/// message is this thread's own uncommitted reservation; `MP_E_CORRUPT`;
/// `MP_E_NULL`.
///
/// # Safety
/// `q` is a live handle; `out` is valid.
#[no_mangle]
pub unsafe extern "C" fn mpq_get_view(q: *mut mpq, timeout_ms: i64, out: *mut mpq_view) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked).
    unsafe {
        with_handle(q, |q| {
            check_not_null!(out);
            let RawClaim { ptr, len, id } = try_status!(q.get_view_raw(timeout_of_ms(timeout_ms)));
            *out = mpq_view { data: ptr, len, id };
            MP_OK
        })
    }
}

/// Releases a view: the message's bytes are free again. The view must not
/// be read afterwards.
///
/// # Returns
/// `MP_OK`; `MP_E_INVAL` if `v` names no open view of this queue (already
/// released, or lost because its thread exited); `MP_E_PERM` if called
/// from another thread than the one that took it; `MP_E_CORRUPT`;
/// `MP_E_NULL`.
///
/// # Safety
/// `q` is the live handle that made `v`; `v` is valid.
#[no_mangle]
pub unsafe extern "C" fn mpq_release_view(q: *mut mpq, v: *const mpq_view) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked).
    unsafe {
        with_handle(q, |q| {
            check_not_null!(v);
            status_of(q.release_raw((*v).id))
        })
    }
}

/// Puts a JSON text as one CBOR message, blocking while the queue is full:
/// `mpq_put_json(q, "{\"id\": 1}")` reaches a Python consumer as the dict
/// `{"id": 1}`, a Node one as the object. The text is converted as
/// `mp_json_to_cbor` converts it (docs/TYPES.md, "JSON bridge"), before
/// anything is put.
///
/// # Arguments
/// - `json`: the text, UTF-8 and NUL-terminated.
///
/// # Returns
/// `MP_OK` once the message is in the queue; `MP_E_INVAL` (not JSON, an
/// extended form with the wrong content, nesting deeper than 128: nothing
/// is put); `MP_E_TYPE` (a PICKLE tag); otherwise as `mpq_put`.
///
/// # Safety
/// `q` is a live handle; `json` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mpq_put_json(q: *mut mpq, json: *const c_char) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { mpq_put_json_timeout(q, json, -1) }
}

/// `mpq_put_json`, waiting at most `timeout_ms` for room (0 = do not wait,
/// negative = forever).
///
/// # Returns
/// As `mpq_put_json`, plus `MP_E_FULL` when the time ran out.
///
/// # Safety
/// `q` is a live handle; `json` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mpq_put_json_timeout(q: *mut mpq, json: *const c_char, timeout_ms: i64) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked); json per the contract.
    unsafe {
        with_handle(q, |q| {
            let cbor = try_arg!(cbor_of_json_arg(json, "json"));
            status_of(q.put_bytes_timeout(&cbor, timeout_of_ms(timeout_ms)))
        })
    }
}

/// Takes the oldest message, waiting at most `timeout_ms` (0 = do not
/// wait, negative = forever), and gives it as JSON text, converted as
/// `mp_cbor_to_json` converts it: what a Python producer's
/// `q.put({"id": 1})` put reads `{"id":1}`.
///
/// # Arguments
/// - `out_json`: receives the text on `MP_OK`, UTF-8 and NUL-terminated;
///   free it with `mp_json_free`.
///
/// # Returns
/// `MP_OK`; `MP_E_EMPTY` when the time ran out; `MP_E_SHUTDOWN` once shut
/// down and drained; `MP_E_CORRUPT` (the message is not valid CBOR) and
/// `MP_E_TYPE` (it holds a Python pickle, or an integer of more than 4300
/// digits): the message is consumed all the same, as the bindings' decode
/// errors consume it (`mpq_get` then `mp_cbor_to_json` keep the bytes).
///
/// # Safety
/// `q` is a live handle; `out_json` is valid.
#[no_mangle]
pub unsafe extern "C" fn mpq_get_json(q: *mut mpq, out_json: *mut *mut c_char, timeout_ms: i64) -> mp_status {
    // SAFETY: q is a live handle or NULL (checked); out_json per the contract.
    unsafe {
        with_handle(q, |q| {
            check_not_null!(out_json);
            let msg = try_status!(q.get_bytes_timeout(timeout_of_ms(timeout_ms)));
            json_of_received(&msg, "message", out_json)
        })
    }
}

#[cfg(test)]
mod tests;
