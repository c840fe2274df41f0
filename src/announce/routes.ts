/**
 * The Announcer API's routes under `/v1/announce/` (docs/announcer.md), mounted on the admin
 * server (src/admin/routes.ts) when a token is configured:
 *
 *   POST /v1/announce/users     {usernames, body|stanza|message, persist?}   → 202 {job, recipients}
 *   POST /v1/announce/channel   {room|channel_id, body|stanza|message}       → 202 {job, recipients}
 *   POST /v1/announce/online    {body|stanza|message}                        → 202 {job, recipients}
 *   GET  /v1/announce/{job}                                                  → 200 the job's state
 *
 * In one encapsulated fastify scope: the token check runs first (onRequest, before the body is
 * read), fastify checks each body against its JSON schema, src/announce/request.ts maps it to
 * the contract, and one error handler answers every failure as `{"error": CODE, "message"}`.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AnnounceError, isAnnounceError } from './errors.ts'
import { TokenCheck } from './token.ts'
import { channelRequest, onlineRequest, usersRequest, type ChannelBody, type OnlineBody, type UsersBody } from './request.ts'
import type { Announcer } from './service.ts'
import type { AnnounceOptions } from './options.ts'
import type { AnnounceReply, AnnounceRequest } from './contract.ts'

export interface AnnounceApi {
  options: AnnounceOptions
  announcer: Announcer
  /** a job was started (for the log) */
  started?: (req: AnnounceRequest, reply: AnnounceReply) => void
}

export const API_PREFIX = '/v1/announce'

/** Job ids are printable and URL-safe (the contract); anything else names no job. */
const JOB_ID = /^[A-Za-z0-9_-]{1,128}$/

/** Largest API body: the longest base64 stanza of a full link frame, with room for JSON escapes. */
const BODY_LIMIT = 1024 * 1024

const messageProps = {
  body: { type: 'string', minLength: 1 },
  stanza: { type: 'string', minLength: 1 },
  message: { type: 'string', minLength: 1 }
} as const

const accepted = {
  202: {
    type: 'object',
    properties: { job: { type: 'string' }, recipients: { type: 'integer' } },
    required: ['job', 'recipients']
  }
} as const

const USERS_SCHEMA = {
  body: {
    type: 'object',
    required: ['usernames'],
    properties: {
      usernames: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1, maxLength: 3071 } },
      persist: { type: 'boolean' },
      ...messageProps
    }
  },
  response: accepted
} as const

const CHANNEL_SCHEMA = {
  body: {
    type: 'object',
    properties: {
      room: { type: 'string', minLength: 1, maxLength: 3071 },
      channel_id: { type: 'integer' },
      ...messageProps
    }
  },
  response: accepted
} as const

const ONLINE_SCHEMA = {
  body: { type: 'object', properties: messageProps },
  response: accepted
} as const

export function announceRoutes (app: FastifyInstance, api: AnnounceApi): void {
  void app.register((scope, _opts, done) => { routes(scope, api); done() }, { prefix: API_PREFIX })
}

function routes (app: FastifyInstance, api: AnnounceApi): void {
  const { options: o, announcer } = api
  const token = new TokenCheck(o.token)

  // Any content type is read as JSON: `curl -d` sends application/x-www-form-urlencoded, and the
  // original Announcer's clients may not say. The token, not the content type, keeps browsers
  // out (a page cannot add an Authorization header to another origin's request unasked).
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_req, text, done) => {
    try {
      done(null, JSON.parse(String(text)))
    } catch (err) {
      done(new AnnounceError('ANNOUNCE_BAD_JSON', `the body is not JSON: ${err instanceof Error ? err.message : String(err)}`), undefined)
    }
  })

  // RFC 6750 §2.1 bearer token, checked before the body is read.
  app.addHook('onRequest', async (req, reply) => {
    if (token.accepts(req.headers.authorization)) return
    // RFC 6750 §3: a 401 names the scheme; invalid_token when a token was given but is wrong.
    const given = req.headers.authorization !== undefined
    void reply.header('www-authenticate', `Bearer realm="megaphone"${given ? ', error="invalid_token"' : ''}`)
    throw new AnnounceError('ANNOUNCE_UNAUTHORIZED', given ? 'the bearer token is not the API token' : 'Authorization: Bearer <token> required')
  })

  app.setErrorHandler(async (err: FastifyError | AnnounceError, _req, reply) => {
    const e = asAnnounceError(err)
    announcer.refused(e.code)
    return await reply.code(e.status).type('application/json; charset=utf-8').send({ error: e.code, message: e.message })
  })
  // Unknown paths under the prefix: the token check above has run (it is this scope's hook), so
  // without the token nothing tells which paths exist.
  app.setNotFoundHandler(async (req, _reply) => {
    throw new AnnounceError('ANNOUNCE_NOT_FOUND', `no ${req.method} ${req.url} in the Announcer API`)
  })

  const start = async (req: AnnounceRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const r = await announcer.announce(req)
    api.started?.(req, r)
    return await reply.code(202).header('location', `${API_PREFIX}/${r.job}`).send({ job: r.job, recipients: r.recipients })
  }

  app.post('/users', { schema: USERS_SCHEMA }, async (req: FastifyRequest<{ Body: UsersBody }>, reply) => await start(usersRequest(req.body, o), reply))
  app.post('/channel', { schema: CHANNEL_SCHEMA }, async (req: FastifyRequest<{ Body: ChannelBody }>, reply) => await start(channelRequest(req.body, o), reply))
  app.post('/online', { schema: ONLINE_SCHEMA }, async (req: FastifyRequest<{ Body: OnlineBody }>, reply) => await start(onlineRequest(req.body ?? {}, o), reply))
  app.get('/:job', async (req: FastifyRequest<{ Params: { job: string } }>, reply) => {
    const id = req.params.job
    if (!JOB_ID.test(id)) throw new AnnounceError('ANNOUNCE_UNKNOWN_JOB', `no job ${JSON.stringify(id)}`)
    const s = await announcer.status(id)
    return await reply.send({
      job: s.job, state: s.state, target: s.target, recipients: s.recipients, delivered: s.delivered, offline: s.offline,
      skipped: s.skipped, failed: s.failed, rate: s.rate, started: s.started, ended: s.ended
    })
  })
}

/** Any failure in the scope as the API's error: fastify's own (schema, body) and ours. */
function asAnnounceError (err: FastifyError | AnnounceError): AnnounceError {
  if (isAnnounceError(err)) return err
  if (err.validation !== undefined) return new AnnounceError('ANNOUNCE_BAD_REQUEST', err.message)
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new AnnounceError('ANNOUNCE_TOO_LARGE', `the body is over ${BODY_LIMIT} bytes`)
  if (err.statusCode === 400 || err.code.startsWith('FST_ERR_CTP_')) return new AnnounceError('ANNOUNCE_BAD_JSON', err.message)
  return new AnnounceError('ANNOUNCE_INTERNAL', err.message, { cause: err })
}
