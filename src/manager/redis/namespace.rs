//! `namespace` on Redis: a HASH `P n:{NAME}` of attribute name (UTF-8)
//! to the value's canonical CBOR. `dict` gives Redis's order, not
//! insertion order.

use super::{boolean, check, Obj, Plan, RedisManager, NULL};
use crate::error::{Error, ErrorKind, Result};
use crate::manager::cbor::{encode, head};
use crate::manager::objects::no_method;
use crate::manager::values::{arity, text_arg};
use ciborium::Value as CValue;
use redis::Value;

fn attr_error(n: &str) -> Error {
    Error::new(ErrorKind::NotFound, format!("AttributeError: no attribute {n:?}"))
}

pub(super) fn plan<'a>(m: &RedisManager, o: Obj<'a>, method: &str, args: &'a [CValue]) -> Plan<'a> {
    let key = m.key("n", o.name, "");
    match method {
        "getattr" => {
            check!(arity(args, 1, 2, method));
            let n = check!(text_arg(args, 0, method));
            Plan::one(redis::cmd("HGET").arg(&key).arg(n).to_owned(), move |m, r| match m.bulk(r)? {
                Some(b) => m.cbor(b, &o),
                None => args.get(1).map(encode).ok_or_else(|| attr_error(n)),
            })
        }
        "setattr" => {
            check!(arity(args, 2, 2, method));
            let n = check!(text_arg(args, 0, method));
            let c = redis::cmd("HSET").arg(&key).arg(n).arg(encode(&args[1])).to_owned();
            Plan::one(c, |m, r| m.int(r).map(|_| NULL.to_vec()))
        }
        "delattr" => {
            check!(arity(args, 1, 1, method));
            let n = check!(text_arg(args, 0, method));
            Plan::one(redis::cmd("HDEL").arg(&key).arg(n).to_owned(), move |m, r| match m.int(r)? {
                0 => Err(attr_error(n)),
                _ => Ok(NULL.to_vec()),
            })
        }
        "dict" => Plan::one(redis::cmd("HGETALL").arg(&key).to_owned(), move |m, r| attributes(m, &o, r)),
        "create" => Plan::one(redis::cmd("EXISTS").arg(&key).to_owned(), |m, r| Ok(boolean(m.int(r)? == 0))),
        _ => Plan::err(no_method(o.kind, method)),
    }
}

/// `HGETALL`'s pairs as a CBOR map of text to value.
fn attributes(m: &RedisManager, o: &Obj<'_>, r: Value) -> Result<Vec<u8>> {
    let flat = m.array(r)?;
    let mut out = Vec::new();
    head(&mut out, 5, (flat.len() / 2) as u64);
    let mut it = flat.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        let name = m.bulk(k)?.unwrap_or_default();
        let name = String::from_utf8(name).map_err(|_| {
            Error::new(ErrorKind::Corrupt, format!("namespace {:?}: an attribute name is not UTF-8", o.name))
        })?;
        out.extend_from_slice(&encode(&CValue::Text(name)));
        out.extend_from_slice(&m.cbor(m.bulk(v)?.unwrap_or_default(), o)?);
    }
    Ok(out)
}
