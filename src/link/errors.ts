/**
 * Error codes of the link client (registered in docs/errors.md). Wire-format errors live in
 * codec/errors.ts; these are about the link as a whole and about what a caller asked for.
 */
import { MegaphoneError } from '../errors.ts'

/** The link is not up (connecting, handshaking, waiting to reconnect, or stopped). */
export const LINK_DOWN = 'LINK_DOWN'
/** The bounded send queue has no room for this frame; the caller should end the session. */
export const LINK_QUEUE_FULL = 'LINK_QUEUE_FULL'
/**
 * One session already has its budget (maxSessionQueueBytes) of frames waiting in the send queue:
 * its waiting frames were dropped and the caller should end it (policy-violation); the others
 * are untouched.
 */
export const LINK_SESSION_BUDGET = 'LINK_SESSION_BUDGET'
/** send/restart for a connection id that is not open (closed, lost with the link, or never opened). */
export const LINK_NOT_OPEN = 'LINK_NOT_OPEN'
/** The backend answered our AUTH with ERROR auth-failed: the secrets differ. */
export const LINK_AUTH_REJECTED = 'LINK_AUTH_REJECTED'
/** The backend's AUTH_OK MAC did not verify: the peer does not hold the secret (an impostor). */
export const LINK_AUTH_FAILED = 'LINK_AUTH_FAILED'
/** No protocol version in common with the backend's HELLO range (or the backend refused ours). */
export const LINK_UNSUPPORTED_VERSION = 'LINK_UNSUPPORTED_VERSION'
/** The handshake did not complete within handshakeTimeout. */
export const LINK_HANDSHAKE_TIMEOUT = 'LINK_HANDSHAKE_TIMEOUT'
/** No frame at all from the backend for heartbeatTimeout. */
export const LINK_HEARTBEAT_TIMEOUT = 'LINK_HEARTBEAT_TIMEOUT'
/** The backend broke the handshake protocol (a frame other than the expected one, a bad HELLO). */
export const LINK_PROTOCOL = 'LINK_PROTOCOL'
/** The socket failed (connect refused, reset, ...); `cause` holds the system error. */
export const LINK_SOCKET = 'LINK_SOCKET'
/** The backend closed the socket. */
export const LINK_PEER_CLOSED = 'LINK_PEER_CLOSED'
/** stop() was called. */
export const LINK_STOPPED = 'LINK_STOPPED'
/** A STATS_REQUEST got no STATS_REPLY within statsTimeout. */
export const LINK_STATS_TIMEOUT = 'LINK_STATS_TIMEOUT'
/** More than maxPendingStats STATS_REQUESTs awaiting replies. */
export const LINK_STATS_BUSY = 'LINK_STATS_BUSY'
/** A frame the caller asked to send would be above maxFrameSize (e.g. an element over 64 KiB). */
export const LINK_SEND_TOO_LARGE = 'LINK_SEND_TOO_LARGE'
/** A connection handler threw; the connection was ended, the link carries on. */
export const LINK_HANDLER_THREW = 'LINK_HANDLER_THREW'
/** An option is out of range. */
export const LINK_OPTIONS = 'LINK_OPTIONS'

export function linkError (code: string, message: string, cause?: unknown): MegaphoneError {
  return new MegaphoneError(code, message, cause === undefined ? undefined : { cause })
}
