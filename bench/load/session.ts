/**
 * The XMPP side of one load-test session, whatever carries it: SASL PLAIN, stream restart,
 * resource binding and initial presence (RFC 6120 §6, §7; RFC 6121 §4.2), then stamped chat
 * messages. Deliberately lean: it recognises the few elements a login produces by substring
 * instead of parsing XML, because a worker runs thousands of these and the XML it reads comes
 * from the server under test, which is trusted to be well-formed. Transports (bosh-client.ts,
 * ws-client.ts) supply `transmit`, `restart` and `logout`.
 */
import type { User } from './ipc.ts'

const enum Phase { Connecting, Auth, Restarted, Binding, Online, Ended }

/** What a session tells the worker that owns it. */
export interface SessionEvents {
  online (s: ClientSession): void
  /** the login did not complete */
  failed (s: ClientSession, condition: string): void
  /** an online session ended without being asked to */
  dropped (s: ClientSession, condition: string): void
  message (s: ClientSession, sender: number, seq: number, sentAt: number): void
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export function now (): number {
  return performance.timeOrigin + performance.now()
}

/** A chat body the receiver can account for exactly: who sent it, its number, and when. */
export function stampedBody (sender: number, seq: number): string {
  return `mp ${sender} ${seq} ${now().toFixed(3)}`
}

const STAMP = /<body>mp (\d+) (\d+) (\d+(?:\.\d+)?)<\/body>/g

function escapeAttr (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/</g, '&lt;')
}

export abstract class ClientSession {
  private phase = Phase.Connecting
  /** when the first byte of the login went out */
  startedAt = 0
  /** how long the login took, once online */
  loginMs = 0
  private loginTimer: NodeJS.Timeout | undefined
  private loggingOut = false

  constructor (
    readonly index: number,
    readonly user: User,
    readonly domain: string,
    protected readonly events: SessionEvents,
    private readonly loginTimeoutMs: number,
    /** 'open' stops once the stream is open (edge-only runs against the null backend) */
    private readonly depth: 'full' | 'open'
  ) {}

  get online (): boolean { return this.phase === Phase.Online }
  get ended (): boolean { return this.phase === Phase.Ended }

  /** Opens the transport; the login follows by itself. */
  start (): void {
    this.startedAt = now()
    this.loginTimer = setTimeout(() => { this.fail('login-timeout') }, this.loginTimeoutMs)
    this.connect()
  }

  protected abstract connect (): void
  /** sends one element to the server */
  protected abstract transmit (xml: string): void
  /** XEP-0206 §5 / RFC 7395 §3.4: a new stream after SASL success */
  protected abstract restart (): void
  /** ends the stream and releases the transport */
  protected abstract logoutTransport (): void

  /** Sends a stamped chat message to another user (bare JID: one resource each). */
  sendMessage (to: string, seq: number): void {
    this.transmit(`<message xmlns='jabber:client' to='${escapeAttr(to)}@${this.domain}' type='chat' id='m${seq}'><body>${stampedBody(this.index, seq)}</body></message>`)
  }

  logout (): void {
    if (this.phase === Phase.Ended) return
    this.loggingOut = true
    this.phase = Phase.Ended
    clearTimeout(this.loginTimer)
    this.logoutTransport()
  }

  /** Server elements, one or several concatenated. */
  protected onText (text: string): void {
    if (this.phase === Phase.Ended) return
    if (text.includes('<stream:error')) {
      this.end(/<([a-z-]+) xmlns=['"]urn:ietf:params:xml:ns:xmpp-streams['"]/.exec(text)?.[1] ?? 'stream-error')
      return
    }
    switch (this.phase) {
      case Phase.Connecting:
        if (!text.includes('<mechanisms')) break
        if (this.depth === 'open') { this.goOnline(); break }
        // RFC 6120 §6.4.2, RFC 4616: authzid empty, authcid, password.
        this.transmit(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${this.user.name}\0${this.user.password}`).toString('base64')}</auth>`)
        this.phase = Phase.Auth
        break
      case Phase.Auth:
        if (text.includes('<success')) { this.phase = Phase.Restarted; this.restart() } else if (text.includes('<failure')) this.fail(/<failure[^>]*>\s*<([a-z-]+)/.exec(text)?.[1] ?? 'sasl-failure')
        break
      case Phase.Restarted:
        if (!text.includes('<bind')) break
        // RFC 6120 §7: let the server pick the resource.
        this.transmit("<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
        this.phase = Phase.Binding
        break
      case Phase.Binding:
        if (text.includes('<jid>')) {
          // RFC 6121 §4.2: initial presence makes the session available for bare-JID messages.
          this.transmit("<presence xmlns='jabber:client'/>")
          this.goOnline()
        } else if (text.includes("type='error'") || text.includes('type="error"')) this.fail('bind-error')
        break
      case Phase.Online:
        break
    }
    if (this.phase === Phase.Online && text.includes('<body>mp ')) {
      for (const m of text.matchAll(STAMP)) this.events.message(this, Number(m[1]), Number(m[2]), Number(m[3]))
    }
  }

  private goOnline (): void {
    clearTimeout(this.loginTimer)
    this.phase = Phase.Online
    this.loginMs = now() - this.startedAt
    this.events.online(this)
  }

  /** The login failed: counted once, transport released. */
  protected fail (condition: string): void {
    if (this.phase === Phase.Ended || this.phase === Phase.Online) { this.end(condition); return }
    this.phase = Phase.Ended
    clearTimeout(this.loginTimer)
    this.logoutTransport()
    this.events.failed(this, condition)
  }

  /** The stream or transport ended under us. */
  protected end (condition: string): void {
    if (this.phase === Phase.Ended) return
    if (this.phase !== Phase.Online) { this.fail(condition); return }
    this.phase = Phase.Ended
    this.logoutTransport()
    if (!this.loggingOut) this.events.dropped(this, condition)
  }
}
