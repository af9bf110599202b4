package mpipc

/*
#include "shim.h"
*/
import "C"

import (
	"io"
	"runtime"
	"unsafe"
)

// SharedMemory is a named raw block of shared memory (Python's
// shared_memory.SharedMemory). The bytes are the caller's to synchronise
// (with a Lock). Safe for use by many goroutines; closing never unlinks.
//
// Under the hood: an mp_shm handle mapping /dev/shm/mpipc.shm.<name>
// (mode 0600; the data is 64-byte aligned). With RawShm in the mode: a raw
// POSIX block /dev/shm/<name> with no mpipc header, the kind Python's stock
// multiprocessing.shared_memory makes (see RawShm).
type SharedMemory struct {
	h    handle[*C.mp_shm]
	name string
	data unsafe.Pointer
	size int
}

// RawShm, OR-ed into OpenSharedMemory's mode (AttachOnly|RawShm), opens a
// raw POSIX block /dev/shm/<name> (MP_SHM_RAW): no mpipc header, the size
// is the file's. That is how a block made by a stock Python program
// (multiprocessing.shared_memory.SharedMemory, whose name is what to pass;
// a leading "/" is ignored) is read from Go, and how a block for such a
// program is made (created with mode 0600). Remove it with
// UnlinkRawSharedMemory. An empty (0-byte) block, or a name beginning
// with "mpipc.", is ErrInvalid.
const RawShm OpenMode = 0x100

// OpenSharedMemory opens the block name: creates it with size zeroed
// bytes, or attaches (the size must match; size 0 attaches to any size).
// mode may include RawShm. Errors: ErrInvalid (another size), ErrExists,
// ErrNotFound (the message says when the name exists as the other kind
// of block, raw or mpipc), ErrType / ErrVersion / ErrCorrupt (not a valid
// block), ErrPerm, ErrIO.
func OpenSharedMemory(name string, size int, mode OpenMode) (*SharedMemory, error) {
	if size < 0 {
		return nil, &Error{Code: ErrInvalid, Op: "OpenSharedMemory", Msg: "negative size"}
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var p *C.mp_shm
	var e *C.char
	if st := C.go_mp_shm_open(cname, C.size_t(size), C.uint32_t(mode), &p, &e); st != 0 {
		return nil, newError("mp_shm_open", st, e)
	}
	s := &SharedMemory{name: name, data: C.mp_shm_ptr(p), size: int(C.mp_shm_size(p))}
	s.h.init(p, func(p *C.mp_shm) { C.mp_shm_close(p) })
	runtime.SetFinalizer(s, (*SharedMemory).Close)
	return s, nil
}

// UnlinkSharedMemory removes the name; processes that have it open keep
// their mapping.
func UnlinkSharedMemory(name string) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var e *C.char
	return check("mp_shm_unlink", C.go_mp_shm_unlink(cname, &e), e)
}

// UnlinkRawSharedMemory removes the raw POSIX block name (see RawShm);
// processes that have it open keep their mapping.
func UnlinkRawSharedMemory(name string) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var e *C.char
	return check("mp_shm_unlink_raw", C.go_mp_shm_unlink_raw(cname, &e), e)
}

// Name is the block's name.
func (s *SharedMemory) Name() string { return s.name }

// Size is the block's size in bytes.
func (s *SharedMemory) Size() int { return s.size }

// Bytes is the block itself, zero-copy (Python's shm.buf). It is valid
// only until Close: using it afterwards touches unmapped memory and
// crashes the process. Keep the SharedMemory reachable (and open) while
// the slice is in use; prefer ReadAt/WriteAt when in doubt.
func (s *SharedMemory) Bytes() []byte {
	if s.h.closed() || s.size == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(s.data), s.size)
}

// ReadAt copies from the block at off (io.ReaderAt); ErrClosed after Close.
func (s *SharedMemory) ReadAt(p []byte, off int64) (int, error) {
	if _, err := s.h.acquire(); err != nil {
		return 0, err
	}
	defer s.h.release()
	if off < 0 || off > int64(s.size) {
		return 0, &Error{Code: ErrIndex, Op: "ReadAt", Msg: "offset out of range"}
	}
	n := copy(p, unsafe.Slice((*byte)(s.data), s.size)[off:])
	runtime.KeepAlive(s)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt copies p into the block at off (io.WriterAt); ErrIndex if it
// does not fit (nothing is written then).
func (s *SharedMemory) WriteAt(p []byte, off int64) (int, error) {
	if _, err := s.h.acquire(); err != nil {
		return 0, err
	}
	defer s.h.release()
	if off < 0 || off > int64(s.size) || int64(len(p)) > int64(s.size)-off {
		return 0, &Error{Code: ErrIndex, Op: "WriteAt", Msg: "range out of the block"}
	}
	n := copy(unsafe.Slice((*byte)(s.data), s.size)[off:], p)
	runtime.KeepAlive(s)
	return n, nil
}

// Close unmaps the block (idempotent); it stays until unlinked. Slices
// from Bytes must not be used afterwards.
func (s *SharedMemory) Close() error {
	if s.h.close() {
		runtime.SetFinalizer(s, nil)
	}
	return nil
}
