/**
 * The load harness's options: one table gives each flag, its default and what it does; `--help`
 * is printed from it. Defaults are what `npm run bench:load` runs on the 2-core machine of
 * docs/benchmarks.md within 10 minutes.
 */
import { parseArgs } from 'node:util'

export interface LoadOptions {
  mode: 'full' | 'e2e' | 'edge-only' | 'soak'
  server: 'ejabberd' | 'prosody'
  sessions: number
  rate: number
  messageRate: number
  messageSeconds: number
  idle: number
  sweepRates: string[]
  sweepSeconds: number
  targets: string[]
  perWorker: number
  addresses: number
  edges: number
  ramp: number
  rampMax: number
  rampTimeout: number
  rampRate: number
  loginsInFlight: number
  wait: number
  loginTimeout: number
  edgeSessions: number
  edgeHeld: number
  edgePollInterval: number
  edgeLogin: 'full' | 'open'
  soakSeconds: number
  sampleSeconds: number
  usersFile: string
  password: string
  domain: string
  boshUrl: string
  wsUrl: string
  out: string
  help: boolean
}

interface Flag { name: keyof LoadOptions, flag: string, type: 'string' | 'int' | 'boolean' | 'list', default: string | number | boolean | string[], help: string }

export const FLAGS: Flag[] = [
  { name: 'mode', flag: 'mode', type: 'string', default: 'full', help: 'full (end to end, then edge-only), e2e, edge-only, or soak (--sessions half BOSH, half WebSocket through the edge for --soak-seconds at --message-rate, memory and open files sampled; docs/reliability.md)' },
  { name: 'server', flag: 'server', type: 'string', default: 'ejabberd', help: 'ejabberd or prosody: the server behind the edge, whose own BOSH and WebSocket are the baselines (prosody: targets megaphone, prosody_bosh, prosody_ws, megaphone_ws)' },
  { name: 'sessions', flag: 'sessions', type: 'int', default: 10_000, help: 'end to end: sessions per target' },
  { name: 'rate', flag: 'rate', type: 'int', default: 500, help: 'end to end: logins started per second (0: as fast as 1,000 in flight per worker allow)' },
  { name: 'messageRate', flag: 'message-rate', type: 'int', default: 500, help: 'end to end: messages per second between random pairs of online sessions' },
  { name: 'messageSeconds', flag: 'message-seconds', type: 'int', default: 30, help: 'end to end: how long messages are sent' },
  { name: 'idle', flag: 'idle', type: 'int', default: 22, help: 'end to end: seconds every session stays idle before memory is read (two of mod_megaphone\'s idle_gc sweeps, 10 s apart: the first notes a session idle, the second collects it)' },
  { name: 'sweepRates', flag: 'sweep-rates', type: 'list', default: ['1000', '2000', '4000'], help: 'end to end: message rates stepped through after the main phase, each for --sweep-seconds, until p99 passes 100 ms or a message is lost ("" skips)' },
  { name: 'sweepSeconds', flag: 'sweep-seconds', type: 'int', default: 8, help: 'end to end: seconds of each sweep step' },
  { name: 'targets', flag: 'targets', type: 'list', default: ['megaphone', 'mod_bosh', 'ejabberd_ws', 'megaphone_ws'], help: 'end to end: which of megaphone (edge BOSH), mod_bosh, ejabberd_ws, megaphone_ws (edge WebSocket) to run, in order' },
  { name: 'perWorker', flag: 'per-worker', type: 'int', default: 5000, help: 'sessions per client worker process (at most ~15,000 sockets each under the 20,000-file limit)' },
  { name: 'edges', flag: 'edges', type: 'int', default: 1, help: 'end to end: edge processes in front of the one ejabberd, each linked to it; sessions dealt round-robin (session i talks to edge i mod N), so that each stays under the 20,000-file limit (~19,000 held long-polls each)' },
  { name: 'ramp', flag: 'ramp', type: 'int', default: 0, help: 'end to end: after the targets, ejabberd\'s own BOSH (mod_bosh, or Prosody\'s) ramped in steps of this many logins, each session holding a long-poll, until a step has a failed login or a dropped session: its ceiling on this machine is the last count with none (0 skips)' },
  { name: 'rampMax', flag: 'ramp-max', type: 'int', default: 40_000, help: 'ramp: most sessions tried (the ramp stops there if nothing failed)' },
  { name: 'rampTimeout', flag: 'ramp-timeout', type: 'int', default: 60, help: 'ramp: seconds a login may take before it counts as failed' },
  { name: 'rampRate', flag: 'ramp-rate', type: 'int', default: 200, help: 'ramp: logins started per second (slow enough that a failure is the server running out of something, not a login queue longer than --ramp-timeout)' },
  { name: 'addresses', flag: 'addresses', type: 'int', default: 8, help: 'loopback source addresses to spread client sockets over (127.0.0.2 ...)' },
  { name: 'wait', flag: 'wait', type: 'int', default: 60, help: 'BOSH wait asked for at session creation (s)' },
  { name: 'loginsInFlight', flag: 'logins-in-flight', type: 'int', default: 1000, help: 'end to end: logins in flight at once per client worker; fewer keeps a login\'s requests out of long queues on a busy machine (where a queued request can outlive the edge\'s 30 s inactivity limit), at the cost of the login rate' },
  { name: 'loginTimeout', flag: 'login-timeout', type: 'int', default: 120, help: 'seconds a login may take before it counts as failed' },
  { name: 'edgeSessions', flag: 'edge-sessions', type: 'int', default: 200_000, help: 'edge-only: BOSH sessions created and kept alive by polling in one edge (1000000 for the full figure; 0 skips)' },
  { name: 'edgeHeld', flag: 'edge-held', type: 'int', default: 19_000, help: 'edge-only: long-polls held at once by one edge (0 skips)' },
  { name: 'edgePollInterval', flag: 'edge-poll-interval', type: 'int', default: 3, help: 'edge-only: shortest time between two polls of one session (s; the edge\'s polling is 2)' },
  { name: 'edgeLogin', flag: 'edge-login', type: 'string', default: 'open', help: 'edge-only: open (session created, stream open) or full (SASL, bind, presence against the null backend)' },
  { name: 'soakSeconds', flag: 'soak-seconds', type: 'int', default: 600, help: 'soak: seconds of steady messages after every session logged in' },
  { name: 'sampleSeconds', flag: 'sample-seconds', type: 'int', default: 5, help: 'soak: seconds between two samples of edge heap/RSS, ejabberd memory and open files' },
  { name: 'usersFile', flag: 'users-file', type: 'string', default: '', help: 'foreign deployment: a file of "user password" lines (localparts); no ejabberd is started' },
  { name: 'password', flag: 'password', type: 'string', default: 'bench-pw', help: 'password of the registered bench users' },
  { name: 'domain', flag: 'domain', type: 'string', default: 'localhost', help: 'XMPP domain (foreign deployment)' },
  { name: 'boshUrl', flag: 'bosh-url', type: 'string', default: '', help: 'foreign deployment: a BOSH URL to load (target "bosh")' },
  { name: 'wsUrl', flag: 'ws-url', type: 'string', default: '', help: 'foreign deployment: a WebSocket URL to load (target "ws")' },
  { name: 'out', flag: 'out', type: 'string', default: 'bench/results', help: 'where summary.json, the charts and the run log go' },
  { name: 'help', flag: 'help', type: 'boolean', default: false, help: 'this text' }
]

export class UsageError extends Error {
  readonly code = 'BENCH_USAGE'
}

export function parseOptions (argv: string[]): LoadOptions {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(FLAGS.map(f => [f.flag, { type: f.type === 'boolean' ? 'boolean' : 'string' }])),
    strict: true,
    allowPositionals: false
  })
  const out: Record<string, unknown> = {}
  for (const f of FLAGS) {
    const raw = values[f.flag]
    if (raw === undefined) { out[f.name] = f.default; continue }
    switch (f.type) {
      case 'boolean': out[f.name] = raw === true; break
      case 'int': {
        const n = Number(raw)
        if (typeof raw !== 'string' || !/^[0-9]+$/.test(raw) || !Number.isSafeInteger(n)) throw new UsageError(`--${f.flag}: must be a non-negative integer (got ${String(raw)})`)
        out[f.name] = n
        break
      }
      case 'list': out[f.name] = String(raw).split(',').map(s => s.trim()).filter(s => s !== ''); break
      default: out[f.name] = String(raw)
    }
  }
  const o = out as unknown as LoadOptions
  if (!['full', 'e2e', 'edge-only', 'soak'].includes(o.mode)) throw new UsageError(`--mode: full, e2e, edge-only or soak (got ${o.mode})`)
  if (o.mode === 'soak' && o.usersFile !== '') throw new UsageError('--mode soak starts its own ejabberd: no --users-file')
  if (o.mode === 'soak' && (o.sessions < 2 || o.soakSeconds < 1 || o.sampleSeconds < 1)) throw new UsageError('--mode soak: --sessions at least 2, --soak-seconds and --sample-seconds at least 1')
  if (!['full', 'open'].includes(o.edgeLogin)) throw new UsageError(`--edge-login: full or open (got ${o.edgeLogin})`)
  if (!['ejabberd', 'prosody'].includes(o.server)) throw new UsageError(`--server: ejabberd or prosody (got ${o.server})`)
  // Prosody's own BOSH and WebSocket are the baselines of a Prosody run.
  if (o.server === 'prosody' && values.targets === undefined) o.targets = ['megaphone', 'prosody_bosh', 'prosody_ws', 'megaphone_ws']
  const own = o.server === 'prosody' ? ['prosody_bosh', 'prosody_ws'] : ['mod_bosh', 'ejabberd_ws']
  const known = ['megaphone', ...own, 'megaphone_ws', 'bosh', 'ws']
  for (const t of o.targets) if (!known.includes(t)) throw new UsageError(`--targets: unknown target ${t} (${known.join(', ')})`)
  for (const r of o.sweepRates) if (!/^[1-9][0-9]*$/.test(r)) throw new UsageError(`--sweep-rates: positive integers, comma-separated (got ${r})`)
  if (o.perWorker < 1 || o.perWorker > 15_000) throw new UsageError('--per-worker: 1 to 15000 (sockets per process stay under the 20,000-file limit)')
  if (o.loginsInFlight < 1) throw new UsageError('--logins-in-flight: at least 1')
  if (o.edges < 1 || o.edges > 64) throw new UsageError('--edges: 1 to 64')
  if (o.ramp > 0 && (o.rampMax < o.ramp || o.rampTimeout < 1 || o.rampRate < 1)) throw new UsageError('--ramp: --ramp-max at least --ramp, --ramp-timeout and --ramp-rate at least 1')
  if (o.ramp > 0 && o.usersFile !== '') throw new UsageError('--ramp needs the server the harness starts: no --users-file')
  if (o.addresses < 1 || o.addresses > 250) throw new UsageError('--addresses: 1 to 250')
  if (o.edgePollInterval < 3 && o.edgePollInterval !== 0) o.edgePollInterval = 3
  if (o.usersFile !== '' && o.boshUrl === '' && o.wsUrl === '') throw new UsageError('--users-file needs --bosh-url and/or --ws-url')
  return o
}

export function usage (): string {
  const lines = [
    'usage: npm run bench:load -- [options]',
    '',
    'BOSH and WebSocket load: N sessions logged in (SASL PLAIN, bind, presence) through the edge',
    'with mod_megaphone, ejabberd\'s own mod_bosh and its own WebSocket, on one throwaway ejabberd;',
    'stamped messages between random pairs; memory, latency, loss; then the edge alone against a',
    'null backend. Results in bench/results/ (summary.json, *.svg).',
    '',
    'options:'
  ]
  for (const f of FLAGS) {
    const def = Array.isArray(f.default) ? f.default.join(',') : String(f.default)
    lines.push(`  --${f.flag}${f.type === 'boolean' ? '' : ' V'}`.padEnd(26) + `${f.help}${f.type === 'boolean' ? '' : ` (default ${def === '' ? '""' : def})`}`)
  }
  lines.push('', 'examples:',
    '  npm run bench:load                                   # the default run (10,000 sessions, ~8 min)',
    '  npm run bench:load -- --server prosody --mode e2e    # the same through Prosody: the module vs its own BOSH and WebSocket',
    '  npm run bench:load -- --mode edge-only --edge-sessions 1000000 --edge-held 0',
    '  npm run bench:load -- --mode e2e --targets megaphone --sessions 100000 --edges 7 --ramp 2000   # 100,000 sessions over 7 edges, then mod_bosh ramped to its ceiling',
    '  npm run bench:load -- --mode soak                    # 10,000 sessions (half BOSH, half WebSocket) through the edge for 10 min',
    '  npm run bench:load -- --sessions 20 --rate 20 --message-seconds 3 --idle 1 --edge-sessions 200 --edge-held 100',
    '  npm run bench:load -- --users-file users.txt --domain example.com --bosh-url https://example.com/http-bind --sessions 1000')
  return lines.join('\n')
}
