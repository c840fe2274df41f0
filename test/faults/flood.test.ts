/**
 * A client that floods stanzas (issue 16, "one session cannot hurt another"): one registered user
 * floods from 8 BOSH sessions, each sending bodies of 100 messages of 9.5 KiB as fast as XEP-0124
 * allows (two requests out, the next body as soon as one is answered; test/faults/flood-client.ts,
 * a process of its own), for FLOOD_SECONDS (10 by default). Meanwhile alice (Strophe.js over BOSH)
 * pings ejabberd (XEP-0199) every 200 ms and sends bob (Strophe.js over WebSocket) a numbered
 * message after each ping. A real edge process and a real ejabberd.
 *
 * What users see: the flooder's sessions are ended with policy-violation once what it sent waits
 * for the link beyond its budget (linkSessionQueueBytes), or once mod_megaphone holds more of its
 * input than max_session_buffer; it may log in again and is ended again. Alice and bob stay
 * logged in and every message arrives. Alice's round-trip p50/p99 during the flood is printed next
 * to its value without the flood (reported, never asserted: the machine is shared).
 *
 *   MEGAPHONE_FLOOD_SECONDS=20 MEGAPHONE_FLOOD_BASELINE_SECONDS=20 npx tap test/faults/flood.test.ts
 * runs the full-size measurement of docs/reliability.md.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { loadavg } from 'node:os'
import { startEjabberd } from '../fixtures/ejabberd.ts'
import { waitFor } from '../fixtures/edge.ts'
import { StropheClient, $iq } from '../fixtures/strophe-ws.ts'
import { startEdgeProcess, ROOT, scrape, sum } from '../ops/helpers.ts'

const FLOOD_SECONDS = Number(process.env.MEGAPHONE_FLOOD_SECONDS ?? 10)
const BASELINE_SECONDS = Number(process.env.MEGAPHONE_FLOOD_BASELINE_SECONDS ?? 5)
const PING_EVERY_MS = 200

const ej = await startEjabberd({ users: { alice: 'demo', bob: 'demo', flooder: 'demo', sink: 'demo' } })
t.teardown(() => ej.stop())

const { boshUrl, wsUrl, adminUrl } = await startEdgeProcess(t, ej)

interface Round { rtts: number[], sent: number }

function percentile (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil(p / 100 * s.length) - 1)]!
}

const fmt = (r: Round): string => `${r.rtts.length} pings answered, p50 ${percentile(r.rtts, 50).toFixed(1)} ms, p99 ${percentile(r.rtts, 99).toFixed(1)} ms, max ${Math.max(...r.rtts).toFixed(1)} ms`

void t.test('8 BOSH sessions of one user flood; the flooder is ended, alice and bob are not, nothing of theirs is lost', async t => {
  const alice = await StropheClient.login({ url: boshUrl, jid: 'alice@localhost/flood', password: 'demo' })
  const bob = await StropheClient.login({ url: wsUrl, jid: 'bob@localhost/flood', password: 'demo' })
  let next = 0

  /** Pings every PING_EVERY_MS (one at a time) and sends bob a numbered message after each. */
  async function measure (seconds: number): Promise<Round> {
    const r: Round = { rtts: [], sent: 0 }
    const end = performance.now() + seconds * 1000
    while (performance.now() < end) {
      const t0 = performance.now()
      await alice.iq($iq({ type: 'get', to: 'localhost' }).c('ping', { xmlns: 'urn:xmpp:ping' }), 30_000)
      r.rtts.push(performance.now() - t0)
      alice.sendMessage('bob@localhost', `n${next++}`)
      r.sent++
      const left = PING_EVERY_MS - (performance.now() - t0)
      if (left > 0) await new Promise(resolve => setTimeout(resolve, left))
    }
    return r
  }

  const quiet = await measure(BASELINE_SECONDS)
  const rssBefore = sum(await scrape(adminUrl), 'process_resident_memory_bytes')

  const child = spawn(process.execPath, ['--import', 'tsx', 'test/faults/flood-client.ts'], {
    cwd: ROOT,
    env: { ...process.env, FLOOD_URL: boshUrl, FLOOD_USER: 'flooder', FLOOD_PASSWORD: 'demo', FLOOD_SECONDS: String(FLOOD_SECONDS) },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let report = ''
  child.stdout.on('data', (d: Buffer) => { report += d.toString() })
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  // Sampled while the flood runs: what the edge holds for the link, and its memory.
  let queuePeak = 0
  let rssPeak = 0
  const sampler = setInterval(() => {
    scrape(adminUrl).then(s => {
      queuePeak = Math.max(queuePeak, sum(s, 'megaphone_link_write_queue_bytes'))
      rssPeak = Math.max(rssPeak, sum(s, 'process_resident_memory_bytes'))
    }).catch(() => {})
  }, 250)
  const load = loadavg()[0]!
  const flooded = await measure(FLOOD_SECONDS)
  const code = await exited
  clearInterval(sampler)
  t.equal(code, 0, 'the flood client ran to its end')
  const flood = JSON.parse(report) as { logins: number, loginFailures: number, bodies: number, messages: number, bytes: number, refusedBodies: number, ended: Record<string, number>, loginErrors: string[] }

  const sentToBob = next
  await waitFor(() => bob.received.filter(el => el.tagName === 'message').length >= sentToBob, 30_000, 'bob to have every message').catch(() => {})
  const got = new Set(bob.received.filter(el => el.tagName === 'message').map(el => el.getElementsByTagName('body')[0]?.textContent ?? ''))
  const lost = Array.from({ length: sentToBob }, (_, i) => `n${i}`).filter(b => !got.has(b))
  t.same(lost, [], `bob received all ${sentToBob} of alice's messages (0 lost)`)
  t.ok(alice.conn.connected && bob.conn.connected, 'alice (BOSH) and bob (WebSocket) are still connected')
  const users = await ej.ctl('connected_users')
  t.match(users, /alice@localhost\/flood/, 'alice is online in ejabberd')
  t.match(users, /bob@localhost\/flood/, 'bob is online in ejabberd')

  const s = await scrape(adminUrl)
  const endedBy = (condition: string): number => sum(s, 'megaphone_sessions_ended_total', `condition="${condition}"`)
  const conditions = Object.keys(flood.ended)
  t.ok(flood.logins >= 1, `the flooder logged in ${flood.logins} times`)
  // A flooder session has two requests out (hold + 1): the one answered at its end hears
  // policy-violation, and one that crossed that answer on the wire finds the sid gone
  // (XEP-0124 §17.2 item-not-found). Whichever reaches the client first is what it records.
  t.ok(conditions.every(c => c === 'policy-violation' || c === 'item-not-found'), `every flooder session that was ended heard policy-violation, or item-not-found on a request that crossed it (${JSON.stringify(flood.ended)})`)
  t.ok((flood.ended['policy-violation'] ?? 0) > 0, 'the flooder was ended with policy-violation')
  t.equal(endedBy('link-queue-full'), 0, 'no session was ended because the shared link queue was full')
  t.equal(endedBy('remote-connection-failed'), 0, 'nor with remote-connection-failed')

  t.comment(`machine: ${loadavg().map(x => x.toFixed(2)).join(' ')} load (1/5/15 min; ${load.toFixed(2)} when the flood began), 2 cores shared`)
  t.comment(`flood (${FLOOD_SECONDS} s): ${flood.logins} logins, ${flood.bodies} bodies answered (${flood.messages} messages, ${(flood.bytes / 1e6).toFixed(0)} MB), ${flood.refusedBodies} bodies refused, sessions ended ${JSON.stringify(flood.ended)}, login failures ${flood.loginFailures} ${flood.loginErrors.join('; ')}`)
  t.comment(`edge: sessions ended session-budget ${endedBy('session-budget')}, policy-violation ${endedBy('policy-violation')}, remote-stream-error ${endedBy('remote-stream-error')}; link queue peak ${(queuePeak / 1e6).toFixed(1)} MB; RSS ${(rssBefore / 1e6).toFixed(0)} MB before, peak ${(rssPeak / 1e6).toFixed(0)} MB`)
  t.comment(`alice's round trip without the flood (${BASELINE_SECONDS} s): ${fmt(quiet)}`)
  t.comment(`alice's round trip during the flood (${FLOOD_SECONDS} s): ${fmt(flooded)}`)
  await alice.disconnect()
  await bob.disconnect()
})
