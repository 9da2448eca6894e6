#!/bin/sh
# Runs every libFuzzer target in BUILD/tests/fuzz for SECONDS each, starting
# from the seed corpus in tests/fuzz/corpus/<target>/ (copied, so the repo's
# corpus only changes by hand). Fails when a target finds a crash or when no
# target was built.
set -eu
build=$(cd "$1" && pwd)
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
found=0
for bin in "$build"/tests/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    found=1
    name=$(basename "$bin")
    work=$(mktemp -d)
    if [ -d "$root/tests/fuzz/corpus/$name" ]; then
        cp -r "$root/tests/fuzz/corpus/$name/." "$work/"
    fi
    echo "fuzz: $name for ${seconds}s"
    ( cd "$work" && "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "$work" ) >"$work.log" 2>&1 || {
        tail -n 60 "$work.log"
        echo "fuzz: $name FAILED (inputs kept in $work)" >&2
        exit 1
    }
    grep -E "^(stat::number_of_executed_units|Done)" "$work.log" || true
    rm -rf "$work" "$work.log"
done
if [ "$found" = 0 ]; then
    echo "fuzz: no fuzz targets in $build/tests/fuzz" >&2
    exit 1
fi
