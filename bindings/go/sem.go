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

// Semaphore is a named process-shared semaphore (Python's Semaphore, or
// BoundedSemaphore with SemaphoreOptions.Bounded). It has no owner: any
// goroutine or process may release, and units taken by a process that dies
// stay taken, as in Python. Safe for use by many goroutines.
//
// Under the hood: an mp_sem handle mapping /dev/shm/mpipc.sem.<name>.
type Semaphore struct {
	h    handle[*C.mp_sem]
	name string
}

// SemaphoreOptions are the options of OpenSemaphore.
type SemaphoreOptions struct {
	Mode    OpenMode
	Bounded bool // a BoundedSemaphore: releasing above the initial value is ErrInvalid
}

// OpenSemaphore opens the semaphore name, creating it with value units (at
// most 2^31-1; ignored when attaching). ErrType if bounded-ness differs
// from the existing one.
func OpenSemaphore(name string, value int, opts SemaphoreOptions) (*Semaphore, error) {
	if value < 0 || value > 1<<31-1 {
		return nil, &Error{Code: ErrInvalid, Op: "OpenSemaphore", Msg: "value out of 0 ..= 2^31-1"}
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	flags := C.uint32_t(opts.Mode)
	if opts.Bounded {
		flags |= C.MP_SEM_BOUNDED
	}
	var p *C.mp_sem
	var e *C.char
	if st := C.go_mp_sem_open(cname, C.uint32_t(value), flags, &p, &e); st != 0 {
		return nil, newError("mp_sem_open", st, e)
	}
	s := &Semaphore{name: name}
	s.h.init(p, func(p *C.mp_sem) { C.mp_sem_close(p) })
	runtime.SetFinalizer(s, (*Semaphore).Close)
	return s, nil
}

// UnlinkSemaphore removes the name; open handles keep working.
func UnlinkSemaphore(name string) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var e *C.char
	return check("mp_sem_unlink", C.go_mp_sem_unlink(cname, &e), e)
}

// Name is the semaphore's name.
func (s *Semaphore) Name() string { return s.name }

// Acquire takes one unit, waiting until ctx ends (ctx.Err()).
func (s *Semaphore) Acquire(ctx context.Context) error { return s.acquire(ctxWaiter(ctx)) }

// AcquireTimeout takes one unit, waiting at most d (0: try, negative:
// forever); ErrTimeout.
func (s *Semaphore) AcquireTimeout(d time.Duration) error { return s.acquire(timeoutWaiter(d)) }

// TryAcquire takes one unit if one is free and reports whether it did.
func (s *Semaphore) TryAcquire() (bool, error) {
	err := s.acquire(waiter{nowait: true})
	if isCode(err, ErrTimeout) {
		return false, nil
	}
	return err == nil, err
}

func (s *Semaphore) acquire(w waiter) error {
	p, err := s.h.acquire()
	if err != nil {
		return err
	}
	defer s.h.release()
	ms := w.first()
	for {
		var e *C.char
		st := C.go_mp_sem_acquire(p, C.int64_t(ms), &e)
		runtime.KeepAlive(s)
		if st != C.MP_E_TIMEOUT {
			return check("mp_sem_acquire", st, e)
		}
		var stop error
		if ms, stop = w.next(s.h.closed()); stop != nil {
			if stop == errExpired {
				return newError("mp_sem_acquire", st, e)
			}
			discard(e)
			return stop
		}
		discard(e)
	}
}

// Release returns one unit, waking a waiter. ErrInvalid: a
// BoundedSemaphore released above its initial value (nothing changes).
func (s *Semaphore) Release() error {
	p, err := s.h.acquire()
	if err != nil {
		return err
	}
	defer s.h.release()
	var e *C.char
	st := C.go_mp_sem_release(p, &e)
	runtime.KeepAlive(s)
	return check("mp_sem_release", st, e)
}

// Value is the current count (a snapshot).
func (s *Semaphore) Value() (int, error) {
	p, err := s.h.acquire()
	if err != nil {
		return 0, err
	}
	defer s.h.release()
	var n C.uint32_t
	var e *C.char
	st := C.go_mp_sem_value(p, &n, &e)
	runtime.KeepAlive(s)
	return int(n), check("mp_sem_value", st, e)
}

// Close frees the handle (idempotent).
func (s *Semaphore) Close() error {
	if s.h.close() {
		runtime.SetFinalizer(s, nil)
	}
	return nil
}
