//! `lock` and `rlock`: a lock owned by the connection that acquired it
//! (released by the server when that connection drops); an rlock is
//! recursive. [`Owner`] and the acquire / release steps are shared with
//! `condition`, whose lock is an rlock.

use super::{timeout_ms, Guarded};
use crate::error::{Error, ErrorKind, Result};
use crate::manager::objects::{no_method, CallCtx, ConnId, KindSpec, ManagerObject};
use crate::manager::values::*;
use ciborium::Value;
use parking_lot::MutexGuard;

/// The `lock` row of the kinds table.
pub(super) const LOCK: KindSpec = KindSpec {
    name: "lock",
    methods: &["acquire", "release", "locked"],
    new: |_| Ok(Box::new(Lock { recursive: false, state: Guarded::default() })),
};

/// The `rlock` row of the kinds table.
pub(super) const RLOCK: KindSpec = KindSpec {
    name: "rlock",
    methods: &["acquire", "release", "locked"],
    new: |_| Ok(Box::new(Lock { recursive: true, state: Guarded::default() })),
};

/// Who holds a lock (or a condition's lock), and how many times.
#[derive(Debug, Default)]
pub(super) struct Owner {
    pub(super) holder: Option<ConnId>,
    pub(super) depth: u64,
}

impl Owner {
    /// Whether `me` may take it now (free, or already mine).
    fn free_for(&self, me: ConnId) -> bool {
        self.holder.is_none() || self.holder == Some(me)
    }

    /// Gives up one level; errors if `me` does not hold it. True when it
    /// became free.
    fn release(&mut self, me: ConnId, what: &str) -> Result<bool> {
        if self.holder != Some(me) {
            return Err(Error::new(ErrorKind::Permission, format!("release of a {what} this client does not hold")));
        }
        self.depth -= 1;
        if self.depth == 0 {
            self.holder = None;
        }
        Ok(self.holder.is_none())
    }

    /// Frees it if `conn` holds it (its connection dropped); true if so.
    pub(super) fn release_all(&mut self, conn: ConnId) -> bool {
        if self.holder != Some(conn) {
            return false;
        }
        *self = Owner::default();
        true
    }
}

/// A state holding an [`Owner`]: a lock's, or a condition's.
pub(super) trait HasOwner {
    /// Its owner.
    fn owner(&self) -> &Owner;
    /// Its owner, to change.
    fn owner_mut(&mut self) -> &mut Owner;
}

impl HasOwner for Owner {
    fn owner(&self) -> &Owner {
        self
    }
    fn owner_mut(&mut self) -> &mut Owner {
        self
    }
}

/// Takes the lock of `g` for `ctx.conn`, waiting at most the timeout in
/// `args[0]`; returns whether it got it. A non-recursive lock already
/// held by the caller is an error (it would wait forever).
pub(super) fn acquire<S: HasOwner>(
    g: &Guarded<S>,
    st: MutexGuard<'_, S>,
    args: &[Value],
    ctx: &CallCtx,
    recursive: bool,
) -> Result<Value> {
    arity(args, 0, 1, "acquire")?;
    let me = ctx.conn;
    if st.owner().holder == Some(me) && !recursive {
        return Err(Error::new(ErrorKind::Invalid, "lock already held by this client (not recursive)"));
    }
    let (mut st, ok) = g.wait_until(st, timeout_ms(args, 0, "acquire")?, ctx, |s| s.owner().free_for(me))?;
    if ok {
        let o = st.owner_mut();
        o.holder = Some(me);
        o.depth += 1;
    }
    Ok(Value::Bool(ok))
}

/// Gives up one level of the lock of `g` held by `ctx.conn` (`what` names
/// it in the error).
pub(super) fn release<S: HasOwner>(
    g: &Guarded<S>,
    mut st: MutexGuard<'_, S>,
    ctx: &CallCtx,
    what: &str,
) -> Result<Value> {
    if st.owner_mut().release(ctx.conn, what)? {
        g.notify_all();
    }
    Ok(Value::Null)
}

/// A lock or rlock object.
#[derive(Debug)]
struct Lock {
    recursive: bool,
    state: Guarded<Owner>,
}

impl ManagerObject for Lock {
    fn call(&self, method: &str, args: &[Value], ctx: &CallCtx) -> Result<Value> {
        let st = self.state.lock();
        match method {
            "acquire" => acquire(&self.state, st, args, ctx, self.recursive),
            "release" => {
                arity(args, 0, 0, method)?;
                release(&self.state, st, ctx, "lock")
            }
            "locked" => Ok(Value::Bool(st.holder.is_some())),
            _ => Err(no_method(if self.recursive { RLOCK.name } else { LOCK.name }, method)),
        }
    }

    fn release_owner(&self, conn: ConnId) -> bool {
        let mut st = self.state.lock();
        let released = st.release_all(conn);
        if released {
            self.state.notify_all();
        }
        released
    }

    fn wake_all(&self) {
        self.state.wake_all()
    }
}
