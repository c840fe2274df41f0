/**
 * Several links behind one Backend: an edge in front of an ejabberd cluster links to every node
 * it is given (issue 14). A new session goes to the link that is up with the fewest open
 * connections; each link's sessions live and die with it (its loss ends only them, with the
 * reason the link gives: `link-lost`), and the transports never learn there is more than one.
 *
 * Connection ids: the transports store one number per session. A pool id names the member and
 * the member's own id together, `memberId * n + index`, so that routing a frame back needs no
 * map: `index = id % n`. With one member the pool id is the member's id (n = 1), and the pool
 * costs a modulo and a division per call. Member ids start at 1, so a pool id is never 0 (0
 * means "no connection" to the transports).
 */
import type { Backend, ConnectionHandler, OpenParams } from '../backend/backend.ts'
import { linkError, LINK_OPTIONS } from './errors.ts'

/** What the pool needs of a member beyond the Backend contract. */
export interface PoolMember extends Backend {
  /** connection ids open on this member now: the pool's measure of its load */
  readonly openConnections: number
}

export class LinkPool implements Backend {
  private readonly n: number

  constructor (readonly members: readonly PoolMember[]) {
    if (members.length === 0) throw linkError(LINK_OPTIONS, 'a link pool needs at least one link')
    this.n = members.length
  }

  /** Sessions can open when any link is up. */
  get ready (): boolean {
    for (const m of this.members) if (m.ready) return true
    return false
  }

  /** How many links are up. */
  get readyCount (): number {
    let up = 0
    for (const m of this.members) if (m.ready) up++
    return up
  }

  /**
   * Opens on the link that is up with the fewest open connections (ties: the first listed). With
   * none up, the first link's own refusal (LINK_DOWN) is what the caller hears.
   */
  open (params: OpenParams, handler: ConnectionHandler): number {
    const members = this.members
    let best = -1
    let fewest = Infinity
    for (let i = 0; i < members.length; i++) {
      const m = members[i]!
      if (m.ready && m.openConnections < fewest) { best = i; fewest = m.openConnections }
    }
    const index = best < 0 ? 0 : best
    return members[index]!.open(params, handler) * this.n + index
  }

  send (connId: number, xml: string): void {
    const index = connId % this.n
    this.members[index]!.send((connId - index) / this.n, xml)
  }

  restart (connId: number): void {
    const index = connId % this.n
    this.members[index]!.restart((connId - index) / this.n)
  }

  close (connId: number, condition: string): void {
    const index = connId % this.n
    this.members[index]!.close((connId - index) / this.n, condition)
  }

  /** The member a pool connection id lives on (for logs and tests). */
  memberOf (connId: number): number {
    return connId % this.n
  }
}
