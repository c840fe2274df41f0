/**
 * The link's write path, with explicit backpressure (as aedes does): while the socket accepts
 * writes, frames go straight to it, corked until the event loop's check phase, so that every frame
 * produced while one poll phase runs its I/O callbacks (all the HTTP requests and WebSocket
 * messages that arrived together) leaves in one writev; once `write()` returns false, frames wait
 * here until 'drain'. Frames also wait here once `window` bytes are in flight: written to the
 * socket but not yet acknowledged by the backend (below).
 *
 *   write(frame, owner) ──socket accepting──> socket.write (corked until setImmediate)
 *        │
 *        └──socket refused (write() was false)──> backlog of `owner` ──'drain'──> socket.write ...
 *                                                  owner 0 (link control) first, then the
 *                                                  owners in turn, one frame each
 *
 * Every session shares the link, so each frame carries its owner (the connection id; 0 for link
 * control) and waits in its owner's backlog (issue 16, "one session cannot hurt another"):
 *  - a session may not have more than `ownerLimit` bytes waiting (its budget); without it one
 *    client sending fast (a 64 KiB BOSH body whose namespace declarations are copied into 100
 *    payloads is 6.5 MB of frames) filled the shared limit, and then every session that sent was
 *    refused;
 *  - backlogs are served in turn, one frame each: a session's frame waits behind at most one frame
 *    of each other session with frames waiting, not behind everything a flooder queued first.
 * The shared `limit` stays, as the last resort when many sessions each hold less than their
 * budget.
 *
 * Both only help if the backlog waits here rather than beyond the edge: the kernel's socket
 * buffers on the link (up to 4 MB to send and 32 MB to receive on Linux) would otherwise hold a
 * flooder's frames ahead of everyone's, in one FIFO the edge cannot reorder (measured: alice's
 * ping waited ~0.4 s p50 behind 8 flooding sessions). So the queue keeps at most `window` bytes in
 * flight: every window/4 bytes of session frames it writes a PING whose 8 bytes are the link
 * offset it follows (docs/link-protocol.md: the backend echoes a PING's bytes in its PONG, and
 * reads frames in order), and a PONG acknowledges everything before that offset (`ack`).
 *
 * Invariants: the frames of one owner leave in the order they came (a CLOSE never passes its
 * connection's DATA; frames of different owners may be reordered, which the link allows: each
 * connection is its own stream); `bytes` ≤ limit for ordinary frames and ≤ 2·limit counting
 * frames pushed with `force` (session ends and link control); an owner's ordinary frames here
 * total ≤ ownerLimit; `bytes` is the sum of the backlogs' bytes; `ring` lists exactly the owners
 * with a backlog; session frames are queued only while the socket refuses more or `window` bytes
 * are unacknowledged, and then a marker PING is in flight whose PONG will resume them.
 */
import type { Socket } from 'node:net'

/** write() outcomes. */
export const QUEUED = 0
/** The shared limit is reached: nothing written. */
export const QUEUE_FULL = 1
/** This owner already holds its budget here: nothing written. */
export const OVER_BUDGET = 2
export type WriteOutcome = typeof QUEUED | typeof QUEUE_FULL | typeof OVER_BUDGET

/** The owner of link control frames (PING, PONG, ERROR, the handshake, STATS_REQUEST). */
export const LINK_OWNER = 0

/** The frames one owner has waiting, oldest at `head`. */
interface Backlog {
  frames: Array<Buffer | undefined>
  head: number
  bytes: number
}

export class SendQueue {
  /** Bytes waiting here (not counting Node's own stream buffer). */
  bytes = 0
  /** Frames waiting here. */
  length = 0
  private readonly backlogs = new Map<number, Backlog>()
  /** Session owners with a backlog, served in turn from `turn` (link control is not in it). */
  private ring: number[] = []
  private turn = 0
  private blocked = false
  /** session frames wait for a PONG: `window` bytes are unacknowledged */
  private windowed = false
  /** Bytes handed to the socket on this link, the offset the last PONG acknowledged, and where the last marker PING went. */
  written = 0
  private acked = 0
  private markedAt = 0
  private corked = false
  private readonly uncork = (): void => {
    this.corked = false
    this.socket.uncork()
  }

  private readonly flush = (): void => {
    this.blocked = false
    for (;;) {
      // Link control first: a PONG stuck behind session backlogs would look like a dead link.
      let owner = LINK_OWNER
      let q = this.backlogs.get(LINK_OWNER)
      if (q === undefined) {
        if (this.ring.length === 0) break
        if (this.written - this.acked >= this.window) { this.windowed = true; return } // ack() resumes
        if (this.turn >= this.ring.length) this.turn = 0
        owner = this.ring[this.turn]!
        q = this.backlogs.get(owner)!
      }
      const frame = q.frames[q.head]!
      q.frames[q.head++] = undefined
      q.bytes -= frame.length
      this.bytes -= frame.length
      this.length--
      if (q.head === q.frames.length) {
        this.backlogs.delete(owner)
        // The next owner slides into this turn.
        if (owner !== LINK_OWNER) this.ring.splice(this.turn, 1)
      } else {
        if (q.head > 1024 && q.head * 2 > q.frames.length) {
          q.frames = q.frames.slice(q.head)
          q.head = 0
        }
        if (owner !== LINK_OWNER) this.turn++
      }
      let ok = this.put(frame)
      if (owner !== LINK_OWNER) ok = this.mark() && ok
      if (!ok) {
        this.blocked = true
        this.socket.once('drain', this.flush)
        return
      }
    }
    this.ring = []
    this.turn = 0
  }

  /**
   * @param limit bytes all owners together may queue (twice that with `force`)
   * @param ownerLimit bytes one owner may queue with ordinary frames
   * @param window bytes of session frames in flight before they wait for a PONG (Infinity: no window)
   * @param marker a PING frame whose 8 bytes say `offset` (required with a finite window)
   */
  constructor (
    private readonly socket: Socket, readonly limit: number, readonly ownerLimit = limit,
    readonly window = Infinity, private readonly marker?: (offset: number) => Buffer
  ) {}

  /**
   * A PONG came back with the offset its PING carried: the backend has read every byte before it.
   * Offsets that are not ours (above what was written) or older than the last are ignored.
   */
  ack (offset: number): void {
    if (!(offset > this.acked && offset <= this.written)) return
    this.acked = offset
    if (this.windowed && this.written - this.acked < this.window) {
      this.windowed = false
      if (!this.blocked) this.flush()
    }
  }

  /** Owners with frames waiting here. */
  get ownerCount (): number {
    return this.backlogs.size
  }

  /** Bytes `owner` has waiting here. */
  queuedBy (owner: number): number {
    return this.backlogs.get(owner)?.bytes ?? 0
  }

  /** True when `n` more bytes would fit under the limit (`force` doubles it). */
  fits (n: number, force = false): boolean {
    return !this.blocked || this.bytes + n <= (force ? 2 * this.limit : this.limit)
  }

  /**
   * Writes or queues one frame of `owner` (never copied). Returns QUEUED, or, doing nothing,
   * QUEUE_FULL when the shared limit has no room or OVER_BUDGET when the owner's own budget has
   * none (a `force`d frame is never over budget: a session over its budget must still be able to
   * end).
   */
  write (frame: Buffer, force = false, owner = LINK_OWNER): WriteOutcome {
    // Link control goes straight out unless the socket refuses more; a session frame also waits
    // behind any backlog (its order) and while the window is full.
    const wait = this.blocked || (owner !== LINK_OWNER && (this.length > 0 || this.written - this.acked >= this.window))
    if (wait) {
      if (!this.blocked) this.windowed = true
      const n = frame.length
      if (this.bytes + n > (force ? 2 * this.limit : this.limit)) return QUEUE_FULL
      let q = this.backlogs.get(owner)
      if (!force && owner !== LINK_OWNER && (q?.bytes ?? 0) + n > this.ownerLimit) return OVER_BUDGET
      if (q === undefined) {
        q = { frames: [], head: 0, bytes: 0 }
        this.backlogs.set(owner, q)
        if (owner !== LINK_OWNER) this.ring.push(owner)
      }
      q.frames.push(frame)
      q.bytes += n
      this.bytes += n
      this.length++
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
    let ok = this.put(frame)
    if (owner !== LINK_OWNER) ok = this.mark() && ok
    if (!ok) {
      this.blocked = true
      this.socket.once('drain', this.flush)
    }
    return QUEUED
  }

  /** Hands one frame to the socket, counting its bytes; false when the socket wants no more. */
  private put (frame: Buffer): boolean {
    this.written += frame.length
    return this.socket.write(frame)
  }

  /** After session frames: a marker PING every window/4 bytes, so that PONGs keep the window moving. */
  private mark (): boolean {
    if (this.marker === undefined || this.written - this.markedAt < this.window / 4) return true
    this.markedAt = this.written
    return this.put(this.marker(this.written))
  }

  /**
   * Drops the frames of `owner` still waiting here and returns their bytes: a session ended for
   * going over its budget takes its backlog with it, so that what it queued neither holds the
   * others' frames back nor reaches the server. Only whole frames wait here (a frame the socket
   * took is the socket's), so what the server gets of it is still a run of whole elements.
   */
  purge (owner: number): number {
    const q = this.backlogs.get(owner)
    if (q === undefined) return 0
    this.backlogs.delete(owner)
    const at = this.ring.indexOf(owner)
    if (at >= 0) {
      this.ring.splice(at, 1)
      if (at < this.turn) this.turn--
    }
    this.bytes -= q.bytes
    this.length -= q.frames.length - q.head
    return q.bytes
  }

  /** Drops everything (the socket is gone). */
  clear (): void {
    this.backlogs.clear()
    this.ring = []
    this.turn = 0
    this.bytes = 0
    this.length = 0
    this.windowed = false
    this.socket.off('drain', this.flush)
  }

  /** True when nothing waits here. */
  get empty (): boolean {
    return this.length === 0
  }
}
