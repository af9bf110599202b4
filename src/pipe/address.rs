//! Listener / client addresses: `unix:/path`, `unix:@abstract`,
//! `tcp:host:port` (host may be a name, an IPv4 address or `[IPv6]`).

use crate::error::{Error, ErrorKind, Result};
use std::path::PathBuf;

/// A parsed address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// A Unix socket at a filesystem path (created mode 0600).
    Unix(PathBuf),
    /// A Linux abstract Unix socket (no file; Python spells it `"\0name"`).
    Abstract(Vec<u8>),
    /// A TCP address; needs an authkey.
    Tcp(String, u16),
}

impl Address {
    /// Parses `unix:/path`, `unix:@name` or `tcp:host:port`.
    pub fn parse(s: &str) -> Result<Address> {
        let bad = |why: &str| Error::new(ErrorKind::Invalid, format!("invalid address {s:?}: {why}"));
        if let Some(rest) = s.strip_prefix("unix:") {
            if let Some(name) = rest.strip_prefix('@') {
                if name.is_empty() || name.len() > 107 {
                    return Err(bad("abstract name must be 1 to 107 bytes"));
                }
                return Ok(Address::Abstract(name.as_bytes().to_vec()));
            }
            if rest.is_empty() || rest.len() > 107 || rest.contains('\0') {
                return Err(bad("socket path must be 1 to 107 bytes"));
            }
            return Ok(Address::Unix(PathBuf::from(rest)));
        }
        if let Some(rest) = s.strip_prefix("tcp:") {
            let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("expected tcp:host:port"))?;
            let port: u16 = port.parse().map_err(|_| bad("port must be 0 to 65535"))?;
            let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
            if host.is_empty() {
                return Err(bad("empty host"));
            }
            return Ok(Address::Tcp(host.to_owned(), port));
        }
        Err(bad("expected unix:/path, unix:@name or tcp:host:port"))
    }

    /// Whether this is a TCP address (which requires an authkey).
    pub fn is_tcp(&self) -> bool {
        matches!(self, Address::Tcp(..))
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "unix:{}", p.display()),
            Address::Abstract(n) => write!(f, "unix:@{}", String::from_utf8_lossy(n)),
            Address::Tcp(h, p) if h.contains(':') => write!(f, "tcp:[{h}]:{p}"),
            Address::Tcp(h, p) => write!(f, "tcp:{h}:{p}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms_and_refuses_the_rest() {
        assert_eq!(Address::parse("unix:/tmp/s").unwrap(), Address::Unix("/tmp/s".into()));
        assert_eq!(Address::parse("unix:@x").unwrap(), Address::Abstract(b"x".to_vec()));
        assert_eq!(Address::parse("tcp:127.0.0.1:80").unwrap(), Address::Tcp("127.0.0.1".into(), 80));
        assert_eq!(Address::parse("tcp:[::1]:9").unwrap(), Address::Tcp("::1".into(), 9));
        assert_eq!(Address::parse("tcp:[::1]:9").unwrap().to_string(), "tcp:[::1]:9");
        for bad in ["", "unix:", "unix:@", "tcp:host", "tcp::1", "tcp:h:99999", "http://x", "/tmp/s"] {
            assert_eq!(Address::parse(bad).unwrap_err().kind(), ErrorKind::Invalid, "{bad:?}");
        }
    }
}
