#!/bin/sh
# `make soak`: a long run of steady use, watching for leaks and idle spin.
#
#   tools/soak.sh BUILD [MINUTES]        (MINUTES default 30)
#
# In a scratch directory with its own store and config file, for MINUTES:
#   - a TUI in tmux ("chat") generating continuously on the built-in model:
#     a customer message, the reply (capped by [sampling] max_tokens), the
#     next message as soon as the reply is recorded; a new conversation
#     every 10 replies (Alt-n), so prompts stay short;
#   - a second TUI ("dash") on the Dashboard, which refreshes every second;
#   - a rater: `frontdesk rate ID SCORE` on the newest unrated replies, in a
#     loop, as another process;
#   - `frontdesk serve` on 127.0.0.1 under steady load: one chat completion
#     a second from curl (streamed and whole, alternating), /metrics and
#     /v1/models now and then.
# Every SOAK_SAMPLE_SECONDS (60) it samples, per process (chat, dash,
# serve): resident memory (VmRSS), open descriptors (/proc/PID/fd); and the
# store: file bytes (db + wal), the bytes its pages hold ((page_count -
# freelist_count) * page_size, read-only through sqlite3; free pages, left
# by FTS segment merges and deletes and reused later, are not growth) and
# the requests recorded.
#
# At the end: the table, then the rules (each PASS or FAIL), comparing the
# first third of the samples with the last third, the first sample left out
# as warm-up:
#   RSS    the last third's mean exceeds the first third's by no more than
#          max(SOAK_RSS_MB (2) MB, SOAK_RSS_PCT (10) %), per process;
#   fds    the last third's smallest count is no larger than the first
#          third's largest, per process (a leak raises every sample; a
#          connection in flight when one sample is taken does not);
#   bytes  the store's growth (bytes in pages in use) per request over the
#          last third is no more than SOAK_BYTES_PCT (25) % above that over
#          the first third;
#   errors every reply and every HTTP request of the load succeeded;
# then the load stops, the processes are left idle for SOAK_IDLE_SECONDS
# (60), and the CPU time each uses (utime + stime, /proc/PID/stat) must be
# at most SOAK_IDLE_CPU_PCT (1) % of one core.  Exits 1 when a rule fails.
# The tmux server, serve and every loop are stopped on exit, Ctrl-C included.
#
# The chat TUI also writes its frame times (FRONTDESK_FRAME_LOG), summarised
# at the end.  SOAK_KEEP=1 keeps the scratch directory.
set -eu
build=${1:-build}
minutes=${2:-30}
case $minutes in '' | *[!0-9]*) echo "soak: MINUTES must be a whole number, not '$minutes'" >&2; exit 2 ;; esac
bin=$(realpath "$build/frontdesk")
[ -x "$bin" ] || { echo "soak: $build/frontdesk not built" >&2; exit 2; }
for tool in tmux sqlite3 curl; do
    command -v "$tool" >/dev/null 2>&1 || { echo "soak: the $tool command is needed (apt-get install $tool)" >&2; exit 2; }
done
model=models/frontdesk-cs.gguf
[ -f "$model" ] || model=${FRONTDESK_SHARED:-../shared}/ref/models/stories260K.gguf
[ -f "$model" ] || { echo "soak: no model: make model, or ../shared/ref/models/stories260K.gguf" >&2; exit 2; }
model=$(realpath "$model")

sample_s=${SOAK_SAMPLE_SECONDS:-60}
idle_s=${SOAK_IDLE_SECONDS:-60}
rss_mb=${SOAK_RSS_MB:-2}
rss_pct=${SOAK_RSS_PCT:-10}
bytes_pct=${SOAK_BYTES_PCT:-25}
idle_pct=${SOAK_IDLE_CPU_PCT:-1}

work=$(mktemp -d "${TMPDIR:-/tmp}/frontdesk-soak.XXXXXX")
db="$work/soak.db"
sock="$work/tmux.sock"
stop="$work/stop"
mkdir -p "$work/cfg/frontdesk" "$work/data"
cat > "$work/cfg/frontdesk/config" <<CFG
[model]
threads = 1
[sampling]
temperature = 0.8
max_tokens = 48
[ui]
rater = soak-chat
[serve]
parallel = 2
CFG
export XDG_CONFIG_HOME="$work/cfg" XDG_DATA_HOME="$work/data"
unset FRONTDESK_DB

T() { tmux -S "$sock" -f /dev/null "$@"; }
# read-only queries wait for a writer's lock (a checkpoint) instead of
# failing with SQLITE_BUSY; an empty answer is taken as 0 by the callers
q() { sqlite3 -readonly -cmd '.timeout 10000' "$db" "$1" 2>/dev/null || true; }
pids=""       # the load loops (subshells)
serve_pid=""
chat_pid=""
dash_pid=""
cleanup() {
    trap - EXIT INT TERM HUP
    touch "$stop" 2>/dev/null || true
    for p in $pids; do # the loop, held still, then its child of the moment, then the loop
        kill -STOP "$p" 2>/dev/null || continue
        pkill -TERM -P "$p" 2>/dev/null || true
        kill -TERM "$p" 2>/dev/null || true
        kill -CONT "$p" 2>/dev/null || true
    done
    [ -z "$serve_pid" ] || kill "$serve_pid" 2>/dev/null || true
    T kill-server 2>/dev/null || true
    for p in $pids $serve_pid; do wait "$p" 2>/dev/null || true; done
    # the TUIs end on tmux's hangup; the store is removed once they have
    alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
    i=0
    while [ "$i" -lt 50 ] && { alive "$chat_pid" || alive "$dash_pid"; }; do
        sleep 0.1
        i=$((i + 1))
    done
    if [ "${SOAK_KEEP:-0}" = 1 ]; then echo "soak: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'echo "soak: interrupted"; exit 130' INT TERM HUP

echo "soak: $minutes min, a sample every $sample_s s, in $work"
echo "soak: $(uname -m), $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "soak: binary $bin, model $model"

# ---- the store exists before anything else opens it ----
"$bin" ask --model "$model" -n 8 --db "$db" "Hello?" >/dev/null 2>&1 || { echo "soak: frontdesk ask failed on $model" >&2; exit 1; }

# ---- serve ----
"$bin" serve --host 127.0.0.1 --port 0 --model "$model" --db "$db" > "$work/serve.out" 2> "$work/serve.err" &
serve_pid=$!
url=""
i=0
while [ -z "$url" ] && [ $i -lt 300 ]; do
    url=$(sed -n 's/^frontdesk serve: \(http:[^ ]*\) .*/\1/p' "$work/serve.err" | head -n 1)
    kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.err" >&2; echo "soak: serve did not start" >&2; exit 1; }
    [ -n "$url" ] || sleep 0.1
    i=$((i + 1))
done
[ -n "$url" ] || { echo "soak: serve printed no address" >&2; exit 1; }
echo "soak: serve $url (pid $serve_pid)"

# ---- the two TUIs ----
start_tui() { # name, extra environment
    T new-window -d -t soak -n "$1" \
        "exec env $2 TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 '$bin' --model '$model' --db '$db' 2>'$work/$1.err'"
}
T new-session -d -s soak -n keep -x 110 -y 32 "sleep 100000"
start_tui chat "FRONTDESK_FRAME_LOG='$work/frames.log'"
start_tui dash ""
sleep 0.5
chat_pid=$(T display-message -p -t soak:chat '#{pane_pid}')
dash_pid=$(T display-message -p -t soak:dash '#{pane_pid}')
cap() { T capture-pane -p -t "soak:$1"; }
wait_screen() { # window, text, seconds
    n=$(($3 * 10))
    while [ $n -gt 0 ]; do
        cap "$1" | grep -qF -- "$2" && return 0
        sleep 0.1
        n=$((n - 1))
    done
    echo "soak: the $1 TUI never showed '$2'" >&2
    cap "$1" >&2 || true
    return 1
}
wait_screen chat "Type the customer" 60
wait_screen dash "F1 Chat" 60
T send-keys -t soak:dash F3
wait_screen dash "updated" 30
echo "soak: chat TUI pid $chat_pid, dashboard TUI pid $dash_pid"

# ---- the loops ----
: > "$work/chat.errors"
: > "$work/rate.errors"
: > "$work/load.errors"
questions="Where is my parcel?|I want a refund for order 1234.|How do I change my delivery address?|My card was charged twice.|Can I cancel my subscription?|The item arrived broken.|When will my order ship?|How do I reset my password?"
chat_loop() {
    n=0
    while [ ! -e "$stop" ]; do
        n=$((n + 1))
        msg=$(echo "$questions" | cut -d'|' -f$(((n % 8) + 1)))
        before=$(q "SELECT count(*) FROM requests WHERE owner_pid = $chat_pid AND outcome <> 'running'")
        [ -n "$before" ] || before=0
        T send-keys -t soak:chat -l "$msg (#$n)"
        T send-keys -t soak:chat Enter
        k=0
        while :; do
            now=$(q "SELECT count(*) FROM requests WHERE owner_pid = $chat_pid AND outcome <> 'running'")
            [ "${now:-0}" -gt "$before" ] && break
            k=$((k + 1))
            if [ $k -gt 1200 ]; then echo "reply $n: none within 120 s" >> "$work/chat.errors"; break; fi
            sleep 0.1
        done
        if [ $((n % 10)) -eq 0 ] && [ ! -e "$stop" ]; then
            T send-keys -t soak:chat M-n
            wait_screen chat "choose a profile" 20 2>>"$work/chat.errors" || true
            T send-keys -t soak:chat Enter
            sleep 0.3
        fi
    done
}
rate_loop() {
    while [ ! -e "$stop" ]; do
        for id in $(q "SELECT m.id FROM messages m WHERE m.role = 'agent' AND NOT EXISTS
                       (SELECT 1 FROM ratings r WHERE r.message_id = m.id) ORDER BY m.id DESC LIMIT 5"); do
            "$bin" rate "$id" $((id % 5 + 1)) --rater soak-rater --db "$db" >/dev/null 2>>"$work/rate.errors" ||
                echo "rate $id failed" >> "$work/rate.errors"
        done
        sleep 2
    done
}
load_loop() {
    n=0
    while [ ! -e "$stop" ]; do
        n=$((n + 1))
        stream=false
        [ $((n % 2)) -eq 0 ] && stream=true
        body="{\"messages\":[{\"role\":\"user\",\"content\":\"Order $n has not arrived.\"}],\"max_tokens\":32,\"stream\":$stream}"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 -H 'Content-Type: application/json' \
            -d "$body" "$url/chat/completions") || code="curl-$?"
        [ "$code" = 200 ] || echo "request $n: $code" >> "$work/load.errors"
        if [ $((n % 10)) -eq 0 ]; then
            for path in /metrics /v1/models /health; do
                code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "${url%/v1}$path") || code="curl-$?"
                [ "$code" = 200 ] || echo "GET $path: $code" >> "$work/load.errors"
            done
        fi
        echo "$n" > "$work/load.count"
        sleep 1
    done
}
chat_loop & pids="$pids $!"
rate_loop & pids="$pids $!"
load_loop & pids="$pids $!"

# ---- samples ----
# samples.tsv: t_s, then per process (chat dash serve) rss_kb fds, then
# file bytes (db + wal), bytes in pages in use, requests, bytes in all pages
proc_rss() { sed -n 's/^VmRSS:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$1/status" 2>/dev/null || echo 0; }
proc_fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
proc_cpu() { # utime + stime in clock ticks (fields 14, 15; the name in field 2 may hold spaces)
    sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
fsize() { [ -f "$1" ] && stat -c %s "$1" || echo 0; }
: > "$work/samples.tsv"
t0=$(date +%s)
end=$((t0 + minutes * 60))
next=$((t0 + sample_s))
while [ "$(date +%s)" -lt "$end" ]; do
    now=$(date +%s)
    if [ "$now" -lt "$next" ]; then sleep 1; continue; fi
    next=$((next + sample_s))
    for p in "$chat_pid" "$dash_pid" "$serve_pid" $pids; do
        kill -0 "$p" 2>/dev/null || { echo "soak: process $p (a TUI, serve or a load loop) ended during the run" >&2; cap chat >&2 || true; exit 1; }
    done
    bytes=$(($(fsize "$db") + $(fsize "$db-wal")))
    sizes=$(q "SELECT (page_count - freelist_count) * page_size, page_count * page_size
               FROM pragma_page_count, pragma_freelist_count, pragma_page_size")
    used=${sizes%%|*} pages=${sizes#*|}
    reqs=$(q "SELECT count(*) FROM requests")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' $((now - t0)) \
        "$(proc_rss "$chat_pid")" "$(proc_fds "$chat_pid")" "$(proc_rss "$dash_pid")" "$(proc_fds "$dash_pid")" \
        "$(proc_rss "$serve_pid")" "$(proc_fds "$serve_pid")" "$bytes" "${used:-0}" "${reqs:-0}" "${pages:-0}" >> "$work/samples.tsv"
    tail -n 1 "$work/samples.tsv" | awk -F'\t' '{ printf "soak: %4d s  rss chat %.1f dash %.1f serve %.1f MB  fds %d %d %d  store %.2f MB  %d requests\n",
        $1, $2 / 1024, $4 / 1024, $6 / 1024, $3, $5, $7, $8 / 1048576, $10 }'
done

# ---- load off, then idle ----
touch "$stop"
for p in $pids; do wait "$p" 2>/dev/null || true; done
pids=""
sleep 5 # the last reply and request end
hz=$(getconf CLK_TCK)
c0=$(proc_cpu "$chat_pid") d0=$(proc_cpu "$dash_pid") s0=$(proc_cpu "$serve_pid")
sleep "$idle_s"
c1=$(proc_cpu "$chat_pid") d1=$(proc_cpu "$dash_pid") s1=$(proc_cpu "$serve_pid")

# ---- report ----
status=0
echo
echo "Samples (RSS in MB; the store in MB: files db + wal, all pages, pages in use; bytes/request = in use / requests)"
awk -F'\t' 'BEGIN { printf "%6s  %-11s %-11s %-12s %7s %7s %7s %8s %9s\n", "t (s)", "chat rss/fd", "dash rss/fd", "serve rss/fd", "db+wal", "pages", "in use", "requests", "bytes/req" }
    { printf "%6d  %6.1f/%-4d %6.1f/%-4d %6.1f/%-5d %7.2f %7.2f %7.2f %8d %9.0f\n", $1, $2 / 1024, $3, $4 / 1024, $5, $6 / 1024, $7,
        $8 / 1048576, $11 / 1048576, $9 / 1048576, $10, ($10 > 0 ? $9 / $10 : 0) }' "$work/samples.tsv"
echo
n=$(wc -l < "$work/samples.tsv")
if [ "$n" -lt 4 ]; then
    echo "FAIL: only $n samples; the thirds need at least 4 (run longer or lower SOAK_SAMPLE_SECONDS)"
    status=1
else
    echo "First third vs last third of the samples (the first sample left out as warm-up):"
    awk -F'\t' -v rss_mb="$rss_mb" -v rss_pct="$rss_pct" -v bytes_pct="$bytes_pct" '
        { for (i = 1; i <= 11; i++) v[NR, i] = $i }
        END {
            n = NR - 1; third = int(n / 3); if (third < 1) third = 1
            a0 = 2; a1 = 1 + third; b0 = NR - third + 1; b1 = NR
            split("chat dash serve", names, " ")
            bad = 0
            for (p = 1; p <= 3; p++) {
                c = 2 * p; sa = 0; sb = 0; fa0 = fb0 = 1e9; fa1 = fb1 = 0
                for (r = a0; r <= a1; r++) { sa += v[r, c]; f = v[r, c + 1]; if (f < fa0) fa0 = f; if (f > fa1) fa1 = f }
                for (r = b0; r <= b1; r++) { sb += v[r, c]; f = v[r, c + 1]; if (f < fb0) fb0 = f; if (f > fb1) fb1 = f }
                ma = sa / third / 1024; mb = sb / third / 1024
                allow = rss_mb; if (ma * rss_pct / 100 > allow) allow = ma * rss_pct / 100
                ok = mb - ma <= allow
                printf "%s RSS   %-6s first %.1f MB, last %.1f MB (%+.1f MB; allowed +%.1f MB)\n", ok ? "PASS" : "FAIL", names[p], ma, mb, mb - ma, allow
                bad += !ok
                ok = fb0 <= fa1
                printf "%s fds   %-6s first third %d-%d, last third %d-%d\n", ok ? "PASS" : "FAIL", names[p], fa0, fa1, fb0, fb1
                bad += !ok
            }
            # growth of the bytes in use per request: first third, last third
            ra = v[a1, 10] - v[a0 - 1, 10]; rb = v[b1, 10] - v[b0 - 1, 10]
            ga = ra > 0 ? (v[a1, 9] - v[a0 - 1, 9]) / ra : 0
            gb = rb > 0 ? (v[b1, 9] - v[b0 - 1, 9]) / rb : 0
            ok = ra > 0 && rb > 0 && gb <= ga * (1 + bytes_pct / 100)
            printf "%s bytes  store growth (in use) %.0f bytes/request over the first third (%d requests), %.0f over the last (%d requests; allowed %.0f)\n",
                ok ? "PASS" : "FAIL", ga, ra, gb, rb, ga * (1 + bytes_pct / 100)
            bad += !ok
            exit bad > 0
        }' "$work/samples.tsv" || status=1
fi
replies=$(q "SELECT count(*) FROM requests WHERE owner_pid = $chat_pid")
served=$(q "SELECT count(*) FROM requests WHERE owner_pid = $serve_pid")
ratings=$(q "SELECT count(*) FROM ratings WHERE rater = 'soak-rater'")
outcomes=$(q "SELECT group_concat(outcome || ' ' || n, ', ') FROM (SELECT outcome, count(*) n FROM requests GROUP BY outcome)")
echo "work   chat TUI $replies replies, serve $served requests ($(cat "$work/load.count" 2>/dev/null || echo 0) from the load), $ratings ratings by the rater; outcomes: $outcomes"
errs=$(cat "$work/chat.errors" "$work/load.errors" | wc -l)
rerrs=$(grep -c . "$work/rate.errors" || true)
if [ "$errs" -eq 0 ]; then
    echo "PASS errors every reply of the chat TUI and every HTTP request of the load succeeded ($rerrs rate errors)"
else
    echo "FAIL errors $errs (first: $(cat "$work/chat.errors" "$work/load.errors" | head -n 3 | tr '\n' ';'))"
    status=1
fi
[ "$rerrs" -eq 0 ] || echo "note: rate errors (a reply rated while still streaming?): $(head -n 3 "$work/rate.errors" | tr '\n' ';')"
echo
echo "Idle: the load stopped, ${idle_s} s with nothing to do (CPU time, utime + stime; allowed ${idle_pct}% of one core = $(awk -v s="$idle_s" -v p="$idle_pct" 'BEGIN { printf "%.2f", s * p / 100 }') s):"
for pair in "chat $c0 $c1" "dash $d0 $d1" "serve $s0 $s1"; do
    # shellcheck disable=SC2086
    set -- $pair
    awk -v name="$1" -v a="$2" -v b="$3" -v hz="$hz" -v s="$idle_s" -v p="$idle_pct" 'BEGIN {
        cpu = (b - a) / hz; pct = 100 * cpu / s; ok = pct <= p
        printf "%s idle  %-6s %.2f s CPU in %d s (%.2f%% of a core)\n", ok ? "PASS" : "FAIL", name, cpu, s, pct
        exit !ok }' || status=1
done
if [ -s "$work/frames.log" ]; then
    echo
    # column 3: the frame's time (build + flush); column 5: the UI thread's CPU time in it
    for which in "busy 3" "all 3" "busy 5"; do
        # shellcheck disable=SC2086
        set -- $which
        awk -v which="$1" -v c="$2" '$1 == "frame" && (which == "all" || $4 == which) { print $c }' "$work/frames.log" | sort -n |
            awk -v what="$([ "$2" = 3 ] && echo "frame time" || echo "CPU time (UI thread)")" -v which="$1" \
            'function rank(p,  k) { k = int(p * NR); if (k < p * NR) k++; return v[k < 1 ? 1 : k] }
            { v[NR] = $1 } END { if (NR) printf "chat TUI %s, %s frames (FRONTDESK_FRAME_LOG): %d frames, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
                what, which == "busy" ? "streaming" : "all", NR, rank(0.50), rank(0.99), v[NR] }'
    done
fi
echo
if [ "$status" -eq 0 ]; then echo "soak: ok"; else echo "soak: FAILED"; fi
exit "$status"
