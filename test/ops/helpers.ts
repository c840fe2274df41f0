/**
 * Helpers for the operations tests: an in-process edge with its admin port, a Prometheus text
 * reader, a BOSH client by hand that counts every request it makes, and a spawned edge process
 * whose JSON log lines can be awaited.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { resolve } from 'node:path'
import { loadConfig, type Config } from '../../src/config/load.ts'
import { createLogger } from '../../src/log.ts'
import { runEdge } from '../../src/run-edge.ts'
import { createMetrics } from '../../src/metrics/metrics.ts'
import type { Ejabberd } from '../fixtures/ejabberd.ts'
import { edgeEnv, waitFor } from '../fixtures/edge.ts'

export const ROOT = resolve(import.meta.dirname, '../..')

export interface OpsEdge {
  config: Config
  boshUrl: string
  adminUrl: string
  stop: () => Promise<void>
}

/** The real edge in-process, on ephemeral ports, its log lines going to `logLines`. */
export async function startOpsEdge (ej: Ejabberd, overrides: Record<string, string> = {}, logLines?: string[]): Promise<OpsEdge> {
  const config = loadConfig([], edgeEnv(ej, { MEGAPHONE_LOG_LEVEL: logLines === undefined ? 'silent' : 'trace', ...overrides }))
  const log = createLogger(config.logLevel, logLines === undefined ? undefined : { write: (line: string) => { logLines.push(line) } })
  const running = await runEdge(config, log)
  await waitFor(() => running.linkUp(), 10_000, 'link up')
  return {
    config,
    boshUrl: `http://127.0.0.1:${running.port}${config.boshPath}`,
    adminUrl: `http://127.0.0.1:${running.adminPort}`,
    stop: running.stop
  }
}

/** Every series name the registry can produce (histograms: _bucket, _sum, _count too). */
export function registryNames (): Set<string> {
  const names = new Set<string>()
  for (const m of createMetrics().registry.getMetricsAsArray()) {
    names.add(m.name)
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s)
  }
  return names
}

/** One sample of a scrape: metric name and labels as written, e.g. `megaphone_sessions{transport="bosh"}`. */
export type Samples = Map<string, number>

export function parseMetrics (text: string): Samples {
  const out: Samples = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

export async function scrape (adminUrl: string): Promise<Samples> {
  const res = await fetch(`${adminUrl}/metrics`)
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`)
  return parseMetrics(await res.text())
}

/** The sum of every sample of `name` whose labels include all of `labels` (`a="b"` strings). */
export function sum (s: Samples, name: string, ...labels: string[]): number {
  let n = 0
  for (const [key, v] of s) {
    const brace = key.indexOf('{')
    const metric = brace < 0 ? key : key.slice(0, brace)
    if (metric === name && labels.every(l => key.includes(l))) n += v
  }
  return n
}

/** Counts the HTTP requests a test makes, so that the edge's counts can be compared with them. */
export class RequestCount {
  posts = 0
}

export async function post (url: string, body: string, count?: RequestCount): Promise<{ status: number, text: string }> {
  if (count !== undefined) count.posts++
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/xml; charset=utf-8' } })
  return { status: res.status, text: await res.text() }
}

const BODY = "xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh'"

/** A BOSH session by hand (XEP-0124, XEP-0206): every request counted, rids under control. */
export class RawBosh {
  private constructor (
    readonly url: string,
    readonly sid: string,
    private rid: number,
    private readonly count?: RequestCount,
    /** the session creation response */
    readonly created = ''
  ) {}

  /** Session creation only (XEP-0124 §7): no login. */
  static async create (url: string, o: { wait?: number, hold?: number, count?: RequestCount } = {}): Promise<RawBosh> {
    const rid = Math.floor(Math.random() * 1e9) + 1e6
    const res = await post(url, `<body rid='${rid}' to='localhost' wait='${o.wait ?? 30}' hold='${o.hold ?? 1}' ver='1.6' xml:lang='en' xmpp:version='1.0' ${BODY}/>`, o.count)
    const sid = /sid='([^']+)'/.exec(res.text)?.[1]
    if (sid === undefined) throw new Error('no sid: ' + res.text)
    return new RawBosh(url, sid, rid, o.count, res.text)
  }

  /** Creation, SASL PLAIN, stream restart, resource binding (XEP-0206 §5). */
  static async login (url: string, user: string, password: string, o: { count?: RequestCount, wait?: number } = {}): Promise<RawBosh> {
    const c = await RawBosh.create(url, o)
    const auth = Buffer.from(`\0${user}\0${password}`).toString('base64')
    // What the server sends rides on whichever response is held when it arrives: each step sends
    // its payload once, then polls until the answer it expects has come.
    await c.until(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${auth}</auth>`, /<success/)
    await c.until('', /<bind/, "to='localhost' xmpp:restart='true'")
    await c.until(`<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>`, /<jid>/)
    return c
  }

  request (payload: string, extra = ''): Promise<string> {
    const body = `<body rid='${++this.rid}' sid='${this.sid}' ${extra} ${BODY}>${payload}</body>`
    return post(this.url, body, this.count).then(r => r.text)
  }

  async until (payload: string, expected: RegExp, extra = ''): Promise<string> {
    let seen = await this.request(payload, extra)
    for (let i = 0; i < 10 && !expected.test(seen); i++) seen += await this.request('')
    if (!expected.test(seen)) throw new Error(`no ${String(expected)} in: ${seen}`)
    return seen
  }

  async terminate (): Promise<string> {
    return await this.request('', "type='terminate'")
  }
}

/** A spawned edge process (`node --import tsx src/main.ts`), its JSON log lines awaitable. */
export class EdgeProcess {
  readonly lines: Array<Record<string, unknown>> = []
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null, at: number }>
  stderr = ''
  private readonly child: ChildProcess
  private waiters: Array<{ match: (l: Record<string, unknown>) => boolean, resolve: (l: Record<string, unknown>) => void }> = []

  constructor (env: Record<string, string>, args: string[] = []) {
    this.child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    this.child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString() })
    createInterface({ input: this.child.stdout! }).on('line', line => {
      let l: Record<string, unknown>
      try { l = JSON.parse(line) as Record<string, unknown> } catch { return }
      this.lines.push(l)
      for (const w of this.waiters.filter(w => w.match(l))) {
        this.waiters.splice(this.waiters.indexOf(w), 1)
        w.resolve(l)
      }
    })
    this.exited = new Promise(resolve => {
      this.child.on('exit', (code, signal) => { resolve({ code, signal, at: performance.now() }) })
    })
  }

  get pid (): number { return this.child.pid ?? 0 }

  kill (signal: NodeJS.Signals): void { this.child.kill(signal) }

  /** The first log line (past or future) whose `msg` is `msg`. */
  async line (msg: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const match = (l: Record<string, unknown>): boolean => l.msg === msg
    const seen = this.lines.find(match)
    if (seen !== undefined) return seen
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no log line "${msg}" within ${timeoutMs} ms; stderr: ${this.stderr}`)) }, timeoutMs)
      this.waiters.push({ match, resolve: l => { clearTimeout(timer); resolve(l) } })
      void this.exited.then(() => { clearTimeout(timer); reject(new Error(`exited before "${msg}"; stderr: ${this.stderr}`)) })
    })
  }
}

/** A running edge process and where it listens, as its log lines said. */
export interface StartedEdgeProcess { edge: EdgeProcess, boshUrl: string, wsUrl: string, adminUrl: string }

/**
 * Starts an edge process in front of `ej` (log level info, so its listening lines can be read),
 * killed at the test's end, and waits until its link is up.
 */
export async function startEdgeProcess (t: { teardown: (fn: () => void) => void }, ej: Ejabberd, overrides: Record<string, string> = {}): Promise<StartedEdgeProcess> {
  const edge = new EdgeProcess(edgeEnv(ej, { MEGAPHONE_LOG_LEVEL: 'info', ...overrides }))
  t.teardown(() => { if (edge.pid !== 0) try { process.kill(edge.pid, 'SIGKILL') } catch { /* gone */ } })
  const boshUrl = String((await edge.line('BOSH listening')).url)
  const wsUrl = String((await edge.line('WebSocket listening')).url)
  const adminUrl = String((await edge.line('admin listening')).url).replace(/\/metrics$/, '')
  await edge.line('link up')
  return { edge, boshUrl, wsUrl, adminUrl }
}
