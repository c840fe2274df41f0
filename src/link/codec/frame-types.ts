/**
 * Constants of the Megaphone link protocol, version 1 (docs/link-protocol.md): the frame header
 * layout, the frame types, and the protocol's own error codes. Nothing here does I/O.
 *
 *  0               4                              12      13
 *  +---------------+------------------------------+-------+----------------------+
 *  | length (u32)  | connection id (u64)          | type  | data (length - 9 B)  |
 *  +---------------+------------------------------+-------+----------------------+
 */

/** The protocol versions this edge speaks; HELLO's range is intersected with it. */
export const MIN_VERSION = 1
export const MAX_VERSION = 1

/** Bytes of the header: length (4) + connection id (8) + type (1). */
export const HEADER_SIZE = 13
/** What `length` counts besides the data: the connection id and the type byte. */
export const LENGTH_OVERHEAD = 9
/** Byte offsets inside the header. */
export const OFFSET_ID_HI = 4
export const OFFSET_ID_LO = 8
export const OFFSET_TYPE = 12

/** "Maximum frame size" default of both sides: 65,536 bytes of data + 9. */
export const DEFAULT_MAX_FRAME_SIZE = 65_536 + LENGTH_OVERHEAD
/** What the backend accepts before AUTH_OK; the edge applies the same bound to its peer. */
export const HANDSHAKE_MAX_FRAME_SIZE = 1_024

/** Connection ids the edge allocates stay below 2^53 so that a JS number holds them. */
export const MAX_CONN_ID = Number.MAX_SAFE_INTEGER
/** 2^32, to split a connection id into hi/lo u32 words. */
export const TWO_32 = 0x1_0000_0000
/** The hi word of an id must stay below 2^21 for the id to be below 2^53. */
export const MAX_ID_HI = 0x20_0000

/** Sizes of the fixed fields, from the frame-type table. */
export const NONCE_SIZE = 32
export const MAC_SIZE = 32
export const PING_SIZE = 8

export const HELLO = 0x01
export const AUTH = 0x02
export const AUTH_OK = 0x03
export const PING = 0x04
export const PONG = 0x05
export const STATS_REQUEST = 0x06
export const STATS_REPLY = 0x07
/** The announcer's requests (docs/link-protocol.md "API_REQUEST"): u32 request id, then JSON. */
export const API_REQUEST = 0x08
export const API_REPLY = 0x09
export const OPEN = 0x10
export const STREAM_START = 0x11
export const DATA = 0x12
export const RESTART = 0x13
export const CLOSE = 0x14
export const ERROR = 0x20

export type FrameType =
  | typeof HELLO | typeof AUTH | typeof AUTH_OK | typeof PING | typeof PONG
  | typeof STATS_REQUEST | typeof STATS_REPLY | typeof API_REQUEST | typeof API_REPLY
  | typeof OPEN | typeof STREAM_START | typeof DATA | typeof RESTART | typeof CLOSE
  | typeof ERROR

/** Name of each defined type (for logs and counters); undefined for a type v1 does not define. */
export const FRAME_TYPE_NAMES: Readonly<Record<FrameType, string>> = {
  [HELLO]: 'HELLO',
  [AUTH]: 'AUTH',
  [AUTH_OK]: 'AUTH_OK',
  [PING]: 'PING',
  [PONG]: 'PONG',
  [STATS_REQUEST]: 'STATS_REQUEST',
  [STATS_REPLY]: 'STATS_REPLY',
  [API_REQUEST]: 'API_REQUEST',
  [API_REPLY]: 'API_REPLY',
  [OPEN]: 'OPEN',
  [STREAM_START]: 'STREAM_START',
  [DATA]: 'DATA',
  [RESTART]: 'RESTART',
  [CLOSE]: 'CLOSE',
  [ERROR]: 'ERROR'
}

/**
 * 1 for each type byte version 1 defines, indexed by the byte: one load decides "unknown-type"
 * in the decoder's hot path.
 */
export const KNOWN_TYPE = new Uint8Array(256)
for (const t of Object.keys(FRAME_TYPE_NAMES)) KNOWN_TYPE[Number(t)] = 1

export function isFrameType (type: number): type is FrameType {
  return KNOWN_TYPE[type & 0xff] === 1 && type >= 0 && type <= 0xff
}

/** Types that travel on connection id 0 (link control); every other type needs an id ≥ 1. */
export function isControlType (type: FrameType): boolean {
  return type < OPEN
}

/** `u8 transport` of OPEN. */
export const TRANSPORT_BOSH = 0
export const TRANSPORT_WEBSOCKET = 1

/** The `u16 code` of ERROR frames ("Errors" table of the protocol). */
export const PROTOCOL_ERRORS = {
  'auth-failed': 1,
  'unsupported-version': 2,
  'not-authenticated': 3,
  'frame-too-large': 4,
  'frame-too-short': 5,
  'unknown-type': 6,
  'bad-frame': 7,
  'unknown-connection': 8,
  'duplicate-connection': 9,
  'bad-xml': 10,
  'wrong-direction': 11,
  'session-limit': 12,
  internal: 13
} as const

export type ProtocolErrorName = keyof typeof PROTOCOL_ERRORS

const PROTOCOL_ERROR_BY_CODE = new Map<number, ProtocolErrorName>(
  (Object.entries(PROTOCOL_ERRORS) as Array<[ProtocolErrorName, number]>).map(([name, code]) => [code, name])
)

/** The name of an ERROR frame's code, or undefined for a code this version does not define. */
export function protocolErrorName (code: number): ProtocolErrorName | undefined {
  return PROTOCOL_ERROR_BY_CODE.get(code)
}
