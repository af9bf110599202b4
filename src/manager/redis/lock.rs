//! `lock` and `rlock` on Redis: leases. A HASH `P lock:{NAME}` (or
//! `rlock:`) holds the owner, the fencing token and the depth, and expires
//! with the lease; `…:seq` counts fencing tokens (never expires, so tokens
//! only grow); `…:wake` is the latch a release sets for one waiter, who
//! blocks on it server-side (`BLMPOP`) between tries. The owner is this
//! client in this process; this process's lease keeper renews the lease
//! while the client holds the lock.
//!
//! `fence` (Redis only) gives the fencing token of the caller's hold: a
//! number that grows with every acquisition, to pass along with writes to
//! another system so it can refuse a holder whose lease ended.

use super::lease::{self, Lease};
use super::{boolean, check, fcall, fcall_ro, int, Holding, Obj, Plan, RedisManager, NULL};
use crate::error::Result;
use crate::manager::kinds::timeout_ms;
use crate::manager::objects::no_method;
use crate::manager::values::arity;
use crate::os::Deadline;
use ciborium::Value as CValue;
use redis::{Cmd, Value};
use std::sync::Arc;
use std::time::Duration;

/// The lock's keys: the hash, the fencing counter, the wake latch.
pub(super) fn keys(m: &RedisManager, kind: &str, name: &str) -> [String; 3] {
    [m.key(kind, name, ""), m.key(kind, name, ":seq"), m.key(kind, name, ":wake")]
}

/// `mpipc_1_lock_release` of one level.
pub(super) fn release_cmd(keys: &[String; 3], owner: &str) -> Cmd {
    fcall("mpipc_1_lock_release", &[&keys[0], &keys[1], &keys[2]]).arg(owner).to_owned()
}

pub(super) fn plan<'a>(m: &RedisManager, o: Obj<'a>, method: &str, args: &'a [CValue]) -> Plan<'a> {
    let keys = keys(m, o.kind, o.name);
    let owner = m.owner();
    match method {
        "acquire" => {
            check!(arity(args, 0, 1, method));
            let deadline = Deadline::from_timeout(check!(timeout_ms(args, 0, method)));
            let reentrant = if o.kind == "rlock" { "1" } else { "0" };
            let acquire = fcall("mpipc_1_lock_acquire", &[&keys[0], &keys[1], &keys[2]])
                .arg(&owner)
                .arg(m.lease_ms())
                .arg(reentrant)
                .to_owned();
            Plan::one(acquire.clone(), move |m, r| {
                let mut r = r;
                loop {
                    let mut got = m.array(r)?.into_iter();
                    let (Some(ok), Some(n)) = (got.next(), got.next()) else {
                        return Err(m.odd("{ok, fence or pttl}", &Value::Nil));
                    };
                    let n = m.int(n)?;
                    if m.int(ok)? == 1 {
                        hold(m, &o, &keys, &owner, n)?;
                        return Ok(boolean(true));
                    }
                    // Held by another for n more ms (at most: a release
                    // wakes us through the latch before).
                    let Some(left) = deadline.next_remaining() else { return Ok(boolean(false)) };
                    m.block_on(&keys[2], left.min(Duration::from_millis(n.max(1) as u64)))?;
                    r = m.send_one(&acquire)?;
                }
            })
        }
        "release" => {
            check!(arity(args, 0, 0, method));
            Plan::one(release_cmd(&keys, &owner), move |m, r| {
                let left = m.int(r);
                // Released for good, or not held (lease lost): stop renewing.
                if !matches!(left, Ok(d) if d > 0) {
                    m.held().locks.remove(&(o.kind, o.name.to_owned()));
                }
                left.map(|_| NULL.to_vec())
            })
        }
        "locked" => Plan::one(redis::cmd("EXISTS").arg(&keys[0]).to_owned(), |m, r| Ok(boolean(m.int(r)? == 1))),
        "fence" => {
            check!(arity(args, 0, 0, method));
            Plan::one(fcall_ro("mpipc_1_lock_fence", &[&keys[0]]).arg(&owner).to_owned(), |m, r| Ok(int(m.int(r)?)))
        }
        // A free lock has no key: "created" unless someone holds it.
        "create" => Plan::one(redis::cmd("EXISTS").arg(&keys[0]).to_owned(), |m, r| Ok(boolean(m.int(r)? == 0))),
        _ => Plan::err(no_method(o.kind, method)),
    }
}

/// Records that this client holds `o` (acquired with token `fence`) and
/// has its lease renewed: once per hold (re-entering an rlock gives the
/// same token and keeps the one renewal; a new token is a new hold, after
/// a lease that was lost).
fn hold(m: &RedisManager, o: &Obj<'_>, keys: &[String; 3], owner: &str, fence: i64) -> Result<()> {
    let id = (o.kind, o.name.to_owned());
    if m.held().locks.get(&id).is_some_and(|h| h.fence == fence) {
        return Ok(());
    }
    let lease: Lease = renewal(m, keys[0].clone(), owner.to_owned())?;
    m.held().locks.insert(id, Holding { holder: owner.to_owned(), fence, _lease: lease });
    Ok(())
}

/// The keeper's renewal of a lock's lease (`mpipc_1_lease_renew`).
fn renewal(m: &RedisManager, key: String, owner: String) -> Result<Lease> {
    let ep = Arc::clone(&m.ep);
    let ms = m.lease_ms();
    let renew = fcall("mpipc_1_lease_renew", &[&key]).arg(&owner).arg(ms).to_owned();
    lease::keep(m.lease / 3, Box::new(move || ep.run(None, |con| renew.query::<i64>(con)).map(|renewed| renewed == 1)))
}
