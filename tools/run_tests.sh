#!/bin/sh
# Run every test binary given, report each, fail if any failed.
#
# Each suite ends as PASS, FAIL or SKIP.  A suite SKIPs when it exits 77
# (it could not run at all: no UTF-8 locale, no tmux, ...) or when it
# recorded a reason for skipping part of itself in $FRONTDESK_SKIP_FILE
# (tests/testutil.h: test_skip, test_shared_dir without ../shared), and
# the reasons are printed: a skip never reads as a pass.  Skips do not
# fail the run, failures do.
failed=""
skipped=""
passed=0
# No suite may touch the user's own database: the default path
# ($XDG_DATA_HOME/frontdesk/frontdesk.db) points into a scratch directory.
scratch=$(mktemp -d /tmp/frontdesk-xdg-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
XDG_DATA_HOME=$scratch
export XDG_DATA_HOME
unset FRONTDESK_DB
FRONTDESK_SKIP_FILE=$scratch/skipped
export FRONTDESK_SKIP_FILE
# The engine and kernel suites run once per kernel path this CPU runs
# (FRONTDESK_SIMD; the binary refuses a path the CPU cannot run).
paths=""
for p in portable avx2 avxvnni avx512; do
    if FRONTDESK_SIMD=$p "${FRONTDESK_BIN:-build/frontdesk}" --version >/dev/null 2>&1; then
        paths="$paths $p"
    fi
done
echo "kernel paths this CPU runs:$paths"
run() { # what to call it, then the command
    label=$1
    shift
    rm -f "$FRONTDESK_SKIP_FILE"
    "$@"
    rc=$?
    reasons=""
    if [ -s "$FRONTDESK_SKIP_FILE" ]; then
        reasons=$(sort -u "$FRONTDESK_SKIP_FILE" | awk 'NR > 1 { printf "; " } { printf "%s", $0 }')
    fi
    if [ "$rc" -eq 77 ] || { [ "$rc" -eq 0 ] && [ -n "$reasons" ]; }; then
        echo "SKIP $label (${reasons:-no reason given})"
        skipped="$skipped $label"
    elif [ "$rc" -eq 0 ]; then
        echo "PASS $label"
        passed=$((passed + 1))
    else
        echo "FAIL $label"
        failed="$failed $label"
    fi
}
for t in "$@"; do
    name=$(basename "$t")
    case $name in
    test_engine | test_quant)
        for p in $paths; do
            run "$name [FRONTDESK_SIMD=$p]" env FRONTDESK_SIMD=$p "$t"
        done
        ;;
    *) run "$name" "$t" ;;
    esac
done
[ -n "$skipped" ] && echo "SKIPPED (not fully tested here):$skipped"
if [ -n "$failed" ]; then
    echo "FAILED:$failed"
    exit 1
fi
if [ -n "$skipped" ]; then
    echo "$passed suite runs passed; some skipped (above): not everything was tested"
else
    echo "all $passed suite runs passed"
fi
