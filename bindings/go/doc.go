// Package mpipc gives Go programs Python multiprocessing's primitives,
// shared by name with processes in any language: the Go binding of mpipc's
// C ABI (include/mpipc.h), through cgo. Nothing is reimplemented here:
// every operation is one call into libmpipc.
//
//	Python multiprocessing            mpipc (Go)
//	Queue / JoinableQueue             OpenQueue -> *Queue (Put, Get, PutMany, GetMany, TaskDone, Join, Shutdown)
//	Pipe(duplex), Connection          Pipe -> *Conn (Send, Recv, SendBytes, RecvBytes, Poll), FromFile
//	connection.Listener / Client      Listen -> *Listener (Accept), Dial
//	connection.wait                   Wait
//	Manager()                         ServeManager, ConnectManager -> *Manager: Dict, List, Set, Namespace,
//	                                  Value, Array, Queue, Lock, RLock, Semaphore, BoundedSemaphore,
//	                                  Event, Condition, Barrier proxies
//	shared_memory.SharedMemory        OpenSharedMemory -> *SharedMemory
//	Array / Value                     OpenArray -> *Array, OpenValue -> *Value
//	shared_memory.ShareableList       OpenShareableList -> *ShareableList
//	Lock / RLock                      OpenLock / OpenRLock -> *Lock
//	Semaphore / BoundedSemaphore      OpenSemaphore -> *Semaphore
//	Event, Condition, Barrier         OpenEvent, OpenCondition, OpenBarrier
//
// # Names
//
// Every object is reachable by a name (1 to 200 characters of
// A-Z a-z 0-9 . _ -), so processes that were not started by one another
// can meet: Open* creates the object or attaches to it (OpenMode and the
// *Options say which is allowed). Closing a handle never removes the
// object; the Unlink* functions remove the name.
//
// # Redis and Valkey
//
// A queue name or a manager address with a scheme puts the object on a
// Redis (>= 7.0) or Valkey (>= 7.2) server instead of this machine, with
// the same API, errors and values, shared with every other binding
// (docs/REDIS.md in the repository: addresses, key layout, server-side
// functions, what applies):
//
//	q, err := mpipc.OpenQueue("redis://127.0.0.1:6379/jobs", mpipc.QueueOptions{MaxSize: 1000})
//	q, err := mpipc.OpenQueue("redis+unix:///run/redis/redis.sock/jobs?ack=at-least-once", mpipc.QueueOptions{})
//	m, err := mpipc.ConnectManager("redis://10.0.0.5:6379/2?ns=billing", []byte(password))
//
// Queue addresses are redis://[user[:password]@]host[:port][/db]/NAME[?opts]
// (also valkey://, redis+unix://, valkey+unix://, unix://); manager
// addresses are the same without /NAME; opts are ns=, ack=at-least-once,
// lease_ms=, timeout_ms=. A manager's authkey is the server's password.
// A bad address is ErrInvalid naming the part that is wrong; rediss://
// (TLS), QueueOptions.CapacityBytes or Mode, and the manager kinds set,
// condition, barrier and array are ErrUnsupported. Delivery is
// at-most-once unless the queue is created with ?ack=at-least-once (a
// message taken waits for TaskDone; a consumer that dies gives it back when
// its lease ends). Manager locks and semaphores are leases: a dead
// holder's lock frees itself when its lease ends. A lost server fails the
// call that notices with ErrEOF; the next call connects again. Blocking
// calls block on the server, one slice (at most 50 ms) at a time.
//
// # Values
//
// Values cross as CBOR (github.com/fxamacker/cbor/v2), following the
// project's type contract (docs/TYPES.md): nil, bool, integers (int64 when
// they fit, uint64 above, *big.Int beyond 64 bits), float64 (always
// encoded 64-bit), string, []byte, []any, map[any]any (keys may be
// numbers, strings, bools, bytes as cbor.ByteString, arrays as ArrayKey;
// OrderedMap keeps a map's order), time.Time (tag 1), other tags as
// cbor.Tag; undefined is read as nil. Methods that return any
// decode by these rules; the *Into methods (GetInto, RecvInto, ...) decode
// into a caller's struct or typed value; the *Bytes methods move raw
// bytes. Marshal and Unmarshal expose the same encoding.
//
// # Errors
//
// A failure reported by the library is an *Error carrying the status code
// (Code), the C function and the library's message. Every MP_E_* code is
// a Code constant usable as a sentinel with errors.Is: ErrEmpty, ErrFull,
// ErrTimeout, ErrShutdown, ErrEOF, ErrNotFound (also a manager's
// KeyError), ErrIndex, ErrType, ErrAuth, ErrBroken, ErrOwnerDead, ...
// Using a handle after Close is ErrClosed (a Go-side error; no library
// call is made). Timed variants report expiry as the library does:
// ErrEmpty for a get, ErrFull for a put, ErrTimeout for locks, events,
// joins, accepts. Context variants return ctx.Err() when the context ends.
//
// ErrOwnerDead is special: it means that a lock was ACQUIRED, from a
// holder that died holding it. The lock is held when it is returned; the
// data it guards may be half updated. Check it, then release as usual.
//
// # Blocking, contexts and Close
//
// Blocking calls wait inside the library in slices of at most 50 ms; between
// slices they check their context and whether the handle was closed, so
// cancellation is noticed within a slice and Close never waits for them
// (they return ErrClosed). When the awaited message or lock is already
// there, a call is one cgo call. A few waits cannot be cut into slices
// without changing their meaning (a Barrier's wait: an expired wait breaks
// the barrier; a manager Condition's wait) and take a timeout instead.
//
// # Handles and goroutines
//
// Every handle type is safe for use by many goroutines, as the C handles
// are. Close is idempotent; a finalizer closes handles that are dropped
// without Close, as a safety net. Lock and Array.Lock belong to an OS
// thread, as threading.RLock does: acquiring wires the goroutine to its
// thread (runtime.LockOSThread) until the matching release, which must come
// from the same goroutine. Locks held through a Manager belong to the
// Manager's connection instead.
//
// # Building
//
// The package links libmpipc with cgo, so it needs cgo and a C compiler,
// on x86-64 Linux with glibc (elsewhere the build stops with a message
// saying so). By default it links the static library this module carries
// (prebuilt/linux-amd64/libmpipc.a): go get and go build are enough, and
// programs need no libmpipc.so at run time. Build with -tags mpipc_system
// to link a libmpipc installed on the system instead, found through
// pkg-config.
package mpipc
