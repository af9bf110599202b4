#!/usr/bin/env bash
# Installs what `make fuzz-smoke`, `make fuzz` and `make sanitize` need
# beyond the ordinary build, when missing:
# - cargo-fuzz (pinned) into build/tools/bin, built from crates.io with
#   `cargo install --locked`;
# - the rust-src component of the active toolchain (ThreadSanitizer needs
#   the standard library rebuilt with instrumentation: -Zbuild-std).
# The sanitizer runtimes themselves ship in rust-std; no nightly toolchain
# is needed: the Makefile sets RUSTC_BOOTSTRAP=1 (docs/FUZZING.md).
#
#   scripts/install-fuzz.sh            both
#   scripts/install-fuzz.sh fuzz       cargo-fuzz only
#   scripts/install-fuzz.sh rust-src   rust-src only
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.2
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/build/tools"
what=${1:-all}

if [[ $what == all || $what == fuzz ]]; then
    have=$("$TOOLS/bin/cargo-fuzz" --version 2>/dev/null || true)
    if [[ $have != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
        echo "install-fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION into build/tools"
        # Its own target dir, so the project's target/ is left alone.
        CARGO_TARGET_DIR="$ROOT/target/tools" nice -n 10 cargo install --locked --quiet \
            cargo-fuzz --version "=$CARGO_FUZZ_VERSION" --root "$TOOLS"
    fi
fi

if [[ $what == all || $what == rust-src ]]; then
    sysroot=$(rustc --print sysroot)
    if [[ ! -d $sysroot/lib/rustlib/src/rust/library ]]; then
        echo "install-fuzz: adding the rust-src component (for -Zbuild-std)"
        rustup component add rust-src
    fi
fi
