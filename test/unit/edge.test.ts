/**
 * The composition root (src/edge.ts): one timer wheel whose ids each transport gets as a range of
 * its own, fired back to the transport that owns them; one table both transports draw from, each
 * counting its own sessions.
 */
import t from 'tap'
import { inject } from 'light-my-request'
import { Edge } from '../../src/edge.ts'
import { mountBosh } from '../../src/bosh/edge.ts'
import { mountWebSocket } from '../../src/ws/edge.ts'
import { ScriptedBackend } from '../fixtures/scripted-backend.ts'

async function edge (maxSessions = 4): Promise<{ e: Edge, clock: { now: number } }> {
  const clock = { now: 1_000_000 }
  const e = await Edge.create(new ScriptedBackend(), { maxSessions, now: () => clock.now, ticks: () => () => {} })
  return { e, clock }
}

void t.test('timer ranges: disjoint, each fired to its owner with its own ids', async t => {
  const { e, clock } = await edge(4)
  t.teardown(() => e.app.close())
  const a: number[] = []
  const b: number[] = []
  const ta = e.timers(8, id => { a.push(id) })
  const tb = e.timers(4, id => { b.push(id) })
  ta.schedule(7, clock.now + 500)
  ta.schedule(0, clock.now + 500)
  tb.schedule(0, clock.now + 500)
  tb.schedule(3, clock.now + 500)
  tb.schedule(2, clock.now + 500)
  tb.cancel(2)
  clock.now += 1000
  e.wheel.advance(clock.now)
  t.same(a.sort(), [0, 7])
  t.same(b.sort(), [0, 3], 'a cancelled timer does not fire; ids are the range\'s own')
  t.throws(() => e.timers(1, () => {}), { code: 'EDGE_TIMERS' }, 'three ids per row by default: no room for a fourth')
})

void t.test('BOSH and WebSocket mounted as peers on one table, each counting its own', async t => {
  const { e } = await edge(8)
  t.teardown(() => e.app.close())
  const bosh = mountBosh(e)
  const ws = await mountWebSocket(e)
  t.equal(bosh.registry, e.registry, 'BOSH uses the shared table')
  t.equal(ws.registry, e.registry, 'WebSocket uses the shared table')
  t.equal(bosh.size, 0)
  t.equal(ws.size, 0)
  // A BOSH session through the HTTP front's lean path: counted by BOSH, not by WebSocket.
  const res = await inject(e.http.dispatch, { method: 'POST', url: '/http-bind', payload: "<body rid='1' to='localhost' wait='60' hold='1' ver='1.6' xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'/>" })
  t.match(res.body, /sid='/)
  t.equal(bosh.size, 1, 'BOSH counts its session')
  t.equal(ws.size, 0, 'WebSocket does not')
  t.equal(e.registry.size, 1, 'one row of the shared table')
})
