/**
 * The elements the WebSocket endpoint writes itself (RFC 7395 §3.3): the framing `<open/>` and
 * `<close/>` and the stream errors of RFC 6120 §4.9. Each is one standalone element for one
 * WebSocket message (RFC 7395 §3.3.3), so each declares every namespace it uses. Elements that
 * come from the server are never built here: they are sent as they arrive.
 */
import { escapeAttr } from '../xml/escape.ts'
import type { StreamErrorCondition } from '../backend/backend.ts'

/** RFC 7395 §3.3.2: the framed stream namespace of `<open/>` and `<close/>`. */
export const NS_FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing'
/** RFC 6120 §4.8.1: the namespace of `<stream:error/>` and `<stream:features/>`. */
export const NS_STREAMS = 'http://etherx.jabber.org/streams'
/** RFC 6120 §4.9.2: the namespace of stream error conditions. */
export const NS_STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams'
/** RFC 6120 §6.4.7: announcing SASL success, after which the client restarts the stream. */
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl'

export interface OpenHeader {
  id: string
  /** the server's domain; omitted when '' */
  from: string
  version: string
  /** omitted when '' */
  lang: string
}

/** RFC 7395 §3.4: the server's `<open/>`, with the attributes RFC 6120 §4.7 gives a stream header. */
export function openElement (h: OpenHeader): string {
  let s = `<open xmlns='${NS_FRAMING}' id='${escapeAttr(h.id)}'`
  if (h.from !== '') s += ` from='${escapeAttr(h.from)}'`
  s += ` version='${escapeAttr(h.version)}'`
  if (h.lang !== '') s += ` xml:lang='${escapeAttr(h.lang)}'`
  return s + '/>'
}

/** RFC 7395 §3.6: `<close/>`; with §3.6.1 `see-other-uri` when the client should go elsewhere. */
export function closeElement (seeOtherUri = ''): string {
  return seeOtherUri === ''
    ? `<close xmlns='${NS_FRAMING}'/>`
    : `<close xmlns='${NS_FRAMING}' see-other-uri='${escapeAttr(seeOtherUri)}'/>`
}

/** RFC 6120 §4.9.2: a stream error, standalone (it declares the `stream` prefix itself). */
export function streamErrorElement (condition: StreamErrorCondition): string {
  return `<stream:error xmlns:stream='${NS_STREAMS}'><${condition} xmlns='${NS_STREAM_ERRORS}'/></stream:error>`
}

/** Whether an element from the server is a stream error (RFC 6120 §4.9), which ends the stream. */
export function isStreamError (xml: string): boolean {
  return xml.startsWith('<stream:error')
}

/**
 * Whether an element from the server is SASL `<success/>` (RFC 6120 §6.4.6): the one point at
 * which RFC 7395 §3.7 has the client restart the stream with a new `<open/>`. ejabberd writes it
 * unprefixed with its own xmlns, which is all this checks for.
 */
export function isSaslSuccess (xml: string): boolean {
  const c = xml.charCodeAt(8)
  return xml.startsWith('<success') && (c === 0x20 || c === 0x2f || c === 0x3e || c === 0x09 || c === 0x0a || c === 0x0d) &&
    xml.includes(NS_SASL)
}
