/**
 * Structured logs (pino). One root logger per process; sessions get child loggers with their
 * sid and connection id. Passwords, SASL payloads and message bodies never reach a log line at
 * any level: nothing logs payload bytes, and the redaction list below catches the fields that
 * could carry them if someone adds such a line later.
 */
import { pino, type Logger } from 'pino'

export type { Logger }

export function createLogger (level: string): Logger {
  return pino({
    level,
    base: { name: 'megaphone-edge' },
    redact: { paths: ['secret', 'linkSecret', 'password', 'payload', 'xml', 'body', '*.secret', '*.linkSecret', '*.password'], censor: '[redacted]' }
  })
}
