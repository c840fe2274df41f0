/**
 * The BOSH connection manager: finds the session a request belongs to (the session table),
 * creates sessions (XEP-0124 §7), routes link events to them, and keeps their deadlines on one
 * timer wheel. HTTP is not its business: the route hands it a parsed body and a `Responder`.
 */
import { legacyStatus, type TerminalCondition } from './conditions.ts'
import { BOSH_DEFAULTS, type BoshOptions } from './options.ts'
import { readCreation, readRequest, type Attrs } from './request.ts'
import { terminateResponse } from './response.ts'
import { BoshSession, type Responder, type SessionHost } from './session.ts'
import { FULL, type SessionRegistry } from '../table/index.ts'
import type { Backend } from '../backend/backend.ts'
import type { Admission } from '../admission/admission.ts'
import { isMegaphoneError } from '../errors.ts'

/** The deadlines the manager needs: one timer wheel, timers named by integers. */
export interface Deadlines {
  schedule (id: number, at: number): void
  cancel (id: number): void
}

/** Counters read by metrics; plain numbers so the hot path stays cheap. */
export interface BoshStats {
  sessionsOpened: number
  sessionsEnded: Record<string, number>
  requests: Record<string, number>
}

/**
 * Observers of session starts and ends (logs). Called once per session at each end, never per
 * request; `connId` is the link's connection id (0 when the link never gave one).
 */
export interface BoshSessionEvents {
  opened? (sid: string, connId: number): void
  ended? (sid: string, connId: number, reason: string): void
}

// Two deadlines per session, named row * 2 + kind so that no timer needs an object.
const WAIT = 0
const INACTIVITY = 1

const XML = 'text/xml; charset=utf-8'

export interface ClientAddress { ip: string, port: number }

export class BoshManager implements SessionHost {
  readonly options: BoshOptions
  readonly registry: SessionRegistry
  /** sessions by table row */
  private readonly sessions: (BoshSession | undefined)[] = []
  private deadlines: Deadlines
  readonly stats: BoshStats = { sessionsOpened: 0, sessionsEnded: {}, requests: {} }
  private accepting = true
  events: BoshSessionEvents = {}
  /** the row and connection id of the stream closed last (see closeStream) */
  private readonly closed = { row: -1, connId: 0 }

  /** BOSH sessions live now (the shared table's size counts WebSocket sessions too) */
  private live = 0
  /** admission control per client address (src/admission/), set by mountBosh; none: no limits */
  admission: Admission | undefined = undefined
  /** the client address of each session admitted and not yet authenticated, by row */
  private readonly unauthenticated = new Map<number, string>()

  constructor (
    private readonly backend: Backend,
    /** the session table, shared with the WebSocket transport (src/edge.ts) */
    registry: SessionRegistry,
    options: Partial<BoshOptions> = {},
    /** timer ids 0..2*capacity-1: see WAIT and INACTIVITY */
    deadlines: Deadlines,
    readonly now: () => number = Date.now
  ) {
    this.options = { ...BOSH_DEFAULTS, ...options }
    this.registry = registry
    this.deadlines = deadlines
  }

  /** BOSH sessions live now. */
  get size (): number { return this.live }

  /** True once shutdown() has run: new sessions hear system-shutdown. */
  get draining (): boolean { return !this.accepting }

  /** Held requests across all sessions (for metrics; walks the sessions). */
  heldRequests (): number {
    let n = 0
    for (const s of this.sessions) if (s !== undefined) n += s.heldCount
    return n
  }

  /** Deadlines fire here: `id` is row * 2 + kind. */
  fire (id: number): void {
    const s = this.sessions[id >>> 1]
    if (s === undefined) return
    if ((id & 1) === WAIT) s.onWaitDeadline()
    else s.onInactivity()
  }

  /**
   * One request body, already checked for well-formedness (XEP-0124 §6). `attrs` are the
   * body's attributes as written; `payloads` its children, standalone.
   */
  /** Whether `sid` names a live session of this manager. */
  knows (sid: string): boolean {
    const row = this.registry.find(sid)
    return row >= 0 && this.sessions[row] !== undefined
  }

  handle (attrs: Attrs, payloads: string[], reply: Responder, client: ClientAddress): void {
    const sid = attrs.sid
    if (sid === undefined) { this.create(attrs, payloads, reply, client); return }
    const row = this.registry.find(sid)
    const s = row >= 0 ? this.sessions[row] : undefined
    if (s === undefined) {
      // XEP-0124 §17.2 item-not-found: an unknown sid. We cannot know whether the client is a
      // legacy one (§17.1); a request that carries 'ver' is answered with a 200, others with 404.
      this.count('unknown-sid')
      this.reject(reply, 'item-not-found', attrs.ver === undefined, XML)
      return
    }
    const req = readRequest(attrs, payloads)
    if (!req.ok) { this.count('bad-request'); s.end('bad-request', 'bad-request', reply); return }
    this.count('ok')
    s.handle(req.value, reply)
  }

  private create (attrs: Attrs, payloads: string[], reply: Responder, client: ClientAddress): void {
    const o = this.options
    const legacy = attrs.ver === undefined
    const c = readCreation(attrs, payloads, { wait: o.maxWait, hold: 1 })
    if (!c.ok) { this.count(c.condition); this.reject(reply, c.condition, legacy, XML); return }
    const p = c.value
    const type = p.content ?? XML
    if (!this.accepting) { this.count('system-shutdown'); this.reject(reply, 'system-shutdown', legacy, type); return }
    // XEP-0124 §17.2 host-unknown: a domain this edge does not serve.
    if (o.domains.length > 0 && !o.domains.includes(p.to)) { this.count('host-unknown'); this.reject(reply, 'host-unknown', legacy, type); return }
    // XEP-0124 §17.2 remote-connection-failed: no link to the server right now.
    if (!this.backend.ready) { this.count('remote-connection-failed'); this.reject(reply, 'remote-connection-failed', legacy, type); return }
    const ip = client.ip
    const admission = this.admission
    // Admission control (docs/security.md): one address may not fill the table with sessions
    // that never log in. XEP-0124 §17.2 policy-violation.
    if (admission !== undefined && admission.admitSession(ip) !== null) { this.count('admission-refused'); this.reject(reply, 'policy-violation', legacy, type); return }
    const row = this.registry.open()
    if (row === FULL) {
      admission?.sessionEnded(ip, false)
      // The table is full: existing sessions are untouched, the newcomer is told why.
      this.count('session-table-full')
      reply.send(200, type, terminateResponse('undefined-condition', ["<text xmlns='urn:xmpp:megaphone'>session table full</text>"]))
      return
    }
    const s = new BoshSession(this, {
      row,
      rid: p.rid,
      wait: p.wait,
      hold: p.hold,
      ver: p.ver,
      contentType: p.content,
      ack: p.ack,
      newkey: p.newkey,
      reply
    })
    this.sessions[row] = s
    this.live++
    // Exempt addresses are not counted: nothing to remember (a million idle loopback sessions in
    // a benchmark would otherwise cost a map entry each).
    if (admission !== undefined && !admission.isExempt(ip)) this.unauthenticated.set(row, ip)
    try {
      s.connId = this.backend.open({ transport: 'bosh', to: p.to, ip, port: client.port, lang: p.lang }, s)
    } catch (err) {
      if (!isMegaphoneError(err)) throw err
      s.end('remote-connection-failed', err.code)
      return
    }
    this.stats.sessionsOpened++
    this.count('created')
    this.events.opened?.(s.sid, s.connId)
    // No server answer within openTimeout: the wait deadline doubles as the open deadline.
    this.setWaitDeadline(s, this.now() + o.openTimeout * 1000)
    // XEP-0206 §5 is silent on payloads in the creation request; XEP-0124 §7.1 allows none.
  }

  private reject (reply: Responder, condition: TerminalCondition, legacy: boolean, type: string): void {
    reply.send(legacy ? legacyStatus(condition) : 200, type, terminateResponse(condition))
  }

  private count (outcome: string): void {
    this.stats.requests[outcome] = (this.stats.requests[outcome] ?? 0) + 1
  }

  // SessionHost ---------------------------------------------------------------------------------

  sidOf (s: BoshSession): string {
    return this.registry.sidOf(s.row)
  }

  sendToServer (s: BoshSession, xml: string): string {
    try {
      this.backend.send(s.connId, xml)
      return ''
    } catch (err) {
      if (isMegaphoneError(err)) return err.code
      throw err
    }
  }

  restartStream (s: BoshSession): boolean {
    try {
      this.backend.restart(s.connId)
      return true
    } catch (err) {
      if (isMegaphoneError(err)) return false
      throw err
    }
  }

  closeStream (s: BoshSession, condition: string): void {
    if (s.connId === 0) return
    const id = s.connId
    s.connId = 0
    // For the `ended` event: a session ending closes its stream just before release().
    this.closed.row = s.row
    this.closed.connId = id
    try { this.backend.close(id, condition) } catch (err) { if (!isMegaphoneError(err)) throw err }
  }

  setWaitDeadline (s: BoshSession, at: number): void {
    if (at === 0) this.deadlines.cancel(s.row * 2 + WAIT)
    else this.deadlines.schedule(s.row * 2 + WAIT, at)
  }

  setInactivityDeadline (s: BoshSession, at: number): void {
    if (at === 0) this.deadlines.cancel(s.row * 2 + INACTIVITY)
    else this.deadlines.schedule(s.row * 2 + INACTIVITY, at)
  }

  authenticated (s: BoshSession): void {
    // The session stops counting as unauthenticated for admission control.
    const ip = this.unauthenticated.get(s.row)
    if (ip === undefined) return
    this.unauthenticated.delete(s.row)
    this.admission?.sessionAuthenticated(ip)
  }

  release (s: BoshSession): void {
    if (this.sessions[s.row] !== s) return
    const ip = this.unauthenticated.get(s.row)
    if (ip !== undefined) {
      this.unauthenticated.delete(s.row)
      this.admission?.sessionEnded(ip, false)
    }
    const connId = s.connId !== 0 ? s.connId : this.closed.row === s.row ? this.closed.connId : 0
    this.closed.row = -1 // a later session in this row must not inherit it
    this.closeStream(s, '')
    this.deadlines.cancel(s.row * 2 + WAIT)
    this.deadlines.cancel(s.row * 2 + INACTIVITY)
    // The sid lives in the table only: read it before the row goes.
    const sid = this.events.ended === undefined ? '' : s.sid
    this.sessions[s.row] = undefined
    this.live--
    this.registry.close(s.row)
    const why = s.endReason
    this.stats.sessionsEnded[why] = (this.stats.sessionsEnded[why] ?? 0) + 1
    this.events.ended?.(sid, connId, why)
  }

  /** Graceful drain: no new sessions, and every held request hears system-shutdown (XEP-0124 §17.2). */
  shutdown (): void {
    this.accepting = false
    for (const s of this.sessions) s?.shutdown()
  }

  /** Bodies that could not be parsed at all: the session cannot be known (XEP-0124 §17.1/§17.2). */
  static unparsable (condition: 'bad-request' | 'policy-violation'): { status: number, body: string } {
    return { status: legacyStatus(condition), body: terminateResponse(condition) }
  }
}
