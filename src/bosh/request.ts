/**
 * Reading the attributes of a request `<body/>` into typed values (XEP-0124 §7.1, §8-§15,
 * XEP-0206 §3, §5). Anything malformed is a `bad-request` (XEP-0124 §17.2).
 */
import type { BoshRequest } from './session.ts'

/** XEP-0124 §14.1: rids never exceed 2^53 - 1. */
const MAX_RID = Number.MAX_SAFE_INTEGER

export type Attrs = Readonly<Record<string, string>>

/** A non-negative decimal integer no larger than `max`, or undefined for anything else. */
export function uint (s: string | undefined, max: number): number | undefined {
  if (s === undefined || s.length === 0 || s.length > 16 || !/^[0-9]+$/.test(s)) return undefined
  const n = Number(s)
  return n <= max ? n : undefined
}

export interface CreationParams {
  rid: number
  to: string
  lang: string
  wait: number
  hold: number
  ver: string | undefined
  content: string | undefined
  ack: boolean
  newkey: string | undefined
  payloads: string[]
}

export type Parsed<T> = { ok: true, value: T } | { ok: false, condition: 'bad-request' | 'improper-addressing' }

const bad = { ok: false, condition: 'bad-request' } as const

/** XEP-0124 §7.1 (with XEP-0206 §3): the session creation request. */
export function readCreation (a: Attrs, payloads: string[], defaults: { wait: number, hold: number }): Parsed<CreationParams> {
  const rid = uint(a.rid, MAX_RID)
  if (rid === undefined || rid === 0) return bad
  // XEP-0124 §17.2 improper-addressing: no 'to' (and we do not serve 'route' alone).
  const to = a.to
  if (to === undefined || to === '') return { ok: false, condition: 'improper-addressing' }
  // XEP-0124 §7.1: wait and hold SHOULD be present; without them we take our own limits.
  const wait = a.wait === undefined ? defaults.wait : uint(a.wait, 2 ** 31)
  const hold = a.hold === undefined ? defaults.hold : uint(a.hold, 2 ** 31)
  if (wait === undefined || hold === undefined) return bad
  const ver = a.ver
  if (ver !== undefined && !/^[0-9]{1,5}\.[0-9]{1,5}$/.test(ver)) return bad
  // XEP-0124 §7.1 'content': the Content-Type of every response. Refuse anything that could
  // split a header.
  const content = a.content
  if (content !== undefined && !/^[\x20-\x7e]{1,200}$/.test(content)) return bad
  const newkey = a.newkey
  if (newkey !== undefined && !/^[0-9a-fA-F]{40}$/.test(newkey)) return bad
  return {
    ok: true,
    value: {
      rid,
      to,
      lang: a['xml:lang'] ?? '',
      wait,
      hold,
      ver,
      content,
      // XEP-0124 §9.1: ack='1' on the creation request announces client acks.
      ack: a.ack === '1',
      newkey,
      payloads
    }
  }
}

/** Every later request (XEP-0124 §8-§15, XEP-0206 §5). */
export function readRequest (a: Attrs, payloads: string[]): Parsed<BoshRequest> {
  const rid = uint(a.rid, MAX_RID)
  if (rid === undefined || rid === 0) return bad
  let type: 'terminate' | undefined
  if (a.type !== undefined) {
    // A client has no business sending any other type.
    if (a.type !== 'terminate') return bad
    type = 'terminate'
  }
  const pause = a.pause === undefined ? undefined : uint(a.pause, 2 ** 31)
  if (a.pause !== undefined && pause === undefined) return bad
  const ack = a.ack === undefined ? undefined : uint(a.ack, MAX_RID)
  if (a.ack !== undefined && ack === undefined) return bad
  const restartAttr = a['xmpp:restart']
  if (restartAttr !== undefined && restartAttr !== 'true' && restartAttr !== 'false' && restartAttr !== '1' && restartAttr !== '0') return bad
  const key = a.key
  const newkey = a.newkey
  if ((key !== undefined && !/^[0-9a-fA-F]{40}$/.test(key)) || (newkey !== undefined && !/^[0-9a-fA-F]{40}$/.test(newkey))) return bad
  return {
    ok: true,
    value: {
      rid,
      payloads,
      type,
      pause,
      ack,
      restart: restartAttr === 'true' || restartAttr === '1',
      key,
      newkey
    }
  }
}
