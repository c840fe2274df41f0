/**
 * The full fuzz runs (issue 16): `npm run fuzz -- [options]`.
 *
 *   --target module|edge|all   what to fuzz (default all)
 *   --frames N                 link frames into mod_megaphone (default 10,000,000)
 *   --links N                  links in parallel (default 2)
 *   --bodies N                 BOSH bodies posted to the edge (default 1,000,000)
 *   --messages N               WebSocket messages sent to the edge (default 1,000,000)
 *   --parser N                 bodies and messages straight into the parsers (default 1,000,000 each)
 *   --seed N                   replay a run (every seed is printed)
 *   --kinds a,b,...            only these kinds of link frames (bench/fuzz/link-frames.ts), to narrow a failure
 *
 * Prints the machine, the seed, the counts, the duration, the crashes and the memory figures;
 * exits 1 if a property failed.
 */
import { parseArgs } from 'node:util'
import { machineLine } from '../lib/report.ts'
import { fuzzModule, type ModuleFuzzResult } from './module-fuzz.ts'
import { fuzzEdge, type EdgeFuzzResult } from './edge-fuzz.ts'
import { freshSeed } from './prng.ts'
import { FRAME_KINDS, type FrameKind } from './link-frames.ts'
import { kib, mib } from './slope.ts'

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'all' },
    frames: { type: 'string', default: '10000000' },
    links: { type: 'string', default: '2' },
    bodies: { type: 'string', default: '1000000' },
    messages: { type: 'string', default: '1000000' },
    parser: { type: 'string', default: '1000000' },
    seed: { type: 'string' },
    kinds: { type: 'string' }
  }
})

function count (name: string, v: string | undefined): number {
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`--${name}: a whole number expected, got ${String(v)}\n`)
    process.exit(2)
  }
  return n
}

function kindList (v: string): FrameKind[] {
  const kinds = v.split(',')
  for (const k of kinds) {
    if (!(FRAME_KINDS as readonly string[]).includes(k)) {
      process.stderr.write(`--kinds: ${k} is not one of ${FRAME_KINDS.join(', ')}\n`)
      process.exit(2)
    }
  }
  return kinds as FrameKind[]
}

const seed = values.seed === undefined ? freshSeed() : count('seed', values.seed)
const target = values.target ?? 'all'
const line = (s: string): void => { process.stdout.write(s + '\n') }

line(machineLine())
line(`command: npm run fuzz -- ${process.argv.slice(2).join(' ')}`.trimEnd())
line(`seed: ${seed} (replay with --seed ${seed})`)
let failed = false

function reportModule (r: ModuleFuzzResult): boolean {
  line('\nmod_megaphone (a real ejabberd, raw links):')
  line(`  frames ${r.frames.toLocaleString('en')} over ${r.links.length - 1} links + 1 closing link, ${mib(r.bytes)} in ${r.writes.toLocaleString('en')} TCP writes, ${(r.durationMs / 1000).toFixed(0)} s (${Math.round(r.frames / (r.durationMs / 1000)).toLocaleString('en')} frames/s)`)
  const kinds: Record<string, number> = {}
  for (const l of r.links) for (const [k, v] of Object.entries(l.byKind)) kinds[k] = (kinds[k] ?? 0) + v
  line(`  by kind: ${Object.entries(kinds).map(([k, v]) => `${k} ${v.toLocaleString('en')}`).join(', ')}`)
  const received: Record<string, number> = {}
  const codes: Record<string, number> = {}
  for (const l of r.links) {
    for (const [k, v] of Object.entries(l.received)) received[k] = (received[k] ?? 0) + v
    for (const [k, v] of Object.entries(l.errorCodes)) codes[k] = (codes[k] ?? 0) + v
  }
  line(`  answered: ${Object.entries(received).map(([k, v]) => `${k} ${v.toLocaleString('en')}`).join(', ')}; ERROR codes ${JSON.stringify(codes)}`)
  line(`  control round trips ${r.roundTrips} all answered (slowest ${r.maxRoundTripMs.toFixed(0)} ms, reported only); raw-byte links ${r.rawLinks.count} (closed: ${r.rawLinks.closedBeforeAuth} before AUTH, ${r.rawLinks.closedAfterAuth} after)`)
  line(`  link processes on the node once all had logged in ${r.linksDuring < 0 ? 'not sampled (the run was shorter than the query)' : r.linksDuring}, after ${r.linksAfter}; node alive ${String(r.nodeAlive)}; error log lines ${r.errorLines.length}, crash reports ${r.crashReports}`)
  for (const l of r.errorLines.slice(0, 20)) line(`    ${l}`)
  line(`  erlang:memory(total) after a full GC: before the links ${mib(r.baselineBytes)}; under fuzzing start ${mib(r.memory.startBytes)}, end ${mib(r.memory.endBytes)}, slope ${kib(r.memory.perMillion)} per million frames, ${kib(r.memory.perMinute)} per minute (${r.memory.samples} samples)`)
  // Every link's driver has already failed the run if its socket closed or its control session ended.
  return r.nodeAlive && r.crashReports === 0 && r.linksAfter === 0
}

function reportEdge (r: EdgeFuzzResult): boolean {
  line('\nedge (scripted fake backend, real HTTP and WebSocket):')
  line(`  BOSH bodies ${r.bodies.toLocaleString('en')} (replies by status ${JSON.stringify(r.statuses)}; conditions ${JSON.stringify(r.conditions)})`)
  line(`  WebSocket messages ${r.messages.toLocaleString('en')} on ${r.sockets.toLocaleString('en')} sockets (stream errors ${JSON.stringify(r.streamErrors)}; close codes ${JSON.stringify(r.closeCodes)})`)
  line(`  parsers: ${r.parserBodies.toLocaleString('en')} bodies, ${r.parserMessages.toLocaleString('en')} messages (${Math.round(r.parserRate).toLocaleString('en')} inputs/s)`)
  line(`  sessions left in the table ${r.sessionsLeft} (the 2 control sessions), backend connections never closed by the edge ${r.backendConnsLeft}`)
  line(`  ${(r.durationMs / 1000).toFixed(0)} s; control session round trips ${r.controlRoundTrips}; crashes (uncaught, unhandled, 500s, route errors) ${r.crashes}; bad replies ${r.badReplies.length}`)
  for (const b of r.badReplies.slice(0, 10)) line(`    ${b}`)
  line(`  heap used after a full GC: start ${mib(r.memory.startBytes)}, end ${mib(r.memory.endBytes)}, slope ${kib(r.memory.perMillion)} per million inputs, ${kib(r.memory.perMinute)} per minute (${r.memory.samples} samples over the BOSH and WebSocket runs); after the parser runs ${mib(r.afterParsersBytes)}`)
  return r.crashes === 0 && r.badReplies.length === 0 && r.backendConnsLeft === r.sessionsLeft
}

if (target === 'edge' || target === 'all') {
  const r = await fuzzEdge({
    seed,
    bodies: count('bodies', values.bodies),
    messages: count('messages', values.messages),
    parserInputs: count('parser', values.parser),
    log: line
  })
  if (!reportEdge(r)) failed = true
}
if (target === 'module' || target === 'all') {
  const r = await fuzzModule({
    seed,
    frames: count('frames', values.frames),
    links: Math.max(1, count('links', values.links)),
    rawLinks: 8,
    rawBytes: 4 << 20,
    roundTripEvery: 20_000,
    sampleEveryMs: 30_000,
    ...(values.kinds === undefined ? {} : { kinds: kindList(values.kinds) }),
    log: line
  })
  if (!reportModule(r)) failed = true
}
line(failed ? '\nFAILED' : '\nok: 0 crashes')
process.exit(failed ? 1 : 0)
