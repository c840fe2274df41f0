/**
 * The link's write path, with explicit backpressure (as aedes does): while the socket accepts
 * writes, frames go straight to it, corked until the event loop's check phase, so that every frame
 * produced while one poll phase runs its I/O callbacks (all the HTTP requests and WebSocket
 * messages that arrived together) leaves in one writev; once `write()` returns false, frames wait
 * here, in order, until 'drain'.
 *
 *   write(frame) ──socket accepting──> socket.write (corked until setImmediate)
 *        │
 *        └──socket refused (write() was false)──> [ items ... ] ──'drain'──> socket.write ...
 *
 * Invariants: items leave in the order they came (a frame is never overtaken, so a CLOSE never
 * passes its connection's DATA); `bytes` ≤ limit for ordinary frames and ≤ 2·limit counting
 * frames pushed with `force` (session ends and link control); nothing is queued while the socket
 * is accepting.
 */
import type { Socket } from 'node:net'

export class SendQueue {
  /** Bytes waiting here (not counting Node's own stream buffer). */
  bytes = 0
  private items: Array<Buffer | undefined> = []
  private head = 0
  private blocked = false
  private corked = false
  private readonly uncork = (): void => {
    this.corked = false
    this.socket.uncork()
  }

  private readonly flush = (): void => {
    this.blocked = false
    const items = this.items
    while (this.head < items.length) {
      const item = items[this.head]!
      items[this.head++] = undefined
      this.bytes -= item.length
      if (!this.socket.write(item)) {
        this.blocked = true
        this.socket.once('drain', this.flush)
        break
      }
    }
    if (this.head === items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > items.length) {
      this.items = items.slice(this.head)
      this.head = 0
    }
  }

  constructor (private readonly socket: Socket, readonly limit: number) {}

  /** Frames waiting here. */
  get length (): number {
    return this.items.length - this.head
  }

  /** True when `n` more bytes would fit under the limit (`force` doubles it). */
  fits (n: number, force = false): boolean {
    return !this.blocked || this.bytes + n <= (force ? 2 * this.limit : this.limit)
  }

  /**
   * Writes or queues one frame in up to two parts (header and payload, never copied). Returns
   * false, doing nothing, if it does not fit.
   */
  write (a: Buffer, b?: Buffer, force = false): boolean {
    if (this.blocked) {
      const n = a.length + (b === undefined ? 0 : b.length)
      if (this.bytes + n > (force ? 2 * this.limit : this.limit)) return false
      this.items.push(a)
      this.bytes += a.length
      if (b !== undefined) {
        this.items.push(b)
        this.bytes += b.length
      }
      return true
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
    return true
  }

  /** Drops everything (the socket is gone). */
  clear (): void {
    this.items = []
    this.head = 0
    this.bytes = 0
    this.socket.off('drain', this.flush)
  }

  /** True when nothing waits here. */
  get empty (): boolean {
    return this.head === this.items.length
  }
}
