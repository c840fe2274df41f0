/**
 * Starts the edge from a resolved configuration: the link to ejabberd and the BOSH and
 * WebSocket server.
 * Returns the function that stops both gracefully. The entry point (main.ts) and the
 * end-to-end tests both start the edge through here.
 */
import type { Config } from './config/load.ts'
import type { Logger } from './log.ts'
import { LinkClient } from './link/index.ts'
import { createBoshEdge } from './bosh/edge.ts'
import { createWebSocketEdge, webSocketEdgeOptions } from './ws/edge.ts'

export interface RunningEdge {
  /** the port the BOSH server listens on */
  port: number
  /** the link is up and authenticated (new sessions can open) */
  linkUp: () => boolean
  stop: () => Promise<void>
}

export async function runEdge (config: Config, log: Logger): Promise<RunningEdge> {
  const link = new LinkClient({
    host: config.linkHost,
    port: config.linkPort,
    secret: config.linkSecret,
    maxFrameSize: config.linkMaxFrame,
    maxQueueBytes: config.linkQueueBytes,
    heartbeatInterval: config.heartbeatInterval * 1000,
    heartbeatTimeout: config.heartbeatTimeout * 1000
  })
  link.on('up', info => { log.info({ version: info.version, link: `${config.linkHost}:${config.linkPort}` }, 'link up') })
  link.on('down', err => { log.warn({ code: err.code, err: err.message }, 'link down') })
  link.on('reconnecting', info => { log.info(info, 'link reconnecting') })
  link.on('warning', err => { log.warn({ code: err.code, err: err.message }, 'link warning') })
  link.start()

  const edge = await createBoshEdge(link, {
    path: config.boshPath,
    maxSessions: config.maxSessions,
    maxWait: config.maxWait,
    maxHold: config.maxHold,
    maxInactivity: config.maxInactivity,
    maxPause: config.maxPause,
    polling: config.polling,
    maxBodyBytes: config.maxBodyBytes,
    maxPayloads: config.maxPayloads,
    maxDepth: config.maxDepth,
    maxPendingBytes: config.maxPendingBytes,
    openTimeout: config.openTimeout,
    domains: config.domains,
    timerResolution: config.timerResolution,
    corsOrigins: config.corsOrigins,
    boshUrl: config.boshUrl,
    // host-meta derives the absolute ws:// URL from a path, per request
    websocketUrl: config.websocketUrl !== '' ? config.websocketUrl : config.websocketPath,
    trustProxy: config.trustProxy
  })
  // RFC 7395 on the same server, in the same session table, over the same link.
  await createWebSocketEdge(edge.app, link, edge.manager.registry, webSocketEdgeOptions(config))
  await edge.app.listen({ host: config.host, port: config.port })
  const address = edge.app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : config.port
  log.info({ url: `http://${config.host}:${port}${config.boshPath}` }, 'BOSH listening')
  log.info({ url: `ws://${config.host}:${port}${config.websocketPath}` }, 'WebSocket listening')

  const stop = async (): Promise<void> => {
    // XEP-0124 §17.2 system-shutdown for every session, then the server, then the link.
    edge.manager.shutdown()
    await edge.app.close()
    await link.stop()
  }
  return { port, linkUp: () => link.ready, stop }
}
