#!/usr/bin/env bash
# Builds and runs the C test suite against libmpipc.so.
#
#   tests/c/run.sh [LIBDIR]      (default: target/debug)
#
# 1. every tests/c/test_*.c, built with -Wall -Wextra -Werror -std=c11 into
#    build/c/ and run;
# 2. test_queue_api.c and test_sync.c again with
#    -fsanitize=address,undefined (leak detection on, any UBSan report
#    fatal);
# 3. every test again under valgrind (memory errors and definite or
#    indirect leaks are fatal; forked children run under it too, exec'd
#    programs such as python3 or the mpipc server do not), if valgrind is
#    installed. The slowest (test_redis_queue, test_manager, test_pipe) take
#    20-40 s there.
# The test_redis_* programs start their own Redis server each
# (scripts/redis-server.sh through tests/c/redis_server.h; skipped loudly
# when redis-server is not installed, a failure under CI=true).
# Runs everything, then exits non-zero if anything failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
LIBDIR_ARG=${1:-target/debug}
if [[ ! -f "$LIBDIR_ARG/libmpipc.so" ]]; then
    echo "run.sh: no libmpipc.so in $LIBDIR_ARG (build the crate first)" >&2
    exit 1
fi
LIBDIR=$(cd "$LIBDIR_ARG" && pwd)   # absolute, for the rpath
OUT=build/c
mkdir -p "$OUT"

CFLAGS=(-Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE -g -pthread -Iinclude)
LDFLAGS=(-L"$LIBDIR" -lmpipc -Wl,-rpath,"$LIBDIR")

passed=()
failed=()

# Milliseconds since the epoch (bash 5's EPOCHREALTIME, else date).
now_ms() {
    if [[ -n "${EPOCHREALTIME:-}" ]]; then
        local t=${EPOCHREALTIME/[.,]/}
        echo $((10#$t / 1000))
    else
        date +%s%3N
    fi
}

# step NAME CMD...: prints and runs CMD, records the result, never exits.
step() {
    local name=$1
    shift
    echo "+ $*"
    local t0 rc=0
    t0=$(now_ms)
    "$@" || rc=$?
    local dt=$(($(now_ms) - t0))
    if [[ $rc -eq 0 ]]; then
        passed+=("$name (${dt} ms)")
    else
        echo "run.sh: FAILED (exit $rc): $name" >&2
        failed+=("$name (exit $rc, ${dt} ms)")
    fi
    return 0
}

echo "== library: $LIBDIR/libmpipc.so"
for src in tests/c/test_*.c; do
    t=$(basename "$src" .c)
    step "build $t" gcc "${CFLAGS[@]}" "$src" "${LDFLAGS[@]}" -o "$OUT/$t"
    [[ -x "$OUT/$t" ]] && step "$t" "$OUT/$t"
done

# These also run under AddressSanitizer + UBSan (every test runs under
# valgrind below).
CHECKED_TESTS=(test_queue_api test_sync)

echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
for t in "${CHECKED_TESTS[@]}"; do
    rm -f "$OUT/$t.asan"
    step "build $t.asan" gcc "${CFLAGS[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer \
        -fno-sanitize-recover=undefined "tests/c/$t.c" "${LDFLAGS[@]}" -o "$OUT/$t.asan"
    if [[ -x "$OUT/$t.asan" ]]; then
        step "$t (asan+ubsan)" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
            UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$OUT/$t.asan"
    fi
done

echo "== valgrind"
if command -v valgrind >/dev/null 2>&1; then
    for src in tests/c/test_*.c; do
        t=$(basename "$src" .c)
        if [[ -x "$OUT/$t" ]]; then
            step "$t (valgrind)" valgrind -q --error-exitcode=9 --leak-check=full \
                --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect "$OUT/$t"
        fi
    done
else
    echo "valgrind not installed: skipping the valgrind run"
fi

echo "== summary"
for p in "${passed[@]}"; do echo "ok      $p"; done
for f in "${failed[@]+"${failed[@]}"}"; do echo "FAILED  $f"; done
if [[ ${#failed[@]} -ne 0 ]]; then
    echo "run.sh: ${#failed[@]} step(s) failed" >&2
    exit 1
fi
echo "run.sh: all ${#passed[@]} steps passed"
