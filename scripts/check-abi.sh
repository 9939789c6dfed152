#!/usr/bin/env bash
# Compares the symbols librealtime.so exports with the committed baseline abi/realtime.symbols,
# so that adding or removing a C function is always a deliberate, reviewed change. After a
# deliberate change: scripts/check-abi.sh --update
set -euo pipefail
cd "$(dirname "$0")/.."
so=dist/lib/librealtime.so
[[ -e $so ]] || { echo "check-abi: $so missing; run scripts/build-lib.sh" >&2; exit 2; }
actual=$(nm -D --defined-only "$so" | awk '$2 ~ /^[A-Z]$/ && $3 != "REALTIME_0" {print $3}' | sed 's/@.*//' | sort)
if [[ ${1:-} == --update ]]; then
  echo "$actual" > abi/realtime.symbols
  echo "check-abi: baseline updated ($(wc -l < abi/realtime.symbols) symbols)"
  exit 0
fi
soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
major=$(sed -n 's/^#define RT_VERSION_MAJOR \([0-9]*\)$/\1/p' include/realtime.h)
[[ $soname == "librealtime.so.$major" ]] || { echo "check-abi: SONAME is '$soname', expected librealtime.so.$major" >&2; exit 1; }
if ldd "$so" | grep -q libswift; then echo "check-abi: $so links the Swift runtime dynamically" >&2; exit 1; fi
if readelf -d "$so" | grep -E 'RUNPATH|RPATH' | grep -v '\[\$ORIGIN\]' >/dev/null; then
  echo "check-abi: $so has a RUNPATH other than \$ORIGIN" >&2; exit 1
fi
# Every function declared in the header is exported, and nothing else.
# (The preprocessor drops comments, so only declarations remain.)
declared=$(${CC:-cc} -E -P include/realtime.h | grep -oE '\brt_[a-z_0-9]+ *\(' | grep -oE 'rt_[a-z_0-9]+' | sort -u)
if ! diff <(echo "$declared") <(echo "$actual") >/dev/null; then
  echo "check-abi: header declarations and exports differ (< header, > library):" >&2
  diff <(echo "$declared") <(echo "$actual") >&2 || true
  exit 1
fi
if ! diff abi/realtime.symbols <(echo "$actual"); then
  echo "check-abi: exports differ from abi/realtime.symbols (< baseline, > library)." >&2
  echo "           If the change is deliberate, run scripts/check-abi.sh --update and commit it." >&2
  exit 1
fi
echo "check-abi: $(echo "$actual" | wc -l) exported symbols match the baseline; SONAME $soname; no Swift runtime dependency"
