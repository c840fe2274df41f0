/**
 * The Announcer API's errors: one class, one stable code per case (docs/errors.md, "Announcer
 * API"), each with the HTTP status it is answered with. The routes' error handler
 * (src/announce/routes.ts) turns any of them into `{"error": CODE, "message": "..."}`.
 */
import { MegaphoneError } from '../errors.ts'

export type AnnounceErrorCode =
  /** the body is not JSON */
  | 'ANNOUNCE_BAD_JSON'
  /** the JSON does not match the endpoint's schema, or a field's value is wrong (a username, a room) */
  | 'ANNOUNCE_BAD_REQUEST'
  /** `message` (the original Announcer's form) is not base64 */
  | 'ANNOUNCE_BAD_BASE64'
  /** `stanza` (or the decoded `message`) is not one well-formed `<message/>` */
  | 'ANNOUNCE_BAD_STANZA'
  /** more usernames than `announceMaxUsernames` */
  | 'ANNOUNCE_TOO_MANY_USERNAMES'
  /** the request would not fit in one link frame */
  | 'ANNOUNCE_TOO_LARGE'
  /** no `Authorization: Bearer` header, or not the configured token */
  | 'ANNOUNCE_UNAUTHORIZED'
  /** the room does not exist on the MUC service */
  | 'ANNOUNCE_UNKNOWN_ROOM'
  /** no job with this id */
  | 'ANNOUNCE_UNKNOWN_JOB'
  /** mod_megaphone runs as many jobs as it allows */
  | 'ANNOUNCE_TOO_MANY_JOBS'
  /** the link to the server is not up */
  | 'ANNOUNCE_LINK_DOWN'
  /** the server's module does not implement the API (Prosody's: ERROR unknown-type) */
  | 'ANNOUNCE_UNSUPPORTED'
  /** mod_megaphone did not answer within `announceTimeout` */
  | 'ANNOUNCE_TIMEOUT'
  /** mod_megaphone answered `internal`, or something the contract does not have */
  | 'ANNOUNCE_BACKEND_ERROR'
  /** no such path under /v1/announce/ */
  | 'ANNOUNCE_NOT_FOUND'
  /** a bug of the edge's: the error handler met an error it does not know */
  | 'ANNOUNCE_INTERNAL'

const STATUS: Record<AnnounceErrorCode, number> = {
  ANNOUNCE_BAD_JSON: 400,
  ANNOUNCE_BAD_REQUEST: 400,
  ANNOUNCE_BAD_BASE64: 400,
  ANNOUNCE_BAD_STANZA: 400,
  ANNOUNCE_TOO_MANY_USERNAMES: 400,
  ANNOUNCE_TOO_LARGE: 400,
  ANNOUNCE_UNAUTHORIZED: 401,
  ANNOUNCE_UNKNOWN_ROOM: 404,
  ANNOUNCE_UNKNOWN_JOB: 404,
  ANNOUNCE_TOO_MANY_JOBS: 429,
  ANNOUNCE_LINK_DOWN: 503,
  ANNOUNCE_UNSUPPORTED: 503,
  ANNOUNCE_TIMEOUT: 504,
  ANNOUNCE_BACKEND_ERROR: 502,
  ANNOUNCE_NOT_FOUND: 404,
  ANNOUNCE_INTERNAL: 500
}

export class AnnounceError extends MegaphoneError {
  /** the HTTP status the API answers with */
  readonly status: number

  constructor (code: AnnounceErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'AnnounceError'
    this.status = STATUS[code]
  }
}

export function isAnnounceError (err: unknown): err is AnnounceError {
  return err instanceof AnnounceError
}
