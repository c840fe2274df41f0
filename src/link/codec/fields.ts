/**
 * The field primitives of frame data: big-endian integers and `str16` strings (a u16 byte count,
 * then that many bytes of UTF-8; docs/link-protocol.md, "Strings"). Reading never throws: a
 * `FieldReader` that runs past the end or meets bad UTF-8 records why and returns neutral values,
 * and the parser turns that into one `bad-frame` error.
 */
import { isUtf8 } from 'node:buffer'
import { MegaphoneError } from '../../errors.ts'
import { LINK_FIELD_TOO_LONG } from './errors.ts'

export const MAX_STR16 = 0xffff

/** UTF-8 byte length of a str16 field's text; throws LINK_FIELD_TOO_LONG above 65,535. */
export function str16Length (field: string, value: string): number {
  const n = Buffer.byteLength(value, 'utf8')
  if (n > MAX_STR16) throw new MegaphoneError(LINK_FIELD_TOO_LONG, `${field} is ${n} bytes of UTF-8, above the str16 limit of ${MAX_STR16}`)
  return n
}

/** Writes a str16 whose byte length `n` the caller computed; returns the offset after it. */
export function writeStr16 (buf: Buffer, offset: number, value: string, n: number): number {
  buf[offset] = n >>> 8
  buf[offset + 1] = n
  if (n > 0) buf.write(value, offset + 2, n, 'utf8')
  return offset + 2 + n
}

export function writeU16 (buf: Buffer, offset: number, v: number): number {
  buf[offset] = v >>> 8
  buf[offset + 1] = v
  return offset + 2
}

export function writeU32 (buf: Buffer, offset: number, v: number): number {
  buf[offset] = v >>> 24
  buf[offset + 1] = v >>> 16
  buf[offset + 2] = v >>> 8
  buf[offset + 3] = v
  return offset + 4
}

/** Decodes UTF-8, or returns undefined if the bytes are not valid UTF-8 (no silent U+FFFD). */
export function utf8 (bytes: Buffer): string | undefined {
  if (bytes.length === 0) return ''
  return isUtf8(bytes) ? bytes.toString('utf8') : undefined
}

/** A cursor over one frame's data. */
export class FieldReader {
  private pos = 0
  /** Why reading failed (first failure only), or '' while every read has succeeded. */
  failure = ''

  constructor (private readonly data: Buffer) {}

  private need (n: number, what: string): boolean {
    if (this.failure !== '') return false
    if (this.pos + n > this.data.length) {
      this.failure = `${what}: needs ${n} bytes at offset ${this.pos}, data is ${this.data.length} bytes`
      return false
    }
    return true
  }

  u8 (what: string): number {
    if (!this.need(1, what)) return 0
    return this.data[this.pos++]!
  }

  u16 (what: string): number {
    if (!this.need(2, what)) return 0
    const d = this.data
    const v = (d[this.pos]! << 8) | d[this.pos + 1]!
    this.pos += 2
    return v
  }

  u32 (what: string): number {
    if (!this.need(4, what)) return 0
    const v = this.data.readUInt32BE(this.pos)
    this.pos += 4
    return v
  }

  /** A view of the next `n` bytes (not a copy). */
  bytes (n: number, what: string): Buffer {
    if (!this.need(n, what)) return EMPTY
    const v = this.data.subarray(this.pos, this.pos + n)
    this.pos += n
    return v
  }

  str16 (what: string): string {
    const n = this.u16(what)
    return this.text(this.bytes(n, what), what)
  }

  /** The UTF-8 text from here to the end of the data. */
  rest (what: string): string {
    if (this.failure !== '') return ''
    const v = this.data.subarray(this.pos)
    this.pos = this.data.length
    return this.text(v, what)
  }

  private text (bytes: Buffer, what: string): string {
    if (this.failure !== '') return ''
    const s = utf8(bytes)
    if (s === undefined) {
      this.failure = `${what}: not valid UTF-8`
      return ''
    }
    return s
  }
}

const EMPTY = Buffer.alloc(0)
