//! `list`: a sequence of CBOR values, with Python list's methods.

use super::{index, sequence_read, slice_bounds, Guarded};
use crate::error::{Error, ErrorKind, Result};
use crate::manager::objects::{no_method, CallCtx, KindSpec, ManagerObject};
use crate::manager::values::*;
use ciborium::Value;

/// The `list` row of the kinds table.
pub(super) const SPEC: KindSpec = KindSpec {
    name: "list",
    methods: &[
        "len", "getitem", "getslice", "append", "extend", "insert", "index", "count", "remove", "pop", "reverse",
        "sort", "setitem", "delitem", "setslice", "delslice", "contains", "clear", "copy",
    ],
    new: |_| Ok(Box::new(List(Guarded::default()))),
};

/// A list object.
#[derive(Debug)]
struct List(Guarded<Vec<Value>>);

impl ManagerObject for List {
    fn call(&self, method: &str, args: &[Value], _ctx: &CallCtx) -> Result<Value> {
        let mut st = self.0.lock();
        let l = &mut *st;
        if let Some(r) = sequence_read(l, method, args) {
            return r;
        }
        let position = |l: &Vec<Value>, x: &Value, from: usize, to: usize| {
            let want = value_bytes(x);
            l[from..to].iter().position(|v| value_bytes(v) == want).map(|p| p + from)
        };
        Ok(match method {
            "append" => {
                arity(args, 1, 1, method)?;
                l.push(args[0].clone());
                Value::Null
            }
            "extend" => {
                arity(args, 1, 1, method)?;
                l.extend_from_slice(array_arg(args, 0, method)?);
                Value::Null
            }
            "insert" => {
                arity(args, 2, 2, method)?;
                let i = int_arg(args, 0, method)?;
                let len = l.len() as i64;
                let at = if i < 0 { (i + len).max(0) } else { i.min(len) } as usize;
                l.insert(at, args[1].clone());
                Value::Null
            }
            "index" => {
                arity(args, 1, 3, method)?;
                let (from, to) = slice_bounds(&args[1..], l.len(), method)?;
                let p = position(l, &args[0], from, to)
                    .ok_or_else(|| Error::new(ErrorKind::NotFound, "list.index(x): x not in list"))?;
                Value::Integer(p.into())
            }
            "count" => {
                arity(args, 1, 1, method)?;
                let want = value_bytes(&args[0]);
                Value::Integer(l.iter().filter(|v| value_bytes(v) == want).count().into())
            }
            "remove" => {
                arity(args, 1, 1, method)?;
                let p = position(l, &args[0], 0, l.len())
                    .ok_or_else(|| Error::new(ErrorKind::NotFound, "list.remove(x): x not in list"))?;
                l.remove(p);
                Value::Null
            }
            "pop" => {
                arity(args, 0, 1, method)?;
                if l.is_empty() {
                    return Err(Error::new(ErrorKind::Index, "pop from empty list"));
                }
                let i = index(opt_int(args, 0, -1, method)?, l.len(), method)?;
                l.remove(i)
            }
            "reverse" => {
                l.reverse();
                Value::Null
            }
            "sort" => {
                arity(args, 0, 1, method)?;
                let reverse = matches!(args.first(), Some(Value::Bool(true)));
                // Sort a copy, so that a type error leaves the list as it was;
                // a stable sort with the comparison reversed keeps equal
                // elements in their order, as Python's reverse=True does.
                let mut sorted = l.clone();
                let mut failed = None;
                sorted.sort_by(|a, b| {
                    let (x, y) = if reverse { (b, a) } else { (a, b) };
                    compare(x, y).unwrap_or_else(|e| {
                        failed.get_or_insert(e);
                        std::cmp::Ordering::Equal
                    })
                });
                if let Some(e) = failed {
                    return Err(e);
                }
                *l = sorted;
                Value::Null
            }
            "setitem" => {
                arity(args, 2, 2, method)?;
                let i = index(int_arg(args, 0, method)?, l.len(), method)?;
                l[i] = args[1].clone();
                Value::Null
            }
            "delitem" => {
                arity(args, 1, 1, method)?;
                let i = index(int_arg(args, 0, method)?, l.len(), method)?;
                l.remove(i);
                Value::Null
            }
            "setslice" => {
                arity(args, 3, 3, method)?;
                let (a, b) = slice_bounds(&args[..2], l.len(), method)?;
                let items = array_arg(args, 2, method)?.to_vec();
                l.splice(a..b, items);
                Value::Null
            }
            "delslice" => {
                arity(args, 0, 2, method)?;
                let (a, b) = slice_bounds(args, l.len(), method)?;
                l.drain(a..b);
                Value::Null
            }
            "contains" => {
                arity(args, 1, 1, method)?;
                Value::Bool(position(l, &args[0], 0, l.len()).is_some())
            }
            "clear" => {
                l.clear();
                Value::Null
            }
            "copy" => Value::Array(l.clone()),
            _ => return Err(no_method(SPEC.name, method)),
        })
    }
}
