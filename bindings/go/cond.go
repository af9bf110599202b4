package mpipc

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"runtime"
	"time"
	"unsafe"
)

// Condition is a named process-shared condition variable (Python's
// Condition(lock)), used with one Lock or RLock: wait with the lock held,
// notify with the lock held (checked, as Python does: ErrPerm otherwise).
// Notify wakes exactly the n oldest waiters (no spurious wake-ups); at
// most 256 threads wait on one condition at once (ErrFull beyond). Use the
// same *Lock for the Condition and for acquiring. Safe for use by many
// goroutines.
//
// Under the hood: an mp_cond handle mapping /dev/shm/mpipc.cond.<name>,
// not a pthread condvar (a dead waiter never blocks the others).
type Condition struct {
	h    handle[*C.mp_cond]
	name string
	lock *Lock
}

// OpenCondition opens (creates or attaches to) the condition name, used
// with lock (which every process must open by the same name).
func OpenCondition(name string, lock *Lock, mode OpenMode) (*Condition, error) {
	if lock == nil {
		return nil, &Error{Code: ErrInvalid, Op: "OpenCondition", Msg: "a lock is required"}
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var p *C.mp_cond
	var e *C.char
	if st := C.go_mp_cond_open(cname, C.uint32_t(mode), &p, &e); st != 0 {
		return nil, newError("mp_cond_open", st, e)
	}
	c := &Condition{name: name, lock: lock}
	c.h.init(p, func(p *C.mp_cond) { C.mp_cond_close(p) })
	runtime.SetFinalizer(c, (*Condition).Close)
	return c, nil
}

// UnlinkCondition removes the name; open handles keep working.
func UnlinkCondition(name string) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var e *C.char
	return check("mp_cond_unlink", C.go_mp_cond_unlink(cname, &e), e)
}

// Name is the condition's name.
func (c *Condition) Name() string { return c.name }

// Lock is the condition's lock.
func (c *Condition) Lock() *Lock { return c.lock }

// Wait releases the lock (held by this goroutine, at any RLock depth),
// waits for a notification or until ctx ends, and holds the lock again at
// its former depth whatever the outcome. Errors: ctx.Err(), ErrPerm (the
// lock is not held), ErrFull (256 waiters), ErrOwnerDead (the lock was
// taken back from a holder that died: it is held). A cancelled wait is cut
// at a 50 ms slice boundary, where the lock is held, so no notification
// (sent with the lock held) is lost.
func (c *Condition) Wait(ctx context.Context) error { return c.wait(ctxWaiter(ctx)) }

// WaitTimeout is Wait for at most d (negative: forever); ErrTimeout if not
// notified in time (the lock is held again either way).
func (c *Condition) WaitTimeout(d time.Duration) error { return c.wait(timeoutWaiter(d)) }

// WaitFor waits until pred() is true, checking it first and after each
// notification (Python's wait_for), or until ctx ends. Call it with the
// lock held; pred runs with the lock held.
func (c *Condition) WaitFor(ctx context.Context, pred func() bool) error {
	for !pred() {
		if err := c.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (c *Condition) wait(w waiter) error {
	p, err := c.h.acquire()
	if err != nil {
		return err
	}
	defer c.h.release()
	lp, err := c.lock.h.acquire()
	if err != nil {
		return err
	}
	defer c.lock.h.release()
	ms := w.first()
	for {
		var e *C.char
		st := C.go_mp_cond_wait(p, lp, C.int64_t(ms), &e)
		runtime.KeepAlive(c)
		if st != C.MP_E_TIMEOUT {
			return check("mp_cond_wait", st, e)
		}
		var stop error
		if ms, stop = w.next(c.h.closed() || c.lock.h.closed()); stop != nil {
			if stop == errExpired {
				return newError("mp_cond_wait", st, e)
			}
			discard(e)
			return stop
		}
		discard(e)
	}
}

// Notify wakes up to n of the goroutines/threads waiting now, the oldest
// first. The lock must be held by the caller (ErrPerm otherwise).
func (c *Condition) Notify(n int) error {
	if n < 0 {
		n = 0
	}
	return c.notify(n, false)
}

// NotifyAll wakes every waiter (the lock must be held).
func (c *Condition) NotifyAll() error { return c.notify(0, true) }

func (c *Condition) notify(n int, all bool) error {
	p, err := c.h.acquire()
	if err != nil {
		return err
	}
	defer c.h.release()
	lp, err := c.lock.h.acquire()
	if err != nil {
		return err
	}
	defer c.lock.h.release()
	var e *C.char
	st := C.go_mp_cond_notify(p, lp, C.size_t(n), C.bool(all), &e)
	runtime.KeepAlive(c)
	if all {
		return check("mp_cond_notify_all", st, e)
	}
	return check("mp_cond_notify", st, e)
}

// Close frees the handle (idempotent); the lock is not closed.
func (c *Condition) Close() error {
	if c.h.close() {
		runtime.SetFinalizer(c, nil)
	}
	return nil
}
