/**
 * XEP-0124 / XEP-0206 connection-manager rules, one test each, through `app.inject()` with the
 * scripted fake backend (test/fixtures/scripted-backend.ts) and a fake clock.
 */
import t from 'tap'
import { Harness, NS, XMPP_NS, settle } from '../fixtures/bosh-harness.ts'

const MSG = "<message xmlns='jabber:client' to='bob@localhost' type='chat'><body>hi</body></message>"

void t.test('XEP-0124 §7.2, XEP-0206 §4: session creation response', async t => {
  const h = await Harness.create({ maxPause: 120, polling: 2, maxInactivity: 30 })
  t.teardown(() => h.close())
  const r = await h.create({ rid: '4000', wait: '90', hold: '1', ver: '1.6' })
  t.equal(r.status, 200)
  t.equal(r.type, 'text/xml; charset=utf-8')
  t.match(r.attrs.sid, /^[0-9a-f]{32,}$/, 'sid: at least 128 random bits')
  t.equal(r.attrs.wait, '60', 'wait: no more than asked nor than our maxWait')
  t.equal(r.attrs.hold, '1')
  t.equal(r.attrs.requests, '2', 'requests = hold + 1')
  t.equal(r.attrs.inactivity, '30')
  t.equal(r.attrs.polling, '2')
  t.equal(r.attrs.maxpause, '120')
  t.equal(r.attrs.ver, '1.6', 'ver: the lower of the two')
  t.equal(r.attrs.ack, '4000', 'ack = rid of the creation request (§9.1)')
  t.equal(r.attrs.from, 'localhost')
  t.equal(r.attrs.authid, 'stream-1', 'authid: the first stream id')
  t.equal(r.attrs['xmpp:version'], '1.0')
  t.equal(r.attrs['xmpp:restartlogic'], 'true')
  t.match(r.body, /<stream:features[^>]*><mechanisms/, 'stream features delivered with the creation response')
  t.match(h.backend.last().params, { transport: 'bosh', to: 'localhost', ip: '127.0.0.1', lang: 'en' }, 'OPEN carries transport, domain, client address, lang')
})

void t.test('XEP-0124 §7.1: creation request checks', async t => {
  const h = await Harness.create({ domains: ['localhost'] })
  t.teardown(() => h.close())
  let r = await h.post(`<body rid='1' wait='60' hold='1' ver='1.6' ${NS}/>`)
  t.equal(r.attrs.condition, 'improper-addressing', 'no to')
  r = await h.post(`<body rid='1' to='elsewhere' wait='60' hold='1' ver='1.6' ${NS}/>`)
  t.equal(r.attrs.condition, 'host-unknown')
  r = await h.post(`<body rid='x' to='localhost' wait='60' hold='1' ver='1.6' ${NS}/>`)
  t.equal(r.attrs.condition, 'bad-request')
  t.equal(r.status, 200, 'a client that sent ver gets the condition with a 200')
  r = await h.post(`<body rid='x' to='localhost' wait='60' hold='1' ${NS}/>`)
  t.equal(r.status, 400, '§17.1: a legacy client (no ver) gets HTTP 400')
  h.backend.ready = false
  r = await h.create()
  t.equal(r.attrs.condition, 'remote-connection-failed', 'link down')
})

void t.test('XEP-0124 §7.1: content sets the response Content-Type, XML media types only', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  const c = await h.create({ content: 'application/xml' })
  t.equal(c.type, 'application/xml; charset=utf-8', 'an XML type, always with its charset')
  const p = h.req(c.sid, c.rid + 1, MSG)
  await settle()
  h.advance(61_000)
  t.equal((await p).type, 'application/xml; charset=utf-8', 'every response of the session')
  for (const ok of ['text/xml; charset=UTF-8', 'application/xml;charset="utf-8"', 'application/atom+xml']) {
    const r = await h.create({ content: ok })
    t.ok(r.sid, `accepted: ${ok}`)
  }
  for (const bad of ['text/html; charset=utf-8', 'application/xhtml+xml', 'image/svg+xml', 'text/plain',
    'text/xml; charset=iso-8859-1', 'text/xml; boundary=x', 'application/+xml', 'text/xml\r\nX-Evil: 1']) {
    const r = await h.create({ content: bad })
    t.equal(r.attrs.condition, 'bad-request', `refused: ${JSON.stringify(bad)}`)
    t.equal(r.type, 'text/xml; charset=utf-8', 'and the refusal is served as XML')
  }
})

void t.test('XEP-0124 §8: payloads forwarded as the client wrote them; a request is held until data or wait', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  const c = await h.create()
  const conn = h.backend.last()
  h.backend.autoReply = false
  let answered = false
  const held = h.req(c.sid, c.rid + 1, MSG).then(r => { answered = true; return r })
  await settle()
  t.same(conn.received, [MSG], 'forwarded byte for byte')
  t.notOk(answered, 'held while nothing is pending')
  h.backend.push(conn.id, "<message xmlns='jabber:client' from='bob@localhost'><body>yo</body></message>")
  const r = await held
  t.match(r.body, /<body xmlns='http:\/\/jabber.org\/protocol\/httpbind'[^>]*><message xmlns='jabber:client' from='bob@localhost'>/)
  // wait deadline: an empty body after 'wait' seconds
  let done = false
  const idle = h.req(c.sid, c.rid + 2).then(r => { done = true; return r })
  await settle()
  h.advance(59_000); await settle()
  t.notOk(done, 'still held before wait')
  h.advance(1_200); await settle()
  const e = await idle
  t.ok(done)
  t.match(e.body, /^<body [^>]*\/>$/, 'empty body at the wait deadline')
})

void t.test('XEP-0124 §8 hold: no more than hold requests are held; the oldest is answered first', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  const c = await h.create({ hold: '1' })
  h.backend.autoReply = false
  const first = h.req(c.sid, c.rid + 1)
  await settle()
  const second = h.req(c.sid, c.rid + 2, MSG)
  const r1 = await first
  t.match(r1.body, /\/>$/, 'the oldest answered (empty) when the second arrived')
  t.equal(r1.attrs.ack, String(c.rid + 2), '§9.2: ack reports the highest rid received')
  h.backend.push(h.backend.last().id, "<presence xmlns='jabber:client'/>")
  const r2 = await second
  t.match(r2.body, /<presence/)
  t.notOk('ack' in r2.attrs, 'no ack when it would be the rid of the request answered')
})

void t.test('XEP-0124 §14.2: payloads forwarded in rid order across the window', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  const c = await h.create({ hold: '2' })
  const conn = h.backend.last()
  h.backend.autoReply = false
  const a = "<message xmlns='jabber:client' id='a'/>"
  const b = "<message xmlns='jabber:client' id='b'/>"
  const later = h.req(c.sid, c.rid + 2, b)
  await settle()
  t.same(conn.received, [], 'rid+2 waits for rid+1')
  const earlier = h.req(c.sid, c.rid + 1, a)
  await settle()
  t.same(conn.received, [a, b], 'forwarded in rid order')
  h.backend.push(conn.id, "<message xmlns='jabber:client' id='x'/>")
  const r1 = await earlier
  t.match(r1.body, /id='x'/, 'answered in rid order: the lower rid carries the payload')
  h.advance(61_000)
  await later
})

void t.test('XEP-0124 §14: a rid beyond the window ends the session with item-not-found', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  const c = await h.create({ hold: '1' })
  const r = await h.req(c.sid, c.rid + 5)
  t.equal(r.attrs.type, 'terminate')
  t.equal(r.attrs.condition, 'item-not-found')
  t.equal(h.backend.last().closed, 'item-not-found', 'the stream is closed on the server')
  const again = await h.req(c.sid, c.rid + 1)
  t.equal(again.attrs.condition, 'item-not-found', 'the session is gone')
})

void t.test('XEP-0124 §14.3: a repeated rid gets the cached response; a lost response is recovered', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  const c = await h.create()
  h.backend.autoReply = false
  const conn = h.backend.last()
  const p = h.req(c.sid, c.rid + 1)
  await settle()
  h.backend.push(conn.id, "<message xmlns='jabber:client' id='m1'><body>once</body></message>")
  const first = await p
  // The client never saw `first` (connection dropped): it sends the same request again.
  const replay = await h.req(c.sid, c.rid + 1)
  t.equal(replay.body, first.body, 'byte-identical response')
  t.equal(conn.received.length, 0, 'the repeated request was not forwarded again')
  // and nothing is duplicated: the next request gets only new data
  const next = h.req(c.sid, c.rid + 2)
  await settle()
  h.backend.push(conn.id, "<message xmlns='jabber:client' id='m2'/>")
  const r = await next
  t.notMatch(r.body, /m1/)
  t.match(r.body, /m2/)
  const old = await h.req(c.sid, c.rid - 5)
  t.equal(old.attrs.condition, 'item-not-found', 'a rid no longer cached: item-not-found')
})

void t.test('XEP-0124 §14.3, §17.3: a repeated rid still held answers the old request with type=error', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  const c = await h.create()
  h.backend.autoReply = false
  const first = h.req(c.sid, c.rid + 1)
  await settle()
  const second = h.req(c.sid, c.rid + 1)
  const r1 = await first
  t.equal(r1.attrs.type, 'error', 'recoverable binding condition')
  t.equal(r1.status, 200)
  h.backend.push(h.backend.last().id, "<message xmlns='jabber:client' id='z'/>")
  t.match((await second).body, /id='z'/, 'the future response goes to the latest request')
})

void t.test('XEP-0124 §9.1, §9.2: client acks and report', async t => {
  const h = await Harness.create({ reportAfterMs: 1000 })
  t.teardown(() => h.close())
  const c = await h.create({ ack: '1', hold: '1' })
  h.backend.autoReply = false
  const conn = h.backend.last()
  const p1 = h.req(c.sid, c.rid + 1)
  await settle()
  h.backend.push(conn.id, "<message xmlns='jabber:client' id='lost'/>")
  await p1
  h.advance(1500)
  // the client says it has only seen the creation response: rid+1's answer was lost
  const r = await h.req(c.sid, c.rid + 2, '', { ack: String(c.rid) })
  t.equal(r.attrs.report, String(c.rid + 1), 'report names the missing response')
  t.equal(r.attrs.time, '1500', 'time since it was sent, in ms')
  const resent = await h.req(c.sid, c.rid + 1)
  t.match(resent.body, /id='lost'/, 'the client recovers it by resending the rid')
})

void t.test('XEP-0124 §10: inactivity ends a session with no request held', async t => {
  const h = await Harness.create({ maxInactivity: 30 })
  t.teardown(() => h.close())
  const c = await h.create()
  const conn = h.backend.last()
  h.advance(29_000)
  t.equal(conn.closed, undefined, 'alive before the inactivity period')
  h.advance(2_000)
  t.equal(conn.closed, 'inactivity', 'closed on the server after it')
  t.equal(h.edge.manager.size, 0)
  const r = await h.req(c.sid, c.rid + 1)
  t.equal(r.attrs.condition, 'item-not-found', '"respond as if the session does not exist"')
})

void t.test('XEP-0124 §10: pause answers held requests and stretches inactivity up to maxpause', async t => {
  const h = await Harness.create({ maxInactivity: 30, maxPause: 120 })
  t.teardown(() => h.close())
  const c = await h.create({ hold: '1' })
  h.backend.autoReply = false
  const conn = h.backend.last()
  const held = h.req(c.sid, c.rid + 1)
  await settle()
  h.backend.autoReply = false
  const pause = await h.req(c.sid, c.rid + 2, '', { pause: '100' })
  await held
  t.match(pause.body, /\/>$/, 'the pause response carries no payloads')
  h.advance(90_000)
  t.equal(conn.closed, undefined, 'alive past the normal inactivity period')
  h.advance(11_000)
  t.equal(conn.closed, 'inactivity', 'ended after the pause')
})

void t.test('XEP-0124 §11, §14: a request beyond the requests window is refused', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  const c = await h.create({ hold: '1' })
  h.backend.autoReply = false
  // requests = 2: rid+1 and rid+2 may be outstanding; rid+3 while rid+1 is unanswered may not.
  const a = h.req(c.sid, c.rid + 2, MSG)
  await settle()
  const r = await h.req(c.sid, c.rid + 3, MSG)
  t.equal(r.attrs.condition, 'item-not-found')
  t.equal((await a).attrs.type, 'terminate', 'the waiting request hears the end too')
  t.ok(h.backend.last().closed !== undefined, 'session ended')
})

void t.test('XEP-0124 §8, §11: an empty request while hold requests are held answers the oldest; no overactivity', async t => {
  // §11's "too frequent" rule is not applied to long-polling sessions (docs/bosh.md): it would
  // end a session whose page reloads while its held request is still open.
  const h = await Harness.create({ polling: 2 })
  t.teardown(() => h.close())
  const c = await h.create({ hold: '1' })
  h.backend.autoReply = false
  const a = h.req(c.sid, c.rid + 1)
  await settle()
  h.advance(100)
  let bDone = false
  const b = h.req(c.sid, c.rid + 2).then(r => { bDone = true; return r })
  const ra = await a
  t.notOk(ra.attrs.condition, 'the oldest is answered, no policy-violation')
  t.match(ra.body, /\/>$/, 'empty')
  await settle()
  t.notOk(bDone, 'the new one is held')
  h.backend.push(h.backend.last().id, "<message xmlns='jabber:client' id='later'/>")
  t.match((await b).body, /id='later'/, 'and carries what comes next')
})

void t.test('XEP-0124 §12: polling session polled too often is a policy-violation', async t => {
  const h = await Harness.create({ polling: 2 })
  t.teardown(() => h.close())
  const c = await h.create({ hold: '0' })
  t.equal(c.attrs.hold, '0')
  const r1 = await h.req(c.sid, c.rid + 1)
  t.match(r1.body, /\/>$/, 'answered at once, empty')
  h.advance(2500)
  const r2 = await h.req(c.sid, c.rid + 2)
  t.notOk(r2.attrs.condition, 'polling at the allowed interval is fine')
  h.advance(500)
  const r3 = await h.req(c.sid, c.rid + 3)
  t.equal(r3.attrs.condition, 'policy-violation', 'two empty polls within polling seconds')
})

void t.test('XEP-0124 §13: terminate forwards its payload and acknowledges on the oldest request', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  const c = await h.create()
  h.backend.autoReply = false
  const conn = h.backend.last()
  const held = h.req(c.sid, c.rid + 1)
  await settle()
  const bye = "<presence xmlns='jabber:client' type='unavailable'/>"
  const term = await h.req(c.sid, c.rid + 2, bye, { type: 'terminate' })
  const oldest = await held
  t.same(conn.received, [bye], 'payload forwarded')
  t.equal(conn.closed, '', 'stream closed normally')
  t.equal(oldest.attrs.type, 'terminate', 'the oldest request acknowledges the termination')
  t.notOk(term.attrs.type, 'the others get an empty body')
  t.equal(h.edge.manager.size, 0)
})

void t.test('XEP-0124 §17.2 item-not-found for an unknown sid; §17.1 404 for legacy requests', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  let r = await h.post(`<body rid='5' sid='0123456789abcdef0123456789abcdef' ver='1.6' ${NS}/>`)
  t.equal(r.status, 200)
  t.equal(r.attrs.condition, 'item-not-found')
  r = await h.post(`<body rid='5' sid='nonsense' ${NS}/>`)
  t.equal(r.status, 404)
  t.equal(r.attrs.condition, 'item-not-found')
})

void t.test('XEP-0124 §17.1: a legacy session gets HTTP codes for its errors', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  const c = await h.create({ ver: '' }).catch(() => undefined)
  void c
  const r = await h.post(`<body rid='10' to='localhost' wait='60' hold='1' ${NS}/>`)
  const sid = r.attrs.sid!
  t.notOk('ver' in r.attrs, 'no ver: legacy')
  const bad = await h.req(sid, 99)
  t.equal(bad.status, 404, 'item-not-found → 404')
})

void t.test('XEP-0124 §6, §17.2: malformed, wrongly namespaced, character data, oversized bodies', async t => {
  const h = await Harness.create({ maxBodyBytes: 4096 })
  t.teardown(() => h.close())
  for (const [name, body] of [
    ['not well-formed', `<body rid='1' ${NS}><message>`],
    ['wrong namespace', "<body rid='1' xmlns='jabber:client'/>"],
    ['character data in body', `<body rid='1' ${NS}>hello</body>`],
    ['DTD', `<!DOCTYPE body [<!ENTITY x 'y'>]><body rid='1' ${NS}>&x;</body>`]
  ] as const) {
    const r = await h.post(body)
    t.equal(r.attrs.condition, 'bad-request', name)
    t.equal(r.attrs.type, 'terminate', name)
  }
  const big = await h.post(`<body rid='1' ${NS}><message xmlns='jabber:client'><body>${'x'.repeat(5000)}</body></message></body>`)
  t.equal(big.attrs.condition, 'policy-violation', 'over maxBodyBytes')
  t.equal(big.status, 403)
})

void t.test('XEP-0206 §5: restart maps to the link restart and new features arrive', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  const c = await h.create()
  const conn = h.backend.last()
  const auth = await h.req(c.sid, c.rid + 1, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAGRlbW8=</auth>")
  t.match(auth.body, /<success/)
  const r = await h.req(c.sid, c.rid + 2, '', { to: 'localhost', 'xml:lang': 'en', 'xmpp:restart': 'true' })
  t.equal(conn.restarts, 1)
  t.match(r.body, /<stream:features[^>]*><bind/)
})

void t.test('XEP-0206 §6: a stream error becomes remote-stream-error with the element copied', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  const c = await h.create()
  h.backend.autoReply = false
  const conn = h.backend.last()
  const held = h.req(c.sid, c.rid + 1)
  await settle()
  const err = "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
  h.backend.push(conn.id, err)
  h.backend.end(conn.id, 'conflict')
  const r = await held
  t.equal(r.attrs.type, 'terminate')
  t.equal(r.attrs.condition, 'remote-stream-error')
  t.ok(r.body.includes(err), 'the stream:error element is in the body')
})

void t.test('a server close with no request held is told to the next request', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  const c = await h.create()
  const conn = h.backend.last()
  h.backend.push(conn.id, "<message xmlns='jabber:client' id='last'/>")
  h.backend.end(conn.id, 'system-shutdown')
  const r = await h.req(c.sid, c.rid + 1)
  t.equal(r.attrs.condition, 'system-shutdown')
  t.match(r.body, /id='last'/, 'payloads that were pending are not lost')
})

void t.test('XEP-0124 §15: key sequencing', async t => {
  const { createHash } = await import('node:crypto')
  const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex')
  const k1 = sha1('seed'); const k2 = sha1(k1); const k3 = sha1(k2)
  const h = await Harness.create()
  t.teardown(() => h.close())
  const c = await h.create({ newkey: k3 })
  h.backend.autoReply = false
  const ok = h.req(c.sid, c.rid + 1, MSG, { key: k2 })
  await settle()
  h.backend.push(h.backend.last().id, "<presence xmlns='jabber:client'/>")
  t.notOk((await ok).attrs.condition, 'the right key is accepted')
  const bad = await h.req(c.sid, c.rid + 2, '', { key: k3 })
  t.equal(bad.attrs.condition, 'item-not-found', 'a wrong key ends the session')
})

void t.test('XEP-0124 §16: without stream support, stream attributes are ignored', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  const c = await h.create()
  t.notOk('stream' in c.attrs, 'no stream attribute: multiple streams not offered')
  h.backend.autoReply = false
  const r = h.req(c.sid, c.rid + 1, '', { to: 'other.example', stream: 'x' })
  await settle()
  h.advance(61_000)
  t.notOk((await r).attrs.condition, 'treated as an empty request')
})

void t.test('a full session table refuses newcomers and leaves existing sessions alone', async t => {
  const h = await Harness.create({ maxSessions: 2 })
  t.teardown(() => h.close())
  const a = await h.create()
  const b = await h.create()
  const c = await h.create()
  t.ok(a.attrs.sid !== undefined && b.attrs.sid !== undefined)
  t.equal(c.attrs.type, 'terminate')
  t.equal(c.attrs.condition, 'undefined-condition')
  t.match(c.body, /session table full/)
  h.backend.autoReply = false
  const still = h.req(a.sid, a.rid + 1, MSG)
  await settle()
  h.advance(61_000)
  t.notOk((await still).attrs.condition, 'existing session works')
})

void t.test('HTTP: CORS preflight, GET page, host-meta (XEP-0156)', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  const app = h.edge.app
  const pre = await app.inject({ method: 'OPTIONS', url: '/http-bind', headers: { origin: 'https://chat.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } })
  t.equal(pre.statusCode, 204)
  t.equal(pre.headers['access-control-allow-origin'], '*')
  t.match(String(pre.headers['access-control-allow-methods']), /POST/)
  const page = await app.inject({ method: 'GET', url: '/http-bind' })
  t.equal(page.statusCode, 200)
  t.match(page.body, /BOSH/)
  const xrd = await app.inject({ method: 'GET', url: '/.well-known/host-meta', headers: { host: 'chat.example:5280' } })
  t.match(xrd.body, /rel='urn:xmpp:alt-connections:xbosh' href='http:\/\/chat.example:5280\/http-bind'/)
  const json = await app.inject({ method: 'GET', url: '/.well-known/host-meta.json', headers: { host: 'chat.example:5280', origin: 'https://x' } })
  t.same(JSON.parse(json.body), { links: [{ rel: 'urn:xmpp:alt-connections:xbosh', href: 'http://chat.example:5280/http-bind' }] })
  t.equal(json.headers['access-control-allow-origin'], '*')
  const post = await h.create()
  t.ok(post.attrs.sid)
  const withLength = await app.inject({ method: 'POST', url: '/http-bind', payload: `<body rid='1' ${NS} ${XMPP_NS}/>` })
  t.ok(withLength.headers['content-length'] !== undefined, 'Content-Length, no chunking')
  t.notOk(withLength.headers['transfer-encoding'])
})

void t.test('CORS allow-list', async t => {
  const h = await Harness.create({ corsOrigins: ['https://good.example'] })
  t.teardown(() => h.close())
  const good = await h.edge.app.inject({ method: 'OPTIONS', url: '/http-bind', headers: { origin: 'https://good.example', 'access-control-request-method': 'POST' } })
  t.equal(good.headers['access-control-allow-origin'], 'https://good.example')
  const bad = await h.edge.app.inject({ method: 'OPTIONS', url: '/http-bind', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } })
  t.notOk(bad.headers['access-control-allow-origin'])
})
