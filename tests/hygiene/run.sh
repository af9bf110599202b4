#!/usr/bin/env bash
# Builds and runs the resource-hygiene and flood programs against
# target/release/libmpipc.so (docs/SECURITY.md, "Resource hygiene").
#
#   tests/hygiene/run.sh CYCLES SECONDS [MD_OUT]
#
# CYCLES: open/close cycles per primitive (hygiene.c); SECONDS: length of
# each flood phase (flood.c). With MD_OUT, both write their figures as
# markdown and the two are joined into MD_OUT (make hygiene:
# benches/results/hygiene.md). Exits non-zero if either finds a leak or a
# broken bound.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
CYCLES=${1:?usage: run.sh CYCLES SECONDS [MD_OUT]}
SECONDS_PER_PHASE=${2:?usage: run.sh CYCLES SECONDS [MD_OUT]}
MD_OUT=${3:-}
LIBDIR=$ROOT/target/release
if [[ ! -f "$LIBDIR/libmpipc.so" ]]; then
    echo "hygiene: no $LIBDIR/libmpipc.so (cargo build --release --locked first)" >&2
    exit 1
fi
OUT=build/hygiene
mkdir -p "$OUT"
CFLAGS=(-Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE -O2 -g -pthread -Iinclude -Itests/c)
LDFLAGS=(-L"$LIBDIR" -lmpipc -Wl,-rpath,"$LIBDIR")
for p in hygiene flood; do
    gcc "${CFLAGS[@]}" "tests/hygiene/$p.c" "${LDFLAGS[@]}" -o "$OUT/$p"
done

if [[ -z "$MD_OUT" ]]; then
    "$OUT/hygiene" --cycles "$CYCLES"
    "$OUT/flood" --seconds "$SECONDS_PER_PHASE"
    exit 0
fi
"$OUT/hygiene" --cycles "$CYCLES" --md "$OUT/hygiene.md"
"$OUT/flood" --seconds "$SECONDS_PER_PHASE" --md "$OUT/flood.md"
mkdir -p "$(dirname "$MD_OUT")"
{
    echo "<!-- Written by make hygiene (tests/hygiene/run.sh); do not edit by hand. -->"
    echo
    cat "$OUT/hygiene.md"
    echo
    cat "$OUT/flood.md"
} >"$MD_OUT"
echo "hygiene: figures written to $MD_OUT"
