#!/usr/bin/env bash
# Builds and runs every C example; each checks its own result and exits
# non-zero on a mismatch. Needs the library built (cargo build --release).
#
#   bash examples/c/run_all.sh [target/release]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LIBDIR="$(cd "$ROOT" && cd "${1:-target/release}" && pwd)"
OUT="$ROOT/build/c/examples"
mkdir -p "$OUT"
for ex in producer_consumer request_reply shared_counter shared_array; do
    echo "== examples/c/$ex"
    gcc -std=c11 -Wall -Wextra -Werror -O2 -I"$ROOT/include" -I"$ROOT/examples/c/common" \
        "$ROOT/examples/c/$ex/$ex.c" -L"$LIBDIR" -lmpipc -Wl,-rpath,"$LIBDIR" -o "$OUT/$ex"
    timeout 120 "$OUT/$ex"
done
echo "== examples/c/queue_demo"
JOBS=20000 bash "$ROOT/examples/c/queue_demo/run.sh" "$LIBDIR"
echo "run_all.sh: every C example passed"
