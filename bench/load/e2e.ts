/**
 * One end-to-end target of a load run: N sessions logged in through a transport (the edge with
 * mod_megaphone, or ejabberd's own mod_bosh or WebSocket), left idle, then stamped messages
 * between random pairs, then logged out. Measures login rate and time, ejabberd's memory per
 * session (as measured and after a full GC), the edge's memory per session, delivery latency,
 * loss, duplication and order, and CPU per 1,000 messages.
 */
import { WorkerPool, EdgeProcess } from './children.ts'
import { cpuSecondsOf, openFilesOf } from './ejabberd.ts'
import type { BenchServer, ServerMemory } from './server.ts'
import { decodeHistogram, distributionOf, latencyOf, newHistogram, type Latency } from './histogram.ts'
import type { MemorySample, Transport, User, WorkerInit, WorkerStats } from './ipc.ts'
import type { LoadOptions } from './options.ts'
import { Progress, kib, sleep } from './progress.ts'

export interface Target {
  name: string
  transport: Transport
  /** the edge in front (started for this target) or ejabberd's own endpoint */
  viaEdge: boolean
  url: string
}

export interface MemoryPoint { sessions: number, ejabberd: number, edgeRss?: number }

export interface TargetResult {
  name: string
  transport: Transport
  sessions: number
  failed: number
  failures: Record<string, number>
  dropped: Record<string, number>
  login: { seconds: number, rate: number, p50_ms: number, p99_ms: number, max_ms: number }
  ejabberd?: {
    baseline: ServerMemory
    idle: ServerMemory
    idle_after_gc: ServerMemory
    bytes_per_session: number
    bytes_per_session_after_gc: number
    processes_bytes_per_session: number
    processes_bytes_per_session_after_gc: number
  }
  /** every edge's memory added up (after a full GC); `per_edge` each one's */
  edge?: { rss_bytes_per_session: number, heap_bytes_per_session: number, rss: number, heap_used: number, edges: number, per_edge: Array<{ rss: number, heap_used: number }> }
  /** open file descriptors per process once every session is online and idle (/proc/PID/fd: sockets included) */
  open_files?: { ejabberd: number | null, edges: number[], workers: number[] }
  messages: { rate: number, seconds: number, sent: number, received: number, lost: number, duplicated: number, reordered: number }
  latency_ms: Latency
  distribution_ms: Array<[number, number]>
  /** CPU seconds over the message phase; clients_seconds: the client workers' (the load generator shares the machine) */
  cpu: { ejabberd_seconds: number, edge_seconds: number, ejabberd_per_1000_messages: number, total_per_1000_messages: number, clients_seconds?: number }
  memory_series: MemoryPoint[]
  /** the message-rate steps after the main phase, and the highest rate whose p99 stayed under 100 ms with nothing lost */
  sweep?: { steps: SweepStep[], max_rate_p99_under_100ms: number }
}

export interface SweepStep { rate: number, seconds: number, sent: number, received: number, lost: number, duplicated: number, p50_ms: number, p99_ms: number, p999_ms: number }

/** Every edge's memory added up, and each one's. */
async function edgesMemory (edges: EdgeProcess[], gc: boolean): Promise<{ rss: number, heapUsed: number, each: MemorySample[] }> {
  const each = await Promise.all(edges.map(async e => await e.memory(gc)))
  return { rss: each.reduce((a, m) => a + m.rss, 0), heapUsed: each.reduce((a, m) => a + m.heapUsed, 0), each }
}

/** A process's open files, or null when it is gone or unreadable. */
async function openFiles (pid: number | undefined): Promise<number | null> {
  if (pid === undefined || pid === 0) return null
  try { return await openFilesOf(pid) } catch { return null }
}

/** The listen backlog of every listener in a run, the edge's and ejabberd's (scripts/ejabberd.sh). */
export const EDGE_BACKLOG = 4096

/** The latency bound of the sweep: the issue's "messages/s at which p99 stays under 100 ms". */
const SWEEP_P99_MS = 100

export interface RunContext {
  opts: LoadOptions
  users: User[] | { prefix: string, password: string, count: number }
  /** the server behind the targets (ejabberd, or Prosody with --server prosody); the `ejabberd` fields of a result are its figures */
  ej: BenchServer | undefined
  domain: string
  log: (line: string) => void
}

/** Source addresses 127.0.0.2, 127.0.0.3, ... (the whole 127/8 is loopback on Linux). */
export function loopbacks (n: number, offset = 0): string[] {
  return Array.from({ length: n }, (_, i) => `127.0.0.${2 + ((offset + i) % 250)}`)
}

/** Whether a URL's host is on this machine's loopback (the only place 127.0.0.x sources reach). */
export function isLoopback (url: string): boolean {
  const host = new URL(url).hostname
  return host === 'localhost' || host.startsWith('127.') || host === '[::1]'
}

/**
 * Splits `count` sessions over workers of at most `perWorker`, loopback source addresses dealt
 * round-robin when the server is on loopback (a remote server gets the system's choice).
 */
export function workerInits (base: Omit<WorkerInit, 'first' | 'count' | 'localAddresses'>, count: number, perWorker: number, addresses: number): WorkerInit[] {
  const workers = Math.max(1, Math.ceil(count / perWorker))
  const addrs = isLoopback(base.url) ? loopbacks(Math.max(addresses, workers)) : []
  const inits: WorkerInit[] = []
  let first = 0
  for (let w = 0; w < workers; w++) {
    const n = Math.floor(count / workers) + (w < count % workers ? 1 : 0)
    inits.push({ ...base, first, count: n, localAddresses: addrs.filter((_, i) => i % workers === w) })
    first += n
  }
  return inits
}

function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p / 100))] ?? 0
}

/** The workers' failure (or drop) tables added up, by condition. */
export function tableOf (stats: WorkerStats[], key: 'failures' | 'dropped'): Record<string, number> {
  const into: Record<string, number> = {}
  for (const s of stats) for (const [k, v] of Object.entries(s[key])) into[k] = (into[k] ?? 0) + v
  return into
}

export async function runTarget (ctx: RunContext, target: Target): Promise<TargetResult> {
  const { opts, ej } = ctx
  const n = opts.sessions
  const progress = new Progress()
  const edges: EdgeProcess[] = []
  let url = target.url
  let urls: string[] | undefined
  if (target.viaEdge) {
    if (ej === undefined) throw new Error('the edge needs the bench server')
    // --edges N: N processes each linked to the one ejabberd, each under the 20,000-file limit.
    const perEdge = Math.ceil(n / opts.edges)
    for (let e = 0; e < opts.edges; e++) {
      edges.push(await EdgeProcess.start([
        '--port', '0', '--link-port', String(ej.linkPort), `--link-secret=${ej.linkSecret}`, '--log-level', 'warn',
        // The same accept queue as every ejabberd listener of the run (scripts/ejabberd.sh): with the
        // edge's default (511) a login burst overflows it, SYNs are dropped and retried a second later.
        '--backlog', String(EDGE_BACKLOG),
        // A table sized to the edge's share of the run: its arrays are allocated whole at start.
        '--max-sessions', String(Math.max(1024, perEdge * 2)),
        // The wait the clients ask for is granted (the edge caps it at --max-wait, 60 by default).
        '--max-wait', String(Math.max(60, opts.wait))
      ]))
    }
    urls = edges.map(e => target.url.replace('PORT', String(e.port)))
    url = urls[0] ?? url
    if (edges.length > 1) ctx.log(`${target.name}: ${edges.length} edges (pids ${edges.map(e => e.pid).join(', ')}), sessions dealt round-robin`)
  }
  const edge = edges.length > 0 ? edges : undefined
  const pool = await WorkerPool.start(workerInits({
    type: 'init', transport: target.transport, url, ...(urls !== undefined && urls.length > 1 ? { urls } : {}), domain: ctx.domain, users: ctx.users,
    maxSockets: 0, wait: opts.wait, hold: 1, loginTimeout: opts.loginTimeout, loginsInFlight: opts.loginsInFlight, loginDepth: 'full'
  }, n, opts.perWorker, opts.addresses))
  try {
    const baseline = ej !== undefined ? await ej.memory(true) : undefined
    const edgeBase = edge !== undefined ? await edgesMemory(edge, true) : undefined
    const series: MemoryPoint[] = [{ sessions: 0, ejabberd: 0, ...(edgeBase !== undefined ? { edgeRss: 0 } : {}) }]

    // Ramp: logins at the set rate, spread evenly over the workers.
    const started = performance.now()
    pool.send({ type: 'login', rate: opts.rate / pool.workers.length })
    const deadline = started + (opts.rate > 0 ? n / opts.rate * 1000 : 0) + opts.loginTimeout * 1000 + 30_000
    // Each sample starts an Erlang node (~1 s of CPU): every 3 s, or every 15 s in a large run.
    const sampleEvery = n > 20_000 ? 15_000 : 3000
    let nextSample = started + sampleEvery
    let sampling: Promise<void> | undefined
    for (;;) {
      await sleep(250)
      const t = pool.totals()
      const secs = (performance.now() - started) / 1000
      progress.update(`${target.name}: login ${t.online + t.failed}/${n}  online ${t.online}  failed ${t.failed}  ${(t.online / secs).toFixed(0)}/s`)
      if (t.done || performance.now() > deadline) break
      // ejabberd's memory while sessions grow (one sample in flight at a time; each costs an erl start).
      if (ej !== undefined && sampling === undefined && performance.now() > nextSample) {
        nextSample = performance.now() + sampleEvery
        sampling = (async () => {
          const online = pool.totals().online
          const m = await ej.memory(false)
          const e = edge !== undefined ? await edgesMemory(edge, false) : undefined
          if (baseline !== undefined) series.push({ sessions: online, ejabberd: m.total - baseline.total, ...(e !== undefined && edgeBase !== undefined ? { edgeRss: e.rss - edgeBase.rss } : {}) })
        })().finally(() => { sampling = undefined })
      }
    }
    await sampling
    const loginSeconds = (performance.now() - started) / 1000
    progress.done()
    const afterLogin = await pool.collect()
    const loginTimes = afterLogin.flatMap(s => s.loginMs).sort((a, b) => a - b)
    const online = afterLogin.reduce((a, s) => a + s.online, 0)
    const failed = afterLogin.reduce((a, s) => a + s.failed, 0)
    ctx.log(`${target.name}: ${online} online, ${failed} failed in ${loginSeconds.toFixed(1)} s (${(online / loginSeconds).toFixed(0)}/s); login p50 ${percentile(loginTimes, 50)} ms, p99 ${percentile(loginTimes, 99)} ms`)

    // Idle: memory as an operator would see it, then what stays after every process is collected.
    await sleep(opts.idle * 1000)
    let ejabberd: TargetResult['ejabberd']
    if (ej !== undefined && baseline !== undefined) {
      const idle = await ej.memory(false)
      const idleGc = await ej.memory(true)
      const per = (m: number): number => online > 0 ? Math.round(m / online) : 0
      ejabberd = {
        baseline,
        idle,
        idle_after_gc: idleGc,
        bytes_per_session: per(idle.total - baseline.total),
        bytes_per_session_after_gc: per(idleGc.total - baseline.total),
        processes_bytes_per_session: per(idle.processes - baseline.processes),
        processes_bytes_per_session_after_gc: per(idleGc.processes - baseline.processes)
      }
      series.push({ sessions: online, ejabberd: idle.total - baseline.total })
      ctx.log(`${target.name}: ${ej.name} ${kib(ejabberd.bytes_per_session)}/session idle (${kib(ejabberd.processes_bytes_per_session)} ${ej.name === 'Prosody' ? 'resident' : 'in processes'}), ${kib(ejabberd.bytes_per_session_after_gc)} after a full GC; c2s sessions ${idle.sessions}${idle.process_count !== undefined ? `, ${idle.process_count} processes (${baseline.process_count ?? '?'} before)` : ''}`)
    }
    let edgeMem: TargetResult['edge']
    if (edge !== undefined && edgeBase !== undefined) {
      const m = await edgesMemory(edge, true)
      edgeMem = {
        rss: m.rss,
        heap_used: m.heapUsed,
        rss_bytes_per_session: online > 0 ? Math.round((m.rss - edgeBase.rss) / online) : 0,
        heap_bytes_per_session: online > 0 ? Math.round((m.heapUsed - edgeBase.heapUsed) / online) : 0,
        edges: edge.length,
        per_edge: m.each.map(x => ({ rss: x.rss, heap_used: x.heapUsed }))
      }
      ctx.log(`${target.name}: edge RSS ${kib(edgeMem.rss_bytes_per_session)}/session, heap ${kib(edgeMem.heap_bytes_per_session)}/session (after GC, ${edge.length} edge${edge.length > 1 ? 's' : ''} added up)`)
    }
    // Every session online and holding its long-poll: what each process has open.
    const openFilesNow = {
      ejabberd: ej !== undefined ? await openFiles(ej.pid) : null,
      edges: (await Promise.all((edge ?? []).map(async e => await openFiles(e.pid)))).map(v => v ?? 0),
      workers: (await Promise.all(pool.workers.map(async w => await openFiles(w.pid)))).map(v => v ?? 0)
    }
    ctx.log(`${target.name}: open files: ejabberd ${openFilesNow.ejabberd ?? '?'}${edge !== undefined ? `, edges ${openFilesNow.edges.join(' ')}` : ''}, client workers ${openFilesNow.workers.join(' ')}`)

    // Messages between random pairs of online sessions; CPU counted over the sending and the drain.
    const recipients = afterLogin.flatMap(s => s.onlineIndices)
    const ejCpu0 = ej !== undefined ? await ej.cpuSeconds() : 0
    const edgesCpu = async (): Promise<number> => (await Promise.all((edge ?? []).map(async e => await cpuSecondsOf(e.pid)))).reduce((a, b) => a + b, 0)
    const edgeCpu0 = await edgesCpu()
    const clientsCpu = async (): Promise<number> => (await Promise.all(pool.workers.map(async w => await cpuSecondsOf(w.pid ?? 0).catch(() => 0)))).reduce((a, b) => a + b, 0)
    const clientsCpu0 = await clientsCpu()
    await deliver(pool, progress, target.name, opts.messageRate, opts.messageSeconds, recipients)
    const ejCpu = ej !== undefined ? await ej.cpuSeconds() - ejCpu0 : 0
    const edgeCpu = await edgesCpu() - edgeCpu0
    const final = await pool.collect()
    const result = summarize(target, final, { online, failed, loginSeconds, loginTimes, ejabberd, edge: edgeMem, series, ejCpu, edgeCpu, opts })
    result.open_files = openFilesNow
    result.cpu.clients_seconds = Math.round((await clientsCpu() - clientsCpu0) * 100) / 100
    const l = result.latency_ms
    ctx.log(`${target.name}: ${result.messages.sent} sent, ${result.messages.received} received, ${result.messages.lost} lost, ${result.messages.duplicated} duplicated, ${result.messages.reordered} reordered; latency p50 ${l.p50} ms, p99 ${l.p99} ms, p99.9 ${l.p999} ms, max ${l.max} ms; CPU ${result.cpu.ejabberd_per_1000_messages.toFixed(3)} s (${ej?.name ?? 'server'}) / ${result.cpu.total_per_1000_messages.toFixed(3)} s (all servers) per 1,000 messages`)

    result.sweep = await sweep(ctx, target, pool, progress, recipients, result)
    await pool.logout()
    return result
  } finally {
    await pool.close()
    await Promise.all(edges.map(async e => { await e.stop() }))
    // The next target starts from a node with no sessions left over.
    if (ej !== undefined) {
      const until = Date.now() + 60_000
      while (Date.now() < until && await ej.connectedUsers() > 0) await sleep(1000)
    }
  }
}

/**
 * Sends `rate` messages/s for `seconds` spread over the workers, then waits for them: done when
 * everything sent arrived, or nothing more arrived for 10 s (at most 120 s after the last send).
 * On a busy machine the workers send behind time: the wait starts once they sent it all (or
 * 60 s late), so that a late message is counted late, not lost.
 */
async function deliver (pool: WorkerPool, progress: Progress, label: string, rate: number, seconds: number, recipients: number[]): Promise<void> {
  const base = pool.totals()
  const perWorker = rate / pool.workers.length
  pool.send({ type: 'send', rate: perWorker, seconds, recipients })
  const expected = Math.round(perWorker * seconds) * pool.workers.length
  const sendEnd = performance.now() + seconds * 1000
  let sentAll = 0
  let lastReceived = -1
  let stableSince = 0
  for (;;) {
    await sleep(250)
    const t = pool.totals()
    const sent = t.sent - base.sent
    const received = t.received - base.received
    progress.update(`${label}: ${rate}/s  messages sent ${sent}  received ${received}  online ${t.online}`)
    const now = performance.now()
    if (now < sendEnd + 500) continue
    if (sentAll === 0) {
      if (sent < expected && now < sendEnd + 60_000) continue
      sentAll = now
    }
    if (received >= sent && sent > 0) break
    if (received !== lastReceived) { lastReceived = received; stableSince = now }
    if (now - stableSince > 10_000 || now > sentAll + 120_000) break
  }
  progress.done()
}

interface MessageCounts { sent: number, received: number, duplicated: number, reordered: number }

/** The workers' message counters added up. */
function sums (stats: WorkerStats[]): MessageCounts {
  const t: MessageCounts = { sent: 0, received: 0, duplicated: 0, reordered: 0 }
  for (const s of stats) { t.sent += s.sent; t.received += s.received; t.duplicated += s.duplicated; t.reordered += s.reordered }
  return t
}

/**
 * Steps the message rate up (--sweep-rates, --sweep-seconds), each step with its own latency
 * histogram, and stops at the first step whose p99 passes 100 ms or that loses a message: the
 * highest rate that passed is what the issue compares against ejabberd's own BOSH (the main
 * phase's rate counts too when it passed).
 */
async function sweep (ctx: RunContext, target: Target, pool: WorkerPool, progress: Progress, recipients: number[], main: TargetResult): Promise<NonNullable<TargetResult['sweep']>> {
  const { opts } = ctx
  const steps: SweepStep[] = []
  let best = main.messages.lost === 0 && main.messages.sent > 0 && main.latency_ms.p99 < SWEEP_P99_MS ? main.messages.rate : 0
  for (const rate of opts.sweepRates.map(Number)) {
    const before = sums(await pool.collect())
    pool.send({ type: 'reset-latency' })
    await deliver(pool, progress, `${target.name} sweep`, rate, opts.sweepSeconds, recipients)
    const stats = await pool.collect()
    const after = sums(stats)
    const h = newHistogram()
    for (const s of stats) h.add(decodeHistogram(s.histogram))
    const l = latencyOf(h)
    const sent = after.sent - before.sent
    const received = after.received - before.received
    const step: SweepStep = { rate, seconds: opts.sweepSeconds, sent, received, lost: Math.max(0, sent - received), duplicated: after.duplicated - before.duplicated, p50_ms: l.p50, p99_ms: l.p99, p999_ms: l.p999 }
    steps.push(step)
    ctx.log(`${target.name}: sweep ${rate}/s: ${sent} sent, ${step.lost} lost, ${step.duplicated} duplicated; latency p50 ${l.p50} ms, p99 ${l.p99} ms, p99.9 ${l.p999} ms`)
    if (step.lost > 0 || sent === 0 || l.p99 >= SWEEP_P99_MS) break
    best = Math.max(best, rate)
  }
  if (steps.length > 0) ctx.log(`${target.name}: highest message rate with p99 under ${SWEEP_P99_MS} ms and nothing lost: ${best}/s`)
  return { steps, max_rate_p99_under_100ms: best }
}

function summarize (target: Target, stats: WorkerStats[], m: {
  online: number, failed: number, loginSeconds: number, loginTimes: number[], ejabberd: TargetResult['ejabberd'],
  edge: TargetResult['edge'], series: MemoryPoint[], ejCpu: number, edgeCpu: number, opts: LoadOptions
}): TargetResult {
  const h = newHistogram()
  const failures = tableOf(stats, 'failures')
  const dropped = tableOf(stats, 'dropped')
  for (const s of stats) h.add(decodeHistogram(s.histogram))
  const { sent, received, duplicated, reordered } = sums(stats)
  const per1000 = (cpu: number): number => sent > 0 ? cpu / (sent / 1000) : 0
  return {
    name: target.name,
    transport: target.transport,
    sessions: m.online,
    failed: m.failed,
    failures,
    dropped,
    login: {
      seconds: Math.round(m.loginSeconds * 10) / 10,
      rate: Math.round(m.online / m.loginSeconds),
      p50_ms: percentile(m.loginTimes, 50),
      p99_ms: percentile(m.loginTimes, 99),
      max_ms: m.loginTimes[m.loginTimes.length - 1] ?? 0
    },
    ...(m.ejabberd !== undefined ? { ejabberd: m.ejabberd } : {}),
    ...(m.edge !== undefined ? { edge: m.edge } : {}),
    messages: { rate: m.opts.messageRate, seconds: m.opts.messageSeconds, sent, received, lost: Math.max(0, sent - received), duplicated, reordered },
    latency_ms: latencyOf(h),
    distribution_ms: distributionOf(h),
    cpu: { ejabberd_seconds: m.ejCpu, edge_seconds: m.edgeCpu, ejabberd_per_1000_messages: per1000(m.ejCpu), total_per_1000_messages: per1000(m.ejCpu + m.edgeCpu) },
    memory_series: m.series
  }
}
