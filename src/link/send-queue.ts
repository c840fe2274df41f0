/**
 * The link's write path, with explicit backpressure (as aedes does): while the socket accepts
 * writes, frames go straight to it, corked until the event loop's check phase, so that every frame
 * produced while one poll phase runs its I/O callbacks (all the HTTP requests and WebSocket
 * messages that arrived together) leaves in one writev; once `write()` returns false, frames wait
 * here, in order, until 'drain'.
 *
 *   write(frame, owner) ──socket accepting──> socket.write (corked until setImmediate)
 *        │
 *        └──socket refused (write() was false)──> [ items ... ] ──'drain'──> socket.write ...
 *                                                  owners[i], bytes per owner
 *
 * Every session shares this one queue, so each frame carries its owner (the connection id; 0 for
 * link control) and the bytes each owner has waiting here are counted: a session may not hold
 * more than `ownerLimit` of them (issue 16, "one session cannot hurt another"). Without it one
 * client sending fast (a 64 KiB BOSH body whose namespace declarations are copied into 100
 * payloads is 6.5 MB of frames) filled the shared limit, and then every session that sent was
 * refused. The shared `limit` stays, as the last resort when many sessions each hold less than
 * their own budget.
 *
 * Invariants: items leave in the order they came (a frame is never overtaken, so a CLOSE never
 * passes its connection's DATA); `bytes` ≤ limit for ordinary frames and ≤ 2·limit counting
 * frames pushed with `force` (session ends and link control); an owner's ordinary frames here
 * total ≤ ownerLimit; `bytes` is the sum of `owned`; nothing is queued while the socket is
 * accepting.
 */
import type { Socket } from 'node:net'

/** write() outcomes. */
export const QUEUED = 0
/** The shared limit is reached: nothing written. */
export const QUEUE_FULL = 1
/** This owner already holds its budget here: nothing written. */
export const OVER_BUDGET = 2
export type WriteOutcome = typeof QUEUED | typeof QUEUE_FULL | typeof OVER_BUDGET

/** The owner of link control frames (PING, PONG, ERROR on id 0, the handshake). */
export const LINK_OWNER = 0

export class SendQueue {
  /** Bytes waiting here (not counting Node's own stream buffer). */
  bytes = 0
  private items: Array<Buffer | undefined> = []
  /** owners[i] is the connection id items[i] belongs to */
  private owners: number[] = []
  private head = 0
  /** Bytes waiting here per owner; an owner with none has no entry (the map stays as small as the backlog). */
  private readonly owned = new Map<number, number>()
  private blocked = false
  private corked = false
  private readonly uncork = (): void => {
    this.corked = false
    this.socket.uncork()
  }

  private readonly flush = (): void => {
    this.blocked = false
    const items = this.items
    const owners = this.owners
    while (this.head < items.length) {
      const item = items[this.head]!
      const owner = owners[this.head]!
      items[this.head++] = undefined
      this.bytes -= item.length
      this.release(owner, item.length)
      if (!this.socket.write(item)) {
        this.blocked = true
        this.socket.once('drain', this.flush)
        break
      }
    }
    if (this.head === items.length) {
      this.items = []
      this.owners = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > items.length) {
      this.items = items.slice(this.head)
      this.owners = owners.slice(this.head)
      this.head = 0
    }
  }

  /**
   * @param limit bytes all owners together may queue (twice that with `force`)
   * @param ownerLimit bytes one owner may queue with ordinary frames
   */
  constructor (private readonly socket: Socket, readonly limit: number, readonly ownerLimit = limit) {}

  /** Frames waiting here. */
  get length (): number {
    return this.items.length - this.head
  }

  /** Owners with bytes waiting here. */
  get ownerCount (): number {
    return this.owned.size
  }

  /** Bytes `owner` has waiting here. */
  queuedBy (owner: number): number {
    return this.owned.get(owner) ?? 0
  }

  /** True when `n` more bytes would fit under the limit (`force` doubles it). */
  fits (n: number, force = false): boolean {
    return !this.blocked || this.bytes + n <= (force ? 2 * this.limit : this.limit)
  }

  /**
   * Writes or queues one frame of `owner` in up to two parts (header and payload, never copied).
   * Returns QUEUED, or, doing nothing, QUEUE_FULL when the shared limit has no room or
   * OVER_BUDGET when the owner's own budget has none (a `force`d frame is never over budget: a
   * session over its budget must still be able to end).
   */
  write (a: Buffer, b?: Buffer, force = false, owner = LINK_OWNER): WriteOutcome {
    if (this.blocked) {
      const n = a.length + (b === undefined ? 0 : b.length)
      if (this.bytes + n > (force ? 2 * this.limit : this.limit)) return QUEUE_FULL
      const mine = this.owned.get(owner) ?? 0
      if (!force && owner !== LINK_OWNER && mine + n > this.ownerLimit) return OVER_BUDGET
      this.owned.set(owner, mine + n)
      this.items.push(a)
      this.owners.push(owner)
      this.bytes += a.length
      if (b !== undefined) {
        this.items.push(b)
        this.owners.push(owner)
        this.bytes += b.length
      }
      return QUEUED
    }
    if (!this.corked) {
      this.corked = true
      this.socket.cork()
      // Not nextTick: each request is its own callback, so a tick holds one frame and every frame
      // would cost a syscall (measured at 10,000 BOSH sessions: 6 s of 86 s in the edge went to
      // one write per frame). setImmediate runs right after the poll phase: no added wait.
      setImmediate(this.uncork)
    }
    let ok = this.socket.write(a)
    if (b !== undefined) ok = this.socket.write(b)
    if (!ok) {
      this.blocked = true
      this.socket.once('drain', this.flush)
    }
    return QUEUED
  }

  /**
   * Drops the frames of `owner` still waiting here and returns their bytes: a session ended for
   * going over its budget takes its backlog with it, so that what it queued neither holds the
   * others' frames back nor reaches the server. Only whole frames wait here (a frame the socket
   * took is the socket's), so the frames that stay are still a valid stream. O(queued frames),
   * once per ended offender.
   */
  purge (owner: number): number {
    const mine = this.owned.get(owner)
    if (mine === undefined) return 0
    const items: Array<Buffer | undefined> = []
    const owners: number[] = []
    for (let i = this.head; i < this.items.length; i++) {
      if (this.owners[i] === owner) continue
      items.push(this.items[i])
      owners.push(this.owners[i]!)
    }
    this.items = items
    this.owners = owners
    this.head = 0
    this.owned.delete(owner)
    this.bytes -= mine
    return mine
  }

  /** Drops everything (the socket is gone). */
  clear (): void {
    this.items = []
    this.owners = []
    this.head = 0
    this.bytes = 0
    this.owned.clear()
    this.socket.off('drain', this.flush)
  }

  /** True when nothing waits here. */
  get empty (): boolean {
    return this.head === this.items.length
  }

  private release (owner: number, n: number): void {
    const left = (this.owned.get(owner) ?? 0) - n
    if (left > 0) this.owned.set(owner, left)
    else this.owned.delete(owner)
  }
}
