/**
 * Shared benchmark plumbing: the machine line every benchmark prints first, a warm-up/sample
 * loop, and ratio formatting. Benchmarks report ratios against a baseline measured in the same
 * run, never absolute targets asserted anywhere.
 */
import { execFileSync } from 'node:child_process'
import os from 'node:os'

export function commit (): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return 'unknown'
  }
}

/** One line naming the machine, Node version and commit, printed before any figure. */
export function machineLine (): string {
  const cpus = os.cpus()
  const model = cpus[0]?.model.trim() ?? 'unknown cpu'
  const mem = (os.totalmem() / 2 ** 30).toFixed(1)
  return `machine: ${model} x${cpus.length}, ${mem} GiB, ${os.type()} ${os.release()}; node ${process.version}; commit ${commit()}`
}

export interface Sample {
  /** operations per second for each timed sample */
  rates: number[]
  /** median of `rates` */
  median: number
}

/**
 * Runs `fn` (which performs `opsPerCall` operations) for `warmupMs`, then takes `samples`
 * samples of at least `sampleMs` each, and returns their rates. The median resists the odd
 * sample disturbed by GC or the other core's load.
 */
export function measure (fn: () => void, opsPerCall: number, { warmupMs = 300, sampleMs = 300, samples = 7 } = {}): Sample {
  const until = performance.now() + warmupMs
  while (performance.now() < until) fn()
  const rates: number[] = []
  for (let s = 0; s < samples; s++) {
    let calls = 0
    const start = performance.now()
    let now = start
    while (now - start < sampleMs) {
      fn()
      calls++
      now = performance.now()
    }
    rates.push((calls * opsPerCall) / ((now - start) / 1000))
  }
  const sorted = [...rates].sort((a, b) => a - b)
  return { rates, median: sorted[Math.floor(sorted.length / 2)] ?? 0 }
}

export function fmtRate (n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`
  return n.toFixed(0)
}

export function ratio (a: number, b: number): string {
  return `${(a / b).toFixed(2)}x`
}
