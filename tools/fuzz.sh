#!/bin/sh
# make fuzz: run every libFuzzer harness tests/fuzz/fuzz_<name>.c in turn.
#
#   tools/fuzz.sh SECONDS [NAME ...]      (NAME: gguf, tokenizer, ...; default all)
#
# Installs clang and libclang-rt-14-dev when missing (tools/deps.sh fuzz),
# builds the tree with clang, ASan and UBSan and the libFuzzer harnesses into
# build-fuzz-lf, then runs each harness for SECONDS (FUZZ_JOBS at a time,
# default 1, under nice) on a scratch copy of its seed corpus
# tests/fuzz/corpus/<name>/.  A crash, leak, timeout or out-of-memory is
# written to tests/fuzz/crashes/<name>/ (fix the bug, then commit the file:
# make test replays it forever).  Inputs that found new coverage are merged
# back into the seed corpus (libFuzzer -merge=1), smallest first, only while
# it stays small (FUZZ_MAX_FILES 200 files, FUZZ_MAX_BYTES 1 MB).  Prints per harness the
# executions, the coverage (libFuzzer's final cov: edges and ft: features),
# the corpus and the crashes, also into build-fuzz-lf/fuzz-report.txt.
# Exit status 1 when a harness crashed.
set -u
cd "$(dirname "$0")/.." || exit 1
secs=${1:-60}
shift 2>/dev/null
jobs=${FUZZ_JOBS:-1}
max_files=${FUZZ_MAX_FILES:-200}
max_bytes=${FUZZ_MAX_BYTES:-1048576}
out=build-fuzz-lf

tools/deps.sh fuzz || exit 1
if [ $# -gt 0 ]; then
    names="$*"
else
    names=$(for f in tests/fuzz/fuzz_*.c; do b=${f##*/fuzz_}; echo "${b%.c}"; done)
fi
targets=""
for n in $names; do
    [ -f "tests/fuzz/fuzz_$n.c" ] || { echo "fuzz: no harness tests/fuzz/fuzz_$n.c" >&2; exit 1; }
    targets="$targets $out/fuzz/fuzz_$n"
done
# The library with coverage counters but no libFuzzer main(); the harness
# links libFuzzer in (Makefile: $(BUILD)/fuzz/fuzz_%).
# shellcheck disable=SC2086
nice -n 10 make --no-print-directory -j2 BUILD=$out CC=clang OPT=-O1 \
    SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
    $targets || exit 1

files() { find "$1" -type f | wc -l | tr -d ' '; }
bytes() { du -sb "$1" | cut -f1; }

# Fuzz one harness; its report line goes to $out/work/NAME/row.
run_one() {
    n=$1
    bin=$out/fuzz/fuzz_$n
    work=$out/work/$n
    seeds=tests/fuzz/corpus/$n
    crashes=tests/fuzz/crashes/$n
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/merged" "$crashes" "$seeds"
    cp -pR "$seeds/." "$work/corpus/"
    before=$(files "$seeds")
    start=$(date +%s)
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 nice -n 10 "$bin" -max_total_time="$secs" \
        -print_final_stats=1 -timeout=25 -rss_limit_mb=2048 -artifact_prefix="$crashes/" \
        "$work/corpus" >"$work/log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
    last=$(grep -E '^#[0-9]+.*cov: [0-9]+' "$work/log" | tail -n 1)
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    found=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/log" | tr '\n' ' ')
    why=$(grep -m1 -E '^SUMMARY|ERROR: libFuzzer|==ERROR' "$work/log" | cut -c1-160)
    # New coverage back into the seeds, only while they stay small.
    cp -pR "$seeds/." "$work/merged/"
    merged="not merged (the run crashed)"
    if [ "$rc" -eq 0 ]; then
        nice -n 10 "$bin" -merge=1 "$work/merged" "$work/corpus" >"$work/merge.log" 2>&1
        # The new inputs, smallest first, while the seeds stay under the caps.
        nf=$before
        nb=$(bytes "$seeds")
        left=0
        for f in $(cd "$work/merged" && ls -S -r); do
            [ -e "$seeds/$f" ] && continue
            sz=$(stat -c %s "$work/merged/$f")
            if [ "$nf" -lt "$max_files" ] && [ $((nb + sz)) -le "$max_bytes" ]; then
                cp -p "$work/merged/$f" "$seeds/"
                nf=$((nf + 1))
                nb=$((nb + sz))
            else
                left=$((left + 1))
            fi
        done
        merged="seeds $before -> $nf files"
        [ "$left" -eq 0 ] || merged="$merged ($left more new inputs left out: the seeds stay under $max_files files, $max_bytes bytes)"
    fi
    {
        printf 'fuzz_%s: %s s, %s executions, cov: %s ft: %s, corpus %s files after the run; %s; ' \
            "$n" "$took" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$(files "$work/corpus")" "$merged"
        if [ "$rc" -eq 0 ]; then
            echo "crashes: 0"
        else
            echo "CRASH (exit $rc): ${found:-no file written} ${why}"
        fi
    } >"$work/row"
}

i=0
for n in $names; do
    run_one "$n" &
    i=$((i + 1))
    [ $((i % jobs)) -eq 0 ] && wait
done
wait
{
    echo "make fuzz, $(date -u '+%Y-%m-%d %H:%M UTC'), $secs s per harness, $(git rev-parse --short HEAD 2>/dev/null)"
    for n in $names; do cat "$out/work/$n/row"; done
} | tee "$out/fuzz-report.txt"
! grep -q CRASH "$out/fuzz-report.txt"
