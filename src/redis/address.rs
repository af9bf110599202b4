//! Redis addresses of mpipc objects (docs/REDIS.md, "Addresses"): the
//! grammar of issue 22, parsed here rather than by the `redis` crate
//! (which takes the whole path as the db number and would refuse
//! `redis://h/0/jobs`), so every error names the part that is wrong.
//!
//! ```text
//! queue:   redis://[user[:password]@]host[:port][/db]/NAME[?opts]        (valkey://; rediss://, valkeys:// = TLS)
//!          redis+unix:///path/to/redis.sock/NAME[?db=N&user=U&password=P&opts]   (unix://, valkey+unix://)
//! manager: the same without /NAME (the whole unix path is the socket)
//! opts:    ns=NAME  ack=at-most-once|at-least-once  lease_ms=N  timeout_ms=N
//! ```

/// Where the server is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Server {
    /// A host name or IP address and a port; `tls` for `rediss://` and
    /// `valkeys://` (refused when connecting: see docs/REDIS.md, "TLS").
    Tcp {
        /// Name, IPv4 or IPv6 address (without brackets).
        host: String,
        /// 1..=65535, 6379 when the address gives none.
        port: u16,
        /// Whether the scheme asked for TLS.
        tls: bool,
    },
    /// The path of the server's unix socket.
    Unix(std::path::PathBuf),
}

/// Delivery of a queue's messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Ack {
    /// A message taken is gone, whatever happens to its consumer (the
    /// default, as with the shared-memory queue).
    #[default]
    AtMostOnce,
    /// A message taken waits in the consumer's processing list until its
    /// `task_done`; a consumer whose lease ends gives its messages back.
    AtLeastOnce,
}

/// A parsed address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// Where the server is.
    pub server: Server,
    /// The logical database (`SELECT`), 0 unless the address names one.
    pub db: u32,
    /// The ACL user (`AUTH user password`), if any.
    pub user: Option<String>,
    /// The password, percent-decoded; never shown in messages.
    pub password: Option<String>,
    /// The object's name (queues), `None` for a manager address.
    pub name: Option<String>,
    /// The namespace (`?ns=`): keys start with `mpipc:NS:` instead of `mpipc:`.
    pub ns: Option<String>,
    /// Delivery asked for by `?ack=`; `None` when the address does not say
    /// (a new queue is then at-most-once, an existing one keeps its own).
    pub ack: Option<Ack>,
    /// Lease of locks, semaphores and at-least-once consumers (`?lease_ms=`).
    pub lease_ms: Option<u64>,
    /// Bound of connecting and of each reply (`?timeout_ms=`).
    pub timeout_ms: Option<u64>,
}

/// Whether `name` is a Redis address (it has a scheme) rather than a local name.
pub fn is_address(name: &str) -> bool {
    name.contains("://")
}

/// The error text (`MP_E_INVAL` in the C ABI); never contains the password.
pub type ParseError = String;

/// Object names and namespaces follow the rule of local names
/// (`segment::validate_name`), so one name means one thing everywhere; none
/// can hold `{` or `}`, which keeps the hash tag `{NAME}` intact.
fn valid_name(s: &str) -> bool {
    crate::segment::validate_name(s).is_ok_and(|bare| bare.len() == s.len())
}

fn pct_decode(s: &str, what: &str) -> Result<String, ParseError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(v) => {
                    out.push(v);
                    i += 3;
                    continue;
                }
                None => return Err(format!("bad percent escape in the {what}")),
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("the {what} is not UTF-8"))
}

/// Parses `text`; `object` = whether a name must end the path (queues) or
/// must not (a manager).
pub fn parse(text: &str, object: bool) -> Result<Address, ParseError> {
    let shown = redact(text);
    let bad = |why: String| format!("{why} in {shown:?}");
    let (scheme, rest) = text.split_once("://").ok_or_else(|| bad("no scheme".into()))?;
    let (tls, unix) = match scheme {
        "redis" | "valkey" => (false, false),
        "rediss" | "valkeys" => (true, false),
        "redis+unix" | "valkey+unix" | "unix" => (false, true),
        other => {
            return Err(bad(format!(
                "{other:?} is not a Redis scheme (redis, rediss, valkey, valkeys, redis+unix, unix)"
            )))
        }
    };
    if rest.contains('#') {
        return Err(bad("a fragment (#...) is not accepted".into()));
    }
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let mut a = Address {
        server: Server::Unix(Default::default()),
        db: 0,
        user: None,
        password: None,
        name: None,
        ns: None,
        ack: None,
        lease_ms: None,
        timeout_ms: None,
    };
    let mut segs: Vec<&str>;
    if unix {
        if !rest.starts_with('/') {
            return Err(bad("a unix socket address needs an absolute path (redis+unix:///path/to/redis.sock)".into()));
        }
        segs = rest.split('/').skip(1).collect();
        if object {
            let n = segs
                .pop()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| bad("queue name missing after the socket path".into()))?;
            a.name = Some(n.to_owned());
        }
        if segs.is_empty() || segs.iter().any(|s| s.is_empty()) {
            return Err(bad("socket path missing or with an empty component".into()));
        }
        a.server = Server::Unix(format!("/{}", segs.join("/")).into());
    } else {
        // The credentials end at the last '@' (a password may hold an
        // unescaped '/'), the host at the first '/' after them.
        let (auth, after) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (hostport, path) = match after.find('/') {
            Some(i) => (&after[..i], &after[i + 1..]),
            None => (after, ""),
        };
        if let Some(auth) = auth {
            let (u, p) = match auth.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (auth, None),
            };
            if !u.is_empty() {
                a.user = Some(pct_decode(u, "user name")?);
            }
            if let Some(p) = p {
                a.password = Some(pct_decode(p, "password")?);
            }
        }
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h6, after) = h.split_once(']').ok_or_else(|| bad("unclosed '[' in the IPv6 host".into()))?;
            h6.parse::<std::net::Ipv6Addr>().map_err(|_| bad(format!("{h6:?} is not an IPv6 address")))?;
            (h6, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(bad("host missing".into()));
        }
        if !host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b)) {
            return Err(bad(format!("bad host {host:?}")));
        }
        let port = match port {
            None => 6379,
            Some(p) => {
                p.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(|| bad(format!("bad port {p:?} (1..=65535)")))?
            }
        };
        a.server = Server::Tcp { host: host.to_owned(), port, tls };
        segs = if path.is_empty() { vec![] } else { path.split('/').collect() };
        if segs.last() == Some(&"") {
            segs.pop();
        } // one trailing slash
        let max = if object { 2 } else { 1 };
        if segs.len() > max || segs.iter().any(|s| s.is_empty()) {
            return Err(bad(format!(
                "path {:?}: expected {}",
                format!("/{path}"),
                if object { "[/db]/NAME" } else { "[/db]" }
            )));
        }
        if object {
            a.name = Some(
                segs.pop().ok_or_else(|| bad("queue name missing (redis://host[:port][/db]/NAME)".into()))?.to_owned(),
            );
        }
        if let Some(db) = segs.pop() {
            a.db = db
                .parse::<u32>()
                .ok()
                .filter(|&d| d <= i32::MAX as u32)
                .ok_or_else(|| bad(format!("db {db:?} is not a number")))?;
        }
    }
    if let Some(n) = &a.name {
        if !valid_name(n) {
            return Err(bad(format!(
                "invalid name {n:?}: use 1 to {} of letters, digits, '.', '_', '-', not starting with '.'",
                crate::segment::MAX_NAME_LEN
            )));
        }
    }
    for kv in query.into_iter().flat_map(|q| q.split('&')).filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let v = pct_decode(v, k)?;
        let num = |v: &str| v.parse::<u64>().map_err(|_| bad(format!("{k}={v:?} is not a number")));
        match k {
            "ns" if valid_name(&v) => a.ns = Some(v),
            "ns" => return Err(bad(format!("invalid namespace {v:?}"))),
            "ack" => {
                a.ack = Some(match v.as_str() {
                    "at-most-once" => Ack::AtMostOnce,
                    "at-least-once" => Ack::AtLeastOnce,
                    _ => return Err(bad(format!("ack={v:?}: use at-most-once or at-least-once"))),
                })
            }
            "lease_ms" => a.lease_ms = Some(num(&v)?.max(1)),
            "timeout_ms" => a.timeout_ms = Some(num(&v)?),
            "db" if unix => {
                a.db = num(&v)?
                    .try_into()
                    .ok()
                    .filter(|&d: &u32| d <= i32::MAX as u32)
                    .ok_or_else(|| bad("db out of range".into()))?
            }
            "user" if unix => a.user = Some(v),
            "password" | "pass" if unix => a.password = Some(v),
            _ => {
                return Err(bad(format!(
                    "unknown option {k:?} (known: ns, ack, lease_ms, timeout_ms{})",
                    if unix { ", db, user, password" } else { "" }
                )))
            }
        }
    }
    Ok(a)
}

/// `text` with any password replaced by `***` (for messages).
pub fn redact(text: &str) -> String {
    let mut s = text.to_owned();
    if let Some(i) = s.find("://") {
        // As the parser reads it: the credentials end at the last '@'
        // before the options.
        let auth_end = s[i + 3..].find('?').map_or(s.len(), |j| i + 3 + j);
        if let Some(at) = s[i + 3..auth_end].rfind('@') {
            let at = i + 3 + at;
            if let Some(c) = s[i + 3..at].find(':') {
                s.replace_range(i + 3 + c + 1..at, "***");
            }
        }
    }
    for key in ["password=", "pass="] {
        let mut from = 0;
        while let Some(p) = s[from..].find(key).map(|p| from + p) {
            let start = p + key.len();
            let end = s[start..].find('&').map_or(s.len(), |e| start + e);
            s.replace_range(start..end, "***");
            from = start + 3;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    fn tcp(h: &str, p: u16) -> Server {
        Server::Tcp { host: h.into(), port: p, tls: false }
    }
    #[test]
    fn accepted_forms() {
        let a = parse("redis://127.0.0.1:6390/jobs", true).unwrap();
        assert_eq!((a.server, a.db, a.name.as_deref()), (tcp("127.0.0.1", 6390), 0, Some("jobs")));
        let a = parse("redis://u:p%40ss@h/3/jobs?ns=app&ack=at-least-once&lease_ms=500", true).unwrap();
        assert_eq!(
            (a.user.as_deref(), a.password.as_deref(), a.db, a.ns.as_deref(), a.ack, a.lease_ms),
            (Some("u"), Some("p@ss"), 3, Some("app"), Some(Ack::AtLeastOnce), Some(500))
        );
        assert_eq!(parse("redis://h/3", true).unwrap().name.as_deref(), Some("3")); // queue "3" on db 0
        assert_eq!(parse("redis://:pw@[::1]:7000/0/q", true).unwrap().server, tcp("::1", 7000));
        assert_eq!(
            parse("rediss://h/q", true).unwrap().server,
            Server::Tcp { host: "h".into(), port: 6379, tls: true }
        );
        let a = parse("redis+unix:///tmp/r/redis.sock/jobs?db=2&password=x", true).unwrap();
        assert_eq!(
            (a.server, a.db, a.name.as_deref(), a.password.as_deref()),
            (Server::Unix("/tmp/r/redis.sock".into()), 2, Some("jobs"), Some("x"))
        );
        let m = parse("unix:///tmp/r/redis.sock?ns=app", false).unwrap();
        assert_eq!((m.server, m.name, m.ns.as_deref()), (Server::Unix("/tmp/r/redis.sock".into()), None, Some("app")));
        assert_eq!(parse("redis://h:1/", false).unwrap().db, 0);
        assert_eq!(parse("valkey://h/5", false).unwrap().db, 5);
    }
    #[test]
    fn errors_name_the_part_and_hide_the_password() {
        let e = |t: &str, o: bool| parse(t, o).unwrap_err();
        assert!(e("redis://h:x/jobs", true).contains("bad port \"x\""));
        assert!(e("redis://h:0/jobs", true).contains("bad port"));
        assert!(e("redis://h/a/jobs", true).contains("db \"a\""));
        assert!(e("redis://h", true).contains("queue name missing"));
        assert!(e("redis://h/1/2/3", true).contains("expected [/db]/NAME"));
        assert!(e("redis://h/x y", true).contains("invalid name"));
        assert!(e("redis://h/q?foo=1", true).contains("unknown option \"foo\""));
        assert!(e("redis://h/q?ack=maybe", true).contains("ack="));
        assert!(e("ftp://h/q", true).contains("not a Redis scheme"));
        assert!(e("redis+unix://tmp/s.sock/q", true).contains("absolute path"));
        assert!(e("redis://:secret@h:x/q", true).contains("redis://:***@h:x/q"));
        assert!(!e("redis://u:secret@h:x/q", true).contains("secret"));
        assert!(!e("unix:///s.sock/q?pass=secret&x=1", true).contains("secret"));
        assert!(!e("redis://user:pa/ssword@127.0.0.1:x/q", true).contains("ssword"));
        assert!(!e("unix:///s.sock/q?password=one&password=secret2&x=1", true).contains("secret2"));
        assert!(e("redis://h/0/q", false).contains("expected [/db]"));
    }
}
