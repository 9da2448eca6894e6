#!/bin/sh
# The main job of `make run`. What exists today: names and the wire format,
# then a real node with two clients. It becomes the MLS group chat with a
# controller as the session layer and the controller land.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
echo "== SLIM (C) $("$build/apps/slim-inspect" --version) =="
echo
"$build/apps/slim-inspect" demo
echo
echo "== A node and two clients =="
/usr/bin/python3 "$root/examples/node_pubsub_demo.py" "$build/apps/slim" "$build/gen/python"
