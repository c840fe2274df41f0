/**
 * The BOSH session state machine driven directly (no HTTP): a fake host records what goes to the
 * server and the deadlines, fake Responders record what the client would see and can have their
 * connection closed (`abort`), as the HTTP side does with `holder.requestAborted`. Covers what
 * the HTTP harness cannot easily show: a held request whose connection closes, page reloads,
 * the features wait (XEP-0206 §4, §5), §15 keys on repeated and out-of-order rids.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { BoshSession, type SessionHost } from '../../src/bosh/session.ts'
import { BOSH_DEFAULTS, type BoshOptions } from '../../src/bosh/options.ts'
import type { BoshRequest } from '../../src/bosh/request.ts'
import type { AbortListener, Responder } from '../../src/bosh/responder.ts'
import { bodyAttrs } from '../fixtures/bosh-harness.ts'

const FEATURES = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"
const BIND_FEATURES = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
const SUCCESS = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
const AUTH = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAGRlbW8=</auth>"
const MSG = "<message xmlns='jabber:client' from='bob@localhost/r' type='chat'><body>during the reload</body></message>"

/** One HTTP request as the session sees it. */
class FakeReply implements Responder {
  holder: AbortListener | undefined = undefined
  open = true
  answers: { status: number, type: string, body: string }[] = []
  send (status: number, type: string, body: string): void {
    if (!this.open) throw new Error('written into a closed or answered request')
    this.open = false
    this.answers.push({ status, type, body })
  }

  /** The client's connection closes before the answer (page reload, network). */
  abort (): void {
    this.open = false
    const h = this.holder
    this.holder = undefined
    h?.requestAborted(this)
  }

  get answered (): boolean { return this.answers.length > 0 }
  get body (): string { return this.answers[0]?.body ?? '' }
  get attrs (): Record<string, string> { return bodyAttrs(this.body) }
}

/** The manager's side, with a clock the test moves and the deadlines it records. */
class FakeHost implements SessionHost {
  readonly options: BoshOptions
  time = 1_000_000
  waitAt = 0
  inactivityAt = 0
  toServer: string[] = []
  restarts = 0
  closed: string | undefined
  released = false
  authenticatedCalls = 0
  constructor (o: Partial<BoshOptions>) { this.options = { ...BOSH_DEFAULTS, ...o } }
  now (): number { return this.time }
  sidOf (): string { return 'sid' }
  sendToServer (_s: BoshSession, xml: string): string { this.toServer.push(xml); return '' }
  restartStream (): boolean { this.restarts++; return true }
  closeStream (_s: BoshSession, condition: string): void { this.closed ??= condition }
  setWaitDeadline (_s: BoshSession, at: number): void { this.waitAt = at }
  setInactivityDeadline (_s: BoshSession, at: number): void { this.inactivityAt = at }
  authenticated (): void { this.authenticatedCalls++ }
  release (): void { this.released = true }
}

interface Setup { host: FakeHost, s: BoshSession, created: FakeReply, rid: number }

/** A session created with hold=1 (as Strophe asks), the server's header sent. */
function open (o: Partial<BoshOptions> = {}, init: { hold?: number, wait?: number, newkey?: string, ack?: boolean } = {}): Setup {
  const host = new FakeHost(o)
  const created = new FakeReply()
  const rid = 1000
  const s = new BoshSession(host, {
    row: 0, rid, wait: init.wait ?? 60, hold: init.hold ?? 1, ver: '1.6', contentType: undefined,
    ack: init.ack ?? false, newkey: init.newkey, reply: created
  })
  s.onStreamStart({ id: 'stream-1', from: 'localhost', version: '1.0', lang: 'en' })
  return { host, s, created, rid }
}

/** Moves the clock and fires the deadlines that are due, as the timer wheel does. */
function advance (x: Setup, ms: number): void {
  x.host.time += ms
  if (x.host.waitAt !== 0 && x.host.waitAt <= x.host.time) { x.host.waitAt = 0; x.s.onWaitDeadline() }
  if (x.host.inactivityAt !== 0 && x.host.inactivityAt <= x.host.time) { x.host.inactivityAt = 0; x.s.onInactivity() }
}

function req (rid: number, payloads: string[] = [], more: Partial<BoshRequest> = {}): BoshRequest {
  return { rid, payloads, type: undefined, pause: undefined, ack: undefined, restart: false, key: undefined, newkey: undefined, ...more }
}

/** Sends a request; returns its reply (answered or held). */
function post (x: Setup, r: BoshRequest): FakeReply {
  const reply = new FakeReply()
  x.s.handle(r, reply)
  return reply
}

/** Create, SASL, restart, as a client logs in; returns the next rid. */
function login (x: Setup): number {
  x.s.onData(FEATURES)
  const auth = post(x, req(x.rid + 1, [AUTH]))
  x.s.onData(SUCCESS)
  if (!auth.answered) throw new Error('auth not answered')
  const restart = post(x, req(x.rid + 2, [], { restart: true }))
  x.s.onData(BIND_FEATURES)
  if (!restart.answered) throw new Error('restart not answered')
  return x.rid + 3
}

const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex')

void t.test('XEP-0206 §4: the creation response waits for the stream features and carries them', async t => {
  const x = open()
  t.notOk(x.created.answered, 'not answered on the stream header alone')
  t.equal(x.host.waitAt, x.host.time + 2000, 'bounded by featuresTimeout (2 s by default)')
  x.s.onData(FEATURES)
  t.ok(x.created.answered, 'answered when the features arrive')
  t.match(x.created.body, /^<body [^>]*sid='sid'[^>]*><stream:features/, 'the features are in the creation response')
  t.equal(x.created.holder, undefined, 'no longer held')
})

void t.test('XEP-0206 §4: no features within featuresTimeout: the creation response goes without, they follow', async t => {
  const x = open({ featuresTimeout: 3 })
  advance(x, 2999)
  t.notOk(x.created.answered)
  advance(x, 1)
  t.ok(x.created.answered, 'answered at the bound')
  t.equal(x.created.attrs.authid, 'stream-1')
  t.notMatch(x.created.body, /features/)
  const next = post(x, req(x.rid + 1))
  x.s.onData(FEATURES)
  t.match(next.body, /<stream:features/, 'the late features go in the next response')
})

void t.test('featuresTimeout 0: the creation response goes with the header', async t => {
  const x = open({ featuresTimeout: 0 })
  t.ok(x.created.answered)
})

void t.test('SASL success tells the host once (admission control)', async t => {
  const x = open()
  login(x)
  t.equal(x.host.authenticatedCalls, 1)
  x.s.onData(SUCCESS)
  t.equal(x.host.authenticatedCalls, 1, 'once')
})

void t.test('XEP-0206 §5: the restart response waits for the new features, and is not answered early', async t => {
  const x = open()
  x.s.onData(FEATURES)
  const auth = post(x, req(x.rid + 1, [AUTH]))
  x.s.onData(SUCCESS)
  t.match(auth.body, /<success/)
  const restart = post(x, req(x.rid + 2, [], { restart: true }))
  t.equal(x.host.restarts, 1)
  t.notOk(restart.answered, 'held for the features')
  // Another request arrives while the restart waits (hold=1): it goes instead, empty.
  const other = post(x, req(x.rid + 3))
  t.ok(other.answered, 'hold overflow answers the other request')
  t.notOk(restart.answered, 'the restart is still held')
  t.match(other.body, /^<body [^>]*\/>$/, 'empty')
  x.s.onData(BIND_FEATURES)
  t.match(restart.body, /<stream:features[^>]*><bind/, 'the restart response carries the new features')
})

void t.test('XEP-0206 §5: the restart response waits for the features up to wait, not featuresTimeout (Strophe sends nothing more until they come)', async t => {
  const x = open({ featuresTimeout: 2 }, { wait: 60 })
  x.s.onData(FEATURES)
  post(x, req(x.rid + 1, [AUTH]))
  x.s.onData(SUCCESS)
  const restart = post(x, req(x.rid + 2, [], { restart: true }))
  advance(x, 2000)
  t.notOk(restart.answered, 'still held past featuresTimeout')
  x.s.onData(BIND_FEATURES)
  t.match(restart.body, /<stream:features[^>]*><bind/, 'late features in the restart response itself')
})

void t.test('XEP-0206 §5: a polling session: no features within featuresTimeout: the restart response goes without', async t => {
  const x = open({ featuresTimeout: 2 }, { wait: 0 })
  x.s.onData(FEATURES)
  post(x, req(x.rid + 1, [AUTH]))
  x.s.onData(SUCCESS)
  const restart = post(x, req(x.rid + 2, [], { restart: true }))
  advance(x, 1999)
  t.notOk(restart.answered)
  advance(x, 1)
  t.ok(restart.answered, 'answered at the bound')
  t.match(restart.body, /^<body [^>]*\/>$/)
  const next = post(x, req(x.rid + 3))
  x.s.onData(BIND_FEATURES)
  t.match(next.body, /<bind/, 'late features in the next response')
})

void t.test('page reload (Strophe restore, Converse keepalive): the held request dies, the new page goes on with the next rid', async t => {
  const x = open()
  const n = login(x)
  const held = post(x, req(n))
  t.notOk(held.answered, 'the old page holds rid N')
  t.ok(x.host.inactivityAt === 0, 'no inactivity clock while held')
  held.abort() // the page reloads: its connection closes
  t.equal(x.s.heldCount, 0, 'the dead request no longer counts')
  t.equal(x.host.inactivityAt, x.host.time + 30_000, 'XEP-0124 §10: the inactivity clock starts')
  x.s.onData(MSG) // a message for the user during the reload
  t.notOk(held.answered, 'nothing written into the dead request')
  advance(x, 1500) // the new page loads
  const next = post(x, req(n + 1)) // its first request: the stored sid and the next rid, empty
  t.ok(next.answered, 'answered at once')
  t.match(next.body, /during the reload/, 'with the message sent during the reload')
  t.notOk(next.attrs.condition, 'no policy-violation')
  t.equal(x.host.closed, undefined, 'same session: the stream is still open')
  const after = post(x, req(n + 2))
  t.notOk(after.answered, 'and the session goes on: the next request is held')
  t.notOk(x.s.ended)
})

void t.test('a reload while the abort has not been noticed yet: §8 answers the old request, no policy-violation', async t => {
  const x = open()
  const n = login(x)
  const held = post(x, req(n))
  advance(x, 300)
  const next = post(x, req(n + 1)) // empty, within 'polling' of the previous request
  t.ok(held.answered, 'the oldest is answered (XEP-0124 §8)')
  t.notOk(held.attrs.condition)
  t.notOk(next.answered, 'the new one is held')
  t.notOk(x.s.ended)
})

void t.test('a held request found dead when its answer is due gets nothing; the payload waits', async t => {
  const x = open({}, { hold: 2 })
  const n = login(x)
  const a = post(x, req(n))
  const b = post(x, req(n + 1))
  a.open = false // the connection is gone but the HTTP side has not said so yet
  x.s.onData(MSG)
  t.notOk(a.answered, 'nothing written into it')
  t.match(b.body, /during the reload/, 'the next held request carries it')
})

void t.test('a repeat of a rid whose connection closed unanswered is held again (Strophe resends it)', async t => {
  const x = open()
  const n = login(x)
  const m = "<message xmlns='jabber:client' to='bob@localhost'><body>once</body></message>"
  const held = post(x, req(n, [m]))
  held.abort()
  const sent = x.host.toServer.length
  const again = post(x, req(n, [m]))
  t.notOk(again.answered, 'held again')
  t.equal(x.host.toServer.length, sent, 'its payload is not forwarded twice')
  t.equal(x.host.inactivityAt, 0, 'no inactivity clock while held')
  x.s.onData(MSG)
  t.match(again.body, /during the reload/)
  t.notOk(x.s.ended)
})

void t.test('an aborted request ahead of a gap: its payloads still go in rid order', async t => {
  const x = open({}, { hold: 2 })
  const n = login(x)
  const m1 = "<message xmlns='jabber:client' id='1'/>"
  const m2 = "<message xmlns='jabber:client' id='2'/>"
  const later = post(x, req(n + 1, [m2]))
  later.abort()
  const sent = x.host.toServer.length
  const first = post(x, req(n, [m1]))
  t.same(x.host.toServer.slice(sent), [m1, m2], 'both forwarded, in rid order')
  t.notOk(first.answered, 'the live one is held')
  t.notOk(later.answered)
  t.equal(x.s.heldCount, 1)
})

void t.test('the creation request aborted: nobody knows the sid, the session ends', async t => {
  const host = new FakeHost({})
  const created = new FakeReply()
  const s = new BoshSession(host, { row: 0, rid: 1, wait: 60, hold: 1, ver: '1.6', contentType: undefined, ack: false, newkey: undefined, reply: created })
  t.equal(created.holder, s)
  created.abort()
  t.ok(host.released)
  t.ok(s.ended)
})

void t.test('inactivity after the last held request is aborted ends the session (XEP-0124 §10)', async t => {
  const x = open({ maxInactivity: 30 })
  const n = login(x)
  post(x, req(n)).abort()
  advance(x, 29_000)
  t.notOk(x.s.ended)
  advance(x, 1_000)
  t.ok(x.s.ended)
  t.equal(x.host.closed, 'inactivity')
})

void t.test('XEP-0124 §8 hold=2: the oldest answered when a third arrives; §11 only beyond requests', async t => {
  const x = open({}, { hold: 2 })
  const n = login(x)
  const a = post(x, req(n))
  const b = post(x, req(n + 1))
  t.notOk(a.answered || b.answered, 'two held')
  const c = post(x, req(n + 2))
  t.ok(a.answered, 'the oldest answered')
  t.notOk(b.answered || c.answered)
  t.notOk(a.attrs.condition)
})

void t.test('XEP-0124 §12: a polling session polling too often is still a policy-violation', async t => {
  const x = open({ polling: 2 }, { hold: 0 })
  const n = login(x)
  const a = post(x, req(n))
  t.ok(a.answered)
  advance(x, 500)
  const b = post(x, req(n + 1))
  t.equal(b.attrs.condition, 'policy-violation')
})

void t.test('XEP-0124 §15: keys on repeated and out-of-order rids', async t => {
  const k = [sha1('seed')]
  for (let i = 1; i < 10; i++) k.push(sha1(k[i - 1]!))
  // k[9] is announced; requests use k[8], k[7], ...
  const keyed = (): Setup & { n: number } => {
    const x = open({}, { hold: 2, newkey: k[9] })
    x.s.onData(FEATURES)
    post(x, req(x.rid + 1, [AUTH], { key: k[8] }))
    x.s.onData(SUCCESS) // answers the auth request: nothing held
    return { ...x, n: x.rid + 2 }
  }

  await t.test('a repeat of a held rid without the key does not take it over', async t => {
    const x = keyed()
    const held = post(x, req(x.n, [], { key: k[7] }))
    const thief = post(x, req(x.n))
    t.equal(thief.attrs.condition, 'item-not-found')
    t.ok(x.s.ended, '§15.4: the session ends')
    t.notMatch(held.body, /type='error'/, 'the held request was not handed over')
  })

  await t.test('a repeat of a held rid with its key takes its place (§14.3)', async t => {
    const x = keyed()
    const held = post(x, req(x.n, [], { key: k[7] }))
    const again = post(x, req(x.n, [], { key: k[7]!.toUpperCase() }))
    t.equal(held.attrs.type, 'error', 'the old one gets the recoverable error')
    t.notOk(again.answered)
    t.notOk(x.s.ended)
  })

  await t.test('an out-of-order rid without a key is refused; a repeat of one needs its key', async t => {
    const x = keyed()
    const bare = post(x, req(x.n + 1))
    t.equal(bare.attrs.condition, 'item-not-found')
    const y = keyed()
    const ahead = post(y, req(y.n + 1, [], { key: k[6] }))
    t.notOk(ahead.answered, 'parked for the gap')
    const thief = post(y, req(y.n + 1, [], { key: k[7] }))
    t.equal(thief.attrs.condition, 'item-not-found', 'another key: refused')
    t.equal(ahead.attrs.condition, 'item-not-found', 'and the session ends')
  })

  await t.test('an out-of-order rid with a wrong key fails when its turn comes', async t => {
    const x = keyed()
    post(x, req(x.n + 1, [], { key: k[0] }))
    const first = post(x, req(x.n, [], { key: k[7] }))
    t.equal(first.attrs.condition, 'item-not-found')
  })

  await t.test('a cached response goes only to a repeat with the original key', async t => {
    const x = keyed()
    const held = post(x, req(x.n, [], { key: k[7] }))
    x.s.onData(MSG)
    t.match(held.body, /during the reload/)
    const copy = post(x, req(x.n, [], { key: k[7] }))
    t.equal(copy.body, held.body, 'byte-identical')
    const thief = post(x, req(x.n, [], { key: k[5] }))
    t.equal(thief.attrs.condition, 'item-not-found')
  })

  await t.test('a repeat of an aborted rid: its key is derived from the sequence', async t => {
    const x = keyed()
    post(x, req(x.n, [], { key: k[7] })).abort()
    const thief = post(x, req(x.n, [], { key: k[3] }))
    t.equal(thief.attrs.condition, 'item-not-found')
    const y = keyed()
    post(y, req(y.n, [], { key: k[7] })).abort()
    const again = post(y, req(y.n, [], { key: k[7] }))
    t.notOk(again.answered, 'held again')
    t.notOk(y.s.ended)
    const next = post(y, req(y.n + 1, [], { key: k[6] }))
    t.notOk(next.attrs.condition, 'and the sequence goes on')
    t.equal(y.s.heldCount, 2, 'both held (hold=2)')
    t.notOk(y.s.ended)
  })
})
