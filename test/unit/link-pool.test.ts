/**
 * The link pool (src/link/pool.ts) over SCRIPTED FAKE BACKENDS: new sessions go to the link that
 * is up with the fewest connections, frames find their way back to the member that owns the id,
 * and a member going down leaves the others' sessions alone.
 */
import t from 'tap'
import type { ConnectionHandler, OpenParams } from '../../src/backend/backend.ts'
import { LinkPool, type PoolMember } from '../../src/link/pool.ts'
import { ScriptedBackend } from '../fixtures/scripted-backend.ts'

class Member extends ScriptedBackend implements PoolMember {
  get openConnections (): number {
    let open = 0
    for (const c of this.conns.values()) if (c.closed === undefined) open++
    return open
  }
}

const params: OpenParams = { transport: 'bosh', to: 'localhost', ip: '127.0.0.1', port: 1, lang: '' }
const quiet: ConnectionHandler = { onStreamStart () {}, onData () {}, onClose () {} }
const members = (n: number): Member[] => Array.from({ length: n }, () => { const m = new Member(); m.autoStart = false; return m })

void t.test('sessions spread over the links that are up, fewest connections first', async t => {
  const [a, b, c] = members(3) as [Member, Member, Member]
  const pool = new LinkPool([a, b, c])
  const ids = Array.from({ length: 9 }, () => pool.open(params, quiet))
  t.same([a.conns.size, b.conns.size, c.conns.size], [3, 3, 3], 'three each')
  t.equal(new Set(ids).size, 9, 'pool ids are distinct')
  t.notOk(ids.includes(0), 'no pool id is 0')
  b.ready = false
  for (let i = 0; i < 4; i++) pool.open(params, quiet)
  t.same([a.conns.size, b.conns.size, c.conns.size], [5, 3, 5], 'the link that is down takes none')
  t.equal(pool.readyCount, 2)
})

void t.test('send, restart and close reach the member that owns the id, with its own id', async t => {
  const ms = members(2)
  const pool = new LinkPool(ms)
  const ids = [pool.open(params, quiet), pool.open(params, quiet), pool.open(params, quiet)]
  for (const [k, id] of ids.entries()) pool.send(id, `<message id='m${k}'/>`)
  pool.restart(ids[1]!)
  pool.close(ids[2]!, 'client-closed')
  const all = ms.flatMap((m, index) => [...m.conns.values()].map(c => ({ index, ...c })))
  t.same(all.map(c => c.received), [["<message id='m0'/>"], ["<message id='m2'/>"], ["<message id='m1'/>"]])
  t.equal(all.find(c => c.received[0] === "<message id='m1'/>")?.restarts, 1, 'restart went to the same session')
  t.equal(all.find(c => c.received[0] === "<message id='m2'/>")?.closed, 'client-closed')
  t.equal(pool.memberOf(ids[1]!), 1)
})

void t.test('a link going down ends only its sessions', async t => {
  const [a, b] = members(2) as [Member, Member]
  const pool = new LinkPool([a, b])
  const ended: string[] = []
  const handler = (name: string): ConnectionHandler => ({ onStreamStart () {}, onData () {}, onClose (reason) { ended.push(`${name}:${reason}`) } })
  pool.open(params, handler('first'))
  pool.open(params, handler('second'))
  a.ready = false
  a.end(1, 'link-lost')
  t.same(ended, ['first:link-lost'], 'the other link\'s session goes on')
  t.ok(pool.ready, 'the pool can still open sessions')
  const id = pool.open(params, handler('third'))
  t.equal(pool.memberOf(id), 1)
})

void t.test('with every link down, the caller hears the link\'s own refusal', async t => {
  const ms = members(2)
  for (const m of ms) m.ready = false
  const pool = new LinkPool(ms)
  t.notOk(pool.ready)
  t.throws(() => pool.open(params, quiet), { code: 'LINK_DOWN' })
})

void t.test('one member: the pool id is the member\'s id', async t => {
  const [a] = members(1) as [Member]
  const pool = new LinkPool([a])
  t.equal(pool.open(params, quiet), 1)
  t.equal(pool.open(params, quiet), 2)
  t.throws(() => new LinkPool([]), { code: 'LINK_OPTIONS' })
})
