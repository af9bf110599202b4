//! `queue`: FIFO with a maxsize and JoinableQueue's task accounting.

use super::{timeout_ms, Guarded};
use crate::error::{Error, ErrorKind, Result};
use crate::manager::objects::{no_method, CallCtx, KindSpec, ManagerObject};
use crate::manager::values::*;
use ciborium::Value;
use std::collections::VecDeque;

/// The `queue` row of the kinds table.
pub(super) const SPEC: KindSpec = KindSpec {
    name: "queue",
    methods: &["put", "get", "task_done", "join", "qsize", "empty", "full"],
    new: |args| {
        // maxsize: absent, null or <= 0 is unbounded.
        let maxsize = opt_int(args, 0, 0, "create")?;
        Ok(Box::new(Queue(Guarded::new(State {
            items: VecDeque::new(),
            maxsize: maxsize.max(0) as usize,
            unfinished: 0,
        }))))
    },
};

/// A queue's items, its maxsize (0: unbounded) and the items put and not
/// yet marked done.
#[derive(Debug)]
struct State {
    items: VecDeque<Value>,
    maxsize: usize,
    unfinished: u64,
}

impl State {
    fn full(&self) -> bool {
        self.maxsize > 0 && self.items.len() >= self.maxsize
    }
}

/// A queue object.
#[derive(Debug)]
struct Queue(Guarded<State>);

impl ManagerObject for Queue {
    fn call(&self, method: &str, args: &[Value], ctx: &CallCtx) -> Result<Value> {
        let st = self.0.lock();
        match method {
            "put" => {
                arity(args, 1, 2, method)?;
                let (mut st, ok) = self.0.wait_until(st, timeout_ms(args, 1, method)?, ctx, |s| !s.full())?;
                if !ok {
                    return Err(Error::new(ErrorKind::Full, "queue full"));
                }
                st.items.push_back(args[0].clone());
                st.unfinished += 1;
                self.0.notify_all();
                Ok(Value::Null)
            }
            "get" => {
                arity(args, 0, 1, method)?;
                let (mut st, ok) = self.0.wait_until(st, timeout_ms(args, 0, method)?, ctx, |s| !s.items.is_empty())?;
                if !ok {
                    return Err(Error::new(ErrorKind::Empty, "queue empty"));
                }
                let v = st.items.pop_front().expect("checked non-empty");
                self.0.notify_all();
                Ok(v)
            }
            "task_done" => {
                let mut st = st;
                if st.unfinished == 0 {
                    return Err(Error::new(ErrorKind::Invalid, "task_done() called too many times"));
                }
                st.unfinished -= 1;
                self.0.notify_all();
                Ok(Value::Null)
            }
            "join" => {
                arity(args, 0, 1, method)?;
                let (_guard, ok) = self.0.wait_until(st, timeout_ms(args, 0, method)?, ctx, |s| s.unfinished == 0)?;
                if ok {
                    Ok(Value::Null)
                } else {
                    Err(Error::new(ErrorKind::Timeout, "join timed out"))
                }
            }
            "qsize" => Ok(Value::Integer(st.items.len().into())),
            "empty" => Ok(Value::Bool(st.items.is_empty())),
            "full" => Ok(Value::Bool(st.full())),
            _ => Err(no_method(SPEC.name, method)),
        }
    }

    fn wake_all(&self) {
        self.0.wake_all()
    }
}
