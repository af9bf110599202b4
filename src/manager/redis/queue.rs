//! `queue` on Redis: the manager's queue `NAME` is the queue at
//! `redis://…/NAME` (`crate::queue::redis::RedisQueue`, the keys
//! `P q:{NAME}:…`, at-most-once unless it was created at-least-once), opened
//! through this client's own connections and kept open per name. Items are
//! values: a put stores the item's CBOR as the message, a get returns a
//! message's bytes (checked to be CBOR), so a program that puts CBOR with
//! `mpq_put` (every binding's `put(obj)`) and a manager client see one
//! queue. Blocking puts, gets and joins wait on the server, as the queue's
//! own calls do.

use super::{boolean, check, int, Obj, Plan, RedisManager, NULL};
use crate::error::{ErrorKind, Result};
use crate::manager::cbor::encode;
use crate::manager::kinds::timeout_ms;
use crate::manager::objects::no_method;
use crate::manager::values::{arity, opt_int};
use crate::queue::redis::RedisQueue;
use crate::queue::QueueOptions;
use crate::segment::OpenMode;
use ciborium::Value as CValue;
use std::sync::Arc;

pub(super) fn plan<'a>(_m: &RedisManager, o: Obj<'a>, method: &str, args: &'a [CValue]) -> Plan<'a> {
    match method {
        "create" => {
            // maxsize: absent, null or <= 0 is unbounded.
            let maxsize = check!(opt_int(args, 0, 0, "create")).max(0) as usize;
            Plan::Steps(Box::new(move |m| {
                let opts = QueueOptions { maxsize, open_mode: Some(OpenMode::CreateOnly), ..Default::default() };
                match open(m, o.name, &opts) {
                    Ok(q) => {
                        m.queues.lock().insert(o.name.to_owned(), q);
                        Ok(boolean(true))
                    }
                    Err(e) if e.kind() == ErrorKind::Exists => Ok(boolean(false)),
                    Err(e) => Err(e),
                }
            }))
        }
        "put" => {
            check!(arity(args, 1, 2, method));
            let timeout = check!(timeout_ms(args, 1, method));
            let item = encode(&args[0]);
            Plan::Steps(Box::new(move |m| with(m, o, |q| q.put_bytes_timeout(&item, timeout)).map(|()| NULL.to_vec())))
        }
        "get" => {
            check!(arity(args, 0, 1, method));
            let timeout = check!(timeout_ms(args, 0, method));
            Plan::Steps(Box::new(move |m| {
                let msg = with(m, o, |q| q.get_bytes_timeout(timeout))?;
                m.cbor(msg, &o)
            }))
        }
        "task_done" => Plan::Steps(Box::new(move |m| with(m, o, |q| q.task_done()).map(|()| NULL.to_vec()))),
        "join" => {
            check!(arity(args, 0, 1, method));
            let timeout = check!(timeout_ms(args, 0, method));
            Plan::Steps(Box::new(move |m| with(m, o, |q| q.join(timeout)).map(|()| NULL.to_vec())))
        }
        "qsize" => Plan::Steps(Box::new(move |m| with(m, o, |q| q.qsize()).map(|n| int(n as i64)))),
        "empty" => Plan::Steps(Box::new(move |m| with(m, o, |q| q.qsize()).map(|n| boolean(n == 0)))),
        "full" => Plan::Steps(Box::new(move |m| with(m, o, |q| q.full()).map(boolean))),
        _ => Plan::err(no_method(o.kind, method)),
    }
}

/// Opens queue `name` on the client's endpoint.
fn open(m: &RedisManager, name: &str, opts: &QueueOptions) -> Result<Arc<RedisQueue>> {
    let ns = m.prefix.strip_prefix("mpipc:").and_then(|p| p.strip_suffix(':'));
    Ok(Arc::new(RedisQueue::on_endpoint(Arc::clone(&m.ep), ns, name, opts, None, m.lease)?))
}

/// Runs `f` on the open queue `o` (opened, and created unbounded if need
/// be, at its first use). A queue deleted meanwhile (`manager delete`,
/// `mpq_unlink`: its calls say NOTFOUND before changing anything) is opened
/// again, so the name's next use makes a new one, as on a manager server.
fn with<T>(m: &RedisManager, o: Obj<'_>, f: impl Fn(&RedisQueue) -> Result<T>) -> Result<T> {
    let cached = m.queues.lock().get(o.name).cloned();
    let q = match cached {
        Some(q) => q,
        None => reopen(m, o.name)?,
    };
    match f(&q) {
        Err(e) if e.kind() == ErrorKind::NotFound => f(&*reopen(m, o.name)?),
        r => r,
    }
}

/// Opens `name` (creating it unbounded if it is missing) and keeps it.
fn reopen(m: &RedisManager, name: &str) -> Result<Arc<RedisQueue>> {
    let q = open(m, name, &QueueOptions::default())?;
    m.queues.lock().insert(name.to_owned(), Arc::clone(&q));
    Ok(q)
}
