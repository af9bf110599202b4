'use strict';
// mpipc for Node: Python multiprocessing's primitives across processes and
// languages, over the mpipc C ABI (include/mpipc.h). See README.md.

const ffi = require('./lib/ffi');
const errors = require('./lib/errors');
const cbor = require('./lib/cbor');
const { Queue } = require('./lib/queue');
const { Connection, Pipe, connect, Listener, wait } = require('./lib/pipe');
const { Manager, connectManager, serveManager, ManagerServer } = require('./lib/manager');
const { SharedMemory, SharedArray, Value, ShareableList } = require('./lib/shm');
const { Lock, RLock, Condition, Semaphore, BoundedSemaphore, Event, Barrier } = require('./lib/sync');

/** The library's version string, e.g. "0.1.0" (mp_version). */
const version = ffi.F.mp_version();
/** Where the loaded libmpipc.so is. */
const libraryPath = ffi.LIB_PATH;
/** The status codes of include/mpipc.h by name: STATUS.MP_E_EMPTY === -4. */
const STATUS = ffi.STATUS;

if (ffi.F.mp_version_number() !== ffi.C.MP_VERSION_NUMBER) {
  process.emitWarning(`mpipc: libmpipc ${version} at ${libraryPath} does not match the version this binding was written for`);
}

const { encode, decode, Tag, Float64, ManagerRef } = cbor;
const {
  MpipcError, ClosedError, AbortError, EncodeError, DecodeError, NullError, InvalidError, TimeoutError,
  EmptyError, FullError, ShutdownError, TooBigError, BufSizeError, NotFoundError, ExistsError, WrongTypeError,
  VersionError, CorruptError, PermError, IOError, PanicError, PoisonedError, EOFError, AuthError, IndexError,
  UnsupportedError, BrokenError, OwnerDeadError,
} = errors;

module.exports = {
  version, libraryPath, STATUS,
  Queue,
  Connection, Pipe, connect, Listener, wait,
  Manager, connectManager, serveManager, ManagerServer,
  SharedMemory, SharedArray, Value, ShareableList,
  Lock, RLock, Condition, Semaphore, BoundedSemaphore, Event, Barrier,
  encode, decode, Tag, Float64, ManagerRef,
  MpipcError, ClosedError, AbortError, EncodeError, DecodeError, NullError, InvalidError, TimeoutError,
  EmptyError, FullError, ShutdownError, TooBigError, BufSizeError, NotFoundError, ExistsError, WrongTypeError,
  VersionError, CorruptError, PermError, IOError, PanicError, PoisonedError, EOFError, AuthError, IndexError,
  UnsupportedError, BrokenError, OwnerDeadError,
};
