/**
 * One fuzzing link to the real mod_megaphone: a plain socket that performs the handshake
 * (docs/link-protocol.md "Handshake"), logs a control session in over it (SASL PLAIN, RESTART,
 * bind: a real c2s session), then writes generated frames split at random points across TCP
 * writes and, every `roundTripEvery` frames, waits for the control session to answer an XEP-0199
 * ping. Everything the module sends back is decoded and counted, never stored, so that the
 * driver's memory stays flat over tens of millions of frames, and read as it arrives, so that
 * the module never blocks on a full socket (its send_timeout would end the link).
 */
import { connect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import {
  FrameDecoder, encodeAuth, encodeData, encodeOpen, encodeRestart, parseAuthOk, parseHello,
  AUTH_OK, CLOSE, DATA, ERROR, HELLO, MAX_VERSION, STREAM_START
} from '../../src/link/codec/index.ts'
import { backendMac, edgeMac, macEqual } from '../../src/link/handshake.ts'
import { LinkFrameGen, FRAME_KINDS, type FrameKind, type PoolUser } from './link-frames.ts'
import { Prng } from './prng.ts'

/** The control session's id on every link: above the pool, below 2^53. */
export const CONTROL_ID = 1_000_000_007
/** Session ids the fuzz frames address. */
export const POOL = Array.from({ length: 48 }, (_, i) => i + 1)
const WAIT_MS = 20_000
const STALL_MS = 5_000

export interface LinkRunOptions {
  port: number
  secret: string
  domain: string
  /** the registered user the control session logs in as, and its password */
  user: string
  password: string
  /** another registered user, for the logins among the fuzz frames */
  poolUser: PoolUser
  /** only these kinds of frames (all by default): to narrow a failure down */
  kinds?: readonly FrameKind[]
  /** a resource unique to this link */
  resource: string
  seed: number
  frames: number
  /** frames between two control round trips */
  roundTripEvery: number
  /** frames between two CLOSE sweeps of the session pool */
  sweepEvery: number
  /** called every round trip with the frames sent so far (progress, memory samples) */
  onProgress?: (sent: number) => void | Promise<void>
  /** called when a round trip has waited STALL_MS: what the node is doing, for the failure's message */
  onStall?: () => Promise<string>
}

export interface LinkRunResult {
  seed: number
  frames: number
  bytes: number
  writes: number
  byKind: Record<FrameKind, number>
  /** frames the module sent back, by type name, and ERROR frames by code */
  received: Record<string, number>
  errorCodes: Record<number, number>
  roundTrips: number
  /** the slowest control round trip, ms (reported, never asserted) */
  maxRoundTripMs: number
}

type Waiter = { match: (type: number, text: string) => boolean, resolve: () => void }

class Link {
  private readonly waiters: Waiter[] = []
  closed = false
  readonly received: Record<string, number> = {}
  readonly errorCodes: Record<number, number> = {}
  private hello: Buffer | undefined
  private authOk: Buffer | undefined
  private onHandshake: (() => void) | undefined
  private readonly decoder = new FrameDecoder({
    onFrame: (connId, type, data) => { this.frame(connId, type, data) },
    onError: () => { this.count('undecodable') }
  }, { maxFrameSize: 64 << 20 })

  constructor (readonly socket: Socket) {
    socket.setNoDelay(true)
    socket.on('data', chunk => { this.decoder.push(chunk) })
    socket.on('close', () => {
      this.closed = true
      for (const w of this.waiters.splice(0)) w.resolve()
      this.onHandshake?.()
    })
    socket.on('error', () => { /* 'close' follows */ })
  }

  private count (name: string): void { this.received[name] = (this.received[name] ?? 0) + 1 }

  private frame (connId: number, type: number, data: Buffer): void {
    this.count(type === DATA ? 'DATA' : type === ERROR ? 'ERROR' : type === CLOSE ? 'CLOSE' : type === STREAM_START ? 'STREAM_START' : `type ${type}`)
    if (type === ERROR && data.length >= 2) {
      const code = data.readUInt16BE(0)
      this.errorCodes[code] = (this.errorCodes[code] ?? 0) + 1
    }
    // Logins among the fuzz frames that succeeded: the pool sessions that reached an authenticated c2s.
    if (type === DATA && connId !== CONTROL_ID && data.length > 9 && data.toString('latin1', 0, 9) === '<success ') this.count('SASL success (pool)')
    if (type === HELLO && this.hello === undefined) { this.hello = Buffer.from(data); this.onHandshake?.() }
    if (type === AUTH_OK && this.authOk === undefined) { this.authOk = Buffer.from(data); this.onHandshake?.() }
    if (connId !== CONTROL_ID || this.waiters.length === 0) return
    const text = type === DATA ? data.toString('utf8') : ''
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i]
      if (w !== undefined && w.match(type, text)) { this.waiters.splice(i, 1); w.resolve(); return }
    }
  }

  private async handshakeFrame (get: () => Buffer | undefined): Promise<Buffer> {
    const deadline = Date.now() + WAIT_MS
    for (;;) {
      const f = get()
      if (f !== undefined) return f
      if (this.closed) throw new Error('the module closed the link during the handshake')
      if (Date.now() > deadline) throw new Error('no handshake frame from the module')
      await new Promise<void>(resolve => { this.onHandshake = resolve; setTimeout(resolve, 100).unref() })
    }
  }

  async authenticate (secret: string): Promise<void> {
    const h = parseHello(await this.handshakeFrame(() => this.hello))
    if (h instanceof Error) throw h
    const ne = randomBytes(32)
    this.socket.write(encodeAuth(MAX_VERSION, ne, edgeMac(secret, h.nonce, ne)))
    const mac = parseAuthOk(await this.handshakeFrame(() => this.authOk))
    if (mac instanceof Error || !macEqual(mac, backendMac(secret, ne, h.nonce))) throw new Error('the module\'s AUTH_OK does not verify')
  }

  /** Resolves when the control session receives a frame `match` accepts; rejects on close or timeout. */
  async expect (what: string, match: (type: number, text: string) => boolean): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    let closedOnUs = false
    await new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        match: (type, text) => {
          if (type === CLOSE) { closedOnUs = true; return true }
          return match(type, text)
        },
        resolve: () => { clearTimeout(timer); resolve() }
      }
      this.waiters.push(w)
      timer = setTimeout(() => {
        const i = this.waiters.indexOf(w)
        if (i >= 0) this.waiters.splice(i, 1)
        reject(new Error(`the control session did not answer (${what}) within ${WAIT_MS} ms`))
      }, WAIT_MS)
    })
    if (this.closed) throw new Error(`the module closed the link (waiting for ${what})`)
    if (closedOnUs) throw new Error(`the module ended the control session (waiting for ${what})`)
  }

  async write (b: Buffer): Promise<void> {
    if (this.closed) throw new Error('the module closed the link')
    if (!this.socket.write(b)) {
      await new Promise<void>(resolve => {
        const done = (): void => { this.socket.off('drain', done); this.socket.off('close', done); resolve() }
        this.socket.on('drain', done)
        this.socket.on('close', done)
      })
    }
  }
}

async function connectLink (port: number): Promise<Link> {
  const socket = connect({ host: '127.0.0.1', port })
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  return new Link(socket)
}

/** Logs the control session in: a real c2s session on the fuzzed link. */
async function login (link: Link, o: LinkRunOptions): Promise<void> {
  const started = link.expect('features', (type, text) => type === DATA && text.includes('mechanisms'))
  await link.write(encodeOpen(CONTROL_ID, { transport: 'websocket', to: o.domain, ip: '127.0.0.1', port: 1, lang: 'en' }))
  await started
  const success = link.expect('SASL success', (type, text) => type === DATA && text.startsWith('<success'))
  await link.write(encodeData(CONTROL_ID, `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${o.user}\0${o.password}`).toString('base64')}</auth>`))
  await success
  const features = link.expect('bind features', (type, text) => type === DATA && text.includes('xmpp-bind'))
  await link.write(encodeRestart(CONTROL_ID))
  await features
  const bound = link.expect('bind result', (type, text) => type === DATA && text.includes("id='bind'") && text.includes("type='result'"))
  await link.write(encodeData(CONTROL_ID, `<iq type='set' id='bind' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${o.resource}</resource></bind></iq>`))
  await bound
}

/** Cuts `b` at a few random points and writes the pieces one by one (each its own TCP write). */
async function writeSplit (link: Link, r: Prng, b: Buffer): Promise<number> {
  // Now and then, a stretch byte by byte: the module's decoder sees every partial header.
  if (r.chance(0.02)) {
    const n = Math.min(b.length, 64)
    for (let i = 0; i < n; i++) await link.write(b.subarray(i, i + 1))
    await link.write(b.subarray(n))
    return n + 1
  }
  const cuts = Array.from({ length: r.int(8) }, () => r.int(b.length + 1)).sort((x, y) => x - y)
  let at = 0
  for (const c of cuts) {
    if (c > at) { await link.write(b.subarray(at, c)); at = c }
  }
  await link.write(b.subarray(at))
  return cuts.length + 1
}

/** One link's run: login, `frames` fuzz frames, a last round trip; throws on the first failure of a property. */
export async function fuzzLink (o: LinkRunOptions): Promise<LinkRunResult> {
  const r = new Prng(o.seed)
  const gen = new LinkFrameGen(r, o.domain, POOL, CONTROL_ID, o.poolUser, o.kinds)
  const link = await connectLink(o.port)
  try {
    await link.authenticate(o.secret)
    await login(link, o)
    const byKind = Object.fromEntries(FRAME_KINDS.map(k => [k, 0])) as Record<FrameKind, number>
    let sent = 0
    let bytes = 0
    let writes = 0
    let roundTrips = 0
    let maxRoundTripMs = 0
    let nextRoundTrip = o.roundTripEvery
    let nextSweep = o.sweepEvery
    const roundTrip = async (): Promise<void> => {
      const id = `rt${++roundTrips}`
      const t0 = performance.now()
      const answered = link.expect(`ping ${id}`, (type, text) => type === DATA && text.includes(`id='${id}'`))
      await link.write(encodeData(CONTROL_ID, `<iq type='get' id='${id}' to='${o.domain}' xmlns='jabber:client'><ping xmlns='urn:xmpp:ping'/></iq>`))
      // A slow answer: look at the node while the link is still up, in case it never comes.
      let stall: Promise<string> | undefined
      const timer = setTimeout(() => { stall = o.onStall?.().catch((e: unknown) => String(e)) }, STALL_MS)
      try {
        await answered
      } catch (err) {
        throw new Error(`${err instanceof Error ? err.message : String(err)} after ${sent} frames; the node after ${STALL_MS} ms: ${await stall ?? '?'}`, { cause: err })
      } finally {
        clearTimeout(timer)
      }
      maxRoundTripMs = Math.max(maxRoundTripMs, performance.now() - t0)
    }
    while (sent < o.frames) {
      // A batch of frames, written as one stream cut at random points.
      const parts: Buffer[] = []
      let size = 0
      const batchEnd = Math.min(o.frames, sent + 64 + r.int(448))
      while (sent < batchEnd && size < 256 * 1024) {
        const f = gen.next()
        parts.push(f.bytes)
        size += f.bytes.length
        byKind[f.kind] += f.frames
        sent += f.frames
        if (sent >= nextSweep) {
          nextSweep += o.sweepEvery
          for (const c of gen.closeAll()) { parts.push(c); size += c.length }
          byKind.close += POOL.length
          sent += POOL.length
        }
      }
      const batch = Buffer.concat(parts, size)
      bytes += size
      writes += await writeSplit(link, r, batch)
      if (sent >= nextRoundTrip || sent >= o.frames) {
        nextRoundTrip += o.roundTripEvery
        await roundTrip()
        await o.onProgress?.(sent)
      }
    }
    return { seed: o.seed, frames: sent, bytes, writes, byKind, received: link.received, errorCodes: link.errorCodes, roundTrips, maxRoundTripMs }
  } finally {
    link.socket.destroy()
  }
}

/**
 * Raw random bytes on a link of its own, before or after authentication: the framing itself is
 * random (lengths up to 4 GiB, which the module skips as they arrive). The module may close the
 * connection (it must, before AUTH_OK); it must not go down. Resolves with whether it closed.
 */
export async function fuzzRawBytes (port: number, secret: string, seed: number, bytes: number, authenticate: boolean): Promise<boolean> {
  const r = new Prng(seed)
  const link = await connectLink(port)
  try {
    if (authenticate) await link.authenticate(secret)
    let left = bytes
    while (left > 0 && !link.closed) {
      const n = Math.min(left, 1 + r.int(16 * 1024))
      left -= n
      try { await link.write(r.bytes(n)) } catch { break }
    }
    // Give the module a moment to read what was written and to close, if it does.
    await new Promise(resolve => setTimeout(resolve, 200))
    return link.closed
  } finally {
    link.socket.destroy()
  }
}
