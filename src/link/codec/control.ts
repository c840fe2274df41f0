/**
 * Layouts of the link control frames (connection id 0) and of ERROR: an encoder and a parser for
 * each, as in docs/link-protocol.md's "Frame types" table. Parsers return views into the frame's
 * data (copy what you keep) or a `bad-frame` error; trailing bytes after the fields a version
 * defines are ignored ("Versioning").
 */
import {
  API_REPLY, API_REQUEST, AUTH, AUTH_OK, ERROR, HELLO, MAC_SIZE, NONCE_SIZE, PING, PING_SIZE, PONG, STATS_REPLY, STATS_REQUEST,
  HEADER_SIZE, protocolErrorName, type ProtocolErrorName
} from './frame-types.ts'
import { allocFrame } from './encoder.ts'
import { FieldReader, writeU16, writeU32 } from './fields.ts'
import { badFrame, type LinkProtocolError } from './errors.ts'
import { MegaphoneError } from '../../errors.ts'
import { LINK_BAD_FRAME } from './errors.ts'

export interface Hello {
  minVersion: number
  maxVersion: number
  /** Nb, 32 bytes */
  nonce: Buffer
}

export interface Auth {
  version: number
  /** Ne, 32 bytes */
  nonce: Buffer
  /** MACe, 32 bytes */
  mac: Buffer
}

export interface StatsReply {
  requestId: number
  /** sessions on this link */
  linkSessions: number
  /** c2s sessions on the ejabberd node */
  nodeSessions: number
}

/** API_REQUEST and API_REPLY: a request id and a JSON text (parsed by the caller: src/link/api.ts). */
export interface ApiMessage {
  requestId: number
  json: string
}

export interface ErrorFrame {
  /** the u16 code */
  code: number
  /** its name, or 'unknown' for a code this version does not define */
  name: ProtocolErrorName | 'unknown'
  text: string
}

function fixed (what: string, buf: Buffer, size: number): void {
  // Encoders throw on caller bugs (a wrong-sized nonce would be a broken handshake, not data).
  if (buf.length !== size) throw new MegaphoneError(LINK_BAD_FRAME, `${what} must be ${size} bytes, got ${buf.length}`)
}

// HELLO: u16 min version, u16 max version, 32-byte nonce Nb
export function encodeHello (minVersion: number, maxVersion: number, nonce: Buffer): Buffer {
  fixed('HELLO nonce', nonce, NONCE_SIZE)
  const buf = allocFrame(0, HELLO, 4 + NONCE_SIZE)
  let o = writeU16(buf, HEADER_SIZE, minVersion)
  o = writeU16(buf, o, maxVersion)
  nonce.copy(buf, o)
  return buf
}

export function parseHello (data: Buffer): Hello | LinkProtocolError {
  const r = new FieldReader(data)
  const minVersion = r.u16('HELLO min version')
  const maxVersion = r.u16('HELLO max version')
  const nonce = r.bytes(NONCE_SIZE, 'HELLO nonce')
  if (r.failure !== '') return badFrame(0, r.failure)
  if (minVersion > maxVersion) return badFrame(0, `HELLO: min version ${minVersion} above max version ${maxVersion}`)
  return { minVersion, maxVersion, nonce }
}

// AUTH: u16 chosen version, 32-byte nonce Ne, 32-byte MACe
export function encodeAuth (version: number, nonce: Buffer, mac: Buffer): Buffer {
  fixed('AUTH nonce', nonce, NONCE_SIZE)
  fixed('AUTH mac', mac, MAC_SIZE)
  const buf = allocFrame(0, AUTH, 2 + NONCE_SIZE + MAC_SIZE)
  const o = writeU16(buf, HEADER_SIZE, version)
  nonce.copy(buf, o)
  mac.copy(buf, o + NONCE_SIZE)
  return buf
}

export function parseAuth (data: Buffer): Auth | LinkProtocolError {
  const r = new FieldReader(data)
  const version = r.u16('AUTH version')
  const nonce = r.bytes(NONCE_SIZE, 'AUTH nonce')
  const mac = r.bytes(MAC_SIZE, 'AUTH mac')
  if (r.failure !== '') return badFrame(0, r.failure)
  return { version, nonce, mac }
}

// AUTH_OK: 32-byte MACb
export function encodeAuthOk (mac: Buffer): Buffer {
  fixed('AUTH_OK mac', mac, MAC_SIZE)
  const buf = allocFrame(0, AUTH_OK, MAC_SIZE)
  mac.copy(buf, HEADER_SIZE)
  return buf
}

/** Returns MACb. */
export function parseAuthOk (data: Buffer): Buffer | LinkProtocolError {
  const r = new FieldReader(data)
  const mac = r.bytes(MAC_SIZE, 'AUTH_OK mac')
  if (r.failure !== '') return badFrame(0, r.failure)
  return mac
}

// PING / PONG: 8 opaque bytes (PONG echoes its PING's)
export function encodePing (payload: Buffer): Buffer {
  return encodePingPong(PING, payload)
}

export function encodePong (payload: Buffer): Buffer {
  return encodePingPong(PONG, payload)
}

function encodePingPong (type: typeof PING | typeof PONG, payload: Buffer): Buffer {
  fixed('PING/PONG payload', payload, PING_SIZE)
  const buf = allocFrame(0, type, PING_SIZE)
  payload.copy(buf, HEADER_SIZE)
  return buf
}

/** Returns the 8 bytes of a PING or PONG. */
export function parsePing (data: Buffer): Buffer | LinkProtocolError {
  const r = new FieldReader(data)
  const payload = r.bytes(PING_SIZE, 'PING/PONG payload')
  if (r.failure !== '') return badFrame(0, r.failure)
  return payload
}

// STATS_REQUEST: u32 request id
export function encodeStatsRequest (requestId: number): Buffer {
  const buf = allocFrame(0, STATS_REQUEST, 4)
  writeU32(buf, HEADER_SIZE, requestId)
  return buf
}

/** Returns the request id. */
export function parseStatsRequest (data: Buffer): number | LinkProtocolError {
  const r = new FieldReader(data)
  const requestId = r.u32('STATS_REQUEST request id')
  if (r.failure !== '') return badFrame(0, r.failure)
  return requestId
}

// STATS_REPLY: u32 request id, u32 sessions on this link, u32 c2s sessions on the node
export function encodeStatsReply (reply: StatsReply): Buffer {
  const buf = allocFrame(0, STATS_REPLY, 12)
  let o = writeU32(buf, HEADER_SIZE, reply.requestId)
  o = writeU32(buf, o, reply.linkSessions)
  writeU32(buf, o, reply.nodeSessions)
  return buf
}

export function parseStatsReply (data: Buffer): StatsReply | LinkProtocolError {
  const r = new FieldReader(data)
  const requestId = r.u32('STATS_REPLY request id')
  const linkSessions = r.u32('STATS_REPLY link sessions')
  const nodeSessions = r.u32('STATS_REPLY node sessions')
  if (r.failure !== '') return badFrame(0, r.failure)
  return { requestId, linkSessions, nodeSessions }
}

// API_REQUEST / API_REPLY: u32 request id, then a UTF-8 JSON object to the end
export function encodeApiRequest (requestId: number, json: string): Buffer {
  return encodeApi(API_REQUEST, requestId, json)
}

export function encodeApiReply (requestId: number, json: string): Buffer {
  return encodeApi(API_REPLY, requestId, json)
}

function encodeApi (type: typeof API_REQUEST | typeof API_REPLY, requestId: number, json: string): Buffer {
  const n = Buffer.byteLength(json, 'utf8')
  const buf = allocFrame(0, type, 4 + n)
  const o = writeU32(buf, HEADER_SIZE, requestId)
  if (n > 0) buf.write(json, o, n, 'utf8')
  return buf
}

/** Reads API_REQUEST or API_REPLY (the same layout); the JSON is returned as text, not parsed. */
export function parseApi (data: Buffer): ApiMessage | LinkProtocolError {
  const r = new FieldReader(data)
  const requestId = r.u32('API request id')
  const json = r.rest('API JSON')
  if (r.failure !== '') return badFrame(0, r.failure)
  return { requestId, json }
}

// ERROR (any connection id): u16 code, then UTF-8 text to the end
export function encodeError (connId: number, code: number, text: string): Buffer {
  const n = Buffer.byteLength(text, 'utf8')
  const buf = allocFrame(connId, ERROR, 2 + n)
  const o = writeU16(buf, HEADER_SIZE, code)
  if (n > 0) buf.write(text, o, n, 'utf8')
  return buf
}

export function parseError (connId: number, data: Buffer): ErrorFrame | LinkProtocolError {
  const r = new FieldReader(data)
  const code = r.u16('ERROR code')
  const text = r.rest('ERROR text')
  if (r.failure !== '') return badFrame(connId, r.failure)
  return { code, name: protocolErrorName(code) ?? 'unknown', text }
}
