#!/usr/bin/env bash
# Installs what building (and, with `test`, testing) needs, when it is missing, from Debian's
# packages. Safe to run repeatedly: it only calls apt-get when something is absent.
#
#   scripts/deps.sh          # build: libuv, libsodium, sqlite3 headers and pkg-config
#   scripts/deps.sh test     # also valgrind, the C compiler's sanitizer runtimes, headless
#                            # Chromium, and Python's websockets and pytest for the endpoint tests
set -euo pipefail

need=()
have_pc() { pkg-config --exists "$1" 2>/dev/null; }
command -v pkg-config >/dev/null || need+=(pkg-config)
have_pc libuv || need+=(libuv1-dev)
have_pc libsodium || need+=(libsodium-dev)
have_pc sqlite3 || need+=(libsqlite3-dev)
have_pc nettle || need+=(nettle-dev)

if [[ ${1:-} == test ]]; then
  command -v valgrind >/dev/null || need+=(valgrind)
  command -v cc >/dev/null || need+=(gcc)
  command -v make >/dev/null || need+=(make)
  # A real browser for the endpoint test (headless Chromium, driven over DevTools).
  command -v chromium >/dev/null || need+=(chromium)
  # The C ABI tests run under AddressSanitizer and UBSan: check the runtime links.
  if command -v cc >/dev/null &&
    ! echo 'int main(void){return 0;}' | cc -x c -fsanitize=address,undefined -o /dev/null - 2>/dev/null; then
    need+=(libasan8 libubsan1)
  fi
fi

python_ok() { python3 -c 'import websockets, pytest, nacl' 2>/dev/null; }
if [[ ${1:-} == test ]] && ! python_ok; then
  # Real WebSocket clients for the endpoint tests, and PyNaCl for the interoperability tests of
  # sealed payloads: from PyPI when this Python has pip (a pyenv or venv Python), else Debian's
  # packages for the system Python.
  if python3 -m pip --version >/dev/null 2>&1 && python3 -m pip install -q websockets pytest pynacl 2>/dev/null; then
    :
  else
    need+=(python3-websockets python3-pytest python3-nacl)
  fi
fi

((${#need[@]} == 0)) && exit 0
echo "deps: installing ${need[*]}"
sudo=""
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || { echo "deps: run as root or install: ${need[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
