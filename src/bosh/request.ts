/**
 * Reading the attributes of a request `<body/>` into typed values (XEP-0124 §7.1, §8-§15,
 * XEP-0206 §3, §5). Anything malformed is a `bad-request` (XEP-0124 §17.2).
 */

/** XEP-0124 §14.1: rids never exceed 2^53 - 1. */
const MAX_RID = Number.MAX_SAFE_INTEGER

export type Attrs = Readonly<Record<string, string>>

/** The attributes of one request `<body/>` that the session acts on, already validated. */
export interface BoshRequest {
  rid: number
  /** payloads, each the client's own bytes made standalone */
  payloads: string[]
  type: 'terminate' | undefined
  /** XEP-0124 §10 requested pause in seconds, or undefined */
  pause: number | undefined
  /** XEP-0124 §9.1 client ack, or undefined */
  ack: number | undefined
  /** XEP-0206 §5 xmpp:restart='true' */
  restart: boolean
  /** XEP-0124 §15 */
  key: string | undefined
  newkey: string | undefined
}

/** A non-negative decimal integer no larger than `max`, or undefined for anything else. */
export function uint (s: string | undefined, max: number): number | undefined {
  if (s === undefined || s.length === 0 || s.length > 16 || !/^[0-9]+$/.test(s)) return undefined
  const n = Number(s)
  return n <= max ? n : undefined
}

export interface CreationParams {
  rid: number
  to: string
  lang: string
  wait: number
  hold: number
  ver: string | undefined
  content: string | undefined
  ack: boolean
  newkey: string | undefined
  payloads: string[]
}

export type Parsed<T> = { ok: true, value: T } | { ok: false, condition: 'bad-request' | 'improper-addressing' }

const bad = { ok: false, condition: 'bad-request' } as const

/**
 * Subtypes of application/*+xml that browsers render as active documents (scripts, chrome):
 * never a response type, whatever else the response headers say.
 */
const ACTIVE_XML = /xhtml|svg|xul/

/**
 * XEP-0124 §7.1 'content' ("the value of the HTTP Content-Type header the client wishes the
 * connection manager to use in responses"): a response is a `<body/>` in UTF-8, so only XML
 * media types (RFC 7303: text/xml, application/xml, application/*+xml, minus the active ones
 * above) are accepted, with no parameter but `charset=utf-8`. Returns the value the session
 * sends, lower-case with `; charset=utf-8` (so the browser never guesses), or undefined for
 * anything else (the caller answers bad-request, §17.2): a client cannot make the edge serve
 * HTML, nor split a header.
 */
export function xmlContentType (s: string): string | undefined {
  if (s.length > 200) return undefined
  const m = /^([A-Za-z]+)\/([A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*)(?:[ \t]*;[ \t]*charset=(?:utf-8|"utf-8"))?$/i.exec(s)
  if (m === null) return undefined
  const type = m[1]!.toLowerCase()
  const subtype = m[2]!.toLowerCase()
  const xml = (type === 'text' && subtype === 'xml') ||
    (type === 'application' && (subtype === 'xml' || (subtype.endsWith('+xml') && subtype.length > 4 && !ACTIVE_XML.test(subtype))))
  return xml ? `${type}/${subtype}; charset=utf-8` : undefined
}

/** XEP-0124 §7.1 (with XEP-0206 §3): the session creation request. */
export function readCreation (a: Attrs, payloads: string[], defaults: { wait: number, hold: number }): Parsed<CreationParams> {
  const rid = uint(a.rid, MAX_RID)
  if (rid === undefined || rid === 0) return bad
  // XEP-0124 §17.2 improper-addressing: no 'to' (and we do not serve 'route' alone).
  const to = a.to
  if (to === undefined || to === '') return { ok: false, condition: 'improper-addressing' }
  // XEP-0124 §7.1: wait and hold SHOULD be present; without them we take our own limits.
  const wait = a.wait === undefined ? defaults.wait : uint(a.wait, 2 ** 31)
  const hold = a.hold === undefined ? defaults.hold : uint(a.hold, 2 ** 31)
  if (wait === undefined || hold === undefined) return bad
  const ver = a.ver
  if (ver !== undefined && !/^[0-9]{1,5}\.[0-9]{1,5}$/.test(ver)) return bad
  // XEP-0124 §7.1 'content': the Content-Type of every response; only XML media types.
  const content = a.content === undefined ? undefined : xmlContentType(a.content)
  if (a.content !== undefined && content === undefined) return bad
  const newkey = a.newkey
  if (newkey !== undefined && !/^[0-9a-fA-F]{40}$/.test(newkey)) return bad
  return {
    ok: true,
    value: {
      rid,
      to,
      lang: a['xml:lang'] ?? '',
      wait,
      hold,
      ver,
      content,
      // XEP-0124 §9.1: ack='1' on the creation request announces client acks.
      ack: a.ack === '1',
      newkey,
      payloads
    }
  }
}

/** Every later request (XEP-0124 §8-§15, XEP-0206 §5). */
export function readRequest (a: Attrs, payloads: string[]): Parsed<BoshRequest> {
  const rid = uint(a.rid, MAX_RID)
  if (rid === undefined || rid === 0) return bad
  let type: 'terminate' | undefined
  if (a.type !== undefined) {
    // A client has no business sending any other type.
    if (a.type !== 'terminate') return bad
    type = 'terminate'
  }
  const pause = a.pause === undefined ? undefined : uint(a.pause, 2 ** 31)
  if (a.pause !== undefined && pause === undefined) return bad
  const ack = a.ack === undefined ? undefined : uint(a.ack, MAX_RID)
  if (a.ack !== undefined && ack === undefined) return bad
  const restartAttr = a['xmpp:restart']
  if (restartAttr !== undefined && restartAttr !== 'true' && restartAttr !== 'false' && restartAttr !== '1' && restartAttr !== '0') return bad
  const key = a.key
  const newkey = a.newkey
  if ((key !== undefined && !/^[0-9a-fA-F]{40}$/.test(key)) || (newkey !== undefined && !/^[0-9a-fA-F]{40}$/.test(newkey))) return bad
  return {
    ok: true,
    value: {
      rid,
      payloads,
      type,
      pause,
      ack,
      restart: restartAttr === 'true' || restartAttr === '1',
      key,
      newkey
    }
  }
}
