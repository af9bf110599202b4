//! `set`: members by their canonical key bytes, in insertion order.

use super::Guarded;
use crate::error::{Error, ErrorKind, Result};
use crate::manager::objects::{key_error, no_method, CallCtx, KindSpec, ManagerObject};
use crate::manager::values::*;
use ciborium::Value;
use indexmap::IndexMap;

/// The `set` row of the kinds table.
pub(super) const SPEC: KindSpec = KindSpec {
    name: "set",
    methods: &["add", "discard", "remove", "contains", "len", "pop", "clear", "update", "members", "copy"],
    new: |_| Ok(Box::new(Set(Guarded::default()))),
};

/// A set object.
#[derive(Debug)]
struct Set(Guarded<IndexMap<Vec<u8>, Value>>);

impl ManagerObject for Set {
    fn call(&self, method: &str, args: &[Value], _ctx: &CallCtx) -> Result<Value> {
        let mut st = self.0.lock();
        let s = &mut *st;
        Ok(match method {
            "add" => {
                arity(args, 1, 1, method)?;
                s.insert(key_bytes(&args[0])?, args[0].clone());
                Value::Null
            }
            "discard" | "remove" => {
                arity(args, 1, 1, method)?;
                if s.shift_remove(&key_bytes(&args[0])?).is_none() && method == "remove" {
                    return Err(key_error(&args[0]));
                }
                Value::Null
            }
            "contains" => {
                arity(args, 1, 1, method)?;
                Value::Bool(s.contains_key(&key_bytes(&args[0])?))
            }
            "len" => Value::Integer(s.len().into()),
            "pop" => s.pop().ok_or_else(|| Error::new(ErrorKind::NotFound, "pop from an empty set"))?.1,
            "clear" => {
                s.clear();
                Value::Null
            }
            "update" => {
                arity(args, 1, 1, method)?;
                let items: Vec<(Vec<u8>, Value)> = array_arg(args, 0, method)?
                    .iter()
                    .map(|v| Ok((key_bytes(v)?, v.clone())))
                    .collect::<Result<_>>()?;
                s.extend(items);
                Value::Null
            }
            "members" | "copy" => Value::Array(s.values().cloned().collect()),
            _ => return Err(no_method(SPEC.name, method)),
        })
    }
}
