/**
 * One BOSH session's state machine (XEP-0124 with XEP-0206): the requests window, held
 * requests, payloads queued for the client, the response cache for repeated rids, acks, pause,
 * overactivity, and how the session ends. It does no I/O of its own: HTTP responses go out
 * through `Responder`s, link traffic through the `SessionHost` (the manager), and deadlines are
 * kept by the manager's timer wheel, which calls `onWaitDeadline` / `onInactivity`.
 */
import { createHash } from 'node:crypto'
import { conditionForStreamEnd, legacyStatus, type TerminalCondition } from './conditions.ts'
import { bodyResponse, terminateResponse, type BodyAttrs } from './response.ts'
import type { BoshOptions } from './options.ts'
import type { ConnectionHandler, StreamStart } from '../backend/backend.ts'
import type { Responder } from './responder.ts'

export type { Responder } from './responder.ts'

/** What a session needs from the manager that owns it. */
export interface SessionHost {
  readonly options: BoshOptions
  now (): number
  /** the sid of a live session (formatted again from the session table: sessions keep no copy) */
  sidOf (s: BoshSession): string
  sendToServer (s: BoshSession, xml: string): boolean
  restartStream (s: BoshSession): boolean
  closeStream (s: BoshSession, condition: string): void
  /** (re)arms the wait deadline of the oldest held request; `at` = 0 cancels */
  setWaitDeadline (s: BoshSession, at: number): void
  /** (re)arms the inactivity deadline; `at` = 0 cancels */
  setInactivityDeadline (s: BoshSession, at: number): void
  /**
   * The server accepted the client's authentication (SASL success seen on the stream): the
   * session no longer counts as unauthenticated for admission control.
   */
  authenticated (s: BoshSession): void
  /** the session is over: forget it */
  release (s: BoshSession): void
}

/** The attributes of one request `<body/>` that the session acts on, already validated. */
export interface BoshRequest {
  rid: number
  /** payloads, each the client's own bytes made standalone */
  payloads: string[]
  type: 'terminate' | undefined
  /** XEP-0124 §10 requested pause in seconds, or undefined */
  pause: number | undefined
  /** XEP-0124 §9.1 client ack, or undefined */
  ack: number | undefined
  /** XEP-0206 §5 xmpp:restart='true' */
  restart: boolean
  /** XEP-0124 §15 */
  key: string | undefined
  newkey: string | undefined
}

interface Held {
  rid: number
  reply: Responder
  arrived: number
  repeats: number
  empty: boolean
  pause: boolean
}

interface Cached {
  rid: number
  body: string
  sentAt: number
}

interface Waiting {
  req: BoshRequest
  reply: Responder
  repeats: number
}

/**
 * The creation request until its response goes out (XEP-0124 §7.2), with what only that
 * response needs; dropped once answered.
 */
interface Creation {
  rid: number
  reply: Responder
  ver: string | undefined
  authid: string
  from: string
}

/** Shared by every session with nothing queued or held (allocation is lazy: see below). */
const NONE: readonly never[] = Object.freeze([])
const DEFAULT_CONTENT_TYPE = 'text/xml; charset=utf-8'

const enum Phase {
  /** waiting for the server's first stream header */
  Opening,
  Open,
  /** the stream is over; the next request hears how (then the session is forgotten) */
  Ended
}

/**
 * Memory: a million sessions are idle most of the time, so an idle session keeps only what the
 * protocol needs between requests (measured with bench:load --mode edge-only). The sid lives in
 * the session table, the queues (`ahead`, `held`, `pending`, `cache`) exist only while they
 * hold something, the creation request's details go with its response, and strings that are
 * the same for most sessions (the default content type, the empty body) are shared.
 */
export class BoshSession implements ConnectionHandler {
  readonly row: number
  connId = 0
  /** why the session ended, for the sessions-ended metric */
  endReason = ''

  // Negotiated at creation (XEP-0124 §7.2).
  readonly wait: number
  readonly hold: number
  /** XEP-0124 §7.2: no 'ver' in the creation request (§17.1 errors use HTTP statuses) */
  readonly legacy: boolean
  readonly contentType: string
  readonly clientAcks: boolean
  private readonly polling: boolean

  private phase = Phase.Opening
  private creation: Creation | undefined

  /** XEP-0124 §14.2: every rid up to this one has been received and processed */
  lastRid: number
  /** requests that arrived ahead of a gap in the rids, by rid (XEP-0124 §14.2); made when needed */
  private ahead: Map<number, Waiting> | undefined
  /** requests held for the server's payloads, oldest (lowest rid) first; undefined when none */
  private held: Held[] | undefined
  /** payloads from the server waiting for a request to carry them; undefined when none */
  private pending: string[] | undefined
  private pendingBytes = 0
  /**
   * XEP-0124 §14.3 responses kept for repeated rids: the newest here (a polling session keeps
   * only that one, so it costs no objects), older ones in `olderCached`, oldest first.
   * `cachedBody` is undefined when nothing is kept.
   */
  private cachedRid = 0
  private cachedBody: string | undefined
  private cachedAt = 0
  private olderCached: Cached[] | undefined
  /** the highest rid answered, and when (XEP-0124 §9.2 report) */
  private lastAnswered = 0
  /** XEP-0124 §12: when the last new request arrived and whether the answer to it was empty */
  private lastRequestAt = 0
  private lastRequestEmpty = false
  private lastPollAnsweredEmpty = false
  /** XEP-0124 §10: the inactivity period in force (changed by a pause until the next request) */
  private inactivity: number
  /** XEP-0124 §15: the key the next request's key must hash to, lower-case hex */
  private key: string | undefined
  /** how the session ended, for the request that arrives afterwards */
  private endCondition: TerminalCondition | '' = ''
  private sawStreamError = false

  constructor (
    private readonly host: SessionHost,
    init: {
      row: number
      rid: number
      wait: number
      hold: number
      ver: string | undefined
      contentType: string | undefined
      ack: boolean
      newkey: string | undefined
      reply: Responder
    }
  ) {
    const o = host.options
    this.row = init.row
    this.wait = Math.min(init.wait, o.maxWait)
    this.hold = Math.min(init.hold, o.maxHold)
    this.legacy = init.ver === undefined
    // The client's value is a slice of its whole creation request, which keeping it would keep:
    // the usual value is shared instead.
    this.contentType = init.contentType === undefined || init.contentType === DEFAULT_CONTENT_TYPE
      ? DEFAULT_CONTENT_TYPE
      : flat(init.contentType)
    this.clientAcks = init.ack
    // XEP-0124 §12: hold=0 or wait=0 makes a polling session.
    this.polling = this.hold === 0 || this.wait === 0
    // XEP-0124 §12: a polling session gets a longer inactivity period than the polling interval.
    this.inactivity = this.polling ? o.maxInactivity + o.polling : o.maxInactivity
    this.key = init.newkey?.toLowerCase()
    this.lastRid = init.rid
    this.creation = { rid: init.rid, reply: init.reply, ver: init.ver, authid: '', from: '' }
  }

  get sid (): string { return this.host.sidOf(this) }
  /** XEP-0124 §7.2: 'requests' is recommended at hold + 1. */
  get requests (): number { return this.hold + 1 }
  get ended (): boolean { return this.phase === Phase.Ended }
  get heldCount (): number { return this.held?.length ?? 0 }

  // ---------------------------------------------------------------------------------------------
  // Events from the server (through the link)
  // ---------------------------------------------------------------------------------------------

  onStreamStart (start: StreamStart): void {
    const c = this.creation
    if (this.phase !== Phase.Opening || c === undefined) return // a restart's header: nothing to relay over BOSH
    c.authid = start.id
    c.from = start.from
    this.phase = Phase.Open
    // XEP-0206 §4: features "as soon as they are available". They follow the header in the same
    // link chunk, so answer on the next macrotask and they ride in the creation response.
    setImmediate(() => { this.answerCreation() })
  }

  onData (xml: string): void {
    if (this.phase === Phase.Ended) return
    this.pending ??= []
    this.pending.push(xml)
    this.pendingBytes += xml.length
    // XEP-0206 §6: a stream error travels in the terminate body (remote-stream-error), which the
    // CLOSE right behind it produces; sending it now would split it from its condition.
    if (xml.startsWith('<stream:error')) { this.sawStreamError = true; return }
    if (this.pendingBytes > this.host.options.maxPendingBytes && this.held === undefined) {
      // A client that stopped polling while the server kept talking: it is gone.
      this.end('policy-violation', 'pending-overflow')
      return
    }
    if (this.phase === Phase.Open && this.creation === undefined) this.flush()
  }

  /** The server ended the stream (or the link was lost). */
  onClose (condition: string): void {
    if (this.phase === Phase.Ended) return
    this.phase = Phase.Ended
    this.endCondition = conditionForStreamEnd(condition, this.sawStreamError)
    this.endReason = condition === '' ? 'server-closed' : condition
    this.connId = 0 // the link has forgotten the id already: nothing to close
    this.finish()
  }

  // ---------------------------------------------------------------------------------------------
  // Requests from the client
  // ---------------------------------------------------------------------------------------------

  /** Every request after the creation request (XEP-0124 §8). */
  handle (req: BoshRequest, reply: Responder): void {
    if (this.phase === Phase.Ended) {
      // The stream ended while no request was held: this one hears how, with any payloads left.
      this.answer(reply, terminateResponse(this.endCondition, this.takePending()))
      this.host.release(this)
      return
    }
    const rid = req.rid
    if (rid <= this.lastRid) { this.repeated(req, reply); return }
    // XEP-0124 §14: a rid beyond the window ends the session. One more request is allowed for
    // a pause or a terminate (§11).
    const window = this.requests + (req.pause !== undefined || req.type === 'terminate' ? 1 : 0)
    if (rid > this.lastRid + window) { this.fail('item-not-found', reply); return }
    const early = this.ahead?.get(rid)
    if (early !== undefined) {
      // XEP-0124 §14.3: a rid received but not yet answered: answer the old request with a
      // recoverable error and keep the new one.
      if (++early.repeats > this.host.options.maxRidRepeats) { this.fail('policy-violation', reply); return }
      this.recoverable(early.reply)
      early.reply = reply
      return
    }
    if (rid > this.lastRid + 1) {
      // XEP-0124 §14.2: payloads are forwarded in rid order; this one waits for the gap.
      this.ahead ??= new Map()
      this.ahead.set(rid, { req, reply, repeats: 0 })
      return
    }
    this.process(req, reply)
    // Requests that were waiting behind this one can go now.
    const ahead = this.ahead
    if (ahead === undefined) return
    for (let next = ahead.get(this.lastRid + 1); next !== undefined; next = ahead.get(this.lastRid + 1)) {
      ahead.delete(this.lastRid + 1)
      if (this.ended) { this.answer(next.reply, bodyResponse({})); continue }
      this.process(next.req, next.reply)
    }
    if (ahead.size === 0 && this.ahead === ahead) this.ahead = undefined
  }

  /** A request whose rid we have already received (XEP-0124 §14.3). */
  private repeated (req: BoshRequest, reply: Responder): void {
    const held = this.held?.find(h => h.rid === req.rid)
    if (held !== undefined) {
      if (++held.repeats > this.host.options.maxRidRepeats) { this.fail('policy-violation', reply); return }
      this.recoverable(held.reply)
      held.reply = reply
      return
    }
    const cached = this.cached(req.rid)
    if (cached !== undefined) {
      this.answer(reply, cached.body)
      return
    }
    // Too old, or never answered successfully: §14.3 item-not-found.
    this.fail('item-not-found', reply)
  }

  /** A new request, in rid order. */
  private process (req: BoshRequest, reply: Responder): void {
    const o = this.host.options
    const now = this.host.now()
    this.lastRid = req.rid

    // XEP-0124 §15.4: each key must hash to the previous one.
    if (this.key !== undefined) {
      if (req.key === undefined || sha1Hex(req.key.toLowerCase()) !== this.key) { this.fail('item-not-found', reply); return }
      this.key = (req.newkey ?? req.key).toLowerCase()
    } else if (req.newkey !== undefined) {
      this.key = req.newkey.toLowerCase()
    }

    // XEP-0124 §10: a new request restores the normal inactivity period, and the inactivity
    // clock stops while a request is held.
    this.inactivity = this.polling ? o.maxInactivity + o.polling : o.maxInactivity
    this.host.setInactivityDeadline(this, 0)

    // XEP-0124 §9.1: the client's ack lets us drop the responses it has.
    if (req.ack !== undefined) this.dropCachedUpTo(req.ack)

    const empty = req.payloads.length === 0 && !req.restart
    const special = req.pause !== undefined || req.type === 'terminate'
    const outstanding = this.heldCount + 1
    // XEP-0124 §11: more simultaneous requests than 'requests' (a pause or terminate may use one more).
    if (!special && outstanding > this.requests) { this.fail('policy-violation', reply); return }
    // XEP-0124 §11: 'requests' requests unanswered, the last one empty, two of them within 'polling'.
    if (!special && empty && outstanding === this.requests && this.requests > 1 &&
        now - this.lastRequestAt < o.polling * 1000) { this.fail('policy-violation', reply); return }
    // XEP-0124 §12: in a polling session, two empty polls within 'polling' after an empty answer.
    if (this.polling && !special && empty && this.lastRequestEmpty && this.lastPollAnsweredEmpty &&
        now - this.lastRequestAt < o.polling * 1000) { this.fail('policy-violation', reply); return }
    this.lastRequestAt = now
    this.lastRequestEmpty = empty

    if (req.restart) {
      // XEP-0206 §5: the restart request's payloads are ignored; the server's new features come back.
      if (!this.host.restartStream(this)) { this.end('remote-connection-failed', 'link-down', reply); return }
    } else {
      for (const p of req.payloads) {
        if (!this.host.sendToServer(this, p)) { this.end('remote-connection-failed', 'link-queue-full', reply); return }
      }
    }

    if (req.type === 'terminate') { this.terminate(reply); return }

    this.held ??= []
    this.held.push({ rid: req.rid, reply, arrived: now, repeats: 0, empty, pause: req.pause !== undefined })

    if (req.pause !== undefined) {
      // XEP-0124 §10: answer everything now (the pause response carries no payloads) and stretch
      // the inactivity period to the pause, never beyond maxpause.
      this.inactivity = Math.min(req.pause, o.maxPause)
      while (this.held !== undefined) this.respondOldest(true)
      this.host.setWaitDeadline(this, 0)
      return
    }

    // XEP-0124 §9.2: the client's ack is behind our last response and it has been a while:
    // answer now with a report so it can resend the missing request.
    if (req.ack !== undefined && this.clientAcks && req.ack < this.lastAnswered) {
      const missing = this.cached(req.ack + 1)
      if (missing !== undefined && now - missing.sentAt >= o.reportAfterMs) {
        this.respondOldest(false, { report: missing.rid, time: now - missing.sentAt })
      }
    }
    this.flush()
  }

  // ---------------------------------------------------------------------------------------------
  // Answering
  // ---------------------------------------------------------------------------------------------

  /** Sends queued payloads if a request is held, and enforces hold and wait. */
  flush (): void {
    if (this.phase === Phase.Ended || this.creation !== undefined) return
    // XEP-0124 §8: payloads go out as soon as a request can carry them, oldest request first.
    if (this.pending !== undefined && this.held !== undefined) this.respondOldest(false)
    // XEP-0124 §8: never hold more than 'hold' requests; §12: a polling session holds none.
    while (this.heldCount > this.hold) this.respondOldest(false)
    const oldest = this.held?.[0]
    this.host.setWaitDeadline(this, oldest === undefined ? 0 : oldest.arrived + this.wait * 1000)
  }

  /** The wait deadline of the oldest held request passed (XEP-0124 §8 `wait`). */
  onWaitDeadline (): void {
    // While opening, the wait deadline is the open deadline: the server never answered.
    if (this.creation !== undefined) { this.end('remote-connection-failed', 'open-timeout'); return }
    if (this.held !== undefined) this.respondOldest(false)
    this.flush()
  }

  /** XEP-0124 §10: no request for longer than the inactivity period: the client is gone. */
  onInactivity (): void {
    if (this.held !== undefined) return
    if (this.phase === Phase.Ended) { this.host.release(this); return }
    this.end(undefined, 'inactivity')
  }

  private armInactivity (): void {
    this.host.setInactivityDeadline(this, this.host.now() + this.inactivity * 1000)
  }

  /**
   * Answers the oldest held request. Payloads go to the first request whose HTTP connection is
   * still open: an answer written into a dead connection would be lost until the client repeats
   * its rid, so dead ones get an empty body (cached all the same, §14.3).
   */
  private respondOldest (noPayloads: boolean, extra: BodyAttrs = {}): void {
    const h = this.takeOldest()
    if (h === undefined) return
    const carry = !noPayloads && (h.reply.open || this.held?.some(x => x.reply.open) !== true)
    const payloads = carry ? this.takePending() : []
    const attrs: BodyAttrs = { ...extra }
    // XEP-0124 §9.2: ack the highest rid received in order, when it is not this request's own.
    if (this.lastRid !== h.rid) attrs.ack = this.lastRid
    const body = bodyResponse(attrs, payloads)
    if (this.polling) this.lastPollAnsweredEmpty = payloads.length === 0
    // XEP-0124 §14.3: pause responses are not kept.
    if (!h.pause) this.remember(h.rid, body)
    this.answer(h.reply, body)
    // XEP-0124 §10: the inactivity clock runs from the moment no request is held.
    if (this.held === undefined) this.armInactivity()
  }

  private answerCreation (): void {
    const c = this.creation
    if (c === undefined || this.phase === Phase.Ended) return
    this.creation = undefined
    const o = this.host.options
    // XEP-0124 §7.2 and XEP-0206 §4: the session creation response.
    const attrs: BodyAttrs = {
      sid: this.host.sidOf(this),
      wait: this.wait,
      requests: this.requests,
      hold: this.hold,
      inactivity: this.inactivity,
      polling: o.polling,
      maxpause: o.maxPause > 0 ? o.maxPause : undefined,
      ver: c.ver === undefined ? undefined : minVersion(c.ver, '1.11'),
      from: c.from === '' ? undefined : c.from,
      authid: c.authid,
      // XEP-0124 §9.1: we acknowledge requests throughout the session.
      ack: c.rid,
      'xmpp:version': '1.0',
      'xmpp:restartlogic': 'true'
    }
    const body = bodyResponse(attrs, this.takePending())
    this.remember(c.rid, body)
    this.answer(c.reply, body)
    if (this.held === undefined) this.armInactivity()
    this.flush()
  }

  private takePending (): readonly string[] {
    const p = this.pending
    if (p === undefined) return NONE
    this.pending = undefined
    this.pendingBytes = 0
    return p
  }

  /** The oldest held request, out of the list (which goes when it empties). */
  private takeOldest (): Held | undefined {
    const q = this.held
    if (q === undefined) return undefined
    const h = q.shift()
    if (q.length === 0) this.held = undefined
    return h
  }

  /** Every held request, oldest first; none are held afterwards. */
  private takeHeld (): readonly Held[] {
    const q = this.held ?? NONE
    this.held = undefined
    return q
  }

  private remember (rid: number, body: string): void {
    const now = this.host.now()
    if (rid > this.lastAnswered) this.lastAnswered = rid
    // XEP-0124 §14.3: keep 'requests' responses, or with client acks every unacknowledged one
    // (bounded, so a client that never acks cannot grow it).
    const keep = this.clientAcks ? this.host.options.maxCachedResponses : this.requests
    if (this.cachedBody !== undefined && keep > 1) {
      this.olderCached ??= []
      this.olderCached.push({ rid: this.cachedRid, body: this.cachedBody, sentAt: this.cachedAt })
      while (this.olderCached.length > keep - 1) this.olderCached.shift()
    }
    this.cachedRid = rid
    this.cachedBody = body
    this.cachedAt = now
  }

  /** The response kept for `rid` (XEP-0124 §14.3), or undefined. */
  private cached (rid: number): Cached | undefined {
    if (this.cachedBody !== undefined && this.cachedRid === rid) return { rid, body: this.cachedBody, sentAt: this.cachedAt }
    return this.olderCached?.find(c => c.rid === rid)
  }

  /** XEP-0124 §9.1: forgets the responses up to `ack`, oldest first. */
  private dropCachedUpTo (ack: number): void {
    const older = this.olderCached
    if (older !== undefined) {
      while (older.length > 0 && older[0]!.rid <= ack) older.shift()
      if (older.length > 0) return
      this.olderCached = undefined
    }
    if (this.cachedBody !== undefined && this.cachedRid <= ack) this.cachedBody = undefined
  }

  private answer (reply: Responder, body: string, status = 200): void {
    reply.send(status, this.contentType, body)
  }

  /** XEP-0124 §17.3: a recoverable error; the client resends its unanswered requests. */
  private recoverable (reply: Responder): void {
    this.answer(reply, bodyResponse({ type: 'error' }))
  }

  // ---------------------------------------------------------------------------------------------
  // Ending
  // ---------------------------------------------------------------------------------------------

  /** XEP-0124 §13: the client terminates; the payloads were forwarded already. */
  private terminate (reply: Responder): void {
    this.phase = Phase.Ended
    this.endReason = 'terminate'
    this.host.closeStream(this, '')
    // The oldest open request acknowledges the termination (with anything still queued), the
    // others get empty bodies.
    const all = [...this.takeHeld().map(h => h.reply), reply]
    all.forEach((r, i) => {
      this.answer(r, i === 0 ? terminateResponse(undefined, this.takePending()) : bodyResponse({}))
    })
    this.dropAhead()
    this.host.release(this)
  }

  /** Ends the session with a terminal condition (or none), answering `reply` and every held request. */
  end (condition: TerminalCondition | undefined, reason: string, reply?: Responder): void {
    if (this.phase !== Phase.Ended) {
      this.phase = Phase.Ended
      this.endReason = reason
      this.host.closeStream(this, reason)
    }
    this.endCondition = condition ?? ''
    if (condition === undefined && reply === undefined && this.held === undefined) {
      // XEP-0124 §10: an inactive session ends "without informing the client".
      this.host.release(this)
      return
    }
    const body = terminateResponse(condition, this.takePending())
    const status = condition !== undefined && this.legacy ? legacyStatus(condition) : 200
    if (this.creation !== undefined) { this.answer(this.creation.reply, body, status); this.creation = undefined }
    for (const h of this.takeHeld()) this.answer(h.reply, body, status)
    if (reply !== undefined) this.answer(reply, body, status)
    this.dropAhead(body, status)
    this.host.release(this)
  }

  /** A terminal error caused by `reply`'s request (XEP-0124 §17.1, §17.2). */
  private fail (condition: TerminalCondition, reply: Responder): void {
    this.end(condition, condition, reply)
  }

  /** The stream ended on the server's side: tell the held request, or keep it for the next one. */
  private finish (): void {
    if (this.creation !== undefined) {
      this.answer(this.creation.reply, terminateResponse(this.endCondition, this.takePending()))
      this.creation = undefined
      this.host.release(this)
      return
    }
    const h = this.takeOldest()
    if (h === undefined) {
      // Nobody to tell now: the next request hears it with the payloads still queued (handle),
      // or the inactivity deadline (already running) forgets the session.
      this.host.setWaitDeadline(this, 0)
      return
    }
    this.answer(h.reply, terminateResponse(this.endCondition, this.takePending()))
    for (const o of this.takeHeld()) this.answer(o.reply, bodyResponse({}))
    this.dropAhead()
    this.host.release(this)
  }

  private dropAhead (body: string = bodyResponse({}), status = 200): void {
    const ahead = this.ahead
    if (ahead === undefined) return
    this.ahead = undefined
    for (const w of ahead.values()) this.answer(w.reply, body, status)
    ahead.clear() // handle() may be walking it
  }

  /** For shutdown: end with system-shutdown (XEP-0124 §17.2). */
  shutdown (): void {
    this.end('system-shutdown', 'shutdown')
  }
}

/** A copy of `s` that does not keep the string it was sliced from. */
function flat (s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1')
}

function sha1Hex (s: string): string {
  return createHash('sha1').update(s).digest('hex')
}

/** XEP-0124 §7.2 'ver': the lower of the client's and ours, comparing major then minor as integers. */
export function minVersion (a: string, b: string): string {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  const [amaj = 0, amin = 0] = pa
  const [bmaj = 0, bmin = 0] = pb
  if (amaj !== bmaj) return amaj < bmaj ? a : b
  return amin <= bmin ? a : b
}
