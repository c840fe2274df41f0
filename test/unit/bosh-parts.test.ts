/**
 * The pieces the BOSH session is made of, on their own: the `content` check (request.ts), §15
 * keys (keys.ts), the §14.3 response cache (response-cache.ts) and the held list (rid-window.ts).
 */
import t from 'tap'
import { xmlContentType } from '../../src/bosh/request.ts'
import { earlierKey, nextExpected, sameKey, sha1Hex } from '../../src/bosh/keys.ts'
import { cachedFor, dropCachedUpTo, remember, type ResponseCache } from '../../src/bosh/response-cache.ts'
import { hold, unhold, type Held, type RidWindow } from '../../src/bosh/rid-window.ts'
import type { Responder } from '../../src/bosh/responder.ts'

void t.test('XEP-0124 §7.1 content: XML media types only, sent in one canonical form', async t => {
  t.equal(xmlContentType('text/xml; charset=utf-8'), 'text/xml; charset=utf-8')
  t.equal(xmlContentType('TEXT/XML;CHARSET=UTF-8'), 'text/xml; charset=utf-8')
  t.equal(xmlContentType('text/xml'), 'text/xml; charset=utf-8', 'the charset is always said')
  t.equal(xmlContentType('application/xml ; charset="utf-8"'), 'application/xml; charset=utf-8', 'RFC 9110 §5.6.6: spaces around the semicolon')
  t.equal(xmlContentType('application/xml;\tcharset="utf-8"'), 'application/xml; charset=utf-8')
  t.equal(xmlContentType('application/soap+xml'), 'application/soap+xml; charset=utf-8')
  for (const bad of ['text/html', 'application/xhtml+xml', 'application/vnd.mozilla.xul+xml', 'application/svg+xml',
    'image/svg+xml', 'application/json', 'text/xml; charset=latin1', 'text/xml; q=1', 'text/xml;', '',
    'text/xml\r\nSet-Cookie: a=b', 'application/' + 'a'.repeat(300) + '+xml']) {
    t.equal(xmlContentType(bad), undefined, JSON.stringify(bad).slice(0, 40))
  }
})

void t.test('XEP-0124 §15 keys: in order, switching sequences, repeats, earlier keys', async t => {
  const k = [sha1Hex('seed')]
  for (let i = 1; i < 5; i++) k.push(sha1Hex(k[i - 1]!))
  t.equal(nextExpected(undefined, undefined, undefined), undefined, 'no keys in use')
  t.equal(nextExpected(undefined, undefined, k[4]!.toUpperCase()), k[4], 'newkey starts a sequence (kept lower-case)')
  t.equal(nextExpected(k[4], k[3], undefined), k[3], 'the right key')
  t.equal(nextExpected(k[4], k[3]!.toUpperCase(), undefined), k[3], 'case-insensitive')
  t.equal(nextExpected(k[4], k[2], undefined), false, 'a key out of sequence')
  t.equal(nextExpected(k[4], undefined, undefined), false, 'a missing key')
  t.equal(nextExpected(k[1], k[0], 'f'.repeat(40)), 'f'.repeat(40), '§15.5: the last key with a newkey switches')
  t.ok(sameKey(undefined, undefined))
  t.ok(sameKey(k[2], k[2]!.toUpperCase()))
  t.notOk(sameKey(k[2], undefined))
  t.notOk(sameKey(undefined, k[2]))
  t.equal(earlierKey(k[2]!, 0), k[2])
  t.equal(earlierKey(k[2]!, 2), k[4], 'each earlier request carried the SHA-1 of the next one\'s key')
})

void t.test('XEP-0124 §14.3 response cache: newest in the session, older in a list, acks drop them', async t => {
  const c: ResponseCache = { cachedRid: 0, cachedBody: undefined, cachedAt: 0, cachedKey: undefined, olderCached: undefined }
  remember(c, 10, 'a', 1, undefined, 1)
  remember(c, 11, 'b', 2, undefined, 1)
  t.equal(c.olderCached, undefined, 'keep=1: nothing but the newest, no list made')
  t.equal(cachedFor(c, 10), undefined)
  t.match(cachedFor(c, 11), { rid: 11, body: 'b', sentAt: 2 })
  remember(c, 12, 'c', 3, 'k12', 3)
  remember(c, 13, 'd', 4, 'k13', 3)
  remember(c, 14, 'e', 5, undefined, 3)
  t.same(c.olderCached?.map(x => x.rid), [12, 13], 'keep=3: the two before the newest')
  t.equal(cachedFor(c, 13)?.key, 'k13', 'the key travels with the response')
  dropCachedUpTo(c, 12)
  t.same(c.olderCached?.map(x => x.rid), [13])
  dropCachedUpTo(c, 14)
  t.equal(c.olderCached, undefined)
  t.equal(c.cachedBody, undefined, 'all acknowledged: nothing kept')
})

void t.test('held requests stay in rid order', async t => {
  const w: RidWindow = { lastRid: 9, held: undefined, ahead: undefined }
  const reply = {} as unknown as Responder
  const h = (rid: number): Held => ({ rid, reply, arrived: 0, repeats: 0, pause: false, key: undefined, featuresBy: 0 })
  const a = h(7); const b = h(9); const c = h(8)
  hold(w, a); hold(w, b); hold(w, c)
  t.same(w.held?.map(x => x.rid), [7, 8, 9], 'a repeat brought back between others goes in its place')
  unhold(w, c); unhold(w, a); unhold(w, b)
  t.equal(w.held, undefined, 'the list goes when it empties')
})
