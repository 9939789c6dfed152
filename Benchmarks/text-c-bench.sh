#!/usr/bin/env bash
# The text CRDT through the C ABI: builds librealtime.so (scripts/build-lib.sh) and rt-bench,
# converts the automerge-paper trace, builds Benchmarks/c/text_replay.c against dist/ and replays
# the trace through rt_doc_text_edits (each edit its own transaction and update), then runs
# rt-bench's Swift replay on the same machine for comparison.
#   Benchmarks/text-c-bench.sh [ROUNDS] [BATCH]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-15}
batch=${2:-4096}
scripts/build-lib.sh >/dev/null
(cd Benchmarks && swift build -c release --product rt-bench 2>&1 | tail -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
Benchmarks/.build/release/rt-bench --text-dump "$work/trace.bin"
cc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -o "$work/text_replay" Benchmarks/c/text_replay.c \
  -Idist/include -Ldist/lib -Wl,-rpath,"$PWD/dist/lib" -lrealtime
"$work/text_replay" "$work/trace.bin" "$rounds" "$work/trace.bin.end" "$batch"
Benchmarks/.build/release/rt-bench --skip-store --skip-loop --skip-publish --skip-limits --skip-presence \
  --skip-crdt --skip-floor --text-rounds "$rounds" | grep '^text'
