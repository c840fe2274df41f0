/**
 * Graceful drain of a real edge process (`node --import tsx src/main.ts`) in front of a real
 * ejabberd: SIGTERM answers every held BOSH request with system-shutdown (XEP-0124 §17.2) and
 * the process exits 0 (a stop that overran its bound would exit 1: the exit status, not a
 * clock, says it finished within it); a stop that cannot finish is cut at the bound; a second
 * signal exits at once.
 */
import tap from 'tap'
import { connect, type Socket } from 'node:net'
import WebSocket from 'ws'
import { startEjabberd } from '../fixtures/ejabberd.ts'
import { edgeEnv, waitFor } from '../fixtures/edge.ts'
import { EdgeProcess, RawBosh, scrape, sum } from './helpers.ts'

const t = tap
const ej = await startEjabberd({ users: { alice: 'demo' } })
t.teardown(() => ej.stop())

interface Started { edge: EdgeProcess, boshUrl: string, wsUrl: string, adminUrl: string }

async function startProcess (t: { teardown: (fn: () => void) => void }, env: Record<string, string> = {}): Promise<Started> {
  const edge = new EdgeProcess(edgeEnv(ej, { MEGAPHONE_LOG_LEVEL: 'info', ...env }))
  // Whatever happens in the test, the process does not outlive it.
  t.teardown(() => { if (edge.pid !== 0) try { process.kill(edge.pid, 'SIGKILL') } catch { /* gone */ } })
  const bosh = await edge.line('BOSH listening')
  const ws = await edge.line('WebSocket listening')
  const admin = await edge.line('admin listening')
  const boshUrl = String(bosh.url)
  const adminUrl = String(admin.url).replace(/\/metrics$/, '')
  await waitFor(async () => (await fetch(`${adminUrl}/readyz`)).status === 200, 15_000, '/readyz 200')
  return { edge, boshUrl, wsUrl: String(ws.url), adminUrl }
}

/** An upload that never finishes: the server cannot close while it is in flight. */
async function stalledUpload (boshUrl: string): Promise<Socket> {
  const u = new URL(boshUrl)
  const socket = connect(Number(u.port), u.hostname)
  await new Promise<void>(resolve => socket.once('connect', () => { resolve() }))
  socket.on('error', () => {})
  // Expect: 100-continue makes the server say when it has read the headers: from then on the
  // request is in flight (not an idle connection that closing the server may cut).
  socket.write(`POST ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: text/xml\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n`)
  await new Promise<void>(resolve => socket.once('data', () => { resolve() }))
  socket.write("<body rid='1'")
  return socket
}

void t.test('SIGTERM with held requests: each hears system-shutdown, the process exits 0', async t => {
  const SEE_OTHER = 'wss://other.example/xmpp-websocket'
  const { edge, boshUrl, wsUrl, adminUrl } = await startProcess(t, { MEGAPHONE_WEBSOCKET_SEE_OTHER_URI: SEE_OTHER })
  t.equal((await fetch(`${adminUrl}/healthz`)).status, 200, '/healthz')
  // Five sessions holding one request each, and one holding two (hold=2).
  const holds = [1, 1, 1, 1, 1, 2]
  const sessions = await Promise.all(holds.map(async hold => {
    const s = await RawBosh.create(boshUrl, { wait: 60, hold })
    // The stream features usually ride in the creation response (XEP-0206 §4); when they come
    // later, the first poll carries them: take it, so that the polls below stay held.
    if (!s.created.includes('features')) await s.until('', /features/)
    return s
  }))
  // A failed request is an answer the assertions below refuse, not a crash of the test process.
  const held = sessions.flatMap((s, i) => holds[i] === 2 ? [s.request(''), s.request('')] : [s.request('')])
    .map(async p => await p.catch((err: unknown) => `request failed: ${String(err)}`))
  await waitFor(async () => sum(await scrape(adminUrl), 'megaphone_bosh_held_requests') === held.length, 15_000, `${held.length} held requests`)
  // And one WebSocket with its stream open (RFC 7395 §3.4).
  const ws = new WebSocket(wsUrl, 'xmpp')
  const messages: string[] = []
  ws.on('message', (d: Buffer) => { messages.push(d.toString()) })
  const wsClosed = new Promise<number>(resolve => { ws.on('close', code => { resolve(code) }) })
  await new Promise<void>(resolve => ws.once('open', () => { resolve() }))
  ws.send("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>")
  await waitFor(() => messages.some(m => m.startsWith('<open')), 15_000, 'the server\'s <open/>')

  const signalled = performance.now()
  edge.kill('SIGTERM')
  const answers = await Promise.all(held)
  for (const [i, a] of answers.entries()) {
    t.match(a, /type='terminate'/, `held request ${i + 1} answered with a terminate body`)
    t.match(a, /condition='system-shutdown'/, `held request ${i + 1}: system-shutdown`)
  }
  t.equal(await wsClosed, 1001, 'the WebSocket closed with 1001 (going away)')
  t.match(messages.at(-1), new RegExp(`^<close [^>]*see-other-uri='${SEE_OTHER}'`), 'after <close/> with see-other-uri (RFC 7395 §3.6.1)')
  const exit = await edge.exited
  t.equal(exit.code, 0, 'exit status 0: the stop finished within its bound')
  t.ok(edge.lines.some(l => l.msg === 'draining' && l.held === held.length), 'the drain line counts the held requests')
  t.ok(edge.lines.some(l => l.msg === 'stopped'), 'stopped')
  t.comment(`SIGTERM to exit: ${Math.round(exit.at - signalled)} ms (bound 10000 ms)`)
})

void t.test('a stop that cannot finish is cut at drainTimeout (exit 1)', async t => {
  const { edge, boshUrl } = await startProcess(t, { MEGAPHONE_DRAIN_TIMEOUT: '1' })
  const upload = await stalledUpload(boshUrl)
  t.teardown(() => { upload.destroy() })
  edge.kill('SIGTERM')
  const exit = await edge.exited
  t.equal(exit.code, 1, 'exit status 1')
  t.ok(edge.lines.some(l => l.msg === 'stop took too long: exiting'), 'says why')
})

void t.test('a second signal exits at once', async t => {
  const { edge, boshUrl } = await startProcess(t, { MEGAPHONE_DRAIN_TIMEOUT: '600' })
  const upload = await stalledUpload(boshUrl)
  t.teardown(() => { upload.destroy() })
  edge.kill('SIGTERM')
  await edge.line('draining')
  edge.kill('SIGINT')
  const exit = await edge.exited
  t.equal(exit.code, 1, 'exit status 1')
  t.ok(edge.lines.some(l => l.msg === 'second signal: exiting now'), 'says why')
  t.notOk(edge.lines.some(l => l.msg === 'stop took too long: exiting'), 'not the bound (600 s)')
})

void t.test('/readyz turns 503 while draining', async t => {
  const { edge, boshUrl, adminUrl } = await startProcess(t, { MEGAPHONE_DRAIN_TIMEOUT: '600' })
  // The stalled upload keeps the server open (draining) long enough to try.
  const upload = await stalledUpload(boshUrl)
  t.teardown(() => { upload.destroy() })
  edge.kill('SIGTERM')
  await edge.line('draining')
  const ready = await fetch(`${adminUrl}/readyz`)
  t.equal(ready.status, 503, '/readyz says 503 while draining')
  t.match(await ready.text(), /draining/, 'and says why')
  edge.kill('SIGKILL')
  await edge.exited
})
