/**
 * The session table: every live session of the edge, found by its 64-bit key in O(1) without
 * allocating, in a fixed amount of memory reserved at start-up: 25.4 B a session at the default
 * size, none of it on the JS heap (a `Map` from sid strings measures 77 B; docs/session-table.md).
 *
 * Two structures, because an open-addressed table moves its entries and the rest of the edge
 * must not notice:
 *
 *   hash slots (Int32Array, 2^21 for 1M sessions)          rows (stable)
 *   +-------+-------+-------+-------+-------+-------+      row  record (Int32Array, 4 words)
 *   |   0   | t|r+1 | t|r+1 |   0   | t|r+1 |   0   |       0   [a  bHi|gHi|1  ver0 ver1]
 *   +-------+---|---+---|---+-------+---|---+-------+       1   [a  bHi|gHi|1  ver0 ver1] <--+
 *               |       +---------------|------------------> 2   [next  gHi|0  0    0   ]    |
 *               +-----------------------|-------------------------------------------------+
 *                                       +------------------> ...  genLow (Uint8Array): gLo
 *
 * - The key (hi, lo) is first permuted (a bijection, "Key permutation" below) into a 64-bit
 *   *code* (a, b), which identifies the key as well as the key itself does. The home slot is the
 *   top bits of `a`; the *tag* is the low `tagBits = 32 - rowBits` bits of `b` (12 at 1M).
 * - A *slot* is one 32-bit word: 0 when empty, else `(tag << rowBits) | (row + 1)`. A probe that
 *   passes another key's slot reads that key's record only when the tags match (1 in 4096), so a
 *   miss costs about one cache line and a hit two: the slot, then the record, which also holds
 *   the verifier `find` compares next.
 * - A *row record* is 4 words. Live: `a`, the high `rowBits` bits of `b` (its low bits are the
 *   tag, already in the slot), and the 64-bit verifier. That leaves the low `tagBits` bits of
 *   word 1 spare: bit 0 is the live bit and the rest the high part of the row's generation
 *   (gHi). Free: word 0 links the FIFO free list, word 1 keeps gHi, the rest is zero: a freed
 *   row keeps no credential. The live bit sits beside the verifier so `verify` reads one line.
 * - *genLow* (1 byte a row): the low 8 bits of the generation (gLo). generation = gHi * 256 +
 *   gLo; it advances on every release and makes the connection id
 *   (`generation * 2^rowBits + row + 1`) of each use of a row a different number.
 * - A *row* is a stable index 0..capacity-1. Backward-shift deletion moves slot words, never
 *   rows, so the BOSH layer keeps `row` in its own typed-array columns, timers and the link's
 *   connection id. Rows come from a FIFO free list threaded through the free records (no array
 *   of its own), so a freed row is reused as late as possible.
 *
 * Why the constants have their values:
 * - maxLoad 0.5: linear probing costs ½(1 + 1/(1-α)) slots per hit and ½(1 + 1/(1-α)²) per miss;
 *   at α = 0.5 that is 1.5 and 2.5, at 0.75 it is 2.5 and 8.5. A slot is 4 bytes, so halving the
 *   load costs 4 bytes per session: cheap for flat latency. Slots round up to a power of two so
 *   the home slot is a shift and the wrap a mask; 1,000,000 sessions → 2^21 (load 0.477).
 * - 4-word record: the 128 bits of the sid, less the tag bits, plus the spare bits; 16 bytes,
 *   aligned to a quarter of a cache line, so verifying a hit touches one line.
 * - One byte of generation beside the record: with the record's spare bits (less the live bit)
 *   a row has 39 - rowBits generation bits (19 at 1M), so a table serves about 2^38 to 2^39
 *   sessions whatever its size (5 * 10^11 at 1M: 16 years at 1,000 new sessions a second)
 *   before rows start to retire (`retiredRows`); connection ids stay below 2^39. Two bytes
 *   would make that effectively endless at +1 B a session (26.4 B, 0.34 of the Map, above the
 *   issue's ≤ 1/3 target); docs/session-table.md gives the trade.
 * - rowBits ≤ 26: leaves a tag of ≥ 6 bits.
 *
 * Invariants (checked by test/unit/table.test.ts against a Map model):
 * 1. No two occupied slots hold the same key; `size` = occupied slots = live rows.
 * 2. Every key sits in the probe run that starts at its home slot: every slot from the home slot
 *    up to the key's slot (cyclically) is occupied. Deletion restores this by shifting later
 *    entries of the run back (Knuth 6.4 Algorithm R), so there are no tombstones and a lookup
 *    never probes further than the longest run.
 * 3. `size <= capacity < slotCount`, hence at least one slot is empty and every probe loop ends.
 * 4. A row is live iff exactly one slot names it iff its live bit is set. A row is on the
 *    free list iff it is neither live nor retired; the list holds `capacity - size - retiredRows`
 *    rows.
 *
 * Keys are the first 64 random bits of a sid (./sid.ts), which the edge generates itself, so
 * nobody can choose keys that collide; the permutation mixes both halves so the table stays
 * sound for any key. Lookups of attacker-chosen keys only walk existing runs, whose length the
 * random keys bound (see `probeStats`).
 */
import { MegaphoneError } from '../errors.ts'

// ---------------------------------------------------------------- key permutation
/*
 * Key permutation: a bijection of 64-bit keys (two 32-bit halves) onto 64-bit *codes* (a, b).
 * The table hashes with it and, because it is invertible, also stores with it: the home slot is
 * the top bits of `a`, the slot's tag is the low bits of `b`, and the row record keeps only the
 * bits of the code that the tag does not already hold (the "row record" above). A hash that
 * loses information could not do that: the key would have to be stored whole beside it, 12 bits
 * more a session, which is the byte of generation.
 *
 * Three Feistel rounds over the halves. Each round is invertible whatever its round function, so
 * the round function only has to mix: `mix32` is a 32-bit finaliser of the xorshift-multiply
 * kind (two multiplications), on the input XORed with a different constant per round.
 * After three rounds every bit of (a, b) depends on every bit of (hi, lo); two rounds would leave
 * `a = lo ^ mix(hi ^ mix(lo))`, fine, but `b` linear in `hi`. Cost: six multiplications, ~3 ns.
 *
 *     m = hi ^ F1(lo)        inverse:  m  = b ^ F3(a)
 *     a = lo ^ F2(m)                   lo = a ^ F2(m)
 *     b = m  ^ F3(a)                   hi = m ^ F1(lo)
 *
 * The edge draws keys from the CSPRNG, so the permutation is not a defence against chosen keys
 * (nobody can choose one); it makes the table behave for structured keys too (tests use (1, 1),
 * (2, 2), ...), which raw key bits as home and tag would not.
 */
/** 32-bit mixer: xorshift-multiply, twice. Need not be a bijection (the Feistel rounds are). */
function mix32 (x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d)
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b)
  return x ^ (x >>> 16)
}

// The round functions F1, F2, F3 of the diagram above; the constants are arbitrary odd words,
// distinct so the rounds differ. The permutation lives in this file rather than a module of its
// own on purpose: imported from one, it measured five times slower under tsx (how the edge and
// the benchmarks run), though not in plain Node ESM.
function round1 (x: number): number { return mix32(x ^ 0x9e3779b9) }
function round2 (x: number): number { return mix32(x ^ 0x7f4a7c15) }
function round3 (x: number): number { return mix32(x ^ 0x2545f491) }

/**
 * Writes the code (a, b) of the key (hi, lo) to out[0], out[1]. `probe` inlines these three lines.
 */
function encode (hi: number, lo: number, out: Int32Array | Uint32Array): void {
  const m = hi ^ round1(lo)
  const a = lo ^ round2(m)
  out[0] = a
  out[1] = m ^ round3(a)
}

/** Inverts `encode`: writes the key (hi, lo) of the code (a, b) to out[0], out[1]. */
function decode (a: number, b: number, out: Int32Array | Uint32Array): void {
  const m = b ^ round3(a)
  const lo = a ^ round2(m)
  out[0] = m ^ round1(lo)
  out[1] = lo
}

// ---------------------------------------------------------------- table
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
/** Record word 1: the live bit, below the generation's high part. */
const LIVE = 1
/** Generation values held by the genLow byte. */
const GEN_LOW_SPAN = 256

export interface SessionTableOptions {
  /** Rows, i.e. the most sessions the table holds before refusing. Default 1,000,000. */
  maxSessions?: number
  /** Highest ratio of sessions to slots, in (0, 0.9]. Default 0.5. */
  maxLoad?: number
  /**
   * The generation at which a row is retired instead of reused. Default, and ceiling, the most
   * the row's bits hold: 2^(39 - rowBits) - 1. Lower only to exercise retirement (tests).
   */
  maxGeneration?: number
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

export class SessionTable {
  /** Rows: the most sessions the table holds. */
  readonly capacity: number
  /** Hash slots, a power of two > capacity. */
  readonly slotCount: number
  /** The generation at which a row retires (see the options). */
  readonly maxGeneration: number

  private readonly slotMask: number
  private readonly slotShift: number
  private readonly rowBits: number
  private readonly rowMask: number
  private readonly rowSpan: number
  /** Low `32 - rowBits` bits: the tag in a slot, the generation's high part in record word 1. */
  private readonly tagMask: number
  /** The complement of tagMask: the bits of `b` that record word 1 keeps. */
  private readonly keyMask: number

  private readonly slots: Int32Array
  private readonly records: Int32Array
  /** Per row: the generation's low 8 bits. */
  private readonly genLow: Uint8Array
  private freeHead = 0
  private freeTail: number
  private freeCount: number
  private retired = 0
  private count = 0
  private longestProbe = 0
  /**
   * The code (a, b) of the key `probe` last looked at, for `insert` to store. A typed array
   * rather than two number fields, which V8 may have to box once a value leaves the 31-bit
   * small-integer range (most codes do): a typed array element never allocates.
   */
  private readonly code = new Int32Array(2)
  private readonly scratch = new Uint32Array(2)

  constructor ({ maxSessions = DEFAULT_MAX_SESSIONS, maxLoad = DEFAULT_MAX_LOAD, maxGeneration }: SessionTableOptions = {}) {
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
    this.keyMask = ~this.tagMask
    const ceiling = ((this.tagMask + 1) / 2) * GEN_LOW_SPAN - 1
    if (maxGeneration !== undefined && !(Number.isInteger(maxGeneration) && maxGeneration >= 0 && maxGeneration <= ceiling)) {
      throw new MegaphoneError(SESSION_TABLE_OPTIONS, `maxGeneration must be an integer in [0, ${ceiling}], got ${maxGeneration}`)
    }
    this.maxGeneration = maxGeneration ?? ceiling

    this.slots = new Int32Array(this.slotCount)
    this.records = new Int32Array(maxSessions * RECORD_WORDS)
    this.genLow = new Uint8Array(maxSessions)
    // The free list starts as 0 → 1 → ... → capacity - 1.
    for (let r = 0; r < maxSessions - 1; r++) this.records[r * RECORD_WORDS] = r + 1
    this.freeTail = maxSessions - 1
    this.freeCount = maxSessions
  }

  /** Live sessions. */
  get size (): number { return this.count }

  /** `size / slotCount`; never above the configured maxLoad. */
  get loadFactor (): number { return this.count / this.slotCount }

  /** Rows retired because their generation ran out (see `maxGeneration`); 0 in practice. */
  get retiredRows (): number { return this.retired }

  /**
   * Longest probe (slots examined) any insert has needed since construction or
   * `resetProbeHighWater()`. A cheap high-water mark for metrics; deletions can only shorten
   * runs, so the live maximum (`probeStats().max`) is never above it.
   */
  get maxProbeSeen (): number { return this.longestProbe }

  resetProbeHighWater (): void { this.longestProbe = this.probeStats().max }

  /**
   * The slot holding the key (hi, lo), or, when absent, `~i` for the empty slot `i` that ends
   * its run (where an insert puts it). Leaves the key's code in `this.code`. Allocates nothing.
   */
  private probe (keyHi: number, keyLo: number): number {
    // encode(), inlined: this is every lookup's hot path.
    const m = keyHi ^ round1(keyLo)
    const a = keyLo ^ round2(m)
    const b = m ^ round3(a)
    this.code[0] = a
    this.code[1] = b
    const slots = this.slots
    const records = this.records
    const rowBits = this.rowBits
    const rowMask = this.rowMask
    const keyMask = this.keyMask
    const mask = this.slotMask
    const tag = b & this.tagMask
    const bHigh = b & keyMask
    let i = a >>> this.slotShift
    for (;;) {
      const w = slots[i]!
      if (w === 0) return ~i
      if (w >>> rowBits === tag) {
        const rb = ((w & rowMask) - 1) * RECORD_WORDS
        if (records[rb] === a && (records[rb + 1]! & keyMask) === bHigh) return i
      }
      i = (i + 1) & mask
    }
  }

  /**
   * Adds a key and returns its row, or `FULL` / `DUPLICATE`. The verifier words are stored in
   * the row record for `find` to compare. Allocates nothing.
   */
  insert (keyHi: number, keyLo: number, ver0 = 0, ver1 = 0): number {
    if (this.freeCount === 0) return FULL
    const found = this.probe(keyHi, keyLo)
    if (found >= 0) return DUPLICATE
    const i = ~found
    const a = this.code[0]!
    const b = this.code[1]!
    const records = this.records
    const row = this.freeHead
    const rb = row * RECORD_WORDS
    this.freeHead = records[rb]!
    this.freeCount--
    records[rb] = a
    records[rb + 1] = (b & this.keyMask) | (records[rb + 1]! & this.tagMask) | LIVE
    records[rb + 2] = ver0
    records[rb + 3] = ver1
    this.slots[i] = ((b & this.tagMask) << this.rowBits) | (row + 1)
    this.count++
    const probes = ((i - (a >>> this.slotShift)) & this.slotMask) + 1
    if (probes > this.longestProbe) this.longestProbe = probes
    return row
  }

  /** The row of a key, or `NOT_FOUND`. Does not check the verifier: see `find`. */
  lookup (keyHi: number, keyLo: number): number {
    const i = this.probe(keyHi, keyLo)
    return i < 0 ? NOT_FOUND : (this.slots[i]! & this.rowMask) - 1
  }

  /**
   * The row of a key whose stored verifier equals (ver0, ver1), else `NOT_FOUND`: `lookup`
   * then `verify`.
   */
  find (keyHi: number, keyLo: number, ver0: number, ver1: number): number {
    const row = this.lookup(keyHi, keyLo)
    return row >= 0 && this.verify(row, ver0, ver1) ? row : NOT_FOUND
  }

  /**
   * Whether `row` is live and its stored verifier equals (ver0, ver1). The comparison has no
   * early exit (both words are XORed and ORed before one test), so its timing does not tell a
   * prober how many verifier bits were right; finding the key is not constant-time and need
   * not be, the verifier carries 64 bits of its own.
   */
  verify (row: number, ver0: number, ver1: number): boolean {
    if (!this.isLive(row)) return false
    const rb = row * RECORD_WORDS
    return ((this.records[rb + 2]! ^ ver0) | (this.records[rb + 3]! ^ ver1)) === 0
  }

  /** Removes a key; returns the row it had (now free), or `NOT_FOUND`. */
  delete (keyHi: number, keyLo: number): number {
    const i = this.probe(keyHi, keyLo)
    if (i < 0) return NOT_FOUND
    const row = (this.slots[i]! & this.rowMask) - 1
    this.removeSlot(i)
    this.releaseRow(row)
    return row
  }

  /**
   * Removes the session in `row` (the usual path: timers and connection ids name rows).
   * Returns false if the row was not live.
   */
  deleteRow (row: number): boolean {
    if (!this.isLive(row)) return false
    this.removeSlot(this.slotOf(row))
    this.releaseRow(row)
    return true
  }

  /** The slot naming a live row: walk its run from the home slot, which the record gives. */
  private slotOf (row: number): number {
    const slots = this.slots
    const mask = this.slotMask
    const rowMask = this.rowMask
    let i = this.records[row * RECORD_WORDS]! >>> this.slotShift
    while ((slots[i]! & rowMask) - 1 !== row) i = (i + 1) & mask
    return i
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
      const home = records[((w & rowMask) - 1) * RECORD_WORDS]! >>> shift
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots[hole] = w
        hole = j
      }
      j = (j + 1) & mask
    }
    slots[hole] = 0
  }

  /** A row's generation: high part in record word 1's spare bits, low part in genLow. */
  private generation (row: number): number {
    return ((this.records[row * RECORD_WORDS + 1]! & this.tagMask) >>> 1) * GEN_LOW_SPAN + this.genLow[row]!
  }

  /**
   * Wipes a row's sid bits, clears its live bit, advances its generation so its old connection
   * id stops resolving, and appends it to the free list. A row already at `maxGeneration` is
   * retired instead, so connection ids stay unique for the table's lifetime.
   */
  private releaseRow (row: number): void {
    const rb = row * RECORD_WORDS
    const records = this.records
    let gHi = (records[rb + 1]! & this.tagMask) >>> 1
    let gLo = this.genLow[row]!
    records[rb] = 0
    records[rb + 2] = 0
    records[rb + 3] = 0
    this.count--
    if (gHi * GEN_LOW_SPAN + gLo >= this.maxGeneration) {
      records[rb + 1] = gHi << 1 // not live, generation kept: its ids stay dead
      this.retired++
      return
    }
    if (++gLo === GEN_LOW_SPAN) {
      gLo = 0
      gHi++
    }
    records[rb + 1] = gHi << 1
    this.genLow[row] = gLo
    if (this.freeCount === 0) this.freeHead = row
    else records[this.freeTail * RECORD_WORDS] = row
    this.freeTail = row
    this.freeCount++
  }

  /** Whether `row` holds a session. */
  isLive (row: number): boolean {
    return row >= 0 && row < this.capacity && (this.records[row * RECORD_WORDS + 1]! & LIVE) !== 0
  }

  /** The key halves of a live row (unsigned 32-bit); 0 for a row that is not live. */
  keyHi (row: number): number { this.readKey(row, this.scratch); return this.scratch[0]! }
  keyLo (row: number): number { this.readKey(row, this.scratch); return this.scratch[1]! }

  /** The key of a live row into out[0..1], rebuilt from the code (record plus slot tag). */
  private readKey (row: number, out: Uint32Array): void {
    if (!this.isLive(row)) {
      out[0] = 0
      out[1] = 0
      return
    }
    const rb = row * RECORD_WORDS
    const tag = this.slots[this.slotOf(row)]! >>> this.rowBits
    decode(this.records[rb]!, (this.records[rb + 1]! & this.keyMask) | tag, out)
  }

  /** Copies a live row's key and verifier into out[0..3] (to re-format its sid); zeros if free. */
  readRecord (row: number, out: Uint32Array): void {
    this.readKey(row, out)
    const live = this.isLive(row)
    out[2] = live ? this.records[row * RECORD_WORDS + 2]! : 0
    out[3] = live ? this.records[row * RECORD_WORDS + 3]! : 0
  }

  /**
   * The link connection id of a live row: `generation * 2^rowBits + row + 1`, so ≥ 1, below
   * 2^39, unique for the table's lifetime, and decoded back to the row with no hash lookup
   * (`rowOfConnection`). 0 for a row that is not live.
   */
  connectionId (row: number): number {
    if (!this.isLive(row)) return 0
    return this.generation(row) * this.rowSpan + row + 1
  }

  /** The live row a connection id names, or `NOT_FOUND` (unknown, stale or malformed id). */
  rowOfConnection (id: number): number {
    if (!Number.isSafeInteger(id) || id < 1) return NOT_FOUND
    const x = id - 1
    const row = x % this.rowSpan
    if (row >= this.capacity || (this.records[row * RECORD_WORDS + 1]! & LIVE) === 0) return NOT_FOUND
    return (x - row) / this.rowSpan === this.generation(row) ? row : NOT_FOUND
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
    const records = this.records
    for (let r = 0; r < this.capacity; r++) {
      if ((records[r * RECORD_WORDS + 1]! & LIVE) !== 0) fn(r)
    }
  }

  /** Deletes every session (shutdown, link loss); generations keep counting. */
  clear (): void {
    for (let r = 0; r < this.capacity; r++) {
      if ((this.records[r * RECORD_WORDS + 1]! & LIVE) !== 0) this.deleteRow(r)
    }
  }

  /**
   * Exact probe statistics, by a scan of every slot (2^21 slots: a few ms). For metrics scraped
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
      const home = this.records[((w & rowMask) - 1) * RECORD_WORDS]! >>> this.slotShift
      const probes = ((i - home) & mask) + 1
      sum += probes
      if (probes > max) max = probes
    }
    return { mean: this.count === 0 ? 0 : sum / this.count, max }
  }

  /** The home slot of a key (tests use it to build collisions and wraparound). */
  homeSlot (keyHi: number, keyLo: number): number {
    encode(keyHi, keyLo, this.scratch)
    return this.scratch[0]! >>> this.slotShift
  }

  /** Bytes of typed-array memory the table holds (all outside the JS heap). */
  get externalBytes (): number {
    return this.slots.byteLength + this.records.byteLength + this.genLow.byteLength
  }
}
