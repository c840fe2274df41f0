/**
 * Who the client is: the socket's peer, or, when that peer is a proxy the operator trusts, the
 * hop its X-Forwarded-For names. Pure functions, no I/O.
 *
 * Every proxy appends the address it received the request from to X-Forwarded-For, so the
 * header reads `client, proxy1, proxy2` with the socket's peer (proxy3) not in it. Only the
 * hops appended by proxies we trust are true; everything to their left was written by someone
 * we do not trust, the client included. So the client is found by walking from the right: the
 * first hop that is not a trusted proxy (what proxy-addr, nginx's `real_ip_recursive on` and
 * HAProxy do). Taking the leftmost hop, as fastify's `trustProxy: true` does, lets any client
 * choose its own address, and so its own admission-control allowance.
 *
 * Addresses are held as 16 bytes, IPv4 as IPv4-mapped IPv6 (RFC 4291 §2.5.5.2), so one range
 * list serves both families and `::ffff:10.0.0.1` (what a dual-stack socket reports for an
 * IPv4 peer) matches `10.0.0.0/8`.
 */

/** 16 bytes, network order. */
export type Ip16 = Uint8Array

interface Range { bytes: Ip16, bits: number }

/**
 * A set of addresses and CIDR ranges, parsed once: the trusted proxies (the `trustProxy`
 * option), the addresses admission control leaves alone (`admissionExempt`).
 */
export class AddressRanges {
  private constructor (private readonly ranges: readonly Range[]) {}

  /** No range: for trusted proxies, X-Forwarded-For is never read. */
  get empty (): boolean { return this.ranges.length === 0 }

  static readonly NONE = new AddressRanges([])

  /** The ranges from their text (`10.0.0.0/8`, `::1`, ...), or what is wrong with the first bad one. */
  static parse (list: readonly string[]): AddressRanges | string {
    const ranges: Range[] = []
    for (const entry of list) {
      const r = parseRange(entry.trim())
      if (typeof r === 'string') return r
      ranges.push(r)
    }
    return new AddressRanges(ranges)
  }

  /** The ranges, or throws: for callers that got the list from a configuration already checked. */
  static of (list: readonly string[]): AddressRanges {
    const t = AddressRanges.parse(list)
    if (typeof t === 'string') throw new RangeError(t)
    return t
  }

  has (ip: string): boolean {
    const b = parseIp(ip)
    return b !== undefined && this.hasBytes(b)
  }

  private hasBytes (b: Ip16): boolean {
    for (const r of this.ranges) if (inRange(b, r)) return true
    return false
  }
}

/** The proxies whose X-Forwarded-For is believed. */
export const TrustedProxies = AddressRanges
export type TrustedProxies = AddressRanges

/** For the configuration's check: why a list of addresses and ranges is wrong, or undefined. */
export function trustedProxiesError (v: unknown): string | undefined {
  if (!Array.isArray(v) || !v.every(x => typeof x === 'string')) return 'must be a list of addresses or CIDR ranges'
  const t = AddressRanges.parse(v)
  return typeof t === 'string' ? t : undefined
}

/**
 * The client's address: `peerIp` (the socket's remote address) unless it is a trusted proxy,
 * else the rightmost X-Forwarded-For hop that is not trusted; when every hop is trusted, the
 * leftmost (the furthest the proxies saw). A hop that is not an address (`unknown`, garbage a
 * trusted proxy passed on) stops the walk at the nearest address known to be true. An
 * IPv4-mapped IPv6 address is given as plain IPv4, so that one client has one name.
 */
export function clientAddress (peerIp: string, xff: string | readonly string[] | undefined, trusted: TrustedProxies): string {
  if (trusted.empty || xff === undefined || !trusted.has(peerIp)) return plainIp(peerIp)
  // Several X-Forwarded-For headers are one list, in order (RFC 9110 §5.3).
  const hops = (typeof xff === 'string' ? xff : xff.join(',')).split(',')
  let nearest = peerIp
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = stripPort((hops[i] ?? '').trim())
    if (hop === '') continue
    if (parseIp(hop) === undefined) break
    nearest = hop
    if (!trusted.has(hop)) break
  }
  return plainIp(nearest)
}

/** `::ffff:1.2.3.4` as `1.2.3.4`; anything else as it is. */
export function plainIp (ip: string): string {
  return ip.length > 7 && ip.charCodeAt(0) === 58 /* : */ && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip) ? ip.slice(7) : ip
}

/** `[2001:db8::1]:443` and `192.0.2.1:443` (some proxies write ports) without the port. */
function stripPort (hop: string): string {
  if (hop.startsWith('[')) {
    const end = hop.indexOf(']')
    return end > 0 ? hop.slice(1, end) : hop
  }
  const colon = hop.indexOf(':')
  return colon > 0 && colon === hop.lastIndexOf(':') && hop.includes('.') ? hop.slice(0, colon) : hop
}

function parseRange (text: string): Range | string {
  const slash = text.indexOf('/')
  const addr = slash < 0 ? text : text.slice(0, slash)
  const bytes = parseIp(addr)
  if (bytes === undefined) return `${JSON.stringify(text)} is not an IPv4 or IPv6 address or CIDR range`
  const v4 = !addr.includes(':')
  const max = v4 ? 32 : 128
  let bits = max
  if (slash >= 0) {
    const p = text.slice(slash + 1)
    bits = /^[0-9]{1,3}$/.test(p) ? Number(p) : NaN
    if (!(bits >= 0 && bits <= max)) return `${JSON.stringify(text)}: the prefix length must be 0 to ${max}`
  }
  return { bytes, bits: v4 ? bits + 96 : bits }
}

function inRange (b: Ip16, r: Range): boolean {
  const whole = r.bits >>> 3
  for (let i = 0; i < whole; i++) if (b[i] !== r.bytes[i]) return false
  const rest = r.bits & 7
  if (rest === 0) return true
  const mask = (0xff << (8 - rest)) & 0xff
  return ((b[whole] ?? 0) & mask) === ((r.bytes[whole] ?? 0) & mask)
}

/** The 16 bytes of an IPv4 or IPv6 address (a zone, `%eth0`, is ignored), or undefined. */
export function parseIp (s: string): Ip16 | undefined {
  const out = new Uint8Array(16)
  if (!s.includes(':')) {
    out[10] = 0xff
    out[11] = 0xff
    return parseV4(s, out, 12) ? out : undefined
  }
  const zone = s.indexOf('%')
  if (zone >= 0) s = s.slice(0, zone)
  const halves = s.split('::')
  if (halves.length > 2) return undefined
  const head = halves[0] === '' ? [] : (halves[0] ?? '').split(':')
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : (halves[1] ?? '').split(':')) : []
  // An IPv4 tail (`::ffff:1.2.3.4`, RFC 4291 §2.2 form 3) takes two groups.
  const groups = halves.length === 2 ? tail : head
  const last = groups[groups.length - 1]
  let v4tail = false
  if (last !== undefined && last.includes('.')) {
    if (!parseV4(last, out, 14 - 2)) return undefined
    groups.pop()
    v4tail = true
  }
  const total = head.length + tail.length + (v4tail ? 2 : 0)
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined
  const put = (g: string, at: number): boolean => {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return false
    const n = parseInt(g, 16)
    out[at] = n >>> 8
    out[at + 1] = n & 0xff
    return true
  }
  for (let i = 0; i < head.length; i++) if (!put(head[i] ?? '', i * 2)) return undefined
  const tailStart = 16 - (v4tail ? 4 : 0) - tail.length * 2
  for (let i = 0; i < tail.length; i++) if (!put(tail[i] ?? '', tailStart + i * 2)) return undefined
  return out
}

function parseV4 (s: string, out: Ip16, at: number): boolean {
  const parts = s.split('.')
  if (parts.length !== 4) return false
  for (let i = 0; i < 4; i++) {
    const p = parts[i] ?? ''
    // No leading zeros: `010` is octal to some parsers and decimal to others.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return false
    const n = Number(p)
    if (n > 255) return false
    out[at + i] = n
  }
  return true
}
