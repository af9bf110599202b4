"""Value, Array, RawValue/RawArray, SharedMemory, ShareableList across
processes."""

import ctypes
import gc
import os
import pickle
import signal
import threading
import warnings

import pytest

import mpipc
from mpipc import Array, Event, RawArray, RawValue, ShareableList, SharedMemory, Value

from conftest import join_ok, python, start_child


def _incr(v, a, n):
    for _ in range(n):
        with v.get_lock():
            v.value += 1  # not atomic by itself: the lock makes it so
        a.incr(1, 2)


def test_value_and_array_across_processes(ctx):
    v = Value("i", 0)
    a = Array("q", [0, 0, 0])
    ps = [start_child(ctx, _incr, v, a, 500) for _ in range(3)]
    join_ok(*ps)
    assert v.value == 1500 and a[:] == [0, 3000, 0]
    v.close()
    a.close()


def _locked_increments(a, f, n):
    lock = a.get_lock()
    for _ in range(n):
        with lock:
            a[0] += 1  # in place: this thread holds the lock through this object
        with f.get_lock():
            f[0] -= 1.5
    for _ in range(n):
        with a.get_lock():
            with a.get_lock():  # recursive
                a[1] = a[1] + 1
        a.incr(2)


def test_array_locked_increments_in_place_across_processes_and_threads(ctx):
    a = Array("q", 3)
    f = Array("d", 1)
    procs = [start_child(ctx, _locked_increments, a, f, 2000) for _ in range(2)]
    threads = [threading.Thread(target=_locked_increments, args=(a, f, 2000)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    join_ok(*procs)
    assert a[:] == [8000, 8000, 8000] and f[0] == -12000.0
    a.close()
    f.close()


def _fresh_thread_accesses(a, v, out):
    # A thread that never touched a lock (no token yet) reads and writes
    # through the checked path; for lock=False objects, in place.
    out.append((a[0], v.value))
    a[0] = a[0] + 1
    v.value = v.value + 1


def test_array_fast_path_is_per_thread():
    a = Array("i", 1)
    v = RawValue("q", 5)
    out = []
    t = threading.Thread(target=_fresh_thread_accesses, args=(a, v, out))
    t.start()
    t.join()
    assert out == [(0, 5)] and a[0] == 1 and v.value == 6
    held = threading.Event()
    go = threading.Event()
    seen = []

    def holder():
        with a.get_lock():
            a[0] = 10  # in place: this thread holds the lock
            held.set()
            go.wait()
            seen.append(a[0])  # no other thread wrote meanwhile
            a[0] = 11

    h = threading.Thread(target=holder)
    h.start()
    assert held.wait(10)
    lock = a.get_lock()
    # Another thread of this process: the record is not its token, so it
    # neither releases the holder's lock nor touches the data in place.
    with pytest.raises(RuntimeError):
        lock.release()
    assert not lock.acquire(False)
    with pytest.raises(RuntimeError):
        lock.__exit__(None, None, None)
    writer = threading.Thread(target=a.__setitem__, args=(0, 99))  # waits for the lock
    writer.start()
    go.set()
    h.join()
    writer.join()
    assert seen == [10] and a[0] == 99
    a.close()
    v.close()


def _value_increments(v, n):
    lock = v.get_lock()
    for _ in range(n):
        with lock:
            v.value += 1  # in place


def test_value_locked_increments_in_place_across_processes(ctx):
    v = Value("i", 0)
    ps = [start_child(ctx, _value_increments, v, 3000) for _ in range(2)]
    _value_increments(v, 3000)
    join_ok(*ps)
    assert v.value == 9000
    with v.get_lock():
        with pytest.raises(TypeError):
            v.value = 1.5
        with pytest.raises(OverflowError):
            v.value = 2 ** 31
        assert v.value == 9000
    v.close()


def _hold_array_lock(name, started):
    a = Array("i", 2, name=name, create=False)
    a.get_lock().acquire()
    a[0] = 7  # written in place, then the holder dies before releasing
    started.set()
    signal.pause()


def test_array_lock_taken_from_a_dead_holder(ctx, name):
    a = Array("i", 2, name=name)
    started = Event()
    p = start_child(ctx, _hold_array_lock, name, started)
    assert started.wait(10)
    os.kill(p.pid, signal.SIGKILL)
    p.join()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with a.get_lock():
            assert a.owner_died
            assert a[0] == 7
            a[1] = a[0] + 1  # the data is ours to repair, in place
    assert [x.filename for x in w if issubclass(x.category, mpipc.OwnerDiedWarning)] == [__file__]
    with a.get_lock():
        assert not a.owner_died
    assert a[:] == [7, 8]
    a.unlink()
    a.close()
    started.close()


def test_array_element_errors_while_holding_the_lock():
    # The in-place path must raise what the checked path raises.
    a = Array("b", 3)
    with a.get_lock():
        a[-1] = 5
        assert a[2] == 5 and a[-3] == 0
        with pytest.raises(OverflowError):
            a[0] = 200
        with pytest.raises(TypeError):
            a[0] = 1.5
        with pytest.raises(IndexError):
            a[3]
        with pytest.raises(IndexError):
            a[-4] = 1
        a[1] = True  # a bool is an int (through the library)
        assert a[1] == 1 and a[0:3] == [0, 1, 5]
    f = Value("f", 0.0)
    with f.get_lock():
        f.value = 2  # an int into a float value (through the library)
        f.value += 0.5  # in place
        assert f.value == 2.5
    f.close()
    c = Array("c", b"ab")
    with c.get_lock():
        c[0] = b"x"
        c[1] = ord("y")
        assert c[0] == b"x" and c.value == b"xy"
    c.close()
    a.close()
    with pytest.raises(ValueError, match="closed"):
        a[0]
    with pytest.raises(ValueError, match="closed"):
        a[0] = 1
    with pytest.raises(ValueError, match="closed"):
        a.get_lock().acquire()


def test_array_closed_while_its_lock_is_held():
    a = Array("i", 1)
    lock = a.get_lock()
    lock.acquire()
    a[0] = 3
    a.close()
    with pytest.raises(ValueError, match="closed"):
        a[0]
    with pytest.raises(ValueError, match="closed"):
        a[0] = 4
    with pytest.raises(ValueError, match="closed"):
        lock.release()


def test_raw_array_in_place():
    # Raw objects are plain ctypes objects, as multiprocessing's: ctypes'
    # own conversions (an out-of-range int wraps, as in multiprocessing).
    a = RawArray("L", [2 ** 64 - 1, 0])
    a[1] = a[0]
    assert a[-1] == 2 ** 64 - 1
    a[0] = -1
    assert a[0] == 2 ** 64 - 1
    v = RawValue("d", 1.0)
    v.value += 1.0
    assert v.value == 2.0
    a.close()  # unlinks the generated name; the memory stays valid
    v.close()
    assert v.value == 2.0 and a[:] == [2 ** 64 - 1] * 2


def test_array_lock_released_through_another_object(name):
    # Two objects of one array in one process: a level taken through one and
    # released through the other leaves the first with no claim to the lock
    # (its accessors then take the library's path, which locks).
    a = Array("i", 1, name=name)
    b = Array("i", 1, name=name)
    a.get_lock().acquire()
    b.get_lock().release()
    assert a._owner is None  # the record that let a's accessors work in place is gone
    with pytest.raises(RuntimeError):
        a.get_lock().release()  # not held any more
    a[0] = 5
    assert b[0] == 5
    with a.get_lock():
        with b.get_lock():
            a[0] += 1
            b[0] += 1
    assert a[0] == 7
    a.unlink()
    a.close()
    b.close()


def _child_of_a_holder(a, res):
    # Forked while the parent held the lock: this process does not hold it.
    lock = a.get_lock()
    ok = not lock.acquire(False)
    try:
        lock.release()
        ok = False
    except RuntimeError:
        pass
    res.put(ok)


def test_fork_while_holding_an_array_lock(ctx):
    a = Array("i", 1)
    res = ctx.SimpleQueue()
    with a.get_lock():
        a[0] = 1
        p = start_child(ctx, _child_of_a_holder, a, res)
        assert res.get() is True
        join_ok(p)
        a[0] += 1
    assert a[0] == 2
    res.close()
    a.close()


def test_value_typecodes_and_ctypes():
    cases = [("b", -5), ("B", 200), ("h", -300), ("H", 60000), ("i", -2 ** 31), ("I", 2 ** 32 - 1),
             ("l", -2 ** 63), ("L", 2 ** 64 - 1), ("q", 2 ** 63 - 1), ("Q", 2 ** 64 - 1), ("f", 1.5), ("d", -0.25)]
    for tc, x in cases:
        v = Value(tc, x)
        assert v.value == x and v.typecode == tc
        v.close()
    v = Value(ctypes.c_double, 2.5)
    assert v.typecode == "d" and v.value == 2.5
    v.close()
    c = Value("c", b"x")
    assert c.value == b"x"
    c.value = b"y"
    assert c.value == b"y"
    c.close()
    u = Value("u", "x")
    assert u.value == "x"
    u.close()
    with pytest.raises(TypeError):
        Value("u", 0)  # multiprocessing's (ctypes') error too


def test_value_errors_as_python():
    v = Value("b", 0)
    with pytest.raises(OverflowError):
        v.value = 200
    with pytest.raises(TypeError):
        v.value = 1.5
    assert v.value == 0
    with pytest.raises(OverflowError):
        v.incr(1000)
    v.close()
    f = Value("d", 0)
    f.value = 3  # integers into float values are fine
    assert f.value == 3.0
    with pytest.raises(TypeError):
        f.incr()
    f.close()


def test_array_sequence_protocol():
    a = Array("i", range(5))
    assert len(a) == 5 and a[0] == 0 and a[-1] == 4 and list(a) == [0, 1, 2, 3, 4]
    a[1:3] = [10, 20]
    assert a[:] == [0, 10, 20, 3, 4] and a[::2] == [0, 20, 4]
    with pytest.raises(ValueError):
        a[0:2] = [1]
    with pytest.raises(IndexError):
        a[5]
    with pytest.raises(IndexError):
        a[-6] = 1
    with pytest.raises(OverflowError):
        a[0:1] = [2 ** 40]
    a.get_obj()[0] = 99  # zero-copy view
    assert a[0] == 99
    a.close()
    z = Array("d", 3)
    assert z[:] == [0.0, 0.0, 0.0]
    z.close()
    s = Array("c", b"hello\0\0")
    assert s.value == b"hello" and s.raw == b"hello\0\0"
    s.value = b"hi"
    assert s.value == b"hi"
    s.close()


def test_raw_values_have_no_lock():
    v = RawValue("i", 3)
    a = RawArray("d", [1.0, 2.0])
    assert v.value == 3 and a[:] == [1.0, 2.0]
    with pytest.raises(AttributeError):
        v.get_lock()
    v.close()
    a.close()


def test_named_array_initializer_applies_on_creation_only(name):
    a = Array("i", [1, 2, 3], name=name)
    b = Array("i", [7, 8, 9], name=name)  # attaches: keeps the data
    assert b[:] == [1, 2, 3]
    with pytest.raises(TypeError):
        Array("d", 3, name=name)  # another typecode
    with pytest.raises(ValueError):
        Array("i", 4, name=name)  # another length
    c = pickle.loads(pickle.dumps(a))
    assert c[:] == [1, 2, 3] and c.name == name
    a.unlink()


def test_shared_memory_python_semantics(name):
    with pytest.raises(ValueError):
        SharedMemory(create=True, size=0)
    with pytest.raises(ValueError):
        SharedMemory()
    with pytest.raises(FileNotFoundError):
        SharedMemory(name)
    shm = SharedMemory(name=name, create=True, size=64)
    assert shm.size == 64 and shm.name == name
    shm.buf[:5] = b"hello"
    with pytest.raises(FileExistsError):
        SharedMemory(name, create=True, size=64)
    view = shm.buf
    shm.close()
    assert shm.buf is None
    assert bytes(view[:5]) == b"hello"  # still mapped while a view lives
    del view
    assert os.path.exists("/dev/shm/mpipc.shm." + name)  # close never unlinks
    other = SharedMemory(name)
    assert bytes(other.buf[:5]) == b"hello" and other.size == 64
    other.close()
    shm.unlink()
    with pytest.raises(FileNotFoundError):
        shm.unlink()


def test_shared_memory_generated_name_cleaned_when_dropped():
    shm = SharedMemory(create=True, size=10)
    path = "/dev/shm/mpipc.shm." + shm.name
    assert os.path.exists(path)
    shm.close()
    assert os.path.exists(path)  # close does not unlink (Python code calls unlink next)
    del shm
    gc.collect()
    assert not os.path.exists(path)  # ... but a leak is cleaned when dropped


def test_shared_memory_with_another_program(name):
    shm = SharedMemory(name, create=True, size=16)
    python("import sys; from mpipc import SharedMemory; s = SharedMemory(sys.argv[1]); "
           "s.buf[0:3] = bytes(s.buf[0:3]).upper(); s.close()", name)
    shm.buf[:3] = b"abc"
    python("import sys; from mpipc import SharedMemory; s = SharedMemory(sys.argv[1]); "
           "s.buf[0:3] = bytes(s.buf[0:3]).upper(); s.close()", name)
    assert bytes(shm.buf[:3]) == b"ABC"
    shm.close()
    shm.unlink()


def _sl_child(sl):
    sl[0] = sl[0] + 1
    sl[1] = "from child"


def test_shareable_list(ctx):
    sl = ShareableList([1, "a string slot", None, b"\x00bytes\x00", 2.5, True])
    assert len(sl) == 6 and sl[3] == b"\x00bytes\x00"  # exact bytes, NULs kept
    p = start_child(ctx, _sl_child, sl)
    join_ok(p)
    assert sl[0] == 2 and sl[1] == "from child" and sl[-1] is True
    with pytest.raises(ValueError):
        sl[0] = "x" * 100  # beyond the slot
    with pytest.raises(IndexError):
        sl[6]
    with pytest.raises(TypeError):
        sl[0] = [1]
    assert sl.count(2.5) == 1 and sl.index(None) == 2
    other = ShareableList(name=sl.name)
    assert other[:] == sl[:]
    other.shm.close()
    sl.shm.close()
    sl.shm.unlink()
    with pytest.raises(TypeError):
        ShareableList([[1]])
