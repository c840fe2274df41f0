/**
 * The admin routes: `/metrics` (Prometheus text format), `/healthz` (the process is alive and
 * its event loop turns) and `/readyz` (the edge can take sessions: the link is up and
 * authenticated, and no graceful stop is under way). They are served by their own server on the
 * admin address (src/admin/server.ts), or, when the operator puts the admin address on the
 * public one, added to the public server.
 *
 * Kubernetes-style probes: a load balancer or orchestrator takes an edge out of rotation on a
 * failing /readyz (ejabberd restarting, drain begun) and restarts it on a failing /healthz.
 */
import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import { announceRoutes, type AnnounceApi } from '../announce/routes.ts'

export interface AdminState {
  registry: Registry
  /** the link is up and authenticated (with several links: at least one is) */
  linkUp: () => boolean
  /** each link's address and state, when the edge links to several ejabberd nodes (src/link/links.ts) */
  links?: () => Array<{ address: string, up: boolean }>
  /** a graceful stop has begun */
  draining: () => boolean
  /** the Announcer API under /v1/announce/ (docs/announcer.md); absent when no token is configured: the API is off */
  announce?: AnnounceApi
}

export function adminRoutes (app: FastifyInstance, s: AdminState): void {
  app.get('/metrics', async (_req, reply) => {
    const text = await s.registry.metrics()
    return await reply.type(s.registry.contentType).send(text)
  })
  app.get('/healthz', async (_req, reply) => await reply.type('text/plain; charset=utf-8').send('ok\n'))
  app.get('/readyz', async (_req, reply) => {
    // 503 tells a balancer to send new users elsewhere; the reason is for the human reading it.
    if (s.draining()) return await reply.code(503).type('text/plain; charset=utf-8').send('draining\n')
    // Each link's line, when there are several: ready while one is up, and the operator sees which is not.
    const links = s.links?.() ?? []
    const detail = links.length > 1 ? links.map(l => `link ${l.address} ${l.up ? 'up' : 'down'}\n`).join('') : ''
    if (!s.linkUp()) return await reply.code(503).type('text/plain; charset=utf-8').send(`link to ejabberd down\n${detail}`)
    return await reply.type('text/plain; charset=utf-8').send(`ready\n${detail}`)
  })
  if (s.announce !== undefined) announceRoutes(app, s.announce)
}
