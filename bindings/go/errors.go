package mpipc

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"unsafe"
)

// Code is an mp_status of the C ABI: 0 (OK) or a negative MP_E_* code.
// Every MP_E_* code has a constant below with the same value, and each is
// also a sentinel error usable with errors.Is, as syscall.Errno is:
//
//	if errors.Is(err, mpipc.ErrEmpty) { ... }
//
// Errors returned by this package are *Error values (code, C function,
// and the library's message) whose Unwrap gives the Code.
type Code int32

// The status codes of include/mpipc.h, one for one (MP_E_NULL .. MP_E_OWNER_DEAD).
const (
	OK             Code = 0   // MP_OK
	ErrNull        Code = -1  // MP_E_NULL: a required pointer argument was NULL (a bug in this package if seen)
	ErrInvalid     Code = -2  // MP_E_INVAL: an argument is invalid, or the operation is not allowed in this state (Python's ValueError)
	ErrTimeout     Code = -3  // MP_E_TIMEOUT: a wait ran out of time (locks, events, join, accept, connect)
	ErrEmpty       Code = -4  // MP_E_EMPTY: nothing to receive before the deadline (Python's queue.Empty)
	ErrFull        Code = -5  // MP_E_FULL: no room before the deadline (Python's queue.Full)
	ErrShutdown    Code = -6  // MP_E_SHUTDOWN: the queue (or manager server) was shut down
	ErrTooBig      Code = -7  // MP_E_TOOBIG: a message exceeds the configured maximum
	ErrBufSize     Code = -8  // MP_E_BUFSIZE: a buffer is too small (handled inside this package)
	ErrNotFound    Code = -9  // MP_E_NOTFOUND: no object of that name; KeyError from a manager
	ErrExists      Code = -10 // MP_E_EXISTS: the name exists and exclusive creation was asked for
	ErrType        Code = -11 // MP_E_TYPE: a value of the wrong type (an incr on text), or the name is another kind of object (Python's TypeError)
	ErrVersion     Code = -12 // MP_E_VERSION: made by an incompatible layout version
	ErrCorrupt     Code = -13 // MP_E_CORRUPT: shared state, a frame or a CBOR message failed validation (a decode error)
	ErrPerm        Code = -14 // MP_E_PERM: permission denied; releasing a lock not held; a symbolic link planted in /dev/shm
	ErrIO          Code = -15 // MP_E_IO: any other operating-system error
	ErrPanic       Code = -16 // MP_E_PANIC: a panic was caught inside the library
	ErrPoisoned    Code = -17 // MP_E_POISONED: the handle was poisoned by an earlier panic; close it
	ErrEOF         Code = -18 // MP_E_EOF: the peer closed the connection (Python's EOFError)
	ErrAuth        Code = -19 // MP_E_AUTH: authentication failed (Python's AuthenticationError)
	ErrIndex       Code = -20 // MP_E_INDEX: index out of range (Python's IndexError)
	ErrUnsupported Code = -21 // MP_E_UNSUPPORTED: no such method or kind
	ErrBroken      Code = -22 // MP_E_BROKEN: the barrier is broken (Python's BrokenBarrierError)
	ErrOwnerDead   Code = -23 // MP_E_OWNER_DEAD: acquired, but the previous holder died: the lock IS held

	lastCode = ErrOwnerDead // the most negative code this package knows
)

// ErrClosed is returned by every method of a handle after its Close (a Go
// side state: the C handle is gone, no library call is made).
var ErrClosed = errors.New("mpipc: use of a closed handle")

var codeNames [int(-lastCode) + 1]string

func init() {
	for c := OK; c >= lastCode; c-- {
		codeNames[-c] = C.GoString(C.mp_status_str(C.mp_status(c)))
	}
}

// Error returns the library's name of the code, e.g. "MP_E_EMPTY: empty"
// (mp_status_str).
func (c Code) Error() string {
	if c <= 0 && c >= lastCode {
		return codeNames[-c]
	}
	return C.GoString(C.mp_status_str(C.mp_status(c)))
}

// Name is the code's C name, e.g. "MP_E_EMPTY".
func (c Code) Name() string {
	s := c.Error()
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return s[:i]
		}
	}
	return s
}

// String is Error.
func (c Code) String() string { return c.Error() }

// Error is a failure reported by the C library: the status code, the C
// function that returned it, and the library's message (mp_last_error).
// errors.Is(err, mpipc.ErrXxx) compares the code.
type Error struct {
	Code Code   // the mp_status
	Op   string // the C function, e.g. "mpq_get_into"
	Msg  string // the library's message for this failure (may be empty)
}

func (e *Error) Error() string {
	if e.Msg == "" {
		return "mpipc: " + e.Op + ": " + e.Code.Error()
	}
	return "mpipc: " + e.Op + ": " + e.Msg + " (" + e.Code.Name() + ")"
}

// Unwrap returns the Code, so errors.Is(err, ErrEmpty) works.
func (e *Error) Unwrap() error { return e.Code }

// newError builds the *Error of a failed shim call and frees its message.
// st must not be MP_OK.
func newError(op string, st C.mp_status, msg *C.char) error {
	e := &Error{Code: Code(st), Op: op}
	if msg != nil {
		e.Msg = C.GoString(msg)
		C.free(unsafe.Pointer(msg))
	}
	return e
}

// check returns nil for MP_OK, else newError.
func check(op string, st C.mp_status, msg *C.char) error {
	if st == 0 {
		return nil
	}
	return newError(op, st, msg)
}

// discard frees a message that is not going to be reported.
func discard(msg *C.char) {
	if msg != nil {
		C.free(unsafe.Pointer(msg))
	}
}

// isCode reports whether err is an *Error of code c (no unwrapping: for
// errors this package has just made).
func isCode(err error, c Code) bool {
	e, ok := err.(*Error)
	return ok && e.Code == c
}
