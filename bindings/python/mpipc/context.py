"""``mpipc.get_context(method)``: an object with the names of
multiprocessing's contexts, whose primitives are mpipc's and whose
processes are multiprocessing's.

A context does two things in multiprocessing: it makes the synchronisation
and communication objects (Queue, Lock, Value, Pipe, Manager, ...) and it
starts processes with one start method ("fork", "spawn", "forkserver").
mpipc makes the objects itself (shared by name, usable from any language)
and leaves processes to multiprocessing: ``Process`` and the process
functions of a context here are those of ``multiprocessing.get_context``
with the same method, so a child started by ``ctx.Process`` gets mpipc
objects as arguments the way that start method passes any argument (a
forked child inherits them; a spawned one unpickles them by name).

What mpipc does not make is delegated to multiprocessing, documented per
name: ``Pool`` is multiprocessing's own (its task and result traffic uses
multiprocessing's queues and pickle, not mpipc), and so are the logging,
executable and reduction helpers.

The module-level functions of ``mpipc`` (``Process``, ``get_start_method``,
``set_start_method``, ``cpu_count``, ...) are those of the default context,
as in multiprocessing: it follows multiprocessing's own default start
method, and ``mpipc.set_start_method`` sets multiprocessing's.
"""

import multiprocessing
import multiprocessing.context

from . import _errors

__all__ = ["BaseContext", "get_context"]


class BaseContext:
    """The names of ``multiprocessing.context.BaseContext``; primitives are
    mpipc's, processes those of the multiprocessing context this one wraps
    (``self.mp_context``). Every object-making method forwards its
    arguments, so mpipc's own keywords (``name=``, ``create=``, ...) work
    here too; multiprocessing's ``ctx=`` is accepted and ignored, as by
    the top-level constructors."""

    # The exception classes of multiprocessing's contexts. BufferTooShort
    # and AuthenticationError are mpipc's (subclasses of multiprocessing's,
    # what mpipc raises); ProcessError and TimeoutError (raised by Pool's
    # results) are multiprocessing's.
    ProcessError = multiprocessing.ProcessError
    BufferTooShort = _errors.BufferTooShort
    TimeoutError = multiprocessing.TimeoutError
    AuthenticationError = _errors.AuthenticationError

    def __init__(self, mp_context):
        #: The multiprocessing context whose processes this one starts.
        self.mp_context = mp_context

    def __repr__(self):
        method = self.mp_context.get_start_method(allow_none=True)
        return "<mpipc context %s>" % (method or "default")

    # -- processes: multiprocessing's --------------------------------------

    @property
    def Process(self):
        """The Process class of the wrapped multiprocessing context (e.g.
        ``SpawnProcess`` for ``get_context("spawn")``)."""
        return self.mp_context.Process

    @staticmethod
    def current_process():
        """``multiprocessing.current_process()``."""
        return multiprocessing.current_process()

    @staticmethod
    def parent_process():
        """``multiprocessing.parent_process()``."""
        return multiprocessing.parent_process()

    @staticmethod
    def active_children():
        """``multiprocessing.active_children()``."""
        return multiprocessing.active_children()

    @staticmethod
    def cpu_count():
        """``multiprocessing.cpu_count()``."""
        return multiprocessing.cpu_count()

    def get_context(self, method=None):
        """The mpipc context of start method `method` (None: this one, or
        for the default context the one in use, as multiprocessing).
        ValueError for an unknown method, as multiprocessing."""
        return _wrap(self.mp_context.get_context(method))

    def get_start_method(self, allow_none=False):
        """The wrapped context's start method (``"fork"``, ``"spawn"``,
        ``"forkserver"``)."""
        return self.mp_context.get_start_method(allow_none)

    def set_start_method(self, method, force=False):
        """multiprocessing's ``set_start_method``: only on the default
        context (``mpipc.set_start_method``, which sets multiprocessing's
        default too); a context of a given method raises ValueError."""
        return self.mp_context.set_start_method(method, force)

    def get_all_start_methods(self):
        """``multiprocessing.get_all_start_methods()``."""
        return self.mp_context.get_all_start_methods()

    # -- objects: mpipc's ---------------------------------------------------

    def Manager(self, *args, **kwargs):
        """``mpipc.Manager``: a started manager (its server runs as threads
        of this process whatever the start method; see the README)."""
        from .managers import Manager

        return Manager(*args, **kwargs)

    def Pipe(self, duplex=True, **kwargs):
        """``mpipc.Pipe``."""
        from .connection import Pipe

        kwargs.pop("ctx", None)
        return Pipe(duplex, **kwargs)

    def Lock(self, *args, **kwargs):
        """``mpipc.Lock``."""
        from .synchronize import Lock

        return Lock(*args, **kwargs)

    def RLock(self, *args, **kwargs):
        """``mpipc.RLock``."""
        from .synchronize import RLock

        return RLock(*args, **kwargs)

    def Condition(self, lock=None, *args, **kwargs):
        """``mpipc.Condition``."""
        from .synchronize import Condition

        return Condition(lock, *args, **kwargs)

    def Semaphore(self, value=1, *args, **kwargs):
        """``mpipc.Semaphore``."""
        from .synchronize import Semaphore

        return Semaphore(value, *args, **kwargs)

    def BoundedSemaphore(self, value=1, *args, **kwargs):
        """``mpipc.BoundedSemaphore``."""
        from .synchronize import BoundedSemaphore

        return BoundedSemaphore(value, *args, **kwargs)

    def Event(self, *args, **kwargs):
        """``mpipc.Event``."""
        from .synchronize import Event

        return Event(*args, **kwargs)

    def Barrier(self, parties, action=None, timeout=None, *args, **kwargs):
        """``mpipc.Barrier``."""
        from .synchronize import Barrier

        return Barrier(parties, action, timeout, *args, **kwargs)

    def Queue(self, maxsize=0, *args, **kwargs):
        """``mpipc.Queue``."""
        from .queues import Queue

        return Queue(maxsize, *args, **kwargs)

    def JoinableQueue(self, maxsize=0, *args, **kwargs):
        """``mpipc.JoinableQueue``."""
        from .queues import JoinableQueue

        return JoinableQueue(maxsize, *args, **kwargs)

    def SimpleQueue(self, *args, **kwargs):
        """``mpipc.SimpleQueue``."""
        from .queues import SimpleQueue

        return SimpleQueue(*args, **kwargs)

    def RawValue(self, typecode_or_type, *args, **kwargs):
        """``mpipc.RawValue``."""
        from .sharedctypes import RawValue

        return RawValue(typecode_or_type, *args, **kwargs)

    def RawArray(self, typecode_or_type, size_or_initializer, **kwargs):
        """``mpipc.RawArray``."""
        from .sharedctypes import RawArray

        return RawArray(typecode_or_type, size_or_initializer, **kwargs)

    def Value(self, typecode_or_type, *args, **kwargs):
        """``mpipc.Value``."""
        from .sharedctypes import Value

        return Value(typecode_or_type, *args, **kwargs)

    def Array(self, typecode_or_type, size_or_initializer, **kwargs):
        """``mpipc.Array``."""
        from .sharedctypes import Array

        return Array(typecode_or_type, size_or_initializer, **kwargs)

    # -- delegated to multiprocessing ---------------------------------------

    def Pool(self, processes=None, initializer=None, initargs=(), maxtasksperchild=None):
        """multiprocessing's own ``Pool`` of the wrapped context. mpipc has
        no pool: the pool's workers are multiprocessing processes and its
        tasks and results travel over multiprocessing's queues, pickled (a
        task may of course use mpipc objects it receives as arguments)."""
        return self.mp_context.Pool(processes, initializer, initargs, maxtasksperchild)

    def freeze_support(self):
        """``multiprocessing.freeze_support()``."""
        return self.mp_context.freeze_support()

    def get_logger(self):
        """``multiprocessing.get_logger()``."""
        return self.mp_context.get_logger()

    def log_to_stderr(self, level=None):
        """``multiprocessing.log_to_stderr()``."""
        return self.mp_context.log_to_stderr(level)

    def allow_connection_pickling(self):
        """multiprocessing's: registers the reduction of multiprocessing's
        own Connection and socket objects. mpipc Connections need none:
        they pass to a child as Process arguments under every start method
        and are never pickled otherwise."""
        return self.mp_context.allow_connection_pickling()

    def set_executable(self, executable):
        """``multiprocessing.set_executable()`` (the interpreter spawned
        children run)."""
        return self.mp_context.set_executable(executable)

    def set_forkserver_preload(self, module_names):
        """``multiprocessing.set_forkserver_preload()``."""
        return self.mp_context.set_forkserver_preload(module_names)

    @property
    def reducer(self):
        """multiprocessing's reduction module (pickling of what multiprocessing
        passes to children; mpipc values never use it)."""
        return self.mp_context.reducer

    @reducer.setter
    def reducer(self, reduction):
        self.mp_context.reducer = reduction


# One wrapper per multiprocessing context (they are singletons), so that
# get_context("spawn") is get_context("spawn"), as in multiprocessing.
_wrappers = {}


def _wrap(mp_context):
    try:
        return _wrappers[id(mp_context)][1]
    except KeyError:
        ctx = BaseContext(mp_context)
        # The context object is kept alive beside its id (never reused).
        _wrappers[id(mp_context)] = (mp_context, ctx)
        return ctx


#: The default context: multiprocessing's default (its start method is
#: multiprocessing's default one, set with mpipc.set_start_method or
#: multiprocessing.set_start_method alike).
default_context = _wrap(multiprocessing.context._default_context)


def get_context(method=None):
    """``multiprocessing.get_context``, with mpipc's primitives: an object
    with the names of multiprocessing's context (``Process``, ``Queue``,
    ``Lock``, ``Value``, ``Pipe``, ``Manager``, ``Pool``, ``cpu_count``,
    ``get_start_method``, ...). `method` ("fork", "spawn", "forkserver")
    selects how its ``Process`` starts children; None is the default
    method, which this call fixes, as multiprocessing's does. ValueError
    for an unknown method."""
    return default_context.get_context(method)
