#!/usr/bin/env bash
# Runs every test: installs what is missing, then
#   1. the Swift Testing suites (loop, queue, store, durability under SIGKILL, example server);
#   2. the release librealtime.so as it ships, and its exported ABI against abi/realtime.symbols;
#   3. the C ABI tests under AddressSanitizer + LeakSanitizer + UBSan, and again under valgrind;
#   4. examples/c-host built through pkg-config and run.
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

echo "== librealtime.so (release)"
scripts/build-lib.sh
scripts/check-abi.sh

echo "== C ABI tests"
c_log=$(mktemp)
trap 'rm -f "$swift_log" "$c_log"' EXIT
Tests/c/run.sh 2>&1 | tee "$c_log"
c_passed=$(sed -n 's/^\([0-9]*\) passed, 0 failed$/\1/p' "$c_log" | tail -1)
[[ -n $c_passed ]] || { echo "C tests did not report a passing run" >&2; exit 1; }

echo "== examples/c-host"
make -s -C examples/c-host clean
PKG_CONFIG_PATH="$PWD/dist/lib/pkgconfig" make -s -C examples/c-host
host_db=$(mktemp -d)/c-host.db
examples/c-host/c-host "$host_db"
rm -rf "$(dirname "$host_db")"

echo "$((swift_passed + c_passed + 1)) passed, 0 failed"
