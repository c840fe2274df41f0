/**
 * parseBody on valid bodies: what Strophe.js and Converse.js send, and the corners of XML they
 * may legally use. Every payload must be the client's bytes except the documented splices in
 * its start tag, and must parse standalone (with @xmldom/xmldom, an independent parser) in the
 * namespace the server should see.
 */
import t from 'tap'
import type { Test } from 'tap'
import { DOMParser } from '@xmldom/xmldom'
import { XMLValidator } from 'fast-xml-parser'
import { BoshBodyError, parseBody, parseBoolean, parseUnsignedInt } from '../../src/bosh/body.ts'
import type { ParsedBody } from '../../src/bosh/body.ts'

const HB = 'http://jabber.org/protocol/httpbind'
const STREAM = 'http://etherx.jabber.org/streams'

function ok (t: Test, input: string | Buffer): ParsedBody {
  const r = parseBody(input)
  if (r instanceof BoshBodyError) {
    t.fail(`rejected: ${r.code} ${r.message}`)
    return { ok: true, attrs: {}, children: [] }
  }
  return r
}

/** The payload with the splices parseBody documents taken out of its start tag. */
function unsplice (child: string, bodyDecls: string[]): string {
  const name = /^<[^\s/>]+/.exec(child)?.[0] ?? ''
  let rest = child.slice(name.length)
  if (rest.startsWith(" xmlns='jabber:client'")) rest = rest.slice(" xmlns='jabber:client'".length)
  for (const d of bodyDecls) if (rest.startsWith(' ' + d)) rest = rest.slice(d.length + 1)
  return name + rest
}

/** Parses a payload on its own; returns its root's namespace, or throws on any parse problem. */
function standaloneNamespace (child: string): string | null {
  const doc = new DOMParser({ onError: (level, msg) => { throw new Error(`${level}: ${msg}`) } }).parseFromString(child, 'text/xml')
  return doc.documentElement?.namespaceURI ?? null
}

/** The checks every accepted body gets. */
function checkPayloads (t: Test, input: string, r: ParsedBody): void {
  const bodyTag = /<body[^>]*>/.exec(input)?.[0] ?? ''
  const decls = [...bodyTag.matchAll(/xmlns:[A-Za-z_][\w.-]*=(?:'[^']*'|"[^"]*")/g)].map(m => m[0])
  for (const child of r.children) {
    const original = child.replace(/xmlns=(['"])jabber:client\1/, `xmlns=$1${HB}$1`)
    t.ok(input.includes(child) || input.includes(unsplice(child, decls)) || input.includes(original),
      `payload is the client's bytes but for the splices: ${child.slice(0, 60)}`)
    t.doesNotThrow(() => standaloneNamespace(child), 'payload parses standalone (xmldom)')
    t.equal(XMLValidator.validate(child), true, 'payload parses standalone (fast-xml-parser)')
  }
}

// A payload stands alone and keeps its bytes: each case gives the payloads it must produce.
const VALID: { name: string, doc: string, children: string[], attrs?: Record<string, string> }[] = [
  {
    name: 'Strophe session creation request',
    doc: "<body rid='3344265372' xmlns='http://jabber.org/protocol/httpbind' to='localhost' xml:lang='en' wait='60' hold='1' content='text/xml; charset=utf-8' ver='1.6' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'/>",
    children: [],
    attrs: { rid: '3344265372', to: 'localhost', 'xml:lang': 'en', wait: '60', hold: '1', content: 'text/xml; charset=utf-8', ver: '1.6', 'xmpp:version': '1.0' }
  },
  {
    name: 'Strophe restart request (XEP-0206 §5)',
    doc: "<body rid='3344265375' xmlns='http://jabber.org/protocol/httpbind' sid='e2b1a4c1' to='localhost' xml:lang='en' xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh'/>",
    children: [],
    attrs: { sid: 'e2b1a4c1', 'xmpp:restart': 'true' }
  },
  {
    name: 'terminate with unavailable presence',
    doc: "<body rid='3344265380' xmlns='http://jabber.org/protocol/httpbind' sid='e2b1a4c1' type='terminate'><presence xmlns='jabber:client' type='unavailable'/></body>",
    children: ["<presence xmlns='jabber:client' type='unavailable'/>"],
    attrs: { type: 'terminate' }
  },
  {
    name: 'empty poll',
    doc: "<body rid='3344265376' xmlns='http://jabber.org/protocol/httpbind' sid='e2b1a4c1'/>",
    children: []
  },
  {
    name: 'empty poll written with an end tag and whitespace',
    doc: `<body rid="1" xmlns="${HB}" sid="s">\n  \r\n\t</body >\n`,
    children: []
  },
  {
    name: 'SASL auth',
    doc: `<body rid='2' xmlns='${HB}' sid='s'><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth></body>`,
    children: ["<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>"]
  },
  {
    name: 'several stanzas, whitespace between them dropped',
    doc: `<body rid='5' xmlns='${HB}' sid='s'>
  <message xmlns='jabber:client' to='bob@localhost' type='chat' id='m1'><body>one</body></message>
  <iq xmlns='jabber:client' type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>
  <presence xmlns='jabber:client'><show>away</show><status>lunch</status></presence>
</body>`,
    children: [
      "<message xmlns='jabber:client' to='bob@localhost' type='chat' id='m1'><body>one</body></message>",
      "<iq xmlns='jabber:client' type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>",
      "<presence xmlns='jabber:client'><show>away</show><status>lunch</status></presence>"
    ]
  },
  {
    name: 'stanzas with no xmlns inherit httpbind and are spliced into jabber:client (XEP-0206 §3 note)',
    doc: `<body rid='6' xmlns='${HB}' sid='s'><message to='a@b'><body>x</body></message><presence/></body>`,
    children: ["<message xmlns='jabber:client' to='a@b'><body>x</body></message>", "<presence xmlns='jabber:client'/>"]
  },
  {
    name: 'a stanza that names httpbind itself is moved to jabber:client',
    doc: `<body rid='6' xmlns='${HB}' sid='s'><iq type='get' xmlns="${HB}" id='x'/></body>`,
    children: ["<iq type='get' xmlns=\"jabber:client\" id='x'/>"]
  },
  {
    name: 'body prefixes used by a payload are declared on it, as the client wrote them',
    doc: `<body rid='7' xmlns='${HB}' sid='s' xmlns:stream="${STREAM}" xmlns:unused='urn:x'><stream:error><x xmlns='urn:y'/></stream:error><a><stream:b/></a><c xmlns:stream='urn:other'><stream:d/></c></body>`,
    children: [
      `<stream:error xmlns='jabber:client' xmlns:stream="${STREAM}"><x xmlns='urn:y'/></stream:error>`,
      `<a xmlns='jabber:client' xmlns:stream="${STREAM}"><stream:b/></a>`,
      "<c xmlns='jabber:client' xmlns:stream='urn:other'><stream:d/></c>"
    ]
  },
  {
    name: 'prefixes declared inside the payload need nothing from the body',
    doc: `<body rid='8' xmlns='${HB}' sid='s'><iq xmlns='jabber:client' xmlns:p='urn:p' p:a='1'><p:q xmlns:r='urn:r' r:b='2'/></iq></body>`,
    children: ["<iq xmlns='jabber:client' xmlns:p='urn:p' p:a='1'><p:q xmlns:r='urn:r' r:b='2'/></iq>"]
  },
  {
    name: 'entity and character references are forwarded as written',
    doc: `<body rid='9' xmlns='${HB}'><message xmlns='jabber:client' to='a@b' id='&apos;&quot;'><body>&lt;b&gt; &amp; &#38; &#x26; &#128512; &#xD7FF; &#9;</body></message></body>`,
    children: ["<message xmlns='jabber:client' to='a@b' id='&apos;&quot;'><body>&lt;b&gt; &amp; &#38; &#x26; &#128512; &#xD7FF; &#9;</body></message>"]
  },
  {
    name: 'UTF-8 multibyte text, names and attribute values',
    doc: `<body rid='10' xmlns='${HB}'><message xmlns='jabber:client' to='jürgen@exämple.org'><body>Grüße 你好 😀 𝄞 \u00a0</body><日本語 xmlns='urn:x' 属性='値'/></message></body>`,
    children: ["<message xmlns='jabber:client' to='jürgen@exämple.org'><body>Grüße 你好 😀 𝄞 \u00a0</body><日本語 xmlns='urn:x' 属性='値'/></message>"]
  },
  {
    name: 'both quote styles, quotes of the other kind inside, whitespace around =',
    doc: `<body rid = "11" xmlns = '${HB}'><message xmlns="jabber:client" a = "it's" b='say "hi"'\n c="x"\t/></body>`,
    children: [`<message xmlns="jabber:client" a = "it's" b='say "hi"'\n c="x"\t/>`],
    attrs: { rid: '11' }
  },
  {
    name: 'CDATA section inside a payload (RFC 6120 §11.1 does not forbid it)',
    doc: `<body rid='12' xmlns='${HB}'><message xmlns='jabber:client'><body><![CDATA[<not> & markup]]></body></message></body>`,
    children: ["<message xmlns='jabber:client'><body><![CDATA[<not> & markup]]></body></message>"]
  },
  {
    name: 'XML declaration, byte order mark, trailing whitespace',
    doc: `\uFEFF<?xml version="1.0" encoding="UTF-8" standalone='yes'?>\n<body rid='13' xmlns='${HB}'><presence xmlns='jabber:client'/></body>\r\n`,
    children: ["<presence xmlns='jabber:client'/>"]
  },
  {
    name: 'attribute values are decoded and normalised in attrs',
    doc: `<body rid='14' xmlns='${HB}' to='a&amp;b' route='xmpp:x&#x3a;5222' from="l1\nl2\r\nl3"/>`,
    children: [],
    attrs: { to: 'a&b', route: 'xmpp:x:5222', from: 'l1 l2 l3' }
  },
  {
    name: 'xbosh attributes under another prefix are keyed xmpp:',
    doc: `<body rid='15' xmlns='${HB}' xmlns:x='urn:xmpp:xbosh' x:version='1.0' x:restart='1'/>`,
    children: [],
    attrs: { 'xmpp:version': '1.0', 'xmpp:restart': '1' }
  },
  {
    name: 'every BOSH request attribute (XEP-0124 §7, §9, §12, §15, §16)',
    doc: `<body xmlns='${HB}' rid='16' sid='s' to='d' route='xmpp:d:5222' from='me@d' ack='15' secure='true' newkey='nk' key='k' pause='60' stream='st' content='text/xml'/>`,
    children: [],
    attrs: { rid: '16', sid: 's', to: 'd', route: 'xmpp:d:5222', from: 'me@d', ack: '15', secure: 'true', newkey: 'nk', key: 'k', pause: '60', stream: 'st', content: 'text/xml' }
  },
  {
    name: 'nested same-name elements and end tags with whitespace',
    doc: `<body rid='17' xmlns='${HB}'><a xmlns='urn:a'><a><a/></a ></a\n></body>`,
    children: ["<a xmlns='urn:a'><a><a/></a ></a\n>"]
  }
]

void t.test('valid bodies', t => {
  for (const c of VALID) {
    void t.test(c.name, t => {
      const r = ok(t, c.doc)
      t.same(r.children, c.children, 'payloads')
      if (c.attrs !== undefined) t.match({ ...r.attrs }, c.attrs, 'attributes')
      checkPayloads(t, c.doc, r)
      const fromBuffer = ok(t, Buffer.from(c.doc, 'utf8'))
      t.same(fromBuffer.children, r.children, 'same result from a Buffer')
      t.same(fromBuffer.children.map(x => Buffer.byteLength(x)), r.children.map(x => Buffer.byteLength(x)))
      t.end()
    })
  }
  t.end()
})

void t.test('payload namespaces as the server sees them', t => {
  const doc = `<body rid='1' xmlns='${HB}' xmlns:stream='${STREAM}'><message/><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><stream:features/></body>`
  const r = ok(t, doc)
  t.same(r.children.map(standaloneNamespace), ['jabber:client', 'urn:ietf:params:xml:ns:xmpp-sasl', STREAM])
  t.end()
})

void t.test('the attribute record has no prototype and cannot be polluted', t => {
  const r = ok(t, `<body rid='1' xmlns='${HB}' __proto__='x' constructor='y' sid='s'/>`)
  t.equal(Object.getPrototypeOf(r.attrs), null)
  t.equal(r.attrs.__proto__, undefined, 'attributes BOSH does not define are not kept')
  t.equal(r.attrs.constructor, undefined)
  t.equal(({} as Record<string, unknown>).x, undefined)
  t.same({ ...r.attrs }, { rid: '1', sid: 's' })
  t.end()
})

void t.test('the record keeps the BOSH attributes only', t => {
  const r = ok(t, `<body rid='1' xmlns='${HB}' xmlns:xmpp='urn:xmpp:xbosh' xmlns:x='urn:x' xmlns:stream='${STREAM}' xml:lang='en' ` +
    "xmpp:version='1.0' xmpp:restart='true' xmpp:other='1' x:rid='2' route='xmpp:a:5222' unknown='u' wait='60'/>")
  t.same({ ...r.attrs }, { rid: '1', 'xml:lang': 'en', 'xmpp:version': '1.0', 'xmpp:restart': 'true', route: 'xmpp:a:5222', wait: '60' })
  t.end()
})

void t.test('limits at their boundaries are accepted', t => {
  const five = `<body rid='1' xmlns='${HB}'>${'<a/>'.repeat(5)}</body>`
  t.equal(ok(t, five).children.length, 5)
  t.notOk(parseBody(five, { maxPayloads: 5 }) instanceof BoshBodyError, 'maxPayloads: 5 payloads pass')
  const deep = `<body rid='1' xmlns='${HB}'>${'<a>'.repeat(4)}${'</a>'.repeat(4)}</body>`
  t.notOk(parseBody(deep, { maxDepth: 4 }) instanceof BoshBodyError, 'maxDepth 4: depth 4 passes')
  t.notOk(parseBody(five, { maxBodyBytes: Buffer.byteLength(five) }) instanceof BoshBodyError, 'maxBodyBytes: exactly the limit passes')
  t.notOk(parseBody(Buffer.from(five), { maxBodyBytes: five.length }) instanceof BoshBodyError)
  t.end()
})

void t.test('parseUnsignedInt', t => {
  t.equal(parseUnsignedInt('0'), 0)
  t.equal(parseUnsignedInt('9007199254740991'), 9007199254740991, 'XEP-0124 §14.1: rid up to 2^53 - 1')
  t.equal(parseUnsignedInt('9007199254740992'), undefined)
  t.equal(parseUnsignedInt('60', 60), 60)
  t.equal(parseUnsignedInt('61', 60), undefined)
  for (const bad of [undefined, '', '-1', '+1', '1.5', '1e3', ' 1', '0x10', '١']) t.equal(parseUnsignedInt(bad), undefined, String(bad))
  t.end()
})

void t.test('parseBoolean', t => {
  t.equal(parseBoolean('true'), true)
  t.equal(parseBoolean('1'), true)
  t.equal(parseBoolean('false'), false)
  t.equal(parseBoolean('0'), false)
  t.equal(parseBoolean('TRUE'), undefined)
  t.equal(parseBoolean(undefined), undefined)
  t.end()
})

void t.test('a valid body cut at any point is refused (XEP-0124 §4: no partial elements)', t => {
  let cuts = 0
  let accepted = 0
  for (const c of VALID) {
    const doc = c.doc.trimEnd()
    const bytes = Buffer.from(doc, 'utf8')
    for (let k = 0; k < doc.length; k++) {
      cuts++
      if (!(parseBody(doc.slice(0, k)) instanceof BoshBodyError)) accepted++
    }
    // cutting the bytes also splits multibyte characters
    for (let k = 0; k < bytes.length; k++) {
      cuts++
      if (!(parseBody(bytes.subarray(0, k)) instanceof BoshBodyError)) accepted++
    }
  }
  t.equal(accepted, 0, `all ${cuts} truncations refused`)
  t.end()
})
