/**
 * A seeded pseudo-random generator for the fuzzers: sfc32 (Chris Doty-Humphrey's small fast
 * counter), 128 bits of state, seeded from one 32-bit number so that a printed seed replays a
 * run exactly. Math.random cannot be seeded; fast-check's own generator is used where
 * fast-check drives (the edge), this one where a loop has to make millions of frames a second
 * (the module), and fast-check's per-value overhead would be the bottleneck.
 */
export class Prng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (readonly seed: number) {
    this.a = 0x9e3779b9
    this.b = 0x243f6a88
    this.c = 0xb7e15162
    this.d = seed >>> 0
    // sfc32 mixes poorly from a nearly all-constant state: discard its first outputs.
    for (let i = 0; i < 16; i++) this.u32()
  }

  /** A uniform 32-bit unsigned integer. */
  u32 (): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** An integer in [0, n), n ≤ 2^32. */
  int (n: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * n)
  }

  /** An integer in [lo, hi]. */
  range (lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }

  /** True with probability p. */
  chance (p: number): boolean {
    return this.u32() < p * 0x1_0000_0000
  }

  pick<T> (items: readonly T[]): T {
    const v = items[this.int(items.length)]
    if (v === undefined) throw new RangeError('pick from an empty list')
    return v
  }

  /** n random bytes. */
  bytes (n: number): Buffer {
    const b = Buffer.allocUnsafe(n)
    let i = 0
    for (; i + 4 <= n; i += 4) b.writeUInt32LE(this.u32(), i)
    for (; i < n; i++) b[i] = this.u32() & 0xff
    return b
  }
}

/** A fresh seed for a run that was not given one (printed, so the run can be replayed). */
export function freshSeed (): number {
  return (Date.now() ^ (process.pid << 16) ^ Math.floor(Math.random() * 0x1_0000_0000)) >>> 0
}
