/**
 * The one error base class of the project. Every error we raise carries a stable `code`
 * (documented in docs/errors.md) so that callers, logs and metrics can branch on it without
 * parsing messages; the original failure, if any, travels as `cause`.
 */
export class MegaphoneError extends Error {
  readonly code: string

  constructor (code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'MegaphoneError'
  }
}

/** Narrowing guard for `unknown` values caught at a boundary. */
export function isMegaphoneError (err: unknown): err is MegaphoneError {
  return err instanceof MegaphoneError
}
