#!/bin/sh
# The main job of `make run`. For now: the name and wire walkthrough; it grows
# into a node, a controller and an MLS group chat as those parts land.
set -eu
build=${1:-build}
echo "== SLIM (C) $("$build/apps/slim-inspect" --version) =="
echo "The node, controller and group chat are not built yet; this shows the"
echo "layers that exist: names and the data-plane wire format."
echo
exec "$build/apps/slim-inspect" demo
