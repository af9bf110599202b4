#!/usr/bin/env bash
# Interleaved A/B of bench workloads (issue #17, session 6): runs the base
# and the new bench binary alternately, ROUNDS times per workload, and
# prints the medians and their ratio (new / base).
#
#   ab.sh BASE_BIN NEW_BIN ROUNDS WORKLOAD...
#
# The binaries are `cargo bench --bench queue|pipe|manager --no-run` outputs
# of two worktrees (e.g. target/release/deps/queue-<hash>); each run is
# `BIN --only WORKLOAD --repeat 1`, whose JSON gives msgs_per_s,
# median_us, gb_per_s, ops_per_s or ratio.
set -euo pipefail
A=$1; B=$2; rounds=$3; shift 3
val() { python3 -c '
import json,sys
w=sys.argv[1]; d=json.load(sys.stdin); v=d[w]
print(v.get("msgs_per_s") or v.get("median_us") or v.get("gb_per_s") or v.get("ops_per_s") or v.get("ratio"))' "$1"; }
for w in "$@"; do
  as=(); bs=()
  for _ in $(seq "$rounds"); do
    as+=("$(timeout 120 "$A" --only "$w" --repeat 1 2>/dev/null | val "$w")")
    bs+=("$(timeout 120 "$B" --only "$w" --repeat 1 2>/dev/null | val "$w")")
  done
  python3 - "$w" "${as[*]}" "${bs[*]}" <<'P'
import sys, statistics as s
w = sys.argv[1]; a = [float(x) for x in sys.argv[2].split()]; b = [float(x) for x in sys.argv[3].split()]
print(f"{w}: base {s.median(a):.4g} new {s.median(b):.4g} ratio {s.median(b) / s.median(a):.3f}  base={a} new={b}")
P
done
