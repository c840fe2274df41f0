/**
 * Exit statuses of the `megaphone` command and the one error class that carries them. Every
 * failure is a CliError with a stable `code` (docs/cli.md, DIAGNOSTICS) and the exit status the
 * process ends with; main() is the only place that turns one into an exit.
 */
import { MegaphoneError } from '../errors.ts'

/** docs/cli.md, EXIT STATUS. Distinct values so that scripts can branch on the outcome. */
export const EXIT = {
  OK: 0,
  /** anything not listed below: timeouts, a server error reply, an unreadable passfile */
  FAILURE: 1,
  /** POSIX XBD 12: a syntax error in the arguments; the usage goes to standard error */
  USAGE: 2,
  /** the server refused the jid and password (SASL failure, or the domain is not served) */
  AUTH: 3,
  /** no XMPP session could be opened or kept at the URL */
  UNREACHABLE: 4,
  /** the server bounced the message back (e.g. no such user) */
  REFUSED: 5
} as const

export type ExitStatus = typeof EXIT[keyof typeof EXIT]

export class CliError extends MegaphoneError {
  readonly status: ExitStatus

  constructor (code: string, status: ExitStatus, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'CliError'
    this.status = status
  }
}

/** A syntax error: main() prints the message and the usage, and exits 2. */
export class UsageError extends CliError {
  constructor (message: string) {
    super('CLI_USAGE', EXIT.USAGE, message)
    this.name = 'UsageError'
  }
}

/** The server answered an iq with an error (RFC 6120 §8.3); `condition` is its defined condition. */
export class IqError extends CliError {
  readonly condition: string

  constructor (what: string, condition: string, text: string | undefined) {
    super('CLI_IQ_ERROR', EXIT.FAILURE, `${what}: ${text === undefined ? condition : `${condition} (${text})`}`)
    this.name = 'IqError'
    this.condition = condition
  }
}
