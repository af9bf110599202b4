//! The manager's kinds of object, one file and type each, and the table
//! that registers them ([`KINDS`]): a new kind is a file here and a row
//! there. What they share: [`Guarded`] state with a condvar for the
//! blocking ones, and the sequence helpers of list and array.

use crate::error::{Error, ErrorKind, Result};
use crate::manager::objects::{CallCtx, KindSpec};
use crate::manager::values::*;
use ciborium::Value;
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

mod array;
mod barrier;
mod condition;
mod dict;
mod event;
mod list;
mod lock;
mod namespace;
mod queue;
mod semaphore;
mod set;
mod value;

/// Every kind of object, by protocol name: its constructor and its method
/// table (docs/manager-methods.json is generated from it).
pub static KINDS: &[KindSpec] = &[
    dict::SPEC,
    list::SPEC,
    set::SPEC,
    namespace::SPEC,
    value::SPEC,
    lock::LOCK,
    lock::RLOCK,
    semaphore::SEMAPHORE,
    semaphore::BOUNDED_SEMAPHORE,
    event::SPEC,
    queue::SPEC,
    condition::SPEC,
    barrier::SPEC,
    array::SPEC,
];

/// An object's state under a mutex, with a condvar its blocking methods
/// wait on.
#[derive(Debug, Default)]
pub(super) struct Guarded<S> {
    state: Mutex<S>,
    cond: Condvar,
}

impl<S> Guarded<S> {
    pub(super) fn new(state: S) -> Guarded<S> {
        Guarded { state: Mutex::new(state), cond: Condvar::new() }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, S> {
        // parking_lot does not poison: a panic inside a method (methods
        // validate first, then mutate) leaves a state later calls handle,
        // and the next caller simply takes the mutex.
        self.state.lock()
    }

    /// Wakes every waiter (a change they may be waiting for).
    pub(super) fn notify_all(&self) {
        self.cond.notify_all();
    }

    /// Wakes every waiter, under the mutex (shutdown: a waiter between its
    /// check of `stopping` and its wait is not missed).
    pub(super) fn wake_all(&self) {
        let _g = self.lock();
        self.cond.notify_all();
    }

    /// Waits on the condvar until `ready(state)` or the timeout; returns the
    /// guard and whether it became ready.
    pub(super) fn wait_until<'a>(
        &'a self,
        mut st: MutexGuard<'a, S>,
        timeout: Option<Duration>,
        ctx: &CallCtx,
        ready: impl Fn(&S) -> bool,
    ) -> Result<(MutexGuard<'a, S>, bool)> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if ready(&st) {
                return Ok((st, true));
            }
            // Relaxed: a flag read on its own, no data published with it;
            // the bounded slices below bound how late it is seen.
            if ctx.stopping.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(Error::new(ErrorKind::Shutdown, "the manager is shutting down"));
            }
            // Bounded slices so a shutdown is noticed even without a notify.
            let now = Instant::now();
            let slice_end = now + Duration::from_millis(100);
            let until = match deadline {
                None => slice_end,
                Some(d) if d > now => d.min(slice_end),
                Some(_) => return Ok((st, false)),
            };
            // A spurious or early wake-up is harmless: the loop checks
            // `ready` and the deadline again.
            self.cond.wait_until(&mut st, until);
        }
    }
}

/// The timeout in milliseconds of argument `i` (absent, null or negative:
/// none).
pub(super) fn timeout_ms(args: &[Value], i: usize, method: &str) -> Result<Option<Duration>> {
    let t = opt_int(args, i, -1, method)?;
    Ok(if t < 0 { None } else { Some(Duration::from_millis(t as u64)) })
}

/// Resolves a Python-style index (negative counts from the end).
pub(super) fn index(i: i64, len: usize, method: &str) -> Result<usize> {
    let j = if i < 0 { i + len as i64 } else { i };
    if j < 0 || j >= len as i64 {
        return Err(Error::new(ErrorKind::Index, format!("{method}: list index {i} out of range (len {len})")));
    }
    Ok(j as usize)
}

/// Resolves Python slice bounds (clamped; null = default) for step 1.
pub(super) fn slice_bounds(args: &[Value], len: usize, method: &str) -> Result<(usize, usize)> {
    let clamp = |v: i64| -> usize {
        let v = if v < 0 { v + len as i64 } else { v };
        v.clamp(0, len as i64) as usize
    };
    let start = clamp(opt_int(args, 0, 0, method)?);
    let stop = clamp(opt_int(args, 1, len as i64, method)?);
    Ok((start, stop.max(start)))
}

/// The read-only sequence methods list and array share: `len`,
/// `getitem`, `getslice`. `None` for any other method.
pub(super) fn sequence_read(items: &[Value], method: &str, args: &[Value]) -> Option<Result<Value>> {
    let run = || -> Result<Value> {
        Ok(match method {
            "len" => Value::Integer(items.len().into()),
            "getitem" => {
                arity(args, 1, 1, method)?;
                items[index(int_arg(args, 0, method)?, items.len(), method)?].clone()
            }
            _ => {
                arity(args, 0, 2, method)?;
                let (a, b) = slice_bounds(args, items.len(), method)?;
                Value::Array(items[a..b].to_vec())
            }
        })
    };
    matches!(method, "len" | "getitem" | "getslice").then(run)
}
