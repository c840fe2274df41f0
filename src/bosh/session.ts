/**
 * One BOSH session's state machine (XEP-0124 with XEP-0206): what a request does on arrival,
 * when held requests are answered and with what, pause, overactivity, and how the session ends.
 * The data it works on has files of its own: the requests window and held requests
 * (rid-window.ts), the responses kept for repeated rids (response-cache.ts), and §15 keys
 * (keys.ts). It does no I/O of its own: HTTP responses go out through `Responder`s, link
 * traffic through the `SessionHost` (the manager), and deadlines are kept by the manager's timer
 * wheel, which calls `onWaitDeadline` / `onInactivity`.
 */
import { conditionForStreamEnd, legacyStatus, type TerminalCondition } from './conditions.ts'
import { bodyResponse, terminateResponse, type BodyAttrs } from './response.ts'
import type { BoshOptions } from './options.ts'
import type { BoshRequest } from './request.ts'
import type { CloseReason, ConnectionHandler, StreamStart } from '../backend/backend.ts'
import { sendRefusalCondition, sendRefusalReason } from '../backend/backend.ts'
import type { AbortListener, Responder } from './responder.ts'
import { earlierKey, keepKey, nextExpected, sameKey } from './keys.ts'
import { cachedFor, dropCachedUpTo, remember, type Cached, type ResponseCache } from './response-cache.ts'
import {
  heldCount, heldWithReply, heldWithRid, hold, park, parkedWithReply, takeAllHeld, takeAllParked,
  unhold, unparkNext, withinWindow, type Held, type RidWindow, type Waiting
} from './rid-window.ts'

export type { Responder } from './responder.ts'
export type { BoshRequest } from './request.ts'

/** What a session needs from the manager that owns it. */
export interface SessionHost {
  readonly options: BoshOptions
  now (): number
  /** the sid of a live session (formatted again from the session table: sessions keep no copy) */
  sidOf (s: BoshSession): string
  /** '' once the element is on its way; else the code of the backend's refusal (sendRefusalCondition) */
  sendToServer (s: BoshSession, xml: string): string
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

/** Shared by every session with nothing queued (allocation is lazy: see below). */
const NONE: readonly never[] = Object.freeze([])
const DEFAULT_CONTENT_TYPE = 'text/xml; charset=utf-8'
const SASL_SUCCESS = /^<success\s[^>]*xmlns=(['"])urn:ietf:params:xml:ns:xmpp-sasl\1/

const enum Phase {
  /** waiting for the server's first stream header */
  Opening,
  Open,
  /** the stream is over; the next request hears how (then the session is forgotten) */
  Ended
}

/** Booleans, packed into one number (one slot of the session object instead of eight). */
const enum Flag {
  /** XEP-0124 §7.2: no 'ver' in the creation request (§17.1 errors use HTTP statuses) */
  Legacy = 1,
  /** XEP-0124 §9.1: the client acknowledges responses */
  ClientAcks = 2,
  /** XEP-0124 §12: hold=0 or wait=0 */
  Polling = 4,
  /** XEP-0124 §12: the last new request was empty */
  LastRequestEmpty = 8,
  /** XEP-0124 §12: the last answer in a polling session carried nothing */
  LastPollAnsweredEmpty = 16,
  /** XEP-0206 §6: a `<stream:error/>` is queued; the CLOSE behind it ends the session */
  SawStreamError = 32,
  /** XEP-0206 §4, §5: stream features are due (after the header, or after a restart) */
  FeaturesDue = 64,
  /** the server's SASL success was seen (SessionHost.authenticated called) */
  Authenticated = 128
}

/**
 * Memory: a million sessions are idle most of the time, so an idle session keeps only what the
 * protocol needs between requests (measured with bench:load --mode edge-only). The sid lives in
 * the session table; the queues (`ahead`, `held`, `pending`, `olderCached`) exist only while
 * they hold something; the creation request's details go with its response; booleans share one
 * number; and strings that are the same for most sessions (the default content type, the empty
 * body) are shared. The files this one is split into own fields of this object, not objects of
 * their own: `RidWindow` and `ResponseCache` are implemented here, and their functions take the
 * session itself.
 */
export class BoshSession implements ConnectionHandler, AbortListener, RidWindow, ResponseCache {
  readonly row: number
  connId = 0
  /** why the session ended, for the sessions-ended metric */
  endReason = ''

  // Negotiated at creation (XEP-0124 §7.2).
  readonly wait: number
  readonly hold: number
  readonly contentType: string

  private flags = 0
  private phase = Phase.Opening
  private creation: Creation | undefined

  // RidWindow (rid-window.ts)
  lastRid: number
  held: Held[] | undefined = undefined
  ahead: Map<number, Waiting> | undefined = undefined

  // ResponseCache (response-cache.ts)
  cachedRid = 0
  cachedBody: string | undefined = undefined
  cachedAt = 0
  cachedKey: string | undefined = undefined
  olderCached: Cached[] | undefined = undefined

  /** payloads from the server waiting for a request to carry them; undefined when none */
  private pending: string[] | undefined
  private pendingBytes = 0
  /**
   * The highest rid answered (XEP-0124 §9.2 report). A received rid above it that is not held
   * was never answered: its connection closed first (see `requestAborted`).
   */
  private lastAnswered = 0
  /** XEP-0124 §12: when the last new request arrived */
  private lastRequestAt = 0
  /** XEP-0124 §10: the inactivity period in force (changed by a pause until the next request) */
  private inactivity: number
  /** XEP-0124 §15: what the next request's key must hash to (keys.ts), lower-case hex */
  private key: string | undefined
  /** how the session ended, for the request that arrives afterwards */
  private endCondition: TerminalCondition | '' = ''

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
    // The client's value (already one of the XML types, request.ts) is a slice of its whole
    // creation request, which keeping it would keep: the usual value is shared instead.
    this.contentType = init.contentType === undefined || init.contentType === DEFAULT_CONTENT_TYPE
      ? DEFAULT_CONTENT_TYPE
      : flat(init.contentType)
    // XEP-0124 §12: hold=0 or wait=0 makes a polling session.
    const polling = this.hold === 0 || this.wait === 0
    this.flags = (init.ver === undefined ? Flag.Legacy : 0) | (init.ack ? Flag.ClientAcks : 0) |
      (polling ? Flag.Polling : 0) | Flag.FeaturesDue
    // XEP-0124 §12: a polling session gets a longer inactivity period than the polling interval.
    this.inactivity = this.normalInactivity()
    this.key = keepKey(init.newkey)
    this.lastRid = init.rid
    this.creation = { rid: init.rid, reply: init.reply, ver: init.ver, authid: '', from: '' }
    init.reply.holder = this
  }

  get sid (): string { return this.host.sidOf(this) }
  /** XEP-0124 §7.2: 'requests' is recommended at hold + 1. */
  get requests (): number { return this.hold + 1 }
  get ended (): boolean { return this.phase === Phase.Ended }
  get heldCount (): number { return heldCount(this) }
  get legacy (): boolean { return (this.flags & Flag.Legacy) !== 0 }
  get clientAcks (): boolean { return (this.flags & Flag.ClientAcks) !== 0 }
  private get polling (): boolean { return (this.flags & Flag.Polling) !== 0 }

  // ---------------------------------------------------------------------------------------------
  // Events from the server (through the link)
  // ---------------------------------------------------------------------------------------------

  onStreamStart (start: StreamStart): void {
    const c = this.creation
    if (this.phase !== Phase.Opening || c === undefined) return // a restart's header: nothing to relay over BOSH
    c.authid = start.id
    c.from = start.from
    this.phase = Phase.Open
    // XEP-0206 §4: the creation response SHOULD carry the features "when available": clients
    // such as StanzaJS and Tsung read them there. They follow the header (onData), so hold the
    // response for them, no longer than featuresTimeout (then it goes without, and they follow
    // in a later response). The wait deadline, the open deadline until now, bounds it.
    const bound = this.host.options.featuresTimeout
    if (bound <= 0) { this.answerCreation(); return }
    this.host.setWaitDeadline(this, this.host.now() + bound * 1000)
  }

  onData (xml: string): void {
    if (this.phase === Phase.Ended) return
    if ((this.flags & Flag.Authenticated) === 0 && xml.startsWith('<success') && SASL_SUCCESS.test(xml)) {
      // RFC 6120 §6.4.6: authentication succeeded; admission control stops counting the session.
      this.flags |= Flag.Authenticated
      this.host.authenticated(this)
    }
    this.pending ??= []
    this.pending.push(xml)
    this.pendingBytes += xml.length
    // XEP-0206 §6: a stream error travels in the terminate body (remote-stream-error), which the
    // CLOSE right behind it produces; sending it now would split it from its condition.
    if (xml.startsWith('<stream:error')) { this.flags |= Flag.SawStreamError; return }
    if (this.pendingBytes > this.host.options.maxPendingBytes && this.held === undefined) {
      // A client that stopped polling while the server kept talking: it is gone.
      this.end('policy-violation', 'pending-overflow')
      return
    }
    // XEP-0206 §4, §5: the features the creation or restart response was held for.
    if (xml.startsWith('<stream:features')) this.featuresArrived()
    if (this.creation !== undefined) {
      if (this.phase === Phase.Open && (this.flags & Flag.FeaturesDue) === 0) this.answerCreation()
      return
    }
    this.flush()
  }

  /** The server ended the stream (or the link was lost). */
  onClose (condition: CloseReason): void {
    if (this.phase === Phase.Ended) return
    this.phase = Phase.Ended
    this.endCondition = conditionForStreamEnd(condition, (this.flags & Flag.SawStreamError) !== 0)
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
    // XEP-0124 §14: a rid beyond the window ends the session (§11: one more for pause or terminate).
    if (!withinWindow(this, rid, this.requests, req.pause !== undefined || req.type === 'terminate')) {
      this.fail('item-not-found', reply)
      return
    }
    const early = this.ahead?.get(rid)
    if (early !== undefined) {
      // XEP-0124 §14.3 with §15.4: a repeat is an exact copy of the original, key included; a
      // request with another key (or none) must not take the original's place.
      if (!sameKey(keepKey(early.req.key), req.key)) { this.fail('item-not-found', reply); return }
      // XEP-0124 §14.3: a rid received but not yet answered: answer the old request with a
      // recoverable error and keep the new one.
      if (++early.repeats > this.host.options.maxRidRepeats) { this.fail('policy-violation', reply); return }
      if (early.reply !== undefined) this.recoverable(early.reply)
      early.reply = reply
      reply.holder = this
      return
    }
    if (rid > this.lastRid + 1) {
      // XEP-0124 §15.4: with keys in use, a request without one is refused now; its key is
      // checked against the sequence when its turn comes (the requests before it may switch
      // sequences, §15.5).
      if (this.key !== undefined && req.key === undefined) { this.fail('item-not-found', reply); return }
      // XEP-0124 §14.2: payloads are forwarded in rid order; this one waits for the gap.
      park(this, req, reply)
      reply.holder = this
      return
    }
    this.process(req, reply)
    // Requests that were waiting behind this one can go now.
    for (let next = unparkNext(this); next !== undefined; next = unparkNext(this)) {
      if (next.reply !== undefined) next.reply.holder = undefined
      if (this.ended) { if (next.reply !== undefined) this.answer(next.reply, bodyResponse({})); continue }
      this.process(next.req, next.reply)
    }
  }

  /** A request whose rid we have already received (XEP-0124 §14.3). */
  private repeated (req: BoshRequest, reply: Responder): void {
    const held = heldWithRid(this, req.rid)
    if (held !== undefined) {
      // §15.4: the original's key, or the repeat does not take its place.
      if (!sameKey(held.key, req.key)) { this.fail('item-not-found', reply); return }
      if (++held.repeats > this.host.options.maxRidRepeats) { this.fail('policy-violation', reply); return }
      this.recoverable(held.reply)
      held.reply = reply
      reply.holder = this
      return
    }
    const cached = cachedFor(this, req.rid)
    if (cached !== undefined) {
      // §15.4: the cached response goes only to a request that carries the original's key.
      if (!sameKey(cached.key, req.key)) { this.fail('item-not-found', reply); return }
      this.answer(reply, cached.body)
      return
    }
    if (req.rid > this.lastAnswered && req.rid > this.lastRid - this.requests) {
      // Received, never answered: its connection closed before an answer was due (a network
      // blip; Strophe resends the same rid). This copy takes its place.
      this.rehold(req, reply)
      return
    }
    // Too old, or never answered successfully: §14.3 item-not-found.
    this.fail('item-not-found', reply)
  }

  /**
   * A repeat of a request that was received and forwarded but whose connection closed before it
   * was answered (`requestAborted`): it is held again, its payloads not forwarded twice.
   */
  private rehold (req: BoshRequest, reply: Responder): void {
    // §15.4: the original's key is no longer kept, but it is derived from the sequence: each
    // earlier key is the SHA-1 of the next one.
    if (this.key !== undefined &&
        (req.key === undefined || req.key.toLowerCase() !== earlierKey(this.key, this.lastRid - req.rid))) {
      this.fail('item-not-found', reply)
      return
    }
    if (req.pause !== undefined || req.type === 'terminate') { this.process(req, reply, true); return }
    // XEP-0124 §11: it counts toward 'requests' like any unanswered request.
    if (this.heldCount + 1 > this.requests) { this.fail('policy-violation', reply); return }
    const now = this.host.now()
    this.stopInactivity()
    hold(this, this.newHeld(req, reply, now))
    this.flush()
  }

  /**
   * A new request, in rid order. `reply` is undefined for a request that arrived ahead of a gap
   * and whose connection closed while it waited: it is processed all the same (its payloads go
   * to the server, its rid counts) but nobody is held. `again`: a repeat of a pause or
   * terminate request whose connection closed; its payloads went already.
   */
  private process (req: BoshRequest, reply: Responder | undefined, again = false): void {
    const o = this.host.options
    const now = this.host.now()
    if (!again) {
      this.lastRid = req.rid
      // XEP-0124 §15.4: each key must hash to the previous one.
      const next = nextExpected(this.key, req.key, req.newkey)
      if (next === false) { this.fail('item-not-found', reply); return }
      this.key = next
    }

    this.stopInactivity()

    // XEP-0124 §9.1: the client's ack lets us drop the responses it has.
    if (req.ack !== undefined) dropCachedUpTo(this, req.ack)

    const empty = req.payloads.length === 0 && !req.restart
    const special = req.pause !== undefined || req.type === 'terminate'
    // XEP-0124 §11: more unanswered requests than 'requests' (a pause or terminate may use one
    // more). Requests whose connection closed are no longer held, so they do not count. §11's
    // other rule ('requests' unanswered, the last empty, two within 'polling') is not applied
    // to long-polling sessions: §8 answers the oldest held request when a new one arrives, and
    // a reloaded page's first poll looks exactly like it (docs/bosh.md, §11).
    const outstanding = this.heldCount + (reply === undefined ? 0 : 1)
    if (!special && outstanding > this.requests) { this.fail('policy-violation', reply); return }
    // XEP-0124 §12: in a polling session, two empty polls within 'polling' after an empty answer.
    if (this.polling && !special && empty && (this.flags & Flag.LastRequestEmpty) !== 0 &&
        (this.flags & Flag.LastPollAnsweredEmpty) !== 0 && now - this.lastRequestAt < o.polling * 1000) {
      this.fail('policy-violation', reply)
      return
    }
    this.lastRequestAt = now
    this.flags = empty ? this.flags | Flag.LastRequestEmpty : this.flags & ~Flag.LastRequestEmpty

    if (!again) {
      if (req.restart) {
        // XEP-0206 §5: the restart request's payloads are ignored; the server's new features
        // come back in its response. Older held requests go now (they precede the restart).
        if (!this.host.restartStream(this)) { this.end('remote-connection-failed', 'link-down', reply); return }
        while (this.held !== undefined) this.respond(this.held[0]!, false)
        this.flags |= Flag.FeaturesDue
      } else {
        for (const p of req.payloads) {
          const refused = this.host.sendToServer(this, p)
          // XEP-0124 §17.2 policy-violation when the client sent more than the link takes from
          // one session (its budget, issue 16) or an element too large; remote-connection-failed
          // when the link is full or down.
          if (refused !== '') { this.end(sendRefusalCondition(refused), sendRefusalReason(refused), reply); return }
        }
      }
    }

    if (req.type === 'terminate') { this.terminate(reply); return }

    if (reply !== undefined) hold(this, this.newHeld(req, reply, now))

    if (req.pause !== undefined) {
      // XEP-0124 §10: answer everything now (the pause response carries no payloads) and stretch
      // the inactivity period to the pause, never beyond maxpause.
      this.inactivity = Math.min(req.pause, o.maxPause)
      while (this.held !== undefined) this.respond(this.held[0]!, true)
      this.host.setWaitDeadline(this, 0)
      this.armInactivity()
      return
    }

    // XEP-0124 §9.2: the client's ack is behind our last response and it has been a while:
    // answer now with a report so it can resend the missing request.
    if (req.ack !== undefined && this.clientAcks && req.ack < this.lastAnswered && this.held !== undefined) {
      const missing = cachedFor(this, req.ack + 1)
      if (missing !== undefined && now - missing.sentAt >= o.reportAfterMs) {
        this.respond(this.held[0]!, false, { report: missing.rid, time: now - missing.sentAt })
      }
    }
    if (this.held === undefined) this.armInactivity()
    this.flush()
  }

  private newHeld (req: BoshRequest, reply: Responder, now: number): Held {
    reply.holder = this
    // XEP-0206 §5: the restart response waits for the new features like any held request waits
    // for payloads, for `wait` (a client such as Strophe sends nothing more until they come, so
    // answering it empty early would leave it with no request open); a polling session, whose
    // `wait` is 0, still gives them featuresTimeout.
    const bound = Math.max(this.wait, this.host.options.featuresTimeout)
    const waitsForFeatures = req.restart && bound > 0 && (this.flags & Flag.FeaturesDue) !== 0
    return {
      rid: req.rid,
      reply,
      arrived: now,
      repeats: 0,
      pause: req.pause !== undefined,
      key: keepKey(req.key),
      featuresBy: waitsForFeatures ? now + bound * 1000 : 0
    }
  }

  /**
   * The HTTP connection of a request we hold closed before it was answered (page reload, tab
   * closed, network): the request leaves the session at once. Its rid stays received (the next
   * request continues after it; a repeat of it is held again, see `repeated`), nothing is
   * written into it, and what was meant for it stays pending for the next request.
   */
  requestAborted (reply: Responder): void {
    reply.holder = undefined
    if (this.creation?.reply === reply) {
      // Nobody learnt the sid, so nobody can continue the session.
      this.creation = undefined
      this.end(undefined, 'creation-aborted')
      return
    }
    const h = heldWithReply(this, reply)
    if (h !== undefined) {
      unhold(this, h)
      // XEP-0124 §10: the inactivity clock runs from the moment no request is held.
      if (this.held === undefined) this.armInactivity()
      this.armWait()
      return
    }
    // A request ahead of a gap: its payloads still go in rid order, with no one to answer.
    const w = parkedWithReply(this, reply)
    if (w !== undefined) w.reply = undefined
  }

  // ---------------------------------------------------------------------------------------------
  // Answering
  // ---------------------------------------------------------------------------------------------

  /** Sends queued payloads if a request is held, and enforces hold and wait. */
  flush (): void {
    if (this.phase === Phase.Ended || this.creation !== undefined) return
    const waiter = this.featuresWaiter()
    // XEP-0124 §8: payloads go out as soon as a request can carry them, oldest request first;
    // XEP-0206 §5: while a restart waits for the new features, they wait with it.
    // (A request found dead on the way is dropped, so this loops until one carries them.)
    while (this.pending !== undefined && this.held !== undefined && waiter === undefined) this.respond(this.held[0]!, false)
    // XEP-0124 §8: never hold more than 'hold' requests, answering the oldest (§12: a polling
    // session holds none). A restart waiting for its features is not answered early: another
    // one goes instead, empty (the features come first).
    while (this.held !== undefined && this.held.length > this.hold) {
      const h = this.oldestExcept(waiter)
      if (h === undefined) break
      this.respond(h, waiter !== undefined)
    }
    this.armWait()
  }

  /** Arms the wait deadline for the oldest held request (or the restart waiting for features). */
  private armWait (): void {
    const waiter = this.featuresWaiter()
    const oldest = this.held?.[0]
    let at = oldest === undefined ? 0 : oldest.arrived + this.wait * 1000
    if (waiter !== undefined) at = oldest === waiter ? waiter.featuresBy : Math.min(at, waiter.featuresBy)
    this.host.setWaitDeadline(this, at)
  }

  /** The held restart request waiting for the server's features (XEP-0206 §5), if any. */
  private featuresWaiter (): Held | undefined {
    const q = this.held
    if ((this.flags & Flag.FeaturesDue) === 0 || q === undefined) return undefined
    for (const h of q) if (h.featuresBy > 0) return h
    return undefined
  }

  /** The oldest held request other than `skip` (a loop, not a closure: this runs per request). */
  private oldestExcept (skip: Held | undefined): Held | undefined {
    const q = this.held
    if (q === undefined) return undefined
    for (const h of q) if (h !== skip) return h
    return undefined
  }

  /** The features are here (or will not be waited for any longer). */
  private featuresArrived (): void {
    this.flags &= ~Flag.FeaturesDue
    if (this.held !== undefined) for (const h of this.held) h.featuresBy = 0
  }

  /**
   * The wait deadline of the oldest held request passed (XEP-0124 §8 `wait`), or the time a
   * response waits for the stream features (XEP-0206 §4, §5).
   */
  onWaitDeadline (): void {
    if (this.creation !== undefined) {
      // While opening, the wait deadline is the open deadline: the server never answered.
      if (this.phase === Phase.Opening) { this.end('remote-connection-failed', 'open-timeout'); return }
      // The features did not come within featuresTimeout: answer without them.
      this.featuresArrived()
      this.answerCreation()
      return
    }
    const waiter = this.featuresWaiter()
    if (waiter !== undefined && this.host.now() >= waiter.featuresBy) {
      this.featuresArrived()
      this.respond(waiter, false)
    } else {
      // The oldest request's wait is over (a restart still waiting for its features is not: its
      // own bound is featuresTimeout).
      const oldest = this.oldestExcept(waiter)
      if (oldest !== undefined) this.respond(oldest, false)
    }
    this.flush()
  }

  /** XEP-0124 §10: no request for longer than the inactivity period: the client is gone. */
  onInactivity (): void {
    if (this.held !== undefined) return
    if (this.phase === Phase.Ended) { this.host.release(this); return }
    this.end(undefined, 'inactivity')
  }

  private normalInactivity (): number {
    const o = this.host.options
    return this.polling ? o.maxInactivity + o.polling : o.maxInactivity
  }

  /** XEP-0124 §10: a request arrived: the normal inactivity period again, and no clock while held. */
  private stopInactivity (): void {
    this.inactivity = this.normalInactivity()
    this.host.setInactivityDeadline(this, 0)
  }

  private armInactivity (): void {
    this.host.setInactivityDeadline(this, this.host.now() + this.inactivity * 1000)
  }

  /**
   * Answers held request `h`. A request whose connection is already gone (the HTTP side has not
   * told us yet) is dropped as if aborted: nothing is written into it, the payloads stay.
   */
  private respond (h: Held, noPayloads: boolean, extra: BodyAttrs = {}): void {
    unhold(this, h)
    if (h.featuresBy > 0) this.featuresArrived() // answered without them: no longer waited for
    if (!h.reply.open) {
      h.reply.holder = undefined
      if (this.held === undefined) this.armInactivity()
      return
    }
    const payloads = noPayloads ? NONE : this.takePending()
    const attrs: BodyAttrs = { ...extra }
    // XEP-0124 §9.2: ack the highest rid received in order, when it is not this request's own.
    if (this.lastRid !== h.rid) attrs.ack = this.lastRid
    const body = bodyResponse(attrs, payloads)
    if (this.polling) {
      this.flags = payloads.length === 0 ? this.flags | Flag.LastPollAnsweredEmpty : this.flags & ~Flag.LastPollAnsweredEmpty
    }
    if (h.rid > this.lastAnswered) this.lastAnswered = h.rid
    // XEP-0124 §14.3: pause responses are not kept.
    if (!h.pause) remember(this, h.rid, body, this.host.now(), h.key, this.cacheSize())
    this.answer(h.reply, body)
    // XEP-0124 §10: the inactivity clock runs from the moment no request is held.
    if (this.held === undefined) this.armInactivity()
  }

  /** XEP-0124 §14.3: 'requests' responses, or with client acks every unacknowledged one (capped). */
  private cacheSize (): number {
    return this.clientAcks ? this.host.options.maxCachedResponses : this.requests
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
    if (c.rid > this.lastAnswered) this.lastAnswered = c.rid
    remember(this, c.rid, body, this.host.now(), undefined, this.cacheSize())
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

  private answer (reply: Responder, body: string, status = 200): void {
    reply.holder = undefined
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
  private terminate (reply: Responder | undefined): void {
    this.phase = Phase.Ended
    this.endReason = 'terminate'
    this.host.closeStream(this, '')
    // The oldest open request acknowledges the termination (with anything still queued), the
    // others get empty bodies.
    const all = takeAllHeld(this).map(h => h.reply)
    if (reply !== undefined) all.push(reply)
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
      this.dropAhead()
      this.host.release(this)
      return
    }
    const body = terminateResponse(condition, this.takePending())
    const status = condition !== undefined && this.legacy ? legacyStatus(condition) : 200
    if (this.creation !== undefined) { this.answer(this.creation.reply, body, status); this.creation = undefined }
    for (const h of takeAllHeld(this)) this.answer(h.reply, body, status)
    if (reply !== undefined) this.answer(reply, body, status)
    this.dropAhead(body, status)
    this.host.release(this)
  }

  /** A terminal error caused by `reply`'s request (XEP-0124 §17.1, §17.2). */
  private fail (condition: TerminalCondition, reply: Responder | undefined): void {
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
    const oldest = this.held?.[0]
    if (oldest === undefined) {
      // Nobody to tell now: the next request hears it with the payloads still queued (handle),
      // or the inactivity deadline (already running) forgets the session.
      this.host.setWaitDeadline(this, 0)
      this.dropAhead()
      return
    }
    const [first, ...others] = takeAllHeld(this)
    this.answer(first!.reply, terminateResponse(this.endCondition, this.takePending()))
    for (const o of others) this.answer(o.reply, bodyResponse({}))
    this.dropAhead()
    this.host.release(this)
  }

  private dropAhead (body: string = bodyResponse({}), status = 200): void {
    for (const w of takeAllParked(this)) if (w.reply !== undefined) this.answer(w.reply, body, status)
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

/** XEP-0124 §7.2 'ver': the lower of the client's and ours, comparing major then minor as integers. */
export function minVersion (a: string, b: string): string {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  const [amaj = 0, amin = 0] = pa
  const [bmaj = 0, bmin = 0] = pb
  if (amaj !== bmaj) return amaj < bmaj ? a : b
  return amin <= bmin ? a : b
}
