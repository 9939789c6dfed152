#!/usr/bin/env bash
# ws-bench.sh: the WebSocket endpoint against a reference peer (Node's `ws`), with rt-load.
# Builds realtime-server and rt-load (release), then for each server — RealtimeCore's
# realtime-server and Benchmarks/reference/ws-server.js — starts a fresh process on port 0 for
# every measurement, runs rt-load against it and stops it:
#   1. connect 10,000 clients, server RSS before/after (memory per connection, handshakes/s)
#   2. connect 2,000 clients (handshakes/s)
#   3. 100 clients x 100 pings, one at a time per client (round trip p50/p99)
#   4. 1 client x 1000 pings (the round trip with nothing queued before it)
#   5. 100 clients x 100 echoes of 32 bytes: {"type":"ping","id":N,"data":"x..."} text messages,
#      one at a time per client, each answered by a pong (realtime-server) or its echo (node)
# Every client first sends the protocol's connect message and waits for its reply (rt-load's
# default); CONNECT_MESSAGE=0 passes --no-connect-message, for a server without the protocol.
# Prints a "# label" line and the rt-load JSON line for each. Bounded: every rt-load run stops
# itself (--timeout-s) and is also under `timeout`; servers are killed on any exit (trap).
#
#   Benchmarks/ws-bench.sh                 # from the repository root or anywhere
#   CONNECTIONS=5000 Benchmarks/ws-bench.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/Benchmarks"
CONNECTIONS="${CONNECTIONS:-10000}"
HANDSHAKE_CONNECTIONS="${HANDSHAKE_CONNECTIONS:-2000}"
PING_CLIENTS="${PING_CLIENTS:-100}"
PINGS="${PINGS:-100}"
ECHO_CLIENTS="${ECHO_CLIENTS:-100}"
ECHOES="${ECHOES:-100}"
ECHO_BYTES="${ECHO_BYTES:-32}"
CONNECT_MESSAGE="${CONNECT_MESSAGE:-1}"
# realtime-server allows 256 connections per client IP (ListenConfig.maxConnectionsPerIP, no
# command-line flag); the clients are spread over 127.0.0.1..127.0.0.64 for both servers.
SOURCE_ADDRESSES="${SOURCE_ADDRESSES:-64}"
RUN_TIMEOUT_S="${RUN_TIMEOUT_S:-120}"
NODE_WS_DIR="${NODE_WS_DIR:-/usr/share/nodejs/ws}"

BENCH_NAME=ws-bench
# shellcheck source=bench-common.sh
source "$BENCH/bench-common.sh"

# --- servers -------------------------------------------------------------------------------
# start_server NAME: starts a fresh server on port 0, sets SERVER_PID and URL.
start_server() {
  : >"$SERVER_LOG"
  case "$1" in
    realtimecore)
      # --log-level info, as the figures in docs/benchmarks.md were measured (the "listening on"
      # line, the only way to learn a --port 0 server's port, is printed at every level).
      "$RT_SERVER" --port 0 --in-memory --log-level info --idle-timeout-ms 600000 --web-root "" \
        >"$SERVER_LOG" 2>&1 &
      SERVER_PID=$! ;;
    node-ws)
      NODE_PATH="$(dirname "$NODE_WS_DIR")" node "$BENCH/reference/ws-server.js" 0 >"$SERVER_LOG" 2>&1 &
      SERVER_PID=$! ;;
  esac
  local line=""
  for _ in $(seq 150); do
    line="$(grep -o 'listening on ws://127\.0\.0\.1:[0-9]*/[a-z]*' "$SERVER_LOG" | head -1 || true)"
    [[ -n "$line" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { log "$1 exited:"; cat "$SERVER_LOG" >&2; exit 1; }
    sleep 0.1
  done
  [[ -n "$line" ]] || { log "$1 did not report its port"; cat "$SERVER_LOG" >&2; exit 1; }
  URL="ws://${line#listening on ws://}"
  sleep 0.5  # let it finish starting before its RSS is read
}

# measure NAME LABEL RT-LOAD-ARGS...: one fresh server, one rt-load run, one JSON line.
measure() {
  local name="$1" label="$2"; shift 2
  start_server "$name"
  log "$name $label: $URL (pid $SERVER_PID)"
  echo "# $name $label"
  local connect_message=--connect-message
  if [[ "$CONNECT_MESSAGE" == 0 ]]; then connect_message=--no-connect-message; fi
  # In the background + wait, so that a signal runs the traps at once, not after the run.
  timeout $((RUN_TIMEOUT_S + 60)) "$RT_LOAD" --url "$URL" --server-pid "$SERVER_PID" \
    --source-addresses "$SOURCE_ADDRESSES" --timeout-s "$RUN_TIMEOUT_S" "$connect_message" "$@" &
  LOAD_PID=$!
  local rc=0
  wait "$LOAD_PID" || rc=$?
  LOAD_PID=""
  [[ $rc -eq 0 ]] || log "rt-load exited with $rc ($name $label)"
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then log "$name died during $label:"; cat "$SERVER_LOG" >&2; fi
  if [[ -s "$SERVER_LOG" ]]; then log "$name log (last lines):"; tail -5 "$SERVER_LOG" >&2; fi
  cleanup
}

for server in realtimecore node-ws; do
  measure "$server" "connect-$CONNECTIONS" --scenario connect --connections "$CONNECTIONS" --hold-ms 1000
  measure "$server" "connect-$HANDSHAKE_CONNECTIONS" --scenario connect --connections "$HANDSHAKE_CONNECTIONS"
  measure "$server" "ping-${PING_CLIENTS}x$PINGS" --scenario ping --connections "$PING_CLIENTS" --pings "$PINGS"
  measure "$server" "ping-1x1000" --scenario ping --connections 1 --pings 1000
  measure "$server" "echo-${ECHO_CLIENTS}x${ECHOES}x${ECHO_BYTES}B" --scenario echo --connections "$ECHO_CLIENTS" \
    --messages "$ECHOES" --payload-bytes "$ECHO_BYTES"
done
log "done"
