//! The manager server's request path (src/manager/server.rs
//! `serve_connection`, protocol.rs, cbor.rs, objects.rs) against a hostile
//! client.
//!
//! Input: a mode byte, then either the raw byte stream the client sends
//! (mode bit 0 clear: frame headers included, so broken and oversized
//! headers are reached too), or records `[u16 LE length][CBOR body]` that
//! are each sent as one well-formed frame (bit 0 set: the fuzzer works on
//! the requests themselves). The real connection loop serves them on a
//! thread with the server's own stack size; every reply must be a
//! well-formed reply frame, one per request frame and in order, carrying
//! the request's id (or 0) and, for a request that does not decode, the
//! status MP_E_INVAL. A panic, a hang, an overflowed stack or a runaway
//! allocation in the server fails the target.
#![no_main]

mod common;

use common::{frame, next_frame, Expect, MAX_STREAM};
use libfuzzer_sys::fuzz_target;
use mpipc::manager::protocol::Request;
use mpipc::ErrorKind;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else { return };
    let body = &body[..body.len().min(MAX_STREAM)];
    let framed = mode & 1 == 1;
    let stream: Vec<u8> = if framed {
        let mut out = Vec::new();
        let mut rest = body;
        while rest.len() >= 2 {
            let n = (u16::from_le_bytes([rest[0], rest[1]]) as usize).min(rest.len() - 2);
            out.extend(frame(&rest[2..2 + n]));
            rest = &rest[2 + n..];
        }
        out
    } else {
        body.to_vec()
    };

    // The request frames the server will see, read independently.
    let mut frames = Vec::new();
    let mut rest = &stream[..];
    let tail;
    loop {
        match next_frame(rest, mpipc::manager::MAX_REQUEST) {
            Expect::Message(m, used) => {
                frames.push(m);
                rest = &rest[used..];
            }
            other => {
                tail = Some(other);
                break;
            }
        }
    }

    let session = mpipc::fuzzing::manager_session(&stream).expect("session");
    assert_eq!(session.requests as usize, frames.len(), "request frames counted");
    for (i, r) in session.replies.iter().enumerate() {
        assert!(r.is_ok(), "reply {i} is not a well-formed reply: {r:?}");
    }
    let replies: Vec<_> = session.replies.into_iter().map(|r| r.unwrap()).collect();
    // One reply per request frame, in order; then, for a header the server
    // refuses, one reply with id 0 saying why.
    let refused = matches!(tail, Some(Expect::Corrupt) | Some(Expect::TooBig(_)));
    assert_eq!(replies.len(), frames.len() + refused as usize, "reply count");
    for (i, f) in frames.iter().enumerate() {
        let r = &replies[i];
        match Request::decode(f) {
            Ok(req) => assert_eq!(r.id, req.id, "reply {i} id"),
            Err((id, _)) => {
                assert_eq!(r.id, id.unwrap_or(0), "reply {i} id");
                let e = r.result.as_ref().expect_err("a malformed request succeeded");
                assert_eq!(e.kind(), ErrorKind::Invalid, "malformed request {i}: {e:?}");
            }
        }
        if let Err(e) = &r.result {
            assert_ne!(e.kind(), ErrorKind::Panic);
        }
    }
    if refused {
        let last = replies.last().unwrap();
        assert_eq!(last.id, 0);
        let k = last.result.as_ref().unwrap_err().kind();
        assert!(matches!(k, ErrorKind::Corrupt | ErrorKind::TooBig), "{k:?}");
    }
});
