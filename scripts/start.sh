#!/usr/bin/env bash
# Starts the whole system: a throwaway ejabberd with mod_megaphone and the demo users
# alice and bob (password demo, domain localhost, MUC at conference.localhost, offline
# storage on), and the edge with BOSH at http://127.0.0.1:5280/http-bind.
# Ctrl-C or SIGTERM stops everything.
set -euo pipefail
source "$(dirname "$0")/lib/ensure-deps.sh"
cd "$ROOT"
ensure_packages ejabberd
ensure_node_modules
bash scripts/ejabberd.sh stop >/dev/null 2>&1 || true
OUT="$(EJ_USERS="alice:demo bob:demo" bash scripts/ejabberd.sh start)"
eval "$(printf '%s\n' "$OUT" | grep -E '^EJ_[A-Z_]+=' | sed 's/^/export /')"
cleanup () {
  trap - INT TERM EXIT
  [ -n "${EDGE_PID:-}" ] && kill -TERM "$EDGE_PID" 2>/dev/null && wait "$EDGE_PID" 2>/dev/null || true
  bash scripts/ejabberd.sh stop >/dev/null 2>&1 || true
}
# A requested stop is a normal end: exit 0 once everything is down.
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT
MEGAPHONE_LINK_PORT="$EJ_LINK_PORT" MEGAPHONE_LINK_SECRET="$EJ_LINK_SECRET" \
  node --import tsx src/main.ts "$@" &
EDGE_PID=$!
cat <<MSG

Megaphone is running.
  BOSH:       http://127.0.0.1:${MEGAPHONE_PORT:-5280}/http-bind
  WebSocket:  ws://127.0.0.1:${MEGAPHONE_PORT:-5280}/xmpp-websocket
  users:      alice@localhost, bob@localhost (password: demo); rooms at conference.localhost
  ejabberd:   $EJ_DIR (link on 127.0.0.1:$EJ_LINK_PORT)
Ctrl-C stops everything.

MSG
wait "$EDGE_PID"
