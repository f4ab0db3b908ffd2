#!/bin/sh
# `make model`: train the built-in customer-service model from ../shared/data.
# The exact command and seed of the shipped model; resumable: run it again
# after an interruption and it continues from models/frontdesk-cs.gguf.ckpt.
set -eu
bin=${1:-build/frontdesk}
shared=${FRONTDESK_SHARED:-../shared}
mkdir -p models
[ -f models/frontdesk-vocab.gguf ] ||
    build/tools/train_tokenizer --data "$shared/data" --out models/frontdesk-vocab.gguf --vocab 4096 --seed 1
exec "$bin" train --vocab models/frontdesk-vocab.gguf --data "$shared/data" \
    --out models/frontdesk-cs.gguf --ckpt models/frontdesk-cs.gguf.ckpt \
    --width 256 --layers 6 --heads 8 --kv-heads 8 --ff 688 --ctx 512 \
    --tokens 8192 --steps 4500 --lr 2e-3 --warmup 200 --bitext-weight 3 \
    --eval-every 250 --ckpt-every 50 --seed 1 --type q8_0
