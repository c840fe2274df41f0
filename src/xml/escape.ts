/**
 * Escaping for the XML we build ourselves (`<body/>` responses, `<stream:error/>` wrappers).
 * Payloads from the client or the server are never passed through here: they are forwarded as
 * the bytes they arrived as.
 *
 * Most values (sids, numbers, domain names, condition names) need no escaping, so each function
 * first tests one regular expression and returns its input untouched when nothing matches.
 */

// Characters that XML 1.0 §2.2 cannot carry at all: C0 controls other than tab/LF/CR, U+FFFE,
// U+FFFF and unpaired surrogates. They become U+FFFD so that what we send stays well-formed.
const ILLEGAL = '\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\uFFFE\\uFFFF]|[\\uD800-\\uDBFF](?![\\uDC00-\\uDFFF])|(?<![\\uD800-\\uDBFF])[\\uDC00-\\uDFFF'

// In attribute values tab, LF and CR are escaped too: a parser would otherwise normalise them to
// spaces (XML 1.0 §3.3.3) and the value would not round-trip.
const ATTR_SPECIAL = new RegExp(`[&<>"'\\t\\n\\r${ILLEGAL}]`)
const ATTR_SPECIAL_G = new RegExp(ATTR_SPECIAL.source, 'g')
// In text, '>' is escaped so that ']]>' can never appear (XML 1.0 §2.4), and CR so that it is not
// folded into a line end (XML 1.0 §2.11).
const TEXT_SPECIAL = new RegExp(`[&<>\\r${ILLEGAL}]`)
const TEXT_SPECIAL_G = new RegExp(TEXT_SPECIAL.source, 'g')

const REPLACEMENT: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;'
}

function replace (ch: string): string {
  return REPLACEMENT[ch] ?? '\uFFFD'
}

/** An attribute value, safe inside either quote style. */
export function escapeAttr (value: string): string {
  return ATTR_SPECIAL.test(value) ? value.replace(ATTR_SPECIAL_G, replace) : value
}

/** Character data for element content. */
export function escapeText (value: string): string {
  return TEXT_SPECIAL.test(value) ? value.replace(TEXT_SPECIAL_G, replace) : value
}
