#!/usr/bin/env bash
# Writes to stdout the licence notice of the Rust crates linked into
# libmpipc (the normal dependencies of the workspace, no proc-macros, for
# x86-64 Linux), each with its licence as its Cargo.toml states it and the
# licence files it ships, read from Cargo's unpacked sources of the build.
# Every package that ships the native library ships this text beside it
# (some of those licences ask for their notice to travel with binaries).
#
#   packaging/third-party.sh "WHAT"     WHAT names the files the crates are linked into
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
what="${1:?usage: third-party.sh WHAT}"
die() { echo "third-party.sh: $*" >&2; exit 1; }
command -v cargo >/dev/null || die "cargo is missing (needed to list the Rust crates linked in)"
crates=$(cd "$ROOT" && cargo tree --workspace -e normal,no-proc-macro --target x86_64-unknown-linux-gnu \
    --prefix none --format '{p}|{l}' --locked --offline) || die "cargo tree failed"
CARGO_SRC=${CARGO_HOME:-$HOME/.cargo}/registry/src
echo "Rust crates linked into $what (besides mpipc itself, MIT or Apache-2.0:"
echo "LICENSE-MIT, LICENSE-APACHE, and Rust's standard library, MIT or"
echo "Apache-2.0), each with its licence as its Cargo.toml states it and the"
echo "licence files it ships."
sed -e 's/ (\*)$//' -e '/^$/d' -e '/ (\//d' <<<"$crates" | sort -u |
    while IFS='|' read -r pkg licence; do
        name=${pkg% v*}
        version=${pkg##* v}
        echo
        echo "================================================================"
        echo "$name $version: $licence"
        echo "================================================================"
        src=$(compgen -G "$CARGO_SRC/*/$name-$version" | head -n1) ||
            die "the sources of $name $version are not in $CARGO_SRC (build first)"
        found=0
        while IFS= read -r f; do
            found=1
            echo
            echo "--- $name-$version/$f"
            echo
            cat "$src/$f"
        done < <(cd "$src" && ls | grep -iE '^(licen[cs]e|copying|copyright|notice|unlicense)' | sort)
        if [[ $found == 0 ]]; then
            echo
            echo "(The crate ships no licence file; the MIT and Apache-2.0 texts are in LICENSE-MIT and LICENSE-APACHE.)"
        fi
    done
