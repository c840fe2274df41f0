/**
 * Headers on BOSH answers, through the server's own request handler (the lean POST path) with the
 * scripted fake backend: nosniff and the sandbox CSP on every answer, errors included, whatever
 * the session's Content-Type; CORS from the operator's list only.
 */
import t from 'tap'
import type { Test } from 'tap'
import { Harness, NS, XMPP_NS, type Reply } from '../fixtures/bosh-harness.ts'

const CSP = "sandbox; default-src 'none'"

function secured (t: Test, r: Reply, what: string): void {
  t.equal(r.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`)
  t.equal(r.headers['content-security-policy'], CSP, `${what}: CSP`)
}

void t.test('nosniff and the sandbox CSP on every BOSH answer, errors included', async t => {
  const h = await Harness.create({ maxBodyBytes: 4096 })
  t.teardown(() => h.close())
  const c = await h.create()
  secured(t, c, 'creation')
  t.equal(c.status, 200)
  const bad = await h.post(`<body rid='1' ${NS}><message>`)
  t.equal(bad.status, 400)
  secured(t, bad, 'unparsable body')
  const unknown = await h.post(`<body rid='5' sid='nope' ${NS}/>`)
  t.equal(unknown.status, 404)
  secured(t, unknown, 'unknown sid (legacy)')
  const big = await h.post(`<body rid='1' ${NS}>${'<a/>'.repeat(2000)}</body>`)
  t.equal(big.status, 403)
  t.equal(big.attrs.condition, 'policy-violation')
  secured(t, big, 'over maxBodyBytes')
  const term = await h.req(c.sid, c.rid + 1, '', { type: 'terminate' })
  secured(t, term, 'terminate')
  // fastify's side of the same path: the page and the preflight.
  secured(t, await h.inject({ method: 'GET', url: '/http-bind' }), 'GET page')
  secured(t, await h.inject({ method: 'OPTIONS', url: '/http-bind', headers: { origin: 'https://a.example', 'access-control-request-method': 'POST' } }), 'preflight')
})

void t.test('CORS: * for any origin, no Vary', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  const r = await h.post(`<body rid='1' to='localhost' wait='60' hold='1' ver='1.6' ${NS} ${XMPP_NS}/>`, { origin: 'https://anything.example' })
  t.equal(r.headers['access-control-allow-origin'], '*')
  t.notOk(r.headers.vary)
})

void t.test('CORS allow-list: the Origin echoed only when listed, Vary: Origin always', async t => {
  const h = await Harness.create({ corsOrigins: ['https://good.example'] })
  t.teardown(() => h.close())
  const body = `<body rid='1' to='localhost' wait='60' hold='1' ver='1.6' ${NS} ${XMPP_NS}/>`
  const good = await h.post(body, { origin: 'https://good.example' })
  t.equal(good.headers['access-control-allow-origin'], 'https://good.example')
  t.equal(good.headers.vary, 'Origin')
  const evil = await h.post(body.replace("rid='1'", "rid='50'"), { origin: 'https://evil.example' })
  t.notOk(evil.headers['access-control-allow-origin'], 'an origin not on the list gets none')
  t.equal(evil.headers.vary, 'Origin')
  const none = await h.post(body.replace("rid='1'", "rid='90'"))
  t.notOk(none.headers['access-control-allow-origin'], 'no Origin, no header')
  // A header the client sends cannot become an answer header.
  const tricky = await h.post(body.replace("rid='1'", "rid='130'"), { origin: 'https://good.example\r\nX-Evil: 1' })
  t.notOk(tricky.headers['x-evil'])
})

void t.test('Content-Length on every answer, never chunked (XEP-0124 §5)', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  const c = await h.create()
  t.equal(Number(c.headers['content-length']), Buffer.byteLength(c.body))
  t.notOk(c.headers['transfer-encoding'])
})
