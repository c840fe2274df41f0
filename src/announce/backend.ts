/**
 * What the API needs of the link: one request, one reply (API_REQUEST / API_REPLY,
 * docs/link-protocol.md). The link client implements it; unit tests give a fake. Failures of the
 * link itself (down, timed out, a backend without the frame type) become the API's errors here,
 * so that the routes know only AnnounceErrors.
 */
import { isMegaphoneError } from '../errors.ts'
import { LINK_API_BAD_REPLY, LINK_API_BUSY, LINK_API_TIMEOUT, LINK_API_UNSUPPORTED } from '../link/api.ts'
import { LINK_SEND_TOO_LARGE } from '../link/errors.ts'
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
 * The API's error for a failed request (the link client's apiRequest rejects with these codes,
 * src/link/api.ts). Any other link code means the link is not there for the request.
 */
export function requestFailed (err: unknown): AnnounceError {
  if (err instanceof AnnounceError) return err
  const code = isMegaphoneError(err) ? err.code : ''
  const message = err instanceof Error ? err.message : String(err)
  switch (code) {
    case LINK_API_UNSUPPORTED:
      return new AnnounceError('ANNOUNCE_UNSUPPORTED', `the server's module does not implement the Announcer API (${message})`, { cause: err })
    case LINK_API_TIMEOUT:
      return new AnnounceError('ANNOUNCE_TIMEOUT', `no answer from the server's module in time (${message})`, { cause: err })
    case LINK_API_BUSY:
      // Requests are answered in milliseconds: this many waiting means callers should slow down.
      return new AnnounceError('ANNOUNCE_TOO_MANY_JOBS', `too many API requests waiting for the server's module (${message})`, { cause: err })
    case LINK_SEND_TOO_LARGE:
      return new AnnounceError('ANNOUNCE_TOO_LARGE', `the request does not fit in one link frame (${message})`, { cause: err })
    case LINK_API_BAD_REPLY:
      return new AnnounceError('ANNOUNCE_BACKEND_ERROR', `the server's module answered with something that is not a JSON object (${message})`, { cause: err })
  }
  if (code.startsWith('LINK_')) return new AnnounceError('ANNOUNCE_LINK_DOWN', `no link to the server (${message})`, { cause: err })
  return new AnnounceError('ANNOUNCE_BACKEND_ERROR', `the request failed: ${message}`, { cause: err })
}
