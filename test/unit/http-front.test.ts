/**
 * The HTTP front's lean POST path at the socket level (src/http/lean-post.ts, src/http/app.ts):
 * a real server on 127.0.0.1:0, raw TCP clients that send what they like, when they like, and a
 * recording route in place of BOSH. Slow senders are cut by small timeouts; no test asserts how
 * long anything took, only what happened and in which order.
 */
import t from 'tap'
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import { buildHttp, type HttpFront, type HttpOptions } from '../../src/http/app.ts'
import type { LeanRoute, Refusal } from '../../src/http/lean-post.ts'
import type { HttpReply } from '../../src/http/reply.ts'

interface Teardown { teardown (fn: () => unknown): void }

/** Records what reaches it; holds every request unless told to answer at once. */
class Route implements LeanRoute {
  readonly path = '/http-bind'
  maxBodyBytes = 4096
  answerAtOnce = false
  readonly bodies: string[] = []
  readonly held: HttpReply[] = []
  readonly refused: Refusal[] = []
  readonly aborted: HttpReply[] = []

  handle (body: Buffer, reply: HttpReply): void {
    this.bodies.push(body.toString())
    if (body.toString() === 'boom') throw new Error('boom')
    if (this.answerAtOnce) { reply.send(200, 'text/xml; charset=utf-8', '<body/>'); return }
    reply.holder = this
    this.held.push(reply)
  }

  refuse (reply: HttpReply, why: Refusal): void {
    this.refused.push(why)
    reply.refuse(why === 'too-large' ? 403 : why === 'busy' ? 503 : 500, 'text/xml; charset=utf-8', `<body type='terminate' condition='${why}'/>`)
  }

  requestAborted (reply: HttpReply): void {
    this.aborted.push(reply)
  }
}

async function serve (t: Teardown, o: Partial<HttpOptions> = {}): Promise<{ front: HttpFront, route: Route, port: number }> {
  const front = await buildHttp(o)
  const route = new Route()
  front.post(route)
  await front.app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(async () => { await front.app.close() })
  const a = front.app.server.address()
  return { front, route, port: typeof a === 'object' && a !== null ? a.port : 0 }
}

/** A raw client: everything it receives until the server closes the connection. */
class Raw {
  readonly socket: Socket
  data = ''
  readonly closed: Promise<string>
  constructor (port: number) {
    this.socket = connect(port, '127.0.0.1')
    this.socket.setEncoding('latin1')
    this.socket.on('data', (d: string) => { this.data += d })
    this.socket.on('error', () => {})
    this.closed = once(this.socket, 'close').then(() => this.data)
  }

  async ready (): Promise<this> { await once(this.socket, 'connect'); return this }
  send (s: string): void { this.socket.write(s) }
  /** Resolves once `re` matches what arrived. */
  async until (re: RegExp): Promise<string> {
    while (!re.test(this.data)) {
      if (this.socket.destroyed) throw new Error(`closed before ${String(re)}: ${JSON.stringify(this.data)}`)
      await once(this.socket, 'data')
    }
    return this.data
  }
}

const post = (body: string, extra = ''): string => `POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`

async function until (check: () => boolean): Promise<void> {
  while (!check()) await new Promise(resolve => setImmediate(resolve))
}

void t.test('a held request whose connection closes: its holder hears it once, nothing is written after', async t => {
  const { route, front, port } = await serve(t)
  const client = await new Raw(port).ready()
  client.send(post('<body/>'))
  await until(() => route.held.length === 1)
  const reply = route.held[0]!
  t.ok(reply.open, 'held and open')
  client.socket.destroy()
  await until(() => route.aborted.length === 1)
  t.equal(route.aborted[0], reply, 'the holder is told which request')
  t.notOk(reply.open, 'no longer open')
  reply.send(200, 'text/xml', '<body/>')
  await new Promise(resolve => setImmediate(resolve))
  t.equal(route.aborted.length, 1, 'told once')
  t.equal(front.lean.buffered, 0)
})

void t.test('an answered request does not tell the holder anything when its connection closes later', async t => {
  const { route, port } = await serve(t)
  const client = await new Raw(port).ready()
  client.send(post('<body/>'))
  await until(() => route.held.length === 1)
  route.held[0]!.send(200, 'text/xml; charset=utf-8', '<body/>')
  await client.until(/<body\/>$/)
  client.socket.destroy()
  await client.closed
  await new Promise(resolve => setImmediate(resolve))
  t.equal(route.aborted.length, 0)
})

void t.test('slow headers are answered 408 and closed', async t => {
  const { port } = await serve(t, { headersTimeout: 0.05, requestTimeout: 0.1 })
  const client = await new Raw(port).ready()
  client.send('POST /http-bind HTTP/1.1\r\nHost: x\r\n')
  const got = await client.closed
  t.match(got, /^(HTTP\/1\.1 408 |$)/, '408 or a plain close')
})

void t.test('a slow body is answered 408 and closed, its buffered bytes given back; a held request is not timed', async t => {
  const { route, front, port } = await serve(t, { headersTimeout: 0.05, requestTimeout: 0.1 })
  // A complete request, held: requestTimeout times only the receiving of a request.
  const held = await new Raw(port).ready()
  held.send(post('<body/>'))
  await until(() => route.held.length === 1)
  // A body that never completes.
  const slow = await new Raw(port).ready()
  slow.send(`POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n<body`)
  await until(() => front.lean.buffered > 0)
  const got = await slow.closed
  t.match(got, /^(HTTP\/1\.1 408 |$)/, '408 or a plain close')
  await until(() => front.lean.buffered === 0)
  t.equal(route.bodies.length, 1, 'the slow body never reached the route')
  // The held request outlived the slow one's timeout and can still be answered.
  t.ok(route.held[0]!.open, 'the held request is still open')
  route.held[0]!.send(200, 'text/xml; charset=utf-8', '<body/>')
  t.match(await held.until(/<body\/>$/), /^HTTP\/1\.1 200 /)
  t.equal(route.aborted.length, 0)
})

void t.test('bytes buffered for incomplete bodies are bounded in total', async t => {
  const { route, front, port } = await serve(t, { maxBufferedBodyBytes: 3000 })
  // Two incomplete bodies take 2 × 1,400 bytes of the 3,000.
  const a = await new Raw(port).ready()
  a.send(`POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: 1400\r\n\r\n<body`)
  const b = await new Raw(port).ready()
  b.send(`POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: 1400\r\n\r\n<body`)
  await until(() => front.lean.buffered === 2800)
  // A third does not fit: refused without being read, and the connection closed.
  const c = await new Raw(port).ready()
  c.send(`POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: 1400\r\n\r\n<body`)
  const refused = await c.closed
  t.match(refused, /^HTTP\/1\.1 503 /)
  t.match(refused, /condition='busy'/)
  t.same(route.refused, ['busy'])
  t.equal(front.lean.refused.busy, 1)
  // A small one still fits, and is served.
  route.answerAtOnce = true
  const d = await new Raw(port).ready()
  d.send(post('<body/>'))
  t.match(await d.until(/<body\/>$/), /^HTTP\/1\.1 200 /)
  // The incomplete ones give their bytes back when their connections go.
  a.socket.destroy()
  b.socket.destroy()
  await until(() => front.lean.buffered === 0)
  t.equal(route.bodies.length, 1)
})

void t.test('chunked bodies: grown within both limits', async t => {
  const { route, front, port } = await serve(t, { maxBufferedBodyBytes: 8192 })
  route.answerAtOnce = true
  const chunk = (s: string): string => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`
  const head = 'POST /http-bind HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
  // In three pieces, each in its own write.
  const ok = await new Raw(port).ready()
  ok.send(head)
  for (const piece of ["<body xmlns='http://jabber.org/protocol/httpbind'>", '<message/>'.repeat(100), '</body>']) {
    ok.send(chunk(piece))
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  ok.send('0\r\n\r\n')
  t.match(await ok.until(/<body\/>$/), /^HTTP\/1\.1 200 /)
  t.equal(route.bodies[0], "<body xmlns='http://jabber.org/protocol/httpbind'>" + '<message/>'.repeat(100) + '</body>', 'the body, whole and in order')
  // Past maxBodyBytes (4,096): refused as soon as it gets too long.
  const big = await new Raw(port).ready()
  big.send(head + chunk('x'.repeat(3000)))
  await new Promise(resolve => setTimeout(resolve, 5))
  big.send(chunk('x'.repeat(3000)))
  t.match(await big.closed, /^HTTP\/1\.1 403 /)
  t.same(route.refused, ['too-large'])
  await until(() => front.lean.buffered === 0)
})

void t.test('a Content-Length over maxBodyBytes is refused before the body is read', async t => {
  const { route, front, port } = await serve(t)
  const c = await new Raw(port).ready()
  c.send('POST /http-bind HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n')
  const got = await c.closed
  t.match(got, /^HTTP\/1\.1 403 /)
  t.match(got, /\r\nConnection: close\r\n/i)
  t.same(route.refused, ['too-large'])
  t.equal(front.lean.buffered, 0)
})

void t.test('a query string does not hide the route; other methods and paths go to fastify', async t => {
  const { route, port } = await serve(t)
  route.answerAtOnce = true
  const q = await new Raw(port).ready()
  q.send(`POST /http-bind?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n<body/>`)
  t.match(await q.until(/<body\/>$/), /^HTTP\/1\.1 200 /)
  const other = await new Raw(port).ready()
  other.send('POST /http-bindx HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nConnection: close\r\n\r\n<body/>')
  t.match(await other.closed, /^HTTP\/1\.1 404 /, 'fastify: no such route')
  t.equal(route.bodies.length, 1)
})

void t.test('a route that throws: 500, the error reported, the server goes on', async t => {
  const errors: unknown[] = []
  const { route, front, port } = await serve(t, { onError: err => { errors.push(err) } })
  const c = await new Raw(port).ready()
  c.send(post('boom'))
  t.match(await c.closed, /^HTTP\/1\.1 500 /)
  t.equal(errors.length, 1)
  t.same(route.refused, ['internal'])
  t.equal(front.lean.refused.internal, 1)
  route.answerAtOnce = true
  const d = await new Raw(port).ready()
  d.send(post('<body/>'))
  t.match(await d.until(/<body\/>$/), /^HTTP\/1\.1 200 /)
})
