# bench-common.sh: what the WebSocket benchmark scripts share, sourced after they set ROOT, BENCH,
# NODE_WS_DIR and BENCH_NAME: server and load-generator cleanup on any exit, logging, installing
# node-ws when missing, building realtime-server and rt-load (release), and the descriptor limit.
# Sets SERVER_PID, LOAD_PID, SERVER_LOG, RT_LOAD and RT_SERVER; a script with more temporary
# files lists them in EXTRA_TEMP_FILES before sourcing.

SERVER_PID=""
LOAD_PID=""
SERVER_LOG="$(mktemp "/tmp/$BENCH_NAME-server.XXXXXX")"
cleanup() {
  if [[ -n "$LOAD_PID" ]]; then kill "$LOAD_PID" 2>/dev/null || true; wait "$LOAD_PID" 2>/dev/null || true; LOAD_PID=""; fi
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
trap 'cleanup; rm -f "$SERVER_LOG" ${EXTRA_TEMP_FILES:-}' EXIT
trap 'exit 130' INT TERM

log() { echo "$BENCH_NAME: $*" >&2; }

# --- build ---------------------------------------------------------------------------------
command -v node >/dev/null || { log "node is missing (apt-get install -y nodejs node-ws)"; exit 1; }
if [[ ! -d "$NODE_WS_DIR" ]]; then
  log "node-ws missing at $NODE_WS_DIR; installing"
  apt-get install -y node-ws >/dev/null
fi
log "building realtime-server (release)"
(cd "$ROOT" && timeout 1800 swift build -c release --product realtime-server >&2)
log "building rt-load (release)"
(cd "$BENCH" && timeout 1800 swift build -c release --product rt-load >&2)
RT_LOAD="$BENCH/.build/release/rt-load"
RT_SERVER="$ROOT/.build/release/realtime-server"

# Servers and rt-load get the hard descriptor limit (20,000 here) as their soft one.
ulimit -n "$(ulimit -Hn)"
