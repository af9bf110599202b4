//! `event`: a flag that waiters wait to see set.

use super::{timeout_ms, Guarded};
use crate::error::Result;
use crate::manager::objects::{no_method, CallCtx, KindSpec, ManagerObject};
use crate::manager::values::*;
use ciborium::Value;

/// The `event` row of the kinds table.
pub(super) const SPEC: KindSpec = KindSpec {
    name: "event",
    methods: &["set", "clear", "is_set", "wait"],
    new: |_| Ok(Box::new(Event(Guarded::default()))),
};

/// An event object: whether it is set.
#[derive(Debug)]
struct Event(Guarded<bool>);

impl ManagerObject for Event {
    fn call(&self, method: &str, args: &[Value], ctx: &CallCtx) -> Result<Value> {
        let mut st = self.0.lock();
        match method {
            "set" => {
                *st = true;
                self.0.notify_all();
                Ok(Value::Null)
            }
            "clear" => {
                *st = false;
                Ok(Value::Null)
            }
            "is_set" => Ok(Value::Bool(*st)),
            "wait" => {
                arity(args, 0, 1, method)?;
                let (_guard, ok) = self.0.wait_until(st, timeout_ms(args, 0, method)?, ctx, |s| *s)?;
                Ok(Value::Bool(ok))
            }
            _ => Err(no_method(SPEC.name, method)),
        }
    }

    fn wake_all(&self) {
        self.0.wake_all()
    }
}
