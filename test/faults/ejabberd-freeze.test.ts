/**
 * ejabberd frozen (SIGSTOP) past the edge's heartbeat timeout, then resumed (SIGCONT), with real
 * Strophe.js clients over BOSH and WebSocket through the edge (issue 16, "fault tests").
 *
 * What users see: while ejabberd is frozen nothing answers; once the heartbeat timeout passes the
 * edge declares the link lost and every session hears remote-connection-failed, as for a cut link.
 * After SIGCONT, ejabberd finds the old link closed and ends its sessions (no ghosts), and the
 * edge's new link serves logins again.
 *
 * The heartbeat here is 1 s with a 3 s timeout (defaults 10 s and 30 s), so the test stays short.
 */
import t from 'tap'
import { startEjabberd } from '../fixtures/ejabberd.ts'
import { edgeEnv, waitFor } from '../fixtures/edge.ts'
import { XmppClient } from '../fixtures/strophe.ts'
import { loadConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/log.ts'
import { runEdge } from '../../src/run-edge.ts'

const HEARTBEAT_TIMEOUT_S = 3

const ej = await startEjabberd({ users: { alice: 'demo', bob: 'demo', carol: 'demo' } })
t.teardown(() => ej.stop())
// Whatever happens below, never leave the node stopped: its stop would hang.
const resume = (): void => { try { process.kill(ej.pid, 'SIGCONT') } catch { /* gone */ } }
t.teardown(resume)

const config = loadConfig([], edgeEnv(ej, {
  MEGAPHONE_HEARTBEAT_INTERVAL: '1',
  MEGAPHONE_HEARTBEAT_TIMEOUT: String(HEARTBEAT_TIMEOUT_S),
  MEGAPHONE_LOG_LEVEL: process.env.MEGAPHONE_TEST_LOG_LEVEL ?? 'silent'
}))
const edge = await runEdge(config, createLogger(config.logLevel))
t.teardown(() => edge.stop())
await waitFor(() => edge.linkUp(), 10_000, 'link up')
const boshUrl = `http://127.0.0.1:${edge.port}${config.boshPath}`
const wsUrl = `ws://127.0.0.1:${edge.port}${config.websocketPath}`

interface Watched { client: XmppClient, failed: string | undefined }

async function login (user: string, url: string): Promise<Watched> {
  const client = await XmppClient.login({ url, jid: `${user}@localhost/freeze`, password: 'demo' })
  const w: Watched = { client, failed: undefined }
  client.watchStatus((status, condition) => {
    if ((status === 'CONNFAIL' || status === 'ERROR') && w.failed === undefined) w.failed = condition
  })
  return w
}

void t.test('ejabberd frozen past the heartbeat timeout, then resumed: the edge notices, no ghost sessions', async t => {
  const alice = await login('alice', boshUrl)
  const bob = await login('bob', wsUrl)
  alice.client.sendMessage('bob@localhost', 'before the freeze')
  await bob.client.waitForMessage('before the freeze')
  t.equal(await ej.connectedUsers(), 2, 'two users in ejabberd')

  process.kill(ej.pid, 'SIGSTOP')
  const frozenAt = Date.now()
  // The edge's bound: heartbeatTimeout of silence, checked at each heartbeat. The wait below is
  // the test's deadline, well above it.
  await waitFor(() => !edge.linkUp(), 4 * HEARTBEAT_TIMEOUT_S * 1000, 'the edge to declare the link lost')
  t.comment(`link declared lost ${((Date.now() - frozenAt) / 1000).toFixed(1)} s after SIGSTOP (heartbeat timeout ${HEARTBEAT_TIMEOUT_S} s; reported, not asserted)`)
  await waitFor(() => alice.failed !== undefined && bob.failed !== undefined, 10_000, 'both clients to hear the failure')
  t.same([alice.failed, bob.failed], ['remote-connection-failed', 'remote-connection-failed'], 'BOSH and WebSocket clients hear remote-connection-failed')

  resume()
  await waitFor(() => edge.linkUp(), 30_000, 'the link back after SIGCONT')
  t.pass('the edge\'s new link is up once ejabberd runs again')
  await waitFor(async () => await ej.connectedUsers() === 0, 20_000, 'ejabberd to end the old link\'s sessions').catch(() => {})
  t.equal(await ej.connectedUsers(), 0, 'no ghost session: ejabberd ended every session of the frozen link')
  t.equal(await ej.eval('length(megaphone_link:links()).'), '1', 'one link process: the old one is gone')

  const carol = await login('carol', boshUrl)
  const alice2 = await login('alice', wsUrl)
  t.teardown(async () => { await carol.client.disconnect(); await alice2.client.disconnect() })
  carol.client.sendMessage('alice@localhost', 'after the freeze')
  await alice2.client.waitForMessage('after the freeze')
  t.pass('new sessions are served')
  t.equal(await ej.connectedUsers(), 2, 'ejabberd holds exactly the two new sessions')
  for (const w of [alice, bob]) await w.client.disconnect()
})
