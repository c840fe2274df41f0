/**
 * End to end over WebSocket (RFC 7395): Strophe.js and @xmpp/client (xmpp.js) in Node → the edge
 * (in-process, BOSH and WebSocket on one server, one session table) → one link → mod_megaphone
 * in a real throwaway ejabberd, then the same against Prosody. No part is mocked.
 */
import t from 'tap'
import { once } from 'node:events'
import { WebSocket, type RawData } from 'ws'
import { client as xmppClient, xml, type Client as XmppJsClient } from '@xmpp/client'
import { startServer, ServerSuite, differences, type XmppServer } from '../fixtures/server.ts'
import { startEdge, waitFor, type TestEdge } from '../fixtures/edge.ts'
import { StropheClient, $iq, $msg, $pres, textOf } from '../fixtures/strophe-ws.ts'

// xmpp.js opens `new WebSocket(url, ['xmpp'])` on the global, which Node 20 does not have.
globalThis.WebSocket ??= WebSocket as unknown as typeof globalThis.WebSocket

// Against ejabberd, then Prosody (fixtures/server.ts).
const suite = new ServerSuite()
let ej: XmppServer
let edge: TestEdge
let wsUrl: string
suite.run(t, async (kind, t) => {
  ej = await startServer(kind, { users: { alice: 'demo', bob: 'demo', carol: 'demo', dave: 'demo', erin: 'demo', frank: 'demo' } })
  t.teardown(() => ej.stop())
  edge = await startEdge(ej)
  t.teardown(() => edge.stop())
  wsUrl = `ws://127.0.0.1:${edge.port}${edge.config.websocketPath}`
})

/** The transport the server gives `jid`'s session ('' when it has none). */
async function transportOf (jid: string): Promise<string> {
  return (await ej.sessions()).find(s => s.jid === jid)?.transport ?? ''
}

const login = async (user: string, password = 'demo', url = wsUrl, presence = true): Promise<StropheClient> =>
  await StropheClient.login({ url, jid: `${user}@localhost/test`, password, presence })

/** xmpp.js logged in over WebSocket, with initial presence; every stanza it receives is kept. */
async function xmppJs (user: string, password = 'demo'): Promise<{ x: XmppJsClient, stanzas: Stanza[], stop: () => Promise<void> }> {
  const x = xmppClient({ service: wsUrl, domain: 'localhost', resource: 'xmppjs', username: user, password })
  const stanzas: Stanza[] = []
  x.on('stanza', (el: Stanza) => { stanzas.push(el) })
  x.on('error', () => {})
  await x.start()
  await x.send(xml('presence'))
  return { x, stanzas, stop: async () => { await x.stop() } }
}

interface Stanza {
  name: string
  attrs: Record<string, string | undefined>
  getChildText: (name: string) => string | null
}

async function stanzaWith (stanzas: Stanza[], match: (s: Stanza) => boolean, what: string): Promise<Stanza> {
  await waitFor(() => stanzas.some(match), 15_000, what)
  return stanzas.find(match)!
}

suite.test('Strophe.js over WebSocket: login, roster, alice → bob', async t => {
  const alice = await login('alice')
  const bob = await login('bob')
  t.teardown(async () => { await alice.disconnect(); await bob.disconnect() })
  t.match(alice.jid, /^alice@localhost\/test/, 'bound to the requested resource')
  const roster = await alice.iq($iq({ type: 'get' }).c('query', { xmlns: 'jabber:iq:roster' }))
  t.equal(roster.getAttribute('type'), 'result', 'roster fetched')
  alice.sendMessage('bob@localhost', 'hello bob over ws')
  const m = await bob.waitForMessage('hello bob over ws')
  t.match(m.getAttribute('from'), /^alice@localhost/)
  // The server sees the sessions as WebSocket connections (the link's OPEN carries the transport).
  t.comment(`${ej.kind}: the transport is read from ${differences[ej.kind].transportSource}`)
  t.equal(await transportOf(alice.jid), differences[ej.kind].transport.websocket, `${ej.kind} records the transport websocket`)
})

suite.test('@xmpp/client (xmpp.js) over WebSocket: login, and a message to and from Strophe', async t => {
  const erin = await xmppJs('erin')
  const frank = await login('frank')
  t.teardown(async () => { await erin.stop(); await frank.disconnect() })
  t.equal(erin.x.jid?.toString(), 'erin@localhost/xmppjs', 'bound')
  await erin.x.send(xml('message', { to: 'frank@localhost', type: 'chat' }, xml('body', {}, 'from xmpp.js')))
  const m = await frank.waitForMessage('from xmpp.js')
  t.match(m.getAttribute('from'), /^erin@localhost\/xmppjs/)
  frank.sendMessage('erin@localhost/xmppjs', 'from strophe')
  const back = await stanzaWith(erin.stanzas, s => s.name === 'message' && s.getChildText('body') === 'from strophe', 'message to xmpp.js')
  t.match(back.attrs.from, /^frank@localhost\/test/)
})

suite.test('a message to offline carol is delivered when she logs in over WebSocket', async t => {
  const alice = await login('alice')
  alice.sendMessage('carol@localhost', 'while you were away (ws)')
  // a round trip so that the server has the message before alice leaves
  await alice.iq($iq({ type: 'get', to: 'localhost' }).c('ping', { xmlns: 'urn:xmpp:ping' }))
  await alice.disconnect()
  const carol = await xmppJs('carol')
  t.teardown(() => carol.stop())
  const m = await stanzaWith(carol.stanzas, s => s.name === 'message' && s.getChildText('body') === 'while you were away (ws)', 'offline message')
  t.match(m.attrs.from, /^alice@localhost/, 'from offline storage')
})

suite.test('a MUC room over WebSocket, with a groupchat message', async t => {
  const alice = await login('alice')
  const bob = await login('bob')
  t.teardown(async () => { await alice.disconnect(); await bob.disconnect() })
  const room = 'lobby@conference.localhost'
  alice.send($pres({ to: `${room}/alice` }).c('x', { xmlns: 'http://jabber.org/protocol/muc' }))
  await alice.waitFor(el => el.tagName === 'presence' && el.getAttribute('from') === `${room}/alice`)
  // a new room is locked until configured (XEP-0045 §10.1.2): accept the default configuration
  await alice.iq($iq({ type: 'set', to: room }).c('query', { xmlns: 'http://jabber.org/protocol/muc#owner' }).c('x', { xmlns: 'jabber:x:data', type: 'submit' }))
  bob.send($pres({ to: `${room}/bob` }).c('x', { xmlns: 'http://jabber.org/protocol/muc' }))
  await bob.waitFor(el => el.tagName === 'presence' && el.getAttribute('from') === `${room}/bob`)
  alice.send($msg({ to: room, type: 'groupchat' }).c('body').t('hello room over ws'))
  const m = await bob.waitFor(el => el.tagName === 'message' && el.getAttribute('type') === 'groupchat' && textOf(el, 'body') === 'hello room over ws')
  t.equal(m.getAttribute('from'), `${room}/alice`)
})

suite.test('a BOSH user and a WebSocket user chat through the same edge', async t => {
  const viaBosh = await login('dave', 'demo', edge.boshUrl)
  const viaWs = await login('bob')
  t.teardown(async () => { await viaBosh.disconnect(); await viaWs.disconnect() })
  viaBosh.sendMessage('bob@localhost/test', 'bosh → ws')
  t.ok(await viaWs.waitForMessage('bosh → ws'), 'BOSH to WebSocket')
  viaWs.sendMessage('dave@localhost/test', 'ws → bosh')
  t.ok(await viaBosh.waitForMessage('ws → bosh'), 'WebSocket to BOSH')
  t.equal(await transportOf(viaBosh.jid), differences[ej.kind].transport.bosh, `${ej.kind}: dave over BOSH`)
  t.equal(await transportOf(viaWs.jid), differences[ej.kind].transport.websocket, `${ej.kind}: bob over WebSocket`)
})

suite.test('a wrong password is an authentication failure over WebSocket', async t => {
  await t.rejects(login('dave', 'wrong'), /AUTHFAIL/)
})

suite.test('xmpp.js\'s <close/> ends its c2s session on the server at once, even with XEP-0198 on', async t => {
  t.comment(`${ej.kind}: XEP-0198 is ${differences[ej.kind].streamManagement ? 'on (xmpp.js enables it)' : 'off (mod_smacks is not loaded: see docs/prosody.md)'}`)
  const grace = await xmppJs('frank')
  await grace.stop()
  await t.resolves(waitFor(async () => !(await ej.sessions()).some(s => s.jid === 'frank@localhost/xmppjs'), 5_000, 'frank gone'))
})

suite.test('500 concurrent WebSocket sessions log in', async t => {
  // Sessions of earlier tests may still be listed (see the todo test above): count from here.
  const before = await ej.connectedUsers()
  const n = 500
  const users: Record<string, string> = {}
  for (let i = 0; i < n; i++) users[`wsload${i}`] = 'pw'
  await ej.registerMany(users)
  const clients: RawWs[] = []
  t.teardown(() => { for (const c of clients) c.ws.terminate() })
  // Logged in 50 at a time (the machine is small), then all held at once.
  const names = Object.keys(users)
  for (let i = 0; i < n; i += 50) {
    clients.push(...await Promise.all(names.slice(i, i + 50).map(async u => await RawWs.login(wsUrl, u, 'pw'))))
  }
  t.equal(clients.length, n)
  t.equal(await ej.connectedUsers(), before + n, `${ej.kind} reports them all`)
  const sessions = await ej.sessions()
  t.equal(sessions.filter(s => /^wsload\d+@localhost\/raw/.test(s.jid) && s.transport === differences[ej.kind].transport.websocket).length, n, 'each one a websocket connection')
  await Promise.all(clients.map(async c => { await c.close() }))
  await waitFor(async () => await ej.connectedUsers() === before, 15_000, 'all sessions closed')
  t.pass(`all closed with <close/>, and gone from ${ej.kind}`)
})

/** A minimal RFC 7395 client by hand (SASL PLAIN, restart, bind), light enough for hundreds. */
class RawWs {
  private readonly messages: string[] = []

  private constructor (readonly ws: WebSocket) {
    ws.on('message', (data: RawData) => { this.messages.push(Buffer.isBuffer(data) ? data.toString('utf8') : '') })
    ws.on('error', () => {})
  }

  static async login (url: string, user: string, password: string): Promise<RawWs> {
    const c = new RawWs(new WebSocket(url, 'xmpp'))
    await once(c.ws, 'open')
    const open = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>"
    c.ws.send(open)
    await c.until(m => m.includes('<mechanisms'))
    c.ws.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`)
    await c.until(m => m.startsWith('<success'))
    c.ws.send(open)
    await c.until(m => m.includes('urn:ietf:params:xml:ns:xmpp-bind'))
    c.ws.send("<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>")
    await c.until(m => m.includes('<jid>'))
    return c
  }

  private async until (match: (m: string) => boolean): Promise<void> {
    await waitFor(() => {
      if (this.messages.some(m => m.startsWith('<stream:error') || m.startsWith('<failure'))) throw new Error(this.messages.join('\n'))
      const k = this.messages.findIndex(match)
      if (k >= 0) this.messages.splice(0, k + 1)
      return k >= 0
    }, 30_000, 'a WebSocket message')
  }

  /** RFC 7395 §3.6: <close/>, answered with <close/>, then the WebSocket closes. */
  async close (): Promise<void> {
    const closed = once(this.ws, 'close')
    this.ws.send("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>")
    await closed
  }
}
