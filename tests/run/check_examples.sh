#!/bin/sh
# Every configuration under examples/config/ loads without warnings
# (`slim --check-config`) and appears, as it is, in docs/configuration.md.
# Usage: check_examples.sh SLIM_BIN SOURCE_DIR
set -u
slim=$1
root=$2
fail=0
count=0
for f in "$root"/examples/config/*.yaml; do
    count=$((count + 1))
    out=$("$slim" --check-config -c "$f" 2>&1)
    if [ $? -ne 0 ] || ! printf '%s\n' "$out" | grep -q ", 0 warning(s))$"; then
        echo "check_examples: $f: $out" >&2
        fail=1
    fi
    if ! python3 - "$f" "$root/docs/configuration.md" <<'PY'
import sys
body = open(sys.argv[1]).read().rstrip("\n")
sys.exit(0 if "```yaml\n" + body + "\n```" in open(sys.argv[2]).read() else 1)
PY
    then
        echo "check_examples: $f is not shown as it is in docs/configuration.md" >&2
        fail=1
    fi
done
[ "$count" -ge 8 ] || { echo "check_examples: only $count examples" >&2; fail=1; }
[ "$fail" = 0 ] && echo "check_examples: $count configurations usable and documented"
exit $fail
