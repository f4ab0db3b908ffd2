#!/bin/sh
# `make bench`: engine throughput on the reference models (when ../shared is
# present) and on random-weight models of realistic shapes written by
# tools/mkmodel (cached in $BUILD/models).
set -eu
build=${1:-build-bench}
shared=${FRONTDESK_SHARED:-../shared}
mkdir -p "$build/models"
models=""
for spec in smollm2-135m:q8_0 smollm2-135m:f16; do
    shape=${spec%%:*} type=${spec#*:}
    out="$build/models/random-$shape-$type.gguf"
    if [ ! -f "$out" ]; then
        echo "writing $out"
        "$build/tools/mkmodel" --shape "$shape" --type "$type" --out "$out"
    fi
    models="$models $out"
done
refs=""
if [ -d "$shared/ref/models" ]; then
    refs=$(ls "$shared"/ref/models/*.gguf)
else
    echo "SKIP: $shared not found; benchmarking the random-weight models only"
fi
# shellcheck disable=SC2086
"$build/tools/bench" --runs "${BENCH_RUNS:-3}" $refs $models
echo
echo "dashboard aggregates, 24 h window (median of 3; ratio = naive SQL / ours):"
"$build/tools/bench_stats" --rows "${BENCH_STATS_ROWS:-10000,100000,1000000}"
