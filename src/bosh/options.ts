/**
 * The BOSH connection manager's limits. Names follow ejabberd's mod_bosh where they mean the
 * same thing (max_inactivity, max_pause). Those an operator sets take their defaults from the
 * option schema (src/config/schema.ts, which says why each has its value), by key, so the two
 * cannot differ; the others are declared here.
 */
import { DEFAULTS, type Config } from '../config/schema.ts'

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
  /** XEP-0206 §4, §5: seconds the creation and restart responses wait for the stream features */
  featuresTimeout: number
  /** domains served; empty serves whatever `to` asks for and lets the server decide */
  domains: string[]
  /** XEP-0124 §9.2: an `ack` this many ms behind our last response triggers a `report` */
  reportAfterMs: number
}

/**
 * The BOSH options from a resolved configuration, by key. The defaults are this of the schema's
 * defaults, and the entry point passes this of the operator's configuration: one mapping, so
 * neither a value nor a new option can be forgotten on one side.
 */
export function boshOptions (c: Readonly<Config>): BoshOptions {
  return {
    path: c.boshPath,
    maxWait: c.maxWait,
    maxHold: c.maxHold,
    maxInactivity: c.maxInactivity,
    maxPause: c.maxPause,
    polling: c.polling,
    maxBodyBytes: c.maxBodyBytes,
    maxPayloads: c.maxPayloads,
    maxDepth: c.maxDepth,
    maxPendingBytes: c.maxPendingBytes,
    openTimeout: c.openTimeout,
    featuresTimeout: c.featuresTimeout,
    domains: c.domains,
    // Not operator options: what the protocol leaves to us.
    maxRidRepeats: 5,
    maxCachedResponses: 8,
    reportAfterMs: 2000
  }
}

export const BOSH_DEFAULTS: BoshOptions = boshOptions(DEFAULTS)
