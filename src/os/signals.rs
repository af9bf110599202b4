//! Keeping the process's signals away from a thread while it talks to a
//! server over a socket (the Redis backend, `crate::redis`).
//!
//! Two reasons. A read on a socket with a receive timeout (`SO_RCVTIMEO`,
//! which bounds every reply) is never restarted after a signal handler
//! runs, even with `SA_RESTART` (signal(7)): it fails with `EINTR`, and the
//! `redis` crate would then count the reply as owed and skip it, losing a
//! message a pop had taken. Node, Python and Go all install handlers
//! (SIGCHLD, SIGINT, SIGURG, SIGPROF). And a write to a server that went
//! away over a unix socket raises SIGPIPE, whose default action kills the
//! host program (Rust's standard library sends on TCP with `MSG_NOSIGNAL`,
//! but writes to unix sockets with plain `write(2)`).
//!
//! [`AsyncSignalsBlocked`] blocks every asynchronous signal on the calling
//! thread for the length of one call (two `pthread_sigmask` calls, well
//! under a microsecond beside a round trip of ~10 µs); signals that arrive
//! meanwhile stay pending and are delivered when the mask is restored, at
//! most one server-side wait slice (1 s) later. A SIGPIPE raised by this
//! thread's own write during the call is consumed instead: the write's
//! `EPIPE` already reports the lost connection.

/// Asynchronous signals blocked on this thread until dropped (see the
/// module doc). Synchronous signals (a fault in this thread) stay
/// unblocked: blocking them would make a crash hang or misreport.
pub struct AsyncSignalsBlocked {
    old: libc::sigset_t,
    /// Whether SIGPIPE was already pending for this thread before: then
    /// it is not ours to consume.
    sigpipe_was_pending: bool,
}

/// Signals a fault of the running thread raises: never blocked.
const SYNCHRONOUS: [libc::c_int; 6] =
    [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL, libc::SIGTRAP, libc::SIGSYS];

impl AsyncSignalsBlocked {
    /// Blocks the asynchronous signals on the calling thread.
    pub fn new() -> AsyncSignalsBlocked {
        // SAFETY: sigset_t is plain data, initialised by sigfillset /
        // pthread_sigmask before use; pthread_sigmask only changes the
        // calling thread's mask, and `old` receives the mask to restore.
        unsafe {
            let mut block: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut block);
            for s in SYNCHRONOUS {
                libc::sigdelset(&mut block, s);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old);
            AsyncSignalsBlocked { old, sigpipe_was_pending: sigpipe_pending() }
        }
    }

    /// Blocks the asynchronous signals on the calling thread for good: for
    /// a thread of the library's own (a lease keeper), which has no
    /// business receiving the host program's signals.
    pub fn for_this_thread() {
        std::mem::forget(AsyncSignalsBlocked::new());
    }
}

impl Default for AsyncSignalsBlocked {
    fn default() -> Self {
        AsyncSignalsBlocked::new()
    }
}

/// Whether SIGPIPE is pending for this thread (or the process).
fn sigpipe_pending() -> bool {
    // SAFETY: `pending` is filled by sigpending before it is read.
    unsafe {
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending) == 0 && libc::sigismember(&pending, libc::SIGPIPE) == 1
    }
}

impl Drop for AsyncSignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: as in `new`; sigtimedwait with a zero timeout only takes
        // a SIGPIPE already pending (it never waits), and the restored mask
        // is the one this thread had before `new`.
        unsafe {
            if !self.sigpipe_was_pending && sigpipe_pending() {
                let mut pipe: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut pipe);
                libc::sigaddset(&mut pipe, libc::SIGPIPE);
                let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
                libc::sigtimedwait(&pipe, std::ptr::null_mut(), &zero);
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sigpipe_raised_while_blocked_is_consumed_and_the_mask_restored() {
        let before = current_mask();
        {
            let _quiet = AsyncSignalsBlocked::new();
            // SAFETY: raise sends SIGPIPE to this thread; it is blocked,
            // so it only becomes pending.
            unsafe { libc::raise(libc::SIGPIPE) };
            assert!(sigpipe_pending());
        }
        assert!(!sigpipe_pending(), "the SIGPIPE was consumed, not delivered (it would have killed the test)");
        assert!(masks_equal(&before, &current_mask()));
    }

    fn current_mask() -> libc::sigset_t {
        // SAFETY: a query of this thread's mask into a zeroed set.
        unsafe {
            let mut m: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut m);
            m
        }
    }

    fn masks_equal(a: &libc::sigset_t, b: &libc::sigset_t) -> bool {
        // SAFETY: sigismember reads the given initialised sets.
        (1..65).all(|s| unsafe { libc::sigismember(a, s) == libc::sigismember(b, s) })
    }
}
