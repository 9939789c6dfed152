#!/usr/bin/env bash
# Builds the release librealtime.so the way it ships: Swift runtime linked statically, only rt_*
# exported, SONAME librealtime.so.0. Lays out dist/{include,lib,lib/pkgconfig} for install.sh,
# the C tests and examples/c-host.
#
#   scripts/build-lib.sh            # release (default)
#   CONFIG=debug scripts/build-lib.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
config=${CONFIG:-release}
scratch=${SCRATCH:-.build-lib}

major=$(sed -n 's/^#define RT_VERSION_MAJOR \([0-9]*\)$/\1/p' include/realtime.h)
version=$(sed -n 's/^#define RT_VERSION_STRING "\(.*\)"$/\1/p' include/realtime.h)

# Package.swift applies the version script (rt_* only) and the SONAME to this product.
swift build -c "$config" --scratch-path "$scratch" --product realtime -Xswiftc -static-stdlib

so="$scratch/$config/librealtime.so"
rm -rf dist && mkdir -p dist/include dist/lib/pkgconfig
cp include/realtime.h dist/include/
cp "$so" "dist/lib/librealtime.so.$version"
ln -s "librealtime.so.$version" "dist/lib/librealtime.so.$major"
ln -s "librealtime.so.$major" dist/lib/librealtime.so
sed -e "s|@PREFIX@|$root/dist|" -e "s|@VERSION@|$version|" scripts/realtime.pc.in \
  > dist/lib/pkgconfig/realtime.pc
echo "built dist/lib/librealtime.so.$version ($config)"
