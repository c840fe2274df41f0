/**
 * Admission control on the WebSocket side, with a real `ws` client against the edge listening on
 * 127.0.0.1 (loopback not exempt here): past the unauthenticated limit the upgrade is answered
 * 429 before it happens; a session that authenticates (SASL success) stops counting; past the
 * connection limit a new TCP connection gets a bare 429. The SCRIPTED FAKE BACKEND
 * (test/fixtures/scripted-backend.ts) stands in for ejabberd.
 */
import t from 'tap'
import { once } from 'node:events'
import { connect } from 'node:net'
import { WebSocket } from 'ws'
import { Edge } from '../../src/edge.ts'
import { mountBosh } from '../../src/bosh/edge.ts'
import { mountWebSocket } from '../../src/ws/edge.ts'
import type { AdmissionOptions } from '../../src/admission/admission.ts'
import { ScriptedBackend } from '../fixtures/scripted-backend.ts'

const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing'
const OPEN = `<open xmlns='${FRAMING}' to='localhost' version='1.0' xml:lang='en'/>`
const AUTH = `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0pw').toString('base64')}</auth>`

interface Teardown { teardown (fn: () => unknown): void }

async function start (t: Teardown, admission: Partial<AdmissionOptions>): Promise<{ edge: Edge, url: string, port: number }> {
  const edge = await Edge.create(new ScriptedBackend(), { maxSessions: 100, ticks: () => () => {}, admission: { exempt: [], ...admission } })
  mountBosh(edge)
  await mountWebSocket(edge)
  await edge.app.listen({ host: '127.0.0.1', port: 0 })
  const a = edge.app.server.address()
  const port = typeof a === 'object' && a !== null ? a.port : 0
  t.teardown(async () => { await edge.app.close() })
  return { edge, url: `ws://127.0.0.1:${port}/xmpp-websocket`, port }
}

/** Opens a WebSocket: the open socket, or the HTTP status that refused the upgrade. */
async function open (t: Teardown, url: string): Promise<WebSocket | number> {
  const ws = new WebSocket(url, ['xmpp'])
  t.teardown(() => { ws.terminate() })
  ws.on('error', () => {})
  return await new Promise(resolve => {
    ws.on('open', () => { resolve(ws) })
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0) })
  })
}

/** Sends `text` and waits for a message that matches. */
async function until (ws: WebSocket, text: string, match: RegExp): Promise<void> {
  const seen = new Promise<void>(resolve => {
    const on = (data: Buffer): void => { if (match.test(data.toString())) { ws.off('message', on); resolve() } }
    ws.on('message', on)
  })
  ws.send(text)
  await seen
}

void t.test('unauthenticated WebSocket sessions per address: 429 before the upgrade; logging in frees the count', async t => {
  const { edge, url } = await start(t, { unauthenticated: 2 })
  const a = await open(t, url)
  const b = await open(t, url)
  t.type(a, WebSocket)
  t.type(b, WebSocket)
  t.equal(await open(t, url), 429, 'RFC 6585 429 before the upgrade')
  t.equal(edge.admission.refused.unauthenticated, 1)
  if (typeof a === 'number') return
  await until(a, OPEN, /mechanisms/)
  await until(a, AUTH, /<success/)
  t.equal(edge.admission.unauthenticatedTotal, 1, 'the authenticated session no longer counts')
  t.type(await open(t, url), WebSocket, 'room for another')
  if (typeof b !== 'number') {
    b.close()
    await once(b, 'close')
  }
})

void t.test('connections per address: a bare 429 past the limit', async t => {
  const { edge, port } = await start(t, { connections: 2 })
  const sockets = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')]
  for (const s of sockets) { t.teardown(() => { s.destroy() }); await once(s, 'connect') }
  const third = connect(port, '127.0.0.1')
  t.teardown(() => { third.destroy() })
  let text = ''
  third.on('data', (d: Buffer) => { text += d.toString() })
  await once(third, 'close')
  t.match(text, /^HTTP\/1\.1 429 Too Many Requests\r\n/)
  t.equal(edge.admission.refused.connections, 1)
  const first = sockets[0]
  if (first !== undefined) { first.destroy(); await once(first, 'close') }
  // The server hears of the close a few turns of the event loop later (no timing assumed).
  for (let i = 0; i < 1000 && edge.admission.countsOf('127.0.0.1')?.connections !== 1; i++) await new Promise(resolve => setImmediate(resolve))
  t.equal(edge.admission.countsOf('127.0.0.1')?.connections, 1, 'a closed connection no longer counts')
  const next = connect(port, '127.0.0.1')
  t.teardown(() => { next.destroy() })
  await once(next, 'connect')
  next.write('GET /xmpp-websocket HTTP/1.1\r\nHost: localhost\r\n\r\n')
  const [answer] = await once(next, 'data') as [Buffer]
  t.match(answer.toString(), /^HTTP\/1\.1 426 /, 'a new connection is served')
})
