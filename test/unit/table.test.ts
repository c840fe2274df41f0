import t from 'tap'
import {
  SessionTable, FULL, DUPLICATE, NOT_FOUND, SESSION_TABLE_FULL, SESSION_TABLE_OPTIONS, sessionTableFull
} from '../../src/table/index.ts'
import { isMegaphoneError } from '../../src/errors.ts'

/** xorshift32: a seeded, reproducible workload. */
function rng (seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    return x
  }
}

/** Keys whose home slot is `home`, found by search (the hash is fixed and public). */
function keysWithHome (table: SessionTable, home: number, n: number, start = 1): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let lo = start; out.length < n; lo++) {
    if (table.homeSlot(7, lo) === home) out.push([7, lo])
  }
  return out
}

/** Invariant 2: every key is still reachable from its home slot. Returns the keys lost. */
function lostKeys (table: SessionTable, model: Map<string, number>): number {
  let lost = 0
  for (const [k, row] of model) {
    const [hi, lo] = k.split(':').map(Number) as [number, number]
    if (table.lookup(hi, lo) !== row) lost++
  }
  return lost
}

void t.test('seeded random workload against a Map model', t => {
  for (const [maxSessions, maxLoad, keySpace, ops] of [[5000, 0.9, 8000, 400_000], [200_000, 0.5, 300_000, 2_000_000]] as const) {
    const table = new SessionTable({ maxSessions, maxLoad })
    const model = new Map<string, number>()
    const rows = new Set<number>()
    const next = rng(0xC0FFEE + maxSessions)
    let mismatches = 0
    for (let n = 0; n < ops; n++) {
      const r = next()
      // Small key space so inserts hit duplicates and deletes hit live keys often.
      const lo = r % keySpace
      const hi = (lo * 2654435761) >>> 0
      const k = `${hi}:${lo}`
      const op = next() % 3
      if (op === 0) {
        const got = table.insert(hi, lo)
        if (model.has(k)) {
          if (got !== DUPLICATE) mismatches++
        } else if (model.size === maxSessions) {
          if (got !== FULL) mismatches++
        } else {
          if (got < 0 || rows.has(got)) mismatches++
          model.set(k, got)
          rows.add(got)
        }
      } else if (op === 1) {
        if (table.lookup(hi, lo) !== (model.get(k) ?? NOT_FOUND)) mismatches++
      } else {
        const want = model.get(k) ?? NOT_FOUND
        if (table.delete(hi, lo) !== want) mismatches++
        if (want >= 0) {
          model.delete(k)
          rows.delete(want)
        }
      }
      if (table.size !== model.size) mismatches++
    }
    t.equal(mismatches, 0, `${ops} ops at maxLoad ${maxLoad}: no mismatch`)
    t.equal(lostKeys(table, model), 0, 'every model key found at its row')
    t.equal(table.size, model.size)
    const stats = table.probeStats()
    t.ok(stats.max <= table.maxProbeSeen, 'live max probe ≤ high-water mark')
    t.ok(stats.mean >= 1, 'mean probe ≥ 1')
    t.ok(table.loadFactor <= maxLoad, 'load factor within maxLoad')
  }
  t.end()
})

void t.test('full capacity at the default size stays within a short probe', t => {
  const table = new SessionTable()
  t.equal(table.capacity, 1_000_000)
  t.equal(table.slotCount, 2 ** 21)
  const next = rng(42)
  const keys = new Uint32Array(table.capacity * 2)
  for (let i = 0; i < keys.length; i++) keys[i] = next()
  for (let i = 0; i < table.capacity; i++) {
    const row = table.insert(keys[2 * i]!, keys[2 * i + 1]!)
    if (row !== i) { t.fail(`insert ${i} gave ${row}`); t.end(); return }
  }
  t.equal(table.insert(1, 2), FULL, 'one more is refused')
  let bad = 0
  for (let i = 0; i < table.capacity; i++) if (table.lookup(keys[2 * i]!, keys[2 * i + 1]!) !== i) bad++
  t.equal(bad, 0, 'every key found at its row')
  const stats = table.probeStats()
  t.ok(stats.mean < 2, `mean probe ${stats.mean.toFixed(3)} < 2 at load ${table.loadFactor.toFixed(3)}`)
  t.ok(stats.max < 64, `max probe ${stats.max}`)
  for (let i = 0; i < table.capacity; i += 2) table.deleteRow(i)
  bad = 0
  for (let i = 0; i < table.capacity; i++) {
    const want = i % 2 === 0 ? NOT_FOUND : i
    if (table.lookup(keys[2 * i]!, keys[2 * i + 1]!) !== want) bad++
  }
  t.equal(bad, 0, 'after deleting every other row the rest are intact')
  t.end()
})

void t.test('wraparound at the end of the slot array', t => {
  const table = new SessionTable({ maxSessions: 8 })
  t.equal(table.slotCount, 16)
  const last = table.slotCount - 1
  const ks = keysWithHome(table, last, 3)
  const rows = ks.map(([hi, lo]) => table.insert(hi, lo))
  t.same(rows, [0, 1, 2])
  ks.forEach(([hi, lo], i) => t.equal(table.lookup(hi, lo), rows[i], `key ${i} found across the wrap`))
  t.same(table.probeStats(), { mean: 2, max: 3 }, 'probes 1, 2, 3')
  // A key homed at slot 0 now sits after the wrapped run.
  const [k0] = keysWithHome(table, 0, 1)
  const r0 = table.insert(k0![0], k0![1])
  t.equal(table.delete(ks[0]![0], ks[0]![1]), rows[0], 'delete the head of the wrapped run')
  t.equal(table.lookup(ks[1]![0], ks[1]![1]), rows[1])
  t.equal(table.lookup(ks[2]![0], ks[2]![1]), rows[2])
  t.equal(table.lookup(k0![0], k0![1]), r0)
  // Slots 15, 0, 1 now hold probes 1, 2 and (k0, homed at 0) 2: all three moved back one.
  t.same(table.probeStats(), { mean: 5 / 3, max: 2 }, 'entries shifted back across the wrap')
  t.end()
})

void t.test('deletion keeps chains intact (backward shift, no tombstones)', t => {
  const table = new SessionTable({ maxSessions: 32 })
  // Two interleaved runs: three keys homed at 5, two at 6, one at 9.
  const a = keysWithHome(table, 5, 3)
  const b = keysWithHome(table, 6, 2)
  const c = keysWithHome(table, 9, 1)
  const all = [a[0]!, b[0]!, a[1]!, b[1]!, a[2]!, c[0]!]
  const rows = all.map(([hi, lo]) => table.insert(hi, lo))
  t.ok(rows.every(r => r >= 0))
  const deleted = new Set<number>()
  for (const victim of [2, 0, 5, 1]) {
    t.equal(table.delete(all[victim]![0], all[victim]![1]), rows[victim])
    deleted.add(victim)
    all.forEach(([hi, lo], i) => {
      t.equal(table.lookup(hi, lo), deleted.has(i) ? NOT_FOUND : rows[i], `after deleting ${victim}, key ${i}`)
    })
    t.ok(table.probeStats().max <= table.size, 'no run longer than the live entries (no tombstones)')
  }
  t.equal(table.size, 2)
  t.equal(table.delete(all[0]![0], all[0]![1]), NOT_FOUND, 'deleting twice finds nothing')
  t.equal(table.deleteRow(rows[0]!), false)
  t.end()
})

void t.test('full table refuses and leaves entries untouched', t => {
  const table = new SessionTable({ maxSessions: 4 })
  const rows = [1, 2, 3, 4].map(k => table.insert(k, k))
  t.same(rows, [0, 1, 2, 3])
  t.equal(table.insert(99, 99), FULL)
  t.equal(table.insert(1, 1), FULL, 'full is checked first, even for a present key')
  t.equal(table.size, 4)
  for (const k of [1, 2, 3, 4]) t.equal(table.lookup(k, k), k - 1)
  const err = sessionTableFull(table.capacity)
  t.ok(isMegaphoneError(err))
  t.equal(err.code, SESSION_TABLE_FULL)
  table.deleteRow(1)
  t.equal(table.insert(99, 99), 1, 'a freed row is reused once the ring reaches it')
  t.equal(table.insert(2, 2), FULL)
  t.end()
})

void t.test('duplicates, verifier and the 32-bit boundary', t => {
  const table = new SessionTable({ maxSessions: 16 })
  const row = table.insert(0xffffffff, 0x80000000, 0xdeadbeef, 0x01020304)
  t.equal(table.insert(-1, -0x80000000), DUPLICATE, 'signed views of the same key are the same key')
  t.equal(table.lookup(0xffffffff, 0x80000000), row)
  t.equal(table.find(0xffffffff, 0x80000000, 0xdeadbeef, 0x01020304), row)
  t.equal(table.find(0xffffffff, 0x80000000, 0xdeadbeef, 0x01020305), NOT_FOUND, 'one verifier bit off')
  t.equal(table.find(0xffffffff, 0x80000000, 0, 0x01020304), NOT_FOUND)
  t.equal(table.insert(0, 0), 1, 'the all-zero key is a key like any other')
  t.equal(table.lookup(0, 0), 1)
  t.end()
})

void t.test('rows: FIFO reuse, generations and connection ids', t => {
  const table = new SessionTable({ maxSessions: 3 })
  const a = table.insert(1, 1)
  const idA = table.connectionId(a)
  t.equal(idA, 1, 'first id of row 0 is 1 (0 is the link control id)')
  t.equal(table.rowOfConnection(idA), a)
  table.deleteRow(a)
  t.equal(table.connectionId(a), 0, 'no id for a free row')
  t.equal(table.rowOfConnection(idA), NOT_FOUND, 'stale id')
  const b = table.insert(2, 2)
  t.equal(b, 1, 'FIFO: the next row, not the one just freed')
  table.insert(3, 3)
  const a2 = table.insert(4, 4)
  t.equal(a2, 0, 'row 0 again once the ring wraps')
  const idA2 = table.connectionId(a2)
  t.not(idA2, idA, 'new generation, new id')
  t.equal(table.rowOfConnection(idA2), a2)
  t.equal(table.rowOfConnection(idA), NOT_FOUND)
  for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 53, 4]) t.equal(table.rowOfConnection(bad), NOT_FOUND, `id ${bad}`)
  const ids = new Set<number>()
  const big = new SessionTable({ maxSessions: 5 })
  for (let n = 0; n < 1000; n++) {
    const r = big.insert(n, 0)
    ids.add(big.connectionId(r))
    if (n >= 3) big.delete(n - 3, 0)
  }
  t.equal(ids.size, 1000, 'ids never repeat')
  t.ok([...ids].every(id => id >= 1 && Number.isSafeInteger(id)))
  t.end()
})

void t.test('columns, iteration and clear', t => {
  const table = new SessionTable({ maxSessions: 10 })
  const rid = table.column(Float64Array)
  t.equal(rid.length, 10)
  for (let k = 0; k < 6; k++) rid[table.insert(k, k)] = 1000 + k
  table.delete(2, 2)
  const seen: number[] = []
  table.forEachRow(r => { seen.push(r); if (r === 3) table.deleteRow(r) })
  t.same(seen, [0, 1, 3, 4, 5], 'live rows in order; deleting the current row is safe')
  t.equal(rid[table.lookup(5, 5)], 1005)
  table.clear()
  t.equal(table.size, 0)
  t.equal(table.lookup(0, 0), NOT_FOUND)
  t.same(table.probeStats(), { mean: 0, max: 0 })
  t.ok(table.externalBytes > 0)
  t.end()
})

void t.test('options are validated with a coded error', t => {
  for (const opts of [{ maxSessions: 0 }, { maxSessions: 1.5 }, { maxSessions: 2 ** 26 }, { maxLoad: 0 }, { maxLoad: 0.95 }]) {
    t.throws(() => new SessionTable(opts), { code: SESSION_TABLE_OPTIONS }, JSON.stringify(opts))
  }
  const one = new SessionTable({ maxSessions: 1 })
  t.equal(one.insert(5, 5), 0)
  t.equal(one.insert(6, 6), FULL)
  t.end()
})

void t.test('keys round-trip through the permutation (record + slot tag)', t => {
  const table = new SessionTable({ maxSessions: 2000 })
  const next = rng(7)
  const keys: Array<[number, number, number, number]> = [
    [0, 0, 0, 0], [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0x80000000, 1, 2, 3], [1, 0x80000000, 0x7fffffff, 0x80000000]
  ]
  while (keys.length < 1500) keys.push([next(), next(), next(), next()])
  const rows = keys.map(([hi, lo, v0, v1]) => table.insert(hi, lo, v0, v1))
  t.ok(rows.every(r => r >= 0), 'all inserted')
  const out = new Uint32Array(4)
  let bad = 0
  keys.forEach(([hi, lo, v0, v1], i) => {
    const row = rows[i]!
    table.readRecord(row, out)
    if (out[0] !== hi || out[1] !== lo || out[2] !== v0 || out[3] !== v1) bad++
    if (table.keyHi(row) !== hi || table.keyLo(row) !== lo) bad++
    if (table.find(hi, lo, v0, v1) !== row) bad++
  })
  t.equal(bad, 0, 'readRecord, keyHi/keyLo and find agree with what was inserted')
  t.end()
})

void t.test('a freed row keeps no credential and verifies nothing', t => {
  const table = new SessionTable({ maxSessions: 4 })
  const row = table.insert(0x11111111, 0x22222222, 0x33333333, 0x44444444)
  t.ok(table.verify(row, 0x33333333, 0x44444444))
  t.notOk(table.verify(row, 0x33333333, 0x44444445), 'one bit off')
  table.deleteRow(row)
  const out = new Uint32Array(4).fill(9)
  table.readRecord(row, out)
  t.same([...out], [0, 0, 0, 0], 'no key or verifier left')
  t.equal(table.keyHi(row), 0)
  t.notOk(table.verify(row, 0, 0), 'a free row does not verify the all-zero verifier')
  t.notOk(table.verify(-1, 0, 0))
  t.notOk(table.verify(4, 0, 0), 'out of range')
  t.end()
})

void t.test('the free list is FIFO through the records', t => {
  const table = new SessionTable({ maxSessions: 4 })
  for (let k = 1; k <= 4; k++) table.insert(k, k)
  for (const row of [2, 0, 3]) table.deleteRow(row)
  t.same([table.insert(10, 10), table.insert(11, 11), table.insert(12, 12)], [2, 0, 3], 'reused in the order freed')
  t.equal(table.insert(13, 13), FULL)
  t.equal(table.lookup(2, 2), 1, 'the untouched row kept its key')
  t.end()
})

void t.test('generations carry from the genLow byte into the record', t => {
  const table = new SessionTable({ maxSessions: 1 })
  const ids: number[] = []
  for (let g = 0; g < 600; g++) {
    const row = table.insert(g, g)
    if (row !== 0) { t.fail(`use ${g} got row ${row}`); break }
    ids.push(table.connectionId(row))
    table.deleteRow(row)
  }
  // One row: rowBits = 1, so the id of generation g is g * 2 + 1.
  t.same(ids.slice(254, 259), [509, 511, 513, 515, 517], 'continuous across the 255 → 256 carry')
  t.ok(ids.every((id, g) => id === g * 2 + 1), 'every generation in order')
  const row = table.insert(1, 2)
  t.equal(table.rowOfConnection(ids[599]! + 2), row, 'the live id resolves')
  t.equal(table.rowOfConnection(ids[599]!), NOT_FOUND, 'the last stale one does not')
  t.equal(table.rowOfConnection(ids[300]!), NOT_FOUND)
  t.end()
})

void t.test('rows retire at maxGeneration; ids are never reused', t => {
  const table = new SessionTable({ maxSessions: 2, maxGeneration: 3 })
  t.equal(table.maxGeneration, 3)
  const ids = new Set<number>()
  let n = 0
  for (;;) {
    const row = table.insert(n, n)
    if (row === FULL) break
    ids.add(table.connectionId(row))
    t.ok(table.deleteRow(row))
    n++
  }
  t.equal(n, 8, 'each of 2 rows served generations 0..3')
  t.equal(ids.size, 8, 'eight distinct ids')
  t.equal(table.retiredRows, 2)
  t.equal(table.size, 0)
  for (const id of ids) t.equal(table.rowOfConnection(id), NOT_FOUND, `id ${id} stays dead`)
  t.end()
})

void t.test('maxGeneration is validated against what a row can hold', t => {
  const one = new SessionTable({ maxSessions: 1 })
  t.equal(one.maxGeneration, 2 ** 38 - 1, 'rowBits 1: 38 generation bits')
  t.equal(new SessionTable({ maxSessions: 1000 }).maxGeneration, 2 ** 29 - 1, 'rowBits 10')
  for (const maxGeneration of [-1, 1.5, 2 ** 38]) {
    t.throws(() => new SessionTable({ maxSessions: 1, maxGeneration }), { code: SESSION_TABLE_OPTIONS }, String(maxGeneration))
  }
  t.end()
})

void t.test('typed-array memory at the default size', t => {
  const table = new SessionTable()
  // 2^21 four-byte slots, a 16-byte record and one generation byte a row: 25.4 B a session.
  t.equal(table.externalBytes, 2 ** 21 * 4 + 1_000_000 * 17)
  t.end()
})
