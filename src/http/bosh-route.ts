/**
 * The BOSH endpoint over HTTP: POST bodies in, `<body/>` responses out (XEP-0124 §5), and a
 * short human-readable page on GET. Bodies are read as text whatever their Content-Type
 * (XEP-0124 §5: "SHOULD ignore all HTTP Content-Type headers"); fastify sends every response
 * with a Content-Length and no chunking (XEP-0124 §5).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { parseBody } from '../bosh/body.ts'
import { BoshManager } from '../bosh/manager.ts'
import type { AbortListener, Responder } from '../bosh/responder.ts'

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Megaphone BOSH</title></head>
<body><h1>Megaphone</h1>
<p>This is an XMPP over BOSH endpoint (XEP-0124, XEP-0206). Point an XMPP client such as
Strophe.js or Converse.js at this URL; browsers POST <code>&lt;body/&gt;</code> elements here.</p>
</body></html>
`

/** A held HTTP request, as the BOSH session sees it. */
class HttpResponder implements Responder {
  holder: AbortListener | undefined = undefined
  private done = false
  constructor (
    private readonly req: FastifyRequest,
    private readonly reply: FastifyReply,
    private readonly resolve: (body: string) => void
  ) {}

  get open (): boolean {
    return !this.done && !this.req.raw.socket.destroyed
  }

  send (status: number, contentType: string, body: string): void {
    if (this.done) return
    this.done = true
    void this.reply.code(status).type(contentType)
    this.resolve(body)
  }
}

export interface BoshRouteOptions {
  path: string
  maxBodyBytes: number
  maxPayloads: number
  maxDepth: number
}

export function boshRoutes (app: FastifyInstance, manager: BoshManager, o: BoshRouteOptions): void {
  app.get(o.path, async (_req, reply) => await reply.type('text/html; charset=utf-8').send(PAGE))

  app.post(o.path, { bodyLimit: o.maxBodyBytes }, async (req, reply) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
    const parsed = parseBody(raw, { maxBodyBytes: o.maxBodyBytes, maxPayloads: o.maxPayloads, maxDepth: o.maxDepth })
    if (!parsed.ok) {
      // XEP-0124 §17.2: the body cannot be read, so neither can its sid: answer bad-request (or
      // policy-violation when too large) with the legacy HTTP status too (§17.1), which every
      // client treats as terminal.
      const r = BoshManager.unparsable(parsed.condition)
      return await reply.code(r.status).type('text/xml; charset=utf-8').send(r.body)
    }
    return await new Promise<string>(resolve => {
      manager.handle(parsed.attrs, parsed.children, new HttpResponder(req, reply, resolve), {
        ip: req.ip,
        port: req.socket.remotePort ?? 0
      })
    })
  })
}
