#!/usr/bin/env bash
# Runs mpipc's queue, pipe, manager (incl. 256 clients under load) and
# array/lock benchmarks, the resource-hygiene measurement (full runs only), the bindings'
# queue benchmarks, the cross-language table (every producer x consumer
# language), and Python's multiprocessing.Queue, Pipe, Manager, Array and
# Lock baselines in one invocation and writes the comparison (default: BENCHMARKS.md).
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
echo "== mpipc pipes (cargo bench --bench pipe -- ${quick[*]})" >&2
cargo bench --locked --bench pipe -- "${quick[@]}" > "$tmp/mpipc_pipe.json"
echo "== Python multiprocessing Pipe (python3 benches/python/mp_pipe_bench.py ${quick[*]})" >&2
python3 benches/python/mp_pipe_bench.py "${quick[@]}" > "$tmp/python_pipe.json"
echo "== mpipc manager (cargo bench --bench manager -- ${quick[*]})" >&2
cargo bench --locked --bench manager -- "${quick[@]}" > "$tmp/mpipc_mgr.json"
echo "== Python multiprocessing Manager (python3 benches/python/mp_manager_bench.py ${quick[*]})" >&2
python3 benches/python/mp_manager_bench.py "${quick[@]}" > "$tmp/python_mgr.json"
echo "== mpipc manager under load (cargo bench --bench manager_load -- ${quick[*]})" >&2
cargo bench --locked --bench manager_load -- "${quick[@]}" > "$tmp/mpipc_mgr_load.json"
echo "== Python multiprocessing Manager under load (python3 benches/python/mp_manager_load.py ${quick[*]})" >&2
python3 benches/python/mp_manager_load.py "${quick[@]}" > "$tmp/python_mgr_load.json"
echo "== mpipc arrays and locks (cargo bench --bench sync -- ${quick[*]})" >&2
cargo bench --locked --bench sync -- "${quick[@]}" > "$tmp/mpipc_sync.json"
echo "== Python multiprocessing Array and Lock (python3 benches/python/mp_sync_bench.py ${quick[*]})" >&2
python3 benches/python/mp_sync_bench.py "${quick[@]}" > "$tmp/python_sync.json"
echo "== Go binding (go run ./bench/qtput ${quick[*]}, into a struct and into any)" >&2
(cd bindings/go && go run ./bench/qtput "${quick[@]/--quick/-quick}") > "$tmp/go_qtput_struct.json"
(cd bindings/go && go run ./bench/qtput -decode any "${quick[@]/--quick/-quick}") > "$tmp/go_qtput_any.json"
echo "== Python binding vs multiprocessing.Queue (benches/python/mpipc_py_bench.py ${quick[*]})" >&2
bash bindings/python/setup-venv.sh
MPIPC_LIB=$PWD/target/release/libmpipc.so build/venv-python/bin/python benches/python/mpipc_py_bench.py "${quick[@]}" \
    > "$tmp/python_binding.json"
echo "== Node binding (node bench/qtput.mjs ${quick[*]})" >&2
(cd bindings/node && npm ci --ignore-scripts --no-audit --no-fund >&2 && \
    MPIPC_LIB=$PWD/../../target/release/libmpipc.so node bench/qtput.mjs "${quick[@]}") > "$tmp/node_qtput.json"
echo "== Across languages (benches/polyglot_bench.py ${quick[*]})" >&2
build/venv-python/bin/python benches/polyglot_bench.py "${quick[@]}" > "$tmp/polyglot.json"
if ((${#quick[@]} == 0)); then
    # The full resource-hygiene run (100,000 cycles per primitive) writes
    # benches/results/hygiene.md, which the report includes.
    echo "== resource hygiene (bash tests/hygiene/run.sh 100000 5 benches/results/hygiene.md)" >&2
    bash tests/hygiene/run.sh 100000 5 benches/results/hygiene.md >&2
fi
python3 benches/report.py "$tmp" "benches/run.sh ${quick[*]}" > "$tmp/report.md"
if [[ $out == /dev/null ]]; then
    echo "benches/run.sh: smoke run OK" >&2
else
    cp "$tmp/report.md" "$out"
    echo "benches/run.sh: wrote $out" >&2
fi
