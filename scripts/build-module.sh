#!/usr/bin/env bash
# Builds mod_megaphone against the installed ejabberd: mod_megaphone/ebin/*.beam.
# Usage: scripts/build-module.sh        (npm run module:build)
set -euo pipefail
source "$(dirname "$0")/lib/ensure-deps.sh"
ensure_packages ejabberd
ejabberd_dirs
MOD="$ROOT/mod_megaphone"
mkdir -p "$MOD/ebin"
# -pa lets erlc check the -behaviour callbacks (gen_mod, ejabberd_listener, xmpp_socket).
erlc -Werror -o "$MOD/ebin" -I "$MOD/include" -I "$EJ_INCLUDE" -I "$XMPP_INCLUDE" \
  -pa "$EJ_EBIN" -pa "$XMPP_EBIN" "$MOD"/src/*.erl
echo "MODULE_EBIN=$MOD/ebin"
