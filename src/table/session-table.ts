/**
 * The session table: every live session of the edge, found by its 64-bit key in O(1) without
 * allocating, in a fixed amount of memory reserved at start-up.
 *
 * Two structures, because an open-addressed table moves its entries and the rest of the edge
 * must not notice:
 *
 *   hash slots (Uint32Array, 2^21 for 1M sessions)        rows (stable; dense; free list)
 *   +-------+-------+-------+-------+-------+-------+     row  record (Uint32Array, 4 words)
 *   |   0   | t|r+1 | t|r+1 |   0   | t|r+1 |   0   |      0   [keyHi keyLo ver0 ver1]
 *   +-------+---|---+---|---+-------+---|---+-------+      1   [keyHi keyLo ver0 ver1]  <--+
 *               |       +---------------|-----------------> 2   [.....free..........]     |
 *               +-----------------------|-------------------------------------------------+
 *                                       +-----------------> ...  state[] (generation, live),
 *                                                                columns owned by BOSH/WS
 *
 * - A *slot* is one 32-bit word: 0 when empty, else `(tag << rowBits) | (row + 1)`. The tag is
 *   `32 - rowBits` bits of the key's hash (12 bits at 1M sessions), so a probe that passes
 *   over another key's slot almost never (1 in 4096) has to read that key's row record: a miss
 *   costs one cache line, a hit two (the slot, then the row record, which also holds the
 *   verifier the caller compares next). Measured on the dev box against the alternatives
 *   (docs/session-table.md): keys interleaved in 16-byte slots are as fast on hits, 15% slower
 *   on misses and 4x the slot memory; BigUint64Array keys are 5x slower because every lookup
 *   builds a BigInt.
 * - A *row* is a stable index 0..capacity-1. Backward-shift deletion moves slot words, never
 *   rows, so the BOSH layer may keep `row` in its own typed-array columns, timers and the link's
 *   connection id. Rows come from a FIFO ring of free rows, so a freed row is reused as late as
 *   possible (a stale id held somewhere fails the generation check for as long as possible).
 *
 * Why the constants have their values:
 * - maxLoad 0.5: linear probing costs ½(1 + 1/(1-α)) slots per hit and ½(1 + 1/(1-α)²) per miss;
 *   at α = 0.5 that is 1.5 and 2.5, at 0.75 it is 2.5 and 8.5. A slot is 4 bytes, so halving the
 *   load costs 4 bytes per session: cheap for flat latency. Slots round up to a power of two so
 *   the home slot is a shift of the hash and the wrap is a mask; 1,000,000 sessions → 2^21.
 * - 4-word row record: key (2 words) plus the 64-bit verifier, 16 bytes, a quarter of a cache
 *   line and aligned to it, so verifying a hit touches no second line.
 * - rowBits ≤ 26: leaves a tag of ≥ 6 bits and keeps `generation * 2^rowBits + row + 1` (the
 *   connection id) below 2^53 for ≥ 2^26 generations per row.
 *
 * Invariants (checked by test/unit/table.test.ts against a Map model):
 * 1. No two occupied slots hold the same key; `size` = occupied slots = live rows.
 * 2. Every key sits in the probe run that starts at its home slot: every slot from the home slot
 *    up to the key's slot (cyclically) is occupied. Deletion restores this by shifting later
 *    entries of the run back (Knuth 6.4 Algorithm R), so there are no tombstones and a lookup
 *    never probes further than the longest run.
 * 3. `size <= capacity < slotCount`, hence at least one slot is empty and every probe loop ends.
 * 4. A row is live iff exactly one slot names it iff bit 0 of `state[row]` is set; the bits above
 *    are its generation, which changes on every release.
 *
 * Keys are the first 64 random bits of a sid (./sid.ts), which the edge generates itself, so
 * nobody can choose keys that collide; the hash still mixes both halves so the table stays sound
 * for any key. Lookups of attacker-chosen keys only walk existing runs, whose length the random
 * keys bound (see `probeStats`).
 */
import { MegaphoneError } from '../errors.ts'

/** `lookup`, `delete` and `find`: no such key (or, for `find`, the verifier did not match). */
export const NOT_FOUND = -1
/** `insert`: every row is taken. Existing entries are untouched. */
export const FULL = -2
/** `insert`: the key is already present (a 2^-64 event for random keys: draw another sid). */
export const DUPLICATE = -3

/** Stable error codes, for the layer that turns a sentinel into an error. */
export const SESSION_TABLE_FULL = 'SESSION_TABLE_FULL'
export const SESSION_TABLE_OPTIONS = 'SESSION_TABLE_OPTIONS'

export const DEFAULT_MAX_SESSIONS = 1_000_000
export const DEFAULT_MAX_LOAD = 0.5
const MAX_ROW_BITS = 26
const MAX_SLOT_BITS = 30
const RECORD_WORDS = 4

export interface SessionTableOptions {
  /** Rows, i.e. the most sessions the table holds before refusing. Default 1,000,000. */
  maxSessions?: number
  /** Highest ratio of sessions to slots, in (0, 0.9]. Default 0.5. */
  maxLoad?: number
}

export interface ProbeStats {
  /** Mean slots examined by a successful lookup (1 = found in its home slot). 0 when empty. */
  mean: number
  /** Longest such probe currently in the table. */
  max: number
}

/** Any typed array constructor, for `column()`. */
export type ColumnConstructor<T> = new (length: number) => T

/** The coded error for a refused insert; `insert` itself returns `FULL` and never throws. */
export function sessionTableFull (capacity: number): MegaphoneError {
  return new MegaphoneError(SESSION_TABLE_FULL, `session table full (${capacity} sessions)`)
}

/**
 * murmur3's fmix32 over both halves. The home slot takes the top bits, the tag the low bits.
 */
export function hashKey (hi: number, lo: number): number {
  let h = Math.imul(hi, 0x9e3779b1) ^ lo
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

export class SessionTable {
  /** Rows: the most sessions the table holds. */
  readonly capacity: number
  /** Hash slots, a power of two > capacity. */
  readonly slotCount: number

  private readonly slotMask: number
  private readonly slotShift: number
  private readonly rowBits: number
  private readonly rowMask: number
  private readonly tagMask: number
  private readonly rowSpan: number
  private readonly maxGeneration: number

  private readonly slots: Uint32Array
  private readonly records: Uint32Array
  /** Per row: bit 0 live, bits 1..31 generation. One array, so insert/delete touch one line. */
  private readonly state: Uint32Array
  private readonly freeRing: Int32Array
  private freeHead = 0
  private freeCount: number
  private retired = 0
  private count = 0
  private longestProbe = 0

  constructor ({ maxSessions = DEFAULT_MAX_SESSIONS, maxLoad = DEFAULT_MAX_LOAD }: SessionTableOptions = {}) {
    if (!Number.isInteger(maxSessions) || maxSessions < 1 || maxSessions >= 2 ** MAX_ROW_BITS) {
      throw new MegaphoneError(SESSION_TABLE_OPTIONS, `maxSessions must be an integer in [1, 2^${MAX_ROW_BITS}), got ${maxSessions}`)
    }
    if (!(maxLoad > 0 && maxLoad <= 0.9)) {
      throw new MegaphoneError(SESSION_TABLE_OPTIONS, `maxLoad must be in (0, 0.9], got ${maxLoad}`)
    }
    const slotBits = Math.max(1, Math.ceil(Math.log2(Math.ceil(maxSessions / maxLoad))))
    if (slotBits > MAX_SLOT_BITS) {
      throw new MegaphoneError(SESSION_TABLE_OPTIONS, `maxSessions / maxLoad needs 2^${slotBits} slots, above 2^${MAX_SLOT_BITS}`)
    }
    this.capacity = maxSessions
    this.slotCount = 2 ** slotBits
    this.slotMask = this.slotCount - 1
    this.slotShift = 32 - slotBits
    // row + 1 must fit, hence bits for `capacity`, not `capacity - 1`.
    this.rowBits = 32 - Math.clz32(maxSessions)
    this.rowSpan = 2 ** this.rowBits
    this.rowMask = this.rowSpan - 1
    this.tagMask = 2 ** (32 - this.rowBits) - 1
    this.maxGeneration = Math.min(2 ** 31 - 1, 2 ** (53 - this.rowBits) - 1)

    this.slots = new Uint32Array(this.slotCount)
    this.records = new Uint32Array(maxSessions * RECORD_WORDS)
    this.state = new Uint32Array(maxSessions)
    this.freeRing = new Int32Array(maxSessions)
    for (let r = 0; r < maxSessions; r++) this.freeRing[r] = r
    this.freeCount = maxSessions
  }

  /** Live sessions. */
  get size (): number { return this.count }

  /** `size / slotCount`; never above the configured maxLoad. */
  get loadFactor (): number { return this.count / this.slotCount }

  /** Rows retired because their generation ran out (see `deleteRow`); 0 in practice. */
  get retiredRows (): number { return this.retired }

  /**
   * Longest probe (slots examined) any insert has needed since construction or
   * `resetProbeHighWater()`. A cheap high-water mark for metrics; deletions can only shorten
   * runs, so the live maximum (`probeStats().max`) is never above it.
   */
  get maxProbeSeen (): number { return this.longestProbe }

  resetProbeHighWater (): void { this.longestProbe = this.probeStats().max }

  /**
   * Adds a key and returns its row, or `FULL` / `DUPLICATE`. The verifier words are stored in
   * the row record for `find` to compare. Allocates nothing.
   */
  insert (keyHi: number, keyLo: number, ver0 = 0, ver1 = 0): number {
    if (this.freeCount === 0) return FULL
    const hi = keyHi >>> 0
    const lo = keyLo >>> 0
    const slots = this.slots
    const records = this.records
    const rowBits = this.rowBits
    const rowMask = this.rowMask
    const mask = this.slotMask
    const h = hashKey(hi, lo)
    const tag = h & this.tagMask
    let i = h >>> this.slotShift
    let probes = 1
    for (;;) {
      const w = slots[i]!
      if (w === 0) break
      if (w >>> rowBits === tag) {
        const b = ((w & rowMask) - 1) * RECORD_WORDS
        if (records[b] === hi && records[b + 1] === lo) return DUPLICATE
      }
      i = (i + 1) & mask
      probes++
    }
    const row = this.freeRing[this.freeHead]!
    this.freeHead = this.freeHead + 1 === this.capacity ? 0 : this.freeHead + 1
    this.freeCount--
    const b = row * RECORD_WORDS
    records[b] = hi
    records[b + 1] = lo
    records[b + 2] = ver0
    records[b + 3] = ver1
    this.state[row]! |= 1
    slots[i] = (tag << rowBits) | (row + 1)
    this.count++
    if (probes > this.longestProbe) this.longestProbe = probes
    return row
  }

  /** The row of a key, or `NOT_FOUND`. Does not check the verifier: see `find`. */
  lookup (keyHi: number, keyLo: number): number {
    const hi = keyHi >>> 0
    const lo = keyLo >>> 0
    const slots = this.slots
    const records = this.records
    const rowBits = this.rowBits
    const rowMask = this.rowMask
    const mask = this.slotMask
    const h = hashKey(hi, lo)
    const tag = h & this.tagMask
    let i = h >>> this.slotShift
    for (;;) {
      const w = slots[i]!
      if (w === 0) return NOT_FOUND
      if (w >>> rowBits === tag) {
        const row = (w & rowMask) - 1
        const b = row * RECORD_WORDS
        if (records[b] === hi && records[b + 1] === lo) return row
      }
      i = (i + 1) & mask
    }
  }

  /**
   * The row of a key whose stored verifier equals (ver0, ver1), else `NOT_FOUND`. The verifier
   * comparison has no early exit (both words are XORed and ORed before one test), so its timing
   * does not tell a prober how many verifier bits were right; finding the key itself is not
   * constant-time and need not be, the verifier carries 64 bits of its own.
   */
  find (keyHi: number, keyLo: number, ver0: number, ver1: number): number {
    const row = this.lookup(keyHi, keyLo)
    if (row < 0) return NOT_FOUND
    const b = row * RECORD_WORDS
    const diff = (this.records[b + 2]! ^ ver0) | (this.records[b + 3]! ^ ver1)
    return diff === 0 ? row : NOT_FOUND
  }

  /** Removes a key; returns the row it had (now free), or `NOT_FOUND`. */
  delete (keyHi: number, keyLo: number): number {
    const hi = keyHi >>> 0
    const lo = keyLo >>> 0
    const slots = this.slots
    const records = this.records
    const rowBits = this.rowBits
    const rowMask = this.rowMask
    const mask = this.slotMask
    const h = hashKey(hi, lo)
    const tag = h & this.tagMask
    let i = h >>> this.slotShift
    for (;;) {
      const w = slots[i]!
      if (w === 0) return NOT_FOUND
      if (w >>> rowBits === tag) {
        const row = (w & rowMask) - 1
        const b = row * RECORD_WORDS
        if (records[b] === hi && records[b + 1] === lo) {
          this.removeSlot(i)
          this.releaseRow(row)
          return row
        }
      }
      i = (i + 1) & mask
    }
  }

  /**
   * Removes the session in `row` (the usual path: timers and connection ids name rows).
   * Returns false if the row was not live.
   */
  deleteRow (row: number): boolean {
    if (!this.isLive(row)) return false
    const slots = this.slots
    const mask = this.slotMask
    const rowMask = this.rowMask
    const b = row * RECORD_WORDS
    let i = hashKey(this.records[b]!, this.records[b + 1]!) >>> this.slotShift
    while ((slots[i]! & rowMask) - 1 !== row) i = (i + 1) & mask
    this.removeSlot(i)
    this.releaseRow(row)
    return true
  }

  /**
   * Empties slot i by backward shift: walk the rest of the run; an entry may fill the hole
   * unless its home lies cyclically in (hole, j], where moving it would put it before its home.
   */
  private removeSlot (i: number): void {
    const slots = this.slots
    const records = this.records
    const mask = this.slotMask
    const rowMask = this.rowMask
    const shift = this.slotShift
    let hole = i
    let j = (i + 1) & mask
    for (;;) {
      const w = slots[j]!
      if (w === 0) break
      const rb = ((w & rowMask) - 1) * RECORD_WORDS
      const home = hashKey(records[rb]!, records[rb + 1]!) >>> shift
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots[hole] = w
        hole = j
      }
      j = (j + 1) & mask
    }
    slots[hole] = 0
  }

  /**
   * Returns a row to the free ring and bumps its generation so its old connection id stops
   * resolving. A row whose generation would pass `maxGeneration` is retired instead of reused,
   * keeping connection ids unique for the table's lifetime (it takes 2^31 uses of one row).
   */
  private releaseRow (row: number): void {
    const b = row * RECORD_WORDS
    const records = this.records
    // Wipe the sid bits: a freed row keeps no credential.
    records[b] = 0
    records[b + 1] = 0
    records[b + 2] = 0
    records[b + 3] = 0
    this.count--
    const state = this.state[row]!
    if (state >>> 1 === this.maxGeneration) {
      this.state[row] = state - 1 // not live, generation kept: its ids stay dead
      this.retired++
      return
    }
    this.state[row] = state + 1 // clears the live bit and carries into the generation
    let tail = this.freeHead + this.freeCount
    if (tail >= this.capacity) tail -= this.capacity
    this.freeRing[tail] = row
    this.freeCount++
  }

  /** Whether `row` holds a session. */
  isLive (row: number): boolean {
    return row >= 0 && row < this.capacity && (this.state[row]! & 1) === 1
  }

  /** The key halves of a live row (unsigned 32-bit). */
  keyHi (row: number): number { return this.records[row * RECORD_WORDS]! }
  keyLo (row: number): number { return this.records[row * RECORD_WORDS + 1]! }

  /** Copies a row's key and verifier into out[0..3] (to re-format its sid). */
  readRecord (row: number, out: Uint32Array): void {
    const b = row * RECORD_WORDS
    out[0] = this.records[b]!
    out[1] = this.records[b + 1]!
    out[2] = this.records[b + 2]!
    out[3] = this.records[b + 3]!
  }

  /**
   * The link connection id of a live row: `generation * 2^rowBits + row + 1`, so ≥ 1, below
   * 2^53, unique for the table's lifetime, and decoded back to the row with no hash lookup
   * (`rowOfConnection`). 0 for a row that is not live.
   */
  connectionId (row: number): number {
    if (!this.isLive(row)) return 0
    return (this.state[row]! >>> 1) * this.rowSpan + row + 1
  }

  /** The live row a connection id names, or `NOT_FOUND` (unknown, stale or malformed id). */
  rowOfConnection (id: number): number {
    if (!Number.isSafeInteger(id) || id < 1) return NOT_FOUND
    const x = id - 1
    const row = x % this.rowSpan
    if (row >= this.capacity) return NOT_FOUND
    const state = this.state[row]!
    return (state & 1) === 1 && (x - row) / this.rowSpan === state >>> 1 ? row : NOT_FOUND
  }

  /**
   * A new per-row column (zero-filled, `capacity` long) for state the table does not own: rid,
   * hold queue indices, deadlines. Columns are not cleared on delete: initialise them on insert.
   */
  column<T> (ctor: ColumnConstructor<T>): T {
    return new ctor(this.capacity)
  }

  /** Calls `fn` for each live row in row order. `fn` may delete the row it is given. */
  forEachRow (fn: (row: number) => void): void {
    const state = this.state
    for (let r = 0; r < this.capacity; r++) {
      if ((state[r]! & 1) === 1) fn(r)
    }
  }

  /** Deletes every session (shutdown, link loss); generations keep counting. */
  clear (): void {
    for (let r = 0; r < this.capacity; r++) {
      if ((this.state[r]! & 1) === 1) this.deleteRow(r)
    }
  }

  /**
   * Exact probe statistics, by a scan of every slot (2^21 slots: ~10 ms). For metrics scraped
   * every few seconds, or tests; the hot path only keeps `maxProbeSeen`.
   */
  probeStats (): ProbeStats {
    const slots = this.slots
    const mask = this.slotMask
    const rowMask = this.rowMask
    let sum = 0
    let max = 0
    for (let i = 0; i < this.slotCount; i++) {
      const w = slots[i]!
      if (w === 0) continue
      const b = ((w & rowMask) - 1) * RECORD_WORDS
      const home = hashKey(this.records[b]!, this.records[b + 1]!) >>> this.slotShift
      const probes = ((i - home) & mask) + 1
      sum += probes
      if (probes > max) max = probes
    }
    return { mean: this.count === 0 ? 0 : sum / this.count, max }
  }

  /** The home slot of a key (tests use it to build collisions and wraparound). */
  homeSlot (keyHi: number, keyLo: number): number {
    return hashKey(keyHi >>> 0, keyLo >>> 0) >>> this.slotShift
  }

  /** Bytes of typed-array memory the table holds (all outside the JS heap). */
  get externalBytes (): number {
    return this.slots.byteLength + this.records.byteLength + this.state.byteLength +
      this.freeRing.byteLength
  }
}
