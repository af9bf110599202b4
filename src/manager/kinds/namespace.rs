//! `namespace`: attributes by text name.

use super::Guarded;
use crate::error::{Error, ErrorKind, Result};
use crate::manager::objects::{no_method, CallCtx, KindSpec, ManagerObject};
use crate::manager::values::*;
use ciborium::Value;
use indexmap::IndexMap;

/// The `namespace` row of the kinds table.
pub(super) const SPEC: KindSpec = KindSpec {
    name: "namespace",
    methods: &["getattr", "setattr", "delattr", "dict"],
    new: |_| Ok(Box::new(Namespace(Guarded::default()))),
};

/// A namespace object.
#[derive(Debug)]
struct Namespace(Guarded<IndexMap<String, Value>>);

impl ManagerObject for Namespace {
    fn call(&self, method: &str, args: &[Value], _ctx: &CallCtx) -> Result<Value> {
        let mut st = self.0.lock();
        let ns = &mut *st;
        let attr_err = |n: &str| Error::new(ErrorKind::NotFound, format!("AttributeError: no attribute {n:?}"));
        Ok(match method {
            "getattr" => {
                arity(args, 1, 2, method)?;
                let n = text_arg(args, 0, method)?;
                match ns.get(n) {
                    Some(v) => v.clone(),
                    None => args.get(1).cloned().ok_or_else(|| attr_err(n))?,
                }
            }
            "setattr" => {
                arity(args, 2, 2, method)?;
                ns.insert(text_arg(args, 0, method)?.to_owned(), args[1].clone());
                Value::Null
            }
            "delattr" => {
                arity(args, 1, 1, method)?;
                let n = text_arg(args, 0, method)?;
                ns.shift_remove(n).ok_or_else(|| attr_err(n))?;
                Value::Null
            }
            "dict" => Value::Map(ns.iter().map(|(k, v)| (Value::Text(k.clone()), v.clone())).collect()),
            _ => return Err(no_method(SPEC.name, method)),
        })
    }
}
