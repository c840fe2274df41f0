/**
 * Admission control per client address (src/admission/): each limit refuses past its value and
 * only for the address that reached it, the counts come back down, the defaults refuse one
 * address before it holds 1,000 unauthenticated sessions, and memory stays bounded. The clock
 * is a number the test moves.
 */
import t from 'tap'
import { Admission, type AdmissionOptions } from '../../src/admission/admission.ts'
import { ADMISSION_DEFAULTS } from '../../src/admission/options.ts'
import { RefusalLog } from '../../src/admission/refusal-log.ts'

const OFF: AdmissionOptions = { sessionRate: 0, sessionBurst: 1, unauthenticated: 0, unauthenticatedTotal: 0, connections: 0, heldRequests: 0, addresses: 1000, ipv6Prefix: 64, exempt: [] }

function make (o: Partial<AdmissionOptions> = {}): { a: Admission, clock: { t: number } } {
  const clock = { t: 1_000_000 }
  return { a: new Admission({ ...OFF, ...o }, () => clock.t), clock }
}

void t.test('the defaults refuse one address before 1,000 unauthenticated sessions; another address still gets in', async t => {
  const clock = { t: 0 }
  const a = new Admission(ADMISSION_DEFAULTS, () => clock.t)
  let admitted = 0
  t.same(ADMISSION_DEFAULTS.exempt, ['127.0.0.0/8', '::1'], 'loopback is exempt by default')
  // A script opening sessions as fast as it can, never logging in; the clock moves 1 ms each.
  while (a.admitSession('198.51.100.1') === null) { admitted++; clock.t += 1 }
  t.ok(admitted < 1000, `refused after ${admitted}`)
  t.equal(a.admitSession('203.0.113.5'), null, 'another address is admitted')
  // The same script, slowly (one a second): the unauthenticated limit stops it.
  clock.t += 3_600_000
  let more = 0
  while (a.admitSession('198.51.100.1') === null) { more++; clock.t += 1000 }
  t.equal(admitted + more, ADMISSION_DEFAULTS.unauthenticated, 'never more than the limit at once')
  t.ok(admitted + more < 1000)
})

void t.test('unauthenticated sessions per address; authenticated and ended ones stop counting', async t => {
  const { a } = make({ unauthenticated: 3 })
  for (let i = 0; i < 3; i++) t.equal(a.admitSession('192.0.2.1'), null)
  t.equal(a.admitSession('192.0.2.1'), 'unauthenticated')
  t.equal(a.admitSession('192.0.2.2'), null, 'other addresses untouched')
  a.sessionAuthenticated('192.0.2.1')
  t.equal(a.admitSession('192.0.2.1'), null, 'an authenticated session no longer counts')
  t.equal(a.admitSession('192.0.2.1'), 'unauthenticated')
  a.sessionEnded('192.0.2.1', false)
  t.equal(a.admitSession('192.0.2.1'), null, 'an unauthenticated session that ended no longer counts')
  a.sessionEnded('192.0.2.1', true)
  t.equal(a.admitSession('192.0.2.1'), 'unauthenticated', 'an authenticated session ending changes nothing')
  t.equal(a.unauthenticatedTotal, 4)
  t.equal(a.refused.unauthenticated, 3)
})

void t.test('the global cap on unauthenticated sessions', async t => {
  const { a } = make({ unauthenticatedTotal: 3 })
  t.equal(a.admitSession('192.0.2.1'), null)
  t.equal(a.admitSession('192.0.2.2'), null)
  t.equal(a.admitSession('192.0.2.3'), null)
  t.equal(a.admitSession('192.0.2.4'), 'unauthenticated-total')
  t.equal(a.addresses, 3, 'a refused address is not tracked')
  a.sessionAuthenticated('192.0.2.2')
  t.equal(a.admitSession('192.0.2.4'), null)
})

void t.test('session creation rate: a burst, then the rate', async t => {
  const { a, clock } = make({ sessionRate: 2, sessionBurst: 4 })
  for (let i = 0; i < 4; i++) { t.equal(a.admitSession('192.0.2.1'), null); a.sessionAuthenticated('192.0.2.1') }
  t.equal(a.admitSession('192.0.2.1'), 'session-rate', 'the burst is spent')
  t.equal(a.admitSession('192.0.2.9'), null, 'other addresses have their own')
  clock.t += 499
  t.equal(a.admitSession('192.0.2.1'), 'session-rate', 'not yet a whole token')
  clock.t += 1
  t.equal(a.admitSession('192.0.2.1'), null, 'one token per 1/rate s')
  t.equal(a.admitSession('192.0.2.1'), 'session-rate')
  clock.t += 60_000
  for (let i = 0; i < 4; i++) t.equal(a.admitSession('192.0.2.1'), null, 'refilled to the burst, no further')
  t.equal(a.admitSession('192.0.2.1'), 'session-rate')
})

void t.test('sessions that end at once do not reset the rate (the entry is kept while its bucket refills)', async t => {
  const { a, clock } = make({ sessionRate: 1, sessionBurst: 2 })
  for (let i = 0; i < 2; i++) { t.equal(a.admitSession('192.0.2.1'), null); a.sessionEnded('192.0.2.1', false) }
  t.equal(a.admitSession('192.0.2.1'), 'session-rate')
  t.equal(a.addresses, 1, 'kept while refilling')
  t.equal(a.sweep(), 0, 'a sweep keeps it')
  clock.t += 2000
  t.equal(a.sweep(), 1, 'refilled: swept')
  t.equal(a.addresses, 0)
})

void t.test('connections and held requests per address', async t => {
  const { a } = make({ connections: 2, heldRequests: 2 })
  t.equal(a.admitConnection('192.0.2.1'), null)
  t.equal(a.admitConnection('192.0.2.1'), null)
  t.equal(a.admitConnection('192.0.2.1'), 'connections')
  t.equal(a.admitConnection('192.0.2.2'), null)
  a.connectionClosed('192.0.2.1')
  t.equal(a.admitConnection('192.0.2.1'), null)
  t.equal(a.admitRequest('192.0.2.1'), null)
  t.equal(a.admitRequest('192.0.2.1'), null)
  t.equal(a.admitRequest('192.0.2.1'), 'held-requests')
  a.requestReleased('192.0.2.1')
  t.equal(a.admitRequest('192.0.2.1'), null)
  t.same(a.refused, { 'session-rate': 0, unauthenticated: 0, 'unauthenticated-total': 0, connections: 1, 'held-requests': 1, addresses: 0 })
})

void t.test('0 turns a limit off', async t => {
  const { a } = make()
  let refused = 0
  for (let i = 0; i < 10_000; i++) {
    if ((a.admitSession('192.0.2.1') ?? a.admitConnection('192.0.2.1') ?? a.admitRequest('192.0.2.1')) !== null) refused++
  }
  t.equal(refused, 0)
  t.equal(a.unauthenticatedTotal, 10_000)
})

void t.test('entries go when all their counts reach 0; releases without admissions change nothing', async t => {
  const { a } = make({ sessionRate: 10, sessionBurst: 10 })
  a.admitConnection('192.0.2.1')
  a.admitRequest('192.0.2.1')
  t.equal(a.addresses, 1)
  a.requestReleased('192.0.2.1')
  t.equal(a.addresses, 1)
  a.connectionClosed('192.0.2.1')
  t.equal(a.addresses, 0, 'gone with a full bucket')
  a.connectionClosed('192.0.2.1')
  a.requestReleased('192.0.2.7')
  a.sessionEnded('192.0.2.7', false)
  a.sessionAuthenticated('192.0.2.7')
  t.equal(a.addresses, 0)
  t.equal(a.unauthenticatedTotal, 0, 'never below 0')
  for (let i = 0; i < 500; i++) { a.admitConnection(`10.0.${i >> 8}.${i & 255}`) }
  for (let i = 0; i < 500; i++) { a.connectionClosed(`10.0.${i >> 8}.${i & 255}`) }
  t.equal(a.addresses, 0, 'a wave of addresses leaves nothing behind')
})

void t.test('a cap on addresses tracked: idle ones make room, else a new address is refused', async t => {
  const { a } = make({ addresses: 3, sessionRate: 1, sessionBurst: 1 })
  a.admitSession('192.0.2.1')
  a.sessionEnded('192.0.2.1', false) // idle, bucket refilling
  a.admitConnection('192.0.2.2')
  a.admitConnection('192.0.2.3')
  t.equal(a.addresses, 3)
  t.equal(a.admitConnection('192.0.2.4'), null, 'the idle one is dropped to make room')
  t.equal(a.admitConnection('192.0.2.5'), 'addresses', 'none idle: refused')
  t.equal(a.admitConnection('192.0.2.2'), null, 'tracked addresses go on')
  t.equal(a.addresses, 3)
})

void t.test('addresses are counted as the client is: IPv4-mapped as IPv4, IPv6 by prefix', async t => {
  const { a } = make({ unauthenticated: 2 })
  t.equal(a.keyOf('192.0.2.1'), '192.0.2.1')
  t.equal(a.keyOf('::ffff:192.0.2.1'), '192.0.2.1')
  t.equal(a.keyOf('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2:0:0:0:0/64')
  t.equal(a.admitSession('2001:db8:1:2::1'), null)
  t.equal(a.admitSession('2001:db8:1:2::2'), null)
  t.equal(a.admitSession('2001:db8:1:2:ffff::3'), 'unauthenticated', 'one /64 is one client')
  t.equal(a.admitSession('2001:db8:1:3::1'), null, 'the next /64 is another')
  const { a: b } = make({ ipv6Prefix: 128 })
  t.equal(b.keyOf('2001:db8::1'), '2001:db8:0:0:0:0:0:1')
  const { a: c } = make({ ipv6Prefix: 56 })
  t.equal(c.keyOf('2001:db8:1:2ff::1'), '2001:db8:1:200:0:0:0:0/56')
  t.equal(a.keyOf('not an address'), 'not an address')
})

void t.test('refusals are logged at most once per limit per interval, with what went unlogged', async t => {
  const clock = { t: 0 }
  const lines: unknown[] = []
  const log = new RefusalLog((fields, msg) => { lines.push({ ...fields, msg }) }, () => clock.t, 10_000)
  const { a } = make({ unauthenticated: 1, connections: 1 })
  a.onRefused = (limit, key) => { log.refused(limit, key) }
  a.admitSession('192.0.2.1')
  a.admitConnection('192.0.2.1')
  for (let i = 0; i < 1000; i++) { a.admitSession('192.0.2.1'); a.admitConnection('192.0.2.1') }
  t.same(lines, [
    { limit: 'unauthenticated', address: '192.0.2.1', unlogged: 0, msg: 'admission refused' },
    { limit: 'connections', address: '192.0.2.1', unlogged: 0, msg: 'admission refused' }
  ])
  clock.t += 10_000
  a.admitSession('192.0.2.1')
  t.same(lines[2], { limit: 'unauthenticated', address: '192.0.2.1', unlogged: 999, msg: 'admission refused' })
  t.equal(a.refused.unauthenticated, 1001, 'the metric counts every one')
})

void t.test('exempt addresses are neither counted nor refused', async t => {
  const { a } = make({ unauthenticated: 1, connections: 1, heldRequests: 1, unauthenticatedTotal: 1, exempt: ['127.0.0.0/8', '::1'] })
  for (let i = 0; i < 100; i++) {
    t.equal(a.admitSession('127.0.0.1') ?? a.admitSession('::ffff:127.0.0.2') ?? a.admitConnection('::1') ?? a.admitRequest('127.1.2.3'), null)
  }
  t.equal(a.addresses, 0)
  t.equal(a.unauthenticatedTotal, 0)
  a.sessionEnded('127.0.0.1', false)
  a.connectionClosed('::1')
  t.equal(a.admitSession('192.0.2.1'), null)
  t.equal(a.admitSession('192.0.2.1'), 'unauthenticated', 'others are counted')
})

void t.test('sessionRefusal checks without counting', async t => {
  const { a } = make({ unauthenticated: 1, sessionRate: 1, sessionBurst: 1 })
  t.equal(a.sessionRefusal('192.0.2.1'), null)
  t.equal(a.sessionRefusal('192.0.2.1'), null, 'nothing was counted')
  t.equal(a.addresses, 0)
  t.equal(a.admitSession('192.0.2.1'), null)
  t.equal(a.sessionRefusal('192.0.2.1'), 'unauthenticated')
  t.equal(a.refused.unauthenticated, 1, 'a refusal is counted for the metric')
  a.sessionAuthenticated('192.0.2.1')
  t.equal(a.sessionRefusal('192.0.2.1'), 'session-rate')
})
