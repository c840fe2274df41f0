/**
 * Every option of the edge, in one place: its flag, its environment variable, its default, what
 * it does, and how it is checked. `--help` and docs/configuration.md are generated from this list
 * (`npm run docs:config` rewrites the doc; a test checks it is in step).
 */

export type OptionType = 'string' | 'int' | 'number' | 'boolean' | 'list'

export interface OptionSpec {
  /** camelCase key in the resolved config; the flag is its kebab-case, the env var MEGAPHONE_ + SNAKE */
  key: string
  type: OptionType
  default: string | number | boolean | string[]
  description: string
  /** inclusive bounds for numbers */
  min?: number
  max?: number
  /** extra check; returns an error message or undefined */
  check?: (v: unknown) => string | undefined
  /** never printed back (secrets) */
  secret?: boolean
}

export const OPTIONS: readonly OptionSpec[] = [
  // Read first (flag, then environment): the file it names is the layer under the environment.
  { key: 'config', type: 'string', default: '', description: 'path of a JSON configuration file: one object whose keys are option names, camelCase (`maxWait`) or kebab-case (`max-wait`); the environment and flags win over it' },
  { key: 'host', type: 'string', default: '127.0.0.1', description: 'address the public HTTP server (BOSH, WebSocket) listens on' },
  { key: 'port', type: 'int', default: 5280, min: 0, max: 65535, description: 'port of the public HTTP server' },
  { key: 'backlog', type: 'int', default: 511, min: 1, max: 65535, description: 'listen backlog of the public and admin servers: connections the kernel queues before the edge accepts them (capped by net.core.somaxconn)' },
  { key: 'boshPath', type: 'string', default: '/http-bind', description: 'URL path of the BOSH endpoint', check: v => typeof v === 'string' && v.startsWith('/') ? undefined : 'must start with /' },
  { key: 'boshUrl', type: 'string', default: '', description: 'BOSH URL advertised in host-meta (XEP-0156); derived from the request when empty' },
  { key: 'corsOrigins', type: 'list', default: ['*'], description: 'comma-separated origins allowed by CORS; * allows any' },
  { key: 'trustProxy', type: 'boolean', default: false, description: 'take the client address from X-Forwarded-For (only behind a proxy you run)' },
  { key: 'domains', type: 'list', default: [], description: 'comma-separated XMPP domains served; empty lets the server decide (host-unknown otherwise)' },
  { key: 'maxSessions', type: 'int', default: 1_000_000, min: 1, max: 2 ** 28, description: 'session table capacity: sessions held at once by this edge' },
  { key: 'maxWait', type: 'int', default: 60, min: 0, max: 3600, description: 'XEP-0124 wait: longest time a request is held (s)' },
  { key: 'maxHold', type: 'int', default: 2, min: 0, max: 16, description: 'XEP-0124 hold: most requests held at once per session' },
  { key: 'maxInactivity', type: 'int', default: 30, min: 1, max: 3600, description: 'XEP-0124 inactivity: seconds without a request before a session is dropped' },
  { key: 'maxPause', type: 'int', default: 120, min: 0, max: 86400, description: 'XEP-0124 maxpause: longest pause a client may request (s); 0 disables pausing' },
  { key: 'polling', type: 'int', default: 2, min: 0, max: 3600, description: 'XEP-0124 polling: shortest interval between empty polls (s)' },
  { key: 'maxBodyBytes', type: 'int', default: 1024 * 1024, min: 1024, max: 64 * 1024 * 1024, description: 'largest BOSH request body (bytes); larger is policy-violation' },
  // Slow senders (src/http/app.ts): honest clients send a BOSH body in one packet, so seconds are
  // generous; Node answers 408 and closes. A request held after its body arrived is not timed.
  { key: 'headersTimeout', type: 'number', default: 10, min: 0.01, max: 3600, description: 'seconds for an HTTP request\'s headers to arrive; slower is answered 408 and closed' },
  { key: 'requestTimeout', type: 'number', default: 30, min: 0.01, max: 3600, description: 'seconds for a whole HTTP request (headers and body) to arrive, at least --headers-timeout; slower is answered 408 and closed; the time a BOSH request is then held does not count' },
  // 64 of the largest bodies: far above what honest clients have in flight at once, small next to
  // the heap of a large edge.
  { key: 'maxBufferedBodyBytes', type: 'int', default: 64 * 1024 * 1024, min: 1024, max: 4 * 1024 * 1024 * 1024, description: 'bytes buffered for BOSH request bodies not yet complete, all requests together; a body that would go past it is refused (503, BOSH terminate)' },
  { key: 'maxPayloads', type: 'int', default: 100, min: 1, max: 10000, description: 'most payload elements in one request body' },
  { key: 'maxDepth', type: 'int', default: 64, min: 2, max: 1024, description: 'deepest element nesting in a BOSH request body or a WebSocket message' },
  { key: 'maxPendingBytes', type: 'int', default: 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024, description: 'bytes queued for a client that is not polling before its session is dropped' },
  { key: 'openTimeout', type: 'int', default: 10, min: 1, max: 300, description: 'seconds to wait for the server to answer a new session (WebSocket: also for the client\'s first `<open/>`)' },
  { key: 'timerResolution', type: 'int', default: 100, min: 1, max: 10000, description: 'timer wheel tick (ms): deadlines fire at most this late' },
  { key: 'websocketPath', type: 'string', default: '/xmpp-websocket', description: 'URL path of the WebSocket endpoint (RFC 7395)', check: v => typeof v === 'string' && v.startsWith('/') ? undefined : 'must start with /' },
  { key: 'websocketUrl', type: 'string', default: '', description: 'WebSocket URL advertised in host-meta (XEP-0156); derived from the request when empty', check: v => v === '' || /^wss?:\/\//.test(String(v)) ? undefined : 'must be empty or a ws:// or wss:// URL' },
  { key: 'websocketMaxMessageBytes', type: 'int', default: 65536, min: 1024, max: 16 * 1024 * 1024, description: 'largest WebSocket message (bytes); larger closes the connection (1009)' },
  { key: 'websocketPingInterval', type: 'int', default: 30, min: 0, max: 3600, description: 'seconds between WebSocket pings to each client; 0 sends none' },
  { key: 'websocketIdleTimeout', type: 'int', default: 90, min: 0, max: 86400, description: 'seconds without any frame from a WebSocket client (pongs count) before it is dropped; 0 never; longer than the ping interval' },
  { key: 'websocketMaxBufferedBytes', type: 'int', default: 1024 * 1024, min: 16 * 1024, max: 1024 * 1024 * 1024, description: 'bytes queued for a WebSocket client that does not read before it is dropped' },
  { key: 'websocketSeeOtherUri', type: 'string', default: '', description: 'on shutdown, send WebSocket clients here (RFC 7395 see-other-uri); empty sends system-shutdown', check: v => v === '' || /^(wss?|https?):\/\//.test(String(v)) ? undefined : 'must be empty or a ws://, wss://, http:// or https:// URL' },
  { key: 'websocketOrigins', type: 'list', default: ['*'], description: 'comma-separated origins whose pages may open a WebSocket (the Origin header of the upgrade); * allows any; requests without Origin (not from a browser) are allowed' },
  { key: 'linkHost', type: 'string', default: '127.0.0.1', description: 'address of the mod_megaphone listener in ejabberd' },
  { key: 'linkPort', type: 'int', default: 5288, min: 1, max: 65535, description: 'port of the mod_megaphone listener' },
  { key: 'linkSecret', type: 'string', default: '', secret: true, description: 'shared secret of the link (required; same as the listener\'s secret)', check: v => typeof v === 'string' && v.length >= 16 ? undefined : 'must be at least 16 characters' },
  { key: 'linkMaxFrame', type: 'int', default: 65545, min: 1024, max: 16 * 1024 * 1024, description: 'largest link frame accepted or sent (bytes, after the length prefix)' },
  { key: 'linkMaxReceiveFrame', type: 'int', default: 16 * 1024 * 1024 + 9, min: 1024, max: 256 * 1024 * 1024, description: 'largest link frame accepted from ejabberd (bytes, after the length prefix): ejabberd does not bound what it sends clients (rosters, vCards, MAM pages); a larger element ends only its session; at least --link-max-frame' },
  { key: 'linkQueueBytes', type: 'int', default: 64 * 1024 * 1024, min: 65536, max: 4 * 1024 * 1024 * 1024, description: 'bytes queued for the link while it is congested or reconnecting' },
  { key: 'heartbeatInterval', type: 'int', default: 10, min: 1, max: 3600, description: 'seconds between link heartbeats' },
  { key: 'heartbeatTimeout', type: 'int', default: 30, min: 2, max: 3600, description: 'seconds of link silence before it is considered lost' },
  { key: 'adminHost', type: 'string', default: '127.0.0.1', description: 'address of the admin HTTP server (/metrics, /healthz, /readyz); keep it off the public network' },
  { key: 'adminPort', type: 'int', default: 5281, min: 0, max: 65535, description: 'port of the admin HTTP server; 0 takes any free port (the default when `port` is 0); the same host and port as the public server put the admin routes on it' },
  { key: 'drainTimeout', type: 'int', default: 10, min: 1, max: 3600, description: 'seconds a graceful stop (SIGTERM, SIGINT) may take before the process exits anyway with status 1' },
  { key: 'logLevel', type: 'string', default: 'info', description: 'fatal, error, warn, info, debug or trace', check: v => ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(String(v)) ? undefined : 'must be one of fatal, error, warn, info, debug, trace, silent' }
]

export function flagOf (key: string): string {
  return key.replace(/[A-Z]/g, c => '-' + c.toLowerCase())
}

export function envOf (key: string): string {
  return 'MEGAPHONE_' + key.replace(/[A-Z]/g, c => '_' + c).toUpperCase()
}
