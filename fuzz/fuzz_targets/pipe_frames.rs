//! The Connection frame decoder (src/pipe/mod.rs) against a hostile peer.
//!
//! Input: one configuration byte, then the bytes the peer writes before
//! closing. The library's `Connection` reads them from a real socketpair
//! (buffered reads, the short and long headers, `max_frame`, payloads
//! larger than its 64 KiB buffer) with `recv_timeout` and `recv_into`,
//! and every outcome is checked against the format's independent reading
//! (common::next_frame): the same messages in the same order, then the
//! right error, which must stick (a broken stream stays broken).
#![no_main]

mod common;

use common::{announced, next_frame, send_and_close, Expect, MAX_STREAM};
use libfuzzer_sys::fuzz_target;
use mpipc::ErrorKind;
use std::time::Duration;

const MAX_FRAMES: [u64; 4] = [16, 300, 70_000, mpipc::pipe::DEFAULT_MAX_FRAME];

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, stream)) = data.split_first() else { return };
    let stream = &stream[..stream.len().min(MAX_STREAM)];
    let max_frame = MAX_FRAMES[(cfg & 3) as usize];
    let use_into = cfg & 4 != 0;
    let alternate = cfg & 8 != 0;
    let into_cap = [0usize, 8, 256, 100_000][((cfg >> 4) & 3) as usize];

    let (conn, hostile) = mpipc::fuzzing::frame_pair().expect("socketpair");
    conn.set_max_frame(max_frame);
    assert_eq!(conn.max_frame(), max_frame);
    send_and_close(&hostile, stream);

    let mut rest = stream;
    let mut n = 0usize;
    loop {
        // Everything was written before the first receive: the connection
        // must always report something to receive (a message or EOF).
        assert!(conn.poll(Some(Duration::ZERO)).expect("poll"), "poll missed pending input");
        let expect = next_frame(rest, max_frame);
        let into = use_into ^ (alternate && n % 2 == 1);
        let got: Result<Vec<u8>, mpipc::Error> = if into {
            let mut buf = vec![0u8; into_cap];
            match conn.recv_into(&mut buf, Some(Duration::ZERO)) {
                Ok(len) => Ok(buf[..len].to_vec()),
                Err(e) if e.kind() == ErrorKind::BufSize => {
                    // Decided from the header: the message (which may
                    // still be incomplete) stays queued, its size is told.
                    let len = announced(rest).expect("BufSize without a valid header");
                    assert!(len <= max_frame && len > into_cap as u64, "BufSize for {len} bytes");
                    assert_eq!(e.needed() as u64, len, "BufSize must tell the size needed");
                    conn.recv_bytes_timeout(Some(Duration::ZERO))
                }
                Err(e) => Err(e),
            }
        } else {
            conn.recv_bytes_timeout(Some(Duration::ZERO))
        };
        match (expect, got) {
            (Expect::Message(m, used), Ok(v)) => {
                assert_eq!(v, m, "message {n} differs");
                rest = &rest[used..];
                n += 1;
                continue;
            }
            (Expect::Eof, Err(e)) if e.kind() == ErrorKind::Eof => {}
            (Expect::Corrupt, Err(e)) if e.kind() == ErrorKind::Corrupt => {}
            (Expect::TooBig(_), Err(e)) if e.kind() == ErrorKind::TooBig => {}
            (expect, got) => panic!("frame {n}: expected {expect:?}, got {got:?}"),
        }
        // Once failed, it keeps failing the same way.
        let again = conn.recv_bytes_timeout(Some(Duration::ZERO)).expect_err("a receive after the end must fail");
        let first = match next_frame(rest, max_frame) {
            Expect::Eof => ErrorKind::Eof,
            Expect::Corrupt => ErrorKind::Corrupt,
            Expect::TooBig(_) => ErrorKind::TooBig,
            Expect::Message(..) => unreachable!(),
        };
        assert_eq!(again.kind(), first, "the error must stick");
        break;
    }
});
