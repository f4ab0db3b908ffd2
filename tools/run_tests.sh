#!/bin/sh
# Run every test binary given, report each, fail if any failed.
failed=""
# No suite may touch the user's own database: the default path
# ($XDG_DATA_HOME/frontdesk/frontdesk.db) points into a scratch directory.
scratch=$(mktemp -d /tmp/frontdesk-xdg-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
XDG_DATA_HOME=$scratch
export XDG_DATA_HOME
unset FRONTDESK_DB
for t in "$@"; do
    name=$(basename "$t")
    if "$t"; then
        echo "PASS $name"
    else
        echo "FAIL $name"
        failed="$failed $name"
    fi
done
if [ -n "$failed" ]; then
    echo "FAILED:$failed"
    exit 1
fi
echo "all $# suites passed"
