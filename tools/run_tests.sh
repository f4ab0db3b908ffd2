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
workers=""
cleanup() {
    if [ -n "$pgdir" ]; then
        "$pgctl" stop "$pgdir" 2>/dev/null
        rm -rf "$pgdir"
    fi
    [ -z "$watchdog" ] || kill -9 "$watchdog" 2>/dev/null
    # shellcheck disable=SC2086
    [ -z "$workers" ] || kill $workers 2>/dev/null
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
# The suites run FRONTDESK_TEST_JOBS at a time (default: the number of
# cores, at most 4): most of a suite's time is waiting (for a server, a
# child process, tmux), so two at a time on two cores halves the wall
# time.  Each suite gets its own scratch directory (its default store
# path, its skip file) and its output is printed whole when it ends, with
# its verdict line; the summary comes after the last.
jobs=${FRONTDESK_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
[ "$jobs" -le 4 ] || jobs=4
njobs=0
job() { # label, environment assignments (may be empty), binary
    printf '%s\n%s\n%s\n' "$1" "$2" "$3" >"$scratch/job.$njobs"
    njobs=$((njobs + 1))
}
for t in "$@"; do
    name=$(basename "$t")
    case $name in
    test_engine | test_quant | test_kernels)
        for p in $paths; do
            job "$name [FRONTDESK_SIMD=$p]" "FRONTDESK_SIMD=$p" "$t"
        done
        ;;
    # The store's suites run once per backend: SQLite files, then
    # databases on the cluster above (FRONTDESK_TEST_BACKEND=postgresql).
    # test_backends_agree runs once, against both at the same time.  Left
    # on SQLite: test_faults (faults injected through a SQLite VFS, the
    # file's own bytes), test_loop (the built-in model trained and
    # evaluated end to end: a minute for storage test_eval and test_deploy
    # already cover), the TUI and serve suites (the store is incidental).
    test_storage | test_store_messages | test_store_review | test_store_stats | test_store_cli | \
        test_store_cli_figures | test_rollup | test_alerts | test_arena | test_deploy | test_eval)
        job "$name [sqlite]" "FRONTDESK_TEST_BACKEND=sqlite" "$t"
        job "$name [postgresql]" "FRONTDESK_TEST_BACKEND=postgresql" "$t"
        ;;
    *) job "$name" "" "$t" ;;
    esac
done
run_job() { # the job's number
    j=$scratch/job.$1
    label=$(sed -n 1p "$j")
    envs=$(sed -n 2p "$j")
    bin=$(sed -n 3p "$j")
    d=$scratch/run.$1
    mkdir -p "$d/xdg"
    # shellcheck disable=SC2086 # envs: assignments split on purpose
    XDG_DATA_HOME=$d/xdg FRONTDESK_SKIP_FILE=$d/skipped env $envs "$bin" >"$d/out" 2>&1 </dev/null
    rc=$?
    reasons=""
    if [ -s "$d/skipped" ]; then
        reasons=$(sort -u "$d/skipped" | awk 'NR > 1 { printf "; " } { printf "%s", $0 }')
    fi
    if [ "$rc" -eq 77 ] || { [ "$rc" -eq 0 ] && [ -n "$reasons" ]; }; then
        echo "SKIP $label (${reasons:-no reason given})" >"$d/verdict"
    elif [ "$rc" -eq 0 ]; then
        echo "PASS $label" >"$d/verdict"
    else
        echo "FAIL $label" >"$d/verdict"
    fi
    flock "$scratch/print.lock" cat "$d/out" "$d/verdict"
}
worker() { # take the next job nobody has taken (mkdir is atomic) until none is left
    i=0
    while [ "$i" -lt "$njobs" ]; do
        if mkdir "$scratch/claim.$i" 2>/dev/null; then
            run_job "$i"
        fi
        i=$((i + 1))
    done
}
echo "$njobs suite runs, $jobs at a time"
workers=""
k=1
while [ "$k" -lt "$jobs" ]; do
    worker &
    workers="$workers $!"
    k=$((k + 1))
done
worker
for w in $workers; do
    wait "$w"
done
workers=""
i=0
while [ "$i" -lt "$njobs" ]; do
    v=$(cat "$scratch/run.$i/verdict" 2>/dev/null || echo "FAIL $(sed -n 1p "$scratch/job.$i") (never ran)")
    label=${v#* }
    case $v in
    PASS*) passed=$((passed + 1)) ;;
    SKIP*) skipped="$skipped ${label%% (*}" ;;
    *) failed="$failed $label" ;;
    esac
    i=$((i + 1))
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
