/**
 * The edge alone, against the null backend (null-backend.ts), so that nothing but the edge is
 * measured:
 *  - sessions: N BOSH sessions created over a few hundred keep-alive connections (hold=0:
 *    polling sessions, XEP-0124 §12) and kept alive by polling each one, in one edge process;
 *    heap and RSS per session after a full GC;
 *  - held: as many long-polls held at once as one process can hold under the 20,000-file limit,
 *    each on its own connection; memory per held request, and the edge's CPU while they wait.
 */
import { randomBytes } from 'node:crypto'
import { EdgeProcess, NullBackendProcess, WorkerPool } from './children.ts'
import { EDGE_BACKLOG, tableOf, workerInits } from './e2e.ts'
import type { MemorySample } from './ipc.ts'
import type { LoadOptions } from './options.ts'
import { Progress, kib, mib, sleep } from './progress.ts'

/** Keep-alive connections per worker in the sessions run: enough to keep the edge busy. */
const POOL_SOCKETS = 128

export interface EdgeSessionsResult {
  sessions: number
  failed: number
  failures: Record<string, number>
  create_seconds: number
  create_rate: number
  polls: number
  poll_errors: number
  baseline: MemorySample
  after: MemorySample
  heap_bytes_per_session: number
  rss_bytes_per_session: number
  /** external + array buffers (the session table's typed arrays are allocated at start) */
  off_heap_bytes_per_session: number
  series: Array<{ sessions: number, heap: number, rss: number }>
  edge_flags: string[]
}

export interface EdgeHeldResult {
  sessions: number
  held: number
  failures: Record<string, number>
  before_hold: MemorySample
  after_hold: MemorySample
  heap_bytes_per_held: number
  rss_bytes_per_held: number
  heap_bytes_per_session_and_held: number
  idle_seconds: number
  idle_cpu_percent: number
  edge_flags: string[]
}

/** A random link secret; passed as `--link-secret=…` since base64url may start with a dash. */
function secret (): string {
  return randomBytes(24).toString('base64url')
}

async function startPair (flags: string[], heapMb: number): Promise<{ backend: NullBackendProcess, edge: EdgeProcess, flags: string[] }> {
  const s = secret()
  const backend = await NullBackendProcess.start(s)
  const all = ['--port', '0', '--link-port', String(backend.port), `--link-secret=${s}`, '--log-level', 'warn', '--backlog', String(EDGE_BACKLOG), ...flags]
  try {
    return { backend, edge: await EdgeProcess.start(all, heapMb), flags }
  } catch (err) {
    await backend.stop()
    throw err
  }
}

/** Ends a phase: clients first, then the edge, then the backend. */
async function stopAll (progress: Progress, pool: WorkerPool | undefined, edge: EdgeProcess, backend: NullBackendProcess): Promise<void> {
  progress.done()
  await pool?.close()
  // A graceful stop would answer every session one by one (a million, in the big run); the
  // figures are taken.
  edge.child.kill('SIGKILL')
  await backend.stop()
}

export async function runEdgeSessions (opts: LoadOptions, log: (line: string) => void): Promise<EdgeSessionsResult> {
  const n = opts.edgeSessions
  const full = opts.edgeLogin === 'full'
  // Inactivity at its maximum: a million polls take minutes to go round.
  const flags = ['--max-sessions', String(Math.max(1024, n)), '--max-inactivity', '3600', '--max-wait', '60', '--timer-resolution', '100']
  const { backend, edge } = await startPair(flags, 16_384)
  const progress = new Progress()
  let pool: WorkerPool | undefined
  try {
    const baseline = await edge.memory(true)
    // Two workers share the client side; each uses one source address and a small pool.
    const workers = n >= 2000 ? 2 : 1
    pool = await WorkerPool.start(workerInits({
      type: 'init', transport: 'bosh', url: `http://127.0.0.1:${edge.port}/http-bind`, domain: 'localhost',
      users: { prefix: 'u', password: 'x', count: n }, maxSockets: POOL_SOCKETS,
      // hold=0 makes polling sessions: every request is answered at once (XEP-0124 §12). A full
      // login needs the server's answers to come back on a held request: hold=1, short wait.
      wait: full ? 1 : 60, hold: full ? 1 : 0, loginTimeout: 600, loginDepth: opts.edgeLogin
    }, n, Math.ceil(n / workers), workers), 8192)
    const p = pool
    const series: EdgeSessionsResult['series'] = [{ sessions: 0, heap: 0, rss: 0 }]
    const started = performance.now()
    p.send({ type: 'login', rate: 0 })
    let nextSample = started + 5000
    for (;;) {
      await sleep(500)
      const t = p.totals()
      const secs = (performance.now() - started) / 1000
      progress.update(`edge-only: created ${t.online}/${n}  failed ${t.failed}  ${(t.online / secs).toFixed(0)}/s`)
      if (t.done) break
      if (performance.now() > nextSample) {
        nextSample = performance.now() + 5000
        const m = await edge.memory(false)
        series.push({ sessions: p.totals().online, heap: m.heapUsed - baseline.heapUsed, rss: m.rss - baseline.rss })
      }
    }
    const createSeconds = (performance.now() - started) / 1000
    progress.done()
    const created = p.totals().online
    log(`edge-only: ${created} sessions created in ${createSeconds.toFixed(1)} s (${(created / createSeconds).toFixed(0)}/s)`)

    // Keep-alive: poll every session once more (a full pass), each at least `polling` apart.
    const pollStart = performance.now()
    p.send({ type: 'poll', interval: opts.edgePollInterval, concurrency: POOL_SOCKETS })
    for (;;) {
      await sleep(500)
      const t = p.totals()
      progress.update(`edge-only: keep-alive polls ${t.polls}/${created}`)
      if (t.polls >= created || performance.now() - pollStart > 600_000) break
    }
    p.send({ type: 'stop-polling' })
    await sleep(1000)
    progress.done()
    const stats = await p.collect()
    const online = stats.reduce((a, s) => a + s.online, 0)
    const failed = stats.reduce((a, s) => a + s.failed, 0)
    const failures = tableOf(stats, 'failures')
    const polls = stats.reduce((a, s) => a + s.polls, 0)
    const pollErrors = stats.reduce((a, s) => a + s.pollErrors, 0)
    const after = await edge.memory(true)
    const counts = await backend.counts()
    series.push({ sessions: online, heap: after.heapUsed - baseline.heapUsed, rss: after.rss - baseline.rss })
    const per = (b: number): number => online > 0 ? Math.round(b / online) : 0
    const result: EdgeSessionsResult = {
      sessions: online,
      failed,
      failures,
      create_seconds: Math.round(createSeconds * 10) / 10,
      create_rate: Math.round(created / createSeconds),
      polls,
      poll_errors: pollErrors,
      baseline,
      after,
      heap_bytes_per_session: per(after.heapUsed - baseline.heapUsed),
      rss_bytes_per_session: per(after.rss - baseline.rss),
      off_heap_bytes_per_session: per(after.external + after.arrayBuffers - baseline.external - baseline.arrayBuffers),
      series,
      edge_flags: flags
    }
    log(`edge-only: ${online} live (backend: ${counts.live}), ${failed} failed ${JSON.stringify(failures)}; ${polls} keep-alive polls, ${pollErrors} errors`)
    log(`edge-only: heap ${result.heap_bytes_per_session} B/session, RSS ${kib(result.rss_bytes_per_session)}/session, off-heap ${result.off_heap_bytes_per_session} B/session (heap ${mib(after.heapUsed)}, RSS ${mib(after.rss)} in all)`)
    return result
  } finally {
    await stopAll(progress, pool, edge, backend)
  }
}

export async function runEdgeHeld (opts: LoadOptions, log: (line: string) => void): Promise<EdgeHeldResult> {
  const n = opts.edgeHeld
  const flags = ['--max-sessions', String(Math.max(1024, n * 2)), '--max-inactivity', '600', '--max-wait', '300', '--max-hold', '1']
  const { backend, edge } = await startPair(flags, 4096)
  const progress = new Progress()
  let pool: WorkerPool | undefined
  try {
    const base = await edge.memory(true)
    // ≤ 9,500 held sockets per worker, each worker on its own source addresses.
    pool = await WorkerPool.start(workerInits({
      type: 'init', transport: 'bosh', url: `http://127.0.0.1:${edge.port}/http-bind`, domain: 'localhost',
      users: { prefix: 'h', password: 'x', count: n }, maxSockets: 0,
      wait: 300, hold: 1, loginTimeout: 300, loginDepth: 'open'
    }, n, 9500, opts.addresses))
    const p = pool
    p.send({ type: 'login', rate: 0 })
    for (;;) {
      await sleep(500)
      const t = p.totals()
      progress.update(`edge-only held: sessions ${t.online}/${n}  failed ${t.failed}`)
      if (t.done) break
    }
    progress.done()
    const sessions = p.totals().online
    await sleep(1000)
    const before = await edge.memory(true)
    p.send({ type: 'hold' })
    const holdStart = performance.now()
    for (;;) {
      await sleep(500)
      const t = p.totals()
      progress.update(`edge-only held: long-polls held ${t.held}/${sessions}`)
      if (t.held >= sessions || performance.now() - holdStart > 120_000) break
    }
    progress.done()
    // Let the last requests reach the edge and be held.
    await sleep(2000)
    const held = p.totals().held
    const after = await edge.memory(true)
    // Idle: nothing but the timer wheel's tick and the link heartbeats should run.
    const idleSeconds = 10
    const c0 = await edge.memory(false)
    await sleep(idleSeconds * 1000)
    const c1 = await edge.memory(false)
    const cpuPercent = ((c1.cpuUser + c1.cpuSystem) - (c0.cpuUser + c0.cpuSystem)) / (idleSeconds * 1e6) * 100
    const stats = await p.collect()
    const failures = tableOf(stats, 'failures')
    const per = (b: number): number => held > 0 ? Math.round(b / held) : 0
    const result: EdgeHeldResult = {
      sessions,
      held,
      failures,
      before_hold: before,
      after_hold: after,
      heap_bytes_per_held: per(after.heapUsed - before.heapUsed),
      rss_bytes_per_held: per(after.rss - before.rss),
      heap_bytes_per_session_and_held: per(after.heapUsed - base.heapUsed),
      idle_seconds: idleSeconds,
      idle_cpu_percent: Math.round(cpuPercent * 100) / 100,
      edge_flags: flags
    }
    log(`edge-only held: ${held} long-polls held over ${sessions} sessions; ${kib(result.heap_bytes_per_held)} heap and ${kib(result.rss_bytes_per_held)} RSS per held request (socket included); idle CPU ${result.idle_cpu_percent} % of a core over ${idleSeconds} s; failures ${JSON.stringify(failures)}`)
    return result
  } finally {
    await stopAll(progress, pool, edge, backend)
  }
}
