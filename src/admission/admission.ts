/**
 * Admission control per client address: what one address may hold at once, and how fast it may
 * open sessions, so that one script cannot fill the session table or the edge's sockets while
 * a whole office behind one NAT never notices. Pure: no I/O, no timers; the clock is injected
 * and the callers (the BOSH and WebSocket managers, the HTTP server) report what opens and
 * closes. A refusal is a value (the limit that was hit); the caller answers (429, or the BOSH
 * policy-violation), and counts it here for the metric.
 *
 * Per address (IPv6 per prefix, see `keyOf`):
 *   - sessions created, a token bucket: `sessionBurst` at once, then `sessionRate` per second;
 *   - sessions not yet authenticated (until the stream shows SASL success);
 *   - open connections (HTTP, WebSocket);
 *   - BOSH requests open at once (held, or being read);
 * and, over all addresses, the sessions not yet authenticated.
 *
 * Memory: one small entry per address with something open. An entry whose counts are all 0 is
 * dropped at once when its bucket is full, else it waits in `idle` for `sweep()` (a bucket
 * refills in sessionBurst / sessionRate seconds). At most `addresses` entries: when full, idle
 * entries are dropped whatever their buckets, and if none is idle, a new address is refused.
 *
 *   counts > 0 ───────── all counts 0 ──┬─ bucket full ──> dropped
 *      ^                                └─ bucket not full ──> idle ── sweep(), bucket full ──> dropped
 *      └──────── a new count ───────────────────────────────────┘
 */
import { AddressRanges, parseIp, plainIp } from '../http/client-address.ts'

/** Which limit refused: the metric's `limit` label. */
export type AdmissionLimit =
  | 'session-rate'
  | 'unauthenticated'
  | 'unauthenticated-total'
  | 'connections'
  | 'held-requests'
  | 'addresses'

export const ADMISSION_LIMITS: readonly AdmissionLimit[] = ['session-rate', 'unauthenticated', 'unauthenticated-total', 'connections', 'held-requests', 'addresses']

export interface AdmissionOptions {
  /** sessions one address may create per second, on average; 0: no limit */
  sessionRate: number
  /** sessions one address may create at once before the rate applies */
  sessionBurst: number
  /** sessions of one address not yet authenticated; 0: no limit */
  unauthenticated: number
  /** sessions of all addresses not yet authenticated; 0: no limit */
  unauthenticatedTotal: number
  /** open connections of one address; 0: no limit */
  connections: number
  /** BOSH requests of one address open at once; 0: no limit */
  heldRequests: number
  /** addresses tracked at once */
  addresses: number
  /** IPv6 addresses are counted together per prefix of this many bits */
  ipv6Prefix: number
  /** addresses and CIDR ranges never counted nor refused (loopback by default) */
  exempt: readonly string[]
}

/** The state of one address. A class, so that every entry has one shape. */
class Entry {
  unauthenticated = 0
  connections = 0
  held = 0
  constructor (
    /** session creations left in the bucket (fractional) */
    public tokens: number,
    /** when `tokens` was last brought up to date (ms) */
    public stamp: number
  ) {}

  get busy (): boolean { return this.unauthenticated + this.connections + this.held > 0 }
}

export class Admission {
  readonly options: AdmissionOptions
  /** refusals so far, by limit (read by metrics) */
  readonly refused: Record<AdmissionLimit, number> = { 'session-rate': 0, unauthenticated: 0, 'unauthenticated-total': 0, connections: 0, 'held-requests': 0, addresses: 0 }
  /** sessions not yet authenticated, all addresses */
  unauthenticatedTotal = 0
  /** told of each refusal, with the address as counted (the log: src/admission/refusal-log.ts) */
  onRefused: ((limit: AdmissionLimit, key: string) => void) | undefined = undefined
  private readonly entries = new Map<string, Entry>()
  /** keys of entries with nothing open whose buckets are still refilling */
  private readonly idle = new Set<string>()
  private readonly exempt: AddressRanges
  /**
   * The name each address seen lately is counted under ('' when exempt), so that a request costs
   * one lookup rather than a parse (an IPv6 key takes microseconds to make). Bounded: forgotten
   * all at once when full, which is simpler than an LRU and as bounded.
   */
  private readonly names = new Map<string, string>()

  constructor (options: AdmissionOptions, private readonly now: () => number) {
    this.options = { ...options }
    this.exempt = AddressRanges.of(options.exempt)
  }

  /** True for an address admission control leaves alone: it is neither counted nor refused. */
  isExempt (ip: string): boolean {
    return this.nameOf(ip) === ''
  }

  /** The name `ip` is counted under (keyOf), or '' for an exempt address. */
  private nameOf (ip: string): string {
    let name = this.names.get(ip)
    if (name === undefined) {
      name = !this.exempt.empty && this.exempt.has(ip) ? '' : this.keyOf(ip)
      if (this.names.size >= 10_000) this.names.clear()
      this.names.set(ip, name)
    }
    return name
  }

  /** Addresses tracked now. */
  get addresses (): number { return this.entries.size }

  /**
   * The name an address is counted under: IPv4 as itself (an IPv4-mapped IPv6 address too);
   * IPv6 by its first `ipv6Prefix` bits, since one subscriber holds a whole /64 (RFC 6177).
   */
  keyOf (ip: string): string {
    if (!ip.includes(':')) return ip
    const plain = plainIp(ip)
    if (plain !== ip) return plain
    const b = parseIp(ip)
    if (b === undefined) return ip
    const bits = this.options.ipv6Prefix
    let key = ''
    for (let i = 0; i < 16; i += 2) {
      const kept = Math.max(0, Math.min(16, bits - i * 8))
      const mask = kept === 0 ? 0 : (0xffff << (16 - kept)) & 0xffff
      key += (i === 0 ? '' : ':') + ((((b[i] ?? 0) << 8) | (b[i + 1] ?? 0)) & mask).toString(16)
    }
    return bits >= 128 ? key : `${key}/${bits}`
  }

  /** What one address holds now (for tests and debugging); undefined when it is not tracked. */
  countsOf (ip: string): { unauthenticated: number, connections: number, held: number } | undefined {
    const e = this.entries.get(this.keyOf(ip))
    return e === undefined ? undefined : { unauthenticated: e.unauthenticated, connections: e.connections, held: e.held }
  }

  // Sessions -------------------------------------------------------------------------------------

  /**
   * A new session (BOSH creation request, WebSocket upgrade) from `ip`: null and counted as
   * unauthenticated, or the limit that refuses it (nothing counted but the refusal).
   */
  admitSession (ip: string): AdmissionLimit | null {
    return this.session(ip, true)
  }

  /**
   * Would a session from `ip` be admitted? The limit that refuses it (counted as a refusal), or
   * null, counting nothing: for a WebSocket upgrade, refused with 429 before it happens and
   * admitted (admitSession) once it has.
   */
  sessionRefusal (ip: string): AdmissionLimit | null {
    return this.session(ip, false)
  }

  private session (ip: string, admit: boolean): AdmissionLimit | null {
    const key = this.nameOf(ip)
    if (key === '') return null
    const o = this.options
    let e = this.entries.get(key)
    if (e !== undefined && o.unauthenticated > 0 && e.unauthenticated >= o.unauthenticated) return this.refuse('unauthenticated', key)
    if (o.unauthenticatedTotal > 0 && this.unauthenticatedTotal >= o.unauthenticatedTotal) return this.refuse('unauthenticated-total', key)
    if (e !== undefined && o.sessionRate > 0) {
      this.refill(e)
      if (e.tokens < 1) return this.refuse('session-rate', key)
    }
    if (!admit) return e === undefined && this.entries.size >= o.addresses && this.idle.size === 0 ? this.refuse('addresses', key) : null
    if (e === undefined) {
      const made = this.add(key)
      if (made === null) return this.refuse('addresses', key)
      e = made
    }
    if (o.sessionRate > 0) e.tokens -= 1
    e.unauthenticated++
    this.unauthenticatedTotal++
    this.idle.delete(key)
    return null
  }

  /** The session admitted for `ip` has authenticated: it no longer counts as unauthenticated. */
  sessionAuthenticated (ip: string): void {
    this.unauthenticatedEnds(ip)
  }

  /**
   * The session admitted for `ip` has ended. An authenticated one was already uncounted, so
   * only an unauthenticated one changes anything.
   */
  sessionEnded (ip: string, authenticated: boolean): void {
    if (!authenticated) this.unauthenticatedEnds(ip)
  }

  private unauthenticatedEnds (ip: string): void {
    const key = this.nameOf(ip)
    if (key === '') return
    const e = this.entries.get(key)
    if (e === undefined || e.unauthenticated === 0) return
    e.unauthenticated--
    this.unauthenticatedTotal--
    this.settle(key, e)
  }

  // Connections ----------------------------------------------------------------------------------

  /** A connection from `ip` opens: null and counted, or the limit that refuses it. */
  admitConnection (ip: string): AdmissionLimit | null {
    const key = this.nameOf(ip)
    if (key === '') return null
    const max = this.options.connections
    let e = this.entries.get(key)
    if (e !== undefined && max > 0 && e.connections >= max) return this.refuse('connections', key)
    if (e === undefined) {
      const made = this.add(key)
      if (made === null) return this.refuse('addresses', key)
      e = made
    }
    e.connections++
    this.idle.delete(key)
    return null
  }

  /** A connection admitted for `ip` has closed. */
  connectionClosed (ip: string): void {
    const key = this.nameOf(ip)
    if (key === '') return
    const e = this.entries.get(key)
    if (e === undefined || e.connections === 0) return
    e.connections--
    this.settle(key, e)
  }

  // Requests -------------------------------------------------------------------------------------

  /** A BOSH request from `ip` arrives (to be read, then perhaps held): null and counted, or the limit. */
  admitRequest (ip: string): AdmissionLimit | null {
    const key = this.nameOf(ip)
    if (key === '') return null
    const max = this.options.heldRequests
    let e = this.entries.get(key)
    if (e !== undefined && max > 0 && e.held >= max) return this.refuse('held-requests', key)
    if (e === undefined) {
      const made = this.add(key)
      if (made === null) return this.refuse('addresses', key)
      e = made
    }
    e.held++
    this.idle.delete(key)
    return null
  }

  /** A request admitted for `ip` has been answered, or its connection closed. */
  requestReleased (ip: string): void {
    const key = this.nameOf(ip)
    if (key === '') return
    const e = this.entries.get(key)
    if (e === undefined || e.held === 0) return
    e.held--
    this.settle(key, e)
  }

  // Memory ---------------------------------------------------------------------------------------

  /**
   * Forgets idle addresses whose buckets have refilled (call every few seconds); `all` forgets
   * every idle address, as when the table of addresses is full. Returns how many went.
   */
  sweep (all = false): number {
    let n = 0
    for (const key of this.idle) {
      const e = this.entries.get(key)
      if (e !== undefined && !all && !this.full(e)) continue
      this.idle.delete(key)
      this.entries.delete(key)
      n++
    }
    return n
  }

  /** A new entry with a full bucket, or null when the table of addresses is full even after a sweep. */
  private add (key: string): Entry | null {
    if (this.entries.size >= this.options.addresses && this.sweep(true) === 0) return null
    const e = new Entry(this.options.sessionBurst, this.now())
    this.entries.set(key, e)
    return e
  }

  /** After a count went down: drop the entry, park it as idle, or leave it. */
  private settle (key: string, e: Entry): void {
    if (e.busy) return
    if (this.full(e)) this.entries.delete(key)
    else this.idle.add(key)
  }

  private full (e: Entry): boolean {
    if (this.options.sessionRate <= 0) return true
    this.refill(e)
    return e.tokens >= this.options.sessionBurst
  }

  private refill (e: Entry): void {
    const t = this.now()
    const o = this.options
    if (t > e.stamp) e.tokens = Math.min(o.sessionBurst, e.tokens + (t - e.stamp) * o.sessionRate / 1000)
    e.stamp = t
  }

  private refuse (limit: AdmissionLimit, key: string): AdmissionLimit {
    this.refused[limit]++
    this.onRefused?.(limit, key)
    return limit
  }
}
