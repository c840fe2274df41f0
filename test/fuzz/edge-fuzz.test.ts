/**
 * A short fuzz run of the edge (bench/fuzz/edge-fuzz.ts; the full run is `npm run fuzz --
 * --target edge`): fast-check draws BOSH bodies POSTed over real HTTP, WebSocket messages over
 * real sockets, and bodies and messages straight into the parsers, in front of the SCRIPTED FAKE
 * BACKEND (test/fixtures/scripted-backend.ts). No exception reaches the process or the HTTP
 * front, every reply is a well-formed BOSH body or WebSocket element with a defined condition, and
 * a BOSH and a WebSocket control session keep answering. The heap is printed, not asserted.
 * MEGAPHONE_FUZZ_SEED replays a run.
 */
import t from 'tap'
import { fuzzEdge } from '../../bench/fuzz/edge-fuzz.ts'
import { freshSeed } from '../../bench/fuzz/prng.ts'
import { kib, mib } from '../../bench/fuzz/slope.ts'

const seed = process.env.MEGAPHONE_FUZZ_SEED === undefined ? freshSeed() : Number(process.env.MEGAPHONE_FUZZ_SEED)
t.comment(`seed ${seed} (replay: MEGAPHONE_FUZZ_SEED=${seed} npx tap test/fuzz/edge-fuzz.test.ts)`)

void t.test('BOSH bodies and WebSocket messages into the edge: no crash, defined answers, control sessions served', async t => {
  const r = await fuzzEdge({
    seed,
    bodies: 1_500,
    messages: 1_500,
    parserInputs: 2_000,
    concurrency: 8,
    checkEvery: 1_000,
    log: line => { t.comment(line) }
  })
  t.comment(`${r.bodies} bodies, ${r.messages} messages on ${r.sockets} sockets, ${r.parserBodies + r.parserMessages} parser inputs in ${(r.durationMs / 1000).toFixed(1)} s`)
  t.comment(`BOSH statuses ${JSON.stringify(r.statuses)}, conditions ${JSON.stringify(r.conditions)}`)
  t.comment(`WebSocket stream errors ${JSON.stringify(r.streamErrors)}, close codes ${JSON.stringify(r.closeCodes)}`)
  t.comment(`heap after GC: ${mib(r.memory.startBytes)} → ${mib(r.memory.endBytes)}, ${kib(r.memory.perMillion)} per million inputs`)
  t.same(r.crashSamples, [], 'no uncaught exception, unhandled rejection, HTTP 500 or route error')
  t.equal(r.crashes, 0, 'crashes: 0')
  t.same(r.badReplies, [], 'every reply well-formed, with a defined condition; the parsers hold their properties')
  t.ok(r.bodies >= 1_500 && r.messages >= 1_500, 'the counts were reached')
  t.equal(r.backendConnsLeft, r.sessionsLeft, 'every session the edge ended was closed on the backend')
  t.ok(r.controlRoundTrips >= 3, `the control sessions answered every round trip (${r.controlRoundTrips})`)
})
