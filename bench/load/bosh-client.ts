/**
 * A lean BOSH client (XEP-0124, XEP-0206) for load tests: node:http over a keep-alive agent
 * shared by every session of a worker, at most hold + 1 requests per session (§11), one request
 * always held once logged in, payloads queued while both are out. It trusts the server's
 * responses to be well-formed and reads them with a few regular expressions.
 */
import http from 'node:http'
import https from 'node:https'
import { ClientSession, type SessionEvents } from './session.ts'
import type { User } from './ipc.ts'

export interface BoshEndpoint {
  host: string
  port: number
  path: string
  /** https: a foreign deployment behind TLS (the agent is then an https.Agent) */
  tls: boolean
  agent: http.Agent
  /** seconds the server may hold a request, asked for at creation */
  wait: number
  hold: number
}

/** A socket or HTTP failure's name, as reported in the failure table. */
function errorName (err: Error): string {
  const code = (err as NodeJS.ErrnoException).code
  return typeof code === 'string' ? code : 'http-error'
}

/** POSTs one body; calls back once with the error or the status and text. */
export function boshPost (ep: BoshEndpoint, localAddress: string | undefined, body: string, done: (err: Error | undefined, status: number, text: string) => void): void {
  let settled = false
  const finish = (err: Error | undefined, status: number, text: string): void => {
    if (settled) return
    settled = true
    done(err, status, text)
  }
  const req = (ep.tls ? https : http).request({
    host: ep.host,
    port: ep.port,
    path: ep.path,
    method: 'POST',
    agent: ep.agent,
    localAddress,
    // A held request comes back within `wait`; past it plus a margin the server has lost it.
    timeout: (ep.wait + 30) * 1000,
    headers: { 'Content-Type': 'text/xml; charset=utf-8', 'Content-Length': Buffer.byteLength(body) }
  }, res => {
    const chunks: Buffer[] = []
    res.on('data', (c: Buffer) => chunks.push(c))
    res.on('end', () => { finish(undefined, res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')) })
    res.on('error', err => { finish(err, 0, '') })
  })
  req.on('timeout', () => { req.destroy(Object.assign(new Error('request timed out'), { code: 'request-timeout' })) })
  req.on('error', err => { finish(err, 0, '') })
  req.end(body)
}

const SID = /\ssid=['"]([^'"]+)['"]/
const TERMINATE = /\stype=['"]terminate['"]/
const CONDITION = /\scondition=['"]([^'"]+)['"]/

export class BoshClientSession extends ClientSession {
  sid = ''
  private rid = Math.floor(Math.random() * 2 ** 40) + 1
  private outstanding = 0
  private queue: string[] = []
  private restartPending = false
  /** keep one request held once logged in (the edge-only poller drives its own requests) */
  private readonly autoPoll: boolean

  constructor (
    index: number, user: User, domain: string, events: SessionEvents, loginTimeoutMs: number,
    depth: 'full' | 'open',
    private readonly ep: BoshEndpoint,
    /** source address (spreading sockets over 127.0.0.x), or undefined: the system's choice */
    private readonly localAddress: string | undefined
  ) {
    super(index, user, domain, events, loginTimeoutMs, depth)
    this.autoPoll = depth === 'full'
  }

  protected connect (): void {
    // XEP-0124 §7.1, XEP-0206 §4: the session creation request.
    this.request(`<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' content='text/xml; charset=utf-8' rid='${this.rid}' to='${this.domain}' xml:lang='en' wait='${this.ep.wait}' hold='${this.ep.hold}' ver='1.6' xmpp:version='1.0'/>`)
  }

  protected transmit (xml: string): void {
    this.queue.push(xml)
    this.pump()
  }

  protected restart (): void {
    this.restartPending = true
    this.pump()
  }

  protected logoutTransport (): void {
    this.queue.length = 0
    if (this.sid === '') return
    // XEP-0124 §13: terminate; the answer does not matter any more.
    boshPost(this.ep, this.localAddress, this.bodyOpen(" type='terminate'") + "<presence xmlns='jabber:client' type='unavailable'/></body>", () => {})
  }

  /**
   * One empty request outside the automatic flow (edge-only runs): a poll answered at once in a
   * polling session, or a long-poll held until `wait` in a holding one. Calls back with an error
   * name, or undefined on a 200 that did not end the session.
   */
  pollOnce (done: (error: string | undefined) => void): void {
    if (this.sid === '' || this.ended) { done('not-open'); return }
    this.outstanding++
    boshPost(this.ep, this.localAddress, this.bodyOpen('').slice(0, -1) + '/>', (err, status, text) => {
      this.outstanding--
      if (err !== undefined) { done(errorName(err)); return }
      if (status !== 200) { done(`http-${status}`); return }
      const head = text.slice(0, text.indexOf('>'))
      if (TERMINATE.test(head)) {
        const condition = CONDITION.exec(head)?.[1] ?? 'terminate'
        this.end(condition)
        done(condition)
        return
      }
      done(undefined)
    })
  }

  private bodyOpen (extra: string): string {
    this.rid++
    return `<body xmlns='http://jabber.org/protocol/httpbind' rid='${this.rid}' sid='${this.sid}'${extra}>`
  }

  private request (body: string): void {
    this.outstanding++
    boshPost(this.ep, this.localAddress, body, (err, status, text) => {
      this.outstanding--
      this.onResponse(err, status, text)
    })
  }

  private onResponse (err: Error | undefined, status: number, text: string): void {
    if (this.ended) return
    if (err !== undefined) { this.end(errorName(err)); return }
    if (status !== 200) { this.end(`http-${status}`); return }
    const close = text.indexOf('>')
    const head = text.slice(0, close + 1)
    if (this.sid === '') {
      const sid = SID.exec(head)?.[1]
      if (sid !== undefined) this.sid = sid
    }
    const inner = head.endsWith('/>') ? '' : text.slice(close + 1, text.lastIndexOf('</body>'))
    if (TERMINATE.test(head)) {
      if (inner !== '') this.onText(inner)
      this.end(CONDITION.exec(head)?.[1] ?? 'terminate')
      return
    }
    if (this.sid === '') { this.end('no-sid'); return }
    if (inner !== '') this.onText(inner)
    this.pump()
  }

  /** Sends what is queued within the request limit (XEP-0124 §11: hold + 1 at once). */
  private pump (): void {
    if (this.ended || this.sid === '') return
    const limit = this.ep.hold + 1
    if (this.restartPending && this.outstanding < limit) {
      this.restartPending = false
      // XEP-0206 §5: the restart request.
      this.request(this.bodyOpen(` xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='true' to='${this.domain}' xml:lang='en'`).slice(0, -1) + '/>')
    }
    if (this.queue.length > 0 && this.outstanding < limit) {
      const payloads = this.queue.join('')
      this.queue.length = 0
      this.request(this.bodyOpen('') + payloads + '</body>')
    }
    // Logging in or online: one request always waits at the server for what it has to say.
    if (this.outstanding === 0 && (this.autoPoll || !this.online)) this.request(this.bodyOpen('').slice(0, -1) + '/>')
  }
}
