/**
 * Seeded fuzzing of the decoder and the parsers: on any bytes split anywhere, the decoder never
 * throws, holds at most one frame's worth of memory, and reports only coded errors; valid frame
 * streams split at random points come out exactly as they went in.
 */
import t from 'tap'
import {
  FrameDecoder, LinkProtocolError, encodeFrame, parseHello, parseAuth, parseAuthOk, parsePing, parseStatsRequest,
  parseStatsReply, parseApi, parseOpen, parseStreamStart, parseData, parseClose, parseError,
  HELLO, AUTH, AUTH_OK, PING, PONG, STATS_REQUEST, STATS_REPLY, API_REQUEST, API_REPLY, OPEN, STREAM_START, DATA, RESTART,
  CLOSE, ERROR, LINK_FRAME_TOO_LARGE, LINK_FRAME_TOO_SHORT, LINK_UNKNOWN_TYPE, LINK_CONN_ID_RANGE, LINK_BAD_FRAME,
  HEADER_SIZE, type FrameType
} from '../../src/link/codec/index.ts'

/** xorshift32: reproducible from its seed. */
function rng (seed: number): (n: number) => number {
  let x = seed >>> 0 || 1
  return (n: number) => {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    return x % n
  }
}

const TYPES = [HELLO, AUTH, AUTH_OK, PING, PONG, STATS_REQUEST, STATS_REPLY, API_REQUEST, API_REPLY, OPEN, STREAM_START, DATA, RESTART, CLOSE, ERROR]
const DECODER_CODES = new Set([LINK_FRAME_TOO_LARGE, LINK_FRAME_TOO_SHORT, LINK_UNKNOWN_TYPE, LINK_CONN_ID_RANGE])

function parse (connId: number, type: FrameType, data: Buffer): unknown {
  switch (type) {
    case HELLO: return parseHello(data)
    case AUTH: return parseAuth(data)
    case AUTH_OK: return parseAuthOk(data)
    case PING: case PONG: return parsePing(data)
    case STATS_REQUEST: return parseStatsRequest(data)
    case STATS_REPLY: return parseStatsReply(data)
    case API_REQUEST: case API_REPLY: return parseApi(data)
    case OPEN: return parseOpen(connId, data)
    case STREAM_START: return parseStreamStart(connId, data)
    case DATA: return parseData(connId, data)
    case RESTART: return data.length
    case CLOSE: return parseClose(connId, data)
    case ERROR: return parseError(connId, data)
  }
}

function randomBytes (r: (n: number) => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = r(256)
  return b
}

/** Plausible-looking hostile input: frames with random lengths, ids, types and data, and noise. */
function hostile (r: (n: number) => number, frames: number): Buffer {
  const parts: Buffer[] = []
  for (let i = 0; i < frames; i++) {
    const kind = r(10)
    if (kind === 0) {
      parts.push(randomBytes(r, r(40)))
      continue
    }
    const dataLength = r(4) === 0 ? r(3000) : r(60)
    const length = kind === 1 ? r(9) : kind === 2 ? r(0x1_0000_0000) : 9 + dataLength
    const header = Buffer.alloc(HEADER_SIZE)
    header.writeUInt32BE(length >>> 0, 0)
    header.writeUInt32BE(kind === 3 ? r(0x1_0000_0000) : r(4), 4)
    header.writeUInt32BE(r(0x1_0000_0000), 8)
    header[12] = r(3) === 0 ? r(256) : TYPES[r(TYPES.length)]!
    parts.push(header, randomBytes(r, dataLength))
  }
  return Buffer.concat(parts)
}

void t.test('hostile bytes: never throws, bounded memory, coded errors, parsers never throw', t => {
  let frames = 0
  let errors = 0
  let parseErrors = 0
  let peak = 0
  for (let seed = 1; seed <= 400; seed++) {
    const r = rng(seed)
    const maxFrameSize = 9 + r(4000)
    const input = hostile(r, 40)
    const bad: string[] = []
    const d = new FrameDecoder({
      onFrame: (connId, type, data) => {
        frames++
        if (!Number.isSafeInteger(connId) || connId < 0) bad.push(`id ${connId}`)
        if (data.length + 9 > maxFrameSize) bad.push(`frame of ${data.length} bytes above the limit`)
        const p = parse(connId, type, data)
        if (p instanceof LinkProtocolError) {
          parseErrors++
          if (p.code !== LINK_BAD_FRAME) bad.push(`parser code ${p.code}`)
        }
      },
      onError: (e) => {
        errors++
        if (!(e instanceof LinkProtocolError) || !DECODER_CODES.has(e.code)) bad.push(`decoder code ${String(e.code)}`)
      }
    }, { maxFrameSize })
    let pos = 0
    while (pos < input.length) {
      const n = 1 + r(r(2) === 0 ? 16 : 5000)
      try {
        d.push(input.subarray(pos, pos + n))
      } catch (e) {
        bad.push(`threw ${String(e)}`)
      }
      if (d.buffered > maxFrameSize - 9 + HEADER_SIZE) bad.push(`buffered ${d.buffered}`)
      if (d.retained > maxFrameSize - 9 + HEADER_SIZE) bad.push(`retained ${d.retained}`)
      peak = Math.max(peak, d.buffered)
      pos += n
    }
    if (bad.length > 0) t.fail(`seed ${seed}: ${bad.slice(0, 3).join('; ')}`)
  }
  t.ok(frames > 300, `${frames} frames delivered`)
  t.ok(errors > 500, `${errors} coded decoder errors`)
  t.ok(peak > 1000, `partial frames were held (peak ${peak} bytes), within each run's limit`)
  t.ok(parseErrors > 100, `${parseErrors} bad-frame parse results`)
  t.end()
})

void t.test('pure noise: never throws, bounded memory', t => {
  const r = rng(0xdecade)
  const d = new FrameDecoder({ onFrame: () => {}, onError: () => {} }, { maxFrameSize: 1024 })
  let peak = 0
  for (let i = 0; i < 2000; i++) {
    d.push(randomBytes(r, 1 + r(2000)))
    peak = Math.max(peak, d.buffered)
  }
  t.ok(peak <= 1024 - 9 + HEADER_SIZE, `peak ${peak} bytes held`)
  t.end()
})

void t.test('valid streams split at random points decode exactly', t => {
  for (let seed = 1; seed <= 200; seed++) {
    const r = rng(seed * 7919)
    const want: string[] = []
    const parts: Buffer[] = []
    for (let i = 0; i < 50; i++) {
      const connId = r(3) === 0 ? r(0x20_0000) * 0x1_0000_0000 + r(0x1_0000_0000) : r(1000)
      const type = TYPES[r(TYPES.length)]!
      const n = r(20) === 0 ? 65_536 - r(100) : r(300)
      const data = randomBytes(r, n)
      want.push(`${connId}/${type}/${data.toString('hex')}`)
      parts.push(...encodeFrame(connId, type, data))
    }
    const input = Buffer.concat(parts)
    const got: string[] = []
    const d = new FrameDecoder({
      onFrame: (connId, type, data) => got.push(`${connId}/${type}/${data.toString('hex')}`),
      onError: (e) => got.push(`error ${e.code}`)
    })
    let pos = 0
    while (pos < input.length) {
      const n = 1 + r(r(2) === 0 ? 30 : 70_000)
      d.push(input.subarray(pos, pos + n))
      pos += n
    }
    if (got.length !== want.length || got.some((g, i) => g !== want[i])) t.fail(`seed ${seed}`)
    if (d.buffered !== 0) t.fail(`seed ${seed}: ${d.buffered} bytes left`)
  }
  t.pass('200 streams of 50 frames')
  t.end()
})
