#!/bin/sh
# The TUI's frame time while a reply streams at the local engine's full
# speed (a step of `make bench`; runs alone too):
#
#   tools/bench_frames.sh BIN MODEL [TOKENS] [REPLIES]
#
# Opens the TUI (BIN, in tmux, 120x40) on MODEL with a fresh store and
# FRONTDESK_FRAME_LOG set, sends REPLIES (3) customer messages one after the
# other, each answered with up to TOKENS (512) tokens (a random-weight
# model rarely ends early), quits, then reports the frames drawn while a
# reply streamed: count, p50, p99 (nearest rank) and max of their time from
# building the frame to flushing it to the terminal, the same of the UI
# thread's CPU time in them, and the decode speed.
# A figure, not a check: the target is p99 < 16 ms.
set -eu
bin=$(realpath "$1") model=$(realpath "$2")
tokens=${3:-512} replies=${4:-3}
for tool in tmux sqlite3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench_frames: skipped: the $tool command is not installed"; exit 0; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/frontdesk-frames.XXXXXX")
sock="$work/tmux.sock"
T() { tmux -S "$sock" -f /dev/null "$@"; }
cleanup() { T kill-server 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
mkdir -p "$work/cfg/frontdesk"
cat > "$work/cfg/frontdesk/config" <<CFG
[sampling]
temperature = 1.0
max_tokens = $tokens
CFG
db="$work/frames.db"
T new-session -d -s fd -x 120 -y 40 \
    "exec env XDG_CONFIG_HOME='$work/cfg' FRONTDESK_FRAME_LOG='$work/frames.log' TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 '$bin' --model '$model' --db '$db' 2>'$work/err'"
T set-option -t fd remain-on-exit on >/dev/null
wait_for() { # text, seconds
    n=$(($2 * 10))
    while ! T capture-pane -p -t fd | grep -qF -- "$1"; do
        n=$((n - 1))
        [ $n -gt 0 ] || { echo "bench_frames: the TUI never showed '$1'"; T capture-pane -p -t fd; cat "$work/err"; exit 1; }
        sleep 0.1
    done
}
# read-only, waiting out a writer's lock (a checkpoint) rather than failing
q() { sqlite3 -readonly -cmd '.timeout 10000' "$db" "$1"; }
done_replies() { n=$(q "SELECT count(*) FROM requests WHERE outcome <> 'running'" 2>/dev/null) || true; echo "${n:-0}"; }
wait_for "Type the customer" 120
i=0
while [ $i -lt "$replies" ]; do
    i=$((i + 1))
    T send-keys -t fd -l "Please tell me everything about order $i, in detail."
    T send-keys -t fd Enter
    n=6000
    while [ "$(done_replies)" -lt $i ]; do
        n=$((n - 1))
        [ $n -gt 0 ] || { echo "bench_frames: reply $i did not end within 600 s"; exit 1; }
        sleep 0.1
    done
done
T send-keys -t fd C-q
n=100
while [ ! -s "$work/frames.log" ] || ! grep -q '^# frames' "$work/frames.log"; do
    n=$((n - 1))
    [ $n -gt 0 ] || { echo "bench_frames: no summary in the frame log after quitting"; exit 1; }
    sleep 0.1
done
q "SELECT count(*), sum(gen_tokens), avg(decode_tps) FROM requests" | {
    IFS='|' read -r n gen tps
    printf '%s replies, %s tokens in all, decode %.1f tok/s (mean)\n' "$n" "$gen" "$tps"
}
# column 3: the frame's time; column 5: the UI thread's CPU time in it
for col in 3 5; do
    awk -v c=$col '$1 == "frame" && $4 == "busy" { print $c }' "$work/frames.log" | sort -n |
        awk -v what="$([ $col = 3 ] && echo "frame time while streaming" || echo "  its CPU time (the UI thread)")" \
            -v model="$(basename "$model")" 'function rank(p,  k) { k = int(p * NR); if (k < p * NR) k++; return v[k < 1 ? 1 : k] }
        { v[NR] = $1 }
        END {
            if (!NR) { print "bench_frames: no frame was drawn while a reply streamed"; exit 1 }
            printf "%s (%s, 120x40): %d frames, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", what, model, NR, rank(0.50), rank(0.99), v[NR]
        }'
done
echo "(target: frame time p99 < 16 ms; a frame's time above its CPU time is time spent waiting for a core)"
