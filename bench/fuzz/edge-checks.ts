/**
 * What counts as a well-formed answer from the edge, checked with a parser that is not the
 * edge's own (@xmldom/xmldom, every warning and error a failure):
 *  - BOSH: a 200 whose body is one `<body xmlns='http://jabber.org/protocol/httpbind'/>`, and if
 *    it says type='terminate', its condition is one XEP-0124 §17.2 defines (or none); or one of
 *    the statuses the edge documents: §17.1's legacy 400, 403, 404, RFC 6585's 429 and 503
 *    (admission, shutdown). A 500 means an exception reached the HTTP front.
 *  - WebSocket: every message is one standalone well-formed element; a `<stream:error/>` names
 *    an RFC 6120 §4.9.3 condition; the close code is one RFC 6455 §7.4.1 defines for the causes
 *    the edge has (1000 normal, 1001 going away, 1003 binary, 1007 bad UTF-8, 1008 policy,
 *    1009 too big), never 1006 (no close frame) or 1011 (an internal error).
 */
import { DOMParser, type Element } from '@xmldom/xmldom'
import { HB } from './edge-inputs.ts'

/** XEP-0124 §17.2. */
const TERMINAL = new Set([
  'bad-request', 'host-gone', 'host-unknown', 'improper-addressing', 'internal-server-error', 'item-not-found',
  'other-request', 'policy-violation', 'remote-connection-failed', 'remote-stream-error', 'see-other-uri',
  'system-shutdown', 'undefined-condition'
])

/** RFC 6120 §4.9.3. */
const STREAM_CONDITIONS = new Set([
  'bad-format', 'bad-namespace-prefix', 'conflict', 'connection-timeout', 'host-gone', 'host-unknown',
  'improper-addressing', 'internal-server-error', 'invalid-from', 'invalid-namespace', 'invalid-xml',
  'not-authorized', 'not-well-formed', 'policy-violation', 'remote-connection-failed', 'reset',
  'resource-constraint', 'restricted-xml', 'see-other-host', 'system-shutdown', 'undefined-condition',
  'unsupported-encoding', 'unsupported-feature', 'unsupported-stanza-type', 'unsupported-version'
])
const NS_STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams'
const NS_STREAM = 'http://etherx.jabber.org/streams'

export const BOSH_STATUSES = new Set([200, 400, 403, 404, 429, 503])
export const WS_CLOSE_CODES = new Set([1000, 1001, 1003, 1007, 1008, 1009])

/** The root element of `text`, or the first problem a strict parser found. */
export function parseStrict (text: string): Element | string {
  const problems: string[] = []
  try {
    // Warnings are not faults (xmldom warns of U+FFFD, a valid character); errors are.
    const doc = new DOMParser({ onError: (level, message) => { if (level !== 'warning') problems.push(`${level}: ${message}`) } }).parseFromString(text, 'text/xml')
    if (problems.length > 0) return problems[0] ?? 'error'
    const root = doc.documentElement
    return root ?? 'no root element'
  } catch (err) {
    return problems[0] ?? String(err)
  }
}

export interface BoshVerdict { ok: boolean, why?: string, condition?: string }

export function checkBoshReply (status: number, body: string): BoshVerdict {
  if (!BOSH_STATUSES.has(status)) return { ok: false, why: `HTTP ${status}` }
  if (status !== 200) return { ok: true, condition: `HTTP ${status}` }
  const root = parseStrict(body)
  if (typeof root === 'string') return { ok: false, why: `reply is not well-formed: ${root}` }
  if (root.localName !== 'body' || root.namespaceURI !== HB) return { ok: false, why: `reply root is {${root.namespaceURI ?? ''}}${root.localName}` }
  if (root.getAttribute('type') !== 'terminate') return { ok: true }
  const condition = root.getAttribute('condition') ?? ''
  if (condition !== '' && !TERMINAL.has(condition)) return { ok: false, why: `terminate with condition '${condition}'` }
  return { ok: true, condition: condition === '' ? 'terminate' : condition }
}

export interface WsVerdict { ok: boolean, why?: string, streamError?: string }

export function checkWsMessage (text: string): WsVerdict {
  const root = parseStrict(text)
  if (typeof root === 'string') return { ok: false, why: `message is not well-formed: ${root}` }
  if (root.localName !== 'error' || root.namespaceURI !== NS_STREAM) return { ok: true }
  let condition = ''
  for (let c = root.firstChild; c !== null; c = c.nextSibling) {
    if (c.nodeType === 1 && c.namespaceURI === NS_STREAMS && c.localName !== 'text') condition = c.localName ?? ''
  }
  if (!STREAM_CONDITIONS.has(condition)) return { ok: false, why: `stream error without a defined condition: ${text.slice(0, 200)}` }
  return { ok: true, streamError: condition }
}
