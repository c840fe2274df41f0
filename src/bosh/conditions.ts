/**
 * BOSH error conditions (XEP-0124 §17) and how each reaches a client.
 */
import type { CloseReason } from '../backend/backend.ts'

/** XEP-0124 §17.2: terminal binding conditions; each one ends the session. */
export type TerminalCondition =
  | 'bad-request'
  | 'host-gone'
  | 'host-unknown'
  | 'improper-addressing'
  | 'internal-server-error'
  | 'item-not-found'
  | 'other-request'
  | 'policy-violation'
  | 'remote-connection-failed'
  | 'remote-stream-error'
  | 'see-other-uri'
  | 'system-shutdown'
  | 'undefined-condition'

/**
 * XEP-0124 §17.1: a legacy client (no `ver` in its session creation request) is told of these
 * three conditions by an HTTP status instead; every other condition is a 200 with
 * `type='terminate'` for everyone (the table defines no other codes).
 */
const LEGACY_HTTP_STATUS: Partial<Record<TerminalCondition, number>> = {
  'bad-request': 400,
  'policy-violation': 403,
  'item-not-found': 404
}

export function legacyStatus (condition: TerminalCondition): number {
  return LEGACY_HTTP_STATUS[condition] ?? 200
}

/**
 * The condition a BOSH client is told when its stream ended for `reason` (the backend's
 * onClose), or '' for a normal end. Every reason is named here: the compiler refuses a
 * CloseReason this switch does not handle.
 */
export function conditionForStreamEnd (reason: CloseReason, hadStreamError: boolean): TerminalCondition | '' {
  if (hadStreamError) return 'remote-stream-error' // XEP-0206 §6: the <stream:error/> is copied into the body
  switch (reason) {
    case '': return '' // the server ended the stream normally
    // XEP-0124 §17.2 conditions of the same name and meaning
    case 'system-shutdown':
    case 'host-unknown':
    case 'host-gone':
    case 'policy-violation':
    case 'improper-addressing':
    case 'internal-server-error':
    case 'remote-connection-failed':
    case 'undefined-condition':
      return reason
    // the server's other stream conditions (XEP-0206 §6), even without a <stream:error/>
    case 'bad-format':
    case 'bad-namespace-prefix':
    case 'conflict':
    case 'connection-timeout':
    case 'invalid-from':
    case 'invalid-namespace':
    case 'invalid-xml':
    case 'not-authorized':
    case 'not-well-formed':
    case 'reset':
    case 'resource-constraint':
    case 'restricted-xml':
    case 'see-other-host':
    case 'unsupported-encoding':
    case 'unsupported-feature':
    case 'unsupported-stanza-type':
    case 'unsupported-version':
      return 'remote-stream-error'
    // XEP-0124 §17.2: the connection manager "has lost its connection to the server", or the
    // server refused the stream (it has no room, or no longer knows the connection)
    case 'link-lost':
    case 'link-closed':
    case 'session-limit':
    case 'unknown-connection':
    case 'duplicate-connection':
      return 'remote-connection-failed'
    // a broken frame or a failure inside the server
    case 'bad-frame':
    case 'internal':
      return 'internal-server-error'
    // the server sent an element larger than the link accepts (maxReceiveFrameSize)
    case 'frame-too-large':
      return 'undefined-condition'
    default: {
      const missing: never = reason
      return missing
    }
  }
}
