/**
 * The messages between the load harness (parent) and its child processes: the client workers
 * (worker.ts), the edge under test (edge-child.ts) and the null backend (null-backend.ts). Every
 * message crosses a process boundary as `unknown` and is narrowed by `isMessage` before use.
 */
import type { ChildProcess } from 'node:child_process'

export type Transport = 'bosh' | 'ws'

/** One user: the localpart and the password. Global index = position in the user list. */
export interface User { name: string, password: string }

export interface WorkerInit {
  type: 'init'
  transport: Transport
  /** BOSH endpoint or WebSocket URL */
  url: string
  /** several edges: session i talks to urls[i mod length] (the edge that created it), `url` unused */
  urls?: string[]
  domain: string
  /** this worker's sessions: global indices [first, first + count) */
  first: number
  count: number
  /** every user (recipients are drawn from all of them), or PREFIX1..PREFIXcount with one password */
  users: User[] | { prefix: string, password: string, count: number }
  /** sockets per origin in the keep-alive pool; 0 = unlimited (one per held request) */
  maxSockets: number
  /** loopback source addresses this worker binds its sockets to, used in turn */
  localAddresses: string[]
  /** BOSH wait (s) and hold asked for at session creation */
  wait: number
  hold: number
  /** seconds a login may take before it counts as failed (`login-timeout`) */
  loginTimeout: number
  /** logins in flight at once in this worker (default 1,000) */
  loginsInFlight?: number
  /** edge-only runs: skip SASL and bind (the null backend has nothing to say to them) */
  loginDepth: 'full' | 'open'
}

export type ToWorker =
  | WorkerInit
  /** log this worker's sessions in at `rate` per second; with `upTo`, only until that many were started in all (a ramp's step) */
  | { type: 'login', rate: number, upTo?: number }
  /** send `rate` messages per second for `seconds`, from random own sessions to random users */
  | { type: 'send', rate: number, seconds: number, recipients: number[] }
  /** empty the latency histogram (a rate step of the sweep measures its own messages only) */
  | { type: 'reset-latency' }
  /** edge-only: poll every live session once per `interval` seconds until `stop-polling` */
  | { type: 'poll', interval: number, concurrency: number }
  | { type: 'stop-polling' }
  /** edge-only: hold one long-poll per session, each on its own connection */
  | { type: 'hold' }
  | { type: 'collect' }
  | { type: 'logout' }
  | { type: 'exit' }

export interface WorkerProgress {
  type: 'progress'
  online: number
  failed: number
  sent: number
  received: number
  polls: number
  held: number
  /** logins finished (online or failed) out of count, or out of the last login's `upTo` */
  done: boolean
  /** online sessions that ended without being asked to */
  dropped?: number
}

export interface WorkerStats {
  type: 'stats'
  online: number
  failed: number
  /** failures by condition (BOSH terminate condition, HTTP or socket error code, WebSocket close) */
  failures: Record<string, number>
  /** milliseconds from each session's first byte to its initial presence */
  loginMs: number[]
  /** global indices of the sessions online now */
  onlineIndices: number[]
  sent: number
  /** distinct (sender, seq) delivered */
  received: number
  duplicated: number
  reordered: number
  /** latency histogram in µs, hdr-histogram-js compressed base64 */
  histogram: string
  /** sessions that ended after they were online, by condition */
  dropped: Record<string, number>
  polls: number
  pollErrors: number
}

export type FromWorker = WorkerProgress | WorkerStats | { type: 'logged-out' } | { type: 'ready' }

export interface MemorySample {
  type: 'memory'
  rss: number
  heapUsed: number
  heapTotal: number
  external: number
  arrayBuffers: number
  /** µs of CPU since the process started */
  cpuUser: number
  cpuSystem: number
}

export type ToEdge = { type: 'memory', gc: boolean } | { type: 'stop' }
export type FromEdge = { type: 'ready', port: number } | MemorySample | { type: 'stopped' } | { type: 'failed', error: string }

export type FromBackend = { type: 'ready', port: number } | { type: 'counts', links: number, opened: number, live: number }
export type ToBackend = { type: 'counts' } | { type: 'stop' }

/** The narrowing guard at every IPC boundary: an object with a string `type`. */
export function isMessage (m: unknown): m is { type: string } {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string'
}

/** Sends and ignores a channel that closed meanwhile (a child that died is reported by its exit). */
export function post<T> (proc: ChildProcess | NodeJS.Process, msg: T): void {
  if (proc.connected !== true || proc.send === undefined) return
  proc.send(msg as object)
}

/** Resolves with the next message of `type` from `proc` (rejects if it exits first or after `ms`). */
export async function nextMessage<T extends { type: string }> (proc: ChildProcess, type: T['type'], ms = 600_000): Promise<T> {
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`no '${type}' from child ${proc.pid ?? '?'} within ${ms} ms`)) }, ms)
    const onMessage = (m: unknown): void => {
      if (!isMessage(m) || m.type !== type) return
      cleanup()
      resolve(m as T)
    }
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup()
      reject(new Error(`child ${proc.pid ?? '?'} exited (${code ?? signal ?? '?'}) before '${type}'`))
    }
    const cleanup = (): void => {
      clearTimeout(timer)
      proc.off('message', onMessage)
      proc.off('exit', onExit)
    }
    proc.on('message', onMessage)
    proc.on('exit', onExit)
  })
}
