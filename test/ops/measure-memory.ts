/**
 * Not a test (no .test.ts): a measurement for docs/operations.md "Sizing". Spawns a real edge
 * process in front of a throwaway ejabberd, opens BOSH sessions from this process in steps (each
 * logged in and holding one empty request, as an idle browser does), and reads the
 * edge's own /metrics (RSS, V8 heap used) at each step. The slope between steps is the memory a
 * session costs the edge; the fixed costs (the table, the timer wheels) cancel out.
 *
 *   node --import tsx test/ops/measure-memory.ts [sessions per step, default 2000] [steps, default 3]
 */
import { cpus, totalmem } from 'node:os'
import { startEjabberd } from '../fixtures/ejabberd.ts'
import { edgeEnv, waitFor } from '../fixtures/edge.ts'
import { EdgeProcess, RawBosh, scrape, sum } from './helpers.ts'

const step = Number(process.argv[2] ?? 2000)
const steps = Number(process.argv[3] ?? 3)
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`)
// Logged-in sessions: ejabberd ends streams that never authenticate, which would answer the
// held requests while we measure.
const users: Record<string, string> = {}
for (let i = 0; i < step * steps; i++) users[`m${i}`] = 'pw'
const ej = await startEjabberd({ users })
const edge = new EdgeProcess(edgeEnv(ej, {
  MEGAPHONE_LOG_LEVEL: 'info',
  // Held requests must not be answered while we measure.
  MEGAPHONE_MAX_WAIT: '600'
}))
try {
  const bosh = String((await edge.line('BOSH listening')).url)
  const admin = String((await edge.line('admin listening')).url).replace(/\/metrics$/, '')
  await waitFor(async () => (await fetch(`${admin}/readyz`)).status === 200, 15_000, 'ready')
  const held: Array<Promise<string>> = []
  const points: Array<{ n: number, rss: number, heap: number }> = []
  const sample = async (n: number): Promise<void> => {
    await new Promise(resolve => setTimeout(resolve, 3000))
    const m = await scrape(admin)
    points.push({ n, rss: sum(m, 'process_resident_memory_bytes'), heap: sum(m, 'nodejs_heap_size_used_bytes') })
    console.log(`${n} sessions: RSS ${(points.at(-1)!.rss / 2 ** 20).toFixed(1)} MiB, heap used ${(points.at(-1)!.heap / 2 ** 20).toFixed(1)} MiB, held ${sum(m, 'megaphone_bosh_held_requests')}`)
  }
  await sample(0)
  for (let k = 1; k <= steps; k++) {
    for (let i = 0; i < step; i += 200) {
      const first = (k - 1) * step + i
      const batch = await Promise.all(Array.from({ length: Math.min(200, step - i) }, async (_, j) => await RawBosh.login(bosh, `m${first + j}`, 'pw', { wait: 600 })))
      for (const s of batch) held.push(s.request('').catch(() => ''))
    }
    await sample(k * step)
  }
  for (let k = 1; k < points.length; k++) {
    const a = points[k - 1]!
    const b = points[k]!
    console.log(`${a.n}→${b.n}: ${((b.rss - a.rss) / (b.n - a.n) / 1024).toFixed(2)} KiB RSS, ${((b.heap - a.heap) / (b.n - a.n) / 1024).toFixed(2)} KiB heap per session`)
  }
} finally {
  edge.kill('SIGKILL')
  await edge.exited
  await ej.stop()
}
process.exit(0)
