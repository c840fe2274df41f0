/**
 * One lean POST request and its answer: the Responder the BOSH session holds (its contract is
 * src/bosh/responder.ts; this class matches it structurally, so src/http imports nothing from
 * src/bosh). It is the only object the lean path allocates per request besides Node's own
 * request, response and body buffer: reading state, CORS answer and timing are its fields, and
 * Node's 'data', 'end' and 'close' events find it through the request and response objects
 * (module-level listeners, no closure per request).
 *
 *   READING --end of body--> HANDLING --send()--> DONE
 *      |                        |
 *      +---connection closed----+--> CLOSED (holder.requestAborted once; nothing written)
 */
import type { IncomingMessage, OutgoingHttpHeader, ServerResponse } from 'node:http'
import { CSP, NOSNIFF } from './security.ts'

/** Told when a held request's connection closes before it was answered. */
export interface AbortListener {
  requestAborted (reply: HttpReply): void
}

/** The shared state of the lean path that a reply reads when it answers. */
export interface ReplyFront {
  /** `Vary: Origin` on every answer (the CORS answer depends on the Origin) */
  readonly varyOrigin: boolean
  /** sees each answer: its status and how long the request was open, in seconds */
  readonly observe: ((status: number, seconds: number) => void) | undefined
  /** the client's address for `req` (the socket's peer, or a trusted proxy's X-Forwarded-For hop) */
  readonly clientIp: (req: IncomingMessage) => string
}

export const READING = 0
export const HANDLING = 1
export const DONE = 2
export const CLOSED = 3

/**
 * Where Node's events find the reply: a field on the request and the response. The public
 * server's request and response classes declare it (src/http/app.ts), so every object has it
 * from construction and keeps one shape; objects made elsewhere (light-my-request in tests)
 * get it added.
 */
export const REPLY = Symbol('megaphone.reply')
export interface Carrier { [REPLY]?: HttpReply | undefined }

export class HttpReply {
  holder: AbortListener | undefined = undefined
  state = READING
  /** the body so far (READING); dropped once handed on */
  body: Buffer | undefined = undefined
  /** bytes of `body` filled */
  filled = 0
  /** the Content-Length, or -1 for a chunked body */
  length = -1
  /** bytes of this body counted against the front's budget of buffered bytes */
  reserved = 0
  /** the client's address while admission control counts this request (until 'close') */
  admitted: string | undefined = undefined
  /** performance.now() when the request arrived (for observe) */
  readonly started: number

  constructor (
    readonly front: ReplyFront,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    /** the Access-Control-Allow-Origin value, or undefined for none */
    readonly allowOrigin: string | undefined
  ) {
    this.started = front.observe === undefined ? 0 : performance.now()
  }

  /** Still waiting for its answer, with its connection open. */
  get open (): boolean {
    return this.state === HANDLING && this.res.socket?.destroyed !== true
  }

  /** The client's address (read when asked: only session creation needs it). */
  get ip (): string { return this.admitted ?? this.front.clientIp(this.req) }
  get port (): number { return this.req.socket?.remotePort ?? 0 }

  /** The answer; once. Later calls, and calls after the connection closed, write nothing. */
  send (status: number, contentType: string, body: string): void {
    if (this.state !== HANDLING) return
    this.state = DONE
    writeAnswer(this, status, contentType, body, false)
  }

  /**
   * An answer to a request whose body was not read (too large, no room to buffer it), or was
   * read only in part: the connection closes after it, so that no unread body is taken for the
   * next request.
   */
  refuse (status: number, contentType: string, body: string): void {
    if (this.state !== READING && this.state !== HANDLING) return
    this.state = DONE
    writeAnswer(this, status, contentType, body, true)
  }
}

/**
 * One array for every answer's headers: writeHead() turns them into the header block before it
 * returns, so the array is free again at once.
 */
const headers: OutgoingHttpHeader[] = []

/** Writes the whole answer at once: the header block and the body leave in one write. */
function writeAnswer (r: HttpReply, status: number, contentType: string, body: string, close: boolean): void {
  const h = headers
  h.length = 0
  // XEP-0124 §5: a Content-Length, never chunked.
  h.push('Content-Type', contentType, 'Content-Length', String(Buffer.byteLength(body)), NOSNIFF[0], NOSNIFF[1], CSP[0], CSP[1])
  if (r.allowOrigin !== undefined) h.push('Access-Control-Allow-Origin', r.allowOrigin)
  if (r.front.varyOrigin) h.push('Vary', 'Origin')
  if (close) h.push('Connection', 'close')
  r.res.writeHead(status, h)
  h.length = 0
  r.res.end(body)
  const observe = r.front.observe
  if (observe !== undefined) observe(status, (performance.now() - r.started) / 1000)
}
