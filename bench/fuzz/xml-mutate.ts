/**
 * Mutations of well-formed XML, as bytes: the module fuzzer's DATA frames are valid stanzas put
 * through a few of these. Each mutation aims at something a parser has to get right: markup
 * characters where text is expected, references (undefined, out of range, NUL), a DOCTYPE with
 * an entity, CDATA, comments, processing instructions, namespace declarations and prefixes,
 * duplicate attributes, deep nesting, many attributes, truncation, and bytes that are not UTF-8
 * (a lone continuation byte, a truncated sequence, an encoded surrogate, an overlong form).
 */
import type { Prng } from './prng.ts'

/** Fragments that are each a parser's corner case. */
export const XML_TOKENS: readonly Buffer[] = [
  '<', '>', '&', "'", '"', '=', '/', '</', '/>', '<>', '&amp;', '&lt;', '&#0;', '&#x0;', '&#x110000;', '&#xD800;',
  '&#65;', '&unknown;', '&amp', ']]>', '<![CDATA[x]]>', '<![CDATA[', '<!-- c -->', '<!--', '<?pi x?>',
  "<?xml version='1.0'?>", '<!DOCTYPE x [<!ENTITY a "bbbbbbbb">]>', '&a;', " xmlns='urn:x'", " xmlns=''",
  " xmlns:p='urn:p'", " xmlns:p=''", ' p:a="1"', ' q:a="1"', " xmlns:xml='urn:bad'", " xml:lang='en'",
  " a='1' a='2'", ' a=1', " a='<'", ' a', '<p:e/>', '<stream:stream>', '</stream:stream>', '<stream:features/>',
  '<body/>', '<x:y:z/>', '<1a/>', '<a b/>', '\t', '\r\n', '\u0000', '\u0001', '\u000c', '\uFFFE', '\u202e', 'é', '😀'
].map(s => Buffer.from(s, 'utf8')).concat([
  Buffer.from([0x80]), Buffer.from([0xc3]), Buffer.from([0xff]), Buffer.from([0xfe, 0xff]),
  Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc0, 0xbc]), Buffer.from([0xf4, 0x90, 0x80, 0x80]),
  Buffer.from([0xe2, 0x82])
])

function insert (r: Prng, b: Buffer, what: Buffer): Buffer {
  const at = r.int(b.length + 1)
  return Buffer.concat([b.subarray(0, at), what, b.subarray(at)])
}

/** One mutation of `b` (a fresh buffer; `b` is not changed). */
export function mutateOnce (r: Prng, b: Buffer): Buffer {
  switch (r.int(11)) {
    case 0: { // flip bits of one byte
      if (b.length === 0) return r.bytes(1)
      const c = Buffer.from(b)
      const i = r.int(c.length)
      c[i] = (c[i] ?? 0) ^ (1 << r.int(8))
      return c
    }
    case 1: // a corner-case fragment somewhere
    case 2:
      return insert(r, b, r.pick(XML_TOKENS))
    case 3: { // delete a slice
      const at = r.int(b.length + 1)
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + r.int(8))])
    }
    case 4: { // duplicate a slice (repeated attributes, elements, end tags)
      const at = r.int(b.length + 1)
      const slice = b.subarray(at, at + 1 + r.int(24))
      return insert(r, b, Buffer.concat(Array.from({ length: 1 + r.int(4) }, () => slice)))
    }
    case 5: // truncate
      return b.subarray(0, r.int(b.length + 1))
    case 6: // random bytes somewhere
      return insert(r, b, r.bytes(1 + r.int(8)))
    case 7: { // nesting, possibly deeper than anything accepts
      const depth = r.chance(0.1) ? 200 + r.int(2000) : 1 + r.int(40)
      return Buffer.concat([Buffer.from('<n>'.repeat(depth)), b, Buffer.from('</n>'.repeat(r.chance(0.8) ? depth : r.int(depth + 1)))])
    }
    case 8: { // many attributes on the first start tag
      const n = r.chance(0.05) ? 1000 + r.int(4000) : 1 + r.int(64)
      const attrs = Array.from({ length: n }, (_, k) => ` a${k}='${k}'`).join('')
      const at = b.indexOf(0x20) // after the first element's name, if it has attributes
      return at < 0 ? b : Buffer.concat([b.subarray(0, at), Buffer.from(attrs), b.subarray(at)])
    }
    case 9: { // swap a quote style (unbalanced quotes)
      const c = Buffer.from(b)
      const i = c.indexOf(r.chance(0.5) ? 0x27 : 0x22)
      if (i >= 0) c[i] = c[i] === 0x27 ? 0x22 : 0x27
      return c
    }
    default: { // a namespace prefix nobody declared on an element name
      const i = b.indexOf(0x3c)
      return i < 0 ? b : Buffer.concat([b.subarray(0, i + 1), Buffer.from(r.pick(['zz:', 'stream:', 'xml:', 'xmlns:'])), b.subarray(i + 1)])
    }
  }
}

/** 1 to `max` mutations of `b`. */
export function mutate (r: Prng, b: Buffer, max = 3): Buffer {
  let out = b
  for (let n = 1 + r.int(max); n > 0; n--) out = mutateOnce(r, out)
  return out
}
