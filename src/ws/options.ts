/**
 * The WebSocket endpoint's limits (RFC 7395), with their defaults in one commented object.
 * `pingInterval` and `idleTimeout` mean what ejabberd's `websocket_ping_interval` and
 * `websocket_timeout` mean for its own WebSocket listener.
 */
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

export const WS_DEFAULTS: WsOptions = {
  // ejabberd's own WebSocket path is /websocket; /xmpp-websocket is what Prosody, Openfire and
  // most deployment guides use, and what Converse.js documents.
  path: '/xmpp-websocket',
  // One message carries one element (RFC 7395 §3.3.3), and the link carries one element per
  // frame of at most 64 KiB (docs/link-protocol.md), so a larger message could not be forwarded.
  maxMessageBytes: 65536,
  // Same as a BOSH body: stanzas nest a few levels; 64 leaves room for forms and pubsub items.
  maxDepth: 64,
  // Below the 60 s at which common proxies (nginx proxy_read_timeout) cut a silent connection.
  pingInterval: 30,
  // Three unanswered pings: a client that answers none of them is gone (half-open TCP, sleeping
  // laptop). A live client answers every ping, so this never ends a quiet but present user.
  idleTimeout: 90,
  // Same as BOSH's maxPendingBytes: room for a burst of offline messages at login.
  maxBufferedBytes: 1024 * 1024,
  openTimeout: 10,
  seeOtherUri: '',
  domains: [],
  // Like BOSH's CORS default: XMPP authenticates in-band (SASL), so a page from another origin
  // gains nothing a cookie would have given it; operators who want fewer origins list them.
  origins: ['*']
}
