import t from 'tap'
import {
  SessionIds, SessionRegistry, formatSid, parseSid, parseSidWords, FULL, NOT_FOUND, MALFORMED, SID_LENGTH
} from '../../src/table/index.ts'

void t.test('format and parse round-trip', t => {
  const w = Uint32Array.of(0x3f9a0c1e, 0x7b22d4a0, 0x91c4e8f2, 0x05aa6d13)
  const sid = formatSid(w)
  t.equal(sid, '3f9a0c1e7b22d4a091c4e8f205aa6d13')
  const out = new Uint32Array(4)
  t.ok(parseSid(sid, out))
  t.same([...out], [...w])
  t.equal(formatSid(Uint32Array.of(0, 0xffffffff, 1, 0x80000000)), '00000000ffffffff0000000180000000')
  const ids = new SessionIds({ poolSids: 3 })
  const seen = new Set<string>()
  for (let n = 0; n < 100; n++) {
    ids.generate(w)
    const s = formatSid(w)
    t.equal(s.length, SID_LENGTH)
    t.ok(parseSid(s, out) && out.every((v, i) => v === w[i]))
    seen.add(s)
  }
  t.equal(seen.size, 100, 'fresh sids across pool refills')
  t.end()
})

void t.test('malformed sids are rejected', t => {
  const out = new Uint32Array(4)
  const good = '3f9a0c1e7b22d4a091c4e8f205aa6d13'
  const cases: Array<[unknown, string]> = [
    ['', 'empty'],
    [good.slice(1), 'too short'],
    [good + '0', 'too long'],
    [good.toUpperCase(), 'uppercase (not canonical)'],
    [good.slice(0, 31) + 'g', 'non-hex letter'],
    [good.slice(0, 10) + ' ' + good.slice(11), 'space'],
    [good.slice(0, 10) + '-' + good.slice(11), 'dash'],
    [good.slice(0, 31) + '\u0130', 'non-ASCII whose low 7 bits spell "0"'],
    [good.slice(0, 31) + '\u00e1', 'non-ASCII whose low 7 bits spell "a"'],
    [good.slice(0, 30) + '\ud83d\ude00', 'surrogate pair'],
    [good.slice(0, 31) + '\0', 'NUL'],
    [undefined, 'undefined'],
    [123, 'number'],
    [{ length: 32 }, 'object']
  ]
  for (const [sid, why] of cases) t.notOk(parseSid(sid, out), why)
  t.ok(parseSid(good, out), 'the good one still parses')
  t.end()
})

void t.test('registry: open, find, verifier mismatch, close, full', t => {
  const sessions = new SessionRegistry({ maxSessions: 3, poolSids: 2 })
  const rows = [sessions.open(), sessions.open(), sessions.open()]
  t.same(rows, [0, 1, 2])
  t.equal(sessions.open(), FULL)
  const sid = sessions.sidOf(1)
  t.equal(sessions.find(sid), 1)
  // Same 64-bit key, different verifier: a guessed (or leaked) key prefix is not enough.
  const last = sid[31] === '0' ? '1' : '0'
  t.equal(sessions.find(sid.slice(0, 31) + last), NOT_FOUND, 'last verifier digit changed')
  t.equal(sessions.find(sid.slice(0, 16) + '0'.repeat(16)), NOT_FOUND, 'key right, verifier zero')
  t.equal(sessions.find(sid.toUpperCase()), MALFORMED)
  t.equal(sessions.find(null), MALFORMED)
  t.ok(sessions.close(1))
  t.notOk(sessions.close(1))
  t.equal(sessions.find(sid), NOT_FOUND, 'closed')
  t.equal(sessions.size, 2)
  const again = sessions.open()
  t.equal(again, 1)
  t.not(sessions.sidOf(again), sid, 'new sid for the reused row')
  t.end()
})

void t.test('parseSidWords decodes groups; the registry checks both halves', t => {
  const sid = '3f9a0c1e7b22d4a091c4e8f205aa6d13'
  const out = new Uint32Array(4)
  t.ok(parseSidWords(sid, 2, 2, out))
  t.same([out[2], out[3]], [0x91c4e8f2, 0x05aa6d13], 'verifier half alone')
  t.ok(parseSidWords(sid, 0, 1, out))
  t.equal(out[0], 0x3f9a0c1e)
  t.notOk(parseSidWords(sid.slice(0, 20) + 'G' + sid.slice(21), 2, 2, out), 'bad digit in the groups asked for')
  t.ok(parseSidWords(sid.slice(0, 20) + 'G' + sid.slice(21), 0, 2, out), 'a bad digit elsewhere is not looked at')
  // A slice of a longer string (how a body attribute arrives) parses like a flat string.
  t.ok(parseSid(('x' + sid + 'y').slice(1, 33), out))
  t.equal(out[3], 0x05aa6d13)

  const sessions = new SessionRegistry({ maxSessions: 2 })
  const live = sessions.sidOf(sessions.open())
  const badVerifier = live.slice(0, 24) + 'z' + live.slice(25)
  const badKey = 'z' + live.slice(1)
  t.equal(sessions.find(badVerifier), MALFORMED, 'live key, malformed verifier')
  t.equal(sessions.find(badKey), MALFORMED, 'malformed key, live verifier')
  t.equal(sessions.find('0'.repeat(16) + 'g'.repeat(16)), MALFORMED, 'unknown key, malformed verifier')
  t.equal(sessions.find(live), 0)
  t.end()
})
