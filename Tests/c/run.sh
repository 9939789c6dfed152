#!/usr/bin/env bash
# Tests the C ABI as a C host sees it, against the already built dist/ (scripts/build-lib.sh):
#
#   1. builds every Tests/c/test_*.c with ASan+UBSan into Tests/c/bin/ and runs it with
#      LeakSanitizer on;
#   2. checks that realtime.h compiles alone as C99 and as C++17;
#   3. runs test_core once more, built without sanitizers, under valgrind in quick mode.
#
# Prints each binary's summary, then one aggregate "N passed, N failed" as the last line.
# A binary that crashes, times out, or exits non-zero after a clean summary (LeakSanitizer,
# valgrind errors) counts as one more failure. Exits non-zero on any failure.
#
# Env: RT_DIST (default dist/; any prefix laid out like it, e.g. after scripts/install.sh),
#      CC (default cc), CXX (default clang++), TEST_TIMEOUT (s, default 600),
#      VALGRIND_TIMEOUT (s, default 1800), SKIP_VALGRIND=1.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# Absolute, because it ends up in the test binaries' rpath.
if [[ -n ${RT_DIST:-} && -d $RT_DIST ]]; then RT_DIST=$(cd "$RT_DIST" && pwd); fi
cd "$root"

dist=${RT_DIST:-$root/dist}
if [[ ! -e "$dist/lib/librealtime.so" || ! -e "$dist/include/realtime.h" ]]; then
  echo "error: $dist/lib/librealtime.so or $dist/include/realtime.h is missing." >&2
  echo "       Build the library first: scripts/build-lib.sh (or: make lib)." >&2
  exit 2
fi

CC=${CC:-cc}
if [[ -z "${CXX:-}" ]]; then
  if command -v clang++ >/dev/null; then CXX=clang++; else CXX=/opt/swift/usr/bin/clang++; fi
fi
src=Tests/c
bin=$src/bin
mkdir -p "$bin"

warn=(-std=c99 -Wall -Wextra -Werror -pedantic)
sanitize=(-fsanitize=address,undefined -fno-omit-frame-pointer)
# Absolute rpath so the binaries find dist's library from any working directory; -lsqlite3 and
# -luv because the tests also drive SQLite files and a host libuv loop themselves.
link=(-L"$dist/lib" -Wl,-rpath,"$dist/lib" -lrealtime -luv -lsqlite3 -lpthread)

# LeakSanitizer on; any UBSan report is a failure, not a warning.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}
if [[ -f "$src/lsan.supp" ]]; then
  export LSAN_OPTIONS=suppressions="$root/$src/lsan.supp":print_suppressions=1${LSAN_OPTIONS:+:$LSAN_OPTIONS}
fi

total_passed=0
total_failed=0
summary_re='^([0-9]+) passed, ([0-9]+) failed$'

# run_counted LABEL TIMEOUT CMD...: runs a test binary, shows its output, adds its counts.
run_counted() {
  local label=$1 limit=$2
  shift 2
  local out rc line p=0 f=0
  out=$(mktemp)
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  line=$(grep -E "$summary_re" "$out" | tail -n 1)
  rm -f "$out"
  if [[ $line =~ $summary_re ]]; then
    p=${BASH_REMATCH[1]}
    f=${BASH_REMATCH[2]}
  fi
  if [[ -z $line ]]; then
    if ((rc == 124 || rc == 137)); then
      echo "!! $label: timed out after ${limit}s"
    else
      echo "!! $label: crashed before its summary line (exit status $rc)"
    fi
    f=$((f + 1))
  elif ((rc != 0 && f == 0)); then
    echo "!! $label: all tests passed but it exited with status $rc (leak or memory error report above)"
    f=1
  fi
  echo "== $label: $p passed, $f failed"
  total_passed=$((total_passed + p))
  total_failed=$((total_failed + f))
}

# check LABEL CMD...: a single pass/fail step (compilation checks).
check() {
  local label=$1
  shift
  if "$@"; then
    echo "== $label: 1 passed, 0 failed"
    total_passed=$((total_passed + 1))
  else
    echo "== $label: 0 passed, 1 failed"
    total_failed=$((total_failed + 1))
  fi
}

shopt -s nullglob
tests=("$src"/test_*.c)
if ((${#tests[@]} == 0)); then
  echo "error: no $src/test_*.c found" >&2
  exit 2
fi

for c in "${tests[@]}"; do
  name=$(basename "$c" .c)
  echo "== building $name (asan, ubsan)"
  if ! "$CC" "${warn[@]}" "${sanitize[@]}" -g -O1 -I"$dist/include" -o "$bin/$name" "$c" "${link[@]}"; then
    echo "== $name: 0 passed, 1 failed (does not compile)"
    total_failed=$((total_failed + 1))
    continue
  fi
  run_counted "$name (asan)" "${TEST_TIMEOUT:-600}" "$bin/$name"
done

echo "== header checks"
check "realtime.h as C99" "$CC" "${warn[@]}" -fsyntax-only -I"$dist/include" "$src/header_c99.c"
check "realtime.h as C++17" "$CXX" -std=c++17 -Wall -Wextra -Werror -pedantic -fsyntax-only \
  -I"$dist/include" "$src/header_cxx.cpp"

if [[ "${SKIP_VALGRIND:-0}" != 1 ]]; then
  if command -v valgrind >/dev/null; then
    echo "== building test_core (no sanitizers) for valgrind"
    if "$CC" "${warn[@]}" -g -O1 -I"$dist/include" -o "$bin/test_core.valgrind" \
        "$src/test_core.c" "${link[@]}"; then
      RT_TEST_QUICK=1 run_counted "test_core (valgrind, quick)" "${VALGRIND_TIMEOUT:-1800}" \
        valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite --error-exitcode=1 \
        "$bin/test_core.valgrind"
    else
      echo "== test_core (valgrind): 0 passed, 1 failed (does not compile)"
      total_failed=$((total_failed + 1))
    fi
  else
    echo "== valgrind not installed: valgrind run skipped" >&2
  fi
fi

echo "$total_passed passed, $total_failed failed"
((total_failed == 0))
