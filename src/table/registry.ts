/**
 * The sid-level face of the session table, for the BOSH layer: create a session with a fresh
 * sid, find a session from the sid a request carries, and format a row's sid again when needed.
 * Nothing here allocates except `sidOf`, which builds the string the client is sent.
 *
 *   const sessions = new SessionRegistry({ maxSessions: 1_000_000 })
 *   const rid = sessions.table.column(Float64Array)      // per-row state lives in columns
 *   const row = sessions.open()                          // or FULL → answer a BOSH error
 *   rid[row] = firstRid; reply({ sid: sessions.sidOf(row) })
 *   ...
 *   const row = sessions.find(body.sid)                  // every later request
 *   if (row < 0) → XEP-0124 §17.3 item-not-found (MALFORMED and NOT_FOUND alike)
 *   sessions.close(row)                                  // terminate, inactivity timeout
 */
import { FULL, DUPLICATE, NOT_FOUND, SessionTable, type SessionTableOptions } from './session-table.ts'
import { SessionIds, formatSid, parseSidWords, SID_LENGTH, SID_WORDS, type SessionIdsOptions } from './sid.ts'

/** `find`: the string is not a well-formed sid (the caller may answer as for NOT_FOUND). */
export const MALFORMED = -4

export interface SidOptions {
  /**
   * The edge's id when several edges serve one deployment (issue 14): every sid ends with
   * `.<edgeId>`, so that any edge can tell which one owns a session (src/bosh/forward.ts) and a
   * balancer can route on it. Empty (one edge): sids are the 32 hex digits alone.
   */
  edgeId?: string
}

export class SessionRegistry {
  readonly table: SessionTable
  private readonly ids: SessionIds
  private readonly scratch = new Uint32Array(SID_WORDS)
  /** '' or `.<edgeId>`, and the length of every sid this edge issues */
  private readonly suffix: string
  private readonly sidLength: number

  constructor (options: SessionTableOptions & SessionIdsOptions & SidOptions = {}) {
    this.table = new SessionTable(options)
    this.ids = new SessionIds(options)
    this.suffix = options.edgeId === undefined || options.edgeId === '' ? '' : `.${options.edgeId}`
    this.sidLength = SID_LENGTH + this.suffix.length
  }

  /** Creates a session under a fresh sid; returns its row, or `FULL`. */
  open (): number {
    const w = this.scratch
    for (;;) {
      this.ids.generate(w)
      const row = this.table.insert(w[0]!, w[1]!, w[2], w[3])
      // DUPLICATE needs two equal 64-bit random keys: draw again rather than fail.
      if (row !== DUPLICATE) return row
    }
  }

  /** The sid of a live row (allocates the string). */
  sidOf (row: number): string {
    this.table.readRecord(row, this.scratch)
    return this.suffix === '' ? formatSid(this.scratch) : formatSid(this.scratch) + this.suffix
  }

  /**
   * The row of the session `sid` names, verifier checked; `NOT_FOUND` or `MALFORMED`.
   *
   * The key half is decoded first and looked up before the verifier half is decoded: the
   * lookup's memory reads (usually two cache misses, ~100 ns each at 1M sessions) are then under
   * way while the CPU decodes the verifier, which does not depend on them. The lookup runs even
   * when the key half was malformed (its words are then garbage and the answer is MALFORMED
   * anyway), so there is no extra branch on the common path.
   */
  find (sid: unknown): number {
    if (typeof sid !== 'string' || sid.length !== this.sidLength) return MALFORMED
    // The random part comes first, so the suffix costs one comparison and no re-slicing.
    if (this.suffix !== '' && !sid.endsWith(this.suffix)) return MALFORMED
    const w = this.scratch
    const keyOk = parseSidWords(sid, 0, 2, w)
    const row = this.table.lookup(w[0]!, w[1]!)
    const verifierOk = parseSidWords(sid, 2, 2, w)
    if (!keyOk || !verifierOk) return MALFORMED
    return row >= 0 && this.table.verify(row, w[2]!, w[3]!) ? row : NOT_FOUND
  }

  /** Ends the session in `row`; false if it was not live. */
  close (row: number): boolean {
    return this.table.deleteRow(row)
  }

  get size (): number { return this.table.size }
}

export { FULL, NOT_FOUND }
