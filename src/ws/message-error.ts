/**
 * Why a WebSocket message was refused. parseMessage() returns these (it never throws); the
 * session ends the stream with `condition` as a stream error (RFC 7395 §3.5, RFC 6120 §4.9.3).
 */
import { MegaphoneError } from '../errors.ts'
import type { StreamErrorCondition } from '../backend/backend.ts'

/** Stable codes, documented in docs/errors.md. */
export type WsMessageErrorCode =
  /** not one well-formed XML 1.0 element with namespaces (truncation, trailing data, bad chars) */
  | 'WS_NOT_WELL_FORMED'
  /** a comment, processing instruction or DTD (RFC 6120 §11.1) */
  | 'WS_RESTRICTED_XML'
  /** elements nest deeper than maxDepth */
  | 'WS_TOO_DEEP'
  /** an `<open/>` or `<close/>` outside the framing namespace (RFC 7395 §3.3.2), or no namespace at all (§3.3.3) */
  | 'WS_INVALID_NAMESPACE'
  /** an element of the framing namespace other than `<open/>` and `<close/>` */
  | 'WS_UNSUPPORTED_FRAMING'

const CONDITIONS: Record<WsMessageErrorCode, StreamErrorCondition> = {
  'WS_NOT_WELL_FORMED': 'not-well-formed', // RFC 6120 §4.9.3.13
  'WS_RESTRICTED_XML': 'restricted-xml', // RFC 6120 §4.9.3.18
  'WS_TOO_DEEP': 'policy-violation', // RFC 6120 §4.9.3.14: a local limit
  'WS_INVALID_NAMESPACE': 'invalid-namespace', // RFC 7395 §3.3.2, RFC 6120 §4.9.3.10
  'WS_UNSUPPORTED_FRAMING': 'unsupported-stanza-type' // RFC 6120 §4.9.3.22
}

export class WsMessageError extends MegaphoneError {
  declare readonly code: WsMessageErrorCode
  /** the stream error condition to end the stream with */
  readonly condition: StreamErrorCondition
  /** UTF-16 index into the message where the problem was found (for logs) */
  readonly offset: number
  /** discriminates from a parsed message, whose `ok` is true */
  readonly ok = false

  constructor (code: WsMessageErrorCode, message: string, offset = 0) {
    super(code, message)
    this.name = 'WsMessageError'
    this.offset = offset
    this.condition = CONDITIONS[code]
  }
}
