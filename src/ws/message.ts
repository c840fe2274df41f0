/**
 * Reading one WebSocket message (RFC 7395 §3.3.3): exactly one complete element, namespace
 * well-formed on its own, checked in one pass of the strict scanner that reads BOSH bodies
 * (src/xml/scanner.ts). Nothing is expanded (there is no DTD; only the predefined entities and
 * character references exist, checked and left as written) and nothing is rebuilt: a stanza is
 * forwarded as the client's own bytes, cut from the message.
 *
 * The result says what the element is for the framing (RFC 7395 §3.3.1): the stream header
 * `<open/>`, the stream close `<close/>` (with their attributes decoded), or anything else, which
 * travels to the server as one link DATA frame (docs/link-protocol.md).
 */
import { isSpace } from '../xml/chars.ts'
import { XmlScanner } from '../xml/scanner.ts'
import { NamespaceScope, decodeAttrValue } from '../xml/namespaces.ts'
import { NS_FRAMING, NS_STREAMS } from './framing.ts'
import { WsMessageError, type WsMessageErrorCode } from './message-error.ts'

export { WsMessageError } from './message-error.ts'
export type { WsMessageErrorCode } from './message-error.ts'

const LT = 0x3c
const SLASH = 0x2f
const BANG = 0x21
const QUESTION = 0x3f

/**
 * Attributes of `<open/>` or `<close/>` that RFC 7395 defines (FRAMING_ATTRIBUTES), values
 * decoded, keyed as written ('to', 'version', 'see-other-uri', 'xml:lang'); others are not
 * kept. The record has no prototype.
 */
export type FramingAttrs = Record<string, string>

/** RFC 7395 §3.3.2 (`<open/>`: to, from, id, version, xml:lang), §3.6 (`<close/>`: see-other-uri). */
const FRAMING_ATTRIBUTES = ['to', 'from', 'id', 'version', 'xml:lang', 'see-other-uri']

export interface FramingMessage {
  ok: true
  kind: 'open' | 'close'
  attrs: FramingAttrs
}

export interface ElementMessage {
  ok: true
  kind: 'element'
  /** the element as the client wrote it, without an XML declaration or surrounding whitespace */
  xml: string
}

export type WsMessage = FramingMessage | ElementMessage

export interface MessageLimits {
  /** element nesting: the message's element is at depth 1 */
  maxDepth: number
}

/**
 * Reads one message. Returns the error instead of throwing. `scanner` may be shared by calls
 * that do not overlap (the session manager keeps one).
 */
export function parseMessage (text: string, limits: MessageLimits, scanner: XmlScanner = new XmlScanner()): WsMessage | WsMessageError {
  scanner.reset(text)
  return new MessageReader(text, scanner, limits).read()
}

class MessageReader {
  /** prefixes in scope; a message stands alone, so nothing is declared outside it */
  private readonly ns = new NamespaceScope()
  /** names of the open elements */
  private readonly open: string[] = []
  /** the namespace of the element startElement() last read; undefined for none */
  private elementNs: string | undefined
  /** set when a step fails for a reason of ours rather than the scanner's */
  private failure: WsMessageError | null = null

  constructor (private readonly s: string, private readonly sc: XmlScanner, private readonly limits: MessageLimits) {}

  private error (code: WsMessageErrorCode, message: string, at: number): WsMessageError {
    return new WsMessageError(code, `${message} (at ${at})`, at)
  }

  private fail (code: WsMessageErrorCode, message: string, at: number): -1 {
    this.failure = this.error(code, message, at)
    return -1
  }

  private scanError (): WsMessageError {
    return this.failure ?? this.error('WS_NOT_WELL_FORMED', this.sc.reason, this.sc.at)
  }

  read (): WsMessage | WsMessageError {
    const { s, sc } = this
    // RFC 7395 §3.3.3: "The first character of each frame MUST be a '<' character." (So no
    // whitespace keepalives either, RFC 7395 §3.8.)
    if (s.charCodeAt(0) !== LT) return this.error('WS_NOT_WELL_FORMED', "a message must start with '<'", 0)
    let i = 0
    // RFC 7395 §3.3.3: an XML declaration is NOT RECOMMENDED, which leaves it allowed.
    if (s.startsWith('<?xml') && isSpace(s.charCodeAt(5))) {
      i = sc.xmlDecl(0)
      if (i < 0) return this.scanError()
      i = sc.skipSpace(i)
    }
    const restricted = this.restricted(i)
    if (restricted !== null) return restricted
    if (i >= s.length || s.charCodeAt(i) !== LT) return this.error('WS_NOT_WELL_FORMED', 'no element', i)
    const rootStart = i
    i = sc.startTag(i)
    if (i < 0) return this.scanError()
    if (!this.startElement(1, rootStart)) return this.scanError()
    const ns = this.elementNs
    const local = s.slice(sc.nameColon >= 0 ? sc.nameColon + 1 : rootStart + 1, sc.nameEnd)
    const framing = this.classify(ns, local, rootStart)
    if (framing instanceof WsMessageError) return framing
    // The attributes are read now: scanning the content reuses the scanner's arrays.
    const attrs = framing === null ? null : this.framingAttrs()
    if (sc.selfClosing) {
      this.endElement(1)
    } else {
      this.open[0] = s.slice(rootStart + 1, sc.nameEnd)
      i = this.content(i)
      if (i < 0) return this.scanError()
    }
    const end = i
    // RFC 7395 §3.3.3: one element per message. XML 1.0 §2.1 [1] allows whitespace after it;
    // comments and PIs are refused anyway (RFC 6120 §11.1).
    i = sc.skipSpace(i)
    if (i < s.length) return this.restricted(i) ?? this.error('WS_NOT_WELL_FORMED', 'data after the element', i)
    if (framing !== null && attrs !== null) return { ok: true, kind: framing, attrs }
    return { ok: true, kind: 'element', xml: s.slice(rootStart, end) }
  }

  /**
   * 'open' or 'close' for the framing elements, null for anything else, or the error for an
   * element the framing forbids.
   */
  private classify (ns: string | undefined, local: string, at: number): 'open' | 'close' | null | WsMessageError {
    const header = local === 'open' || local === 'close'
    if (ns === NS_FRAMING) {
      if (header) return local === 'open' ? 'open' : 'close'
      return this.error('WS_UNSUPPORTED_FRAMING', `<${local}/> in the framing namespace`, at)
    }
    // RFC 7395 §3.3.2: a stream header outside the framing namespace is invalid-namespace; so is
    // the TCP binding's <stream:stream> header, which has no place in a framed stream.
    if (header || (ns === NS_STREAMS && local === 'stream')) {
      return this.error('WS_INVALID_NAMESPACE', `<${local}/> not in the ${NS_FRAMING} namespace`, at)
    }
    // RFC 7395 §3.3.3: every message stands alone "complete with all relevant namespace
    // declarations": with no stream root to inherit from, an element without one has none.
    if (ns === undefined || ns === '') return this.error('WS_INVALID_NAMESPACE', `<${local}/> has no namespace`, at)
    return null
  }

  private framingAttrs (): FramingAttrs {
    const { s, sc } = this
    const attrs = Object.create(null) as FramingAttrs
    for (let k = 0; k < sc.attrCount; k++) {
      // Only the attributes RFC 7395 defines: a record keyed by thousands of names of the
      // client's choosing costs far more than reading them (as for BOSH, src/bosh/body.ts).
      const name = FRAMING_ATTRIBUTES.find(a => sc.attrNameIs(k, a))
      if (name !== undefined) attrs[name] = decodeAttrValue(s.slice(sc.attrValueStart[k], sc.attrValueEnd[k]))
    }
    return attrs
  }

  /** Markup RFC 6120 §11.1 forbids: comments, processing instructions, DTDs. */
  private restricted (i: number): WsMessageError | null {
    const s = this.s
    if (s.startsWith('<!--', i)) return this.error('WS_RESTRICTED_XML', 'comment', i)
    if (s.startsWith('<?', i)) return this.error('WS_RESTRICTED_XML', 'processing instruction', i)
    if (s.startsWith('<!DOCTYPE', i)) return this.error('WS_RESTRICTED_XML', 'document type declaration', i)
    return null
  }

  /** The element's content, from after its start tag to after its end tag. */
  private content (i: number): number {
    const { s, sc, limits } = this
    const n = s.length
    let depth = 1
    for (;;) {
      i = sc.text(i)
      if (i < 0) return -1
      if (i >= n) return this.fail('WS_NOT_WELL_FORMED', 'message ends inside the element', i)
      const next = s.charCodeAt(i + 1)
      if (next === SLASH) {
        i = sc.endTag(i, this.open[depth - 1]!)
        if (i < 0) return -1
        this.endElement(depth)
        if (--depth === 0) return i
      } else if (next === BANG) {
        if (!s.startsWith('<![CDATA[', i)) {
          this.failure = this.restricted(i) ?? this.error('WS_NOT_WELL_FORMED', "'<!' that is not a CDATA section", i)
          return -1
        }
        // RFC 6120 §11.1 does not forbid CDATA sections: they pass, as written.
        i = sc.cdata(i)
        if (i < 0) return -1
      } else if (next === QUESTION) {
        return this.fail('WS_RESTRICTED_XML', 'processing instruction', i)
      } else {
        const tagStart = i
        i = sc.startTag(i)
        if (i < 0) return -1
        if (++depth > limits.maxDepth) return this.fail('WS_TOO_DEEP', `elements nested deeper than ${limits.maxDepth}`, tagStart)
        if (!this.startElement(depth, tagStart)) return -1
        if (sc.selfClosing) this.endElement(depth--)
        else this.open[depth - 1] = s.slice(tagStart + 1, sc.nameEnd)
      }
    }
  }

  /** The namespace bookkeeping of one start tag; false on an error. Sets `elementNs`. */
  private startElement (depth: number, tagStart: number): boolean {
    const ns = this.ns
    if (!ns.enter(this.s, this.sc, depth, tagStart)) {
      this.fail('WS_NOT_WELL_FORMED', ns.problem.message, ns.problem.at)
      return false
    }
    this.elementNs = this.sc.nameColon >= 0 ? ns.prefixNs : ns.defaultAttr >= 0 ? ns.defaultNs : undefined
    return true
  }

  private endElement (depth: number): void {
    this.ns.leave(depth)
  }
}
