/**
 * The link's reconnect delay (src/link/backoff.ts) with the default options: full jitter, and a
 * bound that stops growing at reconnectMax however many attempts failed, so a link comes back
 * within about that long after ejabberd accepts again (test/faults/link-cut.test.ts shows it
 * against a real ejabberd).
 */
import t from 'tap'
import { backoffDelay } from '../../src/link/backoff.ts'
import { LINK_DEFAULTS } from '../../src/link/options.ts'

const { reconnectBase: base, reconnectMax: cap } = LINK_DEFAULTS

void t.test('the default cap is a few seconds', async t => {
  t.ok(cap <= 5_000, `reconnectMax ${cap} ms`)
})

void t.test('the bound doubles from reconnectBase and stops at reconnectMax, for any attempt count', async t => {
  const top = (attempt: number): number => backoffDelay(attempt, base, cap, () => 0.999999)
  t.equal(top(0), Math.floor(0.999999 * base), 'attempt 0: up to reconnectBase')
  t.equal(top(1), Math.floor(0.999999 * base * 2), 'attempt 1: twice that')
  for (const attempt of [10, 60, 1_000, Number.MAX_SAFE_INTEGER]) {
    t.ok(top(attempt) < cap, `attempt ${attempt}: ${top(attempt)} ms, below ${cap}`)
  }
})

void t.test('full jitter: the delay spans [0, bound)', async t => {
  t.equal(backoffDelay(50, base, cap, () => 0), 0, 'random 0 → no wait')
  t.equal(backoffDelay(50, base, cap, () => 0.5), cap / 2, 'random 0.5 → half the cap')
})
