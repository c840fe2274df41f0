/**
 * The link client: one TCP connection to mod_megaphone carrying every session of this edge
 * (docs/link-protocol.md). It connects, authenticates (HMAC handshake), keeps the link alive
 * (heartbeats), reconnects with capped exponential backoff and full jitter, applies backpressure
 * (a bounded send queue), and routes each session frame to the handler of its connection id.
 *
 *   const link = new LinkClient({ port: 5290, secret })
 *   link.on('up', ...); link.on('down', reason => log(reason.code))
 *   link.start()
 *   const id = link.open({ transport: 'bosh', to, ip, port, lang: '' }, handler)  // throws LINK_DOWN
 *   link.send(id, '<auth .../>')                    // throws LINK_SESSION_BUDGET or LINK_QUEUE_FULL → end the session
 *   link.restart(id); link.close(id, 'inactivity')  // handler gets no call after close()
 *
 * It implements the transports' `Backend` contract (src/backend/backend.ts).
 *
 * States:  IDLE ─start()─> CONNECTING ─connect─> HANDSHAKE ─AUTH_OK─> READY
 *             ^                │  (fail, timeout)     │                 │ (loss)
 *             │                └──────────────> WAITING <──────────────┘
 *          stop() from any state ──> STOPPED          └─backoff─> CONNECTING
 */
import { EventEmitter } from 'node:events'
import { connect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import { closeReasonFromServer } from '../backend/backend.ts'
import type { Backend, ConnectionHandler, LinkCloseReason } from '../backend/backend.ts'
import type { MegaphoneError } from '../errors.ts'
import {
  FrameDecoder, LinkProtocolError, encodeAuth, encodeClose, encodeData, encodeError, encodeOpen, encodePing,
  encodePong, encodeRestart, encodeStatsRequest, parseAuthOk, parseClose, parseData, parseError, parseHello,
  parsePing, parseStatsReply, parseStreamStart, badFrame,
  API_REPLY, API_REQUEST, AUTH, AUTH_OK, CLOSE, DATA, ERROR, HELLO, OPEN, PING, PONG, RESTART, STATS_REPLY, STATS_REQUEST, STREAM_START,
  HANDSHAKE_MAX_FRAME_SIZE, HEADER_SIZE, MAX_CONN_ID, MAX_VERSION, MIN_VERSION, NONCE_SIZE, PING_SIZE, PROTOCOL_ERRORS,
  isControlType, type FrameHandler, type FrameType, type OpenParams, type ProtocolErrorName, type StatsReply,
  type StreamStart
} from './codec/index.ts'
import { backoffDelay } from './backoff.ts'
import { chooseVersion, backendMac, edgeMac, macEqual } from './handshake.ts'
import { resolveLinkOptions, type LinkOptions, type ResolvedLinkOptions } from './options.ts'
import { LINK_OWNER, OVER_BUDGET, QUEUED, SendQueue, type WriteOutcome } from './send-queue.ts'
import { FrameCounters, type LinkCounters } from './counters.ts'
import { ApiRequests, type ApiJson } from './api.ts'
import {
  LINK_AUTH_FAILED, LINK_AUTH_REJECTED, LINK_DOWN, LINK_HANDLER_THREW, LINK_HANDSHAKE_TIMEOUT, LINK_HEARTBEAT_TIMEOUT,
  LINK_NOT_OPEN, LINK_PEER_CLOSED, LINK_PROTOCOL, LINK_QUEUE_FULL, LINK_SEND_TOO_LARGE, LINK_SESSION_BUDGET, LINK_SOCKET, LINK_STATS_BUSY,
  LINK_STATS_TIMEOUT, LINK_STOPPED, LINK_UNSUPPORTED_VERSION, linkError
} from './errors.ts'

/** A session's side of a connection: the Backend contract's handler, plus optional error reports. */
export interface LinkConnectionHandler extends ConnectionHandler {
  /**
   * A non-fatal ERROR from the backend about this connection (e.g. `bad-xml`, which a CLOSE
   * follows). Fatal ones end the connection through onClose instead.
   */
  onError? (error: LinkProtocolError): void
}

/** The reasons handlers get in onClose when the link is lost or stopped. */
export const CONDITION_LINK_LOST = 'link-lost' satisfies LinkCloseReason
export const CONDITION_LINK_CLOSED = 'link-closed' satisfies LinkCloseReason

export interface LinkEvents {
  /** The handshake succeeded; sessions may open. */
  up: [info: { version: number }]
  /** A connect or handshake attempt failed, or the link was lost; `reason.code` says why. */
  down: [reason: MegaphoneError]
  /** The next connect attempt is scheduled (`attempt` counts failures since the last success). */
  reconnecting: [info: { attempt: number, delay: number }]
  /** Something worth a log line that did not take the link down (skipped frames, remote ERRORs). */
  warning: [error: MegaphoneError]
}

const IDLE = 0
const CONNECTING = 1
const HANDSHAKE = 2
const READY = 3
const WAITING = 4
const STOPPED = 5

/**
 * ERRORs about a connection after which the backend has no session for it (or none that will
 * talk): the edge ends the connection on receipt and ignores a CLOSE that may follow.
 * (`bad-xml` is not here: it is followed by a stream error and a CLOSE, which the session relays.)
 */
/** The ERRORs about a connection that end it (docs/link-protocol.md "Errors"); each is a close reason too. */
const TERMINAL_ERROR_NAMES = ['session-limit', 'internal', 'unknown-connection', 'duplicate-connection'] as const satisfies ReadonlyArray<ProtocolErrorName & LinkCloseReason>
type TerminalError = typeof TERMINAL_ERROR_NAMES[number]
const TERMINAL_ERRORS: ReadonlySet<string> = new Set(TERMINAL_ERROR_NAMES)

function isTerminalError (name: ProtocolErrorName | 'unknown'): name is TerminalError {
  return TERMINAL_ERRORS.has(name)
}

/** Frame types only the edge may send (docs/link-protocol.md "Frame types", direction column). */
const EDGE_ONLY: ReadonlySet<number> = new Set([AUTH, STATS_REQUEST, API_REQUEST, OPEN, RESTART])

interface PendingStats {
  resolve: (reply: StatsReply) => void
  reject: (error: MegaphoneError) => void
  timer: NodeJS.Timeout
}

export class LinkClient extends EventEmitter<LinkEvents> implements Backend {
  readonly options: ResolvedLinkOptions
  private state = IDLE
  private socket: Socket | undefined
  private decoder: FrameDecoder | undefined
  private queue: SendQueue | undefined
  /** The negotiated version, 0 until the first handshake. */
  private negotiated = 0
  private nb: Buffer | undefined
  private ne: Buffer | undefined
  private handshakeTimer: NodeJS.Timeout | undefined
  private pingTimer: NodeJS.Timeout | undefined
  private watchdogTimer: NodeJS.Timeout | undefined
  private reconnectTimer: NodeJS.Timeout | undefined
  private attempt = 0
  private connects = 0
  /** Frames received on this socket, and the count when the watchdog last saw it change. */
  private rxFrames = 0
  private rxSeen = 0
  private rxSilentSince = 0
  private readonly connections = new Map<number, LinkConnectionHandler>()
  /** Ids come from this counter for the client's whole life, across links: never reused. */
  private nextConnId = 1
  private readonly pendingStats = new Map<number, PendingStats>()
  /** API_REQUESTs awaiting API_REPLY (src/link/api.ts). */
  private readonly api = new ApiRequests()
  private nextStatsId = 1
  private readonly frames = new FrameCounters()
  private readonly n = {
    framesIgnored: 0, protocolErrors: 0, remoteErrors: 0, connectionsOpened: 0, reconnects: 0, handshakes: 0,
    handshakeFailures: 0, linkLosses: 0, pingsSent: 0, pongsReceived: 0, sessionsOverBudget: 0
  }

  /** The decoder's callbacks; a bound object so that the client's own methods stay private. */
  private readonly sink: FrameHandler = {
    onFrame: (connId, type, data) => this.onFrame(connId, type, data),
    onError: (error) => this.onDecodeError(error)
  }

  constructor (options: LinkOptions) {
    super()
    this.options = resolveLinkOptions(options)
  }

  /** True when sessions can open: the link is up and authenticated. */
  get ready (): boolean {
    return this.state === READY
  }

  /** Connection ids open now (a link pool's measure of load, src/link/pool.ts). */
  get openConnections (): number {
    return this.connections.size
  }

  /** The protocol version of the current (or last) link; 0 before the first handshake. */
  get version (): number {
    return this.negotiated
  }

  /** Connects, and keeps reconnecting until stop(). */
  start (): void {
    if (this.state !== IDLE) return
    this.connect()
  }

  /**
   * Ends the link for good: every open connection gets a CLOSE ('shutdown') on the wire, then
   * onClose('link-closed'); no reconnect. Resolves when the socket has closed.
   */
  async stop (): Promise<void> {
    if (this.state === STOPPED) return
    clearTimeout(this.reconnectTimer)
    const socket = this.socket
    const wasReady = this.state === READY
    if (wasReady) {
      // As link control: frames still queued are dropped with the socket (below), so these CLOSEs
      // go ahead of them, and past a full in-flight window, rather than being dropped too.
      for (const id of this.connections.keys()) this.queue?.write(encodeClose(id, 'shutdown'), true)
    }
    const wasConnecting = this.state === CONNECTING
    this.state = STOPPED
    this.teardown(linkError(LINK_STOPPED, 'link stopped'), CONDITION_LINK_CLOSED, false)
    if (socket === undefined || socket.destroyed) return
    // Nothing to flush on a socket still connecting: drop it.
    if (wasConnecting) { socket.destroy(); return }
    await new Promise<void>(resolve => {
      socket.once('close', () => resolve())
      // end() flushes what the socket holds; frames still in our queue are dropped with it.
      socket.end()
      setTimeout(() => socket.destroy(), this.options.handshakeTimeout).unref()
    })
  }

  // ───────────────────────────────────────── sessions (the Backend contract)

  /**
   * Opens a connection: sends OPEN and returns its id. The handler hears STREAM_START, DATA and
   * the end. Throws LINK_DOWN when the link is not up, LINK_QUEUE_FULL, or LINK_FIELD_TOO_LONG.
   * (A new id has nothing queued, so OPEN is never over its budget.)
   */
  open (params: OpenParams, handler: LinkConnectionHandler): number {
    if (this.state !== READY) throw linkError(LINK_DOWN, 'the link to the backend is not up')
    const connId = this.nextConnId
    if (connId > MAX_CONN_ID) throw linkError(LINK_DOWN, 'connection ids exhausted')
    const frame = encodeOpen(connId, params)
    this.checkSize(frame.length)
    if (this.writeSession(OPEN, frame, connId) !== QUEUED) throw this.queueFull()
    this.nextConnId++
    this.n.connectionsOpened++
    this.connections.set(connId, handler)
    return connId
  }

  /**
   * Sends one element. Throws LINK_NOT_OPEN, LINK_SEND_TOO_LARGE, LINK_SESSION_BUDGET (this
   * session already has maxSessionQueueBytes waiting: its waiting frames are dropped, and the
   * caller ends it with policy-violation) or LINK_QUEUE_FULL (every session's frames together
   * fill maxQueueBytes).
   */
  send (connId: number, xml: string): void {
    if (!this.connections.has(connId)) throw this.notOpen(connId)
    const frame = encodeData(connId, xml)
    this.checkSize(frame.length)
    const outcome = this.writeSession(DATA, frame, connId)
    if (outcome !== QUEUED) throw this.refused(connId, outcome)
  }

  /** Stream restart after SASL success. Throws LINK_NOT_OPEN, LINK_SESSION_BUDGET or LINK_QUEUE_FULL. */
  restart (connId: number): void {
    if (!this.connections.has(connId)) throw this.notOpen(connId)
    const outcome = this.writeSession(RESTART, encodeRestart(connId), connId)
    if (outcome !== QUEUED) throw this.refused(connId, outcome)
  }

  /**
   * Ends a connection; the handler gets no further calls. Idempotent: an id that is not open
   * (already closed by either side, or lost with the link) is ignored. Never throws for a full
   * queue: a CLOSE may use the queue's reserve, and if even that is full the link is wedged and
   * is dropped (every connection ends; the backend ends them too).
   */
  close (connId: number, condition: string): void {
    if (!this.connections.delete(connId)) return
    if (!this.write(CLOSE, encodeClose(connId, condition), connId)) this.wedged()
  }

  /** Asks the backend for its session counts (STATS_REQUEST → STATS_REPLY). */
  async stats (): Promise<StatsReply> {
    if (this.state !== READY) throw linkError(LINK_DOWN, 'the link to the backend is not up')
    if (this.pendingStats.size >= this.options.maxPendingStats) throw linkError(LINK_STATS_BUSY, `${this.pendingStats.size} stats requests pending`)
    const requestId = this.nextStatsId
    this.nextStatsId = (this.nextStatsId + 1) >>> 0
    return await new Promise<StatsReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingStats.delete(requestId)
        reject(linkError(LINK_STATS_TIMEOUT, `no STATS_REPLY within ${this.options.statsTimeout} ms`))
      }, this.options.statsTimeout)
      this.pendingStats.set(requestId, { resolve, reject, timer })
      if (!this.write(STATS_REQUEST, encodeStatsRequest(requestId))) this.wedged()
    })
  }

  /**
   * A JSON request to the backend's announcer (API_REQUEST → API_REPLY, docs/link-protocol.md);
   * resolves with the reply's JSON object, whether it says ok or not. Rejects with LINK_DOWN (link
   * not up, or lost before the reply), LINK_SEND_TOO_LARGE (above maxFrameSize), LINK_API_TIMEOUT,
   * LINK_API_UNSUPPORTED (the backend answered ERROR unknown-type: no announcer there), LINK_API_BUSY.
   */
  async apiRequest (json: object, timeoutMs: number): Promise<ApiJson> {
    if (this.state !== READY) throw linkError(LINK_DOWN, 'the link to the backend is not up')
    return await this.api.request(json, timeoutMs, frame => {
      this.checkSize(frame.length)
      if (!this.write(API_REQUEST, frame)) this.wedged()
    })
  }

  /** A snapshot of the counters. */
  counters (): LinkCounters {
    return {
      framesIn: FrameCounters.named(this.frames.framesIn),
      bytesIn: FrameCounters.named(this.frames.bytesIn),
      framesOut: FrameCounters.named(this.frames.framesOut),
      bytesOut: FrameCounters.named(this.frames.bytesOut),
      ...this.n,
      queueFrames: this.queue?.length ?? 0,
      queueBytes: this.queue?.bytes ?? 0,
      socketBufferedBytes: this.socket?.writableLength ?? 0,
      connections: this.connections.size
    }
  }

  // ───────────────────────────────────────── connecting and the handshake

  private connect (): void {
    if (this.connects++ > 0) this.n.reconnects++
    this.state = CONNECTING
    const socket = connect({ host: this.options.host, port: this.options.port })
    socket.setNoDelay(true)
    this.socket = socket
    // The window's marker PINGs carry the link offset they follow; their PONGs acknowledge it.
    this.queue = new SendQueue(socket, this.options.maxQueueBytes, this.options.maxSessionQueueBytes, this.options.maxInFlightBytes, offset => {
      const payload = Buffer.allocUnsafe(PING_SIZE)
      payload.writeDoubleBE(offset)
      const frame = encodePing(payload)
      this.n.pingsSent++
      this.frames.framesOut[PING]!++
      this.frames.bytesOut[PING]! += frame.length
      return frame
    })
    // docs/link-protocol.md "Maximum frame size": 1,024 bytes before the handshake succeeds.
    this.decoder = new FrameDecoder(this.sink, { maxFrameSize: Math.min(HANDSHAKE_MAX_FRAME_SIZE, this.options.maxFrameSize) })
    this.rxFrames = 0
    socket.on('connect', () => {
      // stop() while connecting keeps the socket to close it: a late 'connect' must not revive
      // the client (it would start a handshake timer, fail, and reconnect for ever).
      if (socket !== this.socket || this.state !== CONNECTING) return
      this.state = HANDSHAKE
      this.handshakeTimer = setTimeout(() => {
        this.fail(linkError(LINK_HANDSHAKE_TIMEOUT, `no handshake within ${this.options.handshakeTimeout} ms`))
      }, this.options.handshakeTimeout)
    })
    socket.on('data', (chunk: Buffer) => {
      if (socket === this.socket) this.decoder?.push(chunk)
    })
    socket.on('error', (err) => {
      if (socket === this.socket) this.fail(linkError(LINK_SOCKET, `link socket: ${err.message}`, err))
    })
    socket.on('close', () => {
      if (socket === this.socket) this.fail(linkError(LINK_PEER_CLOSED, 'the backend closed the link'))
    })
  }

  /** HELLO (step 1) → AUTH (step 2). */
  private onHello (data: Buffer): void {
    const hello = parseHello(data)
    if (hello instanceof LinkProtocolError) {
      this.fail(linkError(LINK_PROTOCOL, `bad HELLO: ${hello.message}`, hello))
      return
    }
    const version = chooseVersion(MIN_VERSION, MAX_VERSION, hello.minVersion, hello.maxVersion)
    if (version < 0) {
      // Step 2: no common version → close and report, without AUTH.
      this.fail(linkError(LINK_UNSUPPORTED_VERSION,
        `backend speaks versions ${hello.minVersion}..${hello.maxVersion}, the edge ${MIN_VERSION}..${MAX_VERSION}`))
      return
    }
    this.negotiated = version
    this.nb = Buffer.from(hello.nonce) // a copy: `data` is only valid during this call
    this.ne = randomBytes(NONCE_SIZE)
    this.write(AUTH, encodeAuth(version, this.ne, edgeMac(this.options.secret, this.nb, this.ne)))
  }

  /** AUTH_OK (step 3) → verify MACb (step 4). */
  private onAuthOk (data: Buffer): void {
    const mac = parseAuthOk(data)
    if (mac instanceof LinkProtocolError || this.nb === undefined || this.ne === undefined) {
      this.fail(linkError(LINK_PROTOCOL, 'AUTH_OK before HELLO, or malformed'))
      return
    }
    if (!macEqual(mac, backendMac(this.options.secret, this.ne, this.nb))) {
      this.fail(linkError(LINK_AUTH_FAILED, 'the backend\'s AUTH_OK MAC does not verify: it does not hold the secret'))
      return
    }
    clearTimeout(this.handshakeTimer)
    this.nb = this.ne = undefined
    this.state = READY
    this.attempt = 0
    this.n.handshakes++
    this.decoder!.maxFrameSize = this.options.maxReceiveFrameSize
    this.startHeartbeat()
    this.emit('up', { version: this.negotiated })
  }

  private onHandshakeFrame (connId: number, type: FrameType, data: Buffer): void {
    if (connId === 0 && type === HELLO && this.nb === undefined) return this.onHello(data)
    if (connId === 0 && type === AUTH_OK && this.nb !== undefined) return this.onAuthOk(data)
    if (connId === 0 && type === ERROR) {
      const e = parseError(0, data)
      const name = e instanceof LinkProtocolError ? 'bad-frame' : e.name
      const text = e instanceof LinkProtocolError ? '' : e.text
      if (name === 'auth-failed') return this.fail(linkError(LINK_AUTH_REJECTED, `the backend refused our AUTH (wrong secret?) ${text}`))
      if (name === 'unsupported-version') return this.fail(linkError(LINK_UNSUPPORTED_VERSION, `the backend refused version ${this.negotiated} ${text}`))
      return this.fail(linkError(LINK_PROTOCOL, `ERROR ${name} during the handshake ${text}`))
    }
    // docs/link-protocol.md "Handshake": before AUTH_OK, any other frame is a protocol error.
    this.fail(linkError(LINK_PROTOCOL, `frame type 0x${type.toString(16)} on id ${connId} during the handshake`))
  }

  // ───────────────────────────────────────── heartbeats

  private startHeartbeat (): void {
    const ping = Buffer.allocUnsafe(PING_SIZE)
    this.pingTimer = setInterval(() => {
      // 8 bytes the backend echoes: the link offset this PING follows (at most: a PING that has to
      // queue goes out later), so that its PONG also moves the send queue's window (send-queue.ts).
      ping.writeDoubleBE(this.queue?.written ?? 0)
      this.n.pingsSent++
      if (!this.write(PING, encodePing(ping))) this.wedged()
    }, this.options.heartbeatInterval)
    // The watchdog counts frames rather than resetting a timer per frame: a quarter-timeout tick
    // notices silence within 1.25 × heartbeatTimeout at a cost of nothing per frame.
    this.rxSeen = this.rxFrames
    this.rxSilentSince = performance.now()
    this.watchdogTimer = setInterval(() => {
      const now = performance.now()
      if (this.rxFrames !== this.rxSeen) {
        this.rxSeen = this.rxFrames
        this.rxSilentSince = now
      } else if (now - this.rxSilentSince >= this.options.heartbeatTimeout) {
        this.fail(linkError(LINK_HEARTBEAT_TIMEOUT, `no frame from the backend for ${this.options.heartbeatTimeout} ms`))
      }
    }, Math.max(1, this.options.heartbeatTimeout / 4))
  }

  // ───────────────────────────────────────── receiving

  private onFrame (connId: number, type: FrameType, data: Buffer): void {
    this.rxFrames++
    this.frames.framesIn[type]!++
    this.frames.bytesIn[type]! += HEADER_SIZE + data.length
    if (this.state !== READY) {
      this.onHandshakeFrame(connId, type, data)
      return
    }
    if (type === DATA || type === STREAM_START || type === CLOSE) {
      const handler = this.connections.get(connId)
      if (handler === undefined) {
        // docs/link-protocol.md "Sessions": frames may cross a CLOSE on the wire.
        this.n.framesIgnored++
        return
      }
      this.deliver(connId, handler, type, data)
      return
    }
    if (type === ERROR) return this.onRemoteError(connId, data)
    if (EDGE_ONLY.has(type)) {
      this.refuse(connId, 'wrong-direction', `frame type 0x${type.toString(16)} is sent by the edge only`)
      return
    }
    if (connId !== 0 || !isControlType(type)) {
      this.refuse(connId, 'bad-frame', `frame type 0x${type.toString(16)} on connection id ${connId}`)
      return
    }
    switch (type) {
      case PING: {
        const payload = parsePing(data)
        if (payload instanceof LinkProtocolError) return this.refuse(0, 'bad-frame', payload.message)
        if (!this.write(PONG, encodePong(payload))) this.wedged()
        return
      }
      case PONG: {
        this.n.pongsReceived++
        const payload = parsePing(data)
        if (payload instanceof Buffer) this.queue?.ack(payload.readDoubleBE(0))
        return
      }
      case STATS_REPLY: {
        const reply = parseStatsReply(data)
        if (reply instanceof LinkProtocolError) return this.refuse(0, 'bad-frame', reply.message)
        const pending = this.pendingStats.get(reply.requestId)
        if (pending === undefined) return
        this.pendingStats.delete(reply.requestId)
        clearTimeout(pending.timer)
        pending.resolve(reply)
        return
      }
      case API_REPLY: {
        const bad = this.api.onReply(data)
        if (bad !== undefined) this.refuse(0, 'bad-frame', bad.message)
        return
      }
      default:
        // HELLO or AUTH_OK again after the handshake: not expected, not harmful.
        this.n.protocolErrors++
        this.emit('warning', badFrame(0, `unexpected frame type 0x${type.toString(16)} after the handshake`))
    }
  }

  /** A session frame for an open connection. A handler that throws ends its own connection only. */
  private deliver (connId: number, handler: LinkConnectionHandler, type: FrameType, data: Buffer): void {
    try {
      if (type === DATA) {
        const xml = parseData(connId, data)
        if (xml instanceof LinkProtocolError) return this.corrupt(connId, handler, xml)
        handler.onData(xml)
      } else if (type === STREAM_START) {
        const start: StreamStart | LinkProtocolError = parseStreamStart(connId, data)
        if (start instanceof LinkProtocolError) return this.corrupt(connId, handler, start)
        handler.onStreamStart(start)
      } else {
        const c = parseClose(connId, data)
        this.connections.delete(connId)
        handler.onClose(c instanceof LinkProtocolError ? 'bad-frame' : closeReasonFromServer(c.condition))
      }
    } catch (err) {
      this.emit('warning', linkError(LINK_HANDLER_THREW, `the handler of connection ${connId} threw`, err))
      this.close(connId, 'internal-error')
    }
  }

  /** A session frame we cannot deliver: the stream is broken; tell the backend and end it. */
  private corrupt (connId: number, handler: LinkConnectionHandler, error: LinkProtocolError): void {
    this.refuse(connId, 'bad-frame', error.message)
    this.close(connId, 'bad-frame')
    handler.onClose('bad-frame')
  }

  private onRemoteError (connId: number, data: Buffer): void {
    this.n.remoteErrors++
    const e = parseError(connId, data)
    // An ERROR never answers an ERROR, so a malformed one is only reported.
    const error = e instanceof LinkProtocolError
      ? e
      : new LinkProtocolError('LINK_REMOTE_ERROR', e.name, connId, `backend ERROR ${e.name} (${e.code}) on id ${connId}: ${e.text}`, e.code)
    if (connId === 0) {
      // The answer of a backend without the announcer to API_REQUEST (src/link/api.ts).
      if (!(e instanceof LinkProtocolError) && e.name === 'unknown-type' && this.api.onUnknownType(e.text)) return
      this.emit('warning', error)
      return
    }
    const handler = this.connections.get(connId)
    if (handler === undefined) {
      this.n.framesIgnored++ // e.g. unknown-connection for an id we closed: informative only
      return
    }
    try {
      if (isTerminalError(error.protocolError)) {
        this.connections.delete(connId)
        handler.onClose(error.protocolError)
      } else {
        handler.onError?.(error)
      }
    } catch (err) {
      this.emit('warning', linkError(LINK_HANDLER_THREW, `the handler of connection ${connId} threw`, err))
      this.close(connId, 'internal-error')
    }
  }

  /** A frame the decoder skipped: answer with the matching ERROR (the link stays up). */
  private onDecodeError (error: LinkProtocolError): void {
    this.n.protocolErrors++
    if (this.state !== READY) {
      this.fail(linkError(LINK_PROTOCOL, `during the handshake: ${error.message}`, error))
      return
    }
    this.emit('warning', error)
    this.sendError(Math.max(0, error.connId), error.protocolCode, error.message)
    // An element too large to take would be lost without a word, and the client would wait for
    // it (an iq result, say): end that session instead, with the reason. Others carry on.
    const handler = error.protocolError === 'frame-too-large' ? this.connections.get(error.connId) : undefined
    if (handler !== undefined) {
      this.close(error.connId, 'frame-too-large')
      try {
        handler.onClose('frame-too-large')
      } catch (err) {
        this.emit('warning', linkError(LINK_HANDLER_THREW, `the handler of connection ${error.connId} threw`, err))
      }
    }
  }

  private refuse (connId: number, name: ProtocolErrorName, text: string): void {
    this.n.protocolErrors++
    this.emit('warning', new LinkProtocolError('LINK_BAD_FRAME', name, connId, text))
    this.sendError(connId, PROTOCOL_ERRORS[name], text)
  }

  private sendError (connId: number, code: number, text: string): void {
    if (!this.write(ERROR, encodeError(connId, code, text.slice(0, 200)))) this.wedged()
  }

  // ───────────────────────────────────────── sending

  /**
   * Counts and writes one link control frame, or a frame that ends a session (its CLOSE, an
   * ERROR about it): these may use the queue's reserve and no session budget applies. False
   * when even the reserve has no room.
   */
  private write (type: FrameType, frame: Buffer, owner = LINK_OWNER): boolean {
    return this.writeFrame(type, frame, true, owner) === QUEUED
  }

  /** Counts and writes one frame of session `owner`: QUEUED, QUEUE_FULL or OVER_BUDGET. */
  private writeSession (type: FrameType, frame: Buffer, owner: number): WriteOutcome {
    return this.writeFrame(type, frame, false, owner)
  }

  private writeFrame (type: FrameType, frame: Buffer, force: boolean, owner: number): WriteOutcome {
    const queue = this.queue
    if (queue === undefined || this.socket?.destroyed !== false) return QUEUED // link gone: dropped, as on the wire
    const outcome = queue.write(frame, force, owner)
    if (outcome === QUEUED) {
      this.frames.framesOut[type]!++
      this.frames.bytesOut[type]! += frame.length
    }
    return outcome
  }

  /**
   * The error for a frame the queue refused. Over its budget, the session's waiting frames are
   * dropped at once: it is about to end (policy-violation), and they would only hold the other
   * sessions' frames back on their way to the server.
   */
  private refused (connId: number, outcome: WriteOutcome): MegaphoneError {
    if (outcome !== OVER_BUDGET) return this.queueFull()
    this.n.sessionsOverBudget++
    const dropped = this.queue?.purge(connId) ?? 0
    return linkError(LINK_SESSION_BUDGET,
      `connection ${connId} has ${dropped} bytes waiting for the link, its budget is ${this.options.maxSessionQueueBytes} (dropped)`)
  }

  private checkSize (frameBytes: number): void {
    // The backend skips frames above its maximum (the same default): refuse them here instead.
    if (frameBytes - 4 > this.options.maxFrameSize) {
      throw linkError(LINK_SEND_TOO_LARGE, `frame of ${frameBytes - 4} bytes above maxFrameSize ${this.options.maxFrameSize}`)
    }
  }

  private queueFull (): MegaphoneError {
    return linkError(LINK_QUEUE_FULL, `link send queue full (${this.queue?.bytes ?? 0} of ${this.options.maxQueueBytes} bytes)`)
  }

  private notOpen (connId: number): MegaphoneError {
    return linkError(LINK_NOT_OPEN, `connection ${connId} is not open`)
  }

  /** Even the reserve is full: the backend has stopped reading. Drop the link, outside the caller's call. */
  private wedged (): void {
    const socket = this.socket
    queueMicrotask(() => {
      if (socket === this.socket) this.fail(this.queueFull())
    })
  }

  // ───────────────────────────────────────── losing the link

  /** A connect, handshake or link failure: tear down, report, and schedule a reconnect. */
  private fail (reason: MegaphoneError): void {
    if (this.state === STOPPED || this.state === WAITING || this.state === IDLE) return
    if (this.state === READY) this.n.linkLosses++
    else this.n.handshakeFailures++
    this.state = WAITING
    this.teardown(reason, CONDITION_LINK_LOST, true)
    // A listener of 'down' (or a session's onClose) may have called stop(): then no reconnect.
    if (this.state !== WAITING) return
    const delay = backoffDelay(this.attempt, this.options.reconnectBase, this.options.reconnectMax, this.options.random)
    this.attempt++
    this.reconnectTimer = setTimeout(() => {
      if (this.state === WAITING) this.connect()
    }, delay)
    this.emit('reconnecting', { attempt: this.attempt - 1, delay })
  }

  /**
   * Ends every connection (docs/link-protocol.md: "When the link is lost, every connection of
   * that link ends on both sides"), rejects pending stats, closes the socket, reports.
   */
  private teardown (reason: MegaphoneError, condition: LinkCloseReason, destroy: boolean): void {
    clearTimeout(this.handshakeTimer)
    clearInterval(this.pingTimer)
    clearInterval(this.watchdogTimer)
    this.decoder?.stop()
    this.nb = this.ne = undefined
    const socket = this.socket
    if (destroy) {
      this.queue?.clear()
      this.socket = undefined
      socket?.destroy()
    }
    const handlers = [...this.connections.values()]
    this.connections.clear()
    for (const handler of handlers) {
      try {
        handler.onClose(condition)
      } catch (err) {
        this.emit('warning', linkError(LINK_HANDLER_THREW, 'a handler threw in onClose', err))
      }
    }
    for (const pending of this.pendingStats.values()) {
      clearTimeout(pending.timer)
      pending.reject(linkError(LINK_DOWN, 'the link went down', reason))
    }
    this.pendingStats.clear()
    this.api.reset(linkError(LINK_DOWN, 'the link went down', reason))
    this.emit('down', reason)
  }
}
