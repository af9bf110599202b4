#!/usr/bin/env bash
# The Rust crate `mpipc` as crates.io would receive it: `cargo package`
# (which builds the packaged sources on their own, so what is published
# compiles) into DISTDIR/mpipc-<version>.crate. Its contents are the
# `include` list of Cargo.toml: the library, docs/RUST.md, the licences and
# the Rust examples. The C library crate (capi/) is not published.
#
#   packaging/rust/dist.sh LIBDIR DISTDIR    (LIBDIR is unused: nothing native ships)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIST="${2:?usage: dist.sh LIBDIR DISTDIR}"
cd "$ROOT"
version=$(cargo metadata --locked --no-deps --format-version 1 |
    python3 -c 'import json, sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "mpipc"))')
# --allow-dirty: a developer's uncommitted work may be packaged too (CI's
# clone is clean); the crate records the commit it came from either way.
cargo package --locked --allow-dirty -p mpipc --target-dir "$ROOT/build/rust-dist/target" >&2
cp "$ROOT/build/rust-dist/target/package/mpipc-$version.crate" "$DIST/"
echo "rust: $DIST/mpipc-$version.crate ($(tar tzf "$DIST/mpipc-$version.crate" | wc -l) files)"
