/**
 * Namespace well-formedness (Namespaces in XML 1.0) for the elements the strict scanner reads:
 * the prefixes in scope, each start tag's declarations, and the constraints a BOSH payload and a
 * WebSocket message must both meet. The readers (src/bosh/body.ts, src/ws/message.ts) differ in
 * what they do with the result (error codes, the BOSH body's own prefixes, where a payload's
 * default namespace is), so this file reports problems as text and leaves the coding to them.
 */
import type { XmlScanner } from './scanner.ts'

export const NS_XML = 'http://www.w3.org/XML/1998/namespace'
export const NS_XMLNS = 'http://www.w3.org/2000/xmlns/'

/** XML 1.0 §3.3.3: an attribute value as written, to its value. Input is already checked. */
export function decodeAttrValue (raw: string): string {
  if (!/[&\t\n\r]/.test(raw)) return raw
  return raw
    .replace(/\r\n|[\t\n\r]/g, ' ')
    .replace(/&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|apos|quot);/g, (_m, ref: string) => {
      switch (ref) {
        case 'lt': return '<'
        case 'gt': return '>'
        case 'amp': return '&'
        case 'apos': return "'"
        case 'quot': return '"'
        default: return String.fromCodePoint(ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10))
      }
    })
}

/**
 * What is wrong with the declaration `xmlns:prefix='uri'`, or null.
 * Namespaces in XML §3 NSC: Reserved Prefixes and Namespace Names, NSC: No Prefix Undeclaring.
 */
export function badDeclaration (prefix: string, uri: string): string | null {
  if (uri === '') return `empty namespace for prefix ${prefix}`
  if (prefix === 'xmlns' || uri === NS_XMLNS || (prefix === 'xml') !== (uri === NS_XML)) {
    return `reserved prefix or namespace in xmlns:${prefix}`
  }
  return null
}

export interface NamespaceProblem {
  message: string
  /** offset in the input */
  at: number
}

/**
 * The prefixes in scope while one element and its content are read: each start tag's
 * declarations are pushed at its depth and popped at its end tag. Prefixes nobody declared
 * inside are asked of `outer` (the BOSH body's own declarations; none for a WebSocket message).
 *
 * Work is linear in the input whatever it declares: a declaration costs a lookup of its prefix,
 * a use costs a lookup of its prefix, an end tag pops exactly what its start tag pushed, and an
 * attribute's expanded name is keyed by a small id for its namespace (see nsId), not by the
 * namespace name, which a key would copy: one long name used by many attributes would make
 * that quadratic.
 */
export class NamespaceScope {
  /** the start tag's own default namespace declaration (`xmlns='…'`): its attribute index, or -1 */
  defaultAttr = -1
  /** its decoded value when defaultAttr ≥ 0 */
  defaultNs = ''
  /** the namespace of the start tag's prefix; undefined for an unprefixed name */
  prefixNs: string | undefined
  /** why the last enter() returned false */
  problem: NamespaceProblem = { message: '', at: 0 }

  /** prefix to the namespace it is bound to now; null until something is declared */
  private scope: Map<string, string> | null = null
  // What each declaration replaced, to put back at the end tag: the prefix and its previous
  // namespace (undefined: none), pushed in order; undoMark[depth] is the log's length when the
  // element at that depth started. No array per prefix or per element.
  private readonly undoPrefix: string[] = []
  private readonly undoUri: (string | undefined)[] = []
  private readonly undoMark: number[] = []
  // Both made on first need: most stanzas never have two prefixed attributes on one element.
  /** namespace name to its id, for the whole document (clear() keeps it) */
  private ids: Map<string, number> | null = null
  /** expanded names of the attributes of the tag being entered; reused from tag to tag */
  private expanded: Set<string> | null = null
  /** by namespace id: the last tag (tagSerial) with a prefixed attribute in it, and that attribute's index */
  private idTag = new Int32Array(0)
  private idFirst = new Int32Array(0)
  private tagSerial = 0

  constructor (private readonly outer: (prefix: string) => string | undefined = () => undefined) {}

  /** Forgets everything in scope (a new payload). */
  clear (): void {
    this.scope = null
    this.undoPrefix.length = 0
    this.undoUri.length = 0
  }

  /**
   * A small number for a namespace name, the same for every equal name in the document. The
   * name's string caches its hash (V8 does so on the string object), and every name comes from
   * a declaration, so each is hashed once however many attributes use it.
   */
  nsId (uri: string): number {
    const ids = this.ids ??= new Map<string, number>()
    let id = ids.get(uri)
    if (id === undefined) ids.set(uri, id = ids.size)
    return id
  }

  /**
   * Takes in the start tag the scanner has just read from `s`, at `depth`: its declarations go
   * in scope, then its own prefix and every prefixed attribute must resolve, and no two
   * attributes may share an expanded name. False, with `problem` set, on the first violation.
   */
  enter (s: string, sc: XmlScanner, depth: number, tagStart: number): boolean {
    let prefixed = 0
    this.defaultAttr = -1
    this.undoMark[depth] = this.undoPrefix.length
    for (let k = 0; k < sc.attrCount; k++) {
      const colon = sc.attrColon[k]!
      const start = sc.attrStart[k]!
      if (colon < 0) {
        if (sc.attrNameIs(k, 'xmlns')) {
          this.defaultAttr = k
          this.defaultNs = decodeAttrValue(s.slice(sc.attrValueStart[k], sc.attrValueEnd[k]))
          // Namespaces in XML §3 NSC: Reserved Prefixes and Namespace Names.
          if (this.defaultNs === NS_XML || this.defaultNs === NS_XMLNS) return this.fail('reserved namespace as the default namespace', start)
        }
        continue
      }
      if (colon - start !== 5 || !s.startsWith('xmlns', start)) {
        prefixed++
        continue
      }
      const prefix = s.slice(start + 6, sc.attrNameEnd[k])
      const uri = decodeAttrValue(s.slice(sc.attrValueStart[k], sc.attrValueEnd[k]))
      const bad = badDeclaration(prefix, uri)
      if (bad !== null) return this.fail(bad, start)
      const scope = this.scope ??= new Map<string, string>()
      this.undoPrefix.push(prefix)
      this.undoUri.push(scope.get(prefix))
      scope.set(prefix, uri)
    }
    this.prefixNs = undefined
    if (sc.nameColon >= 0) {
      const prefix = s.slice(tagStart + 1, sc.nameColon)
      // Namespaces in XML §3: elements do not take the xmlns prefix.
      if (prefix === 'xmlns') return this.fail('element with the xmlns prefix', tagStart)
      this.prefixNs = this.resolve(prefix)
      if (this.prefixNs === undefined) return this.fail(`undeclared prefix ${prefix}`, tagStart)
    }
    if (prefixed === 0) return true
    // Namespaces in XML §6.3: no two attributes with the same expanded name. The scanner has
    // refused equal qualified names, so two attributes can only clash through two prefixes
    // bound to one namespace. Each namespace id notes the first attribute of this tag whose
    // prefix led to it; only a second, different prefix for one id calls for the exact check.
    const tag = ++this.tagSerial
    let twoPrefixes = false
    for (let k = 0; k < sc.attrCount; k++) {
      const colon = sc.attrColon[k]!
      const start = sc.attrStart[k]!
      if (colon < 0 || (colon - start === 5 && s.startsWith('xmlns', start))) continue
      const prefix = s.slice(start, colon)
      const uri = this.resolve(prefix)
      if (uri === undefined) return this.fail(`undeclared prefix ${prefix}`, start)
      if (prefixed === 1 || twoPrefixes) continue
      const id = this.nsId(uri)
      if (id >= this.idTag.length) this.growIds()
      if (this.idTag[id] !== tag) {
        this.idTag[id] = tag
        this.idFirst[id] = k
      } else if (!samePrefix(s, sc, this.idFirst[id]!, k)) {
        twoPrefixes = true
      }
    }
    return !twoPrefixes || this.expandedNamesUnique(s, sc)
  }

  /** The exact check of Namespaces in XML §6.3, by (namespace id, local name). */
  private expandedNamesUnique (s: string, sc: XmlScanner): boolean {
    const expanded = this.expanded ??= new Set<string>()
    expanded.clear()
    for (let k = 0; k < sc.attrCount; k++) {
      const colon = sc.attrColon[k]!
      const start = sc.attrStart[k]!
      if (colon < 0 || (colon - start === 5 && s.startsWith('xmlns', start))) continue
      const key = `${this.nsId(this.resolve(s.slice(start, colon))!)} ${s.slice(colon + 1, sc.attrNameEnd[k])}`
      const size = expanded.size // one lookup, not has() then add()
      if (expanded.add(key).size === size) return this.fail(`duplicate attribute ${sc.attrName(k)}`, start)
    }
    return true
  }

  private growIds (): void {
    const size = Math.max(64, this.ids?.size ?? 0) * 2
    const tag = new Int32Array(size)
    tag.set(this.idTag)
    const first = new Int32Array(size)
    first.set(this.idFirst)
    this.idTag = tag
    this.idFirst = first
  }

  /** The end tag of the element entered at `depth`: its declarations leave scope. */
  leave (depth: number): void {
    const { undoPrefix, undoUri, scope } = this
    const mark = this.undoMark[depth]!
    if (scope === null) return
    while (undoPrefix.length > mark) {
      const prefix = undoPrefix.pop()!
      const uri = undoUri.pop()
      if (uri === undefined) scope.delete(prefix)
      else scope.set(prefix, uri)
    }
  }

  /** A prefix's namespace, or undefined when nothing declares it (Namespaces in XML §5 NSC: Prefix Declared). */
  resolve (prefix: string): string | undefined {
    if (prefix === 'xml') return NS_XML
    return this.scope?.get(prefix) ?? this.outer(prefix)
  }

  private fail (message: string, at: number): false {
    this.problem = { message, at }
    return false
  }
}

/** Whether attributes a and b of the scanner's last tag are written with the same prefix. */
function samePrefix (s: string, sc: XmlScanner, a: number, b: number): boolean {
  let i = sc.attrStart[a]!
  let j = sc.attrStart[b]!
  const end = sc.attrColon[a]!
  if (end - i !== sc.attrColon[b]! - j) return false
  while (i < end) if (s.charCodeAt(i++) !== s.charCodeAt(j++)) return false
  return true
}
