/**
 * Builds the public HTTP server (BOSH, host-meta, CORS) without listening, so tests can drive
 * it with `app.inject()` and the entry point decides where it listens.
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import { terminateResponse } from '../bosh/response.ts'
import cors from '@fastify/cors'
import type { BoshManager } from '../bosh/manager.ts'
import { boshRoutes } from './bosh-route.ts'
import { hostMetaRoutes } from './host-meta.ts'

export interface AppOptions {
  boshPath: string
  maxBodyBytes: number
  maxPayloads: number
  maxDepth: number
  /** origins allowed by CORS; ['*'] allows any */
  corsOrigins: string[]
  boshUrl: string
  websocketUrl: string
  /** trust X-Forwarded-For from a proxy in front (fastify's trustProxy) */
  trustProxy: boolean
  logger?: boolean | object
  /** sees each BOSH response: its HTTP status and how long the request was open (metrics) */
  observeBosh?: (status: number, seconds: number) => void
}

export async function buildApp (manager: BoshManager, o: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: o.logger ?? false,
    trustProxy: o.trustProxy,
    bodyLimit: o.maxBodyBytes,
    // BOSH clients reuse connections; keep them open longer than the longest wait.
    keepAliveTimeout: 120_000,
    requestTimeout: 0
  })
  // XEP-0124 §5: whatever the Content-Type (or none), the body is XML. It stays bytes so that
  // the body parser can refuse bad UTF-8 instead of seeing replacement characters.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })
  await app.register(cors, {
    origin: o.corsOrigins.includes('*') ? '*' : o.corsOrigins,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['Content-Type'],
    maxAge: 86400
  })
  app.setErrorHandler(async (err: FastifyError, _req, reply) => {
    // XEP-0124 §17.2 policy-violation for a body over the limit (§17.1: 403 for legacy
    // clients, and we cannot know which this is without reading it); a body that never
    // arrived whole is a bad-request; anything else is ours.
    const condition = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
      ? 'policy-violation'
      : (err.statusCode !== undefined && err.statusCode < 500 ? 'bad-request' : 'internal-server-error')
    const status = condition === 'policy-violation' ? 403 : condition === 'bad-request' ? 400 : 500
    return await reply.code(status).type('text/xml; charset=utf-8').send(terminateResponse(condition))
  })
  const observe = o.observeBosh
  if (observe !== undefined) {
    // onResponse runs after the last byte is handed to the socket: a held request's time is its
    // whole long-poll. fastify measures it anyway (elapsedTime), so this adds one observe.
    app.addHook('onResponse', async (req, reply) => {
      if (req.method === 'POST' && req.routeOptions.url === o.boshPath) observe(reply.statusCode, reply.elapsedTime / 1000)
    })
  }
  boshRoutes(app, manager, { path: o.boshPath, maxBodyBytes: o.maxBodyBytes, maxPayloads: o.maxPayloads, maxDepth: o.maxDepth })
  hostMetaRoutes(app, { boshPath: o.boshPath, boshUrl: o.boshUrl, websocketUrl: o.websocketUrl })
  return app
}
