"""mp_status -> Python exceptions.

Every exception mpipc raises for a library status is an ``mpipc.Error``
(carrying ``.code``, the ``MP_E_*`` value, and ``.status_name``) *and* the
exception Python's multiprocessing / threading / queue would raise in the
same place, so ``except queue.Empty`` and ``except mpipc.Error`` both work.
The message is the library's (mp_last_error, read on the failing thread).
"""

import errno
import multiprocessing
import queue
import threading
import warnings

from . import _bindings as B
from ._ffi import lib

STATUS_NAMES = {v: k for k, v in vars(B).items() if k.startswith("MP_E_") or k == "MP_OK"}


class Error(Exception):
    """Base of every mpipc error. ``code`` is the MP_E_* status (an int),
    ``status_name`` its name (e.g. ``"MP_E_CORRUPT"``)."""

    code = None

    def __init__(self, message="", code=None):
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def status_name(self):
        return STATUS_NAMES.get(self.code, "MP_E_UNKNOWN")


def _make(name, code, *bases, doc=""):
    cls = type(name, (Error,) + bases, {"code": code, "__doc__": doc, "__module__": "mpipc"})
    return cls


Empty = _make("Empty", B.MP_E_EMPTY, queue.Empty, doc="Nothing to get before the deadline (queue.Empty).")
Full = _make("Full", B.MP_E_FULL, queue.Full, doc="No room before the deadline (queue.Full).")
_shutdown_bases = (queue.ShutDown,) if hasattr(queue, "ShutDown") else ()
ShutDown = _make(
    "ShutDown", B.MP_E_SHUTDOWN, *_shutdown_bases,
    doc="The queue was shut down (queue.ShutDown on Python >= 3.13).",
)
Timeout = _make("Timeout", B.MP_E_TIMEOUT, TimeoutError, doc="A wait ran out of time (TimeoutError).")
InvalidArgument = _make("InvalidArgument", B.MP_E_INVAL, ValueError, doc="MP_E_INVAL (ValueError).")
TooBig = _make("TooBig", B.MP_E_TOOBIG, ValueError, doc="A message exceeds the configured maximum (ValueError).")
BufferTooShort = _make(
    "BufferTooShort", B.MP_E_BUFSIZE, multiprocessing.BufferTooShort,
    doc="The buffer is too small for the message (multiprocessing.BufferTooShort).",
)
NotFound = _make("NotFound", B.MP_E_NOTFOUND, FileNotFoundError, doc="No object of that name (FileNotFoundError).")
Exists = _make("Exists", B.MP_E_EXISTS, FileExistsError, doc="The name exists (FileExistsError).")
WrongType = _make("WrongType", B.MP_E_TYPE, TypeError, doc="MP_E_TYPE (TypeError).")
VersionMismatch = _make("VersionMismatch", B.MP_E_VERSION, doc="Made by an incompatible layout version.")
Corrupt = _make("Corrupt", B.MP_E_CORRUPT, doc="Shared state or a frame failed validation.")
PermissionDenied = _make("PermissionDenied", B.MP_E_PERM, PermissionError, doc="MP_E_PERM (PermissionError).")
NotOwner = _make(
    "NotOwner", B.MP_E_PERM, RuntimeError,
    doc="Releasing (or waiting on) a lock this thread does not hold (RuntimeError, as threading).",
)
IOFailure = _make("IOFailure", B.MP_E_IO, OSError, doc="Any other operating-system error (OSError).")
EOF = _make("EOF", B.MP_E_EOF, EOFError, doc="The peer closed the connection (EOFError).")
AuthenticationError = _make(
    "AuthenticationError", B.MP_E_AUTH, multiprocessing.AuthenticationError,
    doc="Authentication failed (multiprocessing.AuthenticationError).",
)
IndexOutOfRange = _make("IndexOutOfRange", B.MP_E_INDEX, IndexError, doc="MP_E_INDEX (IndexError).")
Unsupported = _make("Unsupported", B.MP_E_UNSUPPORTED, AttributeError, doc="No such method or kind (AttributeError).")
BrokenBarrierError = _make(
    "BrokenBarrierError", B.MP_E_BROKEN, threading.BrokenBarrierError,
    doc="The barrier is broken (threading.BrokenBarrierError).",
)
KeyMissing = _make("KeyMissing", B.MP_E_NOTFOUND, KeyError, doc="A manager dict key is missing (KeyError).")
NotInList = _make("NotInList", B.MP_E_NOTFOUND, ValueError, doc="x not in list (ValueError).")
AttributeMissing = _make("AttributeMissing", B.MP_E_NOTFOUND, AttributeError, doc="No such attribute (AttributeError).")


Error.__module__ = "mpipc"


class EncodeError(Error, TypeError):
    """A value that the CBOR mapping (docs/TYPES.md) cannot carry, raised
    at put/send time before anything is written (TypeError)."""

    code = B.MP_E_TYPE


class DecodeError(Error, ValueError):
    """A received message is not valid CBOR under docs/TYPES.md (it is
    consumed: it could never be decoded). ``.data`` holds its bytes."""

    code = B.MP_E_CORRUPT

    def __init__(self, message="", data=b""):
        super().__init__(message)
        self.data = data


class ConnectionLost(EOF, BrokenPipeError):
    """The connection to a manager server was lost: the server stopped,
    crashed or restarted (``MP_E_EOF`` from a manager call). Raised by the
    call that notices and by every later call until
    ``manager.reconnect()``.

    It is both an ``EOFError`` and a ``BrokenPipeError`` (so a
    ``ConnectionError`` and an ``OSError``, with ``errno`` EPIPE) because
    Python's multiprocessing raises one or the other in this situation: a
    proxy call waiting for its reply when the server dies gets
    ``EOFError``, a call made after it died gets ``BrokenPipeError``. Code
    written for either keeps working."""

    code = B.MP_E_EOF

    def __init__(self, message="", code=None):
        super().__init__(message, code)
        self.errno = errno.EPIPE


EncodeError.__module__ = DecodeError.__module__ = ConnectionLost.__module__ = "mpipc"


class OwnerDiedWarning(RuntimeWarning):
    """A lock was acquired from a holder that died holding it: the data it
    guards may be half updated. The lock IS held by the caller."""


BY_CODE = {
    B.MP_E_EMPTY: Empty,
    B.MP_E_FULL: Full,
    B.MP_E_SHUTDOWN: ShutDown,
    B.MP_E_TIMEOUT: Timeout,
    B.MP_E_INVAL: InvalidArgument,
    B.MP_E_TOOBIG: TooBig,
    B.MP_E_BUFSIZE: BufferTooShort,
    B.MP_E_NOTFOUND: NotFound,
    B.MP_E_EXISTS: Exists,
    B.MP_E_TYPE: WrongType,
    B.MP_E_VERSION: VersionMismatch,
    B.MP_E_CORRUPT: Corrupt,
    B.MP_E_PERM: PermissionDenied,
    B.MP_E_IO: IOFailure,
    B.MP_E_EOF: EOF,
    B.MP_E_AUTH: AuthenticationError,
    B.MP_E_INDEX: IndexOutOfRange,
    B.MP_E_UNSUPPORTED: Unsupported,
    B.MP_E_BROKEN: BrokenBarrierError,
}


def last_message():
    """This thread's last library error message."""
    return lib.mp_last_error().decode("utf-8", "replace")


def error(code, override=None, message=None):
    """The exception for status `code` (read right after the failing call,
    on the same thread). `override` maps codes to classes for call sites
    whose Python equivalent differs (KeyError for a dict, ...)."""
    cls = (override or {}).get(code) or BY_CODE.get(code, Error)
    if message is None:
        message = last_message() or lib.mp_status_str(code).decode()
    e = cls(message)
    if cls is Error or e.code != code:
        e.code = code
    return e


def check(code, override=None):
    """Raise for a non-OK status."""
    if code:
        raise error(code, override)


def owner_died(obj, what="lock", stacklevel=3):
    """Record and report MP_E_OWNER_DEAD (the lock is held). `stacklevel`
    as warnings.warn's, counted from here: the default 3 names the caller
    of the function that called this one."""
    obj.owner_died = True
    warnings.warn(
        "%s %r: acquired from a holder that died holding it; the data it guards may be half "
        "updated (the lock is held)" % (what, getattr(obj, "name", None)),
        OwnerDiedWarning,
        stacklevel=stacklevel,
    )
