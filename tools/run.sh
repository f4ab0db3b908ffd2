#!/bin/sh
# `make run`: open the TUI.  The built-in model does not exist yet (issue 6),
# so the model is, in order: [model] path in the config file, else the
# reference model ../shared/ref/models/stories260K.gguf.
set -eu
bin=${1:-build/frontdesk}
shared=${FRONTDESK_SHARED:-../shared}
if "$bin" config 2>/dev/null | grep -q '^path = '; then
    exec "$bin"
fi
model="$shared/ref/models/stories260K.gguf"
if [ ! -f "$model" ]; then
    echo "make run: no model. Set [model] path in ~/.config/frontdesk/config or run"
    echo "  $bin --model FILE.gguf"
    echo "(the built-in model is not built yet; $model is not here either)"
    exit 1
fi
exec "$bin" --model "$model"
