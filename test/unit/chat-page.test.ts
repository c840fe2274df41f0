/**
 * The chat page's routes (src/chat/) through fastify's inject: what is served, with which
 * headers, and that nothing outside the allow-list is (source maps, other files of the
 * package, paths that climb out of the folder). The page in a browser: test/browser/chat-page.test.ts.
 */
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildHttp } from '../../src/http/app.ts'
import { CSP } from '../../src/http/security.ts'
import { chatPageRoutes, type ChatPageOptions } from '../../src/chat/page.ts'
import { CONVERSE_ASSETS, converseDist, converseVersion } from '../../src/chat/assets.ts'
import { CHAT_CSP, chatPageHtml } from '../../src/chat/html.ts'

const OPTIONS: ChatPageOptions = { domain: 'example.org', mucDomain: '', boshPath: '/http-bind', websocketPath: '/xmpp-websocket' }
const version = await converseVersion()
const prefix = `/converse/${version}/`

async function front (o: ChatPageOptions = OPTIONS): Promise<Awaited<ReturnType<typeof buildHttp>>> {
  const http = await buildHttp()
  await chatPageRoutes(http.app, o)
  // another route of the public app, to show it keeps the sandbox policy
  http.app.get('/other', async () => 'other')
  return http
}

/** The page's settings, as the script reads them. */
function settingsOf (html: string): Record<string, unknown> {
  const m = /<script type="application\/json" id="megaphone-chat">(.*?)<\/script>/s.exec(html)
  if (m === null) throw new Error('no settings in the page')
  return JSON.parse(m[1]!) as Record<string, unknown>
}

void t.test('GET / : the page, its policy and headers, no credentials and no inline script', async t => {
  const { app } = await front()
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'text/html; charset=utf-8')
  t.equal(res.headers['content-security-policy'], CHAT_CSP, 'the chat page\'s own policy')
  t.match(CHAT_CSP, /(^|; )script-src 'self'(;|$)/, 'scripts from this origin only')
  t.notMatch(CHAT_CSP, /unsafe-eval|\*|https?:/, 'no eval, no wildcard, no other origin')
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.headers['x-frame-options'], 'DENY')
  t.equal(res.headers['referrer-policy'], 'no-referrer')
  const scripts = [...res.body.matchAll(/<script([^>]*)>/g)].map(m => m[1]!)
  t.ok(scripts.every(a => / src="\/chat\.js"/.test(a) || /type="application\/json"/.test(a)), `every script is a file or JSON data: ${JSON.stringify(scripts)}`)
  t.notMatch(res.body, /password|demo/i, 'no credentials in the page')
  t.same(settingsOf(res.body), {
    boshPath: '/http-bind',
    websocketPath: '/xmpp-websocket',
    domain: 'example.org',
    mucDomain: 'conference.example.org',
    assetsPath: prefix,
    converseVersion: version
  }, 'the page points at the edge\'s own paths, with the configured domain and conference.<domain>')

  const other = await app.inject({ method: 'GET', url: '/other' })
  t.equal(other.headers['content-security-policy'], CSP[1], 'the rest of the public app keeps its sandbox policy')
})

void t.test('the MUC service: configured, conference.<domain>, or none (discovered) without a domain', async t => {
  for (const [o, want] of [
    [{ ...OPTIONS, mucDomain: 'rooms.example.org' }, 'rooms.example.org'],
    [{ ...OPTIONS, domain: '' }, '']
  ] as const) {
    const { app } = await front(o)
    const res = await app.inject({ method: 'GET', url: '/' })
    t.equal(settingsOf(res.body).mucDomain, want)
    await app.close()
  }
})

void t.test('settings cannot end the script element they sit in', async t => {
  const html = chatPageHtml({ boshPath: '/b</script><script>alert(1)</script>', websocketPath: '/w', domain: 'd&<!--', mucDomain: '', assetsPath: '/a/', converseVersion: 'v' })
  t.equal(html.match(/<\/script>/g)?.length, 2, 'only the page\'s own two script elements end')
  t.equal(settingsOf(html).boshPath, '/b</script><script>alert(1)</script>', 'the value reads back unchanged')
})

void t.test('GET /chat.js and every allow-listed file, with its type, from the installed package', async t => {
  const { app } = await front()
  t.teardown(() => app.close())
  const boot = await app.inject({ method: 'GET', url: '/chat.js' })
  t.equal(boot.statusCode, 200)
  t.equal(boot.headers['content-type'], 'text/javascript; charset=utf-8')
  t.match(boot.body, `import converse from "${prefix}converse.min.js"`)
  const dist = converseDist()
  for (const [path, type] of Object.entries(CONVERSE_ASSETS)) {
    const res = await app.inject({ method: 'GET', url: prefix + path })
    t.equal(res.statusCode, 200, path)
    t.equal(res.headers['content-type'], type, `${path}: ${type}`)
    t.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable', `${path}: cached for good (the version is in its path)`)
    t.ok(res.rawPayload.equals(await readFile(join(dist, path))), `${path}: the installed file`)
  }
})

void t.test('nothing else: source maps, other files, paths out of the folder', async t => {
  const { app } = await front()
  t.teardown(() => app.close())
  for (const url of [
    `${prefix}converse.min.js.map`,
    `${prefix}converse.js`,
    `${prefix}../package.json`,
    `${prefix}..%2fpackage.json`,
    `${prefix}%2e%2e/%2e%2e/package.json`,
    `${prefix}images/../../package.json`,
    `${prefix}chunkjs/locales/de-LC_MESSAGES-converse-po.js`,
    '/converse/0.0.1/converse.min.js',
    '/converse/converse.min.js',
    '/index.html'
  ]) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 404, url)
  }
})
