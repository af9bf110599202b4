"""mpipc's resource tracker: removes the objects with generated names whose
creator was killed (SIGTERM, SIGKILL) before it could unlink them.

Modelled on CPython's ``multiprocessing.resource_tracker``:

- the first object this process creates with a generated name (``Queue()``,
  ``Lock()``, ``Value()``, ``SharedMemory(create=True)``, ``ShareableList``,
  ...) starts a tracker: a separate Python process (``spawnv_passfds``, as
  CPython's) holding the read end of a pipe; this process keeps the write
  end;
- creating such an object writes ``R<TAB>kind<TAB>name`` to the pipe,
  unlinking it normally (``close()`` of the creator, ``unlink()``, garbage
  collection, interpreter exit) writes ``U<TAB>kind<TAB>name``: one short
  ``write`` each (atomic: far below PIPE_BUF), no reply awaited;
- a forked child inherits the write end (the descriptor survives fork, and
  is closed on exec), so the tracker serves the whole tree of forked
  processes: it sees end-of-file only when the last of them has exited,
  however it ended (a normal exit, SIGTERM, SIGKILL, a crash), and then
  unlinks every name still registered with ``mpipc.unlink(kind, name)``.
  So an object a forked child still uses stays until that child exits too;
- a spawned child (spawn, forkserver, any new interpreter) does not inherit
  it: it starts its own tracker for what it creates, the first time it
  creates an object with a generated name;
- the tracker ignores SIGINT and SIGTERM (Ctrl-C in a terminal reaches the
  whole process group); if it is killed anyway (SIGKILL), nothing is removed
  for processes that die afterwards, and the next registration of a live
  process notices (the write fails with EPIPE) and starts a new tracker, to
  which that process registers again every name it created and still has.

Explicitly named objects are never tracked: other processes and languages
use them by name, and they stay until unlinked.

This module imports only the standard library at the top: the tracker
process runs it by path (``runpy``) so that it starts reading at once, and
imports mpipc only at the end, to unlink.
"""

import os
import signal
import sys
import threading
import time

# The kinds the tracker unlinks, as mpipc.unlink() spells them, by the C
# function that unlinks them (the Named class's _unlink_fn).
KIND_OF_UNLINK_FN = {
    "mpq_unlink": "queue",
    "mp_lock_unlink": "lock",
    "mp_sem_unlink": "semaphore",
    "mp_event_unlink": "event",
    "mp_cond_unlink": "condition",
    "mp_barrier_unlink": "barrier",
    "mp_array_unlink": "array",
    "mp_shm_unlink": "shared_memory",
    "mp_shm_unlink_raw": "raw_shared_memory",
    "mp_slist_unlink": "shareable_list",
}

# Signals the tracker ignores: Ctrl-C in a terminal reaches the whole
# process group, and a supervisor's SIGTERM may too.
_IGNORED = {signal.SIGINT, signal.SIGTERM}

# The pipe's size (F_SETPIPE_SZ; 1 MiB is Linux's default limit for an
# unprivileged process) and the tracker's reading interval: together ~20k
# registrations before a creator's write would wait for the tracker.
PIPE_SIZE = 1 << 20
BATCH_SECONDS = 0.02

_lock = threading.Lock()
_fd = None  # write end of the pipe to the tracker; inherited by forked children
_pid = None  # the tracker's pid, in the process that started it
# (kind, name) this process registered and has not unregistered: sent again
# to a new tracker if the old one died. A dict for its order.
_mine = {}
# Set when no tracker can be started (no usable sys.executable, as in some
# embedded interpreters): objects are then not tracked, with one warning.
_disabled = False


def register(kind, name):
    """Have the tracker unlink `name` of `kind` if this process tree ends
    without unregistering it."""
    key = (kind, name)
    with _lock:
        if _disabled:
            return
        _mine[key] = None
        _send(b"R\t%s\t%s\n" % (kind.encode(), name.encode()))


def unregister(kind, name):
    """The name was unlinked (or is to be kept): forget it."""
    key = (kind, name)
    with _lock:
        _mine.pop(key, None)
        if _fd is not None:
            _send(b"U\t%s\t%s\n" % (kind.encode(), name.encode()))


def registered(kind, name):
    """Whether this process registered `name` of `kind` (and has not
    unregistered it)."""
    return (kind, name) in _mine


def tracker_pid():
    """The pid of the tracker this process started, or None (none started,
    or this process inherited its parent's tracker through fork)."""
    return _pid


def _send(line):
    """Write one line to the tracker, starting one first if there is none
    or the last one died. Called with _lock held."""
    global _fd
    if _fd is None:
        _start()
    if _fd is None:
        return  # disabled
    try:
        os.write(_fd, line)
        return
    except BrokenPipeError:
        # The tracker is gone (killed): start another and register again
        # what this process still has (`line` included, if a registration).
        os.close(_fd)
        _fd = None
    _start()
    if _fd is None:
        return  # disabled
    # A new pipe: the tracker reads it as fast as it is written, so these
    # writes block at most briefly, and a tracker killed again in between
    # is noticed at the next registration.
    try:
        for kind, name in _mine:
            os.write(_fd, b"R\t%s\t%s\n" % (kind.encode(), name.encode()))
    except BrokenPipeError:
        pass


def _start():
    """Start a tracker process and keep the write end of its pipe; if that
    fails, warn once and track nothing more in this process."""
    global _disabled
    try:
        _spawn()
    except Exception as e:
        import warnings

        _disabled = True
        _mine.clear()
        warnings.warn("mpipc: cannot start the resource tracker (%s): objects with generated names are not "
                      "removed if this process is killed" % (e,), RuntimeWarning, stacklevel=4)


def _spawn():
    global _fd, _pid
    import multiprocessing.util

    r, w = os.pipe()  # both non-inheritable (PEP 446): a fork keeps them, an exec does not
    try:
        try:
            import fcntl

            fcntl.fcntl(w, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_SIZE)
        except OSError:
            pass  # a smaller pipe only means writers may wait for the tracker
        here = os.path.abspath(__file__)
        package_parent = os.path.dirname(os.path.dirname(here))
        code = ("import runpy; runpy.run_path(%r, run_name='mpipc_tracker')['main'](%d, %r)"
                % (here, r, package_parent))
        exe = sys.executable
        # The tracker starts with SIGINT and SIGTERM blocked (the mask
        # survives exec) and unblocks them once it ignores them, so that
        # one sent in between cannot kill it (as CPython's tracker does).
        # The mask is per thread: this thread's is the one the spawned
        # process inherits.
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _IGNORED)
        try:
            _pid = multiprocessing.util.spawnv_passfds(os.fsencode(exe), [exe, "-c", code], [r])
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    except BaseException:
        os.close(w)
        raise
    finally:
        os.close(r)
    _fd = w


def _after_fork_in_child():
    # The child shares the parent's tracker (the write end is inherited) but
    # did not create the parent's objects: it re-registers only its own if
    # it ever has to start a new tracker. A lock held by another thread of
    # the parent at fork time would never be released here.
    global _lock, _pid
    _lock = threading.Lock()
    _mine.clear()
    _pid = None


os.register_at_fork(after_in_child=_after_fork_in_child)


def main(fd, package_parent):
    """The tracker process: read registrations until every writer is gone,
    then unlink what is still registered."""
    for sig in _IGNORED:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _IGNORED)
    live = {}
    rest = b""
    while True:
        data = os.read(fd, PIPE_SIZE)
        if not data:
            break  # every writer is gone
        *lines, rest = (rest + data).split(b"\n")
        for line in lines:
            try:
                op, kind, name = line.decode("ascii").split("\t")
            except ValueError:
                continue  # not ours: ignore rather than die
            if op == "R":
                live[(kind, name)] = None
            elif op == "U":
                live.pop((kind, name), None)
        # Read in batches: a wake-up per registration would cost the
        # creators a context switch each (on a busy machine, a share of
        # their CPU). Not a synchronisation: only end-of-file matters,
        # and the pipe holds far more than a batch interval's lines.
        time.sleep(BATCH_SECONDS)
    os.close(fd)
    if not live:
        return
    sys.path.insert(0, package_parent)
    from mpipc._common import unlink

    for kind, name in live:
        try:
            unlink(kind, name)
        except FileNotFoundError:
            pass  # already removed (by another process, or never created)
        except Exception as e:  # keep unlinking the others
            print("mpipc resource tracker: cannot unlink %s %r: %s" % (kind, name, e), file=sys.stderr)
