#!/bin/sh
# bench_vs.sh — frontdesk side by side with llama.cpp's llama-bench (and
# ik_llama.cpp's, with and without its run-time repacking) on the same
# files: prompt (pp256) and decode (tg64) tokens/s, 1 and 2 threads.
#
#   LLAMA_BENCH=/path/to/llama-bench [IK_LLAMA_BENCH=/path/to/ik/llama-bench] \
#       tools/bench_vs.sh [BUILD]
#
# BUILD (default build-bench) holds tools/bench_vs and tools/mkmodel.  The
# files are random-weight models written by mkmodel with a real vocabulary
# copied in (so that llama.cpp loads them): the SmolLM2-135M and
# Qwen2.5-0.5B shapes with ../shared's GPT-2 one, TinyLlama-1.1B with its
# SentencePiece (llama-spm) one; Q8_0, F16 and Q4_K_M; cached in
# $VS_DIR (default BUILD/models), about 6.5 GB for the nine.
#
# For every file and thread count, ROUNDS rounds; in each round every
# contender runs once, one after the other (the order rotating from round
# to round): ours is `bench_vs --runs 1` (tools/bench_vs.c: measured as
# llama-bench measures), theirs `llama-bench -m F -p 256 -n 64 -t T -r 1
# -o csv`, ik_llama.cpp's once with `-rtr 0` and once with `-rtr 1`.  The
# table gives per file, threads and contender the medians of our tokens/s
# and of theirs, and the median of the per-round ratios ours ÷ theirs
# with their range (min-max): the runs of one round are seconds apart, so
# the ratios are what to read on a machine that is not quiet.
#
#   LLAMA_BENCH        llama.cpp's llama-bench (unset: say so, exit 0)
#   IK_LLAMA_BENCH     ik_llama.cpp's llama-bench (optional)
#   IK_RTR="0 1"       its -rtr settings to measure
#   LLAMA_BENCH_ARGS, IK_LLAMA_BENCH_ARGS   extra flags for either
#   VS_MODELS="smollm2-135m:q8_0 ..."  shape:type pairs (default all nine)
#   VS_THREADS="1 2"   ROUNDS=3 (else BENCH_RUNS)   VS_PROMPT=256   VS_GEN=64
#   VS_DIR             where the files are (written when missing)
#   FRONTDESK_SHARED   the reference data (default ../shared, as the suites)
#
# Each binary's own directory is put first on LD_LIBRARY_PATH (llama.cpp
# builds its libraries beside its tools).  Lines "round R FILE t=T WHO pp
# X tg Y" show progress; the table comes at the end.
set -eu
build=${1:-build-bench}
if [ -z "${LLAMA_BENCH:-}" ]; then
    echo "(skipped: set LLAMA_BENCH=/path/to/llama-bench, and IK_LLAMA_BENCH=... for ik_llama.cpp, to run it; see tools/bench_vs.sh)"
    exit 0
fi
shared=${FRONTDESK_SHARED:-../shared}
for b in "$LLAMA_BENCH" ${IK_LLAMA_BENCH:+"$IK_LLAMA_BENCH"}; do
    [ -x "$b" ] || { echo "bench_vs.sh: $b is not an executable" >&2; exit 1; }
done
rounds=${ROUNDS:-${BENCH_RUNS:-3}}
prompt=${VS_PROMPT:-256}
gen=${VS_GEN:-64}
dir=${VS_DIR:-$build/models}
mkdir -p "$dir"
tmp=$(mktemp -d /tmp/bench_vs-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

specs=${VS_MODELS:-"smollm2-135m:q8_0 smollm2-135m:f16 smollm2-135m:q4_k_m
    qwen2.5-0.5b:q8_0 qwen2.5-0.5b:f16 qwen2.5-0.5b:q4_k_m
    tinyllama-1.1b:q8_0 tinyllama-1.1b:f16 tinyllama-1.1b:q4_k_m"}

vocab_of() { # shape -> the vocabulary's name (SentencePiece for TinyLlama)
    case $1 in
    tinyllama*) echo ggml-vocab-llama-spm ;;
    *) echo ggml-vocab-gpt-2 ;;
    esac
}
model_file() { # shape type -> the path
    echo "$dir/random-$1-$2-$(vocab_of "$1").gguf"
}

for spec in $specs; do
    shape=${spec%%:*} type=${spec#*:}
    out=$(model_file "$shape" "$type")
    if [ ! -f "$out" ]; then
        vocab=$shared/ref/tokenizer/$(vocab_of "$shape").gguf
        if [ ! -f "$vocab" ]; then
            echo "(skipped: $vocab not found, and $out needs it so that llama.cpp loads it; FRONTDESK_SHARED names ../shared)"
            exit 0
        fi
        echo "writing $out"
        "$build/tools/mkmodel" --shape "$shape" --type "$type" --vocab "$vocab" --out "$out.tmp"
        mv "$out.tmp" "$out"
    fi
done


contenders="ours llama"
for r in ${IK_LLAMA_BENCH:+${IK_RTR:-0 1}}; do
    contenders="$contenders ik$r"
done

label() {
    case $1 in
    ours) echo frontdesk ;;
    llama) echo llama.cpp ;;
    ik*) echo "ik_llama.cpp -rtr ${1#ik}" ;;
    esac
}

# Their CSV (every field quoted; the header names the columns) -> "PP TG COMMIT".
# shellcheck disable=SC2016
parse_csv='
function split_csv(line, f,    n, i, c, q, cur) {
    n = 0; cur = ""; q = 0
    for (i = 1; i <= length(line); i++) {
        c = substr(line, i, 1)
        if (q) {
            if (c != "\"") cur = cur c
            else if (substr(line, i + 1, 1) == "\"") { cur = cur c; i++ }
            else q = 0
        } else if (c == "\"") q = 1
        else if (c == ",") { f[++n] = cur; cur = "" }
        else cur = cur c
    }
    f[++n] = cur
    return n
}
!head && /avg_ts/ { n = split_csv($0, h); for (i = 1; i <= n; i++) col[h[i]] = i; head = 1; next }
head && NF {
    split_csv($0, f)
    np = f[col["n_prompt"]] + 0; ng = f[col["n_gen"]] + 0
    if (np > 0 && ng == 0) pp = f[col["avg_ts"]]
    if (ng > 0 && np == 0) tg = f[col["avg_ts"]]
    if ("build_commit" in col) commit = f[col["build_commit"]]
}
END { printf "%s %s %s\n", pp == "" ? "-" : pp, tg == "" ? "-" : tg, commit == "" ? "?" : commit }'

run() { # contender file threads -> "PP TG COMMIT" ("-" for a figure not had)
    case $1 in
    ours)
        if "$build/tools/bench_vs" --runs 1 --threads "$3" --prompt "$prompt" --gen "$gen" "$2" >"$tmp/out" 2>"$tmp/err"; then
            [ -s "$tmp/ours-info" ] || grep '^#' "$tmp/out" >"$tmp/ours-info" || :
            awk '$1 == "pp" { pp = $4 } $1 == "tg" { tg = $4 }
                 END { printf "%s %s -\n", pp == "" ? "-" : pp, tg == "" ? "-" : tg }' "$tmp/out"
            return
        fi ;;
    *)
        case $1 in
        llama) bin=$LLAMA_BENCH extra=${LLAMA_BENCH_ARGS:-} ;;
        *) bin=$IK_LLAMA_BENCH extra="-rtr ${1#ik} ${IK_LLAMA_BENCH_ARGS:-}" ;;
        esac
        lib=$(dirname "$bin")
        # shellcheck disable=SC2086
        if LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$bin" -m "$2" -p "$prompt" -n "$gen" \
            -t "$3" -r 1 $extra -o csv >"$tmp/out" 2>"$tmp/err"; then
            awk "$parse_csv" "$tmp/out"
            return
        fi ;;
    esac
    echo "bench_vs.sh: $(label "$1") failed on $2 with $3 threads:" >&2
    tail -n 5 "$tmp/err" >&2
    echo "- - -"
}

echo "machine:$(sed -n 's/^model name[[:space:]]*:\(.*\)/\1/p' /proc/cpuinfo 2>/dev/null | head -n 1), $(nproc) cores;" \
    "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)} FRONTDESK_SIMD=${FRONTDESK_SIMD:-(unset)}"
echo "load average before: $(cat /proc/loadavg 2>/dev/null || echo ?)"
# the machine's yardsticks in the same run, before and after the table
# (tools/bench --limits: arithmetic peaks, read bandwidth, sgemm)
limits() { [ ! -x "$build/tools/bench" ] || "$build/tools/bench" --limits | sed 's/^/  /'; }
echo "limits before:"
limits
: >"$tmp/results"
for spec in $specs; do
    shape=${spec%%:*} type=${spec#*:}
    file=$(model_file "$shape" "$type")
    for t in ${VS_THREADS:-1 2}; do
        round=1
        while [ "$round" -le "$rounds" ]; do
            # shellcheck disable=SC2086
            set -- $contenders
            k=1
            while [ "$k" -lt "$round" ]; do first=$1; shift; set -- "$@" "$first"; k=$((k + 1)); done
            for who in "$@"; do
                read -r pp tg commit <<EOF
$(run "$who" "$file" "$t")
EOF
                echo "round $round $spec t=$t $(label "$who"): pp $pp tg $tg"
                echo "$spec $t $round $who $pp $tg $commit" >>"$tmp/results"
            done
            round=$((round + 1))
        done
    done
done
echo "load average after: $(cat /proc/loadavg 2>/dev/null || echo ?)"
echo "limits after:"
limits
echo
echo "side by side: pp$prompt (prompt from an empty context) and tg$gen (decode from an empty context), tokens/s;"
echo "medians of $rounds rounds; ratio = ours / theirs, the median of the per-round ratios (min-max)"
echo "  frontdesk: kernel path $(sed -n 's/.*kernel path \([a-z0-9]*\).*/\1/p' "$tmp/ours-info" 2>/dev/null | head -n 1) ($build/tools/bench_vs)"
for who in $contenders; do
    [ "$who" = ours ] && continue
    c=$(awk -v w="$who" '$4 == w && $7 != "?" && $7 != "-" { print $7; exit }' "$tmp/results")
    echo "  $(label "$who"): ${c:-?} ($(if [ "$who" = llama ]; then echo "$LLAMA_BENCH"; else echo "$IK_LLAMA_BENCH"; fi))"
done
labels=""
for who in $contenders; do labels="$labels $who=$(label "$who" | tr ' ' '+')"; done
awk -v labels="$labels" '
function med(v, n,    i, j, x, s) {
    for (i = 1; i <= n; i++) s[i] = v[i]
    for (i = 2; i <= n; i++) { x = s[i]; for (j = i - 1; j >= 1 && s[j] > x; j--) s[j + 1] = s[j]; s[j + 1] = x }
    return n == 0 ? "-" : n % 2 ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2
}
function lo(v, n,    i, m) { m = v[1]; for (i = 2; i <= n; i++) if (v[i] < m) m = v[i]; return m }
function hi(v, n,    i, m) { m = v[1]; for (i = 2; i <= n; i++) if (v[i] > m) m = v[i]; return m }
function num(x) { return x == "-" ? "-" : sprintf("%.1f", x) }
function cell(kind, key, who,    r, no, nt, nr, o, t, q, s) {
    no = nt = nr = 0
    for (r = 1; r <= maxround; r++) {
        s = val[key, r, "ours", kind]; if (s != "" && s != "-") o[++no] = s + 0
        s = val[key, r, who, kind]; if (s != "" && s != "-") t[++nt] = s + 0
        if (val[key, r, "ours", kind] !~ /^(-|)$/ && val[key, r, who, kind] !~ /^(-|)$/ && val[key, r, who, kind] + 0 > 0)
            q[++nr] = val[key, r, "ours", kind] / val[key, r, who, kind]
    }
    s = sprintf("%8s %8s", num(med(o, no)), num(med(t, nt)))
    if (nr == 0) return s sprintf("  %-17s", "-")
    return s sprintf("  %-17s", sprintf("%.2f (%.2f-%.2f)", med(q, nr), lo(q, nr), hi(q, nr)))
}
BEGIN {
    n = split(labels, l, " ")
    for (i = 1; i <= n; i++) { split(l[i], kv, "="); name[kv[1]] = kv[2]; gsub("[+]", " ", name[kv[1]]) }
}
{
    key = $1 SUBSEP $2
    if (!(key in seen)) { seen[key] = 1; order[++nkeys] = key }
    if (!(($4) in iswho)) { iswho[$4] = 1; if ($4 != "ours") whos[++nwho] = $4 }
    val[key, $3, $4, "pp"] = $5; val[key, $3, $4, "tg"] = $6
    if ($3 > maxround) maxround = $3
}
END {
    printf "%-24s %3s  %-18s %8s %8s  %-17s   %8s %8s  %-17s\n", "model:type", "thr", "against", \
        "pp ours", "theirs", "ratio (range)", "tg ours", "theirs", "ratio (range)"
    for (i = 1; i <= nkeys; i++) {
        split(order[i], k, SUBSEP)
        for (j = 1; j <= nwho; j++)
            printf "%-24s %3s  %-18s %s   %s\n", k[1], k[2], name[whos[j]], \
                cell("pp", order[i], whos[j]), cell("tg", order[i], whos[j])
    }
}' "$tmp/results"
