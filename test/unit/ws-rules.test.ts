/**
 * RFC 7395 (XMPP over WebSocket) rules, one subtest each, with a real `ws` client against the
 * edge's app listening on 127.0.0.1:0. Behind the edge is the SCRIPTED FAKE BACKEND
 * (test/fixtures/scripted-backend.ts): an in-process stand-in for the link that plays a minimal
 * XMPP server. It is not ejabberd; test/integration/ws-e2e.test.ts runs against the real one.
 * The WebSocket timer wheel runs on a fake clock that each test advances by hand.
 */
import t from 'tap'
import { once } from 'node:events'
import { WebSocket, type RawData } from 'ws'
import type { FastifyInstance } from 'fastify'
import { Edge as Root } from '../../src/edge.ts'
import { mountBosh } from '../../src/bosh/edge.ts'
import type { BoshManager } from '../../src/bosh/manager.ts'
import { mountWebSocket } from '../../src/ws/edge.ts'
import type { WsManager } from '../../src/ws/manager.ts'
import type { WsOptions } from '../../src/ws/options.ts'
import type { TimerWheel } from '../../src/timers/wheel.ts'
import { ScriptedBackend } from '../fixtures/scripted-backend.ts'
import { NS, XMPP_NS, bodyAttrs } from '../fixtures/bosh-harness.ts'

const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing'
const OPEN = `<open xmlns='${FRAMING}' to='localhost' version='1.0' xml:lang='en'/>`
const CLOSE = `<close xmlns='${FRAMING}'/>`
const MSG = "<message xmlns='jabber:client' to='bob@localhost' type='chat'><body>hi &amp; bye</body></message>"
const AUTH = `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0pw').toString('base64')}</auth>`

interface Teardown { teardown (fn: () => unknown): void }

/** The edge (BOSH and WebSocket on one fastify app) over the scripted fake backend. */
class Edge {
  time = 1_000_000
  /** SCRIPTED FAKE BACKEND: not ejabberd */
  readonly backend = new ScriptedBackend()
  bosh!: { app: FastifyInstance, manager: BoshManager }
  ws!: { manager: WsManager, wheel: TimerWheel }
  port = 0

  /** Both transports mounted as peers on one composition root (src/edge.ts). */
  static async start (t: Teardown, o: Partial<WsOptions> & { maxSessions?: number } = {}): Promise<Edge> {
    const e = new Edge()
    const { maxSessions = 100, ...ws } = o
    const root = await Root.create(e.backend, { now: () => e.time, ticks: () => () => {}, maxSessions, hostMeta: { websocketUrl: o.path ?? '/xmpp-websocket' } })
    e.bosh = { app: root.app, manager: mountBosh(root) }
    e.ws = { manager: await mountWebSocket(root, ws), wheel: root.wheel }
    await e.bosh.app.listen({ host: '127.0.0.1', port: 0 })
    const a = e.bosh.app.server.address()
    e.port = typeof a === 'object' && a !== null ? a.port : 0
    t.teardown(async () => { await e.bosh.app.close() })
    return e
  }

  get url (): string { return `ws://127.0.0.1:${this.port}/xmpp-websocket` }

  /** Moves the fake clock and fires what is due. */
  advance (ms: number): void {
    this.time += ms
    this.ws.wheel.advance(this.time)
  }

  async connect (t: Teardown, protocols: string[] = ['xmpp'], options: { autoPong?: boolean } = {}): Promise<Client> {
    const c = new Client(new WebSocket(this.url, protocols, options))
    t.teardown(() => { c.ws.terminate() })
    await once(c.ws, 'open')
    return c
  }

  /** A client that opened its stream, authenticated and restarted (RFC 7395 §3.4, §3.7). */
  async loggedIn (t: Teardown): Promise<Client> {
    const c = await this.connect(t)
    c.send(OPEN)
    await c.next() // <open/>
    await c.next() // SASL features
    c.send(AUTH)
    await c.next() // <success/>
    c.send(OPEN)
    await c.next() // <open/>
    await c.next() // bind features
    return c
  }
}

/** A raw RFC 7395 client: every message it receives, in order. */
class Client {
  readonly messages: string[] = []
  private read = 0
  private waiting: (() => void) | undefined
  readonly closed: Promise<{ code: number, reason: string }>
  pings = 0

  constructor (readonly ws: WebSocket) {
    ws.on('message', (data: RawData) => {
      this.messages.push(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8'))
      this.waiting?.()
    })
    ws.on('ping', () => { this.pings++ })
    ws.on('error', () => {})
    this.closed = new Promise(resolve => {
      ws.on('close', (code: number, reason: Buffer) => { resolve({ code, reason: reason.toString() }); this.waiting?.() })
    })
  }

  send (text: string | Buffer): void {
    this.ws.send(text, { binary: Buffer.isBuffer(text) })
  }

  /** The next message not yet read; rejects when the socket closes first or after 2 s. */
  async next (): Promise<string> {
    const deadline = Date.now() + 2000
    while (this.read >= this.messages.length) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`closed; messages: ${JSON.stringify(this.messages)}`)
      if (Date.now() > deadline) throw new Error(`no message; messages: ${JSON.stringify(this.messages)}`)
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, 50)
        this.waiting = () => { clearTimeout(timer); resolve() }
      })
    }
    return this.messages[this.read++]!
  }

  /** Everything until the socket closes, and how it closed. */
  async rest (): Promise<{ messages: string[], code: number }> {
    const { code } = await this.closed
    const messages = this.messages.slice(this.read)
    this.read = this.messages.length
    return { messages, code }
  }
}

function streamError (condition: string): RegExp {
  return new RegExp(`^<stream:error xmlns:stream='http://etherx.jabber.org/streams'><${condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>$`)
}

const OPEN_REPLY = /^<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='[^']+' from='localhost' version='1.0' xml:lang='en'\/>$/

/** Lets queued microtasks, immediates and socket reads run. */
async function settle (ms = 30): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Waits (on the real clock, up to 2 s) until `check` holds: what crosses a socket takes a moment. */
async function until (check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await settle(5)
  }
}

void t.test('RFC 7395 §3.1: the xmpp subprotocol is required, and echoed', async t => {
  const e = await Edge.start(t)
  for (const protocols of [[], ['chat']]) {
    const ws = new WebSocket(e.url, protocols)
    ws.on('error', () => {})
    const [, res] = await once(ws, 'unexpected-response') as [unknown, { statusCode: number }]
    t.equal(res.statusCode, 400, `refused before the upgrade when offering ${JSON.stringify(protocols)}`)
    ws.terminate()
  }
  const c = await e.connect(t, ['chat', 'xmpp'])
  t.equal(c.ws.protocol, 'xmpp', 'the server selects xmpp')
  const page = await fetch(`http://127.0.0.1:${e.port}/xmpp-websocket`)
  t.equal(page.status, 426, 'a plain GET is told to upgrade')
  t.equal(page.headers.get('upgrade'), 'websocket')
  t.equal(e.ws.manager.stats.accepted, 1, 'only the xmpp connection became a session')
})

void t.test('RFC 6455 §10.2: an origin allow-list refuses pages from other origins before the upgrade', async t => {
  const e = await Edge.start(t, { origins: ['https://chat.example.com'] })
  const foreign = new WebSocket(e.url, ['xmpp'], { origin: 'https://evil.example.net' })
  foreign.on('error', () => {})
  const [, res] = await once(foreign, 'unexpected-response') as [unknown, { statusCode: number }]
  t.equal(res.statusCode, 403, 'another origin gets 403')
  foreign.terminate()
  const allowed = new Client(new WebSocket(e.url, ['xmpp'], { origin: 'https://chat.example.com' }))
  t.teardown(() => { allowed.ws.terminate() })
  await once(allowed.ws, 'open')
  t.pass('a listed origin upgrades')
  const noOrigin = await e.connect(t)
  t.equal(noOrigin.ws.protocol, 'xmpp', 'a client that sends no Origin (not a browser page) upgrades')
  t.equal(e.ws.manager.stats.accepted, 2, 'the refused request never became a session')
  const any = await Edge.start(t)
  const c = new Client(new WebSocket(any.url, ['xmpp'], { origin: 'https://anywhere.example' }))
  t.teardown(() => { c.ws.terminate() })
  await once(c.ws, 'open')
  t.pass('by default (*) any origin upgrades')
})

void t.test('RFC 7395 §3.4: <open/> opens the stream on the link (transport websocket); the server answers with <open/> and features', async t => {
  const e = await Edge.start(t)
  const c = await e.connect(t)
  c.send(OPEN)
  t.match(await c.next(), OPEN_REPLY, 'the server\'s <open/>: framing namespace, id, from, version, xml:lang')
  t.match(await c.next(), /^<stream:features xmlns:stream='http:\/\/etherx.jabber.org\/streams'>/, 'features, standalone')
  t.match(e.backend.last().params, { transport: 'websocket', to: 'localhost', ip: '127.0.0.1', lang: 'en' })
  t.equal(e.ws.manager.size, 1)
  t.equal(e.bosh.manager.registry.size, 1, 'the session is in the shared table')
})

void t.test('RFC 7395 §3.4: the first message must be <open/>', async t => {
  const e = await Edge.start(t)
  const c = await e.connect(t)
  c.send(MSG)
  const { messages, code } = await c.rest()
  t.equal(messages.length, 3)
  t.match(messages[0], /^<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='[^']+' version='1.0' xml:lang='en'\/>$/, '§3.5: a header of ours first')
  t.match(messages[1], streamError('invalid-xml'))
  t.equal(messages[2], CLOSE)
  t.equal(code, 1000)
  t.equal(e.backend.conns.size, 0, 'nothing reached the link')
  t.equal(e.bosh.manager.registry.size, 0, 'the row is free again')
})

void t.test('RFC 7395 §3.3.2: <open/> and <close/> outside the framing namespace are invalid-namespace', async t => {
  const e = await Edge.start(t)
  for (const bad of [
    "<open xmlns='jabber:client' to='localhost' version='1.0'/>",
    "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' to='localhost' version='1.0'/>"
  ]) {
    const c = await e.connect(t)
    c.send(bad)
    const { messages } = await c.rest()
    t.match(messages[1], streamError('invalid-namespace'), bad)
  }
  const c = await e.connect(t)
  c.send(OPEN)
  await c.next(); await c.next()
  c.send("<close xmlns='jabber:client'/>")
  const { messages } = await c.rest()
  t.match(messages, [streamError('invalid-namespace'), CLOSE], 'after the header: no second header of ours')
  t.equal(e.backend.last().closed, 'WS_INVALID_NAMESPACE', 'the link connection is closed with the error code as the reason')
})

void t.test('RFC 7395 §3.3.3: each message is one standalone element, forwarded as written', async t => {
  const e = await Edge.start(t)
  const c = await e.loggedIn(t)
  const conn = e.backend.last()
  e.backend.autoReply = false
  const before = conn.received.length
  c.send(MSG)
  c.send("<?xml version='1.0'?><iq xmlns='jabber:client' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>\n")
  c.send("<x:r xmlns:x='urn:xmpp:sm:3'/>")
  c.send("<message xmlns='jabber:client'><body><![CDATA[<b>&raw]]></body></message>")
  await until(() => conn.received.length === before + 4 || c.ws.readyState !== WebSocket.OPEN, 'four elements forwarded')
  t.same(conn.received.slice(-4), [
    MSG,
    "<iq xmlns='jabber:client' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
    "<x:r xmlns:x='urn:xmpp:sm:3'/>",
    "<message xmlns='jabber:client'><body><![CDATA[<b>&raw]]></body></message>"
  ], 'byte for byte, without the XML declaration and trailing whitespace')
  t.equal(c.ws.readyState, WebSocket.OPEN)
})

void t.test('RFC 7395 §3.3.3: two elements, text or nothing in one message is not-well-formed; no namespace is invalid-namespace', async t => {
  const e = await Edge.start(t)
  const cases: [string, string][] = [
    [MSG + MSG, 'not-well-formed'],
    [' ' + MSG, 'not-well-formed'],
    [MSG + 'tail', 'not-well-formed'],
    [' ', 'not-well-formed'],
    ["<message xmlns='jabber:client'><body>cut", 'not-well-formed'],
    ["<message to='bob@localhost'><body>hi</body></message>", 'invalid-namespace'],
    ["<message xmlns='jabber:client'><x:y/></message>", 'not-well-formed']
  ]
  for (const [bad, condition] of cases) {
    const c = await e.loggedIn(t)
    c.send(bad)
    const { messages, code } = await c.rest()
    t.match(messages, [streamError(condition), CLOSE], JSON.stringify(bad))
    t.equal(code, 1000)
    t.equal(e.backend.last().closed, condition.replace('not-well-formed', 'WS_NOT_WELL_FORMED').replace('invalid-namespace', 'WS_INVALID_NAMESPACE'))
  }
})

void t.test('RFC 6120 §11.1: no DTD, comments, PIs or entities (nothing is expanded)', async t => {
  const e = await Edge.start(t)
  const cases: [string, string][] = [
    ["<!DOCTYPE x [<!ENTITY a 'aaaa'>]><message xmlns='jabber:client'>&a;</message>", 'restricted-xml'],
    ["<message xmlns='jabber:client'><!-- c --></message>", 'restricted-xml'],
    ["<message xmlns='jabber:client'><?pi x?></message>", 'restricted-xml'],
    ["<message xmlns='jabber:client'><body>&lol;</body></message>", 'not-well-formed'],
    ["<message xmlns='jabber:client'><body>&#0;</body></message>", 'not-well-formed']
  ]
  for (const [bad, condition] of cases) {
    const c = await e.loggedIn(t)
    const before = e.backend.last().received.length
    c.send(bad)
    const { messages } = await c.rest()
    t.match(messages, [streamError(condition), CLOSE], JSON.stringify(bad))
    t.equal(e.backend.last().received.length, before, 'nothing forwarded')
  }
})

void t.test('RFC 7395 §3.2: text frames only', async t => {
  const e = await Edge.start(t)
  const c = await e.connect(t)
  c.send(OPEN)
  await c.next(); await c.next()
  c.send(Buffer.from(MSG))
  const { messages, code } = await c.rest()
  t.match(messages, [streamError('unsupported-encoding'), CLOSE])
  t.equal(code, 1003, 'RFC 6455 §7.4.1: data of a type the endpoint cannot accept')
})

void t.test('RFC 7395 §3.7: after SASL success a new <open/> restarts the stream; elsewhere it is refused', async t => {
  const e = await Edge.start(t)
  const c = await e.connect(t)
  c.send(OPEN)
  const first = await c.next()
  await c.next()
  c.send(AUTH)
  t.equal(await c.next(), "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
  c.send(OPEN)
  const second = await c.next()
  t.match(second, OPEN_REPLY, 'a new <open/>')
  t.not(/id='([^']+)'/.exec(second)?.[1], /id='([^']+)'/.exec(first)?.[1], 'with a new stream id')
  t.match(await c.next(), /<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'\/>/, 'the features after authentication')
  t.equal(e.backend.last().restarts, 1, 'the link RESTART was sent')
  t.equal(e.backend.conns.size, 1, 'still one connection')
  c.send(OPEN)
  const { messages } = await c.rest()
  t.match(messages, [streamError('invalid-xml'), CLOSE], 'a second restart without SASL success')
  t.equal(e.backend.last().restarts, 1)
})

void t.test('RFC 7395 §3.6: the client\'s <close/> closes the link connection and is answered with <close/>', async t => {
  const e = await Edge.start(t)
  const c = await e.loggedIn(t)
  c.send(CLOSE)
  const { messages, code } = await c.rest()
  t.same(messages, [CLOSE])
  t.equal(code, 1000, 'then the WebSocket closing handshake')
  t.equal(e.backend.last().closed, '', 'a normal logout on the link')
  t.equal(e.bosh.manager.registry.size, 0)
  t.same(e.ws.manager.stats.ended, { 'client-closed': 1 })
})

void t.test('RFC 7395 §3.6: a WebSocket closed without <close/> ends the stream implicitly', async t => {
  const e = await Edge.start(t)
  const c = await e.loggedIn(t)
  c.ws.terminate()
  await until(() => e.backend.last().closed !== undefined, 'the link connection closed')
  t.equal(e.backend.last().closed, 'client-gone')
  t.equal(e.bosh.manager.registry.size, 0)
})

void t.test('RFC 7395 §3.5: a server stream error is relayed as delivered, then <close/>', async t => {
  const e = await Edge.start(t)
  const c = await e.loggedIn(t)
  const conn = e.backend.last()
  const err = "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced by new connection</text></stream:error>"
  e.backend.push(conn.id, err)
  e.backend.end(conn.id, 'conflict')
  const { messages, code } = await c.rest()
  t.same(messages, [err, CLOSE])
  t.equal(code, 1000)
  t.same(e.ws.manager.stats.ended, { conflict: 1 })
})

void t.test('RFC 7395 §3.5: a stream that ends for a link reason gets a stream error of ours; a normal end only <close/>', async t => {
  const e = await Edge.start(t)
  let c = await e.loggedIn(t)
  e.backend.end(e.backend.last().id, 'link-lost')
  t.match((await c.rest()).messages, [streamError('remote-connection-failed'), CLOSE])
  c = await e.loggedIn(t)
  e.backend.end(e.backend.last().id, '')
  t.same((await c.rest()).messages, [CLOSE])
})

void t.test('RFC 7395 §3.5: errors while opening follow a header (host-unknown, unsupported-version, link down)', async t => {
  const e = await Edge.start(t, { domains: ['localhost'] })
  const cases: [string, string][] = [
    [`<open xmlns='${FRAMING}' to='elsewhere' version='1.0'/>`, 'host-unknown'],
    [`<open xmlns='${FRAMING}' version='1.0'/>`, 'host-unknown'],
    [`<open xmlns='${FRAMING}' to='localhost'/>`, 'unsupported-version'],
    [`<open xmlns='${FRAMING}' to='localhost' version='2.0'/>`, 'unsupported-version']
  ]
  for (const [open, condition] of cases) {
    const c = await e.connect(t)
    c.send(open)
    const { messages } = await c.rest()
    t.match(messages, [/^<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='[^']+' from='localhost' version='1.0' xml:lang='en'\/>$/, streamError(condition), CLOSE], open)
  }
  e.backend.ready = false
  const c = await e.connect(t)
  c.send(OPEN)
  t.match((await c.rest()).messages, [OPEN_REPLY, streamError('remote-connection-failed'), CLOSE], 'no link: remote-connection-failed')
  t.equal(e.backend.conns.size, 0)
})

void t.test('open deadline: no <open/> from the client, or no header from the server, within openTimeout', async t => {
  const e = await Edge.start(t, { openTimeout: 10 })
  const c = await e.connect(t)
  e.advance(9_000)
  await settle()
  t.equal(c.ws.readyState, WebSocket.OPEN, 'still waiting before the deadline')
  e.advance(1_100)
  t.match((await c.rest()).messages, [/^<open /, streamError('connection-timeout'), CLOSE])
  e.backend.autoStart = false
  const d = await e.connect(t)
  d.send(OPEN)
  await until(() => e.backend.conns.size === 1, 'the OPEN on the link')
  e.advance(10_100)
  t.match((await d.rest()).messages, [/^<open /, streamError('remote-connection-failed'), CLOSE])
  t.equal(e.backend.last().closed, 'open-timeout')
})

void t.test('maximum message size: a larger message closes the connection (RFC 6455 §7.4.1, 1009)', async t => {
  const e = await Edge.start(t, { maxMessageBytes: 2048 })
  const c = await e.loggedIn(t)
  c.send(`<message xmlns='jabber:client'><body>${'x'.repeat(1900)}</body></message>`)
  await settle()
  t.equal(c.ws.readyState, WebSocket.OPEN, 'below the limit passes')
  c.send(`<message xmlns='jabber:client'><body>${'x'.repeat(3000)}</body></message>`)
  const { code } = await c.rest()
  t.equal(code, 1009)
  t.equal(e.backend.last().closed, 'message-too-large')
  t.equal(e.bosh.manager.registry.size, 0)
})

void t.test('element depth limit: policy-violation', async t => {
  const e = await Edge.start(t, { maxDepth: 4 })
  const c = await e.loggedIn(t)
  c.send("<message xmlns='jabber:client'><a><b><c/></b></a></message>")
  await settle()
  t.equal(c.ws.readyState, WebSocket.OPEN, 'depth 4 passes')
  c.send("<message xmlns='jabber:client'><a><b><c><d/></c></b></a></message>")
  t.match((await c.rest()).messages, [streamError('policy-violation'), CLOSE])
})

void t.test('RFC 7395 §3.8: WebSocket pings every pingInterval; the pong keeps a quiet client', async t => {
  const e = await Edge.start(t, { pingInterval: 30, idleTimeout: 90 })
  const c = await e.loggedIn(t)
  for (let i = 1; i <= 5; i++) {
    e.advance(30_000)
    await until(() => c.pings === i, `ping ${i}`)
    await settle() // and its pong back at the edge
    t.equal(c.pings, i, `ping ${i}`)
  }
  t.equal(c.ws.readyState, WebSocket.OPEN, '150 s without a stanza, but answering pings: still there')
})

void t.test('idle timeout: a client that sends nothing, not even a pong, is dropped with connection-timeout', async t => {
  const e = await Edge.start(t, { pingInterval: 30, idleTimeout: 90 })
  const c = await e.connect(t, ['xmpp'], { autoPong: false })
  c.send(OPEN)
  await c.next(); await c.next()
  for (let i = 1; i <= 2; i++) {
    e.advance(30_000)
    await until(() => c.pings === i, `ping ${i}`)
  }
  t.equal(c.pings, 2, 'pinged twice, answered neither')
  t.equal(c.ws.readyState, WebSocket.OPEN, 'not yet idle for 90 s')
  e.advance(30_000)
  t.match((await c.rest()).messages, [streamError('connection-timeout'), CLOSE])
  t.equal(e.backend.last().closed, 'idle-timeout')
})

void t.test('backpressure: a client that does not read is dropped once bufferedAmount passes the limit', async t => {
  const e = await Edge.start(t, { maxBufferedBytes: 64 * 1024 })
  const c = await e.loggedIn(t)
  const conn = e.backend.last()
  c.ws.pause()
  const big = `<message xmlns='jabber:client'><body>${'y'.repeat(16 * 1024)}</body></message>`
  let pushed = 0
  // Loopback socket buffers hold a few MiB: push until the edge gives up (bounded at 256 MiB).
  while (conn.closed === undefined && pushed < 16 * 1024) {
    e.backend.push(conn.id, big)
    pushed++
    if (pushed % 64 === 0) await settle(1)
  }
  t.equal(conn.closed, 'client-slow', `dropped after ${pushed} messages of 16 KiB`)
  t.same(e.ws.manager.stats.ended, { 'client-slow': 1 })
  t.equal(e.bosh.manager.registry.size, 0)
  c.ws.resume()
  t.not((await c.closed).code, 1000, 'cut, not closed politely')
})

void t.test('shutdown: <close see-other-uri=…/> where configured (RFC 7395 §3.6.1), else system-shutdown', async t => {
  const tt: Teardown = { teardown: () => {} }
  let e = await Edge.start(tt, { seeOtherUri: 'wss://other.example/xmpp-websocket' })
  let c = await e.loggedIn(t)
  await e.bosh.app.close()
  let r = await c.rest()
  t.same(r.messages, [`<close xmlns='${FRAMING}' see-other-uri='wss://other.example/xmpp-websocket'/>`])
  t.equal(r.code, 1001, 'RFC 6455 §7.4.1: going away')
  t.equal(e.backend.last().closed, 'shutdown')
  e = await Edge.start(tt)
  c = await e.loggedIn(t)
  await e.bosh.app.close()
  r = await c.rest()
  t.match(r.messages, [streamError('system-shutdown'), CLOSE])
})

void t.test('one session table: WebSocket and BOSH sessions count against the same maxSessions', async t => {
  const e = await Edge.start(t, { maxSessions: 2 })
  const a = await e.connect(t)
  const res = await e.bosh.app.inject({ method: 'POST', url: '/http-bind', payload: `<body rid='1' to='localhost' wait='60' hold='1' ver='1.6' ${NS} ${XMPP_NS}/>` })
  t.ok(bodyAttrs(res.body).sid, 'a BOSH session takes the second row')
  const b = new Client(new WebSocket(e.url, ['xmpp']))
  t.teardown(() => { b.ws.terminate() })
  const { code } = await b.closed
  t.equal(code, 1013, 'a third session: table full, try again later')
  t.same(e.ws.manager.stats.refused, { 'session-table-full': 1 })
  a.send(CLOSE)
  await a.closed
  const again = await e.connect(t)
  t.equal(again.ws.readyState, WebSocket.OPEN, 'the freed row is used again')
})

void t.test('RFC 7395 §4, XEP-0156: host-meta advertises the WebSocket URL', async t => {
  const e = await Edge.start(t)
  const json = await (await fetch(`http://127.0.0.1:${e.port}/.well-known/host-meta.json`)).json() as { links: { rel: string, href: string }[] }
  t.same(json.links.find(l => l.rel === 'urn:xmpp:alt-connections:websocket')?.href, `ws://127.0.0.1:${e.port}/xmpp-websocket`)
  const xrd = await (await fetch(`http://127.0.0.1:${e.port}/.well-known/host-meta`)).text()
  t.match(xrd, `<Link rel='urn:xmpp:alt-connections:websocket' href='ws://127.0.0.1:${e.port}/xmpp-websocket'/>`)
})
