/**
 * A short fuzz run of mod_megaphone inside a real ejabberd (bench/fuzz/module-fuzz.ts; the full
 * run is `npm run fuzz -- --target module`): random and mutated valid link frames split at random
 * points across TCP writes on two links, raw random bytes on sacrificial links before and after
 * authentication. The node stays up, no link process ends under the fuzzing, the control session
 * on each link answers every round trip, and ejabberd logs no crash report. Memory is printed,
 * not asserted (a short run's slope is mostly noise). MEGAPHONE_FUZZ_SEED replays a run.
 */
import t from 'tap'
import { fuzzModule } from '../../bench/fuzz/module-fuzz.ts'
import { freshSeed } from '../../bench/fuzz/prng.ts'
import { kib, mib } from '../../bench/fuzz/slope.ts'

const seed = process.env.MEGAPHONE_FUZZ_SEED === undefined ? freshSeed() : Number(process.env.MEGAPHONE_FUZZ_SEED)
t.comment(`seed ${seed} (replay: MEGAPHONE_FUZZ_SEED=${seed} npx tap test/fuzz/module-fuzz.test.ts)`)

void t.test('link frames into mod_megaphone: no crash, the links and their control sessions stay up', async t => {
  const r = await fuzzModule({
    seed,
    frames: Number(process.env.MEGAPHONE_FUZZ_FRAMES ?? 120_000),
    links: 2,
    rawLinks: 4,
    rawBytes: 256 * 1024,
    roundTripEvery: 5_000,
    sampleEveryMs: 5_000,
    log: line => { t.comment(line) }
  })
  t.comment(`${r.frames} frames in ${(r.durationMs / 1000).toFixed(1)} s; ${r.roundTrips} round trips (slowest ${r.maxRoundTripMs.toFixed(0)} ms)`)
  t.comment(`erlang:memory(total): ${mib(r.memory.startBytes)} → ${mib(r.memory.endBytes)}, ${kib(r.memory.perMillion)} per million frames`)
  t.ok(r.frames >= 120_000 || process.env.MEGAPHONE_FUZZ_FRAMES !== undefined, `frames sent: ${r.frames}`)
  t.equal(r.nodeAlive, true, 'the ejabberd node is up')
  t.pass('no fuzzing link was closed by the module and no control session ended (the driver fails the run otherwise)')
  t.equal(r.linksAfter, 0, 'every link process ended once its socket closed')
  t.same(r.errorLines.filter(l => /megaphone/i.test(l)), [], 'no error logged by or about mod_megaphone')
  t.equal(r.crashReports, 0, `no crash report (${r.errorLines.slice(0, 5).join(' | ')})`)
  t.equal(r.rawLinks.closedBeforeAuth, 2, 'raw bytes before AUTH: the module closes every such connection')
  t.ok(r.roundTrips >= 2 * Math.floor(r.frames / 2 / 5_000), 'every round trip on the control sessions was answered')
})
