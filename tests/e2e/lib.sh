# Shared by the tmux scripts of tests/e2e: set sock (the tmux server's
# socket, in the work directory) before sourcing; the session is "fd".
# fail_extra, when set, is a command run after the screen on failure.
T() { tmux -S "$sock" -f /dev/null "$@"; }
cap() { T capture-pane -p -t fd; }
fail() {
    echo "FAIL: $*"
    echo "---- screen ----"
    cap || true
    [ -z "${fail_extra:-}" ] || eval "$fail_extra"
    exit 1
}
# wait_for TEXT [SECONDS]: until the screen shows TEXT (fixed string)
wait_for() {
    n=$(( ${2:-10} * 10 ))
    while [ "$n" -gt 0 ]; do
        if cap | grep -qF -- "$1"; then return 0; fi
        sleep 0.1
        n=$((n - 1))
    done
    fail "timed out waiting for '$1'"
}
# wait_for_re REGEX [SECONDS]: until a line of the screen matches REGEX
wait_for_re() {
    n=$(( ${2:-10} * 10 ))
    while [ "$n" -gt 0 ]; do
        if cap | grep -qE -- "$1"; then return 0; fi
        sleep 0.1
        n=$((n - 1))
    done
    fail "timed out waiting for /$1/"
}
wait_gone() {
    n=$(( ${2:-10} * 10 ))
    while [ "$n" -gt 0 ]; do
        if ! cap | grep -qF -- "$1"; then return 0; fi
        sleep 0.1
        n=$((n - 1))
    done
    fail "'$1' did not go away"
}
shot() {
    echo "---- $1 ----"
    cap
}
