/**
 * XEP-0124 §14.3 response cache: the responses a client may ask for again by repeating a rid
 * (its connection broke before the response reached it), with the §9.1 acknowledgements that
 * let us forget them.
 *
 * Memory: the cache is fields of the session object itself, not an object of its own. Most
 * sessions only ever need the newest response (a polling or hold=1 session repeats at most its
 * last rid), so that one lives in four fields (`cachedRid`, `cachedBody`, `cachedAt`,
 * `cachedKey`) and costs no allocation; older ones go to `olderCached` (oldest first), an array
 * made only when a session keeps more than one.
 *
 *     newest ──▶ cachedRid / cachedBody / cachedAt / cachedKey
 *     older  ──▶ olderCached: [ oldest … second newest ]   (undefined when empty)
 *
 * Invariants: `cachedBody` undefined means nothing is kept (then `olderCached` is undefined
 * too, or holds only what an ack left); every rid in `olderCached` is below `cachedRid`.
 */

/** One kept response, with the key its request carried (§15: a repeat must carry the same). */
export interface Cached {
  rid: number
  body: string
  sentAt: number
  key: string | undefined
}

/** The session's fields this file owns. */
export interface ResponseCache {
  cachedRid: number
  cachedBody: string | undefined
  cachedAt: number
  cachedKey: string | undefined
  olderCached: Cached[] | undefined
}

/**
 * Keeps `body` as the response to `rid`. XEP-0124 §14.3: keep as many responses as requests
 * may be outstanding (`keep`), or with client acks every unacknowledged one, bounded by the
 * caller's `keep` so that a client that never acks cannot grow it.
 */
export function remember (c: ResponseCache, rid: number, body: string, now: number, key: string | undefined, keep: number): void {
  if (c.cachedBody !== undefined && keep > 1) {
    c.olderCached ??= []
    c.olderCached.push({ rid: c.cachedRid, body: c.cachedBody, sentAt: c.cachedAt, key: c.cachedKey })
    while (c.olderCached.length > keep - 1) c.olderCached.shift()
  }
  c.cachedRid = rid
  c.cachedBody = body
  c.cachedAt = now
  c.cachedKey = key
}

/** The response kept for `rid`, or undefined. */
export function cachedFor (c: ResponseCache, rid: number): Cached | undefined {
  if (c.cachedBody !== undefined && c.cachedRid === rid) return { rid, body: c.cachedBody, sentAt: c.cachedAt, key: c.cachedKey }
  return c.olderCached?.find(x => x.rid === rid)
}

/** XEP-0124 §9.1: the client has every response up to `ack`; forget them, oldest first. */
export function dropCachedUpTo (c: ResponseCache, ack: number): void {
  const older = c.olderCached
  if (older !== undefined) {
    while (older.length > 0 && older[0]!.rid <= ack) older.shift()
    if (older.length > 0) return
    c.olderCached = undefined
  }
  if (c.cachedBody !== undefined && c.cachedRid <= ack) {
    c.cachedBody = undefined
    c.cachedKey = undefined
  }
}
