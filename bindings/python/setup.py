"""The wheel's platform half (pyproject.toml holds the metadata).

The Python code is pure ctypes, the same on every CPython 3, but the wheel
carries libmpipc.so (mpipc/libmpipc.so, staged by packaging/python/dist.sh)
and so is a platform wheel: py3-none-linux_x86_64 here, which auditwheel
turns into py3-none-manylinux_2_XX_x86_64. Building refuses anything but
x86-64 Linux with glibc, and a tree without the library.
"""

import os
import sys

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))


def _glibc():
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError):
        return False


if not (sys.platform.startswith("linux") and os.uname().machine == "x86_64" and _glibc()):
    sys.exit("mpipc: supports x86-64 Linux with glibc only (its native library is built for that); "
             "this is %s %s" % (sys.platform, os.uname().machine))
if not os.path.isfile(os.path.join(HERE, "mpipc", "libmpipc.so")):
    sys.exit("mpipc: mpipc/libmpipc.so is missing: build the wheel with packaging/python/dist.sh, "
             "which stages the library into a copy of this directory")


class BinaryDistribution(Distribution):
    """A distribution with native code (the library), so that it installs
    into platlib and the wheel is not marked pure."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    """Tagged for the platform but not for a CPython ABI: the Python code
    loads the library with ctypes, it is no extension module."""

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(distclass=BinaryDistribution, cmdclass={"bdist_wheel": PlatformWheel})
