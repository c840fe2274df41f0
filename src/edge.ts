/**
 * The composition root: builds the pieces both transports share, once, and lets each transport
 * mount itself on them as a peer.
 *
 *              ┌────────────── Edge ──────────────┐
 *   backend ── │ HTTP front (fastify + lean POST) │ ── mountBosh(edge)       src/bosh/edge.ts
 *   (link)     │ session registry (one table)     │ ── mountWebSocket(edge)  src/ws/edge.ts
 *              │ timer wheel (one id range each)  │
 *              └──────────────────────────────────┘
 *
 * Both transports draw rows from one table (one `maxSessions` for both), and their deadlines
 * from one wheel: each asks for a range of timer ids (`timers(count, fire)`) and names its
 * timers inside it, so that no timer needs an object and the ranges never overlap. Nothing
 * here listens: src/run-edge.ts does, tests inject.
 */
import type { FastifyInstance } from 'fastify'
import type { Backend } from './backend/backend.ts'
import { buildHttp, type HttpFront, type HttpOptions } from './http/app.ts'
import { AddressRanges } from './http/client-address.ts'
import { Admission, type AdmissionOptions } from './admission/admission.ts'
import { countConnections } from './admission/connections.ts'
import { ADMISSION_DEFAULTS } from './admission/options.ts'
import { DEFAULTS } from './config/schema.ts'
import { hostMetaRoutes, type HostMetaOptions } from './http/host-meta.ts'
import { chatPageRoutes, type ChatPageOptions } from './chat/page.ts'
import { MegaphoneError } from './errors.ts'
import { SessionRegistry } from './table/index.ts'
import { TimerWheel, type TickSource } from './timers/wheel.ts'

/** Timers of one transport, named 0..count-1 inside its range of the shared wheel. */
export interface Deadlines {
  schedule (id: number, at: number): void
  cancel (id: number): void
}

export interface EdgeOptions {
  /** the session table's capacity, both transports together */
  maxSessions?: number
  /** this edge's id among the edges of one deployment: the suffix of its sids ('' for one edge) */
  edgeId?: string
  /**
   * timer ids each session row may use, all transports together: BOSH takes two per row (wait
   * and inactivity), WebSocket one
   */
  timersPerRow?: number
  /** the wheel's tick (ms) */
  timerResolution?: number
  http?: Partial<HttpOptions>
  /** what XEP-0156 host-meta advertises (both transports' URLs) */
  hostMeta?: Partial<HostMetaOptions>
  /** the chat page at `/` (src/chat/); none when absent */
  chatPage?: ChatPageOptions
  /** admission control per client address (src/admission/), shared by both transports */
  admission?: Partial<AdmissionOptions>
  /** a clock in ms and the tick driving the wheel; tests inject both */
  now?: () => number
  ticks?: TickSource
}

/** Thrown when the transports ask for more timer ids than the wheel was built with. */
export const EDGE_TIMERS = 'EDGE_TIMERS'

export class Edge {
  readonly http: HttpFront
  readonly app: FastifyInstance
  readonly registry: SessionRegistry
  readonly wheel: TimerWheel
  readonly now: () => number
  readonly maxSessions: number
  /** admission control per client address: the HTTP front counts connections and requests, each transport its sessions */
  readonly admission: Admission
  /** the start of each timer range, and who fires it (at most one range per transport) */
  private readonly bases: number[] = []
  private readonly fires: Array<(id: number) => void> = []
  private next = 0

  private constructor (readonly backend: Backend, http: HttpFront, o: EdgeOptions, admission: Admission, now: () => number) {
    this.http = http
    this.app = http.app
    this.now = now
    this.admission = admission
    this.maxSessions = o.maxSessions ?? DEFAULTS.maxSessions
    this.registry = new SessionRegistry({ maxSessions: this.maxSessions, edgeId: o.edgeId ?? '' })
    this.wheel = new TimerWheel({
      capacity: this.maxSessions * (o.timersPerRow ?? 3),
      fire: id => { this.fire(id) },
      resolution: o.timerResolution ?? DEFAULTS.timerResolution,
      now: this.now,
      ...(o.ticks === undefined ? {} : { ticks: o.ticks })
    })
    this.wheel.start()
    // Addresses with nothing open are forgotten once their session buckets have refilled.
    const sweep = setInterval(() => { admission.sweep() }, 5000)
    sweep.unref()
    countConnections(this.app.server, admission, AddressRanges.of(o.http?.trustProxy ?? []))
    this.app.addHook('onClose', (_app, done) => { this.wheel.stop(); clearInterval(sweep); done() })
  }

  static async create (backend: Backend, o: EdgeOptions = {}): Promise<Edge> {
    const now = o.now ?? (() => performance.now())
    const admission = new Admission({ ...ADMISSION_DEFAULTS, ...o.admission }, now)
    const edge = new Edge(backend, await buildHttp({ ...o.http, admission }), o, admission, now)
    hostMetaRoutes(edge.app, { boshPath: '/http-bind', boshUrl: '', websocketUrl: '', ...o.hostMeta })
    if (o.chatPage !== undefined) await chatPageRoutes(edge.app, o.chatPage)
    return edge
  }

  /** A range of `count` timer ids on the shared wheel, fired through `fire(id - start)`. */
  timers (count: number, fire: (id: number) => void): Deadlines {
    const base = this.next
    if (base + count > this.wheel.capacity) {
      throw new MegaphoneError(EDGE_TIMERS, `the timer wheel has ${this.wheel.capacity} ids, ${base + count} asked for (raise timersPerRow)`)
    }
    this.next = base + count
    this.bases.push(base)
    this.fires.push(fire)
    const wheel = this.wheel
    return {
      schedule: (id, at) => { wheel.scheduleAt(base + id, at) },
      cancel: id => { wheel.cancel(base + id) }
    }
  }

  private fire (id: number): void {
    const bases = this.bases
    for (let i = bases.length - 1; i >= 0; i--) {
      const base = bases[i]!
      if (id >= base) { this.fires[i]!(id - base); return }
    }
  }
}
