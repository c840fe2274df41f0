/**
 * Counts the open connections of each client address on a server (HTTP and WebSocket alike: a
 * WebSocket is an upgraded HTTP connection) and turns away one past the limit with a bare 429
 * before Node reads a request from it. Connections from trusted proxies are not counted: a
 * proxy carries many clients, whose addresses only its requests' X-Forwarded-For tells (the
 * per-request limits, on BOSH requests and sessions, count those).
 */
import type { Server, Socket } from 'node:net'
import type { AddressRanges } from '../http/client-address.ts'
import type { Admission } from './admission.ts'

// RFC 6585 §4. Written before any request is read: the client takes it as the answer to its first.
const TOO_MANY = 'HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 40\r\nConnection: close\r\n\r\ntoo many connections from this address\r\n'

/** Starts counting the connections `server` accepts from now on. */
export function countConnections (server: Server, admission: Admission, trusted: AddressRanges): void {
  server.on('connection', (socket: Socket) => {
    const ip = socket.remoteAddress
    if (ip === undefined || trusted.has(ip)) return
    if (admission.admitConnection(ip) !== null) {
      // Closed once written, whatever the client sends meanwhile.
      socket.end(TOO_MANY, () => { socket.destroy() })
      return
    }
    // One listener per connection (not per request); the address is read now: a closed socket
    // may no longer know its peer.
    socket.once('close', () => { admission.connectionClosed(ip) })
  })
}
