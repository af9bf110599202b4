//! `barrier`: parties wait until all have arrived; a timed-out wait, an
//! abort or a reset breaks it for those waiting.

use super::{timeout_ms, Guarded};
use crate::error::{Error, ErrorKind, Result};
use crate::manager::objects::{no_method, CallCtx, KindSpec, ManagerObject};
use crate::manager::values::*;
use ciborium::Value;

/// The `barrier` row of the kinds table.
pub(super) const SPEC: KindSpec = KindSpec {
    name: "barrier",
    methods: &["wait", "abort", "reset", "parties", "n_waiting", "broken"],
    new: |args| {
        let parties = opt_int(args, 0, 0, "create")?;
        if parties < 1 {
            return Err(Error::new(ErrorKind::Invalid, "create a barrier with its number of parties (>= 1)"));
        }
        Ok(Box::new(Barrier(Guarded::new(State {
            parties: parties as u64,
            count: 0,
            generation: 0,
            broken: false,
            reset_to: 0,
        }))))
    },
};

/// `generation` advances when the barrier trips or is reset; `reset_to`
/// is the generation a reset started, so waiters of the generation before
/// it know they were broken, not released.
#[derive(Debug)]
struct State {
    parties: u64,
    count: u64,
    generation: u64,
    broken: bool,
    reset_to: u64,
}

/// A barrier object.
#[derive(Debug)]
struct Barrier(Guarded<State>);

impl ManagerObject for Barrier {
    fn call(&self, method: &str, args: &[Value], ctx: &CallCtx) -> Result<Value> {
        let broken_err = || Error::new(ErrorKind::Broken, "BrokenBarrierError: the barrier is broken");
        let mut st = self.0.lock();
        match method {
            "wait" => {
                arity(args, 0, 1, method)?;
                if st.broken {
                    return Err(broken_err());
                }
                let index = st.count;
                st.count += 1;
                if st.count == st.parties {
                    st.count = 0;
                    st.generation += 1;
                    self.0.notify_all();
                    return Ok(Value::Integer(index.into()));
                }
                let gen = st.generation;
                let (mut st, ok) =
                    self.0.wait_until(st, timeout_ms(args, 0, method)?, ctx, |s| s.generation != gen || s.broken)?;
                if st.generation != gen && !st.broken && st.reset_to != gen + 1 {
                    return Ok(Value::Integer(index.into()));
                }
                if !ok {
                    // A timed-out wait breaks the barrier for everyone.
                    st.broken = true;
                    self.0.notify_all();
                }
                Err(broken_err())
            }
            "abort" => {
                st.broken = true;
                self.0.notify_all();
                Ok(Value::Null)
            }
            "reset" => {
                // Current waiters are released broken; the barrier is new.
                st.count = 0;
                st.generation += 1;
                st.reset_to = st.generation;
                st.broken = false;
                self.0.notify_all();
                Ok(Value::Null)
            }
            "parties" => Ok(Value::Integer(st.parties.into())),
            "n_waiting" => Ok(Value::Integer(st.count.into())),
            "broken" => Ok(Value::Bool(st.broken)),
            _ => Err(no_method(SPEC.name, method)),
        }
    }

    fn wake_all(&self) {
        self.0.wake_all()
    }
}
