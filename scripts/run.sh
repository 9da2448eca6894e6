#!/bin/sh
# The main job of `make run`. What exists today: names and the wire format,
# a real node with two clients, then a group chat through a node (a
# moderator and three participants, examples/c/group_chat) with MLS on. It
# becomes the user's Python MLS group chat with a controller as the
# bindings and the controller land.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
echo "== SLIM (C) $("$build/apps/slim-inspect" --version) =="
echo
"$build/apps/slim-inspect" demo
echo
echo "== A node and two clients =="
/usr/bin/python3 "$root/examples/node_pubsub_demo.py" "$build/apps/slim" "$build/gen/python"
echo
echo "== An MLS group chat: a moderator (alice) invites bob, carol and dave =="
SLIM_BIN="$build/apps/slim" GROUP_CHAT_BIN="$build/examples/c/group_chat" \
    SLIM_PYDIR="$build/gen/python" SLIM_INTEGRATION_DIR="$root/tests/integration" \
    /usr/bin/python3 "$root/examples/c/test_group_chat.py" --mls
