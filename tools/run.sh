#!/bin/sh
# `make run`: until the TUI and the built-in model exist, show what the
# engine does so far on a reference model from ../shared.
set -eu
bin=${1:-build/frontdesk}
shared=${FRONTDESK_SHARED:-../shared}
model="$shared/ref/models/stories260K.gguf"
if [ ! -f "$model" ]; then
    echo "make run: $model not found; the TUI and built-in model are not built yet."
    echo "Try: $bin --help"
    exit 0
fi
echo "\$ frontdesk info --model $model"
"$bin" info --model "$model"
echo
echo "\$ printf 'Once upon a time' | frontdesk tokenize --model $model --add-special"
printf 'Once upon a time' | "$bin" tokenize --model "$model" --add-special
if "$bin" ask --help >/dev/null 2>&1; then
    echo
    echo "\$ frontdesk ask --model $model --raw --temp 0 -n 48 --no-db --stats 'Once upon a time'"
    "$bin" ask --model "$model" --raw --temp 0 -n 48 --no-db --stats 'Once upon a time'
fi
