/**
 * Clients that stop reading while messages are sent to them (issue 16, "a BOSH client and a
 * WebSocket client that stop reading"): a real edge process, a real ejabberd; alice (Strophe.js
 * over WebSocket) writes 60 KB messages to the client that stopped reading, in waves of ten, and
 * after each wave a numbered message to bob (Strophe.js over BOSH), who keeps reading.
 *
 * What users see, and what bounds the edge's memory:
 * - a BOSH client that stops polling: what the server sends waits in its session up to
 *   maxPendingBytes (1 MiB), then the session ends (XEP-0124 §17.2 policy-violation, counted as
 *   `pending-overflow`); when it polls again its sid is unknown (item-not-found);
 * - a BOSH client that writes its requests (50, pipelined) on a TCP socket it never reads: the
 *   session answers the requests it can (the answers sit unread in that socket's buffers), then
 *   has none left to answer and ends as above;
 * - a WebSocket client that does not read: past websocketMaxBufferedBytes (1 MiB) waiting in the
 *   edge for it, its connection is cut (counted as `client-slow`; nothing more can reach it, so
 *   no stream error) and its XMPP session ends.
 * In each case ejabberd ends the user's session, bob gets every message, and the edge's heap
 * stays within a few MiB of where it was (its peak is printed next to the bytes written).
 */
import t, { type Test } from 'tap'
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { WebSocket, type RawData } from 'ws'
import { startEjabberd } from '../fixtures/ejabberd.ts'
import { waitFor } from '../fixtures/edge.ts'
import { StropheClient, $iq } from '../fixtures/strophe-ws.ts'
import { RawBosh, endpoint } from '../fixtures/raw-bosh.ts'
import { startEdgeProcess, scrape, sum } from '../ops/helpers.ts'

const ej = await startEjabberd({ users: { alice: 'demo', bob: 'demo', quiet: 'demo', deaf: 'demo', slowws: 'demo' } })
t.teardown(() => ej.stop())

const { boshUrl, wsUrl, adminUrl } = await startEdgeProcess(t, ej)

const alice = await StropheClient.login({ url: wsUrl, jid: 'alice@localhost/sender', password: 'demo' })
const bob = await StropheClient.login({ url: boshUrl, jid: 'bob@localhost/reader', password: 'demo' })
t.teardown(async () => { await alice.disconnect(); await bob.disconnect() })
let toBob = 0

const online = async (jid: string): Promise<boolean> => (await ej.ctl('connected_users')).includes(jid)
const ended = async (condition: string): Promise<number> => sum(await scrape(adminUrl), 'megaphone_sessions_ended_total', `condition="${condition}"`)

interface Outcome { sent: number, heapBefore: number, heapPeak: number, rssPeak: number }

/**
 * Alice writes 60 KB messages to `jid` in waves of ten, each wave followed by a message to bob and
 * a ping (so that alice's own input never piles up), until the edge has ended a session for
 * `condition` (its metrics say so: cheaper to ask than ejabberdctl) or 64 MB were sent; then
 * waits until ejabberd has ended `jid`'s session.
 */
async function flood (jid: string, condition: string): Promise<Outcome> {
  const before = await scrape(adminUrl)
  const endedBefore = sum(before, 'megaphone_sessions_ended_total', `condition="${condition}"`)
  const o: Outcome = { sent: 0, heapBefore: sum(before, 'nodejs_heap_size_used_bytes'), heapPeak: 0, rssPeak: 0 }
  const sample = async (): Promise<void> => {
    const s = await scrape(adminUrl)
    o.heapPeak = Math.max(o.heapPeak, sum(s, 'nodejs_heap_size_used_bytes'))
    o.rssPeak = Math.max(o.rssPeak, sum(s, 'process_resident_memory_bytes'))
  }
  const pad = 'z'.repeat(60_000)
  for (let wave = 0; wave < 107 && await ended(condition) === endedBefore; wave++) {
    for (let i = 0; i < 10; i++) alice.sendMessage(jid, `${o.sent++} ${pad}`)
    alice.sendMessage('bob@localhost', `b${toBob++}`)
    await alice.iq($iq({ type: 'get', to: 'localhost' }).c('ping', { xmlns: 'urn:xmpp:ping' }), 30_000)
    await sample()
  }
  await waitFor(async () => !(await online(jid)), 20_000, `${jid} to go offline`).catch(() => {})
  await sample()
  return o
}

function report (t: Test, what: string, o: Outcome): void {
  t.comment(`${what}: ${o.sent} messages (${(o.sent * 60_000 / 1e6).toFixed(1)} MB) written to it; edge heap ${(o.heapBefore / 1e6).toFixed(1)} MB before, peak ${(o.heapPeak / 1e6).toFixed(1)} MB; RSS peak ${(o.rssPeak / 1e6).toFixed(0)} MB`)
  // A bound, not a timing: what the edge holds for one client is its limit (1 MiB) plus one
  // message and the socket's buffers; 32 MiB leaves room for the heap's own noise.
  t.ok(o.heapPeak - o.heapBefore < 32 * 1024 * 1024, 'the edge\'s heap grew by less than 32 MiB')
}

async function bobHasAll (t: Test): Promise<void> {
  await waitFor(() => bob.received.filter(el => el.tagName === 'message').length >= toBob, 30_000, 'bob\'s messages').catch(() => {})
  const got = new Set(bob.received.filter(el => el.tagName === 'message').map(el => el.getElementsByTagName('body')[0]?.textContent ?? ''))
  t.same(Array.from({ length: toBob }, (_, i) => `b${i}`).filter(b => !got.has(b)), [], `bob has all ${toBob} of alice's messages`)
  t.ok(bob.conn.connected && alice.conn.connected, 'alice and bob are still connected')
}

void t.test('a BOSH client that stops polling: its session ends at maxPendingBytes', async t => {
  const quiet = new RawBosh(endpoint(boshUrl), 'localhost')
  await quiet.login('quiet', 'demo', 'raw')
  t.ok(await online('quiet@localhost/raw'), 'logged in')
  const before = await ended('pending-overflow')
  // It sends nothing more: only the presence request is held, and the first message answers it.
  const o = await flood('quiet@localhost/raw', 'pending-overflow')
  t.notOk(await online('quiet@localhost/raw'), 'its XMPP session ended in ejabberd')
  t.equal(await ended('pending-overflow') - before, 1, 'the edge ended it: pending-overflow (policy-violation)')
  const again = await quiet.post(quiet.body())
  t.equal(again.ended, 'item-not-found', `polling again, it hears its session is gone (XEP-0124 §17.2 item-not-found, HTTP ${again.status})`)
  report(t, 'BOSH client that stopped polling', o)
  await bobHasAll(t)
})

void t.test('a BOSH client whose requests stay open on a socket it never reads: its session ends at maxPendingBytes too', async t => {
  const deaf = new RawBosh(endpoint(boshUrl), 'localhost')
  await deaf.login('deaf', 'demo', 'raw', false)
  const u = new URL(boshUrl)
  const socket: Socket = connect(Number(u.port), u.hostname)
  await once(socket, 'connect')
  socket.pause() // never reads a byte
  t.teardown(() => { socket.destroy() })
  // Keep-alive requests written back to back (HTTP/1.1 pipelining), the first with presence.
  const request = (body: string): string => `POST ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  socket.write(request(deaf.body("<presence xmlns='jabber:client'/>")))
  for (let i = 0; i < 50; i++) socket.write(request(deaf.body()))
  await waitFor(async () => await online('deaf@localhost/raw'), 10_000, 'presence')
  const before = await ended('pending-overflow')
  const o = await flood('deaf@localhost/raw', 'pending-overflow')
  t.notOk(await online('deaf@localhost/raw'), 'its XMPP session ended in ejabberd')
  t.equal(await ended('pending-overflow') - before, 1, 'the edge ended it: pending-overflow (policy-violation)')
  report(t, 'BOSH client that does not read its socket', o)
  await bobHasAll(t)
})

void t.test('a WebSocket client that stops reading: cut past websocketMaxBufferedBytes', async t => {
  const ws = new WebSocket(wsUrl, 'xmpp')
  const got: string[] = []
  ws.on('message', (m: RawData) => got.push(Buffer.isBuffer(m) ? m.toString('utf8') : Buffer.concat(Array.isArray(m) ? m : [Buffer.from(m)]).toString('utf8')))
  ws.on('error', () => {})
  await once(ws, 'open')
  const seen = async (what: string): Promise<void> => { await waitFor(() => got.some(m => m.includes(what)), 10_000, what) }
  const open = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>"
  ws.send(open)
  await seen('PLAIN')
  ws.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0slowws\0demo').toString('base64')}</auth>`)
  await seen('<success')
  ws.send(open)
  await seen('urn:ietf:params:xml:ns:xmpp-bind')
  ws.send("<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>")
  await seen('<jid>')
  ws.send("<presence xmlns='jabber:client'/>")
  await waitFor(async () => await online('slowws@localhost/raw'), 10_000, 'presence')
  // The underlying TCP socket stops being read (ws exposes it only as a private field).
  const tcp = (ws as unknown as { _socket: Socket })._socket
  tcp.pause()
  const closed = once(ws, 'close')
  const before = await ended('client-slow')
  const o = await flood('slowws@localhost/raw', 'client-slow')
  t.notOk(await online('slowws@localhost/raw'), 'its XMPP session ended in ejabberd')
  t.equal(await ended('client-slow') - before, 1, 'the edge cut it: client-slow')
  tcp.resume()
  const [code] = await closed as [number]
  t.equal(code, 1006, 'reading again, the client finds its connection cut (1006: no close frame)')
  report(t, 'WebSocket client that stopped reading', o)
  await bobHasAll(t)
})
