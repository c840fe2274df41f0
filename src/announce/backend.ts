/**
 * What the API needs of the link: one request, one reply (API_REQUEST / API_REPLY,
 * docs/link-protocol.md). The link client implements it; unit tests give a fake. Failures of the
 * link itself (down, timed out, a backend without the frame type) become the API's errors here,
 * so that the routes know only AnnounceErrors.
 */
import { isMegaphoneError } from '../errors.ts'
import { AnnounceError } from './errors.ts'
import type { ApiRequest } from './contract.ts'

export interface AnnounceBackend {
  /**
   * Sends one request; resolves with the reply's JSON as it came (the caller narrows it).
   * Rejects with a MegaphoneError when the link is down, the reply does not come within
   * `timeoutMs`, or the backend does not know the frame type.
   */
  request: (json: ApiRequest, timeoutMs: number) => Promise<unknown>
}

/**
 * The API's error for a failed request. Link codes are matched by what they mean, not listed one
 * by one: a new way for the link to be down is still "link down".
 */
export function requestFailed (err: unknown): AnnounceError {
  if (isAnnounceErrorLike(err)) return err
  const code = isMegaphoneError(err) ? err.code : ''
  const message = err instanceof Error ? err.message : String(err)
  if (/UNSUPPORTED|UNKNOWN_TYPE/.test(code)) {
    return new AnnounceError('ANNOUNCE_UNSUPPORTED', `the server's module does not implement the Announcer API (${message})`, { cause: err })
  }
  if (/TIMEOUT/.test(code)) return new AnnounceError('ANNOUNCE_TIMEOUT', `no answer from the server's module in time (${message})`, { cause: err })
  if (/TOO_LARGE/.test(code)) return new AnnounceError('ANNOUNCE_TOO_LARGE', `the request does not fit in one link frame (${message})`, { cause: err })
  if (code.startsWith('LINK_')) return new AnnounceError('ANNOUNCE_LINK_DOWN', `no link to the server (${message})`, { cause: err })
  return new AnnounceError('ANNOUNCE_BACKEND_ERROR', `the request failed: ${message}`, { cause: err })
}

function isAnnounceErrorLike (err: unknown): err is AnnounceError {
  return err instanceof AnnounceError
}
