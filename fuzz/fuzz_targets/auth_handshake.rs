//! The authentication handshake (src/pipe/auth.rs) against a hostile peer.
//!
//! Input: a role byte, a key length and key, then the bytes the peer
//! writes before closing. As the challenger (`deliver_challenge`, what a
//! listener and the manager server run) the peer never sees our random
//! challenge, so the handshake must fail, with an error status, whatever
//! it sends. As the challenged (`answer_challenge`, what `connect` runs)
//! the outcome is checked against an independent reading of the protocol
//! (docs/PROTOCOL.md §3): success exactly when the peer sent a valid
//! challenge and then `#WELCOME#`, and our answer must then be the
//! HMAC an honest Python peer expects (computed here with the hmac crate).
#![no_main]

mod common;

use common::{drain, next_frame, send_and_close, split_frames, Expect, MAX_STREAM};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use mpipc::ErrorKind;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

fn hmac_of(digest: &[u8], key: &[u8], msg: &[u8]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).unwrap();
        m.update(msg);
        m.finalize().into_bytes().to_vec()
    }
    match digest {
        b"md5" => run::<Hmac<md5::Md5>>(key, msg),
        b"sha256" => run::<Hmac<sha2::Sha256>>(key, msg),
        b"sha384" => run::<Hmac<sha2::Sha384>>(key, msg),
        _ => unreachable!(),
    }
}

/// The answer an honest peer gives to challenge `payload` (the bytes after
/// `#CHALLENGE#`), or None when the challenge is not one we accept.
fn expected_answer(payload: &[u8], key: &[u8]) -> Option<Vec<u8>> {
    if payload.len() < 20 {
        return None;
    }
    if payload.len() == 20 || payload.len() == 16 {
        return Some(hmac_of(b"md5", key, payload));
    }
    if payload[0] != b'{' {
        return None;
    }
    let close = payload.iter().take(10).position(|&b| b == b'}')?;
    let name = &payload[1..close];
    if !matches!(name, b"md5" | b"sha256" | b"sha384") {
        return None;
    }
    let mut v = [b"{", name, b"}"].concat();
    v.extend(hmac_of(name, key, payload));
    Some(v)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let role = data[0] & 1;
    let klen = (data[1] as usize % 33).min(data.len() - 2);
    let key = &data[2..2 + klen];
    let stream = &data[2 + klen..];
    let stream = &stream[..stream.len().min(MAX_STREAM)];

    let (conn, hostile) = mpipc::fuzzing::frame_pair().expect("socketpair");
    send_and_close(&hostile, stream);
    let allowed = [ErrorKind::Auth, ErrorKind::Eof, ErrorKind::Corrupt, ErrorKind::TooBig];

    if role == 0 {
        let r = mpipc::fuzzing::deliver_challenge(&conn, key, TIMEOUT);
        let e = r.expect_err("a peer that never saw the challenge was accepted");
        assert!(allowed.contains(&e.kind()), "unexpected error {e:?}");
        let sent = split_frames(&drain(&hostile));
        assert!(!sent.is_empty(), "no challenge sent");
        assert_eq!(sent[0].len(), 11 + 8 + 40, "challenge shape");
        assert!(sent[0].starts_with(b"#CHALLENGE#{sha256}"));
        assert!(sent.len() <= 2 && sent.get(1).is_none_or(|v| v == b"#FAILURE#"), "{sent:?}");
        return;
    }

    let r = mpipc::fuzzing::answer_challenge(&conn, key, TIMEOUT);
    // The independent reading of the transcript.
    let first = next_frame(stream, mpipc::pipe::DEFAULT_MAX_FRAME);
    let answer = match first {
        Expect::Message(m, _) if m.len() <= 256 => m.strip_prefix(b"#CHALLENGE#").and_then(|p| expected_answer(p, key)),
        _ => None,
    };
    let sent = split_frames(&drain(&hostile));
    match answer {
        None => {
            let e = r.expect_err("an invalid challenge was answered");
            assert!(allowed.contains(&e.kind()), "unexpected error {e:?}");
            assert!(sent.is_empty(), "answered an invalid challenge: {sent:?}");
        }
        Some(ans) => {
            assert_eq!(sent, vec![ans], "our answer is not the HMAC an honest peer checks");
            let Expect::Message(_, used) = first else { unreachable!() };
            let verdict = next_frame(&stream[used..], mpipc::pipe::DEFAULT_MAX_FRAME);
            let welcomed = matches!(verdict, Expect::Message(v, _) if v == b"#WELCOME#");
            match r {
                Ok(()) => assert!(welcomed, "accepted without #WELCOME#: {verdict:?}"),
                Err(e) => {
                    assert!(!welcomed, "refused after #WELCOME#: {e:?}");
                    assert!(allowed.contains(&e.kind()), "unexpected error {e:?}");
                }
            }
        }
    }
});
