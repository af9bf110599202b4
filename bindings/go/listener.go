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

// Listener accepts authenticated connections: Python's
// multiprocessing.connection.Listener(address, authkey=...), speaking its
// wire format and handshake, so a stock Python Client can connect. Safe for
// use by many goroutines. Close removes a Unix socket file it created;
// accepted connections stay open.
//
// Under the hood: an mp_listener handle.
type Listener struct {
	h      handle[*C.mp_listener]
	hasKey bool
}

// ListenOptions are the rarely needed options of ListenWith.
type ListenOptions struct {
	// AllowTCPWithoutAuthkey accepts unauthenticated TCP clients
	// (MP_LISTENER_ALLOW_TCP_WITHOUT_AUTHKEY); refused by default.
	AllowTCPWithoutAuthkey bool
}

// Listen binds a listener at addr: unix:/path, unix:@name (abstract) or
// tcp:host:port (port 0 = any; TCP requires an authkey). With a non-empty
// authkey every peer must pass the HMAC handshake. A Unix socket file is
// created mode 0600. Errors: ErrInvalid, ErrExists (address in use),
// ErrPerm, ErrIO.
func Listen(addr string, authkey []byte) (*Listener, error) {
	return ListenWith(addr, authkey, ListenOptions{})
}

// ListenWith is Listen with options.
func ListenWith(addr string, authkey []byte, opts ListenOptions) (*Listener, error) {
	caddr := C.CString(addr)
	defer C.free(unsafe.Pointer(caddr))
	key, keylen := cBytes(authkey)
	defer C.free(unsafe.Pointer(key))
	var flags C.uint32_t
	if opts.AllowTCPWithoutAuthkey {
		flags |= C.MP_LISTENER_ALLOW_TCP_WITHOUT_AUTHKEY
	}
	var p *C.mp_listener
	var e *C.char
	if st := C.go_mp_listener_bind_ex(caddr, key, keylen, flags, &p, &e); st != 0 {
		return nil, newError("mp_listener_bind_ex", st, e)
	}
	l := &Listener{hasKey: len(authkey) > 0}
	l.h.init(p, func(p *C.mp_listener) { C.mp_listener_close(p) })
	runtime.SetFinalizer(l, (*Listener).Close)
	return l, nil
}

// Accept waits for one connection until ctx ends, then authenticates it
// if the listener has a key. Errors: ErrAuth (the peer failed the
// handshake and was dropped) and ErrEOF (it left during the handshake):
// the listener stays usable after either; ctx.Err(); ErrClosed.
//
// Without an authkey, Accept waits in 50 ms slices like every blocking
// call (cancellation and Close are noticed within a slice). With an
// authkey it makes one call bounded by ctx's deadline (none: it waits for
// a connection as long as it takes): mp_listener_accept's timeout also
// bounds the handshake, so a wait cut into slices could cut a client's
// handshake short and drop it. Cancelling ctx without a deadline, or
// closing the listener, is then noticed when the call returns.
func (l *Listener) Accept(ctx context.Context) (*Conn, error) {
	if !l.hasKey {
		return l.accept(ctxWaiter(ctx))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d := time.Duration(-1)
	dl, hasDeadline := ctx.Deadline()
	if hasDeadline {
		if d = time.Until(dl); d <= 0 {
			return nil, context.DeadlineExceeded
		}
	}
	c, err := l.acceptOnce(d)
	if isCode(err, ErrTimeout) && hasDeadline { // the call's timeout was ctx's deadline
		return nil, context.DeadlineExceeded
	}
	return c, err // a connection made while ctx ended is still returned
}

// AcceptTimeout is Accept waiting at most d (ErrTimeout). With an authkey
// it is one call: the handshake of a client that connects late in d has
// what is left of d, at least 1 ms (the library's rule).
func (l *Listener) AcceptTimeout(d time.Duration) (*Conn, error) {
	if !l.hasKey {
		return l.accept(timeoutWaiter(d))
	}
	return l.acceptOnce(d)
}

// acceptOnce is one mp_listener_accept with the whole timeout.
func (l *Listener) acceptOnce(d time.Duration) (*Conn, error) {
	p, err := l.h.acquire()
	if err != nil {
		return nil, err
	}
	defer l.h.release()
	var c *C.mp_pipe
	var e *C.char
	st := C.go_mp_listener_accept(p, C.int64_t(durationMs(d)), &c, &e)
	runtime.KeepAlive(l)
	if st != 0 {
		if l.h.closed() {
			discard(e)
			return nil, ErrClosed
		}
		return nil, newError("mp_listener_accept", st, e)
	}
	return newConn(c), nil
}

// accept waits in slices: only for listeners without a key (no handshake
// to cut short).
func (l *Listener) accept(w waiter) (*Conn, error) {
	p, err := l.h.acquire()
	if err != nil {
		return nil, err
	}
	defer l.h.release()
	ms := w.first()
	for {
		var c *C.mp_pipe
		var e *C.char
		st := C.go_mp_listener_accept(p, C.int64_t(ms), &c, &e)
		runtime.KeepAlive(l)
		if st == 0 {
			return newConn(c), nil
		}
		if st != C.MP_E_TIMEOUT {
			return nil, newError("mp_listener_accept", st, e)
		}
		var stop error
		if ms, stop = w.next(l.h.closed()); stop != nil {
			if stop == errExpired {
				return nil, newError("mp_listener_accept", st, e)
			}
			discard(e)
			return nil, stop
		}
		discard(e)
	}
}

// Addr is the bound address, e.g. tcp:127.0.0.1:40123 after binding port
// 0 ("" once closed).
func (l *Listener) Addr() string {
	p, err := l.h.acquire()
	if err != nil {
		return ""
	}
	defer l.h.release()
	s, _ := cString("mp_listener_address", func(buf *C.char, n C.size_t, out *C.size_t, e **C.char) C.mp_status {
		return C.go_mp_listener_address(p, buf, n, out, e)
	})
	runtime.KeepAlive(l)
	return s
}

// Close stops listening (idempotent). An Accept blocked in another
// goroutine returns ErrClosed within a wait slice (a listener without a
// key), or when its call returns (with a key: see Accept).
func (l *Listener) Close() error {
	if l.h.close() {
		runtime.SetFinalizer(l, nil)
	}
	return nil
}

// cString reads a string through an (buf, cap, &len) C call, growing the
// buffer on MP_E_BUFSIZE.
func cString(op string, call func(buf *C.char, n C.size_t, out *C.size_t, e **C.char) C.mp_status) (string, error) {
	buf := make([]byte, 128)
	for {
		var n C.size_t
		var e *C.char
		st := call((*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &n, &e)
		switch st {
		case 0:
			return string(buf[:n]), nil
		case C.MP_E_BUFSIZE:
			discard(e)
			buf = make([]byte, int(n))
		default:
			return "", newError(op, st, e)
		}
	}
}
