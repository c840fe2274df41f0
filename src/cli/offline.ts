/**
 * XEP-0013 (Flexible Offline Message Retrieval): the requests the `unread` utility makes and the
 * reading of their answers. The requests carry no 'to': they go to the user's own account
 * (XEP-0013 §2.2 to §2.5). Reading is pure, so it is tested on stanzas as text.
 */
import { CliError, EXIT } from './errors.ts'
import { child, children, textOf } from './stanza.ts'
import type { StanzaBuilder, StanzaFactory, XmlElement } from './strophe.ts'

export const NS_OFFLINE = 'http://jabber.org/protocol/offline'
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info'
const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items'
const NS_XDATA = 'jabber:x:data'
const NS_DELAY = 'urn:xmpp:delay'
const NS_LEGACY_DELAY = 'jabber:x:delay'
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user'

/** One stored message as the server handed it back. */
export interface OfflineMessage {
  /** the item node (XEP-0013 §2.3, §2.4): which message it is, to remove it by */
  node: string
  /** the 'from' attribute */
  from: string
  /** who to show: the bare JID (alice@localhost), or the full one for a MUC occupant (room@service/nick) */
  sender: string
  /** when the server stored it, as a Date, from the delay stamp (XEP-0203, else XEP-0091) */
  stamp: Date | undefined
  body: string | undefined
}

/** XEP-0013 §2.2 (request-number): disco#info on the offline node, whose form says how many are stored. */
export function countRequest ($iq: StanzaFactory): StanzaBuilder {
  return $iq({ type: 'get' }).c('query', { xmlns: NS_DISCO_INFO, node: NS_OFFLINE })
}

/** XEP-0013 §2.3 (request-headers): disco#items on the offline node, one item per message. */
export function headersRequest ($iq: StanzaFactory): StanzaBuilder {
  return $iq({ type: 'get' }).c('query', { xmlns: NS_DISCO_ITEMS, node: NS_OFFLINE })
}

/**
 * XEP-0013 §2.4 (retrieve-specific): the server sends each message asked for, then the iq result.
 * ejabberd sends these to the requesting session itself; a `<fetch/>` (§2.6) it routes to the
 * account's bare JID, which reaches only sessions that have sent presence, so a session that
 * never does (as this command) would receive nothing.
 */
export function viewRequest ($iq: StanzaFactory, nodes: readonly string[]): StanzaBuilder {
  return itemsRequest($iq({ type: 'get' }), 'view', nodes)
}

/**
 * XEP-0013 §2.5 (remove-specific): exactly the messages shown. Not `<purge/>` (§2.7): that would
 * also remove a message stored after the list was taken, which the user has not seen.
 */
export function removeRequest ($iq: StanzaFactory, nodes: readonly string[]): StanzaBuilder {
  return itemsRequest($iq({ type: 'set' }), 'remove', nodes)
}

function itemsRequest (iq: StanzaBuilder, action: 'view' | 'remove', nodes: readonly string[]): StanzaBuilder {
  const offline = iq.c('offline', { xmlns: NS_OFFLINE })
  for (const node of nodes) offline.c('item', { action, node }).up()
  return offline
}

/** The nodes of the disco#items result, in the server's order (XEP-0013 §2.3). */
export function readHeaders (result: XmlElement): string[] {
  const query = child(result, 'query', NS_DISCO_ITEMS)
  if (query === undefined) return []
  return children(query)
    .filter(c => c.localName === 'item')
    .map(c => c.getAttribute('node') ?? '')
    .filter(node => node !== '')
}

/**
 * The number_of_messages field of the disco#info result (XEP-0013 §2.2, the form registered in
 * §6.4). Its absence means the server does not do XEP-0013: CLI_NO_OFFLINE_COUNT.
 */
export function readCount (result: XmlElement): number {
  const query = child(result, 'query', NS_DISCO_INFO)
  const forms = query === undefined ? [] : children(query).filter(c => c.localName === 'x' && c.namespaceURI === NS_XDATA)
  for (const form of forms) {
    const fields = children(form).filter(c => c.localName === 'field')
    const formType = fields.find(f => f.getAttribute('var') === 'FORM_TYPE')
    if (formType !== undefined && textOf(child(formType, 'value')) !== NS_OFFLINE) continue
    const field = fields.find(f => f.getAttribute('var') === 'number_of_messages')
    const value = textOf(field === undefined ? undefined : child(field, 'value'))?.trim() ?? ''
    if (/^[0-9]{1,9}$/.test(value)) return Number(value)
  }
  throw new CliError('CLI_NO_OFFLINE_COUNT', EXIT.FAILURE, 'the server did not give the number of offline messages (no XEP-0013 support?)')
}

/**
 * A message sent for a view carries `<offline><item node=…/></offline>` (XEP-0013 §2.4: "each
 * message MUST contain the node value"); anything else is not one of ours: undefined.
 */
export function readOfflineMessage (el: XmlElement): OfflineMessage | undefined {
  if (el.localName !== 'message' || el.getAttribute('type') === 'error') return undefined
  const offline = child(el, 'offline', NS_OFFLINE)
  const node = (offline === undefined ? undefined : child(offline, 'item', NS_OFFLINE))?.getAttribute('node') ?? ''
  if (node === '') return undefined
  const from = el.getAttribute('from') ?? ''
  // a private message through a room: the nick is who sent it (XEP-0045 §7.5)
  const occupant = child(el, 'x', NS_MUC_USER) !== undefined
  return {
    node,
    from,
    sender: occupant || !from.includes('/') ? from : from.slice(0, from.indexOf('/')),
    stamp: delayStamp(el),
    body: textOf(child(el, 'body'))
  }
}

function delayStamp (el: XmlElement): Date | undefined {
  const delay = child(el, 'delay', NS_DELAY)
  if (delay !== undefined) return parseDate(delay.getAttribute('stamp') ?? '')
  // XEP-0091 (legacy, which XEP-0013 §2.4 recommends): CCYYMMDDThh:mm:ss in UTC
  const legacy = /^([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2}:[0-9]{2}:[0-9]{2})$/.exec(child(el, 'x', NS_LEGACY_DELAY)?.getAttribute('stamp') ?? '')
  if (legacy !== null) return parseDate(`${legacy[1]}-${legacy[2]}-${legacy[3]}T${legacy[4]}Z`)
  return undefined
}

/** XEP-0082 DateTime, which always carries a zone. */
function parseDate (s: string): Date | undefined {
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$/.test(s)) return undefined
  const d = new Date(s)
  return Number.isNaN(d.getTime()) ? undefined : d
}

/**
 * Oldest first. The server's own order when some message has no stamp (nothing to sort by);
 * otherwise by stamp, keeping the server's order between equal stamps.
 */
export function oldestFirst (messages: readonly OfflineMessage[]): OfflineMessage[] {
  if (messages.some(m => m.stamp === undefined)) return [...messages]
  return [...messages].sort((a, b) => (a.stamp?.getTime() ?? 0) - (b.stamp?.getTime() ?? 0))
}
