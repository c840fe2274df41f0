/**
 * What forwarding between edges costs (issue 14, src/bosh/forward.ts): one ejabberd, two edge
 * processes of one deployment (ids a and b). A Strophe.js client logged in on edge a sends
 * messages to its own full JID; each one goes out in a request and comes back in the held
 * long-poll. Phase "direct": every request to a. Phase "forwarded": every request to b, which
 * forwards it to a. Same session, same messages, phases alternated; per phase the round-trip
 * p50/p99 and the CPU both edges spent per 1,000 messages (from /proc/PID/stat).
 *
 *   npm run bench:forward -- [messages per phase, default 500] [rounds, default 3]
 *
 * Uses the test fixtures' ejabberd and Strophe.js client (real parts, as the tests do).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { resolve } from 'node:path'
import { startEjabberd } from '../test/fixtures/ejabberd.ts'
import { XmppClient } from '../test/fixtures/strophe.ts'
import { freePorts } from './lib/ports.ts'
import { machineLine } from './lib/report.ts'

const perPhase = Number(process.argv[2] ?? 500)
const rounds = Number(process.argv[3] ?? 3)
const ROOT = resolve(import.meta.dirname, '..')
const TICKS = 100 // USER_HZ on Linux

function cpuSeconds (pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(f[11]) + Number(f[12])) / TICKS
}

async function startEdge (env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env: { ...process.env, ...env, MEGAPHONE_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolveUp, reject) => {
    createInterface({ input: child.stdout }).on('line', line => { if (line.includes('"link up"')) resolveUp() })
    child.on('exit', () => { reject(new Error('edge exited')) })
  })
  return child
}

const pct = (xs: number[], p: number): number => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0

console.log(machineLine())
const ej = await startEjabberd({ users: { alice: 'demo' }, logLevel: 'error' })
const [pa, pb] = await freePorts(2) as [number, number]
const urlA = `http://127.0.0.1:${pa}/http-bind`
const urlB = `http://127.0.0.1:${pb}/http-bind`
const common = { MEGAPHONE_LINK_PORT: String(ej.linkPort), MEGAPHONE_LINK_SECRET: ej.linkSecret, MEGAPHONE_ADMIN_PORT: '0', MEGAPHONE_EDGE_PEERS: `a=${urlA},b=${urlB}` }
const edges = [
  await startEdge({ ...common, MEGAPHONE_PORT: String(pa), MEGAPHONE_EDGE_ID: 'a' }),
  await startEdge({ ...common, MEGAPHONE_PORT: String(pb), MEGAPHONE_EDGE_ID: 'b' })
]
try {
  const alice = await XmppClient.login({ url: urlA, jid: 'alice@localhost/fwd', password: 'demo' })
  const me = (alice.conn as unknown as { jid: string }).jid
  const conn = alice.conn as unknown as { service: string }
  const results: Record<string, { rtt: number[], cpu: number, n: number }> = { direct: { rtt: [], cpu: 0, n: 0 }, forwarded: { rtt: [], cpu: 0, n: 0 } }
  const phase = async (name: 'direct' | 'forwarded', count: number, keep: boolean): Promise<void> => {
    conn.service = name === 'direct' ? urlA : urlB
    const cpu0 = edges.reduce((s, e) => s + cpuSeconds(e.pid ?? 0), 0)
    const rtt: number[] = []
    for (let i = 0; i < count; i++) {
      const body = `${name} ${i} ${Math.random()}`
      const t0 = performance.now()
      alice.sendMessage(me, body)
      await alice.waitForMessage(body)
      rtt.push(performance.now() - t0)
    }
    const cpu = edges.reduce((s, e) => s + cpuSeconds(e.pid ?? 0), 0) - cpu0
    if (keep) { const r = results[name]!; r.rtt.push(...rtt); r.cpu += cpu; r.n += count }
  }
  await phase('direct', 100, false) // warm-up
  await phase('forwarded', 100, false)
  for (let r = 0; r < rounds; r++) {
    await phase('direct', perPhase, true)
    await phase('forwarded', perPhase, true)
  }
  await alice.disconnect()
  const d = results.direct!
  const f = results.forwarded!
  console.log(`messages per phase ${perPhase} x ${rounds} rounds; round trip = a message to one's own JID, out in one request and back in the held one`)
  for (const [name, r] of Object.entries(results)) {
    console.log(`${name.padEnd(9)} p50 ${pct(r.rtt, 0.5).toFixed(2)} ms  p99 ${pct(r.rtt, 0.99).toFixed(2)} ms  edges' CPU ${(r.cpu / r.n * 1000).toFixed(3)} s per 1,000 messages`)
  }
  console.log(`forwarded / direct: p50 ${(pct(f.rtt, 0.5) / pct(d.rtt, 0.5)).toFixed(2)}x, p99 ${(pct(f.rtt, 0.99) / pct(d.rtt, 0.99)).toFixed(2)}x, CPU ${((f.cpu / f.n) / (d.cpu / d.n)).toFixed(2)}x; added p50 ${(pct(f.rtt, 0.5) - pct(d.rtt, 0.5)).toFixed(2)} ms`)
} finally {
  for (const e of edges) e.kill('SIGKILL')
  await ej.stop()
}
