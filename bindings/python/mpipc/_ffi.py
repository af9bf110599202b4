"""Loads libmpipc and applies the generated signatures (_bindings.py).

Where the library comes from, first match wins:

1. the environment variable ``MPIPC_LIB`` (a path to the shared library);
2. ``../../target/release/libmpipc.so`` relative to this package (a source
   checkout after ``cargo build --release``);
3. ``../../target/debug/libmpipc.so`` (after ``cargo build``);
4. ``ctypes.util.find_library("mpipc")`` (an installed library).

ctypes rather than cffi: it is in the standard library, needs no compiler
and no build step (the package is pure Python), releases the GIL around
every foreign call (so a blocked ``get`` lets other threads run), and the
header is simple enough -- opaque handles, fixed-width integers, byte
buffers -- that its ABI-mode signatures are generated straight from
include/mpipc.h (tools/gen_bindings.py). cffi's ABI mode would add a
dependency for no gain; its API mode needs a compiler.
"""

import ctypes
import ctypes.util
import os

from . import _bindings

# The library generation this package was written against: the header's
# MP_VERSION_* when _bindings.py was generated.
EXPECTED_VERSION = _bindings.MP_VERSION_NUMBER
ABI_VERSION = _bindings.MP_ABI_VERSION

_HERE = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    env = os.environ.get("MPIPC_LIB")
    if env:
        return [env]
    root = os.path.normpath(os.path.join(_HERE, "..", "..", ".."))
    out = [
        os.path.join(root, "target", "release", "libmpipc.so"),
        os.path.join(root, "target", "debug", "libmpipc.so"),
    ]
    found = ctypes.util.find_library("mpipc")
    if found:
        out.append(found)
    return out


def _load():
    tried = []
    for path in _candidates():
        if os.environ.get("MPIPC_LIB") is None and os.sep in path and not os.path.exists(path):
            tried.append("%s (missing)" % path)
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError(
        "mpipc: cannot load libmpipc.so; tried: %s. Build it with `cargo build --release` "
        "or point MPIPC_LIB at it." % "; ".join(tried)
    )


lib, LIB_PATH = _load()

for _name, (_restype, _params) in _bindings.FUNCTIONS.items():
    try:
        _fn = getattr(lib, _name)
    except AttributeError:
        raise ImportError("mpipc: %s lacks %s(): the library is older than this package" % (LIB_PATH, _name))
    _fn.restype = _restype
    _fn.argtypes = [t for _, t in _params]

# The same library without argtypes, for the few hot calls (queue put/get)
# whose arguments the caller passes as ready-made ctypes objects: ctypes
# then skips its per-argument conversion, which halves the call's cost.
# Every function returns mp_status (int32), ctypes' default restype.
raw = ctypes.CDLL(LIB_PATH)

VERSION_NUMBER = lib.mp_version_number()
VERSION = lib.mp_version().decode()


def _check_version():
    want_major, want_minor = EXPECTED_VERSION // 1000000, EXPECTED_VERSION // 1000 % 1000
    major, minor = VERSION_NUMBER // 1000000, VERSION_NUMBER // 1000 % 1000
    # Semantic versioning: same major, at least the minor we were generated
    # from (functions are only ever added); before 1.0 the minor is the
    # compatibility line.
    if major != want_major or minor < want_minor or (major == 0 and minor != want_minor):
        raise ImportError(
            "mpipc: %s is version %s, this package needs %d.%d.x (ABI %d)"
            % (LIB_PATH, VERSION, want_major, want_minor, ABI_VERSION)
        )


_check_version()
