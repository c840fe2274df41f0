/**
 * End to end over BOSH: Strophe.js in Node → the edge (in-process) → one link → mod_megaphone in
 * a real throwaway ejabberd, then the same against Prosody (fixtures/server.ts). No part is mocked.
 */
import t from 'tap'
import { startServer, ServerSuite, type XmppServer } from '../fixtures/server.ts'
import { startEdge } from '../fixtures/edge.ts'
import { XmppClient, $iq, $msg, $pres, textOf } from '../fixtures/strophe.ts'

const suite = new ServerSuite()
let ej: XmppServer
let url: string
suite.run(t, async (kind, t) => {
  ej = await startServer(kind, { users: { alice: 'demo', bob: 'demo', carol: 'demo', dave: 'demo' } })
  t.teardown(() => ej.stop())
  const edge = await startEdge(ej)
  t.teardown(() => edge.stop())
  url = edge.boshUrl
})

const login = async (user: string, password = 'demo', presence = true): Promise<XmppClient> =>
  await XmppClient.login({ url, jid: `${user}@localhost/test`, password, presence })

suite.test('login, roster, presence, alice → bob', async t => {
  const alice = await login('alice')
  const bob = await login('bob')
  t.teardown(async () => { await alice.disconnect(); await bob.disconnect() })
  t.match(alice.conn.jid, /^alice@localhost\/test/, 'bound to the requested resource')
  const roster = await alice.iq($iq({ type: 'get' }).c('query', { xmlns: 'jabber:iq:roster' }))
  t.equal(roster.getAttribute('type'), 'result', 'roster fetched')
  // presence: bob directs presence to alice
  bob.conn.send($pres({ to: 'alice@localhost' }).tree())
  const p = await alice.waitFor(el => el.tagName === 'presence' && (el.getAttribute('from') ?? '').startsWith('bob@localhost'))
  t.ok(p, 'alice sees bob\'s presence')
  alice.sendMessage('bob@localhost', 'hello bob')
  const m = await bob.waitForMessage('hello bob')
  t.match(m.getAttribute('from'), /^alice@localhost/)
})

suite.test('a chat-state notification passes through (XEP-0085)', async t => {
  const alice = await login('alice')
  const bob = await login('bob')
  t.teardown(async () => { await alice.disconnect(); await bob.disconnect() })
  alice.conn.send($msg({ to: 'bob@localhost/test', type: 'chat' }).c('composing', { xmlns: 'http://jabber.org/protocol/chatstates' }).tree())
  const el = await bob.waitFor(el => el.tagName === 'message' && el.getElementsByTagName('composing').length > 0)
  t.equal(el.getElementsByTagName('composing')[0]?.getAttribute('xmlns'), 'http://jabber.org/protocol/chatstates')
})

suite.test('a message to offline bob is delivered when he logs in', async t => {
  const alice = await login('alice')
  alice.sendMessage('carol@localhost', 'while you were away')
  // a round trip so that the server has the message before alice leaves
  await alice.iq($iq({ type: 'get', to: 'localhost' }).c('ping', { xmlns: 'urn:xmpp:ping' }))
  await alice.disconnect()
  const carol = await login('carol')
  t.teardown(() => carol.disconnect())
  const m = await carol.waitForMessage('while you were away')
  t.ok(m.getElementsByTagName('delay').length > 0, 'delivered from offline storage with a delay stamp')
})

suite.test('a MUC room joined by both, with a groupchat message', async t => {
  const alice = await login('alice')
  const bob = await login('bob')
  t.teardown(async () => { await alice.disconnect(); await bob.disconnect() })
  const room = 'lobby@conference.localhost'
  alice.conn.send($pres({ to: `${room}/alice` }).c('x', { xmlns: 'http://jabber.org/protocol/muc' }).tree())
  await alice.waitFor(el => el.tagName === 'presence' && el.getAttribute('from') === `${room}/alice`)
  // a new room is locked until configured (XEP-0045 §10.1.2): accept the default configuration
  await alice.iq($iq({ type: 'set', to: room }).c('query', { xmlns: 'http://jabber.org/protocol/muc#owner' }).c('x', { xmlns: 'jabber:x:data', type: 'submit' }))
  bob.conn.send($pres({ to: `${room}/bob` }).c('x', { xmlns: 'http://jabber.org/protocol/muc' }).tree())
  await bob.waitFor(el => el.tagName === 'presence' && el.getAttribute('from') === `${room}/bob`)
  alice.conn.send($msg({ to: room, type: 'groupchat' }).c('body').t('hello room').tree())
  const m = await bob.waitFor(el => el.tagName === 'message' && el.getAttribute('type') === 'groupchat' && textOf(el, 'body') === 'hello room')
  t.equal(m.getAttribute('from'), `${room}/alice`)
})

suite.test('a wrong password is an authentication failure', async t => {
  await t.rejects(login('dave', 'wrong'), /AUTHFAIL/)
})

suite.test('XEP-0124 §14.3: a lost response is recovered by repeating the rid; nothing lost or duplicated', async t => {
  const bob = await login('bob')
  t.teardown(() => bob.disconnect())
  const raw = await RawBosh.login(url, 'dave', 'demo')
  bob.sendMessage('dave@localhost/raw', 'exactly once')
  // poll until a response carries the message; then pretend that response was lost
  let first = ''
  let rid = 0
  for (let i = 0; i < 10 && !first.includes('exactly once'); i++) {
    const poll = raw.request('')
    first = await poll.response
    rid = poll.rid
  }
  t.match(first, /exactly once/, 'a held request carried the message')
  const again = await raw.request('', rid).response
  t.equal(again, first, 'the repeated rid gets the same response, byte for byte')
  bob.sendMessage('dave@localhost/raw', 'second')
  let next = ''
  for (let i = 0; i < 10 && !next.includes('second'); i++) next += await raw.request('').response
  t.match(next, /second/)
  t.notMatch(next, /exactly once/, 'not delivered twice')
  await raw.terminate()
})

suite.test('200 concurrent BOSH sessions log in', async t => {
  const n = 200
  const users: Record<string, string> = {}
  for (let i = 0; i < n; i++) users[`load${i}`] = 'pw'
  await ej.registerMany(users)
  // All at once on a shared 2-core machine: a generous guard against a hang, not a timing.
  const clients = await Promise.all(Object.keys(users).map(async u => await XmppClient.login({ url, jid: `${u}@localhost/test`, password: 'pw', presence: false, timeoutMs: 90_000 })))
  t.equal(clients.length, n)
  t.equal(await ej.connectedUsers(), n, `${ej.kind} reports them all`)
  await Promise.all(clients.map(async c => { await c.disconnect() }))
})

/** A BOSH client by hand, to control rids (Strophe hides them). */
class RawBosh {
  private rid = Math.floor(Math.random() * 1e9) + 1e6
  constructor (private readonly url: string, readonly sid: string) {}

  static async login (url: string, user: string, password: string): Promise<RawBosh> {
    const first = Math.floor(Math.random() * 1e9) + 1e6
    const res = await post(url, `<body rid='${first}' to='localhost' wait='10' hold='1' ver='1.6' xml:lang='en' xmpp:version='1.0' xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh'/>`)
    const sid = /sid='([^']+)'/.exec(res)?.[1]
    if (sid === undefined) throw new Error('no sid: ' + res)
    const c = new RawBosh(url, sid)
    c.rid = first
    const auth = Buffer.from(`\0${user}\0${password}`).toString('base64')
    // XEP-0206: what the server sends arrives in whichever response is held when it exists,
    // so each step sends its payload once and then polls until the expected answer came.
    await c.until(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${auth}</auth>`, /<success/)
    await c.until('', /<bind/, "to='localhost' xmpp:restart='true'")
    await c.until("<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>", /<jid>/)
    await c.request("<presence xmlns='jabber:client'/>").response
    return c
  }

  request (payload: string, rid?: number, extra = ''): { rid: number, response: Promise<string> } {
    const r = rid ?? ++this.rid
    const body = `<body rid='${r}' sid='${this.sid}' ${extra} xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh'>${payload}</body>`
    return { rid: r, response: post(this.url, body) }
  }

  async until (payload: string, expected: RegExp, extra = ''): Promise<string> {
    let seen = await this.request(payload, undefined, extra).response
    for (let i = 0; i < 10 && !expected.test(seen); i++) seen += await this.request('').response
    if (!expected.test(seen)) throw new Error(`no ${String(expected)} in: ${seen}`)
    return seen
  }

  async terminate (): Promise<void> {
    await this.request('', undefined, "type='terminate'").response
  }
}

async function post (url: string, body: string): Promise<string> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/xml; charset=utf-8' } })
  return await res.text()
}
