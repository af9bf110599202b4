"""Issue 18, gaps 4, 9 and 10: ShareableList sized as multiprocessing's,
the resource tracker that removes what killed creators leave behind, and
shared memory shared with stock Python (multiprocessing.shared_memory).

Every comparison with stock behaviour runs the stock class of this very
interpreter beside mpipc's; every cross-process case uses real processes
(forked, spawned, or fresh interpreters) and waits for states (a name gone
from /dev/shm, a process gone), never for a duration."""

import multiprocessing
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
from multiprocessing import shared_memory as stock

import pytest

import mpipc
from mpipc import _tracker
from mpipc.shared_memory import ShareableList, SharedMemory

from conftest import child_env, join_ok, start_child

DEADLINE = 60  # seconds: generous, for a loaded machine; states are polled


def wait_for(cond, what, deadline=DEADLINE):
    """Polls `cond` until it holds (a state, not a duration)."""
    end = time.monotonic() + deadline
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.005)  # polling a state


def gone(pid):
    """Whether process `pid` has exited (a zombie nobody reaped counts)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


# ------------------------------------------------------------------ gap 4

def _outcome(fn):
    try:
        return ("ok", fn())
    except Exception as e:  # noqa: BLE001 - the outcome is what is compared
        return ("raise", type(e))


def _script(cls):
    """One program, run against a stock and an mpipc ShareableList."""
    out = []
    s = cls([1, 0, "abcdefgh", b"xy", None, True, 1.5, "", "\u00e9"])
    try:
        out.append(s.format)

        def set_(i, v):
            def f():
                s[i] = v
                return s[i]
            return f

        for i, v in [(0, 2**63 - 1), (0, -2**63), (1, 0.5), (2, "abcdefghijklmnop"), (2, b"z" * 16),
                     (4, "12345678"), (4, 3), (5, None), (3, "\u00e9\u00e9\u00e9\u00e9")]:
            out.append(_outcome(set_(i, v)))
        for i, v in [(0, 2**63), (0, -2**63 - 1), (2, "abcdefghijklmnopq"), (4, "123456789"),
                     (3, "\u00e9" * 5), (0, [1]), (0, (1,)), (0, {}), (0, 1j), (0, bytearray(b"x")), (9, 1)]:
            out.append(_outcome(set_(i, v)))
        out.append(_outcome(lambda: s[9]))
        out.append(s.format)
        items = list(s)
        # A failed assignment leaves the item as it was here; the stock
        # list reads back 0 after its failed struct.pack of 2**63 (its
        # format is changed before the value is packed).
        assert cls is not ShareableList or items[0] == -2**63
        out.append(items[1:])
        out.append((s.count(0.5), s.index(None), len(s)))
    finally:
        s.shm.close()
        s.shm.unlink()
    return out


def test_shareable_list_sizing_and_errors_match_stock():
    ours, theirs = _script(ShareableList), _script(stock.ShareableList)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if isinstance(a, tuple) and a and a[0] == "raise":
            # The same exception class, or a subclass of it (KeyError for an
            # unsupported type is also a TypeError here).
            assert b[0] == "raise" and issubclass(a[1], b[1]), (a, b)
        else:
            assert a == b


def test_shareable_list_format_and_capacities():
    s = ShareableList([7, "abcdefgh", b"", None, False, 2.0])
    try:
        assert s.format == "q16s8sxxxxxx?xxxxxxxx?d"
        assert [s.capacity(i) for i in range(len(s))] == [8, 16, 8, 8, 8, 8]
        s[0] = "\u00e9" * 4  # 8 UTF-8 bytes fit a number's slot
        assert s[0] == "\u00e9" * 4 and s.format.startswith("8s16s")
        with pytest.raises(ValueError, match="exceeds available storage"):
            s[0] = "\u00e9" * 4 + "x"
        with pytest.raises(struct.error):
            ShareableList([2**63])
        with pytest.raises(KeyError):
            ShareableList([[1]])
    finally:
        s.shm.close()
        s.shm.unlink()


def test_empty_shareable_list():
    e = ShareableList()
    try:
        assert len(e) == 0 and e.format == "" and list(e) == [] and e.name
        other = ShareableList(name=e.name)
        assert len(other) == 0
        assert len(pickle.loads(pickle.dumps(e))) == 0
        other.shm.close()
        with pytest.raises(IndexError):
            e[0]
        with pytest.raises(IndexError):
            e[0] = 1
    finally:
        e.shm.close()
        e.shm.unlink()
    assert len(ShareableList([])) == 0


def _fill(sl):
    sl[0] = -2**63
    sl[1] = 0.5
    sl[2] = "0123456789abcdef"  # 16 bytes in the slot of an 8-byte str
    sl[3] = "\u00e9" * 4


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_shareable_list_sizing_across_processes(method):
    sl = ShareableList([1, 0, "8 bytes!", 0.0])
    try:
        join_ok(start_child(multiprocessing.get_context(method), _fill, sl))
        assert list(sl) == [-2**63, 0.5, "0123456789abcdef", "\u00e9" * 4]
        assert sl.format == "qd16s8s"
    finally:
        sl.shm.close()
        sl.shm.unlink()


# ------------------------------------------------------------------ gap 9

VICTIM = r"""
import os, signal, sys
# The test stops this process with SIGTERM: its default action, whatever
# disposition the test run was started with.
signal.signal(signal.SIGTERM, signal.SIG_DFL)
import mpipc
from mpipc import _tracker
from mpipc.shared_memory import SharedMemory, ShareableList
explicit = sys.argv[1]
e = mpipc.Queue(name=explicit)  # explicitly named: never tracked
objs = [mpipc.Queue(), mpipc.Lock(), mpipc.RLock(), mpipc.Semaphore(), mpipc.Event(), mpipc.Condition(),
        mpipc.Barrier(2), mpipc.Value("i", 1), mpipc.Array("d", 4), SharedMemory(create=True, size=64),
        SharedMemory(create=True, size=64, raw=True), ShareableList([1, "x"])]
# Every segment of these objects (a Condition's lock included).
paths = ["/dev/shm/" + p for p in os.listdir("/dev/shm") if any(o.name in p for o in objs)]
if "--fork" in sys.argv:
    q = objs[0]
    pid = os.fork()
    if pid == 0:
        sys.stdin.readline()          # the test: "the parent is dead"
        q.put("child still here")     # the forked child uses the object
        sys.stdin.readline()          # the test: "exit now"
        os._exit(0)
print(_tracker.tracker_pid(), objs[0].name, *paths, flush=True)
signal.pause()
"""


def _start_victim(name, *extra):
    p = subprocess.Popen([sys.executable, "-c", VICTIM, name, *extra], env=child_env(), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().split()
    assert line, "victim failed"
    return p, int(line[0]), line[1], line[2:]


def _all_gone(paths):
    return lambda: not any(os.path.exists(p) for p in paths)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_generated_names_removed_after_the_creator_is_killed(name, sig):
    p, tracker, _, paths = _start_victim(name)
    assert len(paths) == 13 and all(os.path.exists(x) for x in paths)  # 12 objects and a Condition's lock
    # The tracker ignores SIGTERM (and SIGINT): it must still clean up.
    os.kill(tracker, signal.SIGTERM)
    os.kill(tracker, signal.SIGINT)
    p.send_signal(sig)
    p.wait()
    wait_for(_all_gone(paths), "the tracker to unlink %s" % paths)
    wait_for(lambda: gone(tracker), "the tracker to exit")
    # The explicitly named queue was never tracked.
    assert os.path.exists("/dev/shm/mpipc.q." + name)
    p.stdin.close()
    p.stdout.close()


def test_a_forked_child_keeps_the_object_until_it_exits(name):
    p, tracker, qname, paths = _start_victim(name, "--fork")
    p.kill()
    p.wait()
    # The parent is dead; its forked child still holds the tracker's pipe,
    # so the names stay: the child uses the queue, this process attaches to
    # it by name and gets the message.
    p.stdin.write("parent dead\n")
    p.stdin.flush()
    q = mpipc.Queue(name=qname, create=False)
    assert q.get(timeout=DEADLINE) == "child still here"
    assert all(os.path.exists(x) for x in paths)
    q.close()
    p.stdin.write("exit\n")
    p.stdin.close()
    wait_for(_all_gone(paths), "the tracker to unlink after the child exited")
    wait_for(lambda: gone(tracker), "the tracker to exit")
    p.stdout.close()


RELAUNCH = r"""
import os, signal, sys
import mpipc
from mpipc import _tracker
a = mpipc.Queue()
print(_tracker.tracker_pid(), a.name, flush=True)
sys.stdin.readline()   # the test killed the tracker
b = mpipc.Queue()      # EPIPE: a new tracker, a and b registered with it
print(_tracker.tracker_pid(), b.name, flush=True)
signal.pause()
"""


def test_a_killed_tracker_is_replaced_at_the_next_registration():
    p = subprocess.Popen([sys.executable, "-c", RELAUNCH], env=child_env(), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    t1, a = p.stdout.readline().split()
    os.kill(int(t1), signal.SIGKILL)
    wait_for(lambda: gone(int(t1)), "the tracker to die")
    p.stdin.write("go\n")
    p.stdin.flush()
    t2, b = p.stdout.readline().split()
    assert t2 != t1
    paths = ["/dev/shm/mpipc.q." + a, "/dev/shm/mpipc.q." + b]
    assert all(os.path.exists(x) for x in paths)
    p.kill()
    p.wait()
    wait_for(_all_gone(paths), "the new tracker to unlink both queues")
    p.stdin.close()
    p.stdout.close()


def _spawned_creator(report_name):
    report = mpipc.Queue(name=report_name, create=False)
    q = mpipc.Queue()
    report.put((q.name, _tracker.tracker_pid()))
    report.close()
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_spawned_child_tracks_what_it_creates(name):
    report = mpipc.Queue(name=name)
    p = start_child(multiprocessing.get_context("spawn"), _spawned_creator, name)
    qname, tracker = report.get(timeout=DEADLINE)
    assert tracker is not None and tracker != _tracker.tracker_pid()  # its own tracker
    p.join(DEADLINE)
    assert p.exitcode == -signal.SIGKILL
    wait_for(_all_gone(["/dev/shm/mpipc.q." + qname]), "the child's tracker to unlink its queue")
    report.close()


def test_registration_follows_the_life_of_the_name(name):
    q = mpipc.Queue()
    assert _tracker.registered("queue", q.name)
    q.close()  # a generated name is unlinked at close: unregistered
    assert not _tracker.registered("queue", q.name)
    s = SharedMemory(create=True, size=8)
    assert _tracker.registered("shared_memory", s.name)
    s.close()
    s.unlink()
    assert not _tracker.registered("shared_memory", s.name)
    kept = mpipc.Lock()
    kept.unlink_on_close = False  # kept on purpose: not removed after a crash either
    assert not _tracker.registered("lock", kept.name)
    mpipc.unlink("lock", kept.name)
    untracked = SharedMemory(create=True, size=8, track=False)
    assert not _tracker.registered("shared_memory", untracked.name)
    untracked.close()
    untracked.unlink()
    explicit = mpipc.Queue(name=name)
    assert not _tracker.registered("queue", name)
    explicit.close()
    sl = ShareableList([1])
    mpipc.unlink("shareable_list", sl.name)
    assert not _tracker.registered("shareable_list", sl.name)
    sl.shm.close()


# ------------------------------------------------------------------ gap 10

STOCK_CREATOR = r"""
import struct, sys
from multiprocessing.shared_memory import SharedMemory
s = SharedMemory(create=True, size=32)
struct.pack_into("<4d", s.buf, 0, 1.5, 2.5, -3.0, 1e300)
print(s.name, flush=True)
sys.stdin.readline()
print(struct.unpack_from("<d", s.buf, 24)[0], flush=True)
s.close()
s.unlink()
"""


def test_mpipc_attaches_to_a_stock_block():
    # A stock interpreter without mpipc on its path.
    p = subprocess.Popen([sys.executable, "-c", STOCK_CREATOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    name = p.stdout.readline().strip()
    s = SharedMemory(name)  # no mpipc block of that name: the stock one
    assert s.is_raw and s.size == 32
    assert struct.unpack_from("<4d", s.buf) == (1.5, 2.5, -3.0, 1e300)
    struct.pack_into("<d", s.buf, 24, 42.25)
    with pytest.raises(FileNotFoundError, match="raw"):
        SharedMemory(name, raw=False)  # the message points at raw=True
    assert SharedMemory(name, raw=True).size == 32
    s.close()
    p.stdin.write("done\n")
    p.stdin.close()
    assert p.stdout.readline().strip() == "42.25"
    assert p.wait() == 0
    p.stdout.close()
    with pytest.raises(FileNotFoundError):
        SharedMemory(name)


STOCK_READER = r"""
import sys
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory
s = SharedMemory(sys.argv[1])
# Python < 3.13 registers blocks it merely attaches to, and unlinks them at
# exit (gh-82300): this one is not its own.
resource_tracker.unregister(s._name, "shared_memory")
print(s.size, bytes(s.buf[:10]).decode(), flush=True)
s.buf[:4] = b"STOC"
s.close()
"""


@pytest.mark.parametrize("leading_slash", [False, True])
def test_a_stock_program_attaches_to_a_raw_mpipc_block(name, leading_slash):
    given = "/" + name if leading_slash else name
    s = SharedMemory(given, create=True, size=100, raw=True)
    try:
        assert s.is_raw and s.name == given and s.size == 100
        st = os.stat("/dev/shm/" + name)  # the POSIX name, as shm_open has it
        assert st.st_size == 100 and st.st_mode & 0o777 == 0o600
        s.buf[:10] = b"from mpipc"
        r = subprocess.run([sys.executable, "-c", STOCK_READER, given], capture_output=True, text=True,
                           timeout=DEADLINE)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "100 from mpipc"
        assert bytes(s.buf[:10]) == b"STOC mpipc"
    finally:
        s.close()
        s.unlink()
    assert not os.path.exists("/dev/shm/" + name)


def _read_raw(shm, out_name):
    out = mpipc.Queue(name=out_name, create=False)
    out.put((shm.is_raw, bytes(shm.buf[:5])))
    out.close()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_raw_block_crosses_to_children_as_raw(name, names, method):
    s = SharedMemory(names(), create=True, size=16, raw=True)
    out = mpipc.Queue(name=name)
    try:
        s.buf[:5] = b"hello"
        join_ok(start_child(multiprocessing.get_context(method), _read_raw, s, name))
        assert out.get(timeout=DEADLINE) == (True, b"hello")
    finally:
        out.close()
        s.close()
        s.unlink()


def test_bad_raw_input_gets_a_clear_error(name, names):
    with pytest.raises(FileNotFoundError):
        SharedMemory(name)  # neither kind exists
    with pytest.raises(FileNotFoundError):
        SharedMemory(name, raw=True)
    empty = "/dev/shm/" + name
    with open(empty, "wb"):
        pass
    try:
        with pytest.raises(ValueError, match="empty"):
            SharedMemory(name)  # a zero-size block (raw, found by auto-detection)
    finally:
        os.unlink(empty)
    with pytest.raises(ValueError, match="mpipc"):
        SharedMemory("mpipc.shm." + name, raw=True)
    ours = names()
    m = SharedMemory(ours, create=True, size=8)  # an mpipc block ...
    try:
        with pytest.raises(FileNotFoundError, match="without the raw flag"):
            SharedMemory(ours, raw=True)  # ... opened raw
        assert not SharedMemory(ours).is_raw  # auto-detection prefers it
    finally:
        m.close()
        m.unlink()
    r = SharedMemory(names(), create=True, size=8, raw=True)
    try:
        with pytest.raises(FileExistsError):
            SharedMemory(r.name, create=True, size=8, raw=True)
    finally:
        r.close()
        r.unlink()
    with pytest.raises(FileNotFoundError):
        r.unlink()
