/**
 * The Announcer API end to end (issue 15): HTTP calls on the edge's admin server → the link's
 * API_REQUEST → mod_megaphone in a real throwaway ejabberd → ejabberd's router → real Strophe.js
 * clients logged in through the edge, and `megaphone unread` for offline storage. No part is
 * mocked. Each endpoint, the original Announcer's request shapes, and every error status.
 *
 * Users are ann-* so that nothing here meets other suites' accounts. The `online` target reaches
 * every session of the domain, so tests that count what arrived use bodies of their own.
 */
import t from 'tap'
import { startEjabberd, type Ejabberd } from '../fixtures/ejabberd.ts'
import { startServer } from '../fixtures/server.ts'
import { edgeEnv, waitFor, type LinkTarget } from '../fixtures/edge.ts'
import { loadConfig, type Config } from '../../src/config/load.ts'
import { createLogger } from '../../src/log.ts'
import { runEdge } from '../../src/run-edge.ts'
import { XmppClient, $iq, $pres, textOf } from '../fixtures/strophe.ts'
import { megaphone } from '../cli/run-cli.ts'
import { freePort } from '../fixtures/ejabberd.ts'

const TOKEN = 'announce-test-token-0123456789abcdef'
const USERS = ['ann-alice', 'ann-bob', 'ann-carol', 'ann-dave', 'ann-erin', 'ann-frank'] as const
type User = typeof USERS[number]

let ej: Ejabberd
let edge: ApiEdge
let d: string
const online = new Map<User, XmppClient>()

interface ApiEdge {
  config: Config
  boshUrl: string
  adminUrl: string
  stop: () => Promise<void>
}

/** The real edge in-process with the API on; waits for its link unless told not to. */
async function startApiEdge (target: LinkTarget, overrides: Record<string, string> = {}, waitForLink = true): Promise<ApiEdge> {
  const config = loadConfig([], edgeEnv(target, { MEGAPHONE_LOG_LEVEL: process.env.MEGAPHONE_TEST_LOG_LEVEL ?? 'silent', MEGAPHONE_API_TOKEN: TOKEN, ...overrides }))
  const running = await runEdge(config, createLogger(config.logLevel))
  if (waitForLink) await waitFor(() => running.linkUp(), 10_000, 'link up')
  return { config, boshUrl: `http://127.0.0.1:${running.port}${config.boshPath}`, adminUrl: `http://127.0.0.1:${running.adminPort}`, stop: running.stop }
}

interface Answer { status: number, body: Record<string, unknown>, headers: Headers }

async function call (e: ApiEdge, method: 'GET' | 'POST', path: string, body?: unknown, token: string | null = TOKEN): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (token !== null) headers.authorization = `Bearer ${token}`
  const res = await fetch(`${e.adminUrl}/v1/announce${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) })
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? {} : JSON.parse(text) as Record<string, unknown>, headers: res.headers }
}

/** Polls the job until it is no longer running; returns its last state. */
async function finished (job: unknown, e: ApiEdge = edge): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> = {}
  await waitFor(async () => {
    last = (await call(e, 'GET', `/${String(job)}`)).body
    return last.state !== 'running'
  }, 30_000, `job ${String(job)}`)
  return last
}

async function login (u: User): Promise<XmppClient> {
  const c = await XmppClient.login({ url: edge.boshUrl, jid: `${u}@${d}/api`, password: 'demo', presence: true })
  online.set(u, c)
  // The initial presence went before this ping on the same stream: once answered, ejabberd counts
  // the session as available (the module delivers to available resources, RFC 6121 §8.5.2.1.1).
  await roundTrip(u)
  return c
}

async function logout (u: User): Promise<void> {
  await online.get(u)?.disconnect()
  online.delete(u)
}

/** Messages received with this body (to check "once", and "not at all" after a round trip). */
function count (u: User, body: string): number {
  return online.get(u)?.received.filter(el => el.tagName === 'message' && textOf(el, 'body') === body).length ?? 0
}

/** A round trip through the user's own c2s: whatever was routed to it before is received by now. */
async function roundTrip (u: User): Promise<void> {
  await online.get(u)?.iq($iq({ type: 'get', to: d }).c('ping', { xmlns: 'urn:xmpp:ping' }))
}

async function unread (u: User): Promise<string> {
  const r = await megaphone(['unread', '-j', `${u}@${d}`], { env: { MEGAPHONE_URL: edge.boshUrl, MEGAPHONE_PASSWORD: 'demo' } })
  if (r.code !== 0) throw new Error(`megaphone unread exited ${String(r.code)}: ${r.stderr}`)
  return r.stdout
}

t.before(async () => {
  ej = await startEjabberd({ users: Object.fromEntries(USERS.map(u => [u, 'demo'])) })
  d = ej.domain
  edge = await startApiEdge(ej, { MEGAPHONE_DOMAINS: d, MEGAPHONE_ANNOUNCE_MAX_USERNAMES: '10' })
})
t.teardown(async () => {
  for (const u of [...online.keys()]) await logout(u)
  await edge?.stop()
  await ej?.stop()
})

void t.test('POST /users: online users get it once, an offline user finds it with megaphone unread', async t => {
  await login('ann-alice')
  await login('ann-bob')
  const r = await call(edge, 'POST', '/users', { usernames: ['ann-alice', `ann-bob@${d}`, 'ann-carol', 'ann-alice'], body: 'users: hello' })
  t.equal(r.status, 202)
  t.equal(r.body.recipients, 3, 'each user once, though alice is listed twice')
  t.equal(r.headers.get('location'), `/v1/announce/${String(r.body.job)}`)
  const m = await online.get('ann-alice')!.waitForMessage('users: hello')
  await online.get('ann-bob')!.waitForMessage('users: hello')
  t.equal(m.getAttribute('type'), 'headline', 'a body becomes a headline')
  t.equal(m.getAttribute('from'), d, 'from the service JID (the domain by default)')
  t.equal(m.getAttribute('id'), `megaphone-${String(r.body.job)}-ann-alice`, 'an id from the job and the recipient')
  const job = await finished(r.body.job)
  t.match(job, { job: r.body.job, state: 'done', target: 'users', recipients: 3, delivered: 2, offline: 1, skipped: 0, failed: 0 })
  t.type(job.started, 'string')
  t.type(job.ended, 'string')
  await roundTrip('ann-alice')
  await roundTrip('ann-bob')
  t.equal(count('ann-alice', 'users: hello'), 1, 'alice got it once')
  t.equal(count('ann-bob', 'users: hello'), 1, 'bob got it once')
  const out = await unread('ann-carol')
  t.match(out, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ ${d.replace(/\./g, '\\.')}: users: hello\\n$`), `carol finds it offline:\n${out}`)
})

void t.test('POST /users with persist false skips offline users', async t => {
  const r = await call(edge, 'POST', '/users', { usernames: ['ann-alice', 'ann-dave'], body: 'users: online only', persist: false })
  t.equal(r.status, 202)
  await online.get('ann-alice')!.waitForMessage('users: online only')
  t.match(await finished(r.body.job), { state: 'done', recipients: 2, delivered: 1, offline: 0, skipped: 1 })
  t.equal(await unread('ann-dave'), 'no unread messages\n', 'dave, offline, has nothing stored')
})

void t.test('POST /channel: the room\'s online members and occupants get it, others do not', async t => {
  const alice = online.get('ann-alice')!
  await login('ann-erin')
  const room = `news@conference.${d}`
  alice.conn.send($pres({ to: `${room}/alice` }).c('x', { xmlns: 'http://jabber.org/protocol/muc' }).tree())
  await alice.waitFor(el => el.tagName === 'presence' && el.getAttribute('from') === `${room}/alice`)
  // XEP-0045 §10.1.2: a new room is locked until configured; accept the defaults
  await alice.iq($iq({ type: 'set', to: room }).c('query', { xmlns: 'http://jabber.org/protocol/muc#owner' }).c('x', { xmlns: 'jabber:x:data', type: 'submit' }))
  // bob: a member who is online but not in the room; dave: a member who is offline (XEP-0045 §9.3)
  for (const u of ['ann-bob', 'ann-dave']) {
    await alice.iq($iq({ type: 'set', to: room }).c('query', { xmlns: 'http://jabber.org/protocol/muc#admin' }).c('item', { affiliation: 'member', jid: `${u}@${d}` }))
  }
  // erin: online, neither member nor occupant
  const r = await call(edge, 'POST', '/channel', { room: 'news', body: 'channel: hello' })
  t.equal(r.status, 202, JSON.stringify(r.body))
  t.equal(r.body.recipients, 3, 'owner alice, members bob and dave')
  await alice.waitForMessage('channel: hello')
  await online.get('ann-bob')!.waitForMessage('channel: hello')
  t.match(await finished(r.body.job), { state: 'done', target: 'room', recipients: 3, delivered: 2, skipped: 1 })
  await roundTrip('ann-erin')
  t.equal(count('ann-erin', 'channel: hello'), 0, 'erin, not a member, gets nothing')
  t.equal(await unread('ann-dave'), 'no unread messages\n', 'dave, an offline member, is skipped (a room reaches who is online)')
  const byJid = await call(edge, 'POST', '/channel', { room, stanza: "<message type='chat'><body>channel: by JID</body></message>" })
  t.equal(byJid.status, 202, 'a room JID works as well as a name')
  const m = await online.get('ann-bob')!.waitForMessage('channel: by JID')
  t.equal(m.getAttribute('type'), 'chat', 'a stanza is sent as given, `to` set per recipient')
  t.equal(m.getAttribute('to')?.split('/')[0], `ann-bob@${d}`)
})

void t.test('POST /online: every online session, nobody offline', async t => {
  const r = await call(edge, 'POST', '/online', { body: 'online: everyone' })
  t.equal(r.status, 202)
  t.equal(r.body.recipients, online.size, `the ${online.size} sessions logged in`)
  for (const u of online.keys()) await online.get(u)!.waitForMessage('online: everyone')
  t.match(await finished(r.body.job), { state: 'done', target: 'online', delivered: online.size })
  t.equal(await unread('ann-frank'), 'no unread messages\n', 'frank, offline, gets nothing')
})

void t.test('the original Announcer\'s requests: channel_id and base64 message with %s', async t => {
  const alice = online.get('ann-alice')!
  const room = `42@conference.${d}`
  alice.conn.send($pres({ to: `${room}/alice` }).c('x', { xmlns: 'http://jabber.org/protocol/muc' }).tree())
  await alice.waitFor(el => el.tagName === 'presence' && el.getAttribute('from') === `${room}/alice`)
  await alice.iq($iq({ type: 'set', to: room }).c('query', { xmlns: 'http://jabber.org/protocol/muc#owner' }).c('x', { xmlns: 'jabber:x:data', type: 'submit' }))
  const message = Buffer.from('<message type="normal"><body>Hello %s, from channel 42</body></message>').toString('base64')
  const r = await call(edge, 'POST', '/channel', { channel_id: 42, message })
  t.equal(r.status, 202, JSON.stringify(r.body))
  t.equal(r.body.recipients, 1)
  await alice.waitForMessage('Hello ann-alice, from channel 42')
  t.pass('channel_id 42 is the room named 42; %s is the recipient\'s username')
  const all = Buffer.from('<message><body>Hi %s, to all</body></message>').toString('base64')
  const everyone = await call(edge, 'POST', '/channel', { channel_id: -1, message: all })
  t.equal(everyone.status, 202)
  t.equal(everyone.body.recipients, online.size, 'a negative channel_id: every online user')
  for (const u of online.keys()) await online.get(u)!.waitForMessage(`Hi ${u}, to all`)
  const users = await call(edge, 'POST', '/users', { usernames: ['ann-bob'], message: all })
  t.equal(users.status, 202)
  await online.get('ann-bob')!.waitForMessage('Hi ann-bob, to all')
})

void t.test('errors: 400, 401, 404 with a stable code', async t => {
  const cases: Array<[string, 'GET' | 'POST', string, unknown, string | null, number, string]> = [
    ['bad JSON', 'POST', '/online', '{"body": "x"', TOKEN, 400, 'ANNOUNCE_BAD_JSON'],
    ['bad base64', 'POST', '/online', { message: '*** not base64 ***' }, TOKEN, 400, 'ANNOUNCE_BAD_BASE64'],
    ['bad stanza', 'POST', '/online', { stanza: '<message><body>unclosed</message>' }, TOKEN, 400, 'ANNOUNCE_BAD_STANZA'],
    ['not a message', 'POST', '/online', { stanza: '<presence/>' }, TOKEN, 400, 'ANNOUNCE_BAD_STANZA'],
    ['too many usernames', 'POST', '/users', { usernames: Array.from({ length: 11 }, (_, i) => `u${i}`), body: 'x' }, TOKEN, 400, 'ANNOUNCE_TOO_MANY_USERNAMES'],
    ['no body', 'POST', '/online', {}, TOKEN, 400, 'ANNOUNCE_BAD_REQUEST'],
    ['no token', 'POST', '/online', { body: 'x' }, null, 401, 'ANNOUNCE_UNAUTHORIZED'],
    ['wrong token', 'POST', '/online', { body: 'x' }, 'wrong-token-0123456789abcdef', 401, 'ANNOUNCE_UNAUTHORIZED'],
    ['unknown room', 'POST', '/channel', { room: 'no-such-room', body: 'x' }, TOKEN, 404, 'ANNOUNCE_UNKNOWN_ROOM'],
    ['unknown job', 'GET', '/0123456789abcdef0123456789abcdef', undefined, TOKEN, 404, 'ANNOUNCE_UNKNOWN_JOB']
  ]
  for (const [what, method, path, body, token, status, code] of cases) {
    const r = await call(edge, method, path, body, token)
    t.same([r.status, r.body.error], [status, code], what)
    t.type(r.body.message, 'string', `${what}: a message for the human`)
  }
  const metrics = await (await fetch(`${edge.adminUrl}/metrics`)).text()
  t.match(metrics, /megaphone_announce_errors_total\{code="ANNOUNCE_UNAUTHORIZED"\} 2/, 'refusals counted by code')
  t.match(metrics, /megaphone_announce_jobs_started_total\{target="users"\} [1-9]/, 'jobs counted by target')
  t.match(metrics, /megaphone_announce_module_messages_total\{outcome="delivered"\} [1-9]/, 'the module\'s counts at scrape time')
})

void t.test('429: more jobs running than mod_megaphone allows', async t => {
  // A second edge on the same server, pacing at 1 recipient/s: its jobs stay running.
  const slow = await startApiEdge(ej, { MEGAPHONE_API_TOKEN: TOKEN, MEGAPHONE_DOMAINS: d, MEGAPHONE_ANNOUNCE_RATE: '1' })
  t.teardown(() => slow.stop())
  // Users who do not exist: each is skipped when its turn comes, one per second.
  const usernames = Array.from({ length: 60 }, (_, i) => `ann-nobody-${i}`)
  const started: Answer[] = []
  for (let i = 0; i < 20; i++) {
    const r = await call(slow, 'POST', '/users', { usernames, body: 'slow' })
    started.push(r)
    if (r.status !== 202) break
  }
  const last = started.at(-1)!
  t.same([last.status, last.body.error], [429, 'ANNOUNCE_TOO_MANY_JOBS'], `refused after ${started.length - 1} running jobs`)
  t.ok(started.length > 1, 'some jobs were admitted first')
})

void t.test('503: no link up; a server whose module has no announcer', async t => {
  const nowhere = await freePort()
  const down = await startApiEdge({ linkPort: nowhere, linkSecret: 'x'.repeat(32) }, {}, false)
  t.teardown(() => down.stop())
  const r = await call(down, 'POST', '/online', { body: 'x' })
  t.same([r.status, r.body.error], [503, 'ANNOUNCE_LINK_DOWN'], 'no link up')
  const pr = await startServer('prosody', { users: { 'ann-alice': 'demo' } })
  t.teardown(() => pr.stop())
  const prosodyEdge = await startApiEdge(pr)
  t.teardown(() => prosodyEdge.stop())
  const p = await call(prosodyEdge, 'POST', '/online', { body: 'x' })
  t.same([p.status, p.body.error], [503, 'ANNOUNCE_UNSUPPORTED'], `Prosody's module: ${String(p.body.message)}`)
})
