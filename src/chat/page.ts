/**
 * The chat page at `/` of the public server: Converse.js (served from the installed package,
 * src/chat/assets.ts) pointed at this edge's own WebSocket and BOSH endpoints, on the page's
 * origin. The page holds no credentials: Converse shows its login form, and the user's password
 * goes to the server in SASL over the edge like any other client's.
 *
 *   GET /                         the page (HTML: settings as JSON data, no inline script)
 *   GET /chat.js                  starts Converse with those settings (a module script)
 *   GET /converse/<version>/...   the allow-listed Converse files, cached for good (the version is in the path)
 *   GET /favicon.ico              Converse's icon
 *
 * Every answer is a fixed body chosen by the exact path; nothing the client sends reaches a
 * header or a file name.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import { converseDist, converseVersion, loadConverseAssets } from './assets.ts'
import { CHAT_CSP, chatBootScript, chatPageHtml, type ChatSettings } from './html.ts'

export interface ChatPageOptions {
  /** the XMPP domain users log into ('' : they type a full JID, and Converse finds the MUC service through disco) */
  domain: string
  /** the MUC service users create and join rooms on ('' : conference.<domain>) */
  mucDomain: string
  /** the edge's BOSH and WebSocket paths, on the page's own origin */
  boshPath: string
  websocketPath: string
}

/** Headers of every chat page answer (the public app's hook adds nosniff to all of them). */
const PAGE_HEADERS = {
  'content-security-policy': CHAT_CSP,
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY'
} as const

export async function chatPageRoutes (app: FastifyInstance, o: ChatPageOptions): Promise<void> {
  const dist = converseDist()
  const [assets, version] = await Promise.all([loadConverseAssets(dist), converseVersion(dist)])
  const prefix = `/converse/${encodeURIComponent(version)}/`
  const settings: ChatSettings = {
    boshPath: o.boshPath,
    websocketPath: o.websocketPath,
    domain: o.domain,
    mucDomain: o.mucDomain !== '' ? o.mucDomain : o.domain !== '' ? `conference.${o.domain}` : '',
    assetsPath: prefix,
    converseVersion: version
  }
  const page = Buffer.from(chatPageHtml(settings))
  const boot = Buffer.from(chatBootScript(prefix))

  const send = async (reply: FastifyReply, type: string, body: Buffer, cache: string): Promise<FastifyReply> =>
    await reply.headers(PAGE_HEADERS).header('cache-control', cache).type(type).send(body)
  // The page and its script name the asset version, so they are revalidated; the assets are not.
  app.get('/', async (_req, reply) => await send(reply, 'text/html; charset=utf-8', page, 'no-cache'))
  app.get('/chat.js', async (_req, reply) => await send(reply, 'text/javascript; charset=utf-8', boot, 'no-cache'))
  for (const [path, asset] of assets) {
    app.get(prefix + path, async (_req, reply) => await send(reply, asset.type, asset.body, 'public, max-age=31536000, immutable'))
  }
  const icon = assets.get('images/favicon.ico')
  if (icon !== undefined) app.get('/favicon.ico', async (_req, reply) => await send(reply, icon.type, icon.body, 'public, max-age=86400'))
}
