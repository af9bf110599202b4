//! `condition`: a recursive lock (owned per connection, as an rlock) with
//! wait / notify; a notify releases the waiters in arrival order.

use super::lock::{acquire, release, HasOwner, Owner};
use super::{timeout_ms, Guarded};
use crate::error::{Error, ErrorKind, Result};
use crate::manager::objects::{no_method, CallCtx, ConnId, KindSpec, ManagerObject};
use crate::manager::values::*;
use ciborium::Value;

/// The `condition` row of the kinds table.
pub(super) const SPEC: KindSpec = KindSpec {
    name: "condition",
    methods: &["acquire", "release", "notify", "notify_all", "wait"],
    new: |_| Ok(Box::new(Condition(Guarded::default()))),
};

/// A recursive lock plus waiters' tickets: `waiting` in arrival order,
/// `notified` the tickets released by notify.
#[derive(Debug, Default)]
struct State {
    lock: Owner,
    next_ticket: u64,
    waiting: Vec<u64>,
    notified: Vec<u64>,
}

impl State {
    /// Forgets `ticket` (its wait is over).
    fn drop_ticket(&mut self, ticket: u64) {
        self.waiting.retain(|t| *t != ticket);
        self.notified.retain(|t| *t != ticket);
    }
}

impl HasOwner for State {
    fn owner(&self) -> &Owner {
        &self.lock
    }
    fn owner_mut(&mut self) -> &mut Owner {
        &mut self.lock
    }
}

/// A condition object.
#[derive(Debug)]
struct Condition(Guarded<State>);

impl ManagerObject for Condition {
    fn call(&self, method: &str, args: &[Value], ctx: &CallCtx) -> Result<Value> {
        let me = ctx.conn;
        let mut st = self.0.lock();
        let owned = |s: &State| s.lock.holder == Some(me);
        match method {
            "acquire" => acquire(&self.0, st, args, ctx, true),
            "release" => release(&self.0, st, ctx, "condition"),
            "notify" | "notify_all" => {
                if !owned(&st) {
                    return Err(Error::new(ErrorKind::Permission, "notify on a condition this client does not hold"));
                }
                let n = if method == "notify" { opt_int(args, 0, 1, method)?.max(0) as usize } else { usize::MAX };
                let State { waiting, notified, .. } = &mut *st;
                let k = n.min(waiting.len());
                notified.extend(waiting.drain(..k));
                self.0.notify_all();
                Ok(Value::Null)
            }
            "wait" => {
                arity(args, 0, 1, method)?;
                // Read before anything changes: a bad timeout leaves the
                // lock held as it was.
                let timeout = timeout_ms(args, 0, method)?;
                if !owned(&st) {
                    return Err(Error::new(ErrorKind::Permission, "wait on a condition this client does not hold"));
                }
                // Release fully, wait for a notify (or the timeout), then
                // take the lock back at its old depth, as Python does.
                let ticket = st.next_ticket;
                st.next_ticket += 1;
                st.waiting.push(ticket);
                let saved = std::mem::take(&mut st.lock.depth);
                st.lock.holder = None;
                self.0.notify_all();
                let res = self.0.wait_until(st, timeout, ctx, |s| s.notified.contains(&ticket));
                let (mut st, notified_ok) = match res {
                    Ok(r) => r,
                    Err(e) => {
                        self.0.lock().drop_ticket(ticket);
                        return Err(e);
                    }
                };
                st.drop_ticket(ticket);
                let (mut st, _) = self.0.wait_until(st, None, ctx, |s| s.lock.holder.is_none())?;
                st.lock.holder = Some(me);
                st.lock.depth = saved;
                Ok(Value::Bool(notified_ok))
            }
            _ => Err(no_method(SPEC.name, method)),
        }
    }

    fn release_owner(&self, conn: ConnId) -> bool {
        let mut st = self.0.lock();
        let released = st.lock.release_all(conn);
        if released {
            self.0.notify_all();
        }
        released
    }

    fn wake_all(&self) {
        self.0.wake_all()
    }
}
