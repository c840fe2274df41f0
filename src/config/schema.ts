/**
 * Every option of the edge, declared once: its flag, its environment variable, its type, its
 * default, what it does, and how it is checked. Everything else is derived from this list: the
 * resolved `Config` type and `DEFAULTS` (below), the modules' default objects (BOSH_DEFAULTS,
 * WS_DEFAULTS, LINK_DEFAULTS take their values from DEFAULTS by key, so a default cannot drift),
 * `--help`, and docs/configuration.md (`npm run docs:config` rewrites it; a test checks it is in
 * step).
 *
 * Adding an option: one entry here (the comment above it says why the default is what it is),
 * then `npm run docs:config`; the module that uses it reads it from `Config` or `DEFAULTS`.
 */
import { DEFAULT_MAX_FRAME_SIZE, LENGTH_OVERHEAD } from '../link/codec/frame-types.ts'
import { trustedProxiesError } from '../http/client-address.ts'

export type OptionType = 'string' | 'int' | 'number' | 'boolean' | 'list'

interface Common {
  /** camelCase key in the resolved config; the flag is its kebab-case, the env var MEGAPHONE_ + SNAKE */
  key: string
  description: string
  /** extra check on the final value; returns an error message or undefined */
  check?: (v: unknown) => string | undefined
  /**
   * maps a value as written (a string, or a JSON value from the file) before it is converted;
   * for options whose type changed, so that old values keep working
   */
  compat?: (raw: unknown) => unknown
  /** never printed back (secrets) */
  secret?: boolean
}

/** One option; the type and the default agree (the compiler checks each entry). */
export type OptionSpec = Common & (
  | { type: 'string', default: string, min?: undefined, max?: undefined }
  | { type: 'int' | 'number', default: number, /** inclusive bounds */ min?: number, max?: number }
  | { type: 'boolean', default: boolean, min?: undefined, max?: undefined }
  | { type: 'list', default: readonly string[], min?: undefined, max?: undefined }
)

/** `host:port` or `[v6]:port` each; the link client resolves the host when it connects. */
const linkAddressesError = (v: unknown): string | undefined => {
  if (!Array.isArray(v)) return 'must be a list'
  for (const a of v) {
    if (typeof a !== 'string' || !/^(\[[0-9A-Fa-f:.]+\]|[^:\s[\]]+):\d{1,5}$/.test(a)) return `${String(a)} is not host:port`
    const port = Number(a.slice(a.lastIndexOf(':') + 1))
    if (port < 1 || port > 65535) return `${a}: the port must be in 1..65535`
  }
  return undefined
}

/** `id=http://host:port/path` each, ids as --edge-id allows. */
const edgePeersError = (v: unknown): string | undefined => {
  if (!Array.isArray(v)) return 'must be a list'
  for (const e of v) {
    const m = typeof e === 'string' ? /^([A-Za-z0-9-]{1,32})=(https?:\/\/.+)$/.exec(e) : null
    if (m === null) return `${String(e)} is not id=http://host:port/path`
    try { new URL(m[2] ?? '') } catch { return `${String(e)}: not a URL` }
  }
  return undefined
}

const startsWithSlash = (v: unknown): string | undefined => typeof v === 'string' && v.startsWith('/') ? undefined : 'must start with /'

const DECLARED = [
  // Read first (flag, then environment): the file it names is the layer under the environment.
  { key: 'config', type: 'string', default: '', description: 'path of a JSON configuration file: one object whose keys are option names, camelCase (`maxWait`) or kebab-case (`max-wait`); the environment and flags win over it' },
  { key: 'host', type: 'string', default: '127.0.0.1', description: 'address the public HTTP server (BOSH, WebSocket) listens on' },
  { key: 'port', type: 'int', default: 5280, min: 0, max: 65535, description: 'port of the public HTTP server' },
  { key: 'backlog', type: 'int', default: 511, min: 1, max: 65535, description: 'listen backlog of the public and admin servers: connections the kernel queues before the edge accepts them (capped by net.core.somaxconn)' },
  { key: 'boshPath', type: 'string', default: '/http-bind', description: 'URL path of the BOSH endpoint', check: startsWithSlash },
  { key: 'boshUrl', type: 'string', default: '', description: 'BOSH URL advertised in host-meta (XEP-0156); derived from the request when empty' },
  { key: 'corsOrigins', type: 'list', default: ['*'], description: 'comma-separated origins allowed by CORS; * allows any' },
  // Empty: X-Forwarded-For is ignored, the socket's peer is the client. `true` (the old boolean)
  // trusts every address, which takes the leftmost hop: the one the client writes itself.
  {
    key: 'trustProxy',
    type: 'list',
    default: [],
    description: 'comma-separated addresses or CIDR ranges (IPv4 or IPv6, e.g. `127.0.0.1,10.0.0.0/8,::1`) of the proxies in front of the edge: when the connection comes from one, the client address is the rightmost X-Forwarded-For hop that is not one of them; empty ignores X-Forwarded-For; `true` (deprecated) trusts every address',
    compat: (v: unknown) => v === true || (typeof v === 'string' && /^(true|yes|on)$/i.test(v.trim())) ? ['0.0.0.0/0', '::/0'] : v === false || (typeof v === 'string' && /^(false|no|off)$/i.test(v.trim())) ? [] : v,
    check: trustedProxiesError
  },
  { key: 'domains', type: 'list', default: [], description: 'comma-separated XMPP domains served; empty lets the server decide (host-unknown otherwise)' },
  { key: 'maxSessions', type: 'int', default: 1_000_000, min: 1, max: 2 ** 28, description: 'session table capacity: sessions held at once by this edge' },
  // Admission control per client address (src/admission/). The defaults are far above what an
  // office of a few thousand users behind one NAT does (each user: one session creation at
  // login, seconds unauthenticated, two connections with hold=1), and keep one script from
  // filling the session table: it is refused at 500 unauthenticated sessions, long before 1,000.
  { key: 'admissionSessionRate', type: 'int', default: 100, min: 0, max: 1_000_000, description: 'sessions (BOSH and WebSocket) one client address may create per second, on average; 0 = no limit' },
  { key: 'admissionSessionBurst', type: 'int', default: 500, min: 1, max: 1_000_000, description: 'sessions one client address may create at once before --admission-session-rate applies' },
  { key: 'admissionUnauthenticated', type: 'int', default: 500, min: 0, max: 2 ** 28, description: 'sessions of one client address that have not authenticated yet (SASL success); more are refused (BOSH policy-violation, WebSocket 429); 0 = no limit' },
  // A tenth of the default table: a flood from many addresses cannot take the whole table.
  { key: 'admissionUnauthenticatedTotal', type: 'int', default: 100_000, min: 0, max: 2 ** 28, description: 'sessions of all addresses together that have not authenticated yet; 0 = no limit' },
  { key: 'admissionConnections', type: 'int', default: 10_000, min: 0, max: 2 ** 28, description: 'open HTTP and WebSocket connections from one client address (not counted for trusted proxies, which carry many clients); more are answered 429 and closed; 0 = no limit' },
  { key: 'admissionHeldRequests', type: 'int', default: 10_000, min: 0, max: 2 ** 28, description: 'BOSH requests of one client address open at once (held or being read); more are answered 429; 0 = no limit' },
  // Each tracked address costs ~150 bytes: 1,000,000 is ~150 MB at worst. Addresses with nothing
  // open are forgotten, so only that many addresses with live sessions or connections reach it.
  { key: 'admissionAddresses', type: 'int', default: 1_000_000, min: 1, max: 2 ** 28, description: 'client addresses tracked at once by admission control; a new address beyond it is refused (429)' },
  // One IPv6 subscriber gets a /64 (RFC 6177): counting its addresses apart would let one
  // machine take 2^64 separate allowances.
  // Loopback is where a local reverse proxy connects from when trustProxy is not set (every user
  // would look like one address and be refused together), and where tests and benchmarks run.
  { key: 'admissionExempt', type: 'list', default: ['127.0.0.0/8', '::1'], description: 'comma-separated addresses or CIDR ranges that admission control does not count or refuse (after trustProxy has found the client address); empty exempts none', check: trustedProxiesError },
  { key: 'admissionIpv6Prefix', type: 'int', default: 64, min: 32, max: 128, description: 'IPv6 client addresses are counted together per prefix of this length' },
  // XEP-0124 §7.2 wait: 60 s is what Strophe asks for and what ejabberd's mod_bosh allows (its
  // max_wait is infinity, but proxies commonly cut idle HTTP requests at 60-120 s).
  { key: 'maxWait', type: 'int', default: 60, min: 0, max: 3600, description: 'XEP-0124 wait: longest time a request is held (s)' },
  // hold=1 is what every browser client asks for; 2 lets a client keep a request held while
  // another carries its payload, at the cost of one more socket per session.
  { key: 'maxHold', type: 'int', default: 2, min: 0, max: 16, description: 'XEP-0124 hold: most requests held at once per session' },
  // mod_bosh's max_inactivity default: long enough for a page reload on a slow network.
  { key: 'maxInactivity', type: 'int', default: 30, min: 1, max: 3600, description: 'XEP-0124 inactivity: seconds without a request before a session is dropped' },
  // mod_bosh's max_pause default.
  { key: 'maxPause', type: 'int', default: 120, min: 0, max: 86400, description: 'XEP-0124 maxpause: longest pause a client may request (s); 0 disables pausing' },
  // Strophe's polling sessions use 1-2 s; ejabberd advertises 2.
  { key: 'polling', type: 'int', default: 2, min: 0, max: 3600, description: 'XEP-0124 polling: shortest interval between empty polls (s)' },
  // XMPP servers cap one stanza near 64 KiB (ejabberd max_stanza_size default 65536); a body may
  // carry several, and the link's frame limit cuts each one anyway.
  { key: 'maxBodyBytes', type: 'int', default: 1024 * 1024, min: 1024, max: 64 * 1024 * 1024, description: 'largest BOSH request body (bytes); larger is policy-violation' },
  // Slow senders (src/http/app.ts): honest clients send a BOSH body in one packet, so seconds are
  // generous; Node answers 408 and closes. A request held after its body arrived is not timed.
  { key: 'headersTimeout', type: 'number', default: 10, min: 0.01, max: 3600, description: 'seconds for an HTTP request\'s headers to arrive; slower is answered 408 and closed' },
  { key: 'requestTimeout', type: 'number', default: 30, min: 0.01, max: 3600, description: 'seconds for a whole HTTP request (headers and body) to arrive, at least --headers-timeout; slower is answered 408 and closed; the time a BOSH request is then held does not count' },
  // 64 of the largest bodies: far above what honest clients have in flight at once, small next to
  // the heap of a large edge.
  { key: 'maxBufferedBodyBytes', type: 'int', default: 64 * 1024 * 1024, min: 1024, max: 4 * 1024 * 1024 * 1024, description: 'bytes buffered for BOSH request bodies not yet complete, all requests together; a body that would go past it is refused (503, BOSH terminate)' },
  { key: 'maxPayloads', type: 'int', default: 100, min: 1, max: 10000, description: 'most payload elements in one request body' },
  // Stanzas nest a few levels; 64 leaves room for forms and pubsub items.
  { key: 'maxDepth', type: 'int', default: 64, min: 2, max: 1024, description: 'deepest element nesting in a BOSH request body or a WebSocket message' },
  // Enough for a burst of offline messages at login; a client that stops polling past this is gone.
  { key: 'maxPendingBytes', type: 'int', default: 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024, description: 'bytes queued for a client that is not polling before its session is dropped' },
  { key: 'openTimeout', type: 'int', default: 10, min: 1, max: 300, description: 'seconds to wait for the server to answer a new session (WebSocket: also for the client\'s first `<open/>`)' },
  // ejabberd sends the stream features right behind the header (the same link chunk); 2 s covers
  // a busy server without a client noticing the wait when none come.
  { key: 'featuresTimeout', type: 'number', default: 2, min: 0, max: 60, description: 'seconds a BOSH session creation response waits for the server\'s stream features (XEP-0206 §4) before it goes without them (a stream restart\'s response waits for them up to the session\'s wait, or this long in a polling session); 0 does not wait' },
  { key: 'timerResolution', type: 'int', default: 100, min: 1, max: 10000, description: 'timer wheel tick (ms): deadlines fire at most this late' },
  // ejabberd's own WebSocket path is /websocket; /xmpp-websocket is what Prosody, Openfire and
  // most deployment guides use, and what Converse.js documents.
  { key: 'websocketPath', type: 'string', default: '/xmpp-websocket', description: 'URL path of the WebSocket endpoint (RFC 7395)', check: startsWithSlash },
  { key: 'websocketUrl', type: 'string', default: '', description: 'WebSocket URL advertised in host-meta (XEP-0156); derived from the request when empty', check: v => v === '' || /^wss?:\/\//.test(String(v)) ? undefined : 'must be empty or a ws:// or wss:// URL' },
  // One message carries one element (RFC 7395 §3.3.3), and the link carries one element per
  // frame of at most 64 KiB (docs/link-protocol.md), so a larger message could not be forwarded.
  { key: 'websocketMaxMessageBytes', type: 'int', default: 65536, min: 1024, max: 16 * 1024 * 1024, description: 'largest WebSocket message (bytes); larger closes the connection (1009)' },
  // Below the 60 s at which common proxies (nginx proxy_read_timeout) cut a silent connection.
  { key: 'websocketPingInterval', type: 'int', default: 30, min: 0, max: 3600, description: 'seconds between WebSocket pings to each client; 0 sends none' },
  // Three unanswered pings: a client that answers none of them is gone (half-open TCP, sleeping
  // laptop). A live client answers every ping, so this never ends a quiet but present user.
  { key: 'websocketIdleTimeout', type: 'int', default: 90, min: 0, max: 86400, description: 'seconds without any frame from a WebSocket client (pongs count) before it is dropped; 0 never; longer than the ping interval' },
  // Same as BOSH's maxPendingBytes: room for a burst of offline messages at login.
  { key: 'websocketMaxBufferedBytes', type: 'int', default: 1024 * 1024, min: 16 * 1024, max: 1024 * 1024 * 1024, description: 'bytes queued for a WebSocket client that does not read before it is dropped' },
  { key: 'websocketSeeOtherUri', type: 'string', default: '', description: 'on shutdown, send WebSocket clients here (RFC 7395 see-other-uri); empty sends system-shutdown', check: v => v === '' || /^(wss?|https?):\/\//.test(String(v)) ? undefined : 'must be empty or a ws://, wss://, http:// or https:// URL' },
  // Like BOSH's CORS default: XMPP authenticates in-band (SASL), so a page from another origin
  // gains nothing a cookie would have given it; operators who want fewer origins list them.
  { key: 'websocketOrigins', type: 'list', default: ['*'], description: 'comma-separated origins whose pages may open a WebSocket (the Origin header of the upgrade); * allows any; requests without Origin (not from a browser) are allowed' },
  // On: `npm start` is a chat server a browser can use at once. The page is static files and
  // holds no credentials; an edge that only fronts other clients' pages turns it off.
  { key: 'chatPage', type: 'boolean', default: true, description: 'serve the chat page (Converse.js, docs/chat.md) at / of the public server; turn it off with `MEGAPHONE_CHAT_PAGE=false` or `"chatPage": false` in the file' },
  { key: 'chatMucDomain', type: 'string', default: '', description: 'MUC service the chat page creates and joins rooms on; empty: conference.<first of --domains>, or found through service discovery when --domains is empty' },
  { key: 'linkHost', type: 'string', default: '127.0.0.1', description: 'address of the mod_megaphone listener in ejabberd' },
  { key: 'linkPort', type: 'int', default: 5288, min: 1, max: 65535, description: 'port of the mod_megaphone listener' },
  { key: 'linkSecret', type: 'string', default: '', secret: true, description: 'shared secret of the link (required; same as the listener\'s secret)', check: v => typeof v === 'string' && v.length >= 16 ? undefined : 'must be at least 16 characters' },
  // Several edges serving one deployment (issue 14, docs/scale-out.md): each has an id, its sids
  // end with it, and a BOSH request for another edge's sid is forwarded to that edge, so any
  // balancer works. Both empty: one edge, sids of 32 hex digits.
  { key: 'edgeId', type: 'string', default: '', description: 'this edge\'s id among the edges of one deployment (letters, digits, -; up to 32): its BOSH sids end with .<id>, so that the other edges and a balancer can tell which edge owns a session; empty for a single edge', check: v => typeof v === 'string' && /^[A-Za-z0-9-]{0,32}$/.test(v) ? undefined : 'letters, digits and - only, at most 32' },
  { key: 'edgePeers', type: 'list', default: [], description: 'comma-separated id=URL of the BOSH endpoint of every edge of the deployment (e.g. e2=http://10.0.0.2:5280/http-bind); a request whose sid names one of them is forwarded there; needs --edge-id', check: edgePeersError },
  // An edge in front of an ejabberd cluster links to every node (issue 14, docs/scale-out.md):
  // new sessions go to the link that is up with the fewest sessions; a link's loss ends only its
  // own. Empty: the one link of linkHost and linkPort.
  { key: 'links', type: 'list', default: [], description: 'comma-separated host:port of every mod_megaphone listener to link to (one per ejabberd node); empty links to --link-host:--link-port only', check: linkAddressesError },
  { key: 'linkSecrets', type: 'list', default: [], secret: true, description: 'comma-separated secrets of the --links, in the same order; one secret serves them all; empty: --link-secret for every link', check: v => Array.isArray(v) && v.every(x => typeof x === 'string' && x.length >= 16) ? undefined : 'each secret must be at least 16 characters' },
  // 65,536 bytes of data + 9, the protocol's default on both sides (docs/link-protocol.md
  // "Maximum frame size"). Must match the listener's max_frame_size.
  { key: 'linkMaxFrame', type: 'int', default: DEFAULT_MAX_FRAME_SIZE, min: 1024, max: 16 * 1024 * 1024, description: 'largest link frame accepted or sent (bytes, after the length prefix)' },
  // Larger than what we send: ejabberd bounds what clients send (max_stanza_size) but not what it
  // sends them, and rosters of a few hundred contacts, vCards with avatars, MAM pages and XEP-0013
  // lists pass 64 KiB. The decoder holds one frame at a time per link, so this bounds memory per
  // link, not per session. A frame above it is skipped and ends only the session it was for.
  { key: 'linkMaxReceiveFrame', type: 'int', default: 16 * 1024 * 1024 + LENGTH_OVERHEAD, min: 1024, max: 256 * 1024 * 1024, description: 'largest link frame accepted from ejabberd (bytes, after the length prefix): ejabberd does not bound what it sends clients (rosters, vCards, MAM pages); a larger element ends only its session; at least --link-max-frame' },
  // Bytes queued in the edge while the link's socket refuses more (write() returned false), on
  // top of Node's own stream buffer; past it a stanza is refused and its session ends. Frames that
  // end sessions and link control frames may use as much again, so that a full queue can still end
  // sessions cleanly; past that the link is declared wedged and dropped, which ends every session.
  // 64 MiB (the link's own default used to say 8 MiB; every deployment ran with this one): ~300,000
  // typical 200-byte stanzas, several seconds of a stalled ejabberd (a long GC, a mnesia dump) at
  // the peak rate of a large edge, where 8 MiB would drop every user after about one. At most
  // 128 MiB with the reserve: small beside a table of a million sessions (~400 MB).
  { key: 'linkQueueBytes', type: 'int', default: 64 * 1024 * 1024, min: 65536, max: 4 * 1024 * 1024 * 1024, description: 'bytes queued for the link while its socket is congested; past it a stanza is refused (its session ends), and past twice it the link is dropped' },
  // One session's share of that queue (issue 16, "one session cannot hurt another"): without it
  // one client sending fast (a 64 KiB BOSH body whose namespace declarations are copied into 100
  // payloads is 6.5 MB of frames; 8 sessions sending 100 x 9.5 KiB per body) filled the shared
  // queue, and then every session that sent was ended. Counted in framed bytes (each payload with
  // the body declarations it uses, plus 13 bytes of frame header). 2 MiB: about the two request
  // bodies XEP-0124 §11 lets a client have in flight (requests = 2), each as large as
  // maxBodyBytes allows (1 MiB forwarded), so one maximal body never ends a session on a slow
  // link by itself; 32 WebSocket messages of the largest size; thousands of ordinary stanzas.
  // The shared limit is reached only when 32 sessions each hold their whole budget. At least
  // linkMaxFrame + 4 (checked at start).
  { key: 'linkSessionQueueBytes', type: 'int', default: 2 * 1024 * 1024, min: 65536, max: 4 * 1024 * 1024 * 1024, description: 'bytes one session may have queued for the link while its socket is congested; a session that sends past it ends with policy-violation (its queued frames are dropped), nobody else does; at least --link-max-frame + 4' },
  // What the edge lets wait beyond itself, in the kernel's socket buffers and the backend's read
  // buffer (src/link/send-queue.ts): frames past it wait in the edge's queue, where sessions take
  // turns and budgets apply, instead of in one FIFO it cannot reorder (Linux lets a loopback link
  // buffer up to 36 MB: 8 flooding sessions kept alice's ping ~0.4 s behind their frames). 1 MiB:
  // ~40 ms of ejabberd reading its link at 24 MB/s (measured under a flood on a loaded 2-core
  // machine), and a marker PING every 256 KiB; a link with more latency than ~10 ms to its
  // backend may want more to keep its throughput.
  { key: 'linkInFlightBytes', type: 'int', default: 1024 * 1024, min: 65536, max: 1024 * 1024 * 1024, description: 'bytes of session frames the edge writes to the link before the backend acknowledges them (a PING every quarter of it, acknowledged by its PONG); beyond it frames wait in the edge, where sessions take turns and linkSessionQueueBytes applies' },
  // The protocol's default PING period (docs/link-protocol.md "Heartbeats").
  { key: 'heartbeatInterval', type: 'int', default: 10, min: 1, max: 3600, description: 'seconds between link heartbeats' },
  // Three missed PONGs at the default interval.
  { key: 'heartbeatTimeout', type: 'int', default: 30, min: 2, max: 3600, description: 'seconds of link silence before it is considered lost' },
  // Every login fails while the link is down, so it must come back within a few seconds of
  // ejabberd accepting again, however long the outage: with a 30 s cap a long outage left logins
  // failing for up to 30 s more. 2 s with full jitter is one try per second on average per edge,
  // nothing for ejabberd's listener, and edges that lost ejabberd together still spread out.
  { key: 'linkReconnectMaxDelay', type: 'int', default: 2000, min: 100, max: 300_000, description: 'cap of the link\'s reconnect delay (ms): attempts back off exponentially from 100 ms with full jitter up to this, so the link returns within about this long after ejabberd accepts again' },
  { key: 'adminHost', type: 'string', default: '127.0.0.1', description: 'address of the admin HTTP server (/metrics, /healthz, /readyz); keep it off the public network' },
  { key: 'adminPort', type: 'int', default: 5281, min: 0, max: 65535, description: 'port of the admin HTTP server; 0 takes any free port (the default when `port` is 0); the same host and port as the public server put the admin routes on it' },
  // The Announcer API (docs/announcer.md) on the admin listener. No token: the API is off, so an
  // edge upgraded without configuring one exposes nothing new.
  { key: 'apiToken', type: 'string', default: '', secret: true, description: 'bearer token of the Announcer API under /v1/announce/ on the admin server (docs/announcer.md); empty turns the API off', check: v => v === '' || (typeof v === 'string' && v.length >= 16 && /^[A-Za-z0-9\-._~+/]+=*$/.test(v)) ? undefined : 'must be empty or at least 16 characters of A-Z a-z 0-9 - . _ ~ + / (RFC 6750 b64token)' },
  // 1,000 recipients/s would reach 10,000 online users in 10 s. Measured on a loaded two-core
  // machine (docs/benchmarks.md, "Announcements"), everyone was reached at ~620/s and chat waited
  // behind the queued copies (p99 303x); 400/s kept chat at 7.7x and 200/s at 2x. Lower it where chat
  // matters more than reaching everyone fast; the default is kept until a quiet-machine run.
  { key: 'announceRate', type: 'int', default: 1000, min: 1, max: 1_000_000, description: 'recipients per second an announcement is paced at (ejabberd routes them; chat keeps its share)' },
  { key: 'announceFrom', type: 'string', default: '', description: 'JID announcements come from (the `from` of a `body` message); empty: the domain' },
  // A JSON request travels in one link frame (64 KiB of data by default): 2,000 usernames of up to
  // ~25 bytes fit; a longer list is refused before it reaches the link, larger lists go in several calls.
  { key: 'announceMaxUsernames', type: 'int', default: 2000, min: 1, max: 1_000_000, description: 'most usernames in one `POST /v1/announce/users`; more is 400 (a request must also fit in one link frame, --link-max-frame)' },
  { key: 'announceMucService', type: 'string', default: '', description: 'MUC service that room names (and the original Announcer\'s `channel_id`) are looked up in; empty: `conference.` + the domain' },
  { key: 'announceTimeout', type: 'int', default: 10, min: 1, max: 3600, description: 'seconds the API waits for mod_megaphone to answer a request over the link before answering 504' },
  { key: 'drainTimeout', type: 'int', default: 10, min: 1, max: 3600, description: 'seconds a graceful stop (SIGTERM, SIGINT) may take before the process exits anyway with status 1' },
  { key: 'logLevel', type: 'string', default: 'info', description: 'fatal, error, warn, info, debug or trace', check: v => ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(String(v)) ? undefined : 'must be one of fatal, error, warn, info, debug, trace, silent' }
] as const satisfies readonly OptionSpec[]

/** The options in order (of --help and the doc). */
export const OPTIONS: readonly OptionSpec[] = DECLARED

type Spec = (typeof DECLARED)[number]
type ValueOf<S extends Spec> = S extends { type: 'list' } ? string[] : S extends { type: 'boolean' } ? boolean : S extends { type: 'int' | 'number' } ? number : string

/** The key of an option. */
export type OptionKey = Spec['key']

/** The resolved configuration: one field per option, typed by its entry above. */
export type Config = { -readonly [S in Spec as S['key']]: ValueOf<S> }

/**
 * Every option's default, by key: the modules' default objects are built from it. Lists are
 * copied, so that no caller can change a default for everyone.
 */
export const DEFAULTS: Readonly<Config> = Object.freeze(Object.fromEntries(
  OPTIONS.map(s => [s.key, s.type === 'list' ? [...s.default] : s.default])
) as Config)

export function flagOf (key: string): string {
  return key.replace(/[A-Z]/g, c => '-' + c.toLowerCase())
}

export function envOf (key: string): string {
  return 'MEGAPHONE_' + key.replace(/[A-Z]/g, c => '_' + c).toUpperCase()
}
