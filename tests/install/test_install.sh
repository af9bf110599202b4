#!/usr/bin/env bash
# The install test (make install-test, part of make test): installs the
# release build into a temporary prefix with scripts/install.sh (what make
# install runs), then builds tests/install/consumer.c and consumer.cpp
# (and tests/install/wrapper.cpp, every class of mpipc.hpp, and
# json_wrapper.cpp, mpipc_json.hpp with nlohmann/json) against the
# installed copy two ways -- pkg-config + gcc/g++ (shared, and
# the C program statically with pkg-config --static) and CMake
# find_package(mpipc) -- runs each (a queue put/get across fork; the C++
# one uses mpipc.hpp and catches the exceptions of expected errors), and
# checks the installed soname, the symlinks, that the installed files are
# stripped (and KEEP_DEBUG=1's separate debug files), the note about the
# loader's search path, a DESTDIR staging install with a multiarch LIBDIR
# (found by CMake), that mp_version() is the package version, and that the
# Go binding links the installed copy with -tags mpipc_system.
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
# Whether stdin has a line matching the extended regexp $1. Reads all of
# it (unlike grep -q), so the writer of a long listing never dies of
# SIGPIPE, which pipefail would turn into a false "no match".
has() { local n; n=$(grep -Ec -- "$1" || true); [[ $n -gt 0 ]]; }
step() { echo "test_install: $*"; }

for tool in pkg-config cmake g++ readelf; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/install-deps.sh installs it)"
done
pkg-config --exists nlohmann_json || fail "nlohmann/json is not installed (scripts/install-deps.sh installs it)"

step "make install PREFIX=$PREFIX"
make -s -C "$ROOT" install-only PREFIX="$PREFIX" BUILD_LIBDIR="$BUILD" >"$TMP/install.log"
# A prefix the loader does not search: the installer says how to reach it.
grep -q "$PREFIX/lib is not on the dynamic loader's search path" "$TMP/install.log" ||
    { cat "$TMP/install.log"; fail "no note about the loader's search path"; }
grep -q "PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig" "$TMP/install.log" || fail "no note about PKG_CONFIG_PATH"

# Layout, symlinks, soname.
for f in lib/libmpipc.so.$VERSION lib/libmpipc.a include/mpipc.h include/mpipc.hpp include/mpipc_json.hpp \
    lib/pkgconfig/mpipc.pc lib/cmake/mpipc/mpipcConfig.cmake lib/cmake/mpipc/mpipcConfigVersion.cmake; do
    [[ -f $PREFIX/$f ]] || fail "$f not installed"
done
[[ $(readlink "$PREFIX/lib/libmpipc.so.$MAJOR") == "libmpipc.so.$VERSION" ]] || fail "libmpipc.so.$MAJOR link"
[[ $(readlink "$PREFIX/lib/libmpipc.so") == "libmpipc.so.$MAJOR" ]] || fail "libmpipc.so link"
soname=$(readelf -d "$PREFIX/lib/libmpipc.so.$VERSION" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == "libmpipc.so.$MAJOR" ]] || fail "installed soname is '$soname', expected libmpipc.so.$MAJOR"
for h in mpipc.h mpipc.hpp mpipc_json.hpp; do
    cmp -s "$ROOT/include/$h" "$PREFIX/include/$h" || fail "installed $h differs"
done
[[ $("$PREFIX/bin/mpipc" version) == "mpipc $VERSION" ]] || fail "installed bin/mpipc version"

# Stripped: no debug sections anywhere (.debug_gdb_scripts, an allocated
# section naming Rust's gdb pretty-printers, is no debug information and
# stays), no static symbol table in the library and the command (their
# dynamic symbols remain), while the static library keeps the symbols a
# link needs.
DEBUG_SECTIONS='\.debug_(info|line|str|abbrev|ranges|aranges|loc)'
for f in lib/libmpipc.so.$VERSION bin/mpipc lib/libmpipc.a; do
    if readelf -S -W "$PREFIX/$f" | has "$DEBUG_SECTIONS"; then fail "$f is installed with debug sections"; fi
done
for f in lib/libmpipc.so.$VERSION bin/mpipc; do
    if readelf -S -W "$PREFIX/$f" | has '\.symtab'; then fail "$f is installed with its symbol table"; fi
done
nm -D --defined-only "$PREFIX/lib/libmpipc.so.$VERSION" | has ' T mp_version$' || fail "libmpipc.so lost mp_version"
# (readelf, not nm: binutils' nm hands objects with embedded LLVM bitcode to
# its LTO plugin, which cannot read rustc's and then lists nothing.)
readelf -s -W "$PREFIX/lib/libmpipc.a" | has ' FUNC +GLOBAL +DEFAULT +[0-9]+ mp_version$' || fail "libmpipc.a lost mp_version"
if readelf -S -W "$PREFIX/lib/libmpipc.a" | has '\.llvmbc'; then fail "libmpipc.a still carries LLVM bitcode"; fi
step "installed files are stripped ($(du -k "$PREFIX/lib/libmpipc.so.$VERSION" | cut -f1) KiB .so, $(du -k "$PREFIX/lib/libmpipc.a" | cut -f1) KiB .a, $(du -k "$PREFIX/bin/mpipc" | cut -f1) KiB command)"

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
g++ -std=c++17 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror -o "$TMP/pc/json_cpp" "$HERE/json_wrapper.cpp" $(pkg-config --cflags --libs mpipc nlohmann_json)
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
run_wrapper pc-json "$TMP/pc/json_cpp"

# 2. CMake find_package(mpipc).
step "cmake with CMAKE_PREFIX_PATH=$PREFIX"
cmake -S "$HERE" -B "$TMP/cmake" -DCMAKE_PREFIX_PATH="$PREFIX" -DMPIPC_EXPECT_VERSION="$VERSION" \
    -DCMAKE_BUILD_TYPE=Release >"$TMP/cmake.log" 2>&1 || { cat "$TMP/cmake.log"; fail "cmake configure"; }
cmake --build "$TMP/cmake" >>"$TMP/cmake.log" 2>&1 || { cat "$TMP/cmake.log"; fail "cmake build"; }
run cmake-c "$TMP/cmake/consumer_c"
run cmake-cpp "$TMP/cmake/consumer_cpp"
run cmake-c-static "$TMP/cmake/consumer_c_static"
run_wrapper cmake-wrapper "$TMP/cmake/wrapper_cpp"
run_wrapper cmake-json "$TMP/cmake/json_cpp"

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

# 4. DESTDIR staging: files under DESTDIR, paths inside without it; a
# multiarch LIBDIR as the Debian package has (packaging/c/dist.sh), and
# KEEP_DEBUG=1.
ARCHLIB=lib/x86_64-linux-gnu
make -s -C "$ROOT" install-only DESTDIR="$TMP/stage" PREFIX=/opt/mpipc LIBDIR=/opt/mpipc/$ARCHLIB KEEP_DEBUG=1 \
    BUILD_LIBDIR="$BUILD" >"$TMP/stage.log"
S=$TMP/stage/opt/mpipc
[[ -f $S/$ARCHLIB/libmpipc.so.$VERSION ]] || fail "DESTDIR install missing the library in LIBDIR"
[[ ! -e $S/lib/libmpipc.so.$VERSION ]] || fail "DESTDIR install ignored LIBDIR"
grep -qx 'prefix=/opt/mpipc' "$S/$ARCHLIB/pkgconfig/mpipc.pc" || fail "DESTDIR leaked into mpipc.pc"
grep -qx "libdir=\${prefix}/$ARCHLIB" "$S/$ARCHLIB/pkgconfig/mpipc.pc" || fail "mpipc.pc does not name LIBDIR"
if grep -q 'NOTE' "$TMP/stage.log"; then fail "a DESTDIR install printed notes for a real install"; fi
for f in bin/mpipc $ARCHLIB/libmpipc.so.$VERSION; do
    id=$(readelf -n "$S/$f" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
    dbg=$S/lib/debug/.build-id/${id:0:2}/${id:2}.debug
    [[ -n $id && -f $dbg ]] || fail "KEEP_DEBUG=1 kept no debug file for $f"
    readelf -S -W "$dbg" 2>/dev/null | has '\.debug_line' || fail "$dbg holds no line tables"
    if readelf -S -W "$S/$f" | has "$DEBUG_SECTIONS"; then fail "$f is not stripped with KEEP_DEBUG=1"; fi
done
# CMake finds the moved tree (CMAKE_LIBRARY_ARCHITECTURE leads it to
# lib/<arch>/cmake) and the config's targets point at existing files.
mkdir -p "$TMP/cmake-arch"
cat >"$TMP/cmake-arch/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(arch C)
find_package(mpipc REQUIRED CONFIG)
get_target_property(so mpipc::mpipc IMPORTED_LOCATION)
get_target_property(a mpipc::mpipc_static IMPORTED_LOCATION)
get_target_property(inc mpipc::mpipc INTERFACE_INCLUDE_DIRECTORIES)
foreach(f "${so}" "${a}" "${inc}/mpipc.h")
  if(NOT EXISTS "${f}")
    message(FATAL_ERROR "mpipcConfig.cmake names ${f}, which does not exist")
  endif()
endforeach()
message(STATUS "mpipc library: ${so}")
CMAKE
cmake -S "$TMP/cmake-arch" -B "$TMP/cmake-arch/b" -DCMAKE_PREFIX_PATH="$S" -DCMAKE_LIBRARY_ARCHITECTURE=x86_64-linux-gnu \
    >"$TMP/cmake-arch.log" 2>&1 || { cat "$TMP/cmake-arch.log"; fail "CMake with a multiarch LIBDIR"; }
grep -q "mpipc library: $S/$ARCHLIB/libmpipc.so.$VERSION" "$TMP/cmake-arch.log" ||
    { cat "$TMP/cmake-arch.log"; fail "CMake found the library elsewhere"; }
step "DESTDIR + LIBDIR=/opt/mpipc/$ARCHLIB + KEEP_DEBUG=1 ok"

# 5. Bad input to the installer: a relative prefix.
if make -s -C "$ROOT" install-only PREFIX=relative/prefix BUILD_LIBDIR="$BUILD" >/dev/null 2>&1; then
    fail "install accepted a relative PREFIX"
fi
step "all install checks passed"
