#!/usr/bin/env bash
# Builds and runs the fuzz targets of fuzz/ (docs/FUZZING.md).
#
#   scripts/fuzz.sh run SECONDS [TARGET...]   each target SECONDS seconds
#   scripts/fuzz.sh cmin [TARGET...]          minimise fuzz/corpus/<t> with what
#                                             the runs found (build/fuzz/corpus/<t>)
#   scripts/fuzz.sh seed                      regenerate the seed inputs
#   scripts/fuzz.sh list                      the targets
#
# Runs read the committed corpus fuzz/corpus/<t> and write what they find to
# build/fuzz/corpus/<t> (never into the repository); a crash, a leak, a
# timeout (one input over FUZZ_TIMEOUT s, default 10) or an out-of-memory
# (over FUZZ_RSS_MB, default 2048) is saved to build/fuzz/artifacts/<t>/ and
# makes the script exit non-zero after the other targets have run.
#
# Toolchain: the stable one, with RUSTC_BOOTSTRAP=1 (cargo fuzz passes
# -Zsanitizer=address and other -Z flags, which stable rustc accepts with
# it; the sanitizer runtimes ship in rust-std). Artefacts go to
# target/fuzz, never the main target dir.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGETS_ALL=(pipe_frames auth_handshake manager_requests cbor_value segment c_abi)
OUT=build/fuzz
BIN=target/fuzz/x86_64-unknown-linux-gnu/release
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-2048}

export RUSTC_BOOTSTRAP=1
export PATH="$ROOT/build/tools/bin:$PATH"

dict_of() {
    case $1 in
        manager_requests | cbor_value) echo fuzz/dict/manager.dict ;;
        *) echo fuzz/dict/frames.dict ;;
    esac
}

# The largest input libFuzzer may make: the seeds' sizes (a segment file of
# a Condition is 14 KiB, a frame over the 64 KiB receive buffer 70 KiB).
max_len_of() {
    case $1 in
        pipe_frames) echo 80000 ;;
        segment | c_abi) echo 20000 ;;
        *) echo 4096 ;;
    esac
}

build() {
    bash scripts/install-fuzz.sh fuzz
    local t0=$SECONDS
    (cd fuzz && nice -n 10 cargo fuzz build -O --target-dir ../target/fuzz)
    echo "fuzz: built the targets in $((SECONDS - t0)) s"
}

cmd=${1:-}
shift || true
case $cmd in
    list)
        printf '%s\n' "${TARGETS_ALL[@]}"
        ;;
    seed)
        (cd fuzz && CARGO_TARGET_DIR=../target/fuzz-seed nice -n 10 cargo run --locked --release --example seed_corpus)
        ;;
    run)
        secs=${1:?usage: scripts/fuzz.sh run SECONDS [TARGET...]}
        shift
        targets=("$@")
        [[ ${#targets[@]} -gt 0 ]] || targets=("${TARGETS_ALL[@]}")
        build
        failed=()
        summary=()
        for t in "${targets[@]}"; do
            mkdir -p "$OUT/corpus/$t" "$OUT/artifacts/$t"
            log="$OUT/$t.log"
            echo "== fuzz $t: ${secs} s"
            rc=0
            nice -n 10 "$BIN/$t" "$OUT/corpus/$t" "fuzz/corpus/$t" \
                -dict="$(dict_of "$t")" -max_len="$(max_len_of "$t")" \
                -max_total_time="$secs" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb="$FUZZ_RSS_MB" \
                -artifact_prefix="$OUT/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1 || rc=$?
            status=$(grep -E '^#[0-9]+[[:space:]].*cov:' "$log" | tail -1 || true)
            runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
            if [[ $rc -ne 0 ]]; then
                failed+=("$t")
                echo "fuzz: $t FAILED (exit $rc); log: $log; input(s) in $OUT/artifacts/$t/" >&2
                grep -E 'panicked at|ERROR:|SUMMARY:|Test unit written' -A3 "$log" | head -30 >&2 || true
            fi
            summary+=("$(printf '%-17s %s runs=%s %s' "$t" "$([[ $rc -eq 0 ]] && echo ok || echo FAILED)" "${runs:-?}" "${status:+cov:${status#*cov:}}")")
        done
        echo "== fuzz summary (${secs} s per target)"
        printf '%s\n' "${summary[@]}"
        if [[ ${#failed[@]} -ne 0 ]]; then
            echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
            exit 1
        fi
        ;;
    cmin)
        targets=("$@")
        [[ ${#targets[@]} -gt 0 ]] || targets=("${TARGETS_ALL[@]}")
        build
        for t in "${targets[@]}"; do
            mkdir -p "$OUT/corpus/$t"
            new="$OUT/cmin-$t"
            rm -rf "$new"
            mkdir -p "$new"
            nice -n 10 "$BIN/$t" -merge=1 -max_len="$(max_len_of "$t")" -timeout="$FUZZ_TIMEOUT" \
                "$new" "fuzz/corpus/$t" "$OUT/corpus/$t" >"$OUT/cmin-$t.log" 2>&1
            # Named inputs (seed-*: made by the library, `seed`;
            # regression-*: found bugs) are kept whatever their coverage;
            # the inputs libFuzzer names by their SHA-1 are replaced by the
            # minimised set, less copies of the named ones.
            keep=$(find "fuzz/corpus/$t" -maxdepth 1 -type f \( -name 'seed-*' -o -name 'regression-*' \) \
                -exec sha1sum {} + | cut -d' ' -f1)
            find "fuzz/corpus/$t" -maxdepth 1 -type f -regextype posix-extended -regex '.*/[0-9a-f]{40}' -delete
            for f in "$new"/*; do
                [[ -f $f ]] || continue
                grep -qx "$(basename "$f")" <<<"$keep" || cp "$f" "fuzz/corpus/$t/"
            done
            echo "cmin $t: $(find "fuzz/corpus/$t" -type f | wc -l) files, $(du -sk "fuzz/corpus/$t" | cut -f1) KiB"
        done
        ;;
    *)
        sed -n '2,18p' "$0" >&2
        exit 2
        ;;
esac
