#!/usr/bin/env bash
# Fuzzes the request path (crates/engine/fuzz): every target for [seconds] each (default 60).
#
#   scripts/fuzz.sh [seconds]
#   FUZZ_TOTAL_SECONDS=300 scripts/fuzz.sh 60    (CI: at most 300 s of fuzzing in all)
#
# Needs the nightly toolchain; installs cargo-fuzz if it is missing. Builds into
# $CARGO_TARGET_DIR (default ~/.cache/meridian/fuzz-target, apart from the main build's
# cache). Each target starts from its committed seeds plus whatever it found before
# (crates/engine/fuzz/corpus/<target>, growth git-ignored). Exits non-zero if any target
# crashed, hung (-timeout per input), ran out of memory (-rss_limit_mb) or made one huge
# allocation (-malloc_limit_mb); the input is saved under crates/engine/fuzz/artifacts/.
#
# Limits: 10 s per input (an input is at most 24 commands on a small keyspace, so
# anything near that is a hang, not slowness); one allocation over 1 GiB is a bug (the
# largest legitimate value is a 512 MB string, and the fuzzer keeps offsets far below
# that); 4 GiB RSS leaves room for AddressSanitizer's own overhead on a 2-core CI box.
#
# Env: FUZZ_TARGETS="a b" to pick targets; FUZZ_JOBS (default 1); FUZZ_TOTAL_SECONDS caps
# the sum over targets; MERIDIAN_FUZZ_SCRIPTS=0 leaves EVAL/EVALSHA/FCALL/FUNCTION out of
# the command targets. Per-target extras: <target>.dict (dictionary), <target>.flags.
set -uo pipefail

secs="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
fuzz_dir="$root/crates/engine/fuzz"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/meridian/fuzz-target}"
jobs="${FUZZ_JOBS:-1}"
start=$(date +%s)

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: the nightly toolchain is required (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo +nightly install cargo-fuzz --locked || exit 2
fi

targets="${FUZZ_TARGETS:-$(cargo fuzz list --fuzz-dir "$fuzz_dir")}"
ntargets=$(echo $targets | wc -w)
# FUZZ_TOTAL_SECONDS caps the fuzzing time of all targets together (CI): each target
# then gets min(seconds, total / targets), at least 10 s.
if [ -n "${FUZZ_TOTAL_SECONDS:-}" ] && [ "$ntargets" -gt 0 ]; then
    share=$((FUZZ_TOTAL_SECONDS / ntargets))
    [ "$share" -lt 10 ] && share=10
    [ "$share" -lt "$secs" ] && secs=$share
fi
cd "$root" || exit 2
echo "fuzz: building ($CARGO_TARGET_DIR)"
if ! cargo +nightly fuzz build --fuzz-dir "$fuzz_dir" --target-dir "$CARGO_TARGET_DIR"; then
    echo "fuzz: SUMMARY build failed" >&2
    exit 2
fi
built=$(date +%s)

failed=()
summary=()
for t in $targets; do
    corpus="$fuzz_dir/corpus/$t"
    artifacts="$fuzz_dir/artifacts/$t"
    mkdir -p "$corpus" "$artifacts"
    extra=()
    [ -f "$fuzz_dir/$t.dict" ] && extra+=("-dict=$fuzz_dir/$t.dict")
    # Per-target libFuzzer flags, one per line (# comments), e.g. -detect_leaks=0.
    [ -f "$fuzz_dir/$t.flags" ] && extra+=($(grep -v '^ *#' "$fuzz_dir/$t.flags"))
    # -jobs=1 would still fork a child that logs elsewhere: only ask for jobs when > 1.
    [ "$jobs" -gt 1 ] && extra+=("-jobs=$jobs" "-workers=$jobs")
    mkdir -p "$fuzz_dir/logs"
    # Not in the artifacts dir: cargo-fuzz reports the newest file there as the input.
    log="$fuzz_dir/logs/$t.log"
    echo "fuzz: $t for ${secs}s (log $log)"
    cargo +nightly fuzz run --fuzz-dir "$fuzz_dir" --target-dir "$CARGO_TARGET_DIR" "$t" \
        "$corpus" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -malloc_limit_mb=1024 \
        -max_len=4096 -print_final_stats=1 -artifact_prefix="$artifacts/" "${extra[@]}" \
        >"$log" 2>&1
    rc=$?
    # With -jobs, libFuzzer writes each job's output to fuzz-<n>.log in the cwd.
    if [ "$jobs" -gt 1 ]; then cat fuzz-*.log >>"$log" 2>/dev/null; rm -f fuzz-*.log; fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
    if [ "$rc" -ne 0 ] || grep -qE '^==[0-9]+== ?ERROR|^SUMMARY: libFuzzer|deadly signal|panicked at' "$log"; then
        failed+=("$t")
        echo "fuzz: $t FAILED (exit $rc); tail of $log:" >&2
        # The error, the panic message, and the stack frames in this repository.
        grep -E -A2 'panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer' "$log" | cut -c1-300 | head -12 >&2
        grep -E "^ +#[0-9]+ .* in .*$root/crates/|^ +#[0-9]+ .* (engine|resp|keys|meridian_fuzz)::" "$log" |
            cut -c1-300 | head -12 >&2
        grep -E 'Test unit written' "$log" | head -3 >&2
        bin="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/$t"
        echo "fuzz: replay one input with its commands and replies: MERIDIAN_FUZZ_TRACE=1 $bin <input>" >&2
        echo "fuzz: minimize: cargo +nightly fuzz tmin --fuzz-dir $fuzz_dir --target-dir $CARGO_TARGET_DIR $t <input>" >&2
        summary+=("$t=FAIL")
    else
        summary+=("$t=ok(${execs}execs,cov${cov:-?})")
    fi
done

end=$(date +%s)
echo "fuzz: SUMMARY ${#failed[@]} failed of $ntargets targets, ${secs}s each; build $((built - start))s, total $((end - start))s; ${summary[*]}"
[ "${#failed[@]}" -eq 0 ]
