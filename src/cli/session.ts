/**
 * One XMPP session for one command: log in (BOSH or WebSocket, chosen by Strophe from the URL
 * scheme), exchange a few stanzas, log out. Every way of failing becomes a CliError with the exit
 * status it means (docs/cli.md, EXIT STATUS). No presence is sent: a command is not "online".
 */
import { CliError, EXIT, IqError } from './errors.ts'
import { stanzaError, streamErrorCondition } from './stanza.ts'
import { loadStrophe, type Connection, type StanzaBuilder, type StatusCodes, type StropheLib, type XmlElement } from './strophe.ts'

export interface SessionOptions {
  /** http(s):// for BOSH, ws(s):// for WebSocket */
  url: string
  jid: string
  password: string
  /** until the session is open (login and resource binding) */
  connectTimeoutMs?: number
  /** for each iq */
  iqTimeoutMs?: number
  /** gets every chunk of XML sent (`>`) and received (`<`): MEGAPHONE_DEBUG=xml */
  trace?: (direction: '<' | '>', xml: string) => void
}

const DEFAULT_CONNECT_TIMEOUT_MS = 20_000
const DEFAULT_IQ_TIMEOUT_MS = 20_000
/** How long a polite logout may take before the process leaves anyway. */
const CLOSE_BOUND_MS = 3_000
const NS_PING = 'urn:xmpp:ping'

/**
 * Stream errors and BOSH terminate conditions that mean "this account cannot log in here"
 * rather than "the service is not there" (RFC 6120 §4.9.3, XEP-0124 §17.2). Anything else that
 * ends a login is reported as the service being unreachable.
 */
const AUTH_CONDITIONS = new Set(['host-unknown', 'improper-addressing', 'not-authorized', 'x-strophe-bad-non-anon-jid'])

export class XmppSession {
  private closing = false
  private lost: CliError | undefined
  private readonly pending = new Set<(err: CliError) => void>()
  private readonly onDisconnected: (() => void)[] = []

  private constructor (
    private readonly lib: StropheLib,
    private readonly conn: Connection,
    private readonly url: string,
    private readonly iqTimeoutMs: number
  ) {}

  /** Logs in; rejects with CLI_AUTH_FAILED (status 3) or CLI_UNREACHABLE (status 4). */
  static async open (o: SessionOptions): Promise<XmppSession> {
    const lib = loadStrophe()
    const S = lib.Strophe.Status
    const conn = new lib.Strophe.Connection(o.url, {})
    const trace = o.trace
    if (trace !== undefined) {
      conn.rawInput = data => { trace('<', data) }
      conn.rawOutput = data => { trace('>', data) }
    }
    const session = new XmppSession(lib, conn, o.url, o.iqTimeoutMs ?? DEFAULT_IQ_TIMEOUT_MS)
    // Strophe reports a BOSH remote-stream-error by that name alone; the stream error inside
    // (XEP-0206 §6) says what went wrong, so it is kept from the received bodies.
    let streamError: string | undefined
    conn.xmlInput = el => { streamError = streamErrorCondition(el) ?? streamError }
    await new Promise<void>((resolve, reject) => {
      let settled = false
      const fail = (err: CliError): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        reject(err)
        // abort what is in flight; the callback below ignores the statuses this produces
        conn.disconnect()
      }
      const timer = setTimeout(() => { fail(unreachable(o.url, `no session within ${o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS} ms`)) }, o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS)
      // During login Strophe would retry a failed BOSH request with a growing backoff (1 s, 8 s,
      // 27 s…), right for a browser tab, wrong for a command: an HTTP failure (0 = no response)
      // before the session is open ends the attempt at once.
      for (const status of [0, ...range(400, 600)]) {
        conn.addProtocolErrorHandler('HTTP', status, () => {
          if (!settled) fail(unreachable(o.url, status === 0 ? 'no HTTP response' : `HTTP status ${status}`))
        })
      }
      conn.connect(o.jid, o.password, (status, reported) => {
        const condition = reported === 'remote-stream-error' ? streamError ?? reported : reported
        if (settled) {
          session.statusAfterLogin(status, condition)
        } else if (status === S.CONNECTED) {
          settled = true
          clearTimeout(timer)
          resolve()
        } else {
          const err = loginFailure(S, status, condition, o)
          if (err !== undefined) fail(err)
        }
      })
    })
    return session
  }

  /** The domain of the account (from the JID the server bound). */
  get domain (): string { return this.lib.Strophe.getDomainFromJid(this.conn.jid) ?? '' }

  get $iq (): StropheLib['$iq'] { return this.lib.$iq }

  get $msg (): StropheLib['$msg'] { return this.lib.$msg }

  uniqueId (suffix: string): string { return this.conn.getUniqueId(suffix) }

  send (stanza: StanzaBuilder): void {
    this.throwIfLost()
    this.conn.send(stanza.tree())
  }

  /** Calls `handler` with every `<message/>` received until the returned function is called. */
  onMessage (handler: (el: XmlElement) => void): () => void {
    const ref = this.conn.addHandler(el => { handler(el); return true }, null, 'message', null, null, null)
    return () => { this.conn.deleteHandler(ref) }
  }

  /** Sends an iq; resolves with the result, rejects with an IqError, CLI_TIMEOUT or the loss. */
  async iq (stanza: StanzaBuilder, what: string): Promise<XmlElement> {
    this.throwIfLost()
    return await new Promise<XmlElement>((resolve, reject) => {
      const done = (): void => { this.pending.delete(reject) }
      this.pending.add(reject)
      this.conn.sendIQ(stanza.tree(), el => { done(); resolve(el) }, el => {
        done()
        if (el === null) {
          reject(new CliError('CLI_TIMEOUT', EXIT.FAILURE, `${what}: no answer within ${this.iqTimeoutMs} ms`))
        } else {
          const e = stanzaError(el)
          reject(new IqError(what, e.condition, e.text))
        }
      }, this.iqTimeoutMs)
    })
  }

  /**
   * A round trip with the server (XEP-0199 §4.2). The server handles a client's stanzas in
   * order, so when the answer comes, everything sent before has been handled, and any error it
   * bounced straight back has arrived. An error answer (a server without XEP-0199) is a round
   * trip too.
   */
  async ping (): Promise<void> {
    try {
      await this.iq(this.$iq({ type: 'get', to: this.domain }).c('ping', { xmlns: NS_PING }), 'ping')
    } catch (err) {
      if (err instanceof IqError) return
      throw err
    }
  }

  /** Logs out (BOSH terminate or WebSocket close), waiting a bounded time for the server. */
  async close (): Promise<void> {
    if (this.closing) return
    this.closing = true
    if (this.lost !== undefined) return
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, CLOSE_BOUND_MS)
      this.onDisconnected.push(() => { clearTimeout(timer); resolve() })
      this.conn.disconnect('done')
    })
  }

  private statusAfterLogin (status: number, condition: string | null): void {
    const S = this.lib.Strophe.Status
    if (status !== S.DISCONNECTED && status !== S.CONNFAIL) return
    if (status === S.DISCONNECTED) for (const f of this.onDisconnected.splice(0)) f()
    if (this.closing || this.lost !== undefined) return
    this.lost = new CliError('CLI_CONNECTION_LOST', EXIT.UNREACHABLE, `the session at ${this.url} ended${condition === null ? '' : ` (${condition})`}`)
    for (const reject of this.pending) reject(this.lost)
    this.pending.clear()
  }

  private throwIfLost (): void {
    if (this.lost !== undefined) throw this.lost
  }
}

function unreachable (url: string, why: string): CliError {
  return new CliError('CLI_UNREACHABLE', EXIT.UNREACHABLE, `cannot open a session at ${url}: ${why}`)
}

/** What a Strophe status before the session is open means; undefined while the login goes on. */
function loginFailure (S: StatusCodes, status: number, condition: string | null, o: SessionOptions): CliError | undefined {
  if (status === S.AUTHFAIL) return new CliError('CLI_AUTH_FAILED', EXIT.AUTH, `authentication failed for ${o.jid}${condition === null ? '' : ` (${condition})`}`)
  if (status === S.CONNFAIL && condition !== null && AUTH_CONDITIONS.has(condition)) return new CliError('CLI_AUTH_FAILED', EXIT.AUTH, `${o.jid} cannot log in at ${o.url} (${condition})`)
  if (status === S.CONNFAIL || status === S.ERROR || status === S.CONNTIMEOUT) return unreachable(o.url, condition ?? 'connection failed')
  if (status === S.DISCONNECTED) return unreachable(o.url, 'closed before the session was open')
  return undefined
}

function range (from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i)
}
