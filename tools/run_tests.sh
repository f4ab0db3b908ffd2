#!/bin/sh
# Run every test binary given, report each, fail if any failed.
failed=""
# No suite may touch the user's own database: the default path
# ($XDG_DATA_HOME/frontdesk/frontdesk.db) points into a scratch directory.
scratch=$(mktemp -d /tmp/frontdesk-xdg-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
XDG_DATA_HOME=$scratch
export XDG_DATA_HOME
unset FRONTDESK_DB
# The engine and kernel suites run once per kernel path this CPU runs
# (FRONTDESK_SIMD; the binary refuses a path the CPU cannot run).
paths=""
for p in portable avx2 avx512; do
    if FRONTDESK_SIMD=$p "${FRONTDESK_BIN:-build/frontdesk}" --version >/dev/null 2>&1; then
        paths="$paths $p"
    fi
done
echo "kernel paths this CPU runs:$paths"
run() { # what to call it, then the command
    label=$1
    shift
    if "$@"; then
        echo "PASS $label"
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
if [ -n "$failed" ]; then
    echo "FAILED:$failed"
    exit 1
fi
echo "all $# suites passed"
