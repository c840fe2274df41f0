/**
 * End to end with a second client library: StanzaJS 12 (npm `stanza`) in Node → the edge
 * (in-process) → one link → mod_megaphone in a real throwaway ejabberd, over BOSH and over
 * WebSocket. The peer is Strophe.js, so each direction crosses two libraries.
 *
 * StanzaJS over BOSH needs XEP-0206 §4: it reads the stream features from the session creation
 * response and from the response to the restart after SASL, and never polls for them.
 */
import t from 'tap'
import { startEjabberd } from '../fixtures/ejabberd.ts'
import { startEdge } from '../fixtures/edge.ts'
import { StanzaClient, STANZA_VERSION } from '../fixtures/stanza.ts'
import { StropheClient, $iq, $msg, $pres, textOf } from '../fixtures/strophe-ws.ts'

const ej = await startEjabberd({ users: { alice: 'demo', bob: 'demo', carol: 'demo', dave: 'demo' } })
t.teardown(() => ej.stop())
const edge = await startEdge(ej)
t.teardown(() => edge.stop())
const urls = { bosh: edge.boshUrl, websocket: `ws://127.0.0.1:${edge.port}${edge.config.websocketPath}` } as const

for (const transport of ['bosh', 'websocket'] as const) {
  // Each transport uses its own pair of users, so one failing leaves the other's sessions alone.
  const [me, peer] = transport === 'bosh' ? ['alice', 'bob'] : ['carol', 'dave']

  void t.test(`StanzaJS ${STANZA_VERSION} over ${transport}: login, chat both ways, a MUC room, logout`, async t => {
    const before = await ej.connectedUsers()
    const stanza = await StanzaClient.login({ transport, url: urls[transport], jid: `${me}@localhost`, password: 'demo' })
    let loggedIn = true
    t.teardown(async () => { if (loggedIn) await stanza.disconnect() })
    t.match(stanza.jid, new RegExp(`^${me}@localhost/`), 'bound a full JID')

    const strophe = await StropheClient.login({ url: urls[transport], jid: `${peer}@localhost/strophe`, password: 'demo' })
    t.teardown(() => strophe.disconnect())
    t.equal(await ej.connectedUsers(), before + 2, 'ejabberd has both sessions')

    await t.test('chat: StanzaJS → Strophe.js', async t => {
      stanza.sendMessage(strophe.jid, `hello ${peer}, from StanzaJS`)
      const m = await strophe.waitForMessage(`hello ${peer}, from StanzaJS`)
      t.match(m.getAttribute('from'), new RegExp(`^${me}@localhost/`))
    })

    await t.test('chat: Strophe.js → StanzaJS', async t => {
      strophe.sendMessage(stanza.jid, `hello ${me}, from Strophe.js`)
      const m = await stanza.waitForMessage(`hello ${me}, from Strophe.js`)
      t.match(m.from, new RegExp(`^${peer}@localhost/`))
    })

    await t.test('MUC: both join, each sees the other\'s groupchat message', async t => {
      const room = `stanza-${transport}@conference.localhost`
      const joined = await stanza.client.joinRoom(room, me)
      t.equal(joined.from, `${room}/${me}`, 'StanzaJS joined under its nick')
      // a new room is locked until configured (XEP-0045 §10.1.2): accept the default configuration
      await stanza.client.configureRoom(room, { type: 'submit' })
      strophe.send($pres({ to: `${room}/${peer}` }).c('x', { xmlns: 'http://jabber.org/protocol/muc' }))
      await strophe.waitFor(el => el.tagName === 'presence' && el.getAttribute('from') === `${room}/${peer}`, 15_000, 'own room presence')

      stanza.sendMessage(room, 'hello room, from StanzaJS', 'groupchat')
      const m1 = await strophe.waitFor(el => el.tagName === 'message' && el.getAttribute('type') === 'groupchat' && textOf(el, 'body') === 'hello room, from StanzaJS', 15_000, 'groupchat from StanzaJS')
      t.equal(m1.getAttribute('from'), `${room}/${me}`, 'Strophe.js sees StanzaJS\'s message from its occupant JID')

      strophe.send($msg({ to: room, type: 'groupchat' }).c('body').t('hello room, from Strophe.js'))
      const m2 = await stanza.waitFor(m => m.type === 'groupchat' && m.body === 'hello room, from Strophe.js', 15_000, 'groupchat from Strophe.js')
      t.equal(m2.from, `${room}/${peer}`, 'StanzaJS sees Strophe.js\'s message from its occupant JID')
    })

    await t.test('logout: the session ends in ejabberd too', async t => {
      // a round trip first, so that everything StanzaJS sent has been handled
      await strophe.iq($iq({ type: 'get', to: 'localhost' }).c('ping', { xmlns: 'urn:xmpp:ping' }))
      await stanza.disconnect()
      loggedIn = false
      const until = Date.now() + 10_000
      let now = await ej.connectedUsers()
      while (now !== before + 1 && Date.now() < until) {
        await new Promise(resolve => setTimeout(resolve, 50))
        now = await ej.connectedUsers()
      }
      t.equal(now, before + 1, 'only the Strophe.js peer is left')
      t.ok(strophe.conn.connected, 'the Strophe.js peer is still connected')
    })
  })
}
