/**
 * The README's run command, as a user runs it: `npm start` (scripts/start.sh) brings up ejabberd
 * (or, with MEGAPHONE_SERVER=prosody, Prosody) with mod_megaphone and the demo users, then the edge, and prints where to connect. Strophe.js
 * logs alice and bob in through the BOSH URL it printed and they exchange messages; SIGTERM then
 * stops everything. Only the ports and the instance directory differ from a user's run, so that
 * the test never collides with a demo left running on this machine.
 */
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../fixtures/ejabberd.ts'
import { ServerSuite, type ServerKind } from '../fixtures/server.ts'
import { XmppClient } from '../fixtures/strophe.ts'

const ROOT = new URL('../..', import.meta.url).pathname

// `npm start`, then `MEGAPHONE_SERVER=prosody npm start` (issue 17).
const suite = new ServerSuite()
let kind: ServerKind
let env: NodeJS.ProcessEnv
let child: ChildProcess
let out = ''
let exited: Promise<number | null>
suite.run(t, async (k, t) => {
  kind = k
  const dir = await mkdtemp(join(tmpdir(), 'megaphone-quickstart-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  env = {
    ...process.env,
    MEGAPHONE_SERVER: kind,
    EJ_DIR: dir,
    EJ_NAME: `qs${process.pid}`,
    EJ_C2S_PORT: String(await freePort()),
    EJ_HTTP_PORT: String(await freePort()),
    EJ_LINK_PORT: String(await freePort()),
    EJ_DIST_PORT: String(await freePort()),
    PR_DIR: dir,
    PR_C2S_PORT: String(await freePort()),
    PR_HTTP_PORT: String(await freePort()),
    PR_LINK_PORT: String(await freePort()),
    MEGAPHONE_PORT: String(await freePort()),
    MEGAPHONE_ADMIN_PORT: String(await freePort())
  }
  out = ''
  const c = spawn('bash', ['scripts/start.sh'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  child = c
  c.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  c.stderr.on('data', (chunk: Buffer) => { out += chunk.toString() })
  exited = new Promise<number | null>(resolve => c.on('exit', code => resolve(code)))
  t.teardown(() => { if (c.exitCode === null) c.kill('SIGKILL') })
})

async function until (check: () => boolean, what: string, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (child.exitCode !== null) throw new Error(`npm start exited (${child.exitCode}) before ${what}:\n${out}`)
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${out}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

suite.test('npm start prints where to connect, and Strophe.js chats through it', async t => {
  await until(() => out.includes('Megaphone is running.'), 'the banner')
  const url = /BOSH:\s+(\S+)/.exec(out)?.[1] ?? ''
  t.equal(url, `http://127.0.0.1:${env.MEGAPHONE_PORT}/http-bind`, 'the BOSH URL is printed')
  t.match(out, /WebSocket:\s+ws:\/\/127\.0\.0\.1:\d+\/xmpp-websocket/, 'and the WebSocket URL')
  t.match(out, /alice@localhost, bob@localhost \(password: demo\)/, 'and the demo users')
  t.match(out, new RegExp(`server:\\s+${kind === 'prosody' ? 'Prosody' : 'ejabberd'} with mod_megaphone`), 'and which server runs behind the edge')
  await until(() => out.includes('"msg":"link up"'), `the link to ${kind}`)

  const alice = await XmppClient.login({ url, jid: 'alice@localhost/qs', password: 'demo', presence: true })
  const bob = await XmppClient.login({ url, jid: 'bob@localhost/qs', password: 'demo', presence: true })
  t.teardown(async () => { await alice.disconnect(); await bob.disconnect() })
  alice.sendMessage('bob@localhost', 'hello from the quick start')
  const m = await bob.waitForMessage('hello from the quick start')
  t.match(m.getAttribute('from'), /^alice@localhost/, 'bob gets alice\'s message')
  bob.sendMessage('alice@localhost', 'hello back')
  await alice.waitForMessage('hello back')
  t.pass('alice gets bob\'s answer')
})

suite.test('SIGTERM stops the edge and the server', async t => {
  child.kill('SIGTERM')
  const code = await exited
  t.equal(code, 0, 'npm start exits 0 after a requested stop')
  const status = spawn('bash', [`scripts/${kind}.sh`, 'status'], { cwd: ROOT, env, stdio: 'ignore' })
  const alive = await new Promise<boolean>(resolve => status.on('exit', c => resolve(c === 0)))
  t.equal(alive, false, `no ${kind} left running`)
})
