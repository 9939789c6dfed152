#!/usr/bin/env bash
# Sealing through the C ABI against raw libsodium, then Argon2id logins per second under the
# concurrency cap: builds librealtime.so (scripts/build-lib.sh)
# and Benchmarks/c/seal_bench.c, then seals and opens 1 KiB payloads both ways in the same
# process.
#   Benchmarks/seal-c-bench.sh [ROUNDS] [OPS_PER_ROUND]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-lib.sh >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -o "$work/seal_bench" Benchmarks/c/seal_bench.c \
  -Idist/include -Ldist/lib -Wl,-rpath,"$PWD/dist/lib" -lrealtime $(pkg-config --cflags --libs libsodium)
"$work/seal_bench" "${1:-7}" "${2:-100000}"
# Argon2id logins per second under the concurrency cap (40 logins from 4 threads, caps 1 and 2).
cc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -pthread -o "$work/password_bench" Benchmarks/c/password_bench.c \
  -Idist/include -Ldist/lib -Wl,-rpath,"$PWD/dist/lib" -lrealtime
"$work/password_bench" 40 4 1 2
