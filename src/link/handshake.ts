/**
 * The handshake's arithmetic (docs/link-protocol.md "Handshake"), without I/O: version choice,
 * and the two HMAC-SHA-256 proofs. Shared with the scripted backend in the tests, which is the
 * other side of the same computation.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { MAC_SIZE } from './codec/index.ts'

const EDGE_LABEL = Buffer.from('megaphone-link-edge', 'ascii')
const BACKEND_LABEL = Buffer.from('megaphone-link-backend', 'ascii')

/** The highest version in both ranges, or -1 when they do not meet (step 2). */
export function chooseVersion (ourMin: number, ourMax: number, theirMin: number, theirMax: number): number {
  const v = Math.min(ourMax, theirMax)
  return v >= Math.max(ourMin, theirMin) ? v : -1
}

/** MACe = HMAC-SHA-256(secret, "megaphone-link-edge" || Nb || Ne) (step 2). */
export function edgeMac (secret: string, nb: Buffer, ne: Buffer): Buffer {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(EDGE_LABEL).update(nb).update(ne).digest()
}

/** MACb = HMAC-SHA-256(secret, "megaphone-link-backend" || Ne || Nb) (step 3). */
export function backendMac (secret: string, ne: Buffer, nb: Buffer): Buffer {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(BACKEND_LABEL).update(ne).update(nb).digest()
}

/** Constant-time comparison of a received MAC with the expected one (steps 3 and 4). */
export function macEqual (received: Buffer, expected: Buffer): boolean {
  // Lengths are public (both 32 by the frame layout); timingSafeEqual throws on a mismatch.
  return received.length === MAC_SIZE && expected.length === MAC_SIZE && timingSafeEqual(received, expected)
}
