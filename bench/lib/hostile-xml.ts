/**
 * Hostile BOSH bodies and WebSocket messages of a given size, one per shape of namespace
 * bookkeeping that a naive reader handles in more than linear time (issue 13): many prefixes
 * declared on `<body/>`, many of them used in one payload, many declared or used on one
 * element, one long namespace name used by many attributes, deep nesting that redeclares, and
 * body declarations copied into every payload. bench/body.ts times them;
 * test/unit/body-hostile.test.ts checks what the readers make of them.
 *
 * Every hostile document is ASCII, so its length is its size in bytes, and at most `bytes` long.
 */

export const HB = 'http://jabber.org/protocol/httpbind'

export interface HostileShape {
  name: string
  /** a BOSH body of at most `bytes` bytes */
  body: (bytes: number) => string
  /** the same shape as one WebSocket message, when it has one */
  message?: (bytes: number) => string
}

/** `head`, then as many `unit(k)` as fit, then `tail`, in at most `bytes`. */
function fill (head: string, unit: (k: number) => string, tail: string, bytes: number): string {
  const parts = [head]
  let size = head.length + tail.length
  for (let k = 0; ; k++) {
    const u = unit(k)
    if (size + u.length > bytes) break
    parts.push(u)
    size += u.length
  }
  parts.push(tail)
  return parts.join('')
}

const BODY = `<body xmlns='${HB}' rid='1' sid='x'`
const decl = (k: number): string => ` xmlns:p${k}='u${k}'`

/** `n` declarations and `n` uses of the same prefixes in about `bytes`: how many fit. */
function pairs (bytes: number, useSize: number): number {
  return Math.floor((bytes - 200) / (decl(99999).length + useSize))
}

function declsThenUses (bytes: number, use: (k: number) => string, wrap: (uses: string) => string): string {
  const n = pairs(bytes, use(99999).length)
  const decls = Array.from({ length: n }, (_, k) => decl(k)).join('')
  const uses = Array.from({ length: n }, (_, k) => use(k)).join('')
  return `${BODY}${decls}>${wrap(uses)}</body>`
}

/** A payload element `<m …/>` carrying as many `unit(k)` as fit in `bytes` within `head`/`tail`. */
const oneElement = (head: string, unit: (k: number) => string, tail: string) => (bytes: number): string =>
  fill(head, unit, tail, bytes)

/** Depth 63 below the body (maxDepth is 64), each level redeclaring the same prefixes, all used at the bottom. */
function deep (head: string, tail: string, bytes: number, levels = 63): string {
  const per = Math.floor((bytes - head.length - tail.length - levels * 10 - 200) / (levels * decl(999).length + ' p999:a=\'\''.length))
  const decls = Array.from({ length: per }, (_, k) => decl(k)).join('')
  const uses = Array.from({ length: per }, (_, k) => ` p${k}:a=''`).join('')
  return `${head}${`<e${decls}>`.repeat(levels - 1)}<e${uses}/>${'</e>'.repeat(levels - 1)}${tail}`
}

export const HOSTILE_SHAPES: HostileShape[] = [
  {
    name: 'prefixes declared on <body/>',
    body: bytes => fill(BODY, decl, '/>', bytes)
  },
  {
    name: 'attributes on <body/>',
    body: bytes => fill(BODY, k => ` a${k}=''`, '/>', bytes),
    // as a message: the same on the stream header <open/> (RFC 7395 §3.3.2)
    message: bytes => fill("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='x' version='1.0'", k => ` a${k}=''`, '/>', bytes)
  },
  {
    name: 'body prefixes used by one payload (elements)',
    body: bytes => declsThenUses(bytes, k => `<p${k}:a/>`, uses => `<m>${uses}</m>`)
  },
  {
    name: 'body prefixes used by one payload (attributes)',
    body: bytes => declsThenUses(bytes, k => ` p${k}:a=''`, uses => `<m${uses}/>`)
  },
  {
    name: 'body prefixes used by 100 payloads',
    body: bytes => {
      const n = Math.floor((bytes - 3000) / decl(99999).length)
      const decls = Array.from({ length: n }, (_, k) => decl(k)).join('')
      // each payload uses a different prefix, so that every payload copies a declaration
      const uses = Array.from({ length: 100 }, (_, k) => `<p${(k * 997) % n}:m/>`).join('')
      return `${BODY}${decls}>${uses}</body>`
    }
  },
  {
    name: '100 payloads each using every body prefix',
    body: bytes => {
      let n = 0
      for (let declared = 0, used = 0; ; n++) {
        declared += decl(n).length
        used += `<p${n}:a/>`.length
        if (BODY.length + declared + 1 + 100 * ('<m></m>'.length + used) + '</body>'.length > bytes) break
      }
      const decls = Array.from({ length: n }, (_, k) => decl(k)).join('')
      const payload = `<m>${Array.from({ length: n }, (_, k) => `<p${k}:a/>`).join('')}</m>`
      return `${BODY}${decls}>${payload.repeat(100)}</body>`
    }
  },
  {
    name: 'one long body declaration used by 100 payloads',
    body: bytes => `${BODY} xmlns:p='${'u'.repeat(bytes - 1000)}'>${'<p:m/>'.repeat(100)}</body>`
  },
  {
    name: 'prefixes declared on one element',
    body: oneElement(`${BODY}><m`, decl, '/></body>'),
    message: oneElement("<m xmlns='jabber:client'", decl, '/>')
  },
  {
    name: 'attributes on one element',
    body: oneElement(`${BODY}><m`, k => ` a${k}=''`, '/></body>'),
    message: oneElement("<m xmlns='jabber:client'", k => ` a${k}=''`, '/>')
  },
  {
    name: 'one long namespace, many attributes in it (body)',
    body: bytes => oneElement(`${BODY} xmlns:p='${'u'.repeat(bytes / 2)}'`, k => ` p:a${k}=''`, '/>')(bytes)
  },
  {
    name: 'one long namespace, many attributes in it (payload)',
    body: bytes => oneElement(`${BODY}><m xmlns:p='${'u'.repeat(bytes / 2)}'`, k => ` p:a${k}=''`, '/></body>')(bytes),
    message: bytes => oneElement(`<m xmlns='jabber:client' xmlns:p='${'u'.repeat(bytes / 2)}'`, k => ` p:a${k}=''`, '/>')(bytes)
  },
  {
    name: 'deep nesting, every level redeclaring',
    body: bytes => deep(`${BODY}><m>`, '</m></body>', bytes),
    message: bytes => deep("<m xmlns='jabber:client'>", '</m>', bytes)
  }
]

/**
 * A benign body of about `bytes`: 100 chat messages of prose with references and multibyte
 * characters, the most a body may carry (maxPayloads), as a busy client might send.
 */
export function benignBody (bytes: number): string {
  const prose = 'Grüße, café &amp; crème brûlée — “quoted” &lt;b&gt; 😀 plain ASCII words to pad the line out. '
  const each = Math.floor((bytes - 200) / 100)
  const message = (k: number, text: string): string =>
    `<message xmlns='jabber:client' to='bob@example.com/converse.js-123' type='chat' id='7c1b2a3e-${k}'>` +
    `<body>${text}</body><origin-id xmlns='urn:xmpp:sid:0' id='7c1b2a3e-${k}'/>` +
    "<request xmlns='urn:xmpp:receipts'/><markable xmlns='urn:xmpp:chat-markers:0'/></message>"
  const overhead = Buffer.byteLength(message(99, ''))
  const text = prose.repeat(Math.floor((each - overhead) / Buffer.byteLength(prose)))
  return `${BODY}>${Array.from({ length: 100 }, (_, k) => message(k, text)).join('')}</body>`
}
