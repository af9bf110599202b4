#!/usr/bin/env bash
# Runs mpipc's queue benchmark and Python's multiprocessing.Queue baseline
# in one invocation and writes the comparison (default: BENCHMARKS.md).
#
#   benches/run.sh [--quick] [--out FILE]
#
# --quick: small sizes, one repetition (a smoke test; figures not meaningful).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=()
out=BENCHMARKS.md
while (($#)); do
    case $1 in
        --quick) quick=(--quick) ;;
        --out) out=$2; shift ;;
        *) echo "usage: benches/run.sh [--quick] [--out FILE]" >&2; exit 2 ;;
    esac
    shift
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== mpipc (cargo bench --bench queue -- ${quick[*]})" >&2
cargo bench --locked --bench queue -- "${quick[@]}" > "$tmp/mpipc.json"
echo "== Python multiprocessing (python3 benches/python/mp_queue_bench.py ${quick[*]})" >&2
python3 benches/python/mp_queue_bench.py "${quick[@]}" > "$tmp/python.json"
python3 benches/report.py "$tmp/mpipc.json" "$tmp/python.json" "benches/run.sh ${quick[*]}" > "$tmp/report.md"
if [[ $out == /dev/null ]]; then
    echo "benches/run.sh: smoke run OK" >&2
else
    cp "$tmp/report.md" "$out"
    echo "benches/run.sh: wrote $out" >&2
fi
