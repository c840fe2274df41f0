/**
 * The load harness (bench/load) at a tiny scale, run the way an operator runs it: its own
 * throwaway ejabberd, a few sessions through the edge, mod_bosh and ejabberd's WebSocket, then
 * the edge alone against the null backend. Checks what the harness promises to write (the
 * summary's fields, the charts, the ratios), and that nothing was lost on the way; it never
 * checks how fast anything was (docs/benchmarks.md has the figures of full runs).
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { startEjabberd } from '../fixtures/ejabberd.ts'

const ROOT = new URL('../..', import.meta.url).pathname

interface Run { code: number | null, out: string }

async function harness (args: string[]): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/load/main.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { out += chunk.toString() })
  const code = await new Promise<number | null>(resolve => child.on('exit', c => resolve(c)))
  return { code, out }
}

void t.test('--help lists every option with its default', async t => {
  const r = await harness(['--help'])
  t.equal(r.code, 0)
  for (const flag of ['--sessions', '--rate', '--message-rate', '--targets', '--edges', '--ramp', '--edge-sessions', '--edge-held', '--users-file', '--out']) {
    t.match(r.out, flag)
  }
})

void t.test('a bad option says which and exits 2', async t => {
  const r = await harness(['--sessions', 'many'])
  t.equal(r.code, 2)
  t.match(r.out, /--sessions: must be a non-negative integer/)
  const u = await harness(['--targets', 'megaphone,prosody'])
  t.equal(u.code, 2)
  t.match(u.out, /unknown target prosody/)
})

void t.test('a tiny full run writes the summary, the charts and the ratios', async t => {
  const out = await mkdtemp(join(tmpdir(), 'megaphone-bench-'))
  t.teardown(async () => { await rm(out, { recursive: true, force: true }) })
  const r = await harness([
    '--sessions', '12', '--rate', '40', '--message-rate', '40', '--message-seconds', '2', '--idle', '1',
    '--sweep-rates', '60', '--sweep-seconds', '1',
    '--targets', 'megaphone,mod_bosh,ejabberd_ws', '--per-worker', '6', '--addresses', '3',
    '--edge-sessions', '60', '--edge-held', '30', '--out', out
  ])
  t.equal(r.code, 0, r.out.slice(-2000))
  t.match(r.out, /^machine: .*node v\d+.*commit /m, 'the machine line comes first')
  t.match(r.out, /megaphone vs mod_bosh \(ratio = megaphone \/ mod_bosh\)/)
  t.match(r.out, /megaphone vs ejabberd_ws/)
  t.match(r.out, /messages\/s with p99 < 100 ms/)

  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Record<string, unknown>
  t.same(summary.errors, [], 'every phase ran')
  t.equal(summary.sessions, 12)
  for (const name of ['megaphone', 'mod_bosh', 'ejabberd_ws']) {
    const s = summary[name] as { sessions: number, ejabberd_bytes_per_session: number, latency_ms: { p50: number, p99: number }, lost_messages: number, duplicated_messages: number, max_rate_p99_under_100ms: number }
    t.equal(s.sessions, 12, `${name}: every session logged in`)
    t.ok(s.ejabberd_bytes_per_session !== null && Number.isFinite(s.ejabberd_bytes_per_session), `${name}: ejabberd memory per session read from the node`)
    t.ok(s.latency_ms.p50 > 0 && s.latency_ms.p99 >= s.latency_ms.p50, `${name}: latency percentiles`)
    t.equal(s.lost_messages, 0, `${name}: no message lost`)
    t.equal(s.duplicated_messages, 0, `${name}: no message duplicated`)
    t.ok(Number.isInteger(s.max_rate_p99_under_100ms), `${name}: the sweep's highest rate with p99 under 100 ms`)
  }
  t.equal(summary.lost_messages, 0)
  t.equal(summary.duplicated_messages, 0)
  t.equal(summary.reordered_messages, 0)
  const edge = summary.edge_heap_bytes_per_session as { bytes: number, sessions: number }
  t.equal(edge.sessions, 60, 'edge-only: every session created against the null backend')
  t.ok(Number.isFinite(edge.bytes), 'edge-only: heap per session')
  const held = summary.edge_heap_bytes_per_held_poll as { bytes: number, held: number }
  t.equal(held.held, 30, 'edge-only: every long-poll held')
  const backlogs = summary.listener_backlogs as Array<{ backlog: number }>
  t.ok(backlogs.length >= 3 && backlogs.every(b => b.backlog === 4096), 'backlog 4096 on every listener')

  const files = await readdir(out)
  for (const f of ['memory-vs-sessions.svg', 'latency.svg', 'edge-memory.svg', 'run.log']) t.ok(files.includes(f), f)
  t.match(await readFile(join(out, 'latency.svg'), 'utf8'), /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
})

void t.test('several edges: sessions dealt over two edge processes, then mod_bosh ramped in steps', async t => {
  const out = await mkdtemp(join(tmpdir(), 'megaphone-bench-edges-'))
  t.teardown(async () => { await rm(out, { recursive: true, force: true }) })
  const r = await harness([
    '--mode', 'e2e', '--targets', 'megaphone', '--sessions', '40', '--edges', '2', '--rate', '40',
    '--message-rate', '20', '--message-seconds', '2', '--idle', '1', '--sweep-rates', '',
    '--per-worker', '20', '--addresses', '4', '--ramp', '20', '--ramp-max', '40', '--out', out
  ])
  t.equal(r.code, 0, r.out.slice(-2000))
  t.match(r.out, /megaphone: 2 edges \(pids \d+, \d+\)/)
  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Record<string, unknown>
  t.same(summary.errors, [], 'every phase ran')
  t.equal(summary.sessions, 40)
  t.equal(summary.logged_in, 40, 'every session logged in through the two edges')
  t.equal(summary.lost_messages, 0, 'no message lost')
  t.equal(summary.duplicated_messages, 0, 'no message duplicated')
  const mp = summary.megaphone as { edges: number, open_files: { ejabberd: number, edges: number[], workers: number[] } }
  t.equal(mp.edges, 2, 'the edges\' memory added up over both')
  t.equal(mp.open_files.edges.length, 2, 'open files of each edge')
  t.equal(mp.open_files.workers.length, 2, 'open files of each client worker')
  t.ok(mp.open_files.ejabberd > 0, 'open files of ejabberd')
  t.ok(Number.isFinite(summary.ejabberd_bytes_per_session), 'ejabberd memory per session at the top')
  // 40 sessions are far below mod_bosh's ceiling: the ramp ends at --ramp-max with nothing failed.
  t.equal(summary.mod_bosh_ceiling, 40, 'every mod_bosh step logged in')
  t.equal(summary.mod_bosh_ceiling_stopped_by, 'ramp-max')
  const ramp = summary.mod_bosh_ramp as { steps: Array<{ started: number, online: number, failed: number }> }
  t.same(ramp.steps.map(s => [s.started, s.online, s.failed]), [[20, 20, 0], [40, 40, 0]], 'two steps of 20')
})

void t.test('a foreign deployment: a user list and the URLs of a running server, nothing started', async t => {
  // "Foreign" to the harness: an ejabberd it did not start, with users it did not register.
  const users: Record<string, string> = {}
  for (let i = 1; i <= 6; i++) users[`op${i}`] = `pw-${i}`
  const ej = await startEjabberd({ users })
  const out = await mkdtemp(join(tmpdir(), 'megaphone-bench-foreign-'))
  t.teardown(async () => { await ej.stop(); await rm(out, { recursive: true, force: true }) })
  const list = join(out, 'users.txt')
  await writeFile(list, '# localpart password\n' + Object.entries(users).map(([u, p]) => `${u} ${p}`).join('\n') + '\n')
  const r = await harness([
    '--users-file', list, '--domain', ej.domain,
    '--bosh-url', `http://127.0.0.1:${ej.httpPort}/bosh`, '--ws-url', `ws://127.0.0.1:${ej.httpPort}/ws`,
    '--sessions', '6', '--rate', '20', '--message-rate', '20', '--message-seconds', '2', '--idle', '0',
    '--sweep-rates', '', '--per-worker', '3', '--addresses', '2', '--out', out
  ])
  t.equal(r.code, 0, r.out.slice(-2000))
  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Record<string, { sessions: number, lost_messages: number, ejabberd_bytes_per_session: number | null } | undefined>
  for (const name of ['bosh', 'ws']) {
    const s = summary[name]
    t.equal(s?.sessions, 6, `${name}: every listed user logged in`)
    t.equal(s?.lost_messages, 0, `${name}: nothing lost`)
    t.equal(s?.ejabberd_bytes_per_session, null, `${name}: no node to read memory from`)
  }
  t.notOk('edge_heap_bytes_per_session' in summary && summary.edge_heap_bytes_per_session !== null, 'no edge-only run against a foreign deployment')
  t.equal(await ej.connectedUsers(), 0, 'every session logged out')
})
