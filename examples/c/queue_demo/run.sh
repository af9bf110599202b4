#!/usr/bin/env bash
# Builds the queue demo and runs 1 producer and 2 consumers as separate
# processes sharing one mpipc queue; checks that the consumers together got
# every job exactly once (job count and checksum).
#
#   examples/c/queue_demo/run.sh [LIBDIR]     (default: target/release)
#
# LIBDIR holds libmpipc.so (cargo build --release). Exits non-zero on any
# failure. Environment: JOBS (default 100000), CONSUMERS (default 2).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$ROOT"
LIBDIR_ARG=${1:-target/release}
if [[ ! -f "$LIBDIR_ARG/libmpipc.so" ]]; then
    echo "run.sh: no libmpipc.so in $LIBDIR_ARG (build it first: cargo build --release)" >&2
    exit 1
fi
LIBDIR=$(cd "$LIBDIR_ARG" && pwd)
JOBS=${JOBS:-100000}
CONSUMERS=${CONSUMERS:-2}
OUT=build/c/queue_demo
mkdir -p "$OUT"

run() { echo "+ $*"; "$@"; }
for prog in producer consumer; do
    run gcc -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE -O2 -Iinclude \
        "examples/c/queue_demo/$prog.c" -L"$LIBDIR" -lmpipc -Wl,-rpath,"$LIBDIR" -o "$OUT/$prog"
done

# A name of our own, so that concurrent runs do not share a queue.
NAME="demo-jobs-$$"
LOGS=$(mktemp -d)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -f "/dev/shm/mpipc.q.$NAME"   # only left behind if the producer failed
    rm -rf "$LOGS"
}
trap cleanup EXIT

echo "+ $OUT/consumer $NAME   (x$CONSUMERS, in the background)"
for ((i = 1; i <= CONSUMERS; i++)); do
    "$OUT/consumer" "$NAME" >"$LOGS/consumer$i.log" 2>&1 &
    PIDS+=($!)
done
echo "+ $OUT/producer $NAME $CONSUMERS $JOBS   (in the background)"
"$OUT/producer" "$NAME" "$CONSUMERS" "$JOBS" >"$LOGS/producer.log" 2>&1 &
PIDS+=($!)

failed=0
for i in "${!PIDS[@]}"; do
    if ! wait "${PIDS[$i]}"; then
        echo "run.sh: process ${PIDS[$i]} failed" >&2
        failed=1
    fi
done
PIDS=()
cat "$LOGS/producer.log"
cat "$LOGS"/consumer*.log

# Check the totals: every job received exactly once.
expected=$(sed -n 's/^producer: expected checksum \([0-9]*\)$/\1/p' "$LOGS/producer.log")
got_jobs=0
got_sum=0
while read -r jobs sum; do
    got_jobs=$((got_jobs + jobs))
    got_sum=$((got_sum + sum))
done < <(sed -n 's/^consumer [0-9]*: got \([0-9]*\) jobs, checksum \([0-9]*\)$/\1 \2/p' "$LOGS"/consumer*.log)
if [[ $failed -ne 0 || -z "$expected" || $got_jobs -ne $JOBS || $got_sum -ne $expected ]]; then
    echo "FAIL: consumers got $got_jobs jobs (want $JOBS), checksum $got_sum (want ${expected:-?})" >&2
    exit 1
fi
echo "OK: $CONSUMERS consumers got $got_jobs jobs in total, checksum $got_sum matches"
