/**
 * Frame headers and whole frames, as bytes. No I/O. The write path never copies a payload that
 * is already a Buffer: `encodeFrame` returns the 13-byte header and the caller's payload side by
 * side, for `socket.cork(); socket.write(header); socket.write(payload); socket.uncork()` (the
 * ws sender's approach). Frames built from strings or fields are written once, into one buffer.
 *
 * Preconditions (checked by the client, not here, to keep this path short): connection ids are
 * integers in [0, 2^53); data lengths are at most the peer's maximum frame size minus 9.
 */
import {
  DATA, HEADER_SIZE, LENGTH_OVERHEAD, OFFSET_ID_HI, OFFSET_ID_LO, OFFSET_TYPE, TWO_32
} from './frame-types.ts'

/** Writes the header of a frame with `dataLength` bytes of data at `offset` of `buf`. */
export function writeHeader (buf: Buffer, offset: number, connId: number, type: number, dataLength: number): void {
  // Byte stores rather than writeUInt32BE: no range checks, and V8 inlines them.
  const length = LENGTH_OVERHEAD + dataLength
  buf[offset] = length >>> 24
  buf[offset + 1] = length >>> 16
  buf[offset + 2] = length >>> 8
  buf[offset + 3] = length
  // An id below 2^53 splits exactly into hi = floor(id / 2^32) and lo = id mod 2^32 (ToUint32).
  const hi = Math.floor(connId / TWO_32)
  const lo = connId >>> 0
  let o = offset + OFFSET_ID_HI
  buf[o] = hi >>> 24
  buf[o + 1] = hi >>> 16
  buf[o + 2] = hi >>> 8
  buf[o + 3] = hi
  o = offset + OFFSET_ID_LO
  buf[o] = lo >>> 24
  buf[o + 1] = lo >>> 16
  buf[o + 2] = lo >>> 8
  buf[o + 3] = lo
  buf[offset + OFFSET_TYPE] = type
}

/** A fresh 13-byte header (from Node's buffer pool, so small and cheap). */
export function encodeHeader (connId: number, type: number, dataLength: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_SIZE)
  writeHeader(header, 0, connId, type, dataLength)
  return header
}

/** [header, data]: a frame whose data is the caller's buffer, not copied. */
export function encodeFrame (connId: number, type: number, data: Buffer): [Buffer, Buffer] {
  return [encodeHeader(connId, type, data.length), data]
}

/**
 * One buffer holding a header and `dataLength` bytes of data still to be written at offset 13.
 * For control frames and frames built from fields.
 */
export function allocFrame (connId: number, type: number, dataLength: number): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_SIZE + dataLength)
  writeHeader(buf, 0, connId, type, dataLength)
  return buf
}

/**
 * A DATA frame from an element held as a string: the UTF-8 encoding has to be written somewhere
 * once, so it is written straight after the header and the frame is one buffer.
 */
export function encodeData (connId: number, xml: string): Buffer {
  const n = Buffer.byteLength(xml, 'utf8')
  const buf = allocFrame(connId, DATA, n)
  buf.write(xml, HEADER_SIZE, n, 'utf8')
  return buf
}
