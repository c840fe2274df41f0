/**
 * Two edges of one deployment (issue 14, `--edge-id`, `--edge-peers`) in front of one ejabberd:
 * real Strophe.js clients over BOSH. A session lives in the edge that created it and its sid ends
 * with that edge's id; a request that reaches the other edge is forwarded to the owner and
 * answered from there, held long-polls included, so any balancer works.
 */
import t from 'tap'
import { startEjabberd } from '../fixtures/ejabberd.ts'
import { edgeEnv, waitFor } from '../fixtures/edge.ts'
import { XmppClient } from '../fixtures/strophe.ts'
import { freePorts } from '../../bench/lib/ports.ts'
import { loadConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/log.ts'
import { runEdge, type RunningEdge } from '../../src/run-edge.ts'

const ej = await startEjabberd({ users: { alice: 'demo', bob: 'demo' } })
t.teardown(() => ej.stop())

const ports = await freePorts(2)
const urls = ports.map(p => `http://127.0.0.1:${p}/http-bind`)
const peers = `a=${urls[0]},b=${urls[1]}`
const edges: RunningEdge[] = []
for (const [i, id] of ['a', 'b'].entries()) {
  const config = loadConfig([], edgeEnv(ej, {
    MEGAPHONE_LOG_LEVEL: process.env.MEGAPHONE_TEST_LOG_LEVEL ?? 'silent',
    MEGAPHONE_PORT: String(ports[i]),
    MEGAPHONE_EDGE_ID: id,
    MEGAPHONE_EDGE_PEERS: peers
  }))
  const edge = await runEdge(config, createLogger(config.logLevel))
  t.teardown(() => edge.stop())
  await waitFor(() => edge.linkUp(), 10_000, `edge ${id} link up`)
  edges.push(edge)
}
const [urlA, urlB] = urls as [string, string]

void t.test('a session created on edge a is served through edge b', async t => {
  const alice = await XmppClient.login({ url: urlA, jid: 'alice@localhost/fwd', password: 'demo' })
  const bob = await XmppClient.login({ url: urlB, jid: 'bob@localhost/fwd', password: 'demo' })
  const sid = (alice.conn as unknown as { _proto: { sid: string } })._proto.sid
  t.match(sid, /^[0-9a-f]{32}\.a$/, 'the sid names the edge that owns it')

  // From now on every request of alice's goes to edge b, which does not hold her session.
  ;(alice.conn as unknown as { service: string }).service = urlB
  bob.sendMessage('alice@localhost', 'held on a, asked through b')
  await alice.waitForMessage('held on a, asked through b')
  alice.sendMessage('bob@localhost', 'sent through b')
  await bob.waitForMessage('sent through b')
  for (let i = 0; i < 5; i++) {
    bob.sendMessage('alice@localhost', `burst ${i}`)
    await alice.waitForMessage(`burst ${i}`)
  }
  t.pass('messages both ways while every request of alice crosses from b to a')
  const metrics = await (await fetch(`http://127.0.0.1:${edges[1]?.adminPort ?? 0}/metrics`)).text()
  const forwarded = Number(/^megaphone_bosh_forwarded_total (\d+)/m.exec(metrics)?.[1] ?? 0)
  t.ok(forwarded > 0, `edge b forwarded alice's requests to a (${forwarded} of them)`)
  await alice.disconnect()
  await bob.disconnect()
})

void t.test('a sid naming an edge that does not exist, or a made-up one, is item-not-found', async t => {
  for (const sid of ['0123456789abcdef0123456789abcdef.zz', '0123456789abcdef0123456789abcdef.a']) {
    const res = await fetch(urlB, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: `<body xmlns='http://jabber.org/protocol/httpbind' sid='${sid}' rid='5'/>` })
    const text = await res.text()
    t.match(text, /condition=['"]item-not-found['"]/, `${sid.slice(33)}: item-not-found`)
  }
})
