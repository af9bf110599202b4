package mpipc

import (
	"context"
	"sync"
	"time"
)

// waiter says how long a blocking call may wait, and cuts the wait into
// slices of at most pollSlice so that cancellation and Close are noticed.
type waiter struct {
	ctx      context.Context // nil: none
	deadline time.Time       // zero: none
	nowait   bool
}

// ctxWaiter waits until ctx ends (its deadline included).
func ctxWaiter(ctx context.Context) waiter {
	d, _ := ctx.Deadline()
	return waiter{ctx: ctx, deadline: d}
}

// timeoutWaiter waits d: negative = forever, 0 = not at all.
func timeoutWaiter(d time.Duration) waiter {
	if d == 0 {
		return waiter{nowait: true}
	}
	return waiter{deadline: deadlineOf(d)}
}

// first is the timeout of the first C call: 0 when the call must not block
// or when a context may be cancelled (the fast path then is one C call that
// never sleeps), else the first slice.
func (w *waiter) first() int64 {
	if w.nowait || (w.ctx != nil && w.ctx.Done() != nil) {
		return 0
	}
	ms, _ := sliceMs(w.deadline)
	return ms
}

// next is the timeout of the next C call after one that expired, or why to
// stop: errExpired (the caller reports the C call's own expiry error), the
// context's error, or ErrClosed.
func (w *waiter) next(closed bool) (int64, error) {
	if closed {
		return 0, ErrClosed
	}
	if w.nowait {
		return 0, errExpired
	}
	if w.ctx != nil {
		if err := w.ctx.Err(); err != nil {
			return 0, err
		}
	}
	ms, passed := sliceMs(w.deadline)
	if passed {
		if w.ctx != nil {
			return 0, context.DeadlineExceeded
		}
		return 0, errExpired
	}
	return ms, nil
}

// errExpired is internal: "report the expiry status of the last C call".
var errExpired = &Error{Code: ErrTimeout, Op: "wait", Msg: "expired"}

// ---- reusable receive buffers ----

type rbuf struct{ b []byte }

var rbufPool = sync.Pool{New: func() any { return &rbuf{b: make([]byte, 4096)} }}

func getRbuf() *rbuf { return rbufPool.Get().(*rbuf) }

func putRbuf(r *rbuf) {
	if cap(r.b) > 4<<20 {
		r.b = make([]byte, 4096)
	}
	rbufPool.Put(r)
}

// grow makes the buffer hold at least n bytes (contents are not kept).
func (r *rbuf) grow(n int) {
	if n <= len(r.b) {
		return
	}
	c := 2 * len(r.b)
	if c < n {
		c = n
	}
	r.b = make([]byte, c)
}

// pool is a typed sync.Pool.
type pool[T any] struct{ p sync.Pool }

func syncPool[T any](newf func() *T) *pool[T] {
	return &pool[T]{p: sync.Pool{New: func() any { return newf() }}}
}

func (p *pool[T]) Get() *T  { return p.p.Get().(*T) }
func (p *pool[T]) Put(x *T) { p.p.Put(x) }
