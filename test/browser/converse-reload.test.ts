/**
 * Converse.js in a real browser (Debian's headless Chromium, driven by playwright-core) through
 * the edge to a real ejabberd: log in over BOSH with `keepalive`, then reload the page twice,
 * the second time while a peer (Strophe.js in Node) sends messages. Converse's keepalive
 * restores the BOSH session with the sid and next rid Strophe kept in sessionStorage; the old
 * page's held request dies with the old page (XEP-0124 §8: the connection manager must not count
 * it, nor write into it).
 *
 * Checked after each reload: the same sid, no new session creation request from the page, the
 * same number of sessions in ejabberd (no new login), and every message the peer sent shown in
 * the page. Every wait is for a state the page reports, bounded in time; nothing is timed.
 */
import t from 'tap'
import { resolve } from 'node:path'
import { readFile } from 'node:fs/promises'
import type { Page, Request } from 'playwright-core'
import { startEjabberd } from '../fixtures/ejabberd.ts'
import { startEdge } from '../fixtures/edge.ts'
import { launchChromium, startStaticServer } from '../fixtures/browser.ts'
import { StropheClient } from '../fixtures/strophe-ws.ts'

const ROOT = resolve(import.meta.dirname, '../..')
const CONVERSE_DIST = resolve(ROOT, 'node_modules/converse.js/dist')
const converseVersion = String((JSON.parse(await readFile(resolve(ROOT, 'node_modules/converse.js/package.json'), 'utf8')) as { version?: unknown }).version)

const ej = await startEjabberd({ users: { alice: 'demo', bob: 'demo' } })
t.teardown(() => ej.stop())
// Contacts of each other: Converse.js 14 shows a message from a JID outside the roster only once
// it has the server's blocklist (XEP-0191), which the test ejabberd does not offer.
await ej.ctl('add_rosteritem', 'alice', 'localhost', 'bob', 'localhost', 'bob', 'Friends', 'both')
await ej.ctl('add_rosteritem', 'bob', 'localhost', 'alice', 'localhost', 'alice', 'Friends', 'both')
const edge = await startEdge(ej)
t.teardown(() => edge.stop())
const site = await startStaticServer({ '/': resolve(import.meta.dirname, 'converse.html') }, { '/dist/': CONVERSE_DIST })
t.teardown(() => site.close())
const browser = await launchChromium()
t.teardown(() => browser.close())

/**
 * The BOSH service the page uses: the edge; MEGAPHONE_TEST_CONVERSE_BOSH=mod_bosh points the same
 * test at ejabberd's own mod_bosh instead, to compare (not in CI).
 */
const boshUrl = process.env.MEGAPHONE_TEST_CONVERSE_BOSH === 'mod_bosh' ? `http://127.0.0.1:${ej.httpPort}/bosh` : edge.boshUrl
const ALICE = 'alice@localhost'
const WAIT_MS = 20_000

/** What the page says about itself (read through Converse's API and the DOM). */
interface PageState {
  authenticated: boolean
  /** the BOSH sid Strophe keeps for `keepalive` (sessionStorage 'strophe-bosh-session') */
  sid: string | null
  /** Converse's connection events since this page loaded */
  events: string[]
  /** the message texts shown in the open chat */
  shown: string[]
  /** what Converse has written to sessionStorage (its persistent_store here), to wait for before a reload */
  stored: string
}

async function stateOf (page: Page): Promise<PageState> {
  return await page.evaluate(() => {
    interface TestHook { events: string[], api?: { connection: { authenticated: () => boolean | undefined, connected: () => boolean | undefined } } }
    const hook = (window as unknown as { megaphoneTest?: TestHook }).megaphoneTest
    const stored = sessionStorage.getItem('strophe-bosh-session')
    const sid = stored === null ? null : (JSON.parse(stored) as { sid?: string }).sid ?? null
    const conn = hook?.api?.connection
    return {
      authenticated: conn?.authenticated() === true && conn.connected() === true,
      sid,
      events: hook?.events ?? [],
      shown: Array.from(document.querySelectorAll('.chat-msg__text'), el => el.textContent?.trim() ?? ''),
      stored: Object.keys(sessionStorage).map(k => sessionStorage.getItem(k) ?? '').join('\n')
    }
  })
}

/** Polls the page until `ok` holds; fails with the last state seen and the BOSH traffic's end. */
async function until (page: Page, ok: (s: PageState) => boolean, what: string): Promise<PageState> {
  const deadline = Date.now() + WAIT_MS
  let s: PageState | undefined
  for (;;) {
    try { s = await stateOf(page) } catch { s = undefined } // the page may be navigating
    if (s !== undefined && ok(s)) return s
    if (Date.now() > deadline) {
      throw new Error(`Converse.js ${converseVersion}: no ${what} within ${WAIT_MS} ms; page state: ${JSON.stringify(s)}; ` +
        `BOSH terminations seen: ${JSON.stringify(terminations)}; session creation requests: ${creations}; ` +
        `messages not shown: ${JSON.stringify(sent.filter(b => s?.shown.includes(b) !== true).map(fate))}; ` +
        `the page's last errors: ${JSON.stringify(consoleErrors.slice(-3))}; its last BOSH requests: ${trace.join(' | ')}`)
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

// The page's BOSH traffic: a creation request is a body without a sid (XEP-0124 §7.1); a
// terminate from the edge says why a session ended (e.g. policy-violation).
let creations = 0
const terminations: string[] = []
const consoleErrors: string[] = []
browser.context.on('console', m => { if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(m.text().slice(0, 300)) })
browser.context.on('weberror', e => { consoleErrors.push(String(e.error()).slice(0, 300)) })
const isBosh = (r: Request): boolean => r.method() === 'POST' && r.url() === boshUrl
/** the page's last BOSH requests and how each ended, for failure reports */
const trace: string[] = []
const note = (line: string): void => { trace.push(line); if (trace.length > 24) trace.shift() }
const ridOf = (r: Request): string => /\srid=["'](\d+)["']/.exec(r.postData() ?? '')?.[1] ?? '?'
browser.context.on('request', r => {
  if (!isBosh(r)) return
  const body = r.postData() ?? ''
  if (!/\ssid=/.test(body)) creations++
  note(`> rid ${ridOf(r)} ${body.length} B${body.includes('<body') && body.includes('/>') && !body.includes('</body>') ? ' (empty)' : ''}`)
})
browser.context.on('requestfailed', r => { if (isBosh(r)) note(`x rid ${ridOf(r)} ${r.failure()?.errorText ?? ''}`) })
/** what the peer sent to the page, in order */
const sent: string[] = []
/** every BOSH response body the browser received in full */
const received: string[] = []
browser.context.on('requestfinished', r => {
  if (!isBosh(r)) return
  r.response().then(res => res?.text()).then(body => {
    if (body === undefined) return
    received.push(body)
    note(`< rid ${ridOf(r)} ${/condition=.([a-z-]+)/.exec(body)?.[0] ?? `${body.length} B`}`)
    if (body.includes("type='terminate'") || body.includes('type="terminate"')) terminations.push(body.slice(0, 300))
  }, () => { /* the page went away before the body was read */ })
})
/** Where a message the page does not show went: into a response the browser got, or nowhere it saw. */
const fate = (body: string): string => `"${body}": ${received.some(r => r.includes(`>${body}<`)) ? 'in a BOSH response the browser received' : 'in no BOSH response the browser received'}`

void t.test(`Converse.js ${converseVersion} in Chromium ${browser.version}: page reloads keep the BOSH session and lose nothing`, async t => {
  const bob = await StropheClient.login({ url: `ws://127.0.0.1:${edge.port}${edge.config.websocketPath}`, jid: 'bob@localhost/peer', password: 'demo' })
  t.teardown(() => bob.disconnect())

  const page = await browser.context.newPage()
  const url = `${site.origin}/?${new URLSearchParams({ bosh: boshUrl, jid: ALICE, password: 'demo' }).toString()}`
  await page.goto(url)
  const first = await until(page, s => s.authenticated && s.sid !== null, 'login')
  const sid = first.sid
  t.ok(sid, `logged in over BOSH, sid ${sid}`)
  t.equal(creations, 1, 'one session creation request')
  const sessions = await ej.connectedUsers()
  t.equal(sessions, 2, 'ejabberd has alice (Converse) and bob (the peer)')

  // The chat with the peer is open, so its messages are shown (and reopened after a reload).
  // (Not awaited in the page: the chat shows as soon as it opens, which allShown waits for.)
  await page.evaluate((peer) => {
    const hook = (window as unknown as { megaphoneTest: { api: { chats: { open: (jid: string) => Promise<unknown> } } } }).megaphoneTest
    void hook.api.chats.open(peer)
  }, 'bob@localhost')
  // (bodies without markup characters, so that they read the same in the XML the browser received)
  const send = (body: string): void => { bob.sendMessage(ALICE, body); sent.push(body) }
  const allShown = (s: PageState): boolean => sent.every(b => s.shown.includes(b))

  send('before any reload')
  await until(page, allShown, 'message shown before any reload')

  await t.test('reload 1: same session, the earlier message still shown', async t => {
    // Converse writes its messages to storage after showing them: a reload before that loses them
    // from the page's history, which is Converse's business, not the edge's. Wait for it.
    await until(page, s => sent.every(b => s.stored.includes(b)), 'messages stored by Converse before reload 1')
    note('reload 1')
    await page.reload()
    const s = await until(page, s => s.authenticated, 'restored session after reload 1')
    t.equal(s.sid, sid, 'same sid')
    t.notOk(s.events.includes('noResumeableBOSHSession'), 'Converse found its session to resume')
    t.equal(creations, 1, 'no new session creation request')
    t.equal(await ej.connectedUsers(), sessions, 'no new login in ejabberd')
    await until(page, allShown, 'every message shown after reload 1')
    t.pass('every message shown')
  })

  await t.test('reload 2 while the peer sends: same session, nothing lost', async t => {
    // One message once the old page's held request has died with it (the browser closed that
    // request; XEP-0124 §8: the edge must not answer into it), one while the new page loads
    // Converse (nothing held), one once the session is back.
    let heldDied = false
    const onFailed = (r: Request): void => {
      if (!isBosh(r) || heldDied) return
      heldDied = true
      send('sent once the held request of the old page died')
    }
    page.on('requestfailed', onFailed)
    const duringLoad = new Promise<void>(resolve => {
      const onRequest = (r: Request): void => {
        if (!r.url().endsWith('/dist/converse.min.js')) return
        page.off('request', onRequest)
        send('sent while the page loads')
        resolve()
      }
      page.on('request', onRequest)
    })
    await until(page, s => sent.every(b => s.stored.includes(b)), 'messages stored by Converse before reload 2')
    note('reload 2')
    await page.reload()
    await duringLoad
    page.off('requestfailed', onFailed)
    if (heldDied) {
      t.pass('the old page\'s held BOSH request died with it')
    } else {
      // The reload fell between two requests: nothing was held, so nothing died.
      t.comment('no BOSH request was open when the old page went away')
      send('sent once the held request of the old page died')
    }
    const s = await until(page, s => s.authenticated, 'restored session after reload 2')
    t.equal(s.sid, sid, 'same sid')
    t.equal(creations, 1, 'no new session creation request')
    t.equal(await ej.connectedUsers(), sessions, 'no new login in ejabberd')
    send('sent after the reload')
    const last = await until(page, allShown, 'every message shown after reload 2')
    t.same(sent.filter(b => !last.shown.includes(b)).map(fate), [], 'every message the peer sent is shown')
    t.same(terminations, [], 'the edge ended no session')
  })
})
