package mpipc

/*
#include "shim.h"
#cgo noescape go_mp_mgr_call
#cgo nocallback go_mp_mgr_call
#cgo noescape go_mp_mgr_dict_get
#cgo nocallback go_mp_mgr_dict_get
#cgo noescape go_mp_mgr_dict_set
#cgo nocallback go_mp_mgr_dict_set
#cgo noescape go_mp_mgr_dict_incr
#cgo nocallback go_mp_mgr_dict_incr
*/
import "C"

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"github.com/fxamacker/cbor/v2"
)

// Manager is a connection to a manager server (ServeManager in some
// process, or `mpipc manager serve`): Python's SyncManager, holding named
// dicts, lists, sets, namespaces, values, arrays, queues and
// synchronisation objects for clients in any language. Objects are
// addressed by kind and name and created on first use; see the *Proxy
// types returned by Dict, List, ... and docs/PROTOCOL.md §4 for every
// method.
//
// A Manager is safe for use by many goroutines, but the connection
// serialises their calls: a blocking call (a queue Get, a lock Acquire)
// holds the connection for one wait slice at a time (50 ms) when it is
// given a context, or for its whole timeout otherwise. Use one Manager per
// goroutine that blocks for long. Locks, RLocks, Conditions and Semaphores
// acquired through a Manager belong to its connection and are released by
// the server when it closes.
//
// When the server goes away (stopped, crashed, restarted), the call that
// notices fails with ErrEOF and the library's message ("connection to the
// manager at ADDR lost (...): ..."), and every later call fails the same
// way at once, until Reconnect (or ReconnectTimeout) succeeds. Nothing is
// retried behind the caller's back: a call whose reply never came may or
// may not have been applied, and a restarted server starts empty, so the
// caller decides what to redo (see the Reconnect example).
//
// Under the hood: an mp_mgr handle.
type Manager struct {
	h handle[*C.mp_mgr]
}

// ConnectManager connects to the manager at addr (unix:/path, unix:@name
// or tcp:host:port) and authenticates with authkey (if not empty), waiting
// at most 30 s. Errors: ErrAuth, ErrTimeout, ErrNotFound (no server),
// ErrInvalid. An address with a scheme ("redis://host:6379[/db][?ns=app]",
// "redis+unix:///run/redis.sock") connects to a Redis or Valkey server
// itself, authkey being its password (see the package doc, "Redis and
// Valkey").
func ConnectManager(addr string, authkey []byte) (*Manager, error) {
	return ConnectManagerTimeout(addr, authkey, 30*time.Second)
}

// ConnectManagerTimeout is ConnectManager waiting at most d (negative: no
// limit).
func ConnectManagerTimeout(addr string, authkey []byte, d time.Duration) (*Manager, error) {
	caddr := C.CString(addr)
	defer C.free(unsafe.Pointer(caddr))
	key, keylen := cBytes(authkey)
	defer C.free(unsafe.Pointer(key))
	var p *C.mp_mgr
	var e *C.char
	if st := C.go_mp_mgr_connect(caddr, key, keylen, C.int64_t(durationMs(d)), &p, &e); st != 0 {
		return nil, newError("mp_mgr_connect", st, e)
	}
	m := &Manager{}
	m.h.init(p, func(p *C.mp_mgr) { C.mp_mgr_close(p) })
	runtime.SetFinalizer(m, (*Manager).Close)
	return m, nil
}

// Close closes the connection (idempotent); the server releases the locks
// and semaphores it held. A call in progress finishes first (a sliced
// blocking call returns ErrClosed after its slice).
func (m *Manager) Close() error {
	if m.h.close() {
		runtime.SetFinalizer(m, nil)
	}
	return nil
}

// SetSpin sets how long a call busy-polls for its reply before sleeping
// (default 50µs; 0 = sleep at once).
func (m *Manager) SetSpin(d time.Duration) error {
	p, err := m.h.acquire()
	if err != nil {
		return err
	}
	defer m.h.release()
	var e *C.char
	st := C.go_mp_mgr_set_spin(p, spinUs(d), &e)
	runtime.KeepAlive(m)
	return check("mp_mgr_set_spin", st, e)
}

// Reconnect dials the manager's address again with the same authkey,
// replacing the connection (lost or not), and waits until ctx ends for a
// server to accept: while none listens there (it is restarting), the dial
// is retried (mp_mgr_reconnect, called in slices of at most 50 ms so that
// ctx and Close are noticed). It returns nil once connected, ctx.Err() if
// ctx ends first (the Manager then stays disconnected: calls fail with
// ErrEOF), ErrAuth if the server refuses the key, ErrClosed after Close.
// A ctx already done returns its error without touching the connection.
//
// The new connection starts from scratch: a restarted server holds none
// of the old objects (recreate what you need), and the locks held
// through the old connection are gone with it. Calls from other
// goroutines made while Reconnect runs wait for a slice or fail with
// ErrEOF; nothing is retried automatically.
func (m *Manager) Reconnect(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return m.reconnect(ctxWaiter(ctx))
}

// ReconnectTimeout is Reconnect waiting at most d (negative: no limit; 0:
// one attempt): ErrTimeout, with the library's message, when no server
// accepted in time.
func (m *Manager) ReconnectTimeout(d time.Duration) error {
	return m.reconnect(timeoutWaiter(d))
}

func (m *Manager) reconnect(w waiter) error {
	p, err := m.h.acquire()
	if err != nil {
		return err
	}
	defer m.h.release()
	// No zero-timeout fast path as other sliced calls have: a dial given
	// 0 ms leaves a handshake with an authkey 1 ms, which a busy machine
	// misses; start with a whole slice.
	var ms int64
	if !w.nowait {
		ms, _ = sliceMs(w.deadline)
	}
	for {
		var e *C.char
		st := C.go_mp_mgr_reconnect(p, C.int64_t(ms), &e)
		runtime.KeepAlive(m)
		if st == 0 {
			return nil
		}
		err := newError("mp_mgr_reconnect", st, e)
		if !isCode(err, ErrTimeout) {
			return err
		}
		var stop error
		if ms, stop = w.next(m.h.closed()); stop != nil {
			if stop == errExpired {
				return err
			}
			return stop
		}
	}
}

// Connected reports whether the Manager has a connection, as far as it
// knows: false once a call has found the connection lost (until a
// Reconnect succeeds) and after Close. A server that died since the last
// call is noticed by the next call, not here.
func (m *Manager) Connected() bool {
	p, err := m.h.acquire()
	if err != nil {
		return false
	}
	defer m.h.release()
	var ok C.bool
	var e *C.char
	st := C.go_mp_mgr_is_connected(p, &ok, &e)
	runtime.KeepAlive(m)
	if st != 0 {
		discard(e)
		return false
	}
	return bool(ok)
}

// cstr is s as a NUL-terminated byte string in Go memory (passed to C for
// the duration of a call).
func cstr(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}

func cptr(b []byte) *C.char { return (*C.char)(unsafe.Pointer(&b[0])) }

// encodeArgs encodes args as one CBOR array into buf.
func encodeArgs(b *bytes.Buffer, args []any) error {
	if args == nil {
		args = []any{}
	}
	return marshalTo(b, args)
}

// Call calls any method of any object (mp_mgr_call): kind is the object
// kind ("dict", "list", "set", "namespace", "value", "array", "queue",
// "lock", "rlock", "semaphore", "bounded_semaphore", "event", "condition",
// "barrier", or "manager"), args its positional arguments. The result is
// decoded into any. A server-side failure is an *Error with the server's
// message: ErrNotFound (KeyError), ErrIndex, ErrType, ErrUnsupported,
// ErrInvalid, ErrPerm, ... (docs/PROTOCOL.md §4).
func (m *Manager) Call(kind, name, method string, args ...any) (any, error) {
	var v any
	err := m.call(&v, kind, name, method, args)
	return v, err
}

// CallInto is Call decoding the result into out (a pointer; nil discards
// the result).
func (m *Manager) CallInto(out any, kind, name, method string, args ...any) error {
	return m.call(out, kind, name, method, args)
}

func (m *Manager) call(out any, kind, name, method string, args []any) error {
	b := getBuf()
	defer putBuf(b)
	if err := encodeArgs(b, args); err != nil {
		return err
	}
	strs := make([]byte, 0, len(kind)+len(name)+len(method)+3)
	strs = append(append(append(append(append(append(strs, kind...), 0), name...), 0), method...), 0)
	p, err := m.h.acquire()
	if err != nil {
		return err
	}
	defer m.h.release()
	a := b.Bytes()
	var res C.mp_buf
	var e *C.char
	st := C.go_mp_mgr_call(p, cptr(strs), cptr(strs[len(kind)+1:]), cptr(strs[len(kind)+len(name)+2:]),
		(*C.uint8_t)(unsafe.Pointer(&a[0])), C.size_t(len(a)), &res, &e)
	runtime.KeepAlive(m)
	runtime.KeepAlive(strs)
	runtime.KeepAlive(a)
	if st != 0 {
		return newError("mp_mgr_call", st, e)
	}
	return decodeBuf(&res, out)
}

// decodeBuf decodes a library-allocated result into out (nil: discard)
// and frees it.
func decodeBuf(res *C.mp_buf, out any) error {
	defer C.mp_buf_free(res)
	if out == nil {
		return nil
	}
	data := unsafe.Slice((*byte)(unsafe.Pointer(res.ptr)), int(res.len))
	return Unmarshal(data, out)
}

// Request is one call of CallMany.
type Request struct {
	Kind, Name, Method string
	Args               []any
}

// Result is the outcome of one Request: its value, or its error (an
// *Error with the server's status and message).
type Result struct {
	Value any
	Err   error
}

// CallMany sends every request before reading any reply (pipelining, one
// write for the batch; the server answers in order): the throughput path.
// The error is for the batch as a whole (transport, malformed request);
// each Result carries its own.
func (m *Manager) CallMany(reqs []Request) ([]Result, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	arr := make([]any, len(reqs))
	for i, r := range reqs {
		args := r.Args
		if args == nil {
			args = []any{}
		}
		arr[i] = []any{r.Kind, r.Name, r.Method, args}
	}
	b := getBuf()
	defer putBuf(b)
	if err := marshalTo(b, arr); err != nil {
		return nil, err
	}
	p, err := m.h.acquire()
	if err != nil {
		return nil, err
	}
	defer m.h.release()
	a := b.Bytes()
	var res C.mp_buf
	var e *C.char
	st := C.go_mp_mgr_call_many(p, (*C.uint8_t)(unsafe.Pointer(&a[0])), C.size_t(len(a)), &res, &e)
	runtime.KeepAlive(m)
	runtime.KeepAlive(a)
	if st != 0 {
		return nil, newError("mp_mgr_call_many", st, e)
	}
	var replies []cborRawPair
	if err := decodeBuf(&res, &replies); err != nil {
		return nil, err
	}
	if len(replies) != len(reqs) {
		return nil, &Error{Code: ErrCorrupt, Op: "mp_mgr_call_many", Msg: fmt.Sprintf("%d replies to %d requests", len(replies), len(reqs))}
	}
	out := make([]Result, len(reqs))
	for i, r := range replies {
		if r.Status != 0 {
			var msg string
			_ = Unmarshal(r.Result, &msg)
			out[i].Err = &Error{Code: Code(r.Status), Op: "mp_mgr_call_many", Msg: msg}
			continue
		}
		if err := Unmarshal(r.Result, &out[i].Value); err != nil {
			out[i].Err = err
		}
	}
	return out, nil
}

// cborRawPair is one [status, result] reply of mp_mgr_call_many.
type cborRawPair struct {
	_      struct{} `cbor:",toarray"`
	Status int32
	Result cbor.RawMessage
}

// Ping checks that the server answers.
func (m *Manager) Ping() error { return m.call(nil, "manager", "", "ping", nil) }

// DeleteObject removes the object name (any kind) from the server and
// reports whether it existed; the next use of the name creates a new one.
func (m *Manager) DeleteObject(name string) (bool, error) {
	var ok bool
	err := m.call(&ok, "manager", name, "delete", nil)
	return ok, err
}

// ObjectInfo is one entry of Objects.
type ObjectInfo struct {
	_    struct{} `cbor:",toarray"`
	Name string
	Kind string
}

// Objects lists the server's objects, in creation order.
func (m *Manager) Objects() ([]ObjectInfo, error) {
	var out []ObjectInfo
	err := m.call(&out, "manager", "", "list", nil)
	return out, err
}

// ManagerStats are the server's counters.
type ManagerStats struct {
	Objects     int64 `cbor:"objects"`
	Connections int64 `cbor:"connections"`
	Requests    int64 `cbor:"requests"`
}

// Stats reads the server's counters.
func (m *Manager) Stats() (ManagerStats, error) {
	var s ManagerStats
	err := m.call(&s, "manager", "", "stats", nil)
	return s, err
}

// sliced repeats a blocking method with timeout slices until it reports
// done, fails, or w ends; expired is the error for a w that ran out.
func (m *Manager) sliced(w waiter, expired Code, op string, try func(ms int64) (bool, error)) error {
	ms := w.first()
	for {
		done, err := try(ms)
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Code != expired {
				return err
			}
		} else if done {
			return nil
		}
		var stop error
		if ms, stop = w.next(m.h.closed()); stop != nil {
			if stop == errExpired {
				if err != nil {
					return err
				}
				return &Error{Code: expired, Op: op, Msg: "timed out"}
			}
			return stop
		}
	}
}

// ---- ManagerServer ----

// ManagerServer is a manager server running in this process (an accept
// thread and one thread per client), holding named shared objects for
// clients in any language.
//
// Under the hood: an mp_mgr_server handle.
type ManagerServer struct {
	h handle[*C.mp_mgr_server]
}

// ServeManager starts a manager server at addr (unix:/path, unix:@name, or
// tcp:host:port, which requires an authkey). With a non-empty authkey every
// client must authenticate. Errors: ErrInvalid, ErrExists (address in
// use), ErrIO.
func ServeManager(addr string, authkey []byte) (*ManagerServer, error) {
	caddr := C.CString(addr)
	defer C.free(unsafe.Pointer(caddr))
	key, keylen := cBytes(authkey)
	defer C.free(unsafe.Pointer(key))
	var p *C.mp_mgr_server
	var e *C.char
	if st := C.go_mp_mgr_serve(caddr, key, keylen, &p, &e); st != 0 {
		return nil, newError("mp_mgr_serve", st, e)
	}
	s := &ManagerServer{}
	s.h.init(p, func(p *C.mp_mgr_server) {
		var e *C.char
		C.go_mp_mgr_server_shutdown(p, &e)
		discard(e)
	})
	runtime.SetFinalizer(s, (*ManagerServer).Shutdown)
	return s, nil
}

// Addr is the server's address (the real port after tcp:...:0).
func (s *ManagerServer) Addr() string {
	p, err := s.h.acquire()
	if err != nil {
		return ""
	}
	defer s.h.release()
	a, _ := cString("mp_mgr_server_address", func(buf *C.char, n C.size_t, out *C.size_t, e **C.char) C.mp_status {
		return C.go_mp_mgr_server_address(p, buf, n, out, e)
	})
	runtime.KeepAlive(s)
	return a
}

// Shutdown stops the server (idempotent): blocked client calls fail with
// ErrShutdown, clients are disconnected (ErrEOF afterwards), and every
// object is dropped.
func (s *ManagerServer) Shutdown() error {
	if s.h.close() {
		runtime.SetFinalizer(s, nil)
	}
	return nil
}

// Close is Shutdown.
func (s *ManagerServer) Close() error { return s.Shutdown() }
