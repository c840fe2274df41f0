/**
 * From an API call's JSON (already shaped by the route's schema, src/announce/routes.ts) to the
 * contract's `announce` request (src/announce/contract.ts). No I/O: every check that can be made
 * without the server is made here, so that a wrong call costs no link round trip.
 *
 * The original Announcer's requests map onto the same requests (docs/announcer.md):
 *   {"channel_id": 42, "message": "<base64>"}   → target room `42@<MUC service>`, template stanza
 *   {"channel_id": -1, "message": "<base64>"}   → target online (negative: every online user)
 *   {"usernames": [...], "message": "<base64>"} → target users
 */
import { AnnounceError } from './errors.ts'
import { checkStanza, decodeBase64Xml } from './stanza.ts'
import type { AnnounceOptions } from './options.ts'
import type { AnnounceRequest, ContractMessage } from './contract.ts'

/** A message as a caller gives it: exactly one of the three. */
export interface MessageFields {
  /** plain text: the module builds a headline from `announceFrom` */
  body?: string
  /** a complete `<message/>` */
  stanza?: string
  /** the original Announcer's base64 XML, `%s` where the recipient's username goes */
  message?: string
}

export interface UsersBody extends MessageFields {
  usernames: string[]
  persist?: boolean
}

export interface ChannelBody extends MessageFields {
  room?: string
  channel_id?: number
}

export type OnlineBody = MessageFields

type Options = Pick<AnnounceOptions, 'domain' | 'domains' | 'from' | 'mucService' | 'maxUsernames' | 'rate' | 'maxDepth' | 'maxRequestBytes'>

/**
 * RFC 7622 §3.3.1: a localpart is 1 to 1023 bytes and has none of `"&'/:<>@` (and, being of
 * the IdentifierClass, no spaces or controls). The server's own check (nodeprep) is stricter;
 * this one keeps what is surely not a username out of the request.
 */
const LOCALPART = /^[^\s"&'/:<>@\p{Cc}]+$/u
const MAX_PART_BYTES = 1023

function isLocalpart (s: string): boolean {
  return LOCALPART.test(s) && Buffer.byteLength(s) <= MAX_PART_BYTES
}

export function contractMessage (m: MessageFields, maxDepth: number): ContractMessage {
  const given = [m.body, m.stanza, m.message].filter(v => v !== undefined).length
  if (given !== 1) throw new AnnounceError('ANNOUNCE_BAD_REQUEST', 'give exactly one of `body` (text), `stanza` (a <message/>) or `message` (base64 XML)')
  if (m.body !== undefined) return { body: m.body }
  if (m.stanza !== undefined) return { stanza: checkStanza(m.stanza, maxDepth), template: false }
  return { stanza: checkStanza(decodeBase64Xml(m.message ?? ''), maxDepth), template: true }
}

/**
 * Usernames as the module wants them: local parts of the API's domain, bare JIDs of the edge's
 * other domains; lower-cased (RFC 7622 §3.3.2 maps a localpart's case, so `Alice` is `alice`)
 * and each once, so that nobody gets an announcement twice because they were listed twice.
 */
export function normalizeUsernames (usernames: readonly string[], o: Pick<Options, 'domain' | 'domains' | 'maxUsernames'>): string[] {
  if (usernames.length > o.maxUsernames) {
    throw new AnnounceError('ANNOUNCE_TOO_MANY_USERNAMES', `${usernames.length} usernames; at most ${o.maxUsernames} in one call (announceMaxUsernames)`)
  }
  const out = new Set<string>()
  for (const u of usernames) {
    const at = u.indexOf('@')
    const local = (at < 0 ? u : u.slice(0, at)).toLowerCase()
    const domain = at < 0 ? o.domain : u.slice(at + 1).toLowerCase()
    if (!isLocalpart(local)) throw new AnnounceError('ANNOUNCE_BAD_REQUEST', `not a username: ${JSON.stringify(u)}`)
    if (!o.domains.includes(domain)) {
      throw new AnnounceError('ANNOUNCE_BAD_REQUEST', `${JSON.stringify(u)} is not a user of ${o.domains.join(', ')}${domain.includes('/') ? ' (a bare JID, without a resource)' : ''}`)
    }
    out.add(domain === o.domain ? local : `${local}@${domain}`)
  }
  return [...out]
}

/** A room JID, or a name (or a channel_id's digits) in the MUC service. */
export function roomJid (room: string, mucService: string): string {
  const at = room.indexOf('@')
  const name = at < 0 ? room : room.slice(0, at)
  const service = at < 0 ? mucService : room.slice(at + 1).toLowerCase()
  // A room JID is bare (XEP-0045 §4.1: the room is node@service; node@service/nick is an occupant).
  if (!isLocalpart(name) || service === '' || /[\s/@]/.test(service)) {
    throw new AnnounceError('ANNOUNCE_BAD_REQUEST', `not a room name or bare room JID: ${JSON.stringify(room)}`)
  }
  return `${name.toLowerCase()}@${service}`
}

function base (o: Options, message: ContractMessage): Pick<AnnounceRequest, 'op' | 'message' | 'from' | 'rate'> {
  return { op: 'announce', message, from: o.from, rate: o.rate }
}

export function usersRequest (b: UsersBody, o: Options): AnnounceRequest {
  const usernames = normalizeUsernames(b.usernames, o)
  return fits({ ...base(o, contractMessage(b, o.maxDepth)), target: 'users', usernames, persist: b.persist ?? true }, o)
}

export function channelRequest (b: ChannelBody, o: Options): AnnounceRequest {
  if ((b.room === undefined) === (b.channel_id === undefined)) {
    throw new AnnounceError('ANNOUNCE_BAD_REQUEST', 'give exactly one of `room` (a room JID or name) or `channel_id` (the original Announcer\'s number)')
  }
  const message = contractMessage(b, o.maxDepth)
  // The original Announcer: a negative channel means everyone online; any other number names
  // the room of that name in the MUC service.
  if (b.channel_id !== undefined && b.channel_id < 0) return fits({ ...base(o, message), target: 'online' }, o)
  const room = roomJid(b.room ?? String(b.channel_id), o.mucService)
  return fits({ ...base(o, message), target: 'room', room }, o)
}

export function onlineRequest (b: OnlineBody, o: Options): AnnounceRequest {
  return fits({ ...base(o, contractMessage(b, o.maxDepth)), target: 'online' }, o)
}

/** The request must travel in one link frame (docs/link-protocol.md "Maximum frame size"). */
function fits (r: AnnounceRequest, o: Pick<Options, 'maxRequestBytes'>): AnnounceRequest {
  const size = Buffer.byteLength(JSON.stringify(r))
  if (size > o.maxRequestBytes) {
    throw new AnnounceError('ANNOUNCE_TOO_LARGE', `the request is ${size} bytes as JSON; one link frame carries ${o.maxRequestBytes} (linkMaxFrame): send fewer usernames per call, or a shorter message`)
  }
  return r
}
