/**
 * The lean POST path: one route (BOSH's `POST /http-bind`) served straight from Node's request
 * and response, without fastify's per-request objects, because every BOSH long-poll is such a
 * request and thousands are held at once. The body is read into one Buffer (Content-Length
 * known: one allocation, or none when it arrives in one chunk; chunked: doubling up to the
 * limit), then handed to the route with the reply that answers it.
 *
 * Limits, each an option (src/config/schema.ts):
 * - the route's `maxBodyBytes`: a longer body is refused (the route says how: XEP-0124 §17.2
 *   policy-violation, HTTP 403) without reading it, or as soon as it gets longer;
 * - `maxBufferedBodyBytes`: bytes buffered for bodies not yet complete, all requests together;
 *   a body that would go past it is refused (the route's 'busy' answer), so that slow senders
 *   cannot make the edge hold their bytes without bound;
 * - the time to receive headers and body is Node's (`headersTimeout`, `requestTimeout`, set on
 *   the server in src/http/app.ts): Node answers 408 and closes; a request held after its body
 *   arrived is no longer timed by Node.
 *
 * Nothing here allocates a closure or a promise per request: listeners are module functions
 * that find the reply through the request or response they fire on.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { CLOSED, DONE, HANDLING, HttpReply, READING, REPLY, type Carrier, type ReplyFront } from './reply.ts'
import type { CorsPolicy } from './security.ts'

/** Why a request was answered by the front rather than the route. */
export type Refusal =
  /** the body is longer than maxBodyBytes */
  | 'too-large'
  /** buffering the body would pass maxBufferedBodyBytes */
  | 'busy'
  /** the route threw */
  | 'internal'
  /** the client's address has too many requests open (admission control) */
  | 'too-many'

/** Admission control as the lean path sees it (src/admission/admission.ts implements it). */
export interface RequestAdmission {
  /** null and counted, or why the request is refused */
  admitRequest (ip: string): string | null
  requestReleased (ip: string): void
}

/** What serves the lean path (BOSH, mounted by src/bosh/edge.ts). */
export interface LeanRoute {
  /** the URL path; a query string after it is ignored */
  readonly path: string
  /** the longest body read; a longer one is refused with 'too-large' */
  readonly maxBodyBytes: number
  /** one complete body; `reply` is answered now or later */
  handle (body: Buffer, reply: HttpReply): void
  /** answers a request the front will not hand on; must call reply.refuse() */
  refuse (reply: HttpReply, why: Refusal): void
}

export interface LeanPostOptions {
  maxBufferedBodyBytes: number
  cors: CorsPolicy
  observe?: ((status: number, seconds: number) => void) | undefined
  admission?: RequestAdmission | undefined
  clientIp: (req: IncomingMessage) => string
  /** an exception from the route (after it has been answered with 'internal') */
  onError?: ((err: unknown) => void) | undefined
}

const EMPTY = Buffer.alloc(0)
/** The first buffer of a chunked body that arrives in more than one chunk. */
const FIRST_CHUNKED_CAPACITY = 4096

export class LeanPost implements ReplyFront {
  route: LeanRoute | undefined = undefined
  /** bytes reserved for bodies not yet complete */
  buffered = 0
  /** requests the front answered itself, by why (metrics) */
  readonly refused: Record<Refusal, number> = { 'too-large': 0, busy: 0, internal: 0, 'too-many': 0 }
  readonly varyOrigin: boolean
  readonly observe: ((status: number, seconds: number) => void) | undefined
  readonly clientIp: (req: IncomingMessage) => string

  constructor (readonly o: LeanPostOptions) {
    this.varyOrigin = !o.cors.any
    this.observe = o.observe
    this.clientIp = o.clientIp
  }

  /** True when `req` is for the lean route. */
  takes (req: IncomingMessage): boolean {
    const route = this.route
    if (route === undefined || req.method !== 'POST') return false
    const url = req.url ?? ''
    const path = route.path
    // '?' (63): a query string is not part of the path.
    return url === path || (url.length > path.length && url.charCodeAt(path.length) === 63 && url.startsWith(path))
  }

  /** Serves one request that `takes` accepted. */
  serve (req: IncomingMessage, res: ServerResponse): void {
    const route = this.route
    if (route === undefined) return
    // One pass over the raw headers for the two this path reads: no headers object is built.
    let length = -1
    let origin: string | undefined
    const raw = req.rawHeaders
    const cors = this.o.cors
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!
      if (name.length === 14 && name.toLowerCase() === 'content-length') length = Number(raw[i + 1])
      else if (name.length === 6 && !cors.any && name.toLowerCase() === 'origin') origin = raw[i + 1]
    }
    const r = new HttpReply(this, req, res, cors.allow(origin))
    ;(req as IncomingMessage & Carrier)[REPLY] = r
    ;(res as ServerResponse & Carrier)[REPLY] = r
    res.on('close', onClose)
    const admission = this.o.admission
    if (admission !== undefined) {
      // Held requests per address (src/admission/): counted from now until onClose.
      const ip = this.clientIp(req)
      if (admission.admitRequest(ip) !== null) { this.refuse(r, 'too-many'); return }
      r.admitted = ip
    }
    // Node's parser has checked the header (digits, no conflicting duplicates); without one, a
    // POST body is chunked or empty.
    if (Number.isSafeInteger(length) && length >= 0) {
      r.length = length
      if (length > route.maxBodyBytes) { this.refuse(r, 'too-large'); return }
      if (length > 0) {
        if (this.buffered + length > this.o.maxBufferedBodyBytes) { this.refuse(r, 'busy'); return }
        r.reserved = length
        this.buffered += length
      }
    }
    req.on('data', onData)
    req.on('end', onEnd)
  }

  /** Answers through the route, and gives back the body's buffered bytes. */
  refuse (r: HttpReply, why: Refusal): void {
    this.refused[why]++
    this.release(r)
    const route = this.route
    if (route !== undefined) route.refuse(r, why)
    // A route that did not answer must not leave the connection hanging.
    if (r.state === READING || r.state === HANDLING) r.refuse(500, 'text/plain; charset=utf-8', '')
  }

  release (r: HttpReply): void {
    this.buffered -= r.reserved
    r.reserved = 0
    r.body = undefined
  }

  /** The body is complete. */
  complete (r: HttpReply): void {
    const body = r.body === undefined ? EMPTY : r.filled === r.body.length ? r.body : r.body.subarray(0, r.filled)
    this.buffered -= r.reserved
    r.reserved = 0
    r.body = undefined
    r.state = HANDLING
    try {
      this.route?.handle(body, r)
    } catch (err) {
      if (r.state === HANDLING) this.refuse(r, 'internal')
      this.o.onError?.(err)
    }
  }

  /** One chunk of a chunked body: grows the buffer by doubling, within both limits. */
  chunked (r: HttpReply, chunk: Buffer): void {
    const need = r.filled + chunk.length
    const max = this.route?.maxBodyBytes ?? 0
    if (need > max) { this.refuse(r, 'too-large'); return }
    const body = r.body
    if (body === undefined) {
      // Most bodies arrive whole: keep the chunk itself until a second one comes.
      if (!this.reserve(r, chunk.length)) return
      r.body = chunk
      r.filled = chunk.length
      return
    }
    if (need > body.length) {
      // Full (the first chunk is always full: it is Node's own buffer): copy into one of ours
      // with room to grow.
      const capacity = Math.min(max, Math.max(need, FIRST_CHUNKED_CAPACITY, r.filled * 2))
      if (!this.reserve(r, capacity - r.reserved)) return
      const grown = Buffer.allocUnsafe(capacity)
      body.copy(grown, 0, 0, r.filled)
      r.body = grown
    }
    chunk.copy(r.body!, r.filled)
    r.filled = need
  }

  private reserve (r: HttpReply, bytes: number): boolean {
    if (bytes <= 0) return true
    if (this.buffered + bytes > this.o.maxBufferedBodyBytes) { this.refuse(r, 'busy'); return false }
    this.buffered += bytes
    r.reserved += bytes
    return true
  }
}

function replyOf (o: object): HttpReply | undefined {
  return (o as Carrier)[REPLY]
}

function onData (this: IncomingMessage, chunk: Buffer): void {
  const r = replyOf(this)
  if (r === undefined || r.state !== READING) return
  const front = r.front as LeanPost
  if (r.length < 0) { front.chunked(r, chunk); return }
  // Node's parser never delivers more than the Content-Length.
  const body = r.body
  if (body === undefined && chunk.length === r.length) {
    // The whole body in one chunk, in a buffer of its own: no copy.
    r.body = chunk
    r.filled = chunk.length
    return
  }
  const into = body ?? (r.body = Buffer.allocUnsafe(r.length))
  chunk.copy(into, r.filled)
  r.filled += chunk.length
}

function onEnd (this: IncomingMessage): void {
  const r = replyOf(this)
  if (r === undefined || r.state !== READING) return
  ;(r.front as LeanPost).complete(r)
}

/** The response is finished, or its connection closed first. */
function onClose (this: ServerResponse): void {
  const r = replyOf(this)
  if (r === undefined) return
  if (r.admitted !== undefined) {
    (r.front as LeanPost).o.admission?.requestReleased(r.admitted)
    r.admitted = undefined
  }
  const was = r.state
  if (was === DONE || was === CLOSED) return
  r.state = CLOSED
  // A body cut off (or timed out by Node) gives its bytes back.
  if (was === READING) { (r.front as LeanPost).release(r); return }
  // A held request whose connection closed: its holder hears it once, and nothing is
  // written to it afterwards (send() sees CLOSED).
  const holder = r.holder
  if (holder !== undefined) holder.requestAborted(r)
}
