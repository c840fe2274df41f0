/**
 * Wires the WebSocket side of the edge onto the HTTP app that already serves BOSH: the session
 * manager over the shared session table, its timer wheel and the route. The entry point and the
 * tests build the same thing here, with a real or a scripted backend.
 */
import type { FastifyInstance } from 'fastify'
import type { Backend } from '../backend/backend.ts'
import type { Config } from '../config/load.ts'
import type { SessionRegistry } from '../table/index.ts'
import { TimerWheel, type TickSource } from '../timers/wheel.ts'
import { WsManager } from './manager.ts'
import type { WsOptions } from './options.ts'
import { webSocketRoutes } from './route.ts'

export interface WebSocketEdgeOptions extends Partial<WsOptions> {
  /** the shared table's capacity: its rows are the wheel's timer ids */
  maxSessions: number
  timerResolution?: number
  /** a clock in ms and the tick driving the wheel; tests inject both */
  now?: () => number
  ticks?: TickSource
}

export interface WebSocketEdge {
  manager: WsManager
  wheel: TimerWheel
}

/** The WebSocket options from the resolved configuration. */
export function webSocketEdgeOptions (c: Config): WebSocketEdgeOptions {
  return {
    path: c.websocketPath,
    maxMessageBytes: c.websocketMaxMessageBytes,
    maxDepth: c.maxDepth,
    pingInterval: c.websocketPingInterval,
    idleTimeout: c.websocketIdleTimeout,
    maxBufferedBytes: c.websocketMaxBufferedBytes,
    openTimeout: c.openTimeout,
    seeOtherUri: c.websocketSeeOtherUri,
    domains: c.domains,
    origins: c.websocketOrigins,
    maxSessions: c.maxSessions,
    timerResolution: c.timerResolution
  }
}

/**
 * Adds the WebSocket endpoint to `app` (before it listens). `registry` is the table BOSH uses
 * (BoshManager.registry), so both transports draw from one `maxSessions`.
 */
export async function createWebSocketEdge (app: FastifyInstance, backend: Backend, registry: SessionRegistry, o: WebSocketEdgeOptions): Promise<WebSocketEdge> {
  const now = o.now ?? (() => performance.now())
  // The wheel calls the manager and the manager schedules on the wheel: the late binding
  // breaks the cycle.
  const target: { manager?: WsManager } = {}
  const wheel = new TimerWheel({
    // One timer per table row: the open deadline, then the next ping or idle deadline.
    capacity: o.maxSessions,
    fire: id => { target.manager?.fire(id) },
    resolution: o.timerResolution ?? 100,
    now,
    ...(o.ticks === undefined ? {} : { ticks: o.ticks })
  })
  const manager = new WsManager(backend, registry, o, {
    schedule: (id, at) => { wheel.scheduleAt(id, at) },
    cancel: id => { wheel.cancel(id) }
  }, now)
  target.manager = manager
  await webSocketRoutes(app, manager)
  wheel.start()
  app.addHook('onClose', (_app, done) => { wheel.stop(); done() })
  return { manager, wheel }
}
