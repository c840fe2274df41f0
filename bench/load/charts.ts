/**
 * The run's charts as hand-written SVG (no plotting dependency): ejabberd's memory against
 * sessions during the ramp, the delivery latency distribution of each target, and the edge's
 * memory against sessions in the edge-only run.
 */
import type { TargetResult } from './e2e.ts'
import type { EdgeSessionsResult } from './edge-only.ts'

export interface Series { name: string, points: Array<[number, number]>, dashed?: boolean }
export interface Chart { title: string, x: string, y: string, series: Series[], xLog?: boolean, xTicks?: Array<[number, string]> }

const W = 760
const H = 440
const M = { left: 80, right: 190, top: 40, bottom: 60 }
const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b']

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;')
}

function niceMax (v: number): number {
  if (v <= 0) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p
  return 10 * p
}

function fmt (v: number): string {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`
  if (v >= 1e3) return `${+(v / 1e3).toFixed(1)}k`
  return `${+v.toFixed(2)}`
}

export function lineChart (c: Chart): string {
  const pw = W - M.left - M.right
  const ph = H - M.top - M.bottom
  const xs = c.series.flatMap(s => s.points.map(p => p[0]))
  const ys = c.series.flatMap(s => s.points.map(p => p[1]))
  const tx = (x: number): number => c.xLog === true ? Math.log10(x) : x
  const xMin = c.xLog === true ? tx(Math.min(...xs, 1)) : 0
  const xMax = c.xLog === true ? tx(Math.max(...xs, 10)) : niceMax(Math.max(...xs, 1))
  const yMax = niceMax(Math.max(...ys, 0))
  const px = (x: number): number => M.left + (tx(x) - xMin) / (xMax - xMin || 1) * pw
  const py = (y: number): number => M.top + ph - y / yMax * ph
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(c.title)}</text>`,
    `<text x="${M.left + pw / 2}" y="${H - 15}" text-anchor="middle">${esc(c.x)}</text>`,
    `<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(c.y)}</text>`
  ]
  for (let i = 0; i <= 5; i++) {
    const y = yMax * i / 5
    out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${py(y)}" y2="${py(y)}" stroke="#ddd"/>`,
      `<text x="${M.left - 6}" y="${py(y) + 4}" text-anchor="end">${fmt(y)}</text>`)
  }
  const xTicks = c.xTicks ?? Array.from({ length: 6 }, (_, i): [number, string] => [xMax * i / 5, fmt(xMax * i / 5)])
  for (const [x, label] of xTicks) {
    out.push(`<line x1="${px(x)}" x2="${px(x)}" y1="${M.top}" y2="${M.top + ph}" stroke="#eee"/>`,
      `<text x="${px(x)}" y="${M.top + ph + 18}" text-anchor="middle">${esc(label)}</text>`)
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`)
  c.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] ?? '#000'
    const d = s.points.filter(p => c.xLog !== true || p[0] > 0).map(p => `${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ')
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''} points="${d}"/>`)
    for (const p of s.points) if (c.xLog !== true || p[0] > 0) out.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="2.5" fill="${color}"/>`)
    const ly = M.top + 10 + i * 20
    out.push(`<line x1="${W - M.right + 12}" x2="${W - M.right + 36}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${W - M.right + 42}" y="${ly + 4}">${esc(s.name)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

/** ejabberd memory above its baseline (MiB) against online sessions, each target; the edge's RSS dashed. */
export function memoryChart (results: TargetResult[]): string {
  const series: Series[] = []
  for (const r of results) {
    series.push({ name: `${r.name}: ejabberd`, points: r.memory_series.map(p => [p.sessions, p.ejabberd / 2 ** 20]) })
    if (r.memory_series.some(p => p.edgeRss !== undefined)) {
      series.push({ name: `${r.name}: edge RSS`, dashed: true, points: r.memory_series.filter(p => p.edgeRss !== undefined).map(p => [p.sessions, (p.edgeRss ?? 0) / 2 ** 20]) })
    }
  }
  return lineChart({ title: 'Server memory against logged-in sessions (above baseline)', x: 'sessions online', y: 'MiB', series })
}

/** Latency at each percentile; x is 1/(1 - p) on a log scale so the tail gets the room. */
export function latencyChart (results: TargetResult[]): string {
  const x = (p: number): number => 1 / (1 - Math.min(p, 99.999) / 100)
  const ticks: Array<[number, string]> = [[x(0), 'p0'], [x(50), 'p50'], [x(90), 'p90'], [x(99), 'p99'], [x(99.9), 'p99.9'], [x(99.99), 'p99.99']]
  return lineChart({
    title: 'Message delivery latency distribution',
    x: 'percentile',
    y: 'ms',
    xLog: true,
    xTicks: ticks,
    series: results.map(r => ({ name: r.name, points: r.distribution_ms.map(([p, ms]): [number, number] => [x(p), ms]) }))
  })
}

/** The edge's heap and RSS above baseline (MiB) against sessions, edge-only run. */
export function edgeChart (r: EdgeSessionsResult): string {
  return lineChart({
    title: `Edge memory against sessions (null backend, ${r.sessions.toLocaleString('en')} sessions)`,
    x: 'sessions',
    y: 'MiB',
    series: [
      { name: 'heap used', points: r.series.map(p => [p.sessions, p.heap / 2 ** 20]) },
      { name: 'RSS', dashed: true, points: r.series.map(p => [p.sessions, p.rss / 2 ** 20]) }
    ]
  })
}
