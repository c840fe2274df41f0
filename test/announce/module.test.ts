/**
 * The announcer inside ejabberd (mod_megaphone's megaphone_announce), driven over a real link with
 * API_REQUEST (docs/link-protocol.md "API_REQUEST and API_REPLY"), delivering to real clients:
 * Strophe.js over BOSH through an edge, and XMPP sessions straight on a link (fixtures/link-xmpp.ts).
 * No part is mocked. The HTTP API on top of this is tested in test/announce/ by its own files.
 */
import t from 'tap'
import type { Element } from '@xmldom/xmldom'
import { startEjabberd, type Ejabberd } from '../fixtures/ejabberd.ts'
import { startEdge, waitFor } from '../fixtures/edge.ts'
import { LinkXmpp, connectLink } from '../fixtures/link-xmpp.ts'
import { XmppClient, textOf } from '../fixtures/strophe.ts'
import { LinkClient } from '../../src/link/index.ts'
import type { ApiJson } from '../../src/link/api.ts'

const PW = 'demo'
const NAMES = ['alice', 'bob', 'carol', 'dave', 'erin']
const MANY = Array.from({ length: 20 }, (_, i) => `u${String(i + 1).padStart(2, '0')}`)
const ROOM = 'lobby@conference.localhost'

let ej: Ejabberd
let api: LinkClient
let edgeUrl = ''
const links: LinkClient[] = []

t.before(async () => {
  ej = await startEjabberd({ users: Object.fromEntries([...NAMES, ...MANY].map(n => [n, PW])) })
  api = await connectLink(ej.linkPort, ej.linkSecret)
  links.push(api)
  const edge = await startEdge(ej)
  t.teardown(async () => {
    await edge.stop()
    for (const l of links) await l.stop()
    await ej.stop()
  })
  edgeUrl = edge.boshUrl
})

async function request (body: object): Promise<ApiJson> {
  return await api.apiRequest(body, 30_000)
}

async function announce (body: object): Promise<{ job: string, recipients: number }> {
  const reply = await request({ op: 'announce', from: 'localhost', rate: 1000, ...body })
  if (reply.ok !== true || typeof reply.job !== 'string') throw new Error(`announce refused: ${JSON.stringify(reply)}`)
  return { job: reply.job, recipients: Number(reply.recipients) }
}

async function finished (job: string, link = api): Promise<ApiJson> {
  let last: ApiJson = {}
  await waitFor(async () => {
    last = await link.apiRequest({ op: 'status', job }, 30_000)
    return last.state !== 'running'
  }, 60_000, `job ${job} to end`)
  return last
}

/**
 * Strophe.js over BOSH through the edge, logged in, with its initial presence processed: the
 * server echoes it to the user's available resources, this one included (RFC 6121 §4.2.2). Until
 * then the user is not available, and an announcement would go to offline storage or be skipped.
 */
async function strophe (user: string): Promise<XmppClient> {
  const c = await XmppClient.login({ url: edgeUrl, jid: `${user}@localhost/web`, password: PW })
  await c.waitFor(el => el.tagName === 'presence' && el.getAttribute('from') === `${user}@localhost/web`, 15_000, 'its own presence')
  return c
}

/** A session straight on a link: login, bind, initial presence (answered by the time this resolves). */
async function onLink (user: string, resource = 'link'): Promise<LinkXmpp> {
  const c = new LinkXmpp(api, 'localhost')
  await c.login(user, PW, resource)
  return c
}

const idOf = (job: string, user: string): string => `megaphone-${job}-${user}`
const withId = (id: string) => (el: Element): boolean => el.localName === 'message' && el.getAttribute('id') === id
const countIn = (received: Element[], id: string): number => received.filter(withId(id)).length

void t.test('users: online users get it once (Strophe over BOSH, a link session); offline stored with persist, skipped without', async t => {
  const alice = await strophe('alice')
  const bob = await onLink('bob')
  t.teardown(async () => { await alice.disconnect(); bob.close() })

  const { job, recipients } = await announce({ target: 'users', usernames: ['alice', 'bob@localhost', 'dave', 'nobody', 'alice'], persist: true, message: { body: 'hello all' } })
  t.equal(recipients, 4, 'alice once (named twice), bob, dave, nobody')
  const status = await finished(job)
  t.match(status, { ok: true, job, state: 'done', target: 'users', recipients: 4, delivered: 2, offline: 1, skipped: 1, failed: 0 })
  t.type(status.rate, 'number')
  t.match(status.started, /^\d{4}-\d\d-\d\dT.*Z$/)
  t.match(status.ended, /^\d{4}-\d\d-\d\dT.*Z$/)

  const a = await alice.waitFor(el => el.getAttribute('id') === idOf(job, 'alice'))
  t.equal(a.getAttribute('type'), 'headline')
  t.equal(a.getAttribute('from'), 'localhost')
  t.equal(textOf(a, 'body'), 'hello all')
  const b = await bob.waitFor(withId(idOf(job, 'bob')), 'the announcement')
  t.equal(b.getElementsByTagName('body')[0]?.textContent, 'hello all')

  // persist false: dave (offline) is skipped, nothing stored.
  const second = await announce({ target: 'users', usernames: ['alice', 'bob', 'dave'], persist: false, message: { body: 'online only' } })
  t.match(await finished(second.job), { state: 'done', recipients: 3, delivered: 2, offline: 0, skipped: 1 })
  await alice.waitFor(el => el.getAttribute('id') === idOf(second.job, 'alice'))
  await bob.waitFor(withId(idOf(second.job, 'bob')), 'the second announcement')

  // dave logs in: the first comes from offline storage (the <store/> hint makes mod_offline keep a
  // headline), the second never comes. The login's ping answer follows the offline messages.
  const dave = await onLink('dave')
  t.teardown(() => dave.close())
  const stored = await dave.waitFor(withId(idOf(job, 'dave')), 'the stored announcement')
  t.equal(stored.getElementsByTagName('body')[0]?.textContent, 'hello all')
  t.ok(stored.getElementsByTagName('delay').length > 0, 'delivered from offline storage (delay stamp)')
  await dave.ping()
  t.equal(countIn(dave.received, idOf(second.job, 'dave')), 0, 'persist false stored nothing')

  // Each online recipient got each announcement exactly once.
  await bob.ping()
  t.equal(alice.received.filter(el => el.getAttribute('id') === idOf(job, 'alice')).length, 1, 'alice: once')
  t.equal(countIn(bob.received, idOf(job, 'bob')), 1, 'bob: once')
})

void t.test('users: a stanza template, %s replaced by each username; to and id set per recipient', async t => {
  const bob = await onLink('bob')
  const carol = await onLink('carol')
  t.teardown(() => { bob.close(); carol.close() })
  const stanza = "<message type='normal' to='someone@else' id='x'><body>Hi %s!</body><subject>news</subject></message>"
  const { job } = await announce({ target: 'users', usernames: ['bob', 'carol'], message: { stanza, template: true } })
  t.match(await finished(job), { delivered: 2 })
  for (const [c, name] of [[bob, 'bob'], [carol, 'carol']] as const) {
    const m = await c.waitFor(withId(idOf(job, name)), 'the templated message')
    t.equal(m.getElementsByTagName('body')[0]?.textContent, `Hi ${name}!`)
    t.equal(m.getAttribute('type') ?? 'normal', 'normal', 'the stanza\'s type (ejabberd writes none for normal)')
    t.match(m.getAttribute('to'), new RegExp(`^${name}@localhost`))
    t.equal(m.getAttribute('from'), 'localhost', 'from: the job\'s, as the stanza named none')
  }
})

void t.test('room: its online members and occupants get it, non-members do not, offline members are skipped', async t => {
  const room = ROOM.split('@')
  t.equal(await ej.eval(`mod_muc_admin:create_room_with_opts(<<"${room[0]}">>, <<"${room[1]}">>, <<"localhost">>, [{<<"persistent">>, <<"true">>}]).`), 'ok')
  for (const [user, aff] of [['alice', 'owner'], ['bob', 'member'], ['dave', 'admin']]) {
    t.equal(await ej.eval(`mod_muc_admin:set_room_affiliation(<<"${room[0]}">>, <<"${room[1]}">>, <<"${user}@localhost">>, <<"${aff}">>).`), 'ok')
  }
  const alice = await strophe('alice')
  const bob = await onLink('bob')
  const carol = await onLink('carol') // online, not a member: gets nothing
  const erin = await onLink('erin') // not a member, but in the room: an occupant
  t.teardown(async () => { await alice.disconnect(); bob.close(); carol.close(); erin.close() })
  erin.send(`<presence to='${ROOM}/erin' xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
  await erin.waitFor(el => el.localName === 'presence' && el.getAttribute('from') === `${ROOM}/erin`, 'the room\'s self-presence')

  const { job, recipients } = await announce({ target: 'room', room: ROOM, message: { body: 'room news' } })
  t.equal(recipients, 4, 'alice, bob, dave (affiliations) and erin (occupant)')
  t.match(await finished(job), { state: 'done', delivered: 3, offline: 0, skipped: 1, failed: 0 })
  await alice.waitFor(el => el.getAttribute('id') === idOf(job, 'alice'))
  await bob.waitFor(withId(idOf(job, 'bob')), 'room news')
  await erin.waitFor(withId(idOf(job, 'erin')), 'room news')
  await carol.ping()
  t.equal(carol.received.filter(el => el.localName === 'message').length, 0, 'carol, not a member, got nothing')

  t.match(await request({ op: 'announce', target: 'room', room: 'nosuchroom@conference.localhost', message: { body: 'x' } }),
    { ok: false, error: 'unknown-room' })
  t.match(await request({ op: 'announce', target: 'room', room: 'lobby@localhost', message: { body: 'x' } }),
    { ok: false, error: 'unknown-room' }, 'not a MUC service')
})

void t.test('online: every online session, each resource', async t => {
  const alice = await strophe('alice')
  const bob1 = await onLink('bob', 'one')
  const bob2 = await onLink('bob', 'two')
  const carol = await onLink('carol')
  t.teardown(async () => { await alice.disconnect(); bob1.close(); bob2.close(); carol.close() })
  // Sessions of earlier tests may still be ending: compare with the job's own count.
  const { job, recipients } = await announce({ target: 'online', message: { body: 'everyone' } })
  t.ok(recipients >= 4, `one recipient per session ejabberd_sm lists (${recipients})`)
  const status = await finished(job)
  t.match(status, { state: 'done', offline: 0, failed: 0 })
  t.equal(Number(status.delivered) + Number(status.skipped), recipients, 'each session delivered, or skipped if it ended meanwhile')
  await alice.waitFor(el => el.getAttribute('id') === idOf(job, 'alice'))
  for (const [c, name] of [[bob1, 'bob'], [bob2, 'bob'], [carol, 'carol']] as const) {
    await c.waitFor(withId(idOf(job, name)), 'everyone')
  }
})

void t.test('pacing: a job at R recipients a second goes in batches (progress counted, not timed)', async t => {
  // 20 offline users, persist: each is stored. At 4 a second a batch is 1 recipient.
  const { job, recipients } = await announce({ target: 'users', usernames: MANY, persist: true, rate: 4, message: { body: 'paced' } })
  t.equal(recipients, MANY.length)
  const first = await request({ op: 'status', job })
  const handled = (s: ApiJson): number => Number(s.delivered) + Number(s.offline) + Number(s.skipped) + Number(s.failed)
  t.equal(first.state, 'running')
  t.ok(handled(first) < MANY.length, `right after the start only ${handled(first)} of ${MANY.length} handled`)
  const seen = new Set<number>([handled(first)])
  let last = first
  await waitFor(async () => {
    last = await request({ op: 'status', job })
    seen.add(handled(last))
    return last.state !== 'running'
  }, 60_000, 'the paced job to end')
  t.match(last, { state: 'done', offline: MANY.length })
  const intermediate = [...seen].filter(n => n > 0 && n < MANY.length)
  t.ok(intermediate.length >= 3, `progress seen in steps: ${[...seen].sort((a, b) => a - b).join(', ')}`)
  t.ok(Number(last.rate) <= 4, `the reported rate ${String(last.rate)} is within the job's`)
})

void t.test('a job outlives the link that started it (an edge restart)', async t => {
  const other = await connectLink(ej.linkPort, ej.linkSecret)
  const reply = await other.apiRequest({ op: 'announce', target: 'users', usernames: MANY, persist: false, rate: 10, from: 'localhost', message: { body: 'edge gone' } }, 30_000)
  t.equal(reply.ok, true)
  await other.stop()
  const status = await finished(String(reply.job))
  t.match(status, { state: 'done', recipients: MANY.length, skipped: MANY.length }, 'finished with the link gone (offline users, persist false: skipped)')
})

void t.test('refusals: bad stanza, bad request, unknown job, too many jobs; stats', async t => {
  for (const stanza of ['<message><body>unclosed</message>', "<iq type='get'/>", "<message xmlns='jabber:server'/>", '<message/><message/>']) {
    t.match(await request({ op: 'announce', target: 'users', usernames: ['bob'], message: { stanza } }), { ok: false, error: 'bad-stanza' }, stanza)
  }
  t.match(await request({ op: 'announce', target: 'everyone', message: { body: 'x' } }), { ok: false, error: 'bad-request' })
  t.match(await request({ op: 'announce', target: 'users', usernames: [], message: { body: 'x' } }), { ok: false, error: 'bad-request' })
  t.match(await request({ op: 'announce', target: 'users', usernames: ['bob'], message: { body: '' } }), { ok: false, error: 'bad-request' })
  t.match(await request({ op: 'announce', target: 'users', usernames: ['bob'], rate: 0, message: { body: 'x' } }), { ok: false, error: 'bad-request' })
  t.match(await request({ op: 'frobnicate' }), { ok: false, error: 'bad-request' })
  t.match(await request({ op: 'status', job: 'nope' }), { ok: false, error: 'unknown-job' })

  // max_announce_jobs (default 8): eight slow jobs run, the ninth is refused.
  const slow = { target: 'users', usernames: MANY, persist: false, rate: 0.5, message: { body: 'slow' } }
  const running = await request({ op: 'stats' })
  const room = 8 - Number(running.jobs_running)
  for (let i = 0; i < room; i++) await announce(slow)
  t.match(await request({ op: 'announce', ...slow, from: 'localhost' }), { ok: false, error: 'too-many-jobs' })
  const stats = await request({ op: 'stats' })
  t.match(stats, { ok: true, jobs_running: 8 })
  t.ok(Number(stats.jobs_done) >= 5, 'the earlier jobs are counted as done')
  t.ok(Number(stats.delivered) > 0 && Number(stats.offline) >= MANY.length, 'totals over every job Mnesia holds')
})

void t.test('restart: a job survives the node being killed mid-job and resumes from its last recorded batch', async t => {
  const users = Array.from({ length: 30 }, (_, i) => `r${String(i + 1).padStart(2, '0')}`)
  const ej2 = await startEjabberd({ users: Object.fromEntries(users.map(n => [n, PW])) })
  t.teardown(() => ej2.stop())
  // ejabberd keeps accounts in a dets table with a write cache: without this, a SIGKILL seconds
  // after the registrations loses some of them (the job then skips those users as unknown).
  await ej2.eval('dets:sync(passwd).')
  // Not connectLink(): its link stops at the first 'down'; this one must reconnect by itself.
  const link = new LinkClient({ port: ej2.linkPort, secret: ej2.linkSecret, reconnectBase: 50, reconnectMax: 500 })
  links.push(link)
  link.start()
  await waitFor(() => link.ready, 30_000, 'the link up')
  // 30 offline users, persist: each message is stored by mod_offline, which we count afterwards.
  const reply = await link.apiRequest({ op: 'announce', target: 'users', usernames: users, persist: true, rate: 5, from: 'localhost', message: { body: 'survive' } }, 30_000)
  t.equal(reply.ok, true)
  const job = String(reply.job)
  let before: ApiJson = {}
  await waitFor(async () => {
    before = await link.apiRequest({ op: 'status', job }, 30_000)
    return Number(before.offline) >= 8
  }, 60_000, 'a few batches')
  const pid = ej2.pid
  process.kill(pid, 'SIGKILL')
  const alive = (): boolean => { try { process.kill(pid, 0); return true } catch { return false } }
  await waitFor(() => !alive() && !link.ready, 30_000, 'the node gone and the link down')
  await ej2.restart()
  await waitFor(() => link.ready, 60_000, 'the link to come back')
  const after = await finished(job, link)
  t.match(after, { state: 'done', recipients: 30, offline: 30, failed: 0 }, 'resumed and completed; counters as recorded per batch')
  const counts = JSON.parse((await ej2.eval(
    `jiffy:encode(maps:from_list([{U, mod_offline:count_offline_messages(U, <<"localhost">>)} || U <- [${users.map(u => `<<"${u}">>`).join(',')}]])).`
  )).replace(/^<<"|"(\/utf8)?>>$/g, '').replace(/\\"/g, '"')) as Record<string, number>
  t.comment(`after: ${JSON.stringify(after)}; stored per user: ${JSON.stringify(counts)}`)
  const missing = users.filter(u => (counts[u] ?? 0) === 0)
  const twice = users.filter(u => (counts[u] ?? 0) > 1)
  t.comment(`status at the kill: ${String(before.offline)} of 30 recorded; after the restart: ${twice.length} user(s) got it twice (${twice.join(', ')}), ${missing.length} missing`)
  t.same(missing, [], 'every recipient has it')
  // A batch at 5/s is one recipient: what may repeat is the batch in flight when the node died.
  t.ok(twice.length <= 1, 'at most the batch in flight is repeated')
})
