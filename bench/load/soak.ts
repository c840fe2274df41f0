/**
 * The soak (`npm run bench:load -- --mode soak`, docs/reliability.md "Soak"): N sessions, half
 * BOSH and half WebSocket, through one edge in front of a throwaway ejabberd with mod_megaphone,
 * all logged in, then a steady rate of stamped messages between random pairs of them (either
 * transport to either) for the soak's duration. Every message carries (sender, sequence number),
 * so each receiving worker counts duplicates and per sender→receiver reorderings exactly, and
 * lost = sent − distinct received. Every few seconds the edge's heap and RSS (over IPC), ejabberd's
 * erlang:memory(total) (through the server's eval) and both processes' open files (/proc/PID/fd)
 * are sampled; soak-stats.ts turns the samples into slopes.
 *
 * File limits: each client worker holds at most --per-worker sessions (5,000 by default, one
 * socket each plus a few BOSH keep-alive spares), and the edge holds one socket per session plus
 * the link, about 10,000 at the default size: both under the 20,000-open-files limit per process.
 */
import { readdir } from 'node:fs/promises'
import os from 'node:os'
import { BenchEjabberd } from './ejabberd.ts'
import { EdgeProcess, WorkerPool, type Totals } from './children.ts'
import { EDGE_BACKLOG, tableOf, workerInits } from './e2e.ts'
import { decodeHistogram, latencyOf, newHistogram, type Latency } from './histogram.ts'
import type { Transport, WorkerStats } from './ipc.ts'
import type { LoadOptions } from './options.ts'
import { Progress, sleep } from './progress.ts'
import type { SoakSample } from './soak-stats.ts'

export interface SoakResult {
  sessions: { asked: number, bosh: number, ws: number, online: number, failed: number, failures: Record<string, number>, dropped: Record<string, number>, login_seconds: number }
  messages: { rate: number, seconds: number, sent: number, received: number, lost: number, duplicated: number, reordered: number }
  latency_ms: Latency
  sample_seconds: number
  samples: SoakSample[]
  /**
   * The same memory after a full GC of the edge and of every ejabberd process, once before the
   * steady phase and once after the drain: garbage not yet collected cannot pass for a leak here.
   */
  after_gc: { start: GcPoint, end: GcPoint }
  /** the machine's load averages (1, 5, 15 min) when the steady phase began and when it ended */
  load_start: number[]
  load_end: number[]
  /** wall-clock ISO times of the steady phase */
  steady_started: string
  steady_ended: string
}

export interface GcPoint { edge_heap_used: number, edge_rss: number, ejabberd_memory: number }

/** Open file descriptors of a process: the entries of /proc/PID/fd (proc(5)). */
export async function openFiles (pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length
}

function add (a: Totals, b: Totals): Totals {
  return { online: a.online + b.online, failed: a.failed + b.failed, sent: a.sent + b.sent, received: a.received + b.received, polls: a.polls + b.polls, held: a.held + b.held, done: a.done && b.done }
}

export async function runSoak (opts: LoadOptions, log: (line: string) => void): Promise<SoakResult> {
  const n = opts.sessions
  const nBosh = Math.ceil(n / 2)
  const nWs = n - nBosh
  const progress = new Progress()
  const ej = await BenchEjabberd.start()
  let edge: EdgeProcess | undefined
  const pools: WorkerPool[] = []
  try {
    const t0 = performance.now()
    const registered = await ej.registerBulk('bench', n, opts.password)
    log(`ejabberd ${ej.domain} (pid ${ej.pid}): registered ${registered} users in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    edge = await EdgeProcess.start([
      '--port', '0', '--link-port', String(ej.linkPort), `--link-secret=${ej.linkSecret}`, '--log-level', 'warn',
      '--backlog', String(EDGE_BACKLOG),
      '--max-sessions', String(Math.max(1024, n * 2))
    ])
    const users = { prefix: 'bench', password: opts.password, count: n }
    // Global indices: BOSH sessions are users 0..nBosh-1, WebSocket ones the rest; recipients are
    // drawn from both, so messages cross transports both ways.
    const initsFor = (transport: Transport, url: string, first: number, count: number, addressOffset: number): ReturnType<typeof workerInits> =>
      workerInits({ type: 'init', transport, url, domain: ej.domain, users, maxSockets: 0, wait: opts.wait, hold: 1, loginTimeout: opts.loginTimeout, loginDepth: 'full' }, count, opts.perWorker, opts.addresses)
        .map(w => ({ ...w, first: w.first + first, localAddresses: w.localAddresses.map(a => shift(a, addressOffset)) }))
    if (nBosh > 0) pools.push(await WorkerPool.start(initsFor('bosh', `http://127.0.0.1:${edge.port}/http-bind`, 0, nBosh, 0)))
    if (nWs > 0) pools.push(await WorkerPool.start(initsFor('ws', `ws://127.0.0.1:${edge.port}/xmpp-websocket`, nBosh, nWs, opts.addresses)))
    const workers = pools.reduce((a, p) => a + p.workers.length, 0)
    const totals = (): Totals => pools.map(p => p.totals()).reduce(add)
    const collect = async (): Promise<WorkerStats[]> => (await Promise.all(pools.map(async p => await p.collect()))).flat()

    // Logins: the harness's rate, over every worker of both pools.
    const started = performance.now()
    for (const p of pools) p.send({ type: 'login', rate: opts.rate / workers })
    const deadline = started + (opts.rate > 0 ? n / opts.rate * 1000 : 0) + opts.loginTimeout * 1000 + 30_000
    for (;;) {
      await sleep(250)
      const t = totals()
      progress.update(`soak: login ${t.online + t.failed}/${n}  online ${t.online}  failed ${t.failed}`)
      if (t.done || performance.now() > deadline) break
    }
    progress.done()
    const loginSeconds = (performance.now() - started) / 1000
    const afterLogin = await collect()
    const online = afterLogin.reduce((a, s) => a + s.online, 0)
    const failed = afterLogin.reduce((a, s) => a + s.failed, 0)
    log(`soak: ${online} online (${nBosh} BOSH, ${nWs} WebSocket asked), ${failed} failed in ${loginSeconds.toFixed(1)} s${failed > 0 ? `: ${JSON.stringify(tableOf(afterLogin, 'failures'))}` : ''}`)
    const recipients = afterLogin.flatMap(s => s.onlineIndices)

    const afterGc = async (): Promise<GcPoint> => {
      const [em, jm] = await Promise.all([edge!.memory(true), ej.memory(true)])
      return { edge_heap_used: em.heapUsed, edge_rss: em.rss, ejabberd_memory: jm.total }
    }
    const gcStart = await afterGc()

    // The steady phase: messages at a constant rate, samples every --sample-seconds.
    const samples: SoakSample[] = []
    const base = totals()
    const steadyStart = performance.now()
    const loadStart = os.loadavg()
    const steadyStarted = new Date().toISOString()
    const sample = async (): Promise<void> => {
      const at = (performance.now() - steadyStart) / 60_000
      const [em, jm, ef, jf] = await Promise.all([edge!.memory(false), ej.memory(false), openFiles(edge!.pid), openFiles(ej.pid)])
      const t = totals()
      samples.push({
        minutes: Math.round(at * 10_000) / 10_000,
        edge_heap_used: em.heapUsed,
        edge_rss: em.rss,
        ejabberd_memory: jm.total,
        edge_open_files: ef,
        ejabberd_open_files: jf,
        online: t.online,
        sent: t.sent - base.sent,
        received: t.received - base.received,
        load1: Math.round((os.loadavg()[0] ?? 0) * 100) / 100
      })
    }
    for (const p of pools) p.send({ type: 'send', rate: opts.messageRate / workers, seconds: opts.soakSeconds, recipients })
    const sendEnd = steadyStart + opts.soakSeconds * 1000
    let nextSample = steadyStart
    while (performance.now() < sendEnd) {
      if (performance.now() >= nextSample) {
        nextSample += opts.sampleSeconds * 1000
        await sample()
      }
      const t = totals()
      const last = samples[samples.length - 1]
      progress.update(`soak: ${((performance.now() - steadyStart) / 1000).toFixed(0)}/${opts.soakSeconds} s  sent ${t.sent - base.sent}  received ${t.received - base.received}  online ${t.online}  edge heap ${((last?.edge_heap_used ?? 0) / 2 ** 20).toFixed(1)} MiB`)
      await sleep(Math.max(50, Math.min(1000, nextSample - performance.now(), sendEnd - performance.now())))
    }
    await sample()
    const loadEnd = os.loadavg()
    const steadyEnded = new Date().toISOString()
    progress.done()

    // The drain: on a busy machine a worker may still be sending after sendEnd, so it is done when
    // sending stopped (no new send for 1.5 s) and everything sent arrived, or when nothing moved
    // for 10 s (120 s at most): a late message is late, not lost.
    let last = { sent: -1, received: -1 }
    let movedAt = performance.now()
    let sentMovedAt = performance.now()
    const drainUntil = performance.now() + 120_000
    for (;;) {
      const t = totals()
      const now = performance.now()
      if (t.sent !== last.sent) sentMovedAt = now
      if (t.sent !== last.sent || t.received !== last.received) movedAt = now
      last = { sent: t.sent, received: t.received }
      if (t.received >= t.sent && now - sentMovedAt > 1500) break
      if (now - movedAt > 10_000 || now > drainUntil) break
      await sleep(250)
    }
    const gcEnd = await afterGc()
    // Progress reports are 0.5 s apart: the exact counts come from the workers themselves.
    const final = await collect()
    const h = newHistogram()
    for (const s of final) h.add(decodeHistogram(s.histogram))
    const sum = (k: 'sent' | 'received' | 'duplicated' | 'reordered'): number => final.reduce((a, s) => a + s[k], 0)
    const messages = { rate: opts.messageRate, seconds: opts.soakSeconds, sent: sum('sent'), received: sum('received'), lost: Math.max(0, sum('sent') - sum('received')), duplicated: sum('duplicated'), reordered: sum('reordered') }
    log(`soak: ${messages.sent} sent, ${messages.received} received, ${messages.lost} lost, ${messages.duplicated} duplicated, ${messages.reordered} reordered`)
    const result: SoakResult = {
      sessions: { asked: n, bosh: nBosh, ws: nWs, online, failed, failures: tableOf(final, 'failures'), dropped: tableOf(final, 'dropped'), login_seconds: Math.round(loginSeconds * 10) / 10 },
      messages,
      latency_ms: latencyOf(h),
      sample_seconds: opts.sampleSeconds,
      samples,
      after_gc: { start: gcStart, end: gcEnd },
      load_start: loadStart.map(v => Math.round(v * 100) / 100),
      load_end: loadEnd.map(v => Math.round(v * 100) / 100),
      steady_started: steadyStarted,
      steady_ended: steadyEnded
    }
    await Promise.all(pools.map(async p => { await p.logout() }))
    return result
  } finally {
    await Promise.all(pools.map(async p => { await p.close() }))
    if (edge !== undefined) await edge.stop()
    await ej.stop()
  }
}

/** 127.0.0.x moved `by` addresses on (within 127.0.0.2-251): the WebSocket pool's own sources. */
function shift (addr: string, by: number): string {
  const last = Number(addr.split('.')[3])
  return `127.0.0.${2 + ((last - 2 + by) % 250)}`
}
