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

/** RFC 6120 §4.9.3: every defined stream error condition. */
export const STREAM_ERROR_CONDITIONS = [
  'bad-format', 'bad-namespace-prefix', 'conflict', 'connection-timeout', 'host-gone',
  'host-unknown', 'improper-addressing', 'internal-server-error', 'invalid-from',
  'invalid-namespace', 'invalid-xml', 'not-authorized', 'not-well-formed', 'policy-violation',
  'remote-connection-failed', 'reset', 'resource-constraint', 'restricted-xml', 'see-other-host',
  'system-shutdown', 'undefined-condition', 'unsupported-encoding', 'unsupported-feature',
  'unsupported-stanza-type', 'unsupported-version'
] as const

export type StreamErrorCondition = typeof STREAM_ERROR_CONDITIONS[number]

const STREAM_ERROR_SET: ReadonlySet<string> = new Set(STREAM_ERROR_CONDITIONS)

export function isStreamErrorCondition (name: string): name is StreamErrorCondition {
  return STREAM_ERROR_SET.has(name)
}

/**
 * Why a connection ended when the server did not end its stream itself: the backend
 * implementation's own reasons (for the link, docs/link-protocol.md).
 */
export type LinkCloseReason =
  /** the link went down: every connection on it ends ("When the link is lost…") */
  | 'link-lost'
  /** the edge stopped the link (shutdown) */
  | 'link-closed'
  /** a session frame from the server that the link could not decode (ERROR bad-frame) */
  | 'bad-frame'
  /** the server sent an element larger than the link accepts (maxReceiveFrameSize) */
  | 'frame-too-large'
  /** the server's terminal ERRORs about the connection (docs/link-protocol.md "Errors") */
  | 'session-limit'
  | 'internal'
  | 'unknown-connection'
  | 'duplicate-connection'

/**
 * Why a stream ended, as a ConnectionHandler hears it:
 *  - '' : the server ended the stream normally (the user logged out, the session was replaced
 *    without an error, …);
 *  - a stream error condition: the server ended the stream with it; when it sent a
 *    `<stream:error/>`, that element came first through onData. A condition RFC 6120 does not
 *    define arrives as `undefined-condition` (closeReasonFromServer);
 *  - a LinkCloseReason: the backend implementation ended it.
 * Each transport maps these with an exhaustive switch (src/bosh/conditions.ts
 * conditionForStreamEnd, src/ws/conditions.ts conditionForClose), which the compiler checks
 * when a reason is added here.
 */
export type CloseReason = '' | StreamErrorCondition | LinkCloseReason

/** A CLOSE condition as the server wrote it, as a CloseReason. */
export function closeReasonFromServer (condition: string): '' | StreamErrorCondition {
  if (condition === '' || isStreamErrorCondition(condition)) return condition
  return 'undefined-condition' // RFC 6120 §4.9.3.21: not one of the defined conditions
}

/**
 * What a session is ended with when the backend refuses an element it sent (send/restart threw
 * a MegaphoneError with `code`). The client's own doing is `policy-violation` (RFC 6120
 * §4.9.3.14, XEP-0124 §17.2): an element above the link's frame size (LINK_SEND_TOO_LARGE), or
 * more of its own frames waiting for the link than its budget (LINK_SESSION_BUDGET, issue 16:
 * one session cannot hurt another). Anything else (the link down, its shared queue full) is not
 * the client's fault: `remote-connection-failed` (RFC 6120 §4.9.3.16).
 */
export function sendRefusalCondition (code: string): 'policy-violation' | 'remote-connection-failed' {
  return code === 'LINK_SEND_TOO_LARGE' || code === 'LINK_SESSION_BUDGET' ? 'policy-violation' : 'remote-connection-failed'
}

/** The reason a session refused by send/restart is counted under (metrics' `condition` label). */
export function sendRefusalReason (code: string): string {
  switch (code) {
    case 'LINK_SESSION_BUDGET': return 'session-budget'
    case 'LINK_SEND_TOO_LARGE': return 'send-too-large'
    case 'LINK_QUEUE_FULL': return 'link-queue-full'
    default: return 'link-down'
  }
}

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
  /** The stream is over, for `reason` (see CloseReason). */
  onClose (reason: CloseReason): void
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
