/**
 * The JSON the edge and mod_megaphone exchange in API_REQUEST / API_REPLY frames
 * (docs/link-protocol.md; /work/notes/announce-contract.md fixed it): the types, and guards that
 * narrow the module's replies from `unknown`.
 */

export type AnnounceTarget = 'users' | 'room' | 'online'

/** Plain text (the module builds the headline), or a complete `<message/>` (`to` set per recipient). */
export type ContractMessage =
  | { body: string }
  /** template: every `%s` is replaced by the recipient's username (the original Announcer's format) */
  | { stanza: string, template: boolean }

export interface AnnounceRequest {
  op: 'announce'
  target: AnnounceTarget
  /** target users: local parts, or bare JIDs of another domain the edge serves */
  usernames?: string[]
  /** target room: a full room JID */
  room?: string
  /** target users: offline users get it from offline storage (true) or are skipped (false) */
  persist?: boolean
  message: ContractMessage
  /** the JID messages come from */
  from: string
  /** recipients per second */
  rate: number
}

export interface StatusRequest { op: 'status', job: string }
export interface StatsRequest { op: 'stats' }
export type ApiRequest = AnnounceRequest | StatusRequest | StatsRequest

/** The module's error words (contract "Reply" of each op). */
export type ContractError = 'unknown-room' | 'bad-stanza' | 'too-many-jobs' | 'bad-request' | 'internal' | 'unknown-job'

export interface AnnounceReply { ok: true, job: string, recipients: number }

export interface JobStatus {
  ok: true
  job: string
  state: 'running' | 'done' | 'failed'
  target: AnnounceTarget
  recipients: number
  delivered: number
  offline: number
  skipped: number
  failed: number
  /** recipients per second so far */
  rate: number
  /** ISO-8601 */
  started: string
  ended: string | null
}

export interface StatsReply {
  ok: true
  jobs_running: number
  jobs_done: number
  recipients: number
  delivered: number
  offline: number
  failed: number
  /** mod_megaphone (ejabberd) also sends it; not in the contract's list */
  skipped?: number
}

export interface ErrorReply { ok: false, error: string, text?: string }

type Obj = Record<string, unknown>

function isObject (v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isCount (v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0
}

export function isErrorReply (v: unknown): v is ErrorReply {
  return isObject(v) && v.ok === false && typeof v.error === 'string' && (v.text === undefined || typeof v.text === 'string')
}

export function isAnnounceReply (v: unknown): v is AnnounceReply {
  return isObject(v) && v.ok === true && typeof v.job === 'string' && isCount(v.recipients)
}

const STATES: ReadonlySet<unknown> = new Set(['running', 'done', 'failed'])
const TARGETS: ReadonlySet<unknown> = new Set(['users', 'room', 'online'])

export function isJobStatus (v: unknown): v is JobStatus {
  return isObject(v) && v.ok === true && typeof v.job === 'string' && STATES.has(v.state) && TARGETS.has(v.target) &&
    isCount(v.recipients) && isCount(v.delivered) && isCount(v.offline) && isCount(v.skipped) && isCount(v.failed) &&
    typeof v.rate === 'number' && Number.isFinite(v.rate) && typeof v.started === 'string' && (v.ended === null || typeof v.ended === 'string')
}

export function isStatsReply (v: unknown): v is StatsReply {
  return isObject(v) && v.ok === true && isCount(v.jobs_running) && isCount(v.jobs_done) && isCount(v.recipients) &&
    isCount(v.delivered) && isCount(v.offline) && isCount(v.failed) && (v.skipped === undefined || isCount(v.skipped))
}
