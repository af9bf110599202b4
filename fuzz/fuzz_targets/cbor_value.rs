//! The manager's CBOR decoder (src/manager/cbor.rs, via protocol.rs) on
//! arbitrary bytes: it must return (never panic, never allocate beyond
//! what the input can justify, never recurse past its depth limit), and
//! whatever it accepts must survive a round trip: the encoder's output
//! decodes, and re-encoding that gives the same bytes (the encoding is
//! canonical). Request and reply decoding run on the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpipc::manager::protocol::{decode_value, encode_value, Reply, Request};
use mpipc::ErrorKind;

fuzz_target!(|data: &[u8]| {
    match decode_value(data) {
        Ok(v) => {
            let e = encode_value(&v);
            let v2 = decode_value(&e).expect("the encoder's output must decode");
            assert_eq!(encode_value(&v2), e, "encoding is not canonical");
        }
        Err(e) => assert_eq!(e.kind(), ErrorKind::Invalid, "{e:?}"),
    }
    if let Err((_, e)) = Request::decode(data) {
        assert_eq!(e.kind(), ErrorKind::Invalid, "{e:?}");
    }
    if let Err(e) = Reply::decode(data) {
        assert!(matches!(e.kind(), ErrorKind::Invalid | ErrorKind::Corrupt), "{e:?}");
    }
});
