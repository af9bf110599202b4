#!/usr/bin/env bash
# Installs the built library for C and C++ users (make install):
#
#   scripts/install.sh LIBDIR_OF_BUILD PREFIX [DESTDIR]
#
# LIBDIR_OF_BUILD is target/release (built by `cargo build --locked
# --release`, whose build.rs gives libmpipc.so the soname libmpipc.so.MAJOR).
# Files go to DESTDIR/PREFIX; the paths written into them (mpipc.pc) use
# PREFIX alone, so a DESTDIR staging tree is packaged as is.
#
#   PREFIX/lib/libmpipc.so.X.Y.Z        the shared library (soname libmpipc.so.X)
#   PREFIX/lib/libmpipc.so.X -> libmpipc.so.X.Y.Z   (what programs load)
#   PREFIX/lib/libmpipc.so   -> libmpipc.so.X       (what -lmpipc links)
#   PREFIX/lib/libmpipc.a               the static library
#   PREFIX/include/mpipc.h, mpipc.hpp   C header, C++17 RAII wrapper
#   PREFIX/lib/pkgconfig/mpipc.pc       pkg-config
#   PREFIX/lib/cmake/mpipc/mpipcConfig.cmake, mpipcConfigVersion.cmake
#   PREFIX/bin/mpipc                    the command (ls, get, put, gc, manager serve, ...)
#
#   scripts/install.sh --render-only DIR PREFIX
#
# writes only the three generated files (DIR/lib/pkgconfig/mpipc.pc,
# DIR/lib/cmake/mpipc/*.cmake) and needs no build: tests/versions.rs uses
# it to check their versions against Cargo.toml.
set -euo pipefail

RENDER_ONLY=0
if [[ ${1:-} == --render-only ]]; then
    RENDER_ONLY=1
    shift
fi
if [[ $# -lt 2 || $# -gt 3 || ($RENDER_ONLY == 1 && $# -ne 2) ]]; then
    echo "usage: scripts/install.sh BUILD_LIBDIR PREFIX [DESTDIR]" >&2
    echo "       scripts/install.sh --render-only DIR PREFIX" >&2
    exit 2
fi
BUILD=$1
PREFIX=$2
DESTDIR=${3:-}
if [[ $RENDER_ONLY == 1 ]]; then
    DESTDIR=$1
    PREFIX=$2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)

case $PREFIX in
    /*) ;;
    *) echo "install: PREFIX must be an absolute path, not '$PREFIX'" >&2; exit 2 ;;
esac

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -n1)
if [[ ! $VERSION =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
    echo "install: cannot read the version from Cargo.toml (got '$VERSION')" >&2
    exit 1
fi
MAJOR=${BASH_REMATCH[1]}
MINOR=${BASH_REMATCH[2]}
SONAME=libmpipc.so.$MAJOR

for f in libmpipc.so libmpipc.a mpipc; do
    if [[ $RENDER_ONLY == 0 && ! -f $BUILD/$f ]]; then
        echo "install: $BUILD/$f is missing; run cargo build --locked --release first" >&2
        exit 1
    fi
done
got=$SONAME
if [[ $RENDER_ONLY == 0 ]]; then
    got=$(readelf -d "$BUILD/libmpipc.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
fi
if [[ $got != "$SONAME" ]]; then
    echo "install: $BUILD/libmpipc.so has soname '$got', expected $SONAME (build.rs sets it)" >&2
    exit 1
fi

# What a program linking libmpipc.a needs besides it: Rust's std on
# glibc Linux (`cargo rustc -- --print native-static-libs`). The install
# test links statically through pkg-config --static to keep this honest.
NATIVE="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
NATIVE_CMAKE=$(echo "$NATIVE" | sed 's/-l//g; s/ /;/g')
SIZEOF_VOID_P=$(getconf LONG_BIT)
SIZEOF_VOID_P=$((SIZEOF_VOID_P / 8))

D=$DESTDIR$PREFIX
if [[ $RENDER_ONLY == 1 ]]; then
    D=$DESTDIR
fi
install -d "$D/lib/pkgconfig" "$D/lib/cmake/mpipc"
subst() {
    sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@VERSION@|$VERSION|g" -e "s|@SOMAJOR@|$MAJOR|g" \
        -e "s|@MINOR@|$MINOR|g" -e "s|@NATIVE_STATIC_LIBS@|$NATIVE|g" \
        -e "s|@NATIVE_STATIC_LIBS_CMAKE@|$NATIVE_CMAKE|g" -e "s|@SIZEOF_VOID_P@|$SIZEOF_VOID_P|g" "$1" >"$2"
    chmod 0644 "$2"
}
subst "$ROOT/packaging/mpipc.pc.in" "$D/lib/pkgconfig/mpipc.pc"
subst "$ROOT/packaging/mpipcConfig.cmake.in" "$D/lib/cmake/mpipc/mpipcConfig.cmake"
subst "$ROOT/packaging/mpipcConfigVersion.cmake.in" "$D/lib/cmake/mpipc/mpipcConfigVersion.cmake"
if [[ $RENDER_ONLY == 1 ]]; then
    exit 0
fi

install -d "$D/lib" "$D/include" "$D/bin"
install -m 0755 "$BUILD/mpipc" "$D/bin/mpipc"
install -m 0755 "$BUILD/libmpipc.so" "$D/lib/libmpipc.so.$VERSION"
ln -sfn "libmpipc.so.$VERSION" "$D/lib/$SONAME"
ln -sfn "$SONAME" "$D/lib/libmpipc.so"
install -m 0644 "$BUILD/libmpipc.a" "$D/lib/libmpipc.a"
install -m 0644 "$ROOT/include/mpipc.h" "$ROOT/include/mpipc.hpp" "$D/include/"

echo "install: mpipc $VERSION installed in $D"
if [[ -z $DESTDIR && ( $PREFIX == /usr/local || $PREFIX == /usr ) && $(id -u) -eq 0 ]]; then
    ldconfig 2>/dev/null || true
fi
