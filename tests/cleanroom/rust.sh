#!/usr/bin/env bash
# Clean-room step for Rust (tests/cleanroom/run.sh): a new cargo project in
# SCRATCH/rust that depends on the packaged crate (dist's mpipc-*.crate,
# unpacked as cargo would unpack it from a registry) plus serde from
# crates.io (its jobs are put and got as serde types); builds it, runs a producer and a consumer
# process, checks that depending on mpipc built no C library and left
# nothing outside the project's target/, and leaves SCRATCH/rust/mix.
#
#   rust.sh DISTDIR SCRATCH
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIST="${1:?usage: rust.sh DISTDIR SCRATCH}"
SCRATCH="${2:?usage: rust.sh DISTDIR SCRATCH}"
APP="$SCRATCH/rust"
mkdir -p "$APP/vendor"
crate=$(ls "$DIST"/mpipc-*.crate)
tar xzf "$crate" -C "$APP/vendor"
crate_dir=$(ls -d "$APP"/vendor/mpipc-*/)
version=$(basename "$crate_dir")
version=${version#mpipc-}

mkdir -p "$APP/src"
cp "$HERE/rust/src/main.rs" "$APP/src/main.rs"
cat > "$APP/Cargo.toml" <<TOML
[package]
name = "app"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
# What \`mpipc = "$version"\` from crates.io resolves to, unpacked locally.
mpipc = { path = "vendor/mpipc-$version", version = "$version" }
serde = { version = "1", features = ["derive"] }
TOML
(cd "$APP" && cargo build --release --quiet)
BIN="$APP/target/release/app"

# Depending on the Rust crate builds no C library, and writes nothing but
# cargo's own files into target/.
if found=$(find "$APP/target" -name 'libmpipc*.so*' -o -name 'libmpipc*.a' | head -5) && [[ -n "$found" ]]; then
    echo "rust: the dependency built a C library: $found" >&2
    exit 1
fi
if dangling=$(find "$APP/target" -xtype l | head -5) && [[ -n "$dangling" ]]; then
    echo "rust: dangling links in target/: $dangling" >&2
    exit 1
fi

queue="/cr-rust-$$"
"$BIN" produce "$queue" 1000 1
out=$("$BIN" consume "$queue")
echo "$out"
"$BIN" unlink "$queue"
[[ "$out" == "rust consumed 1000 (idsum 499500)" ]] || { echo "rust: consumer got the wrong jobs" >&2; exit 1; }

cat > "$APP/mix" <<SH
#!/bin/sh
exec "$BIN" "\$@"
SH
chmod +x "$APP/mix"
echo "rust: cargo project with mpipc $version built and ran a producer and a consumer"
