//! The C ABI (capi/src) fed with hostile names, segment files, byte streams
//! and manager requests, called exactly as a C program calls it. Every
//! call must return a status (a panic caught at the boundary would be
//! MP_E_PANIC, which fails the target, as does a crash or ASan report),
//! and each status must be one the documentation allows for that input.
//!
//! Input: a mode byte, then
//! - 0, names: one C string tried as the name of every kind (attach only)
//!   and unlinked when invalid. Whether it is accepted is checked against
//!   the documented rule (1..=200 bytes of `A-Z a-z 0-9 . _ -`, not
//!   starting with `.`, one leading `/` ignored): an invalid name is
//!   MP_E_INVAL and never reaches the filesystem.
//! - 1, segments: `[kind][flags][min length / 256][bytes]` as in the
//!   segment target, opened through `mp_*_open` / `mpq_open`, then the
//!   non-blocking calls (timeouts of 0) when the locks are healthy.
//! - 2, pipes: `[max_frame choice][stream]` received through `mp_pipe_*`
//!   from a descriptor adopted with `mp_pipe_from_fd`, checked against the
//!   frame format as in pipe_frames.
//! - 3, manager: `[kind][name NUL method NUL args CBOR]` sent with
//!   `mp_mgr_call` (and the dict helpers) to a server in this process,
//!   over a real socket; kinds whose methods can block are left out.
#![no_main]

mod common;

use common::{announced, next_frame, send_and_close, Expect, MAX_STREAM};
use libfuzzer_sys::fuzz_target;
use mpipc_ffi::array::*;
use mpipc_ffi::barrier::*;
use mpipc_ffi::bytes::{mp_buf, mp_buf_free};
use mpipc_ffi::cond::*;
use mpipc_ffi::event::*;
use mpipc_ffi::lock::*;
use mpipc_ffi::manager::*;
use mpipc_ffi::manager_server::*;
use mpipc_ffi::pipe::*;
use mpipc_ffi::queue::*;
use mpipc_ffi::sem::*;
use mpipc_ffi::shareable_list::*;
use mpipc_ffi::shm::*;
use mpipc_ffi::status::*;
use mpipc_ffi::status_text::mp_last_error_message;
use mpipc_ffi::MP_OPEN_ATTACH_ONLY;
use mpipc::fuzzing::{remove_segment, write_segment, SegmentShape};
use mpipc::segment::SegmentKind;
use std::ffi::{c_char, CString};
use std::os::fd::IntoRawFd;
use std::ptr::{null, null_mut};
use std::sync::OnceLock;

/// Statuses no input may produce: a caught panic, a poisoned handle.
fn sane(s: mp_status) -> mp_status {
    assert!(s != MP_E_PANIC && s != MP_E_POISONED && s != MP_E_NULL, "status {s}");
    assert!((MP_E_OWNER_DEAD..=MP_OK).contains(&s), "status {s} is not an mp_status");
    s
}

fn buf() -> mp_buf {
    mp_buf { ptr: null_mut(), len: 0 }
}

/// The calling thread's last error message.
fn last_error() -> String {
    let mut b = vec![0 as c_char; 4096];
    let mut n = 0usize;
    // SAFETY: a valid buffer and length.
    unsafe { mp_last_error_message(b.as_mut_ptr(), b.len(), &mut n) };
    b[..n.min(b.len())].iter().map(|&c| c as u8 as char).collect()
}

/// The documented name rule, independently.
fn valid_name(b: &[u8]) -> bool {
    let bare = b.strip_prefix(b"/").unwrap_or(b);
    !bare.is_empty()
        && bare.len() <= 200
        && bare[0] != b'.'
        && bare.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

fn names(data: &[u8]) {
    let raw: Vec<u8> = data.iter().copied().take_while(|&b| b != 0).collect();
    let valid = valid_name(&raw);
    let c = CString::new(raw.clone()).unwrap();
    let n = c.as_ptr();
    let flags = MP_OPEN_ATTACH_ONLY;
    let bare = std::str::from_utf8(raw.strip_prefix(b"/").unwrap_or(&raw)).unwrap_or("");
    // SAFETY: every pointer is valid; handles opened are closed.
    unsafe {
        let mut results: Vec<(SegmentKind, mp_status)> = Vec::new();
        let qo = mpq_options { maxsize: 0, capacity_bytes: 0, max_message: 0, mode: 0, flags: MPQ_ATTACH_ONLY };
        let mut q = null_mut();
        results.push((SegmentKind::Queue, sane(mpq_open(n, &qo, &mut q))));
        mpq_close(q);
        let mut s = null_mut();
        results.push((SegmentKind::Block, sane(mp_shm_open(n, 0, flags, &mut s))));
        mp_shm_close(s);
        let mut a = null_mut();
        results.push((SegmentKind::Array, sane(mp_array_open(n, b'q' as c_char, 0, flags, &mut a))));
        mp_array_close(a);
        let mut l = null_mut();
        results.push((SegmentKind::Lock, sane(mp_lock_open(n, flags, &mut l))));
        mp_lock_close(l);
        let mut se = null_mut();
        results.push((SegmentKind::Semaphore, sane(mp_sem_open(n, 0, flags, &mut se))));
        mp_sem_close(se);
        let mut e = null_mut();
        results.push((SegmentKind::Event, sane(mp_event_open(n, flags, &mut e))));
        mp_event_close(e);
        let mut co = null_mut();
        results.push((SegmentKind::Condition, sane(mp_cond_open(n, flags, &mut co))));
        mp_cond_close(co);
        let mut b = null_mut();
        results.push((SegmentKind::Barrier, sane(mp_barrier_open(n, 0, flags, &mut b))));
        mp_barrier_close(b);
        let mut sl = null_mut();
        results.push((SegmentKind::ShareableList, sane(mp_slist_open(n, null(), 0, flags, &mut sl))));
        mp_slist_close(sl);
        for (kind, st) in results {
            if !valid {
                assert_eq!(st, MP_E_INVAL, "{kind:?}: invalid name {raw:?} not refused");
            } else {
                let exists = std::path::Path::new(&format!("/dev/shm/{}{bare}", kind.prefix())).exists();
                assert!(st != MP_E_INVAL || exists, "{kind:?}: valid name {raw:?} refused");
                assert!(st != MP_E_NOTFOUND || !exists);
            }
        }
        if !valid {
            // An invalid name never reaches the filesystem.
            for st in [
                mpq_unlink(n),
                mp_shm_unlink(n),
                mp_array_unlink(n),
                mp_lock_unlink(n),
                mp_sem_unlink(n),
                mp_event_unlink(n),
                mp_cond_unlink(n),
                mp_barrier_unlink(n),
                mp_slist_unlink(n),
            ] {
                assert_eq!(sane(st), MP_E_INVAL, "unlink of invalid name {raw:?}");
            }
        }
    }
}

fn seg_name() -> &'static CString {
    static N: OnceLock<CString> = OnceLock::new();
    N.get_or_init(|| CString::new(format!("fuzz-cabi-{}", std::process::id())).unwrap())
}

const OPEN_OK: [mp_status; 5] = [MP_OK, MP_E_CORRUPT, MP_E_TYPE, MP_E_VERSION, MP_E_INVAL];

fn segments(data: &[u8]) {
    let Some((kind, flags, shape, bytes)) = SegmentShape::parse(data) else { return };
    let ops = shape.heal_locks;
    let cname = seg_name();
    let name = cname.to_str().unwrap();
    write_segment(kind, name, bytes, shape).expect("write segment");
    let n = cname.as_ptr();
    let at = MP_OPEN_ATTACH_ONLY;
    let check_open = |s: mp_status| assert!(OPEN_OK.contains(&sane(s)), "open gave {s}");
    // SAFETY: valid pointers throughout; every handle opened is closed.
    unsafe {
        match kind {
            SegmentKind::Queue => {
                let qo = mpq_options { maxsize: 0, capacity_bytes: 0, max_message: 0, mode: 0, flags: MPQ_ATTACH_ONLY };
                let mut q = null_mut();
                let s = mpq_open(n, &qo, &mut q);
                check_open(s);
                if s == MP_OK && ops {
                    let mut m = buf();
                    if sane(mpq_get_timeout(q, &mut m, 0)) == MP_OK {
                        mp_buf_free(&mut m);
                    }
                    sane(mpq_put_timeout(q, b"x".as_ptr(), 1, 0));
                    let mut z = 0usize;
                    sane(mpq_qsize(q, &mut z));
                }
                mpq_close(q);
            }
            SegmentKind::Block => {
                let mut s = null_mut();
                let st = mp_shm_open(n, 0, at, &mut s);
                check_open(st);
                if st == MP_OK {
                    let (p, len) = (mp_shm_ptr(s) as *mut u8, mp_shm_size(s));
                    assert!(!p.is_null() && len >= 1);
                    p.add(len - 1).write_volatile(p.read_volatile());
                }
                mp_shm_close(s);
            }
            SegmentKind::Array => {
                let mut a = null_mut();
                let st = mp_array_open(n, b'q' as c_char, 0, at, &mut a);
                check_open(st);
                if st == MP_OK && ops {
                    let len = mp_array_len(a);
                    let mut v = 0i64;
                    sane(mp_array_get_i64(a, len - 1, &mut v));
                    assert_eq!(sane(mp_array_get_i64(a, len, &mut v)), MP_E_INDEX);
                    if sane(mp_array_set_i64(a, 0, 42)) == MP_OK {
                        assert_eq!(sane(mp_array_get_i64(a, 0, &mut v)), MP_OK);
                        assert_eq!(v, 42);
                    }
                    let mut out = vec![0i64; len.min(512)];
                    sane(mp_array_read(a, 0, out.as_mut_ptr().cast(), out.len()));
                }
                mp_array_close(a);
            }
            SegmentKind::Lock => {
                let mut l = null_mut();
                let st = mp_lock_open(n, at | if flags & 4 != 0 { MP_LOCK_RECURSIVE } else { 0 }, &mut l);
                check_open(st);
                if st == MP_OK && ops && matches!(sane(mp_lock_acquire(l, 0)), MP_OK | MP_E_OWNER_DEAD) {
                    assert_eq!(sane(mp_lock_release(l)), MP_OK);
                }
                mp_lock_close(l);
            }
            SegmentKind::Semaphore => {
                let mut s = null_mut();
                let st = mp_sem_open(n, 0, at, &mut s);
                check_open(st);
                if st == MP_OK {
                    sane(mp_sem_acquire(s, 0));
                    sane(mp_sem_release(s));
                }
                mp_sem_close(s);
            }
            SegmentKind::Event => {
                let mut e = null_mut();
                let st = mp_event_open(n, at, &mut e);
                check_open(st);
                if st == MP_OK {
                    let mut set = false;
                    assert_eq!(sane(mp_event_set(e)), MP_OK);
                    assert_eq!(sane(mp_event_is_set(e, &mut set)), MP_OK);
                    assert!(set);
                    assert_eq!(sane(mp_event_wait(e, 0)), MP_OK);
                }
                mp_event_close(e);
            }
            SegmentKind::Condition => {
                let mut c = null_mut();
                let st = mp_cond_open(n, at, &mut c);
                check_open(st);
                if st == MP_OK && ops {
                    sane(mp_cond_notify(c, 1));
                    sane(mp_cond_notify_all(c));
                }
                mp_cond_close(c);
            }
            SegmentKind::Barrier => {
                let mut b = null_mut();
                let st = mp_barrier_open(n, 0, at, &mut b);
                check_open(st);
                if st == MP_OK && ops {
                    let mut idx = 0u32;
                    sane(mp_barrier_wait(b, 0, &mut idx));
                    sane(mp_barrier_reset(b));
                }
                mp_barrier_close(b);
            }
            SegmentKind::ShareableList => {
                let mut l = null_mut();
                let st = mp_slist_open(n, null(), 0, at, &mut l);
                check_open(st);
                if st == MP_OK && ops {
                    let mut len = 0usize;
                    assert_eq!(sane(mp_slist_len(l, &mut len)), MP_OK);
                    let mut m = buf();
                    if len > 0 && sane(mp_slist_get(l, len - 1, &mut m)) == MP_OK {
                        mp_buf_free(&mut m);
                    }
                    assert_eq!(sane(mp_slist_get(l, len, &mut m)), MP_E_INDEX);
                    if len > 0 {
                        assert_eq!(sane(mp_slist_set(l, 0, [0xf5u8].as_ptr(), 1)), MP_OK);
                    }
                }
                mp_slist_close(l);
            }
        }
    }
    remove_segment(kind, name);
}

fn pipes(data: &[u8]) {
    let Some((&cfg, stream)) = data.split_first() else { return };
    let stream = &stream[..stream.len().min(MAX_STREAM)];
    let max_frame = [16u64, 300, 70_000, 1 << 30][(cfg & 3) as usize];
    let (ours, hostile) = mpipc::fuzzing::socketpair().expect("socketpair");
    send_and_close(&hostile, stream);
    // SAFETY: valid pointers; mp_pipe_from_fd owns the descriptor; the
    // handle is closed once.
    unsafe {
        let mut p = null_mut();
        assert_eq!(sane(mp_pipe_from_fd(ours.into_raw_fd(), &mut p)), MP_OK);
        assert_eq!(sane(mp_pipe_set_max_frame(p, max_frame)), MP_OK);
        let mut rest = stream;
        let mut i = 0;
        loop {
            let mut ready = false;
            assert_eq!(sane(mp_pipe_poll(p, 0, &mut ready)), MP_OK);
            assert!(ready);
            let expect = next_frame(rest, max_frame);
            let (st, msg) = if (cfg >> 2) & 1 == (i & 1) {
                let mut b = buf();
                let st = sane(mp_pipe_recv_timeout(p, &mut b, 0));
                let msg = if st == MP_OK { std::slice::from_raw_parts(b.ptr, b.len).to_vec() } else { vec![] };
                if st == MP_OK {
                    mp_buf_free(&mut b);
                }
                (st, msg)
            } else {
                let mut small = [0u8; 64];
                let mut len = 0usize;
                let st = sane(mp_pipe_recv_into(p, small.as_mut_ptr(), small.len(), &mut len, 0));
                if st == MP_E_BUFSIZE {
                    // Decided from the header; the payload may never come.
                    assert_eq!(Some(len as u64), announced(rest), "MP_E_BUFSIZE must give the size needed");
                    assert!(len > 64);
                    let mut big = vec![0u8; len];
                    let mut len2 = 0usize;
                    let st = sane(mp_pipe_recv_into(p, big.as_mut_ptr(), big.len(), &mut len2, 0));
                    if st == MP_OK {
                        assert_eq!(len2, len);
                    }
                    (st, big)
                } else {
                    (st, if st == MP_OK { small[..len].to_vec() } else { vec![] })
                }
            };
            match expect {
                Expect::Message(m, used) => {
                    assert_eq!(st, MP_OK);
                    assert_eq!(msg, m);
                    rest = &rest[used..];
                    i += 1;
                }
                Expect::Eof => {
                    assert_eq!(st, MP_E_EOF);
                    break;
                }
                Expect::Corrupt => {
                    assert_eq!(st, MP_E_CORRUPT);
                    break;
                }
                Expect::TooBig(_) => {
                    assert_eq!(st, MP_E_TOOBIG);
                    break;
                }
            }
        }
        mp_pipe_close(p);
    }
}

/// The in-process server and our client, kept for the process's life.
struct Mgr(*mut mp_mgr, #[allow(dead_code)] *mut mp_mgr_server);
// SAFETY: the handle is thread-safe (STYLE 17); the fuzzer calls from one
// thread anyway.
unsafe impl Send for Mgr {}
unsafe impl Sync for Mgr {}

fn manager_client() -> *mut mp_mgr {
    static M: OnceLock<Mgr> = OnceLock::new();
    M.get_or_init(|| {
        let addr = CString::new(format!("unix:@mpipc-fuzz-mgr-{}", std::process::id())).unwrap();
        // SAFETY: valid pointers; the server and client live for the process.
        unsafe {
            let mut srv = null_mut();
            assert_eq!(mp_mgr_serve(addr.as_ptr(), null(), 0, &mut srv), MP_OK);
            let mut m = null_mut();
            assert_eq!(mp_mgr_connect(addr.as_ptr(), null(), 0, 5000, &mut m), MP_OK);
            Mgr(m, srv)
        }
    })
    .0
}

/// Kinds none of whose methods block.
const KINDS: [&str; 7] = ["dict", "list", "set", "namespace", "value", "array", "manager"];

fn manager(data: &[u8]) {
    let Some((&k, rest)) = data.split_first() else { return };
    let kind = CString::new(KINDS[k as usize % KINDS.len()]).unwrap();
    let mut parts = rest.splitn(3, |&b| b == 0);
    let name = parts.next().unwrap_or(b"");
    let method = parts.next().unwrap_or(b"");
    let args = parts.next().unwrap_or(b"");
    let (name, method) = (CString::new(name).unwrap(), CString::new(method).unwrap());
    let m = manager_client();
    // SAFETY: valid pointers; result buffers are freed.
    unsafe {
        let mut out = buf();
        let st =
            sane(mp_mgr_call(m, kind.as_ptr(), name.as_ptr(), method.as_ptr(), args.as_ptr(), args.len(), &mut out));
        // The connection must survive any request.
        assert!(st != MP_E_EOF && st != MP_E_IO && st != MP_E_CORRUPT, "mp_mgr_call gave {st}: {}", last_error());
        if st == MP_OK {
            let r = std::slice::from_raw_parts(out.ptr, out.len);
            mpipc::manager::protocol::decode_value(r).expect("a result is one CBOR item");
            mp_buf_free(&mut out);
        }
        // The dict helpers with the same bytes as key and value.
        let half = args.len() / 2;
        let st = sane(mp_mgr_dict_set(m, name.as_ptr(), args.as_ptr(), half, args[half..].as_ptr(), args.len() - half));
        assert!(st != MP_E_EOF && st != MP_E_IO && st != MP_E_CORRUPT, "mp_mgr_dict_set gave {st}: {}", last_error());
        let st = sane(mp_mgr_dict_get(m, name.as_ptr(), args.as_ptr(), half, &mut out));
        assert!(st != MP_E_EOF && st != MP_E_IO && st != MP_E_CORRUPT, "mp_mgr_dict_get gave {st}: {}", last_error());
        if st == MP_OK {
            mp_buf_free(&mut out);
        }
        // Forget the object (the server outlives this input).
        let del = CString::new("delete").unwrap();
        let mgr = CString::new("manager").unwrap();
        let st = sane(mp_mgr_call(m, mgr.as_ptr(), name.as_ptr(), del.as_ptr(), [0x80u8].as_ptr(), 1, &mut out));
        // Names are UTF-8 text (docs/PROTOCOL.md §4).
        let want = if std::str::from_utf8(name.as_bytes()).is_ok() { MP_OK } else { MP_E_INVAL };
        assert_eq!(st, want, "delete of {name:?}: {}", last_error());
        if st == MP_OK {
            mp_buf_free(&mut out);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 4 {
        0 => names(rest),
        1 => segments(rest),
        2 => pipes(rest),
        _ => manager(rest),
    }
});
