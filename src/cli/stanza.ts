/**
 * Reading received stanzas (@xmldom/xmldom elements): direct children by local name and
 * namespace, text, and the condition of an `<error/>` (RFC 6120 §8.3).
 */
import type { XmlElement } from './strophe.ts'

const ELEMENT_NODE = 1
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
const NS_STREAM = 'http://etherx.jabber.org/streams'
const NS_STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams'

/** The element children of `el`, in document order. */
export function children (el: XmlElement): XmlElement[] {
  const out: XmlElement[] = []
  for (let i = 0; i < el.childNodes.length; i++) {
    const node = el.childNodes.item(i)
    if (node !== null && node.nodeType === ELEMENT_NODE) out.push(node as XmlElement)
  }
  return out
}

/** The first direct child named `localName`, in namespace `ns` if given. */
export function child (el: XmlElement, localName: string, ns?: string): XmlElement | undefined {
  return children(el).find(c => c.localName === localName && (ns === undefined || c.namespaceURI === ns))
}

export function textOf (el: XmlElement | undefined): string | undefined {
  return el?.textContent ?? undefined
}

export interface StanzaError {
  /** the defined condition, e.g. "service-unavailable"; "undefined-condition" if none is given */
  condition: string
  /** the human-readable <text/>, if any */
  text: string | undefined
}

/** The `<error/>` of a stanza of type error (RFC 6120 §8.3). */
export function stanzaError (stanza: XmlElement): StanzaError {
  const error = child(stanza, 'error')
  const parts = error === undefined ? [] : children(error).filter(c => c.namespaceURI === NS_STANZAS)
  const text = parts.find(c => c.localName === 'text')?.textContent ?? ''
  return {
    condition: parts.find(c => c.localName !== 'text')?.localName ?? 'undefined-condition',
    text: text === '' ? undefined : text
  }
}

/** "service-unavailable", or "service-unavailable (the text)" */
export function describeError (e: StanzaError): string {
  return e.text === undefined ? e.condition : `${e.condition} (${e.text})`
}

function isXmlElement (v: unknown): v is XmlElement {
  return typeof v === 'object' && v !== null && 'getElementsByTagNameNS' in v && typeof v.getElementsByTagNameNS === 'function'
}

/**
 * The condition of a `<stream:error/>` in or at `el` (RFC 6120 §4.9.3), e.g. "host-unknown"; a
 * BOSH terminate of condition remote-stream-error carries the whole element (XEP-0206 §6).
 */
export function streamErrorCondition (el: unknown): string | undefined {
  if (!isXmlElement(el)) return undefined
  const error = el.localName === 'error' && el.namespaceURI === NS_STREAM ? el : el.getElementsByTagNameNS(NS_STREAM, 'error').item(0)
  if (error === null) return undefined
  return children(error).find(c => c.namespaceURI === NS_STREAM_ERRORS && c.localName !== 'text')?.localName ?? undefined
}
