/**
 * The edge under test, in a process of its own so that its memory and CPU are its own: calls
 * runEdge (src/run-edge.ts) with the flags it is given (src/config/schema.ts), says which port
 * it listens on, and answers memory requests over IPC (with a full GC first when asked: it runs
 * with --expose-gc). Started by the harness (edge.ts); ends when the harness goes away.
 */
import { loadConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/log.ts'
import { runEdge } from '../../src/run-edge.ts'
import { isMessage, post, type FromEdge, type MemorySample, type ToEdge } from './ipc.ts'

const gc = (globalThis as { gc?: () => void }).gc

function sample (collect: boolean): MemorySample {
  // Several passes: the first ones only move survivors to old space and queue finalizers.
  if (collect && gc !== undefined) for (let i = 0; i < 4; i++) gc()
  const m = process.memoryUsage()
  const cpu = process.cpuUsage()
  return { type: 'memory', rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, cpuUser: cpu.user, cpuSystem: cpu.system }
}

try {
  const config = loadConfig(process.argv.slice(2), process.env)
  const running = await runEdge(config, createLogger(config.logLevel))
  const until = Date.now() + 15_000
  while (!running.linkUp() && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 25))
  if (!running.linkUp()) throw new Error('the link did not come up within 15 s')
  process.on('message', (m: unknown) => {
    if (!isMessage(m)) return
    const msg = m as ToEdge
    if (msg.type === 'memory') post(process, sample(msg.gc))
    if (msg.type === 'stop') {
      // A graceful stop answers every held request; the harness kills us if it takes too long.
      void running.stop().finally(() => {
        post(process, { type: 'stopped' } satisfies FromEdge)
        process.exit(0)
      })
    }
  })
  process.on('disconnect', () => { process.exit(0) })
  post(process, { type: 'ready', port: running.port } satisfies FromEdge)
} catch (err) {
  post(process, { type: 'failed', error: err instanceof Error ? err.message : String(err) } satisfies FromEdge)
  process.exit(1)
}
