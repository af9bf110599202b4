#!/usr/bin/env bash
# Runs the polyglot demo (examples/polyglot_demo) with a small N and two
# workers per language, and checks that it exits 0, prints its OK line and
# leaves nothing behind in /dev/shm or /tmp.
#
#   bash tests/demo/test_polyglot_demo.sh [target/release]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
shm_before="$(ls /dev/shm | grep -c '^mpipc\..*pgdemo-' || true)"
tmp_before="$(ls /tmp | grep -c '^pgdemo-' || true)"
if ! JOBS=300 C_WORKERS=2 PY_WORKERS=2 NODE_WORKERS=2 bash "$ROOT/examples/polyglot_demo/run.sh" "${1:-target/release}" >"$out" 2>&1; then
    cat "$out"
    echo "test_polyglot_demo: the demo exited non-zero" >&2
    exit 1
fi
grep -q '^RESULT: OK' "$out" || { cat "$out"; echo "test_polyglot_demo: no OK line" >&2; exit 1; }
grep -Eq '^total +300 +300 +300$' "$out" || { cat "$out"; echo "test_polyglot_demo: totals differ" >&2; exit 1; }
[ "$(ls /dev/shm | grep -c '^mpipc\..*pgdemo-' || true)" = "$shm_before" ] || { echo "test_polyglot_demo: left segments in /dev/shm" >&2; exit 1; }
[ "$(ls /tmp | grep -c '^pgdemo-' || true)" = "$tmp_before" ] || { echo "test_polyglot_demo: left a directory in /tmp" >&2; exit 1; }
echo "test_polyglot_demo: OK"
