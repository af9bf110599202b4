"""mpipc: Python multiprocessing's primitives, shared by name with Go, C,
Node and Rust processes (through libmpipc's C ABI; values as CBOR, never
pickle).

Replace ``from multiprocessing import Queue`` with ``from mpipc import
Queue`` (and the same for Pipe, Lock, Value, Array, Manager, ...); see
bindings/python/README.md for what differs and why.
"""

from ._errors import (  # noqa: F401
    AttributeMissing, AuthenticationError, BrokenBarrierError, BufferTooShort, ConnectionLost, Corrupt,
    DecodeError, EncodeError, EOF, Empty, Error, Exists, Full, IndexOutOfRange, InvalidArgument, IOFailure, KeyMissing,
    NotFound, NotInList, NotOwner, OwnerDiedWarning, PermissionDenied, ShutDown, Timeout, TooBig,
    Unsupported, VersionMismatch, WrongType,
)
from ._ffi import LIB_PATH, VERSION as LIB_VERSION  # noqa: F401
from ._codec import decode, encode, get_serializer, set_serializer  # noqa: F401
from ._common import unlink  # noqa: F401
from .queues import JoinableQueue, Queue, SimpleQueue  # noqa: F401
from .connection import Client, Listener, Pipe, wait  # noqa: F401
from .synchronize import Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore  # noqa: F401
from .sharedctypes import Array, RawArray, RawValue, Value  # noqa: F401
from .shared_memory import ShareableList, SharedMemory  # noqa: F401
from .managers import Manager, SyncManager, connect_manager  # noqa: F401
from .context import default_context as _default_context, get_context  # noqa: F401

# multiprocessing's process side, as its module exposes it (the functions
# of its default context; see mpipc/context.py): mpipc makes the objects,
# multiprocessing starts the processes. Pool is multiprocessing's own.
from multiprocessing import Process, ProcessError, TimeoutError, reducer  # noqa: F401,E402

for _n in ("current_process", "parent_process", "active_children", "cpu_count", "get_start_method",
           "set_start_method", "get_all_start_methods", "freeze_support", "get_logger", "log_to_stderr",
           "allow_connection_pickling", "set_executable", "set_forkserver_preload", "Pool"):
    globals()[_n] = getattr(_default_context, _n)
del _n

from . import _bindings as _b

# The status codes, one-to-one with the header's MP_OK / MP_E_* (the
# `.code` of every mpipc.Error).
globals().update({_k: _v for _k, _v in vars(_b).items() if _k == "MP_OK" or _k.startswith("MP_E_")})

__version__ = "0.1.0"

__all__ = [
    "Queue", "JoinableQueue", "SimpleQueue", "Pipe", "Listener", "Client", "wait", "Lock", "RLock",
    "Semaphore", "BoundedSemaphore", "Event", "Condition", "Barrier", "Value", "Array", "RawValue",
    "RawArray", "SharedMemory", "ShareableList", "Manager", "SyncManager", "connect_manager", "unlink",
    "encode", "decode", "set_serializer", "get_serializer", "Error", "Empty", "Full", "ShutDown", "EncodeError",
    "DecodeError",
    "AuthenticationError", "BufferTooShort", "BrokenBarrierError", "OwnerDiedWarning", "Timeout",
    "ConnectionLost", "get_context", "Process", "ProcessError", "TimeoutError", "current_process",
    "parent_process", "active_children", "cpu_count", "get_start_method", "set_start_method",
    "get_all_start_methods", "freeze_support", "get_logger", "log_to_stderr", "allow_connection_pickling",
    "set_executable", "set_forkserver_preload", "Pool",
]
