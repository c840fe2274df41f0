/**
 * The hostile namespace shapes of issue 13 (bench/lib/hostile-xml.ts) at the default 1 MiB
 * body limit: each is read to the end (accepted or refused with its code), the output is what
 * the splice rules say, and copying `<body/>` declarations into payloads cannot make the output
 * outgrow maxBodyBytes (BODY_FORWARDED_TOO_LARGE, policy-violation). How long they take is
 * bench/body.ts's business: tests assert no timings.
 */
import t from 'tap'
import { BoshBodyError, parseBody } from '../../src/bosh/body.ts'
import { WsMessageError, parseMessage } from '../../src/ws/message.ts'
import { HB, HOSTILE_SHAPES } from '../../bench/lib/hostile-xml.ts'

const MiB = 1024 * 1024

/** What each shape must come to: the number of payloads, or the refusal's code. */
const EXPECTED: Record<string, number | string> = {
  'prefixes declared on <body/>': 0,
  'attributes on <body/>': 0,
  'body prefixes used by one payload (elements)': 1,
  'body prefixes used by one payload (attributes)': 1,
  'body prefixes used by 100 payloads': 100,
  '100 payloads each using every body prefix': 'BODY_FORWARDED_TOO_LARGE',
  'one long body declaration used by 100 payloads': 'BODY_FORWARDED_TOO_LARGE',
  'prefixes declared on one element': 1,
  'attributes on one element': 1,
  'one long namespace, many attributes in it (body)': 0,
  'one long namespace, many attributes in it (payload)': 1,
  'deep nesting, every level redeclaring': 1
}

void t.test('every hostile shape at 1 MiB is read to the end', t => {
  for (const shape of HOSTILE_SHAPES) {
    const doc = Buffer.from(shape.body(MiB))
    t.ok(doc.length <= MiB && doc.length > MiB - 64 * 1024, `${shape.name}: ${doc.length} bytes, within the limit`)
    const r = parseBody(doc)
    const want = EXPECTED[shape.name]
    if (typeof want === 'string') {
      t.ok(r instanceof BoshBodyError && r.code === want, `${shape.name}: refused with ${want}`)
    } else {
      t.equal(r instanceof BoshBodyError ? r.code : r.children.length, want, `${shape.name}: ${want} payload(s)`)
    }
    if (shape.message === undefined) continue
    const m = parseMessage(shape.message(MiB), { maxDepth: 64 })
    const kind = shape.name === 'attributes on <body/>' ? 'open' : 'element'
    t.equal(m instanceof WsMessageError ? m.code : m.kind, kind, `${shape.name}: one WebSocket ${kind}`)
    if (!(m instanceof WsMessageError) && m.kind === 'open') t.same({ ...m.attrs }, { to: 'x', version: '1.0' }, 'only the attributes RFC 7395 defines are kept')
  }
  t.end()
})

void t.test('a payload using many body prefixes gets each declaration once, as written', t => {
  const decls = Array.from({ length: 2000 }, (_, k) => ` xmlns:p${k}='urn:p${k}'`)
  // every prefix used twice, on elements and on attributes
  const uses = Array.from({ length: 2000 }, (_, k) => `<p${k}:a p${k}:x='1'/><p${k}:b/>`).join('')
  const r = parseBody(`<body xmlns='${HB}' rid='1'${decls.join('')}><m>${uses}</m><n/></body>`)
  if (r instanceof BoshBodyError) throw r
  t.equal(r.children[0], `<m xmlns='jabber:client'${decls.join('')}>${uses}</m>`)
  t.equal(r.children[1], "<n xmlns='jabber:client'/>", 'the next payload copies nothing it does not use')
  t.end()
})

void t.test('copies of body declarations count toward maxBodyBytes (XEP-0124 §17.2 policy-violation)', t => {
  const decl = `xmlns:p='${'u'.repeat(2000)}'`
  const body = (payloads: number): string => `<body xmlns='${HB}' rid='1' ${decl}>${'<p:m/>'.repeat(payloads)}</body>`
  // each payload forwards its own 6 bytes and a copy of the declaration with a space before it
  const forwarded = (payloads: number): number => payloads * (6 + 1 + decl.length)
  const three = body(3)
  t.ok(three.length < forwarded(3), 'the output would be larger than the body')
  const atLimit = parseBody(three, { maxBodyBytes: forwarded(3) })
  t.notOk(atLimit instanceof BoshBodyError, 'forwarding exactly maxBodyBytes passes')
  if (!(atLimit instanceof BoshBodyError)) t.equal(atLimit.children.join('').length, forwarded(3) + 3 * " xmlns='jabber:client'".length)
  const over = parseBody(Buffer.from(three), { maxBodyBytes: forwarded(3) - 1 })
  t.ok(over instanceof BoshBodyError && over.code === 'BODY_FORWARDED_TOO_LARGE', 'one byte more is refused')
  if (over instanceof BoshBodyError) t.equal(over.condition, 'policy-violation')

  // Multibyte declarations count in UTF-8 bytes, as maxBodyBytes does.
  const wide = `<body xmlns='${HB}' rid='1' xmlns:p='${'é'.repeat(1000)}'>${'<p:m/>'.repeat(3)}</body>`
  const wideForwarded = 3 * (6 + 1 + Buffer.byteLength(`xmlns:p='${'é'.repeat(1000)}'`))
  t.notOk(parseBody(wide, { maxBodyBytes: wideForwarded }) instanceof BoshBodyError)
  const wideOver = parseBody(Buffer.from(wide), { maxBodyBytes: wideForwarded - 1 })
  t.ok(wideOver instanceof BoshBodyError && wideOver.code === 'BODY_FORWARDED_TOO_LARGE')
  t.end()
})

void t.test('two prefixes bound to one long namespace still make a duplicate attribute', t => {
  const uri = 'urn:' + 'u'.repeat(100_000)
  for (const doc of [
    `<body xmlns='${HB}' rid='1' xmlns:p='${uri}' xmlns:q='${uri}' p:x='1' q:x='2'/>`,
    `<body xmlns='${HB}' rid='1' xmlns:p='${uri}'><m xmlns:q='${uri}' p:x='1' q:x='2'/></body>`,
    `<body xmlns='${HB}' rid='1'><m xmlns:p='${uri}'><n xmlns:q='${uri}' p:x='1' q:x='2'/></m></body>`
  ]) {
    const r = parseBody(doc)
    t.ok(r instanceof BoshBodyError && r.code === 'BODY_NOT_WELL_FORMED' && r.message.startsWith('duplicate attribute'), 'Namespaces in XML §6.3')
  }
  const distinct = parseBody(`<body xmlns='${HB}' rid='1' xmlns:p='${uri}'><m xmlns:q='${uri}x' p:x='1' q:x='2'/></body>`)
  t.notOk(distinct instanceof BoshBodyError, 'namespaces that differ only at the end are different')
  // many attributes under one prefix, then a second prefix for the same namespace
  const many = Array.from({ length: 1000 }, (_, k) => ` p:a${k}=''`).join('')
  const clash = parseBody(`<body xmlns='${HB}' rid='1'><m xmlns:p='urn:u' xmlns:q='urn:u'${many} q:b='' q:a999=''/></body>`)
  t.ok(clash instanceof BoshBodyError && clash.message.startsWith('duplicate attribute q:a999'), 'found after a thousand attributes')
  const noClash = parseBody(`<body xmlns='${HB}' rid='1'><m xmlns:p='urn:u' xmlns:q='urn:u'${many} q:b=''/></body>`)
  t.notOk(noClash instanceof BoshBodyError, 'two prefixes for one namespace with different local names')
  t.end()
})
