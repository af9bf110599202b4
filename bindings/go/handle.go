package mpipc

import (
	"math"
	"sync/atomic"
	"time"
)

// handle owns one C handle of type T and makes Close safe against calls
// running in other goroutines (the C *_close functions must not run
// concurrently with another call on the same handle).
//
// Every call brackets its use of the pointer with acquire/release: a
// reference count in state, plus a closed bit. Close sets the bit; the C
// handle is freed by whoever brings the count to zero with the bit set:
// Close itself when nothing is in flight, else the last call to finish. So
// Close never waits, a call that starts after Close gets ErrClosed, and a
// blocking call in progress notices Close within one wait slice (blocking
// waits are cut in slices, see pollSlice) and returns ErrClosed.
//
// The fast path is one atomic add in acquire and one in release.
//
// P is the C pointer type (e.g. *C.mpq; cgo's incomplete struct types
// cannot be type arguments themselves).
type handle[P any] struct {
	state atomic.Int64 // calls in flight | closedBit | freedBit
	ptr   P            // the C handle; never read after freedBit is set
	free  func(P)      // the C *_close function
}

const (
	closedBit = int64(1) << 62
	freedBit  = int64(1) << 61
)

func (h *handle[P]) init(p P, free func(P)) {
	h.ptr = p
	h.free = free
}

// acquire returns the C pointer for one call, or ErrClosed. Each successful
// acquire must be paired with release.
func (h *handle[P]) acquire() (P, error) {
	if h.state.Add(1)&closedBit != 0 {
		h.release()
		var zero P
		return zero, ErrClosed
	}
	return h.ptr, nil
}

// release ends one call; the last call out after Close frees the handle.
func (h *handle[P]) release() {
	if h.state.Add(-1) == closedBit {
		h.freeOnce()
	}
}

func (h *handle[P]) freeOnce() {
	if h.state.CompareAndSwap(closedBit, closedBit|freedBit) {
		p := h.ptr
		var zero P
		h.ptr = zero
		h.free(p)
	}
}

// closed reports whether Close was called (blocking loops poll it).
func (h *handle[P]) closed() bool { return h.state.Load()&closedBit != 0 }

// inFlight is the number of calls in progress (for Conn.Close).
func (h *handle[P]) inFlight() int64 { return h.state.Load() &^ (closedBit | freedBit) }

// close marks the handle closed and frees it now if no call is in flight.
// Idempotent: it reports false if the handle was already closed.
func (h *handle[P]) close() bool {
	for {
		s := h.state.Load()
		if s&closedBit != 0 {
			return false
		}
		if h.state.CompareAndSwap(s, s|closedBit) {
			break
		}
	}
	h.freeOnce()
	return true
}

// ---- timeouts ----

// pollSlice bounds each blocking C call: a blocked call checks its
// context's cancellation and the handle's Close between slices, so
// cancellation latency is at most one slice (plus scheduling).
const pollSlice = 50 * time.Millisecond

// durationMs converts a Go timeout to the C ABI's milliseconds: negative
// means forever (-1), zero does not block, anything else is rounded up to a
// whole millisecond (so 1µs waits 1 ms instead of not at all).
func durationMs(d time.Duration) int64 {
	switch {
	case d < 0:
		return -1
	case d == 0:
		return 0
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > math.MaxInt64/2 {
		return -1
	}
	return int64(ms)
}

// sliceMs is the timeout of the next wait slice before deadline (zero
// deadline = none), and whether the deadline has passed.
func sliceMs(deadline time.Time) (int64, bool) {
	if deadline.IsZero() {
		return int64(pollSlice / time.Millisecond), false
	}
	left := time.Until(deadline)
	if left <= 0 {
		return 0, true
	}
	if left > pollSlice {
		left = pollSlice
	}
	return durationMs(left), false
}

// deadlineOf turns a timeout into a deadline: zero time = forever (d < 0).
func deadlineOf(d time.Duration) time.Time {
	if d < 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// OpenMode says whether an Open* function of the shared-memory and lock
// kinds may create, attach, or both (MP_OPEN_CREATE_ONLY /
// MP_OPEN_ATTACH_ONLY).
type OpenMode uint32

const (
	CreateOrAttach OpenMode = 0 // create the object, or attach if it exists
	CreateOnly     OpenMode = 1 // ErrExists if it exists (MP_OPEN_CREATE_ONLY)
	AttachOnly     OpenMode = 2 // ErrNotFound if it does not (MP_OPEN_ATTACH_ONLY)
)
