/**
 * The configuration's layers (defaults < file < environment < flags) and its errors: every bad
 * value names the option, where it was set and why; the process prints that and exits 2.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/load.ts'
import { ROOT } from './helpers.ts'

const SECRET = 'a-secret-of-sixteen+'
const files = (o: Record<string, string>) => (path: string): string => {
  const text = o[path]
  if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`)
  return text
}

void t.test('defaults < file < environment < flags', async t => {
  const read = files({ 'edge.json': JSON.stringify({ maxWait: 40, 'max-hold': 1, domains: ['a.example', 'b.example'], trustProxy: true, linkSecret: SECRET, port: '6001' }) })
  const c = loadConfig(['--config', 'edge.json'], {}, read)
  t.equal(c.maxWait, 40, 'camelCase key')
  t.equal(c.maxHold, 1, 'kebab-case key')
  t.same(c.domains, ['a.example', 'b.example'], 'a JSON list')
  t.same(c.trustProxy, ['0.0.0.0/0', '::/0'], 'a JSON boolean (the old trustProxy: true trusts every address)')
  t.equal(c.port, 6001, 'a string as in the environment')
  t.equal(c.polling, 2, 'what the file leaves out keeps its default')
  t.equal(c.config, 'edge.json')
  t.equal(loadConfig([], { MEGAPHONE_CONFIG: 'edge.json' }, read).maxWait, 40, 'MEGAPHONE_CONFIG names the file too')
  t.equal(loadConfig([], { MEGAPHONE_CONFIG: 'edge.json', MEGAPHONE_MAX_WAIT: '50' }, read).maxWait, 50, 'the environment wins over the file')
  t.equal(loadConfig(['--max-wait', '55'], { MEGAPHONE_CONFIG: 'edge.json', MEGAPHONE_MAX_WAIT: '50' }, read).maxWait, 55, 'a flag wins over both')
  t.equal(loadConfig(['--config', 'edge.json'], { MEGAPHONE_CONFIG: 'other.json' }, read).maxWait, 40, '--config wins over MEGAPHONE_CONFIG')
  t.equal(loadConfig([], { MEGAPHONE_LINK_SECRET: SECRET }).adminPort, 5281, 'the admin port defaults to 5281')
  t.equal(loadConfig(['--port', '0'], { MEGAPHONE_LINK_SECRET: SECRET }).adminPort, 0, 'any free admin port with any free public port')
  t.equal(loadConfig(['--port', '0', '--admin-port', '9000'], { MEGAPHONE_LINK_SECRET: SECRET }).adminPort, 9000, 'unless it is set')
})

void t.test('a bad file names the file, the option and why', async t => {
  const read = files({
    'bad-value.json': JSON.stringify({ linkSecret: SECRET, maxWait: -1 }),
    'bad-type.json': JSON.stringify({ linkSecret: SECRET, maxHold: true }),
    'bad-list.json': JSON.stringify({ linkSecret: SECRET, domains: [1, 2] }),
    'unknown.json': JSON.stringify({ linkSecret: SECRET, maxWiat: 10 }),
    'not-json.json': '{ maxWait: 10 }',
    'array.json': '[]',
    'nested.json': JSON.stringify({ config: 'other.json' }),
    'short-secret.json': JSON.stringify({ linkSecret: 'short' }),
    'heartbeat.json': JSON.stringify({ linkSecret: SECRET, heartbeatTimeout: 5 })
  })
  const bad = (file: string, message: RegExp, what: string): void => {
    t.throws(() => loadConfig(['--config', file], {}, read), { code: 'CONFIG_INVALID', message }, what)
  }
  bad('bad-value.json', /^bad-value\.json: maxWait: must be at least 0 \(got -1\)$/, 'out of range')
  bad('bad-type.json', /^bad-type\.json: maxHold: must be an integer \(got true\)$/, 'wrong JSON type')
  bad('bad-list.json', /^bad-list\.json: domains: must be a comma-separated string or a list of strings/, 'list of numbers')
  bad('unknown.json', /^unknown\.json: maxWiat: no such option/, 'a typo is not ignored')
  bad('not-json.json', /^not-json\.json: not valid JSON/, 'not JSON')
  bad('array.json', /^array\.json: must hold a JSON object/, 'not an object')
  bad('nested.json', /^nested\.json: config: a configuration file cannot name another/, 'no nesting')
  bad('short-secret.json', /^short-secret\.json: linkSecret: must be at least 16 characters$/, 'a check on the final value names the file')
  bad('heartbeat.json', /^heartbeat\.json: heartbeatTimeout: must be longer than the heartbeat interval/, 'a cross-option check names where the value came from')
  t.throws(() => loadConfig(['--config', 'missing.json'], {}, read), { message: /^--config: cannot read missing\.json: ENOENT/ }, 'a missing file')
  t.throws(() => loadConfig([], { MEGAPHONE_CONFIG: 'missing.json' }, read), { message: /^MEGAPHONE_CONFIG: cannot read missing\.json/ }, 'named by the environment')
  t.throws(() => loadConfig([], { MEGAPHONE_LINK_SECRET: SECRET, MEGAPHONE_ADMIN_PORT: '70000' }), { message: /^MEGAPHONE_ADMIN_PORT: must be at most 65535/ }, 'admin port')
  t.throws(() => loadConfig(['--drain-timeout', '0'], { MEGAPHONE_LINK_SECRET: SECRET }), { message: /^--drain-timeout: must be at least 1/ }, 'drain timeout')
})

async function run (args: string[], env: Record<string, string>): Promise<{ code: number, stderr: string }> {
  return await new Promise(resolve => {
    execFile(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env } }, (err, _out, stderr) => {
      resolve({ code: err === null ? 0 : Number((err as NodeJS.ErrnoException & { code: number }).code), stderr })
    })
  })
}

void t.test('the process prints which option is wrong and why, and exits 2', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'megaphone-config-'))
  const file = join(dir, 'edge.json')
  writeFileSync(file, JSON.stringify({ linkSecret: SECRET, maxInactivity: 0 }))
  const fromFile = await run(['--config', file], {})
  t.equal(fromFile.code, 2, 'a bad file value: exit 2')
  t.equal(fromFile.stderr, `megaphone-edge: ${file}: maxInactivity: must be at least 1 (got 0)\nTry --help.\n`, 'names the file, the option and why')

  const fromEnv = await run([], { MEGAPHONE_LINK_SECRET: SECRET, MEGAPHONE_ADMIN_PORT: 'admin' })
  t.equal(fromEnv.code, 2, 'a bad environment value: exit 2')
  t.match(fromEnv.stderr, /^megaphone-edge: MEGAPHONE_ADMIN_PORT: must be an integer \(got "admin"\)/)

  const secret = await run(['--link-secret', 'too-short'], {})
  t.equal(secret.code, 2, 'a bad secret: exit 2')
  t.match(secret.stderr, /--link-secret: must be at least 16 characters/)
  t.notMatch(secret.stderr, /too-short/, 'the secret is not printed back')
})
