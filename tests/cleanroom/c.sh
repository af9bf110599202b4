#!/usr/bin/env bash
# Clean-room test of the C package (run by tests/cleanroom/run.sh, with
# nothing of the checkout in the environment, cwd = SCRATCH):
#
#   tests/cleanroom/c.sh DISTDIR SCRATCH
#
# Installs DISTDIR/mpipc_<version>_amd64.deb for real, as users do (apt-get
# install ./mpipc_..._amd64.deb; root or passwordless sudo), checks the
# installed package, /usr/bin/mpipc and that ldconfig knows the library,
# then in SCRATCH/c builds, from this directory's c/ sources, a C producer
# and consumer with `cc ... $(pkg-config --cflags --libs mpipc)`, a C++17
# program over mpipc.hpp, and a CMake find_package(mpipc) build (shared and
# static), all with nothing set (no LD_LIBRARY_PATH, no rpath, no
# CMAKE_PREFIX_PATH, no PKG_CONFIG_PATH); runs producers and consumers as
# separate concurrent processes; checks with ldd and dladdr that
# libmpipc.so.0 is the package's, in /usr/lib/x86_64-linux-gnu. Last it
# builds SCRATCH/c/mix (the mixed exchange's roles: produce, consume as
# "c", read) and runs it once against a manager server of its own.
#
# The package stays installed: run.sh uses /usr/bin/mpipc for the mixed
# exchange and purges the package when it ends.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: tests/cleanroom/c.sh DISTDIR SCRATCH" >&2
    exit 2
fi
DIST=$(cd "$1" && pwd)
SCRATCH=$(cd "$2" && pwd)
# The test programs' sources: the only files this script reads from the
# checkout (copied into SCRATCH/c first).
SRC=$(cd "$(dirname "$0")/c" && pwd)
W=$SCRATCH/c
ARCHLIB=/usr/lib/x86_64-linux-gnu
N=500

fail() { echo "cleanroom c: FAIL: $*" >&2; exit 1; }
step() { echo "cleanroom c: $*"; }

# 0. The platform the package is for, and the tools a C user has.
if [[ $(uname -m) != x86_64 ]] || [[ $(dpkg --print-architecture 2>/dev/null) != amd64 ]]; then
    fail "the C package is for Debian/Ubuntu amd64 (x86-64 Linux, glibc); this host is $(uname -m)"
fi
for tool in cc c++ pkg-config cmake ldd readelf apt-get dpkg-query; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/install-deps.sh installs the build tools)"
done

shopt -s nullglob
debs=("$DIST"/mpipc_*_amd64.deb)
shopt -u nullglob
[[ ${#debs[@]} -eq 1 ]] || fail "expected one mpipc_*_amd64.deb in $DIST, found ${#debs[@]} (make dist builds it)"
DEB=${debs[0]}
VERSION=$(dpkg-deb --field "$DEB" Version)
MAJOR=${VERSION%%.*}

# 1. Install it for real, as users do. --reinstall: a package of the same
# version left by an earlier run is replaced by this build.
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    sudo -n true 2>/dev/null ||
        fail "installing the .deb needs root: run as root or with passwordless sudo (CI runs as root)"
    SUDO=(sudo -n)
fi
step "apt-get install ./$(basename "$DEB")"
start=$(date +%s%N)
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall --no-install-recommends \
    -o DPkg::Lock::Timeout=600 "$DEB" >"$SCRATCH/c-apt.log" 2>&1 ||
    { cat "$SCRATCH/c-apt.log" >&2; fail "apt-get install $DEB"; }
step "installed in $((($(date +%s%N) - start) / 1000000)) ms"
status=$(dpkg-query -W -f '${db:Status-Status} ${Version}' mpipc)
[[ $status == "installed $VERSION" ]] || fail "dpkg says mpipc is '$status', expected 'installed $VERSION'"
LIB=$ARCHLIB/libmpipc.so.$VERSION
[[ $(dpkg-query -S "$LIB") == "mpipc: $LIB" ]] || fail "$LIB does not belong to the package"
# The ldconfig trigger ran: the loader's cache names the library.
cached=$(ldconfig -p | sed -n "s|^[[:space:]]*libmpipc.so.$MAJOR (.*) => \(.*\)\$|\1|p")
[[ -n $cached ]] || fail "ldconfig's cache does not know libmpipc.so.$MAJOR after the install"
for c in $cached; do
    [[ $(realpath "$c") == "$LIB" ]] || fail "the loader's cache also has $c: another libmpipc.so.$MAJOR is installed"
done

# 2. The command.
[[ $(command -v mpipc) == /usr/bin/mpipc ]] || fail "mpipc on PATH is $(command -v mpipc), not the package's /usr/bin/mpipc"
/usr/bin/mpipc --help >"$SCRATCH/c-help.txt" || fail "mpipc --help exited with $?"
grep -q 'manager serve' "$SCRATCH/c-help.txt" || fail "mpipc --help does not list its commands"
[[ $(/usr/bin/mpipc version) == "mpipc $VERSION" ]] || fail "mpipc version says '$(/usr/bin/mpipc version)'"
step "/usr/bin/mpipc --help and version ok"

# 3. Build the programs, nothing set.
rm -rf "$W"
mkdir -p "$W"
cp "$SRC"/producer.c "$SRC"/consumer.c "$SRC"/app.cpp "$SRC"/mix.c "$SRC"/CMakeLists.txt "$W"/
cd "$W"
[[ $(pkg-config --modversion mpipc) == "$VERSION" ]] || fail "pkg-config --modversion mpipc: $(pkg-config --modversion mpipc)"
flags=$(pkg-config --cflags --libs mpipc)
step "pkg-config --cflags --libs mpipc: $flags"
# shellcheck disable=SC2086
{
    cc -std=c11 -Wall -Wextra -Werror -o producer producer.c $flags
    cc -std=c11 -Wall -Wextra -Werror -o consumer consumer.c $flags
    c++ -std=c++17 -Wall -Wextra -Werror -o app app.cpp $flags
    cc -std=c11 -Wall -Wextra -Werror -o mix-c mix.c $flags
} || fail "building with pkg-config"
cmake -S "$W" -B "$W/build" -DEXPECT_VERSION="$VERSION" -DCMAKE_BUILD_TYPE=Release >cmake.log 2>&1 &&
    cmake --build "$W/build" >>cmake.log 2>&1 || { cat cmake.log >&2; fail "CMake find_package(mpipc) build"; }
grep -q "mpipc $VERSION: $ARCHLIB/libmpipc.so.$VERSION" cmake.log || { cat cmake.log >&2; fail "CMake found another mpipc"; }
step "built with pkg-config and with CMake"

# The library comes from the package, found by the loader alone.
for prog in producer consumer app mix-c build/consumer_cmake build/app_cmake; do
    if readelf -d "$prog" | grep -Eq '\((RPATH|RUNPATH)\)'; then fail "$prog has an rpath"; fi
    resolved=$(ldd "$prog" | sed -n "s|^[[:space:]]*libmpipc.so.$MAJOR => \([^ ]*\) .*|\1|p")
    [[ -n $resolved ]] || { ldd "$prog" >&2; fail "$prog: libmpipc.so.$MAJOR is not found"; }
    [[ $(realpath "$resolved") == "$LIB" ]] || fail "$prog loads $resolved, not the package's $LIB"
done
if readelf -d build/consumer_static | grep -q 'NEEDED.*libmpipc'; then fail "consumer_static needs the shared library"; fi
step "ldd: libmpipc.so.$MAJOR => $LIB for every program"

# 4. Producer and consumer, two processes at once (either may create the
# queue), no environment.
exchange() { # LABEL PRODUCER... -- CONSUMER...
    local label=$1 q=cr-c-$$-$1 prod=() cons=() pid out rc=0
    shift
    while [[ $1 != -- ]]; do prod+=("$1"); shift; done
    shift
    cons=("$@")
    env -i "${cons[@]}" "$q" "$N" >"$label.out" 2>"$label.err" &
    pid=$!
    env -i "${prod[@]}" "$q" "$N" >/dev/null 2>"$label.perr" || { cat "$label.perr" >&2; fail "$label: producer"; }
    wait "$pid" || rc=$?
    [[ $rc -eq 0 ]] || { cat "$label.err" >&2; fail "$label: consumer exited with $rc"; }
    out=$(cat "$label.out")
    grep -qx "consumed $N" <<<"$out" || fail "$label: consumer printed '$out'"
    grep -qx "version $VERSION" <<<"$out" || fail "$label: mp_version() is not $VERSION: $out"
    if grep -q '^lib ' <<<"$out"; then
        # Where mp_version lives: the package's library, or the program
        # itself when it links libmpipc.a.
        local lib want=$LIB
        lib=$(sed -n 's/^lib //p' <<<"$out")
        [[ $label != *static ]] || want=$(realpath "${cons[0]}")
        [[ $(realpath "$lib") == "$want" ]] || fail "$label: mp_version came from $lib, not $want"
    fi
    step "$label: $N messages ok"
}
exchange c-to-c ./producer -- ./consumer
exchange cpp-to-c ./app produce -- build/consumer_cmake
exchange c-to-cpp ./producer -- build/app_cmake consume
exchange cpp-to-cpp build/app_cmake produce -- ./app consume
exchange c-to-static ./producer -- build/consumer_static

# 5. SCRATCH/c/mix for the mixed exchange, tried once here against a
# manager server of its own (the package's command): a producer, two
# consumers at once, then read, which must also refuse a wrong total.
cat >"$W/mix" <<EOF
#!/bin/sh
# The C role of the clean room's mixed exchange (tests/cleanroom/c/mix.c).
exec "$W/mix-c" "\$@"
EOF
chmod 0755 "$W/mix"
ADDR=unix:$W/mgr.sock
coproc MGR { exec env -i /usr/bin/mpipc manager serve --address "$ADDR" 2>&1; }
mgr_pid=$MGR_PID
trap 'kill "$mgr_pid" 2>/dev/null || true' EXIT
# A copy of the coprocess's output descriptor, which (unlike bash's own)
# a background job inherits.
exec {mgr_out}<&"${MGR[0]}"
# The server logs one line once it listens: wait for that state, then keep
# draining its log so that it never blocks writing.
ready=
read -r -t 60 ready <&"$mgr_out" || fail "the manager server did not start: ${ready:-no output}"
[[ $ready == *"serving at"* ]] || fail "the manager server said: $ready"
cat <&"$mgr_out" >"$W/mgr.log" &
Q=cr-c-$$-mix
env -i "$W/mix" produce "$Q" 40 2 >/dev/null || fail "mix produce"
env -i "$W/mix" consume "$Q" "$ADDR" >"$W/mix1.out" &
m1=$!
env -i "$W/mix" consume "$Q" "$ADDR" >"$W/mix2.out" || fail "mix consume"
wait "$m1" || fail "mix consume (the other)"
grep -qx 'c consumed [0-9]*' "$W/mix1.out" || fail "mix consume printed '$(cat "$W/mix1.out")'"
env -i "$W/mix" read "$ADDR" 40 >"$W/mix-read.out" || fail "mix read: $(cat "$W/mix-read.out")"
grep -qx 'counts: .*c=40.*' "$W/mix-read.out" || fail "mix read printed '$(cat "$W/mix-read.out")'"
if env -i "$W/mix" read "$ADDR" 41 >/dev/null 2>&1; then fail "mix read accepted a wrong total"; fi
/usr/bin/mpipc rm "$Q" >/dev/null || fail "mpipc rm $Q"
kill "$mgr_pid"
wait "$mgr_pid" 2>/dev/null || true
trap - EXIT
step "mix produce / consume / read ok ($(cat "$W/mix-read.out"))"
step "all C package checks passed"
