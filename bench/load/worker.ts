/**
 * One client worker process: holds a slice of the sessions (at most ~15,000 sockets, under the
 * 20,000-file limit), logs them in at the rate it is given, sends stamped messages and accounts
 * for the ones it receives, and answers the harness over IPC (ipc.ts). Started by pool.ts.
 */
import http from 'node:http'
import https from 'node:https'
import hdr from 'hdr-histogram-js'
import { BoshClientSession, type BoshEndpoint } from './bosh-client.ts'
import { WsClientSession } from './ws-client.ts'
import type { ClientSession, SessionEvents } from './session.ts'
import { isMessage, post, type FromWorker, type ToWorker, type User, type WorkerInit, type WorkerStats } from './ipc.ts'
import { newHistogram } from './histogram.ts'

/** Logins in flight at once per worker (WorkerInit.loginsInFlight): a slow server must not make the worker open a socket per session at once. */
const MAX_LOGINS_IN_FLIGHT = 1000
/** Keys (sender, seq) and (receiver, sender) as one safe integer each. */
const KEY = 2 ** 26

let init: WorkerInit | undefined
let sessions: ClientSession[] = []
let agent: http.Agent | undefined
let online = 0
let failed = 0
let loginsDone = 0
let sent = 0
let received = 0
let duplicated = 0
let reordered = 0
let polls = 0
let pollErrors = 0
let held = 0
let droppedCount = 0
/** sessions started so far, and how many the last login asked for (a ramp asks in steps) */
let nextLogin = 0
let loginTarget = Number.POSITIVE_INFINITY
let holding = false
let polling = false
const failures: Record<string, number> = {}
const dropped: Record<string, number> = {}
const loginMs: number[] = []
const seen = new Set<number>()
const lastSeq = new Map<number, number>()
const histogram = newHistogram()
const seqOf = new Map<number, number>()
let progressTimer: NodeJS.Timeout | undefined

function bump (table: Record<string, number>, key: string): void {
  table[key] = (table[key] ?? 0) + 1
}

const events: SessionEvents = {
  online (s) {
    online++
    loginsDone++
    loginMs.push(Math.round(s.loginMs))
  },
  failed (_s, condition) {
    failed++
    loginsDone++
    bump(failures, condition)
  },
  dropped (_s, condition) {
    online--
    droppedCount++
    bump(dropped, condition)
  },
  message (s, sender, seq, sentAt) {
    const key = sender * KEY + seq
    if (seen.has(key)) { duplicated++; return }
    seen.add(key)
    received++
    // µs, at least 1: the histogram's lowest discernible value.
    histogram.recordValue(Math.max(1, Math.round((performance.timeOrigin + performance.now() - sentAt) * 1000)))
    const pair = s.index * KEY + sender
    const last = lastSeq.get(pair) ?? -1
    // Per sender→receiver pair, seqs rise; a lower one arrived after a higher one.
    if (seq < last) reordered++
    else lastSeq.set(pair, seq)
  }
}

function userAt (w: WorkerInit, i: number): User {
  const u = w.users
  if (Array.isArray(u)) return u[i] ?? { name: `missing${i}`, password: '' }
  return { name: `${u.prefix}${i + 1}`, password: u.password }
}

function setUp (w: WorkerInit): void {
  init = w
  const url = new URL(w.url)
  const tls = url.protocol === 'https:'
  if (w.transport === 'bosh') {
    // Keep-alive: one socket carries many requests. Held requests keep theirs; the free pool is
    // capped so that sockets opened for a burst are closed again instead of piling up.
    // keepAliveMsecs is the TCP keep-alive probe delay of every socket (Node's default 1 s, and
    // libuv then probes every second, 10 unanswered abort): with 100,000 held long-polls that is
    // 100,000 probes a second on loopback, and a starved machine aborted hundreds of sockets
    // (ETIMEDOUT, TCPAbortOnTimeout). The server answers every held request within `wait`.
    const agentOptions = { keepAlive: true, keepAliveMsecs: 3_600_000, maxSockets: w.maxSockets > 0 ? w.maxSockets : Infinity, maxFreeSockets: 512, scheduling: 'lifo' as const }
    agent = tls ? new https.Agent(agentOptions) : new http.Agent(agentOptions)
  }
  // Several edges: one endpoint each; session i talks to the edge i mod N created it on.
  const urls = w.urls !== undefined && w.urls.length > 0 ? w.urls : [w.url]
  const pool = agent
  const eps: BoshEndpoint[] = pool === undefined
    ? []
    : urls.map(u => {
      const p = new URL(u)
      return { host: p.hostname, port: p.port !== '' ? Number(p.port) : (tls ? 443 : 80), path: p.pathname + p.search, tls, agent: pool, wait: w.wait, hold: w.hold }
    })
  const loginTimeoutMs = w.loginTimeout * 1000
  sessions = []
  for (let k = 0; k < w.count; k++) {
    const i = w.first + k
    // No source addresses (a remote server): the system picks the interface.
    const local = w.localAddresses.length > 0 ? w.localAddresses[k % w.localAddresses.length] : undefined
    const ep = eps[i % Math.max(1, eps.length)]
    sessions.push(ep !== undefined
      ? new BoshClientSession(i, userAt(w, i), w.domain, events, loginTimeoutMs, w.loginDepth, ep, local)
      : new WsClientSession(i, userAt(w, i), w.domain, events, loginTimeoutMs, w.loginDepth, urls[i % urls.length]!, local))
  }
  progressTimer = setInterval(report, 500)
}

function report (): void {
  const msg: FromWorker = { type: 'progress', online, failed, sent, received, polls, held, done: loginsDone >= Math.min(sessions.length, loginTarget), dropped: droppedCount }
  post(process, msg)
}

/**
 * Starts logins at `rate` per second (0: as fast as the in-flight cap allows), from where the
 * previous login stopped, until `upTo` sessions were started in all (a ramp's step) or all were.
 */
function login (rate: number, upTo = sessions.length): void {
  const from = nextLogin
  const until = Math.min(sessions.length, upTo)
  loginTarget = until
  const started = performance.now()
  const tick = (): void => {
    const due = rate > 0 ? Math.min(until, from + Math.floor((performance.now() - started) / 1000 * rate) + 1) : until
    const cap = init?.loginsInFlight ?? MAX_LOGINS_IN_FLIGHT
    while (nextLogin < due && nextLogin - loginsDone < cap) sessions[nextLogin++]!.start()
    if (nextLogin < until) setTimeout(tick, 5)
  }
  tick()
}

/** Sends `rate` messages per second for `seconds` from random online sessions to random recipients. */
function send (rate: number, seconds: number, recipients: number[]): void {
  const w = init
  if (w === undefined || recipients.length < 2) return
  const senders = sessions.filter(s => s.online)
  if (senders.length === 0) return
  const total = Math.round(rate * seconds)
  let done = 0
  const started = performance.now()
  const tick = (): void => {
    const due = Math.min(total, Math.floor((performance.now() - started) / 1000 * rate))
    while (done < due) {
      done++
      const s = senders[Math.floor(Math.random() * senders.length)]!
      if (!s.online) continue
      let to = recipients[Math.floor(Math.random() * recipients.length)]!
      if (to === s.index) to = recipients[(recipients.indexOf(to) + 1) % recipients.length]!
      const seq = (seqOf.get(s.index) ?? 0) + 1
      seqOf.set(s.index, seq)
      s.sendMessage(userAt(w, to).name, seq)
      sent++
    }
    if (done < total) setTimeout(tick, 2)
  }
  tick()
}

/** Edge-only: polls every online session once per pass, passes at least `interval` s apart. */
function poll (interval: number, concurrency: number): void {
  polling = true
  let i = 0
  let inFlight = 0
  let passStarted = performance.now()
  const live = sessions.filter((s): s is BoshClientSession => s instanceof BoshClientSession && s.online)
  const pump = (): void => {
    while (polling && inFlight < concurrency) {
      if (i >= live.length) {
        // XEP-0124 §12: a polling session may not poll empty more often than `polling` (2 s).
        if (performance.now() - passStarted < interval * 1000 || inFlight > 0) { setTimeout(pump, 50); return }
        i = 0
        passStarted = performance.now()
      }
      const s = live[i++]
      if (s === undefined) return
      if (!s.online) continue
      inFlight++
      s.pollOnce(err => {
        inFlight--
        polls++
        if (err !== undefined) { pollErrors++; bump(failures, `poll:${err}`) }
        pump()
      })
    }
  }
  pump()
}

/** Edge-only: one long-poll held per session, each on its own connection, renewed when answered. */
function hold (): void {
  holding = true
  const renew = (s: BoshClientSession): void => {
    if (!holding || !s.online) return
    held++
    s.pollOnce(err => {
      held--
      if (err !== undefined) { pollErrors++; bump(failures, `hold:${err}`); return }
      renew(s)
    })
  }
  let i = 0
  // Open the held requests in slices so the edge's accept queue is never flooded.
  const slice = (): void => {
    const end = Math.min(sessions.length, i + 500)
    for (; i < end; i++) {
      const s = sessions[i]
      if (s instanceof BoshClientSession) renew(s)
    }
    if (i < sessions.length) setTimeout(slice, 20)
  }
  slice()
}

function stats (): WorkerStats {
  return {
    type: 'stats',
    online,
    failed,
    failures,
    loginMs,
    onlineIndices: sessions.filter(s => s.online).map(s => s.index),
    sent,
    received,
    duplicated,
    reordered,
    histogram: hdr.encodeIntoCompressedBase64(histogram),
    dropped,
    polls,
    pollErrors
  }
}

function logout (): void {
  holding = false
  polling = false
  let i = 0
  // In slices: a BOSH terminate is one more request (and maybe one more socket) per session. Past
  // 5,000 sessions, 2,000/s: with every session's long-poll already holding a socket, a faster
  // burst of new connections takes a worker and an edge of ~14,000 held polls past 20,000 files.
  const pause = sessions.length > 5000 ? 250 : 50
  const slice = (): void => {
    const end = Math.min(sessions.length, i + 500)
    for (; i < end; i++) sessions[i]!.logout()
    if (i < sessions.length) { setTimeout(slice, pause); return }
    // Let the last terminates and WebSocket closes go out before saying so.
    setTimeout(() => { post(process, { type: 'logged-out' } satisfies FromWorker) }, 1000)
  }
  slice()
}

process.on('message', (m: unknown) => {
  if (!isMessage(m)) return
  const msg = m as ToWorker
  switch (msg.type) {
    case 'init': setUp(msg); post(process, { type: 'ready' } satisfies FromWorker); break
    case 'login': login(msg.rate, msg.upTo); break
    case 'send': send(msg.rate, msg.seconds, msg.recipients); break
    case 'reset-latency': histogram.reset(); break
    case 'poll': poll(msg.interval, msg.concurrency); break
    case 'stop-polling': polling = false; break
    case 'hold': hold(); break
    case 'collect': post(process, stats()); break
    case 'logout': logout(); break
    case 'exit':
      clearInterval(progressTimer)
      agent?.destroy()
      process.exit(0)
  }
})
// The harness going away ends the worker: no client process outlives a run.
process.on('disconnect', () => { process.exit(0) })
