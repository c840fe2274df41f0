/**
 * Timer wheel vs. setTimeout/clearTimeout, as a BOSH edge would use them: every held request
 * arms a deadline and nearly every one is cancelled (a response goes out before `wait` runs out).
 *
 *   node --expose-gc --import tsx bench/timers.ts
 *
 * - schedule+cancel: arm n timers with delays spread over 10-60 s, then cancel them all.
 * - memory: heap (and ArrayBuffer) bytes per armed timer after a full GC, n timers armed.
 * - idle tick: process CPU over 3 s of real time while the wheel's 100 ms interval runs with
 *   100,000 timers armed far in the future, and the same 3 s with nothing armed as the baseline.
 */
import { machineLine, measure, fmtRate, ratio } from './lib/report.ts'
import { TimerWheel } from '../src/timers/index.ts'

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) {
  console.error('run with node --expose-gc --import tsx bench/timers.ts')
  process.exit(1)
}
function settle (): number {
  for (let i = 0; i < 4; i++) gc!()
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

console.log(machineLine())
const noop = (): void => {}
let fired = 0

for (const n of [100_000, 1_000_000]) {
  const delays = new Float64Array(n)
  for (let i = 0; i < n; i++) delays[i] = 10_000 + ((i * 7919) % 50_000)
  const opts = { warmupMs: 300, sampleMs: 500, samples: 5 }

  const wheel = new TimerWheel({ capacity: n, fire: () => { fired++ } })
  const ours = measure(() => {
    for (let i = 0; i < n; i++) wheel.schedule(i, delays[i]!)
    for (let i = 0; i < n; i++) wheel.cancel(i)
  }, n, opts).median

  const handles: Array<NodeJS.Timeout | undefined> = new Array<NodeJS.Timeout | undefined>(n)
  const node = measure(() => {
    for (let i = 0; i < n; i++) handles[i] = setTimeout(noop, delays[i])
    for (let i = 0; i < n; i++) clearTimeout(handles[i])
  }, n, { ...opts, samples: 3 }).median
  handles.fill(undefined)

  // Memory with n armed: the wheel's arrays exist whether armed or not, so count them whole.
  const m0 = settle()
  const w2 = new TimerWheel({ capacity: n, fire: () => { fired++ } })
  for (let i = 0; i < n; i++) w2.schedule(i, delays[i]!)
  const m1 = settle()
  for (let i = 0; i < n; i++) handles[i] = setTimeout(noop, delays[i])
  const m2 = settle()
  for (let i = 0; i < n; i++) clearTimeout(handles[i])
  handles.fill(undefined)
  w2.clear()

  console.log(`\n${n.toLocaleString('en')} timers (schedule + cancel = 1 op)`)
  console.log(`  TimerWheel             ${fmtRate(ours).padStart(9)}/s   ${((m1 - m0) / n).toFixed(1)} B/timer (${w2.externalBytes} B typed arrays)`)
  console.log(`  setTimeout/clearTimeout${fmtRate(node).padStart(9)}/s   ${((m2 - m1) / n).toFixed(1)} B/timer`)
  console.log(`  ratio: ${ratio(ours, node)} the rate, ${ratio(m1 - m0, m2 - m1)} the memory`)
}

// Idle tick: real interval, real clock.
async function cpuOver (ms: number): Promise<number> {
  const start = process.cpuUsage()
  await new Promise(resolve => setTimeout(resolve, ms))
  const d = process.cpuUsage(start)
  return (d.user + d.system) / 1000
}
const span = 3000
const baseline = await cpuOver(span)
const idle = new TimerWheel({ capacity: 100_000, fire: () => { fired++ } })
for (let i = 0; i < 100_000; i++) idle.schedule(i, 3_600_000 + i)
idle.start()
const withWheel = await cpuOver(span)
idle.stop()
// The cost of one tick over a bucket, measured directly on a fake clock: 4096 ticks = one turn,
// every bucket visited once, with 100,000 timers armed an hour ahead (so each is walked once).
let clock = 0
const fake = new TimerWheel({ capacity: 100_000, fire: () => { fired++ }, now: () => clock })
for (let i = 0; i < 100_000; i++) fake.schedule(i, 3_600_000 + i)
const t0 = performance.now()
for (let k = 1; k <= 4096; k++) { clock = k * 100; fake.advance() }
const perTick = (performance.now() - t0) / 4096
console.log(`\nidle tick (100 ms resolution, 100,000 timers armed an hour ahead)`)
console.log(`  process CPU over ${span} ms: ${withWheel.toFixed(1)} ms with the wheel running, ${baseline.toFixed(1)} ms baseline (${((withWheel - baseline) / span * 100).toFixed(3)}% of a core)`)
console.log(`  advance() per tick on a fake clock: ${(perTick * 1000).toFixed(1)} µs (walks 1/4096 of the armed timers)`)
if (fired < 0) console.log('unreachable')
