import t from 'tap'
import { TimerWheel, TIMER_ID_RANGE, TIMER_OPTIONS, type TimerWheelOptions } from '../../src/timers/index.ts'

/** A wheel on a fake clock that records what fired, and when. */
function harness (opts: Partial<TimerWheelOptions> = {}) {
  const clock = { now: 1000 }
  const fired: Array<[id: number, at: number]> = []
  const wheel = new TimerWheel({
    capacity: 1000,
    resolution: 100,
    slots: 16,
    now: () => clock.now,
    fire: id => { fired.push([id, clock.now]) },
    ...opts
  })
  /** Moves the clock forward in `step` ms increments, advancing the wheel each time. */
  const run = (ms: number, step = 7): void => {
    const end = clock.now + ms
    while (clock.now < end) {
      clock.now = Math.min(end, clock.now + step)
      wheel.advance()
    }
  }
  return { clock, fired, wheel, run }
}

void t.test('fires in deadline order, within one tick late, never early', t => {
  const { clock, fired, wheel, run } = harness()
  const deadlines = new Map<number, number>()
  // Deadlines from 0 ms to 3 s, in a scrambled order, some sharing a tick.
  for (let id = 0; id < 200; id++) {
    const delay = (id * 7919) % 3000
    wheel.schedule(id, delay)
    deadlines.set(id, clock.now + delay)
  }
  t.equal(wheel.size, 200)
  run(3200, 3)
  t.equal(fired.length, 200, 'all fired')
  t.equal(wheel.size, 0)
  let early = 0
  let late = 0
  let disorder = 0
  for (let i = 0; i < fired.length; i++) {
    const [id, at] = fired[i]!
    const d = deadlines.get(id)!
    if (at < d) early++
    if (at > d + 100 + 3) late++ // one tick, plus the test's clock step
    if (i > 0 && Math.ceil((deadlines.get(fired[i - 1]![0])! - 1000) / 100) > Math.ceil((d - 1000) / 100)) disorder++
  }
  t.equal(early, 0, 'none early')
  t.equal(late, 0, 'none more than a tick late')
  t.equal(disorder, 0, 'tick order')
  t.end()
})

void t.test('same tick: schedule order; zero delay waits for the next tick', t => {
  const { fired, wheel, run } = harness()
  wheel.schedule(5, 150)
  wheel.schedule(3, 120)
  wheel.schedule(9, 199)
  wheel.schedule(1, 0)
  t.equal(wheel.advance(), 0, 'nothing fires inside the tick it was scheduled in')
  run(100, 100)
  t.same(fired.map(f => f[0]), [1], 'zero delay fires at the next tick')
  run(100, 100)
  t.same(fired.map(f => f[0]), [1, 5, 3, 9], 'timers of one tick fire in schedule order')
  t.end()
})

void t.test('exact boundaries: a deadline on a tick fires on that tick', t => {
  const { clock, fired, wheel } = harness()
  wheel.schedule(1, 200) // deadline 1200 = tick 2 exactly
  clock.now = 1199.999
  wheel.advance()
  t.same(fired, [], 'not at 1199.999')
  clock.now = 1200
  wheel.advance()
  t.same(fired, [[1, 1200]])
  // Fractional resolutions where division rounds: still never early.
  const h = harness({ resolution: 0.1 })
  for (let id = 0; id < 100; id++) h.wheel.schedule(id, id * 0.3)
  const deadline = (id: number): number => 1000 + id * 0.3
  for (let step = 0; step < 400; step++) {
    h.clock.now = 1000 + step * 0.1
    h.wheel.advance()
  }
  t.equal(h.fired.length, 100)
  t.equal(h.fired.filter(([id, at]) => at < deadline(id)).length, 0, 'none early at 0.1 ms resolution')
  t.end()
})

void t.test('cancel and reschedule', t => {
  const { clock, fired, wheel, run } = harness()
  wheel.schedule(1, 500)
  wheel.schedule(2, 500)
  wheel.schedule(3, 500)
  t.ok(wheel.cancel(2))
  t.notOk(wheel.cancel(2), 'second cancel is a no-op')
  t.notOk(wheel.cancel(999), 'never scheduled')
  t.notOk(wheel.cancel(-1))
  t.notOk(wheel.cancel(5000))
  wheel.schedule(3, 1000) // reschedule later
  wheel.schedule(1, 100) // reschedule earlier
  t.equal(wheel.size, 2)
  t.ok(wheel.isScheduled(1))
  t.notOk(wheel.isScheduled(2))
  t.ok(wheel.deadlineOf(1) >= clock.now + 100)
  t.equal(wheel.deadlineOf(2), -1)
  run(300)
  t.same(fired.map(f => f[0]), [1])
  run(800)
  t.same(fired.map(f => f[0]), [1, 3])
  t.equal(wheel.size, 0)
  wheel.schedule(4, 100)
  wheel.clear()
  t.equal(wheel.size, 0)
  t.notOk(wheel.isScheduled(4))
  run(500)
  t.same(fired.map(f => f[0]), [1, 3], 'nothing after clear')
  t.end()
})

void t.test('long timeouts spanning many turns of the wheel', t => {
  // 16 slots × 100 ms: a turn is 1.6 s; 60 s is 37.5 turns.
  const { clock, fired, wheel, run } = harness()
  const start = clock.now
  wheel.schedule(7, 60_000)
  wheel.schedule(8, 1_650) // one turn plus half a tick: shares buckets with 7 on the way
  wheel.schedule(9, 16 * 100 * 10) // exactly ten turns
  run(59_000, 50)
  t.same(fired.map(f => f[0]), [8, 9])
  t.ok(fired[0]![1] >= start + 1650 && fired[1]![1] >= start + 16_000)
  run(1_200, 50)
  t.same(fired.map(f => f[0]), [8, 9, 7])
  t.ok(fired[2]![1] >= start + 60_000 && fired[2]![1] <= start + 60_100)
  t.end()
})

void t.test('a stalled event loop: catch-up fires everything due, in order within a turn', t => {
  const { clock, fired, wheel } = harness()
  for (let id = 0; id < 10; id++) wheel.schedule(id, 100 + id * 100)
  wheel.schedule(50, 10_000)
  clock.now += 1_000 // ten ticks at once
  t.equal(wheel.advance(), 10)
  t.same(fired.map(f => f[0]), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  clock.now += 100_000 // many turns at once
  t.equal(wheel.advance(), 1)
  t.equal(fired.at(-1)![0], 50)
  t.end()
})

void t.test('callbacks may reschedule themselves and cancel others; a throw defers the rest', t => {
  const clock = { now: 0 }
  const log: number[] = []
  let fail = true
  const wheel: TimerWheel = new TimerWheel({
    capacity: 10,
    slots: 8,
    now: () => clock.now,
    fire: id => {
      log.push(id)
      if (id === 0 && log.filter(x => x === 0).length < 3) wheel.schedule(0, 100) // periodic
      if (id === 1) wheel.cancel(2) // 2 is due in the same tick, already on the firing list
      if (id === 3 && fail) { fail = false; throw new Error('boom') }
    }
  })
  wheel.schedule(0, 100)
  wheel.schedule(1, 100)
  wheel.schedule(2, 100)
  wheel.schedule(3, 100)
  wheel.schedule(4, 100)
  clock.now = 100
  t.throws(() => wheel.advance(), /boom/)
  t.same(log, [0, 1, 3])
  t.ok(wheel.isScheduled(4), '4 still pending on the firing list')
  clock.now = 200
  wheel.advance()
  t.same(log, [0, 1, 3, 4, 0], 'the deferred one first, then the next tick')
  clock.now = 300
  wheel.advance()
  clock.now = 400
  wheel.advance()
  t.same(log, [0, 1, 3, 4, 0, 0], 'the periodic timer stopped itself after three runs')
  t.equal(wheel.size, 0)
  t.end()
})

void t.test('start/stop drive advance through an injected tick source, unref by default', t => {
  let tick: (() => void) | undefined
  let stopped = 0
  const clock = { now: 0 }
  const fired: number[] = []
  const wheel = new TimerWheel({
    capacity: 4,
    now: () => clock.now,
    fire: id => fired.push(id),
    ticks: (fn, ms) => { t.equal(ms, 100); tick = fn; return () => { stopped++ } }
  })
  wheel.start()
  wheel.start()
  wheel.schedule(2, 250)
  clock.now = 300
  tick!()
  t.same(fired, [2])
  wheel.stop()
  wheel.stop()
  t.equal(stopped, 1)
  // The real tick source must not keep the process alive: a ref'd timer shows up as an active
  // 'Timeout' resource, an unref'd one does not.
  const timeouts = (): number => process.getActiveResourcesInfo().filter(r => r === 'Timeout').length
  const before = timeouts()
  const real = new TimerWheel({ capacity: 1, fire: () => {} })
  real.start()
  t.equal(timeouts(), before, 'the interval is unref\'d')
  real.stop()
  t.end()
})

void t.test('ids and options are checked with coded errors', t => {
  const { wheel } = harness()
  for (const id of [-1, 1000, 1.5, Number.NaN]) t.throws(() => wheel.schedule(id, 10), { code: TIMER_ID_RANGE }, `id ${id}`)
  for (const d of [-1, Number.NaN, Infinity]) t.throws(() => wheel.schedule(1, d), { code: TIMER_OPTIONS }, `delay ${d}`)
  t.throws(() => wheel.scheduleAt(1, Number.NaN), { code: TIMER_OPTIONS })
  t.equal(wheel.size, 0, 'failed schedules leave nothing behind')
  for (const o of [{ capacity: 0 }, { slots: 3 }, { resolution: 0 }]) {
    t.throws(() => new TimerWheel({ capacity: 1, fire: () => {}, ...o }), { code: TIMER_OPTIONS }, JSON.stringify(o))
  }
  t.ok(wheel.externalBytes > 0)
  t.end()
})
