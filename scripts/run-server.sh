#!/usr/bin/env bash
# Quick start: installs what is missing, builds the example server (release) and runs it on
# 127.0.0.1:8080 with its SQLite database in ./data/realtime.db. Arguments go to the server
# (see --help). Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
swift build -c release --product realtime-server
exec .build/release/realtime-server "$@"
