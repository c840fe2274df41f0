/**
 * The link on its own, from TypeScript to the real module (issue 2 §6), against each server
 * (issue 17): no HTTP, no edge. One LinkClient carries several XMPP sessions into a throwaway
 * ejabberd 23.01 or Prosody 0.12 running mod_megaphone; each connection id is a real c2s
 * session (SASL PLAIN, restart, bind, presence, messages, offline storage). Then the failure
 * paths: a wrong link secret, a lost link, and garbage, oversized frames and unknown ids in
 * front of the module, which must answer with coded ERROR frames (docs/link-protocol.md
 * "Errors") and keep the link up. MEGAPHONE_TEST_SERVERS narrows the servers (fixtures/server.ts).
 */
import t from 'tap'
import { createServer, connect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import { startServer, testServers, differences, type ServerKind } from '../fixtures/server.ts'
import { LinkXmpp, connectLink } from '../fixtures/link-xmpp.ts'
import { RawLink } from '../fixtures/raw-link.ts'
import {
  encodeFrame, encodeHeader, encodeOpen, encodeData, encodePing, encodeStreamStart, CLOSE, DATA, ERROR, OPEN, PONG, STREAM_START
} from '../../src/link/codec/index.ts'
import type { LinkClient } from '../../src/link/index.ts'
import type { Test } from 'tap'

const BULK = 500
const users: Record<string, string> = { alice: 'demo', bob: 'demo', carol: 'demo', dave: 'demo', erin: 'demo' }
for (let i = 0; i < BULK; i++) users[`load${i}`] = 'demo'

for (const kind of testServers()) {
  void t.test(kind, async t => { await suite(t, kind) })
}

async function suite (t: Test, kind: ServerKind): Promise<void> {
  // idle_gc 1 s (ejabberd) so that the memory figure below is the one an idle session settles at.
  const ej = await startServer(kind, { users, idleGc: 1 })
  t.teardown(() => ej.stop())
  const link = await connectLink(ej.linkPort, ej.linkSecret)
  t.teardown(() => link.stop())

  const login = async (user: string, password = 'demo', via: LinkClient = link): Promise<LinkXmpp> => {
    const s = new LinkXmpp(via, ej.domain)
    await s.login(user, password)
    return s
  }

  /** Polls the server until `want` users are connected (a session's end is asynchronous). */
  async function connectedUsersReach (want: number): Promise<number> {
    let n = -1
    for (let i = 0; i < 150; i++) {
      n = await ej.connectedUsers()
      if (n === want) return n
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    return n
  }

  void t.test('two sessions on one link: SASL PLAIN, restart, bind, presence; alice → bob', async t => {
    const alice = await login('alice')
    const bob = await login('bob')
    t.teardown(() => { alice.close(); bob.close() })
    t.equal(alice.connId !== bob.connId, true, 'two connection ids on one link')
    t.match(alice.jid, /^alice@localhost\/link/, 'alice bound')
    t.match(bob.jid, /^bob@localhost\/link/, 'bob bound')
    t.equal(alice.starts.length, 2, 'a stream start after OPEN and after RESTART')
    t.ok(alice.starts[0]?.id, 'the stream start carries a stream id')
    t.equal(alice.starts[0]?.from, 'localhost', 'and the server\'s domain')
    t.equal(await ej.connectedUsers(), 2, `${kind} sees two users`)
    alice.message('bob@localhost', 'hello bob over the link')
    const m = await bob.waitForMessage('hello bob over the link')
    t.match(m.getAttribute('from'), /^alice@localhost\/link/, 'from alice\'s full jid')
    bob.message(alice.jid, 'hello alice')
    await alice.waitForMessage('hello alice')
    t.pass('bob answers alice')
  })

  void t.test('a message to offline carol is delivered when she logs in', async t => {
    const alice = await login('alice')
    t.teardown(() => { alice.close() })
    alice.message('carol@localhost', 'while you were away')
    await alice.ping() // the message has been stored once the ping is answered
    const carol = await login('carol')
    t.teardown(() => { carol.close() })
    const m = await carol.waitForMessage('while you were away')
    t.ok(m.getElementsByTagNameNS('urn:xmpp:delay', 'delay').length > 0, 'stamped with a delay (XEP-0203) by offline storage')
  })

  void t.test('a wrong password gets a SASL failure and leaves the other session untouched', async t => {
    const alice = await login('alice')
    const bob = await login('bob')
    t.teardown(() => { alice.close(); bob.close() })
    const mallory = new LinkXmpp(link, ej.domain)
    t.equal(await mallory.authenticate('dave', 'wrong'), 'not-authorized', 'RFC 6120 §6.5.10 not-authorized')
    mallory.close()
    alice.message('bob@localhost', 'still here')
    await bob.waitForMessage('still here')
    t.pass('alice → bob still works on the same link')
    t.equal(link.ready, true, 'the link is still up')
  })

  void t.test('closing one session leaves the others working', async t => {
    const base = await ej.connectedUsers()
    const alice = await login('alice')
    const bob = await login('bob')
    const erin = await login('erin')
    t.teardown(() => { alice.close(); bob.close() })
    t.equal(await connectedUsersReach(base + 3), base + 3, 'three more users')
    erin.close()
    t.equal(await connectedUsersReach(base + 2), base + 2, `erin's c2s ended in ${kind}`)
    alice.message('bob@localhost', 'after erin left')
    await bob.waitForMessage('after erin left')
    t.pass('alice and bob carry on')
    alice.message('erin@localhost', 'erin is offline now')
    await alice.ping()
    const erin2 = await login('erin')
    t.teardown(() => { erin2.close() })
    await erin2.waitForMessage('erin is offline now')
    t.pass('a message sent after the close went to offline storage, not to the closed session')
  })

  void t.test('a second login to the same resource: the first hears <stream:error> conflict, then CLOSE conflict', async t => {
    const first = new LinkXmpp(link, ej.domain)
    await first.login('carol', 'demo', 'same')
    const second = new LinkXmpp(link, ej.domain)
    await second.login('carol', 'demo', 'same')
    t.teardown(() => { second.close() })
    // docs/link-protocol.md CLOSE: the stream error is sent first as DATA, then CLOSE with its condition.
    t.equal(await first.waitForClose(), 'conflict', 'CLOSE carries the condition')
    const err = first.received.find(el => el.localName === 'error' && el.namespaceURI === 'http://etherx.jabber.org/streams')
    t.ok(err?.getElementsByTagNameNS('urn:ietf:params:xml:ns:xmpp-streams', 'conflict').length === 1, 'the <stream:error> element came before it, standing alone')
    await second.ping()
    t.pass('the new session carries on')
  })

  void t.test('the client IP from the OPEN frame is the peer the server sees', async t => {
    const s = new LinkXmpp(link, ej.domain, '203.0.113.7')
    await s.login('dave', 'demo', 'ipcheck')
    t.teardown(() => { s.close() })
    const seen = (await ej.sessions()).find(x => x.jid === 'dave@localhost/ipcheck')
    t.equal(seen?.ip, '203.0.113.7', `the server's session has the OPEN frame's address (${JSON.stringify(seen)})`)
    t.comment(`${kind}: the transport is read from ${differences[kind].transportSource}`)
    t.equal(seen?.transport, differences[kind].transport.websocket, 'with the transport from the OPEN frame')
  })

  void t.test('a wrong link secret is refused', async t => {
    await t.rejects(connectLink(ej.linkPort, 'not-the-secret-at-all-0123456789'), { code: 'LINK_AUTH_REJECTED' }, 'ERROR auth-failed on the handshake')
    const raw = await RawLink.authenticated(ej.linkPort, ej.linkSecret)
    raw.destroy()
    t.pass('the right secret still works afterwards')
    t.equal(link.ready, true, 'and the established link is untouched')
  })

  void t.test(`${BULK} sessions over one link all log in, and each receives a message`, async t => {
    const base = await ej.connectedUsers()
    const sessions: LinkXmpp[] = []
    t.teardown(() => { for (const s of sessions) s.close() })
    // Logged in in waves: concurrency without holding 500 SASL exchanges in flight at once.
    const grow = async (to: number): Promise<void> => {
      for (let i = sessions.length; i < to; i += 50) {
        sessions.push(...await Promise.all(Array.from({ length: Math.min(50, to - i) }, async (_v, k) => await login(`load${i + k}`))))
      }
      // Idle: let ejabberd's GC sweep run (idle_gc 1 s) before reading its memory.
      await new Promise(resolve => setTimeout(resolve, 3_000))
    }
    // Memory is read at 100 and at 500 sessions: the difference per session leaves out what the
    // first logins cost once (code loading, caches), which a delta from zero would charge to them.
    const FIRST = 100
    await grow(FIRST)
    const before = await ej.memoryInUse()
    await grow(BULK)
    const after = await ej.memoryInUse()
    t.equal(await ej.connectedUsers(), base + BULK, `${kind} itself reports ${BULK} more users`)
    const stats = await link.stats()
    t.equal(stats.linkSessions, BULK, `the module counts ${BULK} sessions on this link (STATS_REPLY)`)
    const kib = (bytes: number): string => (bytes / (BULK - FIRST) / 1024).toFixed(1)
    t.comment(`${kind} memory per idle logged-in session over the link: ${kib(after - before)} KiB (${differences[kind].memoryMeasure}, between ${FIRST} and ${BULK} sessions; reported, not asserted)`)

    // Each sends to the next: every session both sends and receives exactly one message.
    for (let i = 0; i < BULK; i++) sessions[i]?.message(`load${(i + 1) % BULK}@localhost`, `ring ${i}`)
    await Promise.all(sessions.map(async (s, i) => await s.waitForMessage(`ring ${(i + BULK - 1) % BULK}`)))
    t.pass(`all ${BULK} sessions received their message`)
  })

  void t.test(`losing the link ends all its sessions in ${kind}`, async t => {
    // Only this test's link may hold sessions: the shared link's sessions ended with the tests above.
    t.equal(await connectedUsersReach(0), 0, 'nobody connected to start with')
    // The link runs through a TCP relay so the test can cut it as a network failure would.
    const relayed: Socket[] = []
    const relay = createServer(client => {
      const upstream = connect({ host: '127.0.0.1', port: ej.linkPort })
      relayed.push(client, upstream)
      client.pipe(upstream).pipe(client)
      client.on('error', () => upstream.destroy())
      upstream.on('error', () => client.destroy())
    })
    await new Promise<void>(resolve => relay.listen(0, '127.0.0.1', resolve))
    const address = relay.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    const lossy = await connectLink(port, ej.linkSecret)
    t.teardown(() => lossy.stop())
    const three = [await login('alice', 'demo', lossy), await login('bob', 'demo', lossy), await login('carol', 'demo', lossy)]
    t.equal(await connectedUsersReach(3), 3, 'three users on the relayed link')
    // Cut it: no CLOSE frames, the TCP connection just dies (the relay refuses reconnects too).
    relay.close()
    for (const s of relayed) s.destroy()
    t.equal(await connectedUsersReach(0), 0, `${kind} reports 0 connected users after the link is gone`)
    t.same(three.map(s => s.closed), ['link-lost', 'link-lost', 'link-lost'], 'each session on the edge side heard link-lost')
  })

  void t.test('garbage, oversized frames and unknown ids get coded ERRORs; the link stays up', async t => {
    const raw = await RawLink.authenticated(ej.linkPort, ej.linkSecret)
    t.teardown(() => raw.destroy())
    let from = raw.frames.length

    // Unknown connection id: DATA for an id nobody opened.
    raw.write(encodeData(777, "<message xmlns='jabber:client'/>"))
    t.equal((await raw.error(777, from)).name, 'unknown-connection', 'DATA for an unknown id → unknown-connection')

    // A frame type version 1 does not define.
    from = raw.frames.length
    raw.write(Buffer.concat(encodeFrame(5, 0x7e, Buffer.from('??'))))
    t.equal((await raw.error(5, from)).name, 'unknown-type', 'type 0x7e → unknown-type')

    // Oversized: a length above max_frame_size (65,545), with all its bytes sent; they are skipped.
    from = raw.frames.length
    const big = Buffer.alloc(70_000, 0x41)
    raw.write(encodeHeader(9, DATA, big.length))
    raw.write(big)
    t.equal((await raw.error(9, from)).name, 'frame-too-large', '70,000-byte frame → frame-too-large')

    // Too short: a length below 9 (the header alone is 9 bytes after the length).
    from = raw.frames.length
    const short = Buffer.alloc(4 + 3)
    short.writeUInt32BE(3, 0)
    raw.write(short)
    t.equal((await raw.error(0, from)).name, 'frame-too-short', 'length 3 → frame-too-short')

    // Layout errors: an OPEN whose fields are cut short.
    from = raw.frames.length
    raw.write(Buffer.concat(encodeFrame(11, OPEN, Buffer.from([0, 200, 1]))))
    t.equal((await raw.error(11, from)).name, 'bad-frame', 'truncated OPEN → bad-frame')

    // Direction: STREAM_START is the backend's to send.
    from = raw.frames.length
    raw.write(encodeStreamStart(12, { id: 'x', from: 'localhost', version: '1.0', lang: '' }))
    t.equal((await raw.error(12, from)).name, 'wrong-direction', 'STREAM_START from the edge → wrong-direction')

    // Bad XML inside a real session: an ERROR, then the session's CLOSE; the link lives on.
    from = raw.frames.length
    raw.write(encodeOpen(20, { transport: 'bosh', to: 'localhost', ip: '127.0.0.1', port: 0, lang: '' }))
    await raw.next(f => f.type === STREAM_START && f.connId === 20, from)
    from = raw.frames.length
    raw.write(encodeData(20, '<a><b></a>'))
    t.equal((await raw.error(20, from)).name, 'bad-xml', 'malformed element → bad-xml')
    await raw.next(f => f.type === CLOSE && f.connId === 20, from)
    t.pass('followed by a CLOSE for that session')

    // Random bytes as a live session's DATA: a coded error (bad-xml, or bad-frame when not UTF-8).
    from = raw.frames.length
    raw.write(encodeOpen(21, { transport: 'websocket', to: 'localhost', ip: '::1', port: 0, lang: '' }))
    await raw.next(f => f.type === STREAM_START && f.connId === 21, from)
    from = raw.frames.length
    raw.write(Buffer.concat(encodeFrame(21, DATA, randomBytes(300))))
    t.match((await raw.error(21, from)).name, /^(bad-xml|bad-frame)$/, 'random bytes → bad-xml or bad-frame')

    // After all of that, the link answers a heartbeat and opens sessions as before.
    from = raw.frames.length
    raw.write(encodePing(Buffer.from('12345678')))
    await raw.next(f => f.type === PONG, from)
    t.pass('PING still answered with PONG')
    t.equal(raw.closed, false, 'the module kept the link up')
    t.equal(link.ready, true, 'and the other link never noticed')
  })

  void t.test('too-short frames before AUTH: one ERROR not-authenticated, then the close (no reflection)', async t => {
    const raw = await RawLink.connect(ej.linkPort)
    const short = Buffer.alloc(4 * 50) // fifty frames of length 0
    raw.write(short)
    await raw.waitClosed()
    const errors = raw.frames.filter(f => f.type === ERROR)
    t.equal(errors.length, 1, 'one ERROR, not one per frame')
    t.equal((await raw.error(0, 0)).name, 'not-authenticated', 'as for any frame before AUTH')
    t.equal(link.ready, true, 'the authenticated link is still up')
  })

  void t.test('a peer that does not authenticate is dropped; established links are untouched', async t => {
    const raw = await RawLink.connect(ej.linkPort)
    raw.write(encodeData(1, "<presence xmlns='jabber:client'/>"))
    await raw.waitClosed()
    const err = await raw.error(0, 0).catch(() => undefined)
    t.equal(err?.name, 'not-authenticated', 'ERROR not-authenticated before the close')
    t.equal(link.ready, true, 'the authenticated link is still up')
    const s = await login('alice')
    s.close()
    t.pass('and still logs sessions in')
  })
}
