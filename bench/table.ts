/**
 * Session table vs. what a naive edge would write: a `Map` keyed by the sid string.
 *
 *   node --expose-gc --import tsx bench/table.ts [sessions]
 *
 * Both sides hold the same 1,000,000 sessions, mapping a sid to a row index. Lookups run in a
 * shuffled order (requests do not arrive in insertion order). Memory is measured after a full GC:
 * the JS-heap delta, plus for our table the ArrayBuffer bytes it holds outside the heap.
 *
 * Caveat, in the Map's favour: the lookup strings are created once and reused across samples, so
 * V8 caches their hash after the first pass; a real request brings a fresh string that must be
 * hashed every time. Our string lookup (`registry.find`) parses the string every time.
 */
import { machineLine, measure, fmtRate, ratio } from './lib/report.ts'
import { SessionRegistry, SessionTable, SessionIds, formatSid } from '../src/table/index.ts'

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) {
  console.error('run with node --expose-gc --import tsx bench/table.ts')
  process.exit(1)
}

interface Mem { heap: number, external: number }
function settle (): Mem {
  for (let i = 0; i < 4; i++) gc!()
  const m = process.memoryUsage()
  return { heap: m.heapUsed, external: m.arrayBuffers }
}

/** Median rate over `rounds` single passes of a 1M-op function that cannot be repeated in place. */
function rounds (n: number, count: number, setup: () => void, fn: () => void): number {
  const rates: number[] = []
  for (let r = 0; r < count; r++) {
    setup()
    const start = performance.now()
    fn()
    rates.push(n / ((performance.now() - start) / 1000))
  }
  rates.sort((a, b) => a - b)
  return rates[Math.floor(rates.length / 2)]!
}

const N = Number(process.argv[2] ?? 1_000_000)
console.log(machineLine())
console.log(`sessions: ${N}; lookups in shuffled order; medians of samples\n`)

// Inputs, built before any baseline so they count for no one.
const ids = new SessionIds()
const words = new Uint32Array(N * 4)
const missWords = new Uint32Array(N * 4)
const w = new Uint32Array(4)
for (let i = 0; i < N; i++) {
  ids.generate(w); words.set(w, i * 4)
  ids.generate(w); missWords.set(w, i * 4)
}
const order = new Uint32Array(N)
for (let i = 0; i < N; i++) order[i] = i
for (let i = N - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1))
  const t = order[i]!; order[i] = order[j]!; order[j] = t
}
const hitStrings: string[] = []
const missStrings: string[] = []
for (let i = 0; i < N; i++) {
  hitStrings.push(formatSid(words.subarray(order[i]! * 4, order[i]! * 4 + 4)))
  missStrings.push(formatSid(missWords.subarray(i * 4, i * 4 + 4)))
}
let sink = 0

// ---------------------------------------------------------------- memory, probes
const m0 = settle()
const table = new SessionTable({ maxSessions: N })
for (let i = 0; i < N; i++) {
  const b = i * 4
  table.insert(words[b]!, words[b + 1]!, words[b + 2], words[b + 3])
}
const m1 = settle()
const ourHeap = m1.heap - m0.heap
const ourExternal = m1.external - m0.external
const ourBytes = ourHeap + ourExternal
const probes = table.probeStats()

const m2 = settle()
let stringMap: Map<string, number> | undefined = new Map<string, number>()
for (let i = 0; i < N; i++) stringMap.set(formatSid(words.subarray(i * 4, i * 4 + 4)), i)
const m3 = settle()
const mapBytes = m3.heap - m2.heap + (m3.external - m2.external)

const m4 = settle()
let bigMap: Map<bigint, number> | undefined = new Map<bigint, number>()
for (let i = 0; i < N; i++) bigMap.set((BigInt(words[i * 4]!) << 32n) | BigInt(words[i * 4 + 1]!), i)
const m5 = settle()
const bigBytes = m5.heap - m4.heap + (m5.external - m4.external)

console.log('memory per session (after full GC)')
console.log(`  session table          ${(ourBytes / N).toFixed(1)} B  (heap ${(ourHeap / N).toFixed(1)} B + typed arrays ${(ourExternal / N).toFixed(1)} B; table reports ${table.externalBytes} B external)`)
console.log(`  Map<sid string, row>   ${(mapBytes / N).toFixed(1)} B  (key strings included; ours is ${ratio(ourBytes, mapBytes)} of it)`)
console.log(`  Map<bigint key, row>   ${(bigBytes / N).toFixed(1)} B  (64-bit key only, no verifier; ours is ${ratio(ourBytes, bigBytes)} of it)`)
console.log(`probe length at load ${table.loadFactor.toFixed(3)}: mean ${probes.mean.toFixed(3)}, max ${probes.max}, high-water ${table.maxProbeSeen}\n`)

// ---------------------------------------------------------------- lookups
const opts = { warmupMs: 300, sampleMs: 500, samples: 5 }
const hitWords = new Uint32Array(N * 4)
for (let i = 0; i < N; i++) hitWords.set(words.subarray(order[i]! * 4, order[i]! * 4 + 4), i * 4)
const registry = new SessionRegistry({ maxSessions: N })
// The registry draws its own sids; give it ours so the same strings hit.
const reg = registry.table
for (let i = 0; i < N; i++) reg.insert(words[i * 4]!, words[i * 4 + 1]!, words[i * 4 + 2], words[i * 4 + 3])

const results: Array<[string, number]> = []
function run (name: string, fn: () => void): number {
  const r = measure(fn, N, opts).median
  results.push([name, r])
  return r
}
const ourHitWords = run('table.find, hit (parsed sid words)', () => {
  for (let i = 0; i < N; i++) { const b = i * 4; sink += table.find(hitWords[b]!, hitWords[b + 1]!, hitWords[b + 2]!, hitWords[b + 3]!) }
})
const ourMissWords = run('table.find, miss (parsed sid words)', () => {
  for (let i = 0; i < N; i++) { const b = i * 4; sink += table.find(missWords[b]!, missWords[b + 1]!, missWords[b + 2]!, missWords[b + 3]!) }
})
const ourHitStr = run('registry.find(sid string), hit: parse + find', () => {
  for (let i = 0; i < N; i++) sink += registry.find(hitStrings[i])
})
const ourMissStr = run('registry.find(sid string), miss: parse + find', () => {
  for (let i = 0; i < N; i++) sink += registry.find(missStrings[i])
})
const mapHit = run('Map<string>.get, hit', () => {
  for (let i = 0; i < N; i++) sink += stringMap!.get(hitStrings[i]!) ?? -1
})
const mapMiss = run('Map<string>.get, miss', () => {
  for (let i = 0; i < N; i++) sink += stringMap!.get(missStrings[i]!) ?? -1
})
const bigHit = run('Map<bigint>.get, hit (BigInt built per lookup)', () => {
  for (let i = 0; i < N; i++) { const b = i * 4; sink += bigMap!.get((BigInt(hitWords[b]!) << 32n) | BigInt(hitWords[b + 1]!)) ?? -1 }
})

// ---------------------------------------------------------------- inserts, deletes
const R = 5
const fresh = new SessionTable({ maxSessions: N })
const ourInsert = rounds(N, R, () => { fresh.clear() }, () => {
  for (let i = 0; i < N; i++) { const b = i * 4; sink += fresh.insert(words[b]!, words[b + 1]!, words[b + 2], words[b + 3]) }
})
const ourDelete = rounds(N, R, () => {
  fresh.clear()
  for (let i = 0; i < N; i++) { const b = i * 4; fresh.insert(words[b]!, words[b + 1]!, words[b + 2], words[b + 3]) }
}, () => {
  for (let i = 0; i < N; i++) { const b = i * 4; sink += fresh.delete(hitWords[b]!, hitWords[b + 1]!) }
})
// The Map is fed the hit strings (already hashed by the lookups: again in its favour).
const fill = new Map<string, number>()
const mapInsert = rounds(N, R, () => { fill.clear() }, () => {
  for (let i = 0; i < N; i++) fill.set(hitStrings[i]!, i)
})
const mapDelete = rounds(N, R, () => {
  fill.clear()
  for (let i = 0; i < N; i++) fill.set(hitStrings[i]!, i)
}, () => {
  for (let i = 0; i < N; i++) sink += fill.delete(hitStrings[i]!) ? 1 : 0
})
results.push(['table.insert (empty → full)', ourInsert], ['table.delete (shuffled)', ourDelete])
results.push(['Map<string>.set (empty → full)', mapInsert], ['Map<string>.delete (shuffled)', mapDelete])

console.log('operations per second')
for (const [name, r] of results) console.log(`  ${name.padEnd(48)} ${fmtRate(r).padStart(9)}/s`)
console.log('\nratios (ours / Map<sid string>)')
console.log(`  hit lookup   words ${ratio(ourHitWords, mapHit)}   from string ${ratio(ourHitStr, mapHit)}`)
console.log(`  miss lookup  words ${ratio(ourMissWords, mapMiss)}   from string ${ratio(ourMissStr, mapMiss)}`)
console.log(`  insert ${ratio(ourInsert, mapInsert)}   delete ${ratio(ourDelete, mapDelete)}   Map<bigint> hit lookup: ours ${ratio(ourHitWords, bigHit)}`)
console.log(`  memory: ours ${ratio(ourBytes, mapBytes)} of Map<sid string>`)

stringMap = undefined
bigMap = undefined
if (sink === 0.5) console.log('unreachable: keeps the loops from being optimised away')
