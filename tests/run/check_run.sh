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
created the group on channel org/ns/chat with MLS (end-to-end encrypted)
-> add org/ns/client-1 to the group
-> add org/ns/client-2 to the group
joined the group on channel chat
<- moderator: welcome to the chat (3/3)
<- client-1: hello from client-1 (3/3)
<- client-2: hello from client-2 (3/3)
ended the group
org/ns/client-1: heard 6 of 6 lines, from client-2, moderator
org/ns/client-2: heard 6 of 6 lines, from client-1, moderator
org/ns/moderator: heard 6 of 6 lines, from client-1, client-2
== Done: the group ended and every program stopped
ACK received for
agntcy/namespace/participant_1 | <- moderator: hello from the moderator (3/3)
DeleteChannel: success=True
heard 3 of 3 lines through the controller's group
== Done: the controller's group ended and every program stopped
LINES
exit $fail
