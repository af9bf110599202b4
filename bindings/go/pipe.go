package mpipc

/*
#include "shim.h"
#cgo noescape go_mp_pipe_send
#cgo nocallback go_mp_pipe_send
#cgo noescape go_mp_pipe_send_many
#cgo nocallback go_mp_pipe_send_many
#cgo noescape go_mp_pipe_recv_into
#cgo nocallback go_mp_pipe_recv_into
*/
import "C"

import (
	"context"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// Conn is one end of a connection carrying whole messages: Python's
// multiprocessing.connection.Connection, framed as Python frames them (a
// stock Python Client or Listener can be the peer). Send/Recv move values
// as CBOR; SendBytes/RecvBytes move raw bytes (Python's send_bytes /
// recv_bytes).
//
// A Conn is safe for use by many goroutines: sends are serialised with
// each other and receives with each other, so one goroutine may send while
// another receives. Close it when done (a finalizer closes it otherwise);
// the peer then sees ErrEOF.
//
// Under the hood: an mp_pipe handle.
type Conn struct {
	h handle[*C.mp_pipe]
}

func newConn(p *C.mp_pipe) *Conn {
	c := &Conn{}
	c.h.init(p, func(p *C.mp_pipe) { C.mp_pipe_close(p) })
	runtime.SetFinalizer(c, (*Conn).Close)
	return c
}

// Pipe returns a connected pair (Python's Pipe(duplex)): a Unix
// socketpair when duplex, else a pipe whose first end only receives and
// second end only sends (sending on the first is ErrInvalid).
func Pipe(duplex bool) (*Conn, *Conn, error) {
	var a, b *C.mp_pipe
	var e *C.char
	if st := C.go_mp_pipe_new(C.bool(duplex), &a, &b, &e); st != 0 {
		return nil, nil, newError("mp_pipe_new", st, e)
	}
	return newConn(a), newConn(b), nil
}

// FromFile wraps a descriptor holding one end of a connection (a socket
// or a pipe end, e.g. inherited from a parent through exec.Cmd.ExtraFiles,
// os.NewFile(3, "")). The Conn takes the descriptor over: f is unusable
// afterwards (on failure too, as mp_pipe_from_fd closes it).
func FromFile(f *os.File) (*Conn, error) {
	// A close-on-exec duplicate for the library, so the descriptor does
	// not leak into processes started later.
	fd, _, errno := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_DUPFD_CLOEXEC, 0)
	f.Close()
	if errno != 0 {
		return nil, &Error{Code: ErrIO, Op: "fcntl(F_DUPFD_CLOEXEC)", Msg: errno.Error()}
	}
	var p *C.mp_pipe
	var e *C.char
	if st := C.go_mp_pipe_from_fd(C.int(fd), &p, &e); st != 0 {
		return nil, newError("mp_pipe_from_fd", st, e)
	}
	return newConn(p), nil
}

// Dial connects to a listener (ours or Python's Listener) at addr
// (unix:/path, unix:@name or tcp:host:port) and, with a non-empty authkey,
// runs the HMAC handshake both ways. It waits at most until ctx's deadline
// (no deadline: as long as it takes to connect, the handshake being bounded
// by 10 s); cancelling ctx without a deadline does not interrupt it.
// Errors: ErrAuth (keys differ), ErrTimeout, ErrNotFound (nobody listens),
// ErrInvalid (bad address, TCP without key).
func Dial(ctx context.Context, addr string, authkey []byte) (*Conn, error) {
	ms := int64(-1)
	if d, ok := ctx.Deadline(); ok {
		ms = durationMs(time.Until(d))
		if ms <= 0 {
			return nil, context.DeadlineExceeded
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return DialTimeout(addr, authkey, time.Duration(ms)*time.Millisecond)
}

// DialTimeout is Dial waiting at most d (negative: no limit).
func DialTimeout(addr string, authkey []byte, d time.Duration) (*Conn, error) {
	caddr := C.CString(addr)
	defer C.free(unsafe.Pointer(caddr))
	key, keylen := cBytes(authkey)
	defer C.free(unsafe.Pointer(key))
	var p *C.mp_pipe
	var e *C.char
	if st := C.go_mp_pipe_connect(caddr, key, keylen, C.int64_t(durationMs(d)), &p, &e); st != 0 {
		return nil, newError("mp_pipe_connect", st, e)
	}
	return newConn(p), nil
}

// cBytes copies b to C memory (NULL for empty); free with C.free.
func cBytes(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(C.CBytes(b)), C.size_t(len(b))
}

// Close closes the connection (idempotent); the peer sees ErrEOF. Calls
// blocked in Recv return ErrClosed within a wait slice; a Send blocked on
// a full socket is woken by shutting the socket down.
func (c *Conn) Close() error {
	if p, err := c.h.acquire(); err == nil {
		fd := C.mp_pipe_fileno(p)
		busy := c.h.inFlight() > 1
		if c.h.close() {
			runtime.SetFinalizer(c, nil)
		}
		if busy && fd >= 0 {
			// Another goroutine may be blocked in a send the C library
			// cannot time out: shut the socket down to wake it (ENOTSOCK
			// for a pipe end: nothing to do then).
			syscall.Shutdown(int(fd), syscall.SHUT_RDWR)
		}
		c.h.release() // frees the handle if nothing else is in flight
	}
	return nil
}

// Fileno is the descriptor, for event loops (-1 once closed); it stays
// owned by the Conn. Receives are buffered: once it is readable, receive
// with a zero timeout until ErrEmpty.
func (c *Conn) Fileno() int {
	p, err := c.h.acquire()
	if err != nil {
		return -1
	}
	defer c.h.release()
	fd := int(C.mp_pipe_fileno(p))
	runtime.KeepAlive(c)
	return fd
}

// Send encodes v as CBOR and sends it as one message. Errors: ErrEOF (the
// peer closed), ErrInvalid (a receive-only pipe end), ErrClosed.
func (c *Conn) Send(v any) error {
	b := getBuf()
	defer putBuf(b)
	if err := marshalTo(b, v); err != nil {
		return err
	}
	return c.SendBytes(b.Bytes())
}

// SendBytes sends msg as one message (Python's send_bytes).
func (c *Conn) SendBytes(msg []byte) error {
	p, err := c.h.acquire()
	if err != nil {
		return err
	}
	defer c.h.release()
	var data *C.uint8_t
	if len(msg) > 0 {
		data = (*C.uint8_t)(unsafe.Pointer(&msg[0]))
	}
	var e *C.char
	st := C.go_mp_pipe_send(p, data, C.size_t(len(msg)), &e)
	runtime.KeepAlive(c)
	runtime.KeepAlive(msg)
	return c.sendErr("mp_pipe_send", st, e)
}

// SendMany encodes and sends every item, in as few system calls as
// possible (mp_pipe_send_many); the peer receives them as separate
// messages, in order.
func (c *Conn) SendMany(items []any) error {
	b := getBuf()
	defer putBuf(b)
	lens := make([]C.size_t, len(items))
	for i, it := range items {
		before := b.Len()
		if err := marshalTo(b, it); err != nil {
			return err
		}
		lens[i] = C.size_t(b.Len() - before)
	}
	return c.sendMany(b.Bytes(), lens)
}

// SendManyBytes sends raw messages in as few system calls as possible.
func (c *Conn) SendManyBytes(msgs [][]byte) error {
	var data []byte
	lens := make([]C.size_t, len(msgs))
	for i, m := range msgs {
		data = append(data, m...)
		lens[i] = C.size_t(len(m))
	}
	return c.sendMany(data, lens)
}

func (c *Conn) sendMany(data []byte, lens []C.size_t) error {
	if len(lens) == 0 {
		return nil
	}
	p, err := c.h.acquire()
	if err != nil {
		return err
	}
	defer c.h.release()
	var dummy [1]byte
	ptr := (*C.uint8_t)(unsafe.Pointer(&dummy[0]))
	if len(data) > 0 {
		ptr = (*C.uint8_t)(unsafe.Pointer(&data[0]))
	}
	var e *C.char
	st := C.go_mp_pipe_send_many(p, ptr, &lens[0], C.size_t(len(lens)), &e)
	runtime.KeepAlive(c)
	runtime.KeepAlive(data)
	return c.sendErr("mp_pipe_send_many", st, e)
}

// sendErr is ErrClosed for a send that Close interrupted.
func (c *Conn) sendErr(op string, st C.mp_status, e *C.char) error {
	if st != 0 && c.h.closed() {
		discard(e)
		return ErrClosed
	}
	return check(op, st, e)
}

// Recv receives one message and decodes it into any, waiting as long as it
// takes. Errors: ErrEOF once the peer closed and nothing is left,
// ErrClosed, a decoding error.
func (c *Conn) Recv() (any, error) {
	return c.recvAny(waiter{})
}

// RecvContext is Recv that gives up when ctx ends (ctx.Err()).
func (c *Conn) RecvContext(ctx context.Context) (any, error) {
	return c.recvAny(ctxWaiter(ctx))
}

// RecvTimeout is Recv waiting at most d for a message to start (0 = only
// what is already there); ErrEmpty when none came.
func (c *Conn) RecvTimeout(d time.Duration) (any, error) {
	return c.recvAny(timeoutWaiter(d))
}

// RecvInto receives one message and decodes it into v (a pointer),
// waiting until ctx ends.
func (c *Conn) RecvInto(ctx context.Context, v any) error { return c.recv(ctxWaiter(ctx), v, nil) }

// RecvBytes receives one message as raw bytes (Python's recv_bytes),
// waiting until ctx ends.
func (c *Conn) RecvBytes(ctx context.Context) ([]byte, error) {
	var out []byte
	err := c.recv(ctxWaiter(ctx), nil, &out)
	return out, err
}

// RecvBytesTimeout is RecvBytes waiting at most d (ErrEmpty).
func (c *Conn) RecvBytesTimeout(d time.Duration) ([]byte, error) {
	var out []byte
	err := c.recv(timeoutWaiter(d), nil, &out)
	return out, err
}

func (c *Conn) recv(w waiter, v any, raw *[]byte) error {
	rb := getRbuf()
	defer putRbuf(rb)
	n, err := c.recvInto(w, rb)
	if err != nil {
		return err
	}
	if raw != nil {
		*raw = append([]byte(nil), rb.b[:n]...)
		return nil
	}
	return Unmarshal(rb.b[:n], v)
}

// recvAny is recv into any, returning the value: Unmarshal(..., &v) would
// move v to the heap, one more allocation per message.
func (c *Conn) recvAny(w waiter) (any, error) {
	rb := getRbuf()
	defer putRbuf(rb)
	n, err := c.recvInto(w, rb)
	if err != nil {
		return nil, err
	}
	return decodeAny(rb.b[:n])
}

func (c *Conn) recvInto(w waiter, rb *rbuf) (int, error) {
	p, err := c.h.acquire()
	if err != nil {
		return 0, err
	}
	defer c.h.release()
	ms := w.first()
	for {
		var n C.size_t
		var e *C.char
		st := C.go_mp_pipe_recv_into(p, (*C.uint8_t)(unsafe.Pointer(&rb.b[0])), C.size_t(len(rb.b)), &n, C.int64_t(ms), &e)
		runtime.KeepAlive(c)
		switch st {
		case 0:
			return int(n), nil
		case C.MP_E_BUFSIZE: // kept: grow and receive it
			discard(e)
			rb.grow(int(n))
			continue
		case C.MP_E_EMPTY:
		default:
			if c.h.closed() { // Close shut the socket down under us
				discard(e)
				return 0, ErrClosed
			}
			return 0, newError("mp_pipe_recv_into", st, e)
		}
		var stop error
		if ms, stop = w.next(c.h.closed()); stop != nil {
			if stop == errExpired {
				return 0, newError("mp_pipe_recv_into", st, e)
			}
			discard(e)
			return 0, stop
		}
		discard(e)
	}
}

// Poll reports whether a message (or EOF) can be received, waiting at
// most d (0: do not wait; negative: until one comes).
func (c *Conn) Poll(d time.Duration) (bool, error) {
	p, err := c.h.acquire()
	if err != nil {
		return false, err
	}
	defer c.h.release()
	w := timeoutWaiter(d)
	ms := w.first()
	for {
		var ready C.bool
		var e *C.char
		st := C.go_mp_pipe_poll(p, C.int64_t(ms), &ready, &e)
		runtime.KeepAlive(c)
		if st != 0 {
			return false, newError("mp_pipe_poll", st, e)
		}
		if ready {
			return true, nil
		}
		var stop error
		if ms, stop = w.next(c.h.closed()); stop != nil {
			if stop == errExpired {
				return false, nil
			}
			return false, stop
		}
	}
}

// SetMaxFrame sets the largest incoming message accepted (default 1 GiB);
// a larger one is ErrTooBig and breaks the connection.
func (c *Conn) SetMaxFrame(max uint64) error {
	p, err := c.h.acquire()
	if err != nil {
		return err
	}
	defer c.h.release()
	var e *C.char
	st := C.go_mp_pipe_set_max_frame(p, C.uint64_t(max), &e)
	runtime.KeepAlive(c)
	return check("mp_pipe_set_max_frame", st, e)
}

// SetSpin sets how long a receive busy-polls before sleeping (default 0).
func (c *Conn) SetSpin(d time.Duration) error {
	p, err := c.h.acquire()
	if err != nil {
		return err
	}
	defer c.h.release()
	var e *C.char
	st := C.go_mp_pipe_set_spin(p, spinUs(d), &e)
	runtime.KeepAlive(c)
	return check("mp_pipe_set_spin", st, e)
}

// Wait waits until at least one of conns has a message (or EOF) to
// receive, or ctx ends, and returns the ready ones
// (multiprocessing.connection.wait). An ended ctx returns ctx.Err().
func Wait(ctx context.Context, conns ...*Conn) ([]*Conn, error) {
	return wait(ctxWaiter(ctx), conns)
}

// WaitTimeout is Wait for at most d; when nothing is ready in time it
// returns an empty slice and no error, as Python's wait.
func WaitTimeout(d time.Duration, conns ...*Conn) ([]*Conn, error) {
	r, err := wait(timeoutWaiter(d), conns)
	if err == errExpired {
		return nil, nil
	}
	return r, err
}

func wait(w waiter, conns []*Conn) ([]*Conn, error) {
	if len(conns) == 0 {
		return nil, &Error{Code: ErrInvalid, Op: "Wait", Msg: "no connections"}
	}
	ptrs := make([]*C.mp_pipe, len(conns))
	for i, c := range conns {
		p, err := c.h.acquire()
		if err != nil {
			for _, d := range conns[:i] {
				d.h.release()
			}
			return nil, err
		}
		ptrs[i] = p
	}
	defer func() {
		for _, c := range conns {
			c.h.release()
		}
	}()
	idx := make([]C.size_t, len(conns))
	ms := w.first()
	for {
		var nready C.size_t
		var e *C.char
		st := C.go_mp_wait(&ptrs[0], C.size_t(len(ptrs)), C.int64_t(ms), &idx[0], &nready, &e)
		runtime.KeepAlive(conns)
		if st != 0 {
			return nil, newError("mp_wait", st, e)
		}
		if nready > 0 {
			out := make([]*Conn, 0, int(nready))
			for _, i := range idx[:nready] {
				out = append(out, conns[i])
			}
			return out, nil
		}
		closed := false
		for _, c := range conns {
			closed = closed || c.h.closed()
		}
		var stop error
		if ms, stop = w.next(closed); stop != nil {
			return nil, stop
		}
	}
}
