/**
 * The edge's links, one per mod_megaphone listener (one per ejabberd node of a cluster), as the
 * rest of the edge sees them: one Backend (the pool, src/link/pool.ts) for the transports, and
 * for operators the sums the metrics have always shown plus each link's own state (`/readyz`,
 * `megaphone_link_member_up`). With one link this is that link.
 */
import { LinkClient } from './client.ts'
import type { LinkCounters, FrameCounts } from './counters.ts'
import type { LinkOptions } from './options.ts'
import type { StatsReply } from './codec/index.ts'
import type { ApiJson } from './api.ts'
import { LinkPool } from './pool.ts'
import { linkError, LINK_DOWN } from './errors.ts'

export interface LinkState {
  /** host:port of the listener */
  address: string
  up: boolean
}

export class Links {
  readonly clients: readonly LinkClient[]
  readonly addresses: readonly string[]
  /** what the transports are given: sessions spread over the links that are up */
  readonly pool: LinkPool

  constructor (options: readonly LinkOptions[]) {
    this.clients = options.map(o => new LinkClient(o))
    this.addresses = this.clients.map(c => `${c.options.host.includes(':') ? `[${c.options.host}]` : c.options.host}:${c.options.port}`)
    this.pool = new LinkPool(this.clients)
  }

  start (): void { for (const c of this.clients) c.start() }

  async stop (): Promise<void> { await Promise.all(this.clients.map(async c => { await c.stop() })) }

  /** Sessions can open: at least one link is up. */
  get ready (): boolean { return this.pool.ready }

  states (): LinkState[] {
    return this.clients.map((c, i) => ({ address: this.addresses[i] ?? '', up: c.ready }))
  }

  /** Every link's counters added up (the metrics the edge had with one link keep their meaning). */
  counters (): LinkCounters {
    const all = this.clients.map(c => c.counters())
    const first = all[0]
    if (first === undefined || all.length === 1) return first as LinkCounters
    const sum = (read: (c: LinkCounters) => number): number => all.reduce((n, c) => n + read(c), 0)
    const sumFrames = (read: (c: LinkCounters) => FrameCounts): FrameCounts => {
      const out: FrameCounts = {}
      for (const c of all) for (const [k, v] of Object.entries(read(c))) out[k] = (out[k] ?? 0) + v
      return out
    }
    return {
      framesIn: sumFrames(c => c.framesIn),
      bytesIn: sumFrames(c => c.bytesIn),
      framesOut: sumFrames(c => c.framesOut),
      bytesOut: sumFrames(c => c.bytesOut),
      framesIgnored: sum(c => c.framesIgnored),
      protocolErrors: sum(c => c.protocolErrors),
      remoteErrors: sum(c => c.remoteErrors),
      queueFrames: sum(c => c.queueFrames),
      queueBytes: sum(c => c.queueBytes),
      socketBufferedBytes: sum(c => c.socketBufferedBytes),
      connections: sum(c => c.connections),
      connectionsOpened: sum(c => c.connectionsOpened),
      reconnects: sum(c => c.reconnects),
      handshakes: sum(c => c.handshakes),
      handshakeFailures: sum(c => c.handshakeFailures),
      linkLosses: sum(c => c.linkLosses),
      pingsSent: sum(c => c.pingsSent),
      pongsReceived: sum(c => c.pongsReceived),
      sessionsOverBudget: sum(c => c.sessionsOverBudget)
    }
  }

  /**
   * ejabberd's counts over every link that is up: the sessions on the edge's links added up, and
   * the largest node count (each node of a cluster counts the whole cluster's c2s sessions:
   * ejabberd_sm's session table is replicated, so adding them up would count each one per node).
   */
  async stats (): Promise<StatsReply> {
    const up = this.clients.filter(c => c.ready)
    if (up.length === 0) throw linkError(LINK_DOWN, 'no link to the backend is up')
    const replies = await Promise.all(up.map(async c => await c.stats()))
    return replies.reduce((a, r) => ({ ...r, linkSessions: a.linkSessions + r.linkSessions, nodeSessions: Math.max(a.nodeSessions, r.nodeSessions) }))
  }

  /** An API request (the Announcer) to the first link that is up: a job runs cluster-wide wherever it starts. */
  async apiRequest (json: object, timeoutMs: number): Promise<ApiJson> {
    const c = this.clients.find(c => c.ready) ?? this.clients[0]
    if (c === undefined) throw linkError(LINK_DOWN, 'no link')
    return await c.apiRequest(json, timeoutMs)
  }
}
