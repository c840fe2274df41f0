/**
 * The requests window of a BOSH session (XEP-0124 §14): which rids have been received, the
 * requests held for the server's payloads (§8), and the requests that arrived ahead of a gap
 * in the rids (§14.2).
 *
 *   rid:  … lastAnswered … │ held (unanswered, oldest first) │ lastRid │ gap │ ahead │ …
 *                           └─────────── received ────────────┘         └ waiting ┘
 *
 * Memory: like the response cache, these are fields of the session object (no object of their
 * own); `held` and `ahead` exist only while they hold something, so an idle session keeps one
 * number (`lastRid`) and two undefined slots here.
 *
 * Invariants: `held` is sorted by rid and every rid in it is ≤ `lastRid`; every rid in `ahead`
 * is > `lastRid` + 1 and within the window; a request's reply is in at most one place, and
 * while it is, its `holder` is the session (src/bosh/responder.ts).
 */
import type { Responder } from './responder.ts'
import type { BoshRequest } from './request.ts'

/** A request held for the server's payloads (XEP-0124 §8). */
export interface Held {
  rid: number
  reply: Responder
  /** when it arrived, for the `wait` deadline */
  arrived: number
  /** how often the client repeated its rid while held (§14.3 `maxRidRepeats`) */
  repeats: number
  /** a pause request (§10): its response is not kept for repeats (§14.3) */
  pause: boolean
  /** §15: the key it carried (kept form, see keys.ts), which a repeat must carry too */
  key: string | undefined
  /**
   * XEP-0206 §5: a restart request waiting for the server's new features, until this time
   * (0: not waiting). Its response carries them; it is not answered early.
   */
  featuresBy: number
}

/** A request that arrived ahead of a gap in the rids (§14.2), processed when the gap fills. */
export interface Waiting {
  req: BoshRequest
  /** undefined once its HTTP connection closed: its payloads still go, in rid order */
  reply: Responder | undefined
  repeats: number
}

/** The session's fields this file owns. */
export interface RidWindow {
  /** XEP-0124 §14.2: every rid up to this one has been received and processed */
  lastRid: number
  /** oldest (lowest rid) first; undefined when none */
  held: Held[] | undefined
  /** by rid; undefined when none */
  ahead: Map<number, Waiting> | undefined
}

/**
 * XEP-0124 §11, §14: how far ahead of the last in-order rid a request may be: 'requests'
 * requests may be outstanding, one more for a pause or a terminate.
 */
export function withinWindow (w: RidWindow, rid: number, requests: number, special: boolean): boolean {
  return rid <= w.lastRid + requests + (special ? 1 : 0)
}

export function heldCount (w: RidWindow): number {
  return w.held?.length ?? 0
}

/** Holds `h`, keeping the list in rid order (a repeat can bring back a lower rid). */
export function hold (w: RidWindow, h: Held): void {
  const q = w.held
  if (q === undefined) { w.held = [h]; return }
  let i = q.length
  while (i > 0 && q[i - 1]!.rid > h.rid) i--
  q.splice(i, 0, h)
}

/** Takes `h` out of the held list (which goes when it empties). */
export function unhold (w: RidWindow, h: Held): void {
  const q = w.held
  if (q === undefined) return
  const i = q.indexOf(h)
  if (i < 0) return
  q.splice(i, 1)
  if (q.length === 0) w.held = undefined
}

export function heldWithRid (w: RidWindow, rid: number): Held | undefined {
  return w.held?.find(h => h.rid === rid)
}

export function heldWithReply (w: RidWindow, reply: Responder): Held | undefined {
  return w.held?.find(h => h.reply === reply)
}

/** Every held request, oldest first; none are held afterwards. */
export function takeAllHeld (w: RidWindow): readonly Held[] {
  const q = w.held ?? []
  w.held = undefined
  return q
}

/** Parks a request that arrived ahead of a gap (§14.2). */
export function park (w: RidWindow, req: BoshRequest, reply: Responder): void {
  w.ahead ??= new Map()
  w.ahead.set(req.rid, { req, reply, repeats: 0 })
}

/** The parked request that comes next in rid order, out of the map (which goes when empty). */
export function unparkNext (w: RidWindow): Waiting | undefined {
  const ahead = w.ahead
  if (ahead === undefined) return undefined
  const next = ahead.get(w.lastRid + 1)
  if (next !== undefined) ahead.delete(w.lastRid + 1)
  if (ahead.size === 0) w.ahead = undefined
  return next
}

export function parkedWithReply (w: RidWindow, reply: Responder): Waiting | undefined {
  const ahead = w.ahead
  if (ahead === undefined) return undefined
  for (const x of ahead.values()) if (x.reply === reply) return x
  return undefined
}

/** Every parked request; none are parked afterwards. */
export function takeAllParked (w: RidWindow): Iterable<Waiting> {
  const ahead = w.ahead
  if (ahead === undefined) return []
  w.ahead = undefined
  return ahead.values()
}
