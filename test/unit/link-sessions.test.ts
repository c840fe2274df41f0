/**
 * Sessions over the link client, against the scripted fake backend: routing by connection id,
 * the session script of docs/link-protocol.md "Sessions", link loss, backpressure and the bounded
 * queue, stats, and the edge's answers to frames it cannot use.
 */
import t from 'tap'
import { FakeBackend, FEATURES, Recorder, next, until, type FakeLink } from '../fixtures/fake-backend.ts'
import {
  LinkClient, LINK_QUEUE_FULL, LINK_NOT_OPEN, LINK_DOWN, LINK_SEND_TOO_LARGE, type LinkOptions, type OpenParams
} from '../../src/link/index.ts'
import {
  CLOSE, DATA, ERROR, OPEN, PONG, RESTART, encodeClose, encodeData, encodeError, encodeFrame, encodePing,
  encodeStreamStart, parseClose, parseError, parseOpen, PROTOCOL_ERRORS
} from '../../src/link/codec/index.ts'
import { isMegaphoneError } from '../../src/errors.ts'

const SECRET = 's3cret'
const PARAMS: OpenParams = { transport: 'bosh', to: 'example.com', ip: '203.0.113.5', port: 51234, lang: 'en' }

interface Teardown { teardown (fn: () => Promise<void>): void }

async function up (t: Teardown, options: Partial<LinkOptions> = {}, script = true): Promise<{ client: LinkClient, backend: FakeBackend, link: FakeLink }> {
  const backend = await FakeBackend.start({ secret: SECRET, script })
  const client = new LinkClient({ port: backend.port, secret: SECRET, heartbeatInterval: 1_000, heartbeatTimeout: 10_000, reconnectBase: 5, ...options })
  t.teardown(async () => {
    await client.stop()
    await backend.close()
  })
  const ready = next(client, 'up')
  client.start()
  await ready
  return { client, backend, link: await backend.link(0) }
}

function codeOf (fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (e) {
    return isMegaphoneError(e) ? e.code : 'not a MegaphoneError'
  }
}

void t.test('a session: OPEN → STREAM_START + features, DATA both ways, RESTART, CLOSE', async t => {
  const { client, link } = await up(t)
  const h = new Recorder()
  const id = client.open(PARAMS, h)
  t.equal(id, 1, 'ids start at 1')
  const open = await link.waitFor(f => f.type === OPEN)
  t.same(parseOpen(open.connId, open.data), PARAMS, 'OPEN carries the params')
  await until(() => h.events.length >= 2, 'stream start and features')
  t.same(h.events, ['start s1 example.com 1.0', `data ${FEATURES}`])
  client.send(id, '<auth/>')
  const data = await link.waitFor(f => f.type === DATA)
  t.equal(data.data.toString(), '<auth/>')
  link.send(encodeData(id, '<success/>'))
  client.restart(id)
  await link.waitFor(f => f.type === RESTART && f.connId === id)
  await until(() => h.events.length >= 5, 'restart answered')
  t.same(h.events.slice(2), ['data <success/>', 'start s2 example.com 1.0', `data ${FEATURES}`])
  client.close(id, '')
  const close = await link.waitFor(f => f.type === CLOSE)
  t.same(parseClose(id, close.data), { condition: '', text: '' })
  await until(() => client.counters().framesIgnored >= 1, 'the confirming CLOSE')
  t.equal(h.closes, 0, 'no handler call after close()')
  t.equal(codeOf(() => client.send(id, '<x/>')), LINK_NOT_OPEN)
  t.doesNotThrow(() => client.close(id, ''), 'close is idempotent')
})

void t.test('frames are routed to the connection that owns the id; unknown ids are ignored and counted', async t => {
  const { client, link } = await up(t, {}, false)
  const hs = [new Recorder(), new Recorder(), new Recorder()]
  const ids = hs.map(h => client.open(PARAMS, h))
  t.same(ids, [1, 2, 3])
  await until(() => link.frames.filter(f => f.type === OPEN).length === 3, 'three OPENs')
  // Interleaved, all in one chunk, plus frames for ids nobody holds.
  link.send(
    encodeStreamStart(2, { id: 'b', from: 'example.com', version: '1.0', lang: '' }),
    encodeData(1, '<one/>'),
    encodeData(99, '<nobody/>'),
    encodeData(3, '<three/>'),
    encodeData(2, '<two/>'),
    encodeData(1, '<one-again/>'),
    encodeClose(3, 'conflict'),
    encodeData(3, '<after-close/>')
  )
  await until(() => hs[2]!.closes === 1 && hs[0]!.events.length === 2, 'delivery')
  t.same(hs[0]!.events, ['data <one/>', 'data <one-again/>'])
  t.same(hs[1]!.events, ['start b example.com 1.0', 'data <two/>'])
  t.same(hs[2]!.events, ['data <three/>', 'close conflict'])
  t.equal(client.counters().framesIgnored, 2, 'id 99 and the frame after CLOSE')
  t.equal(client.counters().connections, 2)
})

void t.test('a stream error: DATA <stream:error/> then CLOSE with its condition', async t => {
  const { client, link } = await up(t, {}, false)
  const h = new Recorder()
  const id = client.open(PARAMS, h)
  const se = "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
  link.send(encodeData(id, se), encodeClose(id, 'conflict'))
  await until(() => h.closes === 1, 'close')
  t.same(h.events, [`data ${se}`, 'close conflict'])
})

void t.test('link loss: every connection gets onClose(link-lost), the registry empties, ids are never reused', async t => {
  const { client, backend, link } = await up(t)
  const hs = [new Recorder(), new Recorder(), new Recorder()]
  const ids = hs.map(h => client.open(PARAMS, h))
  await link.waitFor(f => f.type === OPEN && f.connId === 3)
  link.socket.pause() // so that this request stays unanswered
  const stats = client.stats()
  const down = next(client, 'down')
  link.socket.destroy()
  await down
  t.same(hs.map(h => h.events.at(-1)), ['close link-lost', 'close link-lost', 'close link-lost'])
  t.same(hs.map(h => h.closes), [1, 1, 1], 'exactly once each')
  t.equal(client.counters().connections, 0)
  t.equal(client.counters().linkLosses, 1)
  t.equal(codeOf(() => client.send(ids[0]!, '<x/>')), LINK_NOT_OPEN)
  t.equal(codeOf(() => client.open(PARAMS, new Recorder())), LINK_DOWN, 'no sessions while down')
  await t.rejects(stats, { code: LINK_DOWN }, 'pending stats rejected')
  await next(client, 'up')
  await backend.link(1)
  const id = client.open(PARAMS, new Recorder())
  t.equal(id, 4, 'the counter carries on across links')
})

void t.test('backpressure: write() false stops writing, the queue is bounded, LINK_QUEUE_FULL, resume on drain', async t => {
  const maxQueueBytes = 64 * 1024
  const { client, link } = await up(t, { maxQueueBytes })
  const h = new Recorder()
  const id = client.open(PARAMS, h)
  await link.waitFor(f => f.type === OPEN)
  link.socket.pause() // the backend stops reading
  const filler = 'x'.repeat(4000)
  let sent = 0
  let error: string | undefined
  // Synchronous: nothing reaches the kernel until the tick ends, so the stream buffer reports
  // full (write() → false) and the client's own queue takes the rest, up to its bound.
  for (let i = 0; i < 10_000 && error === undefined; i++) {
    error = codeOf(() => client.send(id, `<m n='${i}'>${filler}</m>`))
    if (error === undefined) sent++
  }
  t.equal(error, LINK_QUEUE_FULL)
  const c = client.counters()
  t.ok(c.queueBytes <= maxQueueBytes, `queue within its bound (${c.queueBytes} bytes)`)
  t.ok(c.queueFrames > 0, 'frames wait in the queue')
  t.ok(sent > 0)
  // The session fails cleanly: its CLOSE still fits (the reserve), after its DATA.
  client.close(id, 'link-queue-full')
  t.ok(client.counters().queueFrames > c.queueFrames, 'CLOSE queued behind the DATA')
  link.socket.resume()
  await link.waitFor(f => f.type === CLOSE && f.connId === id)
  const numbers = link.frames.filter(f => f.type === DATA).map(f => /n='(\d+)'/.exec(f.data.toString())?.[1])
  t.equal(numbers.length, sent, 'every accepted element arrived')
  t.ok(numbers.every((n, i) => n === String(i)), 'in order')
  await until(() => client.counters().queueBytes === 0, 'queue drained')
  t.ok(client.ready, 'the link stayed up')
})

void t.test('sends above maxFrameSize are refused before queueing', async t => {
  const { client } = await up(t, { maxFrameSize: 1_000 })
  const id = client.open(PARAMS, new Recorder())
  // length = 9 + data bytes
  t.equal(codeOf(() => client.send(id, 'x'.repeat(992))), LINK_SEND_TOO_LARGE)
  t.equal(codeOf(() => client.send(id, 'x'.repeat(991))), undefined, 'exactly maxFrameSize is fine')
})

void t.test('large elements from the backend: up to maxReceiveFrameSize they arrive; above it only their session ends', async t => {
  const { client, link } = await up(t, { maxReceiveFrameSize: 200_000 }, false)
  const big = new Recorder()
  const other = new Recorder()
  const bigId = client.open(PARAMS, big)
  const otherId = client.open(PARAMS, other)
  // A roster-sized answer: above the 64 KiB the edge sends, below what it receives.
  const roster = `<iq>${'<item jid="someone@example.com"/>'.repeat(3_000)}</iq>`
  link.send(encodeData(bigId, roster))
  await until(() => big.events.length >= 1, 'the large element')
  t.equal(big.events[0], `data ${roster}`, `a ${roster.length}-byte element is delivered whole`)
  // Above the receive limit: skipped, reported, and its session ended with the reason.
  link.send(encodeData(bigId, `<iq>${'x'.repeat(250_000)}</iq>`), encodeData(otherId, '<still-here/>'))
  await until(() => other.events.length >= 1 && big.closes === 1, 'the next frames')
  t.same(big.events.slice(1), ['close frame-too-large'], 'the session it was for ends with frame-too-large')
  t.same(other.events, ['data <still-here/>'], 'the other session carries on')
  const error = await link.waitFor(f => f.type === ERROR && f.connId === bigId)
  t.equal(parseError(bigId, error.data).name, 'frame-too-large', 'the backend hears ERROR frame-too-large')
  const close = await link.waitFor(f => f.type === CLOSE && f.connId === bigId)
  t.same(parseClose(bigId, close.data), { condition: 'frame-too-large', text: '' }, 'and a CLOSE for that session')
  t.equal(client.ready, true, 'the link stays up')
})

void t.test('maxReceiveFrameSize below maxFrameSize is refused', async t => {
  t.equal(codeOf(() => new LinkClient({ port: 1, secret: SECRET, maxReceiveFrameSize: 1_000 })), 'LINK_OPTIONS')
})

void t.test('stats: STATS_REQUEST → STATS_REPLY', async t => {
  const { client } = await up(t)
  const [a, b] = await Promise.all([client.stats(), client.stats()])
  t.same(a, { requestId: 1, linkSessions: 2, nodeSessions: 1000 })
  t.equal(b.requestId, 2)
})

void t.test('backend ERRORs: session-limit ends the connection; bad-xml is reported and CLOSE follows', async t => {
  const { client, link } = await up(t, {}, false)
  const limited = new Recorder()
  const a = client.open(PARAMS, limited)
  link.send(encodeError(a, PROTOCOL_ERRORS['session-limit'], 'max_sessions'))
  await until(() => limited.closes === 1, 'session-limit close')
  t.same(limited.events, ['close session-limit'])
  link.send(encodeClose(a, 'session-limit')) // if the backend sends one anyway, it is ignored
  const h = new Recorder()
  const b = client.open(PARAMS, h)
  link.send(encodeError(b, PROTOCOL_ERRORS['bad-xml'], 'not one element'), encodeClose(b, 'bad-format'))
  await until(() => h.closes === 1, 'bad-xml then close')
  t.same(h.events, ['error bad-xml', 'close bad-format'])
  t.equal(client.counters().remoteErrors, 2)
})

void t.test('the edge answers: PONG for PING, ERROR unknown-type / wrong-direction / bad-frame', async t => {
  const { client, link } = await up(t, {}, false)
  const h = new Recorder()
  const id = client.open(PARAMS, h)
  const warnings: string[] = []
  client.on('warning', w => warnings.push(w.code))
  link.send(
    encodePing(Buffer.from('abcdefgh')),
    ...encodeFrame(id, 0x7f, Buffer.from('??')),
    ...encodeFrame(id, OPEN, Buffer.alloc(0)),
    ...encodeFrame(id, DATA, Buffer.from([0x3c, 0xff, 0x3e]))
  )
  const pong = await link.waitFor(f => f.type === PONG)
  t.equal(pong.data.toString(), 'abcdefgh', 'PONG echoes the PING')
  await until(() => link.frames.filter(f => f.type === ERROR).length >= 3, 'three ERRORs')
  const errors = link.frames.filter(f => f.type === ERROR).map(f => {
    const e = parseError(f.connId, f.data)
    return e instanceof Error ? 'bad' : `${f.connId} ${e.name}`
  })
  t.same(errors, [`${id} unknown-type`, `${id} wrong-direction`, `${id} bad-frame`])
  await link.waitFor(f => f.type === CLOSE && f.connId === id)
  t.same(h.events, ['close bad-frame'], 'an undeliverable DATA ends that connection')
  t.ok(client.ready, 'the link stays up')
  t.ok(warnings.length >= 3)
})

void t.test('stop(): CLOSE shutdown for each connection, onClose(link-closed), no reconnect', async t => {
  const { client, backend, link } = await up(t)
  const h = new Recorder()
  const id = client.open(PARAMS, h)
  await client.stop()
  t.same(h.events.at(-1), 'close link-closed')
  const close = await link.waitFor(f => f.type === CLOSE && f.connId === id)
  t.same(parseClose(id, close.data), { condition: 'shutdown', text: '' })
  t.notOk(client.ready)
  t.equal(backend.accepted, 1, 'no reconnect')
})
