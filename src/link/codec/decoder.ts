/**
 * The incremental frame decoder: bytes in, frames or coded errors out, no I/O. Modelled on ws's
 * receiver: an explicit state machine whose steps return early when more bytes are needed, every
 * limit checked inside the parser, errors handed to a callback as values (never thrown).
 *
 *        ┌──────────── whole frame in the chunk: data is a subarray, no copy ─────────┐
 *        v                                                                            │
 *   GET_HEADER ──13 bytes (or 4 + length when length < 9) ──> checks ──ok──> GET_DATA ┘
 *        ^                                                      │ too large, too short,
 *        │                                                      │ id ≥ 2^53, unknown type
 *        └──────────────────────── SKIP (discard, no buffering) <┘
 *
 * Memory is bounded: a 13-byte header scratch, plus one assembly buffer of maxFrameSize - 9
 * bytes, allocated the first time a frame spans chunks and reused for every such frame after.
 *
 * Ownership: `data` handed to onFrame is valid only until onFrame returns. A frame that sits
 * wholly inside one chunk is a view of that chunk (no copy); a frame that spanned chunks is a
 * view of the reused assembly buffer (one copy, no allocation: measured in bench/codec.ts, a
 * fresh 64 KiB buffer per frame cost 4x the copy itself). Receivers decode or copy what they keep;
 * every parser in this codec does.
 */
import {
  DEFAULT_MAX_FRAME_SIZE, HEADER_SIZE, KNOWN_TYPE, LENGTH_OVERHEAD, MAX_ID_HI, TWO_32, type FrameType
} from './frame-types.ts'
import {
  LINK_CONN_ID_RANGE, LINK_FRAME_TOO_LARGE, LINK_FRAME_TOO_SHORT, LINK_UNKNOWN_TYPE, LinkProtocolError
} from './errors.ts'

export interface FrameHandler {
  /** One frame. `data` is valid only until this returns: decode or copy what you keep. */
  onFrame (connId: number, type: FrameType, data: Buffer): void
  /** A frame that was skipped (the link stays up, docs/link-protocol.md "Maximum frame size"). */
  onError (error: LinkProtocolError): void
}

export interface FrameDecoderOptions {
  /** Largest `length` accepted (9 + data bytes). Default 65,545. */
  maxFrameSize?: number
}

const GET_HEADER = 0
const GET_DATA = 1
const SKIP = 2

const EMPTY = Buffer.alloc(0)

export class FrameDecoder {
  /**
   * Largest `length` accepted; may be changed between pushes (the client lowers it until the
   * handshake has succeeded).
   */
  maxFrameSize: number

  private readonly handler: FrameHandler
  private state = GET_HEADER
  private stopped = false
  /** GET_HEADER: the bytes of a header that spans chunks. Own memory, never a pool slice. */
  private readonly header = Buffer.allocUnsafeSlow(HEADER_SIZE)
  private headerFill = 0
  /** GET_DATA: the frame being assembled, into `assembly`, which `data` views. */
  private connId = 0
  private type = 0
  private assembly: Buffer = EMPTY
  private data: Buffer = EMPTY
  private dataFill = 0
  /** SKIP: bytes still to discard. */
  private remaining = 0

  constructor (handler: FrameHandler, options: FrameDecoderOptions = {}) {
    this.handler = handler
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE
  }

  /** Bytes held for a frame not yet complete (the memory bound's subject). */
  get buffered (): number {
    return this.headerFill + (this.state === GET_DATA ? this.data.length : 0)
  }

  /** Bytes of memory the decoder owns: the header scratch and the assembly buffer. */
  get retained (): number {
    return HEADER_SIZE + this.assembly.length
  }

  /** Stops delivery, also in the middle of a push (the link is being torn down). */
  stop (): void {
    this.stopped = true
    this.data = EMPTY
    this.assembly = EMPTY
  }

  /** Feeds the next bytes read from the link. Never throws on any input. */
  push (chunk: Buffer): void {
    const end = chunk.length
    let pos = 0
    while (pos < end && !this.stopped) {
      if (this.state === GET_HEADER) {
        if (this.headerFill !== 0 || end - pos < HEADER_SIZE) {
          pos = this.collectHeader(chunk, pos)
          continue
        }
        // Hot path: whole headers in the chunk, read in place.
        while (end - pos >= HEADER_SIZE && !this.stopped) {
          const length = ((chunk[pos]! << 24) | (chunk[pos + 1]! << 16) | (chunk[pos + 2]! << 8) | chunk[pos + 3]!) >>> 0
          if (length < LENGTH_OVERHEAD) {
            // A short frame's bytes (4 + length < 13) are all in this chunk.
            this.tooShort(length)
            pos += 4 + length
            continue
          }
          const hi = ((chunk[pos + 4]! << 24) | (chunk[pos + 5]! << 16) | (chunk[pos + 6]! << 8) | chunk[pos + 7]!) >>> 0
          const lo = ((chunk[pos + 8]! << 24) | (chunk[pos + 9]! << 16) | (chunk[pos + 10]! << 8) | chunk[pos + 11]!) >>> 0
          const type = chunk[pos + 12]!
          const start = pos + HEADER_SIZE
          const dataLength = length - LENGTH_OVERHEAD
          if (length <= this.maxFrameSize && hi < MAX_ID_HI && KNOWN_TYPE[type] === 1 && end - start >= dataLength) {
            pos = start + dataLength
            this.handler.onFrame(hi * TWO_32 + lo, type as FrameType, dataLength === 0 ? EMPTY : chunk.subarray(start, pos))
          } else {
            // Anything unusual (an error to report, a frame that spans chunks) takes the slow step.
            pos = this.frame(length, hi, lo, type, chunk, start)
            if (this.state !== GET_HEADER) break
          }
        }
      } else if (this.state === GET_DATA) {
        pos = this.collectData(chunk, pos)
      } else {
        const n = Math.min(this.remaining, end - pos)
        this.remaining -= n
        pos += n
        if (this.remaining === 0) this.state = GET_HEADER
      }
    }
  }

  /** Slow path: a header split across chunks. Returns the new position in `chunk`. */
  private collectHeader (chunk: Buffer, pos: number): number {
    const h = this.header
    for (;;) {
      // First the 4 length bytes; then up to 13, or up to 4 + length for a short frame.
      let target = 4
      if (this.headerFill >= 4) {
        const length = h.readUInt32BE(0)
        target = length < LENGTH_OVERHEAD ? 4 + length : HEADER_SIZE
      }
      if (this.headerFill < target) {
        const n = Math.min(target - this.headerFill, chunk.length - pos)
        if (n === 0) return pos // need more bytes
        chunk.copy(h, this.headerFill, pos, pos + n)
        this.headerFill += n
        pos += n
        continue
      }
      this.headerFill = 0
      const length = h.readUInt32BE(0)
      if (length < LENGTH_OVERHEAD) {
        this.tooShort(length)
        return pos
      }
      return this.frame(length, h.readUInt32BE(4), h.readUInt32BE(8), h[12]!, chunk, pos)
    }
  }

  /**
   * A header has been read; the data starts at `start` in `chunk`. Checks the limits, then
   * delivers the frame, starts assembling it, or starts skipping it. Returns the new position.
   */
  private frame (length: number, hi: number, lo: number, type: number, chunk: Buffer, start: number): number {
    const dataLength = length - LENGTH_OVERHEAD
    const idOk = hi < MAX_ID_HI
    const connId = idOk ? hi * TWO_32 + lo : -1
    let error: LinkProtocolError | undefined
    if (length > this.maxFrameSize) {
      // docs/link-protocol.md "Maximum frame size": read the id, discard the rest unbuffered.
      error = new LinkProtocolError(LINK_FRAME_TOO_LARGE, 'frame-too-large', connId,
        `frame length ${length} above the maximum of ${this.maxFrameSize}`)
    } else if (!idOk) {
      error = new LinkProtocolError(LINK_CONN_ID_RANGE, 'unknown-connection', -1,
        `connection id 0x${hi.toString(16)}${lo.toString(16).padStart(8, '0')} is 2^53 or more`)
    } else if (KNOWN_TYPE[type] !== 1) {
      error = new LinkProtocolError(LINK_UNKNOWN_TYPE, 'unknown-type', connId,
        `frame type 0x${type.toString(16).padStart(2, '0')} is not defined in version 1`)
    }
    if (error !== undefined) {
      this.remaining = dataLength
      this.state = dataLength > 0 ? SKIP : GET_HEADER
      this.handler.onError(error)
      return start
    }
    const available = chunk.length - start
    if (available >= dataLength) {
      this.handler.onFrame(connId, type as FrameType, dataLength === 0 ? EMPTY : chunk.subarray(start, start + dataLength))
      return start + dataLength
    }
    // The frame spans chunks: assemble it in the reused buffer (≤ maxFrameSize - 9 bytes).
    this.connId = connId
    this.type = type
    if (this.assembly.length < dataLength) this.assembly = Buffer.allocUnsafeSlow(Math.max(dataLength, this.maxFrameSize - LENGTH_OVERHEAD))
    this.data = this.assembly.subarray(0, dataLength)
    chunk.copy(this.data, 0, start)
    this.dataFill = available
    this.state = GET_DATA
    return chunk.length
  }

  private collectData (chunk: Buffer, pos: number): number {
    const n = Math.min(this.data.length - this.dataFill, chunk.length - pos)
    chunk.copy(this.data, this.dataFill, pos, pos + n)
    this.dataFill += n
    pos += n
    if (this.dataFill === this.data.length) {
      const data = this.data
      this.data = EMPTY
      this.state = GET_HEADER
      this.handler.onFrame(this.connId, this.type as FrameType, data)
    }
    return pos
  }

  private tooShort (length: number): void {
    this.handler.onError(new LinkProtocolError(LINK_FRAME_TOO_SHORT, 'frame-too-short', -1,
      `frame length ${length} below the minimum of ${LENGTH_OVERHEAD}`))
  }
}
