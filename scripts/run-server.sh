#!/usr/bin/env bash
# Quick start: installs what is missing, builds the example server (release) and runs it on
# 127.0.0.1:8080 with its SQLite database in ./data/realtime.db, sealed at rest under the master
# key in ./data/master.key (made on first run, mode 600: keep it, or the stored messages and
# documents cannot be read again). Arguments go to the server (see --help); passing --key-file,
# --key-env or --in-memory leaves the key to you. Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
swift build -c release --product realtime-server
key_args=(--key-file data/master.key)
for arg in "$@"; do
  case "$arg" in --key-file* | --key-env* | --in-memory) key_args=() ;; esac
done
if ((${#key_args[@]})) && [[ ! -f data/master.key ]]; then
  mkdir -p data
  (umask 077 && printf '1:%s\n' "$(head -c32 /dev/urandom | od -An -tx1 -v | tr -d ' \n')" > data/master.key)
  echo "run-server: made data/master.key (mode 600); stored payloads are sealed under it" >&2
fi
exec .build/release/realtime-server "${key_args[@]}" "$@"
