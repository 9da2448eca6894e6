#!/bin/sh
# The main job of `make run`: the user's MLS group chat from Python
# (examples/python/group_chat_demo.py): a `slim` node on a free port, two
# participants and a moderator (examples/python/multicast.py) on our
# Python bindings; the moderator creates an MLS group and invites both,
# everyone talks, then everything stops. Then the document's second half
# (examples/python/controller_demo.py): slim-control-plane and two nodes,
# a channel and a participant made through the controller's API.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
echo "== SLIM (C) $("$build/apps/slim-inspect" --version): an MLS group chat in Python =="
PYTHONPATH="$build/bindings/python" /usr/bin/python3 \
    "$root/examples/python/group_chat_demo.py" "$build/apps/slim"
echo
echo "== The controller: a channel made through slim-control-plane, across two nodes =="
PYTHONPATH="$build/bindings/python:$build/gen/python" /usr/bin/python3 \
    "$root/examples/python/controller_demo.py" "$build"
