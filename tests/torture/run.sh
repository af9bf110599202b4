#!/usr/bin/env bash
# The fault torture (tests/torture, docs/TORTURE.md): builds the C worker
# against include/mpipc.h and LIBDIR/libmpipc.so, then runs the
# orchestrator with the project's Python venv (bindings/python/setup-venv.sh).
#
#   tests/torture/run.sh [LIBDIR] [torture.py options...]
#   tests/torture/run.sh target/release --rounds 2000 --seed 7
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
LIBDIR_ARG=${1:-target/release}
shift || true
if [[ ! -f "$LIBDIR_ARG/libmpipc.so" || ! -x "$LIBDIR_ARG/mpipc" ]]; then
    echo "run.sh: no libmpipc.so / mpipc in $LIBDIR_ARG (cargo build --release --locked first)" >&2
    exit 1
fi
LIBDIR=$(cd "$LIBDIR_ARG" && pwd)
PY=build/venv-python/bin/python
if [[ ! -x $PY ]]; then
    echo "run.sh: no $PY (bash bindings/python/setup-venv.sh first)" >&2
    exit 1
fi
mkdir -p build/torture
gcc -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE -O2 -g -Iinclude -Itests/torture \
    tests/torture/worker.c -L"$LIBDIR" -lmpipc -Wl,-rpath,"$LIBDIR" -o build/torture/worker
# The regression test of the torn-ShareableList bug the torture found
# (docs/TORTURE.md, "Bug found"): ~4 s, 2000 kills of a writer mid-copy.
gcc -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE -O2 -g -Iinclude \
    tests/torture/repro_slist_torn.c -L"$LIBDIR" -lmpipc -Wl,-rpath,"$LIBDIR" -o build/torture/repro_slist_torn
build/torture/repro_slist_torn
export MPIPC_LIB="$LIBDIR/libmpipc.so"
export PYTHONPATH="$ROOT/bindings/python${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" tests/torture/torture.py --worker-c build/torture/worker --mpipc-bin "$LIBDIR/mpipc" "$@"
