/**
 * Mounts BOSH on the edge (src/edge.ts): the session manager over the shared session table,
 * its deadlines in a range of the shared timer wheel, `POST <path>` on the HTTP front's lean
 * path (XEP-0124 §5: bodies in, `<body/>` answers out, each with a Content-Length) and a short
 * human-readable page on GET. Bodies are read as bytes whatever their Content-Type (XEP-0124
 * §5: "SHOULD ignore all HTTP Content-Type headers").
 */
import type { Edge } from '../edge.ts'
import type { HttpReply } from '../http/reply.ts'
import type { LeanRoute, Refusal } from '../http/lean-post.ts'
import { parseBody, type BodyLimits } from './body.ts'
import { legacyStatus } from './conditions.ts'
import { BoshManager } from './manager.ts'
import type { BoshForwarder } from './forward.ts'
import { BOSH_DEFAULTS, type BoshOptions } from './options.ts'
import { terminateResponse } from './response.ts'

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Megaphone BOSH</title></head>
<body><h1>Megaphone</h1>
<p>This is an XMPP over BOSH endpoint (XEP-0124, XEP-0206). Point an XMPP client such as
Strophe.js or Converse.js at this URL; browsers POST <code>&lt;body/&gt;</code> elements here.</p>
</body></html>
`

const XML = 'text/xml; charset=utf-8'

// Answers to requests the HTTP front would not hand on; the session (if any) is untouched.
// XEP-0124 §17.2 policy-violation for a body over the limit, with §17.1's 403 (we cannot know
// whether the client is a legacy one without reading the body).
const TOO_LARGE = terminateResponse('policy-violation')
// No room to buffer another body now: the edge's own trouble, not the client's fault.
const BUSY = terminateResponse('undefined-condition', ["<text xmlns='urn:xmpp:megaphone'>too many request bodies in flight; retry</text>"])
const INTERNAL = terminateResponse('internal-server-error')
// Admission control: this address has too many requests open (RFC 6585 §4 429, with XEP-0124
// §17.2 policy-violation for the client).
const TOO_MANY = terminateResponse('policy-violation')

/** The BOSH route on the HTTP front's lean path. */
class BoshRoute implements LeanRoute {
  readonly maxBodyBytes: number
  constructor (
    readonly path: string,
    private readonly manager: BoshManager,
    private readonly limits: BodyLimits,
    /** the other edges of the deployment, when there are any (src/bosh/forward.ts) */
    private readonly forwarder: BoshForwarder | undefined
  ) {
    this.maxBodyBytes = limits.maxBodyBytes
  }

  handle (raw: Buffer, reply: HttpReply): void {
    const parsed = parseBody(raw, this.limits)
    if (!parsed.ok) {
      // XEP-0124 §17.2: the body cannot be read, so neither can its sid: answer bad-request (or
      // policy-violation) with the legacy HTTP status too (§17.1), which every client treats
      // as terminal.
      reply.send(legacyStatus(parsed.condition), XML, terminateResponse(parsed.condition))
      return
    }
    // A session another edge of the deployment owns: the request goes there as it came (an
    // unknown sid stopped the parse at the start tag, so this costs nothing more).
    const forwarder = this.forwarder
    if (forwarder !== undefined && parsed.attrs.sid !== undefined) {
      const owner = forwarder.ownerOf(parsed.attrs.sid)
      if (owner !== undefined) { forwarder.forward(owner, raw, reply); return }
    }
    // The reply is the client's address too (read only when a session is created).
    this.manager.handle(parsed.attrs, parsed.children, reply, reply)
  }

  refuse (reply: HttpReply, why: Refusal): void {
    if (why === 'too-large') reply.refuse(403, XML, TOO_LARGE)
    else if (why === 'busy') reply.refuse(503, XML, BUSY)
    else if (why === 'too-many') reply.refuse(429, XML, TOO_MANY)
    else reply.refuse(500, XML, INTERNAL)
  }
}

/** Adds BOSH to `edge` (before it listens); returns its session manager. */
export function mountBosh (edge: Edge, options: Partial<BoshOptions> = {}, forwarder?: BoshForwarder): BoshManager {
  const o: BoshOptions = { ...BOSH_DEFAULTS, ...options }
  const deadlines = edge.timers(edge.maxSessions * 2, id => { manager.fire(id) })
  const manager = new BoshManager(edge.backend, edge.registry, o, deadlines, edge.now)
  manager.admission = edge.admission
  edge.app.get(o.path, async (_req, reply) => await reply.type('text/html; charset=utf-8').send(PAGE))
  // The sid is looked up before a body's namespaces and payloads are read (src/bosh/body.ts):
  // one function for the edge's life, not one per request.
  const knownSid = (sid: string): boolean => manager.knows(sid)
  edge.http.post(new BoshRoute(o.path, manager, { maxBodyBytes: o.maxBodyBytes, maxPayloads: o.maxPayloads, maxDepth: o.maxDepth, knownSid }, forwarder))
  if (forwarder !== undefined) edge.app.addHook('onClose', (_app, done) => { forwarder.close(); done() })
  return manager
}
