/**
 * What a soak leaves behind: soak-summary.json (counts, every sample, each series' slope and
 * halves), soak-memory.svg and soak-open-files.svg (the samples against time, each series'
 * slope in its legend), and the table printed at the end of the run, machine line first.
 */
import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { lineChart } from './charts.ts'
import { mib } from './progress.ts'
import type { SoakResult } from './soak.ts'
import { allSeriesStats, SERIES, seriesTable, type SeriesName, type SeriesStats } from './soak-stats.ts'

export interface SoakRun { machine: string, node: string, commit: string, command: string, wall_seconds: number }

/** Whether nothing was lost, duplicated or reordered and every asked session logged in. */
export function soakClean (r: SoakResult): boolean {
  return r.messages.lost === 0 && r.messages.duplicated === 0 && r.messages.reordered === 0 && r.messages.sent > 0 && r.sessions.failed === 0
}

/** What makes a run not clean, in words. */
function faults (r: SoakResult): string[] {
  const m = r.messages
  return [
    ...(m.lost > 0 ? [`${m.lost} lost`] : []),
    ...(m.duplicated > 0 ? [`${m.duplicated} duplicated`] : []),
    ...(m.reordered > 0 ? [`${m.reordered} reordered`] : []),
    ...(m.sent === 0 ? ['no message sent'] : []),
    ...(r.sessions.failed > 0 ? [`${r.sessions.failed} logins failed ${JSON.stringify(r.sessions.failures)}`] : [])
  ]
}

function legend (label: string, st: SeriesStats): string {
  const per = st.unit === 'bytes' ? `${(st.slope_per_minute / 2 ** 20).toFixed(2)} MiB/min` : `${st.slope_per_minute.toFixed(1)}/min`
  return `${label} (${per})`
}

function charts (r: SoakResult, stats: Record<SeriesName, SeriesStats>): { memory: string, files: string } {
  const line = (name: SeriesName, scale: number, dashed = false): { name: string, dashed: boolean, points: Array<[number, number]> } => ({
    name: legend(SERIES.find(s => s.name === name)?.label.replace(' erlang:memory(total)', '') ?? name, stats[name]),
    dashed,
    points: r.samples.map((s): [number, number] => [s.minutes, s[name] / scale])
  })
  const sessions = `${r.sessions.online.toLocaleString('en')} sessions, ${r.messages.rate}/s`
  return {
    memory: lineChart({
      title: `Soak: memory over time (${sessions})`,
      x: 'minutes',
      y: 'MiB',
      series: [line('edge_heap_used', 2 ** 20), line('edge_rss', 2 ** 20, true), line('ejabberd_memory', 2 ** 20)]
    }),
    files: lineChart({
      title: `Soak: open files over time (${sessions})`,
      x: 'minutes',
      y: 'open files',
      series: [line('edge_open_files', 1), line('ejabberd_open_files', 1, true)]
    })
  }
}

/** Writes the summary and the charts into `outDir`; returns the lines to print (and log). */
export async function writeSoak (outDir: string, r: SoakResult, run: SoakRun): Promise<string[]> {
  const stats = allSeriesStats(r.samples)
  const summary = {
    ...run,
    finished: new Date().toISOString(),
    clean: soakClean(r),
    sessions: r.sessions,
    messages: r.messages,
    latency_ms: r.latency_ms,
    load_average: { start: r.load_start, end: r.load_end },
    steady_phase: { started: r.steady_started, ended: r.steady_ended, sample_seconds: r.sample_seconds },
    series: stats,
    after_full_gc: r.after_gc,
    samples: r.samples
  }
  await writeFile(resolve(outDir, 'soak-summary.json'), JSON.stringify(summary, null, 2) + '\n')
  const c = charts(r, stats)
  await writeFile(resolve(outDir, 'soak-memory.svg'), c.memory)
  await writeFile(resolve(outDir, 'soak-open-files.svg'), c.files)
  const m = r.messages
  const l = r.latency_ms
  return [
    '',
    `soak: ${run.machine}`,
    `soak: ${r.sessions.online} of ${r.sessions.asked} sessions online (${r.sessions.bosh} BOSH, ${r.sessions.ws} WebSocket), ${r.sessions.failed} failed logins, dropped ${JSON.stringify(r.sessions.dropped)}`,
    `soak: ${m.rate} messages/s for ${m.seconds} s: ${m.sent} sent, ${m.received} received, ${m.lost} lost, ${m.duplicated} duplicated, ${m.reordered} reordered; latency p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms`,
    `soak: load average ${r.load_start.join(' ')} at the start, ${r.load_end.join(' ')} at the end; ${r.samples.length} samples every ${r.sample_seconds} s`,
    ...seriesTable(stats),
    `soak: after a full GC, before the steady phase and after the drain: edge heap ${mib(r.after_gc.start.edge_heap_used)} → ${mib(r.after_gc.end.edge_heap_used)}, edge RSS ${mib(r.after_gc.start.edge_rss)} → ${mib(r.after_gc.end.edge_rss)}, ejabberd ${mib(r.after_gc.start.ejabberd_memory)} → ${mib(r.after_gc.end.ejabberd_memory)}`,
    `soak: ${soakClean(r) ? 'nothing lost, duplicated or reordered, every login succeeded' : `NOT CLEAN: ${faults(r).join(', ')}`}; summary and charts in ${outDir}`
  ]
}
