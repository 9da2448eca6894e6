#!/bin/sh
# Runs `make run`'s main job (RUN_SCRIPT BUILD_DIR) and checks that it ends
# well and prints every line that shows a delivery. Update the list when the
# main job changes.
set -u
script=$1
build=$2
out=$(sh "$script" "$build" 2>&1)
rc=$?
echo "$out"
fail=0
if [ "$rc" != 0 ]; then
    echo "check_run: the main job exited with $rc" >&2
    fail=1
fi
while IFS= read -r want; do
    [ -n "$want" ] || continue
    if ! printf '%s\n' "$out" | grep -qF -- "$want"; then
        echo "check_run: missing line: $want" >&2
        fail=1
    fi
done <<'LINES'
bob   -> subscribe agntcy/ns/bob: success=True
bob   <- received 'hello bob' (ttl 7)
bob   <- received 'how are you?' (ttl 7)
alice <- error from the node: 'no route to agntcy/ns/carol'
node counters: 3 publishes, 2 matched, 1 without a route
node stopped
LINES
exit $fail
