/**
 * Options of the link client. Those an operator sets take their defaults from the option schema
 * (src/config/schema.ts says why each has its value), so the two cannot differ; the others are
 * declared here, with why they have their value.
 */
import { HEADER_SIZE, LENGTH_OVERHEAD } from './codec/index.ts'
import { LINK_OPTIONS, linkError } from './errors.ts'
import { DEFAULTS, type Config } from '../config/schema.ts'

export const LINK_DEFAULTS = {
  /** Backend listener host (mod_megaphone's `listen:` entry): linkHost. */
  host: DEFAULTS.linkHost,
  /** Largest `length` we accept and send: linkMaxFrame. */
  maxFrameSize: DEFAULTS.linkMaxFrame,
  /** Largest `length` we accept from the backend once authenticated: linkMaxReceiveFrame. */
  maxReceiveFrameSize: DEFAULTS.linkMaxReceiveFrame,
  /** The backend's own handshake_timeout default; a backend slower than that is not there. */
  handshakeTimeout: 5_000,
  /** PING period in ms: heartbeatInterval (seconds there). */
  heartbeatInterval: DEFAULTS.heartbeatInterval * 1000,
  /** Silence after which the link is dead, in ms: heartbeatTimeout. */
  heartbeatTimeout: DEFAULTS.heartbeatTimeout * 1000,
  /** First reconnect delay bound; doubles per failed attempt (full jitter: uniform in [0, bound]). */
  reconnectBase: 100,
  /** Cap of the reconnect delay bound, in ms: linkReconnectMaxDelay. */
  reconnectMax: DEFAULTS.linkReconnectMaxDelay,
  /** Bytes queued while the socket refuses more, and as much again for CLOSE and control frames: linkQueueBytes. */
  maxQueueBytes: DEFAULTS.linkQueueBytes,
  /** Bytes one session may have waiting in that queue; past it the session ends: linkSessionQueueBytes. */
  maxSessionQueueBytes: DEFAULTS.linkSessionQueueBytes,
  /** Bytes of session frames written to the link and not yet acknowledged by a PONG: linkInFlightBytes. */
  maxInFlightBytes: DEFAULTS.linkInFlightBytes,
  /** How long stats() waits for STATS_REPLY. */
  statsTimeout: 5_000,
  /** STATS_REQUESTs awaiting a reply at once: a monitoring loop needs one. */
  maxPendingStats: 16
}

export type LinkDefaults = typeof LINK_DEFAULTS

/** The link client's options from a resolved configuration (the schema's durations are seconds). */
export function linkOptions (c: Readonly<Config>): LinkOptions {
  return {
    host: c.linkHost,
    port: c.linkPort,
    secret: c.linkSecret,
    maxFrameSize: c.linkMaxFrame,
    maxReceiveFrameSize: c.linkMaxReceiveFrame,
    maxQueueBytes: c.linkQueueBytes,
    maxSessionQueueBytes: c.linkSessionQueueBytes,
    maxInFlightBytes: c.linkInFlightBytes,
    heartbeatInterval: c.heartbeatInterval * 1000,
    heartbeatTimeout: c.heartbeatTimeout * 1000,
    reconnectMax: c.linkReconnectMaxDelay
  }
}

/**
 * One link's options per mod_megaphone listener (issue 14): `links` (host:port each) with
 * `linkSecrets` in the same order (one serves all; none: linkSecret), or, with no `links`, the
 * one link of linkHost and linkPort.
 */
export function linksOptions (c: Readonly<Config>): LinkOptions[] {
  const one = linkOptions(c)
  if (c.links.length === 0) return [one]
  return c.links.map((address, i) => {
    const colon = address.lastIndexOf(':')
    const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1')
    const secret = c.linkSecrets[i] ?? c.linkSecrets[0] ?? c.linkSecret
    return { ...one, host, port: Number(address.slice(colon + 1)), secret }
  })
}

export interface LinkOptions extends Partial<LinkDefaults> {
  port: number
  /** The shared secret (its UTF-8 bytes key the HMACs); the same string as the listener's. */
  secret: string
  /** Uniform [0, 1) source for the reconnect jitter; tests inject a fixed one. */
  random?: () => number
}

export interface ResolvedLinkOptions extends LinkDefaults {
  port: number
  secret: string
  random: () => number
}

function positive (name: string, v: number): void {
  if (!Number.isFinite(v) || v <= 0) throw linkError(LINK_OPTIONS, `${name} must be a positive number, got ${v}`)
}

export function resolveLinkOptions (options: LinkOptions): ResolvedLinkOptions {
  const o: ResolvedLinkOptions = { ...LINK_DEFAULTS, random: Math.random, ...options }
  if (!Number.isInteger(o.port) || o.port <= 0 || o.port > 0xffff) throw linkError(LINK_OPTIONS, `port must be in 1..65535, got ${o.port}`)
  if (o.secret.length === 0) throw linkError(LINK_OPTIONS, 'secret must not be empty')
  for (const k of ['handshakeTimeout', 'heartbeatInterval', 'heartbeatTimeout', 'reconnectBase', 'reconnectMax', 'maxQueueBytes', 'maxSessionQueueBytes', 'maxInFlightBytes', 'statsTimeout', 'maxPendingStats'] as const) {
    positive(k, o[k])
  }
  if (!Number.isInteger(o.maxFrameSize) || o.maxFrameSize < LENGTH_OVERHEAD + HEADER_SIZE || o.maxFrameSize > 0xffff_ffff) {
    throw linkError(LINK_OPTIONS, `maxFrameSize must be an integer in [22, 2^32), got ${o.maxFrameSize}`)
  }
  if (!Number.isInteger(o.maxReceiveFrameSize) || o.maxReceiveFrameSize < o.maxFrameSize || o.maxReceiveFrameSize > 0xffff_ffff) {
    throw linkError(LINK_OPTIONS, `maxReceiveFrameSize must be an integer in [maxFrameSize, 2^32), got ${o.maxReceiveFrameSize}`)
  }
  // A session must always be able to queue one element of the largest size (length prefix included).
  if (o.maxSessionQueueBytes < o.maxFrameSize + 4) {
    throw linkError(LINK_OPTIONS, `maxSessionQueueBytes must be at least maxFrameSize + 4 (${o.maxFrameSize + 4}), got ${o.maxSessionQueueBytes}`)
  }
  if (o.reconnectMax < o.reconnectBase) throw linkError(LINK_OPTIONS, 'reconnectMax must be at least reconnectBase')
  return o
}
