/**
 * Metrics and readiness against the scripted fake backend (test/fixtures/fake-backend.ts): a link
 * that cannot authenticate, and refusals the manager counts by outcome.
 */
import t from 'tap'
import { FakeBackend } from '../fixtures/fake-backend.ts'
import { waitFor } from '../fixtures/edge.ts'
import { loadConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/log.ts'
import { runEdge, type RunningEdge } from '../../src/run-edge.ts'
import { RawBosh, post, scrape, sum } from './helpers.ts'

const SECRET = 'the-fake-backends-secret'

async function edgeFor (backend: FakeBackend, env: Record<string, string> = {}): Promise<{ edge: RunningEdge, boshUrl: string, adminUrl: string }> {
  const config = loadConfig([], { MEGAPHONE_PORT: '0', MEGAPHONE_LINK_PORT: String(backend.port), MEGAPHONE_LINK_SECRET: SECRET, MEGAPHONE_LOG_LEVEL: 'silent', ...env })
  const edge = await runEdge(config, createLogger('silent'))
  return { edge, boshUrl: `http://127.0.0.1:${edge.port}${config.boshPath}`, adminUrl: `http://127.0.0.1:${edge.adminPort}` }
}

const CREATE = "<body rid='1000' to='localhost' wait='30' hold='1' ver='1.6' xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh'/>"

void t.test('a link that cannot authenticate: link down, not ready, sessions refused', async t => {
  const backend = await FakeBackend.start({ secret: 'another-secret-entirely' })
  t.teardown(() => backend.close())
  const { edge, boshUrl, adminUrl } = await edgeFor(backend)
  t.teardown(() => edge.stop())
  await waitFor(async () => sum(await scrape(adminUrl), 'megaphone_link_handshake_failures_total') >= 1, 10_000, 'a failed handshake')
  const m = await scrape(adminUrl)
  t.equal(sum(m, 'megaphone_link_up'), 0, 'megaphone_link_up 0')
  t.equal(sum(m, 'megaphone_link_handshakes_total'), 0, 'no handshake completed')
  t.notOk([...m.keys()].some(k => k.startsWith('megaphone_backend_sessions{')), 'no backend count while the link is down')
  const ready = await fetch(`${adminUrl}/readyz`)
  t.equal(ready.status, 503, '/readyz 503')
  t.equal(await ready.text(), 'link to ejabberd down\n')
  t.equal((await fetch(`${adminUrl}/healthz`)).status, 200, '/healthz 200: alive all the same')
  t.match((await post(boshUrl, CREATE)).text, /condition='remote-connection-failed'/, 'a new session hears remote-connection-failed')
  t.equal(sum(await scrape(adminUrl), 'megaphone_bosh_requests_total', 'outcome="remote-connection-failed"'), 1, 'counted by outcome')
})

void t.test('the backend\'s counts over STATS_REPLY; a full table refuses, counted', async t => {
  const backend = await FakeBackend.start({ secret: SECRET })
  t.teardown(() => backend.close())
  const { edge, boshUrl, adminUrl } = await edgeFor(backend, { MEGAPHONE_MAX_SESSIONS: '2' })
  t.teardown(() => edge.stop())
  await waitFor(() => edge.linkUp(), 10_000, 'link up')
  t.equal((await fetch(`${adminUrl}/readyz`)).status, 200, '/readyz 200')
  const m = await scrape(adminUrl)
  t.equal(sum(m, 'megaphone_link_up'), 1)
  t.equal(sum(m, 'megaphone_link_handshakes_total'), 1)
  // The fake backend answers every STATS_REQUEST with 2 on the link, 1000 on the node.
  t.equal(sum(m, 'megaphone_backend_sessions', 'scope="link"'), 2, 'scope="link" from STATS_REPLY')
  t.equal(sum(m, 'megaphone_backend_sessions', 'scope="node"'), 1000, 'scope="node" from STATS_REPLY')
  // A scrape reads the frame counters while its own STATS_REQUEST is in flight: the next one
  // shows it.
  t.equal(sum(await scrape(adminUrl), 'megaphone_link_frames_total', 'direction="out"', 'type="STATS_REQUEST"'), 1, 'the first scrape\'s STATS_REQUEST')
  t.equal(sum(m, 'megaphone_session_table_capacity'), 2, 'capacity is maxSessions')

  await RawBosh.create(boshUrl)
  await RawBosh.create(boshUrl)
  t.match((await post(boshUrl, CREATE)).text, /session table full/, 'the third is refused')
  const full = await scrape(adminUrl)
  t.equal(sum(full, 'megaphone_bosh_requests_total', 'outcome="session-table-full"'), 1, 'counted by outcome')
  t.equal(sum(full, 'megaphone_session_table_sessions'), 2)
  t.equal(sum(full, 'megaphone_session_table_load_factor'), 2 / 4, 'two of four slots')
})
