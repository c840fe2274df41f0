/**
 * Faults at the link level, in front of the real mod_megaphone (issue 16, "the module, hardened"):
 * what a peer that never authenticates can make the module do, what one bad element does to the
 * other sessions, the c2s negotiation timeout and shaper on sessions that have no socket.
 *
 * The instance's configuration is changed in place (ejabberd.yml, then `reload_config`): a
 * 2-second negotiation_timeout and a 1,000 B/s c2s shaper for one user, so that both show within a
 * test's time without a new fixture option.
 */
import t from 'tap'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startEjabberd } from '../fixtures/ejabberd.ts'
import { LinkXmpp, connectLink } from '../fixtures/link-xmpp.ts'
import { RawLink } from '../fixtures/raw-link.ts'
import { encodeFrame, encodePing, ERROR, HELLO, PING } from '../../src/link/codec/index.ts'

const users: Record<string, string> = { alice: 'demo', bob: 'demo', carol: 'demo', shaped: 'demo' }
const ej = await startEjabberd({ users })
t.teardown(() => ej.stop())

// negotiation_timeout: ejabberd's bound on a stream that has not authenticated and bound yet.
// c2s_shaper: 1,000 bytes/s (burst 1,000) for `shaped`, none for anyone else.
const ymlPath = join(ej.dir, 'ejabberd.yml')
const yml = await readFile(ymlPath, 'utf8')
const shaped = yml
  .replace(/^shaper:\n/m, 'negotiation_timeout: 2\nshaper:\n  tiny: 1000\n')
  .replace(/^ {2}c2s_shaper: none$/m, '  c2s_shaper:\n    tiny:\n      user: shaped\n    none: all')
if (shaped === yml || !shaped.includes('tiny:\n      user: shaped')) throw new Error('ejabberd.yml has changed shape: the test cannot set its shaper')
await writeFile(ymlPath, shaped)
await ej.ctl('reload_config')

const link = await connectLink(ej.linkPort, ej.linkSecret)
t.teardown(() => link.stop())

const login = async (user: string): Promise<LinkXmpp> => {
  const s = new LinkXmpp(link, ej.domain)
  await s.login(user, 'demo')
  return s
}

/** Frames of the given type the module sent on a raw link. */
const count = (raw: RawLink, type: number): number => raw.frames.filter(f => f.type === type).length

void t.test('a zero-length frame before AUTH closes the connection, with one ERROR at most', async t => {
  const raw = await RawLink.connect(ej.linkPort)
  await raw.next(f => f.type === HELLO)
  raw.write(Buffer.alloc(4))
  await raw.waitClosed()
  t.pass('closed by the module')
  t.ok(count(raw, ERROR) <= 1, `ERROR frames: ${count(raw, ERROR)}`)
})

void t.test('a thousand zero-length frames before AUTH: one answer, then the close (no reflection)', async t => {
  const raw = await RawLink.connect(ej.linkPort)
  await raw.next(f => f.type === HELLO)
  raw.write(Buffer.alloc(4 * 1000))
  await raw.waitClosed()
  t.equal(raw.frames.length <= 2, true, `frames received: ${raw.frames.length} (HELLO and at most one ERROR) for 1,000 sent`)
})

void t.test('garbage and non-AUTH frames before AUTH close the connection', async t => {
  // An HTTP request: its first four bytes read as a length far above the pre-AUTH limit.
  const http = await RawLink.connect(ej.linkPort)
  http.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
  await http.waitClosed()
  t.pass('an HTTP request on the link port is closed')
  // A well-formed frame, but not AUTH.
  const ping = await RawLink.connect(ej.linkPort)
  await ping.next(f => f.type === HELLO)
  ping.write(encodePing(Buffer.from('12345678')))
  await ping.waitClosed()
  t.equal(count(ping, PING), 0, 'a PING before AUTH is not answered; the connection is closed')
  // A frame of an unknown type.
  const unknown = await RawLink.connect(ej.linkPort)
  await unknown.next(f => f.type === HELLO)
  unknown.write(Buffer.concat(encodeFrame(0, 0x7e, Buffer.from('??'))))
  await unknown.waitClosed()
  t.pass('an unknown frame type before AUTH is closed')
  t.equal(link.ready, true, 'the authenticated link never noticed')
})

void t.test('an element that fails to parse ends only its own session', async t => {
  const alice = await login('alice')
  const bob = await login('bob')
  const carol = await login('carol')
  t.teardown(() => { alice.close(); bob.close() })
  carol.send('<message xmlns="jabber:client"><body>unclosed</message>')
  const condition = await carol.waitForClose()
  t.ok(['not-well-formed', 'bad-xml'].includes(condition), `carol's session ended: ${condition}`)
  alice.message('bob@localhost', 'after carol\'s bad element')
  await bob.waitForMessage('after carol\'s bad element')
  t.pass('alice → bob on the same link still flows')
  t.equal(link.ready, true, 'the link stayed up')
  // Before authentication too: the stream ends, nothing else does.
  const anon = new LinkXmpp(link, ej.domain)
  await anon.waitForStart(1)
  anon.send('<<<')
  t.ok(await anon.waitForClose(), 'an unauthenticated stream with bad XML ends')
  bob.message('alice@localhost', 'still here')
  await alice.waitForMessage('still here')
  t.pass('and bob → alice still flows')
})

void t.test('parser errors other than not-well-formed become a text, not a crash', async t => {
  // fxml_stream:parse_element/1 can also return {error, Atom} (enomem) or raise; the module reduces
  // every such result to {error, Text} (which ends only that session, as above). A term that is
  // not a binary makes the NIF raise: the same path.
  const out = await ej.eval('megaphone_link:parse_element(not_a_binary).')
  t.match(out, /^\{error,<<"parser error/, `megaphone_link:parse_element(not_a_binary) = ${out}`)
  const ok = await ej.eval('megaphone_link:parse_element(<<"<a/>">>).')
  t.match(ok, /^\{xmlel,<<"a">>/, 'a well-formed element still parses')
})

void t.test('a session that never authenticates is ended after negotiation_timeout', async t => {
  const alice = await login('alice')
  t.teardown(() => { alice.close() })
  const idle = new LinkXmpp(link, ej.domain)
  await idle.waitForStart(1)
  // c2s applies its own negotiation timer (xmpp_stream_in's stream_timeout, set from
  // negotiation_timeout when it is accepted): no socket is needed for it.
  const condition = await idle.waitForClose()
  t.equal(condition, 'connection-timeout', 'RFC 6120 §4.9.3.4 connection-timeout')
  await alice.ping()
  t.pass('an authenticated session on the same link outlives the timeout (its stream is established)')
})

void t.test('the c2s shaper applies: a shaped user\'s input waits for it, nobody else\'s', async t => {
  const bob = await login('bob')
  const user = await login('shaped')
  const alice = await login('alice')
  t.teardown(() => { bob.close(); user.close(); alice.close() })
  // Five 3,000-byte messages each, at once: 15 KB against a 1,000 B/s shaper with a 1,000-byte
  // burst. The first one puts the shaper in debt, so the next four wait in the link.
  const pad = 'x'.repeat(3000)
  for (let i = 0; i < 5; i++) user.message('bob@localhost', `shaped ${i} ${pad}`)
  for (let i = 0; i < 5; i++) alice.message('bob@localhost', `free ${i} ${pad}`)
  for (let i = 0; i < 5; i++) {
    await bob.waitForMessage(`shaped ${i} ${pad}`)
    await bob.waitForMessage(`free ${i} ${pad}`)
  }
  const bodies = bob.received.filter(el => el.localName === 'message').map(el => el.getElementsByTagName('body')[0]?.textContent?.split(' ').slice(0, 2).join(' ') ?? '')
  t.same(bodies.filter(b => b.startsWith('shaped')), [0, 1, 2, 3, 4].map(i => `shaped ${i}`), 'all five shaped messages arrived, in order (deferred, not lost)')
  const info = async (name: string): Promise<string> => await ej.eval(
    `Pid = ejabberd_sm:get_session_pid(<<"${name}">>, <<"localhost">>, <<"link">>), ` +
    '[{maps:get(shaped, I), maps:get(deferred, I)} || L <- megaphone_link:links(), I <- megaphone_link:sessions_info(L), maps:get(pid, I) == Pid].')
  const shapedInfo = await info('shaped')
  const aliceInfo = await info('alice')
  t.comment(`sessions_info {shaped, deferred}: shaped ${shapedInfo}, alice ${aliceInfo}`)
  const m = /^\[\{true,(\d+)\}\]$/.exec(shapedInfo)
  t.ok(m !== null && Number(m[1]) >= 1, 'the shaped user has a shaper, and input that waited for it')
  t.equal(aliceInfo, '[{false,0}]', 'alice has none, and nothing of hers waited')
})

void t.test('a shaped user who keeps sending is ended with policy-violation; an unshaped one is not', async t => {
  const bob = await login('bob')
  const alice = await login('alice')
  const user = await login('shaped')
  t.teardown(() => { bob.close(); alice.close() })
  // A wave is 16 × 60 KB (961 KB): below max_session_buffer (1 MiB) even if all of it waited, so
  // an unshaped session can never pass it with one wave. A shaped one (1,000 B/s) gets its first
  // message through and then waits about a minute: its second wave piles on the first and passes
  // 1 MiB, which ends the session as a full TCP receive buffer would.
  const pad = 'y'.repeat(60_000)
  const wave = (s: LinkXmpp, tag: string): void => { for (let i = 0; i < 16; i++) s.message('bob@localhost', `${tag} ${i} ${pad}`) }
  const received = async (tag: string): Promise<void> => { for (let i = 0; i < 16; i++) await bob.waitForMessage(`${tag} ${i} ${pad}`) }
  wave(alice, 'alice-1')
  await received('alice-1')
  wave(user, 'shaped-1')
  wave(alice, 'alice-2')
  await received('alice-2')
  t.equal(alice.closed, undefined, 'alice sent two waves (1.9 MB) and is still connected: every message delivered')
  await bob.waitForMessage(`shaped-1 0 ${pad}`)
  t.equal(user.closed, undefined, 'the shaped user\'s first message went through; the rest of the wave waits')
  wave(user, 'shaped-2')
  t.equal(await user.waitForClose(), 'policy-violation', 'its second wave passes max_session_buffer: policy-violation')
  alice.message('bob@localhost', 'alice is not slowed')
  await bob.waitForMessage('alice is not slowed')
  t.pass('alice → bob on the same link still flows')
  t.equal(link.ready, true, 'the link stayed up')
})
