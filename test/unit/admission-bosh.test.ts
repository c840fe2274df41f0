/**
 * Admission control through the real BOSH edge (the harness: lean POST path, scripted backend,
 * fake clock): one address that keeps creating sessions and never logs in is refused with
 * policy-violation before it holds 1,000 of them, while another address still gets in; sessions
 * that authenticate (SASL success on the stream) or end stop counting; an address with too many
 * requests open gets 429. Client addresses come from X-Forwarded-For through a trusted proxy
 * (inject() connects from 127.0.0.1), so this walks trustProxy too.
 */
import t from 'tap'
import { Harness, NS, XMPP_NS, attrString } from '../fixtures/bosh-harness.ts'

const SUCCESS = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
const SCRIPT = '198.51.100.1'
const OFFICE = '203.0.113.7'

function creation (rid: number): string {
  return `<body ${attrString({ rid: String(rid), to: 'localhost', 'xml:lang': 'en', wait: '60', hold: '1', ver: '1.6', 'xmpp:version': '1.0' })} ${NS} ${XMPP_NS}/>`
}

async function create (h: Harness, from: string, rid = 1000): ReturnType<Harness['post']> {
  return await h.post(creation(rid), { 'x-forwarded-for': from })
}

void t.test('defaults: a script is refused before 1,000 unauthenticated sessions; others get in; logging in frees the count', async t => {
  const h = await Harness.create({ maxSessions: 5000, trustProxy: ['127.0.0.1'] })
  t.teardown(async () => { await h.close() })
  let created = 0
  let refusal
  for (let i = 0; i < 1000; i++) {
    const r = await create(h, SCRIPT, 1000 + i)
    if (r.attrs.type === 'terminate') { refusal = r; break }
    t.ok(r.attrs.sid, 'a session')
    created++
    // One creation per 10 ms: well within the rate, so the unauthenticated limit is what stops it.
    h.time += 10
  }
  t.ok(created < 1000, `refused after ${created} unauthenticated sessions`)
  t.equal(created, 500, 'at --admission-unauthenticated (500)')
  t.match(refusal, { status: 200, attrs: { type: 'terminate', condition: 'policy-violation' } }, 'XEP-0124 §17.2 policy-violation')
  t.equal(h.edge.manager.stats.requests['admission-refused'], 1)
  t.equal(h.edge.edge.admission.refused.unauthenticated, 1, 'counted for the metric')

  const other = await create(h, OFFICE)
  t.ok(other.attrs.sid, 'another address still gets in')
  const direct = await create(h, '127.0.0.1')
  t.ok(direct.attrs.sid, 'loopback (the proxy itself) is exempt')

  // SASL success on 100 of the script's sessions: those stop counting.
  let n = 0
  for (const c of h.backend.conns.values()) {
    if (c.params.ip !== SCRIPT || n === 100) continue
    c.handler.onData(SUCCESS)
    n++
  }
  for (let i = 0; i < 100; i++) {
    const r = await create(h, SCRIPT, 5000 + i)
    t.ok(r.attrs.sid !== undefined && r.attrs.type !== 'terminate', `room again (${i})`)
    h.time += 10
  }
  t.equal((await create(h, SCRIPT)).attrs.condition, 'policy-violation', 'and no more')
})

void t.test('sessions that end stop counting; the creation rate holds a churning script back', async t => {
  const h = await Harness.create({ trustProxy: ['127.0.0.1'], admission: { unauthenticated: 3, sessionRate: 1, sessionBurst: 5 } })
  t.teardown(async () => { await h.close() })
  const sids: string[] = []
  for (let i = 0; i < 3; i++) sids.push((await create(h, SCRIPT)).attrs.sid ?? '')
  t.equal((await create(h, SCRIPT)).attrs.condition, 'policy-violation')
  // The client terminates one (XEP-0124 §12): it no longer counts.
  await h.post(`<body ${attrString({ rid: '1001', sid: sids[0] ?? '', type: 'terminate' })} ${NS}/>`, { 'x-forwarded-for': SCRIPT })
  t.ok((await create(h, SCRIPT)).attrs.sid, 'room for one more')
  // The rate: 5 creations spent (4 admitted + the refused one did not spend), one left.
  for (const c of h.backend.conns.values()) c.handler.onData(SUCCESS)
  t.ok((await create(h, SCRIPT)).attrs.sid)
  t.equal((await create(h, SCRIPT)).attrs.condition, 'policy-violation', 'the burst is spent')
  t.equal(h.edge.edge.admission.refused['session-rate'], 1)
  h.time += 1000
  t.ok((await create(h, SCRIPT)).attrs.sid, 'a second later, one more')
})

void t.test('too many requests open from one address: 429 with policy-violation; others untouched', async t => {
  const h = await Harness.create({ trustProxy: ['127.0.0.1'], admission: { heldRequests: 2 } })
  t.teardown(async () => { await h.close() })
  const a = await create(h, SCRIPT)
  const sid = a.attrs.sid ?? ''
  // Two requests held (hold=1: the second answers the first, which is released, then held again).
  const held1 = h.post(h.body(sid, 1001), { 'x-forwarded-for': SCRIPT })
  const held2 = h.post(h.body(sid, 1002), { 'x-forwarded-for': SCRIPT })
  await held1
  const held3 = h.post(h.body(sid, 1003), { 'x-forwarded-for': SCRIPT })
  await new Promise(resolve => setImmediate(resolve))
  const refused = await h.post(h.body(sid, 1004), { 'x-forwarded-for': SCRIPT })
  t.equal(refused.status, 429, 'RFC 6585 429')
  t.match(refused.attrs, { type: 'terminate', condition: 'policy-violation' })
  t.equal(h.edge.edge.admission.refused['held-requests'], 1)
  t.ok((await create(h, OFFICE)).attrs.sid, 'another address is untouched')
  // The held ones are answered at `wait`; the office's session (nothing held) has ended by then
  // (inactivity), and its address is forgotten.
  h.advance(61_000)
  await Promise.all([held2, held3])
  t.equal(h.edge.edge.admission.addresses, 1, 'only addresses with something open are tracked')
  h.advance(31_000)
  t.equal(h.edge.manager.size, 0, 'every session over')
  t.equal(h.edge.edge.admission.addresses, 0, 'nothing tracked')
  t.equal(h.edge.edge.admission.unauthenticatedTotal, 0)
})
