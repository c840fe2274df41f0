#!/usr/bin/env bash
# Runs every test: installs what is missing (Debian packages, npm dependencies), builds
# mod_megaphone, type-checks, lints, then runs tap (unit tests and the integration tests
# against throwaway ejabberd and Prosody instances started by the tests themselves).
set -euo pipefail
source "$(dirname "$0")/lib/ensure-deps.sh"
cd "$ROOT"
# chromium: test/browser/ drives Debian's headless Chromium through playwright-core (no fonts
# needed: the tests read the page's DOM, never its pixels)
# haproxy: test/cluster/ puts two edges behind Debian's HAProxy (scripts/haproxy-config.sh)
ensure_packages ejabberd prosody lua-unbound chromium haproxy
ensure_node_modules
bash scripts/build-module.sh >/dev/null
npm run --silent typecheck
npm run --silent lint
npx tap "$@"
