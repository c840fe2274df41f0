/**
 * The Announcer API's routes on the admin app (inject, no socket) in front of a fake backend
 * that records each contract request and answers as told: statuses, error bodies, the token,
 * the schemas, and that nothing reaches the backend before the checks pass.
 */
import t from 'tap'
import { buildAdminApp } from '../../src/admin/server.ts'
import { createMetrics } from '../../src/metrics/metrics.ts'
import { Announcer } from '../../src/announce/service.ts'
import { announceOptions } from '../../src/announce/options.ts'
import { loadConfig } from '../../src/config/load.ts'
import { linkError } from '../../src/link/errors.ts'
import type { AnnounceBackend } from '../../src/announce/backend.ts'
import type { ApiRequest } from '../../src/announce/contract.ts'
import type { FastifyInstance } from 'fastify'
import { Registry } from 'prom-client'
import { announceMetrics } from '../../src/announce/metrics.ts'

const TOKEN = 'unit-test-token-0123456789abcdef'
const AUTH = { authorization: `Bearer ${TOKEN}` }

class FakeBackend implements AnnounceBackend {
  readonly seen: ApiRequest[] = []
  answer: (req: ApiRequest) => unknown = req => req.op === 'announce'
    ? { ok: true, job: 'j1', recipients: 3 }
    : req.op === 'status'
      ? { ok: true, job: req.job, state: 'done', target: 'users', recipients: 3, delivered: 2, offline: 1, skipped: 0, failed: 0, rate: 250.5, started: '2026-11-30T11:00:00Z', ended: '2026-11-30T11:00:01Z' }
      : { ok: true, jobs_running: 1, jobs_done: 4, recipients: 30, delivered: 20, offline: 7, failed: 3 }

  async request (json: ApiRequest): Promise<unknown> {
    this.seen.push(json)
    return this.answer(json)
  }
}

function build (env: Record<string, string> = {}): { app: FastifyInstance, backend: FakeBackend, announcer: Announcer } {
  const config = loadConfig([], { MEGAPHONE_LINK_SECRET: 'x'.repeat(16), MEGAPHONE_API_TOKEN: TOKEN, ...env })
  const backend = new FakeBackend()
  const announcer = new Announcer(backend, 1000)
  const metrics = createMetrics({ defaultMetrics: false })
  const announce = config.apiToken === '' ? undefined : { options: announceOptions(config), announcer }
  const app = buildAdminApp({ registry: metrics.registry, linkUp: () => true, draining: () => false, ...(announce === undefined ? {} : { announce }) })
  t.teardown(() => app.close())
  return { app, backend, announcer }
}

const post = async (app: FastifyInstance, url: string, payload: unknown, headers: Record<string, string> = AUTH): Promise<{ status: number, body: Record<string, unknown>, headers: Record<string, unknown> }> => {
  const r = await app.inject({ method: 'POST', url, payload: typeof payload === 'string' ? payload : JSON.stringify(payload), headers: { 'content-type': 'application/json', ...headers } })
  return { status: r.statusCode, body: r.json(), headers: r.headers }
}

void t.test('no token configured: the API is not there', async t => {
  const { app } = build({ MEGAPHONE_API_TOKEN: '' })
  const r = await app.inject({ method: 'POST', url: '/v1/announce/online', payload: { body: 'x' }, headers: AUTH })
  t.equal(r.statusCode, 404)
})

void t.test('each endpoint answers 202 {job, recipients} and sends the contract request', async t => {
  const { app, backend } = build()
  const users = await post(app, '/v1/announce/users', { usernames: ['alice', 'bob@localhost'], body: 'hello' })
  t.same([users.status, users.body], [202, { job: 'j1', recipients: 3 }])
  t.equal(users.headers.location, '/v1/announce/j1', 'Location names the job')
  t.same(backend.seen.at(-1), { op: 'announce', message: { body: 'hello' }, from: 'localhost', rate: 1000, target: 'users', usernames: ['alice', 'bob'], persist: true })
  t.equal((await post(app, '/v1/announce/channel', { room: 'lobby', stanza: '<message><body>x</body></message>' })).status, 202)
  t.same(backend.seen.at(-1), { op: 'announce', message: { stanza: "<message xmlns='jabber:client'><body>x</body></message>", template: false }, from: 'localhost', rate: 1000, target: 'room', room: 'lobby@conference.localhost' })
  t.equal((await post(app, '/v1/announce/online', { body: 'all' })).status, 202)
  const last = backend.seen.at(-1)
  t.equal(last?.op === 'announce' ? last.target : undefined, 'online')
  const status = await app.inject({ method: 'GET', url: '/v1/announce/j1', headers: AUTH })
  t.equal(status.statusCode, 200)
  t.same(status.json(), { job: 'j1', state: 'done', target: 'users', recipients: 3, delivered: 2, offline: 1, skipped: 0, failed: 0, rate: 250.5, started: '2026-11-30T11:00:00Z', ended: '2026-11-30T11:00:01Z' })
})

void t.test('the original Announcer\'s requests, any content type (curl -d sends form-urlencoded)', async t => {
  const { app, backend } = build()
  const message = Buffer.from('<message><body>Hi %s</body></message>').toString('base64')
  const r = await post(app, '/v1/announce/channel', { channel_id: 7, message }, { ...AUTH, 'content-type': 'application/x-www-form-urlencoded' })
  t.equal(r.status, 202)
  t.same(backend.seen.at(-1), { op: 'announce', message: { stanza: "<message xmlns='jabber:client'><body>Hi %s</body></message>", template: true }, from: 'localhost', rate: 1000, target: 'room', room: '7@conference.localhost' })
  t.equal((await post(app, '/v1/announce/channel', { channel_id: '-1', message })).status, 202, 'a number as a string')
  t.same(backend.seen.at(-1), { op: 'announce', message: { stanza: "<message xmlns='jabber:client'><body>Hi %s</body></message>", template: true }, from: 'localhost', rate: 1000, target: 'online' })
})

void t.test('401 without the token, before the body is read; nothing reaches the backend', async t => {
  const { app, backend } = build()
  for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong-token-0123456789abcdef' }, { authorization: `Basic ${TOKEN}` }]) {
    const r = await post(app, '/v1/announce/online', '{not json', headers)
    t.equal(r.status, 401, JSON.stringify(headers))
    t.equal(r.body.error, 'ANNOUNCE_UNAUTHORIZED')
    t.match(String(r.headers['www-authenticate']), /^Bearer realm="megaphone"/, 'RFC 6750 §3')
  }
  const unknownPath = await app.inject({ method: 'GET', url: '/v1/announce/x/y' })
  t.equal(unknownPath.statusCode, 401, 'an unknown path without the token: 401, not 404')
  const get = await app.inject({ method: 'GET', url: '/v1/announce/j1' })
  t.equal(get.statusCode, 401)
  t.equal(backend.seen.length, 0)
})

void t.test('400s: bad JSON, schema, base64, stanza, usernames; nothing reaches the backend', async t => {
  const { app, backend } = build({ MEGAPHONE_ANNOUNCE_MAX_USERNAMES: '3' })
  const cases: Array<[string, unknown, string]> = [
    ['/v1/announce/online', '{"body": ', 'ANNOUNCE_BAD_JSON'],
    ['/v1/announce/online', '', 'ANNOUNCE_BAD_JSON'],
    ['/v1/announce/online', [], 'ANNOUNCE_BAD_REQUEST'],
    ['/v1/announce/online', {}, 'ANNOUNCE_BAD_REQUEST'],
    ['/v1/announce/online', { body: '' }, 'ANNOUNCE_BAD_REQUEST'],
    ['/v1/announce/online', { body: 'a', stanza: '<message/>' }, 'ANNOUNCE_BAD_REQUEST'],
    ['/v1/announce/users', { body: 'a' }, 'ANNOUNCE_BAD_REQUEST'],
    ['/v1/announce/users', { usernames: [], body: 'a' }, 'ANNOUNCE_BAD_REQUEST'],
    ['/v1/announce/users', { usernames: ['a@elsewhere.org'], body: 'a' }, 'ANNOUNCE_BAD_REQUEST'],
    ['/v1/announce/users', { usernames: ['a', 'b', 'c', 'd'], body: 'a' }, 'ANNOUNCE_TOO_MANY_USERNAMES'],
    ['/v1/announce/channel', { body: 'a' }, 'ANNOUNCE_BAD_REQUEST'],
    ['/v1/announce/channel', { channel_id: 1.5, body: 'a' }, 'ANNOUNCE_BAD_REQUEST'],
    ['/v1/announce/channel', { room: 'a/b', body: 'a' }, 'ANNOUNCE_BAD_REQUEST'],
    ['/v1/announce/online', { message: 'not base64!' }, 'ANNOUNCE_BAD_BASE64'],
    ['/v1/announce/online', { message: Buffer.from('<message>').toString('base64') }, 'ANNOUNCE_BAD_STANZA'],
    ['/v1/announce/online', { stanza: '<presence/>' }, 'ANNOUNCE_BAD_STANZA'],
    ['/v1/announce/online', { stanza: '<message><body>a</body>' }, 'ANNOUNCE_BAD_STANZA']
  ]
  for (const [url, payload, code] of cases) {
    const r = await post(app, url, payload)
    t.same([r.status, r.body.error], [400, code], `${url} ${JSON.stringify(payload)}`)
    t.type(r.body.message, 'string')
  }
  t.equal(backend.seen.length, 0)
})

void t.test('the module\'s errors and the link\'s, as the API\'s statuses', async t => {
  const { app, backend } = build()
  const cases: Array<[() => unknown, number, string]> = [
    [() => ({ ok: false, error: 'unknown-room', text: 'no room nowhere@conference.localhost' }), 404, 'ANNOUNCE_UNKNOWN_ROOM'],
    [() => ({ ok: false, error: 'too-many-jobs' }), 429, 'ANNOUNCE_TOO_MANY_JOBS'],
    [() => ({ ok: false, error: 'bad-stanza' }), 400, 'ANNOUNCE_BAD_STANZA'],
    [() => ({ ok: false, error: 'internal' }), 502, 'ANNOUNCE_BACKEND_ERROR'],
    [() => ({ ok: true }), 502, 'ANNOUNCE_BACKEND_ERROR'],
    [() => { throw linkError('LINK_DOWN', 'the link to the backend is not up') }, 503, 'ANNOUNCE_LINK_DOWN'],
    [() => { throw linkError('LINK_API_UNSUPPORTED', 'ERROR unknown-type') }, 503, 'ANNOUNCE_UNSUPPORTED'],
    [() => { throw linkError('LINK_API_TIMEOUT', 'no API_REPLY') }, 504, 'ANNOUNCE_TIMEOUT']
  ]
  for (const [answer, status, code] of cases) {
    backend.answer = answer
    const r = await post(app, '/v1/announce/channel', { room: 'nowhere', body: 'x' })
    t.same([r.status, r.body.error], [status, code], code)
  }
  backend.answer = () => ({ ok: false, error: 'unknown-job' })
  const r = await app.inject({ method: 'GET', url: '/v1/announce/nope', headers: AUTH })
  t.same([r.statusCode, r.json<{ error: string }>().error], [404, 'ANNOUNCE_UNKNOWN_JOB'])
  const before = backend.seen.length
  const odd = await app.inject({ method: 'GET', url: '/v1/announce/' + encodeURIComponent('a b'), headers: AUTH })
  t.same([odd.statusCode, odd.json<{ error: string }>().error], [404, 'ANNOUNCE_UNKNOWN_JOB'], 'an id that cannot be a job id: 404 without asking')
  t.equal(backend.seen.length, before)
  const unknown = await app.inject({ method: 'POST', url: '/v1/announce/everyone', headers: AUTH, payload: '{}' })
  t.same([unknown.statusCode, unknown.json<{ error: string }>().error], [404, 'ANNOUNCE_NOT_FOUND'])
})

void t.test('metrics: jobs and recipients by target, errors by code, the module\'s counts', async t => {
  const { app, announcer } = build()
  const registry = new Registry()
  announceMetrics([registry], () => ({ counters: announcer.counters, stats: async () => await announcer.stats() }))
  await post(app, '/v1/announce/users', { usernames: ['a'], body: 'x' })
  await post(app, '/v1/announce/online', { body: 'x' })
  await post(app, '/v1/announce/online', { body: 'x' })
  await post(app, '/v1/announce/online', {}, {})
  const text = await registry.metrics()
  t.match(text, /megaphone_announce_jobs_started_total\{target="users"\} 1\n/)
  t.match(text, /megaphone_announce_jobs_started_total\{target="online"\} 2\n/)
  t.match(text, /megaphone_announce_recipients_total\{target="online"\} 6\n/)
  t.match(text, /megaphone_announce_errors_total\{code="ANNOUNCE_UNAUTHORIZED"\} 1\n/)
  t.match(text, /megaphone_announce_module_jobs_running 1\n/)
  t.match(text, /megaphone_announce_module_messages_total\{outcome="offline"\} 7\n/)
  t.match(text, /megaphone_announce_module_jobs_done_total 4\n/)
})
