#!/usr/bin/env bash
# Starts the whole system: a throwaway ejabberd with mod_megaphone and the demo users
# alice and bob (password demo, domain localhost, MUC at conference.localhost, offline
# storage on), and the edge with BOSH at http://127.0.0.1:5280/http-bind.
# MEGAPHONE_SERVER=prosody runs a throwaway Prosody with mod_megaphone instead (scripts/prosody.sh).
# Ctrl-C or SIGTERM stops everything.
set -euo pipefail
source "$(dirname "$0")/lib/ensure-deps.sh"
cd "$ROOT"
SERVER="${MEGAPHONE_SERVER:-ejabberd}"
case "$SERVER" in
  ejabberd) ensure_packages ejabberd ;;
  prosody) ensure_packages prosody lua-unbound ;;
  *) echo "MEGAPHONE_SERVER must be ejabberd or prosody (not $SERVER)" >&2; exit 2 ;;
esac
ensure_node_modules
bash "scripts/$SERVER.sh" stop >/dev/null 2>&1 || true
if [ "$SERVER" = prosody ]; then
  OUT="$(PR_USERS="alice:demo bob:demo" bash scripts/prosody.sh start)"
  eval "$(printf '%s\n' "$OUT" | grep -E '^PR_[A-Z_]+=' | sed 's/^/export /')"
  SERVER_DIR="$PR_DIR" LINK_PORT="$PR_LINK_PORT" LINK_SECRET="$PR_LINK_SECRET" SERVER_NAME="Prosody"
else
  OUT="$(EJ_USERS="alice:demo bob:demo" bash scripts/ejabberd.sh start)"
  eval "$(printf '%s\n' "$OUT" | grep -E '^EJ_[A-Z_]+=' | sed 's/^/export /')"
  SERVER_DIR="$EJ_DIR" LINK_PORT="$EJ_LINK_PORT" LINK_SECRET="$EJ_LINK_SECRET" SERVER_NAME="ejabberd"
fi
cleanup () {
  trap - INT TERM EXIT
  [ -n "${EDGE_PID:-}" ] && kill -TERM "$EDGE_PID" 2>/dev/null && wait "$EDGE_PID" 2>/dev/null || true
  bash "scripts/$SERVER.sh" stop >/dev/null 2>&1 || true
}
# A requested stop is a normal end: exit 0 once everything is down.
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT
# The Announcer API's token (docs/announcer.md): the caller's, else a fresh random one (192 bits).
if [ -z "${MEGAPHONE_API_TOKEN:-}" ]; then
  MEGAPHONE_API_TOKEN="$(node -e "process.stdout.write(require('node:crypto').randomBytes(24).toString('base64url'))")"
fi
export MEGAPHONE_API_TOKEN
ADMIN_URL="http://${MEGAPHONE_ADMIN_HOST:-127.0.0.1}:${MEGAPHONE_ADMIN_PORT:-5281}"
if [ "$SERVER" = ejabberd ]; then
  ANNOUNCER="$ADMIN_URL/v1/announce/ (token: $MEGAPHONE_API_TOKEN)
  announce:   curl -H 'Authorization: Bearer $MEGAPHONE_API_TOKEN' -d '{\"usernames\": [\"bob\"], \"body\": \"hello from the Announcer\"}' $ADMIN_URL/v1/announce/users"
else
  ANNOUNCER="not with Prosody (its mod_megaphone has no announcer: the API answers 503)"
fi
MEGAPHONE_LINK_PORT="$LINK_PORT" MEGAPHONE_LINK_SECRET="$LINK_SECRET" \
  node --import tsx src/main.ts "$@" &
EDGE_PID=$!
cat <<MSG

Megaphone is running.
  chat page:  http://127.0.0.1:${MEGAPHONE_PORT:-5280}/ (log in as alice@localhost or bob@localhost, password demo)
  BOSH:       http://127.0.0.1:${MEGAPHONE_PORT:-5280}/http-bind
  WebSocket:  ws://127.0.0.1:${MEGAPHONE_PORT:-5280}/xmpp-websocket
  users:      alice@localhost, bob@localhost (password: demo); rooms at conference.localhost
  server:     $SERVER_NAME with mod_megaphone, $SERVER_DIR (link on 127.0.0.1:$LINK_PORT)
  Announcer:  $ANNOUNCER
Ctrl-C stops everything.

MSG
wait "$EDGE_PID"
