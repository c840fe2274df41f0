/**
 * The sid is looked up before a body's namespaces and payloads are read (src/bosh/body.ts
 * `knownSid`): a request with a made-up sid is answered XEP-0124 §17.2 item-not-found from its
 * start tag alone, so what follows (however hostile) is never processed. Through the BOSH harness
 * (the lean HTTP path, scripted fake backend).
 */
import t from 'tap'
import { Harness, NS, XMPP_NS } from '../fixtures/bosh-harness.ts'

const MADE_UP = '0123456789abcdef0123456789abcdef'

void t.test('a made-up sid: item-not-found, whatever the payloads (they are not read)', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  // Payloads that would be a bad-request if they were read: an undeclared prefix, unclosed.
  const r = await h.post(`<body rid='5' sid='${MADE_UP}' ver='1.6' ${NS} ${XMPP_NS}><x:y><z></body>`)
  t.equal(r.status, 200, 'ver given: a 200 (XEP-0124 §17.1 is for legacy clients)')
  t.equal(r.attrs.type, 'terminate')
  t.equal(r.attrs.condition, 'item-not-found')
  const legacy = await h.post(`<body rid='5' sid='${MADE_UP}' ${NS}><x:y><z></body>`)
  t.equal(legacy.status, 404, 'no ver: the legacy status (XEP-0124 §17.1)')
  t.equal(h.edge.manager.stats.requests['unknown-sid'], 2, 'counted as unknown sids')
})

void t.test('a known sid: the body is read in full (a malformed payload is a bad-request)', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  const c = await h.create()
  const r = await h.post(`<body rid='${c.rid + 1}' sid='${c.sid}' ${NS} ${XMPP_NS}><x:y/></body>`)
  t.equal(r.attrs.condition, 'bad-request')
})
