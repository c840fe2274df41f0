/** The link to mod_megaphone: the client, its options, errors and counters; the codec below it. */
export { LinkClient, CONDITION_LINK_LOST, CONDITION_LINK_CLOSED, type LinkConnectionHandler, type LinkEvents } from './client.ts'
export { LINK_DEFAULTS, resolveLinkOptions, type LinkOptions, type ResolvedLinkOptions } from './options.ts'
export * from './errors.ts'
export { backoffDelay } from './backoff.ts'
export type { LinkCounters, FrameCounts } from './counters.ts'
export type { OpenParams, StreamStart, StatsReply, Transport } from './codec/index.ts'
export { LinkProtocolError } from './codec/index.ts'
