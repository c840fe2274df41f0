/**
 * A page reload over real sockets (the lean HTTP path and the session together): the held
 * request's connection closes, a message arrives for the user, the reloaded page continues the
 * session with its stored sid and the next rid (Strophe's `restore`, Converse's `keepalive`) and
 * gets the message. The scripted fake backend stands in for the server; the clock is the
 * harness's (nothing waits on time).
 */
import t from 'tap'
import { request, type ClientRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Harness, NS, XMPP_NS, attrString, bodyAttrs, settle } from '../fixtures/bosh-harness.ts'

interface Answer { status: number, body: string, attrs: Record<string, string> }

/** POSTs `body` on a connection of its own; `sent` gets the request so a test can cut it. */
function post (port: number, body: string, sent?: (r: ClientRequest) => void): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path: '/http-bind', method: 'POST', agent: false, headers: { 'content-type': 'text/xml; charset=utf-8' } }, res => {
      let s = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { s += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: s, attrs: bodyAttrs(s) }) })
    })
    r.on('error', reject)
    r.end(body)
    sent?.(r)
  })
}

/** Waits until `ok()` holds, letting the event loop run (no timing is asserted). */
async function until (ok: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !ok(); i++) await new Promise(resolve => setTimeout(resolve, 5))
  if (!ok()) throw new Error('condition never held')
}

void t.test('page reload: the dead held request leaves the session, the next rid gets what arrived meanwhile', async t => {
  const h = await Harness.create()
  t.teardown(() => h.close())
  await h.edge.app.listen({ port: 0, host: '127.0.0.1' })
  const port = (h.edge.app.server.address() as AddressInfo).port
  const body = (sid: string, rid: number, payload = '', attrs: Record<string, string> = {}): string => {
    const a = attrString({ rid: String(rid), sid, ...attrs })
    return payload === '' ? `<body ${a} ${NS} ${XMPP_NS}/>` : `<body ${a} ${NS} ${XMPP_NS}>${payload}</body>`
  }

  const rid = 5000
  const created = await post(port, `<body ${attrString({ rid: String(rid), to: 'localhost', 'xml:lang': 'en', wait: '60', hold: '1', ver: '1.6', 'xmpp:version': '1.0' })} ${NS} ${XMPP_NS}/>`)
  const sid = created.attrs.sid ?? ''
  t.match(created.body, /<stream:features/, 'XEP-0206 §4: features in the creation response')
  const auth = await post(port, body(sid, rid + 1, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAGRlbW8=</auth>"))
  t.match(auth.body, /<success/)
  const restart = await post(port, body(sid, rid + 2, '', { 'xmpp:restart': 'true' }))
  t.match(restart.body, /<bind/, 'XEP-0206 §5: the new features in the restart response')

  // The old page holds rid+3; then it reloads: the connection closes unanswered.
  const conn = h.backend.last()
  h.backend.autoReply = false
  let cut: ClientRequest | undefined
  const dead = post(port, body(sid, rid + 3), r => { cut = r }).catch(() => undefined)
  await until(() => h.edge.manager.heldRequests() === 1)
  cut!.destroy()
  await dead
  await until(() => h.edge.manager.heldRequests() === 0)

  // A message for the user while the page reloads.
  h.backend.push(conn.id, "<message xmlns='jabber:client' from='bob@localhost/r' id='during'><body>hi</body></message>")
  await settle()

  // The reloaded page: same sid, the next rid, an empty body.
  const next = await post(port, body(sid, rid + 4))
  t.equal(next.status, 200)
  t.notOk(next.attrs.condition, 'no policy-violation')
  t.match(next.body, /id='during'/, 'the message sent during the reload is delivered')
  t.equal(conn.closed, undefined, 'same session: the stream is still open')
  t.equal(h.edge.manager.size, 1)
})
