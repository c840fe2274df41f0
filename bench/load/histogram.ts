/**
 * Delivery latency in an HDR histogram (hdr-histogram-js): microseconds from 1 µs to one hour at
 * three significant digits, so p99.9 and max are exact to 0.1 % whatever the spread. Workers
 * send theirs compressed; the harness adds them up.
 */
import hdr from 'hdr-histogram-js'
import type { Histogram } from 'hdr-histogram-js'

export type { Histogram }

export function newHistogram (): Histogram {
  return hdr.build({ bitBucketSize: 32, autoResize: true, lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false })
}

export function decodeHistogram (base64: string): Histogram {
  return hdr.decodeFromCompressedBase64(base64, 32, false)
}

export interface Latency { count: number, p50: number, p90: number, p99: number, p999: number, max: number, mean: number }

/** Percentiles in milliseconds. */
export function latencyOf (h: Histogram): Latency {
  const ms = (us: number): number => Math.round(us) / 1000
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: Math.round(h.mean) / 1000
  }
}

/** The distribution for a chart: (percentile, ms) points on a log scale of 1/(1 - p). */
export function distributionOf (h: Histogram): Array<[number, number]> {
  const points: Array<[number, number]> = []
  for (const p of [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100]) {
    points.push([p, h.totalCount === 0 ? 0 : h.getValueAtPercentile(p) / 1000])
  }
  return points
}
