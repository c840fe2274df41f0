/**
 * The BOSH connection manager's limits, with their defaults in one commented object. Names
 * follow ejabberd's mod_bosh where they mean the same thing (max_inactivity, max_pause).
 */
export interface BoshOptions {
  /** URL path of the BOSH endpoint */
  path: string
  /** XEP-0124 §7.2 `wait`: the longest we hold a request, whatever the client asks (seconds) */
  maxWait: number
  /** XEP-0124 §7.2 `hold`: the most requests we hold at once per session */
  maxHold: number
  /** XEP-0124 §10 `inactivity`: seconds with no request held before the session is dropped */
  maxInactivity: number
  /** XEP-0124 §10 `maxpause`: the longest pause a client may ask for (seconds); 0 disables pausing */
  maxPause: number
  /** XEP-0124 §11, §12 `polling`: the shortest interval between empty polls (seconds) */
  polling: number
  /** largest request body accepted, in bytes (XEP-0124 §17.2 policy-violation above it) */
  maxBodyBytes: number
  /** most payloads in one request body */
  maxPayloads: number
  /** deepest element nesting inside a body */
  maxDepth: number
  /** XEP-0124 §14.3: how often one rid may be repeated before it is a policy violation */
  maxRidRepeats: number
  /** XEP-0124 §9, §14.3: responses kept for re-sending when the client acknowledges (cap) */
  maxCachedResponses: number
  /** payload bytes buffered for a client with no request held, before the session is dropped */
  maxPendingBytes: number
  /** seconds to wait for the server's stream header after a session creation request */
  openTimeout: number
  /** domains served; empty serves whatever `to` asks for and lets the server decide */
  domains: string[]
  /** XEP-0124 §9.2: an `ack` this many ms behind our last response triggers a `report` */
  reportAfterMs: number
}

export const BOSH_DEFAULTS: BoshOptions = {
  path: '/http-bind',
  // 60 s is what Strophe asks for and what ejabberd's mod_bosh allows (max_wait is infinity
  // there, but proxies commonly cut idle HTTP requests at 60-120 s).
  maxWait: 60,
  // hold=1 is what every browser client asks for; 2 lets a client keep a request held while
  // another carries its payload, at the cost of one more socket per session.
  maxHold: 2,
  // mod_bosh's max_inactivity default: long enough for a page reload on a slow network.
  maxInactivity: 30,
  // mod_bosh's max_pause default.
  maxPause: 120,
  // Strophe's polling sessions use 1-2 s; ejabberd advertises 2.
  polling: 2,
  // XMPP servers cap one stanza near 64 KiB (ejabberd max_stanza_size default 65536); a body may
  // carry several, and the link's frame limit cuts each one anyway.
  maxBodyBytes: 1024 * 1024,
  maxPayloads: 100,
  maxDepth: 64,
  maxRidRepeats: 5,
  maxCachedResponses: 8,
  // Enough for a burst of offline messages at login; a client that stops polling past this is gone.
  maxPendingBytes: 1024 * 1024,
  openTimeout: 10,
  domains: [],
  reportAfterMs: 2000
}
