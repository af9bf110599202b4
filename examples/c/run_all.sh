#!/usr/bin/env bash
# Builds and runs every C example; each checks its own result and exits
# non-zero on a mismatch. Needs the library built (cargo build --release)
# and libcbor (pkg-config libcbor).
#
#   bash examples/c/run_all.sh [target/release]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LIBDIR="$(cd "$ROOT" && cd "${1:-target/release}" && pwd)"
OUT="$ROOT/build/c/examples"
mkdir -p "$OUT"
# The examples encode and decode their objects with libcbor (Debian's
# libcbor-dev, which scripts/install-deps.sh installs).
if ! CBOR_FLAGS=$(pkg-config --cflags --libs libcbor); then
    echo "run_all.sh: libcbor not found by pkg-config (apt install libcbor-dev, or make deps)" >&2
    exit 1
fi
for ex in producer_consumer request_reply shared_counter shared_array json_bridge; do
    echo "== examples/c/$ex"
    # shellcheck disable=SC2086 # CBOR_FLAGS is a list of flags
    gcc -std=c11 -Wall -Wextra -Werror -O2 -I"$ROOT/include" -I"$ROOT/examples/c/common" \
        "$ROOT/examples/c/$ex/$ex.c" -L"$LIBDIR" -lmpipc $CBOR_FLAGS -Wl,-rpath,"$LIBDIR" -o "$OUT/$ex"
    timeout 120 "$OUT/$ex"
done
echo "== examples/c/common/test_mpcbor (mpcbor.h against tests/vectors/cbor.json)"
# shellcheck disable=SC2086 # CBOR_FLAGS is a list of flags
gcc -std=c11 -Wall -Wextra -Werror -O2 -I"$ROOT/examples/c/common" "$ROOT/examples/c/common/test_mpcbor.c" \
    $CBOR_FLAGS -o "$OUT/test_mpcbor"
"$OUT/test_mpcbor" "$ROOT/tests/vectors/cbor.json"
echo "== examples/c/queue_demo"
JOBS=20000 bash "$ROOT/examples/c/queue_demo/run.sh" "$LIBDIR"
echo "run_all.sh: every C example passed"
