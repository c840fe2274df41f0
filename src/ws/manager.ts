/**
 * The WebSocket session manager: takes each upgraded connection into the session table it
 * shares with BOSH (so WebSocket sessions count against maxSessions), keeps one timer per
 * session on its own timer wheel, parses messages with one reused scanner, and stops every
 * session on shutdown. HTTP and the upgrade are not its business: src/ws/route.ts hands it
 * sockets.
 */
import type { Backend } from '../backend/backend.ts'
import type { Admission } from '../admission/admission.ts'
import { MegaphoneError } from '../errors.ts'
import { FULL, type SessionRegistry } from '../table/index.ts'
import { XmlScanner } from '../xml/scanner.ts'
import { parseMessage, type WsMessage, type WsMessageError } from './message.ts'
import { WS_DEFAULTS, type WsOptions } from './options.ts'
import { WsSession, type ClientAddress, type WsPeer, type WsSessionHost } from './session.ts'

/** Thrown by the constructor for options that cannot work together. */
export const WS_OPTIONS = 'WS_OPTIONS'

/** The deadlines the manager needs: one timer wheel, one timer per table row. */
export interface WsDeadlines {
  schedule (id: number, at: number): void
  cancel (id: number): void
}

/** Counters read by metrics; plain numbers so the hot path stays cheap. */
export interface WsStats {
  /** WebSockets taken into the table */
  accepted: number
  /** WebSockets refused after the upgrade, by reason (`session-table-full`, `shutdown`) */
  refused: Record<string, number>
  /** streams opened on the backend */
  opened: number
  /** sessions ended, by reason (`client-closed`, `server-closed`, `client-gone`, `client-slow`, ...) */
  ended: Record<string, number>
  messagesIn: number
  messagesOut: number
}

/**
 * Observers of session starts and ends (logs). Called once per session at each end, never per
 * message. A WebSocket session has no sid: its table row names it in the logs.
 */
export interface WsSessionEvents {
  opened? (s: WsSession): void
  ended? (s: WsSession, reason: string): void
}

export class WsManager implements WsSessionHost {
  readonly options: WsOptions
  readonly stats: WsStats = { accepted: 0, refused: {}, opened: 0, ended: {}, messagesIn: 0, messagesOut: 0 }
  accepting = true
  events: WsSessionEvents = {}
  /** sessions by table row; the rows BOSH holds are undefined here */
  private readonly sessions: (WsSession | undefined)[] = []
  private count = 0
  private readonly scanner = new XmlScanner()
  /** admission control per client address (src/admission/), set by mountWebSocket; none: no limits */
  admission: Admission | undefined = undefined
  /** the client address of each session admitted and not yet authenticated, by row */
  private readonly unauthenticated = new Map<number, string>()

  constructor (
    readonly backend: Backend,
    /** the table BOSH uses too (BoshManager.registry) */
    readonly registry: SessionRegistry,
    options: Partial<WsOptions>,
    private readonly deadlines: WsDeadlines,
    readonly now: () => number = () => performance.now()
  ) {
    this.options = { ...WS_DEFAULTS, ...options }
    const o = this.options
    if (o.pingInterval > 0 && o.idleTimeout > 0 && o.idleTimeout <= o.pingInterval) {
      // The client's pong is what keeps it from going idle: with no ping in time, a quiet but
      // present client would be dropped.
      throw new MegaphoneError(WS_OPTIONS, `idleTimeout (${o.idleTimeout} s) must be longer than pingInterval (${o.pingInterval} s)`)
    }
  }

  /** WebSocket sessions held now (the shared table's size counts BOSH sessions too). */
  get size (): number { return this.count }

  /** A WebSocket that completed its upgrade with the `xmpp` subprotocol. */
  accept (peer: WsPeer, client: ClientAddress): WsSession | undefined {
    if (!this.accepting) {
      this.refuse('shutdown')
      peer.close(1001) // RFC 6455 §7.4.1: going away
      return undefined
    }
    const admission = this.admission
    // The upgrade was checked (src/ws/route.ts answers 429 before it); another upgrade from the
    // same address may have taken the last place meanwhile: RFC 6455 §7.4.1 1008 policy violation.
    if (admission !== undefined && admission.admitSession(client.ip) !== null) {
      this.refuse('admission')
      peer.close(1008, 'too many sessions from this address')
      return undefined
    }
    const row = this.registry.open()
    if (row === FULL) {
      admission?.sessionEnded(client.ip, false)
      // The table is full: existing sessions are untouched; the newcomer is told to come back
      // later (1013 Try Again Later, IANA WebSocket close code registry).
      this.refuse('session-table-full')
      peer.close(1013, 'session table full')
      return undefined
    }
    const s = new WsSession(this, peer, row, client)
    this.sessions[row] = s
    // Exempt addresses are not counted: nothing to remember.
    if (admission !== undefined && !admission.isExempt(client.ip)) this.unauthenticated.set(row, client.ip)
    this.count++
    this.stats.accepted++
    this.events.opened?.(s)
    return s
  }

  /** The wheel calls here: the timer id is the row. */
  fire (row: number): void {
    this.sessions[row]?.onDeadline(this.now())
  }

  /** Every session hears that the edge stops (RFC 7395 §3.6.1 see-other-uri where configured). */
  shutdown (): void {
    this.accepting = false
    for (const s of this.sessions) s?.shutdown(this.options.seeOtherUri)
  }

  // WsSessionHost --------------------------------------------------------------------------------

  parse (text: string): WsMessage | WsMessageError {
    return parseMessage(text, { maxDepth: this.options.maxDepth }, this.scanner)
  }

  setDeadline (s: WsSession, at: number): void {
    if (at === 0) this.deadlines.cancel(s.row)
    else this.deadlines.schedule(s.row, at)
  }

  authenticated (s: WsSession): void {
    const ip = this.unauthenticated.get(s.row)
    if (ip === undefined) return
    this.unauthenticated.delete(s.row)
    this.admission?.sessionAuthenticated(ip)
  }

  release (s: WsSession): void {
    if (this.sessions[s.row] !== s) return
    const ip = this.unauthenticated.get(s.row)
    if (ip !== undefined) {
      this.unauthenticated.delete(s.row)
      this.admission?.sessionEnded(ip, false)
    }
    this.deadlines.cancel(s.row)
    this.sessions[s.row] = undefined
    this.registry.close(s.row)
    this.count--
    const why = s.endReason
    this.stats.ended[why] = (this.stats.ended[why] ?? 0) + 1
    this.events.ended?.(s, why)
  }

  counted (what: 'opened' | 'in' | 'out'): void {
    if (what === 'in') this.stats.messagesIn++
    else if (what === 'out') this.stats.messagesOut++
    else this.stats.opened++
  }

  private refuse (why: string): void {
    this.stats.refused[why] = (this.stats.refused[why] ?? 0) + 1
  }
}
