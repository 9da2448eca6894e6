#!/bin/sh
# passive_altered.sh RUNNER DIR COUNT
# Runs `RUNNER passive-client FILE` on each of the COUNT altered files in DIR
# (written by mls_passive_gen) and requires each to be refused: exit status
# 1 (not a crash or a signal), the runner's summary "0 passed, 1 failed",
# and a FAIL line holding the text of FILE's .expect beside it (where the
# alteration must be caught: a refusal for another reason does not count).
# Prints the reason the runner gave for each.
runner=$1 dir=$2 want=$3
n=0 bad=0
for f in "$dir"/*.json; do
  [ -e "$f" ] || continue
  n=$((n + 1))
  out=$("$runner" passive-client "$f" 2>&1)
  rc=$?
  expect=$(cat "${f%.json}.expect" 2>/dev/null)
  if [ "$rc" -ne 1 ] || [ -z "$expect" ] || ! printf '%s\n' "$out" | grep -q '^0 passed, 1 failed$' ||
     ! printf '%s\n' "$out" | grep '^FAIL' | grep -qF -- "$expect"; then
    echo "NOT REFUSED AS EXPECTED (exit $rc, want \"$expect\"): $f"
    printf '%s\n' "$out" | tail -3
    bad=$((bad + 1))
  else
    echo "refused: $(basename "$f"): $(printf '%s\n' "$out" | grep '^FAIL' | head -1)"
  fi
done
if [ "$n" -ne "$want" ]; then
  echo "found $n altered files, expected $want"
  exit 1
fi
[ "$bad" -eq 0 ] || exit 1
echo "all $n altered files refused"
