/**
 * XML 1.0 (Fifth Edition) character classes, on UTF-16 code units as JavaScript strings hold
 * them. Supplementary characters arrive as surrogate pairs; the scanner checks the pairing, so
 * here a high surrogate in the name range stands for its whole pair.
 */

const NAME_START = 1
const NAME_CHAR = 2
const SPACE = 4

/** ASCII classes in one table: a lookup is cheaper than the range tests below. */
const ASCII = new Uint8Array(128)
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c)
  // XML 1.0 §2.3 [4]: ':' is a NameStartChar too, but Namespaces in XML §3 keeps it out of
  // NCNames; the scanner handles the one colon a QName may hold.
  if (/[A-Za-z_]/.test(ch)) ASCII[c] = NAME_START | NAME_CHAR
  else if (/[-.0-9]/.test(ch)) ASCII[c] = NAME_CHAR
}
ASCII[0x20] = ASCII[0x09] = ASCII[0x0a] = ASCII[0x0d] = SPACE // XML 1.0 §2.3 [3]

/** XML 1.0 §2.3 [3] S: space, tab, CR, LF. */
export function isSpace (c: number): boolean {
  return c < 128 && (ASCII[c]! & SPACE) !== 0
}

/** XML 1.0 §2.3 [4] NameStartChar, minus ':'. */
export function isNameStart (c: number): boolean {
  if (c < 128) return (ASCII[c]! & NAME_START) !== 0
  return (c >= 0xc0 && c <= 0xd6) || (c >= 0xd8 && c <= 0xf6) || (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) || (c >= 0x37f && c <= 0x1fff) || c === 0x200c || c === 0x200d ||
    (c >= 0x2070 && c <= 0x218f) || (c >= 0x2c00 && c <= 0x2fef) || (c >= 0x3001 && c <= 0xd7ff) ||
    (c >= 0xf900 && c <= 0xfdcf) || (c >= 0xfdf0 && c <= 0xfffd) ||
    // [#x10000-#xEFFFF] is exactly the pairs whose high surrogate is D800-DB7F
    (c >= 0xd800 && c <= 0xdb7f)
}

/** XML 1.0 §2.3 [4a] NameChar, minus ':'. The scanner consumes the low half of a pair itself. */
export function isNameChar (c: number): boolean {
  if (c < 128) return (ASCII[c]! & NAME_CHAR) !== 0
  return isNameStart(c) || c === 0xb7 || (c >= 0x300 && c <= 0x36f) || c === 0x203f || c === 0x2040
}

/** XML 1.0 §2.2 [2] Char, for a code point (as from a character reference). */
export function isXmlCodePoint (cp: number): boolean {
  if (cp < 0x20) return cp === 0x09 || cp === 0x0a || cp === 0x0d
  return cp <= 0xd7ff || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff)
}
