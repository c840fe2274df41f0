/**
 * XEP-0124 §15 key sequences, which protect a session whose sid leaks (no TLS): the client
 * generates K(1)..K(n) with K(i+1) = SHA-1(K(i)), announces K(n) as `newkey` and sends the
 * keys downwards, one per request, so each request's key hashes to the previous one. A third
 * party who saw every request on the wire still cannot produce the next key.
 *
 * What the session keeps: one string, the value the next in-order request's key must hash to
 * (`expected`, undefined while keys are not in use). Held requests keep the key they came with,
 * so that a repeat of their rid (XEP-0124 §14.3, "an exact copy of the original request") must
 * carry the same one; no per-session allocation beyond that.
 */
import { createHash } from 'node:crypto'

export function sha1Hex (s: string): string {
  return createHash('sha1').update(s).digest('hex')
}

/**
 * A key as kept beyond its request: lower-case (§15.4 compares case-insensitively) and a flat
 * copy, not a slice that would keep the whole request body alive.
 */
export function keepKey (key: string | undefined): string | undefined {
  return key === undefined ? undefined : Buffer.from(key.toLowerCase(), 'latin1').toString('latin1')
}

/**
 * XEP-0124 §15.4: the key of the next in-order request. `expected` is what it must hash to;
 * returns the value the following request's key must hash to (undefined: no sequence in use),
 * or false when the key is wrong or missing (the caller ends the session with item-not-found).
 * With no key sequence in use (`expected` undefined), a `newkey` starts one.
 */
export function nextExpected (expected: string | undefined, key: string | undefined, newkey: string | undefined): string | undefined | false {
  if (expected === undefined) return newkey === undefined ? undefined : keepKey(newkey)
  if (key === undefined || sha1Hex(key.toLowerCase()) !== expected) return false
  // §15.5: a newkey switches to a new sequence; without one, this key is the next target.
  return keepKey(newkey ?? key)
}

/**
 * XEP-0124 §14.3 with §15: a repeated request is an exact copy of the original, so it carries
 * the original's key (`kept`, as `keepKey` made it; undefined when it had none).
 */
export function sameKey (kept: string | undefined, key: string | undefined): boolean {
  if (kept === undefined) return key === undefined
  return key !== undefined && key.toLowerCase() === kept
}

/**
 * The key that request `lastRid - back` carried, derived from `expected` (the key of request
 * `lastRid` when it switched to no new sequence): each earlier key is the SHA-1 of the next one.
 * Used for a repeated rid whose original is no longer held (its connection closed). `back` is
 * bounded by the caller (the requests window), so this is a few hashes at most.
 */
export function earlierKey (expected: string, back: number): string {
  let k = expected
  for (let i = 0; i < back; i++) k = sha1Hex(k)
  return k
}
