/**
 * Options of the link client. Every limit lives here, with its default and why it has it.
 */
import { DEFAULT_MAX_FRAME_SIZE, HEADER_SIZE, LENGTH_OVERHEAD } from './codec/index.ts'
import { LINK_OPTIONS, linkError } from './errors.ts'

export const LINK_DEFAULTS = {
  /** Backend listener host (mod_megaphone's `listen:` entry). */
  host: '127.0.0.1',
  /**
   * Largest `length` we accept and send: 65,536 bytes of data + 9, the protocol's default on both
   * sides (docs/link-protocol.md "Maximum frame size"). Must match the listener's max_frame_size.
   */
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  /**
   * Largest `length` we accept from the backend once authenticated. Larger than what we send:
   * ejabberd bounds what clients send (max_stanza_size) but not what it sends them, and rosters
   * of a few hundred contacts, vCards with avatars, MAM pages and XEP-0013 lists pass 64 KiB.
   * The decoder holds one frame at a time per link, so this bounds memory per link, not per
   * session. A frame above it is skipped and ends only the session it was for.
   */
  maxReceiveFrameSize: 16 * 1024 * 1024 + LENGTH_OVERHEAD,
  /** The backend's own handshake_timeout default; a backend slower than that is not there. */
  handshakeTimeout: 5_000,
  /** PING period; the protocol's default (docs/link-protocol.md "Heartbeats"). */
  heartbeatInterval: 10_000,
  /** Silence after which the link is dead: three missed PONGs at the default interval. */
  heartbeatTimeout: 30_000,
  /** First reconnect delay bound; doubles per failed attempt (full jitter: uniform in [0, bound]). */
  reconnectBase: 100,
  /** Cap of the reconnect delay bound: one try per 30 s at worst while ejabberd restarts. */
  reconnectMax: 30_000,
  /**
   * Bytes queued in the edge while the socket refuses more (write() returned false), on top of
   * Node's own stream buffer. 8 MiB is ~40,000 typical 200-byte stanzas: a few seconds of a
   * stalled backend at peak rate, small beside the process's memory. Frames that end sessions
   * (CLOSE) and link control frames may use as much again, so that a full queue can still end
   * sessions cleanly; past that the link is declared wedged and dropped.
   */
  maxQueueBytes: 8 * 1024 * 1024,
  /** How long stats() waits for STATS_REPLY. */
  statsTimeout: 5_000,
  /** STATS_REQUESTs awaiting a reply at once: a monitoring loop needs one. */
  maxPendingStats: 16
}

export type LinkDefaults = typeof LINK_DEFAULTS

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
  for (const k of ['handshakeTimeout', 'heartbeatInterval', 'heartbeatTimeout', 'reconnectBase', 'reconnectMax', 'maxQueueBytes', 'statsTimeout', 'maxPendingStats'] as const) {
    positive(k, o[k])
  }
  if (!Number.isInteger(o.maxFrameSize) || o.maxFrameSize < LENGTH_OVERHEAD + HEADER_SIZE || o.maxFrameSize > 0xffff_ffff) {
    throw linkError(LINK_OPTIONS, `maxFrameSize must be an integer in [22, 2^32), got ${o.maxFrameSize}`)
  }
  if (!Number.isInteger(o.maxReceiveFrameSize) || o.maxReceiveFrameSize < o.maxFrameSize || o.maxReceiveFrameSize > 0xffff_ffff) {
    throw linkError(LINK_OPTIONS, `maxReceiveFrameSize must be an integer in [maxFrameSize, 2^32), got ${o.maxReceiveFrameSize}`)
  }
  if (o.reconnectMax < o.reconnectBase) throw linkError(LINK_OPTIONS, 'reconnectMax must be at least reconnectBase')
  return o
}
