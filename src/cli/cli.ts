/**
 * `megaphone <utility> [options] [operands]`: the arguments, the password, one XMPP session, the
 * utility, and the exit status. Everything the process touches comes in through `Io`; main.ts
 * supplies the real streams, environment and terminal.
 */
import { getopt, optionArgument, type Parsed } from './args.ts'
import { CliError, EXIT, UsageError, type ExitStatus } from './errors.ts'
import { resolvePassword } from './password.ts'
import { escapedBodyBytes, MAX_BODY_BYTES, send } from './send.ts'
import { XmppSession } from './session.ts'
import { unread } from './unread.ts'
import { DEFAULT_URL, helpText, isUtilityName, PROGRAM, usage, type UtilityName } from './usage.ts'

export interface Io {
  env: NodeJS.ProcessEnv
  stdout: (s: string) => void
  stderr: (s: string) => void
  /** all of standard input as UTF-8; rejects (CLI_MESSAGE_TOO_LONG) past maxBytes */
  readStdin: (maxBytes: number) => Promise<string>
  /** asks for the password without echo */
  prompt: (question: string) => Promise<string>
}

/** getopt() option strings (args.ts) */
const OPTSTRING: Record<UtilityName, string> = { send: 'u:j:P:', unread: 'u:j:P:ck' }

/** RFC 7622 in outline: localpart@domainpart[/resourcepart]; the server checks the rest. */
const ACCOUNT_JID = /^[^@/\s]+@[^@/\s]+(\/.+)?$/
const ANY_JID = /^([^@/\s]+@)?[^@/\s]+(\/.+)?$/

/** Runs the command; resolves with the exit status. Never throws. */
export async function run (argv: readonly string[], io: Io): Promise<ExitStatus> {
  const [first, ...rest] = argv
  let utility: UtilityName | undefined
  try {
    if (first === '--help') {
      io.stdout(helpText())
      return EXIT.OK
    }
    if (first === undefined) throw new UsageError('no utility given')
    if (!isUtilityName(first)) throw new UsageError(first.startsWith('-') ? `the utility (send or unread) comes before its options, not ${first}` : `unknown utility: ${first}`)
    utility = first
    const parsed = getopt(rest, OPTSTRING[utility])
    if (parsed.help) {
      io.stdout(helpText(utility))
      return EXIT.OK
    }
    const common = commonOptions(parsed, io.env)
    if (utility === 'send') {
      const [recipient, ...words] = parsed.operands
      if (recipient === undefined || words.length === 0) throw new UsageError('a recipient and a message are required')
      if (!ANY_JID.test(recipient)) throw new UsageError(`not a JID: ${JSON.stringify(recipient)}`)
      const body = words.length === 1 && words[0] === '-' ? stripNewline(await io.readStdin(MAX_BODY_BYTES)) : words.join(' ')
      if (body === '') throw new CliError('CLI_EMPTY_MESSAGE', EXIT.FAILURE, 'the message is empty')
      if (escapedBodyBytes(body) > MAX_BODY_BYTES) throw new CliError('CLI_MESSAGE_TOO_LONG', EXIT.FAILURE, `the message is longer than ${MAX_BODY_BYTES} bytes`)
      await withSession(common, io, async session => { await send(session, recipient, body) })
    } else {
      if (parsed.operands.length > 0) throw new UsageError(`unexpected operand: ${JSON.stringify(parsed.operands[0])}`)
      const countOnly = parsed.options.has('c')
      const keep = parsed.options.has('k')
      await withSession(common, io, async session => { await unread(session, { countOnly, keep }, io.stdout) })
    }
    return EXIT.OK
  } catch (err) {
    const name = utility === undefined ? PROGRAM : `${PROGRAM} ${utility}`
    if (err instanceof UsageError) {
      io.stderr(`${name}: ${err.message}\n${usage(utility)}`)
      return err.status
    }
    if (err instanceof CliError) {
      io.stderr(`${name}: ${err.message}\n`)
      return err.status
    }
    io.stderr(`${name}: unexpected error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    return EXIT.FAILURE
  }
}

interface CommonOptions {
  url: string
  jid: string
  passfile: string | undefined
}

function commonOptions (parsed: Parsed, env: NodeJS.ProcessEnv): CommonOptions {
  const jid = optionArgument(parsed, 'j')
  if (jid === undefined) throw new UsageError('-j jid is required')
  if (!ACCOUNT_JID.test(jid)) throw new UsageError(`-j: not an account JID (user@domain): ${JSON.stringify(jid)}`)
  const fromOption = optionArgument(parsed, 'u')
  const fromEnv = env.MEGAPHONE_URL === '' ? undefined : env.MEGAPHONE_URL
  const url = fromOption ?? fromEnv ?? DEFAULT_URL
  checkUrl(url, fromOption !== undefined ? '-u' : 'MEGAPHONE_URL')
  return { url, jid, passfile: optionArgument(parsed, 'P') }
}

function checkUrl (url: string, where: string): void {
  let protocol: string
  try {
    protocol = new URL(url).protocol
  } catch {
    throw new UsageError(`${where}: not a URL: ${JSON.stringify(url)}`)
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(protocol)) throw new UsageError(`${where}: not an http(s):// or ws(s):// URL: ${JSON.stringify(url)}`)
}

async function withSession (o: CommonOptions, io: Io, work: (session: XmppSession) => Promise<void>): Promise<void> {
  const password = await resolvePassword(o.jid, { passfile: o.passfile, env: io.env, prompt: io.prompt })
  // MEGAPHONE_DEBUG=xml: the XML exchanged, on standard error (it includes the SASL exchange)
  const trace = io.env.MEGAPHONE_DEBUG === 'xml' ? (dir: string, xml: string) => { io.stderr(`${dir} ${xml}\n`) } : undefined
  const session = await XmppSession.open({ url: o.url, jid: o.jid, password, trace })
  try {
    await work(session)
  } finally {
    await session.close()
  }
}

/** `printf 'hi\n' | megaphone send … -` sends "hi": the line's newline ends it, it is not text. */
function stripNewline (s: string): string {
  return s.replace(/\r?\n$/, '')
}
