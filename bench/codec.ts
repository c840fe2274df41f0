/**
 * Link codec benchmark: encode + decode throughput, against `Buffer.copy` of the same bytes into
 * a preallocated buffer (the cost floor of moving them once), measured in the same run.
 *
 * - 200-byte payloads: frames/s. Encoding writes each frame's 13-byte header (the payload is
 *   never copied, as on the real write path); decoding reads a stream of those frames as a
 *   socket delivers it, in 64 KiB chunks, so a few frames per chunk span two chunks.
 * - 64 KiB payloads: MB/s of frame bytes. Every frame spans two 64 KiB chunks, so the decoder
 *   assembles it with one copy: this is the decoder's worst case.
 *
 * Targets (per core): ≥ 2,000,000 frames/s at 200 bytes; ≥ 50% of the copy bandwidth at 64 KiB.
 */
import { fmtRate, machineLine, measure, ratio } from './lib/report.ts'
import { DATA, FrameDecoder, encodeFrame, type FrameHandler } from '../src/link/codec/index.ts'

console.log(machineLine())

const CHUNK = 64 * 1024

/** A stream of `count` DATA frames carrying `payload`, and that stream cut into socket-sized chunks. */
function stream (payload: Buffer, count: number): { bytes: Buffer, chunks: Buffer[] } {
  const parts: Buffer[] = []
  for (let i = 0; i < count; i++) parts.push(...encodeFrame(1 + i, DATA, payload))
  const bytes = Buffer.concat(parts)
  const chunks: Buffer[] = []
  for (let pos = 0; pos < bytes.length; pos += CHUNK) chunks.push(bytes.subarray(pos, pos + CHUNK))
  return { bytes, chunks }
}

class Counter implements FrameHandler {
  frames = 0
  bytes = 0
  onFrame (_connId: number, _type: number, data: Buffer): void {
    this.frames++
    this.bytes += data.length
  }

  onError (): void {
    throw new Error('benchmark stream must be valid')
  }
}

function run (label: string, payloadSize: number, count: number): void {
  const payload = Buffer.alloc(payloadSize, 0x61)
  const { bytes, chunks } = stream(payload, count)
  const target = Buffer.allocUnsafe(bytes.length)
  const sink = new Counter()
  const decoder = new FrameDecoder(sink)
  let keep = 0

  const encode = (): void => {
    for (let i = 0; i < count; i++) keep ^= encodeFrame(1 + i, DATA, payload)[0][3]!
  }
  const decode = (): void => {
    for (const chunk of chunks) decoder.push(chunk)
  }
  const both = (): void => {
    encode()
    decode()
  }
  const copy = (): void => {
    // The same bytes, in the same chunks, copied once into place.
    let pos = 0
    for (const chunk of chunks) pos += chunk.copy(target, pos)
  }

  const mEncode = measure(encode, count)
  const mDecode = measure(decode, count)
  const mBoth = measure(both, count)
  const mCopy = measure(copy, count)
  if (sink.frames === 0 || keep < 0) throw new Error('nothing decoded')

  const frameBytes = bytes.length / count
  const mb = (framesPerSec: number): string => `${((framesPerSec * frameBytes) / 2 ** 20).toFixed(0)} MB/s`
  console.log(`\n${label}: ${count} frames of ${payloadSize} B payload (${frameBytes} B on the wire), ${chunks.length} chunks of ≤ 64 KiB`)
  console.log(`  encode           ${fmtRate(mEncode.median)} frames/s  ${mb(mEncode.median)}`)
  console.log(`  decode           ${fmtRate(mDecode.median)} frames/s  ${mb(mDecode.median)}`)
  console.log(`  encode+decode    ${fmtRate(mBoth.median)} frames/s  ${mb(mBoth.median)}`)
  console.log(`  baseline copy    ${fmtRate(mCopy.median)} frames/s  ${mb(mCopy.median)}  (Buffer.copy of the same bytes)`)
  console.log(`  ratio encode+decode / copy: ${ratio(mBoth.median, mCopy.median)}; decode / copy: ${ratio(mDecode.median, mCopy.median)}`)
}

run('small', 200, 10_000)
run('large', 64 * 1024, 64)
