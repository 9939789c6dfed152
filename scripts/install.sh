#!/usr/bin/env bash
# Installs the built library (dist/, from scripts/build-lib.sh) under a prefix:
#
#   scripts/install.sh PREFIX          # e.g. /usr/local, /opt/realtime, $HOME/.local
#   DESTDIR=/tmp/stage scripts/install.sh /usr   # staged install for packaging
#
# Installs PREFIX/include/realtime.h, PREFIX/lib/librealtime.so.X.Y.Z with its SONAME link
# (librealtime.so.X) and development link (librealtime.so), and PREFIX/lib/pkgconfig/realtime.pc
# generated from scripts/realtime.pc.in. Builds dist/ first if it is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if [[ $# -ne 1 || -z $1 ]]; then
  echo "usage: $0 PREFIX" >&2
  exit 2
fi
prefix=$1
# realtime.pc records the prefix, so it must be absolute to mean anything to pkg-config.
if [[ $prefix != /* ]]; then
  prefix="$(pwd)/$prefix"
fi
prefix=${prefix%/} # "/usr/" -> "/usr"; "/" -> "", so "$prefix/lib" never has "//"
destdir=${DESTDIR:-}

cd "$root"
version=$(sed -n 's/^#define RT_VERSION_STRING "\(.*\)"$/\1/p' include/realtime.h)
major=$(sed -n 's/^#define RT_VERSION_MAJOR \([0-9]*\)$/\1/p' include/realtime.h)
if [[ -z $version || -z $major ]]; then
  echo "error: cannot read RT_VERSION_STRING / RT_VERSION_MAJOR from include/realtime.h" >&2
  exit 1
fi

lib="librealtime.so.$version"
if [[ ! -f "dist/lib/$lib" || ! -f dist/include/realtime.h ]]; then
  echo "dist/ is missing or stale (no dist/lib/$lib): running scripts/build-lib.sh"
  scripts/build-lib.sh
fi

incdir="$destdir$prefix/include"
libdir="$destdir$prefix/lib"
install -d "$incdir" "$libdir/pkgconfig"
install -m 644 dist/include/realtime.h "$incdir/realtime.h"
# install(1) unlinks the old file before writing a new one, so processes that have the previous
# library mapped keep their copy (cp would overwrite the mapped file in place and crash them).
install -m 755 "dist/lib/$lib" "$libdir/$lib"
ln -sfn "$lib" "$libdir/librealtime.so.$major"
ln -sfn "librealtime.so.$major" "$libdir/librealtime.so"
sed -e "s|@PREFIX@|${prefix:-/}|g" -e "s|@VERSION@|$version|g" scripts/realtime.pc.in \
  > "$libdir/pkgconfig/realtime.pc"
chmod 644 "$libdir/pkgconfig/realtime.pc"

echo "installed realtime $version to $destdir${prefix:-/}"
echo "  build:  PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs realtime"
if [[ $prefix == /usr || $prefix == /usr/local ]]; then
  echo "  run:    ldconfig (once, on the target system) so the loader finds librealtime.so.$major"
else
  echo "  run:    link with -Wl,-rpath,$prefix/lib (or set LD_LIBRARY_PATH)"
fi
