#!/bin/sh
# End-to-end: drive the real frontdesk binary in a real terminal (tmux).
#
#   tests/e2e/tui.sh BIN MODEL WORKDIR
#   E2E_BACKEND=URL tests/e2e/tui.sh BIN - WORKDIR    (the same against a server)
#
# Opens the TUI on MODEL with a fresh database, types a customer message,
# waits for the reply to stream in, thumbs it up, rates it 4 in Review,
# sees the request counted on the Dashboard with no alert (a healthy
# store), switches its window with w, resizes (including below the
# minimum size), quits with Ctrl-Q, then checks the database through the
# CLI: exactly two conversations (a second one is started at the end, and
# the list must mark it), one rating with thumbs and score, two requests.  Prints the captured screens; exits non-zero on any failure.
set -eu
bin=$(realpath "$1") work=$(realpath "$3")
if [ -n "${E2E_BACKEND:-}" ]; then
    source_args="--backend '$E2E_BACKEND'"
else
    source_args="--model '$(realpath "$2")'"
fi
db="$work/e2e.db"
rm -f "$db" "$db-wal" "$db-shm"
mkdir -p "$work/cfg/frontdesk"
cat > "$work/cfg/frontdesk/config" <<CFG
[sampling]
temperature = 0
max_tokens = 24
[ui]
rater = e2e
CFG
# the server's socket in the work directory (tmux leaves it behind; the
# caller removes the directory), not in the system's temporary directory
sock="$work/tmux.sock"
here=$(dirname "$0")
. "$here/lib.sh"
cleanup() { T kill-server 2>/dev/null || true; }
trap cleanup EXIT

T new-session -d -s fd -x 100 -y 30 \
    "env XDG_CONFIG_HOME='$work/cfg' TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 '$bin' $source_args --db '$db'; echo \"frontdesk exited with \$?\"; sleep 30"
wait_for "F1 Chat"
wait_for "Type the customer"

T send-keys -t fd -l "Where is my parcel?"
T send-keys -t fd Enter
wait_for "Customer"
wait_for "Where is my parcel?"
wait_for "Agent"
wait_for "idle" 60
shot "chat after the reply"

# thumbs up: focus to the transcript (Tab), + on the newest reply
T send-keys -t fd Tab
T send-keys -t fd +
wait_for "thumbs up saved"

T send-keys -t fd F2
wait_for "Review"
wait_for "1 of 1 unrated"
T send-keys -t fd 4
wait_for "saved: score 4"
shot "review"

T send-keys -t fd F3
wait_for "Dashboard"
wait_for "updated" 10
shot "dashboard"
# one good request, one thumb up: a healthy store, so no alert may show
# (a threshold inverted or forced on would show one here)
cap | grep -qF "Alerts  none" || fail "the dashboard of a healthy store shows an alert"
cap | grep -q "^errors  *0\.0% (0 of 1) *thumbs down 0% of 1" || fail "the dashboard's error and thumbs figures"
cap | grep -q "^requests  *0\.2/min" || fail "one request in 5 minutes is not 0.2/min"
# w: the next window (5m -> 1h)
T send-keys -t fd w
wait_for "Dashboard — window 1h"

T resize-window -t fd -x 70 -y 20
sleep 0.3
wait_for "Dashboard"
T resize-window -t fd -x 40 -y 10
wait_for "too small"
shot "tiny"
T resize-window -t fd -x 100 -y 30
wait_gone "too small"
wait_for "Dashboard"

# a second conversation (Alt-n, the profile picker, a message): the list
# marks the new conversation, the one on screen, not the previous one
T send-keys -t fd F1
wait_for "Conversations"
T send-keys -t fd M-n
wait_for "choose a profile"
T send-keys -t fd Enter
wait_gone "choose a profile"
T send-keys -t fd -l "And my refund?"
T send-keys -t fd Enter
wait_for "Conversations 2"
wait_for "idle" 60
cap | grep -qF "▸And my refund?" || fail "the list does not mark the new conversation"
shot "second conversation"

T send-keys -t fd C-q
wait_for "frontdesk exited with 0"

# ---- the database holds exactly what was done ----
hist=$("$bin" history --json --db "$db")
echo "$hist" | grep -q '"messages": 2' || { echo "$hist"; echo "FAIL: history"; exit 1; }
[ "$(echo "$hist" | grep -c '"id"')" -eq 2 ] || { echo "$hist"; echo "FAIL: not exactly two conversations"; exit 1; }
show=$("$bin" show 1 --json --db "$db")
echo "$show" | grep -q '"thumbs": "up"' || { echo "$show"; echo "FAIL: thumbs"; exit 1; }
echo "$show" | grep -q '"score": 4' || { echo "$show"; echo "FAIL: score"; exit 1; }
[ "$(echo "$show" | grep -c '"rater": "e2e"')" -eq 1 ] || { echo "$show"; echo "FAIL: not one rating"; exit 1; }
stats=$("$bin" stats --json --window all --db "$db")
echo "$stats" | grep -q '"requests": 2,' || { echo "$stats"; echo "FAIL: not two requests"; exit 1; }
echo "e2e: ok"
