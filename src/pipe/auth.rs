//! The HMAC challenge/response handshake of Python's
//! `multiprocessing.connection` (`deliver_challenge` / `answer_challenge`),
//! in both its current form (Python >= 3.12: `{sha256}` prefix, 40 random
//! bytes) and the legacy one (Python <= 3.11: 20 random bytes, raw
//! HMAC-MD5), so that we interoperate with either.
//!
//! Server: sends `#CHALLENGE#{sha256}<40 random bytes>`; the client answers
//! `{digest}<HMAC(key, "{sha256}<random>")>` (or, legacy, the raw 16-byte
//! HMAC-MD5 of the same bytes); the server answers `#WELCOME#` or
//! `#FAILURE#`. Then the roles swap. The MAC covers the digest prefix, so a
//! client cannot downgrade the algorithm. Comparison is constant-time.

use super::Connection;
use crate::error::{Error, ErrorKind, Result};
use hmac::{Hmac, Mac};
use std::time::Duration;

const CHALLENGE: &[u8] = b"#CHALLENGE#";
const WELCOME: &[u8] = b"#WELCOME#";
const FAILURE: &[u8] = b"#FAILURE#";
/// Random bytes in a challenge we send (Python's MESSAGE_LENGTH).
const MESSAGE_LENGTH: usize = 40;
/// Handshake messages are at most this long (Python's `recv_bytes(256)`).
const MAX_HANDSHAKE: usize = 256;

fn auth_err(msg: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::Auth, msg)
}

/// The digests we accept: Python's `_ALLOWED_DIGESTS` minus the SHA-3 ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Digest {
    Md5,
    Sha256,
    Sha384,
}

impl Digest {
    fn from_name(name: &[u8]) -> Option<Digest> {
        match name {
            b"md5" => Some(Digest::Md5),
            b"sha256" => Some(Digest::Sha256),
            b"sha384" => Some(Digest::Sha384),
            _ => None,
        }
    }

    fn name(self) -> &'static [u8] {
        match self {
            Digest::Md5 => b"md5",
            Digest::Sha256 => b"sha256",
            Digest::Sha384 => b"sha384",
        }
    }

    fn mac(self, key: &[u8], msg: &[u8]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], msg: &[u8]) -> Vec<u8> {
            let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
        match self {
            Digest::Md5 => run::<Hmac<md5::Md5>>(key, msg),
            Digest::Sha256 => run::<Hmac<sha2::Sha256>>(key, msg),
            Digest::Sha384 => run::<Hmac<sha2::Sha384>>(key, msg),
        }
    }

    /// Constant-time check of `mac` against HMAC(key, msg).
    fn verify(self, key: &[u8], msg: &[u8], mac: &[u8]) -> bool {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], msg: &[u8], mac: &[u8]) -> bool {
            let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
            m.update(msg);
            m.verify_slice(mac).is_ok()
        }
        match self {
            Digest::Md5 => run::<Hmac<md5::Md5>>(key, msg, mac),
            Digest::Sha256 => run::<Hmac<sha2::Sha256>>(key, msg, mac),
            Digest::Sha384 => run::<Hmac<sha2::Sha384>>(key, msg, mac),
        }
    }
}

/// Splits a challenge payload or a response into (digest, payload), as
/// Python's `_get_digest_name_and_payload`: 16- or 20-byte messages are the
/// legacy MD5 form without prefix.
fn digest_and_payload(message: &[u8]) -> Result<(Digest, bool, &[u8])> {
    if message.len() == 16 || message.len() == 20 {
        return Ok((Digest::Md5, true, message));
    }
    if message.first() == Some(&b'{') {
        if let Some(close) = message.iter().take(10).position(|&b| b == b'}') {
            if let Some(d) = Digest::from_name(&message[1..close]) {
                return Ok((d, false, &message[close + 1..]));
            }
        }
    }
    Err(auth_err("unsupported handshake message: wrong length, no digest prefix, or an unsupported digest"))
}

fn recv_small(conn: &Connection, timeout: Duration) -> Result<Vec<u8>> {
    let mut buf = [0u8; MAX_HANDSHAKE];
    match conn.recv_into(&mut buf, Some(timeout)) {
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(e) if e.kind() == ErrorKind::BufSize => {
            Err(auth_err("handshake message too long: not an mpipc/multiprocessing peer"))
        }
        Err(e) if e.kind() == ErrorKind::Empty => {
            Err(Error::new(ErrorKind::Timeout, "authentication handshake timed out"))
        }
        Err(e) => Err(e),
    }
}

fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut v = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        // SAFETY: writing into the unfilled tail of v.
        let r = unsafe { libc::getrandom(v[filled..].as_mut_ptr().cast(), n - filled, 0) };
        if r < 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(Error::from_io("getrandom", err));
        }
        filled += r as usize;
    }
    Ok(v)
}

/// Our side as the challenger: proves the peer knows `key`.
pub fn deliver_challenge(conn: &Connection, key: &[u8], timeout: Duration) -> Result<()> {
    let mut message = b"{sha256}".to_vec();
    message.extend(random_bytes(MESSAGE_LENGTH)?);
    conn.send_bytes(&[CHALLENGE, &message].concat())?;
    let response = recv_small(conn, timeout)?;
    let ok = match digest_and_payload(&response) {
        Ok((digest, _, mac)) => digest.verify(key, &message, mac),
        Err(_) => false,
    };
    if ok {
        conn.send_bytes(WELCOME)?;
        Ok(())
    } else {
        // Best effort: the peer may already be gone.
        let _ = conn.send_bytes(FAILURE);
        Err(auth_err("the peer's digest was wrong: authkeys differ"))
    }
}

/// Our side as the challenged: proves we know `key`.
pub fn answer_challenge(conn: &Connection, key: &[u8], timeout: Duration) -> Result<()> {
    let message = recv_small(conn, timeout)?;
    let payload = message
        .strip_prefix(CHALLENGE)
        .ok_or_else(|| auth_err("expected a #CHALLENGE# from the peer: is it authenticating?"))?;
    if payload.len() < 20 {
        return Err(auth_err("challenge too short"));
    }
    let (digest, legacy, _) = digest_and_payload(payload)?;
    let mac = digest.mac(key, payload);
    let response = if legacy { mac } else { [b"{", digest.name(), b"}", &mac[..]].concat() };
    conn.send_bytes(&response)?;
    let verdict = recv_small(conn, timeout)?;
    if verdict == WELCOME {
        Ok(())
    } else {
        Err(auth_err("the peer rejected our digest: authkeys differ"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipe::pipe;

    fn handshake(server_key: &'static [u8], client_key: &'static [u8]) -> (Result<()>, Result<()>) {
        let (a, b) = pipe(true).unwrap();
        let t = Duration::from_secs(5);
        let server = std::thread::spawn(move || {
            deliver_challenge(&a, server_key, t).and_then(|_| answer_challenge(&a, server_key, t))
        });
        let client = answer_challenge(&b, client_key, t).and_then(|_| deliver_challenge(&b, client_key, t));
        (server.join().unwrap(), client)
    }

    #[test]
    fn same_key_passes_both_ways() {
        let (s, c) = handshake(b"secret", b"secret");
        s.unwrap();
        c.unwrap();
    }

    #[test]
    fn different_keys_fail_with_auth() {
        let (s, c) = handshake(b"secret", b"wrong");
        assert_eq!(s.unwrap_err().kind(), ErrorKind::Auth);
        assert_eq!(c.unwrap_err().kind(), ErrorKind::Auth);
    }

    #[test]
    fn legacy_md5_challenge_is_answered_with_raw_md5() {
        let (a, b) = pipe(true).unwrap();
        let random = [7u8; 20];
        a.send_bytes(&[CHALLENGE, &random].concat()).unwrap();
        a.send_bytes(WELCOME).unwrap(); // queued: b reads it as the verdict after answering
        answer_challenge(&b, b"key", Duration::from_secs(5)).unwrap();
        let answer = a.recv_bytes().unwrap();
        assert_eq!(answer, Digest::Md5.mac(b"key", &random), "legacy answers are the raw 16-byte HMAC-MD5");
    }

    #[test]
    fn digest_parsing() {
        assert_eq!(digest_and_payload(b"{sha256}abc").unwrap().0, Digest::Sha256);
        assert!(digest_and_payload(&[0u8; 16]).unwrap().1);
        assert!(digest_and_payload(b"{sha3_256}xxxxxxxxxxxxxxxxxxxxxxx").is_err());
        assert!(digest_and_payload(b"no prefix at all, long enough").is_err());
        // Python's known answer: HMAC-MD5 of RFC 2104 test case 2.
        let mac = Digest::Md5.mac(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            mac,
            [0x75, 0x0c, 0x78, 0x3e, 0x6a, 0xb0, 0xb5, 0x03, 0xea, 0xa8, 0x6e, 0x31, 0x0a, 0x5d, 0xb7, 0x38]
        );
    }
}
