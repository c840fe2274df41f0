/**
 * BOSH error conditions (XEP-0124 §17) and how each reaches a client.
 */

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

/** XMPP stream error conditions the backend reports in CLOSE, mapped to what a BOSH client sees. */
export function conditionForStreamEnd (condition: string, hadStreamError: boolean): TerminalCondition | '' {
  if (hadStreamError) return 'remote-stream-error' // XEP-0206 §6
  switch (condition) {
    case '': return '' // the server ended the stream normally
    case 'link-lost':
    case 'link-queue-full':
    case 'link-closed':
      return 'remote-connection-failed' // XEP-0124 §17.2: lost its connection to the server
    case 'system-shutdown':
      return 'system-shutdown'
    case 'host-unknown':
      return 'host-unknown'
    case 'frame-too-large':
      // The server sent an element larger than the link accepts (maxReceiveFrameSize).
      return 'undefined-condition'
    default:
      return 'remote-stream-error'
  }
}
