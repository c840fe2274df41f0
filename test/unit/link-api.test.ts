/**
 * API_REQUEST / API_REPLY (docs/link-protocol.md, "API_REQUEST and API_REPLY"): the bytes of both
 * frames, and the link client's apiRequest() against the scripted fake backend: a reply resolves
 * its own request, and timeouts, a backend without the announcer (ERROR unknown-type), a malformed
 * reply and link loss each reject with their code.
 */
import t from 'tap'
import { FakeBackend, next, until, type FakeLink } from '../fixtures/fake-backend.ts'
import { LinkClient, LINK_DOWN, LINK_SEND_TOO_LARGE, type LinkOptions } from '../../src/link/index.ts'
import {
  LINK_API_BAD_REPLY, LINK_API_BUSY, LINK_API_TIMEOUT, LINK_API_UNSUPPORTED, ApiRequests
} from '../../src/link/api.ts'
import {
  API_REPLY, API_REQUEST, ERROR, FrameDecoder, LINK_BAD_FRAME, LinkProtocolError, PROTOCOL_ERRORS, encodeApiReply,
  encodeApiRequest, encodeError, encodeFrame, parseApi, parseError, type ApiMessage, type FrameType
} from '../../src/link/codec/index.ts'

function hex (s: string): Buffer {
  return Buffer.from(s.replace(/[\s|]/g, ''), 'hex')
}

void t.test('API_REQUEST and API_REPLY bytes: u32 request id, then the JSON', t => {
  //                                   length  | connection id    | type | request id | {"op":"stats"}
  const request = hex(`0000001b | 0000000000000000 | 08 | 00000007 | ${Buffer.from('{"op":"stats"}').toString('hex')}`)
  t.equal(encodeApiRequest(7, '{"op":"stats"}').toString('hex'), request.toString('hex'))
  const reply = hex(`00000018 | 0000000000000000 | 09 | ffffffff | ${Buffer.from('{"ok":true}').toString('hex')}`)
  t.equal(encodeApiReply(0xffffffff, '{"ok":true}').toString('hex'), reply.toString('hex'))
  t.same(parseApi(request.subarray(13)), { requestId: 7, json: '{"op":"stats"}' })
  t.same(parseApi(hex('00000001')), { requestId: 1, json: '' }, 'empty JSON is the caller\'s problem, not the codec\'s')
  const short = parseApi(hex('000001'))
  t.ok(short instanceof LinkProtocolError && short.code === LINK_BAD_FRAME, 'fewer than 4 bytes: bad-frame')
  const notUtf8 = parseApi(hex('00000001 7bff7d'))
  t.ok(notUtf8 instanceof LinkProtocolError && notUtf8.code === LINK_BAD_FRAME, 'not UTF-8: bad-frame')
  // Both are types the decoder knows (no unknown-type), on connection 0.
  const got: Array<[number, FrameType]> = []
  const errors: LinkProtocolError[] = []
  const d = new FrameDecoder({ onFrame: (id, type) => got.push([id, type]), onError: e => errors.push(e) })
  d.push(Buffer.concat([request, reply]))
  t.same(got, [[0, API_REQUEST], [0, API_REPLY]])
  t.same(errors, [])
  t.end()
})

void t.test('ApiRequests: request ids wrap around and skip 0; the pending bound', async t => {
  const api = new ApiRequests(2)
  const ids: number[] = []
  const write = (frame: Buffer): void => { ids.push(frame.readUInt32BE(13)) }
  const a = api.request({ op: 'stats' }, 10_000, write)
  const b = api.request({ op: 'stats' }, 10_000, write)
  await t.rejects(api.request({ op: 'stats' }, 10_000, write), { code: LINK_API_BUSY })
  t.same(ids, [1, 2])
  api.onReply(encodeApiReply(2, '{"n":2}').subarray(13))
  api.onReply(encodeApiReply(1, '{"n":1}').subarray(13))
  t.same(await Promise.all([a, b]), [{ n: 1 }, { n: 2 }], 'each reply resolves its own request, in any order')
  t.equal(api.size, 0)
})

const SECRET = 's3cret'

function api (data: Buffer): ApiMessage {
  const m = parseApi(data)
  if (m instanceof LinkProtocolError) throw m
  return m
}

async function up (t: { teardown (fn: () => Promise<void>): void }, options: Partial<LinkOptions> = {}): Promise<{ client: LinkClient, link: FakeLink, backend: FakeBackend }> {
  const backend = await FakeBackend.start({ secret: SECRET })
  const client = new LinkClient({ port: backend.port, secret: SECRET, heartbeatInterval: 1_000, heartbeatTimeout: 10_000, reconnectBase: 5, ...options })
  t.teardown(async () => {
    await client.stop()
    await backend.close()
  })
  const ready = next(client, 'up')
  client.start()
  await ready
  return { client, link: await backend.link(0), backend }
}

void t.test('apiRequest: API_REQUEST with the JSON, resolved by the API_REPLY with its id', async t => {
  const { client, link } = await up(t)
  const first = client.apiRequest({ op: 'status', job: 'a' }, 10_000)
  const second = client.apiRequest({ op: 'stats' }, 10_000)
  await until(() => link.frames.filter(f => f.type === API_REQUEST).length === 2, 'two requests')
  const [r1, r2] = link.frames.filter(f => f.type === API_REQUEST).map(f => api(f.data))
  if (r1 === undefined || r2 === undefined) throw new Error('two requests expected')
  t.same(JSON.parse(r1.json), { op: 'status', job: 'a' })
  t.not(r1.requestId, r2.requestId, 'a fresh request id each')
  link.send(encodeApiReply(r2.requestId, '{"ok":true,"jobs_running":0}'), encodeApiReply(12345, '{"ok":true}'))
  link.send(encodeApiReply(r1.requestId, '{"ok":false,"error":"unknown-job"}'))
  t.same(await second, { ok: true, jobs_running: 0 })
  t.same(await first, { ok: false, error: 'unknown-job' }, 'an error reply is still a reply: the caller maps it')
  t.ok(client.ready, 'a reply for no pending request is dropped')
})

void t.test('apiRequest rejects: timeout, malformed reply, too large, link not up, link lost', async t => {
  const { client, link } = await up(t, { maxFrameSize: 2_000 })
  await t.rejects(client.apiRequest({ op: 'stats' }, 50), { code: LINK_API_TIMEOUT })
  const bad = client.apiRequest({ op: 'stats' }, 10_000)
  const f = await link.waitFor(x => x.type === API_REQUEST && x !== link.frames.find(y => y.type === API_REQUEST))
  const req = api(f.data)
  link.send(encodeApiReply(req.requestId, '[1,2]'))
  await t.rejects(bad, { code: LINK_API_BAD_REPLY })
  await t.rejects(client.apiRequest({ usernames: 'x'.repeat(3_000) }, 1_000), { code: LINK_SEND_TOO_LARGE }, 'refused before sending')
  link.socket.pause() // so that this request stays unanswered
  const pending = client.apiRequest({ op: 'stats' }, 10_000)
  const down = next(client, 'down')
  link.socket.destroy()
  await down
  await t.rejects(pending, { code: LINK_DOWN }, 'pending requests reject when the link goes')
  await t.rejects(client.apiRequest({ op: 'stats' }, 1_000), { code: LINK_DOWN }, 'and new ones while it is down')
})

void t.test('a backend without the announcer: ERROR unknown-type → LINK_API_UNSUPPORTED until the link reconnects', async t => {
  const { client, link, backend } = await up(t)
  const warnings: string[] = []
  client.on('warning', w => warnings.push(w.code))
  const req = client.apiRequest({ op: 'stats' }, 10_000)
  await link.waitFor(f => f.type === API_REQUEST)
  // What mod_megaphone and Prosody's module answer to a type they do not know.
  link.send(encodeError(0, PROTOCOL_ERRORS['unknown-type'], 'type 8'))
  await t.rejects(req, { code: LINK_API_UNSUPPORTED })
  await t.rejects(client.apiRequest({ op: 'stats' }, 10_000), { code: LINK_API_UNSUPPORTED }, 'at once, without asking again')
  t.same(warnings, [], 'an expected answer, not a warning')
  // An unknown-type about another type is only a warning.
  link.send(encodeError(0, PROTOCOL_ERRORS['unknown-type'], 'type 42'))
  await until(() => warnings.length === 1, 'warning')
  // The edge refuses API_REQUEST from the backend.
  link.send(...encodeFrame(0, API_REQUEST, hex('00000001 7b7d')))
  const err = await link.waitFor(f => f.type === ERROR)
  const e = parseError(0, err.data)
  t.equal(e instanceof LinkProtocolError ? '' : e.name, 'wrong-direction')
  // A new link may reach an upgraded backend: ask again.
  link.socket.destroy()
  await next(client, 'up')
  const link2 = await backend.link(1)
  const again = client.apiRequest({ op: 'stats' }, 10_000)
  const f = await link2.waitFor(x => x.type === API_REQUEST)
  const r = api(f.data)
  link2.send(encodeApiReply(r.requestId, '{"ok":true}'))
  t.same(await again, { ok: true })
})
