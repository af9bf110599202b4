#!/usr/bin/env bash
# The fault torture's Redis variant (tests/torture/redis_torture.c, issue
# 22): builds it against include/mpipc.h and LIBDIR/libmpipc.so (as
# tests/torture/run.sh builds the C worker) and runs it. It starts its own
# server with scripts/redis-server.sh, SIGKILLs producer and consumer
# processes at random and the server once, and checks delivery (exact for
# the at-least-once queue: every acknowledged put delivered; at-most-once:
# none twice). A missing redis-server is a loud skip, a failure under CI=true.
#
#   tests/torture/run_redis.sh [LIBDIR] [redis_torture options...]
#   tests/torture/run_redis.sh target/release --rounds 2000 --seed 7
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
LIBDIR_ARG=${1:-target/release}
shift || true
if [[ ! -f "$LIBDIR_ARG/libmpipc.so" ]]; then
    echo "run_redis.sh: no libmpipc.so in $LIBDIR_ARG (cargo build --release --locked first)" >&2
    exit 1
fi
LIBDIR=$(cd "$LIBDIR_ARG" && pwd)
mkdir -p build/torture
gcc -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE -O2 -g -Iinclude -Itests/c \
    tests/torture/redis_torture.c -L"$LIBDIR" -lmpipc -Wl,-rpath,"$LIBDIR" -o build/torture/redis_torture
export MPIPC_ROOT=$ROOT
exec build/torture/redis_torture "$@"
