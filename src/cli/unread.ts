/**
 * `megaphone unread`: the messages stored while the account was offline, through XEP-0013 so
 * that the count and the retrieval are exact and nothing waits for messages that will not come.
 * -c: the count (disco#info). Otherwise: the list (disco#items), each message by its node (view),
 * shown oldest first, then removed by node. No presence is ever sent: the account does not appear
 * online, and the server does not flood the stored messages (XEP-0013 §3).
 */
import { IqError } from './errors.ts'
import { formatMessage, NONE } from './format.ts'
import { countRequest, headersRequest, oldestFirst, readCount, readHeaders, readOfflineMessage, removeRequest, viewRequest, type OfflineMessage } from './offline.ts'
import type { XmppSession } from './session.ts'

export interface UnreadOptions {
  /** -c: print the count only, remove nothing */
  countOnly: boolean
  /** -k: keep the messages in offline storage */
  keep: boolean
}

/**
 * Nodes per view or remove request. An item is about 60 bytes; 100 of them keep a request far
 * below the edge's 64 KiB frame (docs/link-protocol.md) whatever the length of the node ids.
 */
const NODES_PER_REQUEST = 100

export async function unread (session: XmppSession, o: UnreadOptions, write: (s: string) => void): Promise<void> {
  if (o.countOnly) {
    const count = readCount(await session.iq(countRequest(session.$iq), 'counting offline messages'))
    write(`${count}\n`)
    return
  }
  const nodes = readHeaders(await session.iq(headersRequest(session.$iq), 'listing offline messages'))
  const messages = nodes.length === 0 ? [] : await view(session, nodes)
  if (messages.length === 0) {
    write(`${NONE}\n`)
    return
  }
  for (const m of oldestFirst(messages)) write(formatMessage(m))
  if (o.keep) return
  for (const batch of chunks(messages.map(m => m.node), NODES_PER_REQUEST)) {
    await session.iq(removeRequest(session.$iq, batch), 'removing the messages shown')
  }
}

/** The messages with these nodes; one removed meanwhile (by another client) is left out. */
async function view (session: XmppSession, nodes: readonly string[]): Promise<OfflineMessage[]> {
  const wanted = new Set(nodes)
  const received = new Map<string, OfflineMessage>()
  const stop = session.onMessage(el => {
    const m = readOfflineMessage(el)
    if (m !== undefined && wanted.has(m.node) && !received.has(m.node)) received.set(m.node, m)
  })
  try {
    for (const batch of chunks(nodes, NODES_PER_REQUEST)) {
      try {
        // the server sends the messages before the iq result, on the same stream (XEP-0013
        // §2.4): when the result is in, so are they
        await session.iq(viewRequest(session.$iq, batch), 'retrieving offline messages')
      } catch (err) {
        // item-not-found: none of this batch is stored any more (XEP-0013 §2.4)
        if (!(err instanceof IqError && err.condition === 'item-not-found')) throw err
      }
    }
  } finally {
    stop()
  }
  return [...received.values()]
}

function chunks<T> (items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
