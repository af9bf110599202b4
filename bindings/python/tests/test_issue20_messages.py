"""Issue 20, item 6: messages say what happened, in the user's words, as a
Python program meets them: a name in /dev/shm planted as a symlink or a
directory, an incr on text, a missing key, a ShareableList given bytes
that are not CBOR."""

import os

import pytest

import mpipc
from mpipc import _bindings as B
from mpipc._ffi import lib


def test_a_planted_symlink_is_a_permission_error_naming_it(name, tmp_path):
    target = "/dev/shm/%s-target" % name
    with open(target, "wb") as f:
        f.write(b"\0" * 4096)
    path = "/dev/shm/mpipc.lock.%s" % name
    os.symlink(target, path)
    try:
        with pytest.raises(PermissionError) as e:
            mpipc.Lock(name=name)
        assert e.value.code == B.MP_E_PERM
        assert "%s is a symbolic link to %s" % (path, target) in str(e.value)
        with pytest.raises(PermissionError):
            mpipc.Lock(name=name, create=False)
    finally:
        os.unlink(path)
        os.unlink(target)


def test_a_planted_directory_is_a_type_error_naming_it(name):
    path = "/dev/shm/mpipc.q.%s" % name
    os.mkdir(path)
    try:
        with pytest.raises(TypeError) as e:
            mpipc.Queue(name=name)
        assert e.value.code == B.MP_E_TYPE
        assert "%s is a directory, not a shared-memory segment" % path in str(e.value)
    finally:
        os.rmdir(path)


def test_manager_messages_show_values_as_written():
    m = mpipc.Manager()
    try:
        d = m.dict({"t": "text"})
        with pytest.raises(TypeError, match=r'incr: the value is text, not an integer: "text"'):
            d.incr("t")
        # KeyError carries the key itself, as a dict's does.
        with pytest.raises(KeyError) as e:
            d["missing"]
        assert e.value.args == ("missing",)
        with pytest.raises(KeyError) as e:
            d.pop((1, "a"))
        assert e.value.args == ((1, "a"),)
    finally:
        m.shutdown()


def test_shareable_list_malformed_cbor_is_corrupt_not_type(name):
    sl = mpipc.shared_memory.ShareableList([1, "abc"], name=name)
    try:
        handle = sl._ptr()
        for bad, code in ((b"\x63a", B.MP_E_CORRUPT), (b"\x01\x02", B.MP_E_CORRUPT),
                          (b"\x81\x01", B.MP_E_TYPE)):
            assert lib.mp_slist_set(handle, 0, bad, len(bad)) == code, bad
        assert sl[0] == 1
    finally:
        sl.shm.close()
        sl.shm.unlink()
