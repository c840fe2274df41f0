/**
 * The Announcer API's mapping from a call's JSON to the contract's request, and its checks
 * (src/announce/request.ts, stanza.ts, token.ts): no server, no HTTP.
 */
import t from 'tap'
import { channelRequest, contractMessage, normalizeUsernames, onlineRequest, roomJid, usersRequest } from '../../src/announce/request.ts'
import { checkStanza, decodeBase64Xml } from '../../src/announce/stanza.ts'
import { TokenCheck } from '../../src/announce/token.ts'
import { requestFailed } from '../../src/announce/backend.ts'
import { MegaphoneError } from '../../src/errors.ts'
import { announceOptions } from '../../src/announce/options.ts'
import { loadConfig } from '../../src/config/load.ts'

const o = announceOptions(loadConfig([], { MEGAPHONE_LINK_SECRET: 'x'.repeat(16), MEGAPHONE_API_TOKEN: 't'.repeat(32) }))
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64')

void t.test('options: the domain, from and MUC service follow --domains', async t => {
  t.equal(o.domain, 'localhost', 'no --domains: localhost, the demo\'s')
  t.equal(o.from, 'localhost')
  t.equal(o.mucService, 'conference.localhost')
  t.equal(o.rate, 1000)
  t.equal(o.maxRequestBytes, 65_536 - 4, 'one link frame of data, less the request id')
  const x = announceOptions(loadConfig([], { MEGAPHONE_LINK_SECRET: 'x'.repeat(16), MEGAPHONE_DOMAINS: 'example.com,other.org', MEGAPHONE_ANNOUNCE_FROM: 'news.example.com', MEGAPHONE_ANNOUNCE_MUC_SERVICE: 'rooms.example.com' }))
  t.same([x.domain, x.domains, x.from, x.mucService], ['example.com', ['example.com', 'other.org'], 'news.example.com', 'rooms.example.com'])
})

void t.test('a message is exactly one of body, stanza or the original base64 message', async t => {
  t.same(contractMessage({ body: 'hi <all> & you' }, 64), { body: 'hi <all> & you' }, 'text as it is: the module escapes it')
  t.same(contractMessage({ stanza: "<message type='chat'><body>x</body></message>" }, 64),
    { stanza: "<message xmlns='jabber:client' type='chat'><body>x</body></message>", template: false }, 'no namespace: jabber:client added')
  t.same(contractMessage({ message: b64('<message><body>Hello %s</body></message>') }, 64),
    { stanza: "<message xmlns='jabber:client'><body>Hello %s</body></message>", template: true }, 'the original Announcer: a template')
  t.throws(() => contractMessage({}, 64), { code: 'ANNOUNCE_BAD_REQUEST' }, 'none')
  t.throws(() => contractMessage({ body: 'a', stanza: '<message/>' }, 64), { code: 'ANNOUNCE_BAD_REQUEST' }, 'two')
})

void t.test('a stanza must be one well-formed <message/> in jabber:client', async t => {
  t.equal(checkStanza("  <message xmlns='jabber:client'><body>ok</body></message>\n", 64), "<message xmlns='jabber:client'><body>ok</body></message>", 'trimmed')
  t.equal(checkStanza('<message/>', 64), "<message xmlns='jabber:client'/>")
  t.equal(checkStanza('<message xmlns="jabber:client" type="headline"><body>a</body><x xmlns="urn:x"/></message>', 64), '<message xmlns="jabber:client" type="headline"><body>a</body><x xmlns="urn:x"/></message>')
  const bad = [
    '<message><body>unclosed</message>',
    '<message><body>a</body></message><message/>',
    '<presence/>',
    '<iq type="get"/>',
    '<messages/>',
    'hello',
    '',
    '<message xmlns="urn:other"/>',
    '<c:message xmlns:c="jabber:client"/>',
    '<message type="error"/>',
    '<message><!-- a comment --></message>',
    '<!DOCTYPE x><message/>',
    '<message><body>&bogus;</body></message>',
    '<message><x:y/></message>',
    '<message a="1" a="2"/>'
  ]
  for (const s of bad) t.throws(() => checkStanza(s, 64), { code: 'ANNOUNCE_BAD_STANZA' }, JSON.stringify(s))
  t.throws(() => checkStanza('<message>' + '<a>'.repeat(70) + '</a>'.repeat(70) + '</message>', 64), { code: 'ANNOUNCE_BAD_STANZA' }, 'deeper than maxDepth')
})

void t.test('base64: standard or URL-safe, padding optional, line breaks ignored; anything else refused', async t => {
  t.equal(decodeBase64Xml(b64('<message/>')), '<message/>')
  t.equal(decodeBase64Xml(b64('<message>ü?</message>').replace(/=+$/, '')), '<message>ü?</message>', 'no padding')
  t.equal(decodeBase64Xml(Buffer.from('<message>~~~?</message>').toString('base64url')), '<message>~~~?</message>', 'URL-safe')
  t.equal(decodeBase64Xml(b64('<message/>').replace(/(.{4})/g, '$1\r\n')), '<message/>', 'MIME line breaks')
  for (const s of ['not base64!', 'PG1lc3NhZ2UvPg==x', 'a', '====', '']) t.throws(() => decodeBase64Xml(s), { code: 'ANNOUNCE_BAD_BASE64' }, JSON.stringify(s))
  t.throws(() => decodeBase64Xml(Buffer.from([0xff, 0xfe, 0x3c]).toString('base64')), { code: 'ANNOUNCE_BAD_STANZA' }, 'not UTF-8')
  t.throws(() => contractMessage({ message: b64('<message><body>x</message>') }, 64), { code: 'ANNOUNCE_BAD_STANZA' }, 'base64 of a broken stanza')
})

void t.test('usernames: local parts or JIDs of the served domains, lower-cased, each once, at most the option', async t => {
  t.same(normalizeUsernames(['alice', 'Bob@localhost', 'alice@LOCALHOST', 'carol'], o), ['alice', 'bob', 'carol'])
  const two = { ...o, domain: 'example.com', domains: ['example.com', 'other.org'] }
  t.same(normalizeUsernames(['a@example.com', 'b@other.org', 'c'], two), ['a', 'b@other.org', 'c'], 'another served domain keeps its JID')
  for (const u of ['a@elsewhere', 'a@localhost/phone', 'a b', 'a:b', '@localhost', "o'brien", 'x'.repeat(1024)]) {
    t.throws(() => normalizeUsernames([u], o), { code: 'ANNOUNCE_BAD_REQUEST' }, JSON.stringify(u))
  }
  t.throws(() => normalizeUsernames(Array.from({ length: o.maxUsernames + 1 }, (_, i) => `u${i}`), o), { code: 'ANNOUNCE_TOO_MANY_USERNAMES' })
  t.equal(normalizeUsernames(Array.from({ length: o.maxUsernames }, (_, i) => `u${i}`), o).length, o.maxUsernames, 'the maximum itself passes')
})

void t.test('the users request', async t => {
  t.same(usersRequest({ usernames: ['alice'], body: 'hi' }, o),
    { op: 'announce', message: { body: 'hi' }, from: 'localhost', rate: 1000, target: 'users', usernames: ['alice'], persist: true }, 'persist defaults to true')
  t.equal(usersRequest({ usernames: ['alice'], body: 'hi', persist: false }, o).persist, false)
  const long = Array.from({ length: 3000 }, (_, i) => `a-rather-long-username-${i}`)
  t.throws(() => usersRequest({ usernames: long, body: 'hi' }, { ...o, maxUsernames: 5000 }), { code: 'ANNOUNCE_TOO_LARGE' }, 'more than one link frame')
  t.equal(usersRequest({ usernames: long.slice(0, o.maxUsernames), body: 'hi' }, o).usernames?.length, o.maxUsernames, 'the default maximum of usernames of 27 characters fits')
})

void t.test('the channel request: a room JID, a name in the MUC service, or the original channel_id', async t => {
  t.equal(roomJid('lobby', 'conference.localhost'), 'lobby@conference.localhost')
  t.equal(roomJid('Lobby@Conference.Localhost', 'x'), 'lobby@conference.localhost')
  for (const r of ['lobby@conference.localhost/nick', 'a b', 'lobby@', '@conference.localhost']) t.throws(() => roomJid(r, 'conference.localhost'), { code: 'ANNOUNCE_BAD_REQUEST' }, r)
  t.same(channelRequest({ room: 'lobby', body: 'hi' }, o), { op: 'announce', message: { body: 'hi' }, from: 'localhost', rate: 1000, target: 'room', room: 'lobby@conference.localhost' })
  const numbered = channelRequest({ channel_id: 42, message: b64('<message><body>%s</body></message>') }, o)
  t.equal(numbered.target, 'room')
  t.equal(numbered.room, '42@conference.localhost', 'channel_id 42 is the room named 42')
  t.same(numbered.message, { stanza: "<message xmlns='jabber:client'><body>%s</body></message>", template: true })
  t.equal(channelRequest({ channel_id: 0, body: 'x' }, o).room, '0@conference.localhost')
  const everyone = channelRequest({ channel_id: -1, message: b64('<message><body>to all</body></message>') }, o)
  t.equal(everyone.target, 'online', 'a negative channel_id: every online user')
  t.equal(everyone.room, undefined)
  t.throws(() => channelRequest({ body: 'x' }, o), { code: 'ANNOUNCE_BAD_REQUEST' }, 'no room')
  t.throws(() => channelRequest({ room: 'a', channel_id: 1, body: 'x' }, o), { code: 'ANNOUNCE_BAD_REQUEST' }, 'both')
})

void t.test('the online request', async t => {
  t.same(onlineRequest({ body: 'x' }, o), { op: 'announce', message: { body: 'x' }, from: 'localhost', rate: 1000, target: 'online' })
})

void t.test('the token: Bearer, the exact token, nothing else', async t => {
  const check = new TokenCheck('s3cret-token-0123456789')
  t.ok(check.accepts('Bearer s3cret-token-0123456789'))
  t.ok(check.accepts('bearer  s3cret-token-0123456789'), 'the scheme in any case (RFC 7235 §2.1)')
  for (const h of [undefined, '', 'Bearer', 'Bearer ', 'Bearer s3cret-token-012345678', 'Bearer s3cret-token-01234567890', 'Basic s3cret-token-0123456789', 's3cret-token-0123456789', 'Bearer s3cret-token-0123456789 x']) {
    t.notOk(check.accepts(h), JSON.stringify(h))
  }
})

void t.test('link failures become the API\'s errors', async t => {
  const e = (code: string): string => requestFailed(new MegaphoneError(code, 'x')).code
  t.equal(e('LINK_DOWN'), 'ANNOUNCE_LINK_DOWN')
  t.equal(e('LINK_STOPPED'), 'ANNOUNCE_LINK_DOWN')
  t.equal(e('LINK_API_TIMEOUT'), 'ANNOUNCE_TIMEOUT')
  t.equal(e('LINK_API_UNSUPPORTED'), 'ANNOUNCE_UNSUPPORTED')
  t.equal(e('LINK_SEND_TOO_LARGE'), 'ANNOUNCE_TOO_LARGE')
  t.equal(e('LINK_API_BUSY'), 'ANNOUNCE_TOO_MANY_JOBS')
  t.equal(e('LINK_API_BAD_REPLY'), 'ANNOUNCE_BACKEND_ERROR')
  t.equal(requestFailed(new Error('boom')).code, 'ANNOUNCE_BACKEND_ERROR')
})
