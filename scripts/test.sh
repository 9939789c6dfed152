#!/usr/bin/env bash
# Runs every test: installs what is missing, then
#   1. the Swift Testing suites (loop, queue, store, durability under SIGKILL, wire codec,
#      example server), the WebSocket endpoint with real Python clients, then the Swift suites
#      again under ThreadSanitizer;
#   2. the release librealtime.so as it ships, and its exported ABI against abi/realtime.symbols;
#   3. the C ABI tests under AddressSanitizer + LeakSanitizer + UBSan, and again under valgrind;
#      sealed payloads and boxes checked against PyNaCl through the shipped library;
#   4. examples/c-host built through pkg-config and run, and the README's C example compiled;
#   5. every fuzz target over its seed corpus plus a bounded number of mutations.
# Ends with one "N passed, N failed" line; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test

echo "== Swift tests"
swift build --build-tests
swift_log=$(mktemp)
trap 'rm -f "$swift_log"' EXIT
swift test --skip-build 2>&1 | tee "$swift_log"
swift_passed=$(sed -n 's/.*Test run with \([0-9]*\) tests\{0,1\} in .* passed.*/\1/p' "$swift_log" | tail -1)
[[ -n $swift_passed ]] || { echo "Swift tests did not report a passing run" >&2; exit 1; }

echo "== WebSocket endpoint with real clients (Python websockets, raw sockets)"
py_log=$(mktemp)
RT_SERVER="$(swift build --show-bin-path)/realtime-server" python3 -m pytest Tests/python -q -p no:cacheprovider 2>&1 | tee "$py_log"
py_passed=$(sed -n 's/^\([0-9]*\) passed.*/\1/p' "$py_log" | tail -1)
[[ -n $py_passed ]] || { echo "Python tests did not report a passing run" >&2; exit 1; }
rm -f "$py_log"

echo "== Swift tests under ThreadSanitizer"
swift build --build-tests --sanitize=thread --scratch-path .build-tsan
TSAN_OPTIONS=halt_on_error=1 swift test --skip-build --sanitize=thread --scratch-path .build-tsan 2>&1 | tail -n 3

echo "== librealtime.so (release)"
scripts/build-lib.sh
scripts/check-abi.sh

echo "== C ABI tests"
c_log=$(mktemp)
trap 'rm -f "$swift_log" "$c_log"' EXIT
Tests/c/run.sh 2>&1 | tee "$c_log"
c_passed=$(sed -n 's/^\([0-9]*\) passed, 0 failed$/\1/p' "$c_log" | tail -1)
[[ -n $c_passed ]] || { echo "C tests did not report a passing run" >&2; exit 1; }

echo "== Interoperability with PyNaCl (sealed payloads and boxes through the shipped library)"
interop_log=$(mktemp)
RT_LIB="$PWD/dist/lib/librealtime.so" python3 -m pytest Tests/interop -q -p no:cacheprovider 2>&1 | tee "$interop_log"
interop_passed=$(sed -n 's/^\([0-9]*\) passed.*/\1/p' "$interop_log" | tail -1)
[[ -n $interop_passed ]] || { echo "interoperability tests did not report a passing run" >&2; exit 1; }
rm -f "$interop_log"

echo "== examples/c-host"
make -s -C examples/c-host clean
PKG_CONFIG_PATH="$PWD/dist/lib/pkgconfig" make -s -C examples/c-host
host_db=$(mktemp -d)/c-host.db
examples/c-host/c-host "$host_db"
rm -rf "$(dirname "$host_db")"

echo "== README C example"
readme_dir=$(mktemp -d)
sed -n '/^```c$/,/^```$/p' README.md | sed '1d;$d' > "$readme_dir/example.c"
cc -std=c99 -Wall -Wextra -Werror -pedantic -o "$readme_dir/example" "$readme_dir/example.c" \
  $(PKG_CONFIG_PATH="$PWD/dist/lib/pkgconfig" pkg-config --cflags --libs realtime) -Wl,-rpath,"$PWD/dist/lib"
(cd "$readme_dir" && ./example)
rm -rf "$readme_dir"

echo "== fuzz targets (seed corpus, then coverage-guided mutations: at most 200000 runs or 10 s each)"
# Coverage-guided: --sanitize=fuzzer alone (see fuzz/Package.swift for why not with address).
(cd fuzz && swift build -c release --sanitize=fuzzer 2>&1 | tail -n 1)
fuzz_dir=$(mktemp -d)
fuzz_passed=0
for corpus in fuzz/corpus/*/; do
  name=$(basename "$corpus")
  mkdir -p "$fuzz_dir/$name"
  cp "$corpus"* "$fuzz_dir/$name/"
  fuzz/.build/release/fuzz-"$name" -runs=200000 -max_total_time=10 -timeout=10 -seed=1 "$fuzz_dir/$name" 2>&1 | tail -n 1
  fuzz_passed=$((fuzz_passed + 1))
done
rm -rf "$fuzz_dir"

echo "$((swift_passed + py_passed + c_passed + interop_passed + 2 + fuzz_passed)) passed, 0 failed"
