#!/bin/sh
# Run every test binary given, report each, fail if any failed.
failed=""
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
