/**
 * The load harness's soak mode at a tiny scale (100 sessions, half BOSH and half WebSocket,
 * through the edge for 20 s): every stamped message accounted for (0 lost, 0 duplicated, 0
 * reordered), every series sampled and given a slope, the summary and charts written. It never
 * checks a slope's value or how fast anything was: docs/reliability.md has the full run's figures.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const ROOT = new URL('../..', import.meta.url).pathname

interface Stats { samples: number, slope_per_minute: number, second_half_higher: boolean, start: number, end: number }
interface Summary {
  clean: boolean
  machine: string
  commit: string
  sessions: { asked: number, bosh: number, ws: number, online: number, failed: number }
  messages: { sent: number, received: number, lost: number, duplicated: number, reordered: number }
  series: Record<string, Stats>
  after_full_gc: { start: Record<string, number>, end: Record<string, number> }
  samples: Array<{ minutes: number }>
}

void t.test('a short soak accounts for every message and gives each sampled series a slope', async t => {
  const out = await mkdtemp(join(tmpdir(), 'megaphone-soak-'))
  t.teardown(async () => { await rm(out, { recursive: true, force: true }) })
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/load/main.ts',
    '--mode', 'soak', '--sessions', '100', '--soak-seconds', '8', '--sample-seconds', '1',
    '--message-rate', '50', '--rate', '100', '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let text = ''
  child.stdout.on('data', (c: Buffer) => { text += c.toString() })
  child.stderr.on('data', (c: Buffer) => { text += c.toString() })
  const code = await new Promise<number | null>(resolve => child.on('exit', c => { resolve(c) }))
  t.equal(code, 0, text.slice(-3000))
  t.match(text, /^machine: .*node v\d+.*commit /m, 'the machine line comes first')
  for (const row of ['edge heap used', 'edge RSS', 'ejabberd erlang:memory(total)', 'edge open files', 'ejabberd open files']) t.match(text, `\n${row} `, `the printed table has a row for ${row}`)

  const s = JSON.parse(await readFile(join(out, 'soak-summary.json'), 'utf8')) as Summary
  t.equal(s.sessions.asked, 100)
  t.same([s.sessions.bosh, s.sessions.ws], [50, 50], 'half BOSH, half WebSocket')
  t.equal(s.sessions.online, 100, 'every session logged in')
  t.equal(s.sessions.failed, 0)
  t.ok(s.messages.sent > 0, 'messages were sent')
  t.equal(s.messages.received, s.messages.sent, 'every message received')
  t.equal(s.messages.lost, 0, '0 lost')
  t.equal(s.messages.duplicated, 0, '0 duplicated')
  t.equal(s.messages.reordered, 0, '0 reordered')
  t.equal(s.clean, true)
  t.ok(s.samples.length >= 3, 'sampled through the run')
  for (const name of ['edge_heap_used', 'edge_rss', 'ejabberd_memory', 'edge_open_files', 'ejabberd_open_files']) {
    const st = s.series[name]
    t.ok(st !== undefined && st.samples === s.samples.length, `${name}: every sample`)
    t.ok(st !== undefined && st.start > 0 && st.end > 0, `${name}: read from the process`)
    t.ok(st !== undefined && Number.isFinite(st.slope_per_minute), `${name}: a slope`)
    t.equal(typeof st?.second_half_higher, 'boolean', `${name}: halves compared`)
  }
  for (const k of ['edge_heap_used', 'edge_rss', 'ejabberd_memory']) {
    t.ok((s.after_full_gc.start[k] ?? 0) > 0 && (s.after_full_gc.end[k] ?? 0) > 0, `${k}: read after a full GC at both ends`)
  }
  const files = await readdir(out)
  for (const f of ['soak-memory.svg', 'soak-open-files.svg', 'soak-run.log']) t.ok(files.includes(f), f)
  t.match(await readFile(join(out, 'soak-memory.svg'), 'utf8'), /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
})

void t.test('--mode soak refuses a foreign deployment and a single session', async t => {
  const run = async (args: string[]): Promise<{ code: number | null, out: string }> => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/load/main.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString() })
    child.stderr.on('data', (c: Buffer) => { out += c.toString() })
    return { code: await new Promise<number | null>(resolve => child.on('exit', c => { resolve(c) })), out }
  }
  const one = await run(['--mode', 'soak', '--sessions', '1'])
  t.equal(one.code, 2)
  t.match(one.out, /--sessions at least 2/)
  const foreign = await run(['--mode', 'soak', '--users-file', '/dev/null', '--bosh-url', 'http://127.0.0.1:1/x'])
  t.equal(foreign.code, 2)
  t.match(foreign.out, /no --users-file/)
})
