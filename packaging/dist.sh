#!/usr/bin/env bash
# `make dist`: every distributable of mpipc into dist/, built from the
# release build (target/release, with the names scripts/link-outputs.sh
# gives) and the lockfiles. Each ecosystem's packaging/<eco>/dist.sh writes
# its own files:
#   c       dist/mpipc_<version>_amd64.deb (library, headers, pkg-config, CMake, command)
#   python  dist/mpipc-<version>-py3-none-manylinux_*_x86_64.whl
#   node    dist/mpipc-<version>.tgz
#   go      dist/goproxy/ (a file-based Go module proxy holding the module and its dependencies)
#   rust    dist/mpipc-<version>.crate
# and this script lists what it made, with sizes, in dist/MANIFEST.txt.
#
#   bash packaging/dist.sh [ECO ...]     (default: every one)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIBDIR="$ROOT/target/release"
DIST="$ROOT/dist"
case "$(uname -s)/$(uname -m)" in
    Linux/x86_64) ;;
    *) echo "dist: mpipc builds for x86-64 Linux (glibc) only, not $(uname -s)/$(uname -m)" >&2; exit 1 ;;
esac
for f in libmpipc.so libmpipc.a mpipc; do
    [[ -e "$LIBDIR/$f" ]] || { echo "dist: $LIBDIR/$f missing: run make build-release first" >&2; exit 1; }
done
ecos=("$@")
((${#ecos[@]})) || ecos=(c python node go rust)
mkdir -p "$DIST"
for eco in "${ecos[@]}"; do
    echo "== dist: $eco"
    start=$(date +%s%N)
    bash "$ROOT/packaging/$eco/dist.sh" "$LIBDIR" "$DIST"
    ms=$((($(date +%s%N) - start) / 1000000))
    printf '   %s built in %d.%03d s\n' "$eco" $((ms / 1000)) $((ms % 1000))
done
(cd "$DIST" && find . -maxdepth 1 -type f ! -name MANIFEST.txt -printf '%f\t%s\n' | sort |
    awk -F'\t' '{ printf "%-60s %8.1f MiB\n", $1, $2 / 1048576 }' &&
    if [[ -d goproxy ]]; then
        printf '%-60s %8.1f MiB\n' "goproxy/ (module zips, all modules)" \
            "$(find goproxy -type f -name '*.zip' -printf '%s\n' | awk '{ s += $1 } END { print s / 1048576 }')"
    fi) > "$DIST/MANIFEST.txt"
echo "== dist: $DIST"
cat "$DIST/MANIFEST.txt"
