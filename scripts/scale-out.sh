#!/usr/bin/env bash
# Several edges in front of an ejabberd cluster, on this machine (docs/scale-out.md): N ejabberd
# nodes clustered (each on its own loopback address 127.0.0.2, 127.0.0.3, ...; one Erlang cookie;
# mod_megaphone on each), E edge processes each linked to every node (--links) and to each other
# (--edge-id, --edge-peers), and HAProxy in front of the edges (scripts/haproxy-config.sh).
# Prints where to connect; Ctrl-C or SIGTERM stops everything.
#
# Environment: SCALE_NODES=2  SCALE_EDGES=2  SCALE_PORT=5280 (HAProxy)  SCALE_DIR=.run/scale-out
#   edges listen on 127.0.0.1:5381.. (admin 5481..), nodes' mod_megaphone on 127.0.0.1:15491..
set -euo pipefail
source "$(dirname "$0")/lib/ensure-deps.sh"
cd "$ROOT"
ensure_packages ejabberd haproxy
ensure_node_modules
NODES="${SCALE_NODES:-2}"; EDGES="${SCALE_EDGES:-2}"; PORT="${SCALE_PORT:-5280}"
DIR="${SCALE_DIR:-$ROOT/.run/scale-out}"
mkdir -p "$DIR"
COOKIE="$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
SECRET="$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
DIST_PORT=15399
PIDS=()

node_env () { # node i: its directory, address and ports
  local i="$1"
  echo "EJ_DIR=$DIR/ej$i EJ_NAME=ej$i EJ_HOST=127.0.0.$((i + 1)) EJ_COOKIE=$COOKIE EJ_DIST_PORT=$DIST_PORT" \
    "EJ_C2S_PORT=$((15400 + i)) EJ_HTTP_PORT=$((15450 + i)) EJ_LINK_PORT=$((15490 + i)) EJ_LINK_SECRET=$SECRET"
}

cleanup () {
  trap - INT TERM EXIT
  local pid i
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for i in $(seq 1 "$NODES"); do env $(node_env "$i") bash scripts/ejabberd.sh stop >/dev/null 2>&1 || true; done
}
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT

LINKS=()
for i in $(seq 1 "$NODES"); do
  env $(node_env "$i") bash scripts/ejabberd.sh stop >/dev/null 2>&1 || true
  rm -rf "$DIR/ej$i"
  users=""; [ "$i" -eq 1 ] && users="alice:demo bob:demo"
  env $(node_env "$i") EJ_USERS="$users" bash scripts/ejabberd.sh start >/dev/null
  [ "$i" -gt 1 ] && env $(node_env "$i") bash scripts/ejabberd.sh join "ej1@127.0.0.2" >/dev/null
  LINKS+=("127.0.0.1:$((15490 + i))")
done

PEERS=(); SPECS=()
for e in $(seq 1 "$EDGES"); do
  PEERS+=("e$e=http://127.0.0.1:$((5380 + e))/http-bind")
  SPECS+=("e$e=127.0.0.1:$((5380 + e)):$((5480 + e))")
done
join_by () { local IFS=","; echo "$*"; }
for e in $(seq 1 "$EDGES"); do
  MEGAPHONE_PORT=$((5380 + e)) MEGAPHONE_ADMIN_PORT=$((5480 + e)) MEGAPHONE_EDGE_ID="e$e" \
    MEGAPHONE_EDGE_PEERS="$(join_by "${PEERS[@]}")" MEGAPHONE_LINKS="$(join_by "${LINKS[@]}")" \
    MEGAPHONE_LINK_SECRET="$SECRET" MEGAPHONE_TRUST_PROXY=127.0.0.1/32 \
    node --import tsx src/main.ts > "$DIR/edge$e.log" 2>&1 &
  PIDS+=($!)
done
bash scripts/haproxy-config.sh "127.0.0.1:$PORT" "${SPECS[@]}" > "$DIR/haproxy.cfg"
haproxy -db -f "$DIR/haproxy.cfg" > "$DIR/haproxy.log" 2>&1 &
PIDS+=($!)

cat <<MSG

Megaphone scale-out is running: $NODES ejabberd nodes (clustered), $EDGES edges, HAProxy.
  BOSH:       http://127.0.0.1:$PORT/http-bind   (through HAProxy; each edge also at 127.0.0.1:5381..)
  WebSocket:  ws://127.0.0.1:$PORT/xmpp-websocket
  users:      alice@localhost, bob@localhost (password: demo)
  edges:      $(join_by "${SPECS[@]}") (id=host:port:admin port; /readyz lists each link)
  cluster:    $(for i in $(seq 1 "$NODES"); do printf 'ej%s@127.0.0.%s ' "$i" $((i + 1)); done)(mod_megaphone on $(join_by "${LINKS[@]}"))
  logs:       $DIR/
Ctrl-C stops everything.

MSG
wait -n "${PIDS[@]}" || true
echo "a process of the deployment exited; stopping (see $DIR/)" >&2
