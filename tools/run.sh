#!/bin/sh
# `make run`: open the TUI.  The model is, in order: [model] path in the
# config file, the built-in model models/frontdesk-cs.gguf (`make model`),
# else the reference model ../shared/ref/models/stories260K.gguf.
set -eu
bin=${1:-build/frontdesk}
shared=${FRONTDESK_SHARED:-../shared}
if "$bin" config 2>/dev/null | grep -q '^path = ' || [ -f models/frontdesk-cs.gguf ]; then
    exec "$bin"
fi
model="$shared/ref/models/stories260K.gguf"
if [ ! -f "$model" ]; then
    echo "make run: no model. Train the built-in one with 'make model', set [model] path"
    echo "in ~/.config/frontdesk/config, or run: $bin --model FILE.gguf"
    exit 1
fi
echo "make run: models/frontdesk-cs.gguf is not built yet; using $model"
sleep 1
exec "$bin" --model "$model"
