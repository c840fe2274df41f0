/**
 * The synopses (docs/cli.md, SYNOPSIS) and the longer --help text. A syntax error prints the
 * synopsis of the utility concerned (or of both) on standard error.
 */

export const PROGRAM = 'megaphone'

/** The service when neither -u nor MEGAPHONE_URL names one: `npm start`'s BOSH endpoint. */
export const DEFAULT_URL = 'http://127.0.0.1:5280/http-bind'

export const SYNOPSIS = {
  send: `${PROGRAM} send [-u url] -j jid [-P passfile] recipient message...`,
  unread: `${PROGRAM} unread [-u url] -j jid [-P passfile] [-c] [-k]`
} as const

export type UtilityName = keyof typeof SYNOPSIS

export function isUtilityName (s: string | undefined): s is UtilityName {
  return s === 'send' || s === 'unread'
}

/** "usage: …" for one utility, or for both. */
export function usage (utility?: UtilityName): string {
  const lines = utility === undefined ? [SYNOPSIS.send, SYNOPSIS.unread] : [SYNOPSIS[utility]]
  return lines.map((l, i) => (i === 0 ? 'usage: ' : '       ') + l).join('\n') + '\n'
}

const DESCRIPTION = {
  send: `send     sends message... (the operands joined by spaces; a lone - reads standard
         input) to recipient, and exits once the server has it`,
  unread: `unread   shows the messages stored for jid while it was offline, oldest first, then
         removes them from offline storage (XEP-0013); never sends presence`
} as const

const OPTIONS = {
  common: `  -u url       the service: a BOSH (http://, https://) or WebSocket (ws://, wss://) URL;
               default $MEGAPHONE_URL, else ${DEFAULT_URL}
  -j jid       the account: user@domain or user@domain/resource
  -P passfile  the password is the first line of passfile; without -P it is
               $MEGAPHONE_PASSWORD, else asked for on the terminal without echo`,
  unread: `  -c           (unread) print only the number of messages; remove nothing
  -k           (unread) keep the messages in offline storage`
} as const

const STATUSES = `exit status: 0 done, 1 other failure, 2 usage error, 3 authentication failed,
4 service unreachable, 5 recipient refused (docs/cli.md)`

/** The text for --help: synopsis, what the utility does, options, exit statuses. */
export function helpText (utility?: UtilityName): string {
  const parts = [
    usage(utility).trimEnd(),
    utility === undefined ? `${DESCRIPTION.send}\n${DESCRIPTION.unread}` : DESCRIPTION[utility],
    utility === 'send' ? OPTIONS.common : `${OPTIONS.common}\n${OPTIONS.unread}`,
    STATUSES
  ]
  return parts.join('\n\n') + '\n'
}
