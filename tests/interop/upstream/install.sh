#!/bin/sh
# Installs upstream SLIM's Node.js SDK, at the version pinned by package.json
# and package-lock.json beside this script, into DEST/node_modules (the build
# tree, so the source tree stays clean). Only the linux-x64-gnu native
# package is fetched: the SDK's other platform packages are optional
# dependencies and are skipped. Skips the download when DEST already holds
# this exact lock file's install.
#
# Usage: install.sh DEST
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:?usage: install.sh DEST}

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "install.sh: $tool not found; run 'make deps' (scripts/deps.sh installs nodejs and npm)" >&2
        exit 1
    fi
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
    echo "install.sh: node $(node --version) is too old; the SDK needs node 18 or newer" >&2
    exit 1
fi
if [ "$(node -p 'process.platform + "-" + process.arch')" != linux-x64 ]; then
    echo "install.sh: the pinned SDK package is for linux-x64; this is $(node -p 'process.platform + "-" + process.arch')" >&2
    exit 1
fi

mkdir -p "$dest"
stamp="$dest/node_modules/.slim-interop-lock"
if [ -f "$stamp" ] && cmp -s "$stamp" "$here/package-lock.json"; then
    echo "install.sh: SDK already installed in $dest"
    exit 0
fi
cp "$here/package.json" "$here/package-lock.json" "$dest/"
# npm ci refuses this lock file: the SDK lists optional platform packages
# that were never published. npm install with --no-save still installs
# exactly the locked versions and checks their integrity hashes.
(cd "$dest" && npm install --omit=optional --no-save --no-audit --no-fund --loglevel=error)
cp "$here/package-lock.json" "$stamp"
version=$(cd "$dest" && node -p 'require("@agntcy/slim-bindings/package.json").version')
echo "install.sh: @agntcy/slim-bindings $version installed in $dest/node_modules"
