/**
 * fast-check arbitraries for what a client sends the edge: BOSH bodies (XEP-0124, XEP-0206) and
 * WebSocket messages (RFC 7395). Each input is a valid template (session creation, SASL, restart,
 * bind, stanzas, pause, terminate; `<open/>`, stanzas, `<close/>`) with the session's real sid and
 * next rid, or a wrong one, then put through byte-level mutations (bench/fuzz/xml-mutate.ts:
 * markup, references, DOCTYPE and entities, namespaces, nesting, truncation, bad UTF-8) and
 * shape changes (huge attribute counts, many payloads, deep nesting); or random bytes and random
 * text with no template at all. A mutation is drawn as a 32-bit seed, so that a printed value
 * replays exactly.
 */
import fc from 'fast-check'
import { Prng } from './prng.ts'
import { mutateOnce } from './xml-mutate.ts'

export const HB = 'http://jabber.org/protocol/httpbind'
export const XBOSH = 'urn:xmpp:xbosh'
export const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing'
const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl'
const BIND = 'urn:ietf:params:xml:ns:xmpp-bind'
const PLAIN = Buffer.from('\0alice\0pw').toString('base64')

/** What a follow-up body is addressed with. */
export type SidMode = 'real' | 'none' | 'made-up' | 'empty' | 'other'

/** A shape change applied before the byte mutations. */
export interface Shape {
  kind: 'none' | 'attrs' | 'payloads' | 'nest' | 'namespaces' | 'entities'
  n: number
}

export interface Recipe {
  /** index into the templates */
  template: number
  shape: Shape
  /** seeds of the byte mutations, applied in order */
  mutations: number[]
}

export interface BoshStep {
  recipe: Recipe
  sid: SidMode
  /** added to the next rid: 0 is in order, negatives repeat or go back, large jumps leave the window */
  ridOffset: number
}

/** Raw input instead of a template: bytes or text. */
export interface RawInput { raw: Buffer }

export interface BoshCase {
  creation: Recipe | RawInput
  steps: Array<BoshStep | RawInput>
  /** end with a valid terminate body */
  terminate: boolean
}

export interface WsCase {
  open: Recipe | RawInput
  messages: Array<Recipe | RawInput>
  /** end with a valid `<close/>` */
  close: boolean
}

const BODY_ATTRS = (sid: string, rid: string): string => `rid='${rid}'${sid === '\u0000' ? '' : ` sid='${sid}'`} xmlns='${HB}'`

/** Session creation requests (XEP-0124 §7.1, XEP-0206 §2). `${rid}` is replaced. */
export const CREATIONS: readonly string[] = [
  `<body content='text/xml; charset=utf-8' hold='1' rid='\${rid}' to='localhost' ver='1.6' wait='10' xml:lang='en' xmpp:version='1.0' xmlns='${HB}' xmlns:xmpp='${XBOSH}'/>`,
  `<body hold='1' rid='\${rid}' to='localhost' wait='10' xmlns='${HB}'/>`,
  `<body rid='\${rid}' to='localhost' ver='1.11' wait='5' hold='0' polling='1' requests='2' inactivity='30' xmpp:version='1.0' xmlns='${HB}' xmlns:xmpp='${XBOSH}'/>`,
  `<body rid='\${rid}' to='localhost' ver='1.6' wait='10' hold='2' route='xmpp:localhost:5222' secure='true' newkey='0123abcd' xmlns='${HB}'/>`,
  `<body rid='\${rid}' to='localhost' ver='1.6' wait='10' hold='1' xmlns='${HB}'><presence xmlns='jabber:client'/></body>`
]

/** Requests within a session; `${sid}` and `${rid}` are replaced. */
export const BOSH_BODIES: readonly string[] = [
  `<body \${attrs}/>`,
  `<body \${attrs}><auth xmlns='${SASL}' mechanism='PLAIN'>${PLAIN}</auth></body>`,
  `<body \${attrs} to='localhost' xml:lang='en' xmpp:restart='true' xmlns:xmpp='${XBOSH}'/>`,
  `<body \${attrs}><iq type='set' id='b1' xmlns='jabber:client'><bind xmlns='${BIND}'><resource>r</resource></bind></iq></body>`,
  `<body \${attrs}><message to='bob@localhost' type='chat' xmlns='jabber:client'><body>hi &amp; &#233; &lt;3</body></message><presence/></body>`,
  `<body \${attrs} xmlns:stream='http://etherx.jabber.org/streams'><stream:features/><message><body>x</body></message></body>`,
  `<body \${attrs} pause='10'/>`,
  `<body \${attrs} type='terminate'><presence type='unavailable' xmlns='jabber:client'/></body>`,
  `<body \${attrs} key='0123abcd'><iq type='get' id='p' xmlns='jabber:client'><ping xmlns='urn:xmpp:ping'/></iq></body>`,
  `<body \${attrs} ack='1' xml:lang='fr'><p:message xmlns:p='jabber:client'><p:body>prefixed</p:body></p:message></body>`,
  `<?xml version='1.0' encoding='UTF-8'?><body \${attrs}><x xmlns='urn:x' a="1"><y><z>deep</z></y></x></body>`
]

/** WebSocket stream headers (RFC 7395 §3.3.2); the first message of a case. */
export const WS_OPENS: readonly string[] = [
  `<open xmlns='${FRAMING}' to='localhost' version='1.0' xml:lang='en'/>`,
  `<open xmlns='${FRAMING}' to='localhost' version='1.0'/>`,
  `<open to='localhost' version='1.0' xmlns='${FRAMING}' from='alice@localhost' id='x'/>`,
  `<open xmlns='${FRAMING}' to='localhost' version='2.0'/>`,
  `<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`
]

/** Messages after the header. */
export const WS_MESSAGES: readonly string[] = [
  `<auth xmlns='${SASL}' mechanism='PLAIN'>${PLAIN}</auth>`,
  `<open xmlns='${FRAMING}' to='localhost' version='1.0'/>`,
  `<iq type='set' id='b1' xmlns='jabber:client'><bind xmlns='${BIND}'><resource>r</resource></bind></iq>`,
  "<message to='bob@localhost' type='chat' xmlns='jabber:client'><body>hi &amp; &#233; &lt;3</body></message>",
  "<presence xmlns='jabber:client'/>",
  "<iq type='get' id='p' xmlns='jabber:client'><ping xmlns='urn:xmpp:ping'/></iq>",
  "<p:message xmlns:p='jabber:client'><p:body>prefixed</p:body></p:message>",
  "<x xmlns='urn:x' a=\"1\"><![CDATA[c]]><y><z>deep</z></y></x>",
  `<close xmlns='${FRAMING}'/>`,
  `<close xmlns='${FRAMING}' see-other-uri='wss://elsewhere.example/'/>`,
  "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
  ' ',
  "<?xml version='1.0'?><presence xmlns='jabber:client'/>"
]

/** A shape change: the thing a naive reader does in more than linear time, or past a limit. */
function reshape (xml: string, shape: Shape): string {
  const n = shape.n
  const firstTagEnd = (): number => {
    const gt = xml.indexOf('>')
    return gt > 0 && xml[gt - 1] === '/' ? gt - 1 : gt
  }
  const at = firstTagEnd()
  if (at < 0) return xml
  switch (shape.kind) {
    case 'none': return xml
    case 'attrs': // huge attribute counts on the root
      return xml.slice(0, at) + Array.from({ length: n }, (_, k) => ` a${k}='${k}'`).join('') + xml.slice(at)
    case 'namespaces': // many prefixes declared on the root, all used by one child
      return xml.slice(0, at) + Array.from({ length: n }, (_, k) => ` xmlns:p${k}='urn:p${k}'`).join('') + xml.slice(at, at + 1) +
        `<m xmlns='jabber:client'${Array.from({ length: n }, (_, k) => ` p${k}:a='1'`).join('')}/>` + xml.slice(at + 1)
    case 'payloads': { // many payloads (a self-closing root cannot hold them: make it open)
      const open = xml[at] === '/' ? xml.slice(0, at) + '>' : xml.slice(0, at + 1)
      const close = xml[at] === '/' ? `</${/^<\??([\w:]+)/.exec(xml)?.[1] ?? 'body'}>` : xml.slice(at + 1)
      return open + "<presence xmlns='jabber:client'/>".repeat(n) + close
    }
    case 'nest':
      return xml.slice(0, at) + (xml[at] === '/' ? '>' : '>') + '<n>'.repeat(n) + '</n>'.repeat(n) + (xml[at] === '/' ? `</${/^<([\w:]+)/.exec(xml)?.[1] ?? 'body'}>` : xml.slice(at + 1))
    case 'entities': // references of every kind, many of them
      return xml.slice(0, at) + (xml[at] === '/' ? '>' : '>') + "<message xmlns='jabber:client'><body>" + '&amp;&#x1F600;&lt;&#65;'.repeat(n) + '</body></message>' +
        (xml[at] === '/' ? `</${/^<([\w:]+)/.exec(xml)?.[1] ?? 'body'}>` : xml.slice(at + 1))
  }
}

/** A template made concrete: shape, then byte mutations. Returns bytes (mutations may break UTF-8). */
export function realise (xml: string, recipe: Recipe): Buffer {
  let b: Buffer = Buffer.from(reshape(xml, recipe.shape), 'utf8')
  for (const seed of recipe.mutations) b = mutateOnce(new Prng(seed), b)
  return b
}

/** A count: mostly small, sometimes large (past the limits, or costly for a naive reader). */
const count = (small: number, lo: number, hi: number): fc.Arbitrary<number> =>
  fc.oneof({ weight: 49, arbitrary: fc.integer({ min: 1, max: small }) }, { weight: 1, arbitrary: fc.integer({ min: lo, max: hi }) })

const shapeArb: fc.Arbitrary<Shape> = fc.oneof(
  { weight: 45, arbitrary: fc.constant<Shape>({ kind: 'none', n: 0 }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant<'attrs'>('attrs'), n: count(50, 1000, 40_000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant<'namespaces'>('namespaces'), n: count(50, 500, 10_000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant<'payloads'>('payloads'), n: count(20, 90, 150) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant<'nest'>('nest'), n: count(70, 1000, 20_000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant<'entities'>('entities'), n: count(50, 500, 5000) }) }
)

/** Unmutated half of the time, so that inputs get past the first check into the session often enough. */
const mutationsArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant<number[]>([]) },
  { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 0xffff_ffff }), { minLength: 1, maxLength: 3 }) }
)

export const recipeArb = (templates: number): fc.Arbitrary<Recipe> =>
  fc.record({ template: fc.nat({ max: templates - 1 }), shape: shapeArb, mutations: mutationsArb })

/** Random bytes (mostly not UTF-8), random text (any code point, lone surrogates included), or XML-ish text. */
export const rawArb: fc.Arbitrary<RawInput> = fc.oneof(
  fc.uint8Array({ maxLength: 2048 }).map(a => ({ raw: Buffer.from(a) })),
  fc.string({ unit: 'binary', maxLength: 512 }).map(s => ({ raw: Buffer.from(s, 'utf8') })),
  fc.array(fc.constantFrom('<', '>', '/', 'body', 'open', ' ', "'", '=', 'xmlns', HB, FRAMING, 'rid', 'sid', '&amp;', '<![CDATA[', ':'), { maxLength: 60 })
    .map(parts => ({ raw: Buffer.from(parts.join(''), 'utf8') }))
)

const boshStepArb: fc.Arbitrary<BoshStep | RawInput> = fc.oneof(
  { weight: 12, arbitrary: fc.record({
    recipe: recipeArb(BOSH_BODIES.length),
    sid: fc.constantFrom<SidMode>('real', 'real', 'real', 'real', 'real', 'real', 'none', 'made-up', 'empty', 'other'),
    ridOffset: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.integer({ min: -3, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: -1e6, max: 2 ** 53 }) })
  }) },
  { weight: 1, arbitrary: rawArb }
)

export const boshCaseArb: fc.Arbitrary<BoshCase> = fc.record({
  creation: fc.oneof({ weight: 10, arbitrary: recipeArb(CREATIONS.length) }, { weight: 1, arbitrary: rawArb }),
  steps: fc.array(boshStepArb, { maxLength: 8 }),
  terminate: fc.boolean()
})

export const wsCaseArb: fc.Arbitrary<WsCase> = fc.record({
  open: fc.oneof({ weight: 10, arbitrary: recipeArb(WS_OPENS.length) }, { weight: 1, arbitrary: rawArb }),
  messages: fc.array(fc.oneof({ weight: 12, arbitrary: recipeArb(WS_MESSAGES.length) }, { weight: 1, arbitrary: rawArb }), { maxLength: 24 }),
  close: fc.boolean()
})

/** The bytes of a BOSH creation body. */
export function creationBytes (c: Recipe | RawInput, rid: number): Buffer {
  if ('raw' in c) return c.raw
  return realise((CREATIONS[c.template] ?? '').replace('${rid}', String(rid)), c)
}

/** The bytes of a BOSH body within a session. */
export function stepBytes (s: BoshStep | RawInput, sids: { real: string, other: string }, rid: number): Buffer {
  if ('raw' in s) return s.raw
  const sid = s.sid === 'real' ? sids.real : s.sid === 'other' ? sids.other : s.sid === 'made-up' ? 'madeupsid0123456789' : s.sid === 'empty' ? '' : '\u0000'
  const attrs = BODY_ATTRS(sid, String(rid + s.ridOffset))
  return realise((BOSH_BODIES[s.recipe.template] ?? '').replace('${attrs}', attrs), s.recipe)
}

/** The bytes of a WebSocket message. */
export function wsBytes (m: Recipe | RawInput, opening: boolean): Buffer {
  if ('raw' in m) return m.raw
  return realise((opening ? WS_OPENS : WS_MESSAGES)[m.template] ?? '', m)
}

/** A valid terminate body for a session (XEP-0124 §13). */
export function terminateBody (sid: string, rid: number): string {
  return `<body rid='${rid}' sid='${sid}' type='terminate' xmlns='${HB}'><presence type='unavailable' xmlns='jabber:client'/></body>`
}
