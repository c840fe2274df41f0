/**
 * Two edge processes × a two-node ejabberd cluster behind HAProxy (issue 14, docs/scale-out.md),
 * with real clients (Strophe.js and StanzaJS over BOSH):
 *  - round-robin balancing (no routing on the sid): requests land on the wrong edge half the
 *    time and are forwarded to the owner; logins and chat work;
 *  - one ejabberd node killed: only the sessions on it end, new logins succeed on the other
 *    node, and messages between users on the surviving node all arrive;
 *  - one edge killed: only its sessions end, and its users log in again through HAProxy.
 */
import t from 'tap'
import { startEjabberdCluster, type Ejabberd } from '../fixtures/ejabberd.ts'
import { waitFor } from '../fixtures/edge.ts'
import { startHaproxy } from '../fixtures/haproxy.ts'
import { StanzaClient } from '../fixtures/stanza.ts'
import { XmppClient } from '../fixtures/strophe.ts'
import { EdgeProcess } from '../ops/helpers.ts'
import { freePorts } from '../../bench/lib/ports.ts'

const users = Object.fromEntries(['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hal'].map(u => [u, 'demo']))
const nodes = await startEjabberdCluster(2, { users })
t.teardown(async () => { await Promise.all(nodes.map(async n => { await n.stop() })) })
const [a, b] = nodes as [Ejabberd, Ejabberd]

const [p1, admin1, p2, admin2, hp, rr] = await freePorts(6) as [number, number, number, number, number, number]
const peers = `e1=http://127.0.0.1:${p1}/http-bind,e2=http://127.0.0.1:${p2}/http-bind`
const edgeProcess = (id: string, port: number, adminPort: number): EdgeProcess => {
  const edge = new EdgeProcess({
    MEGAPHONE_PORT: String(port),
    MEGAPHONE_ADMIN_PORT: String(adminPort),
    MEGAPHONE_LOG_LEVEL: 'info',
    MEGAPHONE_LINK_SECRET: a.linkSecret,
    MEGAPHONE_LINKS: `127.0.0.1:${a.linkPort},127.0.0.1:${b.linkPort}`,
    MEGAPHONE_LINK_SECRETS: `${a.linkSecret},${b.linkSecret}`,
    MEGAPHONE_EDGE_ID: id,
    MEGAPHONE_EDGE_PEERS: peers,
    // HAProxy and the other edge say who the client is (X-Forwarded-For).
    MEGAPHONE_TRUST_PROXY: '127.0.0.1/32'
  })
  t.teardown(() => { if (edge.pid !== 0) try { process.kill(edge.pid, 'SIGKILL') } catch { /* gone */ } })
  return edge
}
const e1 = edgeProcess('e1', p1, admin1)
const e2 = edgeProcess('e2', p2, admin2)
const readyz = async (adminPort: number): Promise<string> => await (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).text().catch(() => '')
for (const [edge, adminPort] of [[e1, admin1], [e2, admin2]] as const) {
  await edge.line('BOSH listening')
  await waitFor(async () => (await readyz(adminPort)).split('\n').filter(l => l.endsWith(' up')).length === 2, 20_000, 'both links of an edge up')
}
const haproxy = await startHaproxy(hp, rr, [{ id: 'e1', port: p1, adminPort: admin1 }, { id: 'e2', port: p2, adminPort: admin2 }])
t.teardown(() => haproxy.stop())

const forwarded = async (adminPort: number): Promise<number> => {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text()
  return Number(/^megaphone_bosh_forwarded_total (\d+)/m.exec(text)?.[1] ?? 0)
}

interface Watched { client: XmppClient, failed: string | undefined, user: string }
async function login (user: string, url: string): Promise<Watched> {
  const client = await XmppClient.login({ url, jid: `${user}@localhost/ha`, password: 'demo' })
  const w: Watched = { client, failed: undefined, user }
  client.watchStatus((status, condition) => {
    if ((status === 'CONNFAIL' || status === 'ERROR' || status === 'CONNTIMEOUT' || status === 'DISCONNECTED') && w.failed === undefined) w.failed = condition === '' ? status : condition
  })
  return w
}
const sidOf = (w: Watched): string => (w.client.conn as unknown as { _proto: { sid: string } })._proto.sid

async function usersOn (node: Ejabberd): Promise<string[]> {
  const out = await node.eval('lists:sort([binary_to_list(element(1, element(3, S))) || S <- ejabberd_sm:dirty_get_my_sessions_list()]).')
  return [...out.matchAll(/"([^"]+)"/g)].map(m => m[1] ?? '')
}

void t.test('round-robin balancing: requests on the wrong edge are forwarded; Strophe.js and StanzaJS chat', async t => {
  const before = await forwarded(admin1) + await forwarded(admin2)
  const alice = await login('alice', haproxy.roundRobinBoshUrl)
  const bob = await StanzaClient.login({ transport: 'bosh', url: haproxy.roundRobinBoshUrl, jid: 'bob@localhost', password: 'demo' })
  for (let i = 0; i < 4; i++) {
    alice.client.sendMessage('bob@localhost', `rr to bob ${i}`)
    await bob.waitForMessage(`rr to bob ${i}`)
    bob.sendMessage('alice@localhost', `rr to alice ${i}`)
    await alice.client.waitForMessage(`rr to alice ${i}`)
  }
  const after = await forwarded(admin1) + await forwarded(admin2)
  t.ok(after > before, `requests that reached the other edge were forwarded to the owner (${after - before})`)
  await alice.client.disconnect()
  await bob.disconnect()
})

void t.test('one ejabberd node killed: only its sessions end; new logins and the survivors\' messages go on', async t => {
  const clients = [
    await login('carol', haproxy.boshUrl), await login('dave', haproxy.boshUrl),
    await login('erin', haproxy.boshUrl), await login('frank', haproxy.boshUrl)
  ]
  const onB = await usersOn(b)
  const onA = await usersOn(a)
  t.ok(onA.length > 0 && onB.length > 0, `sessions on both nodes (node 1: ${onA.join(' ')}; node 2: ${onB.join(' ')})`)

  process.kill(b.pid, 'SIGKILL')
  const dead = clients.filter(c => onB.includes(c.user))
  const alive = clients.filter(c => onA.includes(c.user))
  await waitFor(() => dead.every(c => c.failed !== undefined), 20_000, 'the sessions on node 2 to end')
  t.ok(dead.every(c => c.failed === 'remote-connection-failed'), `node 2's users heard remote-connection-failed (${dead.map(c => `${c.user}: ${c.failed}`).join(', ')})`)
  t.ok(alive.every(c => c.failed === undefined), 'node 1\'s users are still connected')

  // A new login lands on the surviving node, and talks with everyone there.
  const gina = await login('gina', haproxy.boshUrl)
  t.ok((await usersOn(a)).includes('gina'), 'a new login succeeds, on node 1')
  let sent = 0
  for (const c of alive) {
    for (let i = 0; i < 5; i++) {
      c.client.sendMessage('gina@localhost', `${c.user} ${i}`)
      gina.client.sendMessage(`${c.user}@localhost`, `to ${c.user} ${i}`)
      sent += 2
    }
  }
  for (const c of alive) {
    for (let i = 0; i < 5; i++) {
      await gina.client.waitForMessage(`${c.user} ${i}`)
      await c.client.waitForMessage(`to ${c.user} ${i}`)
    }
  }
  t.pass(`${sent} of ${sent} messages between users on the surviving node arrived`)
  for (const c of [...alive, gina]) await c.client.disconnect()
})

void t.test('one edge killed: only its sessions end; its users log in again through HAProxy', async t => {
  const clients = [
    await login('carol', haproxy.boshUrl), await login('dave', haproxy.boshUrl),
    await login('erin', haproxy.boshUrl), await login('hal', haproxy.boshUrl)
  ]
  const onE2 = clients.filter(c => sidOf(c).endsWith('.e2'))
  const onE1 = clients.filter(c => sidOf(c).endsWith('.e1'))
  t.ok(onE1.length > 0 && onE2.length > 0, `sessions on both edges (e1: ${onE1.map(c => c.user).join(' ')}; e2: ${onE2.map(c => c.user).join(' ')})`)

  // Strophe.js retries a failed request with a cubic backoff (1, 8, 27 s...) and gives up after
  // five errors, 40 to 100 s here: one retry keeps the test short, the outcome is the same.
  for (const c of onE2) (c.client.conn as unknown as { maxRetries: number }).maxRetries = 1
  e2.kill('SIGKILL')
  await e2.exited
  // HAProxy answers 503 for them (their edge is gone) and Strophe.js gives up.
  await waitFor(() => onE2.every(c => c.failed !== undefined), 120_000, 'the sessions of the dead edge to end')
  t.pass(`e2's users saw their sessions end (${onE2.map(c => `${c.user}: ${c.failed}`).join(', ')})`)
  t.ok(onE1.every(c => c.failed === undefined), 'e1\'s users are still connected')
  onE1[0]?.client.sendMessage(`${onE1[onE1.length - 1]?.user ?? ''}@localhost`, 'e1 still serves')
  await onE1[onE1.length - 1]?.client.waitForMessage('e1 still serves')

  for (const c of onE2) {
    const again = await login(c.user, haproxy.boshUrl)
    t.match(sidOf(again), /\.e1$/, `${c.user} logs in again through HAProxy, on e1`)
    onE1[0]?.client.sendMessage(`${c.user}@localhost`, `welcome back ${c.user}`)
    await again.client.waitForMessage(`welcome back ${c.user}`)
    await again.client.disconnect()
  }
  for (const c of onE1) await c.client.disconnect()
})
