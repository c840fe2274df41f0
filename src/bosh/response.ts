/**
 * Building the `<body/>` wrappers the connection manager sends (XEP-0124 §7.2, §8, §17).
 * Responses are assembled as strings: the payloads are already-serialised standalone elements
 * from the link, so wrapping them is concatenation, not serialisation.
 */
import { escapeAttr } from '../xml/escape.ts'

export const NS_HTTPBIND = 'http://jabber.org/protocol/httpbind'
export const NS_XBOSH = 'urn:xmpp:xbosh'
export const NS_STREAM = 'http://etherx.jabber.org/streams'

/** Attribute values are numbers or strings; undefined attributes are left out. */
export type BodyAttrs = Record<string, string | number | undefined>

const OPEN = `<body xmlns='${NS_HTTPBIND}' xmlns:xmpp='${NS_XBOSH}' xmlns:stream='${NS_STREAM}'`
/**
 * The empty body, one string for everyone: a polling session keeps its last response for
 * XEP-0124 §14.3, and that is usually this one.
 */
const EMPTY = OPEN + '/>'

/**
 * `<body .../>` with `payloads` inside. xmlns:stream is always declared so that a
 * `<stream:features/>` or `<stream:error/>` payload is in scope (XEP-0206 §2), and xmlns:xmpp
 * so that xmpp:version / xmpp:restartlogic can appear (XEP-0206 §4).
 */
export function bodyResponse (attrs: BodyAttrs, payloads: readonly string[] = []): string {
  let s = OPEN
  for (const name in attrs) {
    const v = attrs[name]
    if (v === undefined) continue
    s += ` ${name}='${typeof v === 'number' ? String(v) : escapeAttr(v)}'`
  }
  if (payloads.length === 0) return s === OPEN ? EMPTY : s + '/>'
  return s + '>' + payloads.join('') + '</body>'
}

/** XEP-0124 §17.2: a terminal binding condition. */
export function terminateResponse (condition: string | undefined, payloads: readonly string[] = [], extra: BodyAttrs = {}): string {
  return bodyResponse({ type: 'terminate', condition: condition === '' ? undefined : condition, ...extra }, payloads)
}
