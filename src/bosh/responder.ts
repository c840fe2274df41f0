/**
 * The contract between the HTTP side (src/http/) and a BOSH session: one HTTP request that the
 * session answers, now or later. The HTTP side implements it; the session and the manager only
 * call it. Kept apart from the session so that neither side imports the other's internals.
 */

/** Told when a held request's HTTP connection closes before it was answered. */
export interface AbortListener {
  requestAborted (reply: Responder): void
}

/** Where a response goes: one HTTP request. */
export interface Responder {
  /** false once the client's HTTP connection has gone away, or once answered */
  readonly open: boolean
  /**
   * Whoever holds this request unanswered (the session) sets itself here, and clears it when it
   * answers or forgets the request. If the connection closes first, the HTTP side calls
   * `holder.requestAborted(this)` once and never writes to it afterwards. An object rather
   * than a callback, so that holding a request allocates no closure.
   */
  holder: AbortListener | undefined
  send (status: number, contentType: string, body: string): void
}
