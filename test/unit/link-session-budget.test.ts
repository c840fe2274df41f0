/**
 * One session cannot fill the link for the others (issue 16): the send queue's per-session budget
 * (linkSessionQueueBytes). The real link client against the fake link server
 * (test/fixtures/fake-backend.ts), which can stop reading; BOSH through the edge's own request
 * handler (inject), WebSocket with a real `ws` client. The budget counts the bytes actually framed:
 * a small BOSH body whose body-level namespace declarations are copied into every payload is
 * charged what it becomes on the link.
 */
import t from 'tap'
import { once } from 'node:events'
import { inject } from 'light-my-request'
import { WebSocket, type RawData } from 'ws'
import { FakeBackend, Recorder, next, until, type FakeLink } from '../fixtures/fake-backend.ts'
import { NS, XMPP_NS, bodyAttrs } from '../fixtures/bosh-harness.ts'
import { LinkClient, LINK_QUEUE_FULL, type LinkOptions, type OpenParams } from '../../src/link/index.ts'
import { LINK_SESSION_BUDGET } from '../../src/link/errors.ts'
import { CLOSE, DATA, PING, encodePong, parseClose } from '../../src/link/codec/index.ts'
import { Edge } from '../../src/edge.ts'
import { mountBosh } from '../../src/bosh/edge.ts'
import { mountWebSocket } from '../../src/ws/edge.ts'
import { isMegaphoneError } from '../../src/errors.ts'

const SECRET = 's3cret'
const PARAMS: OpenParams = { transport: 'bosh', to: 'example.com', ip: '203.0.113.5', port: 51234, lang: 'en' }
/** The smallest budget the link accepts with the default maxFrameSize (65545 + 4). */
const BUDGET = 100_000

interface Teardown { teardown (fn: () => Promise<void> | void): void }

async function up (t: Teardown, options: Partial<LinkOptions> = {}): Promise<{ client: LinkClient, link: FakeLink }> {
  const backend = await FakeBackend.start({ secret: SECRET })
  const client = new LinkClient({ port: backend.port, secret: SECRET, heartbeatInterval: 1_000, heartbeatTimeout: 10_000, maxSessionQueueBytes: BUDGET, ...options })
  t.teardown(async () => {
    await client.stop()
    await backend.close()
  })
  const ready = next(client, 'up')
  client.start()
  await ready
  return { client, link: await backend.link(0) }
}

function codeOf (fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (e) {
    return isMegaphoneError(e) ? e.code : 'not a MegaphoneError'
  }
}

const dataOf = (link: FakeLink, id: number): string[] => link.frames.filter(f => f.type === DATA && f.connId === id).map(f => f.data.toString())

void t.test('a session over its budget is refused and its waiting frames dropped; the others carry on', async t => {
  const { client, link } = await up(t)
  const flooder = new Recorder()
  const other = new Recorder()
  const f = client.open(PARAMS, flooder)
  const o = client.open(PARAMS, other)
  await until(() => flooder.events.length >= 2 && other.events.length >= 2, 'both streams open')
  link.socket.pause() // the backend stops reading: frames wait in the edge
  const filler = 'x'.repeat(4000)
  let sent = 0
  let error: string | undefined
  // Synchronous: nothing reaches the kernel until the tick ends, so the queue takes the rest.
  for (let i = 0; i < 1000 && error === undefined; i++) {
    error = codeOf(() => { client.send(f, `<m n='${i}'>${filler}</m>`) })
    if (error === undefined) sent++
  }
  t.equal(error, LINK_SESSION_BUDGET, 'the flooding session is refused with its own code')
  t.ok(sent * 4000 < BUDGET + 64 * 1024, `about its budget went out (${sent} elements), not the shared limit's 64 MiB`)
  t.equal(client.counters().sessionsOverBudget, 1)
  t.equal(client.counters().queueBytes, 0, 'its waiting frames were dropped at once')
  client.close(f, 'policy-violation')
  for (let i = 0; i < 10; i++) t.equal(codeOf(() => { client.send(o, `<ok n='${i}'/>`) }), undefined, `the other session sends (${i})`)
  link.socket.resume()
  await link.waitFor(fr => fr.type === DATA && fr.connId === o && fr.data.toString() === "<ok n='9'/>")
  const reached = dataOf(link, f).map(x => /n='(\d+)'/.exec(x)?.[1])
  t.ok(reached.length < sent, `only what the socket had taken reached the backend (${reached.length} of ${sent})`)
  t.ok(reached.every((n, i) => n === String(i)), 'in order, no gap: whole frames were dropped from the tail')
  const close = await link.waitFor(fr => fr.type === CLOSE && fr.connId === f)
  t.same(parseClose(f, close.data), { condition: 'policy-violation', text: '' }, 'its CLOSE still goes')
  t.same(dataOf(link, o), Array.from({ length: 10 }, (_, i) => `<ok n='${i}'/>`), 'every element of the other session arrived')
  t.ok(client.ready, 'the link stayed up')
})

void t.test('backlogs take turns: a session\'s frame waits behind one frame of a backlogged session, not its whole backlog', async t => {
  const { client, link } = await up(t)
  const busy = client.open(PARAMS, new Recorder())
  const light = client.open(PARAMS, new Recorder())
  await until(() => client.counters().queueBytes === 0, 'opens written')
  link.socket.pause()
  const filler = 'x'.repeat(4000)
  for (let i = 0; i < 20; i++) client.send(busy, `<m n='${i}'>${filler}</m>`)
  const waiting = client.counters().queueFrames
  t.ok(waiting > 0, `${waiting} of the busy session's 20 frames wait in the queue`)
  client.send(light, '<ping/>')
  link.socket.resume()
  await link.waitFor(f => f.type === DATA && f.connId === busy && f.data.toString().startsWith("<m n='19'"))
  const order = link.frames.filter(f => f.type === DATA).map(f => f.connId)
  const ahead = order.indexOf(light)
  t.ok(ahead >= 0, 'the light session\'s frame arrived')
  t.ok(ahead <= 20 - waiting + 1, `${ahead} busy frames went before it: those the socket had taken (${20 - waiting}) and at most one more`)
  t.same(dataOf(link, busy).map(x => /n='(\d+)'/.exec(x)?.[1]), Array.from({ length: 20 }, (_, i) => String(i)), 'the busy session\'s frames kept their order')
})

void t.test('the in-flight window: past maxInFlightBytes unacknowledged, frames wait in the edge until a PONG acknowledges a marker PING', async t => {
  // silent: the fake backend reads every frame but answers nothing, PINGs included.
  const backend = await FakeBackend.start({ secret: SECRET, silent: true })
  const client = new LinkClient({ port: backend.port, secret: SECRET, heartbeatInterval: 60_000, heartbeatTimeout: 120_000, maxInFlightBytes: 65_536 })
  t.teardown(async () => { await client.stop(); await backend.close() })
  const ready = next(client, 'up')
  client.start()
  await ready
  const link = await backend.link(0)
  const id = client.open(PARAMS, new Recorder())
  const filler = 'x'.repeat(4000)
  for (let i = 0; i < 40; i++) client.send(id, `<m n='${i}'>${filler}</m>`)
  await until(() => link.frames.filter(f => f.type === PING).length >= 3, 'marker PINGs')
  await new Promise(resolve => setTimeout(resolve, 50))
  const arrived = dataOf(link, id).length
  t.ok(arrived < 40, `${arrived} of 40 frames went out; the rest wait for an acknowledgement`)
  t.ok(client.counters().queueBytes > 0, `${client.counters().queueBytes} bytes wait in the edge`)
  // Acknowledge with the bytes of the latest marker, as a backend's PONG does.
  const pings = link.frames.filter(f => f.type === PING)
  link.send(encodePong(pings.at(-1)!.data))
  await until(() => dataOf(link, id).length > arrived, 'more frames after the PONG')
  for (let k = 0; k < 10 && dataOf(link, id).length < 40; k++) {
    const latest = link.frames.filter(f => f.type === PING).at(-1)!
    link.send(encodePong(latest.data))
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  t.same(dataOf(link, id).map(x => /n='(\d+)'/.exec(x)?.[1]), Array.from({ length: 40 }, (_, i) => String(i)), 'all 40, in order, as PONGs came back')
})

void t.test('the shared limit stays the last resort: sessions each under budget fill it', async t => {
  const { client, link } = await up(t, { maxQueueBytes: 200_000 })
  const ids = [0, 1, 2, 3, 4].map(() => client.open(PARAMS, new Recorder()))
  await until(() => link.frames.filter(fr => fr.type === DATA).length === 0 && client.counters().queueBytes === 0, 'opens written')
  link.socket.pause()
  const element = `<m>${'y'.repeat(30_000)}</m>`
  const codes: Array<string | undefined> = []
  for (const id of ids) for (let k = 0; k < 2; k++) codes.push(codeOf(() => { client.send(id, element) }))
  t.ok(codes.includes(LINK_QUEUE_FULL), `past the shared limit: LINK_QUEUE_FULL (${codes.join(', ')})`)
  t.notOk(codes.includes(LINK_SESSION_BUDGET), 'no session was over its own budget')
  link.socket.resume()
})

void t.test('resolveLinkOptions: a budget below one frame of the largest size is refused', async t => {
  t.equal(codeOf(() => new LinkClient({ port: 1, secret: SECRET, maxSessionQueueBytes: 65_548 })), 'LINK_OPTIONS')
  t.equal(codeOf(() => new LinkClient({ port: 1, secret: SECRET, maxSessionQueueBytes: 65_549 })), undefined)
})

/** The edge (BOSH and WebSocket) over the real link client. */
async function edgeOver (t: Teardown, client: LinkClient): Promise<{ edge: Edge, port: number }> {
  const edge = await Edge.create(client, { maxSessions: 100 })
  mountBosh(edge)
  await mountWebSocket(edge, {})
  await edge.app.listen({ host: '127.0.0.1', port: 0 })
  const a = edge.app.server.address()
  t.teardown(async () => { await edge.app.close() })
  return { edge, port: typeof a === 'object' && a !== null ? a.port : 0 }
}

async function post (edge: Edge, body: string): Promise<{ body: string, attrs: Record<string, string> }> {
  const res = await inject(edge.http.dispatch, { method: 'POST', url: '/http-bind', payload: body, headers: { 'content-type': 'text/xml; charset=utf-8' } })
  return { body: res.body, attrs: bodyAttrs(res.body) }
}

async function createBosh (edge: Edge, rid: number): Promise<string> {
  const r = await post(edge, `<body rid='${rid}' to='example.com' wait='60' hold='1' ver='1.6' xmpp:version='1.0' ${NS} ${XMPP_NS}/>`)
  const sid = r.attrs.sid
  if (sid === undefined) throw new Error(`no session: ${r.body}`)
  return sid
}

void t.test('BOSH: a small body whose declarations are copied into 100 payloads is charged its framed bytes: policy-violation, the other session carries on', async t => {
  const { client, link } = await up(t)
  const { edge } = await edgeOver(t, client)
  const flooder = await createBosh(edge, 1000)
  const other = await createBosh(edge, 5000)
  // One body-level declaration of 2,000 bytes, used by 100 small payloads: a ~6 KB body that the
  // edge must forward as 100 standalone elements each declaring it (~205 KB of frames, XEP-0206
  // §6: payloads carry the namespaces they use).
  const uri = 'urn:' + 'n'.repeat(2000)
  const payloads = Array.from({ length: 100 }, (_, i) => `<p:m xmlns='jabber:client' n='${i}'/>`).join('')
  const body = `<body rid='1001' sid='${flooder}' ${NS} ${XMPP_NS} xmlns:p='${uri}'>${payloads}</body>`
  t.ok(body.length < BUDGET / 10, `the body itself is ${body.length} bytes, a tenth of the budget`)
  link.socket.pause()
  const r = await post(edge, body)
  t.equal(r.attrs.type, 'terminate')
  t.equal(r.attrs.condition, 'policy-violation', 'XEP-0124 §17.2 policy-violation: the flooder is ended')
  t.equal(client.counters().sessionsOverBudget, 1)
  // The other session is untouched: its stanza goes out (the request is held, as long-polls are).
  const held = post(edge, `<body rid='5001' sid='${other}' ${NS}><message xmlns='jabber:client' to='a@example.com'><body>still here</body></message></body>`)
  link.socket.resume()
  await link.waitFor(fr => fr.type === DATA && fr.connId === 2 && fr.data.toString().includes('still here'))
  t.pass('the other session\'s message reached the backend')
  const close = await link.waitFor(fr => fr.type === CLOSE && fr.connId === 1)
  t.same(parseClose(1, close.data), { condition: 'session-budget', text: '' }, 'the server hears why the flooder ended')
  t.ok(dataOf(link, 1).length < 100, `${dataOf(link, 1).length} of the 100 payloads reached the backend; the rest were dropped`)
  // End the other session so that its held request is answered.
  await post(edge, `<body rid='5002' sid='${other}' type='terminate' ${NS}/>`)
  await held
})

void t.test('WebSocket: a client over its budget hears <stream:error><policy-violation/>; the other session carries on', async t => {
  const { client, link } = await up(t)
  const { port } = await edgeOver(t, client)
  const url = `ws://127.0.0.1:${port}/xmpp-websocket`
  const open = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>"
  const connect = async (): Promise<{ ws: WebSocket, got: string[] }> => {
    const ws = new WebSocket(url, 'xmpp')
    const got: string[] = []
    ws.on('message', (m: RawData) => got.push(Buffer.isBuffer(m) ? m.toString('utf8') : Buffer.concat(Array.isArray(m) ? m : [Buffer.from(m)]).toString('utf8')))
    await once(ws, 'open')
    ws.send(open)
    await until(() => got.some(m => m.includes('stream:features')), 'features')
    return { ws, got }
  }
  const flooder = await connect()
  const other = await connect()
  t.teardown(() => { other.ws.terminate(); flooder.ws.terminate() })
  link.socket.pause()
  // 60 KB messages until the edge ends the session: the link's socket and the kernel take a few
  // MB first, then frames wait in the queue and the budget applies.
  const element = `<message xmlns='jabber:client' to='a@example.com'><body>${'z'.repeat(60_000)}</body></message>`
  let closed = false
  flooder.ws.on('close', () => { closed = true })
  for (let i = 0; i < 2000 && !closed && !flooder.got.some(m => m.includes('policy-violation')); i++) {
    flooder.ws.send(element)
    if (i % 10 === 9) await new Promise(resolve => setTimeout(resolve, 5))
  }
  await until(() => flooder.got.some(m => m.includes('<policy-violation')), 'the stream error', 20_000)
  t.pass('RFC 7395 §3.6 / RFC 6120 §4.9.3.14: <stream:error><policy-violation/>')
  t.equal(client.counters().sessionsOverBudget, 1)
  other.ws.send("<message xmlns='jabber:client' to='a@example.com'><body>still here</body></message>")
  link.socket.resume()
  await link.waitFor(fr => fr.type === DATA && fr.data.toString().includes('still here'))
  t.pass('the other session\'s message reached the backend')
  t.equal(other.ws.readyState, WebSocket.OPEN, 'the other WebSocket is open')
})
