/**
 * The `megaphone` command end to end: the real launcher as a child process → the edge
 * (in-process) → one link → mod_megaphone in a real throwaway ejabberd, then Prosody
 * (fixtures/server.ts). No part is mocked.
 * Users are cli-* so that nothing here meets the other integration tests' accounts.
 */
import t, { type Test } from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEdge, type TestEdge } from '../fixtures/edge.ts'
import { startServer, ServerSuite, differences, type XmppServer } from '../fixtures/server.ts'
import { megaphone } from './run-cli.ts'

const suite = new ServerSuite()
let ej: XmppServer
let edge: TestEdge
let d: string
let env: { MEGAPHONE_URL: string, MEGAPHONE_PASSWORD: string }
suite.run(t, async (kind, t) => {
  ej = await startServer(kind, { users: { 'cli-alice': 'demo', 'cli-bob': 'demo', 'cli-carol': 'demo', 'cli-dave': 'demo' } })
  t.teardown(() => ej.stop())
  edge = await startEdge(ej)
  t.teardown(() => edge.stop())
  d = ej.domain
  env = { MEGAPHONE_URL: edge.boshUrl, MEGAPHONE_PASSWORD: 'demo' }
})

/**
 * `unread` needs XEP-0013, which Prosody 0.12 lacks (differences.flexibleOffline). Against such
 * a server, this checks that `unread` says so and exits 1 instead of showing anything, and
 * returns true: the caller's XEP-0013 checks do not apply.
 */
async function lacksFlexibleOffline (t: Test, jid: string): Promise<boolean> {
  if (differences[ej.kind].flexibleOffline) return false
  t.comment(`${ej.kind} does not do XEP-0013 (Flexible Offline Message Retrieval): unread must say so`)
  const r = await megaphone(['unread', '-c', '-j', jid], { env })
  t.equal(r.code, 1, `unread exits 1 on ${ej.kind}`)
  // Prosody answers the XEP-0013 §2.2 disco#info on the offline node with item-not-found.
  t.match(r.stderr, /XEP-0013|counting offline messages: item-not-found/, 'and says the offline node is not there')
  return true
}
const MESSAGE_LINE = (from: string, body: string): RegExp =>
  new RegExp(`^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z ${from.replace(/[.]/g, '\\.')}: ${body}$`)

suite.test('alice sends to offline bob; unread -c says 1, unread shows it, a second run shows none', async t => {
  const sent = await megaphone(['send', '-j', `cli-alice@${d}`, `cli-bob@${d}`, 'hello', 'there'], { env })
  t.equal(sent.code, 0, `send exits 0 ${sent.stderr}`)
  t.equal(sent.stdout, '')
  // send returned only after a round trip, so the message is stored by now
  if (await lacksFlexibleOffline(t, `cli-bob@${d}`)) return
  const count = await megaphone(['unread', '-c', '-j', `cli-bob@${d}`], { env })
  t.equal(count.code, 0)
  t.equal(count.stdout, '1\n', '-c prints the count only')
  const first = await megaphone(['unread', '-j', `cli-bob@${d}`], { env })
  t.equal(first.code, 0, `unread exits 0 ${first.stderr}`)
  const lines = first.stdout.split('\n').filter(l => l !== '')
  t.equal(lines.length, 1)
  t.match(lines[0], MESSAGE_LINE(`cli-alice@${d}`, 'hello there'), 'time from the delay stamp, sender, body')
  const second = await megaphone(['unread', '-j', `cli-bob@${d}`], { env })
  t.equal(second.code, 0)
  t.equal(second.stdout, 'no unread messages\n', 'marked read: a second run shows none')
  const zero = await megaphone(['unread', '-c', '-j', `cli-bob@${d}`], { env })
  t.equal(zero.stdout, '0\n')
})

suite.test('oldest first, -k keeps them, a message from standard input, -P passfile', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'megaphone-cli-e2e-'))
  const passfile = join(dir, 'alice')
  writeFileSync(passfile, 'demo\n', { mode: 0o600 })
  const noPassword = { MEGAPHONE_URL: edge.boshUrl }
  t.equal((await megaphone(['send', '-P', passfile, '-j', `cli-alice@${d}`, `cli-carol@${d}`, 'first'], { env: noPassword })).code, 0)
  const fromStdin = await megaphone(['send', `-P${passfile}`, `-jcli-alice@${d}/shell`, `cli-carol@${d}`, '-'], { env: noPassword, stdin: 'second\nwith <two> & lines\n' })
  t.equal(fromStdin.code, 0, `send - exits 0 ${fromStdin.stderr}`)
  if (await lacksFlexibleOffline(t, `cli-carol@${d}`)) return
  const kept = await megaphone(['unread', '-k', '-j', `cli-carol@${d}`], { env })
  t.equal(kept.code, 0)
  const lines = kept.stdout.split('\n')
  t.match(lines[0], MESSAGE_LINE(`cli-alice@${d}`, 'first'))
  t.match(lines[1], MESSAGE_LINE(`cli-alice@${d}`, 'second'), 'the sender shown without the resource')
  t.equal(lines[2], '    with <two> & lines', 'a second line of the body, indented')
  t.equal(lines.length, 4)
  const again = await megaphone(['unread', '-kc', '-j', `cli-carol@${d}`], { env })
  t.equal(again.stdout, '2\n', '-k kept them')
  const shown = await megaphone(['unread', '-j', `cli-carol@${d}`], { env })
  t.equal(shown.stdout, kept.stdout, 'the same again')
  t.equal((await megaphone(['unread', '-c', '-j', `cli-carol@${d}`], { env })).stdout, '0\n')
})

suite.test('a thousand unread messages: the XEP-0013 list passes 64 KiB and still arrives whole', async t => {
  if (await lacksFlexibleOffline(t, `cli-dave@${d}`)) return
  const ejabberd = ej.ejabberd
  if (ejabberd === undefined) throw new Error('XEP-0013 without the ejabberd fixture: store the messages another way')
  const N = 1000
  // Stored straight through ejabberd's router: a thousand `megaphone send` runs would take minutes.
  await ejabberd.eval(`[ejabberd_router:route(xmpp:decode(fxml_stream:parse_element(<<"<message xmlns='jabber:client' type='chat' from='cli-alice@${d}/bulk' to='cli-dave@${d}'><body>bulk ", (integer_to_binary(I))/binary, "</body></message>">>))) || I <- lists:seq(1, ${N})], ok.`)
  let stored = 0
  for (let i = 0; i < 100 && stored < N; i++) {
    stored = Number(await ejabberd.eval(`mod_offline:count_offline_messages(<<"cli-dave">>, <<"${d}">>).`))
    if (stored < N) await new Promise(resolve => setTimeout(resolve, 100))
  }
  t.equal(stored, N, `ejabberd stored ${N}`)
  const count = await megaphone(['unread', '-c', '-j', `cli-dave@${d}`], { env })
  t.equal(count.code, 0, `unread -c exits 0 ${count.stderr}`)
  t.equal(count.stdout, `${N}\n`, 'counted')
  const all = await megaphone(['unread', '-j', `cli-dave@${d}`], { env })
  t.equal(all.code, 0, `unread exits 0 ${all.stderr}`)
  const lines = all.stdout.split('\n').filter(l => l !== '')
  t.equal(lines.length, N, `${N} lines`)
  t.match(lines[0], MESSAGE_LINE(`cli-alice@${d}`, 'bulk 1'), 'oldest first')
  t.match(lines[N - 1], MESSAGE_LINE(`cli-alice@${d}`, `bulk ${N}`), 'newest last')
})

suite.test('unread never sends presence, and with nothing stored ends at once', async t => {
  if (await lacksFlexibleOffline(t, `cli-dave@${d}`)) return
  const started = Date.now()
  const r = await megaphone(['unread', '-j', `cli-dave@${d}`], { env: { ...env, MEGAPHONE_DEBUG: 'xml' } })
  t.equal(r.code, 0)
  t.equal(r.stdout, 'no unread messages\n')
  t.ok(Date.now() - started < 10_000, 'no waiting for messages that will not come')
  const presences = r.stderr.match(/<presence\b[^>]*>/g) ?? []
  t.ok(r.stderr.includes('<iq'), 'the trace shows the exchange')
  t.same(presences.filter(p => !p.includes('type="unavailable"')), [], 'no available presence, ever (only the unavailable one of logout)')
})

suite.test('a wrong password exits 3', async t => {
  const r = await megaphone(['unread', '-j', `cli-bob@${d}`], { env: { ...env, MEGAPHONE_PASSWORD: 'wrong' } })
  t.equal(r.code, 3)
  t.match(r.stderr, new RegExp(`^megaphone unread: authentication failed for cli-bob@${d}`))
  const s = await megaphone(['send', '-j', `cli-alice@${d}`, `cli-bob@${d}`, 'x'], { env: { ...env, MEGAPHONE_PASSWORD: 'wrong' } })
  t.equal(s.code, 3)
  if (await lacksFlexibleOffline(t, `cli-bob@${d}`)) return
  t.equal((await megaphone(['unread', '-c', '-j', `cli-bob@${d}`], { env })).stdout, '0\n', 'nothing was sent')
})

suite.test('an account on a domain the server does not serve exits 3', async t => {
  const r = await megaphone(['unread', '-j', 'cli-bob@not-served.example'], { env })
  t.equal(r.code, 3, r.stderr)
  t.match(r.stderr, /cli-bob@not-served\.example cannot log in at .*\(host-unknown\)/)
})

suite.test('a recipient the server refuses exits 5', async t => {
  const r = await megaphone(['send', '-j', `cli-alice@${d}`, `no-such-user@${d}`, 'hello?'], { env })
  t.equal(r.code, 5)
  t.equal(r.stderr, `megaphone send: no-such-user@${d} refused the message: service-unavailable\n`)
})

suite.test('an unreachable URL exits 4', async t => {
  const r = await megaphone(['send', '-u', 'http://127.0.0.1:1/http-bind', '-j', `cli-alice@${d}`, `cli-bob@${d}`, 'x'], { env })
  t.equal(r.code, 4)
  t.match(r.stderr, /cannot open a session at http:\/\/127\.0\.0\.1:1\/http-bind/)
})

suite.test('a ws:// URL selects WebSocket (RFC 7395, the edge\'s endpoint)', async t => {
  const ws = `ws://127.0.0.1:${edge.port}${edge.config.websocketPath}`
  const sent = await megaphone(['send', '-u', ws, '-j', `cli-alice@${d}`, `cli-dave@${d}`, 'over websocket'], { env })
  t.equal(sent.code, 0, `send over WebSocket exits 0 ${sent.stderr}`)
  if (await lacksFlexibleOffline(t, `cli-dave@${d}`)) return
  t.equal((await megaphone(['unread', '-c', '-j', `cli-dave@${d}`], { env })).stdout, '1\n', 'counted over BOSH')
  const r = await megaphone(['unread', '-u', ws, '-j', `cli-dave@${d}`], { env: { ...env, MEGAPHONE_DEBUG: 'xml' } })
  t.equal(r.code, 0)
  t.match(r.stdout.trimEnd(), MESSAGE_LINE(`cli-alice@${d}`, 'over websocket'))
  t.match(r.stderr, /^< <open [^>]*xmlns=["']urn:ietf:params:xml:ns:xmpp-framing["']/m, 'RFC 7395 framing: it was WebSocket')
  const wrong = await megaphone(['unread', '-u', ws, '-j', `cli-dave@${d}`], { env: { ...env, MEGAPHONE_PASSWORD: 'wrong' } })
  t.equal(wrong.code, 3, 'a wrong password over WebSocket exits 3 too')
})
