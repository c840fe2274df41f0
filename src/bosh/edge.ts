/**
 * Wires the BOSH side of the edge: the session manager, its timer wheel and the HTTP app. The
 * entry point and the tests build the same thing here, with a real or a scripted backend.
 */
import type { FastifyInstance } from 'fastify'
import type { Backend } from '../backend/backend.ts'
import { BoshManager } from './manager.ts'
import { BOSH_DEFAULTS, type BoshOptions } from './options.ts'
import { TimerWheel, type TickSource } from '../timers/wheel.ts'
import { buildApp, type AppOptions } from '../http/app.ts'

export interface BoshEdgeOptions extends Partial<BoshOptions> {
  maxSessions?: number
  timerResolution?: number
  corsOrigins?: string[]
  boshUrl?: string
  websocketUrl?: string
  trustProxy?: boolean
  logger?: AppOptions['logger']
  observeBosh?: AppOptions['observeBosh']
  /** a clock in ms and the tick driving the wheel; tests inject both */
  now?: () => number
  ticks?: TickSource
}

export interface BoshEdge {
  manager: BoshManager
  wheel: TimerWheel
  app: FastifyInstance
}

export async function createBoshEdge (backend: Backend, o: BoshEdgeOptions = {}): Promise<BoshEdge> {
  const now = o.now ?? (() => performance.now())
  const maxSessions = o.maxSessions ?? 1_000_000
  // The wheel calls the manager and the manager schedules on the wheel: the late binding
  // breaks the cycle.
  const target: { manager?: BoshManager } = {}
  const wheel = new TimerWheel({
    // Two deadlines per session row (wait and inactivity): see BoshManager.
    capacity: maxSessions * 2,
    fire: id => { target.manager?.fire(id) },
    resolution: o.timerResolution ?? 100,
    now,
    ...(o.ticks === undefined ? {} : { ticks: o.ticks })
  })
  const manager = new BoshManager(backend, { ...o, maxSessions }, {
    schedule: (id, at) => { wheel.scheduleAt(id, at) },
    cancel: id => { wheel.cancel(id) }
  }, now)
  target.manager = manager
  wheel.start()
  const b = manager.options
  const app = await buildApp(manager, {
    boshPath: b.path ?? BOSH_DEFAULTS.path,
    maxBodyBytes: b.maxBodyBytes,
    maxPayloads: b.maxPayloads,
    maxDepth: b.maxDepth,
    corsOrigins: o.corsOrigins ?? ['*'],
    boshUrl: o.boshUrl ?? '',
    websocketUrl: o.websocketUrl ?? '',
    trustProxy: o.trustProxy ?? false,
    logger: o.logger,
    observeBosh: o.observeBosh
  })
  app.addHook('onClose', (_app, done) => { wheel.stop(); done() })
  return { manager, wheel, app }
}
