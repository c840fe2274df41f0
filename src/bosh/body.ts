/**
 * Reading a client's `<body/>` wrapper (XEP-0124 §4) into its attributes and its payloads, each
 * payload being the client's own bytes, made to stand alone so that it can travel in one link
 * DATA frame (docs/link-protocol.md) and be parsed by the server as one element.
 *
 * One pass of a strict scanner (src/xml/scanner.ts) checks well-formedness and finds where each
 * payload starts and ends; nothing is parsed into objects and serialised again. fast-xml-parser's
 * validator is not used here: it accepts undefined entities, '<' in attribute values, control
 * characters, DOCTYPEs, comments and trailing data, and reports no offsets to cut at; see
 * test/unit/body-malformed.test.ts for the corpus and bench/body.ts for the speed.
 *
 * Making a payload stand alone (the only changes made to the client's bytes, all inside the
 * payload's start tag, right after its name):
 *  - A payload with no `xmlns` of its own inherits the body's default namespace, httpbind. It
 *    gets ` xmlns='jabber:client'`: XEP-0206 §3 says stanzas are qualified by jabber:client, and
 *    treats httpbind-qualified ones as meaning jabber:client (the Note in §3). ejabberd's own
 *    ejabberd_bosh forwards them into a stream whose default namespace is jabber:client, which
 *    comes to the same.
 *  - A payload whose own `xmlns` is httpbind, written out, has that value replaced by jabber:client.
 *  - A namespace prefix declared on the body and used inside the payload (e.g. `stream:` for
 *    a `<stream:features/>`-like element, XEP-0206 §3) gets the body's declaration, as written.
 *
 * Hostile input costs work in proportion to its size, whatever it declares (docs/security.md):
 * a declaration is one map entry, a prefix use is one lookup and marks the body declaration for
 * the payload at most once, and an expanded attribute name is keyed by a small namespace id.
 * Copying body declarations into payloads is the one way the output can outgrow the input (one
 * long declaration used by every payload): the payloads as forwarded, counting the copies but
 * not the ` xmlns='jabber:client'` (22 bytes a payload, maxPayloads of them at most), may total
 * no more than maxBodyBytes, or the body is refused with BODY_FORWARDED_TOO_LARGE.
 */
import { isSpace } from '../xml/chars.ts'
import { XmlScanner } from '../xml/scanner.ts'
import { NS_XML, NamespaceScope, badDeclaration, decodeAttrValue } from '../xml/namespaces.ts'
import { BoshBodyError } from './body-error.ts'
import type { BoshBodyErrorCode } from './body-error.ts'
import { BOSH_DEFAULTS } from './options.ts'
import { NS_HTTPBIND, NS_XBOSH } from './response.ts'
import { isUtf8 } from 'node:buffer'

export { BoshBodyError } from './body-error.ts'
export { decodeAttrValue } from '../xml/namespaces.ts'
export type { BoshBodyErrorCode, BoshBodyCondition } from './body-error.ts'

export const NS_CLIENT = 'jabber:client'

/**
 * The body's attributes that XEP-0124 and XEP-0206 define (BOSH_ATTRIBUTES), values decoded
 * (references replaced, whitespace normalised as XML 1.0 §3.3.3 says), keyed by name as
 * written: 'rid', 'sid', 'xml:lang'. 'xmpp:version' and 'xmpp:restart' are keyed so whatever
 * prefix the client bound urn:xmpp:xbosh to (XEP-0206 §3); attributes written with an 'xmpp:'
 * prefix bound elsewhere are left out so that they cannot pass for those. Namespace
 * declarations and attributes no BOSH specification defines are not kept. The record has no
 * prototype.
 */
export type BodyAttrs = Record<string, string>

/**
 * The unprefixed request attributes of XEP-0124 (§7 to §16, §18: authid and charsets are
 * deprecated, kept as a client may still send them). Only these are kept: nothing reads others,
 * and a record keyed by a hundred thousand names of the client's choosing made one hostile
 * 1 MiB body cost ten times a benign one (bench/body.ts).
 */
const BOSH_ATTRIBUTES = [
  'accept', 'ack', 'authid', 'charsets', 'condition', 'content', 'from', 'hold', 'inactivity', 'key',
  'maxpause', 'newkey', 'pause', 'polling', 'report', 'requests', 'rid', 'route', 'secure', 'sid',
  'stream', 'time', 'to', 'type', 'ver', 'wait'
]
/** BOSH_ATTRIBUTES by length, so that a name is recognised without cutting it out of the input. */
const BY_LENGTH: string[][] = []
for (const name of BOSH_ATTRIBUTES) (BY_LENGTH[name.length] ??= []).push(name)

/** The BOSH attribute written in s from `start` to `end`, or undefined. */
function boshAttribute (s: string, start: number, end: number): string | undefined {
  const candidates = BY_LENGTH[end - start]
  if (candidates !== undefined) for (const name of candidates) if (s.startsWith(name, start)) return name
  return undefined
}

export interface ParsedBody {
  /** discriminates from BoshBodyError, whose `ok` is false */
  ok: true
  attrs: BodyAttrs
  /** each payload, standalone, in order; empty for an empty body */
  children: string[]
}

export interface BodyLimits {
  /** bytes of UTF-8; XEP-0124 §17.2 policy-violation above it */
  maxBodyBytes: number
  /** payloads in one body */
  maxPayloads: number
  /** element nesting below the body: a payload is at depth 1 */
  maxDepth: number
  /**
   * Whether a sid names a live session. When given, a body whose `sid` is unknown is answered
   * from its `sid` and `ver` alone: its other attributes, namespace declarations and payloads
   * are not read (a made-up sid costs one scan of the start tag, whatever the body holds).
   */
  knownSid?: ((sid: string) => boolean) | undefined
}

const DEFAULT_LIMITS: BodyLimits = {
  maxBodyBytes: BOSH_DEFAULTS.maxBodyBytes,
  maxPayloads: BOSH_DEFAULTS.maxPayloads,
  maxDepth: BOSH_DEFAULTS.maxDepth
}

/**
 * Reads one request body. Returns the error instead of throwing: every malformed input is a
 * BoshBodyError with a stable code and the condition to answer with.
 */
export function parseBody (input: string | Buffer, limits: Partial<BodyLimits> = {}): ParsedBody | BoshBodyError {
  const maxBodyBytes = limits.maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes
  let src: string
  let bytes: number
  if (typeof input === 'string') {
    bytes = Buffer.byteLength(input, 'utf8')
    if (bytes > maxBodyBytes) return new BoshBodyError('BODY_TOO_LARGE', `body larger than ${maxBodyBytes} bytes`)
    src = input
  } else {
    if (input.length > maxBodyBytes) return new BoshBodyError('BODY_TOO_LARGE', `body larger than ${maxBodyBytes} bytes`)
    // XEP-0124 §4 requires XML; we only accept it as UTF-8 (RFC 6120 §11.6), and a payload's
    // bytes must survive decoding unchanged, which only valid UTF-8 does.
    if (!isUtf8(input)) return new BoshBodyError('BODY_BAD_ENCODING', 'body is not valid UTF-8')
    src = input.toString('utf8')
    bytes = input.length
  }
  const scanner = new XmlScanner()
  scanner.reset(src)
  return new BodyReader(src, bytes === src.length, scanner, {
    maxBodyBytes,
    maxPayloads: limits.maxPayloads ?? DEFAULT_LIMITS.maxPayloads,
    maxDepth: limits.maxDepth ?? DEFAULT_LIMITS.maxDepth,
    knownSid: limits.knownSid
  }).read()
}

/** A decimal attribute value in [0, max], or undefined. XEP-0124 §14.1: rid goes up to 2^53 - 1. */
export function parseUnsignedInt (value: string | undefined, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined || !/^[0-9]{1,16}$/.test(value)) return undefined
  const n = Number(value)
  return n <= max ? n : undefined
}

/** An xs:boolean attribute value ('true', '1', 'false', '0'), or undefined. */
export function parseBoolean (value: string | undefined): boolean | undefined {
  if (value === 'true' || value === '1') return true
  if (value === 'false' || value === '0') return false
  return undefined
}

interface BodyPrefix {
  uri: string
  /** where the declaration as the client wrote it (`xmlns:stream='...'`) starts and ends */
  declStart: number
  declEnd: number
  /** its length in UTF-8 plus the space before it; -1 until a payload uses it */
  spliceBytes: number
  /** the index of the last payload it was copied into, so that each payload copies it once */
  copiedInto: number
}

class BodyReader {
  private readonly attrs: BodyAttrs = Object.create(null) as BodyAttrs
  private readonly children: string[] = []
  /** prefixes declared on the body, which payloads may use */
  private readonly bodyPrefixes = new Map<string, BodyPrefix>()

  // The payload being read.
  private childStart = 0
  private childNameEnd = 0
  private childHasXmlns = false
  /** where the payload's own xmlns='httpbind' value is, to replace; -1 if it has none */
  private childHttpbindStart = -1
  private childHttpbindEnd = -1
  /** body prefixes the payload uses without declaring them itself */
  private readonly childNeeds: BodyPrefix[] = []
  /** UTF-8 bytes of the declarations childNeeds will add */
  private childSpliceBytes = 0
  /** UTF-8 bytes of the payloads so far, as forwarded (bar the jabber:client splice) */
  private forwardedBytes = 0
  /** prefixes in scope inside the payload; the body's own declarations behind them */
  private readonly ns = new NamespaceScope(prefix => this.fromBody(prefix))
  /** names of the open elements of the payload */
  private readonly open: string[] = []
  /** set when a step fails for a reason of ours rather than the scanner's */
  private failure: BoshBodyError | null = null

  /** `ascii`: every UTF-16 unit of `s` is one UTF-8 byte, so lengths are byte counts */
  constructor (private readonly s: string, private readonly ascii: boolean, private readonly sc: XmlScanner, private readonly limits: BodyLimits) {}

  private utf8Bytes (text: string): number {
    return this.ascii ? text.length : Buffer.byteLength(text, 'utf8')
  }

  private error (code: BoshBodyErrorCode, message: string, at: number): BoshBodyError {
    return new BoshBodyError(code, `${message} (at ${at})`, at)
  }

  private scanError (): BoshBodyError {
    return this.error('BODY_NOT_WELL_FORMED', this.sc.reason, this.sc.at)
  }

  read (): ParsedBody | BoshBodyError {
    const { s, sc } = this
    let i = s.charCodeAt(0) === 0xfeff ? 1 : 0 // XML 1.0 §4.3.3: a byte order mark may precede
    if (s.startsWith('<?xml', i) && isSpace(s.charCodeAt(i + 5))) {
      i = sc.xmlDecl(i)
      if (i < 0) return this.error(sc.reason.includes('encoding') ? 'BODY_BAD_ENCODING' : 'BODY_NOT_WELL_FORMED', sc.reason, sc.at)
    }
    i = sc.skipSpace(i)
    if (i >= s.length) return this.error('BODY_NOT_WELL_FORMED', 'no root element', i)
    const restricted = this.restricted(i)
    if (restricted !== null) return restricted
    if (s.charCodeAt(i) !== 0x3c) return this.error('BODY_NOT_WELL_FORMED', 'character data before the root element', i)
    const rootStart = i
    i = sc.startTag(i)
    if (i < 0) return this.scanError()
    if (sc.nameEnd - rootStart - 1 !== 4 || !s.startsWith('body', rootStart + 1)) {
      return this.error('BODY_NOT_HTTPBIND', 'root element is not <body/>', rootStart) // XEP-0124 §4
    }
    const unknown = this.unknownSid()
    if (unknown !== null) return unknown
    const bad = this.readBodyAttrs(rootStart)
    if (bad !== null) return bad
    if (!sc.selfClosing) {
      i = this.readPayloads(i)
      if (i < 0) return this.failure ?? this.scanError()
    }
    // XML 1.0 §2.1 [1]: one root element. What may follow it (comments, PIs) is refused anyway.
    i = sc.skipSpace(i)
    if (i < s.length) return this.error('BODY_NOT_WELL_FORMED', 'data after </body>', i)
    return { ok: true, attrs: this.attrs, children: this.children }
  }

  /**
   * The sid before anything costly (XEP-0124 §17.2 item-not-found is the answer whatever else
   * the body says): for an unknown sid, a body of just `sid` and `ver` (which decides the
   * §17.1 status), with no payloads read. Null when there is no sid or it is known.
   */
  private unknownSid (): ParsedBody | null {
    const { s, sc } = this
    const known = this.limits.knownSid
    if (known === undefined) return null
    let sid: string | undefined
    let ver: string | undefined
    for (let k = 0; k < sc.attrCount; k++) {
      if (sc.attrNameIs(k, 'sid')) sid = decodeAttrValue(s.slice(sc.attrValueStart[k], sc.attrValueEnd[k]))
      else if (sc.attrNameIs(k, 'ver')) ver = decodeAttrValue(s.slice(sc.attrValueStart[k], sc.attrValueEnd[k]))
    }
    if (sid === undefined || known(sid)) return null
    const attrs = Object.create(null) as BodyAttrs
    attrs.sid = sid
    if (ver !== undefined) attrs.ver = ver
    return { ok: true, attrs, children: [] }
  }

  /** Markup XEP-0124 §4 and RFC 6120 §11.1 forbid: comments, processing instructions, DTDs. */
  private restricted (i: number): BoshBodyError | null {
    const s = this.s
    if (s.startsWith('<!--', i)) return this.error('BODY_RESTRICTED_XML', 'comment', i)
    if (s.startsWith('<?', i)) return this.error('BODY_RESTRICTED_XML', 'processing instruction', i)
    if (s.startsWith('<!DOCTYPE', i)) return this.error('BODY_RESTRICTED_XML', 'document type declaration', i)
    return null
  }

  private readBodyAttrs (rootStart: number): BoshBodyError | null {
    const { s, sc, attrs } = this
    let defaultNs: string | undefined
    for (let k = 0; k < sc.attrCount; k++) {
      const colon = sc.attrColon[k]!
      const start = sc.attrStart[k]!
      if (colon < 0) {
        if (sc.attrNameIs(k, 'xmlns')) {
          defaultNs = this.value(k)
        } else {
          const name = boshAttribute(s, start, sc.attrNameEnd[k]!)
          if (name !== undefined) attrs[name] = this.value(k)
        }
      } else if (colon - start === 5 && s.startsWith('xmlns', start)) {
        const prefix = s.slice(colon + 1, sc.attrNameEnd[k])
        const uri = this.value(k)
        const bad = badDeclaration(prefix, uri)
        if (bad !== null) return this.error('BODY_NOT_WELL_FORMED', bad, start)
        this.bodyPrefixes.set(prefix, { uri, declStart: start, declEnd: sc.attrValueEnd[k]! + 1, spliceBytes: -1, copiedInto: -1 })
      }
    }
    // XEP-0124 §4: the wrapper is qualified by the httpbind namespace.
    if (defaultNs !== NS_HTTPBIND) return this.error('BODY_NOT_HTTPBIND', `<body/> not in the ${NS_HTTPBIND} namespace`, rootStart)
    const expanded = new Set<string>()
    for (let k = 0; k < sc.attrCount; k++) {
      const colon = sc.attrColon[k]!
      const start = sc.attrStart[k]!
      if (colon < 0 || (colon - start === 5 && s.startsWith('xmlns', start))) continue
      const prefix = s.slice(start, colon)
      const local = s.slice(colon + 1, sc.attrNameEnd[k])
      const uri = prefix === 'xml' ? NS_XML : this.bodyPrefixes.get(prefix)?.uri
      if (uri === undefined) return this.error('BODY_NOT_WELL_FORMED', `undeclared prefix ${prefix}`, sc.attrStart[k]!)
      // Namespaces in XML §6.3; keyed by the namespace's id, not its name (see NamespaceScope)
      const key = `${this.ns.nsId(uri)} ${local}`
      const size = expanded.size
      if (expanded.add(key).size === size) return this.error('BODY_NOT_WELL_FORMED', `duplicate attribute ${sc.attrName(k)}`, start)
      // XEP-0206 §3 (version), §5 (restart)
      if (uri === NS_XBOSH ? local === 'version' || local === 'restart' : prefix === 'xml' && local === 'lang') {
        attrs[uri === NS_XBOSH ? `xmpp:${local}` : 'xml:lang'] = this.value(k)
      }
    }
    return null
  }

  /** The value of the last tag's attribute k, decoded. */
  private value (k: number): string {
    return decodeAttrValue(this.s.slice(this.sc.attrValueStart[k], this.sc.attrValueEnd[k]))
  }

  private fail (code: BoshBodyErrorCode, message: string, at: number): -1 {
    this.failure = this.error(code, message, at)
    return -1
  }

  /** The body's content, from after its start tag to after its end tag. */
  private readPayloads (i: number): number {
    const { s, sc, limits } = this
    const n = s.length
    let depth = 0
    for (;;) {
      i = sc.text(i)
      if (i < 0) return -1
      // XEP-0124 §4: the wrapper MUST NOT contain character data; whitespace between payloads
      // is not kept.
      if (depth === 0 && sc.nonSpace) return this.fail('BODY_CHAR_DATA', 'character data in <body/>', i)
      if (i >= n) return this.fail('BODY_NOT_WELL_FORMED', 'document ends inside <body/>', i)
      const next = s.charCodeAt(i + 1)
      if (next === 0x2f /* / */) {
        if (depth === 0) return sc.endTag(i, 'body')
        i = sc.endTag(i, this.open[depth - 1]!)
        if (i < 0 || !this.endElement(depth--, i)) return -1
      } else if (next === 0x21 /* ! */) {
        if (!s.startsWith('<![CDATA[', i)) {
          const r = this.restricted(i)
          this.failure = r ?? this.error('BODY_NOT_WELL_FORMED', "'<!' that is not a CDATA section", i)
          return -1
        }
        // RFC 6120 §11.1 does not forbid CDATA sections, so they pass inside payloads, as written.
        if (depth === 0) return this.fail('BODY_CHAR_DATA', 'CDATA section in <body/>', i)
        i = sc.cdata(i)
        if (i < 0) return -1
      } else if (next === 0x3f /* ? */) {
        return this.fail('BODY_RESTRICTED_XML', 'processing instruction', i)
      } else {
        const tagStart = i
        i = sc.startTag(i)
        if (i < 0) return -1
        if (++depth > limits.maxDepth) return this.fail('BODY_TOO_DEEP', `elements nested deeper than ${limits.maxDepth}`, tagStart)
        if (depth === 1) {
          if (this.children.length >= limits.maxPayloads) return this.fail('BODY_TOO_MANY_PAYLOADS', `more than ${limits.maxPayloads} payloads`, tagStart)
          this.startPayload(tagStart)
        }
        if (!this.startElement(depth, tagStart)) return -1
        if (sc.selfClosing) {
          if (!this.endElement(depth--, i)) return -1
        } else {
          this.open[depth - 1] = s.slice(tagStart + 1, sc.nameEnd)
        }
      }
    }
  }

  private startPayload (start: number): void {
    this.childStart = start
    this.childNameEnd = this.sc.nameEnd
    this.childHasXmlns = false
    this.childHttpbindStart = -1
    this.childNeeds.length = 0
    this.childSpliceBytes = 0
    this.ns.clear()
  }

  /** The namespace bookkeeping of one start tag inside a payload; false on an error. */
  private startElement (depth: number, tagStart: number): boolean {
    const { ns, sc } = this
    if (!ns.enter(this.s, sc, depth, tagStart)) {
      this.fail('BODY_NOT_WELL_FORMED', ns.problem.message, ns.problem.at)
      return false
    }
    if (depth === 1 && ns.defaultAttr >= 0) {
      this.childHasXmlns = true
      if (ns.defaultNs === NS_HTTPBIND) {
        this.childHttpbindStart = sc.attrValueStart[ns.defaultAttr]!
        this.childHttpbindEnd = sc.attrValueEnd[ns.defaultAttr]!
      }
    }
    return true
  }

  /**
   * A prefix the payload uses but does not declare: the body's, noted (once per payload) so the
   * payload gets it.
   */
  private fromBody (prefix: string): string | undefined {
    const fromBody = this.bodyPrefixes.get(prefix)
    if (fromBody === undefined) return undefined
    const payload = this.children.length
    if (fromBody.copiedInto !== payload) {
      fromBody.copiedInto = payload
      this.childNeeds.push(fromBody)
      if (fromBody.spliceBytes < 0) fromBody.spliceBytes = 1 + this.utf8Bytes(this.s.slice(fromBody.declStart, fromBody.declEnd))
      this.childSpliceBytes += fromBody.spliceBytes
    }
    return fromBody.uri
  }

  /** The end of an element; at depth 1, of a payload, which is cut out. False on an error. */
  private endElement (depth: number, end: number): boolean {
    this.ns.leave(depth)
    if (depth > 1) return true
    // Copies of the body's declarations must not let the output outgrow the body limit: count
    // before building anything.
    const bytes = this.forwardedBytes + this.childSpliceBytes +
      (this.ascii ? end - this.childStart : Buffer.byteLength(this.s.slice(this.childStart, end), 'utf8'))
    if (bytes > this.limits.maxBodyBytes) {
      this.fail('BODY_FORWARDED_TOO_LARGE', `payloads with the <body/> declarations they use would forward more than ${this.limits.maxBodyBytes} bytes`, this.childStart)
      return false
    }
    this.forwardedBytes = bytes
    this.children.push(this.payload(end))
    return true
  }

  /** The payload from childStart to `end`, with its start tag made to stand alone. */
  private payload (end: number): string {
    const s = this.s
    let splice = this.childHasXmlns ? '' : ` xmlns='${NS_CLIENT}'`
    for (const p of this.childNeeds) splice += ' ' + s.slice(p.declStart, p.declEnd)
    const at = this.childNameEnd
    if (this.childHttpbindStart >= 0) {
      return s.slice(this.childStart, at) + splice + s.slice(at, this.childHttpbindStart) + NS_CLIENT + s.slice(this.childHttpbindEnd, end)
    }
    return splice === '' ? s.slice(this.childStart, end) : s.slice(this.childStart, at) + splice + s.slice(at, end)
  }
}
