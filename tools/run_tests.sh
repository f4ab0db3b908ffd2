#!/bin/sh
# Run every test binary given, report each, fail if any failed.
#
# Each suite ends as PASS, FAIL or SKIP.  A suite SKIPs when it exits 77
# (it could not run at all: no UTF-8 locale, no tmux, ...) or when it
# recorded a reason for skipping part of itself in $FRONTDESK_SKIP_FILE
# (tests/testutil.h: test_skip, test_shared_dir without ../shared), and
# the reasons are printed: a skip never reads as a pass.  Skips do not
# fail the run, failures do.
#
# Before any suite, one throwaway PostgreSQL cluster starts
# (tools/pg_cluster.sh: Unix socket only, as the postgres user when run as
# root) and every suite finds it in the environment: FRONTDESK_TEST_PG
# (its URL), FRONTDESK_TEST_PG_DIR (the socket directory, which
# tools/pg_cluster.sh restart/down/up take), FRONTDESK_TEST_PG_DATA (the
# data directory), FRONTDESK_PG_CLUSTER (the script).  It is stopped and
# removed on the way out, whether the suites passed, failed or the run was
# interrupted (INT, TERM, HUP; a watchdog stops it if this script is
# killed outright).  A cluster that cannot start is a FAIL, never a skip.
# The store's suites (the case list below) run twice, on SQLite and on
# that server (FRONTDESK_TEST_BACKEND=sqlite, then postgresql).
failed=""
skipped=""
passed=0
here=$(cd "$(dirname "$0")" && pwd)
pgctl=$here/pg_cluster.sh
pgdir=""
watchdog=""
cleanup() {
    if [ -n "$pgdir" ]; then
        "$pgctl" stop "$pgdir" 2>/dev/null
        rm -rf "$pgdir"
    fi
    [ -z "$watchdog" ] || kill -9 "$watchdog" 2>/dev/null
    rm -rf "$scratch"
}
# No suite may touch the user's own database: the default path
# ($XDG_DATA_HOME/frontdesk/frontdesk.db) points into a scratch directory.
scratch=$(mktemp -d /tmp/frontdesk-xdg-XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
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
unset FRONTDESK_TEST_PG FRONTDESK_TEST_PG_DIR FRONTDESK_TEST_PG_DATA
pgdir=$(mktemp -d /tmp/frontdesk-pg-XXXXXX)
if pgurl=$("$pgctl" start "$pgdir" 2>"$scratch/pg_cluster.err"); then
    FRONTDESK_TEST_PG=$pgurl
    FRONTDESK_TEST_PG_DIR=$pgdir
    FRONTDESK_TEST_PG_DATA=$pgdir/data
    FRONTDESK_PG_CLUSTER=$pgctl
    export FRONTDESK_TEST_PG FRONTDESK_TEST_PG_DIR FRONTDESK_TEST_PG_DATA FRONTDESK_PG_CLUSTER
    echo "postgresql cluster for the suites: $pgurl"
    # Outlives this script only to stop the cluster should it be killed
    # outright (deaf to the signals a terminal or timeout sends the group).
    (
        trap '' INT TERM HUP
        while kill -0 $$ 2>/dev/null; do sleep 1; done
        "$pgctl" stop "$pgdir"
    ) </dev/null >/dev/null 2>&1 &
    watchdog=$!
else
    echo "FAIL postgresql cluster ($(tr '\n' ' ' <"$scratch/pg_cluster.err" | sed 's/ *$//'))"
    failed="$failed postgresql-cluster"
fi
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
    # The store's suites run once per backend: SQLite files, then
    # databases on the cluster above (FRONTDESK_TEST_BACKEND=postgresql).
    test_storage)
        run "$name [sqlite]" env FRONTDESK_TEST_BACKEND=sqlite "$t"
        run "$name [postgresql]" env FRONTDESK_TEST_BACKEND=postgresql "$t"
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
