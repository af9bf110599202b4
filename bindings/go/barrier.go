package mpipc

/*
#include "shim.h"
*/
import "C"

import (
	"runtime"
	"time"
	"unsafe"
)

// Barrier is a named process-shared barrier (Python's Barrier): parties
// wait until all of them have arrived. Safe for use by many goroutines.
//
// Under the hood: an mp_barrier handle mapping /dev/shm/mpipc.bar.<name>.
type Barrier struct {
	h    handle[*C.mp_barrier]
	name string
}

// OpenBarrier opens the barrier name for parties parties: creates it, or
// attaches (the count must match; 0 attaches to any count).
func OpenBarrier(name string, parties int, mode OpenMode) (*Barrier, error) {
	if parties < 0 || parties > 1<<31 {
		return nil, &Error{Code: ErrInvalid, Op: "OpenBarrier", Msg: "parties out of range"}
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var p *C.mp_barrier
	var e *C.char
	if st := C.go_mp_barrier_open(cname, C.uint32_t(parties), C.uint32_t(mode), &p, &e); st != 0 {
		return nil, newError("mp_barrier_open", st, e)
	}
	b := &Barrier{name: name}
	b.h.init(p, func(p *C.mp_barrier) { C.mp_barrier_close(p) })
	runtime.SetFinalizer(b, (*Barrier).Close)
	return b, nil
}

// UnlinkBarrier removes the name; open handles keep working.
func UnlinkBarrier(name string) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var e *C.char
	return check("mp_barrier_unlink", C.go_mp_barrier_unlink(cname, &e), e)
}

// Name is the barrier's name.
func (b *Barrier) Name() string { return b.name }

// Wait waits until every party has called Wait, at most d (negative:
// forever), and returns this party's arrival index (0 .. parties-1,
// distinct per generation). ErrBroken: the barrier is broken (aborted,
// reset while waiting, or a wait timed out — a timeout breaks it for
// everyone, as in Python; that is also why Wait takes no context: it
// cannot be cut into slices).
func (b *Barrier) Wait(d time.Duration) (int, error) {
	p, err := b.h.acquire()
	if err != nil {
		return 0, err
	}
	defer b.h.release()
	var idx C.uint32_t
	var e *C.char
	st := C.go_mp_barrier_wait(p, C.int64_t(durationMs(d)), &idx, &e)
	runtime.KeepAlive(b)
	return int(idx), check("mp_barrier_wait", st, e)
}

// Abort breaks the barrier: current and later waits fail with ErrBroken
// until Reset.
func (b *Barrier) Abort() error { return b.simple("mp_barrier_abort", true) }

// Reset returns the barrier to its initial state; parties waiting now get
// ErrBroken.
func (b *Barrier) Reset() error { return b.simple("mp_barrier_reset", false) }

func (b *Barrier) simple(op string, abort bool) error {
	p, err := b.h.acquire()
	if err != nil {
		return err
	}
	defer b.h.release()
	var e *C.char
	var st C.mp_status
	if abort {
		st = C.go_mp_barrier_abort(p, &e)
	} else {
		st = C.go_mp_barrier_reset(p, &e)
	}
	runtime.KeepAlive(b)
	return check(op, st, e)
}

// Parties is the number of parties.
func (b *Barrier) Parties() (int, error) { return b.count(true) }

// NWaiting is the number of parties waiting now.
func (b *Barrier) NWaiting() (int, error) { return b.count(false) }

func (b *Barrier) count(parties bool) (int, error) {
	p, err := b.h.acquire()
	if err != nil {
		return 0, err
	}
	defer b.h.release()
	var n C.uint32_t
	var e *C.char
	var st C.mp_status
	op := "mp_barrier_n_waiting"
	if parties {
		op = "mp_barrier_parties"
		st = C.go_mp_barrier_parties(p, &n, &e)
	} else {
		st = C.go_mp_barrier_n_waiting(p, &n, &e)
	}
	runtime.KeepAlive(b)
	return int(n), check(op, st, e)
}

// Broken reports whether the barrier is broken.
func (b *Barrier) Broken() (bool, error) {
	p, err := b.h.acquire()
	if err != nil {
		return false, err
	}
	defer b.h.release()
	var v C.bool
	var e *C.char
	st := C.go_mp_barrier_broken(p, &v, &e)
	runtime.KeepAlive(b)
	return bool(v), check("mp_barrier_broken", st, e)
}

// Close frees the handle (idempotent).
func (b *Barrier) Close() error {
	if b.h.close() {
		runtime.SetFinalizer(b, nil)
	}
	return nil
}
