/**
 * The Announcer's Prometheus metrics (docs/metrics.md, "Announcer"), registered by
 * createMetrics (src/metrics/metrics.ts) with the others. The edge's own counts (jobs started,
 * their recipients, refusals) are read from the Announcer at scrape time; the module's counts
 * (delivered, stored offline, failed, jobs running) are asked of mod_megaphone with the `stats`
 * op, one request per scrape shared by the series that show it.
 */
import { Counter, Gauge, type Registry } from 'prom-client'
import type { AnnounceCounters } from './service.ts'
import type { StatsReply } from './contract.ts'

export interface AnnounceSource {
  readonly counters: AnnounceCounters
  /** the module's counters (the `stats` op); rejects when the link is down or the module lacks it */
  stats: () => Promise<StatsReply>
}

/** One scrape asks the module once: the series share the reply for this long (ms). */
const SHARE_MS = 1000

export function announceMetrics (registers: Registry[], source: () => AnnounceSource | undefined): void {
  let asked: { at: number, reply: Promise<StatsReply | undefined> } | undefined
  const moduleStats = async (): Promise<StatsReply | undefined> => {
    const src = source()
    if (src === undefined) return undefined
    const now = performance.now()
    if (asked === undefined || now - asked.at > SHARE_MS) {
      // No sample rather than a stale one when the module cannot answer.
      asked = { at: now, reply: src.stats().catch(() => undefined) }
    }
    return await asked.reply
  }

  new Counter({
    name: 'megaphone_announce_jobs_started_total',
    help: 'Announcement jobs started through the API, by target (users, room, online)',
    labelNames: ['target'],
    registers,
    collect () {
      const src = source()
      if (src === undefined) return
      this.reset()
      for (const [target, n] of Object.entries(src.counters.jobs)) this.inc({ target }, n)
    }
  })
  new Counter({
    name: 'megaphone_announce_recipients_total',
    help: 'Recipients of the announcement jobs started through the API (as the module counted them at the start), by target',
    labelNames: ['target'],
    registers,
    collect () {
      const src = source()
      if (src === undefined) return
      this.reset()
      for (const [target, n] of Object.entries(src.counters.recipients)) this.inc({ target }, n)
    }
  })
  new Counter({
    name: 'megaphone_announce_errors_total',
    help: 'Announcer API calls answered with an error, by code (ANNOUNCE_UNAUTHORIZED, ANNOUNCE_TOO_MANY_JOBS, ...)',
    labelNames: ['code'],
    registers,
    collect () {
      const src = source()
      if (src === undefined) return
      this.reset()
      for (const [code, n] of Object.entries(src.counters.refused)) this.inc({ code }, n)
    }
  })
  new Gauge({
    name: 'megaphone_announce_module_jobs_running',
    help: 'Announcement jobs running in mod_megaphone (cluster-wide), asked over the link at scrape time',
    registers,
    async collect () {
      this.reset()
      const s = await moduleStats()
      if (s !== undefined) this.set(s.jobs_running)
    }
  })
  new Counter({
    name: 'megaphone_announce_module_messages_total',
    help: 'Announcement recipients as mod_megaphone counted them over the jobs it keeps, by outcome (delivered, offline, skipped, failed), asked over the link at scrape time',
    labelNames: ['outcome'],
    registers,
    async collect () {
      this.reset()
      const s = await moduleStats()
      if (s === undefined) return
      this.inc({ outcome: 'delivered' }, s.delivered)
      this.inc({ outcome: 'offline' }, s.offline)
      this.inc({ outcome: 'failed' }, s.failed)
      if (s.skipped !== undefined) this.inc({ outcome: 'skipped' }, s.skipped)
    }
  })
  new Counter({
    name: 'megaphone_announce_module_jobs_done_total',
    help: 'Announcement jobs mod_megaphone has finished among those it keeps (announce_retention), asked over the link at scrape time',
    registers,
    async collect () {
      this.reset()
      const s = await moduleStats()
      if (s !== undefined) this.inc(s.jobs_done)
    }
  })
}
