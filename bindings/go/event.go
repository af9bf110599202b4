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

// Event is a named process-shared event (Python's Event): a flag that
// waiters wait for. Safe for use by many goroutines.
//
// Under the hood: an mp_event handle mapping /dev/shm/mpipc.ev.<name>.
type Event struct {
	h    handle[*C.mp_event]
	name string
}

// OpenEvent opens (creates clear, or attaches to) the event name.
func OpenEvent(name string, mode OpenMode) (*Event, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var p *C.mp_event
	var e *C.char
	if st := C.go_mp_event_open(cname, C.uint32_t(mode), &p, &e); st != 0 {
		return nil, newError("mp_event_open", st, e)
	}
	ev := &Event{name: name}
	ev.h.init(p, func(p *C.mp_event) { C.mp_event_close(p) })
	runtime.SetFinalizer(ev, (*Event).Close)
	return ev, nil
}

// UnlinkEvent removes the name; open handles keep working.
func UnlinkEvent(name string) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var e *C.char
	return check("mp_event_unlink", C.go_mp_event_unlink(cname, &e), e)
}

// Name is the event's name.
func (ev *Event) Name() string { return ev.name }

// Set sets the flag, waking every waiter.
func (ev *Event) Set() error { return ev.simple("mp_event_set", true) }

// Clear clears the flag.
func (ev *Event) Clear() error { return ev.simple("mp_event_clear", false) }

func (ev *Event) simple(op string, set bool) error {
	p, err := ev.h.acquire()
	if err != nil {
		return err
	}
	defer ev.h.release()
	var e *C.char
	var st C.mp_status
	if set {
		st = C.go_mp_event_set(p, &e)
	} else {
		st = C.go_mp_event_clear(p, &e)
	}
	runtime.KeepAlive(ev)
	return check(op, st, e)
}

// IsSet reports the flag.
func (ev *Event) IsSet() (bool, error) {
	p, err := ev.h.acquire()
	if err != nil {
		return false, err
	}
	defer ev.h.release()
	var b C.bool
	var e *C.char
	st := C.go_mp_event_is_set(p, &b, &e)
	runtime.KeepAlive(ev)
	return bool(b), check("mp_event_is_set", st, e)
}

// Wait waits until the flag is set or ctx ends (ctx.Err()).
func (ev *Event) Wait(ctx context.Context) error { return ev.wait(ctxWaiter(ctx)) }

// WaitTimeout waits at most d (negative: forever); ErrTimeout if the flag
// was not set in time (Python's wait returning False).
func (ev *Event) WaitTimeout(d time.Duration) error { return ev.wait(timeoutWaiter(d)) }

func (ev *Event) wait(w waiter) error {
	p, err := ev.h.acquire()
	if err != nil {
		return err
	}
	defer ev.h.release()
	ms := w.first()
	for {
		var e *C.char
		st := C.go_mp_event_wait(p, C.int64_t(ms), &e)
		runtime.KeepAlive(ev)
		if st != C.MP_E_TIMEOUT {
			return check("mp_event_wait", st, e)
		}
		var stop error
		if ms, stop = w.next(ev.h.closed()); stop != nil {
			if stop == errExpired {
				return newError("mp_event_wait", st, e)
			}
			discard(e)
			return stop
		}
		discard(e)
	}
}

// Close frees the handle (idempotent).
func (ev *Event) Close() error {
	if ev.h.close() {
		runtime.SetFinalizer(ev, nil)
	}
	return nil
}
