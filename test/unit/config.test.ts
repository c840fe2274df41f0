import t from 'tap'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { loadConfig, helpText } from '../../src/config/load.ts'
import { configurationDoc } from '../../src/config/doc.ts'

const SECRET = { MEGAPHONE_LINK_SECRET: 'a-secret-of-sixteen+' }

void t.test('defaults, then environment, then flags', async t => {
  const c = loadConfig([], SECRET)
  t.equal(c.port, 5280)
  t.equal(c.boshPath, '/http-bind')
  t.same(c.corsOrigins, ['*'])
  t.equal(loadConfig([], { ...SECRET, MEGAPHONE_PORT: '6000' }).port, 6000)
  t.equal(loadConfig(['--port', '7000'], { ...SECRET, MEGAPHONE_PORT: '6000' }).port, 7000, 'flag wins')
  t.same(loadConfig(['--cors-origins', 'https://a, https://b'], SECRET).corsOrigins, ['https://a', 'https://b'])
  t.equal(loadConfig(['--trust-proxy'], SECRET).trustProxy, true)
})

void t.test('a bad value names the option and why', async t => {
  t.throws(() => loadConfig(['--port', 'abc'], SECRET), { code: 'CONFIG_INVALID', message: /--port: must be an integer/ })
  t.throws(() => loadConfig([], { ...SECRET, MEGAPHONE_MAX_WAIT: '-1' }), { message: /MEGAPHONE_MAX_WAIT: must be at least 0/ })
  t.throws(() => loadConfig([], {}), { message: /MEGAPHONE_LINK_SECRET: must be at least 16 characters/ })
  t.throws(() => loadConfig(['--no-such-option'], SECRET), { code: 'CONFIG_INVALID', message: /no-such-option/ })
  t.throws(() => loadConfig(['--link-secret', 'short'], {}), { message: /^--link-secret: must be at least 16/ })
})

void t.test('the process exits 2 with the message on a bad value', async t => {
  const r = await new Promise<{ code: number | null, stderr: string }>(resolve => {
    execFile(process.execPath, ['--import', 'tsx', 'src/main.ts', '--max-hold', 'lots'], { env: { ...process.env, ...SECRET } }, (err, _out, stderr) => {
      resolve({ code: err === null ? 0 : (err as NodeJS.ErrnoException & { code: number }).code, stderr })
    })
  })
  t.equal(r.code, 2)
  t.match(r.stderr, /--max-hold: must be an integer \(got "lots"\)/)
})

void t.test('--help and docs/configuration.md come from the schema', async t => {
  t.match(helpText(), /--bosh-path VALUE\n\s+URL path of the BOSH endpoint\n\s+env MEGAPHONE_BOSH_PATH; default \/http-bind/)
  t.equal(readFileSync('docs/configuration.md', 'utf8'), configurationDoc(), 'docs/configuration.md is current (npm run docs:config)')
})
