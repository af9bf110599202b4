//! `array`: fixed length, elements of one Python typecode (the ranges of
//! Python's array module).

use super::{index, sequence_read, slice_bounds, Guarded};
use crate::error::{Error, ErrorKind, Result};
use crate::manager::objects::{no_method, CallCtx, KindSpec, ManagerObject};
use crate::manager::values::*;
use ciborium::Value;

/// The `array` row of the kinds table.
pub(super) const SPEC: KindSpec = KindSpec {
    name: "array",
    methods: &["len", "getitem", "getslice", "setitem", "setslice", "tolist", "typecode", "incr"],
    new: |args| Ok(Box::new(Array(Guarded::new(create(args)?)))),
};

/// An array's typecode and items.
#[derive(Debug)]
struct State {
    typecode: char,
    items: Vec<Value>,
}

/// From `create`'s arguments: a typecode, and a length (zeros) or the
/// items.
fn create(args: &[Value]) -> Result<State> {
    let code = text_arg(args, 0, "create (typecode)")?;
    let typecode = match code.as_bytes() {
        [c] if b"cbBhHiIlLqQfd".contains(c) => *c as char,
        _ => return Err(Error::new(ErrorKind::Invalid, format!("unknown array typecode {code:?}"))),
    };
    let items = match arg(args, 1, "create (length or items)")? {
        Value::Integer(n) => {
            let n = usize::try_from(i128::from(*n))
                .ok()
                .filter(|&n| n <= 1 << 24)
                .ok_or_else(|| Error::new(ErrorKind::Invalid, "array length must be 0 to 2^24"))?;
            let zero = if typecode == 'f' || typecode == 'd' { Value::Float(0.0) } else { Value::Integer(0.into()) };
            vec![zero; n]
        }
        Value::Array(a) => a.iter().map(|v| check_element(typecode, v)).collect::<Result<_>>()?,
        _ => return Err(Error::new(ErrorKind::Type, "create: the second argument is a length or an array")),
    };
    Ok(State { typecode, items })
}

/// Checks `v` fits an array of `typecode` (Python's array module ranges,
/// 64-bit Linux sizes).
fn check_element(typecode: char, v: &Value) -> Result<Value> {
    let range: (i128, i128) = match typecode {
        'c' | 'B' => (0, 255),
        'b' => (-128, 127),
        'h' => (-32768, 32767),
        'H' => (0, 65535),
        'i' => (i32::MIN as i128, i32::MAX as i128),
        'I' => (0, u32::MAX as i128),
        'l' | 'q' => (i64::MIN as i128, i64::MAX as i128),
        'L' | 'Q' => (0, u64::MAX as i128),
        'f' | 'd' => {
            return match v {
                Value::Float(_) => Ok(v.clone()),
                Value::Integer(i) => Ok(Value::Float(i128::from(*i) as f64)),
                _ => Err(Error::new(ErrorKind::Type, format!("array {typecode:?} holds numbers"))),
            };
        }
        // Not reached: the typecode was validated at creation.
        _ => return Err(Error::new(ErrorKind::Invalid, format!("unknown array typecode {typecode:?}"))),
    };
    match v {
        Value::Integer(i) if (range.0..=range.1).contains(&i128::from(*i)) => Ok(v.clone()),
        Value::Integer(_) => {
            Err(Error::new(ErrorKind::Invalid, format!("value out of range for typecode {typecode:?}")))
        }
        _ => Err(Error::new(ErrorKind::Type, format!("array {typecode:?} holds integers"))),
    }
}

/// An array object.
#[derive(Debug)]
struct Array(Guarded<State>);

impl ManagerObject for Array {
    fn call(&self, method: &str, args: &[Value], _ctx: &CallCtx) -> Result<Value> {
        let mut st = self.0.lock();
        let State { typecode, items } = &mut *st;
        let tc = *typecode;
        if let Some(r) = sequence_read(items, method, args) {
            return r;
        }
        Ok(match method {
            "setitem" => {
                arity(args, 2, 2, method)?;
                let i = index(int_arg(args, 0, method)?, items.len(), method)?;
                items[i] = check_element(tc, &args[1])?;
                Value::Null
            }
            "setslice" => {
                arity(args, 3, 3, method)?;
                let (a, b) = slice_bounds(&args[..2], items.len(), method)?;
                let new: Vec<Value> =
                    array_arg(args, 2, method)?.iter().map(|v| check_element(tc, v)).collect::<Result<_>>()?;
                if new.len() != b - a {
                    return Err(Error::new(ErrorKind::Invalid, "an array slice assignment cannot change its length"));
                }
                items.splice(a..b, new);
                Value::Null
            }
            "tolist" => Value::Array(items.clone()),
            "typecode" => Value::Text(tc.to_string()),
            "incr" => {
                arity(args, 1, 2, method)?;
                let i = index(int_arg(args, 0, method)?, items.len(), method)?;
                let new = check_element(tc, &add_int(Some(&items[i]), opt_int(args, 1, 1, method)?, "incr")?)?;
                items[i] = new.clone();
                new
            }
            _ => return Err(no_method(SPEC.name, method)),
        })
    }
}
