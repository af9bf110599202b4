package mpipc

/*
#include "shim.h"
#cgo noescape go_mp_lock_acquire
#cgo nocallback go_mp_lock_acquire
#cgo noescape go_mp_lock_release
#cgo nocallback go_mp_lock_release
*/
import "C"

import (
	"context"
	"runtime"
	"time"
	"unsafe"
)

// Lock is a named, robust, process-shared Lock or RLock
// (multiprocessing.Lock / RLock, openable by name from any process).
//
// Ownership is per OS thread, as threading.RLock: Acquire wires the
// calling goroutine to its thread (runtime.LockOSThread) until the
// matching Release, which must come from the same goroutine. Acquiring a
// (non-recursive) Lock the goroutine already holds is ErrInvalid, not a
// deadlock; releasing a lock not held is ErrPerm.
//
// Dead holders: when a holder dies (even by SIGKILL), the next Acquire
// gets the lock and returns ErrOwnerDead. The lock IS held then, exactly
// as after a nil error: repair the data it guards, then Release as usual.
// Code that does not care can treat it as success:
//
//	if err := l.Acquire(ctx); err != nil && !errors.Is(err, mpipc.ErrOwnerDead) {
//		return err
//	}
//	defer l.Release()
//
// Safe for use by many goroutines. Under the hood: an mp_lock handle
// mapping /dev/shm/mpipc.lock.<name>.
type Lock struct {
	h         handle[*C.mp_lock]
	name      string
	recursive bool
}

// OpenLock opens (creates or attaches to) the Lock name. ErrType if the
// name is an RLock.
func OpenLock(name string, mode OpenMode) (*Lock, error) { return openLock(name, mode, false) }

// OpenRLock opens the recursive lock name (the holder may acquire again
// and must release as many times). ErrType if the name is a Lock.
func OpenRLock(name string, mode OpenMode) (*Lock, error) { return openLock(name, mode, true) }

func openLock(name string, mode OpenMode, recursive bool) (*Lock, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	flags := C.uint32_t(mode)
	if recursive {
		flags |= C.MP_LOCK_RECURSIVE
	}
	var p *C.mp_lock
	var e *C.char
	if st := C.go_mp_lock_open(cname, flags, &p, &e); st != 0 {
		return nil, newError("mp_lock_open", st, e)
	}
	l := &Lock{name: name, recursive: recursive}
	l.h.init(p, func(p *C.mp_lock) { C.mp_lock_close(p) })
	runtime.SetFinalizer(l, (*Lock).Close)
	return l, nil
}

// UnlinkLock removes the name (Lock or RLock); open handles keep working.
func UnlinkLock(name string) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var e *C.char
	return check("mp_lock_unlink", C.go_mp_lock_unlink(cname, &e), e)
}

// Name is the lock's name.
func (l *Lock) Name() string { return l.name }

// Recursive reports whether this is an RLock.
func (l *Lock) Recursive() bool { return l.recursive }

// Acquire waits until the lock is held or ctx ends (ctx.Err()). nil or
// ErrOwnerDead: held (see the type's documentation).
func (l *Lock) Acquire(ctx context.Context) error { return l.acquire(ctxWaiter(ctx)) }

// AcquireTimeout waits at most d (0: try once, negative: forever);
// ErrTimeout if not acquired.
func (l *Lock) AcquireTimeout(d time.Duration) error { return l.acquire(timeoutWaiter(d)) }

// TryAcquire acquires the lock if it is free and reports whether it did
// (ErrOwnerDead still comes as an error, with the lock held).
func (l *Lock) TryAcquire() (bool, error) {
	err := l.acquire(waiter{nowait: true})
	switch {
	case err == nil:
		return true, nil
	case isCode(err, ErrOwnerDead):
		return true, err
	case isCode(err, ErrTimeout):
		return false, nil
	}
	return false, err
}

func (l *Lock) acquire(w waiter) error {
	p, err := l.h.acquire()
	if err != nil {
		return err
	}
	defer l.h.release()
	runtime.LockOSThread()
	ms := w.first()
	for {
		var e *C.char
		st := C.go_mp_lock_acquire(p, C.int64_t(ms), &e)
		runtime.KeepAlive(l)
		switch st {
		case 0:
			return nil
		case C.MP_E_OWNER_DEAD:
			return newError("mp_lock_acquire", st, e) // held
		case C.MP_E_TIMEOUT:
		default:
			runtime.UnlockOSThread()
			return newError("mp_lock_acquire", st, e)
		}
		var stop error
		if ms, stop = w.next(l.h.closed()); stop != nil {
			runtime.UnlockOSThread()
			if stop == errExpired {
				return newError("mp_lock_acquire", st, e)
			}
			discard(e)
			return stop
		}
		discard(e)
	}
}

// Release releases the lock (one level of an RLock), from the goroutine
// that acquired it; ErrPerm if its thread does not hold it.
func (l *Lock) Release() error {
	p, err := l.h.acquire()
	if err != nil {
		return err
	}
	defer l.h.release()
	var e *C.char
	st := C.go_mp_lock_release(p, &e)
	runtime.KeepAlive(l)
	if st == 0 {
		runtime.UnlockOSThread()
	}
	return check("mp_lock_release", st, e)
}

// OwnerDeaths is how many holders have died holding this lock since it was
// created.
func (l *Lock) OwnerDeaths() (uint64, error) {
	p, err := l.h.acquire()
	if err != nil {
		return 0, err
	}
	defer l.h.release()
	var n C.uint64_t
	var e *C.char
	st := C.go_mp_lock_owner_deaths(p, &n, &e)
	runtime.KeepAlive(l)
	return uint64(n), check("mp_lock_owner_deaths", st, e)
}

// Close frees the handle (idempotent). A lock held by this process stays
// held until the process exits, then goes to the next acquirer with
// ErrOwnerDead.
func (l *Lock) Close() error {
	if l.h.close() {
		runtime.SetFinalizer(l, nil)
	}
	return nil
}
