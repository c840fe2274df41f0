/**
 * What `unread` prints. One message per entry: the time (UTC, ISO 8601, to the second), the
 * sender (offline.ts), the body; a body of several lines continues on lines indented by four
 * spaces. Text from the network is printed inert: control characters (an ESC could drive the
 * terminal) become U+FFFD.
 */
import type { OfflineMessage } from './offline.ts'

export const NONE = 'no unread messages'

/** C0 controls but tab and newline, DEL, and C1 controls */
function isControl (codePoint: number): boolean {
  return (codePoint < 0x20 && codePoint !== 0x09 && codePoint !== 0x0a) || (codePoint >= 0x7f && codePoint <= 0x9f)
}

export function inert (s: string): string {
  return Array.from(s, ch => isControl(ch.codePointAt(0) ?? 0) ? '\uFFFD' : ch).join('')
}

/** "2024-05-01T12:00:00Z", or "(no time)" if the server gave no stamp. */
export function formatTime (stamp: Date | undefined): string {
  return stamp === undefined ? '(no time)' : stamp.toISOString().replace(/\.[0-9]+Z$/, 'Z')
}

export function formatMessage (m: OfflineMessage): string {
  const lines = inert((m.body ?? '(no body)').replace(/\r\n?/g, '\n')).split('\n')
  const [first = '', ...rest] = lines
  return `${formatTime(m.stamp)} ${inert(m.sender)}: ${first}\n` + rest.map(l => `    ${l}\n`).join('')
}
