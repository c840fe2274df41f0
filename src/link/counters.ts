/**
 * The link's counters, for metrics: plain numbers, kept in typed arrays on the hot path (indexed
 * by the frame's type byte) and turned into named fields on demand.
 */
import { FRAME_TYPE_NAMES, type FrameType } from './codec/index.ts'

export interface FrameCounts {
  /** by frame type name (HELLO, DATA, ...) */
  [type: string]: number
}

export interface LinkCounters {
  framesIn: FrameCounts
  bytesIn: FrameCounts
  framesOut: FrameCounts
  bytesOut: FrameCounts
  /** session frames for ids that are not open (closed, crossed on the wire, never allocated) */
  framesIgnored: number
  /** frames skipped or refused: decoder errors, bad-frame, wrong direction */
  protocolErrors: number
  /** ERROR frames received */
  remoteErrors: number
  /** frames and bytes waiting in the send queue; bytes in Node's socket buffer */
  queueFrames: number
  queueBytes: number
  socketBufferedBytes: number
  /** open connections */
  connections: number
  /** connections opened over the client's life */
  connectionsOpened: number
  /** TCP connect attempts after the first */
  reconnects: number
  /** handshakes completed, and attempts that failed before AUTH_OK */
  handshakes: number
  handshakeFailures: number
  /** link losses after a completed handshake */
  linkLosses: number
  pingsSent: number
  pongsReceived: number
  /** sends refused because the session had its budget (maxSessionQueueBytes) waiting; each ends its session */
  sessionsOverBudget: number
}

export class FrameCounters {
  readonly framesIn = new Float64Array(256)
  readonly bytesIn = new Float64Array(256)
  readonly framesOut = new Float64Array(256)
  readonly bytesOut = new Float64Array(256)

  static named (counts: Float64Array): FrameCounts {
    const out: FrameCounts = {}
    for (const [type, name] of Object.entries(FRAME_TYPE_NAMES)) out[name] = counts[Number(type) as FrameType] ?? 0
    return out
  }
}
