/**
 * What a soak's samples say about a leak: for each sampled series (edge heap, edge RSS, ejabberd
 * memory, open files), the least-squares slope against time in minutes and whether the second
 * half of the run sits higher than the first. A slope is evidence, not a verdict: a heap that
 * climbs for ten minutes and one that steps up once and stays flat can have the same slope, and
 * the halves tell them apart only roughly; the chart next to the figures is what to look at.
 */

/** One sample of every series, `minutes` after the steady phase began. */
export interface SoakSample {
  minutes: number
  edge_heap_used: number
  edge_rss: number
  ejabberd_memory: number
  edge_open_files: number
  ejabberd_open_files: number
  /** sessions the clients believe online, and messages so far (both pools added up) */
  online: number
  sent: number
  received: number
  /** the machine's 1-minute load average: the machine is shared, so the run notes what else ran */
  load1: number
}

export type SeriesName = 'edge_heap_used' | 'edge_rss' | 'ejabberd_memory' | 'edge_open_files' | 'ejabberd_open_files'

export const SERIES: Array<{ name: SeriesName, label: string, unit: 'bytes' | 'files' }> = [
  { name: 'edge_heap_used', label: 'edge heap used', unit: 'bytes' },
  { name: 'edge_rss', label: 'edge RSS', unit: 'bytes' },
  { name: 'ejabberd_memory', label: 'ejabberd erlang:memory(total)', unit: 'bytes' },
  { name: 'edge_open_files', label: 'edge open files', unit: 'files' },
  { name: 'ejabberd_open_files', label: 'ejabberd open files', unit: 'files' }
]

export interface SeriesStats {
  unit: 'bytes' | 'files'
  samples: number
  start: number
  end: number
  min: number
  max: number
  /** least-squares slope: units (bytes or files) per minute */
  slope_per_minute: number
  first_half_mean: number
  second_half_mean: number
  second_half_higher: boolean
}

/** Least-squares slope of y against x; 0 with fewer than two distinct x. */
export function slope (points: Array<[number, number]>): number {
  const n = points.length
  if (n < 2) return 0
  const mx = points.reduce((a, p) => a + p[0], 0) / n
  const my = points.reduce((a, p) => a + p[1], 0) / n
  let num = 0
  let den = 0
  for (const [x, y] of points) { num += (x - mx) * (y - my); den += (x - mx) ** 2 }
  return den === 0 ? 0 : num / den
}

function mean (v: number[]): number {
  return v.length === 0 ? 0 : v.reduce((a, b) => a + b, 0) / v.length
}

/** The halves split by time (not count), so an uneven sampling does not shift them. */
export function seriesStats (samples: SoakSample[], name: SeriesName, unit: 'bytes' | 'files'): SeriesStats {
  const points = samples.map((s): [number, number] => [s.minutes, s[name]])
  const ys = points.map(p => p[1])
  const tEnd = points[points.length - 1]?.[0] ?? 0
  const tStart = points[0]?.[0] ?? 0
  const mid = (tStart + tEnd) / 2
  const first = points.filter(p => p[0] < mid).map(p => p[1])
  const second = points.filter(p => p[0] >= mid).map(p => p[1])
  const m1 = mean(first)
  const m2 = mean(second)
  return {
    unit,
    samples: points.length,
    start: ys[0] ?? 0,
    end: ys[ys.length - 1] ?? 0,
    min: ys.length > 0 ? Math.min(...ys) : 0,
    max: ys.length > 0 ? Math.max(...ys) : 0,
    slope_per_minute: Math.round(slope(points) * 100) / 100,
    first_half_mean: Math.round(m1 * 100) / 100,
    second_half_mean: Math.round(m2 * 100) / 100,
    second_half_higher: m2 > m1
  }
}

export function allSeriesStats (samples: SoakSample[]): Record<SeriesName, SeriesStats> {
  return Object.fromEntries(SERIES.map(s => [s.name, seriesStats(samples, s.name, s.unit)])) as Record<SeriesName, SeriesStats>
}

function show (v: number, unit: 'bytes' | 'files'): string {
  if (unit === 'files') return String(Math.round(v * 100) / 100)
  const sign = v < 0 ? '-' : ''
  const a = Math.abs(v)
  if (a >= 2 ** 20) return `${sign}${(a / 2 ** 20).toFixed(1)} MiB`
  if (a >= 1024) return `${sign}${(a / 1024).toFixed(1)} KiB`
  return `${sign}${a.toFixed(0)} B`
}

/** The printed table: one row per series. */
export function seriesTable (stats: Record<SeriesName, SeriesStats>): string[] {
  const rows = [['series', 'start', 'end', 'slope / min', '2nd half > 1st']]
  for (const s of SERIES) {
    const st = stats[s.name]
    rows.push([s.label, show(st.start, st.unit), show(st.end, st.unit), show(st.slope_per_minute, st.unit), st.second_half_higher ? 'yes' : 'no'])
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map(r => r[i]!.length)))
  return rows.map(r => r.map((c, i) => i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join('  '))
}
