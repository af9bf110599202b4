"""Issue #18, gap 5: Value / Array / RawValue / RawArray as
multiprocessing.sharedctypes has them -- lock=None/False/<a lock>,
get_lock()/get_obj() only on synchronized wrappers, raw objects that are
plain ctypes objects, ctypes Structures, c_bool -- across processes
started by fork and by spawn."""

import ctypes
import multiprocessing
import multiprocessing.sharedctypes as mpsc
import pickle

import pytest

import mpipc
from mpipc import Array, RawArray, RawValue, RLock, Lock, SimpleQueue, Value

from conftest import join_ok

METHODS = ["fork", "spawn"]


class Point(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_double)]


class Named(ctypes.Structure):
    # A field called like the raw objects' own `name`: the field wins.
    _fields_ = [("name", ctypes.c_char * 8), ("n", ctypes.c_int)]


def test_raw_objects_are_plain_ctypes_objects():
    a = RawArray("i", 10)
    assert isinstance(a, ctypes.c_int * 10) and type(a).__name__ == "c_int_Array_10"
    assert len(a) == 10 and a[:] == [0] * 10
    a[2:5] = [7, 8, 9]
    assert a[1:6] == [0, 7, 8, 9, 0] and a[::3] == [0, 8, 0, 0] and a[-8] == 7
    # ctypes interop: the memory is the segment's, in place.
    assert ctypes.addressof(a) == a.__dict__["_mpipc_segment"].address
    m = memoryview(a)
    assert m.format == "<i" and m.shape == (10,) and m.nbytes == 40 and not m.readonly
    mi = m.cast("B").cast("i")  # the buffer numpy.frombuffer would use
    assert mi[2] == 7
    mi[3] = 80
    assert a[3] == 80
    c = (ctypes.c_int * 10).from_address(ctypes.addressof(a))
    c[0] = 5
    assert a[0] == 5
    v = RawValue("d", 2.5)
    assert isinstance(v, ctypes.c_double) and v.value == 2.5 and repr(v) == "c_double(2.5)"
    s = RawArray("c", b"hi\0")
    assert isinstance(s, ctypes.c_char * 3) and s.value == b"hi" and s.raw == b"hi\0"
    b = RawValue(ctypes.c_bool, 1)
    assert b.value is True
    p = RawValue(Point, 3, 1.5)
    assert isinstance(p, Point) and (p.x, p.y) == (3, 1.5)
    pa = RawArray(Point, [(1, 2.0), (3, 4.0)])
    assert [(q.x, q.y) for q in pa] == [(1, 2.0), (3, 4.0)]
    pa[1].x = 30  # an element is a view into the shared memory
    assert pa[1].x == 30
    for o in (a, v, s, b, p, pa):
        assert not hasattr(o, "get_lock") and not hasattr(o, "get_obj")
        o.close()


def test_like_multiprocessing_for_every_lock_argument():
    r = RLock()
    for mod in (mpsc, mpipc):
        assert not hasattr(mod.Value("i", 1, lock=False), "get_lock")  # the raw ctypes object
        assert isinstance(mod.Value("i", 1, lock=False), ctypes.c_int)
        assert isinstance(mod.Array("i", 3, lock=False), ctypes.c_int * 3)
        for lock in (True, None):
            v = mod.Value("i", 1, lock=lock)
            assert v.get_lock() is not None and v.get_obj().value == 1
            assert isinstance(v.get_obj(), ctypes.c_int)
            a = mod.Array("i", [1, 2], lock=lock)
            assert isinstance(a.get_obj(), ctypes.c_int * 2) and a.get_obj()[1] == 2
        assert mod.Value("i", lock=1).get_lock() is not None  # 1 == True, for both
        for bad in ("x", 0, 0.5):
            with pytest.raises(AttributeError):
                mod.Value("i", lock=bad)
            with pytest.raises(AttributeError):
                mod.Array("i", 2, lock=bad)
        for bad_type in ("x", object, 3):
            with pytest.raises(TypeError):
                mod.Value(bad_type)
            with pytest.raises(TypeError):
                mod.RawArray(bad_type, 2)
        with pytest.raises(TypeError):
            mod.Value("u", 0)  # ctypes refuses an int for c_wchar
        b = mod.Value(ctypes.c_bool)
        assert b.value is False
        b.value = 5
        assert b.value is True
        w = mod.Value("u", "z")
        assert w.value == "z"
        lk = mod.Value("i", 7, lock=r)
        assert lk.get_lock() is r
        with lk.get_lock():
            lk.value += 1
        assert lk.value == 8
        st = mod.Array("c", b"abc", lock=r)
        assert st.value == b"abc" and st.raw == b"abc"
    r.close()


def test_structure_values_and_arrays():
    v = Value(Point, 1, 2.0)
    assert (v.x, v.y) == (1, 2.0)
    with v.get_lock():
        v.x += 10
    assert v.x == 11 and isinstance(v.get_obj(), Point) and v.get_obj().y == 2.0
    a = Array(Point, [(1, 1.0), (2, 2.0)])
    assert len(a) == 2 and a[1].x == 2
    with a:
        a[0] = Point(5, 5.5)
    assert (a[0].x, a[0].y) == (5, 5.5)
    n = RawValue(Named, b"abc", 4)
    assert n.name == b"abc" and n.n == 4  # the field, not the segment's name
    n.name = b"xyz"
    assert n.name == b"xyz"
    for o in (v, a, n):
        o.close()  # a field called `name` does not hide close()


def test_other_languages_see_bytes_and_typed_elements(name, names):
    # A Structure's segment is bytes (typecode B, sizeof * n); the numeric
    # typecodes are typed elements. Opened here as any other language
    # would: by name, with the segment's own typecode.
    p = RawArray(Point, [(1, 0.5), (2, 1.5)], name=name)
    raw = RawArray("B", 0, name=name, create=False)
    assert len(raw) == 2 * ctypes.sizeof(Point)
    assert bytes(raw) == bytes(p)
    q = RawArray("q", [1, 2, 3], name=names())
    again = Array("q", 0, name=q.name, create=False)  # a typed view with the built-in lock
    assert again.typecode == "q" and again[:] == [1, 2, 3]
    with pytest.raises(TypeError):
        RawArray("d", 3, name=q.name, create=False)  # another typecode
    again.close()
    q.unlink()
    p.unlink()


def _child_shared(method, raw_a, raw_v, raw_p, sync_b, ext, rext, out):
    raw_a[0] += 1
    raw_v.value += 0.5
    raw_p.x += 2
    with sync_b.get_lock():
        sync_b.value = not sync_b.value
    for _ in range(200):
        # A plain Lock is not recursive: the wrapper's own accessors would
        # take it again (multiprocessing would deadlock; mpipc raises
        # RuntimeError), so the raw object is used under it.
        with ext.get_lock():
            ext.get_obj()[1] += 1
        with rext.get_lock():
            rext.value += 1  # an RLock: the accessors take it again
    out.put((type(raw_a).__name__, isinstance(raw_p, Point), ext.get_lock().name, type(sync_b.value).__name__))


@pytest.mark.parametrize("method", METHODS)
def test_raw_and_synchronized_objects_cross_processes(method):
    ctx = multiprocessing.get_context(method)
    lock = Lock()
    raw_a = RawArray("i", 4)
    raw_v = RawValue("d", 1.0)
    raw_p = RawValue(Point, 1, 0.0)
    sync_b = Value(ctypes.c_bool, False)
    ext = Array("i", 3, lock=lock)
    rlock = RLock()
    rext = Value("q", 0, lock=rlock)
    out = SimpleQueue()
    ps = [ctx.Process(target=_child_shared, args=(method, raw_a, raw_v, raw_p, sync_b, ext, rext, out), daemon=True)
          for _ in range(2)]
    for p in ps:
        p.start()
    join_ok(*ps, timeout=60)
    # The raw objects' += are unsynchronised (two children may race: each
    # of them wrote at least once); the locked counts are exact.
    reports = [out.get() for _ in range(2)]
    assert reports == [("c_int_Array_4", True, lock.name, "bool")] * 2
    assert ext[1] == 400 and rext.value == 400 and sync_b.value is False
    assert 1 <= raw_a[0] <= 2 and raw_p.x in (3, 5) and raw_v.value in (1.5, 2.0)
    for o in (raw_a, raw_v, raw_p, sync_b, ext, rext, lock, rlock, out):
        o.close()


def _child_locked_struct(v, n):
    for _ in range(n):
        with v.get_lock():
            v.x += 1
            v.y += 0.5


@pytest.mark.parametrize("method", METHODS)
def test_structure_value_locked_updates_across_processes(method):
    ctx = multiprocessing.get_context(method)
    v = Value(Point)
    ps = [ctx.Process(target=_child_locked_struct, args=(v, 300), daemon=True) for _ in range(3)]
    for p in ps:
        p.start()
    _child_locked_struct(v, 300)
    join_ok(*ps, timeout=60)
    assert (v.x, v.y) == (1200, 600.0)
    v.close()


def test_pickling_carries_names_and_the_external_lock():
    r = RLock()
    a = Array("d", [1.0, 2.0], lock=r)
    b = pickle.loads(pickle.dumps(a))
    assert b[:] == [1.0, 2.0] and b.get_lock().name == r.name and b.name == a.name
    raw = RawArray(Point, 2)
    raw2 = pickle.loads(pickle.dumps(raw))
    raw2[1].x = 9
    assert raw[1].x == 9 and type(raw2).__name__ == "Point_Array_2"
    v = Value(ctypes.c_bool, True)
    assert pickle.loads(pickle.dumps(v)).value is True
    c = mpipc.sharedctypes.copy(raw)
    c[1].x = 10
    assert raw[1].x == 9 and c[1].x == 10
    s = mpipc.sharedctypes.synchronized(RawValue("i", 4))
    with s:
        s.value += 1
    assert s.value == 5 and isinstance(s.get_lock(), RLock)
    for o in (a, raw, v, c, r):
        o.close()
    s.get_obj().close()
    s.get_lock().close()


def test_pointers_cannot_be_shared():
    for t in (ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.py_object):
        with pytest.raises(TypeError):
            RawValue(t)
