#!/bin/sh
# Installs the Debian 12 packages that the build, the tests and the
# benchmarks need, when any is missing. Runs apt-get directly as root, through
# `sudo -n` otherwise; when neither works it prints the exact command to run
# and fails.
set -eu

PACKAGES="
build-essential cmake pkg-config git
clang-14 libclang-rt-14-dev clang-format
libuv1-dev libnghttp2-dev libssl-dev openssl
libprotobuf-c-dev protobuf-c-compiler protobuf-compiler protobuf-compiler-grpc
libxxhash-dev libyaml-dev libjansson-dev libjwt-dev libsqlite3-dev libmicrohttpd-dev
libcurl4-openssl-dev
python3 python3-grpcio python3-protobuf python3-pytest python3-xxhash python3-cryptography
python3-dev python3-pytest-asyncio python3-venv python3-pip python3-setuptools python3-click
nats-server
"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

# Node.js and npm run upstream SLIM's own SDK in tests/interop/upstream.
# Debian's packages are added only where no node or npm is on the PATH, so
# an existing (newer) install is left alone.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

if [ -z "$missing" ]; then
    exit 0
fi

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$missing"
echo "deps: installing:$missing"
if [ "$(id -u)" = 0 ]; then
    sh -c "$cmd" </dev/null && exit 0
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n sh -c "$cmd" </dev/null && exit 0
fi
echo "deps: could not install the missing packages. Run, as root:" >&2
echo "  $cmd" >&2
exit 1
