//! `value` on Redis: a STRING `P v:{NAME}` holding the value's canonical
//! CBOR; absent = null (a value never set), as the manager server's value
//! starts.

use super::{boolean, check, fcall, int, Obj, Plan, RedisManager, NULL};
use crate::manager::cbor::{decode, encode};
use crate::manager::objects::no_method;
use crate::manager::protocol::MAX_DEPTH;
use crate::manager::values::{arity, opt_int, value_bytes};
use ciborium::Value as CValue;
use redis::Value;

/// How many times `compare_and_set` tries again when the stored value
/// equals the expected one only by value and keeps changing under it.
const CAS_TRIES: usize = 16;

pub(super) fn plan<'a>(m: &RedisManager, o: Obj<'a>, method: &str, args: &'a [CValue]) -> Plan<'a> {
    let key = m.key("v", o.name, "");
    match method {
        "get" => Plan::one(redis::cmd("GET").arg(&key).to_owned(), move |m, r| match m.bulk(r)? {
            Some(b) => m.cbor(b, &o),
            None => Ok(NULL.to_vec()),
        }),
        "set" => {
            check!(arity(args, 1, 1, method));
            Plan::one(redis::cmd("SET").arg(&key).arg(encode(&args[0])).to_owned(), |m, r| {
                m.ok(r).map(|_| NULL.to_vec())
            })
        }
        "create" => {
            let initial = args.first().map_or_else(|| NULL.to_vec(), encode);
            Plan::one(redis::cmd("SET").arg(&key).arg(initial).arg("NX").to_owned(), |m, r| {
                Ok(boolean(!matches!(m.ok(r)?, Value::Nil)))
            })
        }
        "incr" => {
            check!(arity(args, 0, 1, method));
            let delta = check!(opt_int(args, 0, 1, method));
            let c = fcall("mpipc_1_v_incr", &[&key]).arg(int(delta)).to_owned();
            Plan::one(c, move |m, r| m.cbor_item(r, &o))
        }
        "compare_and_set" => {
            check!(arity(args, 2, 2, method));
            let want = value_bytes(&args[0]);
            let new = encode(&args[1]);
            let cas = {
                let key = key.clone();
                let new = new.clone();
                move |expected: &[u8]| fcall("mpipc_1_v_cas", &[&key]).arg(expected).arg(&new).to_owned()
            };
            let first = cas(&encode(&args[0]));
            let set_if_absent = redis::cmd("SET").arg(&key).arg(&new).arg("NX").to_owned();
            Plan::one(first, move |m, r| {
                let mut reply = r;
                for _ in 0..CAS_TRIES {
                    let mut got = m.array(reply)?.into_iter();
                    if m.int(got.next().unwrap_or(Value::Nil))? == 1 {
                        return Ok(boolean(true));
                    }
                    let current = match m.bulk(got.next().unwrap_or(Value::Nil))? {
                        Some(b) => m.cbor(b, &o)?,
                        // Never set: the value is null.
                        None if want == value_bytes(&CValue::Null) => {
                            match m.ok(m.send_one(&set_if_absent)?)? {
                                Value::Nil => {
                                    // Set meanwhile: compare with that.
                                    reply = m.send_one(&cas(&[0xf6]))?;
                                    continue;
                                }
                                _ => return Ok(boolean(true)),
                            }
                        }
                        None => return Ok(boolean(false)),
                    };
                    // Different bytes, equal by value (1 and 1.0): try again
                    // with the bytes stored.
                    if value_bytes(&decode(&current, MAX_DEPTH)?) != want {
                        return Ok(boolean(false));
                    }
                    reply = m.send_one(&cas(&current))?;
                }
                Ok(boolean(false))
            })
        }
        _ => Plan::err(no_method(o.kind, method)),
    }
}
