/**
 * The message forms an API caller may give, checked before anything reaches the link: a
 * complete `<message/>` (`stanza`), or the original Announcer's base64 XML (`message`).
 *
 * A stanza is read by the strict scanner that reads WebSocket messages (src/ws/message.ts: one
 * element, well-formed with namespaces, no comments, PIs or DTDs, nothing expanded), so
 * mod_megaphone is never handed XML it could not parse, and a caller learns of a mistake from
 * the 400 rather than from a job in which every recipient failed.
 */
import { XmlScanner } from '../xml/scanner.ts'
import { decodeAttrValue } from '../xml/namespaces.ts'
import { parseMessage } from '../ws/message.ts'
import { AnnounceError } from './errors.ts'

const NS_CLIENT = 'jabber:client'

/**
 * Checks a stanza and returns it as it will be sent: without leading or trailing whitespace, and
 * with `xmlns='jabber:client'` added when the root declares no default namespace (the original
 * Announcer's stanzas had none; RFC 6120 §4.8.3: stanzas of a c2s stream are in jabber:client).
 * Throws ANNOUNCE_BAD_STANZA.
 */
export function checkStanza (stanza: string, maxDepth: number): string {
  let s = stanza.trim()
  const sc = new XmlScanner()
  sc.reset(s)
  if (!s.startsWith('<')) throw bad('not an element')
  const end = sc.startTag(0)
  if (end < 0) throw bad(`${sc.reason} (at ${sc.at})`)
  // Unprefixed only: a stanza is `<message/>` in the stream's default namespace (RFC 6120 §8).
  if (s.slice(1, sc.nameEnd) !== 'message') throw bad(`the element is <${s.slice(1, sc.nameEnd)}/>, not <message/>`)
  let defaultNs: string | undefined
  for (let k = 0; k < sc.attrCount; k++) {
    const value = (): string => decodeAttrValue(s.slice(sc.attrValueStart[k], sc.attrValueEnd[k]))
    if (sc.attrNameIs(k, 'xmlns')) defaultNs = value()
    // RFC 6120 §8.3.1: an error stanza answers another stanza; it is never sent on its own.
    else if (sc.attrNameIs(k, 'type') && value() === 'error') throw bad("type='error' is not a message to announce")
  }
  if (defaultNs === undefined) s = `<message xmlns='${NS_CLIENT}'${s.slice('<message'.length)}`
  else if (defaultNs !== NS_CLIENT) throw bad(`<message/> in namespace '${defaultNs}', not ${NS_CLIENT}`)
  const parsed = parseMessage(s, { maxDepth })
  if (!parsed.ok) throw bad(parsed.message)
  if (parsed.kind !== 'element') throw bad('not a stanza')
  return parsed.xml
}

/**
 * The original Announcer's `message`: base64 (standard or URL-safe alphabet, padding optional,
 * line breaks ignored as MIME writes them) of UTF-8 XML. Throws ANNOUNCE_BAD_BASE64 or, for bytes
 * that are not UTF-8, ANNOUNCE_BAD_STANZA.
 */
export function decodeBase64Xml (text: string): string {
  const compact = text.replace(/[\r\n\t ]/g, '')
  // RFC 4648 §4 and §5; Buffer.from(…, 'base64') would skip any other character silently.
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(compact) || compact.length % 4 === 1 || compact.replace(/=+$/, '').length === 0) {
    throw new AnnounceError('ANNOUNCE_BAD_BASE64', '`message` is not base64')
  }
  const bytes = Buffer.from(compact, 'base64')
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch (err) {
    throw new AnnounceError('ANNOUNCE_BAD_STANZA', '`message` decodes to bytes that are not UTF-8', { cause: err })
  }
}

function bad (why: string): AnnounceError {
  return new AnnounceError('ANNOUNCE_BAD_STANZA', `not a <message/> stanza: ${why}`)
}
