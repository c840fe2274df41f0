/**
 * XEP-0156 §3: /.well-known/host-meta (XRD) and /.well-known/host-meta.json (JRD) advertise
 * the BOSH URL and the WebSocket URL (RFC 7395 §4), so browsers can find the endpoints from the
 * domain alone. Served with CORS like everything else (XEP-0156 §3.1 requires it for
 * the JSON form to be usable from a page).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { escapeAttr } from '../xml/escape.ts'

export interface HostMetaOptions {
  boshPath: string
  /** the BOSH URL to advertise; derived from the request's Host when empty */
  boshUrl: string
  /**
   * the WebSocket URL to advertise: absolute, or a path on this server (then ws:// or wss:// and
   * the host come from the request, as for BOSH); '' for none
   */
  websocketUrl: string
}

const BOSH_REL = 'urn:xmpp:alt-connections:xbosh'
const WS_REL = 'urn:xmpp:alt-connections:websocket'

function links (o: HostMetaOptions, req: FastifyRequest): { rel: string, href: string }[] {
  const bosh = o.boshUrl !== '' ? o.boshUrl : `${req.protocol}://${req.host}${o.boshPath}`
  const out = [{ rel: BOSH_REL, href: bosh }]
  if (o.websocketUrl.startsWith('/')) out.push({ rel: WS_REL, href: `${req.protocol === 'https' ? 'wss' : 'ws'}://${req.host}${o.websocketUrl}` })
  else if (o.websocketUrl !== '') out.push({ rel: WS_REL, href: o.websocketUrl })
  return out
}

export function hostMetaRoutes (app: FastifyInstance, o: HostMetaOptions): void {
  app.get('/.well-known/host-meta', async (req, reply) => {
    const body = "<?xml version='1.0' encoding='utf-8'?>\n<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n" +
      links(o, req).map(l => `  <Link rel='${l.rel}' href='${escapeAttr(l.href)}'/>\n`).join('') + '</XRD>\n'
    return await reply.type('application/xrd+xml; charset=utf-8').send(body)
  })
  app.get('/.well-known/host-meta.json', async (req, reply) => {
    return await reply.type('application/json; charset=utf-8').send(JSON.stringify({ links: links(o, req) }))
  })
}
