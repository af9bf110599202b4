#!/usr/bin/env bash
# Builds and runs every C++ example (examples/cpp: include/mpipc.hpp and
# include/mpipc_json.hpp, with nlohmann/json found by pkg-config, which
# scripts/install-deps.sh installs); each checks its own result and exits
# non-zero on a mismatch. Needs the library built (cargo build --release).
# redis_queue_dict runs on a throwaway Redis server that this script starts
# with scripts/redis-server.sh and stops on exit; without redis-server
# installed it is skipped loudly (a failure under CI=true).
#
#   bash examples/cpp/run_all.sh [target/release]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LIBDIR="$(cd "$ROOT" && cd "${1:-target/release}" && pwd)"
OUT="$ROOT/build/cpp/examples"
mkdir -p "$OUT"
JSON_FLAGS=$(pkg-config --cflags nlohmann_json) || {
    echo "run_all.sh: nlohmann/json not found (make deps installs nlohmann-json3-dev)" >&2
    exit 1
}
for ex in producer_consumer request_reply shared_counter shared_array; do
    echo "== examples/cpp/$ex"
    # shellcheck disable=SC2086 # JSON_FLAGS is a list of flags
    g++ -std=c++17 -O2 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror -I"$ROOT/include" \
        -I"$ROOT/examples/cpp/common" $JSON_FLAGS "$ROOT/examples/cpp/$ex/$ex.cpp" \
        -L"$LIBDIR" -lmpipc -Wl,-rpath,"$LIBDIR" -o "$OUT/$ex"
    timeout 120 "$OUT/$ex"
done

ex=redis_queue_dict
echo "== examples/cpp/$ex"
# shellcheck disable=SC2086 # JSON_FLAGS is a list of flags
g++ -std=c++17 -O2 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror -I"$ROOT/include" \
    -I"$ROOT/examples/cpp/common" $JSON_FLAGS "$ROOT/examples/cpp/$ex/$ex.cpp" \
    -L"$LIBDIR" -lmpipc -Wl,-rpath,"$LIBDIR" -o "$OUT/$ex"
rdir=$(mktemp -d /tmp/mpipc-cpp-redis.XXXXXX)
trap 'bash "$ROOT/scripts/redis-server.sh" stop "$rdir"; rm -rf "$rdir"' EXIT
rst=0
bash "$ROOT/scripts/redis-server.sh" start "$rdir" >/dev/null || rst=$?
if ((rst == 3)); then # the script's status for "redis-server is not installed"
    [[ ${CI:-} != true ]] || { echo "run_all.sh: redis-server is required under CI=true" >&2; exit 1; }
    echo "SKIPPED examples/cpp/$ex: redis-server is not installed (scripts/install-deps.sh installs it)" >&2
elif ((rst != 0)); then
    echo "run_all.sh: scripts/redis-server.sh start failed ($rst)" >&2
    exit 1
else
    REDIS_PORT=$(sed -n 's/^REDIS_PORT=//p' "$rdir/env")
    timeout 120 "$OUT/$ex" "redis://127.0.0.1:$REDIS_PORT"
fi
echo "run_all.sh: every C++ example passed"
