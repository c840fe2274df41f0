/**
 * Fuzzing mod_megaphone inside a real ejabberd (issue 16): several links in parallel, each
 * driven by bench/fuzz/link-driver.ts with its own seed (derived from the run's seed), then raw
 * random bytes on sacrificial links before and after authentication. Properties checked: the node
 * stays up, no link process ever exits (the same link processes at the end as at the start), the
 * control session on each link answers every round trip, ejabberd's logs hold no crash report,
 * and erlang:memory(total), sampled after a full collection, is reported with its slope.
 * Used by test/fuzz/module-fuzz.test.ts (a short run) and bench/fuzz/main.ts (the full run).
 */
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { startEjabberd, type Ejabberd } from '../../test/fixtures/ejabberd.ts'
import { fuzzLink, fuzzRawBytes, type LinkRunResult } from './link-driver.ts'
import type { FrameKind } from './link-frames.ts'
import { summarise, type MemorySample, type MemorySummary } from './slope.ts'

export interface ModuleFuzzOptions {
  /** frames over all links together */
  frames: number
  links: number
  seed: number
  /** sacrificial links fed raw random bytes (half before authentication, half after) */
  rawLinks: number
  rawBytes: number
  roundTripEvery: number
  /** ms between two memory samples of the node */
  sampleEveryMs: number
  /** only these kinds of frames (bench/fuzz/link-frames.ts FRAME_KINDS); all by default */
  kinds?: readonly FrameKind[]
  log?: (line: string) => void
}

export interface ModuleFuzzResult {
  seed: number
  frames: number
  bytes: number
  writes: number
  durationMs: number
  links: LinkRunResult[]
  rawLinks: { count: number, closedBeforeAuth: number, closedAfterAuth: number }
  roundTrips: number
  maxRoundTripMs: number
  /** erlang:memory(total) before any link connected */
  baselineBytes: number
  /** from the first sample under fuzzing (links logged in, pools open) to the end */
  memory: MemorySummary
  samples: MemorySample[]
  /** link processes on the node once every fuzzing link had logged in (one per link; -1 when the run ended first) */
  linksDuring: number
  /** link processes left after every link has gone (0: none stuck) */
  linksAfter: number
  /** lines of ejabberd's error log, and the crash reports among them */
  errorLines: string[]
  crashReports: number
  nodeAlive: boolean
}

/** The seed of link `i` of a run with `seed`. */
export function linkSeed (seed: number, i: number): number {
  return (seed + Math.imul(i + 1, 0x9e3779b1)) >>> 0
}

const MEMORY = '[erlang:garbage_collect(P) || P <- erlang:processes()], erlang:memory(total).'
const LINK_COUNT = 'length(megaphone_link:links()).'
/** Each link process (queue, where it is, its stack) and the five longest message queues on the node. */
const LINK_STATE = '{[{L, erlang:process_info(L, [message_queue_len, current_stacktrace, total_heap_size])} || L <- megaphone_link:links()], ' +
  'lists:sublist(lists:reverse(lists:sort([{N, P, erlang:process_info(P, [registered_name, current_stacktrace, initial_call])} ' +
  '|| P <- erlang:processes(), {message_queue_len, N} <- [erlang:process_info(P, message_queue_len)]])), 5)}.'

async function errorLog (ej: Ejabberd): Promise<string[]> {
  const dir = join(ej.dir, 'logs')
  const lines: string[] = []
  for (const f of await readdir(dir).catch(() => [])) {
    if (!/^(error|crash)\.log/.test(f)) continue
    const text = await readFile(join(dir, f), 'utf8').catch(() => '')
    for (const l of text.split('\n')) if (l.trim() !== '') lines.push(`${f}: ${l}`)
  }
  return lines
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

export async function fuzzModule (o: ModuleFuzzOptions): Promise<ModuleFuzzResult> {
  const log = o.log ?? (() => {})
  const user = 'fuzz'
  const password = 'fuzz-pw'
  const poolUser = { user: 'pool', password: 'pool-pw' }
  const ej = await startEjabberd({ users: { [user]: password, [poolUser.user]: poolUser.password } })
  try {
    const samples: MemorySample[] = []
    const t0 = performance.now()
    const perLink = Math.ceil(o.frames / o.links)
    const progress = new Array<number>(o.links).fill(0)
    let lastSample = -Infinity
    let sampling: Promise<void> | undefined
    const sample = async (): Promise<void> => {
      const done = progress.reduce((a, b) => a + b, 0)
      const bytes = Number(await ej.eval(MEMORY))
      samples.push({ t: performance.now() - t0, done, bytes })
      log(`  ${(done / 1e6).toFixed(2)}M frames, ${((performance.now() - t0) / 1000).toFixed(0)} s, erlang:memory(total) ${(bytes / 2 ** 20).toFixed(1)} MiB`)
    }
    await sample()
    let linksDuring = -1
    let finished = false
    const runs = Array.from({ length: o.links }, async (_, i) => await fuzzLink({
      port: ej.linkPort,
      secret: ej.linkSecret,
      domain: ej.domain,
      user,
      password,
      poolUser,
      ...(o.kinds === undefined ? {} : { kinds: o.kinds }),
      resource: `fuzz-link-${i}`,
      seed: linkSeed(o.seed, i),
      frames: perLink,
      roundTripEvery: o.roundTripEvery,
      sweepEvery: 2_000,
      onStall: async () => await ej.eval(LINK_STATE),
      onProgress: sent => {
        progress[i] = sent
        // One sample at a time, every sampleEveryMs, without holding up the link that took it.
        if (sampling === undefined && performance.now() - lastSample >= o.sampleEveryMs) {
          lastSample = performance.now()
          sampling = sample().finally(() => { sampling = undefined })
        }
      }
    }))
    // The link processes once every link has logged in and sent its first frames.
    const during = (async () => {
      while (progress.some(p => p === 0) && !finished) await new Promise(resolve => setTimeout(resolve, 100))
      if (!finished) {
        const n = Number(await ej.eval(LINK_COUNT))
        if (!finished) linksDuring = n
      }
    })()
    const results = await Promise.all(runs).catch(async (err: unknown) => {
      // What the node was doing when a property failed: each link process and its sessions.
      const state = await ej.eval(LINK_STATE).catch((e: unknown) => `(eval failed: ${String(e)})`)
      throw new Error(`${err instanceof Error ? err.message : String(err)}; seed ${o.seed}; link processes: ${state}`, { cause: err })
    }).finally(() => { finished = true })
    await during
    await sampling
    let closedBeforeAuth = 0
    let closedAfterAuth = 0
    for (let k = 0; k < o.rawLinks; k++) {
      const authed = k % 2 === 1
      const closed = await fuzzRawBytes(ej.linkPort, ej.linkSecret, linkSeed(o.seed, 1000 + k), o.rawBytes, authed)
      if (closed && authed) closedAfterAuth++
      if (closed && !authed) closedBeforeAuth++
    }
    // Last: one more short run on a fresh link proves the listener and c2s still serve sessions.
    const last = await fuzzLink({
      port: ej.linkPort, secret: ej.linkSecret, domain: ej.domain, user, password, poolUser, resource: 'fuzz-last',
      seed: linkSeed(o.seed, 999), frames: 1_000, roundTripEvery: 500, sweepEvery: 2_000
    })
    await sample()
    // The last link's process sees its socket close and ends: give it the moment it takes.
    await new Promise(resolve => setTimeout(resolve, 500))
    const errorLines = await errorLog(ej)
    const durationMs = performance.now() - t0
    const all = [...results, last]
    return {
      seed: o.seed,
      frames: all.reduce((a, r) => a + r.frames, 0),
      bytes: all.reduce((a, r) => a + r.bytes, 0),
      writes: all.reduce((a, r) => a + r.writes, 0),
      durationMs,
      links: all,
      rawLinks: { count: o.rawLinks, closedBeforeAuth, closedAfterAuth },
      roundTrips: all.reduce((a, r) => a + r.roundTrips, 0),
      maxRoundTripMs: Math.max(...all.map(r => r.maxRoundTripMs)),
      baselineBytes: samples[0]?.bytes ?? 0,
      memory: summarise(samples.slice(1)),
      samples,
      linksDuring,
      linksAfter: Number(await ej.eval(LINK_COUNT)),
      errorLines,
      crashReports: errorLines.filter(l => /CRASH REPORT|crasher|terminating|exit with reason|\*\* Generic server/i.test(l)).length,
      nodeAlive: alive(ej.pid)
    }
  } finally {
    await ej.stop()
  }
}
