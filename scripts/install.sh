#!/usr/bin/env bash
# Installs the built library for C and C++ users (make install), and stages
# the Debian package's tree (packaging/c/dist.sh):
#
#   scripts/install.sh [--libdir DIR] [--keep-debug] BUILD_LIBDIR PREFIX [DESTDIR]
#
# BUILD_LIBDIR is target/release (built by `cargo build --locked
# --release`, whose build script gives libmpipc.so the soname
# libmpipc.so.MAJOR). Files go to DESTDIR/PREFIX; the paths written into
# them (mpipc.pc, the CMake config) use PREFIX alone, so a DESTDIR staging
# tree is packaged as is. LIBDIR (--libdir, absolute) defaults to
# PREFIX/lib; the Debian package uses /usr/lib/x86_64-linux-gnu.
#
#   LIBDIR/libmpipc.so.X.Y.Z        the shared library (soname libmpipc.so.X)
#   LIBDIR/libmpipc.so.X -> libmpipc.so.X.Y.Z   (what programs load)
#   LIBDIR/libmpipc.so   -> libmpipc.so.X       (what -lmpipc links)
#   LIBDIR/libmpipc.a               the static library
#   LIBDIR/pkgconfig/mpipc.pc       pkg-config
#   LIBDIR/cmake/mpipc/mpipcConfig.cmake, mpipcConfigVersion.cmake
#   PREFIX/include/mpipc.h, mpipc.hpp   C header, C++17 RAII wrapper
#   PREFIX/include/mpipc_json.hpp       C++ objects as nlohmann::json (optional; needs nlohmann/json)
#   PREFIX/bin/mpipc                    the command (ls, get, put, gc, manager serve, ...)
#
# The installed library and command are stripped (--strip-unneeded: the
# build keeps line tables, debug = 1, which make them 8 times bigger), the
# static library loses its debug sections and embedded LLVM bitcode
# (--strip-debug -R .llvmbc -R .llvmcmd; its symbols are what links).
# --keep-debug first copies the debug information of the library and the
# command into PREFIX/lib/debug/.build-id/xx/yyyy.debug, the layout gdb and
# Debian's -dbgsym packages use (docs/DECISIONS.md, "Packaging").
#
# A real install (DESTDIR empty) then makes the library visible to the
# dynamic loader: as root into a directory the loader searches (ld.so.conf
# or its built-in directories) it runs ldconfig; otherwise it says how to
# make it visible (an ld.so.conf.d entry, an rpath or LD_LIBRARY_PATH), and
# likewise for pkg-config and CMake outside their default prefixes.
#
#   scripts/install.sh --render-only [--libdir DIR] DIR PREFIX
#
# writes only the three generated files (DIR/lib/pkgconfig/mpipc.pc,
# DIR/lib/cmake/mpipc/*.cmake, or under DIR/<libdir relative to PREFIX>)
# and needs no build: tests/versions.rs uses it to check their versions
# against Cargo.toml.
set -euo pipefail

RENDER_ONLY=0
KEEP_DEBUG=0
LIBDIR=
while [[ $# -gt 0 ]]; do
    case $1 in
        --render-only) RENDER_ONLY=1; shift ;;
        --keep-debug) KEEP_DEBUG=1; shift ;;
        --libdir)
            [[ -n ${2:-} ]] || { echo "install: --libdir needs a directory" >&2; exit 2; }
            LIBDIR=$2
            shift 2
            ;;
        --libdir=*) LIBDIR=${1#--libdir=}; shift ;;
        --) shift; break ;;
        -*) echo "install: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
if [[ $# -lt 2 || $# -gt 3 || ($RENDER_ONLY == 1 && $# -ne 2) ]]; then
    echo "usage: scripts/install.sh [--libdir DIR] [--keep-debug] BUILD_LIBDIR PREFIX [DESTDIR]" >&2
    echo "       scripts/install.sh --render-only [--libdir DIR] DIR PREFIX" >&2
    exit 2
fi
BUILD=$1
PREFIX=$2
DESTDIR=${3:-}
if [[ $RENDER_ONLY == 1 ]]; then
    DESTDIR=$1
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)

case $PREFIX in
    /*) ;;
    *) echo "install: PREFIX must be an absolute path, not '$PREFIX'" >&2; exit 2 ;;
esac
PREFIX=${PREFIX%/}
[[ -n $PREFIX ]] || { echo "install: PREFIX / is not supported (use /usr)" >&2; exit 2; }
LIBDIR=${LIBDIR:-$PREFIX/lib}
case $LIBDIR in
    /*) LIBDIR=${LIBDIR%/} ;;
    *) echo "install: LIBDIR must be an absolute path, not '$LIBDIR'" >&2; exit 2 ;;
esac

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -n1)
if [[ ! $VERSION =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
    echo "install: cannot read the version from Cargo.toml (got '$VERSION')" >&2
    exit 1
fi
MAJOR=${BASH_REMATCH[1]}
MINOR=${BASH_REMATCH[2]}
SONAME=libmpipc.so.$MAJOR

if [[ $RENDER_ONLY == 0 ]]; then
    for f in libmpipc.so libmpipc.a mpipc; do
        if [[ ! -f $BUILD/$f ]]; then
            echo "install: $BUILD/$f is missing; run cargo build --locked --release first" >&2
            exit 1
        fi
    done
    for tool in readelf strip objcopy; do
        command -v "$tool" >/dev/null ||
            { echo "install: $tool is missing (binutils; scripts/install-deps.sh installs it with gcc)" >&2; exit 1; }
    done
    got=$(readelf -d "$BUILD/libmpipc.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    if [[ $got != "$SONAME" ]]; then
        echo "install: $BUILD/libmpipc.so has soname '$got', expected $SONAME (the build script sets it)" >&2
        exit 1
    fi
fi

# What a program linking libmpipc.a needs besides it: Rust's std on
# glibc Linux (`cargo rustc -- --print native-static-libs`). The install
# test links statically through pkg-config --static to keep this honest.
NATIVE="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
NATIVE_CMAKE=$(echo "$NATIVE" | sed 's/-l//g; s/ /;/g')
SIZEOF_VOID_P=$(getconf LONG_BIT)
SIZEOF_VOID_P=$((SIZEOF_VOID_P / 8))

# The generated files name the library directory relative to the prefix
# where they can, so that a moved tree keeps working.
if [[ $LIBDIR == "$PREFIX"/* ]]; then
    PC_LIBDIR='${prefix}'/${LIBDIR#"$PREFIX"/}
else
    PC_LIBDIR=$LIBDIR
fi
LIBDIR_TO_PREFIX=$(realpath -m --relative-to="$LIBDIR" "$PREFIX")

# Where a path of the installed tree is written now.
dest() {
    if [[ $RENDER_ONLY == 1 ]]; then
        if [[ $1 == "$PREFIX"/* ]]; then echo "$DESTDIR/${1#"$PREFIX"/}"; else echo "$DESTDIR$1"; fi
    else
        echo "$DESTDIR$1"
    fi
}
L=$(dest "$LIBDIR")
install -d "$L/pkgconfig" "$L/cmake/mpipc"
subst() {
    sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@LIBDIR@|$LIBDIR|g" -e "s|@PC_LIBDIR@|$PC_LIBDIR|g" \
        -e "s|@LIBDIR_TO_PREFIX@|$LIBDIR_TO_PREFIX|g" -e "s|@VERSION@|$VERSION|g" -e "s|@SOMAJOR@|$MAJOR|g" \
        -e "s|@MINOR@|$MINOR|g" -e "s|@NATIVE_STATIC_LIBS@|$NATIVE|g" \
        -e "s|@NATIVE_STATIC_LIBS_CMAKE@|$NATIVE_CMAKE|g" -e "s|@SIZEOF_VOID_P@|$SIZEOF_VOID_P|g" "$1" >"$2"
    chmod 0644 "$2"
}
subst "$ROOT/packaging/mpipc.pc.in" "$L/pkgconfig/mpipc.pc"
subst "$ROOT/packaging/mpipcConfig.cmake.in" "$L/cmake/mpipc/mpipcConfig.cmake"
subst "$ROOT/packaging/mpipcConfigVersion.cmake.in" "$L/cmake/mpipc/mpipcConfigVersion.cmake"
if [[ $RENDER_ONLY == 1 ]]; then
    exit 0
fi

D=$DESTDIR$PREFIX
install -d "$L" "$D/include" "$D/bin"

# Keeps SRC's debug information under PREFIX/lib/debug/.build-id/ (found by
# gdb, eu-stack, valgrind... through the build id the stripped copy keeps).
keep_debug() { # SRC
    local id dir
    id=$(readelf -n "$1" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
    [[ ${#id} -gt 2 ]] || { echo "install: $1 has no build id; cannot keep its debug information" >&2; exit 1; }
    dir=$D/lib/debug/.build-id/${id:0:2}
    install -d "$dir"
    objcopy --only-keep-debug --compress-debug-sections "$1" "$dir/${id:2}.debug"
    chmod 0644 "$dir/${id:2}.debug"
}
if [[ $KEEP_DEBUG == 1 ]]; then
    keep_debug "$BUILD/mpipc"
    keep_debug "$BUILD/libmpipc.so"
fi

# Strip into a temporary file beside the target, then rename it over, so
# that a running program mapping the old library never sees it rewritten.
# How each file is stripped: scripts/strip-native.sh.
install_stripped() { # SRC DST MODE
    local src=$1 dst=$2 mode=$3
    bash "$ROOT/scripts/strip-native.sh" "$src" "$dst.tmp-$$"
    chmod "$mode" "$dst.tmp-$$"
    mv -f "$dst.tmp-$$" "$dst"
}
install_stripped "$BUILD/mpipc" "$D/bin/mpipc" 0755
install_stripped "$BUILD/libmpipc.so" "$L/libmpipc.so.$VERSION" 0755
ln -sfn "libmpipc.so.$VERSION" "$L/$SONAME"
ln -sfn "$SONAME" "$L/libmpipc.so"
install_stripped "$BUILD/libmpipc.a" "$L/libmpipc.a" 0644
install -m 0644 "$ROOT/include/mpipc.h" "$ROOT/include/mpipc.hpp" "$ROOT/include/mpipc_json.hpp" "$D/include/"

echo "install: mpipc $VERSION installed in $D (libraries in $L)"
if [[ -n $DESTDIR ]]; then
    exit 0 # a staging tree: whoever installs it for real runs ldconfig
fi

# The directories the dynamic loader searches: ld.so.conf's and its
# built-in ones, as ldconfig lists them (-N -X: without touching the cache
# or the links, so this works unprivileged too). ldconfig merges
# directories that are the same through symlinks (/lib and /usr/lib with
# a merged /usr), hence the comparison of real paths.
LDCONFIG=$(command -v ldconfig || echo /sbin/ldconfig)
searched=0
real_libdir=$(realpath "$LIBDIR")
while IFS= read -r dir; do
    if [[ $(realpath -m "$dir") == "$real_libdir" ]]; then
        searched=1
    fi
done < <("$LDCONFIG" -v -N -X 2>/dev/null | sed -n 's|^\(/[^:]*\):.*|\1|p')

if [[ $searched == 1 && $(id -u) -eq 0 ]]; then
    "$LDCONFIG"
    # The cache may name the directory by another path (/lib/x86_64-linux-gnu
    # for /usr/lib/x86_64-linux-gnu): compare real paths again.
    ours=0
    others=()
    while IFS= read -r lib; do
        if [[ $(realpath -m "$(dirname "$lib")") == "$real_libdir" ]]; then ours=1; else others+=("$lib"); fi
    done < <("$LDCONFIG" -p | sed -n "s|^[[:space:]]*$SONAME (.*) => \(.*\)\$|\1|p")
    if [[ $ours == 1 ]]; then
        echo "install: ran ldconfig: programs find $SONAME in $LIBDIR with nothing set"
    else
        echo "install: NOTE: ran ldconfig, but its cache does not list $LIBDIR/$SONAME; check /etc/ld.so.conf" >&2
    fi
    if ((${#others[@]})); then
        echo "install: NOTE: another $SONAME is visible to the loader too (${others[*]}); programs may load either" >&2
    fi
elif [[ $searched == 1 ]]; then
    echo "install: NOTE: run 'sudo ldconfig' so that programs find $SONAME in $LIBDIR with nothing set"
else
    cat <<EOF
install: NOTE: $LIBDIR is not on the dynamic loader's search path, so programs
  linked with -lmpipc will not find $SONAME at run time by themselves. Either
    - add it (as root):  echo $LIBDIR > /etc/ld.so.conf.d/mpipc.conf && ldconfig
    - or link with an rpath:  cc app.c \$(pkg-config --cflags --libs mpipc) -Wl,-rpath,$LIBDIR
    - or run with:  LD_LIBRARY_PATH=$LIBDIR ./app
EOF
fi
if command -v pkg-config >/dev/null; then
    pc_path=$(pkg-config --variable pc_path pkg-config 2>/dev/null || true)
    if [[ ":$pc_path:${PKG_CONFIG_PATH:-}:" != *":$LIBDIR/pkgconfig:"* ]]; then
        echo "install: NOTE: pkg-config does not search $LIBDIR/pkgconfig: export PKG_CONFIG_PATH=$LIBDIR/pkgconfig"
    fi
fi
if [[ $PREFIX != /usr && $PREFIX != /usr/local ]]; then
    echo "install: NOTE: CMake's find_package(mpipc) needs -DCMAKE_PREFIX_PATH=$PREFIX (not a system prefix)"
fi
