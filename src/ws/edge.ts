/**
 * Mounts the WebSocket transport (RFC 7395) on the edge (src/edge.ts), as BOSH's peer: the
 * session manager over the shared session table, its deadlines in a range of the shared timer
 * wheel, and the upgrade route on the shared HTTP app.
 */
import type { Config } from '../config/load.ts'
import type { Edge } from '../edge.ts'
import { WsManager } from './manager.ts'
import { wsOptions, type WsOptions } from './options.ts'
import { webSocketRoutes } from './route.ts'

/** The WebSocket options from the resolved configuration. */
export function webSocketEdgeOptions (c: Config): Partial<WsOptions> {
  // The same mapping gives WS_DEFAULTS from the schema's defaults (src/ws/options.ts).
  return wsOptions(c)
}

/**
 * Adds the WebSocket endpoint to `edge` (before it listens): its sessions take rows of the
 * shared table, so both transports draw from one `maxSessions`, and one timer each from a
 * range of the shared wheel.
 */
export async function mountWebSocket (edge: Edge, o: Partial<WsOptions> = {}): Promise<WsManager> {
  // One timer per table row: the open deadline, then the next ping or idle deadline.
  const deadlines = edge.timers(edge.maxSessions, id => { manager.fire(id) })
  const manager = new WsManager(edge.backend, edge.registry, o, deadlines, edge.now)
  manager.admission = edge.admission
  await webSocketRoutes(edge.app, manager, edge.http.lean.clientIp)
  return manager
}
