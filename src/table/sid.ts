/**
 * BOSH session ids. XEP-0124 §7.5 asks for a sid that is unique and unpredictable, and since it
 * is the only credential a BOSH request carries until the stream is authenticated (and the only
 * one afterwards: §14 "hijacking"), we make it 128 random bits from the OS CSPRNG:
 *
 *     sid = 32 lowercase hex digits = 4 big-endian 32-bit words
 *
 *     "3f9a0c1e 7b22d4a0 | 91c4e8f2 05aa6d13"
 *      keyHi    keyLo    | ver0     ver1
 *      `-- table key ---'  `-- verifier --'
 *
 * The first 64 bits are the session table's key (./session-table.ts); the last 64 are stored in
 * the row and compared without early exit by `SessionTable.find`. Guessing a live sid thus takes
 * both a live 64-bit key (1M sessions: 2^-44 per try) and then its 64-bit verifier (2^-64), and
 * the timing of the key lookup gives away nothing about the verifier.
 *
 * Hex rather than base64url: 32 characters instead of 22, but one canonical spelling per value
 * (lowercase only), a decoder that is one table load per character, and no padding-bit rules to
 * get wrong. The string is built once per session (the session creation response); parsing,
 * done on every request, allocates nothing.
 *
 * Randomness is drawn `poolSids` sids at a time (default 1024 → one 16 KiB randomFillSync call
 * per 1024 sessions instead of a crypto call per session); words are zeroed as they are handed
 * out so the pool never holds an issued sid.
 */
import { randomFillSync } from 'node:crypto'
import { MegaphoneError } from '../errors.ts'

export const SID_WORDS = 4
export const SID_LENGTH = SID_WORDS * 8
const DEFAULT_POOL_SIDS = 1024

/**
 * The value of every UTF-16 code unit as a lowercase hex digit, or -1: one spelling per sid.
 * 64 KiB so that decoding a character is one load with no range test (`charCodeAt` is below
 * 2^16); only the two cache lines holding '0'-'9' and 'a'-'f' are read for a well-formed sid.
 */
const HEX_VALUE = new Int8Array(0x10000).fill(-1)
for (let d = 0; d < 10; d++) HEX_VALUE[0x30 + d] = d
for (let d = 0; d < 6; d++) HEX_VALUE[0x61 + d] = 10 + d

const HEX_DIGIT = new Uint8Array(16)
for (let d = 0; d < 16; d++) HEX_DIGIT[d] = d.toString(16).charCodeAt(0)
/** Scratch for formatSid: decoding latin1 from a buffer gives one flat string, not a rope. */
const FORMAT_BUFFER = Buffer.alloc(SID_LENGTH)

export interface SessionIdsOptions {
  /** Sids drawn per call into the CSPRNG. Default 1024. */
  poolSids?: number
}

export class SessionIds {
  private readonly pool: Uint32Array
  private next: number

  constructor ({ poolSids = DEFAULT_POOL_SIDS }: SessionIdsOptions = {}) {
    if (!Number.isInteger(poolSids) || poolSids < 1) {
      throw new MegaphoneError('SESSION_TABLE_OPTIONS', `poolSids must be a positive integer, got ${poolSids}`)
    }
    this.pool = new Uint32Array(poolSids * SID_WORDS)
    this.next = this.pool.length
  }

  /** Writes a fresh random sid (4 words) into out[0..3]. Allocates nothing. */
  generate (out: Uint32Array): void {
    if (this.next === this.pool.length) {
      randomFillSync(this.pool)
      this.next = 0
    }
    const p = this.pool
    const n = this.next
    out[0] = p[n]!
    out[1] = p[n + 1]!
    out[2] = p[n + 2]!
    out[3] = p[n + 3]!
    p.fill(0, n, n + SID_WORDS)
    this.next = n + SID_WORDS
  }
}

/** The sid string for words[0..3]: one flat 32-byte string (built once per session). */
export function formatSid (words: Uint32Array): string {
  const buf = FORMAT_BUFFER
  for (let k = 0; k < SID_WORDS; k++) {
    const w = words[k]!
    for (let d = 0; d < 8; d++) buf[k * 8 + d] = HEX_DIGIT[(w >>> (28 - 4 * d)) & 0xf]!
  }
  return buf.toString('latin1', 0, SID_LENGTH)
}

/**
 * Decodes a sid into out[0..3] (keyHi, keyLo, ver0, ver1) and returns true, or returns false,
 * leaving `out` in an unspecified state, for anything but exactly 32 lowercase hex digits.
 * Allocates nothing. Takes `unknown` because it sits on the request boundary.
 */
export function parseSid (sid: unknown, out: Uint32Array): boolean {
  if (typeof sid !== 'string' || sid.length !== SID_LENGTH) return false
  return parseSidWords(sid, 0, SID_WORDS, out)
}

/**
 * Decodes `count` 8-digit groups of a 32-character string, from group `first`, into
 * out[first..first+count-1]; false if any of those characters is not a lowercase hex digit
 * (the words are then unspecified). The caller has checked the length. Split from `parseSid`
 * so `SessionRegistry.find` can start the table lookup on the key before decoding the verifier.
 */
export function parseSidWords (sid: string, first: number, count: number, out: Uint32Array): boolean {
  const hex = HEX_VALUE
  let bad = 0
  for (let k = first, end = first + count; k < end; k++) {
    const c = k * 8
    // Unrolled: eight loads, one OR for validity (-1 sets the sign bit), one word.
    const d0 = hex[sid.charCodeAt(c)]!
    const d1 = hex[sid.charCodeAt(c + 1)]!
    const d2 = hex[sid.charCodeAt(c + 2)]!
    const d3 = hex[sid.charCodeAt(c + 3)]!
    const d4 = hex[sid.charCodeAt(c + 4)]!
    const d5 = hex[sid.charCodeAt(c + 5)]!
    const d6 = hex[sid.charCodeAt(c + 6)]!
    const d7 = hex[sid.charCodeAt(c + 7)]!
    bad |= d0 | d1 | d2 | d3 | d4 | d5 | d6 | d7
    out[k] = (d0 << 28) | (d1 << 24) | (d2 << 20) | (d3 << 16) | (d4 << 12) | (d5 << 8) | (d6 << 4) | d7
  }
  return bad >= 0
}
