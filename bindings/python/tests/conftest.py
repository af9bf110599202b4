"""Shared fixtures: unique names, the start method's context (fork, and
spawn too for the core primitives' modules), child supervision, and a
session check that nothing this run created is left in /dev/shm."""

import itertools
import multiprocessing
import os
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
ROOT = os.path.normpath(os.path.join(PKG, "..", ".."))

# MPIPC_TEST_INSTALLED=1 (packaging/python/test-wheel.sh): the suite tests
# the mpipc installed in this interpreter (the wheel, with the library
# inside it), not the source tree next to it.
INSTALLED = os.environ.get("MPIPC_TEST_INSTALLED") == "1"
if not INSTALLED:
    sys.path.insert(0, PKG)

import mpipc  # noqa: E402

if INSTALLED and os.path.realpath(mpipc.__file__).startswith(os.path.realpath(PKG) + os.sep):
    raise RuntimeError("MPIPC_TEST_INSTALLED=1 but mpipc was imported from the source tree (%s): run pytest "
                       "from another directory" % mpipc.__file__)


def child_env(**extra):
    """The environment of a fresh Python child that must import the same
    mpipc as this process (the source tree via PYTHONPATH, or the installed
    package as it is)."""
    env = dict(os.environ, **extra)
    if not INSTALLED:
        env["PYTHONPATH"] = PKG + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def mpipc_command():
    """The `mpipc` command (manager server) for tests that need one: beside
    the library in a build directory, else the checkout's release build."""
    for path in (os.path.join(os.path.dirname(mpipc.LIB_PATH), "mpipc"),
                 os.path.join(ROOT, "target", "release", "mpipc")):
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return os.path.join(ROOT, "target", "release", "mpipc")

_counter = itertools.count()
RUN = "pyt%d" % os.getpid()


def shm_entries():
    return {f for f in os.listdir("/dev/shm") if f.startswith("mpipc.")}


def ours(entries):
    # Generated names start with "py<kind>-", test names with "pyt<pid>".
    return sorted(e for e in entries if e.split(".", 2)[-1].startswith("py"))


@pytest.fixture(scope="session", autouse=True)
def no_leftovers():
    before = shm_entries()
    yield
    import gc

    gc.collect()
    # A child a test killed leaves its names to its resource tracker, which
    # unlinks them after it sees the death: wait for that state (a busy
    # machine delays it), and fail only on names that stay.
    end = time.monotonic() + 30
    left = ours(shm_entries() - before)
    while left and time.monotonic() < end:
        time.sleep(0.01)  # polling a state
        left = ours(shm_entries() - before)
    assert not left, "left in /dev/shm: %s" % left


@pytest.fixture
def name():
    """A fresh object name for this test; unlinked afterwards whatever kind it became."""
    n = "%s-%d" % (RUN, next(_counter))
    yield n
    for kind in ("queue", "lock", "semaphore", "event", "condition", "barrier", "array", "shared_memory",
                 "shareable_list"):
        for suffix in ("", ".lock"):
            try:
                mpipc.unlink(kind, n + suffix)
            except (FileNotFoundError, mpipc.Error):
                pass


@pytest.fixture
def names(name):
    """A factory of further fresh names (each unlinked afterwards)."""
    made = []

    def make():
        n = "%s-%d" % (name, len(made))
        made.append(n)
        return n

    yield make
    for n in made:
        for kind in ("queue", "lock", "semaphore", "event", "condition", "barrier", "array",
                     "shared_memory", "shareable_list"):
            try:
                mpipc.unlink(kind, n)
            except (FileNotFoundError, mpipc.Error):
                pass


# The modules whose cross-process cases run under both start methods, as
# CPython's test_multiprocessing runs its cases once per start method: the
# core primitives (queues, pipes, locks and the other sync objects, shared
# values), whose child targets are module-level functions, so a spawned
# child can import them and get every argument pickled (mpipc objects by
# name, Connections as descriptors). The other modules' children are forked.
BOTH_START_METHODS = ("test_queue", "test_sync", "test_pipe", "test_shared", "test_issue18_surface")


def pytest_generate_tests(metafunc):
    if "ctx" in metafunc.fixturenames and metafunc.module.__name__.rpartition(".")[2] in BOTH_START_METHODS:
        metafunc.parametrize("ctx", ["fork", "spawn"], indirect=True)


@pytest.fixture
def ctx(request):
    """The multiprocessing context children start with: fork, and in the
    modules of BOTH_START_METHODS also spawn (each case runs twice)."""
    return multiprocessing.get_context(getattr(request, "param", "fork"))


def run_child(ctx, target, *args, timeout=20):
    """Run target(*args) in a child started by `ctx`; return its exit code."""
    p = ctx.Process(target=target, args=args)
    p.start()
    p.join(timeout)
    if p.is_alive():
        p.kill()
        p.join()
        raise AssertionError("child timed out")
    return p.exitcode


def start_child(ctx, target, *args):
    p = ctx.Process(target=target, args=args, daemon=True)
    p.start()
    return p


def _in_futex_wait(pid):
    """Whether process `pid` sleeps in a futex wait (its only thread)."""
    try:
        with open("/proc/%d/wchan" % pid) as f:
            wchan = f.read()
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state == "S" and "futex" in wchan


def wait_blocked_in_futex(pid, asleep_in_a_row=3):
    """Waits until process `pid` is asleep in a futex wait, checked a few
    times in a row (a sliced wait wakes up every 100 ms): the state "inside
    the blocking call", for tests that interrupt it, instead of sleeping
    for a duration and hoping the child got there."""
    deadline = time.monotonic() + 60
    n = 0
    while time.monotonic() < deadline:
        n = n + 1 if _in_futex_wait(pid) else 0
        if n >= asleep_in_a_row:
            return
        time.sleep(0.005)  # polling a state, not waiting for a duration
    raise AssertionError("child %d never blocked in a futex wait" % pid)


def join_ok(*procs, timeout=20):
    for p in procs:
        p.join(timeout)
        if p.is_alive():
            p.kill()
            p.join()
            raise AssertionError("child timed out")
        assert p.exitcode == 0, "child exit code %s" % p.exitcode


def python(code, *args, timeout=30, check=True):
    """Run `code` in a fresh Python (not forked) with the package importable."""
    import subprocess

    r = subprocess.run([sys.executable, "-c", code, *args], env=child_env(), capture_output=True, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("python child failed (%d):\n%s\n%s" % (r.returncode, r.stdout, r.stderr))
    return r
