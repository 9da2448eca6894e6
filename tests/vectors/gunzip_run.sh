#!/bin/sh
# gunzip_run.sh RUNNER FILE.json.gz OUT.json
# Unpacks a compressed vector file and runs `RUNNER passive-client` on it.
gzip -dc "$2" > "$3" || exit 1
exec "$1" passive-client "$3"
