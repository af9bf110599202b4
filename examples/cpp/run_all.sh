#!/usr/bin/env bash
# Builds and runs every C++ example (examples/cpp: include/mpipc.hpp and
# include/mpipc_json.hpp, with nlohmann/json found by pkg-config, which
# scripts/install-deps.sh installs); each checks its own result and exits
# non-zero on a mismatch. Needs the library built (cargo build --release).
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
echo "run_all.sh: every C++ example passed"
