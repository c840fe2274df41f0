/**
 * The Announcer API, built from the configuration for the edge (src/run-edge.ts): undefined when
 * no token is configured (the API is off), else the routes' state for the admin server and the
 * source of its metrics, over the link client's API requests.
 */
import type { Config } from '../config/load.ts'
import type { Logger } from '../log.ts'
import type { ApiJson } from '../link/api.ts'
import { announceOptions } from './options.ts'
import { Announcer } from './service.ts'
import type { AnnounceApi } from './routes.ts'
import type { AnnounceSource } from './metrics.ts'

export { API_PREFIX, type AnnounceApi } from './routes.ts'

/** What the API needs of the link client (LinkClient.apiRequest). */
export interface ApiLink {
  apiRequest: (json: object, timeoutMs: number) => Promise<ApiJson>
}

export function createAnnounceApi (config: Config, link: ApiLink, log: Logger): { api: AnnounceApi, source: AnnounceSource } | undefined {
  if (config.apiToken === '') return undefined
  const options = announceOptions(config)
  const announcer = new Announcer({ request: async (json, timeoutMs) => await link.apiRequest(json, timeoutMs) }, options.timeoutMs)
  const api: AnnounceApi = {
    options,
    announcer,
    // One line per job: jobs are few (each reaches many), and the operator wants to know who got what.
    started: (req, reply) => { log.info({ job: reply.job, target: req.target, room: req.room, recipients: reply.recipients }, 'announcement started') }
  }
  return { api, source: { counters: announcer.counters, stats: async () => await announcer.stats() } }
}
