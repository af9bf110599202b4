#!/usr/bin/env bash
# The Go module's other build modes and its build errors (make go-tests):
#
#   packaging/go/test-modes.sh LIBDIR
#
# 1. System-library mode: installs the build in LIBDIR (target/release)
#    into a temporary prefix with scripts/install.sh, then builds
#    packaging/go/testdata/sysmode with -tags mpipc_system (flags from
#    `#cgo pkg-config: mpipc`, PKG_CONFIG_PATH pointing at the prefix) and
#    runs it: a queue round trip, and libmpipc.so mapped from the prefix.
# 2. The errors a user gets instead of a cryptic failure: CGO_ENABLED=0, a
#    foreign GOOS (cgo off), and an unsupported platform with cgo on
#    (shim.h's #error, reached here by defining MPGO_UNSUPPORTED_PLATFORM as
#    ffi.go does on other platforms, since this machine has no cross C
#    compiler). Each must print its message.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: packaging/go/test-modes.sh LIBDIR" >&2
    exit 2
fi
LIBDIR=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MOD=$ROOT/bindings/go
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "test-modes: FAIL: $*" >&2; exit 1; }

# ---- 1. -tags mpipc_system against an installed copy ----
PREFIX=$TMP/prefix
bash "$ROOT/scripts/install.sh" "$LIBDIR" "$PREFIX" "" >"$TMP/install.log" 2>&1 ||
    { cat "$TMP/install.log" >&2; fail "scripts/install.sh into $PREFIX"; }
PC=$(dirname "$(find "$PREFIX" -name mpipc.pc -print -quit)")
[[ -f $PC/mpipc.pc ]] || fail "no mpipc.pc under $PREFIX"
app=$TMP/app
mkdir -p "$app"
cp "$ROOT/packaging/go/testdata/sysmode/main.go" "$app/"
cp "$MOD/go.sum" "$app/"
cat >"$app/go.mod" <<MOD
module example.com/sysmode

go 1.24

require github.com/mpipc/mpipc/bindings/go v0.0.0

replace github.com/mpipc/mpipc/bindings/go => $MOD
MOD
# go's build cache keys a cgo package on its flags but not on what
# pkg-config printed (-L PREFIX/lib): without a change in the key, this
# run's new prefix would be linked with a previous run's deleted one. The
# unused define below, different per prefix, changes the key; the include
# and link flags still come from `#cgo pkg-config: mpipc` alone.
(cd "$app" && PKG_CONFIG_PATH=$PC GOFLAGS=-mod=mod CGO_CPPFLAGS="-DMPGO_TEST_PREFIX=${TMP##*/}" \
    go build -tags mpipc_system -o "$TMP/sysmode" .) ||
    fail "go build -tags mpipc_system with PKG_CONFIG_PATH=$PC"
grep -q 'NEEDED.*\[libmpipc\.so\.0\]' <<<"$(readelf -d "$TMP/sysmode")" ||
    fail "the mpipc_system program does not need libmpipc.so.0 (readelf -d)"
LIBS=$(dirname "$(find "$PREFIX" -name 'libmpipc.so.0' -print -quit)")
out=$(LD_LIBRARY_PATH=$LIBS "$TMP/sysmode") || fail "the mpipc_system program failed: $out"
echo "$out" | sed 's/^/  /'
lib=$(sed -n 's/^library //p' <<<"$out")
[[ $(readlink -f "$lib") == "$(readlink -f "$LIBS")"/* ]] ||
    fail "the mpipc_system program loaded $lib, not the copy installed in $LIBS"
echo "test-modes: -tags mpipc_system ok (pkg-config, libmpipc.so from the prefix)"

# ---- 2. build errors ----
# expect_error DESCRIPTION MESSAGE ENV... -- COMMAND...: COMMAND, run in
# bindings/go with ENV, must fail and print MESSAGE.
expect_error() {
    local what=$1 msg=$2
    shift 2
    local envs=()
    while [[ $1 != -- ]]; do envs+=("$1"); shift; done
    shift
    local log=$TMP/err.log
    if (cd "$MOD" && env "${envs[@]}" "$@") >"$log" 2>&1; then
        fail "$what: '$*' succeeded"
    fi
    grep -qF -- "$msg" "$log" || { cat "$log" >&2; fail "$what: '$*' did not say: $msg"; }
    echo "test-modes: $what: '${envs[*]} $*' says: $msg"
}
NEEDS_CGO='mpipc needs cgo: build with CGO_ENABLED=1 and a C compiler (x86-64 Linux, glibc)'
PLATFORM='mpipc supports x86-64 Linux with glibc only (GOOS=linux GOARCH=amd64); this build targets another platform'
expect_error "cgo off" "$NEEDS_CGO" CGO_ENABLED=0 -- go build .
expect_error "cgo off" "$NEEDS_CGO" CGO_ENABLED=0 -- go vet .
expect_error "GOOS=darwin" "$PLATFORM" GOOS=darwin -- go vet .
expect_error "unsupported platform, cgo on" "#error \"$PLATFORM\"" \
    CGO_CFLAGS=-DMPGO_UNSUPPORTED_PLATFORM -- go build .
echo "test-modes: all ok"
