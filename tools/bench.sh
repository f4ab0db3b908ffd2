#!/bin/sh
# `make bench`: the engine against this machine's limits (tools/bench.c) on
# random-weight models of realistic shapes written by tools/mkmodel (cached
# in $BUILD/models, about 7 GB), then the trainer's throughput
# (tools/bench_train.c), several sequences decoded together (tools/bench_seqs.c),
# side by side with llama.cpp's llama-bench when LLAMA_BENCH names one
# (tools/bench_vs.sh; IK_LLAMA_BENCH adds ik_llama.cpp's),
# frontdesk serve under 1-8 streaming clients (tools/bench_serve.c), the
# TUI's frame time while a reply streams (tools/bench_frames.sh), the
# dashboard's aggregates (tools/bench_stats.c) and the store on SQLite and
# PostgreSQL side by side (tools/bench_store.c).
#
#   BENCH_RUNS=N       runs per figure (median; default 3)
#   BENCH_MODELS="..." shape:type pairs instead of the full table
#   BENCH_QUICK=1      the store step at a quick size (bench_store --quick)
#   LLAMA_BENCH=PATH   llama.cpp's llama-bench: the side-by-side step runs
#                      (IK_LLAMA_BENCH, VS_MODELS, ROUNDS...: tools/bench_vs.sh)
set -eu
build=${1:-build-bench}
mkdir -p "$build/models"
specs=${BENCH_MODELS:-"smollm2-135m:f16 smollm2-135m:q8_0 smollm2-135m:q4_0
    qwen2.5-0.5b:f16 qwen2.5-0.5b:q8_0 qwen2.5-0.5b:q4_0
    tinyllama-1.1b:f16 tinyllama-1.1b:q8_0 tinyllama-1.1b:q4_0 tinyllama-1.1b:q4_k_m"}
models=""
for spec in $specs; do
    shape=${spec%%:*} type=${spec#*:}
    out="$build/models/random-$shape-$type.gguf"
    if [ ! -f "$out" ]; then
        echo "writing $out"
        "$build/tools/mkmodel" --shape "$shape" --type "$type" --out "$out.tmp"
        mv "$out.tmp" "$out"
    fi
    models="$models $out"
done
# shellcheck disable=SC2086
"$build/tools/bench" --runs "${BENCH_RUNS:-3}" $models
echo
echo "sequences decoded together (fwd_decode_seqs; median of ${BENCH_RUNS:-3}):"
seq_models=""
for out in $models; do
    case $out in *-q8_0.gguf) case $out in *smollm2* | *qwen2.5*) seq_models="$seq_models $out" ;; esac ;; esac
done
# shellcheck disable=SC2086
[ -z "$seq_models" ] || "$build/tools/bench_seqs" --runs "${BENCH_RUNS:-3}" $seq_models
echo
echo "side by side with llama.cpp (tools/bench_vs.sh):"
tools/bench_vs.sh "$build"
echo
echo "serving (tools/bench_serve: frontdesk serve --parallel 8, streaming clients, ignore_eos):"
vocab=../shared/ref/tokenizer/ggml-vocab-gpt-2.gguf
[ -f "$vocab" ] || { vocab=models/frontdesk-vocab.gguf; echo "(../shared absent: the built-in 4096-token vocabulary instead of GPT-2's)"; }
for shape in ${BENCH_SERVE_SHAPES:-smollm2-135m qwen2.5-0.5b}; do
    out="$build/models/random-$shape-q8_0-$(basename "$vocab" .gguf).gguf"
    if [ ! -f "$out" ]; then
        "$build/tools/mkmodel" --shape "$shape" --type q8_0 --vocab "$vocab" --out "$out.tmp"
        mv "$out.tmp" "$out"
    fi
    "$build/tools/bench_serve" --bin "$build/frontdesk" --model "$out" --parallel 8 \
        --threads "$(nproc)" --runs "${BENCH_RUNS:-3}" --prompt 64 --gen 128
done
echo
echo "TUI frame time while a reply streams at full speed (tools/bench_frames.sh: the TUI in tmux, FRONTDESK_FRAME_LOG):"
frames_model="$build/models/random-smollm2-135m-q8_0-$(basename "$vocab" .gguf).gguf"
if [ ! -f "$frames_model" ]; then
    "$build/tools/mkmodel" --shape smollm2-135m --type q8_0 --vocab "$vocab" --out "$frames_model.tmp"
    mv "$frames_model.tmp" "$frames_model"
fi
tools/bench_frames.sh "$build/frontdesk" "$frames_model"
echo
echo "trainer, issue 6's shape (5.8M parameters, context 512):"
"$build/tools/bench_train" --runs "${BENCH_RUNS:-3}"
echo
echo "dashboard aggregates, 24 h window (median of 3): rollups (stats, the dashboard) vs exact (stats --exact) vs naive SQL"
# 10^7 rows take minutes to build and ~2 GB under /tmp: included when /tmp
# has 4 GB free, else said; BENCH_STATS_ROWS chooses the sizes outright.
rows=10000,100000,1000000,10000000
free_kb=$(df -Pk /tmp | awk 'NR == 2 { print $4 }')
if [ -z "${BENCH_STATS_ROWS:-}" ] && [ "${free_kb:-0}" -lt 4194304 ]; then
    rows=10000,100000,1000000
    echo "(10^7 rows left out: /tmp has $((free_kb / 1024)) MB free, the file needs ~2 GB with room to spare)"
fi
"$build/tools/bench_stats" --rows "${BENCH_STATS_ROWS:-$rows}"
echo
echo "the store, SQLite and PostgreSQL side by side (tools/bench_store: a day of traffic, the dashboard's refresh, 8 writers):"
quick=""
[ "${BENCH_QUICK:-0}" = 0 ] || quick=--quick
# shellcheck disable=SC2086
"$build/tools/bench_store" $quick
