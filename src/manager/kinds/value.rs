//! `value`: one CBOR value.

use super::Guarded;
use crate::error::Result;
use crate::manager::objects::{no_method, CallCtx, KindSpec, ManagerObject};
use crate::manager::values::*;
use ciborium::Value;

/// The `value` row of the kinds table.
pub(super) const SPEC: KindSpec = KindSpec {
    name: "value",
    methods: &["get", "set", "incr", "compare_and_set"],
    // The initial value is the first creation argument (else null).
    new: |args| Ok(Box::new(ValueObj(Guarded::new(args.first().cloned().unwrap_or(Value::Null))))),
};

/// A value object.
#[derive(Debug)]
struct ValueObj(Guarded<Value>);

impl ManagerObject for ValueObj {
    fn call(&self, method: &str, args: &[Value], _ctx: &CallCtx) -> Result<Value> {
        let mut st = self.0.lock();
        let v = &mut *st;
        Ok(match method {
            "get" => v.clone(),
            "set" => {
                arity(args, 1, 1, method)?;
                *v = args[0].clone();
                Value::Null
            }
            "incr" => {
                arity(args, 0, 1, method)?;
                let new = add_int(Some(v), opt_int(args, 0, 1, method)?, "incr")?;
                *v = new.clone();
                new
            }
            "compare_and_set" => {
                arity(args, 2, 2, method)?;
                let ok = value_bytes(v) == value_bytes(&args[0]);
                if ok {
                    *v = args[1].clone();
                }
                Value::Bool(ok)
            }
            _ => return Err(no_method(SPEC.name, method)),
        })
    }
}
