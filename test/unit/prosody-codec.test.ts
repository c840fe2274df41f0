/**
 * The Prosody module's frame codec (prosody/mod_megaphone/megaphone_codec.lib.lua) against the
 * edge's (src/link/codec), byte for byte: what the edge encodes, the Lua decoder reads back the
 * same, whole, split at every byte and one byte at a time, oversized and undersized frames
 * skipped and reported; what the Lua encoders write is what the edge's encoders write. Runs the
 * Lua file with lua5.4 (installed with Debian's prosody package) outside Prosody.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import {
  encodeAuthOk, encodeClose, encodeData, encodeError, encodeFrame, encodeHeader, encodeHello, encodeOpen, encodePing,
  encodePong, encodeRestart, encodeStatsReply, encodeStatsRequest, encodeStreamStart, DATA, OPEN
} from '../../src/link/codec/index.ts'

const run = promisify(execFile)
const CODEC = resolve(import.meta.dirname, '../../prosody/mod_megaphone/megaphone_codec.lib.lua')
const DRIVER = resolve(import.meta.dirname, '../fixtures/prosody-codec-driver.lua')

const dir = await mkdtemp(join(tmpdir(), 'megaphone-lua-codec-'))
t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })

async function lua (...args: string[]): Promise<string> {
  return (await run('lua5.4', [DRIVER, CODEC, ...args])).stdout
}

void t.test('the Lua decoder reads what the edge writes, however the stream is split', async t => {
  const frames = [
    encodePing(Buffer.from('abcdefgh')),
    encodeStatsRequest(7),
    encodeOpen(3, { transport: 'websocket', to: 'localhost', ip: '203.0.113.7', port: 4242, lang: 'en' }),
    encodeData(3, "<message xmlns='jabber:client' to='b@localhost'><body>héllo</body></message>"),
    encodeRestart(3),
    encodeClose(3, ''),
    // an id above 2^32: the decoder keeps ids as their 8 bytes
    encodeData(2 ** 40 + 5, '<presence/>')
  ]
  // length 3 (below 9): reported and skipped
  const short = Buffer.from([0, 0, 0, 3, 1, 2, 3])
  // length 200 above a maximum of 100: id reported, the rest skipped as it arrives
  const large = Buffer.concat([encodeHeader(9, DATA, 191), Buffer.alloc(191, 0x41)])
  const stream = Buffer.concat([...frames.slice(0, 3), short, frames[3]!, large, ...frames.slice(4), Buffer.concat(encodeFrame(11, OPEN, Buffer.alloc(0)))])
  const file = join(dir, 'stream.bin')
  await writeFile(file, stream)
  const [whole = '', tail = ''] = (await lua('decode', file, '100')).split('--\n')
  const events = whole.trim().split('\n')
  const hex = (b: Buffer): string => b.subarray(13).toString('hex')
  t.same(events, [
    `frame 0 4 ${hex(frames[0]!)}`,
    `frame 0 6 ${hex(frames[1]!)}`,
    `frame 3 16 ${hex(frames[2]!)}`,
    'too_short 3',
    `frame 3 18 ${hex(frames[3]!)}`,
    'too_large 9 200',
    'frame 3 19 ',
    `frame 3 20 ${hex(frames[5]!)}`,
    `frame ${2 ** 40 + 5} 18 ${hex(frames[6]!)}`,
    'frame 11 16' // an OPEN with no data (the last line, trimmed)
  ], 'every frame in order, the short one and the large one reported')
  t.equal(tail.trim(), 'mismatches 0', `the same events at each of ${stream.length - 1} split points and byte by byte`)
})

void t.test('the Lua encoders write what the edge\'s encoders write', async t => {
  const lines = (await lua('encode')).trim().split('\n')
  const want = [
    encodeHello(1, 1, Buffer.alloc(32, 'N')),
    encodeAuthOk(Buffer.alloc(32, 'M')),
    encodePong(Buffer.from('12345678')),
    encodeStatsReply({ requestId: 9, linkSessions: 2, nodeSessions: 3 }),
    encodeStreamStart(7, { id: 'sid-1', from: 'localhost', version: '1.0', lang: 'en' }),
    encodeData(7, "<message xmlns='jabber:client'/>"),
    encodeClose(7, 'conflict'),
    encodeError(7, 10, 'not well-formed')
  ].map(b => b.toString('hex'))
  t.same(lines, want, 'HELLO, AUTH_OK, PONG, STATS_REPLY, STREAM_START, DATA, CLOSE, ERROR bad-xml')
})
