/**
 * The harness's child processes: client workers, the edge under test and the null backend,
 * each a `node --import tsx` fork with an IPC channel. Every child is remembered so that the
 * harness ending any way (done, error, Ctrl-C) ends them all: a load run leaves nothing running.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { resolve } from 'node:path'
import {
  nextMessage, post, type FromBackend, type FromEdge, type FromWorker, type MemorySample, type ToWorker,
  type WorkerInit, type WorkerProgress, type WorkerStats
} from './ipc.ts'

const live = new Set<ChildProcess>()

function killAll (): void {
  for (const c of live) { try { c.kill('SIGKILL') } catch { /* gone */ } }
}
process.on('exit', killAll)

export function spawn (file: string, args: string[] = [], nodeArgs: string[] = []): ChildProcess {
  const child = fork(resolve(import.meta.dirname, file), args, {
    execArgv: ['--import', 'tsx', ...nodeArgs],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  live.add(child)
  child.on('exit', () => { live.delete(child) })
  return child
}

/** Asks a child to go, then makes sure it does. */
export async function end (child: ChildProcess, ask: object | undefined, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  if (ask !== undefined) post(child, ask)
  else child.kill('SIGTERM')
  const timer = setTimeout(() => { child.kill('SIGKILL') }, graceMs)
  await exited
  clearTimeout(timer)
}

/** What the workers' progress reports add up to. */
export type Totals = Omit<WorkerProgress, 'type'>

/** The client workers of one run. */
export class WorkerPool {
  private readonly progress: WorkerProgress[]

  private constructor (readonly workers: ChildProcess[]) {
    this.progress = workers.map(() => ({ type: 'progress', online: 0, failed: 0, sent: 0, received: 0, polls: 0, held: 0, done: false }))
    workers.forEach((w, i) => {
      w.on('message', (m: unknown) => {
        const p = m as FromWorker
        if (typeof m === 'object' && m !== null && p.type === 'progress') this.progress[i] = p
      })
    })
  }

  static async start (inits: WorkerInit[], heapMb = 4096): Promise<WorkerPool> {
    const workers = inits.map(() => spawn('worker.ts', [], [`--max-old-space-size=${heapMb}`]))
    const pool = new WorkerPool(workers)
    await Promise.all(workers.map(async (w, i) => {
      const ready = nextMessage(w, 'ready', 60_000)
      post(w, inits[i])
      await ready
    }))
    return pool
  }

  send (msg: ToWorker | ((i: number) => ToWorker)): void {
    this.workers.forEach((w, i) => { post(w, typeof msg === 'function' ? msg(i) : msg) })
  }

  totals (): Totals {
    const t: Totals = { online: 0, failed: 0, sent: 0, received: 0, polls: 0, held: 0, done: true, dropped: 0 }
    for (const p of this.progress) {
      t.dropped = (t.dropped ?? 0) + (p.dropped ?? 0)
      t.online += p.online
      t.failed += p.failed
      t.sent += p.sent
      t.received += p.received
      t.polls += p.polls
      t.held += p.held
      t.done &&= p.done
    }
    return t
  }

  async collect (): Promise<WorkerStats[]> {
    return await Promise.all(this.workers.map(async w => {
      const reply = nextMessage<WorkerStats>(w, 'stats', 120_000)
      post(w, { type: 'collect' } satisfies ToWorker)
      return await reply
    }))
  }

  async logout (): Promise<void> {
    await Promise.all(this.workers.map(async w => {
      const reply = nextMessage(w, 'logged-out', 120_000)
      post(w, { type: 'logout' } satisfies ToWorker)
      await reply
    }))
  }

  async close (): Promise<void> {
    await Promise.all(this.workers.map(async w => { await end(w, { type: 'exit' } satisfies ToWorker) }))
  }
}

/** The edge under test (edge-child.ts), started with edge flags. */
export class EdgeProcess {
  private constructor (readonly child: ChildProcess, readonly port: number) {}

  static async start (flags: string[], heapMb = 4096): Promise<EdgeProcess> {
    // BENCH_EDGE_NODE_ARGS adds Node flags to the edge alone, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
    const extra = (process.env.BENCH_EDGE_NODE_ARGS ?? '').split(/\s+/).filter(a => a !== '')
    const child = spawn('edge-child.ts', flags, ['--expose-gc', `--max-old-space-size=${heapMb}`, ...extra])
    const reply = await new Promise<FromEdge>((resolve, reject) => {
      child.once('message', (m: unknown) => { resolve(m as FromEdge) })
      child.once('exit', code => { reject(new Error(`the edge exited (${code ?? '?'}) before it was ready`)) })
    })
    if (reply.type === 'failed') throw new Error(`the edge did not start: ${reply.error}`)
    if (reply.type !== 'ready') throw new Error(`the edge said ${reply.type} before ready`)
    return new EdgeProcess(child, reply.port)
  }

  get pid (): number { return this.child.pid ?? 0 }

  async memory (gc: boolean): Promise<MemorySample> {
    const reply = nextMessage<MemorySample>(this.child, 'memory', 120_000)
    post(this.child, { type: 'memory', gc })
    return await reply
  }

  async stop (): Promise<void> {
    await end(this.child, { type: 'stop' }, 15_000)
  }
}

/** The null backend (null-backend.ts). */
export class NullBackendProcess {
  private constructor (readonly child: ChildProcess, readonly port: number) {}

  static async start (secret: string): Promise<NullBackendProcess> {
    const child = spawn('null-backend.ts', [secret], ['--max-old-space-size=4096'])
    const ready = await nextMessage<Extract<FromBackend, { type: 'ready' }>>(child, 'ready', 30_000)
    return new NullBackendProcess(child, ready.port)
  }

  async counts (): Promise<Extract<FromBackend, { type: 'counts' }>> {
    const reply = nextMessage<Extract<FromBackend, { type: 'counts' }>>(this.child, 'counts', 30_000)
    post(this.child, { type: 'counts' })
    return await reply
  }

  async stop (): Promise<void> {
    await end(this.child, { type: 'stop' })
  }
}
