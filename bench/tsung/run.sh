#!/usr/bin/env bash
# Tsung 1.7 (Debian package `tsung`) logs in USERS BOSH users through the edge and, for
# comparison, through ejabberd's own mod_bosh, against the system `npm start` runs.
#
#   npm start &                 # the README's run command: ejabberd + mod_megaphone + the edge
#   bash bench/tsung/run.sh     # then this, in another shell
#
# Options (flags or environment):
#   --users N       users to log in per target (TSUNG_USERS, default 2000)
#   --rate R        new users per second (TSUNG_RATE, default 100): 2,000 logins in 20 s
#   --hold S        seconds each user stays logged in (TSUNG_HOLD, default 30), so that every
#                   user of a run is logged in at once at the end of the ramp
#   --targets LIST  edge,mod_bosh (TSUNG_TARGETS, default both, in that order)
#   --edge-url URL  the edge's BOSH URL (EDGE_BOSH_URL, default http://127.0.0.1:5280/http-bind)
#   --mod-bosh-url URL  ejabberd's mod_bosh (MOD_BOSH_URL, default http://127.0.0.1:15280/bosh,
#                   the port scripts/ejabberd.sh gives it)
# The ejabberd instance is reached as scripts/ejabberd.sh does (EJ_DIR, EJ_NAME: the defaults are
# the ones `npm start` uses); the script registers tsung1..tsungN (password tsung) there first.
#
# Admission control: Tsung runs on this machine, and the edge exempts loopback addresses from its
# per-address limits by default (see docs/configuration.md, admission*); from another machine,
# 2,000 logins from one address at 100/s meet --admission-session-rate (100/s, burst 500) and
# --admission-unauthenticated (500): start the edge with those raised, or lower --rate.
#
# Results: bench/results/tsung-<time>/<target>/ (Tsung's log and report files) and a summary
# printed at the end and written to bench/results/tsung-<time>/summary.json: users logged in (the
# login transactions Tsung completed, and the most sessions ejabberd counted at once), errors
# by kind (Tsung's error_* counters: connect timeouts, ack timeouts, closed connections).
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/ensure-deps.sh"
cd "$ROOT"

USERS="${TSUNG_USERS:-2000}"
RATE="${TSUNG_RATE:-100}"
HOLD="${TSUNG_HOLD:-30}"
TARGETS="${TSUNG_TARGETS:-edge,mod_bosh}"
EDGE_BOSH_URL="${EDGE_BOSH_URL:-http://127.0.0.1:5280/http-bind}"
MOD_BOSH_URL="${MOD_BOSH_URL:-http://127.0.0.1:15280/bosh}"
while [ $# -gt 0 ]; do
  case "$1" in
    --users) USERS="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    --hold) HOLD="$2"; shift 2 ;;
    --targets) TARGETS="$2"; shift 2 ;;
    --edge-url) EDGE_BOSH_URL="$2"; shift 2 ;;
    --mod-bosh-url) MOD_BOSH_URL="$2"; shift 2 ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done

ensure_packages tsung
EJ="bash scripts/ejabberd.sh"
if ! $EJ status >/dev/null 2>&1; then
  echo "no ejabberd running at ${EJ_DIR:-.run/ejabberd}: start the system first (npm start)" >&2
  exit 1
fi
DOMAIN="${EJ_DOMAIN:-localhost}"

# Tsung opens a socket per user and request; the shell's default limit is often 1024.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

OUT="$ROOT/bench/results/tsung-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
echo "registering tsung1..tsung$USERS in ejabberd" >&2
registered="$($EJ register-bulk tsung "$USERS" tsung)"
[ "$registered" = "$USERS" ] || { echo "registered $registered of $USERS users" >&2; exit 1; }
USERDB="$OUT/users.csv"
for i in $(seq 1 "$USERS"); do echo "tsung$i,tsung"; done > "$USERDB"

connected () { $EJ ctl connected_users_number 2>/dev/null | tr -dc '0-9'; }

# One Tsung run against a BOSH URL; prints one JSON object (the target's summary).
run_target () {
  local name="$1" url="$2" dir="$OUT/$1"
  local rest="${url#http://}" hostport path host port
  hostport="${rest%%/*}"; path="/${rest#*/}"
  host="${hostport%%:*}"; port="${hostport##*:}"
  [ "$port" = "$hostport" ] && port=80
  mkdir -p "$dir"
  # The phase ends at USERS users (maxnumber) or when its time is up; on a busy machine Tsung's
  # launcher falls behind its rate, so the time is three times what the rate needs.
  local duration=$(( 3 * (USERS + RATE - 1) / RATE + 10 ))
  sed -e "s|@HOST@|$host|" -e "s|@PORT@|$port|" -e "s|@PATH@|$path|" -e "s|@DOMAIN@|$DOMAIN|" \
      -e "s|@USERS@|$USERS|" -e "s|@MAXUSERS@|$(( USERS + 100 ))|" -e "s|@RATE@|$RATE|" \
      -e "s|@DURATION@|$duration|" -e "s|@HOLD@|$HOLD|" -e "s|@USERDB@|$USERDB|" \
      -e "s|@ACK_TIMEOUT_MS@|30000|" bench/tsung/bosh-login.xml > "$dir/tsung.xml"

  # Wait for the previous run's sessions to be gone, so the peak below is this run's.
  local base i
  for i in $(seq 1 60); do base="$(connected)"; [ "${base:-0}" -le 2 ] && break; sleep 1; done
  echo "$name: $USERS users at $RATE/s, held ${HOLD}s, through $url (ejabberd has $base sessions before)" >&2

  # ejabberd's count of sessions, once a second, while Tsung runs: the peak is how many were
  # logged in at once.
  ( peak=0; while :; do n="$(connected)"; [ "${n:-0}" -gt "$peak" ] && peak="$n" && echo "$peak" > "$dir/peak"; sleep 1; done ) &
  local sampler=$!
  local start=$SECONDS
  tsung -f "$dir/tsung.xml" -l "$dir" start > "$dir/tsung.out" 2>&1 || echo "$name: tsung exited $?" >&2
  local elapsed=$(( SECONDS - start ))
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  local peak; peak="$(cat "$dir/peak" 2>/dev/null || echo 0)"

  # Tsung's log: each "stats:" line is NAME then figures; a counter's last figure is its total,
  # a sample's is its count. The last line of each name is the whole run's.
  local log; log="$(find "$dir" -name tsung.log | head -n 1)"
  node --input-type=module -e '
    import { readFileSync } from "node:fs"
    const [log, name, url, users, rate, hold, peak, base, elapsed] = process.argv.slice(1)
    const last = new Map()
    for (const line of (log === "" ? "" : readFileSync(log, "utf8")).split("\n")) {
      const m = /^stats: (\S+) (.*)$/.exec(line)
      if (m) last.set(m[1], m[2].trim().split(/\s+/).map(Number))
    }
    const total = k => { const v = last.get(k); return v === undefined ? 0 : (v.length === 2 ? v[1] : v[v.length - 1]) }
    const errors = Object.fromEntries([...last.keys()].filter(k => k.startsWith("error_")).map(k => [k, total(k)]))
    console.log(JSON.stringify({
      target: name, url, users: Number(users), rate: Number(rate), holdSeconds: Number(hold),
      loggedIn: total("tr_login"), loggedOut: total("tr_logout"),
      ejabberdPeakSessions: Math.max(0, Number(peak) - Number(base)),
      tsungUsersStarted: total("users_count"), tsungUsersFinished: total("finish_users_count"),
      errors, elapsedSeconds: Number(elapsed), log
    }))
  ' "$log" "$name" "$url" "$USERS" "$RATE" "$HOLD" "$peak" "$base" "$elapsed"
}

results=()
IFS=',' read -r -a targets <<< "$TARGETS"
for t in "${targets[@]}"; do
  case "$t" in
    edge) results+=("$(run_target edge "$EDGE_BOSH_URL")") ;;
    mod_bosh) results+=("$(run_target mod_bosh "$MOD_BOSH_URL")") ;;
    *) echo "unknown target $t (edge, mod_bosh)" >&2; exit 2 ;;
  esac
done
printf '[%s]\n' "$(IFS=','; echo "${results[*]}")" > "$OUT/summary.json"
node --input-type=module -e '
  import { readFileSync } from "node:fs"
  for (const r of JSON.parse(readFileSync(process.argv[1], "utf8"))) {
    const errs = Object.entries(r.errors).map(([k, v]) => `${k} ${v}`).join(", ") || "none"
    console.log(`${r.target.padEnd(8)} logged in ${r.loggedIn} of ${r.users} (Tsung started ${r.tsungUsersStarted}; ejabberd peak ${r.ejabberdPeakSessions}); errors: ${errs}; ${r.elapsedSeconds} s`)
  }
' "$OUT/summary.json"
echo "details: $OUT" >&2
