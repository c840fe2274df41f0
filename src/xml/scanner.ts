/**
 * The steps of a strict, non-validating XML 1.0 + Namespaces scanner over a string, for
 * documents that come from untrusted clients and whose bytes we forward as they are.
 *
 * Each step starts at an index, returns the index just past what it consumed, and returns -1
 * on malformed input after recording `reason` and `at`: bad input is a value, never an
 * exception. The scanner has no notion of document structure (that is the caller's: see
 * src/bosh/body.ts); it knows names, references, attribute lists, character data, CDATA
 * sections and the XML declaration. It never expands anything: there is no DTD to declare an
 * entity with, so a reference is either one of the five predefined entities or a character
 * reference, checked and left as written.
 *
 * Reading past the end yields NaN from charCodeAt, which no class accepts, so a truncated
 * document fails where it is cut.
 */
import { isNameChar, isNameStart, isSpace, isXmlCodePoint } from './chars.ts'

const LT = 0x3c
const GT = 0x3e
const AMP = 0x26
const SLASH = 0x2f
const EQ = 0x3d
const QUOT = 0x22
const APOS = 0x27
const COLON = 0x3a
const SEMI = 0x3b
const HASH = 0x23
const RSQB = 0x5d

/** Attribute lists longer than this are checked for duplicates with a hash table, not pairwise. */
const LINEAR_DUP_CHECK = 8
/**
 * The duplicate check hashes names itself (no Set: a Set of 100,000 fresh strings took half the
 * time of a hostile 1 MiB tag, bench/body.ts). The seed is random per process so that nobody can
 * prepare names that collide; should they collide anyway, a tag whose probes exceed this many
 * per attribute goes on with a Set, which keeps the worst case linear.
 */
const MAX_PROBES_PER_ATTR = 8
const SEED = (Math.random() * 0x100000000) | 0

export class XmlScanner {
  src = ''
  len = 0
  /** why the last step failed, and at which index */
  reason = ''
  at = 0

  /** set by qname(): index of the QName's colon, or -1 */
  colon = -1
  /** set by text(): whether the run held anything other than whitespace */
  nonSpace = false

  // Set by startTag(). The arrays are reused from tag to tag; only the first attrCount entries
  // belong to the last tag.
  nameEnd = 0
  nameColon = -1
  selfClosing = false
  attrCount = 0
  // Positions only: a tag with a hundred thousand attributes must not cost a hundred thousand
  // strings. attrName(k) cuts one out when a caller needs it.
  /** index of the colon in the source, or -1 */
  readonly attrColon: number[] = []
  /** index of the attribute name's first character: the attribute runs to attrValueEnd + 1 */
  readonly attrStart: number[] = []
  /** index just past the attribute's name */
  readonly attrNameEnd: number[] = []
  /** the value, between the quotes, as written */
  readonly attrValueStart: number[] = []
  readonly attrValueEnd: number[] = []
  /** open addressing, attribute index + 1 in each used slot; reused from tag to tag */
  private dupTable = new Int32Array(64)
  private readonly attrHash: number[] = []
  private probes = 0
  /** null while the hash table serves this tag */
  private dupSet: Set<string> | null = null

  /** The name of the last tag's attribute k, as written (a new string each call). */
  attrName (k: number): string {
    return this.src.slice(this.attrStart[k], this.attrNameEnd[k])
  }

  /** Whether the last tag's attribute k is named `name`, without making a string. */
  attrNameIs (k: number, name: string): boolean {
    const start = this.attrStart[k]!
    return this.attrNameEnd[k]! - start === name.length && this.src.startsWith(name, start)
  }

  reset (src: string): void {
    this.src = src
    this.len = src.length
    this.reason = ''
    this.at = 0
  }

  fail (at: number, reason: string): -1 {
    this.at = at
    this.reason = at >= this.len ? 'document ends inside markup' : reason
    return -1
  }

  skipSpace (i: number): number {
    while (isSpace(this.src.charCodeAt(i))) i++
    return i
  }

  /** Namespaces in XML §3 [7] QName: an NCName, or two joined by one colon. */
  qname (i: number): number {
    this.colon = -1
    let p = this.ncname(i)
    if (p < 0) return -1
    if (this.src.charCodeAt(p) === COLON) {
      this.colon = p
      p = this.ncname(p + 1)
    }
    return p
  }

  /** Namespaces in XML §3 [4] NCName: an XML Name with no colon. */
  private ncname (i: number): number {
    const s = this.src
    let c = s.charCodeAt(i)
    if (!isNameStart(c)) return this.fail(i, 'invalid name')
    for (;;) {
      if (c >= 0xd800 && c <= 0xdbff) {
        // a supplementary character: the high half was classed, the low half must follow
        const d = s.charCodeAt(i + 1)
        if (!(d >= 0xdc00 && d <= 0xdfff)) return this.fail(i, 'unpaired surrogate')
        i++
      }
      i++
      c = s.charCodeAt(i)
      if (!isNameChar(c)) return i
    }
  }

  /**
   * XML 1.0 §4.1 [66], [68] at '&': a character reference to a legal Char, or one of the five
   * predefined entities (§4.6). Nothing else can be defined: DTDs are refused (XEP-0124 §4).
   */
  reference (i: number): number {
    const s = this.src
    let p = i + 1
    if (s.charCodeAt(p) === HASH) {
      p++
      let cp = 0
      let digits = 0
      if (s.charCodeAt(p) === 0x78 /* x */) {
        p++
        for (;; p++, digits++) {
          const c = s.charCodeAt(p)
          const v = c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1
          if (v < 0) break
          cp = cp * 16 + v
          if (cp > 0x10ffff) return this.fail(i, 'character reference out of range')
        }
      } else {
        for (;; p++, digits++) {
          const c = s.charCodeAt(p)
          if (!(c >= 0x30 && c <= 0x39)) break
          cp = cp * 10 + (c - 0x30)
          if (cp > 0x10ffff) return this.fail(i, 'character reference out of range')
        }
      }
      if (digits === 0 || s.charCodeAt(p) !== SEMI) return this.fail(i, 'malformed character reference')
      if (!isXmlCodePoint(cp)) return this.fail(i, 'character reference to a character XML forbids') // XML 1.0 §4.1 WFC: Legal Character
      return p + 1
    }
    if (s.startsWith('lt;', p) || s.startsWith('gt;', p)) return p + 3
    if (s.startsWith('amp;', p)) return p + 4
    if (s.startsWith('apos;', p) || s.startsWith('quot;', p)) return p + 5
    return this.fail(i, "'&' that is not a predefined entity or character reference") // XML 1.0 §4.1 WFC: Entity Declared
  }

  /** At a code unit >= 0xD800: a whole surrogate pair, or a BMP character XML allows. */
  private nonBmp (i: number): number {
    const c = this.src.charCodeAt(i)
    if (c <= 0xdbff) {
      const d = this.src.charCodeAt(i + 1)
      return d >= 0xdc00 && d <= 0xdfff ? i + 2 : this.fail(i, 'unpaired surrogate')
    }
    if (c <= 0xdfff) return this.fail(i, 'unpaired surrogate')
    return c >= 0xfffe ? this.fail(i, 'character XML forbids') : i + 1 // XML 1.0 §2.2 [2]
  }

  /** XML 1.0 §3.1 [10] AttValue, at its opening quote. */
  attrValue (i: number): number {
    const s = this.src
    const q = s.charCodeAt(i)
    const n = this.len
    let p = i + 1
    while (p < n) {
      const c = s.charCodeAt(p)
      if (c === q) return p + 1
      if (c === LT) return this.fail(p, "'<' in an attribute value")
      if (c === AMP) {
        p = this.reference(p)
        if (p < 0) return -1
      } else if (c < 0x20) {
        if (c !== 0x09 && c !== 0x0a && c !== 0x0d) return this.fail(p, 'control character XML forbids')
        p++
      } else if (c >= 0xd800) {
        p = this.nonBmp(p)
        if (p < 0) return -1
      } else {
        p++
      }
    }
    return this.fail(p, 'unterminated attribute value')
  }

  /**
   * XML 1.0 §3.1 [40] STag / [44] EmptyElemTag, at '<'. Records the name and the attributes;
   * refuses duplicate attribute names (§3.1 WFC: Unique Att Spec). Duplicates by expanded name
   * need the namespace scope, so the caller checks those.
   */
  startTag (i: number): number {
    const s = this.src
    let p = this.qname(i + 1)
    if (p < 0) return -1
    this.nameEnd = p
    this.nameColon = this.colon
    let count = 0
    this.attrCount = 0
    for (;;) {
      let c = s.charCodeAt(p)
      if (c === GT) {
        this.selfClosing = false
        return p + 1
      }
      if (c === SLASH) {
        if (s.charCodeAt(p + 1) !== GT) return this.fail(p, "'/' not followed by '>'")
        this.selfClosing = true
        return p + 2
      }
      if (!isSpace(c)) return this.fail(p, 'expected whitespace, \'>\' or \'/>\' in a start tag')
      p = this.skipSpace(p + 1)
      c = s.charCodeAt(p)
      if (c === GT || c === SLASH) continue
      const start = p
      p = this.qname(p)
      if (p < 0) return -1
      const nameEnd = p
      const colon = this.colon
      p = this.skipSpace(p)
      if (s.charCodeAt(p) !== EQ) return this.fail(p, "expected '=' after an attribute name")
      p = this.skipSpace(p + 1)
      c = s.charCodeAt(p)
      if (c !== QUOT && c !== APOS) return this.fail(p, 'attribute value not quoted')
      const valueStart = p + 1
      p = this.attrValue(p)
      if (p < 0) return -1
      this.attrStart[count] = start
      this.attrNameEnd[count] = nameEnd
      if (this.isDuplicate(count)) return this.fail(start, `duplicate attribute ${s.slice(start, nameEnd)}`)
      this.attrColon[count] = colon
      this.attrValueStart[count] = valueStart
      this.attrValueEnd[count] = p - 1
      this.attrCount = ++count
    }
  }

  /** Whether attribute `count` (its start and name end recorded) has the name of an earlier one. */
  private isDuplicate (count: number): boolean {
    if (count < LINEAR_DUP_CHECK) {
      for (let k = 0; k < count; k++) if (this.sameName(k, count)) return true
      return false
    }
    // A hostile tag can hold a hundred thousand attributes: pairwise checks would be quadratic.
    if (count === LINEAR_DUP_CHECK) {
      this.dupSet = null
      this.probes = 0
      for (let k = 0; k < count; k++) this.attrHash[k] = this.hashName(k)
      this.rebuild(64, count)
    }
    if (this.dupSet !== null) {
      const size = this.dupSet.size // one lookup, not has() then add()
      return this.dupSet.add(this.attrName(count)).size === size
    }
    if (count * 2 >= this.dupTable.length) this.rebuild(this.dupTable.length * 2, count)
    const h = this.hashName(count)
    const table = this.dupTable
    const mask = table.length - 1
    let i = h & mask
    for (let slot = table[i]!; slot !== 0; slot = table[i]!) {
      if (this.attrHash[slot - 1] === h && this.sameName(slot - 1, count)) return true
      i = (i + 1) & mask
      if (++this.probes > MAX_PROBES_PER_ATTR * count) {
        const set = this.dupSet = new Set<string>()
        for (let k = 0; k < count; k++) set.add(this.attrName(k))
        return set.add(this.attrName(count)).size === count
      }
    }
    table[i] = count + 1
    this.attrHash[count] = h
    return false
  }

  private sameName (a: number, b: number): boolean {
    const s = this.src
    let i = this.attrStart[a]!
    let j = this.attrStart[b]!
    const end = this.attrNameEnd[a]!
    if (end - i !== this.attrNameEnd[b]! - j) return false
    while (i < end) if (s.charCodeAt(i++) !== s.charCodeAt(j++)) return false
    return true
  }

  /** FNV-1a from a random seed, then murmur3's finaliser so that every bit reaches the low ones. */
  private hashName (k: number): number {
    const s = this.src
    const end = this.attrNameEnd[k]!
    let h = SEED
    for (let i = this.attrStart[k]!; i < end; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
    h ^= h >>> 16
    h = Math.imul(h, 0x85ebca6b)
    h ^= h >>> 13
    h = Math.imul(h, 0xc2b2ae35)
    return h ^ (h >>> 16)
  }

  /** A table of `size` slots holding the first `count` attributes, whose hashes are in attrHash. */
  private rebuild (size: number, count: number): void {
    const table = size === this.dupTable.length ? this.dupTable.fill(0) : (this.dupTable = new Int32Array(size))
    const mask = size - 1
    for (let k = 0; k < count; k++) {
      let i = this.attrHash[k]! & mask
      while (table[i] !== 0) i = (i + 1) & mask
      table[i] = k + 1
    }
  }

  /** XML 1.0 §3.1 [42] ETag at '</', which must close `name` (§3 WFC: Element Type Match). */
  endTag (i: number, name: string): number {
    const s = this.src
    if (!s.startsWith(name, i + 2)) return this.fail(i, `end tag does not match <${name}>`)
    const p = this.skipSpace(i + 2 + name.length)
    if (s.charCodeAt(p) !== GT) return this.fail(i, `end tag does not match <${name}>`)
    return p + 1
  }

  /**
   * XML 1.0 §2.4 [14] CharData and references, up to the next '<' or the end. Records in
   * `nonSpace` whether anything but whitespace was seen.
   */
  text (i: number): number {
    const s = this.src
    const n = this.len
    let nonSpace = false
    while (i < n) {
      const c = s.charCodeAt(i)
      if (c === LT) break
      if (c === AMP) {
        nonSpace = true
        i = this.reference(i)
        if (i < 0) return -1
      } else if (c <= 0x20) {
        if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return this.fail(i, 'control character XML forbids')
        i++
      } else if (c >= 0xd800) {
        nonSpace = true
        i = this.nonBmp(i)
        if (i < 0) return -1
      } else {
        nonSpace = true
        // XML 1.0 §2.4: ']]>' may not appear in content outside a CDATA section's end
        if (c === RSQB && s.startsWith(']]>', i)) return this.fail(i, "']]>' in character data")
        i++
      }
    }
    this.nonSpace = nonSpace
    return i
  }

  /** XML 1.0 §2.7 [18] CDSect, at '<![CDATA['. */
  cdata (i: number): number {
    const start = i + 9
    const end = this.src.indexOf(']]>', start)
    if (end < 0) return this.fail(this.len, 'unterminated CDATA section')
    for (let p = start; p < end;) {
      const c = this.src.charCodeAt(p)
      if (c < 0x20) {
        if (c !== 0x09 && c !== 0x0a && c !== 0x0d) return this.fail(p, 'control character XML forbids')
        p++
      } else if (c >= 0xd800) {
        p = this.nonBmp(p)
        if (p < 0) return -1
      } else {
        p++
      }
    }
    return end + 3
  }

  /**
   * XML 1.0 §2.8 [23] XMLDecl at '<?xml': version 1.x, then optionally encoding (which must
   * name UTF-8, the only encoding we decode) and standalone, in that order.
   */
  xmlDecl (i: number): number {
    const s = this.src
    let p = i + 5
    const pseudo = ['version', 'encoding', 'standalone']
    let k = 0
    for (;;) {
      const afterSpace = this.skipSpace(p)
      if (s.startsWith('?>', afterSpace)) {
        if (k === 0) return this.fail(afterSpace, 'XML declaration without a version')
        return afterSpace + 2
      }
      if (afterSpace === p) return this.fail(p, 'malformed XML declaration')
      p = afterSpace
      while (k < pseudo.length && !s.startsWith(pseudo[k]!, p)) {
        if (k === 0) return this.fail(p, 'XML declaration without a version')
        k++
      }
      const name = pseudo[k++]
      if (name === undefined) return this.fail(p, 'malformed XML declaration')
      p = this.skipSpace(p + name.length)
      if (s.charCodeAt(p) !== EQ) return this.fail(p, 'malformed XML declaration')
      p = this.skipSpace(p + 1)
      const q = s.charCodeAt(p)
      if (q !== QUOT && q !== APOS) return this.fail(p, 'malformed XML declaration')
      const end = s.indexOf(String.fromCharCode(q), p + 1)
      if (end < 0) return this.fail(this.len, 'malformed XML declaration')
      const value = s.slice(p + 1, end)
      const ok = name === 'version'
        ? /^1\.[0-9]+$/.test(value)
        : name === 'encoding' ? /^utf-8$/i.test(value) : value === 'yes' || value === 'no'
      if (!ok) return this.fail(p + 1, `unsupported ${name} in the XML declaration`)
      p = end + 1
    }
  }
}

