/**
 * The log lines of admission refusals, at most one per limit per interval: a flood of refused
 * requests must not become a flood of log lines (the metric counts every refusal). Each line
 * names one refused address and how many refusals of that limit went unlogged since the last
 * line, so the operator sees both who and how much.
 */
import type { AdmissionLimit } from './admission.ts'

/** Where lines go: pino's `warn(fields, message)` fits. */
export type RefusalSink = (fields: { limit: AdmissionLimit, address: string, unlogged: number }, message: string) => void

export class RefusalLog {
  private readonly last = new Map<AdmissionLimit, number>()
  private readonly unlogged = new Map<AdmissionLimit, number>()

  constructor (
    private readonly sink: RefusalSink,
    private readonly now: () => number,
    /** ms between two lines about one limit */
    private readonly intervalMs = 10_000
  ) {}

  refused (limit: AdmissionLimit, address: string): void {
    const t = this.now()
    const last = this.last.get(limit)
    if (last !== undefined && t - last < this.intervalMs) {
      this.unlogged.set(limit, (this.unlogged.get(limit) ?? 0) + 1)
      return
    }
    this.last.set(limit, t)
    const unlogged = this.unlogged.get(limit) ?? 0
    this.unlogged.set(limit, 0)
    this.sink({ limit, address, unlogged }, 'admission refused')
  }
}
