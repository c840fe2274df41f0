/**
 * The chat page the edge serves at `/` (src/chat/), in a real browser (Debian's headless
 * Chromium, driven by playwright-core), through the edge to a real ejabberd: alice logs in
 * through the page's login form, joins a room bob (Strophe.js in Node, over the edge's
 * WebSocket) created and wrote in before she came, sees that message from the room's history,
 * sees bob typing (XEP-0085 in a MUC) and then his message, leaves the room, creates one of her
 * own, and receives an announcement sent through the Announcer API (POST /v1/announce/users on
 * the admin server: a headline message from the domain, routed by mod_megaphone). A second
 * browser then logs in over BOSH (`/?transport=bosh`).
 *
 * Every wait is for something the page shows (a DOM state) or a stanza bob receives, bounded
 * in time; nothing is timed. The page must run under its own Content-Security-Policy without a
 * single violation report.
 */
import t from 'tap'
import type { Page } from 'playwright-core'
import { startEjabberd } from '../fixtures/ejabberd.ts'
import { edgeEnv, waitFor } from '../fixtures/edge.ts'
import { launchChromium } from '../fixtures/browser.ts'
import { $iq, $msg, $pres, StropheClient, textOf, type XmlElement } from '../fixtures/strophe-ws.ts'
import { converseVersion } from '../../src/chat/assets.ts'
import { CSP } from '../../src/http/security.ts'
import { loadConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/log.ts'
import { runEdge } from '../../src/run-edge.ts'

const DOMAIN = 'localhost'
const MUC = `conference.${DOMAIN}`
const ROOM = `lobby@${MUC}`
const WAIT_MS = 20_000
const NS_MUC = 'http://jabber.org/protocol/muc'
const NS_CHATSTATES = 'http://jabber.org/protocol/chatstates'
const TOKEN = 'chat-page-test-token-0123456789'

const ej = await startEjabberd({ users: { alice: 'demo', bob: 'demo' } })
t.teardown(() => ej.stop())
// The page's default domain (users log in as "alice") and MUC service come from the edge's
// domains; the Announcer API (docs/announcer.md) is on, on the admin server.
const config = loadConfig([], edgeEnv(ej, { MEGAPHONE_LOG_LEVEL: process.env.MEGAPHONE_TEST_LOG_LEVEL ?? 'silent', MEGAPHONE_DOMAINS: DOMAIN, MEGAPHONE_API_TOKEN: TOKEN }))
const running = await runEdge(config, createLogger(config.logLevel))
t.teardown(() => running.stop())
await waitFor(() => running.linkUp(), 10_000, 'link up')
const edge = { config, port: running.port, boshUrl: `http://127.0.0.1:${running.port}${config.boshPath}` }
const browser = await launchChromium()
t.teardown(() => browser.close())
const version = await converseVersion()
const origin = `http://127.0.0.1:${edge.port}`

/** What went wrong in the page: errors, and every Content-Security-Policy violation it reported. */
const problems: string[] = []
const violations: string[] = []
browser.context.on('weberror', e => { problems.push(String(e.error()).slice(0, 300)) })
browser.context.on('console', m => {
  const text = m.text()
  if (text.startsWith('csp-violation ')) violations.push(text.slice(14))
  else if (m.type() === 'error') problems.push(text.slice(0, 300))
})
// Reported by the page itself (securitypolicyviolation), so that a violation in any request or
// element fails the test, not only those Chromium happens to log.
await browser.context.addInitScript(() => {
  document.addEventListener('securitypolicyviolation', e => {
    console.log(`csp-violation ${e.effectiveDirective} ${e.blockedURI} ${e.sample}`)
  })
})

/** Waits until the page shows what `selector` and `text` describe; fails with what it showed and the page's errors. */
async function shown (page: Page, selector: string, text: string | RegExp, what: string): Promise<void> {
  try {
    await page.locator(selector).filter({ hasText: text }).first().waitFor({ state: 'visible', timeout: WAIT_MS })
  } catch (err) {
    const seen = await page.locator(selector).allTextContents().catch(() => [])
    throw new Error(`Converse.js ${version}: ${what} not shown within ${WAIT_MS} ms; ${selector} shows ${JSON.stringify(seen.slice(-5))}; ` +
      `page errors: ${JSON.stringify(problems.slice(-3))}`, { cause: err })
  }
}

/** bob's presence in the room, joined as `nick`; resolves with his own presence back (status 110). */
async function join (client: StropheClient, room: string, nick: string): Promise<XmlElement> {
  const self = client.waitFor(el => el.tagName === 'presence' && el.getAttribute('from') === `${room}/${nick}` &&
    Array.from(el.getElementsByTagName('status')).some(s => s.getAttribute('code') === '110'), WAIT_MS, `own presence in ${room}`)
  client.send($pres({ to: `${room}/${nick}` }).c('x', { xmlns: NS_MUC }))
  return await self
}

void t.test(`the chat page (Converse.js ${version}) in Chromium ${browser.version}: log in, a room's history, typing, leaving, an announcement`, async t => {
  const bob = await StropheClient.login({ url: `ws://127.0.0.1:${edge.port}${edge.config.websocketPath}`, jid: `bob@${DOMAIN}/peer`, password: 'demo' })
  t.teardown(() => bob.disconnect())

  // bob creates the room (XEP-0045 §10.1.2: an instant room, the default configuration) and
  // writes in it before alice is there.
  const created = await join(bob, ROOM, 'bob')
  if (Array.from(created.getElementsByTagName('status')).some(s => s.getAttribute('code') === '201')) {
    await bob.iq($iq({ to: ROOM, type: 'set' }).c('query', { xmlns: `${NS_MUC}#owner` }).c('x', { xmlns: 'jabber:x:data', type: 'submit' }))
  }
  const before = 'written before alice came'
  bob.send($msg({ to: ROOM, type: 'groupchat' }).c('body').t(before))
  // the room's own echo: the message is in its history
  await bob.waitFor(el => el.tagName === 'message' && el.getAttribute('from') === `${ROOM}/bob` && textOf(el, 'body') === before, WAIT_MS, 'the room echoing bob\'s message')

  const page = await browser.context.newPage()
  // the connections the page opens: to this origin only, WebSocket first (src/chat/html.ts)
  const sockets: string[] = []
  page.on('websocket', ws => { sockets.push(ws.url()) })
  const response = await page.goto(`${origin}/`)
  t.equal(response?.status(), 200, 'GET / answers 200')
  t.match(response?.headers()['content-security-policy'] ?? '', /script-src 'self'(;|$)/, 'the page runs under its Content-Security-Policy')
  const boshPage = await fetch(edge.boshUrl)
  t.equal(boshPage.headers.get('content-security-policy'), CSP[1], `GET ${edge.config.boshPath} keeps its own sandbox policy`)
  await boshPage.arrayBuffer()

  await t.test('log in through the form', async t => {
    // the form is empty: the page holds no credentials
    const jid = page.locator('#converse-login-jid')
    await jid.waitFor({ state: 'visible', timeout: WAIT_MS })
    t.equal(await jid.inputValue(), '', 'no user name filled in')
    t.equal(await page.locator('#converse-login-password').inputValue(), '', 'no password filled in')
    await jid.fill('alice')
    await page.locator('#converse-login-password').fill('demo')
    await page.locator('converse-login-form button[type=submit]').click()
    await page.locator('converse-rooms-list').waitFor({ state: 'attached', timeout: WAIT_MS })
    await shown(page, 'converse-user-profile, .controlbox', `alice@${DOMAIN}`, 'alice\'s own address')
    t.pass(`logged in as alice@${DOMAIN}`)
    t.same(sockets, [`ws://127.0.0.1:${edge.port}${edge.config.websocketPath}`], 'over the edge\'s WebSocket, on the page\'s origin')
  })

  await t.test('join the room: its history, bob typing, his message', async t => {
    const aliceIn = bob.waitFor(el => el.tagName === 'presence' && el.getAttribute('from') === `${ROOM}/alice` && el.getAttribute('type') === null, WAIT_MS, 'alice joining the room')
    await openAddRoom(page)
    await page.locator('converse-add-muc-modal input[name=chatroom]').fill('lobby')
    await page.locator('converse-add-muc-modal input[type=submit][name=join]').click()
    await aliceIn
    t.pass('alice is in the room (bob sees her presence)')
    await shown(page, 'converse-muc .chat-msg__text', before, 'the message bob wrote before alice came')
    t.pass('the room\'s history shows bob\'s earlier message')

    // XEP-0085 §5.5 in a room: the state goes to the room, which sends it to every occupant
    bob.send($msg({ to: ROOM, type: 'groupchat' }).c('composing', { xmlns: NS_CHATSTATES }))
    await shown(page, 'converse-muc .chat-content__notifications', /bob is typing/, 'bob\'s typing notification')
    t.pass('alice sees "bob is typing"')

    const after = 'written while alice is here'
    bob.send($msg({ to: ROOM, type: 'groupchat' }).c('body').t(after).up().c('active', { xmlns: NS_CHATSTATES }))
    await shown(page, 'converse-muc .chat-msg__text', after, 'bob\'s message')
    t.pass('alice sees bob\'s message')
  })

  await t.test('leave the room', async t => {
    const aliceOut = bob.waitFor(el => el.tagName === 'presence' && el.getAttribute('from') === `${ROOM}/alice` && el.getAttribute('type') === 'unavailable', WAIT_MS, 'alice leaving the room')
    await page.locator(`converse-rooms-list .close-room[data-room-jid="${ROOM}"]`).click()
    await page.locator('converse-confirm-modal .btn-primary').click()
    await aliceOut
    t.pass('bob sees alice leave')
    await page.locator(`converse-rooms-list .close-room[data-room-jid="${ROOM}"]`).waitFor({ state: 'detached', timeout: WAIT_MS })
    t.pass('the room is gone from alice\'s list')
  })

  await t.test('create a room', async t => {
    const room = `alices-room@${MUC}`
    await openAddRoom(page)
    await page.locator('converse-add-muc-modal input[name=chatroom]').fill('alices-room')
    await page.locator('converse-add-muc-modal input[type=submit][name=join]').click()
    await page.locator(`converse-rooms-list .close-room[data-room-jid="${room}"]`).waitFor({ state: 'attached', timeout: WAIT_MS })
    // the room exists on the server, and bob can join it
    await join(bob, room, 'bob')
    t.pass(`alice created ${room}, and bob joined it`)
  })

  await t.test('receive an announcement through the Announcer API', async t => {
    // POST /v1/announce/users: a headline message (RFC 6121 §5.2.2) from the domain, the
    // Announcer's default sender (announceFrom).
    const text = 'The service restarts at noon'
    const res = await fetch(`http://127.0.0.1:${running.adminPort}/v1/announce/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ usernames: ['alice'], body: text })
    })
    const answer = await res.text()
    t.equal(res.status, 202, `the Announcer accepted the job: ${answer}`)
    t.match(JSON.parse(answer), { recipients: 1 }, 'one recipient: alice')
    await page.locator(`converse-headlines-feeds-list [data-headline-jid="${DOMAIN}"]`).first().click({ timeout: WAIT_MS })
    await shown(page, 'converse-headlines .chat-msg__text, converse-headlines .chat-msg__body', text, 'the announcement')
    t.pass('alice sees the announcement')
  })

  t.same(violations, [], 'no Content-Security-Policy violation reported by the page')
})

void t.test('/?transport=bosh: the page logs in over the edge\'s BOSH', async t => {
  // A second browser with a new profile, so that nothing of the first login is reused.
  const second = await launchChromium()
  t.teardown(() => second.close())
  const page = await second.context.newPage()
  const sockets: string[] = []
  page.on('websocket', ws => { sockets.push(ws.url()) })
  const bosh: number[] = []
  page.on('response', r => { if (r.request().method() === 'POST' && r.url() === edge.boshUrl) bosh.push(r.status()) })
  await page.goto(`${origin}/?transport=bosh`)
  await page.locator('#converse-login-jid').fill('alice')
  await page.locator('#converse-login-password').fill('demo')
  await page.locator('converse-login-form button[type=submit]').click()
  await shown(page, 'converse-user-profile, .controlbox', `alice@${DOMAIN}`, 'alice logged in over BOSH')
  t.ok(bosh.length > 0 && bosh.every(s => s === 200), `the page spoke BOSH to ${edge.boshUrl} (${bosh.length} requests, all 200)`)
  t.same(sockets, [], 'and opened no WebSocket')
})

/** Opens Converse's "add groupchat" form from the rooms list's menu. */
async function openAddRoom (page: Page): Promise<void> {
  await page.locator('converse-rooms-list converse-dropdown button').first().click()
  await page.locator('converse-rooms-list .show-add-muc-modal').click()
  await page.locator('converse-add-muc-modal input[name=chatroom]').waitFor({ state: 'visible', timeout: WAIT_MS })
}
