/**
 * Byte fixtures for every frame type of docs/link-protocol.md, version 1. Each fixture is written
 * out in hex (header | data) so that it doubles as documentation of the layout; each is checked
 * against its encoder, decoded whole, split at every byte boundary, and one byte at a time.
 */
import t from 'tap'
import {
  FrameDecoder, encodeHello, encodeAuth, encodeAuthOk, encodePing, encodePong, encodeStatsRequest,
  encodeStatsReply, encodeOpen, encodeStreamStart, encodeData, encodeRestart, encodeClose, encodeError,
  encodeFrame, encodeHeader, parseHello, parseAuth, parseAuthOk, parsePing, parseStatsRequest, parseStatsReply,
  parseOpen, parseStreamStart, parseData, parseClose, parseError, LinkProtocolError,
  HELLO, AUTH, AUTH_OK, PING, PONG, STATS_REQUEST, STATS_REPLY, OPEN, STREAM_START, DATA, RESTART, CLOSE, ERROR,
  LINK_FRAME_TOO_LARGE, LINK_FRAME_TOO_SHORT, LINK_UNKNOWN_TYPE, LINK_CONN_ID_RANGE, LINK_BAD_FRAME,
  LINK_FIELD_TOO_LONG, PROTOCOL_ERRORS, type FrameHandler, type FrameType
} from '../../src/link/codec/index.ts'
import { isMegaphoneError } from '../../src/errors.ts'

/** Hex with spaces and `|` for readability. */
function hex (s: string): Buffer {
  return Buffer.from(s.replace(/[\s|]/g, ''), 'hex')
}

function seq (from: number, n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (from + i) & 0xff))
}

interface Got { connId: number, type: number, data: string }

class Collector implements FrameHandler {
  frames: Got[] = []
  /** bytes the decoder still held after the last chunk */
  leftover = 0
  errors: LinkProtocolError[] = []
  onFrame (connId: number, type: FrameType, data: Buffer): void {
    this.frames.push({ connId, type, data: data.toString('hex') })
  }

  onError (error: LinkProtocolError): void {
    this.errors.push(error)
  }
}

function decode (chunks: Buffer[], maxFrameSize?: number): Collector {
  const c = new Collector()
  const d = new FrameDecoder(c, maxFrameSize === undefined ? {} : { maxFrameSize })
  for (const chunk of chunks) d.push(chunk)
  c.leftover = d.buffered
  return c
}

interface Fixture {
  name: string
  bytes: Buffer
  encoded: Buffer
  connId: number
  type: number
  parsed: () => unknown
  expected: unknown
}

const nb = seq(0x00, 32)
const ne = seq(0x20, 32)
const mace = seq(0x40, 32)
const macb = seq(0xa0, 32)
const ping = hex('0102030405060708')
const MAX_ID = 2 ** 53 - 1

const data = (f: Buffer): Buffer => f.subarray(13)

const fixtures: Fixture[] = [
  {
    name: 'HELLO versions 1..1, Nb = 00..1f',
    //          length | connection id     | type | min  max  | Nb
    bytes: hex('0000002d | 0000000000000000 | 01 | 0001 0001 | 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'),
    encoded: encodeHello(1, 1, nb),
    connId: 0,
    type: HELLO,
    parsed: () => parseHello(data(fixtures[0]!.bytes)),
    expected: { minVersion: 1, maxVersion: 1, nonce: nb }
  },
  {
    name: 'AUTH version 1, Ne = 20..3f, MACe = 40..5f',
    //          length | connection id     | type | ver  | Ne | MACe
    bytes: hex('0000004b | 0000000000000000 | 02 | 0001 | 202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f' +
      '404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f'),
    encoded: encodeAuth(1, ne, mace),
    connId: 0,
    type: AUTH,
    parsed: () => parseAuth(data(fixtures[1]!.bytes)),
    expected: { version: 1, nonce: ne, mac: mace }
  },
  {
    name: 'AUTH_OK, MACb = a0..bf',
    //          length | connection id     | type | MACb
    bytes: hex('00000029 | 0000000000000000 | 03 | a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf'),
    encoded: encodeAuthOk(macb),
    connId: 0,
    type: AUTH_OK,
    parsed: () => parseAuthOk(data(fixtures[2]!.bytes)),
    expected: macb
  },
  {
    name: 'PING',
    //          length | connection id     | type | 8 opaque bytes
    bytes: hex('00000011 | 0000000000000000 | 04 | 0102030405060708'),
    encoded: encodePing(ping),
    connId: 0,
    type: PING,
    parsed: () => parsePing(data(fixtures[3]!.bytes)),
    expected: ping
  },
  {
    name: 'PONG',
    bytes: hex('00000011 | 0000000000000000 | 05 | 0102030405060708'),
    encoded: encodePong(ping),
    connId: 0,
    type: PONG,
    parsed: () => parsePing(data(fixtures[4]!.bytes)),
    expected: ping
  },
  {
    name: 'STATS_REQUEST id 7',
    //          length | connection id     | type | request id
    bytes: hex('0000000d | 0000000000000000 | 06 | 00000007'),
    encoded: encodeStatsRequest(7),
    connId: 0,
    type: STATS_REQUEST,
    parsed: () => parseStatsRequest(data(fixtures[5]!.bytes)),
    expected: 7
  },
  {
    name: 'STATS_REPLY id 7, 3 on the link, 1000 on the node',
    //          length | connection id     | type | req id   | link     | node
    bytes: hex('00000015 | 0000000000000000 | 07 | 00000007 | 00000003 | 000003e8'),
    encoded: encodeStatsReply({ requestId: 7, linkSessions: 3, nodeSessions: 1000 }),
    connId: 0,
    type: STATS_REPLY,
    parsed: () => parseStatsReply(data(fixtures[6]!.bytes)),
    expected: { requestId: 7, linkSessions: 3, nodeSessions: 1000 }
  },
  {
    name: 'OPEN id 1, BOSH, to example.com, from 203.0.113.5:51234, lang en',
    //          length | connection id     | type | tr | to: len "example.com"      | ip: len "203.0.113.5"     | port | lang: len "en"
    bytes: hex('0000002a | 0000000000000001 | 10 | 00 | 000b 6578616d706c652e636f6d | 000b 3230332e302e3131332e35 | c822 | 0002 656e'),
    encoded: encodeOpen(1, { transport: 'bosh', to: 'example.com', ip: '203.0.113.5', port: 51234, lang: 'en' }),
    connId: 1,
    type: OPEN,
    parsed: () => parseOpen(1, data(fixtures[7]!.bytes)),
    expected: { transport: 'bosh', to: 'example.com', ip: '203.0.113.5', port: 51234, lang: 'en' }
  },
  {
    name: 'OPEN id 2^53-1, WebSocket, from [2001:db8::1]:443, no lang',
    //          length | connection id     | type | tr | to: len "example.com"      | ip: len "2001:db8::1"     | port | lang
    bytes: hex('00000028 | 001fffffffffffff | 10 | 01 | 000b 6578616d706c652e636f6d | 000b 323030313a6462383a3a31 | 01bb | 0000'),
    encoded: encodeOpen(MAX_ID, { transport: 'websocket', to: 'example.com', ip: '2001:db8::1', port: 443, lang: '' }),
    connId: MAX_ID,
    type: OPEN,
    parsed: () => parseOpen(MAX_ID, data(fixtures[8]!.bytes)),
    expected: { transport: 'websocket', to: 'example.com', ip: '2001:db8::1', port: 443, lang: '' }
  },
  {
    name: 'STREAM_START id 1: stream id abc123, from example.com, version 1.0, lang en',
    //          length | connection id     | type | len "abc123"    | len "example.com"          | len "1.0"   | len "en"
    bytes: hex('00000027 | 0000000000000001 | 11 | 0006 616263313233 | 000b 6578616d706c652e636f6d | 0003 312e30 | 0002 656e'),
    encoded: encodeStreamStart(1, { id: 'abc123', from: 'example.com', version: '1.0', lang: 'en' }),
    connId: 1,
    type: STREAM_START,
    parsed: () => parseStreamStart(1, data(fixtures[9]!.bytes)),
    expected: { id: 'abc123', from: 'example.com', version: '1.0', lang: 'en' }
  },
  {
    name: 'DATA id 1: <presence/>',
    //          length | connection id     | type | "<presence/>"
    bytes: hex('00000014 | 0000000000000001 | 12 | 3c70726573656e63652f3e'),
    encoded: encodeData(1, '<presence/>'),
    connId: 1,
    type: DATA,
    parsed: () => parseData(1, data(fixtures[10]!.bytes)),
    expected: '<presence/>'
  },
  {
    name: 'DATA id 2^32+2: <a>é</a> (UTF-8, header and payload written apart)',
    //          length | connection id     | type | "<a>" c3a9 "</a>"
    bytes: hex('00000012 | 0000000100000002 | 12 | 3c613e c3a9 3c2f613e'),
    encoded: Buffer.concat(encodeFrame(2 ** 32 + 2, DATA, Buffer.from('<a>é</a>'))),
    connId: 2 ** 32 + 2,
    type: DATA,
    parsed: () => parseData(2 ** 32 + 2, data(fixtures[11]!.bytes)),
    expected: '<a>é</a>'
  },
  {
    name: 'RESTART id 1 (no data)',
    //          length | connection id     | type
    bytes: hex('00000009 | 0000000000000001 | 13'),
    encoded: encodeRestart(1),
    connId: 1,
    type: RESTART,
    parsed: () => data(fixtures[12]!.bytes).length,
    expected: 0
  },
  {
    name: 'CLOSE id 1, condition conflict, no text',
    //          length | connection id     | type | len "conflict"
    bytes: hex('00000013 | 0000000000000001 | 14 | 0008 636f6e666c696374'),
    encoded: encodeClose(1, 'conflict'),
    connId: 1,
    type: CLOSE,
    parsed: () => parseClose(1, data(fixtures[13]!.bytes)),
    expected: { condition: 'conflict', text: '' }
  },
  {
    name: 'CLOSE id 1, normal end, text "bye"',
    //          length | connection id     | type | len "" | "bye"
    bytes: hex('0000000e | 0000000000000001 | 14 | 0000 | 627965'),
    encoded: encodeClose(1, '', 'bye'),
    connId: 1,
    type: CLOSE,
    parsed: () => parseClose(1, data(fixtures[14]!.bytes)),
    expected: { condition: '', text: 'bye' }
  },
  {
    name: 'ERROR id 1, code 6 unknown-type, text "type 0x7f"',
    //          length | connection id     | type | code | "type 0x7f"
    bytes: hex('00000014 | 0000000000000001 | 20 | 0006 | 7479706520307837 66'),
    encoded: encodeError(1, PROTOCOL_ERRORS['unknown-type'], 'type 0x7f'),
    connId: 1,
    type: ERROR,
    parsed: () => parseError(1, data(fixtures[15]!.bytes)),
    expected: { code: 6, name: 'unknown-type', text: 'type 0x7f' }
  },
  {
    name: 'ERROR id 0, code 1 auth-failed, no text',
    bytes: hex('0000000b | 0000000000000000 | 20 | 0001'),
    encoded: encodeError(0, PROTOCOL_ERRORS['auth-failed'], ''),
    connId: 0,
    type: ERROR,
    parsed: () => parseError(0, data(fixtures[16]!.bytes)),
    expected: { code: 1, name: 'auth-failed', text: '' }
  }
]

void t.test('every frame type has a fixture', t => {
  const types = new Set(fixtures.map(f => f.type))
  for (const type of [HELLO, AUTH, AUTH_OK, PING, PONG, STATS_REQUEST, STATS_REPLY, OPEN, STREAM_START, DATA, RESTART, CLOSE, ERROR]) {
    t.ok(types.has(type), `type 0x${type.toString(16)}`)
  }
  t.end()
})

for (const f of fixtures) {
  void t.test(f.name, t => {
    t.equal(f.encoded.toString('hex'), f.bytes.toString('hex'), 'encoder writes the fixture')
    t.equal(f.bytes.readUInt32BE(0), f.bytes.length - 4, 'length counts every byte after itself')
    t.same(f.parsed(), f.expected, 'parser reads the fields')
    const want = [{ connId: f.connId, type: f.type, data: data(f.bytes).toString('hex') }]
    t.same(decode([f.bytes]).frames, want, 'decoded whole')
    for (let i = 1; i < f.bytes.length; i++) {
      const c = decode([f.bytes.subarray(0, i), f.bytes.subarray(i)])
      if (c.frames.length !== 1 || c.frames[0]!.data !== want[0]!.data || c.errors.length > 0 || c.leftover !== 0) {
        t.fail(`split at byte ${i}`)
      }
    }
    t.same(decode([...f.bytes].map(b => Buffer.from([b]))).frames, want, 'one byte at a time')
    t.end()
  })
}

void t.test('all fixtures in one chunk, and that chunk split at every boundary', t => {
  const all = Buffer.concat(fixtures.map(f => f.bytes))
  const want = fixtures.map(f => ({ connId: f.connId, type: f.type, data: data(f.bytes).toString('hex') }))
  t.same(decode([all]).frames, want, 'one chunk')
  let ok = 0
  for (let i = 0; i <= all.length; i++) {
    for (const j of [i + 1, i + 13, i + 57]) {
      if (j > all.length) continue
      const c = decode([all.subarray(0, i), all.subarray(i, j), all.subarray(j)])
      if (JSON.stringify(c.frames) === JSON.stringify(want) && c.errors.length === 0 && c.leftover === 0) ok++
      else t.fail(`split at ${i} and ${j}`)
    }
  }
  t.ok(ok > all.length, `${ok} three-way splits decoded`)
  t.end()
})

void t.test('a whole frame in one chunk is delivered as a view, not a copy', t => {
  const chunk = Buffer.concat([fixtures[10]!.bytes, fixtures[10]!.bytes])
  const views: Buffer[] = []
  const d = new FrameDecoder({ onFrame: (_id, _type, data) => views.push(data), onError: () => t.fail('no error') })
  d.push(chunk)
  t.equal(views.length, 2)
  t.equal(views[0]!.buffer, chunk.buffer, 'shares the chunk memory')
  t.equal(views[0]!.byteOffset, chunk.byteOffset + 13)
  t.equal(views[1]!.byteOffset, chunk.byteOffset + fixtures[10]!.bytes.length + 13)
  t.end()
})

void t.test('frame-too-short: length below 9 is skipped, the link carries on', t => {
  for (const length of [0, 1, 8]) {
    const short = Buffer.concat([hex('000000' + length.toString(16).padStart(2, '0')), seq(0xee, length)])
    const bytes = Buffer.concat([short, fixtures[3]!.bytes])
    for (let i = 0; i <= bytes.length; i++) {
      const c = decode([bytes.subarray(0, i), bytes.subarray(i)])
      t.equal(c.errors.length, 1)
      t.equal(c.errors[0]!.code, LINK_FRAME_TOO_SHORT)
      t.equal(c.errors[0]!.protocolError, 'frame-too-short')
      t.equal(c.errors[0]!.protocolCode, 5)
      t.same(c.frames.map(f => f.type), [PING], `length ${length} split at ${i}: the PING after it arrives`)
    }
  }
  t.end()
})

void t.test('frame-too-large: skipped without buffering, reported with its connection id', t => {
  //                  length (9 + 100) | connection id     | type | 100 bytes of data
  const big = Buffer.concat([hex('0000006d | 0000000000000005 | 12'), Buffer.alloc(100, 0x41)])
  const bytes = Buffer.concat([big, fixtures[10]!.bytes])
  const c = new Collector()
  const d = new FrameDecoder(c, { maxFrameSize: 64 })
  let peak = 0
  for (const b of bytes) {
    d.push(Buffer.from([b]))
    peak = Math.max(peak, d.buffered)
  }
  t.ok(peak <= 13, `at most a header buffered (peak ${peak})`)
  t.equal(c.errors.length, 1)
  t.equal(c.errors[0]!.code, LINK_FRAME_TOO_LARGE)
  t.equal(c.errors[0]!.protocolError, 'frame-too-large')
  t.equal(c.errors[0]!.protocolCode, 4)
  t.equal(c.errors[0]!.connId, 5)
  t.same(c.frames.map(f => f.connId), [1], 'the next frame is decoded')
  t.same(decode([bytes], 64).frames.length, 1, 'whole chunk too')
  t.equal(decode([big], 109).frames.length, 1, 'a frame of exactly maxFrameSize passes')
  t.end()
})

void t.test('the default maximum is 65,536 bytes of data', t => {
  const ok = Buffer.concat(encodeFrame(1, DATA, Buffer.alloc(65_536, 0x61)))
  const over = Buffer.concat(encodeFrame(1, DATA, Buffer.alloc(65_537, 0x61)))
  const c = decode([ok, over, ok])
  t.equal(c.frames.length, 2)
  t.same(c.errors.map(e => e.code), [LINK_FRAME_TOO_LARGE])
  t.end()
})

void t.test('unknown-type: skipped, reported with its connection id', t => {
  //          length | connection id     | type | data
  const bytes = Buffer.concat([hex('0000000c | 0000000000000009 | 7f | aabbcc'), fixtures[12]!.bytes])
  for (let i = 0; i <= bytes.length; i++) {
    const c = decode([bytes.subarray(0, i), bytes.subarray(i)])
    t.same(c.errors.map(e => [e.code, e.protocolError, e.connId]), [[LINK_UNKNOWN_TYPE, 'unknown-type', 9]])
    t.same(c.frames.map(f => f.type), [RESTART])
  }
  t.same(decode([hex('00000009 0000000000000009 00')]).errors.map(e => e.code), [LINK_UNKNOWN_TYPE], 'type 0, no data')
  t.end()
})

void t.test('connection ids of 2^53 and above are errors, not rounded numbers', t => {
  //          length | connection id (2^53) | type | data
  const bytes = Buffer.concat([hex('0000000b | 0020000000000000 | 12 | 3c3e'), hex('0000000b | ffffffffffffffff | 13 | 0000'), fixtures[12]!.bytes])
  const c = decode([bytes])
  t.same(c.errors.map(e => [e.code, e.connId]), [[LINK_CONN_ID_RANGE, -1], [LINK_CONN_ID_RANGE, -1]])
  t.same(c.frames.map(f => f.connId), [1])
  t.end()
})

void t.test('stop() ends delivery in the middle of a chunk', t => {
  const frames: number[] = []
  const d: FrameDecoder = new FrameDecoder({
    onFrame: (id) => { frames.push(id); if (frames.length === 2) d.stop() },
    onError: () => t.fail('no error')
  })
  d.push(Buffer.concat([fixtures[10]!.bytes, fixtures[12]!.bytes, fixtures[13]!.bytes]))
  d.push(fixtures[10]!.bytes)
  t.equal(frames.length, 2)
  t.end()
})

void t.test('parsers: bad-frame for data that does not match the layout', t => {
  const bad: Array<[string, unknown]> = [
    ['HELLO short', parseHello(hex('0001 0001 00'))],
    ['HELLO min > max', parseHello(Buffer.concat([hex('0002 0001'), nb]))],
    ['AUTH short', parseAuth(hex('0001'))],
    ['AUTH_OK short', parseAuthOk(seq(0, 31))],
    ['PING short', parsePing(hex('01020304'))],
    ['STATS_REQUEST short', parseStatsRequest(hex('0000'))],
    ['STATS_REPLY short', parseStatsReply(hex('00000007 00000003'))],
    ['OPEN str16 overruns', parseOpen(3, hex('00 00ff 6162'))],
    ['OPEN transport 2', parseOpen(3, hex('02 0000 0007 312e322e332e34 0000 0000'))],
    ['OPEN bad ip', parseOpen(3, hex('00 0000 0003 312e32 0000 0000'))],
    ['OPEN missing lang', parseOpen(3, hex('00 0000 0007 312e322e332e34 0000'))],
    ['STREAM_START bad UTF-8', parseStreamStart(3, hex('0002 c328 0000 0000 0000'))],
    ['DATA bad UTF-8', parseData(3, hex('3c ff 3e'))],
    ['DATA overlong UTF-8', parseData(3, hex('c0af'))],
    ['CLOSE empty', parseClose(3, hex(''))],
    ['CLOSE text bad UTF-8', parseClose(3, hex('0000 ed a0 80'))],
    ['ERROR short', parseError(3, hex('00'))]
  ]
  for (const [name, r] of bad) {
    t.ok(r instanceof LinkProtocolError, name)
    if (r instanceof LinkProtocolError) {
      t.equal(r.code, LINK_BAD_FRAME, `${name}: code`)
      t.equal(r.protocolError, 'bad-frame', `${name}: protocol name`)
      t.equal(r.protocolCode, 7)
    }
  }
  t.same(parseError(0, hex('03e7 78')), { code: 999, name: 'unknown', text: 'x' }, 'an undefined ERROR code is kept, named unknown')
  t.same(parseStatsRequest(hex('00000001 ffff')), 1, 'trailing bytes after the defined fields are ignored')
  t.end()
})

void t.test('encoders refuse what cannot be represented', t => {
  const codeOf = (fn: () => unknown): string | undefined => {
    try {
      fn()
      return undefined
    } catch (e) {
      return isMegaphoneError(e) ? e.code : 'not a MegaphoneError'
    }
  }
  t.equal(codeOf(() => encodeOpen(1, { transport: 'bosh', to: 'x'.repeat(65_536), ip: '::1', port: 1, lang: '' })), LINK_FIELD_TOO_LONG)
  t.doesNotThrow(() => encodeOpen(1, { transport: 'bosh', to: 'x'.repeat(65_535), ip: '::1', port: 1, lang: '' }))
  t.equal(codeOf(() => encodeHello(1, 1, seq(0, 31))), LINK_BAD_FRAME)
  t.equal(encodeHeader(2 ** 40 + 5, DATA, 0).toString('hex'), '00000009' + '0000010000000005' + '12')
  t.end()
})
