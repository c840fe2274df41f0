# Sourced by the scripts in scripts/: installs what is missing, nothing more.
#   ensure_packages PKG...   Debian packages (apt-get update once per machine boot)
#   ensure_node_modules      npm ci when node_modules is missing or older than the lockfile
#   ejabberd_dirs            sets EJ_LIB, EJ_EBIN, EJ_INCLUDE, XMPP_EBIN, XMPP_INCLUDE

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

ensure_packages () {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    return 1
  fi
  echo "installing Debian packages: ${missing[*]}" >&2
  local stamp=/tmp/.megaphone-apt-updated
  if [ ! -f "$stamp" ]; then
    apt-get update -q >&2 && touch "$stamp"
  fi
  # Keep the packages' system services from starting: Debian's ejabberd
  # and prosody would take ports 5222/5280 that the demo uses. Our instances
  # are started by scripts/ejabberd.sh and scripts/prosody.sh with their own config.
  local policy=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  local status=$?
  [ $created -eq 1 ] && rm -f "$policy"
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now ejabberd >/dev/null 2>&1 || true
    systemctl disable --now prosody >/dev/null 2>&1 || true
  fi
  return $status
}

ensure_node () {
  if ! command -v node >/dev/null 2>&1; then
    echo "Node.js 20 or later is required (https://nodejs.org/ or NodeSource's Debian packages)" >&2
    return 1
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -lt 20 ]; then
    echo "Node.js 20 or later is required; this is $(node --version)" >&2
    return 1
  fi
}

ensure_node_modules () {
  ensure_node || return 1
  if [ ! -f "$ROOT/node_modules/.package-lock.json" ] || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
    echo "installing npm dependencies (npm ci)" >&2
    (cd "$ROOT" && npm ci --no-audit --no-fund >&2)
  fi
}

# Debian's layout (see docs/ejabberd.md): found by glob, never by version.
ejabberd_dirs () {
  EJ_LIB="$(ls -d /usr/lib/*/ejabberd-*/ 2>/dev/null | sort | tail -n 1)"
  EJ_LIB="${EJ_LIB%/}"
  XMPP_LIB="$(ls -d /usr/lib/erlang/lib/p1_xmpp-*/ 2>/dev/null | sort | tail -n 1)"
  XMPP_LIB="${XMPP_LIB%/}"
  if [ -z "$EJ_LIB" ] || [ -z "$XMPP_LIB" ]; then
    echo "ejabberd's Erlang libraries were not found under /usr/lib (is the ejabberd package installed?)" >&2
    return 1
  fi
  EJ_EBIN="$EJ_LIB/ebin"; EJ_INCLUDE="$EJ_LIB/include"
  XMPP_EBIN="$XMPP_LIB/ebin"; XMPP_INCLUDE="$XMPP_LIB/include"
  ERL_LIBS_DIR="$(dirname "$EJ_LIB")"
}
