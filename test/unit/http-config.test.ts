/**
 * The HTTP front's options from the configuration: defaults, and the values that cannot work
 * together refused with the option's name.
 */
import t from 'tap'
import { loadConfig } from '../../src/config/load.ts'
import { HTTP_DEFAULTS } from '../../src/http/app.ts'

const SECRET = { MEGAPHONE_LINK_SECRET: 'a-secret-of-sixteen+' }

void t.test('defaults: 10 s for headers, 30 s for a whole request, 64 MiB of incomplete bodies', async t => {
  const c = loadConfig([], SECRET)
  t.equal(c.headersTimeout, 10)
  t.equal(c.requestTimeout, 30)
  t.equal(c.maxBufferedBodyBytes, 64 * 1024 * 1024)
  t.match(HTTP_DEFAULTS, { headersTimeout: 10, requestTimeout: 30, maxBufferedBodyBytes: 64 * 1024 * 1024 })
})

void t.test('fractions of a second, flags and environment', async t => {
  const c = loadConfig(['--headers-timeout', '0.5', '--request-timeout', '2.5'], { ...SECRET, MEGAPHONE_MAX_BUFFERED_BODY_BYTES: '2097152' })
  t.equal(c.headersTimeout, 0.5)
  t.equal(c.requestTimeout, 2.5)
  t.equal(c.maxBufferedBodyBytes, 2097152)
})

void t.test('values that cannot work together', async t => {
  t.throws(() => loadConfig(['--headers-timeout', '20', '--request-timeout', '10'], SECRET), { code: 'CONFIG_INVALID', message: /--request-timeout: must be at least the headers timeout/ })
  t.throws(() => loadConfig([], { ...SECRET, MEGAPHONE_MAX_BUFFERED_BODY_BYTES: '4096', MEGAPHONE_MAX_BODY_BYTES: '8192' }), { code: 'CONFIG_INVALID', message: /MEGAPHONE_MAX_BUFFERED_BODY_BYTES: must be at least maxBodyBytes/ })
  t.throws(() => loadConfig(['--headers-timeout', '0'], SECRET), { code: 'CONFIG_INVALID' })
})
