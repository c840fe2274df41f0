/**
 * Fuzzing the edge (issue 16) in front of the scripted fake backend (bench/fuzz/edge-target.ts):
 *  1. BOSH bodies POSTed over real HTTP to /http-bind, case by case: a session creation
 *     (valid, mutated or random), then up to 8 bodies on that session with its sid or a wrong
 *     one and its rid or a wrong one (bench/fuzz/edge-inputs.ts), maybe a terminate;
 *  2. WebSocket messages over real sockets: an `<open/>`, up to 24 messages, maybe `<close/>`;
 *  3. bodies and messages straight into the parsers (src/bosh/body.ts, src/ws/message.ts) under
 *     fc.assert, for throughput: they return a value or a coded error, never throw, and every
 *     payload they accept is one standalone well-formed element.
 * The inputs are drawn by fast-check from printed seeds (fc.sample per batch of cases, so that
 * many cases run at once over HTTP; fc.assert for the parsers). Properties: no exception reaches
 * the process or the HTTP front, every reply is well-formed with a defined condition
 * (bench/fuzz/edge-checks.ts), a control session on each transport keeps answering a round trip,
 * and the heap after a full collection stays flat (reported with its slope).
 */
import fc from 'fast-check'
import { Agent, request } from 'node:http'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { WebSocket } from 'ws'
import { parseBody, BoshBodyError } from '../../src/bosh/body.ts'
import { parseMessage, WsMessageError } from '../../src/ws/message.ts'
import { XmlScanner } from '../../src/xml/scanner.ts'
import {
  BOSH_BODIES, HB, boshCaseArb, creationBytes, rawArb, realise, recipeArb, stepBytes, terminateBody, wsBytes, wsCaseArb,
  FRAMING, WS_MESSAGES, type BoshCase, type WsCase
} from './edge-inputs.ts'
import { checkBoshReply, checkWsMessage, parseStrict } from './edge-checks.ts'
import { startFuzzEdge, type FuzzEdge } from './edge-target.ts'
import { summarise, type MemorySample, type MemorySummary } from './slope.ts'

export interface EdgeFuzzOptions {
  seed: number
  bodies: number
  messages: number
  /** inputs into each parser */
  parserInputs: number
  /** cases run at once */
  concurrency?: number
  /** inputs between two control round trips and memory samples */
  checkEvery?: number
  log?: (line: string) => void
}

export interface EdgeFuzzResult {
  seed: number
  bodies: number
  messages: number
  sockets: number
  parserBodies: number
  parserMessages: number
  parserRate: number
  durationMs: number
  statuses: Record<string, number>
  conditions: Record<string, number>
  streamErrors: Record<string, number>
  closeCodes: Record<string, number>
  controlRoundTrips: number
  /** uncaught exceptions, unhandled rejections, 500s, exceptions the HTTP front caught */
  crashes: number
  crashSamples: string[]
  /** replies that were not well-formed or had no defined condition, with the input that caused them */
  badReplies: string[]
  /** the heap while the edge served BOSH and WebSocket (samples every checkEvery inputs) */
  memory: MemorySummary
  /** the heap after the parser runs, which hold fast-check's and the parsers' own state */
  afterParsersBytes: number
  samples: MemorySample[]
  sessionsLeft: number
  /** connections the edge opened on the backend and never closed (the control sessions' among them) */
  backendConnsLeft: number
}

const BATCH = 200

/** A full collection, so that the heap sampled is what is live (the flag is set at run time, as bench/table.ts's --expose-gc would). */
function gcFunction (): () => void {
  setFlagsFromString('--expose-gc')
  const gc: unknown = runInNewContext('gc')
  return typeof gc === 'function' ? () => { (gc as () => void)() } : () => {}
}

function bump (m: Record<string, number>, k: string): void { m[k] = (m[k] ?? 0) + 1 }

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

function preview (b: Buffer | string): string {
  const s = typeof b === 'string' ? b : b.toString('latin1')
  return JSON.stringify(s.length > 300 ? s.slice(0, 300) + `…(${s.length} chars)` : s)
}

class ReusedSocketReset extends Error {}

class Post {
  readonly agent: Agent
  constructor (private readonly url: URL, sockets: number) {
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets })
  }

  async send (body: Buffer | string): Promise<{ status: number, text: string }> {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
    try {
      return await this.once(bytes)
    } catch (err) {
      // A kept-alive socket the server closed as the request went out (its keep-alive timeout):
      // Node's documented answer is to send again once (https://nodejs.org/api/http.html,
      // request.reusedSocket), as browsers do; XEP-0124 §14.3 lets a client resend a rid. A
      // reset on a fresh socket is still reported.
      if (err instanceof ReusedSocketReset) return await this.once(bytes)
      throw err
    }
  }

  private async once (bytes: Buffer): Promise<{ status: number, text: string }> {
    return await new Promise((resolve, reject) => {
      const req = request(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: { 'content-type': 'text/xml; charset=utf-8', 'content-length': bytes.length }
      }, res => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }) })
        res.on('error', reject)
      })
      req.on('error', (err: NodeJS.ErrnoException) => {
        reject(req.reusedSocket && err.code === 'ECONNRESET' ? new ReusedSocketReset(err.message) : err)
      })
      req.end(bytes)
    })
  }
}

const SID = /\bsid='([^']+)'/

export async function fuzzEdge (o: EdgeFuzzOptions): Promise<EdgeFuzzResult> {
  const log = o.log ?? (() => {})
  const concurrency = o.concurrency ?? 16
  const checkEvery = o.checkEvery ?? 20_000
  const gc = gcFunction()
  const crashSamples: string[] = []
  let crashes = 0
  const crash = (what: string): void => { crashes++; if (crashSamples.length < 20) crashSamples.push(what) }
  const onUncaught = (err: unknown): void => { crash(`uncaught: ${String(err instanceof Error ? err.stack : err)}`) }
  const onUnhandled = (err: unknown): void => { crash(`unhandled rejection: ${String(err instanceof Error ? err.stack : err)}`) }
  process.on('uncaughtException', onUncaught)
  process.on('unhandledRejection', onUnhandled)

  const target: FuzzEdge = await startFuzzEdge()
  const post = new Post(new URL(target.boshUrl), concurrency + 4)
  const statuses: Record<string, number> = {}
  const conditions: Record<string, number> = {}
  const streamErrors: Record<string, number> = {}
  const closeCodes: Record<string, number> = {}
  const badReplies: string[] = []
  const bad = (what: string): void => { if (badReplies.length < 50) badReplies.push(what) }
  const samples: MemorySample[] = []
  const t0 = performance.now()
  let done = 0
  let controlRoundTrips = 0
  const sample = (): void => {
    gc()
    samples.push({ t: performance.now() - t0, done, bytes: process.memoryUsage().heapUsed })
  }

  try {
    // ---- the control sessions: one BOSH, one WebSocket, logged in through the same edge
    const control = await boshControl(post)
    const wsControl = await WsControl.open(target.wsUrl)
    const roundTrip = async (): Promise<void> => {
      controlRoundTrips++
      await control.roundTrip(`c${controlRoundTrips}`)
      await wsControl.roundTrip(`w${controlRoundTrips}`)
    }
    await roundTrip()
    let nextCheck = checkEvery
    const checkpoint = async (): Promise<void> => {
      if (done < nextCheck) return
      nextCheck += checkEvery
      await roundTrip()
      sample()
      const m = samples.at(-1)
      log(`  ${done.toLocaleString('en')} inputs, ${((performance.now() - t0) / 1000).toFixed(0)} s, heap ${((m?.bytes ?? 0) / 2 ** 20).toFixed(1)} MiB, sessions ${target.sessions()}`)
    }

    // ---- 1. BOSH over HTTP
    const recentSids: string[] = []
    let bodies = 0
    const boshCase = async (c: BoshCase, where: string): Promise<void> => {
      const check = (input: Buffer | string, r: { status: number, text: string }): void => {
        bump(statuses, String(r.status))
        const v = checkBoshReply(r.status, r.text)
        if (v.condition !== undefined) bump(conditions, v.condition)
        if (r.status === 500) crash(`HTTP 500 for ${where}: ${preview(input)}`)
        else if (!v.ok) bad(`BOSH ${where}: ${v.why ?? ''}; input ${preview(input)}; reply ${preview(r.text)}`)
      }
      const send = async (input: Buffer | string): Promise<void> => {
        bodies++
        done++
        try { check(input, await post.send(input)) } catch (err) { bad(`BOSH ${where}: ${String(err)}; input ${preview(input)}`) }
      }
      const rid0 = 1000 + (bodies % 100_000)
      const creation = creationBytes(c.creation, rid0)
      bodies++
      done++
      let sid: string | undefined
      try {
        const r = await post.send(creation)
        check(creation, r)
        sid = SID.exec(r.text)?.[1]
      } catch (err) { bad(`BOSH ${where}: ${String(err)}; input ${preview(creation)}`) }
      if (sid === undefined) return
      const other = recentSids[bodies % Math.max(1, recentSids.length)] ?? 'none'
      recentSids[bodies % 64] = sid
      let rid = rid0 + 1
      const pending: Array<Promise<void>> = []
      for (const step of c.steps) {
        const p = send(stepBytes(step, { real: sid, other }, rid))
        pending.push(p)
        rid++
        // A held request is released by the next one (hold); do not wait for what is held.
        await Promise.race([p, sleep(2)])
      }
      if (c.terminate) pending.push(send(terminateBody(sid, rid)))
      await Promise.all(pending)
    }
    await runBatches(o.bodies, () => bodies, o.seed, boshCaseArb, concurrency, boshCase, checkpoint)
    log(`  BOSH: ${bodies.toLocaleString('en')} bodies`)

    // ---- 2. WebSocket messages
    let messages = 0
    let sockets = 0
    const wsCase = async (c: WsCase, where: string): Promise<void> => {
      sockets++
      const ws = new WebSocket(target.wsUrl, ['xmpp'])
      const closed = new Promise<number>(resolve => { ws.on('close', code => { resolve(code) }) })
      ws.on('error', () => { /* 'close' follows */ })
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        const v = isBinary ? { ok: false, why: 'a binary message from the edge' } : checkWsMessage(data.toString('utf8'))
        if (v.streamError !== undefined) bump(streamErrors, v.streamError)
        if (!v.ok) bad(`WS ${where}: ${v.why ?? ''}; reply ${preview(data)}`)
      })
      const opened = await new Promise<boolean>(resolve => {
        ws.once('open', () => { resolve(true) })
        ws.once('unexpected-response', (_req, res) => { bump(closeCodes, `HTTP ${res.statusCode ?? 0}`); resolve(false) })
        ws.once('close', () => { resolve(false) })
      })
      if (!opened) { ws.terminate(); return }
      const inputs = [wsBytes(c.open, true), ...c.messages.map(m => wsBytes(m, false))]
      if (c.close) inputs.push(Buffer.from(`<close xmlns='${FRAMING}'/>`))
      for (const b of inputs) {
        if (ws.readyState !== WebSocket.OPEN) break
        messages++
        done++
        ws.send(b, { binary: false })
        if (messages % 4 === 0) await sleep(0)
      }
      if (ws.readyState === WebSocket.OPEN && !c.close) ws.close(1000)
      const code = await Promise.race([closed, sleep(10_000).then(() => -1)])
      if (code === -1) { bad(`WS ${where}: not closed within 10 s of the last message`); ws.terminate() } else {
        bump(closeCodes, String(code))
        if (code === 1006 || code === 1011) bad(`WS ${where}: close code ${code}; inputs ${inputs.map(preview).join(' | ').slice(0, 600)}`)
      }
    }
    await runBatches(o.messages, () => messages, (o.seed ^ 0x5a5a5a5a) >>> 0, wsCaseArb, concurrency, wsCase, checkpoint)
    log(`  WebSocket: ${messages.toLocaleString('en')} messages on ${sockets.toLocaleString('en')} sockets`)
    await roundTrip()
    sample()

    // ---- 3. straight into the parsers
    const tp = performance.now()
    const parsed = fuzzParsers(o.seed, o.parserInputs)
    const parserRate = (2 * o.parserInputs) / ((performance.now() - tp) / 1000)
    if (parsed !== '') bad(`parser: ${parsed}`)
    await roundTrip()
    gc()
    const afterParsers = process.memoryUsage().heapUsed

    // Sessions left after the fake clock has run past every inactivity and wait bound.
    await sleep(1500)
    control.stop()
    wsControl.close()
    crashes += target.routeErrors.length
    for (const e of target.routeErrors.slice(0, 5)) crashSamples.push(`route error: ${e.stack ?? e.message}`)
    return {
      seed: o.seed,
      bodies,
      messages,
      sockets,
      parserBodies: o.parserInputs,
      parserMessages: o.parserInputs,
      parserRate,
      durationMs: performance.now() - t0,
      statuses,
      conditions,
      streamErrors,
      closeCodes,
      controlRoundTrips,
      crashes,
      crashSamples,
      badReplies,
      memory: summarise(samples),
      afterParsersBytes: afterParsers,
      samples,
      sessionsLeft: target.sessions(),
      backendConnsLeft: target.backend.conns.size
    }
  } finally {
    post.agent.destroy()
    await target.stop()
    process.off('uncaughtException', onUncaught)
    process.off('unhandledRejection', onUnhandled)
  }
}

/**
 * Draws cases from `arb` in batches of BATCH (fc.sample with seed + batch index, so that case i
 * of batch b is `--seed`-reproducible) and runs `concurrency` at a time until `count()` reaches
 * `target`.
 */
async function runBatches<T> (target: number, count: () => number, seed: number, arb: fc.Arbitrary<T>, concurrency: number,
  run: (c: T, where: string) => Promise<void>, between: () => Promise<void>): Promise<void> {
  for (let batch = 0; count() < target; batch++) {
    const batchSeed = (seed + batch) >>> 0
    const cases = fc.sample(arb, { seed: batchSeed, numRuns: BATCH })
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < cases.length && count() < target) {
        const i = next++
        const c = cases[i]
        if (c !== undefined) await run(c, `batch seed ${batchSeed} case ${i}`)
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
    await between()
  }
}

/**
 * A BOSH session logged in through the edge (SASL PLAIN, restart, bind) that answers bind round
 * trips. It keeps a poll held at all times, as a client does: with the fake clock running fast,
 * a session with no request held would pass its inactivity bound between two round trips.
 */
async function boshControl (post: Post): Promise<{ roundTrip: (id: string) => Promise<void>, stop: () => void }> {
  let rid = 5_000_000
  const first = await post.send(`<body content='text/xml; charset=utf-8' hold='1' rid='${rid}' to='localhost' ver='1.6' wait='10' xml:lang='en' xmpp:version='1.0' xmlns='${HB}' xmlns:xmpp='urn:xmpp:xbosh'/>`)
  const sid = SID.exec(first.text)?.[1]
  if (sid === undefined) throw new Error(`control session: no sid in ${first.text}`)
  let replies = first.text
  let lost = ''
  let stopped = false
  const take = (r: { status: number, text: string }): void => {
    if (r.status !== 200 || r.text.includes("type='terminate'")) lost ||= `${r.status} ${r.text}`
    // Only the recent replies: the poller runs all along, and the heap is measured.
    replies = (replies + r.text).slice(-65_536)
  }
  /** Sends `body`, then waits until the replies (its own or the poller's) contain `want`. */
  const until = async (body: (rid: number) => string, want: string): Promise<void> => {
    replies = ''
    void post.send(body(++rid)).then(take, (err: unknown) => { lost ||= String(err) })
    const deadline = performance.now() + 10_000
    while (!replies.includes(want)) {
      if (lost !== '') throw new Error(`control session lost: ${lost}`)
      if (performance.now() > deadline) throw new Error(`control session did not answer (${want})`)
      await sleep(5)
    }
  }
  const poll = async (): Promise<void> => {
    while (!stopped && lost === '') {
      try { take(await post.send(`<body rid='${++rid}' sid='${sid}' xmlns='${HB}'/>`)) } catch (err) { lost ||= String(err) }
    }
  }
  if (!first.text.includes('mechanisms')) await until(r => `<body rid='${r}' sid='${sid}' xmlns='${HB}'/>`, 'mechanisms')
  await until(r => `<body rid='${r}' sid='${sid}' xmlns='${HB}'><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0pw').toString('base64')}</auth></body>`, '<success')
  await until(r => `<body rid='${r}' sid='${sid}' to='localhost' xml:lang='en' xmpp:restart='true' xmlns='${HB}' xmlns:xmpp='urn:xmpp:xbosh'/>`, 'xmpp-bind')
  void poll()
  return {
    roundTrip: async id => {
      await until(r => `<body rid='${r}' sid='${sid}' xmlns='${HB}'><iq type='set' id='${id}' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq></body>`, `id='${id}'`)
    },
    stop: () => { stopped = true; void post.send(terminateBody(sid, ++rid)).catch(() => {}) }
  }
}

/** A WebSocket session logged in through the edge that answers bind round trips. */
class WsControl {
  private readonly seen: string[] = []
  private wake: (() => void) | undefined
  private constructor (private readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => { this.seen.push(d.toString('utf8')); this.wake?.() })
    ws.on('error', () => {})
  }

  static async open (url: string): Promise<WsControl> {
    const ws = new WebSocket(url, ['xmpp'])
    await new Promise<void>((resolve, reject) => { ws.once('open', () => { resolve() }); ws.once('error', reject) })
    const c = new WsControl(ws)
    await c.exchange(`<open xmlns='${FRAMING}' to='localhost' version='1.0'/>`, 'mechanisms')
    await c.exchange(WS_MESSAGES[0] ?? '', '<success')
    await c.exchange(`<open xmlns='${FRAMING}' to='localhost' version='1.0'/>`, 'xmpp-bind')
    return c
  }

  async exchange (xml: string, want: string): Promise<void> {
    this.seen.length = 0
    if (this.ws.readyState !== WebSocket.OPEN) throw new Error('the WebSocket control session was closed')
    this.ws.send(xml)
    const deadline = performance.now() + 10_000
    while (!this.seen.some(m => m.includes(want))) {
      if (this.ws.readyState !== WebSocket.OPEN) throw new Error(`the WebSocket control session was closed: ${this.seen.join(' ')}`)
      if (performance.now() > deadline) throw new Error(`the WebSocket control session did not answer (${want})`)
      await new Promise<void>(resolve => { this.wake = resolve; setTimeout(resolve, 50) })
    }
  }

  async roundTrip (id: string): Promise<void> {
    await this.exchange(`<iq type='set' id='${id}' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`, `id='${id}'`)
  }

  close (): void { this.ws.close(1000) }
}

/**
 * The parsers under fc.assert: a value or a coded error, never an exception, and every payload
 * accepted is one standalone, well-formed element (it travels alone in a link DATA frame).
 * Returns '' or the failure fast-check reports (with its seed, path and counterexample).
 */
export function fuzzParsers (seed: number, runs: number): string {
  const bodyArb = fc.oneof(
    { weight: 6, arbitrary: recipeArb(BOSH_BODIES.length).map(r => realise((BOSH_BODIES[r.template] ?? '').replace('${attrs}', `rid='1' sid='s' xmlns='${HB}'`), r)) },
    { weight: 1, arbitrary: rawArb.map(r => r.raw) }
  )
  const messageArb = fc.oneof(
    { weight: 6, arbitrary: recipeArb(WS_MESSAGES.length).map(r => realise(WS_MESSAGES[r.template] ?? '', r).toString('utf8')) },
    { weight: 1, arbitrary: rawArb.map(r => r.raw.toString('utf8')) }
  )
  // The strict check of each payload costs more than the parse: every 8th input gets it.
  let n = 0
  const standalone = (xml: string): boolean => n % 8 !== 0 || typeof parseStrict(xml) !== 'string'
  const scanner = new XmlScanner()
  try {
    fc.assert(fc.property(bodyArb, input => {
      n++
      const r = parseBody(input)
      if (r instanceof BoshBodyError) return typeof r.code === 'string' && (r.condition === 'bad-request' || r.condition === 'policy-violation')
      return r.ok && r.children.every(standalone)
    }), { seed, numRuns: runs })
    fc.assert(fc.property(messageArb, input => {
      n++
      const r = parseMessage(input, { maxDepth: 64 }, scanner)
      if (r instanceof WsMessageError) return typeof r.code === 'string' && typeof r.condition === 'string'
      return r.kind !== 'element' || standalone(r.xml)
    }), { seed, numRuns: runs })
    return ''
  } catch (err) {
    return err instanceof Error ? err.message.slice(0, 2000) : String(err)
  }
}
