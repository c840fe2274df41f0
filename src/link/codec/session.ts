/**
 * Layouts of the session frames (connection id ≥ 1): OPEN, STREAM_START, DATA, RESTART, CLOSE,
 * an encoder and a parser for each, as in docs/link-protocol.md's "Frame types" table. Parsers
 * return plain objects or a `bad-frame` error; trailing bytes after the defined fields are
 * ignored ("Versioning").
 */
import { isIP } from 'node:net'
import {
  CLOSE, HEADER_SIZE, OPEN, RESTART, STREAM_START, TRANSPORT_BOSH, TRANSPORT_WEBSOCKET
} from './frame-types.ts'
import { allocFrame } from './encoder.ts'
import { FieldReader, str16Length, utf8, writeStr16, writeU16 } from './fields.ts'
import { badFrame, type LinkProtocolError } from './errors.ts'

// OPEN's and STREAM_START's fields are the transports' own contract (src/backend/backend.ts):
// one definition, so the link and the transports cannot drift apart.
import type { OpenParams, StreamStart } from '../../backend/backend.ts'
export type { Transport, OpenParams, StreamStart } from '../../backend/backend.ts'

export interface Close {
  /** '' for a normal end; otherwise a reason (edge) or a stream error condition (backend) */
  condition: string
  /** optional text for logs */
  text: string
}

// OPEN: u8 transport, str16 to, str16 client ip, u16 client port, str16 xml:lang
export function encodeOpen (connId: number, p: OpenParams): Buffer {
  const toN = str16Length('OPEN to', p.to)
  const ipN = str16Length('OPEN client ip', p.ip)
  const langN = str16Length('OPEN xml:lang', p.lang)
  const buf = allocFrame(connId, OPEN, 1 + 2 + toN + 2 + ipN + 2 + 2 + langN)
  buf[HEADER_SIZE] = p.transport === 'websocket' ? TRANSPORT_WEBSOCKET : TRANSPORT_BOSH
  let o = writeStr16(buf, HEADER_SIZE + 1, p.to, toN)
  o = writeStr16(buf, o, p.ip, ipN)
  o = writeU16(buf, o, p.port)
  writeStr16(buf, o, p.lang, langN)
  return buf
}

export function parseOpen (connId: number, data: Buffer): OpenParams | LinkProtocolError {
  const r = new FieldReader(data)
  const t = r.u8('OPEN transport')
  const to = r.str16('OPEN to')
  const ip = r.str16('OPEN client ip')
  const port = r.u16('OPEN client port')
  const lang = r.str16('OPEN xml:lang')
  if (r.failure !== '') return badFrame(connId, r.failure)
  if (t !== TRANSPORT_BOSH && t !== TRANSPORT_WEBSOCKET) return badFrame(connId, `OPEN: unknown transport ${t}`)
  if (isIP(ip) === 0) return badFrame(connId, 'OPEN: client ip is not an IPv4 or IPv6 address')
  return { transport: t === TRANSPORT_WEBSOCKET ? 'websocket' : 'bosh', to, ip, port, lang }
}

// STREAM_START: str16 stream id, str16 from, str16 version, str16 xml:lang
export function encodeStreamStart (connId: number, s: StreamStart): Buffer {
  const idN = str16Length('STREAM_START stream id', s.id)
  const fromN = str16Length('STREAM_START from', s.from)
  const versionN = str16Length('STREAM_START version', s.version)
  const langN = str16Length('STREAM_START xml:lang', s.lang)
  const buf = allocFrame(connId, STREAM_START, 8 + idN + fromN + versionN + langN)
  let o = writeStr16(buf, HEADER_SIZE, s.id, idN)
  o = writeStr16(buf, o, s.from, fromN)
  o = writeStr16(buf, o, s.version, versionN)
  writeStr16(buf, o, s.lang, langN)
  return buf
}

export function parseStreamStart (connId: number, data: Buffer): StreamStart | LinkProtocolError {
  const r = new FieldReader(data)
  const id = r.str16('STREAM_START stream id')
  const from = r.str16('STREAM_START from')
  const version = r.str16('STREAM_START version')
  const lang = r.str16('STREAM_START xml:lang')
  if (r.failure !== '') return badFrame(connId, r.failure)
  return { id, from, version, lang }
}

// DATA: exactly one top-level XML element, UTF-8. Encoders: encodeData / encodeFrame (encoder.ts).
/** The element as a string; well-formedness is the XML layer's business (`bad-xml`), not ours. */
export function parseData (connId: number, data: Buffer): string | LinkProtocolError {
  const s = utf8(data)
  return s ?? badFrame(connId, 'DATA: not valid UTF-8')
}

// RESTART: empty
export function encodeRestart (connId: number): Buffer {
  return allocFrame(connId, RESTART, 0)
}

// CLOSE: str16 condition, then optional UTF-8 text to the end
export function encodeClose (connId: number, condition: string, text = ''): Buffer {
  const condN = str16Length('CLOSE condition', condition)
  const textN = Buffer.byteLength(text, 'utf8')
  const buf = allocFrame(connId, CLOSE, 2 + condN + textN)
  const o = writeStr16(buf, HEADER_SIZE, condition, condN)
  if (textN > 0) buf.write(text, o, textN, 'utf8')
  return buf
}

export function parseClose (connId: number, data: Buffer): Close | LinkProtocolError {
  const r = new FieldReader(data)
  const condition = r.str16('CLOSE condition')
  const text = r.rest('CLOSE text')
  if (r.failure !== '') return badFrame(connId, r.failure)
  return { condition, text }
}
