//! `semaphore` and `bounded_semaphore`: a counter, with the acquisitions
//! each connection has not released (given back when it drops); a bounded
//! one refuses a release past its initial value.

use super::{timeout_ms, Guarded};
use crate::error::{Error, ErrorKind, Result};
use crate::manager::objects::{no_method, CallCtx, ConnId, KindSpec, ManagerObject};
use crate::manager::values::*;
use ciborium::Value;
use indexmap::IndexMap;

/// The `semaphore` row of the kinds table.
pub(super) const SEMAPHORE: KindSpec = KindSpec {
    name: "semaphore",
    methods: &["acquire", "release", "get_value"],
    new: |args| Semaphore::create(args, false),
};

/// The `bounded_semaphore` row of the kinds table.
pub(super) const BOUNDED_SEMAPHORE: KindSpec = KindSpec {
    name: "bounded_semaphore",
    methods: &["acquire", "release", "get_value"],
    new: |args| Semaphore::create(args, true),
};

/// A semaphore's counter, bound (for bounded ones) and per-connection
/// acquisitions not yet released.
#[derive(Debug)]
struct State {
    value: u64,
    bound: Option<u64>,
    held: IndexMap<ConnId, u64>,
}

/// A semaphore or bounded semaphore object.
#[derive(Debug)]
struct Semaphore(Guarded<State>);

impl Semaphore {
    /// From `create`'s arguments: the initial value (default 1).
    fn create(args: &[Value], bounded: bool) -> Result<Box<dyn ManagerObject>> {
        let v = opt_int(args, 0, 1, "create")?;
        if v < 0 {
            return Err(Error::new(ErrorKind::Invalid, "semaphore initial value must be >= 0"));
        }
        let bound = bounded.then_some(v as u64);
        Ok(Box::new(Semaphore(Guarded::new(State { value: v as u64, bound, held: IndexMap::new() }))))
    }

    fn name(&self) -> &'static str {
        if self.0.lock().bound.is_some() {
            BOUNDED_SEMAPHORE.name
        } else {
            SEMAPHORE.name
        }
    }
}

impl ManagerObject for Semaphore {
    fn call(&self, method: &str, args: &[Value], ctx: &CallCtx) -> Result<Value> {
        let st = self.0.lock();
        match method {
            "acquire" => {
                arity(args, 0, 1, method)?;
                let (mut st, ok) = self.0.wait_until(st, timeout_ms(args, 0, method)?, ctx, |s| s.value > 0)?;
                if ok {
                    st.value -= 1;
                    *st.held.entry(ctx.conn).or_insert(0) += 1;
                }
                Ok(Value::Bool(ok))
            }
            "release" => {
                arity(args, 0, 1, method)?;
                let n = opt_int(args, 0, 1, method)?;
                if n < 1 {
                    return Err(Error::new(ErrorKind::Invalid, "release count must be >= 1"));
                }
                let mut st = st;
                let State { value, bound, held } = &mut *st;
                let new = value
                    .checked_add(n as u64)
                    .filter(|v| bound.is_none_or(|b| *v <= b))
                    .ok_or_else(|| Error::new(ErrorKind::Invalid, "semaphore released too many times"))?;
                *value = new;
                if let Some(h) = held.get_mut(&ctx.conn) {
                    *h = h.saturating_sub(n as u64);
                }
                self.0.notify_all();
                Ok(Value::Null)
            }
            "get_value" => Ok(Value::Integer(st.value.into())),
            _ => {
                drop(st);
                Err(no_method(self.name(), method))
            }
        }
    }

    fn release_owner(&self, conn: ConnId) -> bool {
        let mut st = self.0.lock();
        let State { value, bound, held } = &mut *st;
        let released = match held.shift_remove(&conn) {
            Some(n) if n > 0 => {
                // Never past a bounded semaphore's initial value.
                *value = value.saturating_add(n).min(bound.unwrap_or(u64::MAX));
                true
            }
            _ => false,
        };
        if released {
            self.0.notify_all();
        }
        released
    }

    fn wake_all(&self) {
        self.0.wake_all()
    }
}
