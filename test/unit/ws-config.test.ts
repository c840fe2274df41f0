/**
 * The WebSocket options: their defaults, flags and environment variables, the checks that refuse
 * unworkable values at start, and their way into the WebSocket edge.
 */
import t from 'tap'
import { loadConfig } from '../../src/config/load.ts'
import { webSocketEdgeOptions } from '../../src/ws/edge.ts'
import { WsManager } from '../../src/ws/manager.ts'
import { WS_DEFAULTS } from '../../src/ws/options.ts'
import { SessionRegistry } from '../../src/table/index.ts'
import { ScriptedBackend } from '../fixtures/scripted-backend.ts'

const SECRET = { MEGAPHONE_LINK_SECRET: 'a-secret-of-sixteen+' }

void t.test('defaults match the WebSocket defaults, and reach the edge', async t => {
  const c = loadConfig([], SECRET)
  const o = webSocketEdgeOptions(c)
  t.match(o, {
    path: WS_DEFAULTS.path,
    maxMessageBytes: WS_DEFAULTS.maxMessageBytes,
    pingInterval: WS_DEFAULTS.pingInterval,
    idleTimeout: WS_DEFAULTS.idleTimeout,
    maxBufferedBytes: WS_DEFAULTS.maxBufferedBytes,
    openTimeout: WS_DEFAULTS.openTimeout,
    seeOtherUri: '',
    maxDepth: c.maxDepth
  })
  t.equal(c.websocketUrl, '')
})

void t.test('flags and environment variables', async t => {
  const c = loadConfig(['--websocket-path', '/ws', '--websocket-ping-interval', '10'], {
    ...SECRET,
    MEGAPHONE_WEBSOCKET_IDLE_TIMEOUT: '25',
    MEGAPHONE_WEBSOCKET_SEE_OTHER_URI: 'wss://other.example/ws',
    MEGAPHONE_WEBSOCKET_URL: 'wss://chat.example/ws'
  })
  t.match(c, { websocketPath: '/ws', websocketPingInterval: 10, websocketIdleTimeout: 25, websocketSeeOtherUri: 'wss://other.example/ws', websocketUrl: 'wss://chat.example/ws' })
})

void t.test('unworkable values are refused at start', async t => {
  t.throws(() => loadConfig(['--websocket-path', 'ws'], SECRET), { code: 'CONFIG_INVALID', message: /--websocket-path: must start with \// })
  t.throws(() => loadConfig(['--websocket-url', 'http://x/ws'], SECRET), { message: /--websocket-url: must be empty or a ws:\/\/ or wss:\/\/ URL/ })
  t.throws(() => loadConfig(['--websocket-see-other-uri', 'ftp://x'], SECRET), { message: /see-other-uri/ })
  t.throws(() => loadConfig(['--websocket-idle-timeout', '30', '--websocket-ping-interval', '30'], SECRET), { code: 'CONFIG_INVALID', message: /--websocket-idle-timeout: must be longer than the WebSocket ping interval/ })
  t.ok(loadConfig(['--websocket-idle-timeout', '0', '--websocket-ping-interval', '30'], SECRET), 'no idle timeout at all is fine')
  t.ok(loadConfig(['--websocket-idle-timeout', '30', '--websocket-ping-interval', '0'], SECRET), 'no pings at all is fine')
})

void t.test('the manager refuses an idle timeout the pings cannot keep', async t => {
  const deadlines = { schedule: () => {}, cancel: () => {} }
  t.throws(() => new WsManager(new ScriptedBackend(), new SessionRegistry({ maxSessions: 4 }), { pingInterval: 30, idleTimeout: 30 }, deadlines), { code: 'WS_OPTIONS' })
})
