#!/bin/bash
# variant.sh NAME: builds /tmp/wt-exp's queue bench and copies it to /tmp/i17/v/NAME/release/deps/queue-028ec6487b77a00d
set -e
cd /tmp/wt-exp
CARGO_TARGET_DIR=/tmp/i17/exptarget flock /tmp/mpipc-cargo.lock cargo bench --locked --no-run --bench queue 2>&1 | grep -E "^error" -A5 || true
mkdir -p /tmp/i17/v/$1/release/deps
cp $(ls -t /tmp/i17/exptarget/release/deps/queue-* | grep -v '\.d$' | head -1) /tmp/i17/v/$1/release/deps/queue-028ec6487b77a00d
