/**
 * How a backend close reason becomes an RFC 6120 §4.9.3 stream error condition for a WebSocket
 * client when the server did not send a `<stream:error/>` of its own. The conditions, and the
 * reasons, are the backend contract's (src/backend/backend.ts).
 */
import type { CloseReason, StreamErrorCondition } from '../backend/backend.ts'

/**
 * The condition to tell the client when its stream ended for `reason` (the backend's onClose,
 * other than a normal end) and the server sent no `<stream:error/>` first. The server's own
 * conditions pass through; the backend's reasons are named in XMPP terms. Every reason is named
 * here: the compiler refuses a CloseReason this switch does not handle.
 */
export function conditionForClose (reason: Exclude<CloseReason, ''>): StreamErrorCondition {
  switch (reason) {
    // RFC 6120 §4.9.3.16: the server behind the edge is out of reach, or no longer knows the stream
    case 'link-lost':
    case 'link-closed':
    case 'unknown-connection':
    case 'duplicate-connection':
      return 'remote-connection-failed'
    // RFC 6120 §4.9.3.17: the server has no room for another session
    case 'session-limit': return 'resource-constraint'
    // RFC 6120 §4.9.3.8: a broken frame or a failure inside the server
    case 'internal':
    case 'bad-frame':
      return 'internal-server-error'
    // the server sent an element larger than the link accepts (maxReceiveFrameSize)
    case 'frame-too-large': return 'undefined-condition'
    default:
      // a stream error condition of the server's, as it is (narrowed: a link reason missing
      // above would not be a StreamErrorCondition here)
      return reason
  }
}
