#!/bin/sh
# End-to-end: the dashboard (F3) of a TUI in a real terminal (tmux) shows
# the traffic that another process, `frontdesk serve`, answers on the same
# database, live.
#
#   tests/e2e/serve_dash.sh BIN WORKDIR
#
# Starts serve on 127.0.0.1 (a free port), opens the TUI on the same
# database at the Dashboard, sends 3 requests through frontdesk's own
# OpenAI client (ask --backend), waits for the dashboard to count them
# (errors 0.0% (0 of 3)), sends 2 more, waits for 5, then sends one that
# asks too long a context: it is refused before generation (400) and
# leaves the count alone.  Prints the captured screens; exits non-zero on
# any failure.
set -eu
bin=$(realpath "$1") work=$(realpath "$2")
db="$work/serve-dash.db"
rm -f "$db" "$db-wal" "$db-shm"
mkdir -p "$work/cfg-serve/frontdesk"
cat > "$work/cfg-serve/frontdesk/config" <<CFG
[sampling]
temperature = 0
max_tokens = 8
CFG
sock="$work/tmux-serve.sock"
here=$(dirname "$0")
fail_extra='echo "---- serve ----"; cat "$work/serve.log" || true'
. "$here/lib.sh"
server=""
cleanup() {
    T kill-server 2>/dev/null || true
    [ -z "$server" ] || kill "$server" 2>/dev/null || true
}
trap cleanup EXIT

XDG_CONFIG_HOME="$work/cfg-serve" "$bin" serve --port 0 --db "$db" --threads 1 2>"$work/serve.log" &
server=$!
n=100
while [ "$n" -gt 0 ] && ! grep -q "http://127.0.0.1:" "$work/serve.log"; do
    sleep 0.1
    n=$((n - 1))
done
url=$(grep -o "http://127.0.0.1:[0-9]*/v1" "$work/serve.log" | head -n 1)
[ -n "$url" ] || fail "serve did not start"

T new-session -d -s fd -x 100 -y 30 \
    "env XDG_CONFIG_HOME='$work/cfg-serve' TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 '$bin' --db '$db'; sleep 30"
wait_for "F1 Chat" 20
T send-keys -t fd F3
wait_for "Dashboard"

ask() {
    XDG_CONFIG_HOME="$work/cfg-serve" "$bin" ask --no-db --backend "$url" -n 8 "$1" >/dev/null \
        || fail "ask --backend $url failed"
}
ask "Where is my parcel?"
ask "I want a refund."
ask "Can I change my address?"
wait_for_re "^errors +0\.0% \(0 of 3\)" 20
cap | grep -qF "frontdesk-cs" || fail "the served model is not in the Models panel"
echo "---- dashboard after 3 served requests ----"
cap
ask "Do you ship abroad?"
ask "Thanks!"
wait_for_re "^errors +0\.0% \(0 of 5\)" 20
echo "---- dashboard after 5 ----"
cap
# the served requests are in the store as serve's
n=$("$bin" stats --json --window all --db "$db" | grep -c '"requests": 5,' || true)
[ "$n" -ge 1 ] || fail "stats does not count 5 requests"
echo "serve-dash: ok"
