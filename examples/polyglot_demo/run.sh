#!/usr/bin/env bash
# The polyglot demo (README.md): builds the C worker (gcc, libcbor) and the Go producer,
# prepares the Python venv and the Node packages, then runs the orchestrator.
#
#   examples/polyglot_demo/run.sh [target/release] [orchestrator options]
#   JOBS=3000 C_WORKERS=1 PY_WORKERS=1 NODE_WORKERS=1 examples/polyglot_demo/run.sh
#   BACKEND=redis://127.0.0.1:6379/0 examples/polyglot_demo/run.sh
#   BACKEND=redis-local examples/polyglot_demo/run.sh
#
# BACKEND (README.md, docs/REDIS.md "Demo"): empty = shared-memory queues
# and the orchestrator's embedded manager; a Redis / Valkey address without
# an object name (redis://[:PW@]host[:port][/db][?ns=N], redis+unix:///path/redis.sock)
# = the queues and the dict on that server; redis-local (valkey-local) = a
# throwaway server started here by scripts/redis-server.sh (Valkey's with
# --valkey) in a temporary directory, stopped and removed at exit.
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

backend="${BACKEND:-}"
case "$backend" in
    redis-local | valkey-local)
        srv="$(mktemp -d /tmp/pgdemo-redis.XXXXXX)"
        trap 'bash "$ROOT/scripts/redis-server.sh" stop "$srv"; rm -rf "$srv"' EXIT
        flag=() scheme=redis
        if [ "$backend" = valkey-local ]; then flag=(--valkey) scheme=valkey; fi
        # No AOF: a throwaway server needs no durability, and the script's
        # default (appendfsync always, for the fault tests) fsyncs every
        # write: measured 420 jobs/s end to end with it, 4500 without.
        started="$(bash "$ROOT/scripts/redis-server.sh" start "$srv" "${flag[@]}" -- --appendonly no)"
        echo "== started a throwaway server ($backend): $started"
        # shellcheck disable=SC1091 # written by redis-server.sh start
        . "$srv/env"
        backend="$scheme://127.0.0.1:$REDIS_PORT/0"
        ;;
esac

echo "== running"
export MPIPC_LIB="$LIBDIR/libmpipc.so"
# Not exec: the trap above stops a throwaway server after the run.
"$ROOT/build/venv-python/bin/python" "$HERE/orchestrator.py" --bin-dir "$BIN" --backend "$backend" \
    --jobs "${JOBS:-3000}" --c "${C_WORKERS:-1}" --python "${PY_WORKERS:-1}" --node "${NODE_WORKERS:-1}" "$@"
