/**
 * The null backend for edge-only runs: a process that answers mod_megaphone's side of the link
 * protocol (docs/link-protocol.md) and logs every session in at once, with no XMPP server
 * behind it, so the edge alone is measured. HELLO/AUTH/AUTH_OK with the real HMAC proofs, PONG,
 * STATS_REPLY; OPEN → STREAM_START + features (SASL PLAIN); `<auth/>` → `<success/>`; RESTART →
 * STREAM_START + features (bind); bind → its result; CLOSE → CLOSE. Everything else is dropped.
 *
 * Run by the harness as a child process (it reports its port over IPC), or alone:
 *   node --import tsx bench/load/null-backend.ts SECRET [PORT]
 */
import { randomBytes } from 'node:crypto'
import { createServer, type Socket } from 'node:net'
import {
  FrameDecoder, encodeAuthOk, encodeClose, encodeData, encodeError, encodeHello, encodePong, encodeStatsReply,
  encodeStreamStart, parseAuth, parseData, parseOpen, parsePing, parseStatsRequest,
  AUTH, CLOSE, DATA, OPEN, PING, RESTART, STATS_REQUEST, PROTOCOL_ERRORS
} from '../../src/link/codec/index.ts'
import { backendMac, edgeMac, macEqual } from '../../src/link/handshake.ts'
import { isMessage, post, type FromBackend, type ToBackend } from './ipc.ts'

const SASL_FEATURES = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"
const BIND_FEATURES = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
const SUCCESS = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"

let links = 0
let opened = 0
let live = 0
let streams = 0

function serve (socket: Socket, secret: string): void {
  links++
  const nb = randomBytes(32)
  let authenticated = false
  /** what the edge's domain was, per connection: only needed for the bind result */
  const domains = new Map<number, string>()
  // Answers to one chunk go out in one write: the edge sends frames in bursts.
  let out: Buffer[] = []
  const decoder = new FrameDecoder({
    onFrame: (connId, type, data) => {
      if (!authenticated) {
        const auth = type === AUTH ? parseAuth(data) : undefined
        if (auth === undefined || !('mac' in auth) || !macEqual(auth.mac, edgeMac(secret, nb, auth.nonce))) {
          socket.end(encodeError(0, PROTOCOL_ERRORS['auth-failed'], ''))
          return
        }
        authenticated = true
        out.push(encodeAuthOk(backendMac(secret, auth.nonce, nb)))
        return
      }
      switch (type) {
        case PING: {
          const p = parsePing(data)
          if (p instanceof Buffer) out.push(encodePong(p))
          return
        }
        case STATS_REQUEST: {
          const id = parseStatsRequest(data)
          if (typeof id === 'number') out.push(encodeStatsReply({ requestId: id, linkSessions: live, nodeSessions: live }))
          return
        }
        case OPEN: {
          const p = parseOpen(connId, data)
          const to = 'to' in p ? p.to : 'localhost'
          domains.set(connId, to)
          opened++
          live++
          out.push(encodeStreamStart(connId, { id: `n${++streams}`, from: to, version: '1.0', lang: 'en' }), encodeData(connId, SASL_FEATURES))
          return
        }
        case RESTART:
          out.push(encodeStreamStart(connId, { id: `n${++streams}`, from: domains.get(connId) ?? 'localhost', version: '1.0', lang: 'en' }), encodeData(connId, BIND_FEATURES))
          return
        case DATA: {
          const xml = parseData(connId, data)
          if (typeof xml !== 'string') return
          if (xml.startsWith('<auth')) out.push(encodeData(connId, SUCCESS))
          else if (xml.startsWith('<iq') && xml.includes('xmpp-bind')) {
            const id = /\sid=['"]([^'"]*)['"]/.exec(xml)?.[1] ?? 'bind'
            out.push(encodeData(connId, `<iq xmlns='jabber:client' type='result' id='${id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>u${connId}@${domains.get(connId) ?? 'localhost'}/null</jid></bind></iq>`))
          }
          return
        }
        case CLOSE:
          if (domains.delete(connId)) live--
          out.push(encodeClose(connId, ''))
      }
    },
    onError: () => {}
  })
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk)
    if (out.length === 0) return
    socket.write(out.length === 1 ? out[0]! : Buffer.concat(out))
    out = []
  })
  socket.on('error', () => {})
  socket.on('close', () => {
    links--
    live -= domains.size
  })
  socket.write(encodeHello(1, 1, nb))
}

export async function startNullBackend (secret: string, port = 0): Promise<{ port: number, close: () => Promise<void> }> {
  const server = createServer(socket => { serve(socket, secret) })
  await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve))
  const address = server.address()
  return {
    port: typeof address === 'object' && address !== null ? address.port : port,
    close: async () => { await new Promise<void>(resolve => server.close(() => { resolve() })) }
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const secret = process.argv[2] ?? process.env.MEGAPHONE_LINK_SECRET ?? ''
  if (secret.length < 16) {
    console.error('usage: node --import tsx bench/load/null-backend.ts SECRET(16+ chars) [PORT]')
    process.exit(2)
  }
  const backend = await startNullBackend(secret, Number(process.argv[3] ?? 0))
  if (process.send !== undefined) {
    post(process, { type: 'ready', port: backend.port } satisfies FromBackend)
    process.on('message', (m: unknown) => {
      if (!isMessage(m)) return
      const msg = m as ToBackend
      if (msg.type === 'counts') post(process, { type: 'counts', links, opened, live } satisfies FromBackend)
      if (msg.type === 'stop') process.exit(0)
    })
    process.on('disconnect', () => { process.exit(0) })
  } else {
    console.log(`null backend on 127.0.0.1:${backend.port}`)
  }
}
