#!/usr/bin/env bash
# Builds the Debian package of the C library (make dist, through
# packaging/dist.sh):
#
#   packaging/c/dist.sh LIBDIR DISTDIR
#
# LIBDIR is the release build (target/release: libmpipc.so, libmpipc.a,
# mpipc); DISTDIR/mpipc_<version>_amd64.deb is written, from a tree staged
# in build/c-dist/ by scripts/install.sh (what `make install` runs) with
# PREFIX=/usr and the multiarch LIBDIR /usr/lib/x86_64-linux-gnu:
#
#   /usr/lib/x86_64-linux-gnu/libmpipc.so.X.Y.Z, libmpipc.so.X, libmpipc.so,
#       libmpipc.a, pkgconfig/mpipc.pc, cmake/mpipc/mpipcConfig*.cmake
#   /usr/include/mpipc.h, mpipc.hpp, mpipc_json.hpp
#   /usr/bin/mpipc
#   /usr/share/doc/mpipc/copyright (machine-readable: MIT or Apache-2.0),
#       changelog.gz, THIRD-PARTY.gz (the Rust crates linked in, with
#       their licence texts)
#   DEBIAN/control (Depends computed from the symbol versions the library
#       and the command need), triggers (ldconfig), shlibs, md5sums
#
# The package is reproducible: every timestamp is SOURCE_DATE_EPOCH (the
# last commit's time unless set), and dpkg-deb sorts its members. It is
# for amd64 (x86-64 Linux with glibc) only; the script refuses elsewhere.
# docs/DECISIONS.md, "Packaging", says why it is one package.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: packaging/c/dist.sh LIBDIR DISTDIR" >&2
    exit 2
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "$1" && pwd)
DIST=$(cd "$2" && pwd)
umask 022
export LC_ALL=C

die() { echo "c/dist: $*" >&2; exit 1; }

# x86-64 Linux with glibc, and a dpkg that builds amd64 packages.
command -v dpkg-deb >/dev/null && command -v dpkg >/dev/null ||
    die "dpkg-deb is missing: the C package is a Debian package, built on Debian or Ubuntu (amd64)"
arch=$(dpkg --print-architecture)
if [[ $(uname -m) != x86_64 || $arch != amd64 ]]; then
    die "this host is $(uname -m) (dpkg architecture $arch); mpipc supports x86-64 Linux with glibc (amd64) only"
fi
getconf GNU_LIBC_VERSION >/dev/null 2>&1 || die "this host's C library is not glibc; mpipc supports x86-64 Linux with glibc only"
for tool in objdump readelf strip objcopy gzip md5sum; do
    command -v "$tool" >/dev/null || die "$tool is missing (binutils, coreutils, gzip)"
done
for f in libmpipc.so libmpipc.a mpipc; do
    [[ -f $BUILD/$f ]] || die "$BUILD/$f is missing; build first (cargo build --locked --release)"
done
for f in libmpipc.so mpipc; do
    machine=$(readelf -h "$BUILD/$f" | sed -n 's/^ *Machine: *//p')
    [[ $machine == "Advanced Micro Devices X86-64" ]] || die "$BUILD/$f is built for '$machine', not x86-64"
done

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -n1)
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "cannot read the version from Cargo.toml (got '$VERSION')"
MAJOR=${VERSION%%.*}
HOMEPAGE=$(sed -n 's/^repository = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -n1)
# Nobody's personal address: the project's contact is its issue tracker.
MAINTAINER="The mpipc developers <mpipc@users.noreply.github.com>"
MULTIARCH=x86_64-linux-gnu
DEB=mpipc_${VERSION}_amd64.deb

if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
    SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null) ||
        die "SOURCE_DATE_EPOCH is unset and $ROOT is no git checkout to take the last commit's time from"
fi
export SOURCE_DATE_EPOCH

WORK=$ROOT/build/c-dist
STAGE=$WORK/root
rm -rf "$WORK"
mkdir -p "$STAGE"

# 1. The files, as make install lays them out.
bash "$ROOT/scripts/install.sh" --libdir "/usr/lib/$MULTIARCH" "$BUILD" /usr "$STAGE" >/dev/null
# Debian policy 8.1: shared libraries are not executable.
chmod 0644 "$STAGE/usr/lib/$MULTIARCH/libmpipc.so.$VERSION"

# 2. Documentation: copyright, changelog, third-party licences.
DOC=$STAGE/usr/share/doc/mpipc
install -d "$DOC"
# A licence file as the body of a copyright-format paragraph: each line
# indented by one space, empty lines as " .", none at either end (the
# paragraph ends at the next empty line).
dep5_text() {
    awk '{ sub(/[ \t\r]+$/, ""); l[NR] = $0 }
         END { s = 1; n = NR; while (s <= n && l[s] == "") s++; while (n >= s && l[n] == "") n--
               for (i = s; i <= n; i++) print " " (l[i] == "" ? "." : l[i]) }' "$1"
}
upstream_copyright=$(sed -n 's/^Copyright (c) //p' "$ROOT/LICENSE-MIT" | head -n1)
[[ -n $upstream_copyright ]] || die "no 'Copyright (c)' line in LICENSE-MIT"
{
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: mpipc"
    echo "Upstream-Contact: $HOMEPAGE/issues"
    echo "Source: $HOMEPAGE"
    echo
    echo "Files: *"
    echo "Copyright: $upstream_copyright"
    echo "License: MIT or Apache-2.0"
    echo "Comment: libmpipc.so.$MAJOR, libmpipc.a and /usr/bin/mpipc also contain, linked in,"
    echo " the Rust standard library (Copyright The Rust Project Developers, MIT or"
    echo " Apache-2.0) and the Rust crates listed with their licences in"
    echo " /usr/share/doc/mpipc/THIRD-PARTY.gz."
    echo
    echo "License: MIT"
    dep5_text "$ROOT/LICENSE-MIT"
    echo
    echo "License: Apache-2.0"
    dep5_text "$ROOT/LICENSE-APACHE"
} >"$DOC/copyright"

# The crates linked into the library and the command, with their licence
# files (packaging/third-party.sh).
bash "$ROOT/packaging/third-party.sh" "libmpipc.so.$MAJOR, libmpipc.a and /usr/bin/mpipc" |
    gzip -9n >"$DOC/THIRD-PARTY.gz"

# A version without a Debian revision makes this a native package, whose
# changelog is changelog.gz.
{
    echo "mpipc ($VERSION) unstable; urgency=medium"
    echo
    echo "  * mpipc $VERSION: see $HOMEPAGE for the changes."
    echo
    echo " -- $MAINTAINER  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$DOC/changelog.gz"
chmod 0644 "$DOC"/*

# 3. Control files.
install -d -m 0755 "$STAGE/DEBIAN"
# Depends: what the library and the command link (NEEDED), each package at
# the newest symbol version used (what dpkg-shlibdeps would compute from
# the symbols files; it needs a debian/ source tree, this does not).
libs=("$STAGE/usr/lib/$MULTIARCH/libmpipc.so.$VERSION" "$STAGE/usr/bin/mpipc")
needed=$(readelf -d "${libs[@]}" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u)
for lib in $needed; do
    case $lib in
        libc.so.6 | ld-linux-x86-64.so.2 | libm.so.6 | libpthread.so.0 | libdl.so.2 | librt.so.1 | libutil.so.1) ;;
        libgcc_s.so.1) ;;
        *) die "the build needs $lib, which packaging/c/dist.sh does not map to a Debian package: add it" ;;
    esac
done
newest() { # PREFIX: the newest PREFIX<version> symbol version the files use
    objdump -T "${libs[@]}" | grep -o "(${1}[0-9][0-9.]*)" | tr -d '()' | sed "s/^$1//" | sort -uV | tail -n1
}
glibc=$(newest GLIBC_)
[[ -n $glibc ]] || die "objdump -T found no GLIBC_ symbol version"
depends="libc6 (>= $glibc)"
if grep -qx libgcc_s.so.1 <<<"$needed"; then
    gcc=$(newest GCC_)
    # libgcc-s1's symbols file maps GCC_x.y[.z] to version x.y.
    depends+=", libgcc-s1 (>= $(cut -d. -f1-2 <<<"${gcc:-3.0}"))"
fi
installed_size=$(du -sk --apparent-size --exclude=DEBIAN "$STAGE" | cut -f1)
cat >"$STAGE/DEBIAN/control" <<EOF
Package: mpipc
Version: $VERSION
Architecture: amd64
Maintainer: $MAINTAINER
Installed-Size: $installed_size
Depends: $depends
Suggests: nlohmann-json3-dev
Section: libs
Priority: optional
Homepage: $HOMEPAGE
Description: Python multiprocessing's primitives for C, C++ and any language
 mpipc gives processes written in any language the primitives of Python's
 multiprocessing, shared by name between processes: Queue and
 JoinableQueue in shared memory, Pipe, Listener and Client, a Manager
 (dict, list, namespace, locks, ... with atomic increments), SharedMemory,
 Array, Value, ShareableList, Lock, RLock, Semaphore, Event, Condition and
 Barrier. Values cross between languages as CBOR.
 .
 This package holds the C library (libmpipc.so.$MAJOR and libmpipc.a), the C
 header mpipc.h, the header-only C++17 wrapper mpipc.hpp (and mpipc_json.hpp,
 objects as nlohmann::json, which needs nlohmann-json3-dev), the pkg-config
 and CMake files (find_package(mpipc)), and the mpipc command (list,
 inspect, put and get, run a manager server). x86-64 Linux (glibc) only.
EOF
# The library is visible to the loader right after install and gone after
# removal: dpkg runs ldconfig once per run (what debhelper generates).
echo "activate-noawait ldconfig" >"$STAGE/DEBIAN/triggers"
# For packages built against this one (dpkg-shlibdeps): any 0.x release
# keeps released signatures (docs/DECISIONS.md, "Packaging").
echo "libmpipc $MAJOR mpipc (>= $VERSION)" >"$STAGE/DEBIAN/shlibs"
(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | sort | xargs -d '\n' md5sum) \
    >"$STAGE/DEBIAN/md5sums"
chmod 0644 "$STAGE/DEBIAN"/*

# 4. The package: uniform timestamps, root:root, sorted members.
find "$STAGE" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$WORK/$DEB" >/dev/null
dpkg-deb --info "$WORK/$DEB" >/dev/null || die "dpkg-deb --info cannot read $WORK/$DEB"
contents=$(dpkg-deb --contents "$WORK/$DEB")
for f in "./usr/lib/$MULTIARCH/libmpipc.so.$VERSION" "./usr/lib/$MULTIARCH/libmpipc.so.$MAJOR -> libmpipc.so.$VERSION" \
    "./usr/lib/$MULTIARCH/libmpipc.so -> libmpipc.so.$MAJOR" "./usr/lib/$MULTIARCH/libmpipc.a" \
    "./usr/lib/$MULTIARCH/pkgconfig/mpipc.pc" "./usr/lib/$MULTIARCH/cmake/mpipc/mpipcConfig.cmake" \
    ./usr/include/mpipc.h ./usr/include/mpipc.hpp ./usr/include/mpipc_json.hpp ./usr/bin/mpipc ./usr/share/doc/mpipc/copyright; do
    grep -qF -- " $f" <<<"$contents" || die "$DEB lacks $f"
done
if grep -v ' root/root ' <<<"$contents" | grep -q .; then die "$DEB has files not owned by root"; fi
mv -f "$WORK/$DEB" "$DIST/$DEB"
echo "c/dist: $DIST/$DEB ($(du -k "$DIST/$DEB" | cut -f1) KiB; Depends: $depends)"
