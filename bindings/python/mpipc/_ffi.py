"""Loads libmpipc and applies the generated signatures (_bindings.py).

mpipc supports x86-64 Linux with glibc only (the platform its wheel is
built and tagged for); importing it anywhere else raises ImportError at
once, rather than a cryptic failure to load the library.

Where the library comes from, first match wins:

1. the environment variable ``MPIPC_LIB`` (a path to the shared library),
   an explicit override: only that path is tried;
2. ``libmpipc.so`` inside this package's directory: what the wheel ships
   (``pip install mpipc``);
3. the system's ``libmpipc.so.0`` (the soname, found by the dynamic loader:
   the Debian package, or ``make install`` followed by ldconfig or with
   LD_LIBRARY_PATH);
4. only when this package sits in a source checkout (``bindings/python``
   of the repository): ``target/release/libmpipc.so``, then
   ``target/debug/libmpipc.so`` (development).

``LIB_PATH`` is the file that was loaded (for 3, where the loader found it).

ctypes rather than cffi: it is in the standard library, needs no compiler
and no build step (the Python code is the same on every CPython 3; only the
library inside is native), releases the GIL around every foreign call (so a
blocked ``get`` lets other threads run), and the header is simple enough --
opaque handles, fixed-width integers, byte buffers -- that its ABI-mode
signatures are generated straight from include/mpipc.h
(tools/gen_bindings.py). cffi's ABI mode would add a dependency for no
gain; its API mode needs a compiler.
"""

import ctypes
import os
import sys

from . import _bindings

# The library generation this package was written against: the header's
# MP_VERSION_* when _bindings.py was generated.
EXPECTED_VERSION = _bindings.MP_VERSION_NUMBER
ABI_VERSION = _bindings.MP_ABI_VERSION

_HERE = os.path.dirname(os.path.abspath(__file__))
_SONAME = "libmpipc.so.0"
_PLATFORM = "x86-64 Linux with glibc"


def _platform_problem():
    """Why this interpreter is not on the supported platform, or None."""
    if not sys.platform.startswith("linux"):
        return "this is %s" % sys.platform
    machine = os.uname().machine
    bits = 8 * ctypes.sizeof(ctypes.c_void_p)
    if machine != "x86_64" or bits != 64:
        # A 32-bit (or x32) Python on an x86-64 kernel has 32-bit pointers.
        return "this is %s with a %d-bit Python" % (machine, bits)
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"; absent on musl
    except (ValueError, OSError):
        libc = None
    if not libc or not libc.startswith("glibc"):
        return "this Linux's C library is not glibc (musl, as on Alpine?)"
    return None


def _check_platform():
    problem = _platform_problem()
    if problem:
        raise ImportError(
            "mpipc supports %s only (its native library, libmpipc.so, is built for that); %s"
            % (_PLATFORM, problem)
        )


def _checkout_root():
    """The repository root when this package is bindings/python/mpipc of a
    source checkout, else None (an installed package never looks there)."""
    root = os.path.normpath(os.path.join(_HERE, "..", "..", ".."))
    if os.path.isfile(os.path.join(root, "Cargo.toml")) and os.path.isfile(
        os.path.join(root, "include", "mpipc.h")
    ):
        return root
    return None


def _candidates():
    """(where, path or soname) in the order they are tried."""
    env = os.environ.get("MPIPC_LIB")
    if env:
        return [("MPIPC_LIB", env)]
    out = [
        ("the package", os.path.join(_HERE, "libmpipc.so")),
        ("the system", _SONAME),
    ]
    root = _checkout_root()
    if root:
        for build in ("release", "debug"):
            out.append(("the checkout", os.path.join(root, "target", build, "libmpipc.so")))
    return out


class _DlInfo(ctypes.Structure):
    _fields_ = [
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    ]


def _loaded_from(handle, fallback):
    """The file the dynamic loader mapped for `handle` (dladdr of one of its
    functions): what a soname resolved to."""
    try:
        dladdr = ctypes.CDLL(None).dladdr  # in libc since glibc 2.34
    except AttributeError:
        dladdr = ctypes.CDLL("libdl.so.2").dladdr
    dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
    dladdr.restype = ctypes.c_int
    info = _DlInfo()
    if dladdr(ctypes.cast(handle.mp_version, ctypes.c_void_p), ctypes.byref(info)) and info.dli_fname:
        return os.fsdecode(info.dli_fname)
    return fallback


def _load():
    tried = []
    for where, path in _candidates():
        if where != "MPIPC_LIB" and os.sep in path and not os.path.exists(path):
            tried.append("%s: %s (not there)" % (where, path))
            continue
        try:
            handle = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s: %s (%s)" % (where, path, e))
            continue
        if os.sep not in path:
            path = _loaded_from(handle, path)
        return handle, os.path.abspath(path) if os.sep in path else path
    if os.environ.get("MPIPC_LIB"):
        advice = "Fix or unset MPIPC_LIB to use the library inside the package."
    else:
        advice = (
            "The library ships inside the package: reinstall the mpipc wheel "
            "(pip install --force-reinstall mpipc-<version>-py3-none-manylinux_*_x86_64.whl), "
            "built for %s, the only supported platform; or set MPIPC_LIB to the path of a "
            "libmpipc.so built from source." % _PLATFORM
        )
    raise ImportError("mpipc: cannot load libmpipc.so; tried %s. %s" % ("; ".join(tried), advice))


_check_platform()
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

# The same library again, without argtypes, called WITHOUT releasing the
# GIL (ctypes.PyDLL): for the few hot calls that never wait -- a lock's
# try-acquire (timeout 0) and its release -- where releasing and re-taking
# the GIL costs about as much as the call itself. Never use it for a call
# that can block: every other thread of this process would stop with it,
# and one of them may be the thread that has to release what the call
# waits for. (PyDLL also checks for a pending Python exception after each
# call; the library never raises one, so that check is one cheap test.)
gil = ctypes.PyDLL(LIB_PATH)

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
