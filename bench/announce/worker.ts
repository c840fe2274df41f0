/**
 * One client worker of the announcement benchmark (bench/announce/main.ts): holds a slice of the
 * sessions through one BOSH URL (the edge's, or ejabberd's mod_bosh), logs them in, notes when
 * each receives the announcement (`<body>ann …</body>`), and lets the first `chatters` sessions
 * of the run chat with stamped messages (bench/load/session.ts) whose latency it records. Talks
 * to the harness over IPC (ipc.ts beside it). The login and chat are the load harness's own
 * (bench/load/bosh-client.ts, session.ts), so both targets are driven by the same client.
 */
import http from 'node:http'
import hdr from 'hdr-histogram-js'
import { BoshClientSession, type BoshEndpoint } from '../load/bosh-client.ts'
import { now, type SessionEvents, type ClientSession } from '../load/session.ts'
import { newHistogram } from '../load/histogram.ts'
import { isMessage, post } from '../load/ipc.ts'
import type { AnnounceInit, FromAnnounceWorker, ToAnnounceWorker } from './ipc.ts'

const MAX_LOGINS_IN_FLIGHT = 500
const ANN = /<body>ann (\d+)<\/body>/g

let init: AnnounceInit | undefined
let sessions: AnnSession[] = []
let online = 0
let failed = 0
let dropped = 0
let loginsDone = 0
const failures: Record<string, number> = {}
/** first arrival (ms, wall clock) of the current announcement per session; 0: not yet */
let arrivals = new Float64Array(0)
let announcementId = 0
let reached = 0
let duplicates = 0
let lastArrival = 0
let chat = newHistogram()
let chatSent = 0
let chatReceived = 0
let chatting = false
const seqOf = new Map<number, number>()
const seen = new Set<number>()

class AnnSession extends BoshClientSession {
  protected override onText (text: string): void {
    if (text.includes('<body>ann ')) {
      for (const m of text.matchAll(ANN)) announced(this, Number(m[1]))
    }
    super.onText(text)
  }

  /** One raw element (the mod_announce trigger). */
  sendRaw (xml: string): void {
    this.transmit(xml)
  }
}

function announced (s: AnnSession, id: number): void {
  if (id !== announcementId) return
  const k = s.index - (init?.first ?? 0)
  if (arrivals[k] !== 0) { duplicates++; return }
  const t = now()
  arrivals[k] = t
  reached++
  if (t > lastArrival) lastArrival = t
}

const events: SessionEvents = {
  online () { online++; loginsDone++ },
  failed (_s, condition) { failed++; loginsDone++; failures[condition] = (failures[condition] ?? 0) + 1 },
  dropped (_s, condition) { online--; dropped++; failures[`dropped:${condition}`] = (failures[`dropped:${condition}`] ?? 0) + 1 },
  message (_s: ClientSession, sender, seq, sentAt) {
    const key = sender * 2 ** 26 + seq
    if (seen.has(key)) return
    seen.add(key)
    chatReceived++
    chat.recordValue(Math.max(1, Math.round((now() - sentAt) * 1000)))
  }
}

function setUp (w: AnnounceInit): void {
  init = w
  const url = new URL(w.url)
  const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 512, scheduling: 'lifo' })
  const ep: BoshEndpoint = { host: url.hostname, port: Number(url.port), path: url.pathname, tls: false, agent, wait: 60, hold: 1 }
  sessions = []
  for (let k = 0; k < w.count; k++) {
    const i = w.first + k
    sessions.push(new AnnSession(i, { name: `${w.prefix}${i + 1}`, password: w.password }, w.domain, events, 120_000, 'full', ep, w.localAddresses[k % w.localAddresses.length]))
  }
  arrivals = new Float64Array(w.count)
}

function login (rate: number): void {
  let next = 0
  const started = performance.now()
  const tick = (): void => {
    const due = Math.min(sessions.length, Math.floor((performance.now() - started) / 1000 * rate) + 1)
    while (next < due && next - loginsDone < MAX_LOGINS_IN_FLIGHT) sessions[next++]!.start()
    if (next < sessions.length) setTimeout(tick, 5)
  }
  tick()
}

/** The chatters of this worker send `rate` messages/s in all to random other chatters, until stopped. */
function startChat (rate: number, chatters: number): void {
  const w = init
  if (w === undefined) return
  const mine = sessions.filter(s => s.index < chatters && s.online)
  if (mine.length === 0 || chatters < 2) return
  chatting = true
  let done = 0
  const started = performance.now()
  const tick = (): void => {
    if (!chatting) return
    const due = Math.floor((performance.now() - started) / 1000 * rate)
    while (done < due) {
      done++
      const s = mine[Math.floor(Math.random() * mine.length)]!
      if (!s.online) continue
      let to = Math.floor(Math.random() * chatters)
      if (to === s.index) to = (to + 1) % chatters
      const seq = (seqOf.get(s.index) ?? 0) + 1
      seqOf.set(s.index, seq)
      s.sendMessage(`${w.prefix}${to + 1}`, seq)
      chatSent++
    }
    setTimeout(tick, 2)
  }
  tick()
}

function report (): void {
  post(process, { type: 'progress', online, failed, dropped, loginsDone, reached, duplicates, lastArrival, chatSent, chatReceived } satisfies FromAnnounceWorker)
}

process.on('message', (m: unknown) => {
  if (!isMessage(m)) return
  const msg = m as ToAnnounceWorker
  switch (msg.type) {
    case 'init': setUp(msg.init); setInterval(report, 250); post(process, { type: 'ready' } satisfies FromAnnounceWorker); break
    case 'login': login(msg.rate); break
    case 'expect':
      announcementId = msg.id
      arrivals.fill(0)
      reached = 0
      duplicates = 0
      lastArrival = 0
      break
    case 'chat':
      chat = newHistogram()
      chatSent = 0
      chatReceived = 0
      startChat(msg.rate, msg.chatters)
      break
    case 'stop-chat':
      chatting = false
      // What is still in flight arrives within a second; then the histogram is sent.
      setTimeout(() => {
        post(process, { type: 'chat', histogram: hdr.encodeIntoCompressedBase64(chat), sent: chatSent, received: chatReceived } satisfies FromAnnounceWorker)
      }, 1500)
      break
    case 'send-raw': sessions.find(s => s.online)?.sendRaw(msg.xml); break
    case 'exit':
      for (const s of sessions) s.logout()
      setTimeout(() => { process.exit(0) }, 1000)
      break
  }
})
process.on('disconnect', () => { process.exit(0) })
