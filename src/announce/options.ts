/**
 * The Announcer API's options, resolved from the configuration (src/config/schema.ts declares
 * each with its default): the domain the API speaks for, where messages come from, the MUC
 * service rooms are named in, and the limits.
 */
import type { Config } from '../config/load.ts'
import { LENGTH_OVERHEAD } from '../link/codec/frame-types.ts'

export interface AnnounceOptions {
  /** the bearer token; empty: the API is off */
  token: string
  /** the domain usernames are local parts of: the first of `domains`, or `localhost` (the demo's) */
  domain: string
  /** every domain the edge serves (JIDs of these are accepted as usernames) */
  domains: readonly string[]
  /** the JID messages come from */
  from: string
  /** where room names and `channel_id` rooms live */
  mucService: string
  maxUsernames: number
  /** recipients per second */
  rate: number
  /** element nesting allowed in a stanza (the edge's maxDepth) */
  maxDepth: number
  /** the largest request JSON (UTF-8 bytes) one API_REQUEST frame carries */
  maxRequestBytes: number
  /** ms to wait for the module's API_REPLY */
  timeoutMs: number
}

/** API_REQUEST data: a u32 request id, then the JSON (docs/link-protocol.md). */
const REQUEST_ID_SIZE = 4

export function announceOptions (c: Config): AnnounceOptions {
  const domain = c.domains[0] ?? 'localhost'
  return {
    token: c.apiToken,
    domain,
    domains: c.domains.length > 0 ? c.domains : [domain],
    from: c.announceFrom !== '' ? c.announceFrom : domain,
    mucService: c.announceMucService !== '' ? c.announceMucService : `conference.${domain}`,
    maxUsernames: c.announceMaxUsernames,
    rate: c.announceRate,
    maxDepth: c.maxDepth,
    maxRequestBytes: c.linkMaxFrame - LENGTH_OVERHEAD - REQUEST_ID_SIZE,
    timeoutMs: c.announceTimeout * 1000
  }
}
