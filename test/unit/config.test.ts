import t from 'tap'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { loadConfig, helpText } from '../../src/config/load.ts'
import { configurationDoc } from '../../src/config/doc.ts'
import { DEFAULTS, OPTIONS, envOf } from '../../src/config/schema.ts'
import { BOSH_DEFAULTS, boshOptions } from '../../src/bosh/options.ts'
import { WS_DEFAULTS, wsOptions } from '../../src/ws/options.ts'
import { LINK_DEFAULTS, linkOptions } from '../../src/link/options.ts'
import { HTTP_DEFAULTS } from '../../src/http/app.ts'
import { ADMISSION_DEFAULTS, admissionOptions } from '../../src/admission/options.ts'

const SECRET = { MEGAPHONE_LINK_SECRET: 'a-secret-of-sixteen+' }

void t.test('defaults, then environment, then flags', async t => {
  const c = loadConfig([], SECRET)
  t.equal(c.port, 5280)
  t.equal(c.boshPath, '/http-bind')
  t.same(c.corsOrigins, ['*'])
  t.equal(loadConfig([], { ...SECRET, MEGAPHONE_PORT: '6000' }).port, 6000)
  t.equal(loadConfig(['--port', '7000'], { ...SECRET, MEGAPHONE_PORT: '6000' }).port, 7000, 'flag wins')
  t.same(loadConfig(['--cors-origins', 'https://a, https://b'], SECRET).corsOrigins, ['https://a', 'https://b'])
  t.same(loadConfig(['--trust-proxy', '127.0.0.1, 10.0.0.0/8,::1'], SECRET).trustProxy, ['127.0.0.1', '10.0.0.0/8', '::1'])
})

void t.test('trustProxy: addresses and CIDR ranges, checked at start; the old booleans still work', async t => {
  t.same(loadConfig([], SECRET).trustProxy, [], 'none trusted by default')
  t.same(loadConfig([], { ...SECRET, MEGAPHONE_TRUST_PROXY: '2001:db8::/32,192.0.2.7' }).trustProxy, ['2001:db8::/32', '192.0.2.7'])
  t.same(loadConfig(['--trust-proxy', 'true'], SECRET).trustProxy, ['0.0.0.0/0', '::/0'], 'true trusts every address')
  t.same(loadConfig([], { ...SECRET, MEGAPHONE_TRUST_PROXY: 'false' }).trustProxy, [], 'false trusts none')
  t.same(loadConfig(['--config', 'e.json'], SECRET, () => '{"trustProxy": true}').trustProxy, ['0.0.0.0/0', '::/0'], 'a JSON true')
  t.throws(() => loadConfig(['--trust-proxy', '10.0.0.0/33'], SECRET), { code: 'CONFIG_INVALID', message: /^--trust-proxy: "10\.0\.0\.0\/33": the prefix length must be 0 to 32/ })
  t.throws(() => loadConfig(['--trust-proxy', 'proxy.example'], SECRET), { code: 'CONFIG_INVALID', message: /^--trust-proxy: "proxy\.example" is not an IPv4 or IPv6 address/ })
})

void t.test('each option is declared once: the modules take their defaults from the schema', async t => {
  const c = loadConfig([], SECRET)
  for (const s of OPTIONS) {
    if (s.secret === true) continue
    t.same(c[s.key as keyof typeof c], s.default, `${s.key}: the default is the resolved value`)
    t.equal(s.check?.(c[s.key as keyof typeof c]), undefined, `${s.key}: the default passes its own check`)
    if (s.type === 'int' || s.type === 'number') {
      t.ok((s.min ?? -Infinity) <= s.default && s.default <= (s.max ?? Infinity), `${s.key}: the default is in its range`)
    }
    t.ok(envOf(s.key).startsWith('MEGAPHONE_'))
  }
  t.match(BOSH_DEFAULTS, {
    path: DEFAULTS.boshPath, maxWait: DEFAULTS.maxWait, maxHold: DEFAULTS.maxHold, maxInactivity: DEFAULTS.maxInactivity,
    maxPause: DEFAULTS.maxPause, polling: DEFAULTS.polling, maxBodyBytes: DEFAULTS.maxBodyBytes, maxPayloads: DEFAULTS.maxPayloads,
    maxDepth: DEFAULTS.maxDepth, maxPendingBytes: DEFAULTS.maxPendingBytes, openTimeout: DEFAULTS.openTimeout
  })
  t.match(WS_DEFAULTS, { path: DEFAULTS.websocketPath, maxMessageBytes: DEFAULTS.websocketMaxMessageBytes, origins: DEFAULTS.websocketOrigins })
  t.equal(LINK_DEFAULTS.maxQueueBytes, DEFAULTS.linkQueueBytes, 'one link queue default (it used to be 8 MiB here, 64 MiB in the schema)')
  t.equal(DEFAULTS.linkQueueBytes, 64 * 1024 * 1024)
  t.equal(LINK_DEFAULTS.maxFrameSize, DEFAULTS.linkMaxFrame)
  t.equal(LINK_DEFAULTS.heartbeatTimeout, DEFAULTS.heartbeatTimeout * 1000)
  t.match(HTTP_DEFAULTS, { maxBufferedBodyBytes: DEFAULTS.maxBufferedBodyBytes, headersTimeout: DEFAULTS.headersTimeout, requestTimeout: DEFAULTS.requestTimeout })
  t.equal(LINK_DEFAULTS.reconnectMax, DEFAULTS.linkReconnectMaxDelay)
  t.same(ADMISSION_DEFAULTS, admissionOptions(DEFAULTS))
  t.throws(() => { (DEFAULTS as { maxWait: number }).maxWait = 1 }, TypeError, 'nobody changes a default for everyone')
})

void t.test('the entry point configures each module through the mapping that gives its defaults', async t => {
  const c = loadConfig(['--max-wait', '7', '--features-timeout', '0.5', '--websocket-ping-interval', '11', '--heartbeat-timeout', '40', '--link-queue-bytes', '100000', '--admission-unauthenticated', '9'], SECRET)
  t.match(boshOptions(c), { maxWait: 7, featuresTimeout: 0.5, maxRidRepeats: BOSH_DEFAULTS.maxRidRepeats })
  t.match(wsOptions(c), { pingInterval: 11 })
  t.match(linkOptions(c), { heartbeatTimeout: 40_000, maxQueueBytes: 100_000, secret: SECRET.MEGAPHONE_LINK_SECRET })
  t.match(admissionOptions(c), { unauthenticated: 9, exempt: ['127.0.0.0/8', '::1'] })
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
