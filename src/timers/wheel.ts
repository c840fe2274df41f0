/**
 * A hashed timing wheel (Varghese & Lauck, scheme 6) for the edge's per-session deadlines: the
 * `wait` of each held BOSH request (XEP-0124 §7.1: answer an empty body when it runs out) and the
 * `inactivity` of each session (§7.1, §12: end the session). At 100,000 sessions a setTimeout per
 * request means a JS object, a closure and a libuv timer-list insertion per request; here one
 * unref'd setInterval drives every timer, and timers are integers into typed arrays.
 *
 *   tick k fires bucket k & mask                       firing list (callbacks run from here)
 *        |                                                    |
 *        v                                                    v
 *   +---+---+---+---+---+       +---+---+---+                +---+
 *   | S0| S1| S2| ..|S4095      | 17| 40| 3 |  <- nodes       | SF|
 *   +-|-+---+-|-+---+---+       +---+---+---+                +---+
 *     |       +--> 40 <-> 3 <-> (back to S2)   each bucket is a circular doubly-linked
 *     +--> 17 <-> (back to S0)                 list through next[]/prev[], sentinel S
 *
 * - Timer ids are 0..capacity-1, chosen by the caller (e.g. `row * 2 + kind`, kind 0 = wait,
 *   1 = inactivity), so scheduling allocates nothing and the callback is one per wheel:
 *   `fire(id)`. Node i of the lists is timer i; nodes capacity..capacity+slots-1 are the bucket
 *   sentinels and node capacity+slots the firing list's, so unlinking never needs to know which
 *   list a node is in: schedule, reschedule and cancel are O(1).
 * - `due[id]` is the absolute tick at which the timer fires. A bucket holds every timer whose due
 *   tick is congruent to it, whatever the turn; a tick fires those of its bucket that are due and
 *   leaves the later turns' in place.
 *
 * Why the constants have their values:
 * - resolution 100 ms: BOSH deadlines are seconds (wait 60 s, inactivity 30 s, ejabberd's
 *   defaults), so a tenth of a second late is invisible, and an idle tick every 100 ms costs
 *   ~10 wake-ups per second (bench/timers.ts measures the CPU).
 * - 4096 buckets: one turn is 409.6 s at 100 ms, longer than any BOSH wait or inactivity, so a
 *   timer is normally visited exactly once, when it fires. Longer timers are visited once per
 *   turn (correct, just not free). The sentinels cost 8 bytes each.
 * - Float64Array for due ticks: a tick count passes 2^31 after 6.8 years at 100 ms but after 25
 *   days at 1 ms; doubles are exact to 2^53.
 *
 * Invariants (test/unit/timer-wheel.test.ts):
 * 1. Never early: tick k is processed only once `now() >= origin + k * resolution`, and a timer
 *    for deadline D gets the first tick k with `origin + k * resolution >= D`, and never a tick
 *    already processed. Late by at most one resolution plus event-loop delay.
 * 2. Timers due at different ticks fire in tick order; timers due at the same tick fire in the
 *    order they were (re)scheduled. (After a stall longer than a whole turn, the overdue timers
 *    fire in one batch in bucket order.)
 * 3. `next[id] === -1` iff timer id is not scheduled; `size` counts the others.
 * 4. Callbacks run only from the firing list, after the bucket walk, so a callback may schedule
 *    or cancel any timer, itself included. If one throws, the timers still due stay on the firing
 *    list and fire on the next tick.
 */
import { MegaphoneError } from '../errors.ts'

export const TIMER_OPTIONS = 'TIMER_OPTIONS'
export const TIMER_ID_RANGE = 'TIMER_ID_RANGE'

export const DEFAULT_RESOLUTION_MS = 100
export const DEFAULT_SLOTS = 4096

/** Starts calling `tick` every `intervalMs`; returns the function that stops it. */
export type TickSource = (tick: () => void, intervalMs: number) => () => void

/** The real one: a setInterval that does not keep the process alive. */
export const intervalTicks: TickSource = (tick, intervalMs) => {
  const handle = setInterval(tick, intervalMs)
  handle.unref()
  return () => clearInterval(handle)
}

export interface TimerWheelOptions {
  /** Timer ids are 0..capacity-1. */
  capacity: number
  /** Called once per expired timer; the timer is no longer scheduled when it runs. */
  fire: (id: number) => void
  /** Milliseconds per tick. Default 100. */
  resolution?: number
  /** Buckets, a power of two. Default 4096. */
  slots?: number
  /** Monotonic milliseconds. Default `performance.now`. Tests inject a fake clock. */
  now?: () => number
  /** What drives `advance()` after `start()`. Default: an unref'd setInterval. */
  ticks?: TickSource
}

export class TimerWheel {
  readonly capacity: number
  readonly resolution: number
  readonly slotCount: number

  private readonly fire: (id: number) => void
  private readonly now: () => number
  private readonly ticks: TickSource
  private readonly mask: number
  private readonly firing: number
  private readonly next: Int32Array
  private readonly prev: Int32Array
  private readonly due: Float64Array
  private readonly origin: number
  private processed = 0
  private count = 0
  private stopTicks: (() => void) | undefined

  constructor ({ capacity, fire, resolution = DEFAULT_RESOLUTION_MS, slots = DEFAULT_SLOTS, now = () => performance.now(), ticks = intervalTicks }: TimerWheelOptions) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity + slots + 1 > 2 ** 31 - 1) {
      throw new MegaphoneError(TIMER_OPTIONS, `capacity must be a positive integer, got ${capacity}`)
    }
    if (!Number.isInteger(slots) || slots < 1 || (slots & (slots - 1)) !== 0) {
      throw new MegaphoneError(TIMER_OPTIONS, `slots must be a power of two, got ${slots}`)
    }
    if (!(resolution > 0 && Number.isFinite(resolution))) {
      throw new MegaphoneError(TIMER_OPTIONS, `resolution must be a positive number of ms, got ${resolution}`)
    }
    this.capacity = capacity
    this.resolution = resolution
    this.slotCount = slots
    this.mask = slots - 1
    this.fire = fire
    this.now = now
    this.ticks = ticks
    this.firing = capacity + slots
    const nodes = capacity + slots + 1
    this.next = new Int32Array(nodes).fill(-1)
    this.prev = new Int32Array(nodes).fill(-1)
    for (let s = capacity; s < nodes; s++) {
      this.next[s] = s
      this.prev[s] = s
    }
    this.due = new Float64Array(capacity)
    this.origin = now()
  }

  /** Scheduled timers. */
  get size (): number { return this.count }

  /** Bytes of typed-array memory (outside the JS heap). */
  get externalBytes (): number {
    return this.next.byteLength + this.prev.byteLength + this.due.byteLength
  }

  /** (Re)schedules timer `id` to fire `delayMs` from now. O(1), allocates nothing. */
  schedule (id: number, delayMs: number): void {
    if (!(delayMs >= 0 && delayMs !== Infinity)) {
      throw new MegaphoneError(TIMER_OPTIONS, `delay must be a finite number of ms ≥ 0, got ${delayMs}`)
    }
    this.scheduleAt(id, this.now() + delayMs)
  }

  /** (Re)schedules timer `id` to fire at `deadline` on the `now()` clock. */
  scheduleAt (id: number, deadline: number): void {
    if (!(id >= 0 && id < this.capacity && (id | 0) === id)) {
      throw new MegaphoneError(TIMER_ID_RANGE, `timer id ${id} outside 0..${this.capacity - 1}`)
    }
    if (!Number.isFinite(deadline)) {
      throw new MegaphoneError(TIMER_OPTIONS, `deadline must be finite, got ${deadline}`)
    }
    const next = this.next
    const prev = this.prev
    if (next[id] === -1) {
      this.count++
    } else {
      next[prev[id]!] = next[id]!
      prev[next[id]!] = prev[id]!
    }
    const res = this.resolution
    const offset = deadline - this.origin
    let tick = Math.ceil(offset / res)
    // Guard against the division rounding down: the tick's time must not precede the deadline.
    if (tick * res < offset) tick++
    if (tick <= this.processed) tick = this.processed + 1
    this.due[id] = tick
    // Append at the bucket's tail (prev of its sentinel): same-tick timers fire in order.
    const s = this.capacity + (tick & this.mask)
    const tail = prev[s]!
    next[tail] = id
    prev[id] = tail
    next[id] = s
    prev[s] = id
  }

  /** Cancels timer `id`; returns whether it was scheduled. O(1). */
  cancel (id: number): boolean {
    if (!(id >= 0 && id < this.capacity)) return false
    const next = this.next
    const prev = this.prev
    const n = next[id]!
    if (n === -1) return false
    const p = prev[id]!
    next[p] = n
    prev[n] = p
    next[id] = -1
    this.count--
    return true
  }

  isScheduled (id: number): boolean {
    return id >= 0 && id < this.capacity && this.next[id] !== -1
  }

  /** The clock time at which a scheduled timer's tick falls (≥ its deadline), or -1. */
  deadlineOf (id: number): number {
    if (!this.isScheduled(id)) return -1
    return this.origin + this.due[id]! * this.resolution
  }

  /**
   * Processes every tick whose time has come by `now` and fires what is due; returns how many
   * fired. `start()` calls this from the interval; tests call it with a fake clock.
   */
  advance (now: number = this.now()): number {
    const res = this.resolution
    const offset = now - this.origin
    let target = Math.floor(offset / res)
    if (target * res > offset) target--
    let fired = this.drain()
    if (target <= this.processed) return fired
    // After a stall longer than a turn, one pass over every bucket finds all that is due.
    let k = Math.max(this.processed + 1, target - this.mask)
    for (; k <= target; k++) {
      this.processed = k
      this.collect(k)
      fired += this.drain()
    }
    this.processed = target
    return fired
  }

  /** Starts the tick (unref'd: it does not keep the process alive). Idempotent. */
  start (): void {
    if (this.stopTicks !== undefined) return
    this.stopTicks = this.ticks(() => { this.advance() }, this.resolution)
  }

  /** Stops the tick; scheduled timers stay scheduled (start() resumes them). */
  stop (): void {
    this.stopTicks?.()
    this.stopTicks = undefined
  }

  /** Cancels every timer (shutdown). O(capacity). */
  clear (): void {
    const next = this.next
    const prev = this.prev
    next.fill(-1, 0, this.capacity)
    for (let s = this.capacity; s < next.length; s++) {
      next[s] = s
      prev[s] = s
    }
    this.count = 0
  }

  /** Moves the due timers of tick k's bucket to the firing list. No callbacks run here. */
  private collect (k: number): void {
    const next = this.next
    const prev = this.prev
    const due = this.due
    const s = this.capacity + (k & this.mask)
    const f = this.firing
    let node = next[s]!
    while (node !== s) {
      const after = next[node]!
      if (due[node]! <= k) {
        next[prev[node]!] = after
        prev[after] = prev[node]!
        const tail = prev[f]!
        next[tail] = node
        prev[node] = tail
        next[node] = f
        prev[f] = node
      }
      node = after
    }
  }

  /** Fires the firing list in order; each timer is unscheduled before its callback runs. */
  private drain (): number {
    const next = this.next
    const prev = this.prev
    const f = this.firing
    let fired = 0
    for (let id = next[f]!; id !== f; id = next[f]!) {
      const after = next[id]!
      next[f] = after
      prev[after] = f
      next[id] = -1
      this.count--
      fired++
      this.fire(id)
    }
    return fired
  }
}
