/**
 * Session table vs. what a naive edge would write: a `Map` keyed by the sid string.
 *
 *   npm run bench:table            (node --expose-gc --import tsx bench/table.ts [sessions])
 *
 * Both sides hold the same 1,000,000 sessions. The rules that keep the comparison fair:
 *
 * - Same input for lookups: a fresh sid string, as a request brings it. Each lookup slices its
 *   32 characters out of one long string holding every sid (in shuffled order, since requests
 *   do not arrive in insertion order), the way the BOSH layer gets an attribute value out of a
 *   decoded body. A fresh string has no cached hash, so the Map hashes every lookup string and
 *   the registry parses every one; both pay the same slice.
 * - Memory counts what each side keeps, measured the same way (heap plus ArrayBuffer bytes,
 *   before and after, full GCs between): for the Map, the Map and its 32-character key strings
 *   (one flat string per session, made when the session is) with a small-integer value; for the
 *   table, the `SessionRegistry` and everything it allocates.
 * - Table and Map samples alternate (and swap which goes first), so load from other processes
 *   on the machine falls on both; each figure is the median of the samples, with the range.
 * - Inserts: `table.insert` of drawn sid words vs `Map.set` of a fresh sid string (the Map is
 *   spared the CSPRNG; `registry.open`, which draws its own sid, is shown as well). Deletes use
 *   what each side holds: the row for the table (timers and connection ids name rows), the
 *   stored key string for the Map (a session object keeps its sid).
 */
import { machineLine, measure, fmtRate, ratio } from './lib/report.ts'
import { SessionRegistry, SessionIds, formatSid, parseSid, SID_LENGTH } from '../src/table/index.ts'

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) {
  console.error('run with node --expose-gc --import tsx bench/table.ts (npm run bench:table)')
  process.exit(1)
}

/** Heap plus ArrayBuffer bytes after full collections. */
function settle (): number {
  for (let i = 0; i < 4; i++) gc!()
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

interface Rate { median: number, min: number, max: number }
function summary (rates: number[]): Rate {
  const s = [...rates].sort((a, b) => a - b)
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]! }
}

/** One timed call of `fn` (which performs `n` operations), as operations per second. */
function timed (fn: () => void, n: number): number {
  const start = performance.now()
  fn()
  return n / ((performance.now() - start) / 1000)
}

/**
 * Rates of `a` and `b` (each performing `n` operations a call), sampled alternately: warm-up
 * calls for both, then `samples` rounds of one call each, `a` first in even rounds and `b`
 * first in odd ones. `setupA`/`setupB` run untimed before each call (for operations that
 * cannot be repeated in place, such as filling a table).
 */
function paired (n: number, samples: number,
  a: () => void, b: () => void, setupA = (): void => {}, setupB = (): void => {}): [Rate, Rate] {
  for (let w = 0; w < 2; w++) { setupA(); a(); setupB(); b() }
  const ra: number[] = []
  const rb: number[] = []
  for (let s = 0; s < samples; s++) {
    if (s % 2 === 0) {
      setupA(); ra.push(timed(a, n))
      setupB(); rb.push(timed(b, n))
    } else {
      setupB(); rb.push(timed(b, n))
      setupA(); ra.push(timed(a, n))
    }
  }
  return [summary(ra), summary(rb)]
}

const N = Number(process.argv[2] ?? 1_000_000)
const SAMPLES = 7
console.log(machineLine())
console.log(`sessions: ${N.toLocaleString('en')}; fresh sid strings for every lookup; shuffled order; medians of ${SAMPLES} alternating samples (min-max)\n`)

// ---------------------------------------------------------------- memory
const m0 = settle()
const registry = new SessionRegistry({ maxSessions: N })
for (let i = 0; i < N; i++) registry.open()
const m1 = settle()
const tableBytes = m1 - m0
const table = registry.table
const probes = table.probeStats()

const m2 = settle()
const map = new Map<string, number>()
for (let row = 0; row < N; row++) map.set(registry.sidOf(row), row)
const m3 = settle()
const mapBytes = m3 - m2

console.log('memory per session (heap + ArrayBuffers, after full GC)')
console.log(`  SessionRegistry          ${(tableBytes / N).toFixed(1)} B  (typed arrays ${(table.externalBytes / N).toFixed(1)} B)`)
console.log(`  Map<sid string, row>     ${(mapBytes / N).toFixed(1)} B  (32-char key strings included)`)
console.log(`  ratio                    ${(tableBytes / mapBytes).toFixed(3)}x  (target ≤ 0.333x)`)
console.log(`probe length at load ${table.loadFactor.toFixed(3)}: mean ${probes.mean.toFixed(3)}, max ${probes.max}, insert high-water ${table.maxProbeSeen}\n`)

// ---------------------------------------------------------------- inputs
// Built after the memory figures so they count for no one.
const order = new Uint32Array(N)
for (let i = 0; i < N; i++) order[i] = i
for (let i = N - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1))
  const t = order[i]!; order[i] = order[j]!; order[j] = t
}
const keys: string[] = [] // the Map's own key strings, by row, for deletes
for (const k of map.keys()) keys.push(k)
const hitParts: string[] = []
for (let i = 0; i < N; i++) hitParts.push(registry.sidOf(order[i]!))
const hitSource = hitParts.join('')
hitParts.length = 0
const ids = new SessionIds()
const w = new Uint32Array(4)
const missParts: string[] = []
for (let i = 0; i < N; i++) { ids.generate(w); missParts.push(formatSid(w)) }
const missSource = missParts.join('')
missParts.length = 0
// The same inputs parsed, for the table-only figures.
const hitWords = new Uint32Array(N * 4)
const missWords = new Uint32Array(N * 4)
for (let i = 0; i < N; i++) {
  parseSid(hitSource.slice(i * SID_LENGTH, (i + 1) * SID_LENGTH), hitWords.subarray(i * 4, i * 4 + 4))
  parseSid(missSource.slice(i * SID_LENGTH, (i + 1) * SID_LENGTH), missWords.subarray(i * 4, i * 4 + 4))
}
let sink = 0

// ---------------------------------------------------------------- lookups
const [ourHit, mapHit] = paired(N, SAMPLES,
  () => { for (let i = 0; i < N; i++) sink += registry.find(hitSource.slice(i * SID_LENGTH, (i + 1) * SID_LENGTH)) },
  () => { for (let i = 0; i < N; i++) sink += map.get(hitSource.slice(i * SID_LENGTH, (i + 1) * SID_LENGTH)) ?? -1 })
const [ourMiss, mapMiss] = paired(N, SAMPLES,
  () => { for (let i = 0; i < N; i++) sink += registry.find(missSource.slice(i * SID_LENGTH, (i + 1) * SID_LENGTH)) },
  () => { for (let i = 0; i < N; i++) sink += map.get(missSource.slice(i * SID_LENGTH, (i + 1) * SID_LENGTH)) ?? -1 })

// Where the registry's time goes: the slice both sides pay, the parse, the table alone.
const opts = { warmupMs: 300, sampleMs: 500, samples: 5 }
const sliceOnly = measure(() => {
  for (let i = 0; i < N; i++) sink += hitSource.slice(i * SID_LENGTH, (i + 1) * SID_LENGTH).length
}, N, opts).median
const out = new Uint32Array(4)
const parseOnly = measure(() => {
  for (let i = 0; i < N; i++) { parseSid(hitSource.slice(i * SID_LENGTH, (i + 1) * SID_LENGTH), out); sink += out[0]! }
}, N, opts).median
const wordsHit = measure(() => {
  for (let i = 0; i < N; i++) { const b = i * 4; sink += table.find(hitWords[b]!, hitWords[b + 1]!, hitWords[b + 2]!, hitWords[b + 3]!) }
}, N, opts).median
const wordsMiss = measure(() => {
  for (let i = 0; i < N; i++) { const b = i * 4; sink += table.find(missWords[b]!, missWords[b + 1]!, missWords[b + 2]!, missWords[b + 3]!) }
}, N, opts).median

// ---------------------------------------------------------------- inserts, deletes
// A fresh table and Map, filled and emptied each pass.
const R = 5
const drawn = new Uint32Array(N * 4)
for (let i = 0; i < N; i++) { ids.generate(w); drawn.set(w, i * 4) }
const fresh = new SessionRegistry({ maxSessions: N })
const ft = fresh.table
const fill = new Map<string, number>()
const [ourInsert, mapInsert] = paired(N, R,
  () => { for (let i = 0; i < N; i++) { const b = i * 4; sink += ft.insert(drawn[b]!, drawn[b + 1]!, drawn[b + 2], drawn[b + 3]) } },
  () => { for (let i = 0; i < N; i++) fill.set(hitSource.slice(i * SID_LENGTH, (i + 1) * SID_LENGTH), i) },
  () => { ft.clear() }, () => { fill.clear() })
const opens: number[] = []
for (let r = 0; r <= R; r++) {
  ft.clear()
  const rate = timed(() => { for (let i = 0; i < N; i++) sink += fresh.open() }, N)
  if (r > 0) opens.push(rate) // the first pass warms up
}
const ourOpen = summary(opens)
const [ourDelete, mapDelete] = paired(N, R,
  () => { for (let i = 0; i < N; i++) sink += ft.deleteRow(order[i]!) ? 1 : 0 },
  () => { for (let i = 0; i < N; i++) sink += fill.delete(keys[order[i]!]!) ? 1 : 0 },
  () => { ft.clear(); for (let i = 0; i < N; i++) ft.insert(drawn[i * 4]!, drawn[i * 4 + 1]!, drawn[i * 4 + 2], drawn[i * 4 + 3]) },
  () => { fill.clear(); for (let i = 0; i < N; i++) fill.set(keys[i]!, i) })

const fmt = (r: Rate): string => `${fmtRate(r.median).padStart(9)}/s  (${fmtRate(r.min)}-${fmtRate(r.max)})`
const line = (name: string, r: Rate): void => { console.log(`  ${name.padEnd(46)} ${fmt(r)}`) }
const one = (name: string, r: number): void => { console.log(`  ${name.padEnd(46)} ${fmtRate(r).padStart(9)}/s`) }
console.log('lookups from a fresh sid string (same input both sides)')
line('registry.find(sid), hit: parse + find + verify', ourHit)
line('Map.get(sid), hit', mapHit)
line('registry.find(sid), miss', ourMiss)
line('Map.get(sid), miss', mapMiss)
console.log('where the registry\'s time goes (not paired with the Map: no ratio)')
one('slice alone (the input both sides pay)', sliceOnly)
one('slice + parseSid', parseOnly)
one('table.find on parsed words, hit', wordsHit)
one('table.find on parsed words, miss', wordsMiss)
console.log('inserts and deletes (1,000,000 a pass, empty ↔ full)')
line('table.insert(drawn sid words)', ourInsert)
line('registry.open() (CSPRNG + insert)', ourOpen)
line('Map.set(fresh sid string)', mapInsert)
line('table.deleteRow(row), shuffled', ourDelete)
line('Map.delete(stored key string), shuffled', mapDelete)

console.log('\nratios, ours / Map (targets: lookups ≥ 3x, memory ≤ 0.333x)')
console.log(`  hit lookup  ${ratio(ourHit.median, mapHit.median)}   miss lookup ${ratio(ourMiss.median, mapMiss.median)}`)
console.log(`  insert ${ratio(ourInsert.median, mapInsert.median)}   delete ${ratio(ourDelete.median, mapDelete.median)}`)
console.log(`  memory ${(tableBytes / mapBytes).toFixed(3)}x   (${(tableBytes / N).toFixed(1)} B vs ${(mapBytes / N).toFixed(1)} B a session)`)

if (sink === 0.5) console.log('unreachable: keeps the loops from being optimised away')
