/**
 * parseBody on bodies it must refuse, one rule each, with the code and condition it must give.
 * The generic XML cases double as the strictness comparison with fast-xml-parser's validator
 * (see bench/body.ts): everything it rejects we reject, and the test lists what it lets through.
 */
import t from 'tap'
import type { Test } from 'tap'
import { XMLValidator } from 'fast-xml-parser'
import { DOMParser } from '@xmldom/xmldom'
import { BoshBodyError, parseBody } from '../../src/bosh/body.ts'
import type { BoshBodyErrorCode } from '../../src/bosh/body.ts'

const HB = 'http://jabber.org/protocol/httpbind'
const OPEN = `<body rid='1' xmlns='${HB}' sid='s'>`
/** a payload inside an otherwise valid body */
const inBody = (payload: string): string => `${OPEN}${payload}</body>`

type Case = [name: string, doc: string | Buffer, code: BoshBodyErrorCode]

/** Malformed XML, whatever the protocol: the corpus shared with fast-xml-parser. */
const NOT_WELL_FORMED: Case[] = [
  ['unclosed element', inBody('<message>'), 'BODY_NOT_WELL_FORMED'],
  ['mismatched end tag', inBody('<a></b>'), 'BODY_NOT_WELL_FORMED'],
  ['improper nesting', inBody('<a><b></a></b>'), 'BODY_NOT_WELL_FORMED'],
  ['end tag that is a longer name', inBody('<a></ab>'), 'BODY_NOT_WELL_FORMED'],
  ['stray end tag', inBody('</a>'), 'BODY_NOT_WELL_FORMED'],
  ['unclosed body', `${OPEN}<a/>`, 'BODY_NOT_WELL_FORMED'],
  ['unquoted attribute value', inBody('<a x=1/>'), 'BODY_NOT_WELL_FORMED'],
  ['attribute without value', inBody('<a x/>'), 'BODY_NOT_WELL_FORMED'],
  ['unterminated attribute value', inBody("<a x='1/>"), 'BODY_NOT_WELL_FORMED'],
  ['mismatched quotes', inBody(`<a x='1"/>`), 'BODY_NOT_WELL_FORMED'],
  ['no whitespace between attributes', inBody("<a x='1'y='2'/>"), 'BODY_NOT_WELL_FORMED'],
  ["'<' in attribute value", inBody("<a x='<'/>"), 'BODY_NOT_WELL_FORMED'],
  ['duplicate attribute', inBody("<a x='1' x='2'/>"), 'BODY_NOT_WELL_FORMED'],
  ['duplicate attribute among many', inBody(`<a ${Array.from({ length: 20 }, (_, k) => `a${k}='1'`).join(' ')} a7='2'/>`), 'BODY_NOT_WELL_FORMED'],
  ['duplicate attribute by expanded name', inBody("<a xmlns:p='urn:u' xmlns:q='urn:u' p:x='1' q:x='2'/>"), 'BODY_NOT_WELL_FORMED'],
  ['duplicate body attribute', `<body rid='1' rid='2' xmlns='${HB}'/>`, 'BODY_NOT_WELL_FORMED'],
  ['duplicate xmlns on body', `<body xmlns='${HB}' xmlns='${HB}'/>`, 'BODY_NOT_WELL_FORMED'],
  ['name starting with a digit', inBody('<1a/>'), 'BODY_NOT_WELL_FORMED'],
  ['name starting with a hyphen', inBody('<-a/>'), 'BODY_NOT_WELL_FORMED'],
  ['attribute name with a bad character', inBody("<a b@='1'/>"), 'BODY_NOT_WELL_FORMED'],
  ['two colons in a name', inBody("<a:b:c xmlns:a='urn:a'/>"), 'BODY_NOT_WELL_FORMED'],
  ['leading colon', inBody('<:a/>'), 'BODY_NOT_WELL_FORMED'],
  ['trailing colon', inBody("<a: xmlns:a='urn:a'/>"), 'BODY_NOT_WELL_FORMED'],
  ['space after <', inBody('< a/>'), 'BODY_NOT_WELL_FORMED'],
  ["'/' not followed by '>'", inBody('<a / >'), 'BODY_NOT_WELL_FORMED'],
  ['undeclared entity', inBody('<a>&foo;</a>'), 'BODY_NOT_WELL_FORMED'],
  ['undeclared entity in an attribute', inBody("<a x='&nbsp;'/>"), 'BODY_NOT_WELL_FORMED'],
  ["bare '&'", inBody('<a>fish & chips</a>'), 'BODY_NOT_WELL_FORMED'],
  ['reference without ;', inBody('<a>&amp</a>'), 'BODY_NOT_WELL_FORMED'],
  ['empty character reference', inBody('<a>&#;</a>'), 'BODY_NOT_WELL_FORMED'],
  ['character reference to NUL', inBody('<a>&#0;</a>'), 'BODY_NOT_WELL_FORMED'],
  ['character reference to a C0 control', inBody('<a>&#x1b;</a>'), 'BODY_NOT_WELL_FORMED'],
  ['character reference to a surrogate', inBody('<a>&#xD800;</a>'), 'BODY_NOT_WELL_FORMED'],
  ['character reference to U+FFFE', inBody('<a>&#65534;</a>'), 'BODY_NOT_WELL_FORMED'],
  ['character reference past U+10FFFF', inBody('<a>&#x110000;</a>'), 'BODY_NOT_WELL_FORMED'],
  ['huge character reference', inBody(`<a>&#${'9'.repeat(400)};</a>`), 'BODY_NOT_WELL_FORMED'],
  ['hex digits in a decimal reference', inBody('<a>&#1a;</a>'), 'BODY_NOT_WELL_FORMED'],
  ["']]>' in text", inBody('<a>]]></a>'), 'BODY_NOT_WELL_FORMED'],
  ['unterminated CDATA section', inBody('<a><![CDATA[x</a></body>'), 'BODY_NOT_WELL_FORMED'],
  ["'<!' that is nothing", inBody('<a><!foo></a>'), 'BODY_NOT_WELL_FORMED'],
  ['trailing garbage', `<body xmlns='${HB}'/>junk`, 'BODY_NOT_WELL_FORMED'],
  ['second root', `<body xmlns='${HB}'/><body xmlns='${HB}'/>`, 'BODY_NOT_WELL_FORMED'],
  ['text before the root', `junk<body xmlns='${HB}'/>`, 'BODY_NOT_WELL_FORMED'],
  ['empty document', '', 'BODY_NOT_WELL_FORMED'],
  ['whitespace only', ' \n', 'BODY_NOT_WELL_FORMED'],
  ['XML declaration not at the start', ` <?xml version='1.0'?><body xmlns='${HB}'/>`, 'BODY_RESTRICTED_XML'],
  ['XML declaration without version', `<?xml encoding='UTF-8'?><body xmlns='${HB}'/>`, 'BODY_NOT_WELL_FORMED'],
  ['unbound element prefix', inBody('<foo:bar/>'), 'BODY_NOT_WELL_FORMED'],
  ['unbound attribute prefix', inBody("<a foo:x='1'/>"), 'BODY_NOT_WELL_FORMED'],
  ['unbound prefix on the body', `<body xmlns='${HB}' foo:x='1'/>`, 'BODY_NOT_WELL_FORMED'],
  ['prefix used after its scope ended', inBody("<a><b xmlns:p='urn:p'/><p:c/></a>"), 'BODY_NOT_WELL_FORMED'],
  ['undeclaring a prefix', inBody("<a xmlns:p=''/>"), 'BODY_NOT_WELL_FORMED'],
  ['declaring xmlns', inBody("<a xmlns:xmlns='urn:x'/>"), 'BODY_NOT_WELL_FORMED'],
  ['binding xml elsewhere', inBody("<a xmlns:xml='urn:x'/>"), 'BODY_NOT_WELL_FORMED'],
  ['binding the xml namespace to another prefix', inBody("<a xmlns:p='http://www.w3.org/XML/1998/namespace'/>"), 'BODY_NOT_WELL_FORMED'],
  ['element with the xmlns prefix', inBody("<xmlns:a xmlns:a='urn:a'/>"), 'BODY_NOT_WELL_FORMED'],
  ['the xml namespace as a default namespace', inBody("<a xmlns='http://www.w3.org/XML/1998/namespace'/>"), 'BODY_NOT_WELL_FORMED'],
  ['the xmlns namespace as a default namespace', inBody("<a><b xmlns='http://www.w3.org/2000/xmlns/'/></a>"), 'BODY_NOT_WELL_FORMED'],
  ['C0 control in text', inBody('<a>\u0001</a>'), 'BODY_NOT_WELL_FORMED'],
  ['NUL in text', inBody('<a>\u0000</a>'), 'BODY_NOT_WELL_FORMED'],
  ['C0 control in an attribute value', inBody("<a x='\u001b'/>"), 'BODY_NOT_WELL_FORMED'],
  ['C0 control in a CDATA section', inBody('<a><![CDATA[\u0007]]></a>'), 'BODY_NOT_WELL_FORMED'],
  ['U+FFFF in text', inBody('<a>\uFFFF</a>'), 'BODY_NOT_WELL_FORMED'],
  ['U+FFFE in an attribute value', inBody("<a x='\uFFFE'/>"), 'BODY_NOT_WELL_FORMED'],
  ['unpaired high surrogate in text', inBody('<a>\uD83D</a>'), 'BODY_NOT_WELL_FORMED'],
  ['unpaired low surrogate in an attribute value', inBody("<a x='\uDE00'/>"), 'BODY_NOT_WELL_FORMED'],
  ['unpaired surrogate in a name', inBody('<a\uD840/>'), 'BODY_NOT_WELL_FORMED']
]

/** Well-formed, or not even XML, but refused by XEP-0124 / XEP-0206 / RFC 6120. */
const PROTOCOL: Case[] = [
  // XEP-0124 §4, RFC 6120 §11.1: no DTD, no entity expansion, ever.
  ['DOCTYPE', `<!DOCTYPE body><body xmlns='${HB}'/>`, 'BODY_RESTRICTED_XML'],
  ['billion laughs', `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
    `<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><body xmlns='${HB}'><a>&lol3;</a></body>`, 'BODY_RESTRICTED_XML'],
  ['external entity (XXE)', `<!DOCTYPE body [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><body xmlns='${HB}'><a>&xxe;</a></body>`, 'BODY_RESTRICTED_XML'],
  ['DOCTYPE inside the body', inBody('<!DOCTYPE a><a/>'), 'BODY_RESTRICTED_XML'],
  // XEP-0124 §4: no comments, no processing instructions.
  ['comment in a payload', inBody('<a><!-- hi --></a>'), 'BODY_RESTRICTED_XML'],
  ['comment in the body', inBody('<!-- hi --><a/>'), 'BODY_RESTRICTED_XML'],
  ['comment before the root', `<!-- hi --><body xmlns='${HB}'/>`, 'BODY_RESTRICTED_XML'],
  ['comment after the root', `<body xmlns='${HB}'/><!-- hi -->`, 'BODY_NOT_WELL_FORMED'],
  ['processing instruction in a payload', inBody('<a><?php echo 1 ?></a>'), 'BODY_RESTRICTED_XML'],
  ['processing instruction in the body', inBody('<?pi x?>'), 'BODY_RESTRICTED_XML'],
  ['processing instruction before the root', `<?xml-stylesheet href='x'?><body xmlns='${HB}'/>`, 'BODY_RESTRICTED_XML'],
  // XEP-0124 §4: no character data directly in the wrapper.
  ['text in the body', inBody('hello'), 'BODY_CHAR_DATA'],
  ['text between payloads', inBody('<a/>x<b/>'), 'BODY_CHAR_DATA'],
  ['reference in the body', inBody('&#32;'), 'BODY_CHAR_DATA'],
  ['non-breaking space in the body', inBody('\u00a0'), 'BODY_CHAR_DATA'],
  ['CDATA section in the body', inBody('<![CDATA[ ]]>'), 'BODY_CHAR_DATA'],
  // XEP-0124 §4: one <body/> in the httpbind namespace.
  ['wrong root', `<html xmlns='${HB}'/>`, 'BODY_NOT_HTTPBIND'],
  ['stream header instead of a body', "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", 'BODY_NOT_HTTPBIND'],
  ['root that starts with body', `<bodyx xmlns='${HB}'/>`, 'BODY_NOT_HTTPBIND'],
  ['missing namespace', "<body rid='1'/>", 'BODY_NOT_HTTPBIND'],
  ['wrong namespace', "<body rid='1' xmlns='jabber:client'/>", 'BODY_NOT_HTTPBIND'],
  ['empty namespace', "<body rid='1' xmlns=''/>", 'BODY_NOT_HTTPBIND'],
  ['prefixed body', `<b:body rid='1' xmlns:b='${HB}'/>`, 'BODY_NOT_HTTPBIND'],
  // RFC 6120 §11.6: UTF-8 only.
  ['invalid UTF-8', Buffer.concat([Buffer.from(inBody('<a>')), Buffer.from([0xc3, 0x28]), Buffer.from('</a></body>')]), 'BODY_BAD_ENCODING'],
  ['overlong UTF-8', Buffer.concat([Buffer.from(inBody('<a>')), Buffer.from([0xc0, 0xbc]), Buffer.from('</a></body>')]), 'BODY_BAD_ENCODING'],
  ['UTF-8 encoded surrogate', Buffer.concat([Buffer.from(inBody('<a>')), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('</a></body>')]), 'BODY_BAD_ENCODING'],
  ['Latin-1 bytes', Buffer.from(inBody('<a>Grüße</a>'), 'latin1'), 'BODY_BAD_ENCODING'],
  ['UTF-16', Buffer.from(`\uFEFF<body xmlns='${HB}'/>`, 'utf16le'), 'BODY_BAD_ENCODING'],
  ['another declared encoding', `<?xml version='1.0' encoding='ISO-8859-1'?><body xmlns='${HB}'/>`, 'BODY_BAD_ENCODING']
]

const LIMITS: [name: string, doc: string | Buffer, code: BoshBodyErrorCode, limits: Record<string, number>][] = [
  ['too large (string)', inBody(`<a>${'x'.repeat(2000)}</a>`), 'BODY_TOO_LARGE', { maxBodyBytes: 1024 }],
  ['too large in UTF-8 bytes though not in UTF-16 units', inBody(`<a>${'é'.repeat(600)}</a>`), 'BODY_TOO_LARGE', { maxBodyBytes: 1024 }],
  ['too large (Buffer)', Buffer.from(inBody(`<a>${'x'.repeat(2000)}</a>`)), 'BODY_TOO_LARGE', { maxBodyBytes: 1024 }],
  ['too large by default (1 MiB)', inBody(`<a>${'x'.repeat(1024 * 1024)}</a>`), 'BODY_TOO_LARGE', {}],
  ['too deep', inBody('<a>'.repeat(5) + '</a>'.repeat(5)), 'BODY_TOO_DEEP', { maxDepth: 4 }],
  ['too deep by default', inBody('<a>'.repeat(100_000) + '</a>'.repeat(100_000)), 'BODY_TOO_DEEP', {}],
  ['too many payloads', inBody('<a/>'.repeat(6)), 'BODY_TOO_MANY_PAYLOADS', { maxPayloads: 5 }],
  ['too many payloads by default', inBody('<a/>'.repeat(1000)), 'BODY_TOO_MANY_PAYLOADS', {}]
]

function refused (t: Test, name: string, doc: string | Buffer, code: BoshBodyErrorCode, limits = {}): void {
  const r = parseBody(doc, limits)
  if (!(r instanceof BoshBodyError)) {
    t.fail(`${name}: accepted`)
    return
  }
  t.equal(r.code, code, `${name}: ${r.message}`)
  t.equal(r.ok, false)
  t.equal(r.condition, code.startsWith('BODY_TOO_') ? 'policy-violation' : 'bad-request')
}

void t.test('not well-formed', t => {
  for (const [name, doc, code] of NOT_WELL_FORMED) refused(t, name, doc, code)
  t.end()
})

void t.test('refused by the protocols', t => {
  for (const [name, doc, code] of PROTOCOL) refused(t, name, doc, code)
  t.end()
})

void t.test('limits (XEP-0124 §17.2 policy-violation)', t => {
  for (const [name, doc, code, limits] of LIMITS) refused(t, name, doc, code, limits)
  t.end()
})

void t.test('fast-xml-parser is no stricter on the shared corpus', t => {
  const letThrough: string[] = []
  for (const [name, doc] of [...NOT_WELL_FORMED, ...PROTOCOL]) {
    const text = typeof doc === 'string' ? doc : doc.toString('utf8')
    t.ok(parseBody(doc) instanceof BoshBodyError, `we refuse: ${name}`)
    if (XMLValidator.validate(text) === true) letThrough.push(name)
  }
  t.comment(`fast-xml-parser's XMLValidator accepts ${letThrough.length} of these: ${letThrough.join('; ')}`)
  t.ok(letThrough.length > 0, 'the validator alone would not do')
  t.end()
})

// How long the hostile shapes take is bench/body.ts's (tests assert no timings); what they come
// to is test/unit/body-hostile.test.ts's.
void t.test('a duplicate at the end of a long attribute list', t => {
  const attrs = Array.from({ length: 60_000 }, (_, k) => `a${k}='1'`).join(' ')
  refused(t, 'many attributes, one duplicate', inBody(`<a ${attrs} a0='2'/>`), 'BODY_NOT_WELL_FORMED', { maxBodyBytes: 4 << 20 })
  t.end()
})

// Random damage to valid bodies: parseBody never throws, and whatever it accepts still yields
// payloads that parse standalone.
void t.test('mutation fuzz', t => {
  const seeds = [
    `<?xml version='1.0'?><body rid='1' xmlns='${HB}' xmlns:stream='http://etherx.jabber.org/streams' xml:lang='en'><message to='a@b' type="chat"><body>h&amp;i &#x1F600; ü</body></message><stream:x a='1'/><iq xmlns='jabber:client'><q xmlns='urn:q' xmlns:p='urn:p' p:z='&lt;'><![CDATA[c]]></q></iq></body>`,
    `<body rid='2' xmlns='${HB}' sid='s' xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh'/>`
  ]
  const alphabet = ['<', '>', '/', '&', ';', '#', 'x', ':', "'", '"', '=', ' ', '!', '?', '[', ']', '-', 'a', '\u0001', '\uD83D', 'é', 'xmlns', 'body']
  let seed = 12345
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  const parser = new DOMParser({ onError: (level, msg) => { throw new Error(`${level}: ${msg}`) } })
  let threw = 0
  let accepted = 0
  let badChildren = 0
  for (let k = 0; k < 20_000; k++) {
    let s = seeds[rand(seeds.length)]!
    for (let m = 1 + rand(3); m > 0; m--) {
      const at = rand(s.length + 1)
      const op = rand(3)
      const ins = alphabet[rand(alphabet.length)]!
      s = op === 0 ? s.slice(0, at) + s.slice(at + 1) : op === 1 ? s.slice(0, at) + ins + s.slice(at) : s.slice(0, at) + ins + s.slice(at + 1)
    }
    let r
    try {
      r = parseBody(s)
    } catch {
      threw++
      continue
    }
    if (r instanceof BoshBodyError) continue
    accepted++
    for (const child of r.children) {
      try {
        parser.parseFromString(child, 'text/xml')
      } catch {
        badChildren++
      }
    }
  }
  t.equal(threw, 0, 'never throws')
  t.equal(badChildren, 0, `every payload of the ${accepted} accepted mutants parses standalone`)
  t.end()
})
