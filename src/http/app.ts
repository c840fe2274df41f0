/**
 * The public HTTP server: a node:http server whose request handler takes the lean POST route
 * (BOSH, src/http/lean-post.ts) itself and hands everything else to fastify, which stays the
 * app: the GET page, CORS preflights, host-meta, the WebSocket upgrade, admin routes when they
 * share the port. fastify creates the server through `serverFactory`, so `app.listen()`,
 * `app.close()`, `app.server` and plugins that listen on the server (@fastify/websocket's
 * 'upgrade') work as usual. Built without listening: tests drive `dispatch` with
 * light-my-request's inject(), or `app.inject()` (which reaches the lean route through a
 * fastify route that hands the raw request over).
 */
import { IncomingMessage, ServerResponse, createServer, type RequestListener, type Server } from 'node:http'
import Fastify, { type FastifyInstance } from 'fastify'
import cors from '@fastify/cors'
import { clientAddress, TrustedProxies } from './client-address.ts'
import { DEFAULTS } from '../config/schema.ts'
import { LeanPost, type LeanRoute, type RequestAdmission } from './lean-post.ts'
import { REPLY, type HttpReply } from './reply.ts'
import { CSP, CorsPolicy, NOSNIFF } from './security.ts'

export interface HttpOptions {
  /** origins allowed by CORS; ['*'] allows any */
  corsOrigins: readonly string[]
  /** proxies whose X-Forwarded-For is believed (addresses or CIDR ranges); empty: none */
  trustProxy: readonly string[]
  /** bytes buffered for incomplete lean POST bodies, all requests together */
  maxBufferedBodyBytes: number
  /** seconds for a request's headers to arrive (Node answers 408 and closes) */
  headersTimeout: number
  /** seconds for a whole request, headers and body, to arrive (Node answers 408 and closes); not the time it is held */
  requestTimeout: number
  logger?: boolean | object
  /** sees each lean POST answer: its status and how long the request was open (metrics) */
  observe?: (status: number, seconds: number) => void
  /** an exception from the lean route (the request has been answered 500) */
  onError?: (err: unknown) => void
  /** counts the lean POSTs open per client address, and refuses past the limit (src/admission/) */
  admission?: RequestAdmission
}

/** The defaults are the option schema's (src/config/schema.ts says why each has its value). */
export const HTTP_DEFAULTS: HttpOptions = {
  corsOrigins: DEFAULTS.corsOrigins,
  trustProxy: DEFAULTS.trustProxy,
  maxBufferedBodyBytes: DEFAULTS.maxBufferedBodyBytes,
  headersTimeout: DEFAULTS.headersTimeout,
  requestTimeout: DEFAULTS.requestTimeout
}

export interface HttpFront {
  app: FastifyInstance
  /** the server's request handler: the lean route, else fastify */
  dispatch: RequestListener
  /** the lean POST path: mount its route, read its counters */
  lean: LeanPost
  /** mounts the lean POST route (one) */
  post: (route: LeanRoute) => void
}

/** The server's request and response: the field where the lean path keeps its reply, declared so that every object has one shape. */
class Request extends IncomingMessage { [REPLY]: HttpReply | undefined = undefined }
class Response<R extends IncomingMessage = IncomingMessage> extends ServerResponse<R> { [REPLY]: HttpReply | undefined = undefined }

export async function buildHttp (options: Partial<HttpOptions> = {}): Promise<HttpFront> {
  const o: HttpOptions = { ...HTTP_DEFAULTS, ...options }
  const trusted = TrustedProxies.of(o.trustProxy)
  const policy = new CorsPolicy(o.corsOrigins)
  const lean = new LeanPost({
    maxBufferedBodyBytes: o.maxBufferedBodyBytes,
    cors: policy,
    observe: o.observe,
    onError: o.onError,
    admission: o.admission,
    clientIp: trusted.empty
      ? req => req.socket?.remoteAddress ?? ''
      : req => clientAddress(req.socket?.remoteAddress ?? '', req.headers['x-forwarded-for'], trusted)
  })
  // fastify's own request handler, captured when it builds the server.
  let toFastify: RequestListener | undefined
  const dispatch: RequestListener = (req, res) => {
    if (lean.takes(req)) lean.serve(req, res)
    else toFastify?.(req, res)
  }
  const headersMs = Math.round(o.headersTimeout * 1000)
  const requestMs = Math.max(headersMs, Math.round(o.requestTimeout * 1000))
  const app = Fastify({
    logger: o.logger ?? false,
    serverFactory: (handler): Server => {
      toFastify = handler
      return createServer({
        IncomingMessage: Request,
        ServerResponse: Response,
        // BOSH clients reuse connections; keep them open longer than the longest wait.
        keepAliveTimeout: 120_000,
        // Headers and body must arrive in time; a request held after its body is complete is
        // no longer timed (Node times only the receiving of a request).
        headersTimeout: headersMs,
        requestTimeout: requestMs,
        // How often Node looks for requests over those times: a fraction of the shorter one.
        connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersMs / 4)))
      }, dispatch)
    }
  })
  await app.register(cors, {
    origin: policy.any ? '*' : [...o.corsOrigins],
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['Content-Type'],
    maxAge: 86400
  })
  // What the lean path writes on every BOSH answer, on what fastify serves too (the GET page,
  // preflights, host-meta): none of it is a page to run scripts in. The one route that is, the
  // chat page (src/chat/page.ts), sets its own policy, which is kept.
  app.addHook('onSend', async (_req, reply, payload) => {
    void reply.header(NOSNIFF[0], NOSNIFF[1])
    if (!reply.hasHeader(CSP[0])) void reply.header(CSP[0], CSP[1])
    return payload
  })
  return {
    app,
    dispatch,
    lean,
    post: route => {
      lean.route = route
      // app.inject() and anything else that reaches fastify with a lean POST: hand the raw
      // request over before fastify reads the body, so that there is one path.
      app.post(route.path, {
        onRequest: (req, reply) => {
          void reply.hijack()
          lean.serve(req.raw, reply.raw)
        }
      }, () => {})
    }
  }
}
