#!/usr/bin/env bash
# The core's Rust unit tests (cargo test --lib) under the sanitizers
# (docs/FUZZING.md, "Sanitizers").
#
#   scripts/sanitize.sh asan          AddressSanitizer (+ LeakSanitizer)
#   scripts/sanitize.sh tsan          ThreadSanitizer, std rebuilt with it
#   scripts/sanitize.sh asan tsan     both (make sanitize)
#
# Stable Rust with RUSTC_BOOTSTRAP=1 (the -Z flags); the sanitizer runtimes
# ship in rust-std. TSan needs the standard library instrumented too
# (-Zbuild-std, hence the rust-src component, which scripts/install-fuzz.sh
# adds when missing): an uninstrumented std hides its own synchronisation
# (thread spawn/join, channels, Once) and TSan then reports races that are
# not there. Each build has its own target dir (target/asan, target/tsan);
# RUSTFLAGS never touch the main one. Extra arguments for the test binary
# can be passed in SAN_TEST_ARGS (e.g. a test name filter).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TRIPLE=x86_64-unknown-linux-gnu
export RUSTC_BOOTSTRAP=1
# The tests spawn threads and processes; two at a time suit the 2-core
# machines this runs on, sanitizers being 2-15x slower.
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-2}
read -r -a extra <<<"${SAN_TEST_ARGS:-}"

run_asan() {
    echo "== AddressSanitizer: cargo test --lib (target/asan)"
    local t0=$SECONDS
    # detect_leaks: LeakSanitizer at exit. Mappings a test keeps on
    # purpose (a lock handle dropped while held) are not heap and not
    # reported.
    RUSTFLAGS="-Zsanitizer=address -Cforce-frame-pointers=yes" \
        RUSTDOCFLAGS="-Zsanitizer=address" \
        ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:halt_on_error=1" \
        CARGO_TARGET_DIR=target/asan nice -n 10 \
        cargo test --locked --lib --target "$TRIPLE" -- "${extra[@]}"
    echo "asan: passed in $((SECONDS - t0)) s"
}

run_tsan() {
    bash scripts/install-fuzz.sh rust-src
    echo "== ThreadSanitizer: cargo test --lib, std rebuilt (target/tsan)"
    local t0=$SECONDS
    RUSTFLAGS="-Zsanitizer=thread -Cforce-frame-pointers=yes" \
        RUSTDOCFLAGS="-Zsanitizer=thread" \
        TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$ROOT/scripts/tsan.supp" \
        CARGO_TARGET_DIR=target/tsan nice -n 10 \
        cargo test --locked -Zbuild-std --lib --target "$TRIPLE" -- "${extra[@]}"
    echo "tsan: passed in $((SECONDS - t0)) s"
}

[[ $# -gt 0 ]] || set -- asan
for what in "$@"; do
    case $what in
        asan) run_asan ;;
        tsan) run_tsan ;;
        *)
            echo "usage: scripts/sanitize.sh [asan] [tsan]" >&2
            exit 2
            ;;
    esac
done
