/**
 * The WebSocket endpoint over HTTP: the upgrade at `path`, through @fastify/websocket so that the
 * upgrade request runs fastify's hooks and router like any request (it dispatches the `upgrade`
 * event through `fastify.routing`, with `ws` in noServer mode underneath). The `xmpp`
 * subprotocol is required (RFC 7395 §3.1): a request that does not offer it is refused before
 * the upgrade, with a plain HTTP 400. A GET without an upgrade gets 426 and a short page.
 */
import { once } from 'node:events'
import type { IncomingMessage } from 'node:http'
import websocket, { type WebsocketPluginOptions } from '@fastify/websocket'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { RawData, WebSocket, WebSocketServer } from 'ws'
import type { WsManager } from './manager.ts'
import type { WsSession } from './session.ts'

/** RFC 7395 §3.1, IANA WebSocket Subprotocol Name Registry. */
export const SUBPROTOCOL = 'xmpp'

/** How long the closing handshake may take once we close (ws's own default is 30 s). */
const CLOSE_TIMEOUT_MS = 5000
/** How long shutdown waits for clients to finish their closing handshakes before cutting them. */
const SHUTDOWN_GRACE_MS = 2000

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Megaphone WebSocket</title></head>
<body><h1>Megaphone</h1>
<p>This is an XMPP over WebSocket endpoint (RFC 7395). Point an XMPP client such as Strophe.js,
Converse.js or xmpp.js at this URL with ws:// or wss://; it must ask for the <code>xmpp</code>
subprotocol.</p>
</body></html>
`

/** RFC 6455 §4.1, §11.3.4: Sec-WebSocket-Protocol is a comma-separated list, possibly repeated. */
export function offersXmpp (header: string | string[] | undefined): boolean {
  if (header === undefined) return false
  const values = Array.isArray(header) ? header : [header]
  return values.some(v => v.split(',').some(p => p.trim() === SUBPROTOCOL))
}

/**
 * `clientIp` names the client of an upgrade request (the HTTP front's: the socket's peer, or a
 * trusted proxy's X-Forwarded-For hop, src/http/client-address.ts).
 */
export async function webSocketRoutes (app: FastifyInstance, manager: WsManager, clientIp: (req: IncomingMessage) => string = req => req.socket.remoteAddress ?? ''): Promise<void> {
  const sessions = new WeakMap<WebSocket, WsSession>()
  // ws reads closeTimeout although its type declarations do not list it yet.
  const wsOptions: NonNullable<WebsocketPluginOptions['options']> & { closeTimeout: number } = {
    // The message size limit is enforced inside ws's frame parser, before anything is buffered:
    // past it ws closes with 1009 (RFC 6455 §7.4.1), and the session ends.
    maxPayload: manager.options.maxMessageBytes,
    // permessage-deflate keeps a zlib context per connection (~300 KiB with the defaults): at
    // hundreds of thousands of sessions that is the whole machine. XMPP stanzas are small.
    perMessageDeflate: false,
    // RFC 7395 §3.1: the server answers with the `xmpp` subprotocol (the hook below has already
    // refused requests that do not offer it).
    handleProtocols: protocols => protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false,
    closeTimeout: CLOSE_TIMEOUT_MS
  }
  await app.register(websocket, {
    options: wsOptions,
    // ws has already started closing the connection with the right code (1009 too large, 1007
    // bad UTF-8, 1002 protocol error): cutting it here, as the default handler does, would lose
    // that code. The session ends with the reason.
    errorHandler: (err, socket) => { sessions.get(socket)?.onSocketError(errorCode(err)) },
    preClose: async () => { await shutdown(manager, app.websocketServer) }
  })
  app.route({
    method: 'GET',
    url: manager.options.path,
    onRequest: async (req: FastifyRequest, reply: FastifyReply) => {
      if (!req.ws) return
      // RFC 7395 §3.1: without the xmpp subprotocol there is no XMPP connection to make; ws
      // would otherwise complete the upgrade with no subprotocol at all.
      if (!offersXmpp(req.headers['sec-websocket-protocol'])) {
        return await reply.code(400).type('text/plain; charset=utf-8').send('the xmpp WebSocket subprotocol is required (RFC 7395 §3.1)\n')
      }
      // RFC 6455 §10.2: the server decides which origins it talks to; browsers always send Origin.
      const origin = req.headers.origin
      const origins = manager.options.origins
      if (origin !== undefined && !origins.includes('*') && !origins.includes(origin)) {
        return await reply.code(403).type('text/plain; charset=utf-8').send('this origin may not open a WebSocket here\n')
      }
      if (!manager.accepting) return await reply.code(503).type('text/plain; charset=utf-8').send('shutting down\n')
      // Admission control (src/admission/): RFC 6585 §4 429 before the upgrade.
      const admission = manager.admission
      if (admission !== undefined && admission.sessionRefusal(clientIp(req.raw)) !== null) {
        return await reply.code(429).type('text/plain; charset=utf-8').send('too many sessions from this address\n')
      }
    },
    // RFC 7231 §6.5.15: 426 Upgrade Required, naming the protocol to upgrade to.
    handler: async (_req, reply) => await reply.code(426).header('upgrade', 'websocket').type('text/html; charset=utf-8').send(PAGE),
    wsHandler: (socket, req) => {
      const s = manager.accept(socket, { ip: clientIp(req.raw), port: req.socket.remotePort ?? 0 })
      if (s === undefined) return
      sessions.set(socket, s)
      socket.on('message', (data: RawData, isBinary: boolean) => { s.onMessage(toBuffer(data), isBinary) })
      socket.on('ping', () => { s.onPong() })
      socket.on('pong', () => { s.onPong() })
      socket.on('close', () => { s.onSocketClose() })
    }
  })
}

/** Every session is told (RFC 7395 §3.6.1), then the closing handshakes get a short grace. */
async function shutdown (manager: WsManager, wss: WebSocketServer): Promise<void> {
  manager.shutdown()
  const pending = [...wss.clients].filter(c => c.readyState !== c.CLOSED).map(async c => { await once(c, 'close') })
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    Promise.allSettled(pending),
    new Promise<void>(resolve => { timer = setTimeout(resolve, SHUTDOWN_GRACE_MS) })
  ])
  clearTimeout(timer)
  for (const c of wss.clients) c.terminate()
  await new Promise<void>(resolve => { wss.close(() => { resolve() }) })
}

function toBuffer (data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
}

function errorCode (err: Error): string {
  return 'code' in err && typeof err.code === 'string' ? err.code : ''
}
