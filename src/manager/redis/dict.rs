//! `dict` on Redis: a HASH `P d:{NAME}` whose fields are the canonical key
//! bytes (`values::key_bytes`: `1` and `1.0` are one field, a tuple is its
//! array) and whose values are the values' canonical CBOR; plus a HASH
//! `P d:{NAME}:keys` of the keys whose written form is not their canonical
//! bytes (a Python tuple, an integral float), so `keys`, `items`, `copy`
//! and `popitem` give them back as they were written (a tuple stays a
//! tuple, hashable in Python). Order is Redis's, not insertion order.

use super::{boolean, check, fcall, int, Finish, Obj, Plan, RedisManager, NULL};
use crate::error::{Error, ErrorKind, Result};
use crate::manager::cbor::{decode, encode, head, Form};
use crate::manager::objects::{key_error, no_method};
use crate::manager::protocol::MAX_DEPTH;
use crate::manager::values::{arity, key_bytes, opt_int_value, value_bytes};
use ciborium::Value as CValue;
use redis::{Cmd, Value};

/// How many times `compare_and_set` retries when the stored value equals
/// the expected one only by value (`1.0` stored, `1` expected) and keeps
/// changing under it.
const CAS_TRIES: usize = 16;

/// A dict's two keys.
struct Keys {
    /// The HASH of entries.
    hash: String,
    /// The HASH of written key forms (only keys that differ from their
    /// canonical bytes).
    forms: String,
}

/// A key: its canonical bytes (the field) and its written form when that
/// differs.
struct Key {
    field: Vec<u8>,
    form: Option<Vec<u8>>,
}

fn key_of(k: &CValue) -> Result<Key> {
    let field = key_bytes(k)?;
    let written = encode(k);
    let form = (written != field).then_some(written);
    Ok(Key { field, form })
}

/// The command that records `key`'s written form: `HSET` when it differs
/// from the field, else `HDEL` of any earlier one.
fn form_cmd(keys: &Keys, key: &Key) -> Cmd {
    match &key.form {
        Some(f) => {
            let mut c = redis::cmd("HSET");
            c.arg(&keys.forms).arg(&key.field).arg(f);
            c
        }
        None => {
            let mut c = redis::cmd("HDEL");
            c.arg(&keys.forms).arg(&key.field);
            c
        }
    }
}

pub(super) fn plan<'a>(m: &RedisManager, o: Obj<'a>, method: &str, args: &'a [CValue]) -> Plan<'a> {
    let keys = Keys { hash: m.key("d", o.name, ""), forms: m.key("d", o.name, ":keys") };
    let one_key = |min: usize, max: usize| -> Result<Key> {
        arity(args, min, max, method)?;
        key_of(&args[0])
    };
    match method {
        "get" => {
            let k = check!(one_key(1, 2));
            let mut c = redis::cmd("HGET");
            c.arg(&keys.hash).arg(&k.field);
            Plan::one(c, move |m, r| match m.bulk(r)? {
                Some(b) => m.cbor(b, &o),
                None => missing(args, 1),
            })
        }
        "set" => {
            let k = check!(one_key(2, 2));
            let mut c = redis::cmd("HSET");
            c.arg(&keys.hash).arg(&k.field).arg(encode(&args[1]));
            let form = form_cmd(&keys, &k);
            Plan::Send(vec![c, form], Box::new(|m, r| first(m, r).map(|_| NULL.to_vec())))
        }
        "del" => {
            let k = check!(one_key(1, 1));
            let mut c = redis::cmd("HDEL");
            c.arg(&keys.hash).arg(&k.field);
            let mut f = redis::cmd("HDEL");
            f.arg(&keys.forms).arg(&k.field);
            Plan::Send(
                vec![c, f],
                Box::new(move |m, r| match m.int(r.into_iter().next().expect("two replies"))? {
                    0 => Err(key_error(&args[0])),
                    _ => Ok(NULL.to_vec()),
                }),
            )
        }
        "len" => {
            let mut c = redis::cmd("HLEN");
            c.arg(&keys.hash);
            Plan::one(c, |m, r| Ok(int(m.int(r)?)))
        }
        "contains" => {
            let k = check!(one_key(1, 1));
            let mut c = redis::cmd("HEXISTS");
            c.arg(&keys.hash).arg(&k.field);
            Plan::one(c, |m, r| Ok(boolean(m.int(r)? == 1)))
        }
        "keys" | "values" | "items" | "copy" => {
            let what = match method {
                "keys" => "HKEYS",
                "values" => "HVALS",
                _ => "HGETALL",
            };
            let mut c = redis::cmd(what);
            c.arg(&keys.hash);
            let mut f = redis::cmd("HGETALL");
            f.arg(&keys.forms);
            let method: &'static str = match method {
                "keys" => "keys",
                "values" => "values",
                "items" => "items",
                _ => "copy",
            };
            Plan::Send(vec![c, f], Box::new(move |m, r| listing(m, &o, method, r)))
        }
        "clear" => {
            let mut c = redis::cmd("DEL");
            c.arg(&keys.hash).arg(&keys.forms);
            Plan::one(c, |m, r| m.int(r).map(|_| NULL.to_vec()))
        }
        "pop" => {
            let k = check!(one_key(1, 2));
            let mut f = redis::cmd("HDEL");
            f.arg(&keys.forms).arg(&k.field);
            let pop = fcall("mpipc_1_d_pop", &[&keys.hash]).arg(&k.field).to_owned();
            Plan::Send(
                vec![pop, f],
                Box::new(move |m, r| match m.bulk(r.into_iter().next().expect("two replies"))? {
                    Some(b) => m.cbor(b, &o),
                    None => missing(args, 1),
                }),
            )
        }
        "popitem" => {
            let pop = fcall("mpipc_1_d_popitem", &[&keys.hash]);
            Plan::one(pop, move |m, r| {
                let mut pair = m.array(r)?.into_iter();
                let (Some(field), Some(value)) = (pair.next(), pair.next()) else {
                    return Err(Error::new(ErrorKind::NotFound, "popitem(): dictionary is empty"));
                };
                let field = m.bulk(field)?.unwrap_or_default();
                let value = m.cbor(m.bulk(value)?.unwrap_or_default(), &o)?;
                // The written form of the key, if it had one (a second
                // round trip: which field Redis chose is known only now).
                let mut get = redis::cmd("HGET");
                get.arg(&keys.forms).arg(&field);
                let mut del = redis::cmd("HDEL");
                del.arg(&keys.forms).arg(&field);
                let form = m.send(&[get, del])?.into_iter().next().expect("two replies");
                let key = match m.bulk(form)? {
                    Some(f) => m.cbor(f, &o)?,
                    None => m.cbor(field, &o)?,
                };
                let mut out = vec![0x82];
                out.extend_from_slice(&key);
                out.extend_from_slice(&value);
                Ok(out)
            })
        }
        "setdefault" | "get_or_set" => {
            let k = check!(one_key(1, 2));
            let default = args.get(1).map_or_else(|| NULL.to_vec(), encode);
            match &k.form {
                // The key is its canonical form: one function call.
                None => {
                    let c = fcall("mpipc_1_d_get_or_set", &[&keys.hash]).arg(&k.field).arg(default).to_owned();
                    Plan::one(c, move |m, r| m.cbor_item(r, &o))
                }
                // Whether it inserted decides whether the written form is
                // recorded (setdefault keeps an existing key's form).
                Some(form) => {
                    let mut multi = vec![redis::cmd("MULTI")];
                    multi.push(redis::cmd("HSETNX").arg(&keys.hash).arg(&k.field).arg(default).to_owned());
                    multi.push(redis::cmd("HGET").arg(&keys.hash).arg(&k.field).to_owned());
                    multi.push(redis::cmd("EXEC"));
                    let set_form = redis::cmd("HSET").arg(&keys.forms).arg(&k.field).arg(form).to_owned();
                    Plan::Send(
                        multi,
                        Box::new(move |m, r| {
                            let mut exec = m.array(r.into_iter().last().expect("EXEC's reply"))?.into_iter();
                            let (Some(inserted), Some(value)) = (exec.next(), exec.next()) else {
                                return Err(m.odd("2 replies from EXEC", &Value::Nil));
                            };
                            if m.int(inserted)? == 1 {
                                m.int(m.send_one(&set_form)?)?;
                            }
                            m.cbor_item(value, &o)
                        }),
                    )
                }
            }
        }
        "update" => {
            check!(arity(args, 1, 1, method));
            let pairs = check!(pairs_of(&args[0]));
            if pairs.is_empty() {
                return Plan::Done(Ok(NULL.to_vec()));
            }
            // Every key checked first: all or nothing.
            let keyed = check!(pairs.iter().map(|(k, v)| Ok((key_of(k)?, encode(v)))).collect::<Result<Vec<_>>>());
            let mut set = redis::cmd("HSET");
            set.arg(&keys.hash);
            let mut set_forms = redis::cmd("HSET");
            set_forms.arg(&keys.forms);
            let mut del_forms = redis::cmd("HDEL");
            del_forms.arg(&keys.forms);
            let (mut any_set, mut any_del) = (false, false);
            for (k, v) in &keyed {
                set.arg(&k.field).arg(v);
                match &k.form {
                    Some(f) => {
                        set_forms.arg(&k.field).arg(f);
                        any_set = true;
                    }
                    None => {
                        del_forms.arg(&k.field);
                        any_del = true;
                    }
                }
            }
            let mut cmds = vec![redis::cmd("MULTI"), set];
            if any_set {
                cmds.push(set_forms);
            }
            if any_del {
                cmds.push(del_forms);
            }
            cmds.push(redis::cmd("EXEC"));
            Plan::Send(cmds, Box::new(exec_done))
        }
        "incr" => {
            let k = check!(one_key(1, 2));
            let delta = check!(opt_int_value(args.get(1), 1, 1, method));
            let c = fcall("mpipc_1_d_incr", &[&keys.hash]).arg(&k.field).arg(int(delta)).to_owned();
            // The written form is recorded only when it is not canonical:
            // an HDEL with every incr would cost a tenth of its throughput
            // (2 clients, loopback), for a key form that rarely exists.
            let mut cmds = vec![c];
            if k.form.is_some() {
                cmds.push(form_cmd(&keys, &k));
            }
            Plan::Send(cmds, Box::new(move |m, r| first(m, r).and_then(|v| m.cbor_item(v, &o))))
        }
        "compare_and_set" => {
            check!(arity(args, 3, 3, method));
            let k = check!(key_of(&args[0]));
            let (expected, new) = (encode(&args[1]), encode(&args[2]));
            let set_form = k.form.as_ref().map(|f| redis::cmd("HSET").arg(&keys.forms).arg(&k.field).arg(f).to_owned());
            let (hash, field) = (keys.hash, k.field);
            let cas =
                move |expected: &[u8]| fcall("mpipc_1_d_cas", &[&hash]).arg(&field).arg(expected).arg(&new).to_owned();
            let c = cas(&expected);
            let finish: Finish<'a> = Box::new(move |m, r| {
                let mut reply = r.into_iter().next().expect("one reply");
                let want = value_bytes(&args[1]);
                for _ in 0..CAS_TRIES {
                    let mut got = m.array(reply)?.into_iter();
                    if m.int(got.next().unwrap_or(Value::Nil))? == 1 {
                        if let Some(f) = &set_form {
                            m.int(m.send_one(f)?)?;
                        }
                        return Ok(boolean(true));
                    }
                    // Absent (never inserted), or different bytes: equal
                    // by value (1 and 1.0) means try again with them.
                    let Some(current) = m.bulk(got.next().unwrap_or(Value::Nil))? else { return Ok(boolean(false)) };
                    let value = decode(&m.cbor(current.clone(), &o)?, MAX_DEPTH)?;
                    if value_bytes(&value) != want {
                        return Ok(boolean(false));
                    }
                    reply = m.send_one(&cas(&current))?;
                }
                Ok(boolean(false))
            });
            Plan::Send(vec![c], finish)
        }
        "replica" => Plan::err(Error::new(
            ErrorKind::Unsupported,
            "replica: a dict on a Redis server has no local replica (local reads are a manager-server feature)",
        )),
        "create" => {
            let mut c = redis::cmd("EXISTS");
            c.arg(&keys.hash);
            Plan::one(c, |m, r| Ok(boolean(m.int(r)? == 0)))
        }
        _ => Plan::err(no_method(o.kind, method)),
    }
}

/// `get` / `contains` of a plain key with the caller's bytes (see
/// `RedisManager::dict_read`); `None` when the general path must serve it.
pub(super) fn read(m: &RedisManager, name: &str, method: &str, args: &[(&[u8], Form)]) -> Option<Result<Vec<u8>>> {
    let (key, form) = *args.first()?;
    if !form.plain_key() {
        return None;
    }
    let o = Obj { kind: "dict", name };
    let hash = m.key("d", name, "");
    let run = |cmd: &str| m.send_one(redis::cmd(cmd).arg(&hash).arg(key));
    Some(match (method, args.get(1)) {
        ("get", None) => run("HGET").and_then(|r| match m.bulk(r)? {
            Some(b) => m.cbor(b, &o),
            None => Err(key_error(&decode(key, MAX_DEPTH)?)),
        }),
        ("get", Some((default, form))) if form.canonical() && args.len() == 2 => {
            run("HGET").and_then(|r| match m.bulk(r)? {
                Some(b) => m.cbor(b, &o),
                None => Ok(default.to_vec()),
            })
        }
        ("contains", None) => run("HEXISTS").and_then(|r| Ok(boolean(m.int(r)? == 1))),
        _ => return None,
    })
}

/// The default (argument `i`) encoded, or the KeyError of key `args[0]`.
fn missing(args: &[CValue], i: usize) -> Result<Vec<u8>> {
    match args.get(i) {
        Some(d) => Ok(encode(d)),
        None => Err(key_error(&args[0])),
    }
}

/// The first reply of several, checked (the others are bookkeeping whose
/// failure would show in the first).
fn first(m: &RedisManager, r: Vec<Value>) -> Result<Value> {
    let mut it = r.into_iter();
    let v = m.ok(it.next().expect("a reply"))?;
    for rest in it {
        m.ok(rest)?;
    }
    Ok(v)
}

/// The end of a `MULTI` ... `EXEC` whose result is null: any command's
/// error is the call's.
fn exec_done(m: &RedisManager, r: Vec<Value>) -> Result<Vec<u8>> {
    for v in m.array(r.into_iter().last().expect("EXEC's reply"))? {
        m.ok(v)?;
    }
    Ok(NULL.to_vec())
}

/// `update`'s argument: a map, or an array of 2-element arrays.
fn pairs_of(v: &CValue) -> Result<Vec<(&CValue, &CValue)>> {
    match v {
        CValue::Map(m) => Ok(m.iter().map(|(k, v)| (k, v)).collect()),
        CValue::Array(a) => a
            .iter()
            .map(|p| match p {
                CValue::Array(kv) if kv.len() == 2 => Ok((&kv[0], &kv[1])),
                _ => Err(Error::new(ErrorKind::Type, "update: pairs must be 2-element arrays")),
            })
            .collect(),
        _ => Err(Error::new(ErrorKind::Type, "update: argument must be a map or an array of pairs")),
    }
}

/// `keys` / `values` / `items` / `copy` from the entries (`HKEYS`, `HVALS`
/// or `HGETALL`) and the written key forms (`HGETALL` of the forms).
fn listing(m: &RedisManager, o: &Obj<'_>, method: &str, r: Vec<Value>) -> Result<Vec<u8>> {
    let mut r = r.into_iter();
    let entries = m.array(r.next().expect("two replies"))?;
    let forms = m.array(r.next().expect("two replies"))?;
    let mut form_of: std::collections::HashMap<Vec<u8>, Vec<u8>> = std::collections::HashMap::new();
    let mut fs = forms.into_iter();
    while let (Some(k), Some(v)) = (fs.next(), fs.next()) {
        if let (Some(k), Some(v)) = (m.bulk(k)?, m.bulk(v)?) {
            form_of.insert(k, v);
        }
    }
    let mut key = |field: Vec<u8>| -> Result<Vec<u8>> {
        match form_of.remove(&field) {
            Some(f) => m.cbor(f, o),
            None => m.cbor(field, o),
        }
    };
    let mut out = Vec::new();
    match method {
        "keys" | "values" => {
            head(&mut out, 4, entries.len() as u64);
            for e in entries {
                let b = m.bulk(e)?.unwrap_or_default();
                let b = if method == "keys" { key(b)? } else { m.cbor(b, o)? };
                out.extend_from_slice(&b);
            }
        }
        _ => {
            let n = entries.len() / 2;
            head(&mut out, if method == "copy" { 5 } else { 4 }, n as u64);
            let mut es = entries.into_iter();
            while let (Some(k), Some(v)) = (es.next(), es.next()) {
                if method == "items" {
                    out.push(0x82);
                }
                out.extend_from_slice(&key(m.bulk(k)?.unwrap_or_default())?);
                out.extend_from_slice(&m.cbor(m.bulk(v)?.unwrap_or_default(), o)?);
            }
        }
    }
    Ok(out)
}
