//! `list` on Redis: a LIST `P l:{NAME}` of the elements' canonical CBOR.
//! Indexes and slices are Python's; equality (`index`, `count`,
//! `contains`, `remove`) compares values as the manager server does
//! (`values::value_bytes`: `1 == 1.0`), on the client, over the elements
//! read with `LRANGE`. Middle inserts and deletes are the library's
//! functions; `sort` and `reverse` rewrite the list in a `WATCH`ed
//! transaction (retried if another client changed it meanwhile).

use super::{boolean, check, fcall, int, Obj, Plan, RedisManager, NULL};
use crate::error::{Error, ErrorKind, Result};
use crate::manager::cbor::{decode, encode, head};
use crate::manager::kinds::slice_bounds;
use crate::manager::objects::no_method;
use crate::manager::protocol::MAX_DEPTH;
use crate::manager::values::{arity, array_arg, compare, int_arg, opt_int, value_bytes};
use ciborium::Value as CValue;
use redis::Value;

/// How many times `remove` looks again when the element it found was
/// removed by another client before its `LREM`.
const REMOVE_TRIES: usize = 16;

/// Slice bounds handed to the library's functions are clamped to this
/// (its integer arguments have at most 16 characters); no list is that
/// long, so the result is the same.
const BOUND: i64 = 999_999_999_999_999;

pub(super) fn plan<'a>(m: &RedisManager, o: Obj<'a>, method: &str, args: &'a [CValue]) -> Plan<'a> {
    let key = m.key("l", o.name, "");
    match method {
        "len" => Plan::one(redis::cmd("LLEN").arg(&key).to_owned(), |m, r| Ok(int(m.int(r)?))),
        "getitem" => {
            check!(arity(args, 1, 1, method));
            let i = check!(int_arg(args, 0, method));
            Plan::one(redis::cmd("LINDEX").arg(&key).arg(i).to_owned(), move |m, r| match m.bulk(r)? {
                Some(b) => m.cbor(b, &o),
                None => Err(out_of_range("getitem", i)),
            })
        }
        "setitem" => {
            check!(arity(args, 2, 2, method));
            let i = check!(int_arg(args, 0, method));
            let c = redis::cmd("LSET").arg(&key).arg(i).arg(encode(&args[1])).to_owned();
            Plan::one(c, move |m, r| match r {
                // LSET's own errors: no such element, or no list at all.
                Value::ServerError(e)
                    if e.details().is_some_and(|d| d.contains("index out of range") || d.contains("no such key")) =>
                {
                    Err(out_of_range("setitem", i))
                }
                r => m.ok(r).map(|_| NULL.to_vec()),
            })
        }
        "getslice" | "copy" => {
            let (start, stop) = if method == "copy" {
                (0, None)
            } else {
                check!(arity(args, 0, 2, method));
                let start = check!(opt_int(args, 0, 0, method));
                let stop = check!(opt_int(args, 1, i64::MAX, method));
                (start, (stop != i64::MAX).then_some(stop))
            };
            // Python's [start:stop] as LRANGE's inclusive range: the same
            // clamping, except that stop 0 (or below -len) is empty.
            let end = match stop {
                None => -1,
                Some(0) => return Plan::Done(Ok(vec![0x80])),
                Some(s) => s.saturating_sub(1),
            };
            let c = redis::cmd("LRANGE").arg(&key).arg(start).arg(end).to_owned();
            Plan::one(c, move |m, r| array_of(m, &o, r))
        }
        "append" => {
            check!(arity(args, 1, 1, method));
            Plan::one(redis::cmd("RPUSH").arg(&key).arg(encode(&args[0])).to_owned(), |m, r| {
                m.int(r).map(|_| NULL.to_vec())
            })
        }
        "extend" => {
            check!(arity(args, 1, 1, method));
            let items = check!(array_arg(args, 0, method));
            if items.is_empty() {
                return Plan::Done(Ok(NULL.to_vec()));
            }
            let mut c = redis::cmd("RPUSH");
            c.arg(&key);
            for x in items {
                c.arg(encode(x));
            }
            Plan::one(c, |m, r| m.int(r).map(|_| NULL.to_vec()))
        }
        "insert" => {
            check!(arity(args, 2, 2, method));
            let i = check!(int_arg(args, 0, method)).clamp(-BOUND, BOUND);
            let c = fcall("mpipc_1_l_insert_at", &[&key]).arg(i).arg(encode(&args[1])).to_owned();
            Plan::one(c, |m, r| m.int(r).map(|_| NULL.to_vec()))
        }
        "pop" => {
            check!(arity(args, 0, 1, method));
            let i = check!(opt_int(args, 0, -1, method));
            let c = match i {
                -1 => redis::cmd("RPOP").arg(&key).to_owned(),
                0 => redis::cmd("LPOP").arg(&key).to_owned(),
                i => fcall("mpipc_1_l_pop_at", &[&key]).arg(i.clamp(-BOUND, BOUND)).to_owned(),
            };
            Plan::one(c, move |m, r| match m.bulk(r)? {
                Some(b) => m.cbor(b, &o),
                None => Err(Error::new(ErrorKind::Index, "pop from empty list")),
            })
        }
        "delitem" => {
            check!(arity(args, 1, 1, method));
            let i = check!(int_arg(args, 0, method));
            if !(-BOUND..=BOUND).contains(&i) {
                return Plan::err(out_of_range("delitem", i));
            }
            let c = fcall("mpipc_1_l_del_at", &[&key]).arg(i).to_owned();
            Plan::one(c, |m, r| m.int(r).map(|_| NULL.to_vec()))
        }
        "setslice" | "delslice" => {
            let items: &[CValue] = if method == "setslice" {
                check!(arity(args, 3, 3, method));
                check!(array_arg(args, 2, method))
            } else {
                check!(arity(args, 0, 2, method));
                &[]
            };
            let bound = |i: usize| -> Result<String> {
                Ok(match args.get(i) {
                    None | Some(CValue::Null) => String::new(),
                    Some(_) => opt_int(args, i, 0, method)?.clamp(-BOUND, BOUND).to_string(),
                })
            };
            let (a, b) = (check!(bound(0)), check!(bound(1)));
            let mut c = fcall("mpipc_1_l_splice", &[&key]);
            c.arg(a).arg(b);
            for x in items {
                c.arg(encode(x));
            }
            Plan::one(c, |m, r| m.int(r).map(|_| NULL.to_vec()))
        }
        "index" | "count" | "contains" | "remove" => {
            let max = if method == "index" { 3 } else { 1 };
            check!(arity(args, 1, max, method));
            if method == "index" {
                // Type errors of the bounds before anything is read.
                check!(opt_int(args, 1, 0, method));
                check!(opt_int(args, 2, 0, method));
            }
            let method: &'static str = match method {
                "index" => "index",
                "count" => "count",
                "contains" => "contains",
                _ => "remove",
            };
            let want = value_bytes(&args[0]);
            let range = redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).to_owned();
            let again = range.clone();
            Plan::one(range, move |m, r| {
                let mut r = r;
                for _ in 0..REMOVE_TRIES {
                    let items = elements(m, &o, r)?;
                    let equal = |b: &[u8]| -> Result<bool> { Ok(value_bytes(&decode(b, MAX_DEPTH)?) == want) };
                    match method {
                        "count" => {
                            let mut n = 0i64;
                            for b in &items {
                                n += equal(b)? as i64;
                            }
                            return Ok(int(n));
                        }
                        "contains" => {
                            for b in &items {
                                if equal(b)? {
                                    return Ok(boolean(true));
                                }
                            }
                            return Ok(boolean(false));
                        }
                        "index" => {
                            let (from, to) = slice_bounds(&args[1..], items.len(), method)?;
                            for (i, b) in items.iter().enumerate().take(to).skip(from) {
                                if equal(b)? {
                                    return Ok(int(i as i64));
                                }
                            }
                            return Err(Error::new(ErrorKind::NotFound, "list.index(x): x not in list"));
                        }
                        _ => {
                            let mut found = None;
                            for b in items {
                                if equal(&b)? {
                                    found = Some(b);
                                    break;
                                }
                            }
                            let Some(b) = found else {
                                return Err(Error::new(ErrorKind::NotFound, "list.remove(x): x not in list"));
                            };
                            // The first element with these exact bytes is
                            // the first equal one: no earlier element can
                            // have them without being equal too.
                            let removed = m.int(m.send_one(redis::cmd("LREM").arg(&key).arg(1).arg(&b))?)?;
                            if removed == 1 {
                                return Ok(NULL.to_vec());
                            }
                            // Taken meanwhile by another client: look again.
                            r = m.send_one(&again)?;
                        }
                    }
                }
                Err(Error::new(
                    ErrorKind::Timeout,
                    "list.remove(x): the list kept changing under the removal; try again",
                ))
            })
        }
        "reverse" | "sort" => {
            let reverse = if method == "sort" {
                check!(arity(args, 0, 1, method));
                matches!(args.first(), Some(CValue::Bool(true)))
            } else {
                false
            };
            let sort = method == "sort";
            Plan::Steps(Box::new(move |m| {
                rewrite(m, &o, &key, |items| {
                    if !sort {
                        let mut items = items;
                        items.reverse();
                        return Ok(items);
                    }
                    let mut decoded = items
                        .into_iter()
                        .map(|b| Ok((decode(&b, MAX_DEPTH)?, b)))
                        .collect::<Result<Vec<(CValue, Vec<u8>)>>>()?;
                    // Stable, with the comparison reversed for reverse=True
                    // (equal elements keep their order, as in Python); the
                    // first type error leaves the list as it was.
                    let mut failed = None;
                    decoded.sort_by(|a, b| {
                        let (x, y) = if reverse { (&b.0, &a.0) } else { (&a.0, &b.0) };
                        compare(x, y).unwrap_or_else(|e| {
                            failed.get_or_insert(e);
                            std::cmp::Ordering::Equal
                        })
                    });
                    match failed {
                        Some(e) => Err(e),
                        None => Ok(decoded.into_iter().map(|(_, b)| b).collect()),
                    }
                })
            }))
        }
        "clear" => Plan::one(redis::cmd("DEL").arg(&key).to_owned(), |m, r| m.int(r).map(|_| NULL.to_vec())),
        "create" => Plan::one(redis::cmd("EXISTS").arg(&key).to_owned(), |m, r| Ok(boolean(m.int(r)? == 0))),
        _ => Plan::err(no_method(o.kind, method)),
    }
}

fn out_of_range(method: &str, i: i64) -> Error {
    Error::new(ErrorKind::Index, format!("{method}: list index {i} out of range"))
}

/// The elements of an `LRANGE` reply, each checked to be CBOR.
fn elements(m: &RedisManager, o: &Obj<'_>, r: Value) -> Result<Vec<Vec<u8>>> {
    m.array(r)?.into_iter().map(|v| m.cbor(m.bulk(v)?.unwrap_or_default(), o)).collect()
}

/// An `LRANGE` reply as the CBOR array of its elements.
fn array_of(m: &RedisManager, o: &Obj<'_>, r: Value) -> Result<Vec<u8>> {
    let items = elements(m, o, r)?;
    let mut out = Vec::with_capacity(items.iter().map(|b| b.len()).sum::<usize>() + 9);
    head(&mut out, 4, items.len() as u64);
    for b in items {
        out.extend_from_slice(&b);
    }
    Ok(out)
}

/// Replaces the list at `key` by `f` of its elements, atomically: `WATCH`,
/// `LRANGE`, then `MULTI DEL RPUSH EXEC`, again if another client changed
/// the list in between. An error of `f` leaves the list as it was.
fn rewrite(
    m: &RedisManager,
    o: &Obj<'_>,
    key: &str,
    f: impl Fn(Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>>,
) -> Result<Vec<u8>> {
    let mut failure: Option<Error> = None;
    m.run(None, |con| {
        loop {
            redis::cmd("WATCH").arg(key).query::<()>(con)?;
            let raw: Vec<Vec<u8>> = redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(con)?;
            let new = raw.into_iter().map(|b| m.cbor(b, o)).collect::<Result<Vec<_>>>().and_then(&f);
            let new = match new {
                Ok(n) => n,
                Err(e) => {
                    redis::cmd("UNWATCH").query::<()>(con)?;
                    failure = Some(e);
                    return Ok(());
                }
            };
            let mut cmds = vec![redis::cmd("MULTI"), redis::cmd("DEL").arg(key).to_owned()];
            if !new.is_empty() {
                cmds.push(redis::cmd("RPUSH").arg(key).arg(&new).to_owned());
            }
            cmds.push(redis::cmd("EXEC"));
            let mut packed = Vec::new();
            for c in &cmds {
                c.write_packed_command(&mut packed);
            }
            let replies = crate::redis::replies_within(con, &packed, cmds.len(), m.ep.timeout())?;
            match replies.last() {
                // The list changed after WATCH: EXEC did nothing.
                Some(Value::Nil) => continue,
                Some(Value::ServerError(e)) => return Err(e.clone().into()),
                _ => return Ok(()),
            }
        }
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok(NULL.to_vec()),
    }
}
