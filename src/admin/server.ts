/**
 * The admin HTTP server (metrics and health), apart from the public one: it answers on an
 * address the operator keeps off the public network (127.0.0.1:5281 by default), so that
 * nobody on the internet reads the edge's counters, and a flood of BOSH requests does not share
 * a listen queue with the health checks. Built without listening, like the public app.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { adminRoutes, type AdminState } from './routes.ts'

export function buildAdminApp (s: AdminState): FastifyInstance {
  const app = Fastify({ logger: false })
  adminRoutes(app, s)
  return app
}
