/**
 * The ceiling of the server's own BOSH on this machine (`--ramp STEP`): sessions logged in through
 * mod_bosh (or Prosody's) in steps of STEP, each then holding a long-poll (wait=--wait, hold=1),
 * until a step has a failed login or a session that ended unasked. The ceiling is the last count
 * at which every session was online; the first failing step says what failed (timeouts, resets,
 * HTTP errors) and the server's open files say why. Memory is read at every step while the node
 * still answers (the read goes over an Erlang distribution socket, which needs a file too).
 */
import { WorkerPool } from './children.ts'
import { openFilesOf } from './ejabberd.ts'
import { tableOf, workerInits, type RunContext, type Target } from './e2e.ts'
import type { ServerMemory } from './server.ts'
import { Progress, kib, sleep } from './progress.ts'

export interface RampStep {
  /** sessions started in all by the end of this step */
  started: number
  online: number
  failed: number
  dropped: number
  seconds: number
  /** the server's memory over its baseline per online session, null when the node did not answer */
  server_bytes_per_session: number | null
  server_open_files: number | null
}

export interface RampResult {
  target: string
  step: number
  max: number
  /** the ceiling: most sessions online with none failed or dropped so far */
  last_good: number
  /** why the ramp stopped: 'failures' (a step failed) or 'ramp-max' (nothing failed up to --ramp-max) */
  stopped_by: 'failures' | 'ramp-max'
  /** the first failing step's conditions (BOSH terminate, socket or HTTP error, login-timeout) */
  failures: Record<string, number>
  dropped: Record<string, number>
  /** the server's memory per session at the ceiling */
  server_bytes_per_session_at_ceiling: number | null
  steps: RampStep[]
}

/** Shares `total` sessions out over workers holding `counts` each, in proportion. */
function shares (counts: number[], total: number): number[] {
  const all = counts.reduce((a, b) => a + b, 0)
  return counts.map(c => Math.min(c, Math.round(total * c / all)))
}

export async function runRamp (ctx: RunContext, target: Target): Promise<RampResult> {
  const { opts, ej } = ctx
  const progress = new Progress()
  const inits = workerInits({
    type: 'init', transport: target.transport, url: target.url, domain: ctx.domain, users: ctx.users,
    maxSockets: 0, wait: opts.wait, hold: 1, loginTimeout: opts.rampTimeout, loginsInFlight: opts.loginsInFlight, loginDepth: 'full'
  }, opts.rampMax, opts.perWorker, opts.addresses)
  const counts = inits.map(i => i.count)
  const pool = await WorkerPool.start(inits)
  const memory = async (): Promise<ServerMemory | undefined> => {
    if (ej === undefined) return undefined
    // A node out of files cannot accept the hidden node that reads it: no figure for that step.
    try { return await Promise.race([ej.memory(false), sleep(30_000).then(() => undefined)]) } catch { return undefined }
  }
  const steps: RampStep[] = []
  let lastGood = 0
  let atCeiling: number | null = null
  let stoppedBy: RampResult['stopped_by'] = 'ramp-max'
  try {
    const baseline = await memory()
    for (let goal = Math.min(opts.ramp, opts.rampMax); ; goal = Math.min(goal + opts.ramp, opts.rampMax)) {
      const upTo = shares(counts, goal)
      const started = upTo.reduce((a, b) => a + b, 0)
      const t0 = performance.now()
      const previous = steps.at(-1)?.started ?? 0
      pool.send(i => ({ type: 'login', rate: opts.rampRate / pool.workers.length, upTo: upTo[i] ?? 0 }))
      const deadline = t0 + (started - previous) / opts.rampRate * 1000 + opts.rampTimeout * 1000 + 15_000
      for (;;) {
        await sleep(250)
        const t = pool.totals()
        progress.update(`${target.name} ramp: ${started} started  online ${t.online}  failed ${t.failed}  dropped ${t.dropped ?? 0}`)
        // Counted, not the workers' done flags: a flag can still be the previous step's.
        if (t.online + t.failed + (t.dropped ?? 0) >= started || performance.now() > deadline) break
      }
      progress.done()
      const t = pool.totals()
      const m = await memory()
      const files = ej !== undefined ? await openFilesOf(ej.pid).catch(() => null) : null
      const perSession = m !== undefined && baseline !== undefined && t.online > 0 ? Math.round((m.total - baseline.total) / t.online) : null
      const step: RampStep = { started, online: t.online, failed: t.failed, dropped: t.dropped ?? 0, seconds: Math.round((performance.now() - t0) / 100) / 10, server_bytes_per_session: perSession, server_open_files: files }
      steps.push(step)
      const good = t.failed === 0 && (t.dropped ?? 0) === 0 && t.online === started
      ctx.log(`${target.name} ramp: ${started} started, ${t.online} online, ${t.failed} failed, ${step.dropped} dropped in ${step.seconds} s; ${ej?.name ?? 'server'} ${perSession !== null ? `${kib(perSession)}/session` : 'memory unreadable'}, ${files ?? '?'} open files${good ? '' : '  <- first failures'}`)
      if (!good) { stoppedBy = 'failures'; break }
      lastGood = t.online
      atCeiling = perSession
      if (started >= opts.rampMax || goal >= opts.rampMax) break
    }
    const stats = await pool.collect()
    const result: RampResult = {
      target: target.name,
      step: opts.ramp,
      max: opts.rampMax,
      last_good: lastGood,
      stopped_by: stoppedBy,
      failures: tableOf(stats, 'failures'),
      dropped: tableOf(stats, 'dropped'),
      server_bytes_per_session_at_ceiling: atCeiling,
      steps
    }
    const conditions = Object.entries(result.failures).concat(Object.entries(result.dropped).map(([k, v]) => [`dropped:${k}`, v] as [string, number]))
    ctx.log(`${target.name} ramp: ceiling ${lastGood} sessions (${stoppedBy === 'failures' ? `first failures: ${conditions.map(([k, v]) => `${k} ${v}`).join(', ')}` : `nothing failed up to --ramp-max ${opts.rampMax}`})`)
    await pool.logout()
    return result
  } finally {
    await pool.close()
    if (ej !== undefined) {
      const until = Date.now() + 60_000
      while (Date.now() < until && await ej.connectedUsers().catch(() => 0) > 0) await sleep(1000)
    }
  }
}
