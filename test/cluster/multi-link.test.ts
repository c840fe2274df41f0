/**
 * One edge linked to both nodes of a two-node ejabberd cluster (issue 14, `--links`): real
 * Strophe.js clients over BOSH and WebSocket → the edge (in-process) → mod_megaphone on each node.
 *
 * What users see: sessions spread over the two nodes; a message crosses from a user on one node
 * to a user on the other (ejabberd's cluster routes it); when one node dies (SIGKILL) only the
 * sessions on it end (remote-connection-failed), the others go on talking, /readyz stays 200 and
 * names the link that is down, and a user who logs in again lands on the surviving node.
 */
import t from 'tap'
import { startEjabberdCluster, type Ejabberd } from '../fixtures/ejabberd.ts'
import { edgeEnv, waitFor } from '../fixtures/edge.ts'
import { XmppClient } from '../fixtures/strophe.ts'
import { loadConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/log.ts'
import { runEdge } from '../../src/run-edge.ts'

const users = { alice: 'demo', bob: 'demo', carol: 'demo', dave: 'demo' }
const nodes = await startEjabberdCluster(2, { users })
t.teardown(async () => { await Promise.all(nodes.map(async n => { await n.stop() })) })
const [a, b] = nodes as [Ejabberd, Ejabberd]

const config = loadConfig([], edgeEnv(a, {
  MEGAPHONE_LOG_LEVEL: process.env.MEGAPHONE_TEST_LOG_LEVEL ?? 'silent',
  MEGAPHONE_LINKS: `127.0.0.1:${a.linkPort},127.0.0.1:${b.linkPort}`,
  MEGAPHONE_LINK_SECRETS: `${a.linkSecret},${b.linkSecret}`
}))
const edge = await runEdge(config, createLogger(config.logLevel))
t.teardown(() => edge.stop())
const readyz = async (): Promise<{ status: number, text: string }> => {
  const res = await fetch(`http://127.0.0.1:${edge.adminPort}/readyz`)
  return { status: res.status, text: await res.text() }
}
await waitFor(async () => (await readyz()).text.split('\n').filter(l => l.endsWith(' up')).length === 2, 15_000, 'both links up')
const boshUrl = `http://127.0.0.1:${edge.port}${config.boshPath}`
const wsUrl = `ws://127.0.0.1:${edge.port}${config.websocketPath}`

interface Watched { client: XmppClient, failed: string | undefined }
async function login (user: string, url: string): Promise<Watched> {
  const client = await XmppClient.login({ url, jid: `${user}@localhost/cluster`, password: 'demo' })
  const w: Watched = { client, failed: undefined }
  client.watchStatus((status, condition) => {
    if ((status === 'CONNFAIL' || status === 'ERROR') && w.failed === undefined) w.failed = condition
  })
  return w
}

/** The users whose sessions live on `node` (its own part of ejabberd_sm), sorted. */
async function usersOn (node: Ejabberd): Promise<string[]> {
  const out = await node.eval('lists:sort([binary_to_list(element(1, element(3, S))) || S <- ejabberd_sm:dirty_get_my_sessions_list()]).')
  return [...out.matchAll(/"([^"]+)"/g)].map(m => m[1] ?? '')
}

void t.test('sessions spread over both nodes; a node killed ends only its own', async t => {
  const alice = await login('alice', boshUrl)
  const bob = await login('bob', wsUrl)
  const carol = await login('carol', boshUrl)
  const dave = await login('dave', wsUrl)
  // The link with the fewest sessions takes the next one: a, b, a, b.
  t.same(await usersOn(a), ['alice', 'carol'], 'node 1 holds alice and carol')
  t.same(await usersOn(b), ['bob', 'dave'], 'node 2 holds bob and dave')

  alice.client.sendMessage('bob@localhost', 'across the cluster')
  await bob.client.waitForMessage('across the cluster')
  dave.client.sendMessage('carol@localhost', 'and back')
  await carol.client.waitForMessage('and back')
  t.pass('messages cross between users on different nodes')

  process.kill(b.pid, 'SIGKILL')
  await waitFor(() => bob.failed !== undefined && dave.failed !== undefined, 15_000, 'the sessions on node 2 to end')
  t.same([bob.failed, dave.failed], ['remote-connection-failed', 'remote-connection-failed'], 'node 2\'s users hear remote-connection-failed')
  t.equal(alice.failed, undefined, 'alice (node 1) is still connected')
  t.equal(carol.failed, undefined, 'carol (node 1) is still connected')
  const ready = await readyz()
  t.equal(ready.status, 200, '/readyz stays 200 while one link is up')
  t.match(ready.text, `link 127.0.0.1:${b.linkPort} down`, '/readyz names the link that is down')

  alice.client.sendMessage('carol@localhost', 'still here')
  await carol.client.waitForMessage('still here')
  t.pass('users on the surviving node keep talking')

  const bobAgain = await login('bob', boshUrl)
  t.same(await usersOn(a), ['alice', 'bob', 'carol'], 'bob logs in again, on node 1')
  carol.client.sendMessage('bob@localhost', 'welcome back')
  await bobAgain.client.waitForMessage('welcome back')
  for (const w of [alice, carol, bobAgain]) await w.client.disconnect()
})
