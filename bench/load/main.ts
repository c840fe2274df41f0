/**
 * The load harness (docs/benchmarks.md): `npm run bench:load -- [options]`, options in --help.
 *
 * A full run starts a throwaway ejabberd with mod_megaphone (scripts/ejabberd.sh), registers the
 * users in bulk, runs the same N sessions, login rate and message rate through each target in
 * turn (the edge with mod_megaphone, ejabberd's own mod_bosh and its own WebSocket), then the
 * edge alone against a null backend, and writes bench/results/summary.json, the charts and the
 * ratios. Every process it starts ends with it.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { resolve } from 'node:path'
import { machineLine, commit } from '../lib/report.ts'
import { memoryChart, latencyChart, edgeChart } from './charts.ts'
import { BenchEjabberd } from './ejabberd.ts'
import { BenchProsody } from './prosody.ts'
import type { BenchServer } from './server.ts'
import { runTarget, type RunContext, type Target, type TargetResult } from './e2e.ts'
import { runEdgeHeld, runEdgeSessions, type EdgeHeldResult, type EdgeSessionsResult } from './edge-only.ts'
import type { User } from './ipc.ts'
import { parseOptions, usage, UsageError, type LoadOptions } from './options.ts'
import { runRamp, type RampResult } from './ramp.ts'
import { runSoak } from './soak.ts'
import { soakClean, writeSoak } from './soak-report.ts'
import { kib } from './progress.ts'

const ROOT = resolve(import.meta.dirname, '../..')

const TARGETS: Record<string, (ej: BenchServer | undefined, o: LoadOptions) => Target> = {
  megaphone: () => ({ name: 'megaphone', transport: 'bosh', viaEdge: true, url: 'http://127.0.0.1:PORT/http-bind' }),
  megaphone_ws: () => ({ name: 'megaphone_ws', transport: 'ws', viaEdge: true, url: 'ws://127.0.0.1:PORT/xmpp-websocket' }),
  mod_bosh: ej => ({ name: 'mod_bosh', transport: 'bosh', viaEdge: false, url: ej?.boshUrl ?? '' }),
  ejabberd_ws: ej => ({ name: 'ejabberd_ws', transport: 'ws', viaEdge: false, url: ej?.wsUrl ?? '' }),
  prosody_bosh: ej => ({ name: 'prosody_bosh', transport: 'bosh', viaEdge: false, url: ej?.boshUrl ?? '' }),
  prosody_ws: ej => ({ name: 'prosody_ws', transport: 'ws', viaEdge: false, url: ej?.wsUrl ?? '' }),
  bosh: (_ej, o) => ({ name: 'bosh', transport: 'bosh', viaEdge: false, url: o.boshUrl }),
  ws: (_ej, o) => ({ name: 'ws', transport: 'ws', viaEdge: false, url: o.wsUrl })
}

async function readUsers (file: string): Promise<User[]> {
  const text = await readFile(file, 'utf8')
  return text.split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#')).map(l => {
    const [name = '', password = ''] = l.split(/\s+/)
    return { name: name.replace(/@.*$/, ''), password }
  })
}

interface Ratio { metric: string, megaphone: number, other: number, ratio: number }

/** megaphone ÷ each baseline, for the figures the issue names. */
function ratios (results: TargetResult[], server = 'ejabberd'): Record<string, Ratio[]> {
  const mp = results.find(r => r.name === 'megaphone')
  const out: Record<string, Ratio[]> = {}
  if (mp === undefined) return out
  for (const other of results.filter(r => r !== mp && r.name !== 'megaphone_ws')) {
    const rows: Array<[string, number, number]> = [
      [`${server} bytes/session (idle)`, mp.ejabberd?.bytes_per_session ?? 0, other.ejabberd?.bytes_per_session ?? 0],
      [`${server} bytes/session (after GC)`, mp.ejabberd?.bytes_per_session_after_gc ?? 0, other.ejabberd?.bytes_per_session_after_gc ?? 0],
      ['latency p50 (ms)', mp.latency_ms.p50, other.latency_ms.p50],
      ['latency p99 (ms)', mp.latency_ms.p99, other.latency_ms.p99],
      ['latency p99.9 (ms)', mp.latency_ms.p999, other.latency_ms.p999],
      ['latency max (ms)', mp.latency_ms.max, other.latency_ms.max],
      ['login rate (/s)', mp.login.rate, other.login.rate],
      ['login p99 (ms)', mp.login.p99_ms, other.login.p99_ms],
      ['messages/s with p99 < 100 ms', mp.sweep?.max_rate_p99_under_100ms ?? 0, other.sweep?.max_rate_p99_under_100ms ?? 0],
      [`${server} CPU s / 1,000 msgs`, mp.cpu.ejabberd_per_1000_messages, other.cpu.ejabberd_per_1000_messages],
      [`${server}+edge CPU s / 1,000 msgs`, mp.cpu.total_per_1000_messages, other.cpu.total_per_1000_messages]
    ]
    const round = (v: number): number => Math.round(v * 1000) / 1000
    out[other.name] = rows.map(([metric, a, b]) => ({ metric, megaphone: round(a), other: round(b), ratio: b === 0 ? 0 : round(a / b) }))
  }
  return out
}

function printRatios (r: Record<string, Ratio[]>): void {
  for (const [other, rows] of Object.entries(r)) {
    console.log(`\nmegaphone vs ${other} (ratio = megaphone / ${other}):`)
    for (const row of rows) {
      console.log(`  ${row.metric.padEnd(34)} ${String(row.megaphone).padStart(10)} ${String(row.other).padStart(10)}   ${row.ratio.toFixed(2)}x`)
    }
  }
}

/**
 * The first target's figures at the summary's top level (the keys a 100,000-session summary is
 * read by) and, with --ramp, the server's own BOSH's ceiling measured in the same run (null when
 * the ramp itself failed) and the ratios.
 */
function headline (first: TargetResult | undefined, ramp: RampResult | undefined, rampAsked: boolean): Record<string, unknown> {
  const logged = first?.sessions ?? 0
  const top = {
    logged_in: logged,
    failed_logins: first?.failed ?? 0,
    ejabberd_bytes_per_session: first?.ejabberd?.bytes_per_session ?? null,
    ejabberd_bytes_per_session_after_gc: first?.ejabberd?.bytes_per_session_after_gc ?? null
  }
  if (!rampAsked) return top
  if (ramp === undefined) return { ...top, mod_bosh_ceiling: null }
  return {
    ...top,
    mod_bosh_ceiling: ramp.last_good,
    mod_bosh_ceiling_stopped_by: ramp.stopped_by,
    mod_bosh_ejabberd_bytes_per_session_at_ceiling: ramp.server_bytes_per_session_at_ceiling,
    ejabberd_bytes_per_session_to_mod_bosh: first?.ejabberd !== undefined && ramp.server_bytes_per_session_at_ceiling !== null && ramp.server_bytes_per_session_at_ceiling > 0
      ? Math.round(first.ejabberd.bytes_per_session / ramp.server_bytes_per_session_at_ceiling * 1000) / 1000
      : null,
    sessions_to_mod_bosh_ceiling: ramp.last_good > 0 ? Math.round(logged / ramp.last_good * 100) / 100 : null,
    mod_bosh_ramp: ramp
  }
}

async function main (): Promise<number> {
  let opts: LoadOptions
  try {
    opts = parseOptions(process.argv.slice(2))
  } catch (err) {
    if (err instanceof UsageError || (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`${err.message}\n\n${usage()}`)
      return 2
    }
    throw err
  }
  if (opts.help) { console.log(usage()); return 0 }

  const wallStart = performance.now()
  const loadStart = Math.round(os.loadavg()[0]! * 100) / 100
  const outDir = resolve(ROOT, opts.out)
  await mkdir(outDir, { recursive: true })
  const machine = machineLine()
  const command = `npm run bench:load${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`
  const logLines: string[] = [machine, command]
  const log = (line: string): void => { console.log(line); logLines.push(line) }
  console.log(machine)
  if (opts.mode === 'soak') {
    // process.exit runs the 'exit' hooks that kill ejabberd and every child (a signal alone would not).
    process.once('SIGINT', () => process.exit(130))
    process.once('SIGTERM', () => process.exit(143))
    const result = await runSoak(opts, log)
    const lines = await writeSoak(outDir, result, { machine, node: process.version, commit: commit(), command, wall_seconds: Math.round((performance.now() - wallStart) / 100) / 10 })
    for (const line of lines) log(line)
    await writeFile(resolve(outDir, 'soak-run.log'), logLines.join('\n') + '\n')
    // A loss, a duplicate or a reordering fails the run: the figures say which.
    return soakClean(result) ? 0 : 1
  }

  const foreign = opts.usersFile !== ''
  const results: TargetResult[] = []
  let ej: BenchServer | undefined
  let backlogs: Array<{ port: number, module: string, backlog: number }> = []
  let edgeSessions: EdgeSessionsResult | undefined
  let edgeHeld: EdgeHeldResult | undefined
  let ramp: RampResult | undefined
  const errors: string[] = []
  const stopping = async (): Promise<void> => { if (ej !== undefined) { const e = ej; ej = undefined; await e.stop() } }
  process.once('SIGINT', () => { void stopping().finally(() => process.exit(130)) })
  process.once('SIGTERM', () => { void stopping().finally(() => process.exit(143)) })
  try {
    if (opts.mode !== 'edge-only') {
      let users: RunContext['users']
      if (foreign) {
        users = await readUsers(opts.usersFile)
        if (users.length < opts.sessions) throw new UsageError(`--users-file has ${users.length} users, --sessions asks for ${opts.sessions}`)
      } else {
        ej = opts.server === 'prosody' ? await BenchProsody.start() : await BenchEjabberd.start()
        const t0 = performance.now()
        // The ramp logs in users 1..--ramp-max: every one of them registered too.
        const registered = await ej.registerBulk('bench', Math.max(opts.sessions, opts.ramp > 0 ? opts.rampMax : 0), opts.password)
        log(`${ej.name} ${ej.domain} (pid ${ej.pid}): registered ${registered} users in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
        backlogs = await ej.backlogs()
        log(`listener backlogs: ${backlogs.map(b => `${b.module}:${b.port}=${b.backlog}`).join(', ')}`)
        users = { prefix: 'bench', password: opts.password, count: opts.sessions }
      }
      const ctx: RunContext = { opts, users, ej, domain: foreign ? opts.domain : (ej?.domain ?? 'localhost'), log }
      const names = foreign ? [...(opts.boshUrl !== '' ? ['bosh'] : []), ...(opts.wsUrl !== '' ? ['ws'] : [])] : opts.targets
      for (const name of names) {
        const make = TARGETS[name]
        if (make === undefined) continue
        log(`\n== ${name}: ${opts.sessions} sessions, ${opts.rate} logins/s, ${opts.messageRate} messages/s for ${opts.messageSeconds} s`)
        results.push(await runTarget(ctx, make(ej, opts)))
      }
      // The server's own BOSH ramped to its first failures, on the node the targets ran on.
      if (opts.ramp > 0 && ej !== undefined) {
        const own = opts.server === 'prosody' ? 'prosody_bosh' : 'mod_bosh'
        log(`\n== ${own} ramp: steps of ${opts.ramp} logins at ${opts.rampRate}/s, each session holding a long-poll, up to ${opts.rampMax}, until the first failure`)
        try { ramp = await runRamp(ctx, TARGETS[own]!(ej, opts)) } catch (err) { errors.push(`ramp: ${String(err)}`); log(`ramp: failed: ${String(err)}`) }
      }
      await stopping()
    }
    if (opts.mode !== 'e2e' && !foreign) {
      // A phase that fails is reported and the others still run: the summary keeps what was measured.
      if (opts.edgeSessions > 0) {
        log(`\n== edge only: ${opts.edgeSessions} BOSH sessions kept alive by polling, one edge, null backend`)
        try { edgeSessions = await runEdgeSessions(opts, log) } catch (err) { errors.push(`edge-only sessions: ${String(err)}`); log(`edge-only: failed: ${String(err)}`) }
      }
      if (opts.edgeHeld > 0) {
        log(`\n== edge only: ${opts.edgeHeld} held long-polls, one edge, null backend`)
        try { edgeHeld = await runEdgeHeld(opts, log) } catch (err) { errors.push(`edge-only held: ${String(err)}`); log(`edge-only held: failed: ${String(err)}`) }
      }
    }
  } finally {
    await stopping()
  }

  const r = ratios(results, opts.server)
  if (results.length > 0) printRatios(r)
  const wallSeconds = Math.round((performance.now() - wallStart) / 100) / 10
  const pick = (name: string): Record<string, unknown> | undefined => {
    const t = results.find(x => x.name === name)
    if (t === undefined) return undefined
    return {
      sessions: t.sessions,
      ejabberd_bytes_per_session: t.ejabberd?.bytes_per_session ?? null,
      ejabberd_bytes_per_session_after_gc: t.ejabberd?.bytes_per_session_after_gc ?? null,
      latency_ms: { p50: t.latency_ms.p50, p99: t.latency_ms.p99, p999: t.latency_ms.p999, max: t.latency_ms.max },
      logged_in: t.sessions,
      failed_logins: t.failed,
      login_rate: t.login.rate,
      login_ms: { p50: t.login.p50_ms, p99: t.login.p99_ms, max: t.login.max_ms },
      lost_messages: t.messages.lost,
      duplicated_messages: t.messages.duplicated,
      cpu_seconds_per_1000_messages: t.cpu.ejabberd_per_1000_messages,
      max_rate_p99_under_100ms: t.sweep?.max_rate_p99_under_100ms ?? null,
      ...(t.edge !== undefined ? { edges: t.edge.edges, edge_rss_bytes_per_session: t.edge.rss_bytes_per_session, edge_heap_bytes_per_session: t.edge.heap_bytes_per_session } : {}),
      ...(t.open_files !== undefined ? { open_files: t.open_files } : {})
    }
  }
  const summary = {
    machine,
    node: process.version,
    commit: commit(),
    command,
    started: new Date(Date.now() - (performance.now() - wallStart)).toISOString(),
    finished: new Date().toISOString(),
    // The machine is shared: its 1-minute load average when the run started and when it ended.
    load_average: { start: loadStart, end: Math.round(os.loadavg()[0]! * 100) / 100 },
    wall_seconds: wallSeconds,
    sessions: opts.sessions,
    // The server behind every target; with prosody, the ejabberd_* figures below are Prosody's.
    server: opts.server,
    ...Object.fromEntries(results.map(t => [t.name, pick(t.name)])),
    lost_messages: results.reduce((a, t) => a + t.messages.lost, 0),
    duplicated_messages: results.reduce((a, t) => a + t.messages.duplicated, 0),
    reordered_messages: results.reduce((a, t) => a + t.messages.reordered, 0),
    edge_heap_bytes_per_session: edgeSessions !== undefined ? { bytes: edgeSessions.heap_bytes_per_session, sessions: edgeSessions.sessions } : null,
    edge_heap_bytes_per_held_poll: edgeHeld !== undefined ? { bytes: edgeHeld.heap_bytes_per_held, held: edgeHeld.held } : null,
    ratios: r,
    ...(results.length > 0 || opts.ramp > 0 ? headline(results[0], ramp, opts.ramp > 0) : {}),
    errors,
    listener_backlogs: backlogs,
    targets: results,
    edge_only: { sessions: edgeSessions ?? null, held: edgeHeld ?? null }
  }
  await writeFile(resolve(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n')
  if (results.length > 0) {
    await writeFile(resolve(outDir, 'memory-vs-sessions.svg'), memoryChart(results))
    await writeFile(resolve(outDir, 'latency.svg'), latencyChart(results))
  }
  if (edgeSessions !== undefined) await writeFile(resolve(outDir, 'edge-memory.svg'), edgeChart(edgeSessions))
  if (ramp !== undefined) log(`\n${results[0]?.name ?? 'first target'}: ${results[0]?.sessions ?? 0} sessions logged in; ${ramp.target} ceiling ${ramp.last_good} (${ramp.stopped_by}); ratio ${ramp.last_good > 0 ? ((results[0]?.sessions ?? 0) / ramp.last_good).toFixed(2) : '-'}x`)
  log(`\nwall time ${wallSeconds} s; summary, charts and log in ${opts.out}/`)
  if (edgeSessions !== undefined) log(`edge heap ${kib(edgeSessions.heap_bytes_per_session)}/session at ${edgeSessions.sessions} sessions`)
  await writeFile(resolve(outDir, 'run.log'), logLines.join('\n') + '\n')
  return errors.length > 0 ? 1 : 0
}

process.exitCode = await main()
