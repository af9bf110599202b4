//! The calling thread's kernel thread id, cached: locks record their owner
//! by it, and `gettid(2)` is a syscall (~100 ns) that a 50 ns lock cannot
//! afford on every call. Likewise the process id, which every call to a
//! Redis server compares with its connection's (`crate::redis`: a forked
//! child must not use its parent's connections).
//!
//! A forked child inherits the parent's thread-local cache but runs with a
//! new tid, so a `pthread_atfork` child handler clears the cache of the
//! forking thread (the only thread the child has).
//!
//! The handler is registered when the library is loaded (an `.init_array`
//! constructor, which runs before any thread can call in), not lazily
//! under a `Once`: a thread inside `call_once` while another thread forks
//! leaves the child's `Once` marked as running for ever, and the child's
//! first lock call would then wait for a thread it does not have.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    /// 0 = not known yet.
    static TID: Cell<i32> = const { Cell::new(0) };
}

/// The process id, 0 = not known yet (see [`current_pid`]).
static PID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Whether the atfork handler is registered.
static REGISTERED: AtomicBool = AtomicBool::new(false);

/// Registers the atfork handler once. No lock and no `Once` (see the
/// module doc); the swap makes the registration happen at most once.
fn register_atfork() {
    // AcqRel: the one thread that flips the flag registers; the others see
    // its flip. Nothing else is published through the flag.
    if !REGISTERED.swap(true, Ordering::AcqRel) {
        // SAFETY: registers a handler that only touches a thread-local
        // Cell; registration has no other effect.
        unsafe { libc::pthread_atfork(None, None, Some(forget_in_child)) };
    }
}

extern "C" fn register_at_load() {
    register_atfork();
}

/// Runs [`register_at_load`] when the library (or a program linking it) is
/// loaded, before any of its code can run on another thread. `#[used]`
/// keeps the entry even though nothing refers to it.
#[used]
#[link_section = ".init_array"]
static REGISTER_AT_LOAD: extern "C" fn() = register_at_load;

extern "C" fn forget_in_child() {
    // try_with: never panic in an atfork handler, even during thread exit.
    let _ = TID.try_with(|t| t.set(0));
    // Relaxed: the child has one thread, this one, so far.
    PID.store(0, Ordering::Relaxed);
}

/// The calling process's id, cached (cleared in a forked child by the
/// atfork handler, as the tid is).
pub fn current_pid() -> u32 {
    // Relaxed: the value is the same whichever thread cached it; a thread
    // that sees 0 asks the kernel itself.
    match PID.load(Ordering::Relaxed) {
        0 => {
            if !REGISTERED.load(Ordering::Relaxed) {
                register_atfork();
            }
            let pid = std::process::id();
            PID.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

/// The calling thread's tid (unique among the live threads of the whole
/// machine's pid namespace, which is what a process-shared lock needs).
pub fn current_tid() -> i32 {
    TID.with(|t| {
        let v = t.get();
        if v != 0 {
            return v;
        }
        // Relaxed: a hint; register_atfork's swap decides. Only when the
        // constructor did not run (an object file a static link left out
        // of the constructor's reach is the one conceivable case).
        if !REGISTERED.load(Ordering::Relaxed) {
            register_atfork();
        }
        // SAFETY: gettid has no preconditions.
        let v = unsafe { libc::gettid() };
        t.set(v);
        v
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_atfork_handler_is_registered_at_load() {
        // Relaxed: read after the constructor ran, in program order.
        assert!(REGISTERED.load(Ordering::Relaxed), "the .init_array constructor did not run");
    }

    #[test]
    fn tid_is_per_thread_and_renewed_after_fork() {
        let me = current_tid();
        // SAFETY: gettid has no preconditions.
        assert_eq!(me, unsafe { libc::gettid() });
        let other = std::thread::spawn(current_tid).join().unwrap();
        assert_ne!(me, other);
        // SAFETY: the child only computes and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: as above.
            let ok = current_tid() == unsafe { libc::gettid() } && current_tid() != me;
            // SAFETY: leaving the forked child without running destructors.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut st = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut st, 0) };
        assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, "the child saw its parent's tid");
    }
}
