#!/usr/bin/env bash
# The polyglot demo (README.md): builds the C worker (gcc, libcbor) and the Go producer,
# prepares the Python venv and the Node packages, then runs the orchestrator.
#
#   examples/polyglot_demo/run.sh [target/release] [orchestrator options]
#   JOBS=3000 C_WORKERS=1 PY_WORKERS=1 NODE_WORKERS=1 examples/polyglot_demo/run.sh
#
# Assumes the library is built (cargo build --release: target/release/libmpipc.so).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LIBDIR="$(cd "$ROOT" && cd "${1:-target/release}" && pwd)"
[ $# -gt 0 ] && shift
HERE="$ROOT/examples/polyglot_demo"
BIN="$ROOT/build/polyglot_demo"
mkdir -p "$BIN"
test -f "$LIBDIR/libmpipc.so" || { echo "run.sh: $LIBDIR/libmpipc.so missing: run cargo build --release" >&2; exit 1; }

echo "== building: C worker (gcc), Go producer (go build), Python venv, Node packages"
# The C worker encodes with libcbor (libcbor-dev; scripts/install-deps.sh).
CBOR_FLAGS=$(pkg-config --cflags --libs libcbor) ||
    { echo "run.sh: libcbor not found by pkg-config (apt install libcbor-dev, or make deps)" >&2; exit 1; }
# shellcheck disable=SC2086 # CBOR_FLAGS is a list of flags
gcc -std=c11 -Wall -Wextra -Werror -O2 -I"$ROOT/include" -I"$ROOT/examples/c/common" \
    "$HERE/worker_c.c" -L"$LIBDIR" -lmpipc $CBOR_FLAGS -Wl,-rpath,"$LIBDIR" -o "$BIN/worker_c"
(cd "$HERE/producer" && go build -o "$BIN/producer" .)
bash "$ROOT/bindings/python/setup-venv.sh" >/dev/null
if [ ! -d "$ROOT/bindings/node/node_modules/koffi" ]; then
    (cd "$ROOT/bindings/node" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
fi

echo "== running"
export MPIPC_LIB="$LIBDIR/libmpipc.so"
exec "$ROOT/build/venv-python/bin/python" "$HERE/orchestrator.py" --bin-dir "$BIN" \
    --jobs "${JOBS:-3000}" --c "${C_WORKERS:-1}" --python "${PY_WORKERS:-1}" --node "${NODE_WORKERS:-1}" "$@"
