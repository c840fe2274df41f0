/**
 * parseBody (src/bosh/body.ts: one pass of a strict scanner, payloads cut from the input) against
 * fast-xml-parser's XMLValidator.validate + XMLParser.parse of the same input, measured in the
 * same run. The baseline does less than we do (it checks less, see
 * test/unit/body-malformed.test.ts, and produces objects, not forwardable bytes), so it is the
 * bar to beat, not a like-for-like equal.
 *
 * Run: node --import tsx bench/body.ts
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { BoshBodyError, parseBody } from '../src/bosh/body.ts'
import { fmtRate, machineLine, measure, ratio } from './lib/report.ts'

console.log(machineLine())

const HB = 'http://jabber.org/protocol/httpbind'
const OPEN = `<body rid='3344265380' xmlns='${HB}' sid='9f2c64a5e1b04d8c8f0a1e2d3c4b5a69'>`

const message = (k: number, text: string): string =>
  `<message xmlns='jabber:client' to='bob@example.com/converse.js-123' type='chat' id='7c1b2a3e-${k}'>` +
  `<body>${text}</body><origin-id xmlns='urn:xmpp:sid:0' id='7c1b2a3e-${k}'/>` +
  "<request xmlns='urn:xmpp:receipts'/><markable xmlns='urn:xmpp:chat-markers:0'/></message>"

// A 64 KiB message: prose with the references and multibyte characters a chat carries.
const prose = 'Grüße, café &amp; crème brûlée — “quoted” &lt;b&gt; 😀 plain ASCII words to pad the line out. '
const big = message(0, prose.repeat(Math.floor((64 * 1024 - 600) / Buffer.byteLength(prose))))

const INPUTS: [name: string, body: string][] = [
  ['empty poll', `<body rid='3344265380' xmlns='${HB}' sid='9f2c64a5e1b04d8c8f0a1e2d3c4b5a69'/>`],
  ['1 message', `${OPEN}${message(1, 'Hi Bob, are we still on for lunch at noon?')}</body>`],
  ['10 stanzas', `${OPEN}${Array.from({ length: 10 }, (_, k) => message(k, `message number ${k}, short &amp; sweet`)).join('')}</body>`],
  ['64 KiB body', `${OPEN}${big}</body>`]
]

const fxp = new XMLParser({ ignoreAttributes: false, preserveOrder: true, processEntities: false, parseTagValue: false, parseAttributeValue: false })

let sink = 0
for (const [name, body] of INPUTS) {
  const bytes = Buffer.byteLength(body)
  const buf = Buffer.from(body)
  const check = parseBody(body)
  if (check instanceof BoshBodyError) throw check
  if (XMLValidator.validate(body) !== true) throw new Error(`fast-xml-parser rejects the ${name} input`)

  const ours = measure(() => {
    const r = parseBody(body)
    if (!(r instanceof BoshBodyError)) sink += r.children.length
  }, 1)
  const oursBuf = measure(() => {
    const r = parseBody(buf)
    if (!(r instanceof BoshBodyError)) sink += r.children.length
  }, 1)
  const base = measure(() => {
    if (XMLValidator.validate(body) === true) sink += (fxp.parse(body) as unknown[]).length
  }, 1)
  const mb = (rate: number): string => `${(rate * bytes / 1e6).toFixed(1)} MB/s`
  console.log(`\n${name}: ${bytes} B, ${check.children.length} payload(s)`)
  console.log(`  parseBody(string)                   ${fmtRate(ours.median)} ops/s  ${mb(ours.median)}`)
  console.log(`  parseBody(Buffer) (+UTF-8 check)    ${fmtRate(oursBuf.median)} ops/s  ${mb(oursBuf.median)}`)
  console.log(`  fast-xml-parser validate+parse      ${fmtRate(base.median)} ops/s  ${mb(base.median)}`)
  console.log(`  ratio parseBody(string) / fast-xml-parser: ${ratio(ours.median, base.median)}; Buffer: ${ratio(oursBuf.median, base.median)}`)
}
if (sink === 0) console.log('(nothing parsed)')
