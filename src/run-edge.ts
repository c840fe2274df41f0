/**
 * Starts the edge from a resolved configuration: the link to ejabberd, the BOSH and WebSocket
 * server, and the admin server (metrics, health).
 * Returns the function that stops them gracefully. The entry point (main.ts) and the
 * end-to-end tests both start the edge through here.
 */
import type { FastifyInstance } from 'fastify'
import type { Config } from './config/load.ts'
import { sessionLogger, type Logger } from './log.ts'
import { Links } from './link/links.ts'
import { linksOptions } from './link/options.ts'
import { boshOptions } from './bosh/options.ts'
import { Edge } from './edge.ts'
import { mountBosh } from './bosh/edge.ts'
import { BoshForwarder, parsePeers } from './bosh/forward.ts'
import { mountWebSocket, webSocketEdgeOptions } from './ws/edge.ts'
import { createMetrics } from './metrics/metrics.ts'
import { buildAdminApp } from './admin/server.ts'
import { adminRoutes, type AdminState } from './admin/routes.ts'
import { admissionOptions } from './admission/options.ts'
import { RefusalLog } from './admission/refusal-log.ts'
import { API_PREFIX, createAnnounceApi } from './announce/index.ts'

export interface RunningEdge {
  /** the port the BOSH server listens on */
  port: number
  /** the port of the admin server (metrics, health); the public port when they share it */
  adminPort: number
  /** the link is up and authenticated (new sessions can open) */
  linkUp: () => boolean
  /** a graceful stop has begun */
  draining: () => boolean
  /**
   * Graceful stop: no new sessions, every held BOSH request answered with system-shutdown,
   * every WebSocket closed with <close/>, the link closed, the servers closed. Idempotent: a
   * second call returns the first one's promise.
   */
  stop: () => Promise<void>
}

export async function runEdge (config: Config, log: Logger): Promise<RunningEdge> {
  // One link per mod_megaphone listener (--links: every node of a cluster), one Backend for the
  // transports (src/link/links.ts); `link` is what the rest of the edge sees of them all.
  const link = new Links(linksOptions(config))
  for (const [i, client] of link.clients.entries()) {
    const address = link.addresses[i]
    client.on('up', info => { log.info({ version: info.version, link: address }, 'link up') })
    client.on('down', err => { log.warn({ code: err.code, err: err.message, link: address }, 'link down') })
    client.on('reconnecting', info => { log.info({ ...info, link: address }, 'link reconnecting') })
    client.on('warning', err => { log.warn({ code: err.code, err: err.message, link: address }, 'link warning') })
  }
  link.start()

  const metrics = createMetrics()
  // The shared pieces once (HTTP front, session table, timer wheel), then the two transports
  // mounted on them as peers.
  const edge = await Edge.create(link.pool, {
    maxSessions: config.maxSessions,
    edgeId: config.edgeId,
    timerResolution: config.timerResolution,
    http: {
      corsOrigins: config.corsOrigins,
      trustProxy: config.trustProxy,
      maxBufferedBodyBytes: config.maxBufferedBodyBytes,
      headersTimeout: config.headersTimeout,
      requestTimeout: config.requestTimeout,
      observe: metrics.observeBoshRequest,
      onError: err => { log.error({ err }, 'BOSH request failed') }
    },
    admission: admissionOptions(config),
    hostMeta: {
      boshPath: config.boshPath,
      boshUrl: config.boshUrl,
      // host-meta derives the absolute ws:// URL from a path, per request
      websocketUrl: config.websocketUrl !== '' ? config.websocketUrl : config.websocketPath
    },
    // The page logs into the first served domain; with none configured, users type a full JID.
    ...(config.chatPage
      ? { chatPage: { domain: config.domains[0] ?? '', mucDomain: config.chatMucDomain, boshPath: config.boshPath, websocketPath: config.websocketPath } }
      : {})
  })
  // Admission refusals: a warning per limit every 10 s at most (the metric counts them all).
  const refusals = new RefusalLog((fields, message) => { log.warn(fields, message) }, () => performance.now())
  edge.admission.onRefused = (limit, address) => { refusals.refused(limit, address) }
  // Each module's options from the configuration through the same mapping that gives its
  // defaults (src/bosh/options.ts, src/ws/options.ts, src/link/options.ts).
  // Several edges of one deployment (--edge-peers): a request for another edge's session goes there.
  const forwarder = config.edgePeers.length === 0
    ? undefined
    : new BoshForwarder({ edgeId: config.edgeId, peers: parsePeers(config.edgePeers), timeoutMs: (config.maxWait + 30) * 1000 })
  const bosh = mountBosh(edge, boshOptions(config), forwarder)
  // RFC 7395 on the same server, in the same session table, over the same link.
  const ws = await mountWebSocket(edge, webSocketEdgeOptions(config))

  // Session starts and ends, at debug: a line per session is too many at info for a million
  // users. The child logger is made only when the line is written (src/log.ts says why).
  bosh.events = {
    opened: (sid, connId) => { if (log.isLevelEnabled('debug')) sessionLogger(log, { transport: 'bosh', sid, connId }).debug('session opened') },
    ended: (sid, connId, reason) => { if (log.isLevelEnabled('debug')) sessionLogger(log, { transport: 'bosh', sid, connId }).debug({ reason }, 'session ended') }
  }
  ws.events = {
    opened: s => { if (log.isLevelEnabled('debug')) sessionLogger(log, { transport: 'websocket' }).debug({ row: s.row, ip: s.client.ip }, 'session opened') },
    ended: (s, reason) => { if (log.isLevelEnabled('debug')) sessionLogger(log, { transport: 'websocket' }).debug({ row: s.row, reason }, 'session ended') }
  }

  // The Announcer API (docs/announcer.md) on the admin server: only with a token.
  const announce = createAnnounceApi(config, link, log)
  let draining = false
  metrics.attach({
    bosh,
    websocket: ws,
    http: edge.http.lean,
    admission: edge.admission,
    table: edge.registry.table,
    link,
    ...(forwarder === undefined ? {} : { forwarder }),
    draining: () => draining,
    ...(announce === undefined ? {} : { announce: announce.source })
  })
  const adminState: AdminState = { registry: metrics.registry, linkUp: () => link.ready, links: () => link.states(), draining: () => draining, ...(announce === undefined ? {} : { announce: announce.api }) }

  // The admin routes stay off the public server unless the operator gives both the same address.
  const shared = config.adminPort === config.port && config.adminHost === config.host && config.port !== 0
  let admin: FastifyInstance | undefined
  if (shared) {
    adminRoutes(edge.app, adminState)
    log.warn('admin routes (/metrics, /healthz, /readyz) are on the public server: adminHost and adminPort equal host and port')
  } else {
    admin = buildAdminApp(adminState)
    await admin.listen({ host: config.adminHost, port: config.adminPort, backlog: config.backlog })
  }
  await edge.app.listen({ host: config.host, port: config.port, backlog: config.backlog })
  const port = portOf(edge.app, config.port)
  const adminPort = admin === undefined ? port : portOf(admin, config.adminPort)
  log.info({ url: `http://${config.host}:${port}${config.boshPath}` }, 'BOSH listening')
  log.info({ url: `ws://${config.host}:${port}${config.websocketPath}` }, 'WebSocket listening')
  if (config.chatPage) log.info({ url: `http://${config.host}:${port}/` }, 'chat page')
  log.info({ url: `http://${config.adminHost}:${adminPort}/metrics` }, 'admin listening')
  if (announce !== undefined) log.info({ url: `http://${config.adminHost}:${adminPort}${API_PREFIX}/` }, 'Announcer API listening')

  let stopping: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      // /readyz turns 503 first, so a balancer stops sending new users here.
      draining = true
      log.info({ bosh: bosh.size, websocket: ws.size, held: bosh.heldRequests() }, 'draining')
      // XEP-0124 §17.2 system-shutdown for every BOSH session (held requests answered now; new
      // sessions refused with it while the server closes). The WebSockets hear <close/> (RFC 7395
      // §3.6.1 see-other-uri where configured) from the server's preClose hook (src/ws/route.ts).
      bosh.shutdown()
      await edge.app.close()
      // CLOSE for whatever is still open, then the sockets (src/link/client.ts stop()).
      await link.stop()
      await admin?.close()
    })()
    await stopping
  }
  return { port, adminPort, linkUp: () => link.ready, draining: () => draining, stop }
}

function portOf (app: FastifyInstance, fallback: number): number {
  const address = app.server.address()
  return typeof address === 'object' && address !== null ? address.port : fallback
}
