/**
 * Escaping for the XML we build: every value must come back unchanged from a real parser, in
 * either quote style, and nothing XML cannot carry may get through.
 */
import t from 'tap'
import { DOMParser } from '@xmldom/xmldom'
import { escapeAttr, escapeText } from '../../src/xml/escape.ts'
import { parseBody } from '../../src/bosh/body.ts'

const parse = (xml: string): ReturnType<DOMParser['parseFromString']> =>
  new DOMParser({ onError: (level, msg) => { throw new Error(`${level}: ${msg}`) } }).parseFromString(xml, 'text/xml')

const VALUES = ['', 'plain', 'a&b', '<tag>', "it's", 'say "hi"', ']]>', 'tab\there', 'line\nbreak', 'cr\rlf\r\n', 'Grüße 😀', '&amp;']

void t.test('plain values are returned as they are (no copy)', t => {
  for (const v of ['', 'sid-1234', 'example.com', 'remote-stream-error', 'Grüße 😀']) {
    t.equal(escapeAttr(v), v)
    t.equal(escapeText(v), v)
  }
  t.end()
})

void t.test('attribute values round-trip in both quote styles', t => {
  for (const v of VALUES) {
    for (const q of ["'", '"']) {
      const doc = parse(`<a v=${q}${escapeAttr(v)}${q}/>`)
      t.equal(doc.documentElement?.getAttribute('v'), v, JSON.stringify(v))
    }
  }
  t.end()
})

void t.test('text round-trips', t => {
  for (const v of VALUES) {
    const doc = parse(`<a>${escapeText(v)}</a>`)
    t.equal(doc.documentElement?.textContent, v, JSON.stringify(v))
  }
  t.end()
})

void t.test('characters XML cannot carry become U+FFFD', t => {
  t.equal(escapeAttr('a\u0000b\u001bc\uFFFEd\uFFFF'), 'a\uFFFDb\uFFFDc\uFFFDd\uFFFD')
  t.equal(escapeText('x\uD800y'), 'x\uFFFDy', 'unpaired high surrogate')
  t.equal(escapeText('x\uDC00y'), 'x\uFFFDy', 'unpaired low surrogate')
  t.equal(escapeText('😀'), '😀', 'a pair is kept')
  t.end()
})

void t.test('what we escape, our own body parser accepts', t => {
  const nasty = 'a\u0001&<>"\'\t\n\r]]>\uD800z'
  const r = parseBody(`<body xmlns='http://jabber.org/protocol/httpbind' to='${escapeAttr(nasty)}'><a>${escapeText(nasty)}</a></body>`)
  t.notOk(r instanceof Error, 'accepted')
  if (!(r instanceof Error)) t.equal(r.attrs.to, 'a\uFFFD&<>"\'\t\n\r]]>\uFFFDz')
  t.end()
})
