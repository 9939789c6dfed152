#!/usr/bin/env bash
# fanout-bench.sh: channel fan-out, 1 publisher -> SUBSCRIBERS (1,000) subscribers, small
# messages, with rt-load's subscribe scenario, against RealtimeCore's realtime-server and a naive
# Node `ws` broadcast server (Benchmarks/reference/ws-broadcast.js). Builds realtime-server and
# rt-load (release), then for each server starts a fresh process on port 0 for every run, runs
# rt-load against it and stops it:
#   * every rate in RATES (100 and 1000 msgs/s: 100k and 1M deliveries/s with 1,000
#     subscribers), RATE_SECONDS (2) seconds of publishing each: open loop, the publisher does
#     not wait for acks;
#   * at the maximum rate: MAX_MESSAGES (4000) publishes with at most WINDOW (256) un-acked,
#     MAX_REPEAT (3) times, Node once (the machine's neighbours make single runs vary by +-20%).
#     A window of 64 measures the ack round trip more than the servers (all stay under 2 M/s).
# realtime-server: the channel "bench" in the default namespace, which is persistent (SQLite,
# committed before delivery; --in-memory makes that database an in-memory one), with durability
# full and the publish rate limit off (the publisher floods on purpose); when the server has
# --namespace (NAME=memory), every run is repeated with the default namespace in memory
# ("realtimecore-memory"), and again with the subscribers speaking the protocol's binary encoding
# ("realtimecore-binary": rt-load --binary; the publisher stays JSON). Node: the rate runs against
# the plain broadcast server with rt-load --no-acks; the maximum-rate run against `ws-broadcast.js
# --ack`, which acks every publish after handing it to every other client, so the window works the
# same way.
# The same runs go to NATS core over WebSocket too (Debian's nats-server with its websocket
# listener on loopback, installed with apt-get when missing; rt-load --protocol nats; see
# Benchmarks/README.md). NATS=0 leaves it out.
# Prints a "# server label" line and the rt-load JSON line for each run. Bounded: every rt-load
# run stops itself (--timeout-s, plus `timeout`); servers are killed on any exit (trap).
#
#   Benchmarks/fanout-bench.sh                        # from the repository root or anywhere
#   SUBSCRIBERS=100 RATES="100" MAX_MESSAGES=500 Benchmarks/fanout-bench.sh   # a quick one
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/Benchmarks"
SUBSCRIBERS="${SUBSCRIBERS:-1000}"
RATES="${RATES:-100 1000}"
RATE_SECONDS="${RATE_SECONDS:-2}"
MAX_MESSAGES="${MAX_MESSAGES:-4000}"
WINDOW="${WINDOW:-256}"
MAX_REPEAT="${MAX_REPEAT:-3}"
PAYLOAD_BYTES="${PAYLOAD_BYTES:-0}"   # padding in each message's data; 0: messages of ~80 bytes
CHANNEL="${CHANNEL:-bench}"
SERVERS="${SERVERS:-realtimecore node-ws}"
NATS="${NATS:-1}"
# realtime-server allows 256 connections per client IP by default; spread the clients.
SOURCE_ADDRESSES="${SOURCE_ADDRESSES:-64}"
RUN_TIMEOUT_S="${RUN_TIMEOUT_S:-120}"
DRAIN_MS="${DRAIN_MS:-3000}"
NODE_WS_DIR="${NODE_WS_DIR:-/usr/share/nodejs/ws}"

BENCH_NAME=fanout-bench
NATS_CONF="$(mktemp /tmp/fanout-bench-nats.XXXXXX)"
EXTRA_TEMP_FILES="$NATS_CONF"
# shellcheck source=bench-common.sh
source "$BENCH/bench-common.sh"

if "$RT_SERVER" --help 2>&1 | grep -q -- '--namespace'; then
  SERVERS="${SERVERS/realtimecore/realtimecore realtimecore-memory realtimecore-binary}"
else
  log "realtime-server has no --namespace flag: only the default (persistent) namespace is measured"
fi
if [[ "$NATS" == 1 ]]; then
  if ! command -v nats-server >/dev/null; then
    log "nats-server missing; installing Debian's nats-server"
    apt-get install -y nats-server >/dev/null 2>&1 || log "could not install nats-server; leaving it out"
  fi
  if command -v nats-server >/dev/null; then SERVERS="$SERVERS nats"; fi
fi

# --- servers -------------------------------------------------------------------------------
# start_server NAME: starts a fresh server on port 0, sets SERVER_PID and URL.
start_server() {
  : >"$SERVER_LOG"
  local pattern='listening on ws://127\.0\.0\.1:[0-9]*/[a-z]*'
  case "$1" in
    realtimecore)
      "$RT_SERVER" --port 0 --in-memory --log-level warn --web-root "" --rate-limit publish=off >"$SERVER_LOG" 2>&1 &
      SERVER_PID=$! ;;
    realtimecore-memory | realtimecore-binary)
      # An empty NAME is the default namespace: channel "bench" in memory.
      "$RT_SERVER" --port 0 --in-memory --log-level warn --web-root "" --rate-limit publish=off --namespace "=memory" >"$SERVER_LOG" 2>&1 &
      SERVER_PID=$! ;;
    node-ws | node-ws-ack)
      local ack=""
      [[ "$1" == node-ws-ack ]] && ack=--ack
      NODE_PATH="$(dirname "$NODE_WS_DIR")" node "$BENCH/reference/ws-broadcast.js" 0 $ack >"$SERVER_LOG" 2>&1 &
      SERVER_PID=$! ;;
    nats)
      # Port -1: nats-server picks a free one and logs it.
      printf 'listen: "127.0.0.1:-1"\nwebsocket {\n  listen: "127.0.0.1:-1"\n  no_tls: true\n}\n' >"$NATS_CONF"
      nats-server -c "$NATS_CONF" >"$SERVER_LOG" 2>&1 &
      SERVER_PID=$!
      pattern='websocket clients on ws://127\.0\.0\.1:[0-9]*' ;;
  esac
  local line=""
  for _ in $(seq 150); do
    line="$(grep -o "$pattern" "$SERVER_LOG" | head -1 || true)"
    [[ -n "$line" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { log "$1 exited:"; cat "$SERVER_LOG" >&2; exit 1; }
    sleep 0.1
  done
  [[ -n "$line" ]] || { log "$1 did not report its port"; cat "$SERVER_LOG" >&2; exit 1; }
  URL="ws://${line#*ws://}"
  [[ "$1" == nats ]] && URL="$URL/"
  sleep 0.3
}

# measure NAME LABEL RT-LOAD-ARGS...: one fresh server, one rt-load run, one JSON line.
measure() {
  local name="$1" label="$2"; shift 2
  start_server "$name"
  log "$name $label: $URL (pid $SERVER_PID)"
  echo "# $name $label"
  local protocol=()
  [[ "$name" == nats ]] && protocol=(--protocol nats)
  # BATCH=1: RealtimeCore's subscribers ask for batch frames (a turn's messages in one frame).
  [[ "$name" == realtimecore* && "${BATCH:-0}" == 1 ]] && protocol=(--batch)
  [[ "$name" == realtimecore-binary ]] && protocol+=(--binary)
  # In the background + wait, so that a signal runs the traps at once, not after the run.
  timeout $((RUN_TIMEOUT_S + 60)) "$RT_LOAD" --url "$URL" --server-pid "$SERVER_PID" --settle-ms 200 \
    --source-addresses "$SOURCE_ADDRESSES" --timeout-s "$RUN_TIMEOUT_S" --drain-ms "$DRAIN_MS" \
    --scenario subscribe --connections "$SUBSCRIBERS" --channel "$CHANNEL" --payload-bytes "$PAYLOAD_BYTES" \
    "${protocol[@]}" "$@" &
  LOAD_PID=$!
  local rc=0
  wait "$LOAD_PID" || rc=$?
  LOAD_PID=""
  [[ $rc -eq 0 ]] || log "rt-load exited with $rc ($name $label)"
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then log "$name died during $label:"; cat "$SERVER_LOG" >&2; fi
  if grep -qv -e 'listening on' -e 'Listening for' -e '\[INF\]' -e 'DO NOT USE' "$SERVER_LOG"; then
    log "$name log (last lines):"; grep -v -e '\[INF\]' "$SERVER_LOG" | tail -5 >&2
  fi
  cleanup
}

for server in $SERVERS; do
  # Rate runs: open loop. Node's plain broadcast server sends no acks.
  acks=(--acks)
  [[ "$server" == node-ws ]] && acks=(--no-acks)
  # NATS core has no acks: rt-load follows each PUB with a PING, and the PONG stands for it.
  for rate in $RATES; do
    messages=$((rate * RATE_SECONDS))
    measure "$server" "1x$SUBSCRIBERS rate $rate/s, $messages messages" --rate "$rate" --messages "$messages" "${acks[@]}"
  done
  max_server="$server"
  [[ "$server" == node-ws ]] && max_server=node-ws-ack
  # Node peaks 20x lower: one run of it takes as long as all the others together.
  repeat="$MAX_REPEAT"
  [[ "$server" == node-ws ]] && repeat=1
  for run in $(seq "$repeat"); do
    measure "$max_server" "1x$SUBSCRIBERS max rate, window $WINDOW, $MAX_MESSAGES messages, run $run" --rate 0 \
      --window "$WINDOW" --messages "$MAX_MESSAGES" --acks
  done
done
log "done"
