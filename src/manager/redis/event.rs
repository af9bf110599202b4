//! `event` on Redis: a STRING `P ev:{NAME}` that exists while the event is
//! set, and the latch `P ev:{NAME}:wake` (a LIST holding one token while
//! set) that waiters block on server-side (`BLMPOP`), each putting the
//! token back for the next (`mpipc_1_ev_rearm`).

use super::{boolean, check, fcall, Obj, Plan, RedisManager, NULL};
use crate::manager::kinds::timeout_ms;
use crate::manager::objects::no_method;
use crate::manager::values::arity;
use crate::os::Deadline;
use ciborium::Value as CValue;

pub(super) fn plan<'a>(m: &RedisManager, o: Obj<'a>, method: &str, args: &'a [CValue]) -> Plan<'a> {
    let (flag, wake) = (m.key("ev", o.name, ""), m.key("ev", o.name, ":wake"));
    match method {
        "set" => Plan::one(fcall("mpipc_1_ev_set", &[&flag, &wake]), |m, r| m.int(r).map(|_| NULL.to_vec())),
        "clear" => Plan::one(fcall("mpipc_1_ev_clear", &[&flag, &wake]), |m, r| m.int(r).map(|_| NULL.to_vec())),
        "is_set" | "create" => {
            let is_set = method == "is_set";
            Plan::one(redis::cmd("EXISTS").arg(&flag).to_owned(), move |m, r| {
                let set = m.int(r)? == 1;
                // create: "created" when there was nothing (an unset event
                // has no key).
                Ok(boolean(if is_set { set } else { !set }))
            })
        }
        "wait" => {
            check!(arity(args, 0, 1, method));
            let deadline = Deadline::from_timeout(check!(timeout_ms(args, 0, method)));
            let rearm = fcall("mpipc_1_ev_rearm", &[&flag, &wake]);
            let exists = redis::cmd("EXISTS").arg(&flag).to_owned();
            Plan::one(exists.clone(), move |m, r| {
                if m.int(r)? == 1 {
                    return Ok(boolean(true));
                }
                loop {
                    let Some(left) = deadline.next_remaining() else { return Ok(boolean(false)) };
                    if m.block_on(&wake, left)? {
                        // Woken: set now? Then put the token back for the
                        // next waiter; cleared again: wait on.
                        if m.int(m.send_one(&rearm)?)? == 1 {
                            return Ok(boolean(true));
                        }
                    } else if m.int(m.send_one(&exists)?)? == 1 {
                        // A slice ended: a token lost with a waiter killed
                        // at the wrong moment costs at most one slice.
                        return Ok(boolean(true));
                    }
                }
            })
        }
        _ => Plan::err(no_method(o.kind, method)),
    }
}
