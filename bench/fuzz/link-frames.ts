/**
 * Link frames for fuzzing mod_megaphone (docs/link-protocol.md): random frames and mutated valid
 * ones, every kind the module has a path for. Each call of `next()` is one frame as it goes on
 * the wire. Lengths are honest (the bytes the length announces follow) except in the kinds that
 * are about lengths: below 9, and above the module's maximum with every announced byte following
 * (the module skips them and must find the next frame where the length said). A length that is
 * not followed by its bytes would only stall the stream: the raw-byte fuzzing of sacrificial
 * links covers that (bench/fuzz/link-driver.ts).
 *
 * Session frames go to a small pool of connection ids so that OPENs meet DATA, RESTART and CLOSE
 * for the same session; the driver CLOSEs the pool now and then so that sessions do not pile up.
 * The control session's id is never drawn.
 */
import {
  AUTH, AUTH_OK, CLOSE, DATA, ERROR, HEADER_SIZE, HELLO, OPEN, PING, PONG, RESTART, STATS_REPLY,
  STATS_REQUEST, STREAM_START, KNOWN_TYPE
} from '../../src/link/codec/index.ts'
import type { Prng } from './prng.ts'
import { mutate } from './xml-mutate.ts'

/** The default maximum frame size of the module's listener (`max_frame_size`). */
export const MODULE_MAX_FRAME = 65_545

/** How each frame was made: the report counts frames by kind. */
export const FRAME_KINDS = [
  'login', 'data', 'data-mutated', 'open', 'open-mutated', 'restart', 'close', 'ping', 'control-bad', 'wrong-direction',
  'error', 'unknown-type', 'random', 'unknown-id', 'too-short', 'too-large'
] as const
export type FrameKind = typeof FRAME_KINDS[number]

/**
 * The kinds a run uses unless told otherwise: all but 'login'. With whole logins in the mix the
 * run turns into a routing storm among one user's ~100 churning sessions, which ejabberd itself
 * does not bound (erlang:memory went from 33 MiB to 475 MiB in 20,000 frames and 1.7 GiB with
 * only logins, data and closes; docs/reliability.md "Fuzzing"): `--kinds` brings it back.
 */
export const DEFAULT_KINDS: readonly FrameKind[] = ['data', 'data-mutated', 'open', 'open-mutated', 'restart', 'close', 'ping', 'control-bad',
  'wrong-direction', 'error', 'unknown-type', 'random', 'unknown-id', 'too-short', 'too-large']

/** Relative weights: mutated DATA and random frames dominate, the expensive kinds are rare. */
const WEIGHTS: Readonly<Record<FrameKind, number>> = {
  login: 4,
  data: 60,
  'data-mutated': 220,
  open: 25,
  'open-mutated': 25,
  restart: 25,
  close: 40,
  ping: 30,
  'control-bad': 30,
  'wrong-direction': 30,
  error: 20,
  'unknown-type': 40,
  random: 150,
  'unknown-id': 60,
  'too-short': 30,
  'too-large': 0.2
}

/** One frame, or for 'login' the five frames of a login written back to back. */
export interface LinkFrame { kind: FrameKind, bytes: Buffer, frames: number }

/** The user that pool sessions log in as (not the control sessions' user: ejabberd's max_user_sessions kicks a user's oldest session). */
export interface PoolUser { user: string, password: string }

/** Stanzas a client sends, before and after authentication, as the module receives them in DATA. */
function stanzas (domain: string): Buffer[] {
  return [
    `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0fuzz\0wrong').toString('base64')}</auth>`,
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>biwsbj1mdXp6LHI9YWJj</auth>",
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-NONE'/>",
    "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AAAA</response>",
    "<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
    "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    "<iq type='set' id='b' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>",
    `<iq type='get' id='p' to='${domain}' xmlns='jabber:client'><ping xmlns='urn:xmpp:ping'/></iq>`,
    `<iq type='get' id='d' to='${domain}' xmlns='jabber:client'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
    "<iq type='get' id='r' xmlns='jabber:client'><query xmlns='jabber:iq:roster'/></iq>",
    `<message to='fuzz@${domain}' type='chat' xmlns='jabber:client'><body>hello &amp; &#233; &lt;x&gt;</body></message>`,
    "<message to='nobody@nowhere.invalid' xmlns='jabber:client'><body>x</body><thread>t</thread></message>",
    "<presence xmlns='jabber:client'/>",
    "<presence type='unavailable' xmlns='jabber:client'><status>bye</status></presence>",
    "<enable xmlns='urn:xmpp:sm:3' resume='true'/>",
    "<r xmlns='urn:xmpp:sm:3'/>",
    "<a xmlns='urn:xmpp:sm:3' h='4294967295'/>",
    "<resume xmlns='urn:xmpp:sm:3' h='1' previd='abc'/>",
    "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
    "<p:message xmlns:p='jabber:client' to='a@b'><p:body>prefixed</p:body></p:message>",
    "<x xmlns='urn:unknown' a='1' b=\"2\"><![CDATA[cdata <here>]]><!-- comment --></x>"
  ].map(s => Buffer.from(s, 'utf8'))
}

const OPEN_CONDITIONS = ['', 'inactivity', 'client-gone', 'shutdown', 'policy-violation', 'x'.repeat(300)]

/** A frame: the 4-byte length (as given, or the honest one), the 8-byte id (hi, lo), the type, the data. */
function frame (hi: number, lo: number, type: number, data: Buffer, length = 9 + data.length): Buffer {
  const b = Buffer.allocUnsafe(HEADER_SIZE + data.length)
  b.writeUInt32BE(length >>> 0, 0)
  b.writeUInt32BE(hi >>> 0, 4)
  b.writeUInt32BE(lo >>> 0, 8)
  b[12] = type
  data.copy(b, HEADER_SIZE)
  return b
}

function str16 (s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s
  const len = Buffer.allocUnsafe(2)
  len.writeUInt16BE(b.length & 0xffff, 0)
  return Buffer.concat([len, b])
}

export class LinkFrameGen {
  private readonly stanzas: Buffer[]
  private readonly kinds: FrameKind[] = []
  private readonly cumulative: number[] = []
  private readonly total: number

  /**
   * @param pool the session ids frames are addressed to (the control session's is not among them)
   * @param control the control session's id, never drawn, not even at random
   */
  constructor (private readonly r: Prng, private readonly domain: string, private readonly pool: readonly number[], private readonly control: number,
    private readonly poolUser: PoolUser, only: readonly FrameKind[] = DEFAULT_KINDS) {
    this.stanzas = stanzas(domain)
    let sum = 0
    for (const k of FRAME_KINDS) {
      if (!only.includes(k)) continue
      sum += WEIGHTS[k]; this.kinds.push(k); this.cumulative.push(sum)
    }
    this.total = sum
  }

  next (): LinkFrame {
    const x = this.r.u32() / 0x1_0000_0000 * this.total
    let i = 0
    while ((this.cumulative[i] ?? Infinity) <= x) i++
    const kind = this.kinds[i] ?? 'random'
    if (kind === 'login') return { kind, bytes: this.login(), frames: 5 }
    return { kind, bytes: this.make(kind), frames: 1 }
  }

  /**
   * A whole login on a pool id, pipelined without waiting for answers (the module holds input
   * until c2s asks for it): OPEN, SASL PLAIN with the right password, RESTART, bind, presence.
   * The mutated DATA that follows on that id then reaches an authenticated c2s, and the module's
   * paths that only a known user takes (change_shaper, routing to and from the link) are fuzzed too.
   */
  private login (): Buffer {
    const id = this.poolId()
    const open = Buffer.concat([Buffer.from([1]), str16(this.domain), str16('127.0.0.1'), Buffer.from([0, 1]), str16('en')])
    const auth = `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${this.poolUser.user}\0${this.poolUser.password}`).toString('base64')}</auth>`
    const bind = `<iq type='set' id='pb' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>p${id}-${this.r.u32()}</resource></bind></iq>`
    return Buffer.concat([
      frame(0, id, OPEN, open), frame(0, id, DATA, Buffer.from(auth)), frame(0, id, RESTART, Buffer.alloc(0)),
      frame(0, id, DATA, Buffer.from(bind)), frame(0, id, DATA, Buffer.from("<presence xmlns='jabber:client'/>"))
    ])
  }

  /** CLOSE for every pool id: the driver's sweep, so that opened sessions end. */
  closeAll (): Buffer[] {
    return this.pool.map(id => frame(0, id, CLOSE, str16('')))
  }

  private poolId (): number { return this.r.pick(this.pool) }

  private stanza (): Buffer { return this.r.pick(this.stanzas) }

  private openData (): Buffer {
    const r = this.r
    const to = r.chance(0.8) ? this.domain : r.pick(['', 'unknown.invalid', 'LOCALHOST', 'a'.repeat(1100), 'lo\u0000cal', 'é.example'])
    const ip = r.pick(['127.0.0.1', '::1', '2001:db8::1', '::ffff:192.0.2.1', '999.1.1.1', '', 'not-an-ip', '1.2.3'])
    const port = Buffer.allocUnsafe(2)
    port.writeUInt16BE(r.int(65_536), 0)
    const lang = r.pick(['', 'en', 'fr-CA', 'x'.repeat(200)])
    return Buffer.concat([Buffer.from([r.chance(0.9) ? r.int(2) : r.int(256)]), str16(to), str16(ip), port, str16(lang)])
  }

  /** A random id: mostly small, sometimes anywhere in 64 bits (above 2^53 too); never the control's. */
  private randomId (): [number, number] {
    const r = this.r
    for (;;) {
      const hi = r.chance(0.5) ? 0 : r.u32()
      const lo = r.chance(0.3) ? r.int(1000) : r.u32()
      if (hi === 0 && (lo === this.control || this.pool.includes(lo))) continue
      return [hi, lo]
    }
  }

  private make (kind: Exclude<FrameKind, 'login'>): Buffer {
    const r = this.r
    switch (kind) {
      case 'data':
        return frame(0, this.poolId(), DATA, this.stanza())
      case 'data-mutated': {
        const data = mutate(r, this.stanza(), 4)
        // the module's maximum: larger is the 'too-large' kind
        return frame(0, this.poolId(), DATA, data.subarray(0, MODULE_MAX_FRAME - 9))
      }
      case 'open':
        return frame(0, this.poolId(), OPEN, this.openData())
      case 'open-mutated': {
        const d = this.openData()
        const m = r.int(3)
        const data = m === 0 ? d.subarray(0, r.int(d.length)) // short fields
          : m === 1 ? Buffer.concat([d, r.bytes(1 + r.int(16))]) // trailing bytes (ignored, by the protocol)
            : (() => { const c = Buffer.from(d); c[r.int(c.length)] = r.int(256); return c })() // a wrong count or byte
        return frame(0, this.poolId(), OPEN, data)
      }
      case 'restart':
        return frame(0, this.poolId(), RESTART, r.chance(0.8) ? Buffer.alloc(0) : r.bytes(r.int(32)))
      case 'close': {
        const data = r.chance(0.7) ? str16(r.pick(OPEN_CONDITIONS)) : r.bytes(r.int(12))
        return frame(0, this.poolId(), CLOSE, data)
      }
      case 'ping':
        return frame(0, 0, r.chance(0.8) ? PING : PONG, r.bytes(8))
      case 'control-bad': {
        const type = r.pick([PING, STATS_REQUEST, PONG])
        const n = type === PING ? r.pick([0, 7, 9, 100]) : r.pick([0, 3, 4, 5])
        return frame(0, 0, type, r.bytes(n))
      }
      case 'wrong-direction': {
        const type = r.pick([HELLO, AUTH, AUTH_OK, STATS_REPLY, STREAM_START, OPEN, DATA, RESTART, CLOSE])
        const id = [HELLO, AUTH, AUTH_OK, STATS_REPLY].includes(type) && r.chance(0.5) ? this.poolId() : 0
        return frame(0, id, type, r.bytes(r.int(80)))
      }
      case 'error': {
        const data = r.chance(0.7) ? Buffer.concat([Buffer.from([0, r.int(20)]), Buffer.from('the edge says so')]) : r.bytes(r.int(3))
        return frame(0, r.chance(0.5) ? 0 : this.poolId(), ERROR, data)
      }
      case 'unknown-type': {
        let type = r.int(256)
        while (KNOWN_TYPE[type] === 1) type = r.int(256)
        const [hi, lo] = r.chance(0.5) ? [0, this.poolId()] : r.chance(0.5) ? [0, 0] : this.randomId()
        return frame(hi, lo, type, r.bytes(r.int(64)))
      }
      case 'random': {
        // Any type, any id, any data; OPEN only on the pool, so that every session can be closed.
        const type = r.int(256)
        const [hi, lo] = type === OPEN || r.chance(0.5) ? [0, this.poolId()] : this.randomId()
        return frame(hi, lo, type, r.bytes(r.chance(0.02) ? r.int(8192) : r.int(96)))
      }
      case 'unknown-id': {
        const [hi, lo] = this.randomId()
        const type = r.pick([DATA, RESTART, CLOSE, ERROR])
        return frame(hi, lo, type, type === DATA ? mutate(r, this.stanza(), 1) : r.bytes(r.int(16)))
      }
      case 'too-short': {
        // length 0..8: the module skips that many bytes and reports frame-too-short.
        const length = r.int(9)
        const b = Buffer.allocUnsafe(4 + length)
        b.writeUInt32BE(length, 0)
        r.bytes(length).copy(b, 4)
        return b
      }
      case 'too-large': {
        // Above the maximum, with every announced byte following: skipped, the link stays in step.
        const dataLength = MODULE_MAX_FRAME - 9 + 1 + r.int(r.chance(0.1) ? 1 << 20 : 4096)
        return frame(0, r.chance(0.5) ? this.poolId() : 0, r.chance(0.5) ? DATA : r.int(256), r.bytes(dataLength))
      }
    }
  }
}
