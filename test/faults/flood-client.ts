/**
 * The flooding client of test/faults/flood.test.ts, in a process of its own so that its work does
 * not share an event loop with the clients being measured. FLOOD_SESSIONS BOSH sessions of one
 * user each log in over raw BOSH, then send bodies of FLOOD_PAYLOADS headline messages of
 * FLOOD_BYTES bytes as fast as XEP-0124 allows (§11: two requests out; the next body leaves as
 * soon as one is answered) until FLOOD_SECONDS have passed. A session the edge ends logs in again
 * (an attacker would). Prints one JSON line: logins, bodies answered, messages in them, bytes,
 * and the conditions sessions were ended with.
 *
 *   FLOOD_URL=http://127.0.0.1:5280/http-bind FLOOD_USER=flooder FLOOD_PASSWORD=demo \
 *     node --import tsx test/faults/flood-client.ts
 */
import { RawBosh, endpoint } from '../fixtures/raw-bosh.ts'

const env = (k: string, d: string): string => process.env[k] ?? d
const url = env('FLOOD_URL', 'http://127.0.0.1:5280/http-bind')
const user = env('FLOOD_USER', 'flooder')
const password = env('FLOOD_PASSWORD', 'demo')
const domain = env('FLOOD_DOMAIN', 'localhost')
const to = env('FLOOD_TO', `sink@${domain}`)
const sessions = Number(env('FLOOD_SESSIONS', '8'))
const payloads = Number(env('FLOOD_PAYLOADS', '100'))
const bytes = Number(env('FLOOD_BYTES', String(9.5 * 1024)))
const seconds = Number(env('FLOOD_SECONDS', '10'))

const ep = endpoint(url)
// One message of `bytes` bytes; headline to an offline user: ejabberd neither stores nor bounces
// it (RFC 6121 §8.5.2.1.1), so the cost is the edge's, the link's and ejabberd's routing only.
const head = `<message xmlns='jabber:client' to='${to}' type='headline'><body>`
const tail = '</body></message>'
const message = head + 'f'.repeat(Math.max(0, bytes - head.length - tail.length)) + tail
const payload = message.repeat(payloads)

const out = { sessions, payloads, bytesPerMessage: message.length, seconds, logins: 0, loginFailures: 0, bodies: 0, messages: 0, bytes: 0, refusedBodies: 0, ended: {} as Record<string, number>, loginErrors: [] as string[] }
const deadline = performance.now() + seconds * 1000
const over = (): boolean => performance.now() >= deadline

async function lane (s: RawBosh): Promise<void> {
  while (!over() && s.ended === undefined) {
    const a = await s.post(s.body(payload))
    if (a.ended === undefined) {
      out.bodies++
      out.messages += payloads
      out.bytes += payload.length
    } else {
      out.refusedBodies++
    }
  }
}

async function worker (i: number): Promise<void> {
  for (let n = 0; !over(); n++) {
    const s = new RawBosh(ep, domain)
    try {
      await s.login(user, password, `flood${i}`, false)
      out.logins++
    } catch (err) {
      out.loginFailures++
      if (out.loginErrors.length < 5) out.loginErrors.push(String(err))
      await new Promise(resolve => setTimeout(resolve, 100))
      continue
    }
    // XEP-0124 §11: hold + 1 = 2 requests at once. At the deadline a terminate answers the
    // request the server holds (it would otherwise wait out `wait`).
    const stop = setTimeout(() => { void s.terminate() }, Math.max(0, deadline - performance.now()))
    await Promise.all([lane(s), lane(s)])
    clearTimeout(stop)
    // 'terminate' without a condition is our own terminate at the deadline.
    if (s.ended !== undefined && s.ended !== 'terminate') out.ended[s.ended] = (out.ended[s.ended] ?? 0) + 1
  }
}

await Promise.all(Array.from({ length: sessions }, async (_, i) => { await worker(i) }))
process.stdout.write(JSON.stringify(out) + '\n')
ep.agent.destroy()
