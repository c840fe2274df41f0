/**
 * The edge's Prometheus metrics (prom-client), in a registry of our own: the process may host
 * other code that uses prom-client's global registry, and tests build several edges in one
 * process.
 *
 * Almost every value is read when Prometheus scrapes (`collect`), from counters the managers and
 * the link client keep anyway as plain numbers: a session, request or frame costs nothing more
 * for being measured. The one exception is the request duration histogram, which has to see
 * each request (one `observe` per BOSH response).
 *
 * Names follow the Prometheus conventions (`megaphone_` prefix, `_total` counters, base units
 * `_seconds` and `_bytes`). docs/metrics.md lists each with what it means and the alert worth
 * setting; test/ops/metrics-doc.test.ts keeps the two in step. The process defaults (CPU,
 * memory, handles, GC, event-loop lag) keep prom-client's standard unprefixed names
 * (`process_*`, `nodejs_*`) so that existing Node.js dashboards work on them.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { BoshStats } from '../bosh/manager.ts'
import type { WsStats } from '../ws/manager.ts'
import type { LinkCounters } from '../link/counters.ts'
import type { StatsReply } from '../link/codec/index.ts'
import { announceMetrics, type AnnounceSource } from '../announce/metrics.ts'

/** What the metrics read, all of it already kept by the parts of the edge. */
export interface MetricSources {
  bosh: { readonly stats: BoshStats, readonly size: number, heldRequests: () => number }
  websocket: { readonly stats: WsStats, readonly size: number }
  /** the HTTP front's lean POST path (src/http/lean-post.ts) */
  http: { readonly buffered: number, readonly refused: Readonly<Record<string, number>> }
  /** admission control per client address (src/admission/admission.ts) */
  admission: { readonly refused: Readonly<Record<string, number>>, readonly unauthenticatedTotal: number, readonly addresses: number }
  table: { readonly size: number, readonly capacity: number, readonly loadFactor: number, readonly maxProbeSeen: number, readonly externalBytes: number }
  link: { readonly ready: boolean, counters: () => LinkCounters, stats: () => Promise<StatsReply>, states?: () => Array<{ address: string, up: boolean }> }
  /** true once a graceful stop has begun */
  draining: () => boolean
  /** BOSH requests forwarded to the edge owning their session (src/bosh/forward.ts), when edgePeers is set */
  forwarder?: { readonly forwarded: number, readonly failed: number }
  /** the Announcer API, when it is on (src/announce/metrics.ts) */
  announce?: AnnounceSource
}

export interface EdgeMetrics {
  registry: Registry
  /** One BOSH HTTP response: its status and how long the request was open (seconds). */
  observeBoshRequest: (status: number, seconds: number) => void
  /** Wires the collect-time metrics to the running edge (once, after it is built). */
  attach: (sources: MetricSources) => void
}

/**
 * BOSH requests are long-polls: most are held until the server has something or `wait` passes
 * (60 s by default), so the buckets reach past the longest wait; the low ones show what the
 * edge itself adds to a request answered at once.
 */
export const REQUEST_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]

type Labels = Record<string, string>

/** Sets a counter to absolute values read from a source (prom-client has no Counter.set). */
function setCounter (c: Counter, values: Array<[Labels, number]>): void {
  c.reset()
  for (const [labels, v] of values) c.inc(labels, v)
}

function byLabel (label: string, counts: Record<string, number>, extra: Labels = {}): Array<[Labels, number]> {
  return Object.entries(counts).map(([k, v]) => [{ ...extra, [label]: k }, v])
}

export function createMetrics (o: { defaultMetrics?: boolean } = {}): EdgeMetrics {
  const registry = new Registry()
  if (o.defaultMetrics !== false) collectDefaultMetrics({ register: registry })
  const registers = [registry]
  let src: MetricSources | undefined
  const link = (): LinkCounters | undefined => src?.link.counters()

  const requestDuration = new Histogram({
    name: 'megaphone_bosh_request_duration_seconds',
    help: 'Time from a BOSH HTTP request to its response (held requests included), by HTTP status',
    labelNames: ['status'],
    buckets: REQUEST_DURATION_BUCKETS,
    registers
  })

  // Sessions ---------------------------------------------------------------------------------------
  new Gauge({
    name: 'megaphone_sessions',
    help: 'Live sessions, by transport (bosh, websocket)',
    labelNames: ['transport'],
    registers,
    collect () {
      if (src === undefined) return
      // Each transport counts its own (they share one table).
      this.set({ transport: 'bosh' }, src.bosh.size)
      this.set({ transport: 'websocket' }, src.websocket.size)
    }
  })
  new Gauge({
    name: 'megaphone_bosh_held_requests',
    help: 'BOSH requests held open, waiting for something to answer with (XEP-0124 §8)',
    registers,
    collect () { if (src !== undefined) this.set(src.bosh.heldRequests()) }
  })
  new Counter({
    name: 'megaphone_sessions_opened_total',
    help: 'Sessions opened on the backend, by transport',
    labelNames: ['transport'],
    registers,
    collect () {
      if (src === undefined) return
      setCounter(this, [[{ transport: 'bosh' }, src.bosh.stats.sessionsOpened], [{ transport: 'websocket' }, src.websocket.stats.opened]])
    }
  })
  new Counter({
    name: 'megaphone_sessions_ended_total',
    help: 'Sessions ended, by transport and condition (terminate, inactivity, client-closed, link-lost, shutdown, ...)',
    labelNames: ['transport', 'condition'],
    registers,
    collect () {
      if (src === undefined) return
      setCounter(this, [
        ...byLabel('condition', src.bosh.stats.sessionsEnded, { transport: 'bosh' }),
        ...byLabel('condition', src.websocket.stats.ended, { transport: 'websocket' })
      ])
    }
  })
  new Counter({
    name: 'megaphone_bosh_requests_total',
    help: 'BOSH request bodies read by the session manager, by outcome (created, ok, or the terminal condition of a refusal)',
    labelNames: ['outcome'],
    registers,
    collect () { if (src !== undefined) setCounter(this, byLabel('outcome', src.bosh.stats.requests)) }
  })
  new Counter({
    name: 'megaphone_websocket_refused_total',
    help: 'WebSockets refused after the upgrade, by reason (session-table-full, shutdown)',
    labelNames: ['reason'],
    registers,
    collect () { if (src !== undefined) setCounter(this, byLabel('reason', src.websocket.stats.refused)) }
  })
  new Counter({
    name: 'megaphone_websocket_messages_total',
    help: 'WebSocket messages, by direction (in: from clients, out: to clients)',
    labelNames: ['direction'],
    registers,
    collect () {
      if (src === undefined) return
      setCounter(this, [[{ direction: 'in' }, src.websocket.stats.messagesIn], [{ direction: 'out' }, src.websocket.stats.messagesOut]])
    }
  })
  new Gauge({
    name: 'megaphone_http_buffered_body_bytes',
    help: 'Bytes held for BOSH request bodies not yet complete, all requests together (at most maxBufferedBodyBytes)',
    registers,
    collect () { if (src !== undefined) this.set(src.http.buffered) }
  })
  new Counter({
    name: 'megaphone_http_refused_total',
    help: 'BOSH requests the HTTP front answered without reading them whole, by reason (too-large: over maxBodyBytes, 403; busy: over maxBufferedBodyBytes, 503; internal: 500)',
    labelNames: ['reason'],
    registers,
    collect () { if (src !== undefined) setCounter(this, byLabel('reason', src.http.refused)) }
  })
  new Counter({
    name: 'megaphone_admission_refused_total',
    help: 'Sessions, connections and requests refused by admission control, by the limit that refused them',
    labelNames: ['limit'],
    registers,
    collect () { if (src !== undefined) setCounter(this, byLabel('limit', src.admission.refused)) }
  })
  new Gauge({
    name: 'megaphone_admission_unauthenticated_sessions',
    help: 'Sessions (both transports) not yet authenticated, counted by admission control (exempt addresses not included)',
    registers,
    collect () { if (src !== undefined) this.set(src.admission.unauthenticatedTotal) }
  })
  new Gauge({
    name: 'megaphone_admission_addresses',
    help: 'Client addresses admission control tracks now (at most admissionAddresses)',
    registers,
    collect () { if (src !== undefined) this.set(src.admission.addresses) }
  })
  new Gauge({
    name: 'megaphone_draining',
    help: '1 while a graceful stop is under way (no new sessions), else 0',
    registers,
    collect () { if (src !== undefined) this.set(src.draining() ? 1 : 0) }
  })

  // Session table ----------------------------------------------------------------------------------
  const tableGauge = (name: string, help: string, read: (t: MetricSources['table']) => number): void => {
    new Gauge({ name, help, registers, collect () { if (src !== undefined) this.set(read(src.table)) } })
  }
  tableGauge('megaphone_session_table_sessions', 'Rows in use in the session table (both transports)', t => t.size)
  tableGauge('megaphone_session_table_capacity', 'Sessions the table holds at most (maxSessions)', t => t.capacity)
  tableGauge('megaphone_session_table_load_factor', 'Used slots over slots of the open-addressed index (at most 0.5 by design)', t => t.loadFactor)
  tableGauge('megaphone_session_table_longest_probe', 'Longest probe (slots examined) any insert has needed, high-water mark', t => t.maxProbeSeen)
  tableGauge('megaphone_session_table_bytes', 'Bytes of typed arrays the table reserved at start (outside the JS heap)', t => t.externalBytes)

  // Link ---------------------------------------------------------------------------------------------
  new Gauge({
    name: 'megaphone_link_up',
    help: '1 when the link to ejabberd is up and authenticated (with several links, --links: when at least one is), else 0',
    registers,
    collect () { if (src !== undefined) this.set(src.link.ready ? 1 : 0) }
  })
  new Counter({
    name: 'megaphone_bosh_forwarded_total',
    help: 'BOSH requests for a session of another edge of the deployment, forwarded to it (--edge-peers)',
    registers,
    collect () { const f = src?.forwarder; if (f !== undefined) setCounter(this, [[{}, f.forwarded]]) }
  })
  new Counter({
    name: 'megaphone_bosh_forward_failures_total',
    help: 'Forwarded BOSH requests whose owning edge could not be reached or gave no BOSH answer (the client heard remote-connection-failed)',
    registers,
    collect () { const f = src?.forwarder; if (f !== undefined) setCounter(this, [[{}, f.failed]]) }
  })
  new Gauge({
    name: 'megaphone_link_member_up',
    help: 'Each link of the edge (one per mod_megaphone listener, --links), by address: 1 when up and authenticated, else 0',
    labelNames: ['link'],
    registers,
    collect () { for (const l of src?.link.states?.() ?? []) this.set({ link: l.address }, l.up ? 1 : 0) }
  })
  const linkCounter = (name: string, help: string, read: (c: LinkCounters) => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect () {
        const c = link()
        if (c !== undefined) setCounter(this, [[{}, read(c)]])
      }
    })
  }
  linkCounter('megaphone_link_handshakes_total', 'Link handshakes completed (each one after the first is a reconnection)', c => c.handshakes)
  linkCounter('megaphone_link_handshake_failures_total', 'Connect or handshake attempts that failed before AUTH_OK', c => c.handshakeFailures)
  linkCounter('megaphone_link_reconnects_total', 'TCP connect attempts after the first', c => c.reconnects)
  linkCounter('megaphone_link_losses_total', 'Links lost after a completed handshake (every session on it ended)', c => c.linkLosses)
  linkCounter('megaphone_link_protocol_errors_total', 'Link frames skipped or refused: decoder errors, bad frames, wrong direction', c => c.protocolErrors)
  linkCounter('megaphone_link_remote_errors_total', 'ERROR frames received from the backend', c => c.remoteErrors)
  linkCounter('megaphone_link_frames_ignored_total', 'Session frames for connection ids that are no longer open (crossed a CLOSE on the wire)', c => c.framesIgnored)
  const frameCounter = (name: string, help: string, inOf: (c: LinkCounters) => Record<string, number>, outOf: (c: LinkCounters) => Record<string, number>): void => {
    new Counter({
      name,
      help,
      labelNames: ['direction', 'type'],
      registers,
      collect () {
        const c = link()
        if (c === undefined) return
        setCounter(this, [...byLabel('type', inOf(c), { direction: 'in' }), ...byLabel('type', outOf(c), { direction: 'out' })])
      }
    })
  }
  frameCounter('megaphone_link_frames_total', 'Link frames, by direction (in: from ejabberd) and frame type', c => c.framesIn, c => c.framesOut)
  frameCounter('megaphone_link_bytes_total', 'Link frame bytes, by direction and frame type', c => c.bytesIn, c => c.bytesOut)
  const linkGauge = (name: string, help: string, read: (c: LinkCounters) => number): void => {
    new Gauge({ name, help, registers, collect () { const c = link(); if (c !== undefined) this.set(read(c)) } })
  }
  linkGauge('megaphone_link_write_queue_frames', 'Frames waiting in the edge\'s link send queue (the socket refused more)', c => c.queueFrames)
  linkGauge('megaphone_link_write_queue_bytes', 'Bytes waiting in the edge\'s link send queue', c => c.queueBytes)
  linkGauge('megaphone_link_socket_buffered_bytes', 'Bytes in Node\'s socket buffer for the link', c => c.socketBufferedBytes)
  linkGauge('megaphone_link_connections', 'Connection ids open on the link (the edge\'s count; compare megaphone_backend_sessions)', c => c.connections)

  // The backend's own view, asked over the link (STATS_REQUEST, docs/link-protocol.md) ----------------
  let statsFailures = 0
  new Gauge({
    name: 'megaphone_backend_sessions',
    help: 'Sessions as ejabberd counts them, asked over the link at scrape time: scope="link" on this link, scope="node" all c2s sessions of the node',
    labelNames: ['scope'],
    registers,
    async collect () {
      this.reset()
      if (src === undefined || !src.link.ready) return
      try {
        const reply = await src.link.stats()
        this.set({ scope: 'link' }, reply.linkSessions)
        this.set({ scope: 'node' }, reply.nodeSessions)
      } catch {
        // No sample rather than a stale one; the failure is counted below.
        statsFailures++
      }
    }
  })
  new Counter({
    name: 'megaphone_backend_stats_failures_total',
    help: 'Scrapes at which the link was up but ejabberd did not answer STATS_REQUEST (timed out, too many pending)',
    registers,
    collect () { setCounter(this, [[{}, statsFailures]]) }
  })

  // The Announcer's jobs, recipients and refusals, and the module's counts of them.
  announceMetrics(registers, () => src?.announce)

  return {
    registry,
    observeBoshRequest: (status, seconds) => { requestDuration.observe({ status: String(status) }, seconds) },
    attach: s => { src = s }
  }
}
