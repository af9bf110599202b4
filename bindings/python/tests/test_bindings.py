"""The library, its version, and the generated ctypes signatures."""

import os
import subprocess
import sys

import pytest

import mpipc
from mpipc import _bindings, _ffi

from conftest import INSTALLED, PKG, child_env


def test_generated_bindings_match_the_header():
    r = subprocess.run([sys.executable, os.path.join(PKG, "tools", "gen_bindings.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_every_header_function_is_bound():
    assert len(_bindings.FUNCTIONS) >= 120
    for name in _bindings.FUNCTIONS:
        assert getattr(_ffi.lib, name).argtypes is not None


def test_version_matches_the_header():
    assert _ffi.lib.mp_version_number() == _bindings.MP_VERSION_NUMBER
    assert mpipc.LIB_VERSION == "%d.%d.%d" % (
        _bindings.MP_VERSION_MAJOR, _bindings.MP_VERSION_MINOR, _bindings.MP_VERSION_PATCH)


def test_library_path_override(tmp_path):
    # MPIPC_LIB wins; a wrong path is a clear ImportError.
    env = child_env(MPIPC_LIB=str(tmp_path / "nope.so"))
    r = subprocess.run([sys.executable, "-c", "import mpipc"], env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "cannot load libmpipc.so" in r.stderr
    assert "MPIPC_LIB: %s" % (tmp_path / "nope.so") in r.stderr
    env["MPIPC_LIB"] = mpipc.LIB_PATH
    r = subprocess.run([sys.executable, "-c", "import mpipc; print(mpipc.LIB_PATH)"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == mpipc.LIB_PATH


def test_status_codes_map_to_python_exceptions():
    import queue
    import threading
    import multiprocessing

    from mpipc._errors import error

    cases = {
        _bindings.MP_E_EMPTY: queue.Empty, _bindings.MP_E_FULL: queue.Full,
        _bindings.MP_E_EOF: EOFError, _bindings.MP_E_AUTH: multiprocessing.AuthenticationError,
        _bindings.MP_E_BUFSIZE: multiprocessing.BufferTooShort, _bindings.MP_E_INVAL: ValueError,
        _bindings.MP_E_INDEX: IndexError, _bindings.MP_E_TYPE: TypeError,
        _bindings.MP_E_BROKEN: threading.BrokenBarrierError, _bindings.MP_E_TIMEOUT: TimeoutError,
        _bindings.MP_E_NOTFOUND: FileNotFoundError, _bindings.MP_E_EXISTS: FileExistsError,
        _bindings.MP_E_PERM: PermissionError, _bindings.MP_E_IO: OSError,
        _bindings.MP_E_UNSUPPORTED: AttributeError, _bindings.MP_E_TOOBIG: ValueError,
    }
    for code, cls in cases.items():
        e = error(code, message="m")
        assert isinstance(e, cls) and isinstance(e, mpipc.Error), code
        assert e.code == code and e.status_name.startswith("MP_E_")
    # Codes without a Python counterpart are plain mpipc.Error with the code.
    for code in (_bindings.MP_E_PANIC, _bindings.MP_E_POISONED, _bindings.MP_E_CORRUPT, _bindings.MP_E_NULL):
        e = error(code, message="m")
        assert isinstance(e, mpipc.Error) and e.code == code


def test_library_comes_from_where_it_should():
    pkg_dir = os.path.dirname(os.path.abspath(mpipc.__file__))
    if INSTALLED:
        # The wheel: the library inside the package, the PEP 561 marker, and
        # exactly the source tree's modules.
        assert "MPIPC_LIB" not in os.environ
        assert mpipc.LIB_PATH == os.path.join(pkg_dir, "libmpipc.so")
        assert os.path.isfile(os.path.join(pkg_dir, "py.typed"))
        src = os.path.join(PKG, "mpipc")
        modules = sorted(f for f in os.listdir(src) if f.endswith(".py"))
        assert sorted(f for f in os.listdir(pkg_dir) if f.endswith(".py")) == modules
        for f in modules:
            with open(os.path.join(src, f), "rb") as a, open(os.path.join(pkg_dir, f), "rb") as b:
                assert a.read() == b.read(), "installed %s differs from the source tree's" % f
    else:
        assert pkg_dir == os.path.join(PKG, "mpipc")
        if os.environ.get("MPIPC_LIB"):
            assert mpipc.LIB_PATH == os.path.abspath(os.environ["MPIPC_LIB"])


def test_the_library_inside_the_package_comes_first(tmp_path):
    # A copy of the package with a library inside, MPIPC_LIB unset: that
    # library is loaded, whatever the system or a checkout has.
    import shutil

    pkg = tmp_path / "site" / "mpipc"
    shutil.copytree(os.path.dirname(os.path.abspath(mpipc.__file__)), str(pkg),
                    ignore=shutil.ignore_patterns("__pycache__"))
    if not (pkg / "libmpipc.so").exists():
        shutil.copy(mpipc.LIB_PATH, str(pkg / "libmpipc.so"))
    env = {k: v for k, v in os.environ.items() if k not in ("MPIPC_LIB", "PYTHONPATH")}
    env["PYTHONPATH"] = str(tmp_path / "site")
    r = subprocess.run([sys.executable, "-c", "import mpipc; print(mpipc.LIB_PATH)"], env=env, cwd=str(tmp_path),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(pkg / "libmpipc.so")


def test_other_platforms_are_refused_clearly(monkeypatch):
    assert _ffi._platform_problem() is None  # this machine: x86-64 Linux, glibc
    monkeypatch.setattr(sys, "platform", "darwin")
    assert _ffi._platform_problem() == "this is darwin"
    with pytest.raises(ImportError, match="supports x86-64 Linux with glibc only.*this is darwin"):
        _ffi._check_platform()
    monkeypatch.setattr(sys, "platform", "linux")

    class Uname:
        machine = "aarch64"

    monkeypatch.setattr(os, "uname", lambda: Uname)
    assert _ffi._platform_problem() == "this is aarch64 with a 64-bit Python"
    monkeypatch.undo()

    def no_glibc(name):
        raise ValueError("unrecognized configuration name")

    monkeypatch.setattr(os, "confstr", no_glibc)
    assert "not glibc" in _ffi._platform_problem()
