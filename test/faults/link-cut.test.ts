/**
 * The link cut between the edge and ejabberd (issue 16, "fault tests"): real Strophe.js clients
 * over BOSH and WebSocket → the edge (in-process) → a TCP relay the test can cut → mod_megaphone
 * in a real ejabberd. The relay drops every connection and refuses new ones for longer than the
 * old reconnect backoff (30 s cap) would have recovered from promptly, then accepts again.
 *
 * What users see: every session ends at once (BOSH: terminate with remote-connection-failed;
 * WebSocket: a remote-connection-failed stream error), logins fail with the same condition while
 * the link is down, and logins work again a few seconds after ejabberd is reachable. ejabberd
 * keeps nothing of the dead link: no c2s session, no link process.
 */
import t from 'tap'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { startEjabberd } from '../fixtures/ejabberd.ts'
import { edgeEnv, waitFor } from '../fixtures/edge.ts'
import { XmppClient } from '../fixtures/strophe.ts'
import { loadConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/log.ts'
import { runEdge } from '../../src/run-edge.ts'
import { scrape, sum } from '../ops/helpers.ts'

/** Outage length: after 12 s of refused connects the old backoff's bound had reached 25.6 s. */
const OUTAGE_MS = 12_000

const ej = await startEjabberd({ users: { alice: 'demo', bob: 'demo', carol: 'demo', dave: 'demo' } })
t.teardown(() => ej.stop())

/** A TCP relay in front of the link port that can be cut (connections dropped, port closed) and restored. */
class Relay {
  private server: Server | undefined
  private readonly sockets = new Set<Socket>()
  port = 0

  async open (): Promise<void> {
    const server = createServer(client => {
      const upstream = connect({ host: '127.0.0.1', port: ej.linkPort })
      for (const s of [client, upstream]) { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)) }
      client.pipe(upstream).pipe(client)
      client.on('error', () => upstream.destroy())
      upstream.on('error', () => client.destroy())
    })
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(this.port, '127.0.0.1', resolve) })
    const address = server.address()
    this.port = typeof address === 'object' && address !== null ? address.port : 0
    this.server = server
  }

  /** No FIN, no CLOSE frames: every connection dies and new ones are refused, as in a network failure. */
  async cut (): Promise<void> {
    const server = this.server
    this.server = undefined
    for (const s of this.sockets) s.destroy()
    if (server !== undefined) await new Promise<void>(resolve => server.close(() => resolve()))
  }
}

const relay = new Relay()
await relay.open()
t.teardown(() => relay.cut())

const config = loadConfig([], edgeEnv(ej, { MEGAPHONE_LINK_PORT: String(relay.port), MEGAPHONE_LOG_LEVEL: process.env.MEGAPHONE_TEST_LOG_LEVEL ?? 'silent' }))
const edge = await runEdge(config, createLogger(config.logLevel))
t.teardown(() => edge.stop())
await waitFor(() => edge.linkUp(), 10_000, 'link up')
const boshUrl = `http://127.0.0.1:${edge.port}${config.boshPath}`
const wsUrl = `ws://127.0.0.1:${edge.port}${config.websocketPath}`
const adminUrl = `http://127.0.0.1:${edge.adminPort}`

/**
 * A logged-in client, every status Strophe reported after login, and the condition of the first
 * failure (BOSH: CONNFAIL with the terminate body's condition; WebSocket: ERROR with the stream
 * error's condition).
 */
interface Watched { client: XmppClient, statuses: string[], failed: string | undefined }

async function login (user: string, url: string): Promise<Watched> {
  const client = await XmppClient.login({ url, jid: `${user}@localhost/faults`, password: 'demo' })
  const w: Watched = { client, statuses: [], failed: undefined }
  client.watchStatus((status, condition) => {
    w.statuses.push(`${status}:${condition}`)
    if ((status === 'CONNFAIL' || status === 'ERROR') && w.failed === undefined) w.failed = condition
  })
  return w
}

async function connectedUsersReach (want: number): Promise<number> {
  let n = -1
  await waitFor(async () => (n = await ej.connectedUsers()) === want, 20_000, `${want} users in ejabberd`).catch(() => {})
  return n
}

void t.test('the link cut: sessions end with remote-connection-failed; it comes back after a long outage', async t => {
  const alice = await login('alice', boshUrl)
  const bob = await login('bob', boshUrl)
  const carol = await login('carol', wsUrl)
  alice.client.sendMessage('bob@localhost', 'before the cut')
  await bob.client.waitForMessage('before the cut')
  alice.client.sendMessage('carol@localhost', 'before the cut, carol')
  await carol.client.waitForMessage('before the cut, carol')
  t.equal(await ej.connectedUsers(), 3, 'three users in ejabberd over the link (two BOSH, one WebSocket)')
  const reconnectsBefore = sum(await scrape(adminUrl), 'megaphone_link_reconnects_total')

  await relay.cut()
  const cutAt = Date.now()
  await waitFor(() => [alice, bob, carol].every(w => w.failed !== undefined), 20_000, 'every client to hear the failure')
    .catch((err: unknown) => { t.comment(`statuses: ${JSON.stringify([alice, bob, carol].map(w => w.statuses))}; link up: ${edge.linkUp()}`); throw err })
  t.same([alice.failed, bob.failed], ['remote-connection-failed', 'remote-connection-failed'], 'BOSH clients: terminate, condition remote-connection-failed (XEP-0124 §17.2)')
  t.equal(carol.failed, 'remote-connection-failed', 'WebSocket client: a remote-connection-failed stream error (RFC 6120 §4.9.3.15)')
  t.equal(await connectedUsersReach(0), 0, 'ejabberd ended every c2s session of the dead link')
  t.equal(edge.linkUp(), false, 'the edge knows its link is down')
  t.equal((await fetch(`${adminUrl}/readyz`)).status, 503, '/readyz is 503 while it is down')
  await t.rejects(XmppClient.login({ url: boshUrl, jid: 'dave@localhost/faults', password: 'demo', timeoutMs: 10_000 }), /CONNFAIL/, 'a new login fails while the link is down')

  // Hold the outage past the point where the old backoff (cap 30 s) waited tens of seconds.
  await new Promise(resolve => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - cutAt))))
  const attempts = sum(await scrape(adminUrl), 'megaphone_link_reconnects_total') - reconnectsBefore
  t.ok(attempts >= 3, `the edge kept trying during the outage: ${attempts} connect attempts in ${((Date.now() - cutAt) / 1000).toFixed(1)} s`)

  await relay.open()
  const back = Date.now()
  // The wait is the test's deadline, not a measurement: the capped backoff (2 s, full jitter)
  // brings the link back in about a second on average.
  await waitFor(() => edge.linkUp(), 15_000, 'the link back')
  t.comment(`link back ${((Date.now() - back) / 1000).toFixed(2)} s after ejabberd was reachable again, after a ${((back - cutAt) / 1000).toFixed(1)} s outage (reported, not asserted)`)
  t.pass('the link came back')

  const alice2 = await login('alice', boshUrl)
  const bob2 = await login('bob', wsUrl)
  t.teardown(async () => { await alice2.client.disconnect(); await bob2.client.disconnect() })
  alice2.client.sendMessage('bob@localhost', 'after the outage')
  await bob2.client.waitForMessage('after the outage')
  t.pass('new sessions are served, BOSH → WebSocket')
  t.equal(await ej.connectedUsers(), 2, 'ejabberd holds only the two new sessions: none of the dead link')
  t.equal(await ej.eval('length(megaphone_link:links()).'), '1', 'and one link process: the dead link\'s is gone')
  for (const w of [alice, bob, carol]) await w.client.disconnect()
})
