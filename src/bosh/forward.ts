/**
 * Several edges serve one deployment (issue 14, docs/scale-out.md): a BOSH session lives in the
 * edge that created it, and its sid names that edge (`<32 hex>.<edgeId>`, src/table/registry.ts).
 * A request that reaches another edge (a round-robin balancer, a balancer that lost its
 * stickiness, an edge restarted elsewhere) is forwarded to the owner as it came, and the owner's
 * answer is sent back: any load balancer works, and stickiness only saves the extra hop.
 *
 * - Only a sid this edge does not know, whose suffix names a configured peer other than this
 *   edge, is forwarded; the owner never forwards again (the suffix names itself), so a request
 *   crosses at most one hop.
 * - The answer's status and body are the owner's; its headers are not copied: CORS, nosniff and
 *   the content type are this edge's own (nothing a peer sends chooses a response header).
 * - A held request whose client goes away (a page reload) aborts the forwarded request, so the
 *   owner sees its connection close as if the client had been its own (XEP-0124 §8 accounting,
 *   src/bosh/responder.ts).
 * - The owner reads the client's address from X-Forwarded-For when the forwarding edge is in
 *   its `trustProxy` list.
 * - A peer that cannot be reached, or that answers with something that is not a BOSH body,
 *   ends the request with XEP-0124 §17.2 remote-connection-failed: the session is gone with it.
 */
import { Agent, request, type IncomingMessage } from 'node:http'
import type { HttpReply } from '../http/reply.ts'
import { SID_LENGTH } from '../table/index.ts'
import { legacyStatus } from './conditions.ts'
import { terminateResponse } from './response.ts'

const XML = 'text/xml; charset=utf-8'
const UNREACHABLE = terminateResponse('remote-connection-failed')
/** A BOSH answer larger than this from a peer is not believed (rosters and MAM pages stay far below). */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024

export interface ForwardOptions {
  /** this edge's id (the suffix of the sids it creates) */
  edgeId: string
  /** every edge of the deployment by id: the URL of its BOSH endpoint (this edge's own entry is ignored) */
  peers: ReadonlyMap<string, URL>
  /** how long a forwarded request may stay open (ms): the longest `wait` plus a margin */
  timeoutMs: number
}

export class BoshForwarder {
  /** requests forwarded, and those that failed to reach their owner (for metrics) */
  forwarded = 0
  failed = 0
  private readonly agent = new Agent({ keepAlive: true, maxFreeSockets: 256 })
  private readonly ownSuffix: string

  constructor (private readonly o: ForwardOptions) {
    this.ownSuffix = `.${o.edgeId}`
  }

  /**
   * The owner's BOSH URL when `sid` names another edge of the deployment, else undefined. A sid
   * of this edge's own costs a comparison (no string is made).
   */
  ownerOf (sid: string): URL | undefined {
    if (sid.length <= SID_LENGTH + 1 || sid.charCodeAt(SID_LENGTH) !== 0x2e /* . */ || sid.endsWith(this.ownSuffix)) return undefined
    return this.o.peers.get(sid.slice(SID_LENGTH + 1))
  }

  /** Sends `raw` to `owner` and answers `reply` with what the owner answers. */
  forward (owner: URL, raw: Buffer, reply: HttpReply): void {
    this.forwarded++
    const upstream = request(owner, {
      method: 'POST',
      agent: this.agent,
      timeout: this.o.timeoutMs,
      headers: { 'content-type': XML, 'content-length': raw.length, 'x-forwarded-for': reply.ip }
    })
    const fail = (): void => {
      if (!reply.open) return
      this.failed++
      reply.send(legacyStatus('remote-connection-failed'), XML, UNREACHABLE)
    }
    upstream.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > MAX_ANSWER_BYTES) { upstream.destroy(); fail(); return }
        chunks.push(chunk)
      })
      res.on('end', () => {
        if (size > MAX_ANSWER_BYTES) return
        const body = Buffer.concat(chunks).toString('utf8')
        // What comes back must be a BOSH answer: the client is told nothing else.
        if (!body.startsWith('<body')) { fail(); return }
        reply.send(res.statusCode ?? 502, XML, body)
      })
      res.on('error', fail)
    })
    upstream.on('timeout', () => { upstream.destroy() })
    upstream.on('error', fail)
    // The client left (reload, tab closed): the owner must see its held request's connection close.
    reply.holder = { requestAborted: () => { upstream.destroy() } }
    upstream.end(raw)
  }

  close (): void {
    this.agent.destroy()
  }
}

/** `id=http://host:port/path` entries (the edgePeers option) as a map of id → URL. */
export function parsePeers (entries: readonly string[]): Map<string, URL> {
  const peers = new Map<string, URL>()
  for (const e of entries) {
    const eq = e.indexOf('=')
    peers.set(e.slice(0, eq), new URL(e.slice(eq + 1)))
  }
  return peers
}
