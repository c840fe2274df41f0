/**
 * A lean XMPP-over-WebSocket client (RFC 7395) for load tests, on the `ws` package: one socket
 * per session, the `xmpp` subprotocol, one element per message, `<open/>` to start and restart
 * the stream, `<close/>` to end it. No permessage-deflate (a zlib context per socket would
 * dominate the client's memory).
 */
import WebSocket from 'ws'
import { ClientSession, type SessionEvents } from './session.ts'
import type { User } from './ipc.ts'

export class WsClientSession extends ClientSession {
  private ws: WebSocket | undefined

  constructor (
    index: number, user: User, domain: string, events: SessionEvents, loginTimeoutMs: number,
    depth: 'full' | 'open',
    private readonly url: string,
    private readonly localAddress: string | undefined
  ) {
    super(index, user, domain, events, loginTimeoutMs, depth)
  }

  protected connect (): void {
    const ws = new WebSocket(this.url, 'xmpp', { localAddress: this.localAddress, perMessageDeflate: false, handshakeTimeout: 30_000 })
    this.ws = ws
    ws.on('open', () => { this.open() })
    ws.on('message', (data: Buffer, isBinary: boolean) => { if (!isBinary) this.onText(data.toString('utf8')) })
    ws.on('error', (err: NodeJS.ErrnoException) => { this.end(typeof err.code === 'string' ? err.code : 'ws-error') })
    ws.on('close', (code: number) => { this.end(`ws-close-${code}`) })
  }

  /** RFC 7395 §3.4: the stream header is an `<open/>` element. */
  private open (): void {
    this.transmit(`<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='${this.domain}' version='1.0' xml:lang='en'/>`)
  }

  protected transmit (xml: string): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(xml)
  }

  /** RFC 7395 §3.5: after SASL success the client opens a new stream on the same socket. */
  protected restart (): void {
    this.open()
  }

  protected logoutTransport (): void {
    const ws = this.ws
    if (ws === undefined) return
    // RFC 7395 §3.6: <close/>, then the WebSocket close; the server's answers do not matter now.
    if (ws.readyState === WebSocket.OPEN) {
      ws.send("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>")
      ws.close(1000)
      // Do not wait out ws's 30 s closing handshake if the server never answers.
      setTimeout(() => { ws.terminate() }, 5000).unref()
    } else {
      ws.terminate()
    }
  }
}
