'use strict';
// mp_status -> JavaScript errors. Every error this package throws for a
// library status is an MpipcError whose `.code` is the C name of the status
// ('MP_E_EMPTY', ...) and `.status` its value (-4, ...); each status has its
// own subclass, so both `err instanceof EmptyError` and
// `err.code === 'MP_E_EMPTY'` work. Errors the binding raises without a C
// call have codes of the same form: 'MP_E_CLOSED' (use after close),
// 'MP_E_ABORTED' (an AbortSignal fired); encoding and decoding errors carry
// the codes Python's binding uses (MP_E_TYPE, MP_E_CORRUPT).

const { F, STATUS } = require('./ffi');

const NAMES = Object.create(null);
for (const [name, value] of Object.entries(STATUS)) NAMES[value] = name;

class MpipcError extends Error {
  constructor(message, code, status) {
    super(message);
    this.name = new.target.name;
    /** The C status name, e.g. 'MP_E_EMPTY'. */
    this.code = code;
    /** The C status value, e.g. -4 (undefined for binding-side errors). */
    this.status = status;
  }
}

const CLASSES = Object.create(null);
function define(className, statusName, doc) {
  const status = STATUS[statusName];
  const cls = {
    [className]: class extends MpipcError {
      constructor(message, code = statusName, st = status) {
        super(message, code, st);
      }
    },
  }[className];
  cls.code = statusName;
  cls.doc = doc;
  // STATUS is the header's table (lib/ffi_header.js): a class for a code
  // the header lacks is a bug here, and test/ffi.test.js checks that every
  // code of the header has its class.
  if (status === undefined) throw new Error(`mpipc: ${statusName} is not a status of include/mpipc.h`);
  CLASSES[status] = cls;
  return cls;
}

const E = {
  NullError: define('NullError', 'MP_E_NULL', 'a required pointer was NULL (a binding bug if seen)'),
  InvalidError: define('InvalidError', 'MP_E_INVAL', 'an argument is invalid, or not allowed in this state (ValueError)'),
  TimeoutError: define('TimeoutError', 'MP_E_TIMEOUT', 'a wait ran out of time'),
  EmptyError: define('EmptyError', 'MP_E_EMPTY', 'nothing to receive before the deadline (queue.Empty)'),
  FullError: define('FullError', 'MP_E_FULL', 'no room before the deadline (queue.Full)'),
  ShutdownError: define('ShutdownError', 'MP_E_SHUTDOWN', 'the queue or server was shut down'),
  TooBigError: define('TooBigError', 'MP_E_TOOBIG', 'a message exceeds the configured maximum'),
  BufSizeError: define('BufSizeError', 'MP_E_BUFSIZE', 'a buffer is too small (handled inside the binding)'),
  NotFoundError: define('NotFoundError', 'MP_E_NOTFOUND', 'no object of that name; KeyError from a manager'),
  ExistsError: define('ExistsError', 'MP_E_EXISTS', 'the name exists and exclusive creation was asked for'),
  WrongTypeError: define('WrongTypeError', 'MP_E_TYPE', 'the name is another kind of object; TypeError from a manager'),
  VersionError: define('VersionError', 'MP_E_VERSION', 'made by an incompatible layout version'),
  CorruptError: define('CorruptError', 'MP_E_CORRUPT', 'shared state or a frame failed validation'),
  PermError: define('PermError', 'MP_E_PERM', 'permission denied; releasing a lock not held'),
  IOError: define('IOError', 'MP_E_IO', 'any other operating-system error'),
  PanicError: define('PanicError', 'MP_E_PANIC', 'a panic was caught inside the library'),
  PoisonedError: define('PoisonedError', 'MP_E_POISONED', 'the handle was poisoned by an earlier panic'),
  EOFError: define('EOFError', 'MP_E_EOF', 'the peer closed the connection'),
  AuthError: define('AuthError', 'MP_E_AUTH', 'authentication failed'),
  IndexError: define('IndexError', 'MP_E_INDEX', 'index out of range'),
  UnsupportedError: define('UnsupportedError', 'MP_E_UNSUPPORTED', 'no such method or kind'),
  BrokenError: define('BrokenError', 'MP_E_BROKEN', 'the barrier is broken'),
  OwnerDeadError: define('OwnerDeadError', 'MP_E_OWNER_DEAD', 'acquired from a holder that died'),
};

/** Use of a handle after close(): no C call is made. */
class ClosedError extends MpipcError {
  constructor(message) { super(message, 'MP_E_CLOSED', undefined); }
}
/** A wait given an AbortSignal that fired (its `.cause` is the signal's reason). */
class AbortError extends MpipcError {
  constructor(message, reason) { super(message, 'MP_E_ABORTED', undefined); this.cause = reason; }
}
/** A value the CBOR mapping of docs/TYPES.md cannot carry (nothing was sent). */
class EncodeError extends E.WrongTypeError {}
/** A message that is not valid CBOR under docs/TYPES.md (it was consumed). `.data` holds its bytes. */
class DecodeError extends E.CorruptError {
  constructor(message, data) { super(message); this.data = data; }
}

/** The C name of a status, e.g. 'MP_E_EMPTY'. */
function statusName(status) {
  return NAMES[status] || `MP_E_UNKNOWN(${status})`;
}

/**
 * The error for `status`. `message` defaults to this thread's last error
 * message (right after a synchronous call) or to mp_status_str (after an
 * asynchronous call, which ran on another thread, whose message is lost).
 */
function makeError(status, context, message) {
  if (message === undefined) message = F.mp_status_str(status);
  const cls = CLASSES[status] || MpipcError;
  const text = context ? `${context}: ${message}` : message;
  return cls === MpipcError ? new MpipcError(text, statusName(status), status) : new cls(text);
}

/** Throws for a non-OK status of a synchronous call (the message is mp_last_error). */
function check(status, context) {
  if (status !== 0) throw makeError(status, context, F.mp_last_error());
}

module.exports = {
  MpipcError, ClosedError, AbortError, EncodeError, DecodeError, ...E,
  statusName, makeError, check,
};
