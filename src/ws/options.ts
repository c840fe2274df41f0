/**
 * The WebSocket endpoint's limits (RFC 7395). `pingInterval` and `idleTimeout` mean what
 * ejabberd's `websocket_ping_interval` and `websocket_timeout` mean for its own WebSocket
 * listener. Their defaults come from the option schema (src/config/schema.ts, which says why
 * each has its value), by key, so the two cannot differ.
 */
import { DEFAULTS, type Config } from '../config/schema.ts'

export interface WsOptions {
  /** URL path of the WebSocket endpoint on the HTTP server */
  path: string
  /** largest WebSocket message accepted, in bytes; larger closes the connection (RFC 6455 §7.4.1 1009) */
  maxMessageBytes: number
  /** deepest element nesting inside one message */
  maxDepth: number
  /** seconds between WebSocket pings to each client (RFC 7395 §3.8); 0 sends none */
  pingInterval: number
  /** seconds without any frame from a client (message, ping or pong) before it is dropped; 0 never */
  idleTimeout: number
  /** bytes queued for a client that does not read before it is dropped */
  maxBufferedBytes: number
  /** seconds from the upgrade to the server's `<open/>` (RFC 7395 §3.4) before giving up */
  openTimeout: number
  /** where a client is sent on shutdown (RFC 7395 §3.6.1 `see-other-uri`); '' for a plain stream error */
  seeOtherUri: string
  /** domains served; empty serves whatever `<open to=…>` asks for and lets the server decide */
  domains: string[]
  /**
   * Web origins whose pages may open a WebSocket (the upgrade's Origin header, RFC 6455 §10.2);
   * '*' allows any. A request without Origin is not from a browser page and is allowed.
   */
  origins: string[]
}

/** The WebSocket options from a resolved configuration, by key (the defaults are this of the schema's). */
export function wsOptions (c: Readonly<Config>): WsOptions {
  return {
    path: c.websocketPath,
    maxMessageBytes: c.websocketMaxMessageBytes,
    maxDepth: c.maxDepth,
    pingInterval: c.websocketPingInterval,
    idleTimeout: c.websocketIdleTimeout,
    maxBufferedBytes: c.websocketMaxBufferedBytes,
    openTimeout: c.openTimeout,
    seeOtherUri: c.websocketSeeOtherUri,
    domains: c.domains,
    origins: c.websocketOrigins
  }
}

export const WS_DEFAULTS: WsOptions = wsOptions(DEFAULTS)
