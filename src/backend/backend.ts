/**
 * What a transport (BOSH, WebSocket) needs from the server side: open an XMPP stream for a
 * browser session, push elements into it, restart it, close it, and hear back. The link client
 * (src/link/) is the production implementation; unit tests use a scripted backend
 * (test/fixtures/scripted-backend.ts) that implements the same contract in-process.
 *
 * Connection ids are numbers chosen by the backend implementation; the transport only stores
 * them. A handler is called for one connection only, and never after onClose.
 */

export type Transport = 'bosh' | 'websocket'

export interface OpenParams {
  transport: Transport
  /** the domain the client asked for (BOSH `to`, RFC 7395 `<open to=…>`) */
  to: string
  /** the browser's address as the edge saw it; ejabberd sees it as the peer */
  ip: string
  port: number
  /** xml:lang of the stream, or '' */
  lang: string
}

export interface StreamStart {
  id: string
  from: string
  version: string
  lang: string
}

export interface ConnectionHandler {
  /** the server's stream header: after open, and after every restart */
  onStreamStart (start: StreamStart): void
  /** exactly one top-level element, standalone (it declares its own namespaces) */
  onData (xml: string): void
  /**
   * The stream is over. `condition` is '' for a normal end, the XMPP stream error condition
   * after a `<stream:error>` (delivered by onData first), or a link-level reason
   * (`link-lost`, `link-queue-full`, ...).
   */
  onClose (condition: string): void
}

export interface Backend {
  /** true when the backend can take new sessions now (the link is up and authenticated) */
  readonly ready: boolean
  /** Opens a stream; returns the connection id, or throws a MegaphoneError (link down, queue full). */
  open (params: OpenParams, handler: ConnectionHandler): number
  /** Sends one element (the client's own bytes). Throws a MegaphoneError if it cannot be queued. */
  send (connId: number, xml: string): void
  /** Stream restart after SASL success (XEP-0206 §5). */
  restart (connId: number): void
  /** Ends the stream; the handler gets no further calls. `condition` is for the server's logs. */
  close (connId: number, condition: string): void
}
