/**
 * Memory samples and their least-squares slope: a leak shows as a slope that does not go to zero
 * as the run gets longer, where a flat series' slope is noise around zero.
 */
export interface MemorySample {
  /** ms since the run started */
  t: number
  /** work done so far (frames, bodies, messages) */
  done: number
  /** bytes */
  bytes: number
}

/** The least-squares slope of y over x; 0 for fewer than two distinct x. */
export function slope (xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length)
  if (n < 2) return 0
  let sx = 0; let sy = 0
  for (let i = 0; i < n; i++) { sx += xs[i] ?? 0; sy += ys[i] ?? 0 }
  const mx = sx / n; const my = sy / n
  let num = 0; let den = 0
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] ?? 0) - mx
    num += dx * ((ys[i] ?? 0) - my)
    den += dx * dx
  }
  return den === 0 ? 0 : num / den
}

export interface MemorySummary {
  startBytes: number
  endBytes: number
  /** bytes per million units of work (frames, bodies or messages) */
  perMillion: number
  /** bytes per minute */
  perMinute: number
  samples: number
}

/** Start, end and slopes of a series; the first sample is taken after warm-up by the caller. */
export function summarise (samples: readonly MemorySample[]): MemorySummary {
  const ys = samples.map(s => s.bytes)
  return {
    startBytes: samples[0]?.bytes ?? 0,
    endBytes: samples.at(-1)?.bytes ?? 0,
    perMillion: slope(samples.map(s => s.done / 1e6), ys),
    perMinute: slope(samples.map(s => s.t / 60_000), ys),
    samples: samples.length
  }
}

export function mib (bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`
}

export function kib (bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`
}
