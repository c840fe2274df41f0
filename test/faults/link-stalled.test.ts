/**
 * An edge that stops reading its link (issue 16, "send_timeout_close"): c2s processes write their
 * output straight onto the link's socket, so without a bound every session that writes to a
 * stalled link would block in gen_tcp:send. The listener's `send_timeout` (15 s, the default;
 * changing a listener's options by `reload_config` does not work in ejabberd 23.01: the new
 * listener fails with eaddrinuse) with `send_timeout_close` closes the link instead, which ends
 * its sessions; sessions on other links are not held up.
 *
 * The stalled link is a raw socket that logs one user in with frames, then stops reading; alice,
 * on an ordinary link, writes to that user until the socket buffers are full.
 */
import t from 'tap'
import { startEjabberd } from '../fixtures/ejabberd.ts'
import { LinkXmpp, connectLink } from '../fixtures/link-xmpp.ts'
import { RawLink } from '../fixtures/raw-link.ts'
import { waitFor } from '../fixtures/edge.ts'
import { encodeData, encodeOpen, encodeRestart, DATA, STREAM_START } from '../../src/link/codec/index.ts'

const ej = await startEjabberd({ users: { alice: 'demo', stalled: 'demo' } })
t.teardown(() => ej.stop())

/** Logs `user` in on connection `id` of a raw link with frames (SASL PLAIN, restart, bind). */
async function rawLogin (raw: RawLink, id: number, user: string): Promise<void> {
  const text = (from: number, re: RegExp): Promise<unknown> => raw.next(f => f.connId === id && f.type === DATA && re.test(f.data.toString()), from)
  let from = raw.frames.length
  raw.write(encodeOpen(id, { transport: 'websocket', to: 'localhost', ip: '127.0.0.1', port: 0, lang: '' }))
  await text(from, /<mechanism>PLAIN</)
  from = raw.frames.length
  raw.write(encodeData(id, `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0demo`).toString('base64')}</auth>`))
  await text(from, /<success/)
  from = raw.frames.length
  raw.write(encodeRestart(id))
  await raw.next(f => f.connId === id && f.type === STREAM_START, from)
  await text(from, /urn:ietf:params:xml:ns:xmpp-bind/)
  from = raw.frames.length
  raw.write(encodeData(id, "<iq type='set' id='b1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>"))
  await text(from, /<jid>/)
  raw.write(encodeData(id, "<presence xmlns='jabber:client'/>"))
}

void t.test('a link that stops reading is closed after send_timeout; other links carry on', async t => {
  const link = await connectLink(ej.linkPort, ej.linkSecret)
  t.teardown(() => link.stop())
  const alice = new LinkXmpp(link, ej.domain)
  await alice.login('alice', 'demo')
  t.teardown(() => { alice.close() })

  const raw = await RawLink.authenticated(ej.linkPort, ej.linkSecret)
  t.teardown(() => raw.destroy())
  await rawLogin(raw, 1, 'stalled')
  await waitFor(async () => await ej.connectedUsers() === 2, 10_000, 'two users')
  t.pass('the raw link\'s user is logged in')

  raw.socket.pause()
  // 60 KB messages in waves of ten, each wave acknowledged by a ping so that alice's own input
  // never piles up in the module. Up to 40 MB: far above loopback's socket buffers.
  const pad = 'z'.repeat(60_000)
  let sent = 0
  for (let wave = 0; wave < 64 && await ej.connectedUsers() === 2; wave++) {
    for (let i = 0; i < 10; i++) alice.message('stalled@localhost/raw', `${sent++} ${pad}`)
    await alice.ping()
  }
  await waitFor(async () => await ej.connectedUsers() === 1, 20_000, 'the stalled link\'s session to end').catch(() => {})
  t.equal(await ej.connectedUsers(), 1, `the stalled user's session ended (after ${sent} messages, ${(sent * 60_000 / 1e6).toFixed(1)} MB, were written to it)`)
  await waitFor(async () => await ej.eval('length(megaphone_link:links()).') === '1', 20_000, 'the stalled link to close').catch(() => {})
  t.equal(await ej.eval('length(megaphone_link:links()).'), '1', 'the stalled link was closed; alice\'s remains')
  await alice.ping()
  t.pass('alice, on her own link, is answered as before')
  raw.socket.resume()
  await raw.waitClosed()
  t.pass('the stalled peer finds its link closed once it reads again')
})
