/**
 * The API's operations over the backend (start a job, a job's state, the module's counters),
 * with the module's replies narrowed and its error words turned into the API's errors. It also
 * keeps the edge's own counters (jobs started and their recipients by target, refusals by code)
 * that the metrics read at scrape time (src/announce/metrics.ts).
 */
import { AnnounceError, type AnnounceErrorCode } from './errors.ts'
import { requestFailed, type AnnounceBackend } from './backend.ts'
import {
  isAnnounceReply, isErrorReply, isJobStatus, isStatsReply,
  type AnnounceReply, type AnnounceRequest, type AnnounceTarget, type ApiRequest, type JobStatus, type StatsReply
} from './contract.ts'

/** The module's error words (the contract's replies) and what the API answers for each. */
const FROM_MODULE: Readonly<Record<string, AnnounceErrorCode>> = {
  'unknown-room': 'ANNOUNCE_UNKNOWN_ROOM',
  'unknown-job': 'ANNOUNCE_UNKNOWN_JOB',
  'bad-stanza': 'ANNOUNCE_BAD_STANZA',
  'bad-request': 'ANNOUNCE_BAD_REQUEST',
  'too-many-jobs': 'ANNOUNCE_TOO_MANY_JOBS',
  internal: 'ANNOUNCE_BACKEND_ERROR'
}

export interface AnnounceCounters {
  jobs: Record<AnnounceTarget, number>
  recipients: Record<AnnounceTarget, number>
  /** API calls answered with an error, by code */
  refused: Record<string, number>
}

export class Announcer {
  readonly counters: AnnounceCounters = {
    jobs: { users: 0, room: 0, online: 0 },
    recipients: { users: 0, room: 0, online: 0 },
    refused: {}
  }

  constructor (private readonly backend: AnnounceBackend, private readonly timeoutMs: number) {}

  /** Starts a job; resolves when the module knows the recipients (the job then runs on its own). */
  async announce (req: AnnounceRequest): Promise<AnnounceReply> {
    const reply = await this.ask(req, isAnnounceReply)
    this.counters.jobs[req.target]++
    this.counters.recipients[req.target] += reply.recipients
    return reply
  }

  async status (job: string): Promise<JobStatus> {
    return await this.ask({ op: 'status', job }, isJobStatus)
  }

  async stats (): Promise<StatsReply> {
    return await this.ask({ op: 'stats' }, isStatsReply)
  }

  /** Counts an error answered to a caller (metrics: refusals by code). */
  refused (code: string): void {
    this.counters.refused[code] = (this.counters.refused[code] ?? 0) + 1
  }

  private async ask<T> (req: ApiRequest, isReply: (v: unknown) => v is T): Promise<T> {
    let reply: unknown
    try {
      reply = await this.backend.request(req, this.timeoutMs)
    } catch (err) {
      throw requestFailed(err)
    }
    if (isReply(reply)) return reply
    if (isErrorReply(reply)) {
      const code = FROM_MODULE[reply.error] ?? 'ANNOUNCE_BACKEND_ERROR'
      throw new AnnounceError(code, reply.text !== undefined && reply.text !== '' ? reply.text : `mod_megaphone: ${reply.error}`)
    }
    throw new AnnounceError('ANNOUNCE_BACKEND_ERROR', `mod_megaphone answered ${req.op} with something the contract does not have: ${JSON.stringify(reply).slice(0, 200)}`)
  }
}
