#!/usr/bin/env bash
# The install test (make install-test, part of make test): installs the
# release build into a temporary prefix with scripts/install.sh (what make
# install runs), then builds tests/install/consumer.c and consumer.cpp
# (and tests/install/wrapper.cpp, every class of mpipc.hpp) against the
# installed copy two ways -- pkg-config + gcc/g++ (shared, and
# the C program statically with pkg-config --static) and CMake
# find_package(mpipc) -- runs each (a queue put/get across fork; the C++
# one uses mpipc.hpp and catches the exceptions of expected errors), and
# checks the installed soname, the symlinks, a DESTDIR staging install,
# that mp_version() is the package version, and that the Go binding links
# the installed copy with -tags mpipc_system.
#
#   tests/install/test_install.sh [BUILD_LIBDIR]   (default target/release)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/target/release}" && pwd)
HERE=$ROOT/tests/install
TMP=$(mktemp -d /tmp/mpipc-install-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
PREFIX=$TMP/prefix
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -n1)
MAJOR=${VERSION%%.*}
NAME=mpipc-install-test-$$

fail() { echo "test_install: FAIL: $*" >&2; exit 1; }
step() { echo "test_install: $*"; }

for tool in pkg-config cmake g++ readelf; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/install-deps.sh installs it)"
done

step "make install PREFIX=$PREFIX"
make -s -C "$ROOT" install-only PREFIX="$PREFIX" BUILD_LIBDIR="$BUILD" >/dev/null

# Layout, symlinks, soname.
for f in lib/libmpipc.so.$VERSION lib/libmpipc.a include/mpipc.h include/mpipc.hpp \
    lib/pkgconfig/mpipc.pc lib/cmake/mpipc/mpipcConfig.cmake lib/cmake/mpipc/mpipcConfigVersion.cmake; do
    [[ -f $PREFIX/$f ]] || fail "$f not installed"
done
[[ $(readlink "$PREFIX/lib/libmpipc.so.$MAJOR") == "libmpipc.so.$VERSION" ]] || fail "libmpipc.so.$MAJOR link"
[[ $(readlink "$PREFIX/lib/libmpipc.so") == "libmpipc.so.$MAJOR" ]] || fail "libmpipc.so link"
soname=$(readelf -d "$PREFIX/lib/libmpipc.so.$VERSION" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == "libmpipc.so.$MAJOR" ]] || fail "installed soname is '$soname', expected libmpipc.so.$MAJOR"
cmp -s "$ROOT/include/mpipc.h" "$PREFIX/include/mpipc.h" || fail "installed mpipc.h differs"
[[ $("$PREFIX/bin/mpipc" version) == "mpipc $VERSION" ]] || fail "installed bin/mpipc version"

# 1. pkg-config + gcc / g++.
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
[[ $(pkg-config --modversion mpipc) == "$VERSION" ]] || fail "pkg-config --modversion: $(pkg-config --modversion mpipc)"
step "pkg-config --cflags --libs mpipc: $(pkg-config --cflags --libs mpipc)"
mkdir -p "$TMP/pc"
# shellcheck disable=SC2046
gcc -std=c11 -Wall -Wextra -Wpedantic -Werror -o "$TMP/pc/consumer_c" "$HERE/consumer.c" $(pkg-config --cflags --libs mpipc)
# shellcheck disable=SC2046
g++ -std=c++17 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror -o "$TMP/pc/consumer_cpp" "$HERE/consumer.cpp" $(pkg-config --cflags --libs mpipc)
# shellcheck disable=SC2046
g++ -std=c++17 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror -pthread -o "$TMP/pc/wrapper_cpp" "$HERE/wrapper.cpp" $(pkg-config --cflags --libs mpipc)
# shellcheck disable=SC2046
gcc -std=c11 -o "$TMP/pc/consumer_c_static" "$HERE/consumer.c" $(pkg-config --cflags mpipc) \
    "$PREFIX/lib/libmpipc.a" $(pkg-config --static --libs-only-l mpipc | sed 's/-lmpipc//')
# The programs find the library through LD_LIBRARY_PATH, as one in a
# non-system prefix would; they must load the soname link, not libmpipc.so.
needed=$(readelf -d "$TMP/pc/consumer_c" | sed -n 's/.*(NEEDED).*\[\(libmpipc[^]]*\)\].*/\1/p')
[[ $needed == "libmpipc.so.$MAJOR" ]] || fail "consumer_c needs '$needed', expected libmpipc.so.$MAJOR"
if readelf -d "$TMP/pc/consumer_c_static" | grep -q 'NEEDED.*libmpipc'; then
    fail "consumer_c_static depends on the shared libmpipc"
fi

run() { # label binary
    local out
    out=$(LD_LIBRARY_PATH=$PREFIX/lib "$2" "$NAME-$1") || fail "$1 exited with $?"
    grep -qx "version $VERSION" <<<"$out" || fail "$1: mp_version() is not $VERSION: $out"
    step "$1 ok"
}
run pc-c "$TMP/pc/consumer_c"
run pc-cpp "$TMP/pc/consumer_cpp"
run pc-c-static "$TMP/pc/consumer_c_static"
run_wrapper() { # label binary: every class of mpipc.hpp and its errors
    local out
    out=$(LD_LIBRARY_PATH=$PREFIX/lib "$2" "$NAME-$1" 2>"$TMP/$1.err") || { cat "$TMP/$1.err" >&2; fail "$1 exited with $?"; }
    [[ $out == ok ]] || fail "$1 printed '$out'"
    step "$1 ok"
}
run_wrapper pc-wrapper "$TMP/pc/wrapper_cpp"

# 2. CMake find_package(mpipc).
step "cmake with CMAKE_PREFIX_PATH=$PREFIX"
cmake -S "$HERE" -B "$TMP/cmake" -DCMAKE_PREFIX_PATH="$PREFIX" -DMPIPC_EXPECT_VERSION="$VERSION" \
    -DCMAKE_BUILD_TYPE=Release >"$TMP/cmake.log" 2>&1 || { cat "$TMP/cmake.log"; fail "cmake configure"; }
cmake --build "$TMP/cmake" >>"$TMP/cmake.log" 2>&1 || { cat "$TMP/cmake.log"; fail "cmake build"; }
run cmake-c "$TMP/cmake/consumer_c"
run cmake-cpp "$TMP/cmake/consumer_cpp"
run cmake-c-static "$TMP/cmake/consumer_c_static"
run_wrapper cmake-wrapper "$TMP/cmake/wrapper_cpp"

# The version file refuses what it must refuse.
mkdir -p "$TMP/cmake-bad"
cat >"$TMP/cmake-bad/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.16)
project(bad NONE)
find_package(mpipc $((MAJOR + 1)).0 CONFIG)
if(mpipc_FOUND)
  message(FATAL_ERROR "mpipc $VERSION accepted a request for $((MAJOR + 1)).0")
endif()
CMAKE
cmake -S "$TMP/cmake-bad" -B "$TMP/cmake-bad/b" -DCMAKE_PREFIX_PATH="$PREFIX" >"$TMP/cmake-bad.log" 2>&1 ||
    { cat "$TMP/cmake-bad.log"; fail "mpipcConfigVersion.cmake accepted an incompatible version"; }

# 3. The Go binding linked to the installed copy (-tags mpipc_system, flags
# from pkg-config): its version and queue tests. Go is part of make test's
# dependencies; a C/C++-only machine skips this step, and says so.
if command -v go >/dev/null; then
    (cd "$ROOT/bindings/go" &&
        CGO_CFLAGS="$(pkg-config --cflags mpipc)" CGO_LDFLAGS="$(pkg-config --libs mpipc)" \
            LD_LIBRARY_PATH=$PREFIX/lib go test -count=1 -tags mpipc_system -run 'TestVersion|TestQueue' . \
            >"$TMP/go.log" 2>&1) || { cat "$TMP/go.log"; fail "Go binding against the installed library"; }
    step "go -tags mpipc_system ok"
else
    step "go not installed: the Go binding's system-library check is skipped"
fi

# 4. DESTDIR staging: files under DESTDIR, paths inside without it.
make -s -C "$ROOT" install-only DESTDIR="$TMP/stage" PREFIX=/opt/mpipc BUILD_LIBDIR="$BUILD" >/dev/null
[[ -f $TMP/stage/opt/mpipc/lib/libmpipc.so.$VERSION ]] || fail "DESTDIR install missing the library"
grep -qx 'prefix=/opt/mpipc' "$TMP/stage/opt/mpipc/lib/pkgconfig/mpipc.pc" || fail "DESTDIR leaked into mpipc.pc"

# 5. Bad input to the installer: a relative prefix.
if make -s -C "$ROOT" install-only PREFIX=relative/prefix BUILD_LIBDIR="$BUILD" >/dev/null 2>&1; then
    fail "install accepted a relative PREFIX"
fi
step "all install checks passed"
