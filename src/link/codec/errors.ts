/**
 * Errors of the link's wire format, as values. The decoder and the parsers return or hand these
 * to a callback; nothing in the data path throws them. Each carries a stable `code` (registered
 * in docs/errors.md) and the protocol's own name and number for it (docs/link-protocol.md,
 * "Errors"), so that the client can answer the peer with the right ERROR frame.
 */
import { MegaphoneError } from '../../errors.ts'
import { PROTOCOL_ERRORS, type ProtocolErrorName } from './frame-types.ts'

/** A frame's `length` was above the receiver's maximum; its bytes were skipped. */
export const LINK_FRAME_TOO_LARGE = 'LINK_FRAME_TOO_LARGE'
/** A frame's `length` was below 9; its bytes were skipped. */
export const LINK_FRAME_TOO_SHORT = 'LINK_FRAME_TOO_SHORT'
/** A frame type version 1 does not define; the frame was skipped. */
export const LINK_UNKNOWN_TYPE = 'LINK_UNKNOWN_TYPE'
/** A frame's data does not match its type's layout (short fields, bad UTF-8, bad IP, bad id). */
export const LINK_BAD_FRAME = 'LINK_BAD_FRAME'
/** A connection id of 2^53 or more, which the edge never allocates; the frame was skipped. */
export const LINK_CONN_ID_RANGE = 'LINK_CONN_ID_RANGE'
/** The peer sent an ERROR frame; `protocolError` names its code. */
export const LINK_REMOTE_ERROR = 'LINK_REMOTE_ERROR'
/** A str16 field longer than 65,535 bytes of UTF-8 (thrown by encoders, at the API boundary). */
export const LINK_FIELD_TOO_LONG = 'LINK_FIELD_TOO_LONG'

export class LinkProtocolError extends MegaphoneError {
  /** The protocol's name for this error (the ERROR frame to answer with, or the one received). */
  readonly protocolError: ProtocolErrorName | 'unknown'
  /** The `u16 code` of that ERROR frame (the received one when `protocolError` is 'unknown'). */
  readonly protocolCode: number
  /** The connection id the frame carried, or -1 when it could not be read or held. */
  readonly connId: number

  constructor (code: string, protocolError: ProtocolErrorName | 'unknown', connId: number, message: string, protocolCode?: number) {
    super(code, message)
    this.name = 'LinkProtocolError'
    this.protocolError = protocolError
    this.protocolCode = protocolCode ?? (protocolError === 'unknown' ? 0 : PROTOCOL_ERRORS[protocolError])
    this.connId = connId
  }
}

export function badFrame (connId: number, message: string): LinkProtocolError {
  return new LinkProtocolError(LINK_BAD_FRAME, 'bad-frame', connId, message)
}
