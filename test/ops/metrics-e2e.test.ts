/**
 * 200 BOSH sessions through the real edge into a real ejabberd, counted on both sides: every
 * request this test makes is counted here, and /metrics on the admin port must report the same
 * sessions, held requests, requests and link frames. The edge logs at trace meanwhile, and no
 * line may carry a password, a SASL payload or a message body.
 */
import t from 'tap'
import WebSocket from 'ws'
import { startEjabberd } from '../fixtures/ejabberd.ts'
import { waitFor } from '../fixtures/edge.ts'
import { RawBosh, RequestCount, scrape, startOpsEdge, sum } from './helpers.ts'

const N = 200
const PASSWORD = 'pw-Kq7vX2-never-logged'
const BODY_TEXT = 'a-message-body-never-logged'

const users: Record<string, string> = {}
for (let i = 0; i < N; i++) users[`ops${i}`] = PASSWORD
const ej = await startEjabberd({ users })
t.teardown(() => ej.stop())
const logLines: string[] = []
const edge = await startOpsEdge(ej, {}, logLines)
t.teardown(() => edge.stop())

void t.test(`${N} BOSH sessions: /metrics counts what the clients did`, async t => {
  const count = new RequestCount()
  const before = await scrape(edge.adminUrl)
  t.equal(sum(before, 'megaphone_link_up'), 1, 'link up')
  t.equal(sum(before, 'megaphone_sessions', 'transport="bosh"'), 0, 'no sessions yet')

  // Each session, once logged in, holds one empty request (hold=1) waiting for the server, at
  // once: one that waited for the others with nothing held would reach maxInactivity.
  const started = await Promise.all(Object.keys(users).map(async u => {
    const s = await RawBosh.login(edge.boshUrl, u, PASSWORD, { count })
    return { s, held: s.request('') }
  }))
  const sessions = started.map(x => x.s)
  const held = started.map(x => x.held)
  await waitFor(async () => sum(await scrape(edge.adminUrl), 'megaphone_bosh_held_requests') === N, 20_000, `${N} held requests`)

  const mid = await scrape(edge.adminUrl)
  t.equal(sum(mid, 'megaphone_sessions', 'transport="bosh"'), N, 'live BOSH sessions')
  t.equal(sum(mid, 'megaphone_sessions', 'transport="websocket"'), 0, 'no WebSocket sessions')
  t.equal(sum(mid, 'megaphone_bosh_held_requests'), N, 'one held request per session')
  t.equal(sum(mid, 'megaphone_session_table_sessions'), N, 'table rows in use')
  t.equal(sum(mid, 'megaphone_sessions_opened_total', 'transport="bosh"'), N, 'sessions opened')
  t.equal(sum(mid, 'megaphone_bosh_requests_total', 'outcome="created"'), N, 'creation requests')
  t.equal(sum(mid, 'megaphone_bosh_requests_total'), count.posts, `every request counted (${count.posts})`)
  t.equal(sum(mid, 'megaphone_link_connections'), N, 'connection ids open on the link')
  t.equal(sum(mid, 'megaphone_backend_sessions', 'scope="link"'), N, 'ejabberd counts the same sessions on the link (STATS_REPLY)')
  t.equal(await ej.connectedUsers(), N, 'ejabberd_sm agrees')
  t.equal(sum(mid, 'megaphone_link_frames_total', 'direction="out"', 'type="OPEN"'), N, 'one OPEN frame per session')
  t.equal(sum(mid, 'megaphone_link_frames_total', 'direction="out"', 'type="RESTART"'), N, 'one RESTART per session (after SASL)')
  t.equal(sum(mid, 'megaphone_link_frames_total', 'direction="out"', 'type="DATA"'), 2 * N, 'two DATA frames per session: auth and bind')
  t.ok(sum(mid, 'megaphone_link_bytes_total', 'direction="in"') > 0, 'link bytes in')
  t.ok(sum(mid, 'megaphone_session_table_load_factor') > 0, 'load factor')
  t.ok(sum(mid, 'megaphone_session_table_longest_probe') >= 1, 'longest probe')
  t.ok(mid.has('nodejs_eventloop_lag_seconds'), 'event-loop lag (process defaults)')
  t.comment(`mid-run: sessions=${sum(mid, 'megaphone_sessions', 'transport="bosh"')} held=${sum(mid, 'megaphone_bosh_held_requests')} requests=${sum(mid, 'megaphone_bosh_requests_total')} posts=${count.posts} backend(link)=${sum(mid, 'megaphone_backend_sessions', 'scope="link"')} backend(node)=${sum(mid, 'megaphone_backend_sessions', 'scope="node"')} load=${sum(mid, 'megaphone_session_table_load_factor')} probe=${sum(mid, 'megaphone_session_table_longest_probe')}`)

  // A message with a body the logs must not show: it answers ops1's held request.
  // Not awaited: the request carrying it is held in turn (ops0's poll is answered instead).
  held.push(sessions[0]!.request(`<message xmlns='jabber:client' to='ops1@localhost/r' type='chat'><body>${BODY_TEXT}</body></message>`))
  t.match(await held[1], new RegExp(BODY_TEXT), 'the message reached ops1 through its held request')

  // Everyone terminates (XEP-0124 §13); the held requests are answered on the way.
  await Promise.all(sessions.map(async s => await s.terminate()))
  await Promise.all(held)
  // The duration histogram sees a response once it is written: wait for the last ones.
  await waitFor(async () => sum(await scrape(edge.adminUrl), 'megaphone_bosh_request_duration_seconds_count') === count.posts, 10_000, 'every response observed')
  const end = await scrape(edge.adminUrl)
  t.equal(sum(end, 'megaphone_sessions', 'transport="bosh"'), 0, 'no live sessions after terminate')
  t.equal(sum(end, 'megaphone_bosh_held_requests'), 0, 'no held requests')
  t.equal(sum(end, 'megaphone_sessions_ended_total', 'transport="bosh"', 'condition="terminate"'), N, 'sessions ended by terminate')
  t.equal(sum(end, 'megaphone_sessions_ended_total'), N, 'and no other way')
  t.equal(sum(end, 'megaphone_bosh_requests_total'), count.posts, `every request counted (${count.posts})`)
  t.equal(sum(end, 'megaphone_bosh_requests_total', 'outcome="ok"'), count.posts - N, 'every later request accepted')
  t.equal(sum(end, 'megaphone_bosh_request_duration_seconds_count'), count.posts, 'every response timed')
  t.equal(sum(end, 'megaphone_bosh_request_duration_seconds_count', 'status="200"'), count.posts, 'all of them 200')
  t.equal(sum(end, 'megaphone_link_frames_total', 'direction="out"', 'type="CLOSE"'), N, 'one CLOSE per session')
  t.comment([...end].filter(([k]) => /megaphone_(bosh_requests_total|sessions_ended_total|bosh_request_duration_seconds_count)/.test(k)).map(([k, v]) => `${k} ${v}`).join('\n'))
  t.comment(`end: requests=${sum(end, 'megaphone_bosh_requests_total')} posts=${count.posts} timed=${sum(end, 'megaphone_bosh_request_duration_seconds_count')} ended(terminate)=${sum(end, 'megaphone_sessions_ended_total', 'condition="terminate"')}`)
})

void t.test('WebSocket sessions are counted under their own transport', async t => {
  const n = 3
  const url = edge.boshUrl.replace(/^http/, 'ws').replace(edge.config.boshPath, edge.config.websocketPath)
  const sockets = await Promise.all(Array.from({ length: n }, async () => {
    const ws = new WebSocket(url, 'xmpp')
    const opened = new Promise<void>(resolve => { ws.on('message', (d: Buffer) => { if (d.toString().startsWith('<open')) resolve() }) })
    await new Promise<void>(resolve => ws.once('open', () => { resolve() }))
    // RFC 7395 §3.4: the client's <open/>; the server's answers once ejabberd has the stream.
    ws.send("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>")
    await opened
    return ws
  }))
  const open = await scrape(edge.adminUrl)
  t.equal(sum(open, 'megaphone_sessions', 'transport="websocket"'), n, 'live WebSocket sessions')
  t.equal(sum(open, 'megaphone_sessions_opened_total', 'transport="websocket"'), n, 'opened on the backend')
  t.equal(sum(open, 'megaphone_session_table_sessions'), n, 'in the shared table')
  t.ok(sum(open, 'megaphone_websocket_messages_total', 'direction="in"') >= n, 'messages in')
  // RFC 7395 §3.6: the client closes the stream.
  for (const ws of sockets) ws.send("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>")
  await Promise.all(sockets.map(async ws => { await new Promise(resolve => ws.once('close', resolve)) }))
  await waitFor(async () => sum(await scrape(edge.adminUrl), 'megaphone_sessions', 'transport="websocket"') === 0, 10_000, 'WebSocket sessions gone')
  t.equal(sum(await scrape(edge.adminUrl), 'megaphone_sessions_ended_total', 'transport="websocket"', 'condition="client-closed"'), n, 'ended by the client\'s <close/>')
})

void t.test('logs: a child logger line per session, and no secrets or bodies', async t => {
  const text = logLines.join('')
  const lines = logLines.map(l => JSON.parse(l) as Record<string, unknown>)
  const opened = lines.filter(l => l.msg === 'session opened' && l.transport === 'bosh')
  t.equal(opened.length, N, 'one "session opened" line per session')
  t.ok(opened.every(l => typeof l.sid === 'string' && typeof l.connId === 'number' && l.connId > 0), 'each with its sid and connection id')
  const ended = lines.filter(l => l.msg === 'session ended' && l.reason === 'terminate')
  t.equal(ended.length, N, 'one "session ended" line per session')
  t.ok(ended.every(l => typeof l.sid === 'string' && typeof l.connId === 'number' && l.connId > 0), 'each with its sid and connection id')
  t.notOk(text.includes(PASSWORD), 'no password')
  t.notOk(text.includes(Buffer.from(`\0ops0\0${PASSWORD}`).toString('base64')), 'no SASL payload')
  t.notOk(text.includes(BODY_TEXT), 'no message body')
})
