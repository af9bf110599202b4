//! `semaphore` and `bounded_semaphore` on Redis: each acquisition is a
//! lease. A ZSET `P sem:{NAME}` maps holder ids (one per acquisition) to
//! the server time their lease ends; `…:meta` holds `value` (the permits:
//! the initial value plus bare releases), `initial` and `bounded`; `…:seq`
//! counts fencing tokens; `…:wake` is the latch a release (or an
//! acquisition leaving permits) sets for the next waiter. `get_value` is
//! `value` minus the live holders, as Python's counter.
//!
//! `release` gives back this client's own permits first (most recent
//! first), then adds bare permits, as a release by anyone does in Python.
//! A permit whose lease ended is gone: releasing it is `MP_E_PERM`. The
//! semaphore and bounded_semaphore of one name are one object on Redis:
//! whichever first creates it decides whether it is bounded.

use super::lease::{self, Lease};
use super::{boolean, check, fcall, fcall_ro, int, Holding, Obj, Plan, RedisManager, NULL};
use crate::error::{Error, ErrorKind, Result};
use crate::manager::kinds::timeout_ms;
use crate::manager::objects::no_method;
use crate::manager::values::{arity, opt_int};
use crate::os::Deadline;
use ciborium::Value as CValue;
use redis::{Cmd, Value};
use std::sync::Arc;
use std::time::Duration;

/// The semaphore's keys: holders, meta, seq, wake.
fn keys(m: &RedisManager, name: &str) -> [String; 4] {
    [m.key("sem", name, ""), m.key("sem", name, ":meta"), m.key("sem", name, ":seq"), m.key("sem", name, ":wake")]
}

fn bounded(kind: &str) -> &'static str {
    if kind == "bounded_semaphore" {
        "1"
    } else {
        "0"
    }
}

/// `mpipc_1_sem_release` of `holder`'s permit plus `n - 1` bare ones (an
/// empty holder: `n` bare permits). Created with the default value 1 if
/// it did not exist.
pub(super) fn release_cmd(m: &RedisManager, kind: &str, name: &str, holder: &str, n: i64) -> Cmd {
    let k = keys(m, name);
    fcall("mpipc_1_sem_release", &[&k[0], &k[1], &k[2], &k[3]]).arg(holder).arg(n).arg(1).arg(bounded(kind)).to_owned()
}

pub(super) fn plan<'a>(m: &RedisManager, o: Obj<'a>, method: &str, args: &'a [CValue]) -> Plan<'a> {
    let keys = keys(m, o.name);
    let k4 = [keys[0].as_str(), keys[1].as_str(), keys[2].as_str(), keys[3].as_str()];
    match method {
        "create" => {
            let v = check!(opt_int(args, 0, 1, method));
            if v < 0 {
                return Plan::err(Error::new(ErrorKind::Invalid, "semaphore initial value must be >= 0"));
            }
            let b = bounded(o.kind);
            let cmds = vec![
                redis::cmd("MULTI"),
                redis::cmd("HSETNX").arg(&keys[1]).arg("value").arg(v).to_owned(),
                redis::cmd("HSETNX").arg(&keys[1]).arg("initial").arg(v).to_owned(),
                redis::cmd("HSETNX").arg(&keys[1]).arg("bounded").arg(b).to_owned(),
                redis::cmd("EXEC"),
            ];
            Plan::Send(
                cmds,
                Box::new(|m, r| {
                    let exec = m.array(r.into_iter().last().expect("EXEC's reply"))?;
                    let created = exec.into_iter().next().map(|v| m.int(v)).transpose()?;
                    Ok(boolean(created == Some(1)))
                }),
            )
        }
        "acquire" => {
            check!(arity(args, 0, 1, method));
            let deadline = Deadline::from_timeout(check!(timeout_ms(args, 0, method)));
            let holder = m.holder();
            let acquire =
                fcall("mpipc_1_sem_acquire", &k4).arg(&holder).arg(m.lease_ms()).arg(1).arg(bounded(o.kind)).to_owned();
            let wake = keys[3].clone();
            let holders = keys[0].clone();
            Plan::one(acquire.clone(), move |m, r| {
                let mut r = r;
                loop {
                    let mut got = m.array(r)?.into_iter();
                    let (Some(ok), Some(n)) = (got.next(), got.next()) else {
                        return Err(m.odd("{ok, fence or ms}", &Value::Nil));
                    };
                    let n = m.int(n)?;
                    if m.int(ok)? == 1 {
                        let lease = renewal(m, holders.clone(), holder.clone())?;
                        m.held().permits.entry((o.kind, o.name.to_owned())).or_default().push(Holding {
                            holder: holder.clone(),
                            fence: n,
                            _lease: lease,
                        });
                        return Ok(boolean(true));
                    }
                    // None free: wait for a release (the latch), or until
                    // the earliest lease ends (n ms; -1: none can end).
                    let Some(left) = deadline.next_remaining() else { return Ok(boolean(false)) };
                    let block = if n > 0 { left.min(Duration::from_millis(n as u64)) } else { left };
                    m.block_on(&wake, block)?;
                    r = m.send_one(&acquire)?;
                }
            })
        }
        "release" => {
            check!(arity(args, 0, 1, method));
            let n = check!(opt_int(args, 0, 1, method));
            if n < 1 {
                return Plan::err(Error::new(ErrorKind::Invalid, "release count must be >= 1"));
            }
            // This client's permits first, the latest first; the rest bare
            // (the last command carries them, so a bounded semaphore's
            // check covers them at once).
            let mine: Vec<Holding> = {
                let mut held = m.held();
                let list = held.permits.entry((o.kind, o.name.to_owned())).or_default();
                let k = (n as usize).min(list.len());
                let at = list.len() - k;
                list.split_off(at).into_iter().rev().collect()
            };
            let mut cmds: Vec<Cmd> = Vec::new();
            let bare = n - mine.len() as i64;
            for (i, h) in mine.iter().enumerate() {
                let extra = if i + 1 == mine.len() { bare } else { 0 };
                cmds.push(release_cmd(m, o.kind, o.name, &h.holder, 1 + extra));
            }
            if mine.is_empty() {
                cmds.push(release_cmd(m, o.kind, o.name, "", n));
            }
            Plan::Send(
                cmds,
                Box::new(move |m, r| {
                    // The leases of the permits given back stop here.
                    drop(mine);
                    for v in r {
                        m.int(v)?;
                    }
                    Ok(NULL.to_vec())
                }),
            )
        }
        "get_value" => Plan::one(fcall_ro("mpipc_1_sem_value", &k4[..2]).arg(1).to_owned(), |m, r| Ok(int(m.int(r)?))),
        _ => Plan::err(no_method(o.kind, method)),
    }
}

/// The keeper's renewal of one permit's lease (`mpipc_1_sem_renew`).
fn renewal(m: &RedisManager, holders: String, holder: String) -> Result<Lease> {
    let ep = Arc::clone(&m.ep);
    let renew = fcall("mpipc_1_sem_renew", &[&holders]).arg(&holder).arg(m.lease_ms()).to_owned();
    lease::keep(m.lease / 3, Box::new(move || ep.run(None, |con| renew.query::<i64>(con)).map(|renewed| renewed == 1)))
}
