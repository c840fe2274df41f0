/**
 * The link's request/reply channel to the backend's announcer (docs/link-protocol.md,
 * "API_REQUEST and API_REPLY"): request ids, pending requests, their timeouts, and what ends
 * them. The client (src/link/client.ts) owns one and feeds it the frames; this file does no I/O.
 *
 *   const reply = await link.apiRequest({ op: 'status', job }, 5_000)   // { ok: true, ... }
 *
 * A backend without the announcer (Prosody's module, an older mod_megaphone) answers API_REQUEST
 * with `ERROR unknown-type` on connection 0, which names no request: every pending request then
 * rejects with LINK_API_UNSUPPORTED, and so does every later one until the link reconnects
 * (the backend may have been upgraded meanwhile), so the API can answer 503 at once.
 */
import type { MegaphoneError } from '../errors.ts'
import { API_REQUEST, LinkProtocolError, encodeApiRequest, parseApi } from './codec/index.ts'
import { linkError } from './errors.ts'

/** No API_REPLY within the caller's timeout. */
export const LINK_API_TIMEOUT = 'LINK_API_TIMEOUT'
/** The backend does not implement API_REQUEST (it answered ERROR unknown-type). */
export const LINK_API_UNSUPPORTED = 'LINK_API_UNSUPPORTED'
/** An API_REPLY whose JSON is not an object. */
export const LINK_API_BAD_REPLY = 'LINK_API_BAD_REPLY'
/** maxPending requests are already waiting for replies. */
export const LINK_API_BUSY = 'LINK_API_BUSY'

/**
 * Requests one link may have waiting. Each is a small JSON object the backend answers in
 * milliseconds; the bound only stops a stuck backend from accumulating timers without limit.
 */
export const DEFAULT_MAX_PENDING_API = 256

/** A JSON object, as the backend's replies are (docs/link-protocol.md "JSON ops"). */
export type ApiJson = Record<string, unknown>

interface Pending {
  resolve: (reply: ApiJson) => void
  reject: (error: MegaphoneError) => void
  timer: NodeJS.Timeout
}

/** docs/link-protocol.md: the backend's ERROR text for an unknown type is `type <decimal>`. */
const TYPE_IN_TEXT = /\btype (\d+)\b/

export class ApiRequests {
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  /** The backend answered unknown-type to API_REQUEST on this link. */
  private unsupportedText: string | undefined

  constructor (private readonly maxPending = DEFAULT_MAX_PENDING_API) {}

  get size (): number {
    return this.pending.size
  }

  /**
   * Starts a request: `write` is given the API_REQUEST frame (it may throw, e.g. frame too large,
   * and then nothing is left pending). Resolves with the reply's JSON object.
   */
  async request (json: object, timeoutMs: number, write: (frame: Buffer) => void): Promise<ApiJson> {
    if (this.unsupportedText !== undefined) throw this.unsupported(this.unsupportedText)
    if (this.pending.size >= this.maxPending) throw linkError(LINK_API_BUSY, `${this.pending.size} API requests pending`)
    const requestId = this.nextId
    // u32 on the wire, never 0 (easier to spot in a capture); wraps after 4 billion requests.
    this.nextId = this.nextId >= 0xffff_ffff ? 1 : this.nextId + 1
    const frame = encodeApiRequest(requestId, JSON.stringify(json))
    write(frame)
    return await new Promise<ApiJson>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId)
        reject(linkError(LINK_API_TIMEOUT, `no API_REPLY within ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(requestId, { resolve, reject, timer })
    })
  }

  /**
   * An API_REPLY: settles its request. Returns a LinkProtocolError when the frame itself is
   * malformed (the client answers bad-frame); a reply for no pending request (timed out) is dropped.
   */
  onReply (data: Buffer): LinkProtocolError | undefined {
    const reply = parseApi(data)
    if (reply instanceof LinkProtocolError) return reply
    const pending = this.pending.get(reply.requestId)
    if (pending === undefined) return undefined
    this.pending.delete(reply.requestId)
    clearTimeout(pending.timer)
    let value: unknown
    try {
      value = JSON.parse(reply.json)
    } catch (err) {
      pending.reject(linkError(LINK_API_BAD_REPLY, 'API_REPLY holds no valid JSON', err))
      return undefined
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      pending.reject(linkError(LINK_API_BAD_REPLY, 'API_REPLY holds JSON that is not an object'))
      return undefined
    }
    pending.resolve(value as ApiJson)
    return undefined
  }

  /**
   * ERROR unknown-type on connection 0. Returns true when it was about API_REQUEST (its text names
   * type 8, or names no type while requests are pending): they all reject with LINK_API_UNSUPPORTED.
   */
  onUnknownType (text: string): boolean {
    const m = TYPE_IN_TEXT.exec(text)
    const aboutApi = m === null ? this.pending.size > 0 : Number(m[1]) === API_REQUEST
    if (!aboutApi) return false
    this.unsupportedText = text
    this.rejectAll(this.unsupported(text))
    return true
  }

  /** The link went down: every pending request rejects; a new link may support the API. */
  reset (error: MegaphoneError): void {
    this.unsupportedText = undefined
    this.rejectAll(error)
  }

  private rejectAll (error: MegaphoneError): void {
    const all = [...this.pending.values()]
    this.pending.clear()
    for (const p of all) {
      clearTimeout(p.timer)
      p.reject(error)
    }
  }

  private unsupported (text: string): MegaphoneError {
    return linkError(LINK_API_UNSUPPORTED, `the backend does not implement API_REQUEST (ERROR unknown-type: ${text})`)
  }
}
