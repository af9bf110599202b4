#!/usr/bin/env bash
# Builds the Node package: DISTDIR/mpipc-<version>.tgz, an npm tarball of
# bindings/node that carries the stripped native library at
# prebuilds/linux-x64/libmpipc.so, which lib/loader.js loads with nothing set.
# One package, not a main package plus per-platform ones: see
# bindings/node/README.md ("Why one package").
#
# Usage: packaging/node/dist.sh LIBDIR DISTDIR
#   LIBDIR   absolute path of the built library (target/release: libmpipc.so)
#   DISTDIR  where the tarball goes (other ecosystems' files there are left alone)
#
# Stages a copy under build/node-dist/mpipc (never touches tracked files),
# checks that `npm pack` would ship exactly the expected files, then packs.
# Idempotent: the stage and the previous mpipc-<version>.tgz are replaced.
set -euo pipefail

if [ "$#" -ne 2 ]; then
    echo "usage: $0 LIBDIR DISTDIR" >&2
    exit 2
fi
die() { echo "packaging/node: $*" >&2; exit 1; }

[ -d "$1" ] || die "$1: no such directory"
[ -d "$2" ] || die "$2: no such directory"
# Absolute, since npm pack runs in the stage.
LIBDIR=$(cd "$1" && pwd)
DISTDIR=$(cd "$2" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SRC=$ROOT/bindings/node
STAGE=$ROOT/build/node-dist/mpipc

command -v npm >/dev/null || die "npm not found (scripts/install-deps.sh installs Node and npm)"
[ -f "$LIBDIR/libmpipc.so" ] || die "$LIBDIR/libmpipc.so not found (cargo build --release)"

rm -rf "$STAGE"
mkdir -p "$STAGE/prebuilds/linux-x64"
cp "$SRC/package.json" "$SRC/README.md" "$SRC/index.js" "$SRC/index.d.ts" "$STAGE/"
cp -R "$SRC/lib" "$STAGE/lib"
# The README's links into the repository (../../docs/...) point at the
# repository's web pages in the tarball, where those files are not.
sed -i 's#](\.\./\.\./#](https://github.com/mpipc/mpipc/blob/main/#g' "$STAGE/README.md"
cp "$ROOT/LICENSE-MIT" "$ROOT/LICENSE-APACHE" "$STAGE/"
# The licences of the Rust crates inside the library.
bash "$ROOT/packaging/third-party.sh" "prebuilds/linux-x64/libmpipc.so" >"$STAGE/THIRD-PARTY.txt"
bash "$ROOT/scripts/strip-native.sh" "$LIBDIR/libmpipc.so" "$STAGE/prebuilds/linux-x64/libmpipc.so"
chmod 0644 "$STAGE/prebuilds/linux-x64/libmpipc.so"

# The library must be the one users' other packages link against: soname libmpipc.so.0.
soname=$(readelf -d "$STAGE/prebuilds/linux-x64/libmpipc.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libmpipc.so.0 ] || die "libmpipc.so has soname '$soname', expected libmpipc.so.0"

# Exactly these files, no more (package.json "files" decides; README.md and
# package.json are always included by npm).
expected=$(printf '%s\n' LICENSE-APACHE LICENSE-MIT THIRD-PARTY.txt README.md index.d.ts index.js \
    $(cd "$STAGE" && find lib -type f) package.json prebuilds/linux-x64/libmpipc.so | sort)
actual=$(cd "$STAGE" && npm pack --dry-run --json | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      for (const f of JSON.parse(s)[0].files) console.log(f.path);
    });' | sort)
if [ "$expected" != "$actual" ]; then
    diff <(echo "$expected") <(echo "$actual") >&2 || true
    die "npm pack would not ship exactly the expected files (< expected, > packed)"
fi

version=$(node -p 'require(process.argv[1]).version' "$STAGE/package.json")
rm -f "$DISTDIR/mpipc-$version.tgz"
tarball=$(cd "$STAGE" && npm pack --pack-destination "$DISTDIR" --json | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s)[0].filename));')
[ -f "$DISTDIR/$tarball" ] || die "npm pack did not write $DISTDIR/$tarball"
echo "packaging/node: $DISTDIR/$tarball ($(du -h "$DISTDIR/$tarball" | cut -f1))"
