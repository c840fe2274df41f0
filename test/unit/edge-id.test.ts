/**
 * Sids that name their edge (--edge-id, src/table/registry.ts) and the forwarder's reading of
 * them (src/bosh/forward.ts): only another configured edge's sid is forwarded.
 */
import t from 'tap'
import { SessionRegistry, NOT_FOUND } from '../../src/table/registry.ts'
import { MALFORMED } from '../../src/table/registry.ts'
import { BoshForwarder, parsePeers } from '../../src/bosh/forward.ts'

void t.test('an edge id becomes the suffix of every sid, and only such sids are found', async t => {
  const reg = new SessionRegistry({ maxSessions: 16, edgeId: 'e2' })
  const row = reg.open()
  const sid = reg.sidOf(row)
  t.match(sid, /^[0-9a-f]{32}\.e2$/)
  t.equal(reg.find(sid), row)
  t.equal(reg.find(sid.slice(0, 32)), MALFORMED, 'without the suffix')
  t.equal(reg.find(`${sid.slice(0, 32)}.e3`), MALFORMED, 'another edge\'s suffix')
  t.equal(reg.find(`${'0'.repeat(32)}.e2`), NOT_FOUND)
  const plain = new SessionRegistry({ maxSessions: 16 })
  t.match(plain.sidOf(plain.open()), /^[0-9a-f]{32}$/, 'no edge id: 32 hex digits as before')
})

void t.test('the forwarder names the owner of another edge\'s sid, never its own', async t => {
  const f = new BoshForwarder({ edgeId: 'a', peers: parsePeers(['a=http://127.0.0.1:1/http-bind', 'b=http://127.0.0.1:2/http-bind']), timeoutMs: 1000 })
  const hex = 'f'.repeat(32)
  t.equal(f.ownerOf(`${hex}.b`)?.href, 'http://127.0.0.1:2/http-bind')
  t.equal(f.ownerOf(`${hex}.a`), undefined, 'its own')
  t.equal(f.ownerOf(`${hex}.c`), undefined, 'not a configured edge')
  t.equal(f.ownerOf(hex), undefined, 'no suffix')
  t.equal(f.ownerOf(`${hex}xb`), undefined, 'no dot')
  f.close()
})
