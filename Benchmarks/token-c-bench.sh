#!/usr/bin/env bash
# Token verification through the C ABI against raw libsodium Ed25519: builds librealtime.so
# (scripts/build-lib.sh) and Benchmarks/c/token_bench.c, then verifies one access token over and
# over both ways in the same process (and times issuing).
#   Benchmarks/token-c-bench.sh [ROUNDS] [OPS_PER_ROUND]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-lib.sh >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -o "$work/token_bench" Benchmarks/c/token_bench.c \
  -Idist/include -Ldist/lib -Wl,-rpath,"$PWD/dist/lib" -lrealtime $(pkg-config --cflags --libs libsodium)
"$work/token_bench" "${1:-7}" "${2:-20000}"
