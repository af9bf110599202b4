"""The library, its version, and the generated ctypes signatures."""

import os
import subprocess
import sys

import mpipc
from mpipc import _bindings, _ffi

from conftest import PKG


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
    env = dict(os.environ, PYTHONPATH=PKG, MPIPC_LIB=str(tmp_path / "nope.so"))
    r = subprocess.run([sys.executable, "-c", "import mpipc"], env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "cannot load libmpipc.so" in r.stderr
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
