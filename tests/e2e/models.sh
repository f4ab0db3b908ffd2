#!/bin/sh
# End-to-end: the Models screen (F4) of the real binary in a real terminal
# (tmux): a canary started from the screen, traffic split between two
# versions through the Chat screen, the figures and the comparison shown,
# then a rollback from the screen.
#
#   tests/e2e/models.sh BIN MODEL WORKDIR
#
# With a fresh database: `frontdesk deploy` MODEL copied as A.gguf (stable);
# B.gguf is the same file with its general.name "frontdesk-cs" changed to
# "frontdesk-c2" (same length: a different SHA-256, the same model), made
# known to the store by one pinned `frontdesk ask` (outside every
# comparison).  In the TUI: F4, select frontdesk-c2, c, share 50, a note;
# F1, four new conversations each with a question, its reply awaited and
# thumbed up; F4 again: both versions with requests counted, the
# comparison table; b, a note: the candidate gone and a rollback row in
# the history.  Then the store, through the CLI (and sqlite3 when
# installed): the rollback row with who and note and the comparison as its
# figures, no candidate left, four thumbs split over both versions.
# Prints the captured screens; exits non-zero on any failure.
set -eu
bin=$(realpath "$1") model=$(realpath "$2") work=$(realpath "$3")
db="$work/models.db"
files="$work/model-files"
rm -rf "$files" "$db" "$db-wal" "$db-shm"
mkdir -p "$files" "$work/cfg-models/frontdesk"
cat > "$work/cfg-models/frontdesk/config" <<CFG
[sampling]
temperature = 0
max_tokens = 8
[ui]
rater = e2e-ops
CFG
export XDG_CONFIG_HOME="$work/cfg-models"
sock="$work/tmux-models.sock"
here=$(dirname "$0")
. "$here/lib.sh"
cleanup() { T kill-server 2>/dev/null || true; }
trap cleanup EXIT

# ---- two versions of the same model ----
cp "$model" "$files/A.gguf"
LC_ALL=C sed 's/frontdesk-cs/frontdesk-c2/' "$model" > "$files/B.gguf"
[ "$(wc -c < "$files/A.gguf")" -eq "$(wc -c < "$files/B.gguf")" ] || fail "B.gguf is not A.gguf's size"
[ "$(cmp -l "$files/A.gguf" "$files/B.gguf" | wc -l)" -eq 1 ] || fail "B.gguf differs from A.gguf by more than its name"

"$bin" deploy "$files/A.gguf" --note "baseline" --db "$db" >/dev/null || fail "deploy A"
"$bin" ask --model "$files/B.gguf" -n 4 --db "$db" "hello" >/dev/null || fail "ask B"

T new-session -d -s fd -x 100 -y 30 \
    "env XDG_CONFIG_HOME='$work/cfg-models' TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 '$bin' --db '$db'; echo \"frontdesk exited with \$?\"; sleep 30"
wait_for "F1 Chat" 20
T send-keys -t fd F4
wait_for "Models — window 24h"
wait_for "stable frontdesk-cs · no canary"

# ---- select B, canary at 50% ----
T send-keys -t fd Home
if ! cap | grep -qF "▸ frontdesk-c2"; then T send-keys -t fd Down; fi
wait_for "▸ frontdesk-c2"
T send-keys -t fd c
wait_for "percent of new conversations"
T send-keys -t fd -l "50"
T send-keys -t fd Enter
wait_for "(Enter confirms)"
T send-keys -t fd -l "try c2"
T send-keys -t fd Enter
wait_for "candidate frontdesk-c2 at 50%"
wait_for_re "canary-start +frontdesk-cs \+ frontdesk-c2 50% +e2e-ops +try c2"
shot "canary started"

# ---- traffic: four conversations, each reply thumbed up ----
requests() { "$bin" stats --json --window all --db "$db" | sed -n 's/^  "requests": \([0-9]*\),$/\1/p'; }
thumbs_up() {
    "$bin" versions --json --db "$db" | sed -n 's/^ *"thumbs_up": \([0-9]*\),$/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}
# until $1 prints $2 (about 20 s)
poll() {
    n=200
    while [ "$($1)" != "$2" ]; do
        n=$((n - 1))
        [ "$n" -gt 0 ] || fail "$1 did not reach $2"
        sleep 0.1
    done
}
T send-keys -t fd F1
wait_for "Conversations"
for i in 1 2 3 4; do
    T send-keys -t fd M-n
    wait_for "choose a profile"
    T send-keys -t fd Enter
    wait_gone "choose a profile"
    T send-keys -t fd -l "Where is parcel $i?"
    T send-keys -t fd Enter
    poll requests $((i + 1)) # the ask of B made the first request
    # the reply's figures under it: the screen has loaded the finished reply
    wait_for_re "frontdesk-c[s2] · [0-9.]+ tok/s" 20
    T send-keys -t fd M-+
    poll thumbs_up "$i"
done
shot "chat"

# ---- the figures and the comparison ----
T send-keys -t fd F4
wait_for "Candidate vs stable (Holm"
wait_for_re "frontdesk-c2 +[0-9a-f]{8} +cand 50% +[1-9]"
wait_for_re "frontdesk-cs +[0-9a-f]{8} +stable +[1-9]"
cap | grep -qE "^  thumbs-up rate +[0-9]+ +[0-9]+ +– +not enough data" || fail "the comparison's thumbs-up row"
cap | grep -qE "^  error rate +[0-9]+ +[0-9]+ " || fail "the comparison's error-rate row"
shot "models with a canary"

# ---- roll back ----
T send-keys -t fd b
wait_for "Roll back the newest change"
T send-keys -t fd -l "back to cs"
T send-keys -t fd Enter
wait_for "stable frontdesk-cs · no canary"
wait_for_re "rollback +frontdesk-cs +e2e-ops +back to cs"
wait_for "rolled back: frontdesk-cs is stable"
cap | grep -qE "frontdesk-c2 +[0-9a-f]{8} +– " || fail "frontdesk-c2 still has a role after the rollback"
shot "after the rollback"
T send-keys -t fd C-q
wait_for "frontdesk exited with 0"

# ---- the store ----
hist=$("$bin" deployment history --json --db "$db")
first=$(echo "$hist" | sed -n '/"action"/{p;q}')
echo "$first" | grep -qF '"action": "rollback"' || { echo "$hist"; fail "the newest history row is not the rollback"; }
echo "$hist" | grep -qF '"who": "e2e-ops"' || { echo "$hist"; fail "who"; }
echo "$hist" | grep -qF '"note": "back to cs"' || { echo "$hist"; fail "the rollback's note"; }
echo "$hist" | grep -qF '"note": "try c2"' || { echo "$hist"; fail "the canary's note"; }
echo "$hist" | grep -qF '"window": "24h"' || { echo "$hist"; fail "the rollback's figures"; }
[ "$(echo "$hist" | grep -c '"action"')" -eq 3 ] || { echo "$hist"; fail "not three history rows"; }
status=$("$bin" deployment --json --db "$db")
echo "$status" | grep -qF '"candidate": null' || { echo "$status"; fail "a candidate is left"; }
[ "$(thumbs_up)" -eq 4 ] || fail "$(thumbs_up) thumbs up, not 4"
if command -v sqlite3 >/dev/null 2>&1; then
    row=$(sqlite3 "$db" "SELECT action || '|' || who || '|' || note FROM deployment_history ORDER BY id DESC LIMIT 1")
    [ "$row" = "rollback|e2e-ops|back to cs" ] || fail "sqlite3: the newest history row is '$row'"
    arms=$(sqlite3 "$db" "SELECT count(DISTINCT arm) || '|' || count(DISTINCT arm_model_id) FROM conversations WHERE arm IN ('stable', 'candidate')")
    [ "$arms" = "2|2" ] || fail "sqlite3: the conversations were not split over both arms ($arms)"
fi
echo "models: ok"
