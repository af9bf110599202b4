package mpipc

/*
#include "shim.h"
#cgo noescape go_mpq_put_timeout
#cgo nocallback go_mpq_put_timeout
#cgo noescape go_mpq_get_into
#cgo nocallback go_mpq_get_into
#cgo noescape go_mpq_put_many
#cgo nocallback go_mpq_put_many
#cgo noescape go_mpq_get_many
#cgo nocallback go_mpq_get_many
#cgo noescape go_mpq_qsize
#cgo nocallback go_mpq_qsize
*/
import "C"

import (
	"context"
	"runtime"
	"time"
	"unsafe"
)

// QueueOptions are the sizes and flags of OpenQueue (mpq_options). Zero
// fields mean the defaults. When attaching to an existing queue, each
// nonzero size must match it (else ErrInvalid): processes that only attach
// should leave the sizes zero.
type QueueOptions struct {
	MaxSize       int    // maximum number of messages; 0 = unbounded by count (Python's maxsize <= 0)
	CapacityBytes int    // ring size in bytes; 0 = 1 MiB (each message takes 8 bytes + its length rounded up to 8)
	MaxMessage    int    // largest message accepted (ErrTooBig beyond); 0 = what fits in the ring
	Mode          uint32 // file mode of a new segment; 0 = 0600
	CreateOnly    bool   // fail with ErrExists if the queue exists
	AttachOnly    bool   // fail with ErrNotFound if it does not
}

// Queue is a named, bounded, multi-producer multi-consumer queue in shared
// memory: Python's multiprocessing.JoinableQueue, reachable by name from
// any process and language. Values cross as CBOR (see cbor.go); the
// *Bytes methods move raw bytes.
//
// A Queue is safe for use by many goroutines at once. Close it when done
// (a finalizer closes it otherwise); the queue itself lives on until
// UnlinkQueue. Blocking calls wait in slices of 50 ms, so a context's
// cancellation or Close is noticed within a slice.
//
// Under the hood: an mpq handle (mpq_open ... mpq_close).
type Queue struct {
	h    handle[*C.mpq]
	name string
}

// OpenQueue opens the queue name, creating it if it does not exist.
// Names are 1 to 200 characters of A-Z a-z 0-9 . _ - (the segment is
// /dev/shm/mpipc.q.<name>). A name with a scheme is a queue on a Redis or
// Valkey server, e.g. "redis://127.0.0.1:6379/jobs" or
// "redis+unix:///run/redis.sock/jobs?ack=at-least-once" (see the package
// doc, "Redis and Valkey"); CapacityBytes and Mode must then be 0
// (ErrUnsupported).
func OpenQueue(name string, opts QueueOptions) (*Queue, error) {
	co := C.mpq_options{
		maxsize:        C.size_t(opts.MaxSize),
		capacity_bytes: C.size_t(opts.CapacityBytes),
		max_message:    C.size_t(opts.MaxMessage),
		mode:           C.uint32_t(opts.Mode),
	}
	if opts.MaxSize < 0 {
		co.maxsize = 0
	}
	if opts.CreateOnly {
		co.flags |= C.MPQ_CREATE_ONLY
	}
	if opts.AttachOnly {
		co.flags |= C.MPQ_ATTACH_ONLY
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var p *C.mpq
	var e *C.char
	if st := C.go_mpq_open(cname, &co, &p, &e); st != 0 {
		return nil, newError("mpq_open", st, e)
	}
	q := &Queue{name: name}
	q.h.init(p, func(p *C.mpq) { C.mpq_close(p) })
	runtime.SetFinalizer(q, (*Queue).Close)
	return q, nil
}

// UnlinkQueue removes the queue's name; processes that have it open keep
// using it, and the next OpenQueue of the name creates a new queue.
func UnlinkQueue(name string) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var e *C.char
	return check("mpq_unlink", C.go_mpq_unlink(cname, &e), e)
}

// Name is the name the queue was opened with.
func (q *Queue) Name() string { return q.name }

// Close closes this process's handle (idempotent). Calls blocked in other
// goroutines return ErrClosed within a wait slice; later calls return
// ErrClosed. The queue and its messages stay for the other processes.
func (q *Queue) Close() error {
	if q.h.close() {
		runtime.SetFinalizer(q, nil)
	}
	return nil
}

// ---- put ----

// Put encodes v as CBOR and puts it, waiting as long as the queue is full.
// Errors: ErrTooBig, ErrShutdown, ErrClosed, an encoding error.
func (q *Queue) Put(v any) error { return q.put(waiter{}, v) }

// PutContext is Put that gives up when ctx ends (returning ctx.Err()).
func (q *Queue) PutContext(ctx context.Context, v any) error { return q.put(ctxWaiter(ctx), v) }

// PutTimeout is Put waiting at most d for room (0 = put_nowait; negative =
// forever); ErrFull when the time runs out.
func (q *Queue) PutTimeout(v any, d time.Duration) error { return q.put(timeoutWaiter(d), v) }

// PutBytes puts msg as it is (no CBOR), waiting as long as the queue is full.
func (q *Queue) PutBytes(msg []byte) error { return q.putBytes(waiter{}, msg) }

// PutBytesContext is PutBytes that gives up when ctx ends.
func (q *Queue) PutBytesContext(ctx context.Context, msg []byte) error {
	return q.putBytes(ctxWaiter(ctx), msg)
}

// PutBytesTimeout is PutBytes waiting at most d (ErrFull).
func (q *Queue) PutBytesTimeout(msg []byte, d time.Duration) error {
	return q.putBytes(timeoutWaiter(d), msg)
}

func (q *Queue) put(w waiter, v any) error {
	b := getBuf()
	defer putBuf(b)
	if err := marshalTo(b, v); err != nil {
		return err
	}
	return q.putBytes(w, b.Bytes())
}

func (q *Queue) putBytes(w waiter, msg []byte) error {
	p, err := q.h.acquire()
	if err != nil {
		return err
	}
	defer q.h.release()
	var data *C.uint8_t
	if len(msg) > 0 {
		data = (*C.uint8_t)(unsafe.Pointer(&msg[0]))
	}
	ms := w.first()
	for {
		var e *C.char
		st := C.go_mpq_put_timeout(p, data, C.size_t(len(msg)), C.int64_t(ms), &e)
		runtime.KeepAlive(q)
		runtime.KeepAlive(msg)
		if st != C.MP_E_FULL {
			return check("mpq_put_timeout", st, e)
		}
		var stop error
		if ms, stop = w.next(q.h.closed()); stop != nil {
			if stop == errExpired {
				return newError("mpq_put_timeout", st, e)
			}
			discard(e)
			return stop
		}
		discard(e)
	}
}

// ---- get ----

// Get takes the oldest message and decodes it into any (see cbor.go),
// waiting until one comes or ctx ends (ctx.Err()). Errors: ErrShutdown
// once the queue is shut down and drained, ErrClosed, a decoding error
// (the message is then consumed).
func (q *Queue) Get(ctx context.Context) (any, error) { return q.getAny(ctxWaiter(ctx)) }

// GetTimeout is Get waiting at most d (0 = get_nowait; negative = forever);
// ErrEmpty when the time runs out.
func (q *Queue) GetTimeout(d time.Duration) (any, error) { return q.getAny(timeoutWaiter(d)) }

// GetInto takes the oldest message and decodes it into v, a pointer (e.g.
// to a struct), waiting until ctx ends.
func (q *Queue) GetInto(ctx context.Context, v any) error { return q.get(ctxWaiter(ctx), v, nil) }

// GetIntoTimeout is GetInto waiting at most d (ErrEmpty).
func (q *Queue) GetIntoTimeout(v any, d time.Duration) error { return q.get(timeoutWaiter(d), v, nil) }

// GetBytes takes the oldest message as raw bytes (a new slice), waiting
// until ctx ends.
func (q *Queue) GetBytes(ctx context.Context) ([]byte, error) {
	var out []byte
	err := q.get(ctxWaiter(ctx), nil, &out)
	return out, err
}

// GetBytesTimeout is GetBytes waiting at most d (ErrEmpty).
func (q *Queue) GetBytesTimeout(d time.Duration) ([]byte, error) {
	var out []byte
	err := q.get(timeoutWaiter(d), nil, &out)
	return out, err
}

// get receives one message into a pooled buffer (mpq_get_into, no
// allocation in the library), then decodes it into v or copies it to *raw.
func (q *Queue) get(w waiter, v any, raw *[]byte) error {
	rb := getRbuf()
	defer putRbuf(rb)
	n, err := q.getInto(w, rb)
	if err != nil {
		return err
	}
	if raw != nil {
		*raw = append([]byte(nil), rb.b[:n]...)
		return nil
	}
	return Unmarshal(rb.b[:n], v)
}

// getAny is get into any, returning the value: Unmarshal(..., &v) would
// move v to the heap, one more allocation per message.
func (q *Queue) getAny(w waiter) (any, error) {
	rb := getRbuf()
	defer putRbuf(rb)
	n, err := q.getInto(w, rb)
	if err != nil {
		return nil, err
	}
	return decodeAny(rb.b[:n])
}

func (q *Queue) getInto(w waiter, rb *rbuf) (int, error) {
	p, err := q.h.acquire()
	if err != nil {
		return 0, err
	}
	defer q.h.release()
	ms := w.first()
	for {
		var n C.size_t
		var e *C.char
		st := C.go_mpq_get_into(p, (*C.uint8_t)(unsafe.Pointer(&rb.b[0])), C.size_t(len(rb.b)), &n, C.int64_t(ms), &e)
		runtime.KeepAlive(q)
		switch st {
		case 0:
			return int(n), nil
		case C.MP_E_BUFSIZE: // the message stays queued: grow and take it
			discard(e)
			rb.grow(int(n))
			continue
		case C.MP_E_EMPTY:
		default:
			return 0, newError("mpq_get_into", st, e)
		}
		var stop error
		if ms, stop = w.next(q.h.closed()); stop != nil {
			if stop == errExpired {
				return 0, newError("mpq_get_into", st, e)
			}
			discard(e)
			return 0, stop
		}
		discard(e)
	}
}

// ---- batches ----

// PutMany encodes every item and puts them in order with mpq_put_many:
// one lock round trip per run of messages that fits, the throughput path.
// It waits for room as long as ctx allows and returns how many were put
// (all of them when err is nil).
func (q *Queue) PutMany(ctx context.Context, items []any) (int, error) {
	b := getBuf()
	defer putBuf(b)
	lens := make([]C.size_t, len(items))
	for i, it := range items {
		before := b.Len()
		if err := marshalTo(b, it); err != nil {
			return 0, err
		}
		lens[i] = C.size_t(b.Len() - before)
	}
	return q.putMany(ctxWaiter(ctx), b.Bytes(), lens)
}

// PutManyOf is PutMany for a typed slice (no boxing of each item into any).
func PutManyOf[T any](ctx context.Context, q *Queue, items []T) (int, error) {
	b := getBuf()
	defer putBuf(b)
	lens := make([]C.size_t, len(items))
	for i := range items {
		before := b.Len()
		if err := marshalTo(b, &items[i]); err != nil {
			return 0, err
		}
		lens[i] = C.size_t(b.Len() - before)
	}
	return q.putMany(ctxWaiter(ctx), b.Bytes(), lens)
}

// PutManyBytes puts raw messages in order (mpq_put_many), waiting for room
// as long as ctx allows; it returns how many were put.
func (q *Queue) PutManyBytes(ctx context.Context, msgs [][]byte) (int, error) {
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	data := make([]byte, 0, total)
	lens := make([]C.size_t, len(msgs))
	for i, m := range msgs {
		data = append(data, m...)
		lens[i] = C.size_t(len(m))
	}
	return q.putMany(ctxWaiter(ctx), data, lens)
}

func (q *Queue) putMany(w waiter, data []byte, lens []C.size_t) (int, error) {
	if len(lens) == 0 {
		return 0, nil
	}
	p, err := q.h.acquire()
	if err != nil {
		return 0, err
	}
	defer q.h.release()
	done, off := 0, 0
	ms := w.first()
	var dummy [1]byte
	for done < len(lens) {
		ptr := (*C.uint8_t)(unsafe.Pointer(&dummy[0]))
		if off < len(data) {
			ptr = (*C.uint8_t)(unsafe.Pointer(&data[off]))
		}
		var put C.size_t
		var e *C.char
		st := C.go_mpq_put_many(p, ptr, &lens[done], C.size_t(len(lens)-done), C.int64_t(ms), &put, &e)
		runtime.KeepAlive(q)
		runtime.KeepAlive(data)
		if st == 0 {
			for i := 0; i < int(put); i++ {
				off += int(lens[done+i])
			}
			done += int(put)
			ms = w.first() // more to put: the next call may find room at once
			continue
		}
		if st != C.MP_E_FULL {
			return done, newError("mpq_put_many", st, e)
		}
		var stop error
		if ms, stop = w.next(q.h.closed()); stop != nil {
			if stop == errExpired {
				return done, newError("mpq_put_many", st, e)
			}
			discard(e)
			return done, stop
		}
		discard(e)
	}
	return done, nil
}

// GetManyFunc takes up to max messages in one step (mpq_get_many: waits
// for the first until ctx ends, then takes what is queued and fits) and
// calls fn on each, in order. msg is only valid during the call: decode it
// (Unmarshal) or copy it. It returns how many messages were taken; if fn
// fails, the rest of the batch is skipped (the messages are consumed) and
// its error returned.
func (q *Queue) GetManyFunc(ctx context.Context, max int, fn func(msg []byte) error) (int, error) {
	return q.getMany(ctxWaiter(ctx), max, fn)
}

// GetMany takes up to max messages (waiting for the first until ctx ends)
// and decodes each into any.
func (q *Queue) GetMany(ctx context.Context, max int) ([]any, error) {
	var out []any
	_, err := q.getMany(ctxWaiter(ctx), max, func(msg []byte) error {
		v, err := decodeAny(msg) // Unmarshal into *any, without moving a variable to the heap
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// GetManyOf takes up to max messages and decodes each into a T, appended
// to dst (which may be nil); it returns the extended slice.
func GetManyOf[T any](ctx context.Context, q *Queue, dst []T, max int) ([]T, error) {
	_, err := q.getMany(ctxWaiter(ctx), max, func(msg []byte) error {
		var zero T
		dst = append(dst, zero)
		if err := unmarshalTyped(msg, &dst[len(dst)-1]); err != nil {
			dst = dst[:len(dst)-1]
			return err
		}
		return nil
	})
	return dst, err
}

// GetManyBytes takes up to max raw messages (new slices).
func (q *Queue) GetManyBytes(ctx context.Context, max int) ([][]byte, error) {
	var out [][]byte
	_, err := q.getMany(ctxWaiter(ctx), max, func(msg []byte) error {
		out = append(out, append([]byte(nil), msg...))
		return nil
	})
	return out, err
}

type manyBuf struct {
	data []byte
	lens []C.size_t
}

var manyPool = syncPool(func() *manyBuf { return &manyBuf{data: make([]byte, 64<<10)} })

func (q *Queue) getMany(w waiter, max int, fn func([]byte) error) (int, error) {
	if max <= 0 {
		return 0, &Error{Code: ErrInvalid, Op: "GetMany", Msg: "max must be at least 1"}
	}
	mb := manyPool.Get()
	defer func() {
		if cap(mb.data) > 4<<20 { // do not keep a huge buffer alive
			mb.data = make([]byte, 64<<10)
		}
		manyPool.Put(mb)
	}()
	if cap(mb.lens) < max {
		mb.lens = make([]C.size_t, max)
	}
	lens := mb.lens[:max]
	p, err := q.h.acquire()
	if err != nil {
		return 0, err
	}
	ms := w.first()
	var n, total C.size_t
	for {
		var e *C.char
		st := C.go_mpq_get_many(p, (*C.uint8_t)(unsafe.Pointer(&mb.data[0])), C.size_t(len(mb.data)),
			&lens[0], C.size_t(max), C.int64_t(ms), &n, &total, &e)
		runtime.KeepAlive(q)
		if st == 0 {
			break
		}
		if st == C.MP_E_BUFSIZE { // not even the first fits: it stays queued
			discard(e)
			mb.data = make([]byte, 2*int(total))
			continue
		}
		if st != C.MP_E_EMPTY {
			q.h.release()
			return 0, newError("mpq_get_many", st, e)
		}
		var stop error
		if ms, stop = w.next(q.h.closed()); stop != nil {
			q.h.release()
			if stop == errExpired {
				return 0, newError("mpq_get_many", st, e)
			}
			discard(e)
			return 0, stop
		}
		discard(e)
	}
	q.h.release()
	off := 0
	for i := 0; i < int(n); i++ {
		l := int(lens[i])
		if err := fn(mb.data[off : off+l : off+l]); err != nil {
			return int(n), err
		}
		off += l
	}
	return int(n), nil
}

// ---- state and JoinableQueue ----

// Qsize is the exact number of messages in the queue.
func (q *Queue) Qsize() (int, error) {
	p, err := q.h.acquire()
	if err != nil {
		return 0, err
	}
	defer q.h.release()
	var n C.size_t
	var e *C.char
	st := C.go_mpq_qsize(p, &n, &e)
	runtime.KeepAlive(q)
	return int(n), check("mpq_qsize", st, e)
}

// Empty reports whether the queue holds no message.
func (q *Queue) Empty() (bool, error) {
	p, err := q.h.acquire()
	if err != nil {
		return false, err
	}
	defer q.h.release()
	var b C.bool
	var e *C.char
	st := C.go_mpq_empty(p, &b, &e)
	runtime.KeepAlive(q)
	return bool(b), check("mpq_empty", st, e)
}

// Full reports whether the queue holds MaxSize messages (always false for
// a queue unbounded by count).
func (q *Queue) Full() (bool, error) {
	p, err := q.h.acquire()
	if err != nil {
		return false, err
	}
	defer q.h.release()
	var b C.bool
	var e *C.char
	st := C.go_mpq_full(p, &b, &e)
	runtime.KeepAlive(q)
	return bool(b), check("mpq_full", st, e)
}

// Options are the queue's actual sizes (after defaults); Mode and the flags
// are zero.
func (q *Queue) Options() (QueueOptions, error) {
	p, err := q.h.acquire()
	if err != nil {
		return QueueOptions{}, err
	}
	defer q.h.release()
	var o C.mpq_options
	var e *C.char
	st := C.go_mpq_options_of(p, &o, &e)
	runtime.KeepAlive(q)
	if st != 0 {
		return QueueOptions{}, newError("mpq_options_of", st, e)
	}
	return QueueOptions{MaxSize: int(o.maxsize), CapacityBytes: int(o.capacity_bytes), MaxMessage: int(o.max_message)}, nil
}

// TaskDone marks one task taken from the queue as done (JoinableQueue).
// ErrInvalid if called more times than messages were put.
func (q *Queue) TaskDone() error {
	p, err := q.h.acquire()
	if err != nil {
		return err
	}
	defer q.h.release()
	var e *C.char
	st := C.go_mpq_task_done(p, &e)
	runtime.KeepAlive(q)
	return check("mpq_task_done", st, e)
}

// Join waits until every message put has been marked done, or ctx ends.
func (q *Queue) Join(ctx context.Context) error { return q.join(ctxWaiter(ctx)) }

// JoinTimeout is Join waiting at most d; ErrTimeout when the time runs out.
func (q *Queue) JoinTimeout(d time.Duration) error { return q.join(timeoutWaiter(d)) }

func (q *Queue) join(w waiter) error {
	p, err := q.h.acquire()
	if err != nil {
		return err
	}
	defer q.h.release()
	ms := w.first()
	for {
		var e *C.char
		st := C.go_mpq_join(p, C.int64_t(ms), &e)
		runtime.KeepAlive(q)
		if st != C.MP_E_TIMEOUT {
			return check("mpq_join", st, e)
		}
		var stop error
		if ms, stop = w.next(q.h.closed()); stop != nil {
			if stop == errExpired {
				return newError("mpq_join", st, e)
			}
			discard(e)
			return stop
		}
		discard(e)
	}
}

// Shutdown shuts the queue down for every process (Python 3.13): puts
// fail with ErrShutdown at once; gets drain what is left, then fail with
// it. With immediate, what is left is discarded and counted as done for
// Join. Permanent for the name (unlink and reopen to start afresh).
func (q *Queue) Shutdown(immediate bool) error {
	p, err := q.h.acquire()
	if err != nil {
		return err
	}
	defer q.h.release()
	var e *C.char
	st := C.go_mpq_shutdown(p, C.bool(immediate), &e)
	runtime.KeepAlive(q)
	return check("mpq_shutdown", st, e)
}

// SetSpin sets how long a blocked call on this handle spins before it
// sleeps (default 50µs; 0 = sleep at once), rounded down to microseconds.
func (q *Queue) SetSpin(d time.Duration) error {
	p, err := q.h.acquire()
	if err != nil {
		return err
	}
	defer q.h.release()
	var e *C.char
	st := C.go_mpq_set_spin(p, spinUs(d), &e)
	runtime.KeepAlive(q)
	return check("mpq_set_spin", st, e)
}

func spinUs(d time.Duration) C.uint32_t {
	us := d / time.Microsecond
	if us < 0 {
		us = 0
	}
	if us > 1<<31 {
		us = 1 << 31
	}
	return C.uint32_t(us)
}
