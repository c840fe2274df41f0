/**
 * One XMPP-over-WebSocket session (RFC 7395): the framing state machine between one client's
 * WebSocket and one connection on the backend (the link). It is the backend's ConnectionHandler
 * for that connection, and the manager feeds it the socket's events and its deadline.
 *
 *   Connected ──<open/>──▶ Opening ──server header──▶ Open ──SASL success, <open/>──▶ Opening …
 *       │                     │                        │
 *       └───── error, <close/> from either side, socket closed, deadline ─────▶ Ended
 *
 * Each session has one timer (its table row, on the manager's wheel): until the stream is open
 * it is the open deadline; afterwards the next WebSocket ping or the idle deadline, whichever
 * comes first.
 */
import { randomBytes } from 'node:crypto'
import type { Backend, CloseReason, ConnectionHandler, StreamErrorCondition, StreamStart } from '../backend/backend.ts'
import { sendRefusalCondition, sendRefusalReason } from '../backend/backend.ts'
import { isMegaphoneError } from '../errors.ts'
import { conditionForClose } from './conditions.ts'
import { closeElement, isSaslSuccess, isStreamError, openElement, streamErrorElement } from './framing.ts'
import type { FramingAttrs, WsMessage, WsMessageError } from './message.ts'
import type { WsOptions } from './options.ts'

/** What a session needs of its WebSocket; `ws`'s WebSocket is one. */
export interface WsPeer {
  /** RFC 6455 / WHATWG readyState: 1 is OPEN */
  readonly readyState: number
  /** bytes written but not yet handed to the kernel */
  readonly bufferedAmount: number
  send (data: string): void
  ping (): void
  close (code?: number, reason?: string): void
  terminate (): void
}

export interface ClientAddress { ip: string, port: number }

export interface WsSessionHost {
  readonly options: WsOptions
  readonly backend: Backend
  /** false once the edge is shutting down */
  readonly accepting: boolean
  now (): number
  parse (text: string): WsMessage | WsMessageError
  /** (Re)schedules the session's one timer; 0 cancels it. */
  setDeadline (s: WsSession, at: number): void
  /** The server accepted the client's authentication (SASL success): admission control stops counting the session. */
  authenticated (s: WsSession): void
  /** The session is over: free its row. */
  release (s: WsSession): void
  /** counters */
  counted (what: 'opened' | 'in' | 'out'): void
}

export const Phase = {
  /** the WebSocket is up; the client has not sent `<open/>` yet */
  Connected: 0,
  /** the client's `<open/>` (first or restart) waits for the server's header */
  Opening: 1,
  Open: 2,
  Ended: 3
} as const
export type Phase = typeof Phase[keyof typeof Phase]

const OPEN = 1
/** `ws`'s code when a socket must be cut rather than closed (backpressure, dead peer) */
const TERMINATE = -1

export class WsSession implements ConnectionHandler {
  phase: Phase = Phase.Connected
  /** the backend's connection id; 0 when there is none (not opened yet, or closed) */
  connId = 0
  /** why the session ended, for the manager's counters */
  endReason = ''
  /** clock time of the last frame from the client (message, ping or pong) */
  lastSeen: number
  private lastPing: number
  /** `to` and `xml:lang` of the client's first `<open/>` */
  private to = ''
  private lang = ''
  /** RFC 7395 §3.7: a restart is expected (the server announced SASL success) */
  private restartAllowed = false
  /** the server sent a `<stream:error/>`; its close needs no error of ours */
  private sawStreamError = false
  /** set by a socket error that ws answers by closing the connection itself */
  private socketErrorReason = ''

  constructor (
    private readonly host: WsSessionHost,
    readonly peer: WsPeer,
    readonly row: number,
    readonly client: ClientAddress
  ) {
    const now = host.now()
    this.lastSeen = now
    this.lastPing = now
    // RFC 7395 §3.4: the client speaks first. It has openTimeout to open its stream.
    host.setDeadline(this, now + host.options.openTimeout * 1000)
  }

  get ended (): boolean { return this.phase === Phase.Ended }

  // ---------------------------------------------------------------------------------------------
  // Events from the client's WebSocket
  // ---------------------------------------------------------------------------------------------

  onMessage (data: Buffer, isBinary: boolean): void {
    if (this.phase === Phase.Ended) return
    this.lastSeen = this.host.now()
    this.host.counted('in')
    // RFC 7395 §3.2: XMPP travels in text frames only. RFC 6455 §7.4.1: 1003 is the close code
    // for a type of data the endpoint cannot accept.
    if (isBinary) { this.fail('unsupported-encoding', 'binary-message', 1003); return }
    // `ws` has checked that a text message is UTF-8 (RFC 6455 §8.1) and closes with 1007 otherwise.
    const m = this.host.parse(data.toString('utf8'))
    if (!m.ok) { this.fail(m.condition, m.code); return }
    if (m.kind === 'element') this.onElement(m.xml)
    else if (m.kind === 'open') this.onOpen(m.attrs)
    else this.onClientClose()
  }

  /** A ping or pong from the client: it is there. */
  onPong (): void {
    this.lastSeen = this.host.now()
  }

  /** The socket closed under us (the client went away, or `ws` closed it after an error). */
  onSocketClose (): void {
    // RFC 7395 §3.6: a WebSocket closed before the XMPP stream ends the stream implicitly.
    this.end(this.socketErrorReason !== '' ? this.socketErrorReason : 'client-gone', [], TERMINATE)
  }

  /** `ws` reports a protocol error; it has already started closing the connection. */
  onSocketError (code: string): void {
    // RFC 6455 §7.4.1: ws closes with 1009 for a message over maxPayload, 1007 for bad UTF-8.
    this.socketErrorReason = code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'
      ? 'message-too-large'
      : code === 'WS_ERR_INVALID_UTF8' ? 'bad-utf8' : 'socket-error'
    this.end(this.socketErrorReason, [], 1000)
  }

  private onOpen (attrs: FramingAttrs): void {
    const host = this.host
    if (this.phase === Phase.Open && this.restartAllowed) {
      // RFC 7395 §3.7: after SASL success (RFC 6120 §4.3.3) the client opens a new stream with a
      // new <open/> (never a <close/>); the server answers with a new header and features.
      this.restartAllowed = false
      this.phase = Phase.Opening
      try {
        host.backend.restart(this.connId)
      } catch (err) {
        if (!isMegaphoneError(err)) throw err
        this.fail('remote-connection-failed', err.code)
        return
      }
      host.setDeadline(this, host.now() + host.options.openTimeout * 1000)
      return
    }
    // RFC 7395 §3.4: <open/> opens the stream once; RFC 7395 §3.7: it reopens it only after SASL
    // success. Anywhere else it is out of place in the framing.
    if (this.phase !== Phase.Connected) { this.fail('invalid-xml', 'unexpected-open'); return }
    this.phase = Phase.Opening
    this.to = attrs.to ?? ''
    this.lang = attrs['xml:lang'] ?? ''
    const o = host.options
    // RFC 7395 §3.4, RFC 6120 §4.7.5: version 1.x; none at all would mean a pre-1.0 stream.
    const version = attrs.version
    if (version === undefined || !/^1\.[0-9]+$/.test(version)) { this.fail('unsupported-version', 'unsupported-version'); return }
    // RFC 6120 §4.9.3.6: a domain this edge does not serve (or none named).
    if (this.to === '' || (o.domains.length > 0 && !o.domains.includes(this.to))) { this.fail('host-unknown', 'host-unknown'); return }
    if (!host.accepting) { this.shutdown(o.seeOtherUri); return }
    // RFC 6120 §4.9.3.16 remote-connection-failed: no link to the server right now.
    if (!host.backend.ready) { this.fail('remote-connection-failed', 'link-down'); return }
    let id: number
    try {
      id = host.backend.open({ transport: 'websocket', to: this.to, ip: this.client.ip, port: this.client.port, lang: this.lang }, this)
    } catch (err) {
      if (!isMegaphoneError(err)) throw err
      this.fail('remote-connection-failed', err.code)
      return
    }
    if (this.ended) return // the backend closed it already: it forgot the id
    this.connId = id
    host.counted('opened')
    host.setDeadline(this, host.now() + o.openTimeout * 1000)
  }

  private onClientClose (): void {
    // RFC 7395 §3.6: the client closes the stream; the server answers with its own <close/>,
    // and the stream is over. Then the WebSocket closing handshake (RFC 6455 §7).
    this.end('client-closed', [closeElement()], 1000, '')
  }

  private onElement (xml: string): void {
    // RFC 7395 §3.4: "The first message sent after the WebSocket opening handshake MUST be from
    // the initiating entity and MUST be an <open/> element".
    if (this.phase === Phase.Connected) { this.fail('invalid-xml', 'no-open'); return }
    // While Opening the client may already send (e.g. right after its restart <open/>): the
    // link keeps the order, so the server reads it after the new stream header.
    try {
      this.host.backend.send(this.connId, xml)
    } catch (err) {
      if (!isMegaphoneError(err)) throw err
      // An element the link cannot carry, or more queued for the link than this session's budget
      // (issue 16: one session cannot hurt another), is the client's fault: RFC 6120
      // §4.9.3.14 policy-violation (RFC 7395 §3.6 stream error, then <close/>). A full or lost
      // link is not: §4.9.3.16 remote-connection-failed.
      this.fail(sendRefusalCondition(err.code), sendRefusalReason(err.code))
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Events from the server (the backend)
  // ---------------------------------------------------------------------------------------------

  onStreamStart (start: StreamStart): void {
    if (this.phase !== Phase.Opening) return
    this.phase = Phase.Open
    // RFC 7395 §3.4: the server's <open/> carries the attributes of RFC 6120 §4.7 (from, id,
    // version, xml:lang); a new one after every restart (§3.7).
    this.send(openElement({
      id: start.id,
      from: start.from !== '' ? start.from : this.to,
      version: start.version !== '' ? start.version : '1.0',
      lang: start.lang !== '' ? start.lang : (this.lang !== '' ? this.lang : 'en')
    }))
    this.lastPing = this.host.now()
    this.scheduleKeepalive()
  }

  onData (xml: string): void {
    if (this.phase === Phase.Ended) return
    if (isStreamError(xml)) {
      // RFC 7395 §3.5: an error while the stream opens follows the server's <open/>.
      if (this.phase !== Phase.Open) this.write(this.ownHeader())
      this.sawStreamError = true
    } else if (isSaslSuccess(xml)) {
      this.restartAllowed = true
      // RFC 6120 §6.4.6: authenticated; the manager makes this count once.
      this.host.authenticated(this)
    }
    // Elements from the server are standalone (docs/link-protocol.md DATA): sent as they are,
    // one per message (RFC 7395 §3.3.3).
    this.send(xml)
  }

  onClose (condition: CloseReason): void {
    if (this.phase === Phase.Ended) return
    this.connId = 0 // the backend has forgotten the id already: nothing to close
    const out: string[] = []
    if (!this.sawStreamError && condition !== '') {
      // The stream ended for a reason the server did not put in a <stream:error/> (the link
      // was lost, ...): RFC 7395 §3.5 still wants one before the <close/>.
      if (this.phase !== Phase.Open) out.push(this.ownHeader())
      out.push(streamErrorElement(conditionForClose(condition)))
    }
    // RFC 7395 §3.5, §3.6: after the <stream:error/> (already relayed by onData), <close/>.
    out.push(closeElement())
    this.end(condition === '' ? 'server-closed' : condition, out, 1000)
  }

  // ---------------------------------------------------------------------------------------------
  // Deadlines and shutdown
  // ---------------------------------------------------------------------------------------------

  /** The session's timer fired at `now`. */
  onDeadline (now: number): void {
    if (this.phase === Phase.Ended) return
    if (this.phase === Phase.Connected) { this.fail('connection-timeout', 'open-timeout'); return }
    if (this.phase === Phase.Opening) { this.fail('remote-connection-failed', 'open-timeout'); return }
    const o = this.host.options
    const idle = o.idleTimeout * 1000
    // RFC 6120 §4.9.3.4 connection-timeout: nothing from the client, not even a pong.
    if (idle > 0 && now - this.lastSeen >= idle) { this.fail('connection-timeout', 'idle-timeout'); return }
    const ping = o.pingInterval * 1000
    // RFC 7395 §3.8: keep the connection alive and probe the client with WebSocket pings
    // (RFC 6455 §5.5.2), not whitespace, which a framed stream cannot carry.
    if (ping > 0 && now - this.lastPing >= ping) {
      this.lastPing = now
      this.peer.ping()
    }
    this.scheduleKeepalive()
  }

  private scheduleKeepalive (): void {
    const o = this.host.options
    let at = Infinity
    if (o.pingInterval > 0) at = this.lastPing + o.pingInterval * 1000
    if (o.idleTimeout > 0) at = Math.min(at, this.lastSeen + o.idleTimeout * 1000)
    this.host.setDeadline(this, at === Infinity ? 0 : at)
  }

  /** The edge is stopping: send the client elsewhere, or tell it the server is going down. */
  shutdown (seeOtherUri: string): void {
    if (this.phase === Phase.Ended) return
    // RFC 6455 §7.4.1: 1001, the endpoint is going away.
    if (this.phase === Phase.Connected) { this.end('shutdown', [], 1001); return }
    // RFC 7395 §3.6.1: <close see-other-uri=…/> moves the client; §3.4 allows it as the
    // answer to an <open/> too, so no header of ours goes first.
    if (seeOtherUri !== '') { this.end('shutdown', [closeElement(seeOtherUri)], 1001); return }
    this.fail('system-shutdown', 'shutdown', 1001) // RFC 6120 §4.9.3.21
  }

  // ---------------------------------------------------------------------------------------------
  // Ending
  // ---------------------------------------------------------------------------------------------

  /**
   * Ends the stream with a stream error (RFC 7395 §3.5: the `<stream:error/>`, then `<close/>`),
   * preceded by a header of ours when the client's `<open/>` has not been answered.
   */
  private fail (condition: StreamErrorCondition, reason: string, wsCode = 1000): void {
    if (this.phase === Phase.Ended) return
    const out: string[] = []
    if (this.phase !== Phase.Open) out.push(this.ownHeader())
    out.push(streamErrorElement(condition), closeElement())
    this.end(reason, out, wsCode)
  }

  /**
   * The one way out: the backend connection is closed (with `backendCondition`, '' for a normal
   * logout), the last elements are written, the WebSocket closed (or cut when the client does
   * not read), and the row freed.
   */
  private end (reason: string, last: string[], wsCode: number, backendCondition = reason): void {
    if (this.phase === Phase.Ended) return
    this.phase = Phase.Ended
    this.endReason = reason
    if (this.connId !== 0) {
      const id = this.connId
      this.connId = 0
      try { this.host.backend.close(id, backendCondition) } catch (err) { if (!isMegaphoneError(err)) throw err }
    }
    for (const xml of last) this.write(xml)
    const peer = this.peer
    if (wsCode === TERMINATE || peer.bufferedAmount > this.host.options.maxBufferedBytes) peer.terminate()
    else if (peer.readyState === OPEN) peer.close(wsCode)
    this.host.release(this)
  }

  /** Sends one message; a client that lets too much pile up is dropped. */
  private send (xml: string): void {
    this.write(xml)
    if (this.peer.bufferedAmount > this.host.options.maxBufferedBytes) {
      // The client does not read (or cannot keep up): memory per client stays bounded by
      // maxBufferedBytes plus one message. Nothing more can reach it, so no stream error.
      this.end('client-slow', [], TERMINATE)
    }
  }

  private write (xml: string): void {
    if (this.peer.readyState !== OPEN) return
    this.peer.send(xml)
    this.host.counted('out')
  }

  /** A header of our own, for an error before the server's (RFC 7395 §3.5). */
  private ownHeader (): string {
    const domains = this.host.options.domains
    const from = domains.length === 0 || domains.includes(this.to) ? this.to : domains[0]!
    return openElement({ id: randomBytes(8).toString('hex'), from, version: '1.0', lang: this.lang !== '' ? this.lang : 'en' })
  }
}
