/**
 * Structured logs (pino). One root logger per process; sessions get child loggers with their
 * sid, connection id and transport (`sessionLogger`). Passwords, SASL payloads and message
 * bodies never reach a log line at any level: nothing logs payload bytes, and the redaction list
 * below catches the fields that could carry them if someone adds such a line later
 * (test/ops/metrics-e2e.test.ts logs 200 logins at trace and looks for the password).
 */
import { pino, type DestinationStream, type Logger } from 'pino'

export type { Logger }

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** `destination` defaults to standard output; tests pass a stream to read the lines back. */
export function createLogger (level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { name: 'megaphone-edge' },
    redact: {
      paths: ['secret', 'linkSecret', 'password', 'payload', 'xml', 'body', 'auth', '*.secret', '*.linkSecret', '*.password', '*.payload', '*.xml', '*.body'],
      censor: '[redacted]'
    }
  }
  return destination === undefined ? pino(options) : pino(options, destination)
}

export interface SessionIdentity {
  transport: 'bosh' | 'websocket'
  /** the BOSH sid; WebSocket sessions have none (the link's connection id names them) */
  sid?: string
  /** the link's connection id, where the caller knows it */
  connId?: number
}

/**
 * The child logger of one session, made when a line is about to be written rather than kept per
 * session: a pino child is an object of its own (about a kilobyte with its bindings), which at a
 * million sessions would be a gigabyte for lines that are off at the default level.
 */
export function sessionLogger (log: Logger, id: SessionIdentity): Logger {
  return log.child(id)
}
