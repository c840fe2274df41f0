/**
 * `megaphone send`: one chat message, and a round trip after it so that the command exits only
 * once the server has the message, and knows whether the server bounced it.
 */
import { CliError, EXIT } from './errors.ts'
import type { XmppSession } from './session.ts'
import { describeError, stanzaError } from './stanza.ts'

/**
 * The largest message body, as escaped XML in UTF-8. The edge carries each stanza in one link
 * frame of at most 65,545 bytes (docs/link-protocol.md); the rest of the stanza (addresses, id,
 * namespaces) fits in the remaining few kilobytes.
 */
export const MAX_BODY_BYTES = 60_000

/** The body's size once escaped as XML text (& → &amp;, < → &lt;, > → &gt;). */
export function escapedBodyBytes (body: string): number {
  let extra = 0
  for (const ch of body) {
    if (ch === '&') extra += 4
    else if (ch === '<' || ch === '>') extra += 3
  }
  return Buffer.byteLength(body, 'utf8') + extra
}

export async function send (session: XmppSession, recipient: string, body: string): Promise<void> {
  const id = session.uniqueId('megaphone-send')
  let bounce: string | undefined
  // RFC 6120 §8.3.1: an error reply keeps the id of the stanza it answers
  const stop = session.onMessage(el => {
    if (el.getAttribute('type') === 'error' && el.getAttribute('id') === id) bounce ??= describeError(stanzaError(el))
  })
  try {
    session.send(session.$msg({ to: recipient, type: 'chat', id }).c('body').t(body))
    await session.ping()
  } finally {
    stop()
  }
  if (bounce !== undefined) throw new CliError('CLI_RECIPIENT_REFUSED', EXIT.REFUSED, `${recipient} refused the message: ${bounce}`)
}
