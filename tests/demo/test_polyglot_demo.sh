#!/usr/bin/env bash
# Runs the polyglot demo (examples/polyglot_demo) with a small N and two
# workers per language, and checks that it exits 0, prints its OK line and
# leaves nothing behind in /dev/shm or /tmp. With --redis it runs the same
# demo on a Redis server that it starts here (scripts/redis-server.sh, a
# loopback port), as `make demo BACKEND=redis://...` does, and checks too
# that the server holds no key afterwards.
#
#   bash tests/demo/test_polyglot_demo.sh [target/release] [--redis]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
libdir=target/release redis=0
for arg in "$@"; do
    case "$arg" in
        --redis) redis=1 ;;
        *) libdir="$arg" ;;
    esac
done
out="$(mktemp)"
srv=""
cleanup() {
    rm -f "$out"
    if [ -n "$srv" ]; then bash "$ROOT/scripts/redis-server.sh" stop "$srv"; rm -rf "$srv"; fi
}
trap cleanup EXIT
shm_before="$(ls /dev/shm | grep -c '^mpipc\..*pgdemo-' || true)"
tmp_before="$(ls /tmp | grep -c '^pgdemo-' || true)"
backend="" what="shared memory"
if [ "$redis" = 1 ]; then
    command -v redis-cli >/dev/null ||
        { echo "test_polyglot_demo: redis-cli not found (Debian's redis-tools; make deps installs it)" >&2; exit 1; }
    srv="$(mktemp -d /tmp/mpipc-demo-test.XXXXXX)"
    # No AOF: nothing here needs durability, and fsyncing every write makes the run ~10x slower.
    bash "$ROOT/scripts/redis-server.sh" start "$srv" -- --appendonly no >/dev/null
    # shellcheck disable=SC1091 # written by redis-server.sh start
    . "$srv/env"
    backend="redis://127.0.0.1:$REDIS_PORT/0" what="Redis ($backend)"
fi
if ! BACKEND="$backend" JOBS=300 C_WORKERS=2 PY_WORKERS=2 NODE_WORKERS=2 \
    bash "$ROOT/examples/polyglot_demo/run.sh" "$libdir" >"$out" 2>&1; then
    cat "$out"
    echo "test_polyglot_demo: the demo on $what exited non-zero" >&2
    exit 1
fi
grep -q '^RESULT: OK' "$out" || { cat "$out"; echo "test_polyglot_demo: no OK line" >&2; exit 1; }
grep -Eq '^total +300 +300 +300$' "$out" || { cat "$out"; echo "test_polyglot_demo: totals differ" >&2; exit 1; }
[ "$(ls /dev/shm | grep -c '^mpipc\..*pgdemo-' || true)" = "$shm_before" ] || { echo "test_polyglot_demo: left segments in /dev/shm" >&2; exit 1; }
[ "$(ls /tmp | grep -c '^pgdemo-' || true)" = "$tmp_before" ] || { echo "test_polyglot_demo: left a directory in /tmp" >&2; exit 1; }
if [ "$redis" = 1 ]; then
    grep -q "^backend: Redis at $backend\$" "$out" ||
        { cat "$out"; echo "test_polyglot_demo: the demo did not run on $backend" >&2; exit 1; }
    # Every database of the server: the queues' and the dict's keys must all be gone.
    keys="$(redis-cli -p "$REDIS_PORT" info keyspace | grep '^db' || true)"
    [ -z "$keys" ] ||
        { echo "test_polyglot_demo: keys left on the server: $keys" >&2; redis-cli -p "$REDIS_PORT" --scan >&2; exit 1; }
fi
echo "test_polyglot_demo: OK ($what)"
