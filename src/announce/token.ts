/**
 * The API's bearer token check (RFC 6750 §2.1: `Authorization: Bearer <token>`).
 *
 * Constant time: both sides are hashed to 32 bytes first, so timingSafeEqual compares buffers of
 * equal length whatever was sent, and neither the time nor an early length check tells a caller
 * how much of the token it guessed right, or how long the token is.
 */
import { createHash, timingSafeEqual } from 'node:crypto'

/** RFC 6750 §2.1: the scheme is case-insensitive (RFC 7235 §2.1), one or more spaces, the b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i

function digest (s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest()
}

export class TokenCheck {
  private readonly expected: Buffer

  constructor (token: string) {
    this.expected = digest(token)
  }

  /** True when the Authorization header carries the configured token. */
  accepts (authorization: string | undefined): boolean {
    const m = authorization === undefined ? null : BEARER.exec(authorization)
    // A missing or malformed header is hashed too, so that it takes the time a wrong token takes.
    const given = digest(m?.[1] ?? '')
    return timingSafeEqual(given, this.expected) && m !== null
  }
}
