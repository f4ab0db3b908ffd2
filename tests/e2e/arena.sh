#!/bin/sh
# End-to-end: blind side-by-side review (arena) in the Review screen of the
# real binary in a real terminal (tmux).
#
#   tests/e2e/arena.sh BIN MODEL WORKDIR
#
# With a fresh database: MODEL copied as A.gguf deployed (stable); B.gguf,
# the same file with general.name "frontdesk-cs" changed to
# "frontdesk-c2", a 10% canary.  One customer conversation answered by
# `frontdesk ask`.  In the TUI: F2, A (arena mode): the customer's message
# and Reply A / Reply B, no version name above the status line before
# judging; 1 (Reply A better): both names shown; c, a comment; L the
# leaderboard with one judgement; Esc twice: back to the Review queue.
# Then the store (sqlite3): one judgement, its verdict and shown_first
# agreeing with the name the screen showed on Reply A, the comment, two
# arena requests, two pinned arena conversations; and `frontdesk arena
# --json` counting one win.  Prints the captured screens; exits non-zero
# on any failure.
set -eu
bin=$(realpath "$1") model=$(realpath "$2") work=$(realpath "$3")
db="$work/arena.db"
files="$work/arena-files"
rm -rf "$files" "$db" "$db-wal" "$db-shm"
mkdir -p "$files" "$work/cfg-arena/frontdesk"
cat > "$work/cfg-arena/frontdesk/config" <<CFG
[sampling]
temperature = 0
max_tokens = 8
[ui]
rater = e2e-judge
CFG
export XDG_CONFIG_HOME="$work/cfg-arena"
sock="$work/tmux-arena.sock"
here=$(dirname "$0")
. "$here/lib.sh"
cleanup() { T kill-server 2>/dev/null || true; }
trap cleanup EXIT
q() { sqlite3 "$db" "$1"; }

cp "$model" "$files/A.gguf"
LC_ALL=C sed 's/frontdesk-cs/frontdesk-c2/' "$model" > "$files/B.gguf"
[ "$(cmp -l "$files/A.gguf" "$files/B.gguf" | wc -l)" -eq 1 ] || fail "B.gguf differs from A.gguf by more than its name"
"$bin" deploy "$files/A.gguf" --note "baseline" --db "$db" >/dev/null || fail "deploy A"
"$bin" canary start "$files/B.gguf" --share 10 --note "try c2" --db "$db" >/dev/null || fail "canary B"
"$bin" ask -n 4 --db "$db" "My parcel never arrived." >/dev/null 2>&1 || fail "ask"

T new-session -d -s fd -x 110 -y 32 \
    "env XDG_CONFIG_HOME='$work/cfg-arena' TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 '$bin' --db '$db'; echo \"frontdesk exited with \$?\"; sleep 30"
wait_for "F1 Chat" 20
T send-keys -t fd F2
wait_for "Review"
T send-keys -t fd A
wait_for "Arena — blind side-by-side"
wait_for "Reply B" 60
wait_for "My parcel never arrived."
shot "arena pair, blind"
# no version name anywhere above the status line (the last row)
if cap | sed '$d' | grep -qE "frontdesk-c[s2]"; then fail "a version name is shown before judging"; fi

T send-keys -t fd 1
wait_for "judged: Reply A better"
wait_for_re "Reply A — frontdesk-c[s2]"
wait_for_re "Reply B — frontdesk-c[s2]"
shot "judged, revealed"
shown_a=$(cap | sed -n 's/.*Reply A — \(frontdesk-c[s2]\).*/\1/p' | head -n 1)
shown_b=$(cap | sed -n 's/.*Reply B — \(frontdesk-c[s2]\).*/\1/p' | head -n 1)
[ -n "$shown_a" ] && [ -n "$shown_b" ] && [ "$shown_a" != "$shown_b" ] || fail "names shown: '$shown_a' and '$shown_b'"

T send-keys -t fd c
wait_for "Comment on this pair"
T send-keys -t fd -l "a clearer answer"
T send-keys -t fd Enter
wait_for "“a clearer answer”"

T send-keys -t fd L
wait_for "Arena leaderboard"
wait_for "1 judgement"
shot "leaderboard"
T send-keys -t fd Escape
wait_for "judged: Reply A better"
T send-keys -t fd Escape
wait_gone "Arena — blind side-by-side"
wait_for "Review"

# ---- the store ----
[ "$(q "SELECT count(*) FROM arena_judgements")" = 1 ] || fail "judgements: $(q "SELECT count(*) FROM arena_judgements")"
row=$(q "SELECT j.shown_first || '|' || j.verdict || '|' || ma.name || '|' || mb.name || '|' || j.rater || '|' || j.comment
         FROM arena_judgements j JOIN models ma ON ma.id = j.model_a JOIN models mb ON mb.id = j.model_b")
echo "judgement: $row"
first=${row%%|*}
rest=${row#*|}; verdict=${rest%%|*}
rest=${rest#*|}; name_a=${rest%%|*}
rest=${rest#*|}; name_b=${rest%%|*}
[ "$name_a" = frontdesk-cs ] && [ "$name_b" = frontdesk-c2 ] || fail "versions: $name_a vs $name_b (want stable vs candidate)"
# Reply A on screen was model_a's exactly when shown_first is a; 1 = Reply A better
if [ "$shown_a" = "$name_a" ]; then want_first=a want_verdict=a; else want_first=b want_verdict=b; fi
[ "$first" = "$want_first" ] || fail "shown_first $first, but Reply A showed $shown_a"
[ "$verdict" = "$want_verdict" ] || fail "verdict $verdict, but Reply A ($shown_a) was judged better"
case "$row" in *"|e2e-judge|a clearer answer") ;; *) fail "rater or comment: $row" ;; esac
[ "$(q "SELECT count(*) FROM requests WHERE source = 'arena'")" = 2 ] || fail "arena requests"
[ "$(q "SELECT count(*) FROM conversations WHERE profile = 'arena' AND arm = 'pinned'")" -ge 2 ] || fail "arena conversations"
"$bin" arena --json --db "$db" > "$work/arena.json" || fail "frontdesk arena"
grep -q '"judgements": 1' "$work/arena.json" || fail "arena --json: $(cat "$work/arena.json")"
"$bin" arena --db "$db"
echo "arena: ok"
