/**
 * The announcement benchmark (issue 15, docs/benchmarks.md "Announcements"):
 * `npm run bench:announce -- [--sessions 10000] [--rate 1000] ...`
 *
 * In one run, against one throwaway ejabberd: N sessions log in through the edge and are
 * announced to with `POST /v1/announce/online` (mod_megaphone paces the job at --rate); then
 * the same N users log in through ejabberd's own mod_bosh and are announced to with
 * mod_announce's `announce/online` (a message to `<domain>/announce/online` from one of them,
 * allowed by the `announce` access rule for loopback addresses). For each: the time from the
 * trigger to the last session's first copy, recipients per second, sessions never reached
 * (lost) and copies received twice; and the p99 of chat between --chatters of the users at
 * --chat-rate messages/s, during the announcement against the same chat just before it.
 *
 * Client workers (worker.ts) are separate processes, as are the edge and ejabberd. The machine's
 * line (cores, load) is printed with the results: on a shared machine, note the load.
 */
import { freePort } from '../lib/ports.ts'
import { machineLine, commit } from '../lib/report.ts'
import { BenchEjabberd } from '../load/ejabberd.ts'
import { EdgeProcess, spawn, end } from '../load/children.ts'
import { decodeHistogram, latencyOf, newHistogram, type Latency } from '../load/histogram.ts'
import { post, isMessage } from '../load/ipc.ts'
import { sleep } from '../load/progress.ts'
import { now } from '../load/session.ts'
import { loadavg } from 'node:os'
import { mkdir, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import type { AnnounceInit, AnnounceProgress, FromAnnounceWorker, ToAnnounceWorker } from './ipc.ts'

interface Options {
  sessions: number
  /** the edge's announceRate (recipients/s) */
  rate: number
  chatters: number
  chatRate: number
  baselineSeconds: number
  loginRate: number
  perWorker: number
  timeoutSeconds: number
}

const DEFAULTS: Options = { sessions: 10_000, rate: 1000, chatters: 200, chatRate: 100, baselineSeconds: 10, loginRate: 400, perWorker: 5000, timeoutSeconds: 180 }
const TOKEN = 'bench-announce-token-0123456789abcdef'
const PASSWORD = 'pw'
const PREFIX = 'an'

function parse (argv: string[]): Options {
  const o = { ...DEFAULTS }
  const keys: Record<string, keyof Options> = {
    '--sessions': 'sessions', '--rate': 'rate', '--chatters': 'chatters', '--chat-rate': 'chatRate', '--baseline': 'baselineSeconds',
    '--login-rate': 'loginRate', '--per-worker': 'perWorker', '--timeout': 'timeoutSeconds'
  }
  for (let i = 0; i < argv.length; i++) {
    const [flag = '', inline] = (argv[i] ?? '').split('=', 2)
    if (flag === '--help') {
      process.stdout.write(`npm run bench:announce -- ${Object.keys(keys).map(k => `[${k} N]`).join(' ')}\ndefaults: ${JSON.stringify(DEFAULTS)}\n`)
      process.exit(0)
    }
    const key = keys[flag]
    const value = Number(inline ?? argv[++i])
    if (key === undefined || !Number.isFinite(value) || value <= 0) throw new Error(`bad option ${argv[i] ?? flag}`)
    o[key] = value
  }
  return o
}

interface Workers { children: ChildProcess[], progress: AnnounceProgress[], chats: Array<{ histogram: string, sent: number, received: number }> }

async function startWorkers (o: Options, url: string, domain: string): Promise<Workers> {
  const n = Math.ceil(o.sessions / o.perWorker)
  const w: Workers = { children: [], progress: [], chats: [] }
  for (let k = 0; k < n; k++) {
    const child = spawn('../announce/worker.ts', [], ['--max-old-space-size=2048'])
    const first = k * o.perWorker
    const init: AnnounceInit = {
      url, domain, prefix: PREFIX, password: PASSWORD, first, count: Math.min(o.perWorker, o.sessions - first),
      // Four source addresses: 10,000 sessions' sockets stay far from one address's ephemeral ports.
      localAddresses: ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4']
    }
    w.progress.push({ type: 'progress', online: 0, failed: 0, dropped: 0, loginsDone: 0, reached: 0, duplicates: 0, lastArrival: 0, chatSent: 0, chatReceived: 0 })
    const ready = new Promise<void>(resolve => {
      child.on('message', (m: unknown) => {
        if (!isMessage(m)) return
        const msg = m as FromAnnounceWorker
        if (msg.type === 'ready') resolve()
        if (msg.type === 'progress') w.progress[k] = msg
        if (msg.type === 'chat') w.chats.push(msg)
      })
    })
    post(child, { type: 'init', init } satisfies ToAnnounceWorker)
    await ready
    w.children.push(child)
  }
  return w
}

function tell (w: Workers, msg: ToAnnounceWorker): void {
  for (const c of w.children) post(c, msg)
}

function sum (w: Workers, k: keyof Omit<AnnounceProgress, 'type'>): number {
  return w.progress.reduce((a, p) => a + p[k], 0)
}

async function until (check: () => boolean, seconds: number): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000
  while (!check()) {
    if (Date.now() > deadline) return false
    await sleep(50)
  }
  return true
}

/** Chat among the chatters for a while (or until `stop` resolves); its latency. */
async function chatFor (w: Workers, o: Options, during: () => Promise<void>): Promise<{ latency: Latency, sent: number, received: number }> {
  w.chats = []
  tell(w, { type: 'chat', rate: o.chatRate / w.children.length, chatters: o.chatters })
  await during()
  tell(w, { type: 'stop-chat' })
  await until(() => w.chats.length === w.children.length, 30)
  const h = newHistogram()
  for (const c of w.chats) h.add(decodeHistogram(c.histogram))
  return { latency: latencyOf(h), sent: w.chats.reduce((a, c) => a + c.sent, 0), received: w.chats.reduce((a, c) => a + c.received, 0) }
}

interface TargetResult {
  target: string
  sessions: number
  online: number
  login_seconds: number
  reached: number
  lost: number
  /** sessions that ended after logging in (the transport or the server ended them) */
  dropped: number
  duplicates: number
  seconds_to_reach_all: number
  recipients_per_second: number
  chat_baseline: { p50: number, p99: number, sent: number, received: number }
  chat_during: { p50: number, p99: number, sent: number, received: number }
  chat_p99_ratio: number
  load_before: number[]
}

async function runTarget (name: string, o: Options, url: string, domain: string, trigger: (w: Workers, id: number) => Promise<number | undefined>, log: (s: string) => void): Promise<TargetResult> {
  const w = await startWorkers(o, url, domain)
  try {
    const started = performance.now()
    tell(w, { type: 'login', rate: o.loginRate / w.children.length })
    await until(() => sum(w, 'loginsDone') >= o.sessions, o.timeoutSeconds * 4)
    const loginSeconds = (performance.now() - started) / 1000
    const online = sum(w, 'online')
    log(`${name}: ${online} of ${o.sessions} online in ${loginSeconds.toFixed(1)} s (${sum(w, 'failed')} failed)`)
    // Let the logins' presence broadcasts and offline checks settle before measuring.
    await sleep(5000)
    const load = loadavg().map(x => Math.round(x * 100) / 100)
    const baseline = await chatFor(w, o, async () => { await sleep(o.baselineSeconds * 1000) })
    log(`${name}: chat alone p50 ${baseline.latency.p50} ms, p99 ${baseline.latency.p99} ms (${baseline.received}/${baseline.sent})`)
    const id = Math.floor(Math.random() * 1e9)
    tell(w, { type: 'expect', id })
    await sleep(200)
    let t0 = 0
    let all = false
    const during = await chatFor(w, o, async () => {
      await sleep(2000)
      t0 = now()
      // A trigger that knows better when the fan-out began says so (mod_announce: the node's clock).
      t0 = (await trigger(w, id)) ?? t0
      all = await until(() => sum(w, 'reached') >= online, o.timeoutSeconds)
      // Late copies (duplicates) and the chat behind the last ones.
      await sleep(2000)
    })
    const reached = sum(w, 'reached')
    const last = Math.max(...w.progress.map(p => p.lastArrival))
    const seconds = (last - t0) / 1000
    log(`${name}: ${reached} of ${online} reached in ${seconds.toFixed(2)} s${all ? '' : ' (timed out)'}, ${sum(w, 'dropped')} sessions dropped; chat during p99 ${during.latency.p99} ms`)
    return {
      target: name,
      sessions: o.sessions,
      online,
      login_seconds: Math.round(loginSeconds * 10) / 10,
      reached,
      lost: online - reached,
      dropped: sum(w, 'dropped'),
      duplicates: sum(w, 'duplicates'),
      seconds_to_reach_all: Math.round(seconds * 1000) / 1000,
      recipients_per_second: Math.round(reached / seconds),
      chat_baseline: { p50: baseline.latency.p50, p99: baseline.latency.p99, sent: baseline.sent, received: baseline.received },
      chat_during: { p50: during.latency.p50, p99: during.latency.p99, sent: during.sent, received: during.received },
      chat_p99_ratio: Math.round(during.latency.p99 / Math.max(0.001, baseline.latency.p99) * 100) / 100,
      load_before: load
    }
  } finally {
    tell(w, { type: 'exit' })
    await Promise.all(w.children.map(async c => { await end(c, undefined, 10_000) }))
    // The users' sessions end on the server before the next target logs them in again.
    await sleep(3000)
  }
}

async function main (): Promise<void> {
  const o = parse(process.argv.slice(2))
  const log = (s: string): void => { process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`) }
  log(machineLine())
  log(`commit ${commit()}; ${JSON.stringify(o)}`)
  const ej = await BenchEjabberd.start()
  const results: TargetResult[] = []
  try {
    log(`registered ${await ej.registerBulk(PREFIX, o.sessions, PASSWORD)} users on ${ej.domain}`)
    const adminPort = await freePort()
    const edge = await EdgeProcess.start([
      '--port', '0', '--admin-port', String(adminPort), '--link-port', String(ej.linkPort), `--link-secret=${ej.linkSecret}`,
      '--log-level', 'warn', '--backlog', '4096', '--max-sessions', String(Math.max(1024, o.sessions * 2)),
      `--api-token=${TOKEN}`, '--announce-rate', String(o.rate), '--domains', ej.domain
    ])
    try {
      results.push(await runTarget('megaphone (API, --rate ' + String(o.rate) + '/s)', o, `http://127.0.0.1:${edge.port}/http-bind`, ej.domain, async (_w, id) => {
        const res = await fetch(`http://127.0.0.1:${adminPort}/v1/announce/online`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ stanza: `<message type='headline'><body>ann ${id}</body></message>` })
        })
        log(`POST /v1/announce/online: ${res.status} ${await res.text()}`)
        return undefined
      }, log))
    } finally {
      await edge.stop()
    }
    results.push(await runTarget('mod_announce (mod_bosh)', o, ej.boshUrl, ej.domain, async (_w, id) => {
      // What mod_announce runs for a message to <domain>/announce/online once its access rule has
      // allowed the sender (ejabberd 23.01: handle_cast checks acl:match_rule on the sender JID,
      // then calls announce_online/1, which routes one copy per session of the host from that
      // one process). Called from a process of its own on the node, because the rule the
      // harness's ejabberd has (`announce: allow: loopback`, an IP ACL) never matches a sender
      // JID. The node's clock when it starts is the start.
      const stanza = `<message xmlns='jabber:client' from='${ej.domain}' to='${ej.domain}/announce/online'><body>ann ${id}</body></message>`
      const out = await ej.eval(`P = xmpp:decode(fxml_stream:parse_element(<<"${stanza}">>)), T = erlang:system_time(microsecond), spawn(fun() -> mod_announce:announce_online(P) end), T.`)
      const t = Number(out.trim())
      log(`mod_announce:announce_online/1 started at ${out.trim()} µs`)
      return Number.isFinite(t) ? t / 1000 : undefined
    }, log))
  } finally {
    await ej.stop()
  }
  const [mp, ma] = results
  const summary = {
    machine: machineLine(),
    commit: commit(),
    options: o,
    results,
    ratios: mp !== undefined && ma !== undefined
      ? {
          rate_vs_mod_announce: Math.round(mp.recipients_per_second / Math.max(1, ma.recipients_per_second) * 100) / 100,
          chat_p99_during_vs_without_megaphone: mp.chat_p99_ratio,
          chat_p99_during_vs_without_mod_announce: ma.chat_p99_ratio
        }
      : undefined
  }
  const dir = resolve(import.meta.dirname, '../results/announce')
  await mkdir(dir, { recursive: true })
  await writeFile(resolve(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n')
  process.stdout.write('\n' + table(results) + '\n' + JSON.stringify(summary.ratios) + `\nwritten: ${resolve(dir, 'summary.json')}\n`)
  process.exit(0)
}

function table (rs: TargetResult[]): string {
  const rows = [['target', 'online', 'reached', 'lost', 'dups', 'time to all (s)', 'recipients/s', 'chat p99 without (ms)', 'chat p99 during (ms)', 'ratio']]
  for (const r of rs) rows.push([r.target, String(r.online), String(r.reached), String(r.lost), String(r.duplicates), String(r.seconds_to_reach_all), String(r.recipients_per_second), String(r.chat_baseline.p99), String(r.chat_during.p99), `${r.chat_p99_ratio}x`])
  return rows.map(r => `| ${r.join(' | ')} |`).join('\n')
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:announce: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
