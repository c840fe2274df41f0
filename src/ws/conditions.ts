/**
 * The stream error conditions of RFC 6120 §4.9.3 that the WebSocket endpoint sends itself, and
 * how a link close reason becomes one when the server did not send a `<stream:error/>` of its own.
 */

/** RFC 6120 §4.9.3, every defined condition. */
export const STREAM_CONDITIONS = [
  'bad-format', 'bad-namespace-prefix', 'conflict', 'connection-timeout', 'host-gone',
  'host-unknown', 'improper-addressing', 'internal-server-error', 'invalid-from',
  'invalid-namespace', 'invalid-xml', 'not-authorized', 'not-well-formed', 'policy-violation',
  'remote-connection-failed', 'reset', 'resource-constraint', 'restricted-xml', 'see-other-host',
  'system-shutdown', 'undefined-condition', 'unsupported-encoding', 'unsupported-feature',
  'unsupported-stanza-type', 'unsupported-version'
] as const

export type StreamCondition = typeof STREAM_CONDITIONS[number]

const KNOWN: ReadonlySet<string> = new Set(STREAM_CONDITIONS)

export function isStreamCondition (name: string): name is StreamCondition {
  return KNOWN.has(name)
}

/**
 * The condition to tell the client when its stream ended for `reason` (the backend's onClose
 * condition) and the server sent no `<stream:error/>` first. The server's own conditions pass
 * through; the link's reasons (docs/link-protocol.md) are named in XMPP terms.
 */
export function conditionForClose (reason: string): StreamCondition {
  if (isStreamCondition(reason)) return reason
  switch (reason) {
    case 'session-limit': return 'resource-constraint'
    case 'internal':
    case 'internal-error':
    case 'bad-frame':
      return 'internal-server-error'
    // The server sent an element larger than the link accepts (maxReceiveFrameSize).
    case 'frame-too-large': return 'undefined-condition'
    // link-lost, link-closed, link-queue-full, unknown-connection, duplicate-connection: the
    // server behind the edge is out of reach (RFC 6120 §4.9.3.16).
    default: return 'remote-connection-failed'
  }
}
