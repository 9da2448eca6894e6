#!/bin/sh
# Runs every libFuzzer target in BUILD/tests/fuzz, starting from the seed
# corpus in tests/fuzz/corpus/<target>/ (copied, so the repo's corpus only
# changes by hand). Fails when a target finds a crash or when no target was
# built.
#
# Usage: fuzz.sh BUILD SECONDS [TOTAL]
#   SECONDS  time per target, or, when TOTAL is given (CI),
#   TOTAL    a budget in seconds split evenly across the targets (at least
#            10 s each), so CI time stays bounded as targets are added.
set -eu
build=$(cd "$1" && pwd)
seconds=${2:-60}
total=${3:-}
root=$(cd "$(dirname "$0")/.." && pwd)
targets=0
for bin in "$build"/tests/fuzz/fuzz_*; do
    [ -x "$bin" ] && targets=$((targets + 1))
done
if [ -n "$total" ] && [ "$targets" -gt 0 ]; then
    seconds=$((total / targets))
    [ "$seconds" -ge 10 ] || seconds=10
    echo "fuzz: $targets targets, ${total}s budget: ${seconds}s each"
fi
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
