/**
 * Every micro-benchmark in one command (`npm run bench:micro`): the link codec, the session
 * table, BOSH body parsing and the timer wheel, one after the other, each in its own process
 * (a fresh heap for each, and --expose-gc where it measures memory), output as they print it.
 *
 *   npm run bench:micro [-- codec,table]     (a comma-separated subset; default all)
 */
import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'
import { machineLine } from './lib/report.ts'

const BENCHES: Array<{ name: string, file: string, gc: boolean }> = [
  { name: 'codec', file: 'codec.ts', gc: false },
  { name: 'table', file: 'table.ts', gc: true },
  { name: 'body', file: 'body.ts', gc: false },
  { name: 'timers', file: 'timers.ts', gc: true }
]

const only = process.argv[2]?.split(',').map(s => s.trim())
console.log(machineLine())
let failed = 0
for (const b of BENCHES.filter(x => only === undefined || only.includes(x.name))) {
  console.log(`\n===== bench/${b.file} (npm run bench:${b.name})`)
  const started = performance.now()
  const r = spawnSync(process.execPath, [...(b.gc ? ['--expose-gc'] : []), '--import', 'tsx', resolve(import.meta.dirname, b.file)], { stdio: 'inherit' })
  console.log(`===== bench/${b.file}: ${r.status === 0 ? 'done' : `failed (${r.status ?? r.signal ?? '?'})`} in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  if (r.status !== 0) failed++
}
process.exitCode = failed > 0 ? 1 : 0
