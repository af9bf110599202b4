#!/usr/bin/env bash
# Builds and runs every Rust example (examples/rust, declared in Cargo.toml
# as rust_<scenario>); each checks its own result and exits non-zero on a
# mismatch, which fails this script.
#
#   bash examples/rust/run_all.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
CARGO="${CARGO:-cargo}"
EXAMPLES=(producer_consumer request_reply shared_counter shared_array)
# Build first, so that the time limit below is the run's alone.
"$CARGO" build --release --locked "${EXAMPLES[@]/#/--example=rust_}"
for ex in "${EXAMPLES[@]}"; do
    echo "== examples/rust/$ex"
    timeout 120 "$CARGO" run --release --locked --quiet --example "rust_$ex"
done
echo "run_all.sh: every Rust example passed"
