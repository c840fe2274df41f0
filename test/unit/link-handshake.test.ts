/**
 * The link client against the scripted fake backend: handshake (docs/link-protocol.md
 * "Handshake"), version negotiation, heartbeats and reconnects. Intervals are short through
 * options; nothing asserts how long anything took.
 */
import t from 'tap'
import { FakeBackend, next, until } from '../fixtures/fake-backend.ts'
import {
  LinkClient, backoffDelay, LINK_AUTH_REJECTED, LINK_AUTH_FAILED, LINK_UNSUPPORTED_VERSION, LINK_HEARTBEAT_TIMEOUT,
  LINK_OPTIONS, type LinkOptions
} from '../../src/link/index.ts'
import { AUTH, PING, parseAuth } from '../../src/link/codec/index.ts'
import { isMegaphoneError } from '../../src/errors.ts'

const SECRET = 'correct horse battery staple'

/** The part of a tap test that setup needs. */
interface Teardown { teardown (fn: () => Promise<void>): void }

function setup (t: Teardown, backend: FakeBackend, options: Partial<LinkOptions> = {}): LinkClient {
  const client = new LinkClient({
    port: backend.port,
    secret: SECRET,
    heartbeatInterval: 10,
    heartbeatTimeout: 100,
    reconnectBase: 5,
    reconnectMax: 20,
    ...options
  })
  t.teardown(async () => {
    await client.stop()
    await backend.close()
  })
  return client
}

void t.test('handshake success: HMAC proofs both ways, version 1, fresh nonces', async t => {
  const backend = await FakeBackend.start({ secret: SECRET })
  const client = setup(t, backend)
  const up = next(client, 'up')
  client.start()
  const [info] = await up
  t.equal(info.version, 1)
  t.ok(client.ready)
  const link = await backend.link(0)
  t.ok(link.authenticated, 'the backend verified MACe')
  const auth = parseAuth((await link.waitFor(f => f.type === AUTH)).data)
  t.ok(!(auth instanceof Error) && auth.version === 1, 'AUTH carries the chosen version')
  const c = client.counters()
  t.equal(c.handshakes, 1)
  t.equal(c.framesOut.AUTH, 1)
  t.equal(c.framesIn.HELLO, 1)
  t.equal(c.framesIn.AUTH_OK, 1)

  // A second link uses new nonces.
  link.socket.destroy()
  await next(client, 'up')
  const auth2 = parseAuth((await (await backend.link(1)).waitFor(f => f.type === AUTH)).data)
  t.ok(!(auth instanceof Error) && !(auth2 instanceof Error) && !auth.nonce.equals(auth2.nonce), 'Ne differs per handshake')
})

void t.test('the highest common version is chosen from a wider HELLO range', async t => {
  const backend = await FakeBackend.start({ secret: SECRET, versions: [0, 7] })
  const client = setup(t, backend)
  client.start()
  const [info] = await next(client, 'up')
  t.equal(info.version, 1)
})

void t.test('wrong secret: the backend refuses our AUTH', async t => {
  const backend = await FakeBackend.start({ secret: 'another secret' })
  const client = setup(t, backend)
  const down = next(client, 'down')
  client.start()
  const [reason] = await down
  t.equal(reason.code, LINK_AUTH_REJECTED)
  t.notOk(client.ready)
  t.notOk((await backend.link(0)).authenticated)
  t.equal(client.counters().handshakeFailures, 1)
})

void t.test('stop() from a \'down\' listener sticks: no reconnect is scheduled after it', async t => {
  const backend = await FakeBackend.start({ secret: 'another secret' })
  const client = setup(t, backend)
  const reconnecting: unknown[] = []
  client.on('reconnecting', info => reconnecting.push(info))
  const stopped = new Promise<void>(resolve => {
    client.once('down', () => { void client.stop().then(resolve) })
  })
  client.start()
  await stopped
  // Give a would-be reconnect (reconnectBase 5 ms, cap 20 ms) many times its delay to happen.
  await new Promise(resolve => setTimeout(resolve, 200))
  t.equal(backend.accepted, 1, 'the backend saw one connection only')
  t.same(reconnecting, [], 'no reconnect was announced')
  t.notOk(client.ready)
})

void t.test('stop() while the socket is still connecting sticks: no handshake, no reconnect', async t => {
  const backend = await FakeBackend.start({ secret: SECRET })
  const client = setup(t, backend)
  const reconnecting: unknown[] = []
  client.on('reconnecting', info => reconnecting.push(info))
  client.start()
  // Same tick as start(): the TCP connect has not completed yet.
  await client.stop()
  await new Promise(resolve => setTimeout(resolve, 200))
  t.same(reconnecting, [], 'no reconnect was announced')
  t.notOk(client.ready)
  t.equal(client.counters().handshakeFailures, 0, 'no handshake was started, so none failed')
})

void t.test('impostor backend: its AUTH_OK MAC does not verify, the edge hangs up', async t => {
  const backend = await FakeBackend.start({ secret: SECRET, impostorSecret: 'guessed' })
  const client = setup(t, backend)
  let ups = 0
  client.on('up', () => ups++)
  const down = next(client, 'down')
  client.start()
  const [reason] = await down
  t.equal(reason.code, LINK_AUTH_FAILED)
  t.equal(ups, 0, 'never up')
  t.throws(() => client.open({ transport: 'bosh', to: 'example.com', ip: '::1', port: 1, lang: '' }, {
    onStreamStart: () => {}, onData: () => {}, onClose: () => {}
  }))
})

void t.test('version mismatch: no common version, the edge closes without AUTH', async t => {
  const backend = await FakeBackend.start({ secret: SECRET, versions: [2, 3] })
  const client = setup(t, backend)
  const down = next(client, 'down')
  client.start()
  const [reason] = await down
  t.equal(reason.code, LINK_UNSUPPORTED_VERSION)
  const link = await backend.link(0)
  await new Promise(resolve => link.socket.once('close', resolve))
  t.same(link.frames.map(f => f.type), [], 'the edge sent nothing')
})

void t.test('heartbeats: PINGs keep a live link up', async t => {
  const backend = await FakeBackend.start({ secret: SECRET })
  const client = setup(t, backend)
  let downs = 0
  client.on('down', () => downs++)
  client.start()
  await next(client, 'up')
  const link = await backend.link(0)
  await until(() => link.frames.filter(f => f.type === PING).length >= 30, '30 PINGs')
  t.equal(downs, 0, 'answered PINGs keep the link')
  t.ok(client.counters().pongsReceived > 0)
  t.equal(link.frames.find(f => f.type === PING)?.data.length, 8, 'PING carries 8 bytes')
})

void t.test('heartbeat timeout: a silent backend is dropped and the edge reconnects', async t => {
  const backend = await FakeBackend.start({ secret: SECRET, silent: true })
  const client = setup(t, backend)
  client.start()
  await next(client, 'up')
  const [reason] = await next(client, 'down')
  t.equal(reason.code, LINK_HEARTBEAT_TIMEOUT)
  backend.options.silent = false
  await next(client, 'up')
  t.ok(client.ready, 'up again on a new link')
  t.equal(client.counters().reconnects, 1)
  t.equal(client.counters().handshakes, 2)
})

void t.test('reconnect: capped exponential backoff with full jitter, reset by a good handshake', async t => {
  const backend = await FakeBackend.start({ secret: SECRET, refuse: true })
  // random() = 1 makes each delay the top of its jitter range, so the bounds can be read off.
  const client = setup(t, backend, { reconnectBase: 4, reconnectMax: 32, random: () => 1 })
  const delays: number[] = []
  client.on('reconnecting', ({ delay }) => delays.push(delay))
  client.start()
  await until(() => delays.length >= 6, '6 reconnect attempts')
  t.same(delays.slice(0, 6), [4, 8, 16, 32, 32, 32], 'doubling, then capped')
  backend.options.refuse = false
  await next(client, 'up')
  delays.length = 0
  ;(await backend.link(0)).socket.destroy()
  await until(() => delays.length >= 1, 'a reconnect after the loss')
  t.equal(delays[0], 4, 'the first delay after a success starts from the base again')
  t.ok(client.counters().reconnects >= 6)
})

void t.test('backoffDelay: uniform in [0, min(cap, base·2^attempt)]', t => {
  t.equal(backoffDelay(0, 100, 30_000, () => 0), 0)
  t.equal(backoffDelay(0, 100, 30_000, () => 0.5), 50)
  t.equal(backoffDelay(3, 100, 30_000, () => 0.5), 400)
  t.equal(backoffDelay(10, 100, 30_000, () => 0.5), 15_000)
  t.equal(backoffDelay(5000, 100, 30_000, () => 0.999), 29_970, 'no overflow at large attempts')
  t.end()
})

void t.test('options are validated with a coded error', t => {
  for (const bad of [{ port: 0 }, { port: 1, secret: '' }, { port: 1, heartbeatTimeout: -1 }, { port: 1, maxFrameSize: 5 }, { port: 1, reconnectBase: 10, reconnectMax: 5 }]) {
    try {
      new LinkClient({ secret: 'x', ...bad })
      t.fail(`accepted ${JSON.stringify(bad)}`)
    } catch (e) {
      t.ok(isMegaphoneError(e) && e.code === LINK_OPTIONS, JSON.stringify(bad))
    }
  }
  t.end()
})
